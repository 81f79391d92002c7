// `npm start` on an empty store (SPEC §10.5): the server process seeds the demo partner with
// all four kinds connected to a stand-in upstream it starts itself, syncs them, prints the
// stand-in's URL, the counts and a query, and the graph then shows users unified across the
// backends. Run as `npm start` runs it: src/server.ts in a child process, no SECRETS_KEY.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../scripts/child-server.js';
import { storeKind } from './helpers/store.js';

let dataDir = '';
afterAll(async () => {
  if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
});

describe.runIf(storeKind === 'pglite')('npm start with the connected demo', () => {
  it('seeds, syncs and serves users unified across the four backends; stops cleanly', async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'ag-demo-'));
    const port = await freePort();
    const env = {
      ...process.env,
      DATA_DIR: dataDir,
      DATABASE_URL: '',
      SECRETS_KEY: '',
      SEED_DEMO: 'true',
      DEMO_UPSTREAM: '',
      LOG_LEVEL: 'warn',
      PORT: String(port),
    };
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    try {
      const until = Date.now() + 150_000;
      while (!/users unified across the four[\s\S]*\n\n/.test(out)) {
        if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${out}`);
        if (Date.now() > until) throw new Error(`no connected demo within 150 s: ${out}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(out).toMatch(/stand-in upstream at http:\/\/127\.0\.0\.1:\d+/);
      for (const kind of ['LEARNING', 'CATALOG', 'MESSAGING', 'EMBED'])
        expect(out).toMatch(new RegExp(`${kind}\\s+SUCCEEDED \\d+ read`));
      const key = /(agk_[\w-]+)/.exec(out)![1]!;
      const query = /\n {4}(\{ users\(first: 20\).*\})\n/.exec(out)![1]!;
      const gql = async (q: string) => {
        const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ query: q }),
        });
        return (await response.json()) as { data: any; errors?: unknown };
      };
      const backends = await gql('{ backends { kind status lastError lastSyncAt } }');
      expect(backends.errors).toBeUndefined();
      expect(backends.data.backends).toHaveLength(4);
      for (const b of backends.data.backends)
        expect(b).toMatchObject({ status: 'HEALTHY', lastError: null, lastSyncAt: expect.any(String) });
      // The printed query is valid, and its users carry what several backends said of them.
      const users = await gql(query);
      expect(users.errors).toBeUndefined();
      const nodes = users.data.users.edges.map((e: any) => e.node);
      expect(users.data.users.totalCount).toBeGreaterThan(10);
      const unified = nodes.filter(
        (u: any) =>
          [u.externalUserId, u.email, u.identifier].filter(Boolean).length >= 2 ||
          (u.identities && new Set(u.identities.map((i: any) => i.kind)).size >= 2),
      );
      expect(unified.length, JSON.stringify(nodes)).toBeGreaterThan(0);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    // Its own key for the demo's credentials, readable by the owner only.
    expect((await fs.stat(path.join(dataDir, 'secrets-key'))).mode & 0o077).toBe(0);
  }, 240_000);
});
