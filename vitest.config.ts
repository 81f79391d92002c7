// Three projects: store-independent unit tests; the integration suite on the embedded store
// (PGlite); and, on PostgreSQL, the files whose behaviour depends on the store (required
// when CI=true; skipped with a notice when no server answers on a developer machine).
import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

/**
 * Test files that run on PostgreSQL as well as on PGlite: those whose outcome depends on the
 * store, not only on our code. PGlite is PostgreSQL 17 in one process with ONE connection
 * (statements never interleave), one session, the C collation; the server has real
 * concurrent connections, row locks that wait, deadlocks, a pool that drops and reopens
 * connections, its own collation, and CREATE DATABASE. Everything else (rights, tenancy,
 * validation, dialect mapping, fuzzing, limits…) is the same code on the same SQL and runs
 * once, on PGlite. A new file joins this list, with its reason, when it tests races or
 * concurrency, locks, transactions retried after serialization failures or deadlocks,
 * migrations, the pool and reconnects, server-side SQL features (LISTEN/NOTIFY, advisory
 * locks, SKIP LOCKED job queues), ordering by text, or a process started on DATABASE_URL.
 */
export const STORE_DEPENDENT = [
  'test/races.test.ts', // interleavings only real connections produce; a real deadlock retried
  'test/concurrency.test.ts', // concurrent writes on the same keys and rows: locks, unique violations, retries
  // pool connections dropped and reopened, failing statements, dates the server cannot store
  'test/store-resilience.test.ts',
  'test/compiled-reads.test.ts', // the compiled SQL agrees with the executor on the server, not only on PGlite
  'test/graph-reads.test.ts', // ordering by text columns under the server's collation; statements per page
  'test/read-model.test.ts', // statements per read shape and per list of ids on the server's SQL
  'test/accounts.test.ts', // the access-flag migration applied to an existing database
  'test/cli.test.ts', // the CLI on DATABASE_URL: start-up migrations under the advisory lock, import batches
  'test/shutdown.test.ts', // SIGTERM drains in-flight requests and closes a real pool
  // sync runs on graphile-worker (SKIP LOCKED, LISTEN/NOTIFY): two replicas on one database, claims racing
  'test/sync.test.ts',
  // the identities migration upgrading an existing database; upserts and GONE marks in one transaction
  'test/identities.test.ts',
  // linking's server-side SQL (unnest updates, jsonb e-mail matching) and its canonical order on the server
  'test/linking.test.ts',
  // a backend call inside a real transaction: a refusal rolls the user, identity and audit rows back
  'test/write-through.test.ts',
  // real runs end to end on the server's SQL (identity upserts, linking, one active run per backend)
  'test/sync-upstream.test.ts',
  'test/sync-statements.test.ts', // a page's identity and user writes as jsonb_to_recordset updates on the server's SQL
  // outbox deliveries on graphile-worker (a second task on the sync's queue), claims and FOR UPDATE on the server
  'test/outbox.test.ts',
  'test/catalog-list.test.ts', // the catalog list's index plan and its statements per page on the server's planner
  // kill -9 mid-sync: on the server a dead worker's run is taken over after its heartbeat goes stale
  'test/sync-resume.test.ts',
  // the REST lists' one raw statement (listUserViews) agrees with the Prisma reads on the server's SQL
  'test/list-views.test.ts',
  // bulk statements on a write's own connection: two transactions at once, a real serialization failure retried
  'test/store-bulk.test.ts',
  'test/proxy.test.ts', // relayed effects recorded on the server's SQL (identity upserts, linking, GONE by a JSON path)
];

const integration = ['test/**/*.test.ts'];
const unit = ['test/unit/**/*.test.ts'];

export default defineConfig({
  // graphql ships CJS (main) and ESM (module) builds. Node, and so the server and every
  // dependency, loads the CJS one; vite would hand our sources the ESM one, and graphql's
  // instanceof checks fail across the two. One instance, as in production:
  resolve: { alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }] },
  test: {
    // A test that needs longer says so itself (fuzzers, races, child processes, the browser).
    // The defaults leave room for a machine shared with another suite, not for a hang.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    // Each worker imports the app's module graph once and runs file after file in it: every
    // file still builds its own app (its own config) on a store as fresh as a new one (test/helpers),
    // but the imports are paid once per worker, not once per file (with a fresh module graph
    // per file they summed to 1 174 s over 93 file runs on a loaded machine). Nothing in src/ keeps
    // per-request state at module level (config comes from loadConfig, stores from openStore).
    isolate: false,
    projects: [
      { extends: true, test: { name: 'unit', include: unit } },
      {
        extends: true,
        test: {
          name: 'pglite',
          include: integration,
          exclude: unit,
          env: { TEST_STORE: 'pglite' },
          globalSetup: ['test/helpers/templates.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: STORE_DEPENDENT,
          env: { TEST_STORE: 'postgres' },
          globalSetup: ['test/helpers/templates.ts'],
        },
      },
    ],
  },
});
