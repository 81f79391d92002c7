// Global setup of the pglite and postgres projects (vitest.config.ts): one migrated store to
// copy, made once per run instead of migrating an empty store for every test file.
// - pglite: a migrated data directory in the temp directory, which child processes' stores
//   start as copies of (useCliStore), and its dump (PGlite's dumpDataDir), which each file's
//   in-memory store starts from (openStore's loadDataDir). The postgres project has them too,
//   for the embedded stores some of its files open beside the server's (its stand-in upstreams
//   are databases on the server, test/helpers/connected.ts).
// - postgres: a migrated template database; each file's database is CREATE DATABASE …
//   TEMPLATE it (a file copy on the server).
// Both are named by a hash of the migrations and the PGlite version, so a new migration
// makes a new template, and a suite running beside this one (another checkout) shares or
// makes its own without a race: the dump is renamed into place, the database is made under
// an advisory lock. Files that test migrations themselves open empty stores as before.
import crypto from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { openStore } from '../../src/store/database.js';
import { readMigrations } from '../../src/store/migrate.js';
import { adminUrl, postgresAvailable } from './store.js';
import { buildServerBundle } from './server-bundle.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of the migrated PGlite dump (pglite project). */
    pgliteTemplate: string | null;
    /** Path of a migrated PGlite data directory to copy (pglite project). */
    pgliteTemplateDir: string | null;
    /** Name of the migrated template database (postgres project; null without a server). */
    postgresTemplate: string | null;
  }
}

/** Where the templates are kept from run to run: the temporary directory the run started with. */
const KEPT = process.env.ACCOUNT_GATEWAY_TEST_KEPT_TMPDIR ?? os.tmpdir();

async function templateKey(): Promise<string> {
  const hash = crypto.createHash('sha256');
  for (const m of await readMigrations()) hash.update(`${m.name}\n${m.checksum}\n`);
  hash.update(
    JSON.parse(
      await fs.readFile(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8'),
    ).version,
  );
  return hash.digest('hex').slice(0, 16);
}

const exists = (file: string) =>
  fs.stat(file).then(
    () => true,
    () => false,
  );

/** A migrated data directory, for the child processes (CLI, server) that open a DATA_DIR. */
async function pgliteTemplateDir(key: string): Promise<string> {
  const target = path.join(KEPT, `account-gateway-test-template-${key}-data`);
  if (await exists(target)) return target;
  const dir = await fs.mkdtemp(path.join(KEPT, 'account-gateway-template-'));
  try {
    const store = await openStore({ dataDir: path.join(dir, 'data') });
    await store.close();
    // A suite beside this one may have renamed its own into place meanwhile: either is the same.
    await fs.rename(path.join(dir, 'data'), target).catch(async (error) => {
      if (!(await exists(target))) throw error;
    });
    return target;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The dump of that directory (dumped from a copy: the template itself is never opened). */
async function pgliteTemplate(key: string, templateDir: string): Promise<string> {
  const file = path.join(KEPT, `account-gateway-test-template-${key}.tar`);
  if (await exists(file)) return file;
  const dir = await fs.mkdtemp(path.join(KEPT, 'account-gateway-template-'));
  try {
    await fs.cp(templateDir, path.join(dir, 'data'), { recursive: true });
    const db = await PGlite.create(path.join(dir, 'data'));
    const dump = await db.dumpDataDir('none');
    await db.close();
    const partial = `${file}.${process.pid}.tmp`;
    await fs.writeFile(partial, Buffer.from(await dump.arrayBuffer()));
    await fs.rename(partial, file);
    return file;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

async function postgresTemplate(key: string): Promise<string> {
  const name = `ag_template_${key}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    // One maker per template, across suites running at once.
    await admin.query('SELECT pg_advisory_lock(hashtext($1))', [name]);
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      const building = `${name}_building`;
      await admin.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`);
      await admin.query(`CREATE DATABASE ${building}`);
      const url = new URL(adminUrl);
      url.pathname = `/${building}`;
      const store = await openStore({ databaseUrl: url.toString(), poolSize: 2 });
      await store.close();
      await admin.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
    }
    await admin.query('SELECT pg_advisory_unlock(hashtext($1))', [name]);
  } finally {
    await admin.end();
  }
  return name;
}

/**
 * Everything temporary that the run's workers and their child processes make (store sockets,
 * data directories, stand-ins, the browser's profile) goes into one directory of the run,
 * removed when the run ends: a worker's last store, and a server killed with SIGKILL, leave
 * nothing behind. Returns the teardown for the project that made it.
 */
function runTemporaryDirectory(): (() => Promise<void>) | undefined {
  if (process.env.ACCOUNT_GATEWAY_TEST_KEPT_TMPDIR) return undefined;
  const dir = fsSync.mkdtempSync(path.join(KEPT, 'account-gateway-run-'));
  process.env.ACCOUNT_GATEWAY_TEST_KEPT_TMPDIR = KEPT;
  process.env.TMPDIR = dir;
  return async () => {
    await fs.rm(dir, { recursive: true, force: true });
    process.env.TMPDIR = KEPT;
    delete process.env.ACCOUNT_GATEWAY_TEST_KEPT_TMPDIR;
  };
}

/**
 * The bundle the run's child servers start from (scripts/child-server.ts serverArgs), built by
 * the first project to set up and named to every worker and child in the environment.
 */
async function serverBundle(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.ACCOUNT_GATEWAY_SERVER_BUNDLE) return undefined;
  const bundle = await buildServerBundle();
  process.env.ACCOUNT_GATEWAY_SERVER_BUNDLE = bundle.file;
  return async () => {
    await bundle.remove();
    delete process.env.ACCOUNT_GATEWAY_SERVER_BUNDLE;
  };
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const kind = project.config.env?.TEST_STORE;
  const key = await templateKey();
  // Both projects: some files of the postgres project open embedded stores too.
  const templateDir = await pgliteTemplateDir(key);
  project.provide('pgliteTemplateDir', templateDir);
  project.provide('pgliteTemplate', await pgliteTemplate(key, templateDir));
  project.provide(
    'postgresTemplate',
    kind === 'postgres' && (await postgresAvailable()) ? await postgresTemplate(key) : null,
  );
  const teardowns = [runTemporaryDirectory(), await serverBundle()].filter((t) => t !== undefined);
  return async () => {
    for (const teardown of teardowns) await teardown();
  };
}
