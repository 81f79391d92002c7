// `npm run bench [-- --quick] [-- --no-http]`: the performance bars of SPEC §9, measured.
// `npm run bench -- --only page,nodes [--store postgres] [--targets gateway,executor]
// [--cpu-prof]`: only issue #14's side-by-side shapes (bench/side.ts), on one store; with
// --cpu-prof the gateway targets are profiled during the timed runs and each profile is
// summarised (bench/cpuprofile.ts; the .cpuprofile files in $TMPDIR/account-gateway-profiles).
// `npm run bench -- --only sync [--users N] [--store pglite|postgres|both] [--note TEXT]
// [--cpu-prof FILE]`: only the sync scenarios of SPEC §10.6 (bench/sync.ts runSyncOnly), on
// embedded PGlite (default) and/or PostgreSQL (DATABASE_URL); writes bench/results-sync.json
// and BENCHMARKS.md's Sync section.
// `npm run bench -- --only writes [--calls N] [--items N] [--deletes N] [--note TEXT]`: only
// issue 16's write scenarios (bench/writes.ts runWritesOnly: createUsers and outbox deletes
// against a stand-in), on embedded PGlite; writes bench/results-writes.json and BENCHMARKS.md's
// Writes section. A full run ends with them (after every store's sync scenarios).
// Generates the data set, runs every scenario in-process and over HTTP against the gateway,
// the naive build and the floor, on embedded PGlite and (with DATABASE_URL) on PostgreSQL,
// prints the tables, writes bench/results.json and, after a full run, BENCHMARKS.md.
//
// DATABASE_URL must point at a server you can use as scratch: the bench (re)creates its own
// database `account_gateway_bench` next to the one named, and never writes to that one
// unless it cannot create databases and the named one holds nothing but bench data.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../src/store/database.js';
import { FULL, QUICK, generate, type BenchData } from './data.js';
import {
  SCENARIOS,
  benchTargets,
  ensureVerdictOf,
  inProcessReads,
  inProcessWrites,
  type Measurement,
} from './inprocess.js';
import { load, startServer, type LoadOptions, type ServerHandle, type StoreLocation } from './http.js';
import { wrk, wrkAvailable } from './wrk.js';
import { REST_LISTS, createUsersBody, ensureBody, entitiesBody, pageBody } from './queries.js';
import { evaluate, sideSection, storeSection, syncSection, type StoreReport } from './report.js';
import { benchDatabase, dropBenchDatabase } from './database.js';
import { SYNC_FULL, SYNC_QUICK, runSyncOnly, syncScenarios } from './sync.js';
import { runWritesOnly } from './writes.js';
import { formatWritten } from './alone.js';
import { SHAPE_KEYS, shapeContext } from './shapes.js';
import { SIDE_TARGETS, sideBySide, type SideTarget } from './side.js';
import { preparePostGraphile } from './postgraphile.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// A run of only the #14 shapes (--only) has a database of its own, so that it can run while
// a full bench (e.g. its sync scenarios) runs on the same server.
const BENCH_DB =
  process.argv.includes('--only') || process.argv.includes('--cpu-prof')
    ? 'account_gateway_bench_shapes'
    : 'account_gateway_bench';

interface Options {
  quick: boolean;
  http: boolean;
  /**
   * Target seconds per measured HTTP run. Runs are counted in requests, all of which are
   * answered before the next run starts (a timed run would leave requests in flight that
   * skew the next run's statement count): the warm-up's rate sizes the measured run.
   */
  duration: number;
  /** Warm-up requests per connection. */
  warmup: number;
  iterations: number;
  naiveRequests: number;
  note?: string;
  /** Only these #14 shapes (and nothing else of the bench). */
  only?: string[];
  /** Only this store. */
  store?: 'pglite' | 'postgres';
  targets?: SideTarget[];
  /** Profile the gateway targets' timed runs of the #14 shapes. */
  cpuProf: boolean;
}

function parseArgs(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    quick,
    http: !argv.includes('--no-http'),
    duration: Number(value('--duration') ?? (quick ? 2 : 15)),
    warmup: quick ? 1 : 3,
    iterations: quick ? 6 : 50,
    naiveRequests: 100,
    note: value('--note'),
    only: list('--only', argv.includes('--cpu-prof') ? ['page', 'nodes'] : undefined, SHAPE_KEYS),
    store: value('--store') as Options['store'],
    targets: list('--targets', undefined, SIDE_TARGETS) as SideTarget[] | undefined,
    cpuProf: argv.includes('--cpu-prof'),
  };
  function list(name: string, fallback: string[] | undefined, known: readonly string[]) {
    const given = value(name);
    if (given === undefined) return fallback;
    const items = given === 'all' ? [...known] : given.split(',').filter(Boolean);
    const unknown = items.filter((i) => !known.includes(i));
    if (unknown.length) throw new Error(`${name}: unknown ${unknown.join(', ')} (known: ${known.join(', ')}, all)`);
    return items;
  }
}

const t0 = performance.now();
const log = (line: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${line}`);

const gqlHeaders = (key: string) => ({
  'content-type': 'application/json',
  accept: 'application/graphql-response+json',
  authorization: `Bearer ${key}`,
});

/** One measured HTTP run (after a warm-up), with the target's statements and memory. */
async function httpRun(
  server: ServerHandle,
  scenario: string,
  options: Omit<LoadOptions, 'connections' | 'amount'> & { connections?: number },
  o: Options,
  check: {
    bodyOk?: (body: string) => boolean;
    after?: () => Promise<{ ok: boolean; note: string }>;
    warm?: boolean;
    warmAmount?: number;
    amount?: number;
  } = {},
): Promise<Measurement> {
  const connections = options.connections ?? 50;
  let amount = check.amount;
  if (check.warm !== false) {
    const warm = await load(server.url, {
      ...options,
      onResponse: undefined,
      connections,
      amount: check.warmAmount ?? connections * o.warmup,
    });
    amount ??= Math.max(o.quick ? connections : 2 * connections, Math.round(warm.rps * o.duration));
  }
  let bad = 0;
  let firstBad = '';
  const onResponse = (status: number, body: string) => {
    options.onResponse?.(status, body);
    if (status !== 200 || (check.bodyOk && !check.bodyOk(body))) {
      if (!bad++) firstBad = `${status} ${body.slice(0, 160)}`;
    }
  };
  const before = await server.stats();
  const r = await load(server.url, { ...options, connections, onResponse, amount: amount ?? 2 * connections });
  const after = await server.stats();
  const extra = check.after ? await check.after() : undefined;
  const ok = bad === 0 && r.errors === 0 && r.timeouts === 0 && (extra?.ok ?? true);
  const note = [
    extra?.note,
    bad ? `${bad} bad answers, first: ${firstBad}` : undefined,
    r.errors || r.timeouts ? `${r.errors} errors, ${r.timeouts} timeouts` : undefined,
  ]
    .filter(Boolean)
    .join('; ');
  // Only right answers count: a target that fails requests under load is not faster for it.
  const rps = (r.rps * (r.requests - bad)) / Math.max(1, r.requests);
  log(
    `  HTTP ${server.target} ${scenario}: ${rps.toFixed(1)} right answers/s (${bad} wrong), ` +
      `p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.requests} requests, ` +
      `peak RSS ${after.peakRssMiB.toFixed(0)} MiB${note ? ` (${note})` : ''}`,
  );
  return {
    scenario,
    target: server.target as Measurement['target'],
    mode: 'http',
    statements: r.requests ? Math.round(((after.statements - before.statements) / r.requests) * 100) / 100 : null,
    p50: r.p50,
    p99: r.p99,
    rps: Math.round(rps * 10) / 10,
    peakRssMiB: Math.round(after.peakRssMiB),
    samples: r.requests,
    ok,
    note: note || undefined,
  };
}

const noErrors = (body: string) => !body.includes('"errors"');

/** The same load from wrk, when installed (see bench/wrk.ts); nothing otherwise. */
async function wrkRun(
  server: ServerHandle,
  scenario: string,
  request: { method: 'GET' | 'POST'; path: string; headers?: Record<string, string>; body?: string },
  o: Options,
): Promise<Measurement[]> {
  if (!(await wrkAvailable())) return [];
  const r = await wrk(server.url + request.path, { ...request, connections: 50, seconds: o.quick ? 3 : o.duration });
  log(
    `  wrk ${server.target} ${scenario}: ${r.rps.toFixed(1)} answers/s (${r.non2xx} non-2xx), ` +
      `p50 ${r.p50} ms, p99 ${r.p99} ms, ${r.requests} requests`,
  );
  return [
    {
      scenario,
      target: server.target as Measurement['target'],
      mode: 'wrk',
      statements: null,
      p50: r.p50,
      p99: r.p99,
      rps: Math.round(r.rps * 10) / 10,
      samples: r.requests,
      ok: r.non2xx === 0,
      note: r.non2xx ? `wrk: ${r.non2xx} non-2xx` : undefined,
    },
  ];
}

async function httpPhase(
  location: StoreLocation,
  data: BenchData,
  pageIds: string[],
  restAvailable: string[],
  o: Options,
  tag: string,
) {
  const partner = data.partners[0]!;
  const out: Measurement[] = [];
  const headers = gqlHeaders(partner.key);
  let gatewayMaxRss: number | null = null;

  // The naive build and the floor first, on the data exactly as generated.
  if (o.quick) {
    out.push({
      scenario: SCENARIOS.page100,
      target: 'naive',
      mode: 'http',
      statements: null,
      p50: null,
      p99: null,
      samples: 0,
      ok: true,
      note: 'HTTP skipped in --quick (about a second per request)',
    });
  } else {
    const naive = await startServer('naive', location, partner.id);
    try {
      out.push(
        await httpRun(naive, SCENARIOS.page100, { path: '/graphql', headers, body: pageBody(100) }, o, {
          bodyOk: noErrors,
          amount: o.naiveRequests,
          warmAmount: 10,
        }),
      );
    } finally {
      await naive.stop();
    }
  }
  const floor = await startServer('floor', location, partner.id);
  try {
    out.push(await httpRun(floor, SCENARIOS.page100, { path: '/page?first=100', method: 'GET' }, o));
    out.push(...(await wrkRun(floor, SCENARIOS.page100, { method: 'GET', path: '/page?first=100' }, o)));
  } finally {
    await floor.stop();
  }

  const gateway = await startServer('gateway', location, partner.id);
  try {
    out.push(
      await httpRun(gateway, SCENARIOS.page100, { path: '/graphql', headers, body: pageBody(100) }, o, {
        bodyOk: noErrors,
      }),
    );
    out.push(
      ...(await wrkRun(
        gateway,
        SCENARIOS.page100,
        { method: 'POST', path: '/graphql', headers, body: pageBody(100) },
        o,
      )),
    );
    out.push(
      await httpRun(gateway, SCENARIOS.page10, { path: '/graphql', headers, body: pageBody(10) }, o, {
        bodyOk: noErrors,
      }),
    );
    if (pageIds.length) {
      out.push(
        await httpRun(gateway, SCENARIOS.entities, { path: '/graphql', headers, body: entitiesBody(pageIds) }, o, {
          bodyOk: noErrors,
        }),
      );
    }
    for (const rest of REST_LISTS.filter((r) => restAvailable.includes(r.name))) {
      out.push(
        await httpRun(
          gateway,
          SCENARIOS.rest(rest.name),
          { path: rest.path, method: 'GET', headers: { authorization: `Bearer ${partner.key}` } },
          o,
        ),
      );
    }

    // Writes last: createUsers with 50 new users per request, then the ensure race.
    let created = 0;
    let call = 0; // across warm-up and measured run: every call brings new users
    const prefix = `bulk-http-${tag}`;
    out.push(
      await httpRun(
        gateway,
        SCENARIOS.createUsers,
        {
          path: '/graphql',
          headers,
          body: () => createUsersBody(`${prefix}-${call++}`, partner.clientIdentifiers[0]),
          onResponse: (_status, body) => (created += (body.match(/"CreateUserSuccess"/g) ?? []).length),
        },
        o,
        {
          ...(o.quick ? { amount: 50, warmAmount: 10 } : {}),
          bodyOk: (body) => (body.match(/"CreateUserSuccess"/g) ?? []).length === 50,
          after: async () => {
            const [row] = await gateway.sql<{ n: number }>(
              `SELECT count(*)::int AS n FROM "User" WHERE "partnerId" = $1 AND "externalUserId" LIKE $2`,
              [partner.id, `${prefix}-%`],
            );
            return { ok: true, note: `${created} users created by the measured calls (${row!.n} with the warm-up's)` };
          },
        },
      ),
    );
    const key = `ensure-http-${tag}`;
    const bodies: any[] = [];
    out.push(
      await httpRun(
        gateway,
        SCENARIOS.ensure,
        {
          path: '/graphql',
          headers,
          body: ensureBody(key),
          connections: 200,
          onResponse: (_s, body) => bodies.push(safeJson(body)),
        },
        o,
        {
          warm: false,
          amount: 200,
          after: async () => {
            const [row] = await gateway.sql<{ n: number }>(
              `SELECT count(*)::int AS n FROM "User" WHERE "partnerId" = $1 AND "externalUserId" = $2`,
              [partner.id, key],
            );
            return ensureVerdictOf(row!.n, bodies);
          },
        },
      ),
    );
    gatewayMaxRss = Math.round((await gateway.stats()).maxRssMiB);
  } finally {
    await gateway.stop();
  }
  return { measurements: out, gatewayMaxRss };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

async function benchStore(kind: 'pglite' | 'postgres', o: Options, tag: string): Promise<StoreReport> {
  log(`\n== ${kind}${o.quick ? ' (quick)' : ''}`);
  let location: StoreLocation;
  let cleanup: () => Promise<void>;
  if (kind === 'pglite') {
    // On disk, so that each target's process can open it in turn (one process at a time).
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'account-gateway-bench-'));
    location = { dataDir: path.join(dir, 'data') };
    cleanup = () => fs.rm(dir, { recursive: true, force: true });
  } else {
    const url = process.env.DATABASE_URL!;
    const benchUrl = await benchDatabase(url, BENCH_DB, log);
    location = { databaseUrl: benchUrl };
    cleanup = () => dropBenchDatabase(url, benchUrl, BENCH_DB);
  }
  const open = () =>
    openStore('dataDir' in location ? { dataDir: location.dataDir } : { databaseUrl: location.databaseUrl });
  try {
    let store = await open();
    const version = (await store.pool.query<{ v: string }>('SELECT version() AS v')).rows[0]!.v.split(' on ')[0]!.split(
      ',',
    )[0]!;
    const data = await generate(store, o.quick ? QUICK : FULL, 42, log);
    const side = async () => {
      const context = await shapeContext(store.pool, data);
      if ('databaseUrl' in location) await preparePostGraphile(location.databaseUrl);
      // The embedded store belongs to one process at a time: hand it to the targets.
      if (kind === 'pglite') await store.close();
      const profiles = o.cpuProf ? path.join(os.tmpdir(), 'account-gateway-profiles') : undefined;
      if (profiles) await fs.mkdir(profiles, { recursive: true });
      const report = await sideBySide(location, context, {
        store: kind,
        only: o.only,
        targets: o.targets,
        duration: o.duration,
        warmup: o.warmup,
        quick: o.quick,
        cpuProfile: profiles,
        log,
      });
      if (kind === 'pglite') store = await open();
      return report;
    };
    if (o.only) {
      const report = await side();
      await store.close();
      return {
        store: kind,
        version,
        data: data.counts,
        measurements: [],
        targets: [],
        gatewayMaxRssMiB: null,
        side: report,
      };
    }
    const measurements: Measurement[] = [];
    const reads = await inProcessReads(benchTargets(store, data), o.iterations, log);
    measurements.push(...reads.measurements);
    let gatewayMaxRssMiB: number | null = null;
    if (o.http) {
      // The embedded store belongs to one process at a time: hand it to the targets.
      if (kind === 'pglite') await store.close();
      const http = await httpPhase(location, data, reads.pageIds, reads.restAvailable, o, tag);
      measurements.push(...http.measurements);
      gatewayMaxRssMiB = http.gatewayMaxRss;
      if (kind === 'pglite') store = await open();
    }
    // Issue #14's shapes before the writes, on the data exactly as generated.
    const sideReport = o.http ? await side() : undefined;
    measurements.push(...(await inProcessWrites(benchTargets(store, data), o.iterations, tag, log)));
    // The sync scenarios last: they add a connected partner with its synced users.
    const hostedPage = reads.measurements.find(
      (m) => m.scenario === SCENARIOS.page100 && m.target === 'gateway' && m.mode === 'in-process',
    );
    const sync = await syncScenarios(store, data, hostedPage, o.quick ? SYNC_QUICK : SYNC_FULL, log);
    await store.close();
    return {
      store: kind,
      version,
      data: data.counts,
      measurements,
      targets: evaluate(kind, measurements, o.quick),
      gatewayMaxRssMiB,
      sync,
      side: sideReport,
    };
  } finally {
    await cleanup();
  }
}

function machine() {
  const cpus = os.cpus();
  return {
    node: process.version,
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: os.loadavg().map((n) => Math.round(n * 100) / 100),
  };
}

async function main() {
  const argv = process.argv.slice(2);
  const only = argv.indexOf('--only');
  if (only >= 0 && argv[only + 1] === 'sync') {
    const report = await runSyncOnly(argv, log);
    if (report.targets.some((t) => t.pass === false)) process.exitCode = 1;
    return;
  }
  if (only >= 0 && argv[only + 1] === 'writes') {
    const report = await runWritesOnly(argv, log);
    if (report.targets.some((t) => t.pass === false)) process.exitCode = 1;
    return;
  }
  const o = parseArgs(argv);
  const started = new Date();
  const host = machine();
  const tag = started.getTime().toString(36);
  log(
    `account-gateway benchmark${o.quick ? ' --quick' : ''}: ` +
      `node ${host.node}, ${host.cpu} × ${host.cores}, load average ${host.loadAverageAtStart.join(' ')}`,
  );
  const stores: ('pglite' | 'postgres')[] = [
    'pglite' as const,
    ...(process.env.DATABASE_URL ? (['postgres'] as const) : []),
  ].filter((s) => !o.store || s === o.store);
  if (o.store === 'postgres' && !process.env.DATABASE_URL) throw new Error('--store postgres needs DATABASE_URL');
  if (!process.env.DATABASE_URL) log('(set DATABASE_URL=postgres://… of a scratch server to also measure PostgreSQL)');
  const reports: StoreReport[] = [];
  for (const kind of stores) reports.push(await benchStore(kind, o, tag));
  const seconds = Math.round((Date.now() - started.getTime()) / 1000);

  const shared = host.loadAverageAtStart[0]! > host.cores / 2;
  const sharedNote =
    ' — other processes were using the machine, so absolute numbers are lower than on an idle one; ' +
    'the ratios come from one run on the same data and store.';
  const header = [
    `Run of ${started.toISOString()} (${seconds} s${o.quick ? ', --quick' : ''}): ` +
      `node ${host.node}, ${host.cpu}, ${host.cores} cores, ${host.memoryGiB} GiB, ${host.os}.`,
    `Load average at start: ${host.loadAverageAtStart.join(' / ')}${shared ? sharedNote : '.'}`,
    ...(o.note ? [o.note] : []),
  ].join('\n');
  const body = o.only
    ? reports.map(sideSection).join('\n\n')
    : [...reports.map(storeSection), syncSection(reports, header.split('\n')[0]!)].join('\n\n');
  console.log(`\n${header}\n\n${body}\n`);

  const results = {
    date: started.toISOString(),
    quick: o.quick,
    seconds,
    machine: host,
    note: o.note,
    options: { duration: o.duration, warmup: o.warmup, iterations: o.iterations, naiveRequests: o.naiveRequests },
    stores: reports,
  };
  // A run of only the #14 shapes keeps the full run's results.json.
  const resultsFile = o.only ? 'results-shapes.json' : 'results.json';
  await fs.writeFile(path.join(here, resultsFile), `${JSON.stringify(results, null, 2)}\n`);
  log(`wrote bench/${resultsFile}`);
  if (!o.quick && o.http && !o.only) {
    const doc = await benchmarksDoc(header, body);
    await fs.writeFile(path.join(here, '..', 'BENCHMARKS.md'), doc);
    log('wrote BENCHMARKS.md');
  }
  formatWritten([`bench/${resultsFile}`, ...(!o.quick && o.http && !o.only ? ['BENCHMARKS.md'] : [])], log);
  // Issue 16's write scenarios, after every store's sync scenarios (their own PGlite store and stand-in).
  if (!o.only) {
    const writes = await runWritesOnly(o.quick ? ['--calls', '2', '--deletes', '10'] : [], log);
    if (writes.targets.some((t) => t.pass === false)) process.exitCode = 1;
  }
}

/** BENCHMARKS.md: the generated part between markers; anything written around it stays. */
async function benchmarksDoc(header: string, body: string): Promise<string> {
  const file = path.join(here, '..', 'BENCHMARKS.md');
  const begin = '<!-- bench:begin (written by npm run bench) -->';
  const end = '<!-- bench:end -->';
  const generated = `${begin}\n${header}\n\n${body}\n${end}`;
  const existing = await fs.readFile(file, 'utf8').catch(() => null);
  if (existing?.includes(begin) && existing.includes(end)) {
    return existing.slice(0, existing.indexOf(begin)) + generated + existing.slice(existing.indexOf(end) + end.length);
  }
  return `# Benchmarks\n\nThe latest full run of \`npm run bench\` (see README, "Benchmark").\n\n${generated}\n`;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
