// Reading database failures that the domain expects: a unique key taken, a transaction
// that lost a race, a row that a concurrent write removed. Everything else stays unexpected.
import { Prisma } from '@prisma/client';
import pg from 'pg';

/** Columns of the unique constraint a write violated, or null if it was something else. */
export function uniqueViolation(error: unknown): string[] | null {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError) || error.code !== 'P2002') return null;
  const meta = error.meta as
    | { target?: string[] | string; driverAdapterError?: { cause?: { constraint?: { fields?: string[] } } } }
    | undefined;
  const fields = meta?.driverAdapterError?.cause?.constraint?.fields ?? meta?.target ?? [];
  return (Array.isArray(fields) ? fields : [fields]).map((f) => f.replace(/"/g, ''));
}

interface DriverCause {
  originalCode?: string;
  originalMessage?: string;
  constraint?: { index?: string; fields?: string[] };
}

/**
 * What the pg driver adapter reported, however Prisma wrapped it; or what PostgreSQL answered a
 * bulk statement sent on a transaction's connection itself (transaction.ts `execute`).
 */
function driverCause(error: unknown): DriverCause | undefined {
  if (error instanceof pg.DatabaseError)
    return {
      originalCode: error.code,
      originalMessage: error.message,
      ...(error.constraint && { constraint: { index: error.constraint } }),
    };
  const e = error as { meta?: { driverAdapterError?: { cause?: DriverCause } }; cause?: DriverCause } | undefined;
  // Known request errors carry the driver's error in meta; model queries (engineType
  // "client") may throw the DriverAdapterError itself, with the PostgreSQL code in its cause.
  return (
    e?.meta?.driverAdapterError?.cause ?? (e instanceof Error && e.name === 'DriverAdapterError' ? e.cause : undefined)
  );
}

/**
 * Thrown by a service that finds what it locked changed under it in a way that needs more
 * locks: taking them now could break the lock order, so the transaction starts over.
 */
export class StartOver extends Error {
  override readonly name = 'StartOver';
}

/** Serialization failures, deadlocks and StartOver: the transaction may simply be run again. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof StartOver) return true;
  const code = driverCause(error)?.originalCode;
  return code === '40001' || code === '40P01' || (error as { code?: string } | undefined)?.code === 'P2034';
}

// Foreign-key columns and the entity they point at (constraints are named Table_column_fkey).
const REFERENCED: Record<string, string> = {
  clientId: 'Client',
  courseId: 'Course',
  userId: 'User',
  ownerId: 'User',
  mergedIntoId: 'User',
  grantedById: 'User',
  principalId: 'User',
  accountId: 'Account',
  parentId: 'Account',
  partnerId: 'Account',
};

/**
 * The entity a write found gone: the row it updates or deletes (P2025), or the row a new
 * reference points at (P2003, foreign key) when a concurrent delete removed it between the
 * service's checks and the write. Null for any other failure.
 */
export function goneEntity(error: unknown): string | null {
  const code = (error as { code?: string } | undefined)?.code;
  if (error instanceof Prisma.PrismaClientKnownRequestError && code === 'P2025') {
    return (error.meta as { modelName?: string } | undefined)?.modelName ?? 'Record';
  }
  const cause = driverCause(error);
  if (code !== 'P2003' && cause?.originalCode !== '23503') return null;
  // "update or delete on table ... is still referenced" is the opposite: a row that is not gone.
  if (cause?.originalMessage && !cause.originalMessage.startsWith('insert or update')) return null;
  const column = cause?.constraint?.fields?.[0] ?? cause?.constraint?.index?.match(/^[A-Za-z]+_([A-Za-z]+)_fkey$/)?.[1];
  return (column && REFERENCED[column.replace(/"/g, '')]) || 'Record';
}

/**
 * A transaction that could not start within its maxWait (P2028: every connection was busy
 * for that long) or outlived its timeout. Nothing of it was written.
 */
export function isTransactionTimeout(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2028';
}
