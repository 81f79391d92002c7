// The transactional outbox (SPEC §10.4, §10.7 "Single vs several backends", §10.6 kill -9 mid-saga):
// deleteUser of a person known to three connected backends (learning, catalog, embed, each a
// stand-in user of its own behind the fault proxy) answers at once with three PendingChanges,
// and the delivery worker (the sync's queue: in-process on PGlite, graphile-worker on
// PostgreSQL) makes the three calls in order; the proxy's log shows each exactly. An upstream
// down only delays delivery; a refusal leaves the change FAILED until retryChange or
// dropChange; another partner never sees or touches A's changes. Last, a server process
// killed (SIGKILL) in the middle of 100 such deletes finishes them after restart, each delete
// reaching each backend exactly once: on PostgreSQL the restarted process takes the dead one's
// claims over when their lease (OUTBOX_LEASE_SECONDS) runs out, although graphile-worker keeps
// the dead process's jobs locked.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Backend, BackendKind, PrismaClient, User } from '@prisma/client';
import { useHarness, type Partner } from './helpers/app.js';
import { connectStandIn, testStandIn } from './helpers/connected.js';
import { accountAdmin, subAccount } from './helpers/lifecycle.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { createTestDatabase, migratedDataDir, storeKind } from './helpers/store.js';
import { readMigrations } from '../src/store/migrate.js';
import { STANDIN_PREFIXES, type StandIn } from '../src/standin/index.js';
import { createUser as standInCreateUser } from '../src/modules/users/service.js';
import { createUsers, MAX_BULK } from '../src/modules/users/bulk.js';
import { upsertClient as upsertStandInClient } from '../src/modules/clients/service.js';
import { createOutboxWorker, type OutboxWorker } from '../src/modules/outbox/worker.js';
import { deliverUser } from '../src/modules/outbox/service.js';
import { graphileQueue } from '../src/modules/sync/queue.js';
import { createLogger } from '../src/logger.js';
import { openStore } from '../src/store/database.js';
import { loadConfig } from '../src/config.js';
import type { RequestContext } from '../src/auth/context.js';
import { loadUserPrincipal } from '../src/auth/authenticate.js';
import { provisionPartner } from '../src/modules/partners/service.js';
import { connectBackend } from '../src/modules/backends/service.js';
import { childGql, startServer, type ChildServer } from '../scripts/child-server.js';

const h = useHarness({ SECRETS_KEY: crypto.randomBytes(32).toString('base64') });
const KINDS = ['LEARNING', 'CATALOG', 'EMBED'] as const;

let standIn: StandIn;
let proxy: FaultProxy;
let a: Partner;
let b: Partner;
let worker: OutboxWorker | undefined;
let backends: Record<BackendKind, Backend>;
let seq = 0;

const CHANGE = 'id userId user { id } backend { id kind } operation status attempts lastError nextAttemptAt createdAt';
const DELETE = `mutation ($input: DeleteUserInput!) { deleteUser(input: $input) { __typename
  ... on DeleteUserSuccess { deletedUserId pendingChanges { ${CHANGE} } } ... on Error { code message } } }`;
const PENDING =
  'query ($status: PendingChangeStatus) { pendingChanges(first: 50, status: $status) ' +
  `{ totalCount edges { node { ${CHANGE} } } } }`;

/** The three upstream users of one person (one per backend: the stand-in is one system serving three APIs). */
interface Upstream {
  learningId: string;
  catalogId: number;
  identifier: string;
}

/**
 * People of `partnerId` known to the three backends, one per name: each has its three stand-in
 * users (made with the stand-in's bulk create, fifty per call), and in the gateway one user with
 * the three LINKED identities (as a sync and writes would have left it), written a statement
 * per table.
 */
async function seedPeople(
  prisma: PrismaClient,
  up: StandIn,
  partnerId: string,
  ids: Record<BackendKind, string>,
  names: string[],
  /** The embed client they are users of, here (id) and upstream (identifier). */
  client?: { id: string; identifier: string },
): Promise<{ user: User; upstream: Upstream }[]> {
  const ctx = await up.context();
  const upstream = async (item: (name: string) => Record<string, string>) => {
    const made: User[] = [];
    for (let i = 0; i < names.length; i += MAX_BULK) {
      for (const r of await createUsers(ctx, { users: names.slice(i, i + MAX_BULK).map(item) })) {
        if (!r.ok) throw r.error;
        made.push(r.user);
      }
    }
    return made;
  };
  const learning = await upstream((name) => ({ externalUserId: `${name}-ext` }));
  const catalog = await upstream((name) => ({ email: `${name}@example.com` }));
  const embed = await upstream((name) => ({
    identifier: `${name}-emb`,
    ...(client ? { clientIdentifier: client.identifier } : {}),
  }));
  const people = names.map((name, i) => ({
    name,
    user: {
      id: crypto.randomUUID(),
      partnerId,
      accountId: partnerId,
      externalUserId: `${name}-ext`,
      email: `${name}@example.com`,
      inCatalog: true,
      catalogId: catalog[i]!.catalogId,
      identifier: `${name}-emb`,
      clientId: client?.id ?? null,
    },
    upstream: { learningId: learning[i]!.id, catalogId: catalog[i]!.catalogId!, identifier: embed[i]!.identifier! },
  }));
  const users = await prisma.user.createManyAndReturn({ data: people.map((p) => p.user) });
  const byId = new Map(users.map((u) => [u.id, u]));
  const identity = (userId: string, kind: BackendKind, stream: string, nativeId: string, key: string, data = {}) => ({
    partnerId,
    backendId: ids[kind],
    kind,
    stream,
    entity: 'USER' as const,
    nativeId,
    key,
    status: 'LINKED' as const,
    userId,
    data,
    dataHash: 'seeded',
    syncedAt: new Date(),
  });
  await prisma.identity.createMany({
    data: people.flatMap(({ name, user, upstream }) => [
      identity(user.id, 'LEARNING', 'learning.accounts', upstream.learningId, `${name}-ext`),
      identity(user.id, 'CATALOG', 'catalog.users', String(upstream.catalogId), `${name}@example.com`),
      identity(user.id, 'EMBED', 'embed.users', upstream.identifier, `${name}-emb`, {
        identifier: upstream.identifier,
        clientIdentifier: client?.identifier ?? null,
      }),
    ]),
  });
  return people.map(({ user, upstream }) => ({ user: byId.get(user.id)!, upstream }));
}

/** One person, as seedPeople makes them. */
async function seedPerson(
  prisma: PrismaClient,
  up: StandIn,
  partnerId: string,
  ids: Record<BackendKind, string>,
  name: string,
  client?: { id: string; identifier: string },
) {
  return (await seedPeople(prisma, up, partnerId, ids, [name], client))[0]!;
}

const upstreamUser = (id: string) => standIn.store.prisma.user.findUniqueOrThrow({ where: { id } });
const deletes = () =>
  proxy.log.filter((r) => r.method === 'DELETE' && r.status !== null && r.status < 300).map((r) => r.path);
const person = () => seedPerson(h.store.prisma, standIn, a.accountId, idsOf(), `ob-${++seq}`);
const idsOf = () => Object.fromEntries(KINDS.map((k) => [k, backends[k].id])) as Record<BackendKind, string>;
const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64').toString('utf8').split(':')[1]!;

async function until(what: string, check: () => Promise<boolean>, ms = 60_000) {
  for (const end = Date.now() + ms; !(await check()); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
const remaining = (userId: string) => h.store.prisma.pendingChange.count({ where: { userId } });

/** A change of A's user `userId` in the outbox: PENDING, or FAILED (which the worker leaves alone). */
const seedChange = (
  userId: string,
  kind: BackendKind,
  operation: 'DELETE_USER' | 'CREATE_USER',
  payload: Record<string, string>,
  status: 'PENDING' | 'FAILED',
) =>
  h.store.prisma.pendingChange.create({
    data: {
      partnerId: a.accountId,
      userId,
      backendId: backends[kind].id,
      operation,
      payload,
      ...(status === 'FAILED' ? { status, lastError: 'seeded' } : {}),
    },
  });

/** A FAILED change of a new live user of A. */
async function failedChange(
  kind: BackendKind,
  operation: 'DELETE_USER' | 'CREATE_USER',
  payload: Record<string, string>,
) {
  const { user } = await person();
  return { user, change: await seedChange(user.id, kind, operation, payload, 'FAILED') };
}

async function deleteUser(token: string, input: Record<string, unknown>) {
  const r = await h.gql(DELETE, { input }, { token });
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data.deleteUser;
}

function startWorker() {
  worker = createOutboxWorker({
    prisma: h.store.prisma,
    config: h.config,
    logger: createLogger('silent'),
    // On PostgreSQL the deliveries go through graphile-worker on the test's own database.
    databaseUrl:
      storeKind === 'postgres'
        ? (h.store.pool as unknown as { options: { connectionString: string } }).options.connectionString
        : undefined,
    tickMs: 50,
    delivery: { baseDelayMs: 50, maxDelayMs: 200 },
  });
  expect(worker.queue).toBe(storeKind === 'postgres' ? 'graphile-worker' : 'in-process');
  return worker.start();
}

beforeAll(async () => {
  if (!h.ready) return;
  standIn = await testStandIn();
  proxy = await startFaultProxy(standIn.url, { seed: 7 });
  a = await h.newPartner('Outbox A', 'AUTOMATE');
  b = await h.newPartner('Outbox B', 'AUTOMATE');
  backends = await connectStandIn(h, a, standIn, proxy.url, KINDS);
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await proxy?.stop();
  await standIn?.stop();
});

describe('deleteUser across three backends, through the outbox', () => {
  it('answers at once with one PendingChange per backend; the worker then makes the exact calls in order', async () => {
    const receiver = await person();
    const { user, upstream } = await person();
    proxy.resetLog();
    const r = await deleteUser(a.key, { id: user.id, action: 'REALLOCATE', reallocateTo: receiver.user.id });
    expect(r.__typename, JSON.stringify(r)).toBe('DeleteUserSuccess');
    // Nothing was called yet: no worker runs, the change waits in the outbox.
    expect(proxy.log).toEqual([]);
    expect(r.pendingChanges.map((c: any) => [c.backend.kind, c.operation, c.status, c.attempts])).toEqual([
      ['EMBED', 'DELETE_USER', 'PENDING', 0],
      ['CATALOG', 'DELETE_USER', 'PENDING', 0],
      ['LEARNING', 'DELETE_USER', 'PENDING', 0],
    ]);
    // The user is deleted in the store already; its changes keep its id, their user is null.
    expect(r.pendingChanges.every((c: any) => c.user === null && uuidOf(c.userId) === user.id)).toBe(true);
    expect((await h.store.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).status).toBe('DELETED');
    const listed = await h.gql(PENDING, {}, { token: a.key });
    expect(listed.data.pendingChanges.totalCount).toBe(3);

    await startWorker();
    await until('the three deliveries', async () => (await remaining(user.id)) === 0);
    expect(proxy.log.map((e) => `${e.method} ${e.path}`)).toEqual([
      `DELETE /rest/embed/v1/headless/user/${upstream.identifier}`,
      `DELETE /rest/catalog/api/v1/users/${upstream.catalogId}`,
      `DELETE /rest/learning/accounts/${upstream.learningId}`,
    ]);
    expect(proxy.log[0]!.query).toEqual({ action: 'reallocate', reallocateTo: receiver.upstream.identifier });
    const up = await standIn.store.prisma.user.findMany({
      where: {
        partnerId: standIn.partnerId,
        OR: [{ identifier: upstream.identifier }, { catalogId: upstream.catalogId }],
      },
    });
    expect(up.map((u) => u.status).sort()).toEqual(['DELETED', 'DELETED']);
    expect((await upstreamUser(upstream.learningId)).status).toBe('DISABLED');
    // Each outcome is audited; the deleted records' identities are GONE, the disabled account's stays.
    expect(
      await h.store.prisma.auditEvent.count({
        where: {
          partnerId: a.accountId,
          action: 'pending_change.delivered',
          data: { path: ['userId'], equals: user.id },
        },
      }),
    ).toBe(3);
    const identities = await h.store.prisma.identity.findMany({ where: { userId: user.id }, orderBy: { kind: 'asc' } });
    expect(Object.fromEntries(identities.map((i) => [i.kind, i.status]))).toEqual({
      LEARNING: 'LINKED',
      CATALOG: 'GONE',
      EMBED: 'GONE',
    });
  }, 90_000);

  it('a user of one connected backend stays synchronous: no pending change, the backend called at once', async () => {
    const ctx = await standIn.context();
    const only = await standInCreateUser(ctx, { email: `ob-single-${++seq}@example.com` });
    const user = await h.store.prisma.user.create({
      data: { partnerId: a.accountId, accountId: a.accountId, email: only.email, inCatalog: true },
    });
    await h.store.prisma.identity.create({
      data: {
        partnerId: a.accountId,
        backendId: backends.CATALOG.id,
        kind: 'CATALOG',
        stream: 'catalog.users',
        entity: 'USER',
        nativeId: String(only.catalogId),
        status: 'LINKED',
        userId: user.id,
        data: {},
        dataHash: 'seeded',
        syncedAt: new Date(),
      },
    });
    proxy.resetLog();
    const r = await deleteUser(a.key, { id: user.id, action: 'DELETE' });
    expect(r).toMatchObject({ __typename: 'DeleteUserSuccess', pendingChanges: [] });
    expect(proxy.log.map((e) => `${e.method} ${e.path}`)).toEqual([
      `DELETE /rest/catalog/api/v1/users/${only.catalogId}`,
    ]);
    expect((await upstreamUser(only.id)).status).toBe('DELETED');
  });

  it('an upstream down only delays delivery: the change is retried until the backend answers', async () => {
    const { user, upstream } = await person();
    proxy.resetLog();
    // One attempt's worth of 503s (the connector retries a DELETE itself: 6 requests).
    proxy.add({
      kind: 'status',
      status: 503,
      times: 6,
      match: (r) => r.method === 'DELETE' && r.path.includes('/rest/catalog/'),
    });
    const r = await deleteUser(a.key, { id: user.id, action: 'DELETE' });
    expect(r.__typename).toBe('DeleteUserSuccess');
    await until('delivery after the outage', async () => (await remaining(user.id)) === 0, 80_000);
    const events = await h.store.prisma.auditEvent.findMany({
      where: { partnerId: a.accountId, subjectType: 'PendingChange', data: { path: ['userId'], equals: user.id } },
      orderBy: { createdAt: 'asc' },
    });
    expect(events.map((e) => e.action)).toEqual([
      'pending_change.delivered',
      'pending_change.retry_scheduled',
      'pending_change.delivered',
      'pending_change.delivered',
    ]);
    expect(JSON.stringify(events[1]!.data)).toContain('catalog');
    // The retry asked the catalog first (check-then-act), then deleted once.
    expect(deletes().filter((p) => p.includes(`/users/${upstream.catalogId}`))).toHaveLength(1);
    expect((await upstreamUser(upstream.learningId)).status).toBe('DISABLED');
    expect(
      await standIn.store.prisma.auditEvent.count({
        where: { action: 'user.delete', subjectId: (await catalogUpstream(upstream.catalogId)).id },
      }),
    ).toBe(1);
  }, 90_000);

  it(`a partial failure across three backends: embed delivered, catalog FAILED with lastError, learning waits; \
retryChange finishes it`, async () => {
    const { user, upstream } = await person();
    proxy.resetLog();
    proxy.add({
      kind: 'status',
      status: 400,
      body: JSON.stringify({ errors: [{ message: 'refused by policy' }] }),
      match: (r) => r.method === 'DELETE' && r.path.includes('/rest/catalog/'),
    });
    await deleteUser(a.key, { id: user.id, action: 'DELETE' });
    await until('the catalog change to fail', async () =>
      Boolean(await h.store.prisma.pendingChange.findFirst({ where: { userId: user.id, status: 'FAILED' } })),
    );
    const failed = await h.gql(PENDING, { status: 'FAILED' }, { token: a.key });
    const mine = failed.data.pendingChanges.edges
      .map((e: any) => e.node)
      .filter((n: any) => uuidOf(n.userId) === user.id);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ status: 'FAILED', attempts: 1, backend: { kind: 'CATALOG' }, user: null });
    expect(mine[0].lastError).toContain('refused by policy');
    const waiting = await h.store.prisma.pendingChange.findMany({
      where: { userId: user.id },
      orderBy: { sequence: 'asc' },
    });
    expect(waiting.map((c) => [c.status, c.attempts])).toEqual([
      ['FAILED', 1],
      ['PENDING', 0],
    ]);
    expect(deletes()).toEqual([`/rest/embed/v1/headless/user/${upstream.identifier}`]);

    proxy.clear();
    const retried = await h.gql(
      'mutation ($input: RetryChangeInput!) { retryChange(input: $input) { __typename ' +
        '... on RetryChangeSuccess { change { status attempts } } ... on Error { code } } }',
      { input: { id: mine[0].id } },
      { token: a.key },
    );
    expect(retried.data.retryChange).toEqual({
      __typename: 'RetryChangeSuccess',
      change: { status: 'PENDING', attempts: 0 },
    });
    await until('the rest of the saga', async () => (await remaining(user.id)) === 0);
    expect(deletes()).toEqual([
      `/rest/embed/v1/headless/user/${upstream.identifier}`,
      `/rest/catalog/api/v1/users/${upstream.catalogId}`,
      `/rest/learning/accounts/${upstream.learningId}`,
    ]);
  }, 90_000);

  it('dropChange gives a failed change up: it never reaches its backend and leaves the outbox', async () => {
    const { user, upstream } = await person();
    proxy.add({
      kind: 'status',
      status: 400,
      body: JSON.stringify({ code: 400, error_message: 'no' }),
      match: (r) => r.method === 'DELETE' && r.path.includes('/rest/learning/'),
    });
    await deleteUser(a.key, { id: user.id, action: 'DELETE' });
    await until('the learning change to fail', async () =>
      Boolean(await h.store.prisma.pendingChange.findFirst({ where: { userId: user.id, status: 'FAILED' } })),
    );
    proxy.clear();
    const change = await h.store.prisma.pendingChange.findFirstOrThrow({ where: { userId: user.id } });
    const changeId = Buffer.from(`PendingChange:${change.id}`).toString('base64');
    const DROP =
      'mutation ($input: DropChangeInput!) { dropChange(input: $input) { __typename ' +
      '... on DropChangeSuccess { droppedChangeId } ... on Error { code } } }';
    // Another partner's admin cannot drop (or see) it.
    expect((await h.gql(DROP, { input: { id: changeId } }, { token: b.key })).data.dropChange).toEqual({
      __typename: 'NotFoundError',
      code: 'NOT_FOUND',
    });
    const dropped = await h.gql(DROP, { input: { id: changeId } }, { token: a.key });
    expect(dropped.data.dropChange).toEqual({ __typename: 'DropChangeSuccess', droppedChangeId: changeId });
    expect(await remaining(user.id)).toBe(0);
    expect((await upstreamUser(upstream.learningId)).status).toBe('ACTIVE');
    expect(
      await h.store.prisma.auditEvent.count({
        where: { partnerId: a.accountId, action: 'pending_change.drop', subjectId: change.id },
      }),
    ).toBe(1);
  }, 90_000);

  it("partner B never sees A's pending changes: not listed, not a node, not retryable", async () => {
    const { user, change } = await failedChange('CATALOG', 'DELETE_USER', {
      op: 'catalog.deleteUser',
      nativeId: '999999',
    });
    const id = Buffer.from(`PendingChange:${change.id}`).toString('base64');
    const userGlobal = Buffer.from(`User:${user.id}`).toString('base64');
    const USER_CHANGES = `query ($id: ID!) { node(id: $id) { ... on User { pendingChanges { id status } } } }`;
    const seen = await h.gql(USER_CHANGES, { id: userGlobal }, { token: a.key });
    expect(seen.data.node.pendingChanges).toEqual([{ id, status: 'FAILED' }]);
    expect((await h.gql(`query ($id: ID!) { node(id: $id) { id } }`, { id }, { token: a.key })).data.node).toEqual({
      id,
    });

    expect((await h.gql(PENDING, {}, { token: b.key })).data.pendingChanges).toEqual({ totalCount: 0, edges: [] });
    expect((await h.gql(`query ($id: ID!) { node(id: $id) { id } }`, { id }, { token: b.key })).data.node).toBeNull();
    expect((await h.gql(USER_CHANGES, { id: userGlobal }, { token: b.key })).data.node).toBeNull();
    const retried = await h.gql(
      `mutation ($input: RetryChangeInput!) { retryChange(input: $input) { __typename } }`,
      { input: { id } },
      { token: b.key },
    );
    expect(retried.data.retryChange.__typename).toBe('NotFoundError');
    expect((await h.store.prisma.pendingChange.findUniqueOrThrow({ where: { id: change.id } })).status).toBe('FAILED');
    await h.store.prisma.pendingChange.delete({ where: { id: change.id } });
  });
});

const WRITE_USER = `... on Error { code message }`;
const CREATE = `mutation ($input: CreateUserInput!) { createUser(input: $input) { __typename
  ... on CreateUserSuccess { user { id uuid } pendingChanges { ${CHANGE} } } ${WRITE_USER} } }`;
const UPDATE = `mutation ($input: UpdateUserInput!) { updateUser(input: $input) { __typename
  ... on UpdateUserSuccess { user { id } pendingChanges { ${CHANGE} } } ${WRITE_USER} } }`;
const calls = () => proxy.log.map((e) => `${e.method} ${e.path}`);
const linked = async (userId: string) =>
  Object.fromEntries(
    (await h.store.prisma.identity.findMany({ where: { userId, status: 'LINKED' } })).map((i) => [i.kind, i.nativeId]),
  );
const kindsOf = (changes: any[]) => changes.map((c) => [c.backend.kind, c.operation, c.status, c.attempts]);

async function createThree(name: string) {
  const r = await h.gql(
    CREATE,
    { input: { externalUserId: `${name}-ext`, email: `${name}@example.com`, identifier: `${name}-emb` } },
    { token: a.key },
  );
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  expect(r.data.createUser.__typename, JSON.stringify(r.data)).toBe('CreateUserSuccess');
  return r.data.createUser as { user: { id: string; uuid: string }; pendingChanges: any[] };
}

describe('createUser and updateUser across backends, through the outbox (SPEC §10.7)', () => {
  // Run alone (-t), the worker the first describe starts is not running yet.
  beforeAll(async () => {
    if (!worker) await startWorker();
  });

  it(`a create with keys of three kinds answers at once with three CREATE_USER changes; \
delivery makes each call once and LINKs what each backend accepted`, async () => {
    proxy.resetLog();
    const name = `obc-${++seq}`;
    const { user, pendingChanges } = await createThree(name);
    expect(kindsOf(pendingChanges)).toEqual([
      ['LEARNING', 'CREATE_USER', 'PENDING', 0],
      ['CATALOG', 'CREATE_USER', 'PENDING', 0],
      ['EMBED', 'CREATE_USER', 'PENDING', 0],
    ]);
    await until('the three creates', async () => (await remaining(user.uuid)) === 0);
    expect(calls()).toEqual([
      'POST /rest/learning/accounts',
      'POST /rest/catalog/api/v1/users',
      `GET /rest/embed/v1/headless/user/${name}-emb`,
      `PUT /rest/embed/v1/headless/user/${name}-emb`,
    ]);
    const upstream = await standIn.store.prisma.user.findFirstOrThrow({
      where: { partnerId: standIn.partnerId, externalUserId: `${name}-ext` },
    });
    const catalog = await standIn.store.prisma.user.findFirstOrThrow({
      where: { partnerId: standIn.partnerId, email: `${name}@example.com` },
    });
    expect(await linked(user.uuid)).toEqual({
      LEARNING: upstream.id,
      CATALOG: String(catalog.catalogId),
      EMBED: `${name}-emb`,
    });
    const delivered = await h.store.prisma.auditEvent.count({
      where: { action: 'pending_change.delivered', data: { path: ['userId'], equals: user.uuid } },
    });
    expect(delivered).toBe(3);
  }, 90_000);

  it(`one backend down: the others are delivered, its change retried later and then delivered; \
the create reaches it once`, async () => {
    proxy.resetLog();
    proxy.add({
      kind: 'status',
      status: 503,
      times: 1,
      match: (r) => r.method === 'POST' && r.path === '/rest/catalog/api/v1/users',
    });
    const name = `obc-${++seq}`;
    const { user } = await createThree(name);
    await until('delivery after the outage', async () => (await remaining(user.uuid)) === 0, 80_000);
    const events = await h.store.prisma.auditEvent.findMany({
      where: { subjectType: 'PendingChange', data: { path: ['userId'], equals: user.uuid } },
      orderBy: { createdAt: 'asc' },
    });
    expect(events.map((e) => e.action)).toEqual([
      'pending_change.delivered',
      'pending_change.retry_scheduled',
      'pending_change.delivered',
      'pending_change.delivered',
    ]);
    const posts = proxy.log.filter((e) => e.method === 'POST' && e.path === '/rest/catalog/api/v1/users');
    expect(posts.map((e) => e.status)).toEqual([503, 200]);
    expect(
      await standIn.store.prisma.user.count({ where: { partnerId: standIn.partnerId, email: `${name}@example.com` } }),
    ).toBe(1);
    expect(Object.keys(await linked(user.uuid)).sort()).toEqual(['CATALOG', 'EMBED', 'LEARNING']);
  }, 90_000);

  it(`a duplicate that exists only upstream: FAILED with a clear lastError, later changes wait; \
retryChange after fixing delivers`, async () => {
    const name = `obc-${++seq}`;
    const taken = await standInCreateUser(await standIn.context(), { email: `${name}@example.com` });
    proxy.resetLog();
    const { user } = await createThree(name);
    await until('the catalog create to fail', async () =>
      Boolean(await h.store.prisma.pendingChange.findFirst({ where: { userId: user.uuid, status: 'FAILED' } })),
    );
    const seen = await h.gql(
      `query ($id: ID!) { node(id: $id) { ... on User { pendingChanges { ${CHANGE} } } } }`,
      { id: user.id },
      { token: a.key },
    );
    const changes = seen.data.node.pendingChanges;
    expect(kindsOf(changes)).toEqual([
      ['CATALOG', 'CREATE_USER', 'FAILED', 1],
      ['EMBED', 'CREATE_USER', 'PENDING', 0],
    ]);
    expect(changes[0].lastError).toContain('duplicate');
    expect(changes[0].lastError).toContain('linkIdentity');
    expect(calls().filter((c) => c.includes('/rest/embed/'))).toEqual([]);
    // Fixed upstream (the other holder's address changed), then retried.
    await standIn.store.prisma.user.update({ where: { id: taken.id }, data: { email: `${name}-other@example.com` } });
    const retried = await h.gql(
      `mutation ($input: RetryChangeInput!) { retryChange(input: $input) { __typename } }`,
      { input: { id: changes[0].id } },
      { token: a.key },
    );
    expect(retried.data.retryChange.__typename).toBe('RetryChangeSuccess');
    await until('the retried create and the embed PUT', async () => (await remaining(user.uuid)) === 0);
    expect(Object.keys(await linked(user.uuid)).sort()).toEqual(['CATALOG', 'EMBED', 'LEARNING']);
    expect(calls().filter((c) => c.startsWith('POST /rest/catalog/'))).toHaveLength(2);
  }, 90_000);

  it(`an update of the catalog profile and the embed metadata: two UPDATE_USER changes, \
catalog PUT and an embed PUT that replaces`, async () => {
    const { user, upstream } = await person();
    const embedUp = await standIn.store.prisma.user.findFirstOrThrow({
      where: { partnerId: standIn.partnerId, identifier: upstream.identifier },
    });
    await standIn.store.prisma.user.update({ where: { id: embedUp.id }, data: { metadata: { old: 1, keep: 2 } } });
    await h.store.prisma.user.update({ where: { id: user.id }, data: { metadata: { old: 1, keep: 2 } } });
    proxy.resetLog();
    const userGlobal = Buffer.from(`User:${user.id}`).toString('base64');
    const r = await h.gql(
      UPDATE,
      { input: { id: userGlobal, firstName: 'Renamed', metadata: { keep: 3 } } },
      { token: a.key },
    );
    expect(r.data.updateUser.__typename, JSON.stringify(r)).toBe('UpdateUserSuccess');
    expect(kindsOf(r.data.updateUser.pendingChanges)).toEqual([
      ['CATALOG', 'UPDATE_USER', 'PENDING', 0],
      ['EMBED', 'UPDATE_USER', 'PENDING', 0],
    ]);
    await until('the two updates', async () => (await remaining(user.id)) === 0);
    expect(calls()).toEqual([
      `PUT /rest/catalog/api/v1/users/${upstream.catalogId}`,
      `PUT /rest/embed/v1/headless/user/${upstream.identifier}`,
    ]);
    expect((await catalogUpstream(upstream.catalogId)).firstName).toBe('Renamed');
    // Replace, not merge: the upstream ends with exactly the new object.
    expect((await upstreamUser(embedUp.id)).metadata).toEqual({ keep: 3 });
    expect((await h.store.prisma.user.findUniqueOrThrow({ where: { id: user.id } })).metadata).toEqual({ keep: 3 });
  }, 90_000);

  it(`partner B never sees A's create changes; B's own create of the same keys (nothing connected) \
has none`, async () => {
    const { change } = await failedChange('LEARNING', 'CREATE_USER', {
      op: 'learning.createAccount',
      externalUserId: 'never',
    });
    const id = Buffer.from(`PendingChange:${change.id}`).toString('base64');
    const listed = await h.gql(PENDING, {}, { token: b.key });
    expect(listed.data.pendingChanges.totalCount).toBe(0);
    expect((await h.gql(`query ($id: ID!) { node(id: $id) { id } }`, { id }, { token: b.key })).data.node).toBeNull();
    const dropped = await h.gql(
      `mutation ($input: DropChangeInput!) { dropChange(input: $input) { __typename } }`,
      { input: { id } },
      { token: b.key },
    );
    expect(dropped.data.dropChange.__typename).toBe('NotFoundError');
    const r = await h.gql(
      CREATE,
      { input: { externalUserId: 'obc-b-ext', email: 'obc-b@example.com', identifier: 'obc-b-emb' } },
      { token: b.key },
    );
    expect(r.data.createUser).toMatchObject({ __typename: 'CreateUserSuccess', pendingChanges: [] });
    expect(await h.store.prisma.pendingChange.count({ where: { partnerId: b.accountId } })).toBe(0);
    await h.store.prisma.pendingChange.delete({ where: { id: change.id } });
  });
});

describe('deleteClient across backends, through the outbox (SPEC §10.4)', () => {
  const DELETE_CLIENT = `mutation ($input: DeleteClientInput!) { deleteClient(input: $input) { __typename
    ... on DeleteClientSuccess { deletedClientId pendingChanges { ${CHANGE} } } ... on Error { code message } } }`;

  /** An embed client of A, here and upstream, with two members each known to the three backends. */
  async function seedClient(identifier: string) {
    await upsertStandInClient(await standIn.context(), { identifier, metadata: {} });
    const client = await h.store.prisma.client.create({
      data: { partnerId: a.accountId, accountId: a.accountId, identifier, metadata: {} },
    });
    await h.store.prisma.identity.create({
      data: {
        partnerId: a.accountId,
        backendId: backends.EMBED.id,
        kind: 'EMBED',
        stream: 'embed.clients',
        entity: 'CLIENT',
        nativeId: identifier,
        key: identifier,
        status: 'LINKED',
        clientId: client.id,
        data: { identifier },
        dataHash: 'seeded',
        syncedAt: new Date(),
      },
    });
    const members = [];
    for (const n of [1, 2])
      members.push(await seedPerson(h.store.prisma, standIn, a.accountId, idsOf(), `${identifier}-${n}`, client));
    return { client, members: members.sort((x, y) => (x.user.id < y.user.id ? -1 : 1)) };
  }

  it(`deletes the client in embed and each member in catalog and learning, once each: the client's call first, \
then each member's`, async () => {
    const { client, members } = await seedClient(`obcl-${++seq}`);
    const [first, second] = members;
    proxy.resetLog();
    const r = await h.gql(DELETE_CLIENT, { input: { identifier: client.identifier } }, { token: a.key });
    expect(r.data.deleteClient.__typename, JSON.stringify(r)).toBe('DeleteClientSuccess');
    const changes = r.data.deleteClient.pendingChanges;
    expect(changes.map((c: any) => [uuidOf(c.userId), c.backend.kind, c.operation, c.status])).toEqual([
      [first!.user.id, 'EMBED', 'DELETE_CLIENT', 'PENDING'],
      [first!.user.id, 'CATALOG', 'DELETE_USER', 'PENDING'],
      [first!.user.id, 'LEARNING', 'DELETE_USER', 'PENDING'],
      [second!.user.id, 'CATALOG', 'DELETE_USER', 'PENDING'],
      [second!.user.id, 'LEARNING', 'DELETE_USER', 'PENDING'],
    ]);
    // The store's side is done at once.
    expect(await h.store.prisma.client.count({ where: { id: client.id } })).toBe(0);
    for (const m of members)
      expect((await h.store.prisma.user.findUniqueOrThrow({ where: { id: m.user.id } })).status).toBe('DELETED');

    await until(
      'the five deliveries',
      async () => (await remaining(first!.user.id)) + (await remaining(second!.user.id)) === 0,
    );
    const made = proxy.log.filter((e) => e.method === 'DELETE').map((e) => e.path);
    expect(made.sort()).toEqual(
      [
        `/rest/embed/v1/headless/client/${client.identifier}`,
        ...members.flatMap((m) => [
          `/rest/catalog/api/v1/users/${m.upstream.catalogId}`,
          `/rest/learning/accounts/${m.upstream.learningId}`,
        ]),
      ].sort(),
    );
    // The first member's client call went before its own deletes.
    const firstMember = proxy.log.filter(
      (e) =>
        e.method === 'DELETE' &&
        !e.path.includes(`${second!.upstream.catalogId}`) &&
        !e.path.includes(second!.upstream.learningId),
    );
    expect(firstMember[0]!.path).toBe(`/rest/embed/v1/headless/client/${client.identifier}`);
    // Upstream: the client and its embed users are gone, the catalog users deleted, the learning accounts disabled.
    expect(
      await standIn.store.prisma.client.count({
        where: { partnerId: standIn.partnerId, identifier: client.identifier },
      }),
    ).toBe(0);
    for (const m of members) {
      const embed = await standIn.store.prisma.user.findFirst({
        where: { partnerId: standIn.partnerId, identifier: m.upstream.identifier },
      });
      expect(embed?.status ?? 'DELETED').toBe('DELETED');
      expect((await catalogUpstream(m.upstream.catalogId)).status).toBe('DELETED');
      expect((await upstreamUser(m.upstream.learningId)).status).toBe('DISABLED');
      const identities = await h.store.prisma.identity.findMany({ where: { userId: m.user.id } });
      expect(Object.fromEntries(identities.map((i) => [i.kind, i.status]))).toEqual({
        LEARNING: 'LINKED',
        CATALOG: 'GONE',
        EMBED: 'GONE',
      });
    }
    const clientIdentity = await h.store.prisma.identity.findFirst({
      where: { backendId: backends.EMBED.id, entity: 'CLIENT', nativeId: client.identifier },
    });
    expect(clientIdentity?.status).toBe('GONE');
  }, 90_000);

  it("partner B cannot delete A's client: NotFoundError, no backend called, nothing recorded", async () => {
    const { client, members } = await seedClient(`obcl-${++seq}`);
    proxy.resetLog();
    const r = await h.gql(DELETE_CLIENT, { input: { identifier: client.identifier } }, { token: b.key });
    expect(r.data.deleteClient.__typename).toBe('NotFoundError');
    expect(proxy.log).toEqual([]);
    expect(await h.store.prisma.client.count({ where: { id: client.id } })).toBe(1);
    expect(await h.store.prisma.pendingChange.count({ where: { userId: { in: members.map((m) => m.user.id) } } })).toBe(
      0,
    );
    for (const m of members)
      expect((await h.store.prisma.user.findUniqueOrThrow({ where: { id: m.user.id } })).status).toBe('ACTIVE');
  });
});

describe('rights: an account admin sees and touches only the changes of users it administers', () => {
  it("its subtree only: no root list, no node or retry above it, its own users' changes yes", async () => {
    const left = await subAccount(h, a, 'Outbox left');
    const admin = await accountAdmin(h, a, left, `ob-left-admin-${++seq}`);
    const failed = async (accountId: string) => {
      const user = await h.store.prisma.user.create({ data: { partnerId: a.accountId, accountId } });
      const change = await seedChange(
        user.id,
        'CATALOG',
        'DELETE_USER',
        { op: 'catalog.deleteUser', nativeId: '999999' },
        'FAILED',
      );
      return {
        user: Buffer.from(`User:${user.id}`).toString('base64'),
        change: Buffer.from(`PendingChange:${change.id}`).toString('base64'),
        id: change.id,
      };
    };
    const mine = await failed(left);
    const above = await failed(a.accountId);
    const NODE = `query ($id: ID!) { node(id: $id) { id ... on User { pendingChanges { id } } } }`;
    const DROP = `mutation ($input: DropChangeInput!) { dropChange(input: $input) { __typename } }`;

    const listed = await h.gql(PENDING, {}, { token: admin.token });
    expect(listed.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await h.gql(NODE, { id: mine.user }, { token: admin.token })).data.node.pendingChanges).toEqual([
      { id: mine.change },
    ]);
    expect((await h.gql(NODE, { id: mine.change }, { token: admin.token })).data.node).toEqual({ id: mine.change });
    expect((await h.gql(NODE, { id: above.change }, { token: admin.token })).data.node).toBeNull();
    expect((await h.gql(NODE, { id: above.user }, { token: admin.token })).data.node).toBeNull();
    expect((await h.gql(DROP, { input: { id: above.change } }, { token: admin.token })).data.dropChange).toEqual({
      __typename: 'NotFoundError',
    });
    expect(await h.store.prisma.pendingChange.count({ where: { id: above.id } })).toBe(1);
    expect((await h.gql(DROP, { input: { id: mine.change } }, { token: admin.token })).data.dropChange).toEqual({
      __typename: 'DropChangeSuccess',
    });
    expect(await h.store.prisma.pendingChange.count({ where: { id: mine.id } })).toBe(0);
    // The partner admin sees the one above it.
    expect((await h.gql(NODE, { id: above.user }, { token: a.key })).data.node.pendingChanges).toEqual([
      { id: above.change },
    ]);
    expect((await h.gql(DROP, { input: { id: above.change } }, { token: a.key })).data.dropChange).toEqual({
      __typename: 'DropChangeSuccess',
    });
  });
});

const catalogUpstream = (catalogId: number) =>
  standIn.store.prisma.user.findFirstOrThrow({ where: { partnerId: standIn.partnerId, catalogId } });

// ---------------------------------------------------------------------------- kill -9 mid-saga

describe('the outbox_user_writes migration', () => {
  it(`upgrades a store in place: a DELETE_USER entry of the previous release stays as it was, \
and creates and updates can be recorded`, async () => {
    const database = storeKind === 'postgres' ? await createTestDatabase() : null;
    const store = await openStore({
      ...(database ? { databaseUrl: database.url } : { dataDir: 'memory://' }),
      poolSize: 2,
      migrate: false,
    });
    try {
      const migrations = await readMigrations();
      const at = migrations.findIndex((m) => m.name.endsWith('_outbox_user_writes'));
      expect(at).toBeGreaterThan(0);
      for (const m of migrations.slice(0, at)) await store.pool.query(m.sql);
      const user = '00000000-0000-7000-8000-000000000001';
      const backend = '00000000-0000-7000-8000-0000000000b1';
      await store.pool.query(
        'INSERT INTO "Account" (id, "partnerId", "ancestorIds", name, "canvasUuid", "allowedIps", "updatedAt") ' +
          "VALUES ('P', 'P', '{}', 'P', 'P', '{}', now())",
      );
      await store.pool.query(
        'INSERT INTO "User" (id, "partnerId", "accountId", email, "inCatalog", "updatedAt") ' +
          `VALUES ('${user}', 'P', 'P', 'old@example.com', true, now())`,
      );
      await store.pool.query(
        'INSERT INTO "Backend" (id, "partnerId", kind, "activeKind", "baseUrl", credential, "updatedAt") ' +
          `VALUES ('${backend}', 'P', 'CATALOG', 'CATALOG', 'https://c.example.com', 'v1:x', now())`,
      );
      await store.pool.query(
        'INSERT INTO "PendingChange" (id, "partnerId", "userId", "backendId", operation, payload) ' +
          `VALUES ('00000000-0000-7000-8000-0000000000c1', 'P', '${user}', ` +
          `'${backend}', 'DELETE_USER', '{"op":"catalog.deleteUser","nativeId":"7"}')`,
      );
      for (const m of migrations.slice(at)) await store.pool.query(m.sql);
      expect(
        await store.prisma.pendingChange.findMany({ select: { operation: true, payload: true, mustNotExist: true } }),
      ).toEqual([
        { operation: 'DELETE_USER', payload: { op: 'catalog.deleteUser', nativeId: '7' }, mustNotExist: null },
      ]);
      await store.prisma.pendingChange.create({
        data: {
          partnerId: 'P',
          userId: user,
          backendId: backend,
          operation: 'CREATE_USER',
          payload: { op: 'embed.putUser', identifier: 'x', fields: {} },
          mustNotExist: { stream: 'embed.users', nativeId: 'x' },
        },
      });
      expect(await store.prisma.pendingChange.count({ where: { operation: 'CREATE_USER' } })).toBe(1);
    } finally {
      await store.close();
      await database?.drop();
    }
  }, 90_000);
});

describe('kill -9 mid-saga of 100 multi-backend deletes', () => {
  let dataDir = '';
  let database: { url: string; drop(): Promise<void> } | undefined;
  let server: ChildServer | undefined;
  let up: StandIn | undefined;
  let slow: FaultProxy | undefined;

  afterAll(async () => {
    server?.child.kill('SIGKILL');
    await server?.exited;
    await slow?.stop();
    await up?.stop();
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
    await database?.drop();
  });

  it('after restart every backend shows each delete exactly once, and pendingChanges is empty', async () => {
    up = await testStandIn();
    slow = await startFaultProxy(up.url);
    dataDir = await migratedDataDir('ag-outbox-');
    // On PostgreSQL the child servers share a database of their own (not the harness's).
    database = storeKind === 'postgres' ? await createTestDatabase(inject('postgresTemplate') ?? undefined) : undefined;
    const env = {
      DATA_DIR: dataDir,
      DATABASE_URL: database?.url ?? '',
      SECRETS_KEY: crypto.randomBytes(32).toString('base64'),
      RATE_LIMIT_PER_MINUTE: '100000',
      // A dead worker's claims expire after 4 s (on PostgreSQL that is how the restart takes them
      // over; the embedded store releases them at start); a lease outlives a request's deadline.
      OUTBOX_LEASE_SECONDS: '4',
      BACKEND_TIMEOUT_MS: '3000',
    };
    // The partner, its three backends and the 100 people are written here, on the store the
    // child servers open next (an embedded store is one process's: never while a server has
    // it), as connectBackend and a first sync of each backend would have left them: the
    // stand-in's demo data is not this test's subject.
    const store = await openStore(database ? { databaseUrl: database.url, poolSize: 2 } : { dataDir });
    const { key, people } = await (async () => {
      const partner = await store.prisma.$transaction((tx) => provisionPartner(tx, { name: 'Saga', plan: 'AUTOMATE' }));
      const ctx: RequestContext = {
        prisma: store.prisma,
        principal: await loadUserPrincipal(store.prisma, partner.adminUser.id, 'api_key', partner.apiKey.id),
        requestId: 'saga',
        ip: '127.0.0.1',
        config: loadConfig(env),
      };
      const ids = {} as Record<BackendKind, string>;
      for (const kind of KINDS) {
        const input = { kind, baseUrl: slow!.url + STANDIN_PREFIXES[kind], credential: up!.credentials[kind] };
        ids[kind] = (await connectBackend(ctx, input)).id;
      }
      const now = new Date();
      await store.prisma.syncRun.createMany({
        data: KINDS.map((kind) => ({
          partnerId: partner.account.id,
          backendId: ids[kind],
          status: 'SUCCEEDED' as const,
          full: true,
          startedAt: now,
          finishedAt: now,
        })),
      });
      const names = Array.from({ length: 100 }, (_, i) => `saga-${i}`);
      const people = await seedPeople(store.prisma, up!, partner.account.id, ids, names);
      return { key: partner.key, people };
    })().finally(() => store.close());

    const gql = (query: string, variables: Record<string, unknown>, token: string) =>
      childGql(server!, query, variables, token);
    server = await startServer(env);
    // Each backend call takes a while, so the kill lands mid-saga.
    slow.add({ kind: 'latency', ms: 60, match: (r) => r.method === 'DELETE' });
    // Five deletes at a time, as several clients of the gateway would send them.
    for (let i = 0; i < people.length; i += 5) {
      const answers = await Promise.all(
        people.slice(i, i + 5).map((p) => gql(DELETE, { input: { id: p.user.id, action: 'DELETE' } }, key)),
      );
      for (const r of answers) {
        expect(r.data?.deleteUser?.__typename, JSON.stringify(r)).toBe('DeleteUserSuccess');
        expect(r.data.deleteUser.pendingChanges).toHaveLength(3);
      }
    }
    const done = () => slow!.log.filter((e) => e.method === 'DELETE' && e.status !== null).length;
    // Killed with a call in flight: its entry is claimed (the claim commits before the call).
    const inFlight = () => slow!.log.filter((e) => e.method === 'DELETE' && e.status === null).length;
    await until('the saga to get going', async () => done() >= 60 && inFlight() > 0, 120_000);
    server.child.kill('SIGKILL');
    await server.exited;
    const deliveredBeforeKill = done();
    expect(deliveredBeforeKill).toBeLessThan(300);
    slow.clear();
    if (database) {
      // What the dead process left on PostgreSQL: claims whose lease runs, and graphile-worker
      // jobs locked by it (for graphile-worker's 4 hours).
      const left = await openStore({ databaseUrl: database.url, poolSize: 1 });
      try {
        expect(await left.prisma.pendingChange.count({ where: { worker: { not: null } } })).toBeGreaterThan(0);
        const locked = await left.pool.query(
          `SELECT count(*)::int AS n
             FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id
            WHERE t.identifier = 'outbox' AND j.locked_at IS NOT NULL`,
        );
        expect(locked.rows[0].n).toBeGreaterThan(0);
      } finally {
        await left.close();
      }
    }

    server = await startServer(env);
    // Asked for the count only: the server is busy delivering.
    const left = '{ pendingChanges(first: 1) { totalCount } }';
    await until(
      'the outbox to drain',
      async () => (await gql(left, {}, key)).data?.pendingChanges?.totalCount === 0,
      180_000,
    );
    expect((await gql(PENDING, {}, key)).data.pendingChanges).toEqual({ totalCount: 0, edges: [] });
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    server = undefined;

    // Every backend shows each delete exactly once: one user.delete event upstream per catalog
    // and embed user, one user.disable per learning account.
    const events = await up.store.prisma.auditEvent.groupBy({
      by: ['action', 'subjectId'],
      where: { action: { in: ['user.delete', 'user.disable'] } },
      _count: true,
    });
    const count = new Map(events.map((e) => [`${e.action} ${e.subjectId}`, e._count]));
    // The upstream's users of the 100 people, read at once (one statement per kind).
    const upstreamUsers = (where: object) =>
      up!.store.prisma.user.findMany({ where: { partnerId: up!.partnerId, ...where } });
    const [catalogUsers, embedUsers] = await Promise.all([
      upstreamUsers({ catalogId: { in: people.map((p) => p.upstream.catalogId) } }),
      upstreamUsers({ identifier: { in: people.map((p) => p.upstream.identifier) } }),
    ]);
    const byCatalogId = new Map(catalogUsers.map((u) => [u.catalogId, u]));
    const byIdentifier = new Map(embedUsers.map((u) => [u.identifier, u]));
    for (const p of people) {
      const catalog = byCatalogId.get(p.upstream.catalogId)!;
      const embed = byIdentifier.get(p.upstream.identifier)!;
      expect(catalog && embed, `${p.upstream.catalogId} and ${p.upstream.identifier} upstream`).toBeTruthy();
      expect(count.get(`user.delete ${catalog.id}`)).toBe(1);
      expect(count.get(`user.delete ${embed.id}`)).toBe(1);
      expect(count.get(`user.disable ${p.upstream.learningId}`)).toBe(1);
      expect([catalog.status, embed.status]).toEqual(['DELETED', 'DELETED']);
    }
    // The delete requests the catalog and embed answered themselves: none twice (a retried one
    // asks first). One the kill cut off while the proxy held it (its latency) never reached the
    // backend and has no status; one whose forwarding failed when its caller went away was
    // answered by the proxy (502). Either way the restarted process's check asks the backend
    // before sending it again, and the effects above are each exactly once.
    const deletes = slow.log.filter((e) => e.method === 'DELETE' && !e.path.includes('/rest/learning/'));
    expect(new Set(deletes.map((e) => e.path)).size).toBe(200);
    const answered = deletes.filter((e) => e.status !== null && e.fault !== 'upstream-failed').map((e) => e.path);
    const twice = answered.filter((path, i) => answered.indexOf(path) !== i);
    const calls = slow.log.filter((e) => twice.includes(e.path));
    expect(twice, JSON.stringify(calls.map((e) => [e.method, e.path, e.status, e.fault, e.at, e.answeredAt]))).toEqual(
      [],
    );
  }, 600_000);
});

describe.runIf(storeKind === 'postgres')('graphile-worker: a job a killed worker left locked', () => {
  it("does not hold the user back: the sweep's next job for the user runs at once, the dead one never", async () => {
    const connectionString = (h.store.pool as unknown as { options: { connectionString: string } }).options
      .connectionString;
    const TASK = 'outbox-locked-test';
    const user = crypto.randomUUID();
    const ran: string[] = [];
    const queue = (concurrency: number) =>
      // As the outbox worker makes it (src/modules/outbox/worker.ts), on a task of its own.
      graphileQueue({
        connectionString,
        concurrency,
        logger: createLogger('silent'),
        task: TASK,
        job: async (id) => {
          ran.push(id);
        },
      });
    // A process enqueues the user, takes the job and is killed (SIGKILL) in it: graphile-worker
    // leaves the job locked (and its named queue, if it had one) for 4 hours.
    const dead = queue(0);
    await dead.start();
    await dead.enqueue({ id: user, backendId: user });
    await dead.stop();
    const tasks = `SELECT id FROM graphile_worker._private_tasks WHERE identifier = '${TASK}'`;
    const locked = await h.store.pool.query(
      `UPDATE graphile_worker._private_jobs SET locked_at = now(), locked_by = 'killed-worker', attempts = attempts + 1
        WHERE task_id IN (${tasks}) RETURNING id, job_queue_id`,
    );
    expect(locked.rowCount).toBe(1);
    await h.store.pool.query(
      `UPDATE graphile_worker._private_job_queues SET locked_at = now(), locked_by = 'killed-worker' WHERE id = $1`,
      [locked.rows[0].job_queue_id],
    );

    // The restarted process's sweep enqueues the user again (its claims' lease ran out).
    const live = queue(1);
    await live.start();
    try {
      await live.enqueue({ id: user, backendId: user });
      await until('the new job', async () => ran.length > 0, 30_000);
      expect(ran).toEqual([user]);
      // The dead worker's job lost its key and its attempts: it never runs, not even once
      // graphile-worker unlocks it.
      const left = await h.store.pool.query(
        `SELECT key, attempts, max_attempts, is_available FROM graphile_worker._private_jobs WHERE id = $1`,
        [locked.rows[0].id],
      );
      expect(left.rows[0]).toMatchObject({ key: null, is_available: false });
      expect(left.rows[0].attempts).toBe(left.rows[0].max_attempts);
    } finally {
      await live.stop();
    }
  }, 60_000);
});

describe('an attempt never outlives its lease', () => {
  it(`gives its calls up at three quarters of the lease: a retry, the next attempt asks first, \
one DELETE in all`, async () => {
    // The shared worker would deliver this change with the configuration's lease: stopped here.
    await worker?.stop();
    worker = undefined;
    const { user, upstream } = await person();
    const change = await seedChange(
      user.id,
      'CATALOG',
      'DELETE_USER',
      { op: 'catalog.deleteUser', nativeId: String(upstream.catalogId) },
      'PENDING',
    );
    const deps = {
      prisma: h.store.prisma,
      config: h.config,
      logger: createLogger('silent'),
      workerId: 'lease-test',
      options: { maxAttempts: 5, baseDelayMs: 0, maxDelayMs: 0, leaseMs: 800 },
    };
    proxy.resetLog();
    // The catalog answers after 2 s, past the 800 ms lease (the attempt gives up at 600 ms).
    proxy.add({ kind: 'latency', ms: 2_000, times: 1, match: (r) => r.method === 'DELETE' });
    const started = Date.now();
    expect(await deliverUser(deps, user.id)).toBe(0);
    expect(Date.now() - started).toBeLessThan(1_800);
    const after = await h.store.prisma.pendingChange.findUniqueOrThrow({ where: { id: change.id } });
    expect(after).toMatchObject({ status: 'PENDING', attempts: 1, worker: null });
    expect(after.lastError).toContain('longer than its lease');
    // The given-up DELETE never reached the catalog (the proxy held it). The next attempt asks
    // first, finds the user there, and deletes it: one DELETE reached the catalog in all.
    expect(await deliverUser(deps, user.id)).toBe(1);
    expect(await remaining(user.id)).toBe(0);
    const path = `/rest/catalog/api/v1/users/${upstream.catalogId}`;
    expect(proxy.log.map((e) => [e.method, e.path, e.status])).toEqual([
      ['DELETE', path, null],
      ['GET', path, 200],
      ['DELETE', path, 200],
    ]);
    expect((await catalogUpstream(upstream.catalogId)).status).toBe('DELETED');
  }, 30_000);
});
