// Reading database failures that the domain expects: a unique key taken, a transaction
// that lost a race. Everything else stays unexpected.
import { Prisma } from '@prisma/client';

/** Columns of the unique constraint a write violated, or null if it was something else. */
export function uniqueViolation(error: unknown): string[] | null {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError) || error.code !== 'P2002') return null;
  const meta = error.meta as
    | { target?: string[] | string; driverAdapterError?: { cause?: { constraint?: { fields?: string[] } } } }
    | undefined;
  const fields = meta?.driverAdapterError?.cause?.constraint?.fields ?? meta?.target ?? [];
  return (Array.isArray(fields) ? fields : [fields]).map((f) => f.replace(/"/g, ''));
}

/** Serialization failures and deadlocks: the transaction may simply be run again. */
export function isRetryable(error: unknown): boolean {
  const e = error as { meta?: { driverAdapterError?: { cause?: { originalCode?: string } } }; cause?: { originalCode?: string }; code?: string } | undefined;
  // Raw queries wrap the driver's error in meta; model queries (engineType "client") throw
  // the DriverAdapterError itself, with the PostgreSQL code in its cause.
  const code = e?.meta?.driverAdapterError?.cause?.originalCode ?? (e instanceof Error && e.name === 'DriverAdapterError' ? e.cause?.originalCode : undefined);
  return code === '40001' || code === '40P01' || e?.code === 'P2034';
}
