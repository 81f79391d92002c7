// The transaction runner's answers for what the database refuses (src/store/transaction.ts).
import { Prisma, type PrismaClient } from '@prisma/client';
import { describe, expect, it } from 'vitest';
import { ConflictError } from '../../src/errors.js';
import { inTransaction } from '../../src/store/transaction.js';

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
