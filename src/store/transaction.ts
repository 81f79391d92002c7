// Every write runs in one of these: a transaction retried when the database reports a lost
// race (serialization failure, deadlock). What the database still refuses after that is a
// typed error: a race lost every time is a ConflictError, a row that a concurrent delete
// removed under the write is a NotFoundError.
//
// A write may have a side effect outside the database (a connected backend's POST, SPEC §10.4)
// that a retry must not repeat. Such effects run through `sideEffect`: each runs at most once
// per write, whatever the retries. A retry replays the write's effects in order with the
// results of their first run; a retry that would take another course (a concurrent write
// changed what it read, so it asks for a different effect, or finishes without one that ran)
// is refused with a ConflictError saying what was carried out, never carried out again.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Prisma, PrismaClient } from '@prisma/client';
import type pg from 'pg';
import { ConflictError, NotFoundError } from '../errors.js';
import { goneEntity, isRetryable, isTransactionTimeout } from './errors.js';

export type Tx = Prisma.TransactionClient;

const MAX_ATTEMPTS = 5;
// PGlite answers one statement at a time, so under load a transaction may wait a while for
// its connection; these bounds are about a stuck database, not a slow one.
const TX_OPTIONS = { maxWait: 30_000, timeout: 30_000 } as const;

/** One side effect a write carried out: which one, what it is in words, and its result. */
interface Effect {
  key: string;
  description: string;
  result: unknown;
}

/** The side effects of one write across its attempts, in the order they ran. */
class EffectLog {
  readonly done: Effect[] = [];
  /** How many of `done` the current attempt has reached. */
  position = 0;

  /** What was carried out, for a message (empty: nothing). */
  describe(): string {
    return this.done.map((e) => e.description).join('; ');
  }

  diverged(reason: string): ConflictError {
    return new ConflictError(
      `${this.describe()}: carried out, but ${reason}, so the store did not record it (it was not repeated); ` +
        "the backend's record reaches the store with the next sync; read again before retrying",
    );
  }
}

/**
 * The write in progress: its side effects, and the transaction of its current attempt with the
 * pg connection it runs on (recorded by the store's driver adapter when it begins, see
 * database.ts), for the bulk statements that statements.ts sends on it itself.
 */
interface Write {
  log: EffectLog;
  tx?: Tx;
  connection?: pg.PoolClient;
}

const current = new AsyncLocalStorage<Write>();

/**
 * Called by the store's driver adapter with the connection of a transaction it began: the
 * connection of the write whose attempt is about to start. One begun inside that attempt (a
 * transaction of another client nested in it) is not the write's, and is left alone.
 */
export function transactionBegan(connection: pg.PoolClient): () => void {
  const write = current.getStore();
  if (!write || write.tx) return () => {};
  write.connection = connection;
  // Called when the transaction commits or rolls back (a timeout's rollback too), before its
  // connection goes back to the pool: a late bulk statement then fails through Prisma ("the
  // transaction is closed") instead of running on a connection that is no longer this write's.
  return () => {
    if (write.connection === connection) write.connection = undefined;
  };
}

/** The connection transaction `tx` runs on, when it is the attempt of a write in progress (statements.ts). */
export function connectionOf(tx: Tx): pg.PoolClient | undefined {
  const write = current.getStore();
  return write?.tx === tx ? write.connection : undefined;
}

/**
 * Runs `effect` once for the write in progress: on a retry of the same write the result of its
 * first run is returned instead. `key` names the effect exactly (the same key, the same call);
 * `description` says what it did ("the learning backend's POST /accounts"). Outside a
 * transaction it simply runs.
 */
export async function sideEffect<T>(key: string, description: string, effect: () => Promise<T>): Promise<T> {
  const log = current.getStore()?.log;
  if (!log) return effect();
  const previous = log.done[log.position];
  if (previous) {
    if (previous.key !== key) throw log.diverged('a concurrent write changed what the retried write read');
    log.position++;
    return previous.result as T;
  }
  const result = await effect();
  log.done.push({ key, description, result });
  log.position++;
  return result;
}

export async function inTransaction<T>(prisma: PrismaClient, work: (tx: Tx) => Promise<T>): Promise<T> {
  const log = new EffectLog();
  const write: Write = { log };
  const attempt = async (tx: Tx) => {
    log.position = 0;
    write.tx = tx;
    try {
      const result = await work(tx);
      // An effect of an earlier attempt that this one did not ask for: committing would leave it unrecorded.
      if (log.position < log.done.length) throw log.diverged('a concurrent write changed what the retried write read');
      return result;
    } finally {
      // The next attempt is a transaction of its own, on the connection its beginning records.
      write.tx = undefined;
      write.connection = undefined;
    }
  };
  for (let round = 1; ; round++) {
    try {
      return await current.run(write, () => prisma.$transaction(attempt, TX_OPTIONS));
    } catch (error) {
      if (isRetryable(error)) {
        if (round >= MAX_ATTEMPTS) {
          if (log.done.length) throw log.diverged('the write kept colliding with concurrent writes of the same rows');
          throw new ConflictError('the write kept colliding with concurrent writes of the same rows; try again');
        }
        // Jittered, growing waits, so that the transactions that collided do not meet again.
        await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** round * (0.5 + Math.random())));
        continue;
      }
      // The store too busy to begin (or finish) in time: nothing was written, so the caller may
      // simply try again, as after a lost race (unless a side effect already ran: then say so).
      if (isTransactionTimeout(error)) {
        if (log.done.length) throw log.diverged('the store was too busy to record it in time');
        throw new ConflictError('the store was too busy to carry out the write in time; nothing changed, try again');
      }
      const gone = goneEntity(error);
      if (gone) throw new NotFoundError(gone);
      throw error;
    }
  }
}
