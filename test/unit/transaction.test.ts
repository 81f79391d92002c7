// The transaction runner's answers for what the database refuses (src/store/transaction.ts).
import { Prisma, type PrismaClient } from '@prisma/client';
import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/errors.js';
import { inTransaction, sideEffect } from '../../src/store/transaction.js';

const known = (code: string) =>
  new Prisma.PrismaClientKnownRequestError('refused', { code, clientVersion: Prisma.prismaVersion.client });

/** A client whose every transaction fails with `error`, counting the attempts. */
function failing(error: unknown) {
  let attempts = 0;
  const prisma = {
    $transaction: async () => {
      attempts++;
      throw error;
    },
  } as unknown as PrismaClient;
  return { prisma, attempts: () => attempts };
}

describe('inTransaction', () => {
  it('answers a transaction the busy store could not start in time (P2028) with a ConflictError, once', async () => {
    const { prisma, attempts } = failing(known('P2028'));
    const outcome = inTransaction(prisma, async () => 'never');
    await expect(outcome).rejects.toBeInstanceOf(ConflictError);
    await expect(outcome).rejects.toThrow(/nothing changed, try again/);
    expect(attempts()).toBe(1);
  });

  it('retries a lost race (P2034) and ends in a ConflictError when it keeps losing', async () => {
    const { prisma, attempts } = failing(known('P2034'));
    await expect(inTransaction(prisma, async () => 'never')).rejects.toBeInstanceOf(ConflictError);
    expect(attempts()).toBe(5);
  });

  it('passes any other error through unchanged', async () => {
    const error = new Error('something else');
    const { prisma, attempts } = failing(error);
    await expect(inTransaction(prisma, async () => 'never')).rejects.toBe(error);
    expect(attempts()).toBe(1);
  });
});

/** A client whose first `losses` transactions run their callback and then lose a race (P2034). */
function losing(losses: number) {
  let attempts = 0;
  const prisma = {
    $transaction: async (work: (tx: unknown) => Promise<unknown>) => {
      attempts++;
      const result = await work({});
      if (attempts <= losses) throw known('P2034');
      return result;
    },
  } as unknown as PrismaClient;
  return { prisma, attempts: () => attempts };
}

describe('sideEffect inside inTransaction', () => {
  it('runs once however often the transaction is retried: a retry gets the first result', async () => {
    const { prisma, attempts } = losing(2);
    let sent = 0;
    const result = await inTransaction(prisma, () => sideEffect('post', 'the POST', async () => ({ id: ++sent })));
    expect(attempts()).toBe(3);
    expect(sent).toBe(1);
    expect(result).toEqual({ id: 1 });
  });

  it('refuses a retry that asks for another effect, or none, with a ConflictError naming what was done', async () => {
    for (const next of ['other', null] as const) {
      const { prisma, attempts } = losing(1);
      let round = 0;
      let sent = 0;
      const outcome = inTransaction(prisma, async () => {
        const key = round++ === 0 ? 'first' : next;
        if (key) await sideEffect(key, 'the learning backend POST', async () => ++sent);
      });
      await expect(outcome).rejects.toBeInstanceOf(ConflictError);
      await expect(outcome).rejects.toThrow(/the learning backend POST: carried out, but a concurrent write/);
      expect(attempts()).toBe(2);
      expect(sent).toBe(1);
    }
  });

  it('says the effect was carried out when every retry lost', async () => {
    const { prisma } = losing(99);
    let sent = 0;
    const outcome = inTransaction(prisma, () => sideEffect('post', 'the POST', async () => ++sent));
    await expect(outcome).rejects.toThrow(/the POST: carried out, but the write kept colliding/);
    expect(sent).toBe(1);
  });

  it('outside a transaction simply runs', async () => {
    let sent = 0;
    await sideEffect('post', 'the POST', async () => ++sent);
    await sideEffect('post', 'the POST', async () => ++sent);
    expect(sent).toBe(2);
  });
});
