// `account-gateway backend connect|list|disconnect` end to end on their own store (in this
// process: test/cli.test.ts runs the real entry as a child), and the server refusing to start
// with a SECRETS_KEY that cannot open them.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect, it } from 'vitest';
import { cliInProcess, runNode, useCliStore } from './helpers/cli.js';
import { serverArgs } from '../scripts/child-server.js';

const store = useCliStore('ag-cli-backends-', { SECRETS_KEY: crypto.randomBytes(32).toString('base64') });

/** Runs the server with `input` on standard input; never rejects. */
const spawnWith = (args: string[], input: string | null, extra: NodeJS.ProcessEnv = {}) =>
  runNode(args, { env: { ...store.env, ...extra }, input });
/** Runs the CLI in this process with `input` on standard input; never rejects. */
const cli = (args: string[], input: string | null = null, extra: NodeJS.ProcessEnv = {}) =>
  cliInProcess(args, { env: { ...store.env, ...extra }, input });

it(`connects from a file or standard input, lists aligned, disconnects, \
and never takes or shows the credential on the command line`, async (context) => {
  if (!store.ready) return context.skip();
  const created = await cli(['partner', 'create', '--name', 'Backends Co']);
  expect(created.code, created.stderr).toBe(0);
  const partnerId = JSON.parse(created.stdout).partnerId;
  const credentials = [`learning-${crypto.randomUUID()}`, `catalog-${crypto.randomUUID()}`];

  const fromStdin = await cli(
    [
      'backend',
      'connect',
      '--partner',
      partnerId,
      '--kind',
      'learning',
      '--base-url',
      'http://127.0.0.1:4100/rest/learning/',
    ],
    `${credentials[0]}\n`,
  );
  expect(fromStdin.code, fromStdin.stderr).toBe(0);
  expect(JSON.parse(fromStdin.stdout)).toMatchObject({
    kind: 'LEARNING',
    baseUrl: 'http://127.0.0.1:4100/rest/learning',
    syncIntervalSeconds: 300,
    linkBy: ['KEY', 'EMAIL'],
    status: 'HEALTHY',
  });

  const file = path.join(store.dir, 'catalog.key');
  await fs.writeFile(file, `${credentials[1]}\n`, { mode: 0o600 });
  const fromFile = await cli([
    'backend',
    'connect',
    '--partner',
    partnerId,
    '--kind',
    'CATALOG',
    '--base-url',
    'https://catalog.example.com',
    '--credential-file',
    file,
    '--sync-interval',
    '60',
    '--link-by',
    'email',
  ]);
  expect(fromFile.code, fromFile.stderr).toBe(0);
  expect(JSON.parse(fromFile.stdout)).toMatchObject({ kind: 'CATALOG', syncIntervalSeconds: 60, linkBy: ['EMAIL'] });

  // Refused outright, before anything is opened, without echoing the value.
  const onArgv = await cli([
    'backend',
    'connect',
    '--partner',
    partnerId,
    '--kind',
    'embed',
    '--base-url',
    'https://embed.example.com',
    '--credential',
    'argv-secret-value',
  ]);
  expect(onArgv.code).toBe(1);
  expect(onArgv.stderr.trim()).toBe(
    'the credential is never taken from the command line, where shell history and ' +
      'the process list would keep it: use --credential-file FILE or standard input',
  );
  expect(onArgv.stderr).not.toContain('argv-secret-value');

  // The service's refusals, named by the flags.
  const invalid = await cli(
    [
      'backend',
      'connect',
      '--partner',
      partnerId,
      '--kind',
      'embed',
      '--base-url',
      'http://169.254.169.254',
      '--sync-interval',
      '5',
    ],
    'x',
  );
  expect(invalid.code).toBe(1);
  expect(invalid.stderr.split('\n')).toEqual(
    expect.arrayContaining([
      '--sync-interval: must be at least 30 seconds',
      expect.stringMatching(/^--base-url: must not point at a link-local/),
    ]),
  );
  const taken = await cli(
    ['backend', 'connect', '--partner', partnerId, '--kind', 'learning', '--base-url', 'https://learning.example.com'],
    'y',
  );
  expect(taken.code).toBe(1);
  expect(taken.stderr.trim()).toBe('this partner already has a LEARNING backend: update or disconnect it');
  const badKind = await cli(['backend', 'disconnect', '--partner', partnerId, '--kind', 'ldap']);
  expect(badKind.code).toBe(1);
  expect(badKind.stderr).toMatch(/expected one of LEARNING, CATALOG, MESSAGING, EMBED/);

  const list = await cli(['backend', 'list', '--partner', partnerId]);
  expect(list.code, list.stderr).toBe(0);
  const lines = list.stdout.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^KIND +STATUS +INTERVAL +LINK BY +LAST SYNC +ID +BASE URL$/);
  expect(lines).toHaveLength(3);
  const catalog = lines.find((l) => l.startsWith('CATALOG'))!;
  expect(catalog.indexOf('HEALTHY')).toBe(lines[0]!.indexOf('STATUS'));
  expect(catalog.indexOf('EMAIL')).toBe(lines[0]!.indexOf('LINK BY'));
  expect(catalog.indexOf('https://catalog.example.com')).toBe(lines[0]!.indexOf('BASE URL'));
  // Intervals are right-aligned to their heading.
  expect(catalog.slice(0, lines[0]!.indexOf('INTERVAL') + 'INTERVAL'.length).trimEnd()).toMatch(/ 60s$/);

  const gone = await cli(['backend', 'disconnect', '--partner', partnerId, '--kind', 'catalog']);
  expect(gone.code, gone.stderr).toBe(0);
  expect(gone.stdout).toMatch(/^disconnected the CATALOG backend [0-9a-f-]{36} \(https:\/\/catalog\.example\.com\)/);
  const again = await cli(['backend', 'disconnect', '--partner', partnerId, '--kind', 'catalog']);
  expect(again.code).toBe(1);
  expect(again.stderr.trim()).toBe(`partner ${partnerId} has no CATALOG backend`);
  expect((await cli(['backend', 'list', '--partner', partnerId])).stdout.trimEnd().split('\n')).toHaveLength(2);

  for (const outcome of [fromStdin, fromFile, onArgv, invalid, taken, list, gone, again]) {
    for (const value of credentials) expect(outcome.stdout + outcome.stderr).not.toContain(value);
    expect(outcome.stderr).not.toMatch(/\n\s+at /);
  }

  // Another key cannot open what is stored: the CLI will not seal beside it, and the server
  // refuses to start (exit 2, the reason on stderr). A missing key takes the same refusal
  // (checkStoredCredentials, whose every case test/backends.test.ts covers in-process).
  const otherKey = { SECRETS_KEY: crypto.randomBytes(32).toString('base64') };
  const mixed = await cli(
    ['backend', 'connect', '--partner', partnerId, '--kind', 'embed', '--base-url', 'https://embed.example.com'],
    'z',
    otherKey,
  );
  expect(mixed.code).toBe(1);
  expect(mixed.stderr.trim()).toBe(
    'SECRETS_KEY does not open the stored backend credentials: it is not the key they were sealed with',
  );
  const wrong = await spawnWith(serverArgs(), null, { ...otherKey, PORT: '0', SEED_DEMO: 'false' });
  expect(wrong.code).toBe(2);
  expect(wrong.stderr.trim()).toBe(
    'SECRETS_KEY does not open the stored backend credentials: it is not the key they were sealed with',
  );
}, 240_000);
