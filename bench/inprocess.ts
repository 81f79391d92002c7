// The scenarios run in-process: requests handed to the fetch handlers (app.fetch for the
// gateway, yoga.fetch for the naive build, the SQL function for the floor), one at a time,
// on one store. Gives the statements per request (exact: nothing else runs) and the
// latency of one request without queueing. Also checks that the three agree on the answer.
import { isDeepStrictEqual } from 'node:util';
import { createApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import type { Store } from '../src/store/database.js';
import type { BenchData } from './data.js';
import { floorPage } from './floor.js';
import { createNaive } from './naive.js';
import { REST_LISTS, createUsersBody, ensureBody, entitiesBody, pageBody } from './queries.js';

export type TargetName = 'gateway' | 'naive' | 'floor';

export interface Measurement {
  scenario: string;
  target: TargetName;
  mode: 'in-process' | 'http' | 'wrk';
  /** SQL statements per request (median over the samples). */
  statements: number | null;
  p50: number | null;
  p99: number | null;
  /** Requests per second (HTTP runs only). */
  rps?: number | null;
  /** Peak RSS of the serving process during the run, MiB (HTTP runs only). */
  peakRssMiB?: number | null;
  samples: number;
  ok: boolean;
  note?: string;
}

export interface InProcessTargets {
  store: Store;
  data: BenchData;
  gateway: App;
  naive: { fetch: (request: Request) => Promise<Response> };
}

/**
 * The gateway and the naive build on one store. Logs off and rate limits out of reach: the
 * benchmark sends thousands of requests with one key.
 */
export function benchConfig(overrides: Record<string, string> = {}) {
  return loadConfig({ LOG_LEVEL: 'silent', SEED_DEMO: 'false', RATE_LIMIT_PER_MINUTE: '1000000000', ...overrides });
}

export function benchTargets(store: Store, data: BenchData): InProcessTargets {
  const config = benchConfig();
  return {
    store,
    data,
    gateway: createApp({ config, store, logger: createLogger('silent') }),
    naive: createNaive(store.prisma, config),
  };
}

export const SCENARIOS = {
  page100: '1. users page (100)',
  page10: '2. users page (10)',
  entities: '3. _entities (100 users)',
  createUsers: '4. createUsers (50 items)',
  ensure: '5. ensureUser race (200 on one key)',
  rest: (name: string) => `6. REST ${name} list (100)`,
} as const;

type Fetch = (request: Request) => Promise<Response>;

export function gqlRequest(body: string, key: string): Request {
  return new Request('http://bench.test/graphql', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      authorization: `Bearer ${key}`,
    },
    body,
  });
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const median = (values: number[]) =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Runs `once` `iterations` times in sequence: per-request statements and latency. */
export async function sequential(store: Store, iterations: number, once: () => Promise<unknown>) {
  const times: number[] = [];
  const statements: number[] = [];
  let last: unknown;
  for (let i = 0; i < iterations; i++) {
    const before = store.statementCount();
    const started = performance.now();
    last = await once();
    times.push(performance.now() - started);
    statements.push(store.statementCount() - before);
  }
  times.sort((a, b) => a - b);
  return { p50: round(percentile(times, 50)), p99: round(percentile(times, 99)), statements: median(statements), last };
}

async function json(fetch: Fetch, request: Request): Promise<{ status: number; body: any }> {
  const response = await fetch(request);
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    return { status: response.status, body: text };
  }
}

export interface ReadResults {
  measurements: Measurement[];
  /** Global ids of the first page's users (the representations of scenario 3). */
  pageIds: string[];
  /** REST list routes that answered (scenario 6); absent dialects are missing. */
  restAvailable: string[];
}

/** Scenarios 1, 2, 3 and 6 for the gateway; 1 for the naive build and the floor. */
export async function inProcessReads(
  t: InProcessTargets,
  iterations: number,
  log: (line: string) => void = () => {},
): Promise<ReadResults> {
  const { store, data } = t;
  const partner = data.partners[0]!;
  const gateway: Fetch = (r) => t.gateway.fetch(r, { ip: '127.0.0.1' });
  const out: Measurement[] = [];
  const warm = Math.min(5, iterations);

  // Scenario 1 and 2: the page, on the gateway, the naive build and the floor.
  const page = async (target: TargetName, first: number) => {
    const once =
      target === 'floor'
        ? async () => JSON.parse(await floorPage(store.pool, partner.id, first))
        : async () =>
            (await json(target === 'gateway' ? gateway : t.naive.fetch, gqlRequest(pageBody(first), partner.key))).body;
    await sequential(store, warm, once);
    return sequential(store, target === 'naive' ? Math.max(3, Math.ceil(iterations / 4)) : iterations, once);
  };
  const g100 = await page('gateway', 100);
  const reference = g100.last as any;
  const pageOk =
    !reference?.errors && reference?.data?.users?.edges?.length === Math.min(100, reference?.data?.users?.totalCount);
  out.push({
    scenario: SCENARIOS.page100,
    target: 'gateway',
    mode: 'in-process',
    statements: g100.statements,
    p50: g100.p50,
    p99: g100.p99,
    samples: iterations,
    ok: pageOk,
    note: pageOk ? undefined : JSON.stringify(reference?.errors ?? reference).slice(0, 200),
  });
  log(`  in-process gateway page(100): ${g100.statements} statements, p50 ${g100.p50} ms`);
  for (const target of ['naive', 'floor'] as const) {
    const r = await page(target, 100);
    const same = isDeepStrictEqual(r.last, reference);
    const errors = (r.last as any)?.errors;
    const note = same
      ? 'same JSON as the gateway'
      : `ANSWER DIFFERS from the gateway${errors ? `: ${JSON.stringify(errors).slice(0, 200)}` : ''}`;
    out.push({
      scenario: SCENARIOS.page100,
      target,
      mode: 'in-process',
      statements: r.statements,
      p50: r.p50,
      p99: r.p99,
      samples: iterations,
      ok: same,
      note,
    });
    log(
      `  in-process ${target} page(100): ${r.statements} statements, ` +
        `p50 ${r.p50} ms${same ? '' : ' (answer differs!)'}`,
    );
  }
  const g10 = await page('gateway', 10);
  out.push({
    scenario: SCENARIOS.page10,
    target: 'gateway',
    mode: 'in-process',
    statements: g10.statements,
    p50: g10.p50,
    p99: g10.p99,
    samples: iterations,
    ok: !(g10.last as any)?.errors,
  });

  // Scenario 3: _entities for the page's users; the answer must equal the page's nodes.
  const nodes = (reference?.data?.users?.edges ?? []).map((e: any) => e.node);
  const pageIds: string[] = nodes.map((n: any) => n.id);
  const entities = async () => (await json(gateway, gqlRequest(entitiesBody(pageIds), partner.key))).body;
  await sequential(store, warm, entities);
  const e = await sequential(store, iterations, entities);
  const eBody = e.last as any;
  const eOk = !eBody?.errors && isDeepStrictEqual(eBody?.data?._entities, nodes);
  out.push({
    scenario: SCENARIOS.entities,
    target: 'gateway',
    mode: 'in-process',
    statements: eOk ? e.statements : null,
    p50: e.p50,
    p99: e.p99,
    samples: iterations,
    ok: eOk,
    note: eOk ? 'same nodes as the page' : `missing or wrong: ${JSON.stringify(eBody?.errors ?? eBody).slice(0, 200)}`,
  });
  log(`  in-process gateway _entities(100): ${eOk ? `${e.statements} statements, p50 ${e.p50} ms` : 'NOT RESOLVABLE'}`);

  // Scenario 6: the REST list pages that exist.
  const restAvailable: string[] = [];
  for (const rest of REST_LISTS) {
    const get = () =>
      json(
        gateway,
        new Request(`http://bench.test${rest.path}`, { headers: { authorization: `Bearer ${partner.key}` } }),
      );
    const probe = await get();
    const scenario = SCENARIOS.rest(rest.name);
    if (probe.status === 404 && /no route/.test(JSON.stringify(probe.body))) {
      out.push({
        scenario,
        target: 'gateway',
        mode: 'in-process',
        statements: null,
        p50: null,
        p99: null,
        samples: 0,
        ok: false,
        note: `missing: ${rest.path} is not served (dialect not mounted)`,
      });
      log(`  in-process REST ${rest.name}: missing`);
      continue;
    }
    const items = rest.items(probe.body);
    const ok = probe.status === 200 && Array.isArray(items) && items.length > 0;
    await sequential(store, warm, get);
    const r = await sequential(store, iterations, get);
    out.push({
      scenario,
      target: 'gateway',
      mode: 'in-process',
      statements: r.statements,
      p50: r.p50,
      p99: r.p99,
      samples: iterations,
      ok,
      note: ok ? `${items.length} items` : `status ${probe.status}: ${JSON.stringify(probe.body).slice(0, 160)}`,
    });
    if (ok) restAvailable.push(rest.name);
    const measured = ok ? `${r.statements} statements, p50 ${r.p50} ms` : `status ${probe.status}`;
    log(`  in-process REST ${rest.name}: ${measured}`);
  }
  return { measurements: out, pageIds, restAvailable };
}

/** Scenarios 4 and 5 (they write, so they run after the reads). */
export async function inProcessWrites(
  t: InProcessTargets,
  iterations: number,
  tag: string,
  log: (line: string) => void = () => {},
): Promise<Measurement[]> {
  const { store, data } = t;
  const partner = data.partners[0]!;
  const gateway: Fetch = (r) => t.gateway.fetch(r, { ip: '127.0.0.1' });
  const out: Measurement[] = [];

  // Scenario 4: createUsers with 50 new users per call.
  let call = 0;
  let failures = 0;
  const bulk = async () => {
    const { body } = await json(
      gateway,
      gqlRequest(createUsersBody(`bulk-${tag}-${call++}`, partner.clientIdentifiers[0]), partner.key),
    );
    const results = body?.data?.createUsers?.results;
    const created = Array.isArray(results)
      ? results.filter((r: any) => r.__typename === 'CreateUserSuccess').length
      : 0;
    if (created !== 50) failures++;
    return body;
  };
  const b = await sequential(store, Math.max(2, Math.ceil(iterations / 4)), bulk);
  out.push({
    scenario: SCENARIOS.createUsers,
    target: 'gateway',
    mode: 'in-process',
    statements: b.statements,
    p50: b.p50,
    p99: b.p99,
    samples: call,
    ok: failures === 0,
    note:
      failures === 0
        ? `50 of 50 created per call, ${call} calls`
        : `${failures} of ${call} calls did not create 50 users: ${JSON.stringify(b.last).slice(0, 200)}`,
  });
  log(`  in-process createUsers(50): ${b.statements} statements, p50 ${b.p50} ms, ${failures} failed calls`);

  // Scenario 5: 200 concurrent ensureUser on one new key: exactly one row, one `created`.
  const key = `ensure-${tag}`;
  const before = store.statementCount();
  const times: number[] = [];
  const bodies = await Promise.all(
    Array.from({ length: 200 }, async () => {
      const started = performance.now();
      const { body } = await json(gateway, gqlRequest(ensureBody(key), partner.key));
      times.push(performance.now() - started);
      return body;
    }),
  );
  const statements = (store.statementCount() - before) / 200;
  const verdict = await ensureVerdict(store, partner.id, key, bodies);
  times.sort((x, y) => x - y);
  out.push({
    scenario: SCENARIOS.ensure,
    target: 'gateway',
    mode: 'in-process',
    statements: round(statements, 1),
    p50: round(percentile(times, 50)),
    p99: round(percentile(times, 99)),
    samples: 200,
    ok: verdict.ok,
    note: verdict.note,
  });
  log(`  in-process ensureUser x200: ${verdict.note}`);
  return out;
}

/** Checks a race on one key: one row in the store, one caller told `created`, no errors. */
export async function ensureVerdict(store: Pick<Store, 'pool'>, partnerId: string, key: string, bodies: any[]) {
  const { rows } = await store.pool.query<{ n: string }>(
    'SELECT count(*) AS n FROM "User" WHERE "partnerId" = $1 AND "externalUserId" = $2',
    [partnerId, key],
  );
  const rowCount = Number(rows[0]!.n);
  return ensureVerdictOf(rowCount, bodies);
}

export function ensureVerdictOf(rowCount: number, bodies: any[]) {
  const created = bodies.filter((b) => b?.data?.ensureUser?.created === true).length;
  const succeeded = bodies.filter((b) => b?.data?.ensureUser?.__typename === 'EnsureUserSuccess').length;
  const ids = new Set(bodies.map((b) => b?.data?.ensureUser?.user?.id).filter(Boolean));
  const ok = rowCount === 1 && created === 1 && succeeded === bodies.length && ids.size === 1;
  // What the failed calls answered, e.g. "1× INTERNAL_SERVER_ERROR".
  const failures = new Map<string, number>();
  for (const b of bodies) {
    if (b?.data?.ensureUser?.__typename === 'EnsureUserSuccess') continue;
    const what = b?.errors?.[0]?.extensions?.code ?? b?.data?.ensureUser?.__typename ?? 'no answer';
    failures.set(what, (failures.get(what) ?? 0) + 1);
  }
  const failed = [...failures].map(([what, n]) => `${n}× ${what}`).join(', ');
  return {
    ok,
    rowCount,
    created,
    note:
      `${rowCount} row, ${created} created, ${succeeded}/${bodies.length} ` +
      `succeeded${failed ? ` (${failed})` : ''}, ${ids.size} distinct user`,
  };
}
