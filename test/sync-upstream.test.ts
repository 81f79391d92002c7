// Sync runs against a stand-in upstream over loopback HTTP (SPEC §10.3, §10.5, §10.7): the real
// connectors, the real identities service and the runner, through the fault proxy. Full then
// incremental runs, exact counts, idempotent re-runs, GONE after a full pass, 20 % 503 and
// 429s with the same end state, a refused credential, and the run's rows out of another
// partner's reach.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, BackendKind } from '@prisma/client';
import { useHarness, type Partner } from './helpers/app.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { createLogger } from '../src/logger.js';
import { STANDIN_PREFIXES, type StandIn } from '../src/standin/index.js';
import { testStandIn } from './helpers/connected.js';
import { requestRun } from '../src/modules/sync/runner.js';
import { gatewaySync, type SyncService } from '../src/modules/sync/service.js';
import { updateUser } from '../src/modules/users/service.js';
import { deleteUser } from '../src/modules/users/removal.js';

const h = useHarness({ SECRETS_KEY: crypto.randomBytes(32).toString('base64') });
const logger = createLogger('silent');

let standIn: StandIn;
let proxy: FaultProxy;
let sync: SyncService;
let partner: Partner;
const backends = {} as Record<BackendKind, Backend>;

const CONNECT =
  'mutation ($input: ConnectBackendInput!) { connectBackend(input: $input) { __typename ' +
  '... on ConnectBackendSuccess { backend { id } } ... on Error { message } } }';

beforeAll(async () => {
  if (!h.ready) return;
  standIn = await testStandIn();
  proxy = await startFaultProxy(standIn.url, { seed: 7 });
  partner = await h.newPartner('Synced partner');
  for (const kind of ['LEARNING', 'CATALOG', 'MESSAGING', 'EMBED'] as const) {
    const r = await h.gql(
      CONNECT,
      { input: { kind, baseUrl: proxy.url + STANDIN_PREFIXES[kind], credential: standIn.credentials[kind] } },
      { token: partner.key },
    );
    expect(r.data.connectBackend.__typename, JSON.stringify(r.data)).toBe('ConnectBackendSuccess');
    backends[kind] = await h.store.prisma.backend.findFirstOrThrow({
      where: { partnerId: partner.accountId, kind, disconnectedAt: null },
    });
  }
  // Fast backoff; the production defaults are slower but the same policies.
  sync = gatewaySync({
    prisma: h.store.prisma,
    config: h.config,
    logger,
    connector: {
      timeoutMs: 3000,
      retries: 10,
      backoff: { initialMs: 5, maxMs: 40 },
      breaker: { consecutiveFailures: 30, halfOpenAfterMs: 500 },
    },
  });
}, 180_000);

afterAll(async () => {
  await proxy?.stop();
  await standIn?.stop();
});

async function run(kind: BackendKind, full: boolean) {
  const { run } = await requestRun(h.store.prisma, backends[kind], full);
  const ended = await sync.runNow(run.id);
  if (!ended) throw new Error('not claimed');
  return ended;
}

const identities = (kind: BackendKind, status: string[] = ['LINKED', 'PENDING']) =>
  h.store.prisma.identity.findMany({
    where: { backendId: backends[kind].id, status: { in: status as never } },
    orderBy: { nativeId: 'asc' },
  });

/** The stand-in's catalog users, as the catalog lists them (ids as strings). */
async function upstreamCatalog(): Promise<string[]> {
  const users = await standIn.store.prisma.user.findMany({
    where: { partnerId: standIn.partnerId, inCatalog: true, status: { not: 'DELETED' as never } },
    select: { catalogId: true },
  });
  return users.map((u) => String(u.catalogId)).sort();
}

describe('sync from a stand-in upstream', () => {
  it('connectBackend queued the first full import of each backend', async () => {
    for (const kind of ['CATALOG', 'MESSAGING', 'EMBED'] as const) {
      expect(await h.store.prisma.syncRun.findMany({ where: { backendId: backends[kind].id } })).toEqual([
        expect.objectContaining({ status: 'QUEUED', full: true }),
      ]);
    }
  });

  it(`a full run reads every record once: identities equal the upstream set, counts exact, \
requests = pages`, async () => {
    proxy.resetLog();
    const catalog = await run('CATALOG', true);
    expect(catalog.status).toBe('SUCCEEDED');
    const expected = await upstreamCatalog();
    expect((await identities('CATALOG')).map((i) => i.nativeId).sort()).toEqual(expected);
    expect(catalog).toMatchObject({ seen: expected.length, created: expected.length, updated: 0, gone: 0 });
    expect(catalog.requests).toBe(proxy.log.length);

    const messaging = await run('MESSAGING', true);
    expect(messaging.status).toBe('SUCCEEDED');
    expect(messaging.seen).toBe(standIn.seed.subAccounts.length + 1); // the root account is listed too
    const embed = await run('EMBED', true);
    expect(embed.status).toBe('SUCCEEDED');
    expect(embed.seen).toBe(standIn.seed.embedClients.length + standIn.seed.embedUsers.length);
    expect((await identities('EMBED')).length).toBe(embed.seen);
    const backend = await h.store.prisma.backend.findUniqueOrThrow({ where: { id: backends.EMBED.id } });
    expect(backend).toMatchObject({ status: 'HEALTHY', lastError: null });
    expect(backend.lastSyncAt).toBeInstanceOf(Date);
  }, 60_000);

  it('the same data again changes nothing: no identity created, updated or gone', async () => {
    const before = await identities('CATALOG');
    const again = await run('CATALOG', true);
    expect(again).toMatchObject({ status: 'SUCCEEDED', created: 0, updated: 0, gone: 0, linked: 0 });
    expect((await identities('CATALOG')).map((i) => [i.id, i.nativeId, i.dataHash])).toEqual(
      before.map((i) => [i.id, i.nativeId, i.dataHash]),
    );
  });

  it(`incremental after an upstream change reads the change; \
a full pass after a delete marks it GONE and keeps its user`, async () => {
    const ctx = await standIn.context();
    const victims = await standIn.store.prisma.user.findMany({
      where: { partnerId: standIn.partnerId, inCatalog: true },
      orderBy: { catalogId: 'asc' },
      take: 2,
    });
    await updateUser(ctx, { id: victims[0]!.id, firstName: 'Renamed' });
    const incremental = await run('CATALOG', false);
    expect(incremental).toMatchObject({ status: 'SUCCEEDED', full: false, created: 0, updated: 1, gone: 0 });
    const changed = await h.store.prisma.identity.findFirstOrThrow({
      where: { backendId: backends.CATALOG.id, nativeId: String(victims[0]!.catalogId) },
    });
    expect((changed.data as Record<string, unknown>).first_name).toBe('Renamed');

    await deleteUser(ctx, victims[1]!.id, 'DELETE');
    const full = await run('CATALOG', true);
    expect(full).toMatchObject({ status: 'SUCCEEDED', gone: 1, created: 0 });
    const gone = await h.store.prisma.identity.findFirstOrThrow({
      where: { backendId: backends.CATALOG.id, nativeId: String(victims[1]!.catalogId) },
    });
    expect(gone.status).toBe('GONE');
    if (gone.userId) expect(await h.store.prisma.user.findUnique({ where: { id: gone.userId } })).not.toBeNull();
    expect((await identities('CATALOG')).map((i) => i.nativeId).sort()).toEqual(await upstreamCatalog());
  });

  it('20 % 503 and some 429s: the run still SUCCEEDS with the same end state, every request counted', async () => {
    const before = (await identities('EMBED')).map((i) => [i.nativeId, i.dataHash]);
    proxy.resetLog();
    proxy.add({ kind: 'status', status: 429, retryAfter: '1', times: 2 });
    proxy.add({ kind: 'status', status: 503, probability: 0.2 });
    try {
      const faulty = await run('EMBED', true);
      expect(faulty).toMatchObject({ status: 'SUCCEEDED', created: 0, updated: 0, gone: 0 });
      expect(faulty.requests).toBe(proxy.log.length);
      expect(proxy.log.filter((e) => e.status === 503 || e.status === 429).length).toBeGreaterThan(0);
    } finally {
      proxy.clear();
    }
    expect((await identities('EMBED')).map((i) => [i.nativeId, i.dataHash])).toEqual(before);
  }, 60_000);

  it('learning re-reads its known accounts by id', async () => {
    const learning = backends.LEARNING;
    // Known through a write or ensureUser (part 2): here, one stand-in account read by id first.
    const account = await standIn.store.prisma.user.findFirstOrThrow({
      where: { partnerId: standIn.partnerId, externalUserId: { not: null } },
    });
    const ref = { id: learning.id, partnerId: learning.partnerId, kind: learning.kind, linkBy: learning.linkBy };
    const connector = sync.deps.connectorFor(learning);
    const record = await connector.readOne('learning.accounts', account.id);
    expect(record).not.toBe('GONE');
    await sync.deps.sink.upsertPage(ref, [record as Exclude<typeof record, 'GONE'>], crypto.randomUUID());
    const reread = await run('LEARNING', false);
    expect(reread).toMatchObject({ status: 'SUCCEEDED', seen: 1, requests: 1 });
  });

  it('a refused credential: FAILED, FAILING, lastError names the refusal and never the credential', async () => {
    const UPDATE = `mutation ($input: UpdateBackendInput!) { updateBackend(input: $input) { __typename } }`;
    const wrong = 'agk_wrong_credential_value_0123456789';
    const id = Buffer.from(`Backend:${backends.MESSAGING.id}`).toString('base64');
    expect(
      (await h.gql(UPDATE, { input: { id, credential: wrong } }, { token: partner.key })).data.updateBackend.__typename,
    ).toBe('UpdateBackendSuccess');
    backends.MESSAGING = await h.store.prisma.backend.findUniqueOrThrow({ where: { id: backends.MESSAGING.id } });
    proxy.resetLog();
    const refused = await run('MESSAGING', true);
    expect(refused.status).toBe('FAILED');
    const after = await h.store.prisma.backend.findUniqueOrThrow({ where: { id: backends.MESSAGING.id } });
    expect(after.status).toBe('FAILING');
    expect(after.lastError).toMatch(/refused the stored credential \(HTTP 401\)/);
    expect(after.lastError).not.toContain(wrong);
    // No retry storm: a refusal is not retried.
    expect(proxy.log.length).toBe(1);
    const r = await h.gql(
      `query ($id: ID!) { node(id: $id) { ... on Backend { status lastError } } }`,
      { id },
      { token: partner.key },
    );
    expect(JSON.stringify(r)).not.toContain(wrong);
  });

  it('another partner sees none of the runs and cannot start one', async () => {
    const other = await h.newPartner('Not synced');
    const SYNC = `mutation ($input: SyncBackendInput!) { syncBackend(input: $input) { __typename } }`;
    const count = await h.store.prisma.syncRun.count({ where: { backendId: backends.CATALOG.id } });
    const r = await h.gql(
      SYNC,
      { input: { id: Buffer.from(`Backend:${backends.CATALOG.id}`).toString('base64'), full: true } },
      { token: other.key },
    );
    expect(r.data.syncBackend.__typename).toBe('NotFoundError');
    expect(await h.store.prisma.syncRun.count({ where: { backendId: backends.CATALOG.id } })).toBe(count);
    const runs = await h.store.prisma.syncRun.findMany({ where: { backendId: backends.CATALOG.id } });
    for (const run of runs) {
      const node = await h.gql(
        `query ($id: ID!) { node(id: $id) { id } }`,
        { id: Buffer.from(`SyncRun:${run.id}`).toString('base64') },
        { token: other.key },
      );
      expect(node.data.node).toBeNull();
    }
  });
});
