// The unified store: Prisma over PostgreSQL through the pg driver adapter. Without a
// DATABASE_URL the PostgreSQL is embedded (PGlite, in DATA_DIR), served to the pg pool
// over a unix socket in a private directory, so both stores share one code path.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '@prisma/client';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { applyMigrations, type MigrationLog } from './migrate.js';
import { acquireDataDirLock } from './lock.js';
import { transactionBegan } from './transaction.js';

export type StoreKind = 'pglite' | 'postgres';

export interface Store {
  readonly kind: StoreKind;
  readonly prisma: PrismaClient;
  readonly pool: pg.Pool;
  /** SQL statements this store has sent since it opened (every connection of its pool). */
  statementCount(): number;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** postgres:// URL; when absent the embedded store is used. */
  databaseUrl?: string;
  /** Data directory of the embedded store, or 'memory://' for a throw-away one. */
  dataDir?: string;
  /** A throw-away embedded store ('memory://') starts as a copy of this dump of a data
   * directory (PGlite's dumpDataDir): tests start each file's store from one migrated
   * template instead of migrating an empty one every time. */
  loadDataDir?: Blob;
  poolSize?: number;
  /** How long an idle pool connection stays open (pg's default, 10 s, when absent). */
  idleTimeoutMillis?: number;
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  log?: MigrationLog;
}

// Every SQL statement of every pool goes through Client#query: count it there, so tests
// and the benchmark can assert statements per request without trusting an ORM's own log.
// Each store counts its own (openStore's subclass): another store in the same process (a
// test file before this one, a stand-in upstream) never lands in its count.
class CountingClient extends pg.Client {
  protected counted(): void {}
  // biome-ignore lint/suspicious/noExplicitAny: pg.Client#query's dozen overloads, passed through untouched
  override query(...args: any[]): any {
    this.counted();
    // biome-ignore lint/suspicious/noExplicitAny: the same overloads, called with the arguments as given
    return (super.query as any)(...args);
  }
}

// A new connection to PGlite is not a new session: whatever the previous connection left in
// the one backend (named prepared statements above all; also settings, cursors, advisory
// locks) is still there, while pg's per-connection record of prepared names starts empty.
// Preparing a name again then failed with 42P05 (compiled reads after the pool's idle
// timeout). DISCARD ALL, before the pool hands the connection out, gives every connection
// the clean session PostgreSQL would. It is not counted: it is no statement of a request.
class EmbeddedClient extends CountingClient {
  // biome-ignore lint/suspicious/noExplicitAny: pg.Client#connect's callback and promise overloads, both kept
  override connect(...args: any[]): any {
    const callback = args[0] as ((error?: Error) => void) | undefined;
    const ready = (async () => {
      await super.connect();
      try {
        await (pg.Client.prototype.query as unknown as (this: pg.Client, text: string) => Promise<unknown>).call(
          this,
          'DISCARD ALL',
        );
      } catch (error) {
        await this.end().catch(() => {});
        throw error;
      }
    })();
    if (!callback) return ready;
    ready.then(() => callback(), callback);
  }
}

/**
 * The pg driver adapter, telling the write in progress (transaction.ts) which pool connection
 * its transaction began on, so that its bulk statements can be sent there without Prisma. The
 * adapter keeps that connection as its transaction's `client` (@prisma/adapter-pg's
 * PgTransaction); test/store-bulk.test.ts checks that a bulk statement is the transaction's.
 */
class StorePg extends PrismaPg {
  override async connect() {
    const adapter = await super.connect();
    const begin = adapter.startTransaction.bind(adapter);
    adapter.startTransaction = async (isolationLevel) => {
      const transaction = await begin(isolationLevel);
      const connection = (transaction as unknown as { client?: pg.PoolClient }).client;
      if (!(connection instanceof pg.Client)) return transaction;
      const ended = transactionBegan(connection as pg.PoolClient);
      const { commit, rollback } = transaction;
      transaction.commit = async () => {
        ended();
        return commit.call(transaction);
      };
      transaction.rollback = async () => {
        ended();
        return rollback.call(transaction);
      };
      return transaction;
    };
    return adapter;
  }
}

// The pool behind each store's Prisma client, for reads that send their own SQL.
const pools = new WeakMap<object, pg.Pool>();

/**
 * The pg pool a store's Prisma client runs on, for a service that sends one statement of its
 * own (a Prisma raw query costs a compilation and a copy of the answer). Undefined for any
 * other client, a transaction's above all: its statements must run on its connection.
 */
export function poolOf(prisma: object): pg.Pool | undefined {
  return pools.get(prisma);
}

export async function openStore(options: StoreOptions = {}): Promise<Store> {
  const embedded = options.databaseUrl
    ? undefined
    : await startEmbedded(options.dataDir ?? './data', options.loadDataDir);
  let statements = 0;
  const Counted = embedded ? EmbeddedClient : CountingClient;
  class StoreClient extends Counted {
    protected override counted(): void {
      statements++;
    }
  }
  const pool = new pg.Pool({
    ...(embedded ? embedded.connection : { connectionString: options.databaseUrl }),
    max: embedded ? embedded.connection.max : (options.poolSize ?? 10),
    Client: StoreClient,
    ...(options.idleTimeoutMillis !== undefined && { idleTimeoutMillis: options.idleTimeoutMillis }),
    // Fail fast on a server that is down instead of queueing requests forever.
    connectionTimeoutMillis: 10_000,
  });
  pool.on('error', () => {
    /* an idle client died (server restart); the pool replaces it on next use */
  });
  try {
    if (options.migrate !== false) await applyMigrations(pool, options.log);
  } catch (error) {
    await pool.end().catch(() => {});
    await embedded?.stop();
    throw error;
  }
  const prisma = new PrismaClient({ adapter: new StorePg(pool) });
  pools.set(prisma, pool);
  return {
    kind: embedded ? 'pglite' : 'postgres',
    prisma,
    pool,
    statementCount: () => statements,
    async ping() {
      await pool.query('SELECT 1');
    },
    async close() {
      await prisma.$disconnect().catch(() => {});
      await pool.end().catch(() => {});
      await embedded?.stop();
    },
  };
}

interface Embedded {
  connection: pg.PoolConfig & { max: number };
  stop(): Promise<void>;
}

/**
 * The embedded PostgreSQL's buffer pool. It lives in this process's memory (PGlite's
 * WebAssembly memory, which never shrinks), and PostgreSQL's default of 128MB fills as the
 * store grows, on top of the pages the file system (or, for memory://, the in-memory file
 * system itself) already holds. With 32MB a full sync of 50,000 users no longer grows the
 * process beyond its heap (BENCHMARKS.md, Sync).
 */
const EMBEDDED_SHARED_BUFFERS = '32MB';

async function startEmbedded(dataDir: string, loadDataDir: Blob | undefined): Promise<Embedded> {
  const inMemory = dataDir.startsWith('memory://');
  if (loadDataDir && !inMemory) throw new Error('loadDataDir is only for a throw-away (memory://) store');
  const releaseLock = inMemory ? async () => {} : await acquireDataDirLock(path.resolve(dataDir));
  const startParams = [...PGlite.defaultStartParams, '-c', `shared_buffers=${EMBEDDED_SHARED_BUFFERS}`];
  const db = inMemory
    ? await PGlite.create({ ...(loadDataDir && { loadDataDir }), startParams })
    : await PGlite.create({ dataDir: path.resolve(dataDir), startParams });
  // A unix socket inside a 0700 directory: reachable by this process owner only,
  // unlike a loopback TCP port that every local user could open.
  const socketDir = await fs.mkdtemp(path.join(os.tmpdir(), 'account-gateway-'));
  await fs.chmod(socketDir, 0o700);
  const port = 5432;
  // One connection, whatever poolSize asks for. PGlite is a single backend session, and
  // pglite-socket (0.2.17) interleaves the protocol messages of its connections outside
  // explicit transactions: when one connection's statement fails, the backend skips
  // messages until that connection's Sync, swallowing another connection's Bind ("portal
  // \"\" does not exist") under concurrent load. PGlite runs one statement at a time anyway,
  // so queueing in the pg pool instead costs no throughput.
  const connections = 1;
  // The pool drops a connection after every failed statement (pg-pool never reuses a client
  // released with an error) and after its idle timeout, and opens the next one as soon as its
  // own end of the old one has closed: the server may not have seen that close yet. With
  // maxConnections equal to the pool's size, the socket server (net.Server#maxConnections)
  // refused that next connection, and the request waiting for it failed with "write EPIPE".
  // The headroom only admits connections the pool has already given up; it never opens more
  // than `connections` at once, so no two clients' messages interleave.
  const server = new PGLiteSocketServer({
    db,
    path: path.join(socketDir, `.s.PGSQL.${port}`),
    maxConnections: connections + 15,
  });
  await server.start();
  return {
    connection: { host: socketDir, port, user: 'postgres', database: 'postgres', max: connections },
    async stop() {
      await server.stop().catch(() => {});
      await db.close().catch(() => {});
      await fs.rm(socketDir, { recursive: true, force: true });
      await releaseLock();
    },
  };
}
