// The CLI in tests: run in the test's own process (runCli on strings), or as a child process
// like the server; either gives its exit code and output, never a rejection for a non-zero
// exit (a child is killed if it outlives `timeoutMs`); and the store they run on.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, inject } from 'vitest';
import { runCli } from '../../src/cli/program.js';
import { createTestDatabase, storeAvailable, storeKind } from './store.js';

export interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node <args>` with `env`, `input` on standard input. */
export function runNode(
  args: string[],
  options: { env: NodeJS.ProcessEnv; input?: string | null; timeoutMs?: number },
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/**
 * The CLI's commands run in this process, as `account-gateway <args>` would with `env` and
 * `input` on standard input (neither stream a terminal). A child process pays about 1.5 s of
 * start-up and imports before its command; test/cli.test.ts keeps one child run of the real entry.
 */
export async function cliInProcess(
  args: string[],
  options: { env: NodeJS.ProcessEnv; input?: string | null },
): Promise<Outcome> {
  const output = { stdout: '', stderr: '' };
  const sink = (name: keyof typeof output) =>
    new Writable({
      write(chunk, _encoding, done) {
        output[name] += String(chunk);
        done();
      },
    });
  const code = await runCli(args, {
    env: options.env,
    stdin: Readable.from(options.input ? [options.input] : []),
    stdout: sink('stdout'),
    stderr: sink('stderr'),
  });
  return { code, ...output };
}

/** The operator CLI, as `npx account-gateway` runs it. */
export const CLI = 'bin/account-gateway.mjs';

/**
 * A store of its own for a file's CLI child processes: a temporary DATA_DIR (the embedded
 * store) or, on the PostgreSQL project, a database, removed after the file. Both start as
 * copies of the run's migrated template (test/helpers/templates.ts), so the first child does
 * not pay the migrations; `empty: true` gives an empty store instead, for a file whose subject
 * includes the start-up migrations. `ready` is false when the project's store is unavailable
 * (the tests skip); `extra` joins the env.
 */
export function useCliStore(prefix: string, extra: NodeJS.ProcessEnv = {}, { empty = false } = {}) {
  const store = { ready: false, dir: '', env: {} as NodeJS.ProcessEnv };
  let drop = async () => {};
  beforeAll(async () => {
    store.ready = await storeAvailable();
    if (!store.ready) return;
    store.dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
    store.env = {
      ...process.env,
      LOG_LEVEL: 'silent',
      DATA_DIR: path.join(store.dir, 'data'),
      DATABASE_URL: '',
      ...extra,
    };
    const templateDir = inject('pgliteTemplateDir');
    if (storeKind === 'pglite' && !empty && templateDir)
      await fs.cp(templateDir, store.env.DATA_DIR!, { recursive: true });
    if (storeKind === 'postgres') {
      const db = await createTestDatabase((!empty && inject('postgresTemplate')) || undefined);
      store.env.DATABASE_URL = db.url;
      drop = db.drop;
    }
  });
  afterAll(async () => {
    if (store.dir) await fs.rm(store.dir, { recursive: true, force: true });
    await drop();
  });
  return store;
}
