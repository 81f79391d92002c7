// The benchmark's quick data set and in-process scenarios (bench/), on this project's store:
// statement counts and answers, never times (those belong to `npm run bench`).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestStore, storeAvailable, type TestStore } from './helpers/store.js';
import { QUICK, generate } from '../bench/data.js';
import { SCENARIOS, benchTargets, inProcessReads, inProcessWrites, type Measurement, type ReadResults } from '../bench/inprocess.js';
import { evaluate } from '../bench/report.js';

let store: TestStore | undefined;
let reads: ReadResults;
let writes: Measurement[];

beforeAll(async () => {
  if (!(await storeAvailable())) return;
  store = await openTestStore();
  const data = await generate(store.store, QUICK, 7);
  const targets = benchTargets(store.store, data);
  reads = await inProcessReads(targets, 2);
  writes = await inProcessWrites(targets, 2, 'smoke');
}, 300_000);

afterAll(async () => {
  await store?.drop();
});

beforeEach((context) => {
  if (!store) context.skip();
});

const get = (scenario: string, target = 'gateway') => {
  const m = [...reads.measurements, ...writes].find((x) => x.scenario === scenario && x.target === target);
  if (!m) throw new Error(`no measurement for ${scenario} / ${target}`);
  return m;
};

describe('bench --quick, in-process', () => {
  it('serves the 100-user page in at most 6 statements, the same as for 10 users', () => {
    const hundred = get(SCENARIOS.page100);
    expect(hundred.ok).toBe(true);
    expect(hundred.statements).toBeLessThanOrEqual(6);
    expect(get(SCENARIOS.page10).statements).toBe(hundred.statements);
  });

  it('the naive build answers the same JSON with at least 10× the statements; the floor with one', () => {
    const naive = get(SCENARIOS.page100, 'naive');
    const floor = get(SCENARIOS.page100, 'floor');
    expect(naive.note).toBe('same JSON as the gateway');
    expect(floor.note).toBe('same JSON as the gateway');
    expect(naive.statements!).toBeGreaterThanOrEqual(10 * get(SCENARIOS.page100).statements!);
    expect(floor.statements).toBe(1);
  });

  it('resolves `_entities` of the page\'s 100 users, equal to the page\'s nodes, in at most 2 statements', () => {
    expect(reads.pageIds).toHaveLength(100);
    const entities = get(SCENARIOS.entities);
    expect(entities.note).toBe('same nodes as the page');
    expect(entities.statements).toBeLessThanOrEqual(2);
  });

  it('creates 50 users per createUsers call', () => {
    const bulk = get(SCENARIOS.createUsers);
    expect(bulk.note).toMatch(/^50 of 50 created per call/);
    expect(bulk.ok).toBe(true);
  });

  it('creates exactly one row under 200 concurrent ensureUser calls on one key', () => {
    // The note starts with the row count read back from the store.
    expect(get(SCENARIOS.ensure).note).toMatch(/^1 row, 1 created, .*, 1 distinct user$/);
  });

  it('the report evaluates the statement targets as passed', () => {
    const targets = evaluate('pglite', [...reads.measurements, ...writes], true);
    const byName = (prefix: string) => targets.find((t) => t.target.startsWith(prefix))!;
    expect(byName('Scenario 1').pass).toBe(true);
    expect(byName('Statements do not grow').pass).toBe(true);
    expect(byName('Scenario 3').pass).toBe(true);
    expect(byName('Fewer statements than the naive').pass).toBe(true);
  });
});
