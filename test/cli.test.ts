// The operator CLI end to end, as a child process on its own store.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestDatabase, storeAvailable, storeKind } from './helpers/store.js';

const run = promisify(execFile);
let env: NodeJS.ProcessEnv;
let dir: string;
let drop = async () => {};
let ready = false;

beforeAll(async () => {
  ready = await storeAvailable();
  if (!ready) return;
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ag-cli-'));
  env = { ...process.env, LOG_LEVEL: 'silent', DATA_DIR: path.join(dir, 'data'), DATABASE_URL: '' };
  if (storeKind === 'postgres') {
    const db = await createTestDatabase();
    env.DATABASE_URL = db.url;
    drop = db.drop;
  }
});
afterAll(async () => {
  if (dir) await fs.rm(dir, { recursive: true, force: true });
  await drop();
});

const cli = (...args: string[]) => run(process.execPath, ['bin/account-gateway.mjs', ...args], { env, timeout: 60_000 });

it('creates a partner, imports users with a report of rejected lines, and manages keys', async (context) => {
  if (!ready) return context.skip();
  const created = JSON.parse((await cli('partner', 'create', '--name', 'Imported Co', '--plan', 'automate')).stdout);
  expect(created.apiKey).toMatch(/^agk_/);
  expect((await cli('partner', 'list')).stdout).toContain('AUTOMATE  Imported Co');

  const lines = Array.from({ length: 120 }, (_, i) => JSON.stringify({ externalUserId: `imp-${i}` }));
  lines.splice(10, 0, '{not json', JSON.stringify({ externalUserId: 'someone@example.com' }), JSON.stringify({ externalUserId: 'imp-3' }));
  const file = path.join(dir, 'users.jsonl');
  await fs.writeFile(file, `${lines.join('\n')}\n`);
  const errors = path.join(dir, 'rejected.jsonl');
  const result = await cli('import', '--partner', created.partnerId, '--file', file, '--errors', errors, '--no-progress').catch((e) => e);
  expect(result.code).toBe(1);
  expect(result.stdout).toContain('imported 120 user(s); 3 rejected');
  const rejected = (await fs.readFile(errors, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  expect(rejected.map((r) => r.line)).toEqual([11, 12, 13]);
  expect(rejected[1].error).toMatch(/e-mail/);
  expect(rejected[2].error).toMatch(/taken|repeated/);

  const key = JSON.parse((await cli('api-key', 'create', '--partner', created.partnerId, '--name', 'ci')).stdout);
  expect((await cli('api-key', 'revoke', '--partner', created.partnerId, key.id)).stdout).toMatch(/revoked/);
  expect((await cli('migrate', 'status')).stdout).toContain('current');
  const bad = await cli('partner', 'create', '--name', 'x', '--plan', 'gold').catch((e) => e);
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/expected one of/);
});
