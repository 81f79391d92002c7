// The operator CLI end to end on its own store: the first command as a child process of the
// real entry (which runs the start-up migrations), the others in this process.
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect, it } from 'vitest';
import { CLI, cliInProcess, runNode, useCliStore } from './helpers/cli.js';

// An empty store: the first command runs the start-up migrations (under the advisory lock on
// PostgreSQL).
const store = useCliStore('ag-cli-', {}, { empty: true });

const cli = (...args: string[]) => cliInProcess(args, { env: store.env });

it('creates a partner, imports users with a report of rejected lines, and manages keys', async (context) => {
  if (!store.ready) return context.skip();
  const child = await runNode([CLI, 'partner', 'create', '--name', 'Imported Co', '--plan', 'automate'], {
    env: store.env,
  });
  expect(child.code, child.stderr).toBe(0);
  expect(child.stderr.trim()).toBe('The API key is shown only once: store it now.');
  const created = JSON.parse(child.stdout);
  expect(created.apiKey).toMatch(/^agk_/);
  const list = (await cli('partner', 'list')).stdout.trimEnd().split('\n');
  expect(list[0]).toMatch(/^ID +CUSTOMER ID +PLAN +STATUS +CREATED +NAME$/);
  const row = list.find((l) => l.includes('Imported Co'))!;
  expect(row.startsWith(created.partnerId)).toBe(true);
  // Aligned: every column starts under its heading (customer ids are right-aligned to it).
  expect(row.indexOf('AUTOMATE')).toBe(list[0]!.indexOf('PLAN'));
  expect(row.indexOf('Imported Co')).toBe(list[0]!.indexOf('NAME'));
  expect(row.slice(0, list[0]!.indexOf('CUSTOMER ID') + 'CUSTOMER ID'.length).trimEnd()).toMatch(
    new RegExp(` ${created.customerId}$`),
  );

  const lines = Array.from({ length: 120 }, (_, i) => JSON.stringify({ externalUserId: `imp-${i}` }));
  const odd = [
    '{not json',
    JSON.stringify({ externalUserId: 'someone@example.com' }),
    JSON.stringify({ externalUserId: 'imp-3' }),
    JSON.stringify({ externalUserId: 'imp-x', nickname: 'Bo' }),
  ];
  lines.splice(10, 0, ...odd);
  const file = path.join(store.dir, 'users.jsonl');
  await fs.writeFile(file, `${lines.join('\n')}\n`);
  const errors = path.join(store.dir, 'rejected.jsonl');
  const result = await cli(
    'import',
    '--partner',
    created.partnerId,
    '--file',
    file,
    '--errors',
    errors,
    '--no-progress',
  );
  expect(result.code).toBe(1);
  expect(result.stdout).toContain('imported 120 user(s); 4 rejected');
  const rejected = (await fs.readFile(errors, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  expect(rejected.map((r) => r.line).sort((x, y) => x - y)).toEqual([11, 12, 13, 14]);
  const at = (line: number) => rejected.find((r) => r.line === line)!;
  // Each record keeps the original line, so the file can be fixed and imported again.
  for (const [i, text] of odd.entries()) expect(at(11 + i).input).toBe(text);
  expect(at(11).error).toBe('not valid JSON');
  expect(at(12).error).toMatch(/e-mail/);
  expect(at(13).error).toMatch(/taken|repeated/);
  // Unknown fields are refused, not dropped; the user was not created.
  expect(at(14).error).toMatch(/Field "nickname" is not defined by type "CreateUserInput"/);
  // Reasons name fields within the line, never a position inside a 50-line batch.
  for (const r of rejected) expect(r.error).not.toMatch(/input\.users/);

  const key = JSON.parse((await cli('api-key', 'create', '--partner', created.partnerId, '--name', 'ci')).stdout);
  expect((await cli('api-key', 'revoke', '--partner', created.partnerId, key.id)).stdout).toMatch(/revoked/);
  expect((await cli('migrate', 'status')).stdout).toContain('current');
  const bad = await cli('partner', 'create', '--name', 'x', '--plan', 'gold');
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/expected one of/);
}, 240_000);

it(`says what is wrong with the files, shows reasons without --errors, \
and prints progress lines off a terminal`, async (context) => {
  if (!store.ready) return context.skip();
  const created = JSON.parse((await cli('partner', 'create', '--name', 'Errors Co')).stdout);
  const missing = await cli('import', '--partner', created.partnerId, '--file', path.join(store.dir, 'nope.jsonl'));
  expect(missing.code).toBe(1);
  expect(missing.stderr.trim()).toBe(`cannot read ${path.join(store.dir, 'nope.jsonl')}: no such file or directory`);
  const unwritable = await cli(
    'import',
    '--partner',
    created.partnerId,
    '--file',
    store.dir,
    '--errors',
    path.join(store.dir, 'no/such/dir.jsonl'),
  );
  expect(unwritable.code).toBe(1);
  expect(unwritable.stderr.trim()).toBe(`cannot read ${store.dir}: is a directory`);

  const lines = Array.from({ length: 160 }, (_, i) => JSON.stringify({ externalUserId: `prog-${i}` }));
  lines[99] = JSON.stringify({ externalUserId: 'prog-x', email: 'not an address' });
  lines.push(JSON.stringify({ externalUserId: 7 }));
  const file = path.join(store.dir, 'progress.jsonl');
  await fs.writeFile(file, `${lines.join('\n')}\n`);
  // Standard error is not a terminal: progress comes as lines, not as a bar.
  const result = await cli('import', '--partner', created.partnerId, '--file', file);
  expect(result.code).toBe(1);
  expect(result.stdout.trim()).toBe('imported 159 user(s); 2 rejected');
  const stderr = result.stderr.split('\n');
  expect(stderr).toContain('line 100: email: must be an e-mail address');
  expect(stderr).toContain('line 161: externalUserId: String cannot represent a non string value: 7');
  const progress = stderr.filter((l: string) => l.startsWith('progress: '));
  expect(progress.length).toBeGreaterThanOrEqual(3);
  expect(progress.at(-1)).toBe('progress: 161/161 lines (100%), 159 created, 2 rejected');
  expect(result.stderr).not.toMatch(/\n\s+at |Unhandled/);
}, 240_000);
