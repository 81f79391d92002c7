// Bulk statements sent to the pg connection itself, not through Prisma: a sync page's or a
// linking chunk's rows (hundreds of KiB of parameters), and reads of tens of thousands of rows.
// Through Prisma a raw statement's parameters are copied into its request, its compiled plan
// and the plan's parse, each a string too large for V8's young generation, and a raw answer is
// mapped once more: a full sync's garbage was mostly those copies (BENCHMARKS.md, Sync). Same
// SQL, same connection, same transaction; the statement counter counts them as before.
import type { PrismaClient } from '@prisma/client';
import type pg from 'pg';
import { poolOf } from './database.js';
import { connectionOf, type Tx } from './transaction.js';

/** SQL text with $n placeholders and its values. */
export interface Statement {
  text: string;
  values: unknown[];
  /** A prepared statement's name: parsed and planned once per connection (not through Prisma). */
  name?: string;
}

/** A Statement from a template: each interpolated value is a parameter, never SQL text. */
export function sql(strings: TemplateStringsArray, ...values: unknown[]): Statement {
  return { text: strings.reduce((text, part, i) => `${text}$${i}${part}`), values };
}

/**
 * Where a statement of `client` goes: the pool, for the store's own client; the connection of
 * a write's transaction (inTransaction) for its `tx`. Any other client (or a transaction whose
 * connection is unknown) sends it through Prisma.
 */
function target(client: Tx | PrismaClient): pg.Pool | pg.PoolClient | undefined {
  return poolOf(client) ?? connectionOf(client as Tx);
}

/** Sends a bulk write; resolves to the number of rows it affected. */
export async function execute(client: Tx | PrismaClient, statement: Statement): Promise<number> {
  const direct = target(client);
  if (!direct) return client.$executeRawUnsafe(statement.text, ...statement.values);
  return (await direct.query(statement)).rowCount ?? 0;
}

/** The rows of a bulk read, typed by pg's parsers (as Prisma's raw reads: jsonb parsed, arrays as arrays). */
export async function select<T extends pg.QueryResultRow>(
  client: Tx | PrismaClient,
  statement: Statement,
): Promise<T[]> {
  const direct = target(client);
  if (!direct) return client.$queryRawUnsafe<T[]>(statement.text, ...statement.values);
  return (await direct.query<T>(statement)).rows;
}
