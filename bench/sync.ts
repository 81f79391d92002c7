// The sync scenarios of SPEC §10.6, against a stand-in upstream on loopback (bench/standin-proc.ts,
// its own process): a full sync of N catalog users (wall time, the memory growth of this
// process, which runs the sync as the gateway does, requests against pages, the end state),
// an incremental sync after 500 upstream changes (pages read, the changes in the store), and
// the users page of the connected partner against the hosted one's (statements; read with the
// upstream stopped, so a read that called the backend would fail).
import crypto from 'node:crypto';
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { openStore, type Store } from '../src/store/database.js';
import { loadUserPrincipal } from '../src/auth/authenticate.js';
import { provisionPartner } from '../src/modules/partners/service.js';
import { connectBackend } from '../src/modules/backends/service.js';
import { requestRun, type Progress } from '../src/modules/sync/runner.js';
import { gatewaySync } from '../src/modules/sync/service.js';
import { resolveOptions, connectorOptions } from '../src/connectors/transport.js';
import { BENCH_PREFIX, QUICK, generate, type BenchData } from './data.js';
import { gqlRequest, sequential } from './inprocess.js';
import { PAGE } from './queries.js';
import { ipcAsk } from './http.js';
import type { StandInRequest } from './standin-proc.js';
import { syncSection, type StoreReport, type TargetResult } from './report.js';
import { formatWritten, runWhenMain } from './alone.js';
import { benchDatabase, dropBenchDatabase } from './database.js';

export interface SyncSize {
  /** Bulk catalog users on the stand-in (besides its few demo records). */
  catalogUsers: number;
  /** Upstream users changed before the incremental sync. */
  changes: number;
}

export const SYNC_FULL: SyncSize = { catalogUsers: 50_000, changes: 500 };
export const SYNC_QUICK: SyncSize = { catalogUsers: 5_000, changes: 500 };

export interface SyncReport {
  size: SyncSize;
  /** Catalog users the stand-in lists (bulk + demo). */
  upstreamUsers: number;
  seedSeconds: number;
  perPage: number;
  full: {
    status: string;
    seconds: number;
    requests: number;
    /** Pages the runner reported (onProgress), and ceil(upstream / per_page). */
    pages: number;
    expectedPages: number;
    /** Peak growth over the baseline taken just before the run, sampled every 50 ms. */
    rssGrowthMiB: number;
    heapGrowthMiB: number;
    /** The heap's growth after a full garbage collection at the end (null without --expose-gc): what the run kept. */
    liveHeapGrowthMiB: number | null;
    /**
     * CPU time (user + system) during the run: this process (the syncing gateway and its embedded
     * store) and the stand-in's.
     */
    cpuSeconds: { gateway: number; upstream: number };
    identities: number;
    linkedUsers: number;
    lastError: string | null;
  };
  incremental: {
    status: string;
    seconds: number;
    requests: number;
    pages: number;
    records: number;
    /** Changed users whose catalog identity carries the new last name; and whose user shows it. */
    identitiesChanged: number;
    usersChanged: number;
    lastError: string | null;
  };
  reads: { query: string; hosted: number | null; connected: number | null; connectedOk: boolean; note?: string }[];
  targets: TargetResult[];
}

const MiB = 1024 * 1024;
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** The users page with each user's identities: the unified graph's read. */
export const UNIFIED_PAGE = PAGE.replace(
  'courses { totalCount }',
  'courses { totalCount }\n      identities { kind nativeId status }',
);

interface StandInProcess {
  baseUrl: string;
  credential: string;
  seedSeconds: number;
  ask(request: Omit<StandInRequest, 'id'>): Promise<any>;
  stop(): Promise<void>;
}

async function startStandInProcess(users: number): Promise<StandInProcess> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./standin-proc.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_CATALOG_USERS: String(users) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, (reply: any) => void>();
  const ready = await new Promise<any>((resolve, reject) => {
    const early = (code: number | null) =>
      reject(new Error(`stand-in process exited with ${code} before it was ready`));
    child.once('exit', early);
    child.on('message', (message: any) => {
      if (message.ready) {
        child.off('exit', early);
        resolve(message);
      } else pending.get(message.id)?.(message);
    });
  });
  let exited = false;
  child.once('exit', () => (exited = true));
  const ask = ipcAsk<StandInRequest>(child, pending);
  return {
    baseUrl: ready.baseUrl,
    credential: ready.credential,
    seedSeconds: ready.seedSeconds,
    ask,
    async stop() {
      if (exited) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      await Promise.race([ask({ cmd: 'stop' }).catch(() => {}), new Promise((resolve) => setTimeout(resolve, 10_000))]);
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await gone;
      clearTimeout(killer);
    },
  };
}

/** Samples this process's RSS and heap until stopped: the peak growth over the baseline. */
function memorySampler() {
  const base = process.memoryUsage();
  let rss = base.rss;
  let heap = base.heapUsed;
  const sample = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  };
  const timer = setInterval(sample, 50);
  return () => {
    clearInterval(timer);
    sample();
    return { rssGrowthMiB: round((rss - base.rss) / MiB), heapGrowthMiB: round((heap - base.heapUsed) / MiB) };
  };
}

export async function syncScenarios(
  store: Store,
  data: BenchData,
  hostedPage: { statements: number | null } | undefined,
  size: SyncSize,
  log: (line: string) => void = () => {},
  /** A CPU profile (inspector) of this process during the full run, written to this file. */
  cpuProfile?: string,
): Promise<SyncReport> {
  const { prisma } = store;
  const standIn = await startStandInProcess(size.catalogUsers);
  try {
    const upstreamUsers: number = (await standIn.ask({ cmd: 'count' })).count;
    log(
      `sync: stand-in seeded with ${upstreamUsers} catalog users in ${standIn.seedSeconds.toFixed(1)}s ` +
        `(its own process; not measured)`,
    );
    const config = loadConfig({
      LOG_LEVEL: 'silent',
      SEED_DEMO: 'false',
      RATE_LIMIT_PER_MINUTE: '1000000000',
      SECRETS_KEY: crypto.randomBytes(32).toString('base64'),
    });
    const logger = createLogger('silent');
    const partner = await prisma.$transaction((tx) =>
      provisionPartner(tx, { name: `${BENCH_PREFIX} connected (sync)`, plan: 'AUTOMATE' }),
    );
    const ctx = {
      prisma,
      principal: await loadUserPrincipal(prisma, partner.adminUser.id, 'api_key', partner.apiKey.id),
      requestId: 'bench-sync',
      ip: '127.0.0.1',
      config,
    };
    const backend = await connectBackend(ctx, {
      kind: 'CATALOG',
      baseUrl: standIn.baseUrl,
      credential: standIn.credential,
    });
    const sync = gatewaySync({ prisma, config, logger });
    const perPage = Math.min(resolveOptions(connectorOptions(config)).pageSize, 100);

    const runOnce = async (full: boolean) => {
      const { run } = await requestRun(prisma, backend, full);
      let pages = 0;
      let records = 0;
      const onProgress = (p: Progress) => {
        pages = p.pages;
        records = p.records;
      };
      const started = performance.now();
      const ended = await sync.runNow(run.id, { onProgress });
      const seconds = round((performance.now() - started) / 1000, 2);
      if (!ended) throw new Error('the sync run was not claimed');
      // Why a run failed is the backend's lastError; record errors are the run's own.
      const failure =
        ended.status === 'SUCCEEDED'
          ? null
          : ((await prisma.backend.findUnique({ where: { id: backend.id } }))?.lastError ?? null);
      const recordErrors = Array.isArray(ended.errors) ? ended.errors.length : 0;
      const lastError =
        [
          failure,
          recordErrors
            ? `${recordErrors} record errors, first: ${JSON.stringify((ended.errors as unknown[])[0]).slice(0, 200)}`
            : null,
        ]
          .filter(Boolean)
          .join('; ') || null;
      return { run: { ...ended, lastError }, seconds, pages, records };
    };

    // 1. The full import.
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const cpuOf = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;
    const upstreamCpu = async () => cpuOf((await standIn.ask({ cmd: 'cpu' })).cpu);
    const upstreamBefore = await upstreamCpu();
    const gatewayBefore = process.cpuUsage();
    const stopSampling = memorySampler();
    const profiler = cpuProfile ? new Session() : undefined;
    if (profiler) {
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 500 });
      await profiler.post('Profiler.start');
    }
    const full = await runOnce(true);
    if (profiler && cpuProfile) {
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      await fs.writeFile(cpuProfile, JSON.stringify(profile));
      log(`sync: CPU profile of the full run written to ${cpuProfile} (npx tsx bench/cpuprofile.ts ${cpuProfile})`);
    }
    const memory = stopSampling();
    const cpuSeconds = {
      gateway: round(cpuOf(process.cpuUsage(gatewayBefore))),
      upstream: round((await upstreamCpu()) - upstreamBefore),
    };
    gc?.();
    const liveHeapGrowthMiB = gc ? round((process.memoryUsage().heapUsed - heapBefore) / MiB) : null;
    const identities = await prisma.identity.count({
      where: { backendId: backend.id, status: { in: ['LINKED', 'PENDING'] } },
    });
    const linkedUsers = await prisma.identity.count({
      where: { backendId: backend.id, status: 'LINKED', userId: { not: null } },
    });
    const expectedPages = Math.max(1, Math.ceil(upstreamUsers / perPage));
    log(
      `sync: full ${full.run.status} in ${full.seconds}s, ${full.run.requests} requests for ` +
        `${full.pages} pages (${expectedPages} of ${perPage}), RSS +${memory.rssGrowthMiB} MiB, heap ` +
        `+${memory.heapGrowthMiB} MiB (after GC ${liveHeapGrowthMiB ?? 'n/a'}), CPU ` +
        `${cpuSeconds.gateway} s here and ${cpuSeconds.upstream} s upstream, ${identities} identities of ` +
        `${upstreamUsers} upstream`,
    );

    // 2. The incremental sync after `changes` upstream changes.
    const changed: string[] = (await standIn.ask({ cmd: 'change', n: size.changes })).changed;
    const incremental = await runOnce(false);
    const changedRows = await prisma.$queryRaw<{ identities: number; users: number }[]>`
      SELECT count(*)::int AS identities, count(*) FILTER (WHERE u."lastName" = i.data->>'last_name')::int AS users
        FROM "Identity" i LEFT JOIN "User" u ON u.id = i."userId"
       WHERE i."backendId" = ${backend.id}::uuid AND i."nativeId" = ANY(${changed})
         AND i.data->>'last_name' = 'Changed ' || i."nativeId"`;
    const identitiesChanged = changedRows[0]!.identities;
    const usersChanged = changedRows[0]!.users;
    log(
      `sync: incremental after ${changed.length} changes ${incremental.run.status} in ` +
        `${incremental.seconds}s, ${incremental.pages} pages, ${incremental.records} records, ` +
        `${incremental.run.requests} requests; ${identitiesChanged} identities and ${usersChanged} users ` +
        `show the change`,
    );

    // 3. Reads of the connected partner, with the upstream stopped: they come from the store.
    await standIn.stop();
    const app = createApp({ config, store, logger });
    const hosted = data.partners[0]!;
    const reads: SyncReport['reads'] = [];
    for (const [name, query] of [
      ['users page (100)', PAGE],
      ['users page (100) with identities', UNIFIED_PAGE],
    ] as const) {
      const measure = async (key: string) => {
        const once = async () => {
          const response = await app.fetch(gqlRequest(JSON.stringify({ query, variables: { first: 100 } }), key), {
            ip: '127.0.0.1',
          });
          return response.json();
        };
        await sequential(store, 3, once);
        return sequential(store, 10, once);
      };
      const h = name === 'users page (100)' && hostedPage ? hostedPage : await measure(hosted.key);
      const c = await measure(partner.key);
      const body = c.last as any;
      const edges = body?.data?.users?.edges ?? [];
      // The partner's users: the synced ones and its admin (who has no catalog identity).
      const catalogued = edges.filter((e: any) => e.node.identities?.some((i: any) => i.kind === 'CATALOG')).length;
      const connectedOk =
        !body?.errors &&
        body?.data?.users?.totalCount === linkedUsers + 1 &&
        edges.length === Math.min(100, linkedUsers + 1) &&
        (name === 'users page (100)' || catalogued >= edges.length - 1);
      reads.push({
        query: name,
        hosted: h.statements,
        connected: c.statements,
        connectedOk,
        note: connectedOk ? undefined : JSON.stringify(body?.errors ?? body).slice(0, 200),
      });
      log(
        `sync: ${name}: ${c.statements} statements for the connected partner, ` +
          `${h.statements} for the hosted one` +
          `${connectedOk ? '' : ` (WRONG ANSWER: ${JSON.stringify(body?.errors ?? body).slice(0, 200)})`}`,
      );
    }

    const report: Omit<SyncReport, 'targets'> = {
      size,
      upstreamUsers,
      seedSeconds: round(standIn.seedSeconds),
      perPage,
      full: {
        status: full.run.status,
        seconds: full.seconds,
        requests: full.run.requests,
        pages: full.pages,
        expectedPages,
        ...memory,
        liveHeapGrowthMiB,
        cpuSeconds,
        identities,
        linkedUsers,
        lastError: full.run.lastError,
      },
      incremental: {
        status: incremental.run.status,
        seconds: incremental.seconds,
        requests: incremental.run.requests,
        pages: incremental.pages,
        records: incremental.records,
        identitiesChanged,
        usersChanged,
        lastError: incremental.run.lastError,
      },
      reads,
    };
    return { ...report, targets: evaluateSync(report) };
  } finally {
    await standIn.stop();
  }
}

/** Requests of a full read beyond its pages (e.g. a confirmation by id): at most this many. */
export const REQUESTS_OVER_PAGES = 5;

export function evaluateSync(r: Omit<SyncReport, 'targets'>): TargetResult[] {
  const f = r.full;
  const i = r.incremental;
  const atScale = r.size.catalogUsers >= 50_000;
  const scale = atScale ? '' : ` (${r.upstreamUsers} users here: the bar is judged at 50,000)`;
  const out: TargetResult[] = [
    {
      target: `Full sync of ${r.upstreamUsers} catalog users: wall time`,
      bar: '≤ 60 s (50,000 users)',
      measured:
        `${f.seconds} s, ${f.status}${f.lastError ? `: ${f.lastError}` : ''}; CPU ` +
        `${f.cpuSeconds.gateway} s in the syncing process, ${f.cpuSeconds.upstream} s in the ` +
        `upstream's${scale}`,
      pass: f.status !== 'SUCCEEDED' ? false : atScale ? f.seconds <= 60 : null,
    },
    {
      target: 'Full sync: memory growth of the syncing process',
      bar: '≤ 150 MB',
      measured:
        `RSS +${f.rssGrowthMiB} MiB (${round((f.rssGrowthMiB * MiB) / 1e6)} MB), heap ` +
        `+${f.heapGrowthMiB} MiB at its peak, +${f.liveHeapGrowthMiB ?? 'n/a'} MiB after a full GC (the ` +
        `RSS includes the embedded store's WebAssembly memory)${scale}`,
      pass: atScale ? f.rssGrowthMiB * MiB <= 150e6 : null,
    },
    {
      target: 'Full sync: requests = pages + a constant',
      bar: `requests − ⌈users / ${r.perPage}⌉ ≤ ${REQUESTS_OVER_PAGES}`,
      measured:
        `${f.requests} requests, ${f.pages} pages read, ${f.expectedPages} pages of ${r.perPage} ` +
        `(constant ${f.requests - f.expectedPages})`,
      pass:
        f.status === 'SUCCEEDED' &&
        f.pages === f.expectedPages &&
        f.requests - f.expectedPages >= 0 &&
        f.requests - f.expectedPages <= REQUESTS_OVER_PAGES,
    },
    {
      target: 'Full sync: end state',
      bar: 'identities = upstream users',
      measured: `${f.identities} identities (${f.linkedUsers} linked to users) of ${r.upstreamUsers}`,
      pass: f.identities === r.upstreamUsers && f.linkedUsers === r.upstreamUsers,
    },
    {
      target: `Incremental sync after ${r.size.changes} upstream changes: pages read`,
      bar: '≤ 10',
      measured:
        `${i.pages} pages, ${i.records} records, ${i.requests} requests, ${i.seconds} s, ` +
        `${i.status}${i.lastError ? `: ${i.lastError}` : ''}`,
      pass: i.status === 'SUCCEEDED' && i.pages <= 10,
    },
    {
      target: 'Incremental sync: the changes visible in the store',
      bar: `${r.size.changes} of ${r.size.changes}`,
      measured: `${i.identitiesChanged} identities, ${i.usersChanged} users`,
      pass: i.identitiesChanged === r.size.changes && i.usersChanged === r.size.changes,
    },
  ];
  for (const read of r.reads) {
    out.push({
      target: `Connected partner's ${read.query}: statements as the hosted one's (upstream stopped)`,
      bar: 'equal',
      measured:
        `${read.connected ?? 'n/a'} vs ` +
        `${read.hosted ?? 'n/a'}${read.connectedOk ? '' : `; WRONG ANSWER: ${read.note}`}`,
      pass: read.connectedOk && read.connected !== null && read.connected === read.hosted,
    });
  }
  return out;
}

export function syncTable(r: SyncReport): string {
  const f = r.full;
  const i = r.incremental;
  const lines = [
    `| sync scenario | wall time (s) | requests | pages (per_page ${r.perPage}) | records | memory ` +
      `growth (MiB) | end state | status |`,
    '|---|--:|--:|--:|--:|--:|---|---|',
    `| full, ${r.upstreamUsers} catalog users | ${f.seconds} | ${f.requests} | ${f.pages} (expected ` +
      `${f.expectedPages}) | ${f.identities} | RSS +${f.rssGrowthMiB}, heap +${f.heapGrowthMiB} | ` +
      `${f.identities} identities of ${r.upstreamUsers} | ${f.status} |`,
    `| incremental after ${r.size.changes} changes | ${i.seconds} | ${i.requests} | ${i.pages} | ` +
      `${i.records} | – | ${i.identitiesChanged} identities, ${i.usersChanged} users changed | ` +
      `${i.status} |`,
  ];
  return lines.join('\n');
}

/**
 * Only the sync scenarios (`npm run bench -- --only sync`, or `npx tsx bench/sync.ts`), on
 * embedded PGlite in a temporary directory: the hosted partner the reads are compared with is
 * the quick data set's (500 users). `--users N` sizes the stand-in (default 50,000), `--note`
 * adds a line, `--store pglite|postgres|both` picks the gateway's store (postgres: a scratch
 * database next to DATABASE_URL's, bench/database.ts), `--cpu-prof FILE` writes a CPU profile
 * of the full run. Prints the section, writes bench/results-sync.json and, at 50,000 users or
 * more, the Sync section of BENCHMARKS.md (only that section: the §9 tables stay as they are).
 */
export async function runSyncOnly(argv: string[], log: (line: string) => void = console.log): Promise<SyncReport> {
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const users = Number(value('--users') ?? SYNC_FULL.catalogUsers);
  if (!Number.isSafeInteger(users) || users < 1) throw new Error('--users: a positive integer');
  const size: SyncSize = { ...SYNC_FULL, catalogUsers: users };
  const started = new Date();
  const storeOption = value('--store') ?? 'pglite';
  const kinds: ('pglite' | 'postgres')[] =
    storeOption === 'both' ? ['pglite', 'postgres'] : storeOption === 'postgres' ? ['postgres'] : ['pglite'];
  if (!['pglite', 'postgres', 'both'].includes(storeOption)) throw new Error('--store: pglite, postgres or both');
  const databaseUrl = process.env.DATABASE_URL;
  if (kinds.includes('postgres') && !databaseUrl) throw new Error('--store postgres needs DATABASE_URL');
  const load = os.loadavg().map((n) => Math.round(n * 100) / 100);
  const cpus = os.cpus();
  const storesText = kinds.map((k) => (k === 'pglite' ? 'embedded PGlite' : 'PostgreSQL')).join(', then ');
  const header =
    `Run of ${started.toISOString()} (\`npm run bench -- --only sync\`, ${storesText}): node ` +
    `${process.version}, ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores; load ` +
    `average at start ${load.join(' / ')}`;
  log(header);
  const reports: StoreReport[] = [];
  for (const kind of kinds) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'account-gateway-bench-sync-'));
    // The PostgreSQL store: a scratch database of its own (bench/database.ts), so the RSS of
    // this process measures the sync alone (the store's memory is the server's).
    const benchUrl = kind === 'postgres' ? await benchDatabase(databaseUrl!, SYNC_DB, log) : undefined;
    let store: Store | undefined;
    try {
      store = await openStore(benchUrl ? { databaseUrl: benchUrl } : { dataDir: path.join(dir, 'data') });
      const version = (await store.pool.query<{ v: string }>('SELECT version() AS v')).rows[0]!.v.split(' on ')[0]!;
      log(`sync: the gateway's store is ${kind} (${version})`);
      const data = await generate(store, QUICK, 42, log);
      const report = await syncScenarios(store, data, undefined, size, log, value('--cpu-prof'));
      reports.push({
        store: kind,
        version,
        data: {},
        measurements: [],
        targets: [],
        gatewayMaxRssMiB: null,
        sync: report,
      } satisfies StoreReport);
    } finally {
      await store?.close();
      await fs.rm(dir, { recursive: true, force: true });
      if (benchUrl) await dropBenchDatabase(databaseUrl!, benchUrl, SYNC_DB);
    }
  }
  {
    const report = reports[0]!.sync!;
    const loadAfter = os.loadavg().map((n) => Math.round(n * 100) / 100);
    const note = value('--note');
    const machine = [
      `${header}, at the end ${loadAfter.join(' / ')} (${cpus.length} cores: above ${cpus.length} the ` +
        `machine was shared, and every time below is longer than an idle machine's).`,
      ...(note ? [note] : []),
    ].join(' ');
    const section = syncSection(reports, machine);
    log(`\n${section}\n`);
    const here = path.dirname(fileURLToPath(import.meta.url));
    const results = JSON.stringify(
      {
        date: started.toISOString(),
        loadAverage: { start: load, end: loadAfter },
        sync: report,
        stores: Object.fromEntries(reports.map((r) => [r.store, r.sync])),
      },
      null,
      2,
    );
    await fs.writeFile(path.join(here, 'results-sync.json'), `${results}\n`);
    log('wrote bench/results-sync.json');
    if (users >= SYNC_FULL.catalogUsers) {
      const file = path.join(here, '..', 'BENCHMARKS.md');
      const doc = await fs.readFile(file, 'utf8');
      const begin = doc.indexOf('## Sync (SPEC §10.6)');
      const end = doc.indexOf('<!-- bench:end -->');
      if (begin >= 0 && end > begin) {
        await fs.writeFile(file, `${doc.slice(0, begin)}${section}\n\n${doc.slice(end)}`);
        log("wrote BENCHMARKS.md's Sync section");
      } else log('BENCHMARKS.md has no generated Sync section to replace: left as it is');
    }
    formatWritten(['BENCHMARKS.md', 'bench/results-sync.json'], log);
    return report;
  }
}

/** The sync bench's own PostgreSQL database (a run of it can go beside the #14 shapes'). */
const SYNC_DB = 'account_gateway_bench_sync';

runWhenMain(import.meta.url, runSyncOnly);
