// schema.graphql is the checked-in subgraph SDL: it must match the code, and it must be a
// subgraph SDL that composes (federation directives imported, entities keyed).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { composeServices, compositionHasErrors } from '@theguild/federation-composition';

const root = new URL('../../', import.meta.url);

describe('schema.graphql', () => {
  it('is current (`npm run schema:check`)', async () => {
    const tsx = new URL('node_modules/.bin/tsx', root).pathname;
    const run = promisify(execFile)(tsx, ['scripts/print-schema.ts', '--check'], { cwd: root.pathname });
    await expect(run, 'schema.graphql is stale: run `npm run schema:print`').resolves.toMatchObject({
      stdout: expect.stringContaining('up to date'),
    });
  }, 60_000);

  it('is a Federation v2 subgraph SDL that composes on its own', () => {
    const sdl = fs.readFileSync(new URL('schema.graphql', root), 'utf8');
    expect(sdl).toMatch(/^extend schema\s+@link\(url: "https:\/\/specs\.apollo\.dev\/federation\/v2\.\d+"/);
    const result = composeServices([{ name: 'accounts', typeDefs: parse(sdl), url: 'http://accounts.test/graphql' }]);
    expect(compositionHasErrors(result) ? result.errors.map((e) => e.message) : []).toEqual([]);
    // Printed with printSubgraphSchema: the federation directives survive, its own fields do not.
    expect(sdl).toContain('@key(fields: "id")');
    expect(sdl).toContain('@tag(name: "pii")');
    expect(sdl).not.toContain('_entities');
    expect(sdl).not.toContain('_service');
  });
});
