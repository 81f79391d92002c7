// `account-gateway sync` end to end on its own embedded store (in this process: test/cli.test.ts
// runs the real entry as a child), a stand-in upstream on loopback.
// Off a terminal it prints one JSON line per page and one per run; a run that fails exits 1
// with the backend's reason; a partner without backends is told so.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STANDIN_PREFIXES, type StandIn } from '../src/standin/index.js';
import { testStandIn } from './helpers/connected.js';
import { cliInProcess, useCliStore } from './helpers/cli.js';
import { storeKind } from './helpers/store.js';

const store = useCliStore('ag-cli-sync-', { SECRETS_KEY: crypto.randomBytes(32).toString('base64') });
let standIn: StandIn | undefined;

beforeAll(async () => {
  if (storeKind !== 'pglite') return;
  standIn = await testStandIn();
}, 120_000);
afterAll(async () => {
  await standIn?.stop();
});

const cli = (args: string[], input = '') => cliInProcess(args, { env: store.env, input });

describe.runIf(storeKind === 'pglite')('account-gateway sync', () => {
  it('syncs in-process with JSON progress lines, exits 1 with the reason when a run fails', async () => {
    const created = await cli(['partner', 'create', '--name', 'CLI Sync']);
    expect(created.code, created.stderr).toBe(0);
    const partner = /\b([0-9A-HJKMNP-TV-Z]{26})\b/.exec(created.stdout)![1]!;

    const none = await cli(['sync', '--partner', partner]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/this partner has no connected backend/);

    for (const kind of ['CATALOG', 'EMBED'] as const) {
      const connect = await cli(
        [
          'backend',
          'connect',
          '--partner',
          partner,
          '--kind',
          kind.toLowerCase(),
          '--base-url',
          standIn!.url + STANDIN_PREFIXES[kind],
        ],
        standIn!.credentials[kind],
      );
      expect(connect.code, connect.stderr).toBe(0);
    }
    const ok = await cli(['sync', '--partner', partner, '--full']);
    expect(ok.code, ok.stderr).toBe(0);
    const lines = ok.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const runs = lines.filter((l) => l.event === 'run');
    expect(runs.map((r) => [r.kind, r.status, r.full])).toEqual([
      ['CATALOG', 'SUCCEEDED', true],
      ['EMBED', 'SUCCEEDED', true],
    ]);
    expect(runs[0].seen).toBeGreaterThan(0);
    expect(runs[0].created).toBe(runs[0].seen);
    const progress = lines.filter((l) => l.event === 'progress');
    expect(progress.some((p) => p.stream === 'catalog.users' && p.done)).toBe(true);
    expect(progress.some((p) => p.stream === 'embed.users' && p.done)).toBe(true);
    for (const p of progress)
      expect(p).toMatchObject({
        pages: expect.any(Number),
        records: expect.any(Number),
        requests: expect.any(Number),
        rate: expect.any(Number),
      });

    // Only one kind, incremental: nothing new.
    const again = await cli(['sync', '--partner', partner, '--kind', 'catalog']);
    expect(again.code, again.stderr).toBe(0);
    const run = again.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((l) => l.event === 'run');
    expect(run).toMatchObject({ kind: 'CATALOG', status: 'SUCCEEDED', full: false, created: 0, updated: 0 });

    // The upstream goes away: the run fails, the reason is said, exit 1.
    await standIn!.stop();
    const down = await cli(['sync', '--partner', partner, '--kind', 'embed']);
    expect(down.code).toBe(1);
    const failed = down.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .find((l) => l.event === 'run');
    expect(failed).toMatchObject({
      kind: 'EMBED',
      status: 'FAILED',
      reason: expect.stringMatching(/^the backend could not be reached/),
    });
    expect(down.stderr).toMatch(/EMBED sync FAILED: the backend could not be reached/);
  }, 300_000);
});
