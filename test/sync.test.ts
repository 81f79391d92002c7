// Sync runs (SPEC §10.3, §10.7): the runner's states, counts, checkpoints and resume, its
// failures, the queue's one-run-per-backend rule (also with two replicas on one PostgreSQL),
// syncBackend and Backend.syncRuns, and another partner's runs out of reach. The runner is
// driven here through in-test stand-ins of the connector and the identities service (the
// contract's types), so each of its rules is observed exactly.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, BackendKind } from '@prisma/client';
import { ulid } from 'ulid';
import { useHarness, type Partner } from './helpers/app.js';
import { createTestDatabase, storeKind, postgresAvailable } from './helpers/store.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { openStore, type Store } from '../src/store/database.js';
import type {
  BackendRef,
  Checkpoint,
  Connector,
  ConnectorHealth,
  IdentitySink,
  Page,
  ReadOptions,
  SourceRecord,
  StreamName,
} from '../src/modules/backends/contract.js';
import { executeRun, requestRun, type RunnerDeps } from '../src/modules/sync/runner.js';
import { createSyncService, queueDue, type SyncService } from '../src/modules/sync/service.js';

const h = useHarness();
const logger = createLogger((process.env.TEST_LOG_LEVEL ?? 'silent') as 'silent');

// ---------------------------------------------------------------------------- stand-ins

class Refused extends Error {
  override name = 'BackendRefusedError';
  constructor(readonly status: number) {
    super(`the backend answered ${status}`);
  }
}
class Unavailable extends Error {
  override name = 'BackendUnavailableError';
}

interface Upstream {
  /** Records per stream, in the order the backend lists them. */
  records: Map<StreamName, SourceRecord[]>;
  /** Native ids answered by readOne (learning); absent ids are GONE. */
  byId: Map<string, SourceRecord>;
  pageSize: number;
  /** Called before each page is answered (fail, wait, count). */
  beforePage?: (stream: StreamName, index: number) => Promise<void> | void;
  health: ConnectorHealth;
  /** Every readPages call: its stream, start and options. */
  reads: { stream: StreamName; from: Checkpoint | null; options: ReadOptions }[];
  inFlight: number;
  maxInFlight: number;
}

const record = (stream: StreamName, nativeId: string, data: Record<string, unknown> = {}): SourceRecord => ({
  stream,
  entity: stream === 'messaging.accounts' ? 'ACCOUNT' : stream === 'embed.clients' ? 'CLIENT' : 'USER',
  nativeId,
  key: `key-${nativeId}`,
  email: `${nativeId}@example.com`,
  sourceUpdatedAt: null,
  data: { id: nativeId, ...data },
});

function upstream(streams: Partial<Record<StreamName, number>>, pageSize = 10): Upstream {
  const records = new Map<StreamName, SourceRecord[]>();
  for (const [stream, n] of Object.entries(streams) as [StreamName, number][])
    records.set(
      stream,
      Array.from({ length: n }, (_, i) => record(stream, `${stream}-${i}`)),
    );
  return { records, byId: new Map(), pageSize, health: 'HEALTHY', reads: [], inFlight: 0, maxInFlight: 0 };
}

/** A connector over `up`: offset pages, checkpoint { offset }, one request per page. */
function connector(kind: BackendKind, up: Upstream): Connector {
  return {
    kind,
    streams: kind === 'LEARNING' ? [] : [...up.records.keys()],
    async *readPages(stream, from, options): AsyncIterable<Page> {
      up.reads.push({ stream, from, options });
      let offset = typeof from?.offset === 'number' ? from.offset : 0;
      for (let index = 0; ; index++) {
        up.inFlight++;
        up.maxInFlight = Math.max(up.maxInFlight, up.inFlight);
        try {
          await up.beforePage?.(stream, index);
          // A record `hidden` is one the listing misses (it moved while the pages were read).
          const all = (up.records.get(stream) ?? []).filter((r) => !r.data.hidden);
          const slice = all.slice(offset, offset + up.pageSize);
          const good = slice.filter((r) => !r.data.broken);
          const errors = slice
            .filter((r) => r.data.broken)
            .map((r) => ({ nativeId: r.nativeId, reason: 'no email_address' }));
          offset += slice.length;
          const next = offset < all.length ? { offset } : null;
          yield { records: good, errors, next, requests: 1 };
          if (!next) return;
        } finally {
          up.inFlight--;
        }
      }
    },
    async readOne(_stream, nativeId) {
      return up.byId.get(nativeId) ?? 'GONE';
    },
    health: () => up.health,
  };
}

interface Identity {
  nativeId: string;
  stream: StreamName;
  data: string;
  status: 'PENDING' | 'LINKED' | 'GONE';
  seenBy: string;
}

/** An identities service in memory: one identity per (backend, nativeId), as the contract says. */
function sink() {
  const identities = new Map<string, Identity>(); // `${backendId}:${nativeId}`
  let upserts = 0;
  const impl: IdentitySink & {
    identities: Map<string, Identity>;
    upserts: () => number;
    refuse?: (r: SourceRecord) => boolean;
  } = {
    identities,
    upserts: () => upserts,
    async upsertPage(backend, records, runId) {
      upserts++;
      if (records.some((r) => impl.refuse?.(r)))
        throw new Error('ERROR: null value in column "email" violates not-null constraint');
      let created = 0;
      let updated = 0;
      for (const r of records) {
        const id = `${backend.id}:${r.nativeId}`;
        const data = JSON.stringify(r.data);
        const known = identities.get(id);
        if (!known) {
          created++;
          identities.set(id, { nativeId: r.nativeId, stream: r.stream, data, status: 'PENDING', seenBy: runId });
        } else {
          if (known.data !== data || known.status === 'GONE') updated++;
          Object.assign(known, { data, seenBy: runId, status: known.status === 'GONE' ? 'LINKED' : known.status });
        }
      }
      return { created, updated };
    },
    async markUnseenGone(backend, stream, runId) {
      let n = 0;
      for (const [id, identity] of identities) {
        if (
          id.startsWith(`${backend.id}:`) &&
          identity.stream === stream &&
          identity.seenBy !== runId &&
          identity.status !== 'GONE'
        ) {
          identity.status = 'GONE';
          n++;
        }
      }
      return n;
    },
    async unseenNativeIds(backend, stream, runId, limit) {
      return [...identities.entries()]
        .filter(
          ([id, i]) =>
            id.startsWith(`${backend.id}:`) && i.stream === stream && i.seenBy !== runId && i.status !== 'GONE',
        )
        .map(([, i]) => i.nativeId)
        .sort()
        .slice(0, limit);
    },
    async markGone(backend, _stream, nativeId) {
      const identity = identities.get(`${backend.id}:${nativeId}`);
      if (!identity || identity.status === 'GONE') return false;
      identity.status = 'GONE';
      return true;
    },
    async *knownNativeIds(backend, stream) {
      const ids = [...identities.entries()]
        .filter(([id, i]) => id.startsWith(`${backend.id}:`) && i.stream === stream && i.status !== 'GONE')
        .map(([, i]) => i.nativeId);
      for (let i = 0; i < ids.length; i += 5) yield ids.slice(i, i + 5);
    },
    async linkPending(backend: BackendRef) {
      let linked = 0;
      for (const [id, identity] of identities) {
        if (id.startsWith(`${backend.id}:`) && identity.status === 'PENDING') {
          identity.status = 'LINKED';
          linked++;
        }
      }
      return { linked, newUsers: 0, conflicts: 0 };
    },
  };
  return impl;
}

const present = (s: ReturnType<typeof sink>, backendId: string) =>
  [...s.identities.entries()]
    .filter(([id, i]) => id.startsWith(`${backendId}:`) && i.status !== 'GONE')
    .map(([, i]) => i.nativeId)
    .sort();

// ---------------------------------------------------------------------------- set-up

let A: Partner;
let B: Partner;
let kinds = 0;

beforeAll(async () => {
  if (!h.ready) return;
  A = await h.newPartner('Sync A');
  B = await h.newPartner('Sync B');
});

/** A backend row of a partner of its own (one backend per kind per partner). */
async function backendOf(_partner: Partner, kind: BackendKind = 'CATALOG'): Promise<Backend> {
  const owner = await h.newPartner(`Sync owner ${++kinds}`);
  return h.store.prisma.backend.create({
    data: {
      partnerId: owner.accountId,
      kind,
      baseUrl: 'https://backend.example.com',
      credential: 'v1:sealed:elsewhere',
    },
  });
}

function deps(up: Upstream, s: IdentitySink, kind: BackendKind = 'CATALOG', workerId = 'test-worker'): RunnerDeps {
  return {
    prisma: h.store.prisma,
    logger,
    sink: s,
    connectorFor: () => connector(kind, up),
    workerId,
    staleSeconds: 30,
  };
}

async function runOnce(d: RunnerDeps, backend: Backend, full = false) {
  const { run } = await requestRun(h.store.prisma, backend, full);
  const done = await executeRun(d, run.id);
  if (!done) throw new Error('the run was not claimed');
  return done;
}

// ---------------------------------------------------------------------------- the runner

describe('a sync run', () => {
  it('reads every stream page by page: SUCCEEDED, exact counts, the backend synced and healthy', async () => {
    const backend = await backendOf(A, 'EMBED');
    const up = upstream({ 'embed.clients': 3, 'embed.users': 25 }, 10);
    up.records.get('embed.users')![7]!.data.broken = true;
    const s = sink();
    const run = await runOnce(deps(up, s, 'EMBED'), backend);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.full).toBe(true); // never synced before: the first run is the full import
    expect(run.startedAt).toBeInstanceOf(Date);
    expect(run.finishedAt!.getTime()).toBeGreaterThanOrEqual(run.startedAt!.getTime());
    // 1 page of clients, 3 pages of users.
    expect({
      requests: run.requests,
      seen: run.seen,
      created: run.created,
      updated: run.updated,
      linked: run.linked,
      gone: run.gone,
      conflicts: run.conflicts,
    }).toEqual({
      requests: 4,
      seen: 27,
      created: 27,
      updated: 0,
      linked: 27,
      gone: 0,
      conflicts: 0,
    });
    expect(run.errors).toEqual([{ nativeId: 'embed.users-7', reason: 'no email_address' }]);
    expect(run.checkpoint).toBeNull();
    const after = await h.store.prisma.backend.findUniqueOrThrow({ where: { id: backend.id } });
    expect(after.lastSyncAt?.getTime()).toBe(run.finishedAt!.getTime());
    expect(after.status).toBe('HEALTHY');
    expect(after.lastError).toBeNull();
  });

  it(`an incremental run asks for changes since the last successful run began; \
a full one marks what is gone`, async () => {
    const backend = await backendOf(A);
    const up = upstream({ 'catalog.users': 12 }, 5);
    const s = sink();
    const first = await runOnce(deps(up, s), backend);
    expect(up.reads.at(-1)!.options).toMatchObject({ full: true, since: null });

    // The upstream changes one record and drops two.
    const users = up.records.get('catalog.users')!;
    users[0] = record('catalog.users', 'catalog.users-0', { name: 'changed' });
    users.splice(10, 2);
    const incremental = await runOnce(deps(up, s), backend);
    expect(up.reads.at(-1)!.options.full).toBe(false);
    expect(up.reads.at(-1)!.options.since?.getTime()).toBe(first.startedAt!.getTime());
    expect(incremental).toMatchObject({ status: 'SUCCEEDED', full: false, seen: 10, created: 0, updated: 1, gone: 0 });

    const full = await runOnce(deps(up, s), backend, true);
    expect(full).toMatchObject({ status: 'SUCCEEDED', full: true, seen: 10, created: 0, updated: 0, gone: 2 });
    expect(present(s, backend.id)).toEqual(users.map((u) => u.nativeId).sort());
  });

  it(`a full pass that missed a record (the list shifted) asks for it by id: present, it stays; 404, \
it is GONE`, async () => {
    const backend = await backendOf(A);
    const up = upstream({ 'catalog.users': 10 }, 4);
    const s = sink();
    await runOnce(deps(up, s), backend, true);
    const users = up.records.get('catalog.users')!;
    users[3]!.data.hidden = true; // still there, missed by the listing
    up.byId.set(users[3]!.nativeId, { ...users[3]!, data: { id: users[3]!.nativeId } });
    users.splice(7, 1); // really gone: 404 by id
    const full = await runOnce(deps(up, s), backend, true);
    // 2 pages of the 8 listed, 2 asked for by id
    expect(full).toMatchObject({ status: 'SUCCEEDED', gone: 1, seen: 9, requests: 2 + 2 });
    expect(present(s, backend.id)).toContain('catalog.users-3');
    expect(present(s, backend.id)).not.toContain('catalog.users-7');
  });

  it(`a page the identities service refuses is stored record by record: the bad one is skipped and counted, \
never fatal`, async () => {
    const backend = await backendOf(A);
    const up = upstream({ 'catalog.users': 8 }, 4);
    const s = sink();
    s.refuse = (r) => r.nativeId === 'catalog.users-5';
    const run = await runOnce(deps(up, s), backend);
    expect(run).toMatchObject({ status: 'SUCCEEDED', seen: 8, created: 7 });
    // The store's own message (SQL) is not shown to admins.
    expect(run.errors).toEqual([
      { nativeId: 'catalog.users-5', reason: 'not stored: the gateway could not store this record' },
    ]);
  });

  it('keeps the first 100 record errors', async () => {
    const backend = await backendOf(A);
    const up = upstream({ 'catalog.users': 130 }, 50);
    for (const r of up.records.get('catalog.users')!.slice(0, 120)) r.data.broken = true;
    const run = await runOnce(deps(up, sink()), backend);
    expect(run.status).toBe('SUCCEEDED');
    expect((run.errors as unknown[]).length).toBe(100);
    expect(run.created).toBe(10);
  });

  it('learning cannot list: known identities are re-read by id, and a 404 makes one GONE', async () => {
    const backend = await backendOf(A, 'LEARNING');
    const up = upstream({}, 10);
    const s = sink();
    for (let i = 0; i < 7; i++) {
      const r = record('learning.accounts', `uuid-${i}`);
      s.identities.set(`${backend.id}:${r.nativeId}`, {
        nativeId: r.nativeId,
        stream: 'learning.accounts',
        data: JSON.stringify(r.data),
        status: 'LINKED',
        seenBy: 'earlier',
      });
      if (i !== 3) up.byId.set(r.nativeId, i === 5 ? record('learning.accounts', r.nativeId, { disabled: true }) : r);
    }
    const run = await runOnce(deps(up, s, 'LEARNING'), backend);
    expect(run).toMatchObject({ status: 'SUCCEEDED', requests: 7, seen: 6, created: 0, updated: 1, gone: 1 });
    expect(present(s, backend.id)).not.toContain('uuid-3');
  });

  it('a refused credential: FAILED, the backend FAILING, lastError says so and carries no credential', async () => {
    const backend = await backendOf(A);
    const up = upstream({ 'catalog.users': 30 }, 10);
    up.beforePage = (_stream, index) => {
      if (index === 1) throw new Refused(401);
    };
    const run = await runOnce(deps(up, sink()), backend);
    expect(run.status).toBe('FAILED');
    expect(run.finishedAt).toBeInstanceOf(Date);
    expect(run.seen).toBe(10); // the first page was stored before the refusal
    const after = await h.store.prisma.backend.findUniqueOrThrow({ where: { id: backend.id } });
    expect(after.status).toBe('FAILING');
    expect(after.lastError).toBe('the backend refused the stored credential (HTTP 401): replace it with updateBackend');
    expect(after.lastSyncAt).toBeNull();
  });

  it('a backend that cannot be reached: FAILED, DEGRADED (or what its circuit says), the reason kept', async () => {
    const backend = await backendOf(A);
    const up = upstream({ 'catalog.users': 5 }, 10);
    up.beforePage = () => {
      throw new Unavailable('connect ECONNREFUSED 127.0.0.1:9');
    };
    const run = await runOnce(deps(up, sink()), backend);
    expect(run.status).toBe('FAILED');
    let after = await h.store.prisma.backend.findUniqueOrThrow({ where: { id: backend.id } });
    expect(after).toMatchObject({
      status: 'DEGRADED',
      lastError: 'the backend could not be reached: connect ECONNREFUSED 127.0.0.1:9',
    });

    up.health = 'FAILING';
    await runOnce(deps(up, sink()), backend);
    after = await h.store.prisma.backend.findUniqueOrThrow({ where: { id: backend.id } });
    expect(after.status).toBe('FAILING');

    // It recovers: the next good run clears the error.
    up.beforePage = undefined;
    up.health = 'HEALTHY';
    expect((await runOnce(deps(up, sink()), backend)).status).toBe('SUCCEEDED');
    after = await h.store.prisma.backend.findUniqueOrThrow({ where: { id: backend.id } });
    expect(after).toMatchObject({ status: 'HEALTHY', lastError: null });
  });

  it('an error of the gateway itself fails the run without saying what it was to admins', async () => {
    const backend = await backendOf(A);
    const up = upstream({ 'catalog.users': 5 }, 10);
    up.beforePage = () => {
      throw new TypeError("Cannot read properties of undefined (reading 'x')");
    };
    await runOnce(deps(up, sink()), backend);
    const after = await h.store.prisma.backend.findUniqueOrThrow({ where: { id: backend.id } });
    expect(after.lastError).toBe('the sync stopped on an internal error of the gateway (see its log)');
  });

  it('a paused backend is not read: its run is CANCELLED', async () => {
    const backend = await backendOf(A);
    await h.store.prisma.backend.update({ where: { id: backend.id }, data: { status: 'PAUSED' } });
    const up = upstream({ 'catalog.users': 5 });
    const run = await runOnce(deps(up, sink()), backend);
    expect(run.status).toBe('CANCELLED');
    expect(up.reads).toEqual([]);
  });
});

describe('checkpoints and resume', () => {
  it(`a run stopped mid-way goes back to QUEUED at its checkpoint and resumes there: the same end state, \
no page stored twice`, async () => {
    const backend = await backendOf(A, 'EMBED');
    const up = upstream({ 'embed.clients': 4, 'embed.users': 50 }, 10);
    const s = sink();
    const stop = new AbortController();
    // The stop comes while the users' third page is asked for: the runner reads a page ahead
    // (readAhead), so that is while it stores the second one, after which it stops.
    up.beforePage = (stream, index) => {
      if (stream === 'embed.users' && index === 2) stop.abort(new Error('shutdown'));
    };
    const { run } = await requestRun(h.store.prisma, backend, true);
    const paused = await executeRun(deps(up, s, 'EMBED'), run.id, { signal: stop.signal });
    // The page read ahead was never stored: neither seen nor counted among the requests.
    expect(paused).toMatchObject({ status: 'QUEUED', worker: null, seen: 24, requests: 3 });
    expect(paused!.checkpoint).toEqual({ stream: 'embed.users', position: { offset: 20 }, done: ['embed.clients'] });
    const upsertsBefore = s.upserts();

    up.beforePage = undefined;
    const resumed = await executeRun(deps(up, s, 'EMBED', 'another-worker'), run.id);
    expect(resumed).toMatchObject({ status: 'SUCCEEDED', seen: 54, created: 54, requests: 6 });
    expect(resumed!.startedAt!.getTime()).toBe(paused!.startedAt!.getTime());
    // Resumed from the users' 3rd page: clients not read again, users from offset 20.
    expect(up.reads.slice(-1)).toEqual([expect.objectContaining({ stream: 'embed.users', from: { offset: 20 } })]);
    expect(s.upserts() - upsertsBefore).toBe(3);
    expect(present(s, backend.id)).toEqual(
      [...up.records.values()]
        .flat()
        .map((r) => r.nativeId)
        .sort(),
    );
  });

  it('a RUNNING run whose worker died (silent heartbeat) is taken over; a live one is not', async () => {
    const backend = await backendOf(A);
    const up = upstream({ 'catalog.users': 20 }, 10);
    const s = sink();
    const { run } = await requestRun(h.store.prisma, backend, true);
    await h.store.prisma.syncRun.update({
      where: { id: run.id },
      data: {
        status: 'RUNNING',
        worker: 'dead-worker',
        startedAt: new Date(Date.now() - 120_000),
        heartbeatAt: new Date(),
        checkpoint: { stream: 'catalog.users', position: { offset: 10 }, done: [] },
        seen: 10,
      },
    });
    // Alive (a fresh heartbeat): nobody else takes it.
    expect(await executeRun(deps(up, s), run.id)).toBeNull();
    await h.store.prisma.syncRun.update({
      where: { id: run.id },
      data: { heartbeatAt: new Date(Date.now() - 60_000) },
    });
    const taken = await executeRun(deps(up, s), run.id);
    expect(taken).toMatchObject({ status: 'SUCCEEDED', seen: 20 });
    expect(up.reads).toEqual([expect.objectContaining({ from: { offset: 10 } })]);
  });
});

describe('one run per backend', () => {
  it(`asking again answers the queued run; a full request makes it full; \
after it ends a new one is queued`, async () => {
    const backend = await backendOf(A);
    const first = await requestRun(h.store.prisma, backend, false);
    const again = await requestRun(h.store.prisma, backend, true);
    expect(first.created).toBe(true);
    expect(again).toMatchObject({ created: false, run: { id: first.run.id, full: true } });
    await Promise.all(Array.from({ length: 8 }, () => requestRun(h.store.prisma, backend, false)));
    expect(await h.store.prisma.syncRun.count({ where: { backendId: backend.id } })).toBe(1);
    await executeRun(deps(upstream({ 'catalog.users': 1 }), sink()), first.run.id);
    const next = await requestRun(h.store.prisma, backend, false);
    expect(next.created).toBe(true);
    expect(next.run.id).not.toBe(first.run.id);
  });

  it('two workers claiming one run: one runs it, the other does nothing', async () => {
    const backend = await backendOf(A);
    const up = upstream({ 'catalog.users': 30 }, 10);
    const { run } = await requestRun(h.store.prisma, backend, true);
    const s = sink();
    const results = await Promise.all([
      executeRun(deps(up, s, 'CATALOG', 'w1'), run.id),
      executeRun(deps(up, s, 'CATALOG', 'w2'), run.id),
    ]);
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    expect(up.reads).toHaveLength(1);
  });

  it(`the schedule queues a never-synced backend full, a due one incremental, \
and nothing for one synced lately or paused`, async () => {
    const prisma = h.store.prisma;
    const fresh = await backendOf(A);
    const due = await backendOf(A);
    const recent = await backendOf(A);
    const paused = await backendOf(A);
    await prisma.backend.update({ where: { id: paused.id }, data: { status: 'PAUSED' } });
    await prisma.backend.update({ where: { id: due.id }, data: { syncIntervalSeconds: 60 } });
    await prisma.syncRun.create({
      data: {
        partnerId: due.partnerId,
        backendId: due.id,
        status: 'SUCCEEDED',
        createdAt: new Date(Date.now() - 61_000),
      },
    });
    await prisma.syncRun.create({
      data: {
        partnerId: recent.partnerId,
        backendId: recent.id,
        status: 'SUCCEEDED',
        createdAt: new Date(Date.now() - 10_000),
      },
    });
    await queueDue(prisma);
    const queued = async (b: Backend) => prisma.syncRun.findMany({ where: { backendId: b.id, status: 'QUEUED' } });
    expect(await queued(fresh)).toEqual([expect.objectContaining({ full: true })]);
    expect(await queued(due)).toEqual([expect.objectContaining({ full: false })]);
    expect(await queued(recent)).toEqual([]);
    expect(await queued(paused)).toEqual([]);
    // A second tick (another replica's) queues nothing more.
    await queueDue(prisma);
    expect(await queued(fresh)).toHaveLength(1);
    await prisma.syncRun.deleteMany({ where: { backendId: { in: [fresh.id, due.id] } } });
  });

  it("the service (this store's queue) runs queued runs and stops cleanly", async () => {
    const backend = await backendOf(A);
    const up = upstream({ 'catalog.users': 20 }, 5);
    const s = sink();
    const config = loadConfig({ SEED_DEMO: 'false', SYNC_STALE_SECONDS: '30' });
    const service = createSyncService({
      prisma: h.store.prisma,
      config,
      logger,
      sink: s,
      createConnector: (b) => connector(b.kind, up),
      tickMs: 200,
    });
    expect(service.queue).toBe('in-process');
    await service.start();
    try {
      await waitFor(
        async () =>
          (await h.store.prisma.syncRun.findFirst({ where: { backendId: backend.id, status: 'SUCCEEDED' } })) !== null,
      );
    } finally {
      await service.stop();
    }
    expect(present(s, backend.id)).toHaveLength(20);
  }, 60_000);
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 30_000) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// ---------------------------------------------------------------------------- the graph

const SYNC = `mutation ($input: SyncBackendInput!) { syncBackend(input: $input) {
  __typename ... on SyncBackendSuccess { run { id status full backend { id } } } ... on Error { message } } }`;
const RUNS =
  'query ($id: ID!) { node(id: $id) { ... on Backend { syncRuns(first: 10) { totalCount edges ' +
  '{ node { id status full seen created errors { nativeId reason } } } } } } }';
const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');

describe('syncBackend and Backend.syncRuns', () => {
  let backend: Backend;
  let owner: Partner;
  beforeAll(async () => {
    if (!h.ready) return;
    owner = await h.newPartner('Sync graph');
    backend = await h.store.prisma.backend.create({
      data: { partnerId: owner.accountId, kind: 'MESSAGING', baseUrl: 'https://m.example.com', credential: 'v1:x' },
    });
  });

  it('queues a run, answers the same one when asked again, and lists runs newest first', async () => {
    const first = await h.gql(SYNC, { input: { id: gid('Backend', backend.id) } }, { token: owner.key });
    expect(first.errors).toBeUndefined();
    const run = first.data.syncBackend.run;
    expect(run).toMatchObject({ status: 'QUEUED', full: false, backend: { id: gid('Backend', backend.id) } });
    const again = await h.gql(SYNC, { input: { id: gid('Backend', backend.id), full: true } }, { token: owner.key });
    expect(again.data.syncBackend.run).toMatchObject({ id: run.id, full: true });

    const runId = Buffer.from(run.id, 'base64').toString().split(':')[1]!;
    await executeRun(deps(upstream({ 'messaging.accounts': 3 }), sink(), 'MESSAGING'), runId);
    const second = await h.gql(SYNC, { input: { id: gid('Backend', backend.id) } }, { token: owner.key });
    expect(second.data.syncBackend.run.id).not.toBe(run.id);

    const runs = await h.gql(RUNS, { id: gid('Backend', backend.id) }, { token: owner.key });
    expect(runs.errors).toBeUndefined();
    expect(runs.data.node.syncRuns.totalCount).toBe(2);
    expect(runs.data.node.syncRuns.edges.map((e: any) => e.node.id)).toEqual([second.data.syncBackend.run.id, run.id]);
    expect(runs.data.node.syncRuns.edges[1].node).toMatchObject({
      status: 'SUCCEEDED',
      seen: 3,
      created: 3,
      errors: [],
    });
  });

  it('another partner can neither sync nor see the runs; a bad id is NOT_FOUND', async () => {
    const before = await h.store.prisma.syncRun.findMany({ where: { backendId: backend.id }, orderBy: { id: 'asc' } });
    const probe = await h.gql(SYNC, { input: { id: gid('Backend', backend.id), full: true } }, { token: B.key });
    expect(probe.data.syncBackend).toMatchObject({ __typename: 'NotFoundError' });
    const runs = await h.gql(RUNS, { id: gid('Backend', backend.id) }, { token: B.key });
    expect(runs.data.node).toBeNull();
    for (const run of before)
      expect(
        (await h.gql(`query ($id: ID!) { node(id: $id) { id } }`, { id: gid('SyncRun', run.id) }, { token: B.key }))
          .data.node,
      ).toBeNull();
    expect(await h.store.prisma.syncRun.findMany({ where: { backendId: backend.id }, orderBy: { id: 'asc' } })).toEqual(
      before,
    );
    const bad = await h.gql(SYNC, { input: { id: 'not-an-id' } }, { token: owner.key });
    expect(bad.errors ?? bad.data.syncBackend.__typename).toBeTruthy();
  });
});

// ---------------------------------------------------------------------------- two replicas (PostgreSQL)

describe.runIf(storeKind === 'postgres')('two replicas on one PostgreSQL', () => {
  let database: { url: string; drop(): Promise<void> } | undefined;
  let stores: Store[] = [];
  let services: SyncService[] = [];
  beforeAll(async () => {
    if (!(await postgresAvailable())) return;
    database = await createTestDatabase();
    stores = [
      await openStore({ databaseUrl: database.url, poolSize: 5 }),
      await openStore({ databaseUrl: database.url, poolSize: 5 }),
    ];
  });
  afterAll(async () => {
    for (const s of services) await s.stop().catch(() => {});
    for (const s of stores) await s.close();
    await database?.drop();
  });

  it('share the runs on graphile-worker and never read one backend twice at once', async () => {
    if (!database) return;
    const prisma = stores[0]!.prisma;
    // A partner row of this database (createPartner is the graph's; a bare root account will do).
    const partnerId = ulid();
    await prisma.account.create({ data: { id: partnerId, partnerId, name: 'Replicas', canvasUuid: 'c'.repeat(40) } });
    const backends = await Promise.all(
      (['CATALOG', 'EMBED', 'MESSAGING'] as const).map((kind) =>
        prisma.backend.create({
          data: { partnerId, kind, baseUrl: 'https://r.example.com', credential: 'v1:x', syncIntervalSeconds: 30 },
        }),
      ),
    );
    const ups = new Map(
      backends.map((b) => [
        b.id,
        upstream(
          { [b.kind === 'CATALOG' ? 'catalog.users' : b.kind === 'EMBED' ? 'embed.users' : 'messaging.accounts']: 40 },
          5,
        ),
      ]),
    );
    for (const up of ups.values()) up.beforePage = () => new Promise((resolve) => setTimeout(resolve, 20));
    const s = sink();
    const config = loadConfig({ SEED_DEMO: 'false', SYNC_CONCURRENCY: '3' });
    services = stores.map((store, i) =>
      createSyncService({
        prisma: store.prisma,
        config,
        logger,
        sink: s,
        createConnector: (b) => connector(b.kind, ups.get(b.id)!),
        databaseUrl: database!.url,
        tickMs: 100,
        workerId: `replica-${i}`,
      }),
    );
    expect(services.map((x) => x.queue)).toEqual(['graphile-worker', 'graphile-worker']);
    await Promise.all(services.map((x) => x.start()));
    // Both replicas keep asking for full runs of every backend while they run.
    let asking = true;
    const ask = (async () => {
      while (asking) {
        for (const b of backends) {
          for (const [i, store] of stores.entries()) {
            const { run } = await requestRun(store.prisma, b, true);
            if (run.status === 'QUEUED') await services[i]!.enqueue(run);
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    try {
      await waitFor(async () => (await prisma.syncRun.count({ where: { status: 'SUCCEEDED' } })) >= 9, 50_000);
    } finally {
      asking = false;
      await ask;
      await Promise.all(services.map((x) => x.stop()));
    }
    for (const up of ups.values()) expect(up.maxInFlight).toBe(1);
    // Never two active runs of one backend (the store's rule), and every run ended.
    expect(await prisma.syncRun.count({ where: { status: { in: ['FAILED', 'CANCELLED'] } } })).toBe(0);
    for (const b of backends) expect(present(s, b.id)).toHaveLength(40);
  }, 90_000);
});
