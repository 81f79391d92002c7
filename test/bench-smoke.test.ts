// The benchmark's quick data set and in-process scenarios (bench/), on this project's store:
// statement counts and answers, never times (those belong to `npm run bench`).
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { openTestStore, storeAvailable, type TestStore } from './helpers/store.js';
import { QUICK, generate } from '../bench/data.js';
import {
  SCENARIOS,
  benchTargets,
  inProcessReads,
  inProcessWrites,
  type Measurement,
  type ReadResults,
} from '../bench/inprocess.js';
import { evaluate } from '../bench/report.js';
import { syncScenarios, type SyncReport } from '../bench/sync.js';
import { writesScenarios, type WritesReport } from '../bench/writes.js';

let store: TestStore | undefined;
let reads: ReadResults;
let writes: Measurement[];
let sync: SyncReport;

beforeAll(async () => {
  if (!(await storeAvailable())) return;
  // The stand-in upstreams (one in a child process) start from the run's migrated template.
  process.env.BENCH_STANDIN_DUMP = inject('pgliteTemplate') ?? '';
  store = await openTestStore();
  const data = await generate(store.store, QUICK, 7);
  const targets = benchTargets(store.store, data);
  reads = await inProcessReads(targets, 2);
  writes = await inProcessWrites(targets, 2, 'smoke');
  const hostedPage = reads.measurements.find((m) => m.scenario === SCENARIOS.page100 && m.target === 'gateway');
  sync = await syncScenarios(store.store, data, hostedPage, { catalogUsers: 1_000, changes: 500 });
}, 300_000);

afterAll(async () => {
  delete process.env.BENCH_STANDIN_DUMP;
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

  it("resolves `_entities` of the page's 100 users, equal to the page's nodes, in at most 2 statements", () => {
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

describe('bench --quick, sync scenarios (1,000 catalog users on a stand-in)', () => {
  const target = (prefix: string) => {
    const t = sync.targets.find((x) => x.target.startsWith(prefix));
    if (!t) throw new Error(`no sync target ${prefix}`);
    return t;
  };

  it('the full sync reads every upstream user once: one request per page of per_page, identities = upstream', () => {
    expect(sync.full.status).toBe('SUCCEEDED');
    expect(sync.upstreamUsers).toBeGreaterThanOrEqual(1_000);
    expect(sync.full.pages).toBe(Math.ceil(sync.upstreamUsers / sync.perPage));
    expect(sync.full.identities).toBe(sync.upstreamUsers);
    expect(target('Full sync: requests = pages').pass).toBe(true);
    expect(target('Full sync: end state').pass).toBe(true);
    // Times and memory are judged at 50,000 users only (npm run bench).
    expect(target('Full sync of').pass).toBeNull();
    expect(sync.full.rssGrowthMiB).toEqual(expect.any(Number));
  });

  it('the incremental sync after 500 upstream changes reads at most 10 pages and stores all 500', () => {
    expect(sync.incremental.status).toBe('SUCCEEDED');
    expect(sync.incremental.pages).toBeLessThanOrEqual(10);
    expect(sync.incremental.identitiesChanged).toBe(500);
    expect(sync.incremental.usersChanged).toBe(500);
    expect(target('Incremental sync after').pass).toBe(true);
    expect(target('Incremental sync: the changes').pass).toBe(true);
  });

  it("the connected partner's users pages (upstream stopped) cost the hosted partner's statements", () => {
    expect(sync.reads).toHaveLength(2);
    for (const read of sync.reads) {
      expect(read.connectedOk, read.note).toBe(true);
      expect(read.connected).toBe(read.hosted);
    }
  });
});

describe('bench --only writes, tiny (2 createUsers of 5, 3 deletes across three backends)', () => {
  let writes: WritesReport;
  beforeAll(async () => {
    if (!store) return;
    writes = await writesScenarios(store.store, { calls: 2, items: 5, deletes: 3 });
  }, 300_000);

  it(`createUsers creates every item with one create each (a GET before an embed PUT), \
within the concurrency limit`, () => {
    const c = writes.createUsers;
    expect(c.created).toBe(10);
    expect(c.itemErrors).toEqual([]);
    // Items round robin learning, catalog, embed: 4 + 3 + 3, the embed ones a GET then a PUT.
    expect(c.requestsByCall).toEqual({ 'POST learning': 4, 'POST catalog': 3, 'GET embed': 3, 'PUT embed': 3 });
    expect(c.upstreamRequests).toBe(c.expectedRequests);
    expect(c.maxInFlight).toBeGreaterThanOrEqual(1);
    expect(c.maxInFlight).toBeLessThanOrEqual(writes.concurrency);
  });

  it('the deletes drain the outbox, each backend seeing each delete exactly once, within the concurrency limit', () => {
    const d = writes.deletes;
    expect(d.deleted).toBe(3);
    expect(d.pendingLeft).toBe(0);
    expect(d.failed).toBe(0);
    expect(d.exactlyOnce).toEqual({ LEARNING: 3, CATALOG: 3, EMBED: 3 });
    expect(d.upstreamDeletes).toEqual({ LEARNING: 3, CATALOG: 3, EMBED: 3 });
    expect(d.requestsByCall).toEqual({ 'DELETE learning': 3, 'DELETE catalog': 3, 'DELETE embed': 3 });
    expect(d.maxInFlight).toBeLessThanOrEqual(writes.concurrency);
    expect(writes.targets.every((t) => t.pass === true)).toBe(true);
  });
});
