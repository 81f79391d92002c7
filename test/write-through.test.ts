// Write-through to one connected backend (SPEC §10.4, §10.7 "Single vs several"): the graph's
// mutations on a partner with all four kinds connected to a stand-in upstream, through the
// fault proxy. For each mapping: the proxy's log shows the exact call, the stand-in has the
// record, the gateway's store has the user (account, client) and its LINKED identity. A key
// that exists only upstream is a ConflictError with nothing stored; an upstream down is a
// BackendUnavailableError with retryAfter and nothing changed; another partner's mutations
// never reach A's backends.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getNamedType, type GraphQLUnionType } from 'graphql';
import { schema } from '../src/schema.js';
import type { Backend, BackendKind } from '@prisma/client';
import { useHarness, type Partner } from './helpers/app.js';
import { connectStandIn, testStandIn } from './helpers/connected.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { STANDIN_PREFIXES, type StandIn } from '../src/standin/index.js';
import { createUser as standInCreateUser } from '../src/modules/users/service.js';
import { dropConnector } from '../src/connectors/index.js';

const h = useHarness({ SECRETS_KEY: crypto.randomBytes(32).toString('base64') });

let standIn: StandIn;
let proxy: FaultProxy;
let a: Partner;
let b: Partner;
let backends: Record<BackendKind, Backend>;

const CONNECT =
  'mutation ($input: ConnectBackendInput!) { connectBackend(input: $input) { __typename ' +
  '... on ConnectBackendSuccess { backend { id } } ... on Error { message } } }';
const DETAILS: Record<string, string> = {
  ConflictError: 'field',
  BackendUnavailableError: 'retryAfter kind backend { id }',
  UnsupportedByBackendError: 'operation kind',
};

/** The error selection a mutation's union admits (a fragment on a type outside it is invalid). */
function errorSelection(mutation: string): string {
  const union = getNamedType(schema.getMutationType()!.getFields()[mutation]!.type) as GraphQLUnionType;
  const members = new Set(union.getTypes().map((t) => t.name));
  return [
    '... on Error { code message }',
    ...Object.entries(DETAILS)
      .filter(([t]) => members.has(t))
      .map(([t, f]) => `... on ${t} { ${f} }`),
  ].join(' ');
}
const USER = 'user { id uuid externalUserId email firstName identifier metadata status }';

/** One mutation; its payload (the success's fields, or the error's). */
async function mutate(token: string, name: string, input: Record<string, unknown>, success: string) {
  const type = `${name[0]!.toUpperCase()}${name.slice(1)}`;
  const r = await h.gql(
    `mutation ($input: ${type}Input!) { ${name}(input: $input) { __typename ` +
      `... on ${type}Success { ${success} } ${errorSelection(name)} } }`,
    { input },
    { token },
  );
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data[name];
}

/** The proxy's log since `resetLog`, as "METHOD path". */
const calls = () => proxy.log.map((r) => `${r.method} ${r.path}`);

const identityOf = (where: { userId?: string; accountId?: string; clientId?: string }, kind: BackendKind) =>
  h.store.prisma.identity.findFirst({ where: { ...where, backendId: backends[kind].id } });

const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64').toString('utf8').split(':')[1]!;

beforeAll(async () => {
  if (!h.ready) return;
  standIn = await testStandIn();
  proxy = await startFaultProxy(standIn.url, { seed: 3 });
  a = await h.newPartner('Write-through A', 'AUTOMATE');
  b = await h.newPartner('Write-through B', 'AUTOMATE');
  backends = await connectStandIn(h, a, standIn, proxy.url, ['LEARNING', 'CATALOG', 'MESSAGING', 'EMBED']);
}, 120_000);

afterAll(async () => {
  await proxy?.stop();
  await standIn?.stop();
});

const upstreamUser = (where: Record<string, unknown>) =>
  standIn.store.prisma.user.findFirst({ where: { partnerId: standIn.partnerId, ...where } });

describe('write-through to one connected backend', () => {
  let learningUser: any;
  let catalogUser: any;
  let embedUser: any;

  it(`createUser with externalUserId → learning POST /accounts; \
the store has the user and its LINKED identity`, async () => {
    proxy.resetLog();
    const r = await mutate(a.key, 'createUser', { externalUserId: 'wt-learner' }, USER);
    expect(r.__typename).toBe('CreateUserSuccess');
    expect(calls()).toEqual(['POST /rest/learning/accounts']);
    const upstream = await upstreamUser({ externalUserId: 'wt-learner' });
    expect(upstream).not.toBeNull();
    learningUser = r.user;
    const identity = await identityOf({ userId: r.user.uuid }, 'LEARNING');
    expect(identity).toMatchObject({
      nativeId: upstream!.id,
      status: 'LINKED',
      key: 'wt-learner',
      entity: 'USER',
      kind: 'LEARNING',
    });
  });

  it('createUser with email → catalog POST /api/v1/users; the identity is the catalog user id', async () => {
    proxy.resetLog();
    const r = await mutate(a.key, 'createUser', { email: 'wt-cat@example.com', firstName: 'Cat' }, USER);
    expect(r.__typename, JSON.stringify(r)).toBe('CreateUserSuccess');
    expect(calls()).toEqual(['POST /rest/catalog/api/v1/users']);
    const upstream = await upstreamUser({ email: 'wt-cat@example.com' });
    expect(upstream).toMatchObject({ inCatalog: true, firstName: 'Cat' });
    catalogUser = r.user;
    expect(await identityOf({ userId: r.user.uuid }, 'CATALOG')).toMatchObject({
      nativeId: String(upstream!.catalogId),
      status: 'LINKED',
    });
  });

  it('createUser with identifier → embed GET (check) then PUT user, with its metadata', async () => {
    proxy.resetLog();
    const r = await mutate(a.key, 'createUser', { identifier: 'wt-emb', metadata: { colour: 'red', size: 1 } }, USER);
    expect(r.__typename, JSON.stringify(r)).toBe('CreateUserSuccess');
    expect(calls()).toEqual(['GET /rest/embed/v1/headless/user/wt-emb', 'PUT /rest/embed/v1/headless/user/wt-emb']);
    expect((await upstreamUser({ identifier: 'wt-emb' }))?.metadata).toEqual({ colour: 'red', size: 1 });
    embedUser = r.user;
    expect(await identityOf({ userId: r.user.uuid }, 'EMBED')).toMatchObject({ nativeId: 'wt-emb', status: 'LINKED' });
  });

  it('ensureUser creates through learning once; a second ensure finds it without a call', async () => {
    proxy.resetLog();
    const first = await mutate(a.key, 'ensureUser', { externalUserId: 'wt-ensured' }, `created ${USER}`);
    expect(first).toMatchObject({ __typename: 'EnsureUserSuccess', created: true });
    const second = await mutate(a.key, 'ensureUser', { externalUserId: 'wt-ensured' }, `created ${USER}`);
    expect(second).toMatchObject({ created: false, user: { id: first.user.id } });
    expect(calls()).toEqual(['POST /rest/learning/accounts']);
    expect(await upstreamUser({ externalUserId: 'wt-ensured' })).not.toBeNull();
  });

  it(`createAccount → messaging POST /api/v1/accounts (a sub-account of the root); \
a deeper parent is unsupported there`, async () => {
    proxy.resetLog();
    const r = await mutate(a.key, 'createAccount', { name: 'WT region' }, 'account { id }');
    expect(r.__typename, JSON.stringify(r)).toBe('CreateAccountSuccess');
    expect(calls()).toEqual(['POST /rest/messaging/api/v1/accounts']);
    const upstream = await standIn.store.prisma.account.findFirst({
      where: { partnerId: standIn.partnerId, name: 'WT region' },
    });
    expect(upstream).toMatchObject({ parentId: standIn.partnerId });
    const accountId = uuidOf(r.account.id);
    expect(await identityOf({ accountId }, 'MESSAGING')).toMatchObject({
      nativeId: upstream!.id.toUpperCase(),
      status: 'LINKED',
      entity: 'ACCOUNT',
    });

    proxy.resetLog();
    const deeper = await mutate(
      a.key,
      'createAccount',
      { name: 'WT deeper', parentId: r.account.id },
      'account { id }',
    );
    expect(deeper).toMatchObject({
      __typename: 'UnsupportedByBackendError',
      code: 'UNSUPPORTED_BY_BACKEND',
      operation: 'createAccount',
      kind: 'MESSAGING',
    });
    expect(calls()).toEqual([]);
    expect(await h.store.prisma.account.count({ where: { name: 'WT deeper' } })).toBe(0);
  });

  it('upsertClient → embed PUT client; the store has the client and its identity', async () => {
    proxy.resetLog();
    const r = await mutate(
      a.key,
      'upsertClient',
      { identifier: 'wt-client', metadata: { tier: 'gold' } },
      'client { id identifier metadata }',
    );
    expect(r.__typename, JSON.stringify(r)).toBe('UpsertClientSuccess');
    expect(calls()).toEqual(['PUT /rest/embed/v1/headless/client/wt-client']);
    const upstream = await standIn.store.prisma.client.findFirst({
      where: { partnerId: standIn.partnerId, identifier: 'wt-client' },
    });
    expect(upstream?.metadata).toEqual({ tier: 'gold' });
    const client = await h.store.prisma.client.findFirstOrThrow({
      where: { partnerId: a.accountId, identifier: 'wt-client' },
    });
    expect(await identityOf({ clientId: client.id }, 'EMBED')).toMatchObject({
      nativeId: 'wt-client',
      status: 'LINKED',
      entity: 'CLIENT',
    });
  });

  it('updateUser of the catalog profile → catalog PUT /api/v1/users/{id}', async () => {
    proxy.resetLog();
    const upstreamBefore = await upstreamUser({ email: 'wt-cat@example.com' });
    const r = await mutate(a.key, 'updateUser', { id: catalogUser.id, firstName: 'Renamed' }, USER);
    expect(r).toMatchObject({ __typename: 'UpdateUserSuccess', user: { firstName: 'Renamed' } });
    expect(calls()).toEqual([`PUT /rest/catalog/api/v1/users/${upstreamBefore!.catalogId}`]);
    expect((await upstreamUser({ email: 'wt-cat@example.com' }))?.firstName).toBe('Renamed');
  });

  it(`updateUser replacing embed metadata → embed PUT user; \
the upstream ends with exactly the new object`, async () => {
    proxy.resetLog();
    const r = await mutate(a.key, 'updateUser', { id: embedUser.id, metadata: { colour: 'blue' } }, USER);
    expect(r).toMatchObject({ __typename: 'UpdateUserSuccess', user: { metadata: { colour: 'blue' } } });
    expect(calls()).toEqual(['PUT /rest/embed/v1/headless/user/wt-emb']);
    expect((await upstreamUser({ identifier: 'wt-emb' }))?.metadata).toEqual({ colour: 'blue' });
  });

  it('disableUser → learning DELETE /accounts/{id}; enableUser then is unsupported by the learning API', async () => {
    proxy.resetLog();
    const upstream = await upstreamUser({ externalUserId: 'wt-learner' });
    const r = await mutate(a.key, 'disableUser', { id: learningUser.id }, USER);
    expect(r).toMatchObject({ __typename: 'DisableUserSuccess', user: { status: 'DISABLED' } });
    expect(calls()).toEqual([`DELETE /rest/learning/accounts/${upstream!.id}`]);
    expect((await upstreamUser({ externalUserId: 'wt-learner' }))?.status).toBe('DISABLED');

    const enabled = await mutate(a.key, 'enableUser', { id: learningUser.id }, USER);
    expect(enabled).toMatchObject({
      __typename: 'UnsupportedByBackendError',
      operation: 'enableUser',
      kind: 'LEARNING',
    });
    expect((await h.store.prisma.user.findUniqueOrThrow({ where: { id: learningUser.uuid } })).status).toBe('DISABLED');
  });

  it(`a key that exists only upstream is a ConflictError naming the key and the backend, \
and nothing is stored`, async () => {
    const ctx = await standIn.context();
    await standInCreateUser(ctx, { externalUserId: 'wt-upstream-only' });
    await standInCreateUser(ctx, { email: 'wt-upstream@example.com' });
    await standInCreateUser(ctx, { identifier: 'wt-upstream-emb' });
    for (const [input, field, kind] of [
      [{ externalUserId: 'wt-upstream-only' }, 'externalUserId', 'learning'],
      [{ email: 'wt-upstream@example.com' }, 'email', 'catalog'],
      [{ identifier: 'wt-upstream-emb' }, 'identifier', 'embed'],
    ] as const) {
      const r = await mutate(a.key, 'createUser', input, USER);
      expect(r, JSON.stringify(r)).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT', field });
      expect(r.message).toContain(`${kind} backend`);
      expect(r.message).toContain(Object.values(input)[0]);
      expect(await h.store.prisma.user.count({ where: { partnerId: a.accountId, ...input } })).toBe(0);
    }
    // ensureUser answers the same conflict (the learning API cannot say who holds the key).
    const ensured = await mutate(a.key, 'ensureUser', { externalUserId: 'wt-upstream-only' }, `created ${USER}`);
    expect(ensured).toMatchObject({ __typename: 'ConflictError', field: 'externalUserId' });
  });

  it(`a change that would reach two backends goes to the outbox: success at once, \
no call now (test/outbox.test.ts delivers)`, async () => {
    proxy.resetLog();
    const r = await mutate(
      a.key,
      'createUser',
      { externalUserId: 'wt-two', email: 'wt-two@example.com' },
      `${USER} pendingChanges { backend { kind } operation status }`,
    );
    expect(r).toMatchObject({
      __typename: 'CreateUserSuccess',
      pendingChanges: [
        { backend: { kind: 'LEARNING' }, operation: 'CREATE_USER', status: 'PENDING' },
        { backend: { kind: 'CATALOG' }, operation: 'CREATE_USER', status: 'PENDING' },
      ],
    });
    expect(calls()).toEqual([]);
    expect(await h.store.prisma.user.count({ where: { partnerId: a.accountId, externalUserId: 'wt-two' } })).toBe(1);
  });

  it("partner B's mutations never reach A's backends", async () => {
    proxy.resetLog();
    expect(
      (
        await mutate(
          b.key,
          'createUser',
          { externalUserId: 'wt-b', email: 'wt-b@example.com', identifier: 'wt-b-emb' },
          USER,
        )
      ).__typename,
    ).toBe('CreateUserSuccess');
    expect((await mutate(b.key, 'createAccount', { name: 'WT B region' }, 'account { id }')).__typename).toBe(
      'CreateAccountSuccess',
    );
    expect(
      (await mutate(b.key, 'upsertClient', { identifier: 'wt-client', metadata: { b: true } }, 'client { id }'))
        .__typename,
    ).toBe('UpsertClientSuccess');
    // B's key is A's taken one upstream: B is hosted, so it is B's own.
    expect((await mutate(b.key, 'createUser', { externalUserId: 'wt-upstream-only' }, USER)).__typename).toBe(
      'CreateUserSuccess',
    );
    expect(calls()).toEqual([]);
    expect(await h.store.prisma.identity.count({ where: { partnerId: b.accountId } })).toBe(0);
  });

  it(`an upstream down is a BackendUnavailableError with retryAfter, \
and nothing changed in the store or upstream`, async () => {
    proxy.resetLog();
    const audited = () => h.store.prisma.auditEvent.count({ where: { partnerId: a.accountId } });
    const auditBefore = await audited();
    const identitiesBefore = await h.store.prisma.identity.count({ where: { partnerId: a.accountId } });
    proxy.add({ kind: 'status', status: 503, retryAfter: '120', match: (r) => r.path.startsWith('/rest/learning') });
    const r = await mutate(a.key, 'createUser', { externalUserId: 'wt-down' }, USER);
    expect(r).toMatchObject({
      __typename: 'BackendUnavailableError',
      code: 'BACKEND_UNAVAILABLE',
      kind: 'LEARNING',
      backend: { id: expect.any(String) },
    });
    expect(r.retryAfter).toBeGreaterThanOrEqual(100);
    expect(r.retryAfter).toBeLessThanOrEqual(120);
    // A create is not sent again after a 503: it may have been applied.
    expect(calls()).toEqual(['POST /rest/learning/accounts']);
    expect(await h.store.prisma.user.count({ where: { partnerId: a.accountId, externalUserId: 'wt-down' } })).toBe(0);
    expect(await upstreamUser({ externalUserId: 'wt-down' })).toBeNull();

    proxy.add({ kind: 'status', status: 503, retryAfter: '120', match: (r) => r.path.startsWith('/rest/catalog') });
    const before = await h.store.prisma.user.findUniqueOrThrow({ where: { id: catalogUser.uuid } });
    const updated = await mutate(a.key, 'updateUser', { id: catalogUser.id, firstName: 'Never' }, USER);
    expect(updated).toMatchObject({ __typename: 'BackendUnavailableError', kind: 'CATALOG' });
    expect(updated.retryAfter).toBeGreaterThanOrEqual(100);
    expect(await h.store.prisma.user.findUniqueOrThrow({ where: { id: catalogUser.uuid } })).toEqual(before);
    expect((await upstreamUser({ email: 'wt-cat@example.com' }))?.firstName).toBe('Renamed');

    // The learning dialect answers the same error 503 with Retry-After (the backend asked not to be called for 120 s).
    const rest = await h.request('/rest/learning/accounts', {
      method: 'POST',
      token: a.key,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ external_user_id: 'wt-rest-down' }),
    });
    expect(rest.status).toBe(503);
    expect(Number(rest.headers.get('retry-after'))).toBeGreaterThanOrEqual(100);
    expect(JSON.stringify(await rest.json())).toContain('learning backend');
    expect(await h.store.prisma.user.count({ where: { partnerId: a.accountId, externalUserId: 'wt-rest-down' } })).toBe(
      0,
    );
    // The refused transactions left no audit event and no identity either.
    expect(await audited()).toBe(auditBefore);
    expect(await h.store.prisma.identity.count({ where: { partnerId: a.accountId } })).toBe(identitiesBefore);
  });
});

// The rest of SPEC §10.4's single-backend mapping: deletes, unmerge, createUsers, and a
// retried transaction that must not send its backend call twice.
describe('write-through to one connected backend: deletes, unmerge, bulk', () => {
  const gone = (where: Record<string, unknown>) =>
    standIn.store.prisma.user.findFirst({ where: { partnerId: standIn.partnerId, ...where } });
  const stored = (uuid: string) => h.store.prisma.user.findUniqueOrThrow({ where: { id: uuid } });

  // The tests above left learning and catalog down, asking not to be called for 120 s
  // (Retry-After): they are up again, and the transports fresh, as a restarted gateway's.
  beforeAll(() => {
    proxy.clear();
    for (const backend of Object.values(backends)) dropConnector(backend.id);
  });

  it('deleteUser of a catalog user → catalog DELETE /api/v1/users/{id}; the identity is GONE', async () => {
    const created = await mutate(a.key, 'createUser', { email: 'wt-del-cat@example.com' }, USER);
    const upstream = await upstreamUser({ email: 'wt-del-cat@example.com' });
    proxy.resetLog();
    const r = await mutate(a.key, 'deleteUser', { id: created.user.id, action: 'DELETE' }, 'deletedUserId');
    expect(r.__typename, JSON.stringify(r)).toBe('DeleteUserSuccess');
    expect(calls()).toEqual([`DELETE /rest/catalog/api/v1/users/${upstream!.catalogId}`]);
    expect((await gone({ id: upstream!.id }))?.status).toBe('DELETED');
    expect((await stored(created.user.uuid)).status).toBe('DELETED');
    expect((await identityOf({ userId: created.user.uuid }, 'CATALOG'))?.status).toBe('GONE');
  });

  it(`deleteUser of an embed user → embed DELETE user with action and reallocateTo = the receiver's embed \
identifier`, async () => {
    const leaving = await mutate(a.key, 'createUser', { identifier: 'wt-del-emb' }, USER);
    const receiver = await mutate(a.key, 'createUser', { identifier: 'wt-del-recv' }, USER);
    const hosted = await mutate(a.key, 'createUser', { email: 'wt-del-no-embed@example.com' }, USER);
    proxy.resetLog();
    // A receiver without an embed user cannot receive the courses there: nothing is called or changed.
    const refused = await mutate(
      a.key,
      'deleteUser',
      { id: leaving.user.id, action: 'REALLOCATE', reallocateTo: hosted.user.id },
      'deletedUserId',
    );
    expect(refused).toMatchObject({ __typename: 'UnsupportedByBackendError', kind: 'EMBED', operation: 'deleteUser' });
    expect(calls()).toEqual([]);
    expect((await stored(leaving.user.uuid)).status).toBe('ACTIVE');

    const r = await mutate(
      a.key,
      'deleteUser',
      { id: leaving.user.id, action: 'REALLOCATE', reallocateTo: receiver.user.id },
      'deletedUserId',
    );
    expect(r.__typename, JSON.stringify(r)).toBe('DeleteUserSuccess');
    expect(calls()).toEqual(['DELETE /rest/embed/v1/headless/user/wt-del-emb']);
    expect(proxy.log[0]!.query).toEqual({ action: 'reallocate', reallocateTo: 'wt-del-recv' });
    expect((await gone({ identifier: 'wt-del-emb' }))?.status).toBe('DELETED');
    expect((await identityOf({ userId: leaving.user.uuid }, 'EMBED'))?.status).toBe('GONE');
  });

  it('deleteUser of a learning user → learning DELETE /accounts/{id} (the learning API disables)', async () => {
    const created = await mutate(a.key, 'createUser', { externalUserId: 'wt-del-learner' }, USER);
    const upstream = await upstreamUser({ externalUserId: 'wt-del-learner' });
    proxy.resetLog();
    const r = await mutate(a.key, 'deleteUser', { id: created.user.id, action: 'IGNORE' }, 'deletedUserId');
    expect(r.__typename, JSON.stringify(r)).toBe('DeleteUserSuccess');
    expect(calls()).toEqual([`DELETE /rest/learning/accounts/${upstream!.id}`]);
    expect((await upstreamUser({ externalUserId: 'wt-del-learner' }))?.status).toBe('DISABLED');
    expect((await stored(created.user.uuid)).status).toBe('DELETED');
  });

  it('deleteUser with the backend down is a BackendUnavailableError and nothing changed, here or there', async () => {
    const created = await mutate(a.key, 'createUser', { email: 'wt-del-down@example.com' }, USER);
    const before = await stored(created.user.uuid);
    proxy.resetLog();
    // Longer than the transport waits for (60 s): the call fails at once as unavailable.
    proxy.add({ kind: 'status', status: 503, retryAfter: '120', match: (r) => r.path.startsWith('/rest/catalog') });
    try {
      const r = await mutate(a.key, 'deleteUser', { id: created.user.id }, 'deletedUserId');
      expect(r).toMatchObject({ __typename: 'BackendUnavailableError', kind: 'CATALOG' });
      expect(r.retryAfter).toBeGreaterThanOrEqual(100);
      // A DELETE is idempotent, so the transport may retry it; it never got through.
      const upstream = await upstreamUser({ email: 'wt-del-down@example.com' });
      expect(new Set(calls())).toEqual(new Set([`DELETE /rest/catalog/api/v1/users/${upstream!.catalogId}`]));
      expect(await stored(created.user.uuid)).toEqual(before);
      expect((await upstreamUser({ email: 'wt-del-down@example.com' }))?.status).toBe('ACTIVE');
      expect((await identityOf({ userId: created.user.uuid }, 'CATALOG'))?.status).toBe('LINKED');
    } finally {
      proxy.clear();
      dropConnector(backends.CATALOG.id);
    }
  });

  it('deleteUserDependencies of a catalog user → catalog DELETE ?only_orders_and_enrollments=true', async () => {
    const created = await mutate(a.key, 'createUser', { email: 'wt-deps@example.com' }, USER);
    const upstream = await upstreamUser({ email: 'wt-deps@example.com' });
    proxy.resetLog();
    const r = await mutate(
      a.key,
      'deleteUserDependencies',
      { id: created.user.id },
      'deletedOrders deletedEnrollments',
    );
    expect(r.__typename, JSON.stringify(r)).toBe('DeleteUserDependenciesSuccess');
    expect(calls()).toEqual([`DELETE /rest/catalog/api/v1/users/${upstream!.catalogId}`]);
    expect(proxy.log[0]!.query).toEqual({ only_orders_and_enrollments: 'true' });
    // Only the dependencies: the user stays, here and there.
    expect((await upstreamUser({ email: 'wt-deps@example.com' }))?.status).toBe('ACTIVE');
    expect((await stored(created.user.uuid)).status).toBe('ACTIVE');
  });

  it('unmergeUser of a catalog user merged upstream → catalog PUT with clear_merged_into_user_id=true', async () => {
    const source = await mutate(a.key, 'createUser', { email: 'wt-merged@example.com' }, USER);
    const target = await mutate(a.key, 'createUser', { email: 'wt-merge-target@example.com' }, USER);
    const upSource = await upstreamUser({ email: 'wt-merged@example.com' });
    const upTarget = await upstreamUser({ email: 'wt-merge-target@example.com' });
    // Merged upstream, as a sync would have seen it: the catalog record points at its target.
    await standIn.store.prisma.user.update({
      where: { id: upSource!.id },
      data: { status: 'MERGED', mergedIntoId: upTarget!.id },
    });
    const identity = await identityOf({ userId: source.user.uuid }, 'CATALOG');
    await h.store.prisma.identity.update({
      where: { id: identity!.id },
      data: { data: { ...(identity!.data as object), merged_into_user_id: upTarget!.catalogId } },
    });
    await h.store.prisma.user.update({
      where: { id: source.user.uuid },
      data: { status: 'MERGED', mergedIntoId: target.user.uuid },
    });
    proxy.resetLog();
    const r = await mutate(a.key, 'unmergeUser', { id: source.user.id }, USER);
    expect(r).toMatchObject({ __typename: 'UnmergeUserSuccess', user: { status: 'ACTIVE' } });
    expect(calls()).toEqual([`PUT /rest/catalog/api/v1/users/${upSource!.catalogId}`]);
    expect(await upstreamUser({ id: upSource!.id })).toMatchObject({ status: 'ACTIVE', mergedIntoId: null });
    expect(((await identityOf({ userId: source.user.uuid }, 'CATALOG'))!.data as any).merged_into_user_id).toBeNull();
    // Merged only here (not upstream): no call.
    await h.store.prisma.user.update({
      where: { id: source.user.uuid },
      data: { status: 'MERGED', mergedIntoId: target.user.uuid },
    });
    proxy.resetLog();
    expect((await mutate(a.key, 'unmergeUser', { id: source.user.id }, USER)).__typename).toBe('UnmergeUserSuccess');
    expect(calls()).toEqual([]);
  });

  it('deleteClient → embed DELETE client; its users there go with it; the backend down changes nothing', async () => {
    expect(
      (await mutate(a.key, 'upsertClient', { identifier: 'wt-del-client', metadata: {} }, 'client { id }')).__typename,
    ).toBe('UpsertClientSuccess');
    const member = await mutate(
      a.key,
      'createUser',
      { identifier: 'wt-del-client-user', clientIdentifier: 'wt-del-client' },
      USER,
    );
    expect(member.__typename, JSON.stringify(member)).toBe('CreateUserSuccess');
    proxy.resetLog();
    proxy.add({ kind: 'status', status: 503, match: (r) => r.path.startsWith('/rest/embed') });
    const down = await mutate(a.key, 'deleteClient', { identifier: 'wt-del-client' }, 'deletedClientId');
    proxy.clear();
    dropConnector(backends.EMBED.id);
    expect(down).toMatchObject({ __typename: 'BackendUnavailableError', kind: 'EMBED' });
    expect(await h.store.prisma.client.count({ where: { partnerId: a.accountId, identifier: 'wt-del-client' } })).toBe(
      1,
    );
    expect((await stored(member.user.uuid)).status).toBe('ACTIVE');

    proxy.resetLog();
    const r = await mutate(a.key, 'deleteClient', { identifier: 'wt-del-client' }, 'deletedClientId');
    expect(r.__typename, JSON.stringify(r)).toBe('DeleteClientSuccess');
    expect(calls()).toEqual(['DELETE /rest/embed/v1/headless/client/wt-del-client']);
    expect(
      await standIn.store.prisma.client.count({ where: { partnerId: standIn.partnerId, identifier: 'wt-del-client' } }),
    ).toBe(0);
    expect((await gone({ identifier: 'wt-del-client-user' }))?.status).toBe('DELETED');
    expect((await stored(member.user.uuid)).status).toBe('DELETED');
    expect((await identityOf({ userId: member.user.uuid }, 'EMBED'))?.status).toBe('GONE');
  });

  it(`createUsers writes each item through on its own: one taken upstream fails only itself, \
one in two backends goes to the outbox`, async () => {
    // Taken upstream only (the stand-in's own user): learning answers 422.
    await standInCreateUser(await standIn.context(), { externalUserId: 'wt-bulk-upstream' });
    proxy.resetLog();
    const r = await h.gql(
      'mutation ($input: CreateUsersInput!) { createUsers(input: $input) { __typename ' +
        '... on CreateUsersSuccess { results { __typename ... on CreateUserSuccess ' +
        `{ ${USER} pendingChanges { backend { kind } operation } } ... on Error { code message } } } } }`,
      {
        input: {
          users: [
            { externalUserId: 'wt-bulk-1' },
            { externalUserId: 'wt-bulk-upstream' },
            { email: 'wt-bulk-2@example.com' },
            { externalUserId: 'wt-bulk-two', email: 'wt-bulk-two@example.com' },
            { externalUserId: 'wt-bulk-3' },
          ],
        },
      },
      { token: a.key },
    );
    expect(r.errors).toBeUndefined();
    const results = r.data.createUsers.results;
    expect(results.map((i: any) => i.__typename)).toEqual([
      'CreateUserSuccess',
      'ConflictError',
      'CreateUserSuccess',
      'CreateUserSuccess',
      'CreateUserSuccess',
    ]);
    expect(results[1].message).toContain('learning backend');
    expect(results[3].pendingChanges).toEqual([
      { backend: { kind: 'LEARNING' }, operation: 'CREATE_USER' },
      { backend: { kind: 'CATALOG' }, operation: 'CREATE_USER' },
    ]);
    expect(results[0].pendingChanges).toEqual([]);
    // One call per item that reaches one backend, none for the one refused before nor the outbox's.
    expect(calls().sort()).toEqual([
      'POST /rest/catalog/api/v1/users',
      'POST /rest/learning/accounts',
      'POST /rest/learning/accounts',
      'POST /rest/learning/accounts',
    ]);
    expect(proxy.maxInFlight).toBeLessThanOrEqual(h.config.backends.concurrency);
    for (const [i, kind] of [
      [0, 'LEARNING'],
      [2, 'CATALOG'],
      [4, 'LEARNING'],
    ] as const) {
      expect((await identityOf({ userId: results[i].user.uuid }, kind))?.status).toBe('LINKED');
    }
    expect(await upstreamUser({ externalUserId: 'wt-bulk-1' })).not.toBeNull();
    expect(
      await h.store.prisma.user.count({ where: { partnerId: a.accountId, externalUserId: 'wt-bulk-upstream' } }),
    ).toBe(0);
    expect(await h.store.prisma.user.count({ where: { partnerId: a.accountId, externalUserId: 'wt-bulk-two' } })).toBe(
      1,
    );
  });

  it(`createUsers retried with its idempotencyKey answers an item's BackendUnavailableError again, \
without a call`, async () => {
    const bulk = () =>
      h.gql(
        'mutation ($input: CreateUsersInput!) { createUsers(input: $input) { ... on CreateUsersSuccess ' +
          '{ results { __typename ... on BackendUnavailableError { kind retryAfter } } } } }',
        { input: { users: [{ externalUserId: 'wt-bulk-down' }], idempotencyKey: 'wt-bulk-down-key' } },
        { token: a.key },
      );
    proxy.resetLog();
    proxy.add({ kind: 'status', status: 503, retryAfter: '120', match: (r) => r.path.startsWith('/rest/learning') });
    try {
      const first = await bulk();
      expect(first.data.createUsers.results).toEqual([
        { __typename: 'BackendUnavailableError', kind: 'LEARNING', retryAfter: expect.any(Number) },
      ]);
      expect(calls()).toEqual(['POST /rest/learning/accounts']);
      proxy.resetLog();
      const again = await bulk();
      expect(again.data.createUsers.results).toEqual(first.data.createUsers.results);
      expect(calls()).toEqual([]);
    } finally {
      proxy.clear();
      dropConnector(backends.LEARNING.id);
    }
  });

  it(`a transaction retried after its backend call does not send the call again (one POST, \
the user stored once)`, async () => {
    const prisma = h.store.prisma as any;
    const original = prisma.$transaction;
    let injected = 0;
    // The first transaction that wrote a user is made to lose a race at its end, as a
    // serialization failure would: the runner runs the whole callback again.
    prisma.$transaction = function (work: any, options: any) {
      if (typeof work !== 'function') return original.call(this, work, options);
      return original.call(
        this,
        async (tx: any) => {
          const result = await work(tx);
          if (!injected && (await tx.user.count({ where: { externalUserId: 'wt-retried' } }))) {
            injected++;
            throw Object.assign(new Error('injected serialization failure'), { code: 'P2034' });
          }
          return result;
        },
        options,
      );
    };
    proxy.resetLog();
    try {
      const r = await mutate(a.key, 'createUser', { externalUserId: 'wt-retried' }, USER);
      expect(r.__typename, JSON.stringify(r)).toBe('CreateUserSuccess');
    } finally {
      prisma.$transaction = original;
    }
    expect(injected).toBe(1);
    expect(calls()).toEqual(['POST /rest/learning/accounts']);
    expect(await h.store.prisma.user.count({ where: { partnerId: a.accountId, externalUserId: 'wt-retried' } })).toBe(
      1,
    );
    const upstream = await upstreamUser({ externalUserId: 'wt-retried' });
    expect(
      await h.store.prisma.identity.findFirst({ where: { backendId: backends.LEARNING.id, key: 'wt-retried' } }),
    ).toMatchObject({ nativeId: upstream!.id, status: 'LINKED' });
  });

  it(`partner B's deletes, unmerge and bulk never reach A's backends, \
and A's users are not B's to delete`, async () => {
    const mine = await mutate(b.key, 'createUser', { email: 'wt-b-del@example.com', identifier: 'wt-b-del' }, USER);
    const bulkB = await h.gql(
      'mutation ($input: CreateUsersInput!) { createUsers(input: $input) ' +
        '{ ... on CreateUsersSuccess { results { __typename } } } }',
      { input: { users: [{ externalUserId: 'wt-bulk-1' }, { email: 'wt-b-bulk@example.com' }] } },
      { token: b.key },
    );
    expect(bulkB.data.createUsers.results.map((i: any) => i.__typename)).toEqual([
      'CreateUserSuccess',
      'CreateUserSuccess',
    ]);
    const aUser = await mutate(a.key, 'createUser', { email: 'wt-a-kept@example.com' }, USER);
    proxy.resetLog();
    expect((await mutate(b.key, 'deleteUserDependencies', { id: mine.user.id }, 'deletedOrders')).__typename).toBe(
      'DeleteUserDependenciesSuccess',
    );
    expect((await mutate(b.key, 'deleteUser', { id: mine.user.id }, 'deletedUserId')).__typename).toBe(
      'DeleteUserSuccess',
    );
    expect((await mutate(b.key, 'deleteUser', { id: aUser.user.id }, 'deletedUserId')).__typename).toBe(
      'NotFoundError',
    );
    expect((await mutate(b.key, 'deleteUserDependencies', { id: aUser.user.id }, 'deletedOrders')).__typename).toBe(
      'NotFoundError',
    );
    expect((await mutate(b.key, 'unmergeUser', { id: aUser.user.id }, USER)).__typename).toBe('NotFoundError');
    expect((await mutate(b.key, 'deleteClient', { identifier: 'wt-client' }, 'deletedClientId')).__typename).toBe(
      'DeleteClientSuccess',
    );
    expect(calls()).toEqual([]);
    expect((await stored(aUser.user.uuid)).status).toBe('ACTIVE');
    expect(await h.store.prisma.identity.count({ where: { partnerId: b.accountId } })).toBe(0);
  });
});

// A hosted dialect whose delete reaches another kind's connected backend answers that backend's
// errors in its own envelope: 503 with Retry-After (unavailable), 501 (unsupported).
describe("the REST dialects answer a connected backend's errors in their own envelope", () => {
  const connect = async (partner: Partner, kind: BackendKind) => {
    const r = await h.gql(
      CONNECT,
      { input: { kind, baseUrl: proxy.url + STANDIN_PREFIXES[kind], credential: standIn.credentials[kind] } },
      { token: partner.key },
    );
    expect(r.data.connectBackend.__typename, JSON.stringify(r.data)).toBe('ConnectBackendSuccess');
  };
  /** A fresh transport for the partner's backend (its Retry-After gate gone), as after a restart. */
  const restart = async (partner: Partner, kind: BackendKind) =>
    dropConnector(
      (await h.store.prisma.backend.findFirstOrThrow({ where: { partnerId: partner.accountId, kind } })).id,
    );
  let c: Partner;
  let d: Partner;

  beforeAll(async () => {
    proxy.clear();
    c = await h.newPartner('Write-through C (catalog connected)', 'AUTOMATE');
    d = await h.newPartner('Write-through D (embed connected)', 'AUTOMATE');
    await connect(c, 'CATALOG');
    await connect(d, 'EMBED');
  }, 120_000);

  it(`embed dialect DELETE user of a catalog user: 503 + Retry-After, then 501, in the embed envelope; \
nothing changed`, async () => {
    const user = await mutate(c.key, 'createUser', { email: 'wt-rest-cat@example.com', identifier: 'wt-rest-c' }, USER);
    expect(user.__typename, JSON.stringify(user)).toBe('CreateUserSuccess');
    const del = () =>
      h.request('/rest/embed/v1/headless/user/wt-rest-c?action=delete', { method: 'DELETE', token: c.key });
    try {
      proxy.add({ kind: 'status', status: 503, retryAfter: '120', match: (r) => r.method === 'DELETE' });
      const down = await del();
      expect(down.status).toBe(503);
      expect(Number(down.headers.get('retry-after'))).toBeGreaterThanOrEqual(100);
      const body = await down.json();
      expect(body).toMatchObject({
        error: { code: 'backend_unavailable', message: expect.stringContaining('catalog backend') },
      });
      expect(JSON.stringify(body)).not.toMatch(/stack|127\.0\.0\.1|Bearer/);
      proxy.clear();
      await restart(c, 'CATALOG');
      proxy.add({ kind: 'status', status: 501, match: (r) => r.method === 'DELETE' });
      const unsupported = await del();
      expect(unsupported.status).toBe(501);
      expect(await unsupported.json()).toMatchObject({ error: { code: 'unsupported_by_backend' } });
    } finally {
      proxy.clear();
    }
    expect((await h.store.prisma.user.findUniqueOrThrow({ where: { id: user.user.uuid } })).status).toBe('ACTIVE');
    expect((await del()).status).toBe(204);
    expect((await h.store.prisma.user.findUniqueOrThrow({ where: { id: user.user.uuid } })).status).toBe('DELETED');
  });

  it(`catalog dialect DELETE user of an embed user: 503 + Retry-After, then 501, in the catalog envelope; \
nothing changed`, async () => {
    const user = await mutate(d.key, 'createUser', { email: 'wt-rest-emb@example.com', identifier: 'wt-rest-d' }, USER);
    expect(user.__typename, JSON.stringify(user)).toBe('CreateUserSuccess');
    const { catalogId } = await h.store.prisma.user.findUniqueOrThrow({ where: { id: user.user.uuid } });
    const del = () => h.request(`/rest/catalog/api/v1/users/${catalogId}`, { method: 'DELETE', token: d.key });
    try {
      proxy.add({ kind: 'status', status: 503, retryAfter: '120', match: (r) => r.method === 'DELETE' });
      const down = await del();
      expect(down.status).toBe(503);
      expect(Number(down.headers.get('retry-after'))).toBeGreaterThanOrEqual(100);
      expect(await down.json()).toMatchObject({ errors: [{ message: expect.stringContaining('embed backend') }] });
      proxy.clear();
      await restart(d, 'EMBED');
      proxy.add({ kind: 'status', status: 501, match: (r) => r.method === 'DELETE' });
      const unsupported = await del();
      expect(unsupported.status).toBe(501);
      expect(await unsupported.json()).toMatchObject({
        errors: [{ message: expect.stringContaining('embed backend') }],
      });
    } finally {
      proxy.clear();
    }
    expect((await h.store.prisma.user.findUniqueOrThrow({ where: { id: user.user.uuid } })).status).toBe('ACTIVE');
  });

  it(`the OpenAPI documents list 503 (with Retry-After) \
on every operation and 501 on the deletes that reach another backend`, async () => {
    for (const dialect of ['learning', 'catalog', 'messaging', 'embed']) {
      const doc = await (await h.request(`/rest/${dialect}/openapi.json`, { token: a.key })).json();
      for (const [path, item] of Object.entries<any>(doc.paths))
        for (const [method, op] of Object.entries<any>(item)) {
          expect(op.responses['503'], `${dialect} ${method} ${path}`).toBeDefined();
          expect(op.responses['503'].headers?.['Retry-After'], `${dialect} ${method} ${path}`).toBeDefined();
        }
    }
    const catalog = await (await h.request('/rest/catalog/openapi.json', { token: a.key })).json();
    expect(catalog.paths['/api/v1/users/{id}'].delete.responses['501']).toBeDefined();
    const embed = await (await h.request('/rest/embed/openapi.json', { token: a.key })).json();
    expect(embed.paths['/v1/headless/user/{identifier}'].delete.responses['501']).toBeDefined();
  });
});
