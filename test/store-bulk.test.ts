// Bulk statements sent to the pg connection itself (src/store/statements.ts): inside a write's
// transaction they run on that transaction's connection — its uncommitted rows visible, undone
// with it, each attempt of a retried write on its own — and never through Prisma; on the
// store's own client they go to the pool; any other transaction sends them through Prisma,
// still inside it. What PostgreSQL answers them maps to the store's typed errors.
import crypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { useHarness } from './helpers/app.js';
import { storeKind } from './helpers/store.js';
import { NotFoundError } from '../src/errors.js';
import { StartOver } from '../src/store/errors.js';
import { execute, select, sql } from '../src/store/statements.js';
import { connectionOf, inTransaction, type Tx } from '../src/store/transaction.js';

const h = useHarness();

/** An audit row of its own subject (the table has no foreign key to satisfy). */
const insertEvent = (client: Parameters<typeof execute>[0], subjectId: string) =>
  execute(
    client,
    sql`INSERT INTO "AuditEvent" (id, "actorKind", action, "subjectType", "subjectId")
      VALUES (${crypto.randomUUID()}::uuid, 'system', 'bulk.test', 'Test', ${subjectId})`,
  );
const events = (subjectId: string) => h.store.prisma.auditEvent.count({ where: { subjectId } });
const pid = async (tx: Tx) => (await tx.$queryRaw<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`)[0]!.pid;

describe('bulk statements of a write', () => {
  it("run on its transaction's connection, not through Prisma: seen inside it, committed with it", async () => {
    const subject = crypto.randomUUID();
    await inTransaction(h.store.prisma, async (tx) => {
      const viaPrisma = vi.spyOn(tx, '$executeRawUnsafe');
      expect(connectionOf(tx)).toBeDefined();
      expect(await insertEvent(tx, subject)).toBe(1);
      expect(viaPrisma).not.toHaveBeenCalled();
      // The same session as the transaction's Prisma statements, and its uncommitted row.
      const [own] = await select<{ pid: number; n: number }>(
        tx,
        sql`SELECT pg_backend_pid() AS pid,
          (SELECT count(*)::int FROM "AuditEvent" WHERE "subjectId" = ${subject}) AS n`,
      );
      expect(own).toEqual({ pid: await pid(tx), n: 1 });
      expect(await tx.auditEvent.count({ where: { subjectId: subject } })).toBe(1);
    });
    expect(await events(subject)).toBe(1);
  });

  it('are undone when the write fails, and a retried attempt sends its own once', async () => {
    const failed = crypto.randomUUID();
    await expect(
      inTransaction(h.store.prisma, async (tx) => {
        await insertEvent(tx, failed);
        throw new Error('the write fails after its bulk statement');
      }),
    ).rejects.toThrow('the write fails');
    expect(await events(failed)).toBe(0);

    const retried = crypto.randomUUID();
    let attempts = 0;
    await inTransaction(h.store.prisma, async (tx) => {
      attempts++;
      await insertEvent(tx, retried);
      if (attempts === 1) throw new StartOver('the first attempt starts over');
    });
    expect(attempts).toBe(2);
    expect(await events(retried)).toBe(1);
  });

  // Two transactions at once need two connections: the embedded store has one.
  it.runIf(storeKind === 'postgres')(
    "a transaction nested in a write's attempt keeps its own statements: each is undone or kept with its own",
    async () => {
      const outer = crypto.randomUUID();
      const inner = crypto.randomUUID();
      await expect(
        inTransaction(h.store.prisma, async (tx) => {
          await insertEvent(tx, outer);
          // A transaction of the store's client begun inside the attempt (not inTransaction's):
          // its statements go through Prisma, inside it; the write's stay on the write's connection.
          await h.store.prisma.$transaction(async (other) => {
            expect(connectionOf(other)).toBeUndefined();
            await insertEvent(other, inner);
          });
          expect(connectionOf(tx)).toBeDefined();
          await insertEvent(tx, outer);
          throw new Error('the outer write fails');
        }),
      ).rejects.toThrow('the outer write fails');
      expect(await events(outer)).toBe(0);
      expect(await events(inner)).toBe(1);
    },
  );

  it("on the store's own client go to the pool; what PostgreSQL refuses is the store's typed error", async () => {
    const subject = crypto.randomUUID();
    const before = h.store.statementCount();
    expect(await insertEvent(h.store.prisma, subject)).toBe(1);
    expect(h.store.statementCount() - before).toBe(1);
    expect(await events(subject)).toBe(1);
    // A serialization failure PostgreSQL reports for a bulk statement: the write is run again.
    const retried = crypto.randomUUID();
    let attempts = 0;
    await inTransaction(h.store.prisma, async (tx) => {
      attempts++;
      if (attempts === 1)
        await execute(tx, sql`DO $$ BEGIN RAISE EXCEPTION 'lost a race' USING ERRCODE = '40001'; END $$`);
      await insertEvent(tx, retried);
    });
    expect(attempts).toBe(2);
    expect(await events(retried)).toBe(1);
    // A row pointing at rows that are not there (a foreign key): NotFoundError, nothing written.
    const gone = crypto.randomUUID();
    await expect(
      inTransaction(h.store.prisma, async (tx) => {
        await insertEvent(tx, gone);
        await execute(
          tx,
          sql`INSERT INTO "Enrollment" (id, "partnerId", "userId", "courseId")
            VALUES (${crypto.randomUUID()}::uuid, 'nobody',
              ${crypto.randomUUID()}::uuid, ${crypto.randomUUID()}::uuid)`,
        );
      }),
    ).rejects.toBeInstanceOf(NotFoundError);
    expect(await events(gone)).toBe(0);
  });
});
