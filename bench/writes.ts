// The write scenarios of issue 16 (SPEC §10.4), against a stand-in upstream (src/standin, in
// this process) behind the fault proxy of the tests, which logs every upstream request and the
// most it had in flight at once: (1) createUsers of 50 items per call on a partner with
// learning, catalog and embed connected (each item one user of one backend, round robin):
// items/s, upstream requests per item, max in flight against BACKEND_CONCURRENCY; (2) deleteUser
// of users each known to the three backends, delivered by the outbox worker (its in-process
// queue) until no pending change is left: deletes/s end to end, upstream requests per delete,
// and whether each backend saw each delete exactly once.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BackendKind } from '@prisma/client';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { openStore, type Store } from '../src/store/database.js';
import { loadUserPrincipal } from '../src/auth/authenticate.js';
import { provisionPartner } from '../src/modules/partners/service.js';
import { connectBackend } from '../src/modules/backends/service.js';
import { createUser as standInCreateUser } from '../src/modules/users/service.js';
import { createOutboxWorker } from '../src/modules/outbox/worker.js';
import { STANDIN_PREFIXES, startStandIn } from '../src/standin/index.js';
import { startFaultProxy } from '../test/helpers/fault-proxy.js';
import { BENCH_PREFIX } from './data.js';
import { gqlRequest } from './inprocess.js';
import type { TargetResult } from './report.js';
import { formatWritten, runWhenMain, standInDump } from './alone.js';

export interface WritesSize {
  /** createUsers calls, and items per call. */
  calls: number;
  items: number;
  /** Users known to three backends, deleted one by one through the outbox. */
  deletes: number;
}

export const WRITES_FULL: WritesSize = { calls: 10, items: 50, deletes: 100 };

export interface WritesReport {
  size: WritesSize;
  concurrency: number;
  createUsers: {
    created: number;
    itemErrors: string[];
    seconds: number;
    itemsPerSecond: number;
    upstreamRequests: number;
    requestsPerItem: number;
    /** Upstream requests by method and backend, e.g. `PUT embed`. */
    requestsByCall: Record<string, number>;
    /** One create per item, and for an embed item the GET before its PUT (an upsert: check-then-act). */
    expectedRequests: number;
    maxInFlight: number;
  };
  deletes: {
    deleted: number;
    seconds: number;
    deletesPerSecond: number;
    upstreamRequests: number;
    requestsPerDelete: number;
    maxInFlight: number;
    requestsByCall: Record<string, number>;
    /** Successful DELETE requests per backend, and how many of the users' upstream records saw exactly one. */
    upstreamDeletes: Record<string, number>;
    exactlyOnce: Record<string, number>;
    pendingLeft: number;
    failed: number;
  };
  targets: TargetResult[];
}

const KINDS = ['LEARNING', 'CATALOG', 'EMBED'] as const;
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/** Requests by method and backend (the stand-in's dialect prefix), e.g. `{ "PUT embed": 17 }`. */
function byCall(log: { method: string; path: string }[]) {
  const out: Record<string, number> = {};
  for (const r of log) {
    const kind = Object.entries(STANDIN_PREFIXES).find(([, prefix]) => r.path.startsWith(`${prefix}/`))?.[0];
    const key = `${r.method} ${kind?.toLowerCase() ?? r.path}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}
const calls = (by: Record<string, number>) =>
  Object.entries(by)
    .sort()
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');

const CREATE_USERS = `mutation ($input: CreateUsersInput!) { createUsers(input: $input) { __typename
  ... on CreateUsersSuccess { results { __typename ... on Error { code message } } } ... on Error { message } } }`;
const DELETE_USER = `mutation ($input: DeleteUserInput!) { deleteUser(input: $input) { __typename
  ... on DeleteUserSuccess { pendingChanges { id } } ... on Error { code message } } }`;

export async function writesScenarios(
  store: Store,
  size: WritesSize,
  log: (line: string) => void = () => {},
): Promise<WritesReport> {
  const { prisma } = store;
  const tag = Date.now().toString(36);
  const loadDataDir = await standInDump();
  const standIn = await startStandIn({ inMemory: true, ...(loadDataDir && { loadDataDir }) });
  const proxy = await startFaultProxy(standIn.url);
  const config = loadConfig({
    LOG_LEVEL: 'silent',
    SEED_DEMO: 'false',
    RATE_LIMIT_PER_MINUTE: '1000000000',
    SECRETS_KEY: crypto.randomBytes(32).toString('base64'),
  });
  const logger = createLogger('silent');
  const worker = createOutboxWorker({
    prisma,
    config,
    logger,
    concurrency: config.backends.concurrency,
    tickMs: 50,
  });
  try {
    const app = createApp({ config, store, logger });
    const partner = await prisma.$transaction((tx) =>
      provisionPartner(tx, { name: `${BENCH_PREFIX} connected (writes ${tag})`, plan: 'AUTOMATE' }),
    );
    const ctx = {
      prisma,
      principal: await loadUserPrincipal(prisma, partner.adminUser.id, 'api_key', partner.apiKey.id),
      requestId: 'bench-writes',
      ip: '127.0.0.1',
      config,
    };
    const backendIds = {} as Record<BackendKind, string>;
    for (const kind of KINDS) {
      const backend = await connectBackend(ctx, {
        kind,
        baseUrl: proxy.url + STANDIN_PREFIXES[kind],
        credential: standIn.credentials[kind],
      });
      backendIds[kind] = backend.id;
    }
    const gql = async (query: string, variables: unknown) => {
      const response = await app.fetch(gqlRequest(JSON.stringify({ query, variables }), partner.key), {
        ip: '127.0.0.1',
      });
      const body = (await response.json()) as any;
      if (body.errors) throw new Error(JSON.stringify(body.errors).slice(0, 300));
      return body.data;
    };

    // 1. createUsers of `items` per call, each item a user of one backend (round robin).
    const item = (n: number) => {
      const name = `bw-${tag}-${n}`;
      const kind = KINDS[n % KINDS.length];
      return kind === 'LEARNING'
        ? { externalUserId: name }
        : kind === 'CATALOG'
          ? { email: `${name}@example.com` }
          : { identifier: name };
    };
    proxy.resetLog();
    let created = 0;
    const itemErrors: string[] = [];
    const startedCreate = performance.now();
    for (let call = 0; call < size.calls; call++) {
      const users = Array.from({ length: size.items }, (_, i) => item(call * size.items + i));
      const data = await gql(CREATE_USERS, { input: { users } });
      const results = data.createUsers.results ?? [];
      if (data.createUsers.__typename !== 'CreateUsersSuccess')
        itemErrors.push(`call ${call}: ${data.createUsers.__typename}`);
      for (const r of results) {
        if (r.__typename === 'CreateUserSuccess') created++;
        else if (itemErrors.length < 5) itemErrors.push(`${r.__typename}: ${r.message}`);
      }
    }
    const createSeconds = (performance.now() - startedCreate) / 1000;
    const items = size.calls * size.items;
    const embedItems = Array.from({ length: items }, (_, n) => n).filter((n) => KINDS[n % KINDS.length] === 'EMBED');
    const createUsers: WritesReport['createUsers'] = {
      created,
      itemErrors,
      seconds: round(createSeconds, 2),
      itemsPerSecond: round(created / createSeconds),
      upstreamRequests: proxy.log.length,
      requestsPerItem: round(proxy.log.length / items, 2),
      requestsByCall: byCall(proxy.log),
      expectedRequests: items + embedItems.length,
      maxInFlight: proxy.maxInFlight,
    };
    log(
      `writes: createUsers ${size.calls} × ${size.items}: ${created} of ${items} created ` +
        `in ${createUsers.seconds}s (${createUsers.itemsPerSecond} items/s), ${createUsers.upstreamRequests} ` +
        `upstream requests (${createUsers.requestsPerItem} per item), ` +
        `at most ${createUsers.maxInFlight} in flight (BACKEND_CONCURRENCY ${config.backends.concurrency})`,
    );

    // 2. Users known to the three backends (as a sync would have left them), deleted through the outbox.
    const upCtx = await standIn.context();
    const people: { id: string; paths: Record<BackendKind, string> }[] = [];
    for (let n = 0; n < size.deletes; n++) {
      const name = `bwd-${tag}-${n}`;
      const learning = await standInCreateUser(upCtx, { externalUserId: `${name}-ext` });
      const catalog = await standInCreateUser(upCtx, { email: `${name}@example.com` });
      const embed = await standInCreateUser(upCtx, { identifier: `${name}-emb` });
      const user = await prisma.user.create({
        data: {
          partnerId: partner.account.id,
          accountId: partner.account.id,
          externalUserId: `${name}-ext`,
          email: `${name}@example.com`,
          // The gateway's own catalogId (its sequence, unique across partners); the upstream's is
          // the identity's nativeId.
          inCatalog: true,
          identifier: `${name}-emb`,
        },
      });
      const native = { LEARNING: learning.id, CATALOG: String(catalog.catalogId), EMBED: embed.identifier! };
      const streams = { LEARNING: 'learning.accounts', CATALOG: 'catalog.users', EMBED: 'embed.users' };
      const keys = { LEARNING: `${name}-ext`, CATALOG: `${name}@example.com`, EMBED: `${name}-emb` };
      await prisma.identity.createMany({
        data: KINDS.map((kind) => ({
          partnerId: partner.account.id,
          backendId: backendIds[kind],
          kind,
          stream: streams[kind],
          entity: 'USER' as const,
          nativeId: native[kind],
          key: keys[kind],
          status: 'LINKED' as const,
          userId: user.id,
          data: {},
          dataHash: 'seeded',
          syncedAt: new Date(),
        })),
      });
      people.push({
        id: user.id,
        paths: {
          LEARNING: `/rest/learning/accounts/${learning.id}`,
          CATALOG: `/rest/catalog/api/v1/users/${catalog.catalogId}`,
          EMBED: `/rest/embed/v1/headless/user/${embed.identifier}`,
        } as Record<BackendKind, string>,
      });
    }
    proxy.resetLog();
    const startedDelete = performance.now();
    await worker.start();
    let deleted = 0;
    for (const p of people) {
      const data = await gql(DELETE_USER, { input: { id: p.id, action: 'DELETE' } });
      if (data.deleteUser.__typename === 'DeleteUserSuccess') deleted++;
      else log(`writes: deleteUser answered ${JSON.stringify(data.deleteUser).slice(0, 200)}`);
    }
    const partnerChanges = (status?: 'FAILED') =>
      prisma.pendingChange.count({ where: { partnerId: partner.account.id, ...(status ? { status } : {}) } });
    const deadline = Date.now() + 300_000 + size.deletes * 3_000;
    let pendingLeft = await partnerChanges();
    let failed = 0;
    while (pendingLeft > 0 && Date.now() < deadline) {
      failed = await partnerChanges('FAILED');
      if (failed > 0 && failed === pendingLeft) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
      pendingLeft = await partnerChanges();
    }
    const deleteSeconds = (performance.now() - startedDelete) / 1000;
    const ok = proxy.log.filter((r) => r.method === 'DELETE' && r.status !== null && r.status < 300);
    const upstreamDeletes = {} as Record<string, number>;
    const exactlyOnce = {} as Record<string, number>;
    const seen = new Map<string, number>();
    for (const r of ok) seen.set(r.path, (seen.get(r.path) ?? 0) + 1);
    for (const kind of KINDS) {
      upstreamDeletes[kind] = ok.filter((r) => r.path.startsWith(`${STANDIN_PREFIXES[kind]}/`)).length;
      exactlyOnce[kind] = people.filter((p) => seen.get(p.paths[kind]) === 1).length;
    }
    const deletes: WritesReport['deletes'] = {
      deleted,
      seconds: round(deleteSeconds, 2),
      deletesPerSecond: round(deleted / deleteSeconds),
      upstreamRequests: proxy.log.length,
      requestsPerDelete: round(proxy.log.length / Math.max(1, size.deletes), 2),
      requestsByCall: byCall(proxy.log),
      maxInFlight: proxy.maxInFlight,
      upstreamDeletes,
      exactlyOnce,
      pendingLeft,
      failed,
    };
    log(
      `writes: ${deleted} deletes of users in 3 backends, outbox drained in ${deletes.seconds}s ` +
        `(${deletes.deletesPerSecond} deletes/s end to end), ${deletes.upstreamRequests} upstream requests ` +
        `(${deletes.requestsPerDelete} per delete), at most ${deletes.maxInFlight} in flight; ` +
        `exactly once per backend ${KINDS.map((k) => `${k.toLowerCase()} ${exactlyOnce[k]}`).join(', ')}; ` +
        `${pendingLeft} pending left (${failed} FAILED)`,
    );
    const report = { size, concurrency: config.backends.concurrency, createUsers, deletes };
    return { ...report, targets: evaluateWrites(report) };
  } finally {
    await worker.stop();
    await proxy.stop();
    await standIn.stop();
  }
}

export function evaluateWrites(r: Omit<WritesReport, 'targets'>): TargetResult[] {
  const c = r.createUsers;
  const d = r.deletes;
  const items = r.size.calls * r.size.items;
  return [
    {
      target: `createUsers of ${r.size.items} (${r.size.calls} calls): every item created upstream`,
      bar: `${items} of ${items}`,
      measured: `${c.created}${c.itemErrors.length ? `; first errors: ${c.itemErrors.join('; ')}` : ''}`,
      pass: c.created === items,
    },
    {
      target: 'createUsers: upstream requests per item',
      bar: `one create per item, and a GET before each embed PUT: ${c.expectedRequests}`,
      measured:
        `${c.upstreamRequests} (${calls(c.requestsByCall)}): ` +
        `${c.requestsPerItem} per item, ${c.itemsPerSecond} items/s`,
      pass: c.upstreamRequests === c.expectedRequests,
    },
    {
      target: 'createUsers: upstream requests in flight',
      bar: `≤ BACKEND_CONCURRENCY (${r.concurrency})`,
      measured: String(c.maxInFlight),
      pass: c.maxInFlight <= r.concurrency,
    },
    {
      target: `${r.size.deletes} deletes across 3 backends: outbox drained`,
      bar: '0 pending changes',
      measured:
        `${d.pendingLeft} left (${d.failed} FAILED), ${d.deleted} deleteUser ` +
        `answered success, ${d.deletesPerSecond} deletes/s end to end`,
      pass: d.deleted === r.size.deletes && d.pendingLeft === 0,
    },
    {
      target: 'Deletes: each backend shows each delete once',
      bar: `${r.size.deletes} per backend, exactly once`,
      measured: Object.entries(d.exactlyOnce)
        .map(([k, n]) => `${k.toLowerCase()} ${n} (${d.upstreamDeletes[k]} DELETEs)`)
        .join(', '),
      pass: Object.keys(d.exactlyOnce).every(
        (k) => d.exactlyOnce[k] === r.size.deletes && d.upstreamDeletes[k] === r.size.deletes,
      ),
    },
    {
      target: 'Deletes: upstream requests in flight',
      bar: `≤ BACKEND_CONCURRENCY (${r.concurrency})`,
      measured: `${d.maxInFlight}; ${d.requestsPerDelete} upstream requests per delete (${calls(d.requestsByCall)})`,
      pass: d.maxInFlight <= r.concurrency,
    },
  ];
}

export function writesSection(r: WritesReport, machineNote: string): string {
  const c = r.createUsers;
  const d = r.deletes;
  const lines = [
    '## Writes (SPEC §10.4)',
    '',
    `${machineNote} Learning, catalog and embed connected to a stand-in (src/standin) ` +
      'behind the fault proxy (test/helpers/fault-proxy.ts), which counts every upstream ' +
      'request and the most in flight; the gateway in-process on embedded PGlite, ' +
      `the outbox worker on its in-process queue (concurrency ${r.concurrency}). ` +
      'Written by `npm run bench -- --only writes` (bench/writes.ts), and by a full `npm run bench`.',
    '',
    '| write scenario | items | wall time (s) | rate | upstream requests | per item | max in flight |',
    '|---|--:|--:|--:|--:|--:|--:|',
    `| createUsers, ${r.size.calls} calls of ${r.size.items} (round robin learning / catalog / embed) ` +
      `| ${c.created} | ${c.seconds} | ${c.itemsPerSecond} items/s ` +
      `| ${c.upstreamRequests} | ${c.requestsPerItem} | ${c.maxInFlight} |`,
    `| deleteUser of users in 3 backends, until no pending change | ${d.deleted} | ${d.seconds} ` +
      `| ${d.deletesPerSecond} deletes/s | ${d.upstreamRequests} | ${d.requestsPerDelete} | ${d.maxInFlight} |`,
    '',
    '| target | bar | measured | pass |',
    '|---|---|---|---|',
    ...r.targets.map(
      (t) => `| ${t.target} | ${t.bar} | ${t.measured} | ${t.pass === null ? '–' : t.pass ? 'yes' : 'no'} |`,
    ),
  ];
  return lines.join('\n');
}

/**
 * `npm run bench -- --only writes [--calls N] [--items N] [--deletes N] [--note TEXT]` (or
 * `npx tsx bench/writes.ts`), and the last step of a full `npm run bench`: on embedded PGlite in
 * a temporary directory. Writes bench/results-writes.json and, at the full sizes, BENCHMARKS.md's
 * "Writes (SPEC §10.4)" section (only that section, the file's last).
 */
export async function runWritesOnly(argv: string[], log: (line: string) => void = console.log): Promise<WritesReport> {
  const value = (name: string, fallback: number) => {
    const i = argv.indexOf(name);
    const n = Number(i >= 0 ? argv[i + 1] : fallback);
    if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name}: a positive integer`);
    return n;
  };
  const size: WritesSize = {
    calls: value('--calls', WRITES_FULL.calls),
    items: value('--items', WRITES_FULL.items),
    deletes: value('--deletes', WRITES_FULL.deletes),
  };
  const started = new Date();
  const load = os.loadavg().map((n) => Math.round(n * 100) / 100);
  const cpus = os.cpus();
  const header =
    `Run of ${started.toISOString()} (\`npm run bench -- --only writes\`, embedded PGlite): ` +
    `node ${process.version}, ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores; ` +
    `load average at start ${load.join(' / ')}`;
  log(header);
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'account-gateway-bench-writes-'));
  let store: Store | undefined;
  try {
    store = await openStore({ dataDir: path.join(dir, 'data') });
    const report = await writesScenarios(store, size, log);
    const loadAfter = os.loadavg().map((n) => Math.round(n * 100) / 100);
    const argNote = argv.indexOf('--note');
    const note = argNote >= 0 ? argv[argNote + 1] : undefined;
    const machine = [
      `${header}, at the end ${loadAfter.join(' / ')} (${cpus.length} cores: ` +
        `above ${cpus.length} the machine was shared, and every time is longer than an idle machine's).`,
      ...(note ? [note] : []),
    ].join(' ');
    const section = writesSection(report, machine);
    log(`\n${section}\n`);
    const here = path.dirname(fileURLToPath(import.meta.url));
    const results = { date: started.toISOString(), loadAverage: { start: load, end: loadAfter }, writes: report };
    await fs.writeFile(path.join(here, 'results-writes.json'), `${JSON.stringify(results, null, 2)}\n`);
    log('wrote bench/results-writes.json');
    const full = (Object.keys(WRITES_FULL) as (keyof WritesSize)[]).every((k) => size[k] >= WRITES_FULL[k]);
    if (full) {
      const file = path.join(here, '..', 'BENCHMARKS.md');
      const doc = await fs.readFile(file, 'utf8');
      const heading = '## Writes (SPEC §10.4)';
      const begin = doc.indexOf(heading);
      const after = begin >= 0 ? doc.indexOf('\n## ', begin + heading.length) : -1;
      const rest = after >= 0 ? doc.slice(after + 1) : '';
      const head = begin >= 0 ? doc.slice(0, begin) : `${doc.trimEnd()}\n\n`;
      await fs.writeFile(file, `${head}${section}\n${rest ? `\n${rest}` : ''}`);
      log("wrote BENCHMARKS.md's Writes section");
    }
    formatWritten(['BENCHMARKS.md', 'bench/results-writes.json'], log);
    return report;
  } finally {
    await store?.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

runWhenMain(import.meta.url, runWritesOnly);
