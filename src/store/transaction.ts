// Every write runs in one of these: a transaction retried when the database reports a lost
// race (serialization failure, deadlock). What the database still refuses after that is a
// typed error: a race lost every time is a ConflictError, a row that a concurrent delete
// removed under the write is a NotFoundError.
import type { Prisma, PrismaClient } from '@prisma/client';
import { ConflictError, NotFoundError } from '../errors.js';
import { goneEntity, isRetryable, isTransactionTimeout } from './errors.js';

export type Tx = Prisma.TransactionClient;

const MAX_ATTEMPTS = 5;
// PGlite answers one statement at a time, so under load a transaction may wait a while for
// its connection; these bounds are about a stuck database, not a slow one.
const TX_OPTIONS = { maxWait: 30_000, timeout: 30_000 } as const;

export async function inTransaction<T>(prisma: PrismaClient, work: (tx: Tx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await prisma.$transaction(work, TX_OPTIONS);
    } catch (error) {
      if (isRetryable(error)) {
        if (attempt >= MAX_ATTEMPTS)
          throw new ConflictError('the write kept colliding with concurrent writes of the same rows; try again');
        // Jittered, growing waits, so that the transactions that collided do not meet again.
        await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** attempt * (0.5 + Math.random())));
        continue;
      }
      // The store too busy to begin (or finish) in time: nothing was written, so the caller may
      // simply try again, as after a lost race.
      if (isTransactionTimeout(error))
        throw new ConflictError('the store was too busy to carry out the write in time; nothing changed, try again');
      const gone = goneEntity(error);
      if (gone) throw new NotFoundError(gone);
      throw error;
    }
  }
}
