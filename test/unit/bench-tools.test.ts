// The benchmark's own tools: the CPU profile summariser (bench/cpuprofile.ts) and the answer
// normalisation of the PostGraphile comparison (bench/shapes.ts).
import { describe, expect, it } from 'vitest';
import { moduleOf, summarise, summaryMarkdown, type CpuProfile } from '../../bench/cpuprofile.js';
import { normalise } from '../../bench/shapes.js';

const root = '/repo';
const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber, columnNumber: 0 });

// (root) → handle (src/app.ts) → plan (@prisma/client) → compile (wasm), and (root) → (idle),
// (root) → (garbage collector); handle calls itself once (recursion counted once inclusively).
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 6, 7] },
    { id: 2, callFrame: frame('handle', 'file:///repo/src/app.ts', 9), children: [3, 5] },
    {
      id: 3,
      callFrame: frame('plan', 'file:///repo/node_modules/@prisma/client/runtime/client.js', 70),
      children: [4],
    },
    { id: 4, callFrame: frame('wasm-function[1]', 'wasm://wasm/abc') },
    { id: 5, callFrame: frame('handle', 'file:///repo/src/app.ts', 9) },
    { id: 6, callFrame: frame('(idle)') },
    { id: 7, callFrame: frame('(garbage collector)') },
  ],
  startTime: 0,
  endTime: 10_000,
  // Each sample stands for the delta after it (the first delta is the start offset).
  samples: [2, 3, 4, 4, 5, 6, 7, 2],
  timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
};

describe('bench/cpuprofile.ts', () => {
  it('names the module of a frame: a package, a project file, node, wasm, the specials', () => {
    expect(moduleOf(frame('x', 'file:///repo/node_modules/@pothos/core/esm/a.js'), root)).toBe('@pothos/core');
    expect(moduleOf(frame('x', 'file:///repo/node_modules/a/node_modules/pg/lib/c.js'), root)).toBe('pg');
    expect(moduleOf(frame('x', 'file:///repo/src/graphql/ids.ts'), root)).toBe('src/graphql/ids.ts');
    expect(moduleOf(frame('x', 'node:internal/streams'), root)).toBe('node (built-in)');
    expect(moduleOf(frame('x', 'wasm://wasm/abc'), root)).toMatch(/^wasm/);
    expect(moduleOf(frame('(garbage collector)'), root)).toBe('(garbage collector)');
    expect(moduleOf(frame('JSON.parse'), root)).toBe('(native)');
  });

  it('sums self time by function and module, inclusive time once per sample, idle apart', () => {
    const s = summarise(profile, root);
    // 7 samples of 1 ms stand for time (the last has no delta after it); one is idle.
    expect(s.busyMs).toBe(6);
    expect(s.idleMs).toBe(1);
    expect(s.wallMs).toBe(10);
    const self = Object.fromEntries(s.modules.map((r) => [r.name, r.ms]));
    expect(self['src/app.ts']).toBe(2); // samples on node 2 and on node 5
    expect(self['@prisma/client']).toBe(1);
    expect(self[moduleOf(frame('w', 'wasm://wasm/abc'))]).toBe(2);
    expect(self['(garbage collector)']).toBe(1);
    expect(self['(idle)']).toBeUndefined();
    const inclusive = Object.fromEntries(s.modulesInclusive.map((r) => [r.name, r.ms]));
    expect(inclusive['src/app.ts']).toBe(5); // every sample under handle, the recursive one once
    expect(inclusive['@prisma/client']).toBe(3);
    const own = Object.fromEntries(s.ownInclusive.map((r) => [r.name, r.ms]));
    expect(own['handle src/app.ts:10']).toBe(5);
    expect(s.modules.reduce((n, r) => n + r.share, 0)).toBeCloseTo(1);
  });

  it('writes the tables per request', () => {
    const md = summaryMarkdown(summarise(profile, root), 2);
    expect(md).toContain('3.00 ms per request over 2 requests');
    expect(md).toContain('| `src/app.ts` | 1.00 | 33.3 % |');
  });
});

describe("bench/shapes.ts's normalise", () => {
  it("gives PostGraphile's and the gateway's timestamps one form and leaves other values alone", () => {
    expect(
      normalise({
        a: '2024-01-02T03:04:05',
        b: '2024-01-02T03:04:05.000Z',
        c: '2024-01-02T04:04:05+01:00',
        d: [{ e: 'user12', f: 3, g: null }],
      }),
    ).toEqual({
      a: '2024-01-02T03:04:05.000Z',
      b: '2024-01-02T03:04:05.000Z',
      c: '2024-01-02T03:04:05.000Z',
      d: [{ e: 'user12', f: 3, g: null }],
    });
  });
});
