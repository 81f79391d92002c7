// A store per test file as fresh as a new one: on PGlite the worker's in-memory store, emptied
// after each file (or a copy of its own), on PostgreSQL a new database on the server
// (TEST_DATABASE_URL, default the local one), dropped afterwards. Both start as a copy of the
// run's migrated template (templates.ts) when there is one.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { inject } from 'vitest';
import { openStore, type Store, type StoreOptions } from '../../src/store/database.js';

export const storeKind = (process.env.TEST_STORE ?? 'pglite') as 'pglite' | 'postgres';
export const adminUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let reachable: Promise<boolean> | undefined;

/** Is a PostgreSQL server reachable? Missing is only tolerated outside CI. */
export function postgresAvailable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.end();
      return true;
    } catch {
      if (process.env.CI === 'true') throw new Error(`PostgreSQL is required in CI but ${adminUrl} does not answer`);
      console.warn(`[tests] PostgreSQL at ${adminUrl} does not answer: skipping the postgres project's tests`);
      return false;
    }
  })();
  return reachable;
}

/** Whether this file should run at all (false only for the postgres project without a server). */
export async function storeAvailable(): Promise<boolean> {
  return storeKind === 'pglite' ? true : postgresAvailable();
}

export interface TestStore {
  store: Store;
  drop(): Promise<void>;
}

/**
 * A new database on the test server; `drop` removes it. Empty, or with `template` a copy of
 * that (migrated) database.
 */
export async function createTestDatabase(template?: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `ag_test_${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/**
 * A temporary DATA_DIR for child server processes (the embedded store), a copy of the run's
 * migrated template when there is one, so that the child's start does not pay the migrations
 * (about 6 s on these machines). Removing it is the caller's.
 */
export async function migratedDataDir(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  const template = inject('pgliteTemplateDir');
  if (storeKind === 'pglite' && template) await fs.cp(template, dir, { recursive: true });
  return dir;
}

let pgliteTemplate: Promise<Blob | undefined> | undefined;

/** The run's migrated PGlite dump, read once per worker (undefined: migrate an empty store). */
export function pgliteDump(): Promise<Blob | undefined> {
  pgliteTemplate ??= (async () => {
    const file = inject('pgliteTemplate');
    return file ? new Blob([await fs.readFile(file)]) : undefined;
  })();
  return pgliteTemplate;
}

/** An in-memory embedded store, a copy of the run's template. */
async function templateCopy(options: Pick<StoreOptions, 'idleTimeoutMillis'> = {}): Promise<Store> {
  return openStore({ dataDir: 'memory://', poolSize: 4, loadDataDir: await pgliteDump(), ...options });
}

// The pglite project's store of this worker: one embedded database, opened from the template
// once per worker instead of once per file (a PGlite start is ~0.8 s of CPU), and emptied when
// a file is done with it.
let shared: Promise<{ store: Store; tables: string }> | undefined;
let sharedInUse = false;

const PUBLIC_TABLES = `SELECT string_agg(quote_ident(tablename), ', ' ORDER BY tablename) AS names
  FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'`;

function workerStore(): Promise<{ store: Store; tables: string }> {
  if (shared) return shared;
  const opening = (async () => {
    const store = await templateCopy();
    // Never closed: the worker's end takes it, its socket's directory goes with the run's
    // temporary directory (templates.ts).
    const { rows } = await store.pool.query<{ names: string }>(PUBLIC_TABLES);
    return { store, tables: rows[0]!.names };
  })();
  shared = opening;
  opening.catch(() => {
    if (shared === opening) shared = undefined;
  });
  return opening;
}

/**
 * The worker's store back as the template left it: every table emptied (the migrations' record
 * kept), sequences restarted, the planner's statistics of the emptied tables gone (a file that
 * ran ANALYZE must not steer the next one's plans). A store that cannot be emptied, or that a
 * file gave a table the template does not have, is replaced by a fresh copy.
 */
async function emptyStore({ store, tables }: { store: Store; tables: string }): Promise<void> {
  try {
    const { rows } = await store.pool.query<{ names: string }>(PUBLIC_TABLES);
    if (rows[0]!.names !== tables) throw new Error("tables beside the template's");
    await store.pool.query(`TRUNCATE ${tables} RESTART IDENTITY CASCADE`);
    await store.pool.query(
      `DELETE FROM pg_statistic
        WHERE starelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)`,
    );
  } catch {
    shared = undefined;
    await store.close().catch(() => {});
  }
}

/**
 * A migrated store of this project's kind, a copy of the run's template. `options` tunes the
 * pool (e.g. a short idle timeout to provoke reconnects). openStore still runs its migration
 * check, which finds nothing to do. On PGlite a file without options gets the worker's store,
 * emptied after the file (the same tables and sequences as a fresh copy; a second store in the
 * same file, or one with options, is a copy of its own); on PostgreSQL each file gets a
 * database of its own.
 */
export async function openTestStore(options: Pick<StoreOptions, 'idleTimeoutMillis'> = {}): Promise<TestStore> {
  // Workers run file after file in one module graph (isolate: false): a worker must never
  // carry this module from one project into another.
  if ((process.env.TEST_STORE ?? 'pglite') !== storeKind)
    throw new Error(`this worker was set up for ${storeKind}, not ${process.env.TEST_STORE}`);
  if (storeKind === 'pglite') {
    // The worker's store, unless a file tunes the pool or already has it (two harnesses).
    if (!Object.keys(options).length && !sharedInUse) {
      sharedInUse = true;
      const worker = await workerStore().catch((error: unknown) => {
        sharedInUse = false;
        throw error;
      });
      return {
        store: worker.store,
        async drop() {
          await emptyStore(worker);
          sharedInUse = false;
        },
      };
    }
    const store = await templateCopy(options);
    return { store, drop: () => store.close() };
  }
  const database = await createTestDatabase(inject('postgresTemplate') ?? undefined);
  const store = await openStore({ databaseUrl: database.url, poolSize: 10, ...options });
  return {
    store,
    async drop() {
      await store.close();
      await database.drop();
    },
  };
}
