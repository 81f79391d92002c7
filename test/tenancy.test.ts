// The cross-partner probe: partner B's admin and B's plain user try every query and every
// mutation with partner A's ids. Nothing of A is found, and A's rows do not change.
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Harness, type Partner } from './helpers/app.js';
import { mutate } from './helpers/fixtures.js';
import { hs256 } from './helpers/jwt.js';
import { schema } from '../src/schema.js';

const h = useHarness();

interface World {
  partner: Partner;
  user: { id: string; uuid: string };
  other: { id: string; uuid: string };
  account: string;
  client: string;
  clientGlobal: string;
  course: string;
  enrollment: string;
  order: string;
  apiKey: string;
  backend: string;
  /**
   * A catalog identity (native id `${prefix}-1`) of the backend, linked to `other`, with an OPEN
   * conflict naming `user`.
   */
  identityNativeId: string;
  conflict: string;
  /** A FAILED pending change (SPEC §10.7) of `other`'s catalog identity, so the worker leaves it alone. */
  pendingChange: string;
}

let A: World;
let B: World;
let bUserToken: string;

async function world(name: string, prefix: string): Promise<World> {
  const partner = await h.newPartner(name, 'AUTOMATE');
  const sel = '... on CreateUserSuccess { user { id uuid } }';
  const account = (
    await mutate(
      h,
      partner.key,
      'createAccount',
      { name: `${prefix} sub` },
      '... on CreateAccountSuccess { account { id } }',
    )
  ).account.id;
  const client = await mutate(
    h,
    partner.key,
    'upsertClient',
    { identifier: `${prefix}-client`, metadata: { secret: prefix } },
    '... on UpsertClientSuccess { client { id } }',
  );
  const user = (
    await mutate(
      h,
      partner.key,
      'createUser',
      {
        externalUserId: `${prefix}-ext`,
        email: `${prefix}@example.com`,
        identifier: `${prefix}-emb`,
        clientIdentifier: `${prefix}-client`,
        accountId: account,
      },
      sel,
    )
  ).user;
  const other = (await mutate(h, partner.key, 'createUser', { externalUserId: `${prefix}-other` }, sel)).user;
  await mutate(h, partner.key, 'grantEntitlements', { userId: user.id, kinds: ['KNERD'] });
  const course = (
    await mutate(
      h,
      partner.key,
      'createCourse',
      { ownerId: user.id, title: `${prefix} course` },
      '... on CreateCourseSuccess { course { id } }',
    )
  ).course.id;
  const enrollment = (
    await mutate(
      h,
      partner.key,
      'enrollUser',
      { userId: other.id, courseId: course },
      '... on EnrollUserSuccess { enrollment { id } }',
    )
  ).enrollment.id;
  const order = (
    await mutate(
      h,
      partner.key,
      'recordOrder',
      { userId: other.id, courseId: course, amountCents: 100 },
      '... on RecordOrderSuccess { order { id } }',
    )
  ).order.id;
  const apiKey = (
    await mutate(
      h,
      partner.key,
      'createApiKey',
      { name: `${prefix} key` },
      '... on CreateApiKeySuccess { apiKey { id } }',
    )
  ).apiKey.id;
  // Stored directly: this harness has no SECRETS_KEY, and no probe opens the credential.
  const backend = await h.store.prisma.backend.create({
    data: {
      partnerId: partner.accountId,
      kind: 'CATALOG',
      activeKind: 'CATALOG',
      baseUrl: `https://${prefix}.example.com`,
      credential: 'v1:not:opened:here',
    },
  });
  await h.store.prisma.syncRun.create({ data: { partnerId: partner.accountId, backendId: backend.id } });
  // One identity of that backend on `other`, and a conflict about it naming `user` (SPEC §10.2).
  const identity = await h.store.prisma.identity.create({
    data: {
      partnerId: partner.accountId,
      backendId: backend.id,
      kind: 'CATALOG',
      stream: 'catalog.users',
      entity: 'USER',
      nativeId: `${prefix}-1`,
      status: 'LINKED',
      userId: other.uuid,
      key: `${prefix}-other@example.com`,
      email: `${prefix}-other@example.com`,
      data: { id: 1, email_address: `${prefix}-other@example.com` },
      dataHash: 'x',
      syncedAt: new Date(),
    },
  });
  const conflict = await h.store.prisma.linkConflict.create({
    data: { partnerId: partner.accountId, identityId: identity.id, candidateIds: [user.uuid], reason: 'MATCH' },
  });
  const pending = await h.store.prisma.pendingChange.create({
    data: {
      partnerId: partner.accountId,
      userId: other.uuid,
      backendId: backend.id,
      operation: 'DELETE_USER',
      payload: { op: 'catalog.deleteUser', nativeId: identity.nativeId },
      status: 'FAILED',
      attempts: 12,
      lastError: 'the catalog backend refused it',
    },
  });
  return {
    partner,
    user,
    other,
    account,
    client: `${prefix}-client`,
    clientGlobal: client.client.id,
    course,
    enrollment,
    order,
    apiKey,
    backend: Buffer.from(`Backend:${backend.id}`).toString('base64'),
    identityNativeId: identity.nativeId,
    conflict: Buffer.from(`LinkConflict:${conflict.id}`).toString('base64'),
    pendingChange: Buffer.from(`PendingChange:${pending.id}`).toString('base64'),
  };
}

/** Every row of a partner, minus timestamps that reads may legitimately touch. */
async function dump(h: Harness, partnerId: string) {
  const p = h.store.prisma;
  const users = await p.user.findMany({ where: { partnerId }, orderBy: { id: 'asc' } });
  const userIds = users.map((u) => u.id);
  return JSON.stringify({
    accounts: await p.account.findMany({ where: { partnerId }, orderBy: { id: 'asc' } }),
    users,
    clients: await p.client.findMany({ where: { partnerId }, orderBy: { id: 'asc' } }),
    entitlements: await p.entitlement.findMany({ where: { userId: { in: userIds } }, orderBy: { id: 'asc' } }),
    courses: await p.course.findMany({ where: { partnerId }, orderBy: { id: 'asc' } }),
    enrollments: await p.enrollment.findMany({ where: { partnerId }, orderBy: { id: 'asc' } }),
    orders: await p.order.findMany({ where: { partnerId }, orderBy: { id: 'asc' } }),
    admins: await p.accountAdmin.findMany({ where: { userId: { in: userIds } }, orderBy: { id: 'asc' } }),
    apiKeys: (await p.apiKey.findMany({ where: { partnerId }, orderBy: { id: 'asc' } })).map(
      ({ lastUsedAt: _, ...k }) => k,
    ),
    backends: await p.backend.findMany({ where: { partnerId }, orderBy: { id: 'asc' } }),
    syncRuns: await p.syncRun.findMany({ where: { partnerId }, orderBy: { id: 'asc' } }),
    identities: await p.identity.findMany({ where: { partnerId }, orderBy: { id: 'asc' } }),
    linkConflicts: await p.linkConflict.findMany({ where: { partnerId }, orderBy: { id: 'asc' } }),
    pendingChanges: await p.pendingChange.findMany({ where: { partnerId }, orderBy: { id: 'asc' } }),
  });
}

beforeAll(async () => {
  if (!h.ready) return;
  A = await world('Tenant A', 'a');
  B = await world('Tenant B', 'b');
  bUserToken = await hs256(B.other.uuid);
});

/** Mutations, each with inputs that point at A from B's side. */
const MUTATION_PROBES: Record<string, (a: World, b: World) => Record<string, unknown>[]> = {
  createPartner: () => [{ name: 'x' }],
  createAccount: (a) => [{ parentId: a.account, name: 'intruder' }],
  addAccountAdmin: (a, b) => [
    { accountId: a.account, userId: b.user.id },
    { accountId: b.account, userId: a.user.id },
  ],
  removeAccountAdmin: (a) => [{ accountId: a.account, userId: a.user.id }],
  updateAccount: (a) => [
    { id: a.account, name: 'pwned' },
    { id: a.partner.accountGlobalId, requireIpGqlAccess: true, allowedIps: ['10.0.0.0/8'] },
  ],
  createUser: (a) => [
    { accountId: a.account, externalUserId: 'intruder' },
    { identifier: 'x-emb', clientIdentifier: a.client },
  ],
  createUsers: (a) => [{ users: [{ accountId: a.account, externalUserId: 'intruder-bulk' }] }],
  ensureUser: (a) => [{ identifier: 'new-emb', clientIdentifier: a.client }],
  updateUser: (a) => [
    { id: a.user.id, firstName: 'pwned' },
    { id: a.user.uuid, metadataPatch: { x: 1 } },
  ],
  disableUser: (a) => [{ id: a.user.id }],
  enableUser: (a) => [{ id: a.user.id }],
  mergeUsers: (a, b) => [
    { sourceId: a.user.id, targetId: b.user.id },
    { sourceId: b.user.id, targetId: a.user.id },
  ],
  unmergeUser: (a) => [{ id: a.user.id }],
  reallocateCourses: (a, b) => [
    { fromUserId: a.user.id, toUserId: b.user.id },
    { fromUserId: b.user.id, toUserId: a.user.id },
  ],
  deleteUser: (a, b) => [
    { id: a.user.id, action: 'DELETE' },
    { id: b.other.id, action: 'REALLOCATE', reallocateTo: a.user.id },
  ],
  deleteUserDependencies: (a) => [{ id: a.other.id }],
  grantEntitlements: (a) => [{ userId: a.user.id, kinds: ['PARTNER_ADMIN'] }],
  revokeEntitlements: (a) => [{ userId: a.user.id, kinds: ['KNERD'] }],
  upsertClient: (a) => [{ identifier: 'b-new', accountId: a.account }],
  deleteClient: (a) => [{ identifier: a.client }],
  createApiKey: () => [],
  revokeApiKey: (a) => [{ id: a.apiKey }],
  resetAccountIpAccess: (a) => [{ accountId: a.partner.accountGlobalId }, { accountId: a.account }],
  createCourse: (a) => [{ ownerId: a.user.id, title: 'intruder' }],
  enrollUser: (a, b) => [
    { userId: a.user.id, courseId: b.course },
    { userId: b.user.id, courseId: a.course },
  ],
  recordOrder: (a, b) => [
    { userId: a.user.id, amountCents: 1 },
    { userId: b.user.id, courseId: a.course, amountCents: 1 },
  ],
  connectBackend: () => [],
  updateBackend: (a) => [
    { id: a.backend, syncIntervalSeconds: 60 },
    { id: a.backend, baseUrl: 'https://b.example.com', credential: 'stolen' },
  ],
  disconnectBackend: (a) => [{ id: a.backend }],
  syncBackend: (a) => [{ id: a.backend }, { id: a.backend, full: true }],
  dismissLinkConflict: (a) => [{ id: a.conflict }],
  retryChange: (a) => [{ id: a.pendingChange }],
  dropChange: (a) => [{ id: a.pendingChange }],
  linkIdentity: (a, b) => [
    { userId: b.user.id, backendId: a.backend, nativeId: a.identityNativeId },
    { userId: a.user.id, backendId: b.backend, nativeId: b.identityNativeId },
    { userId: a.user.id, backendId: a.backend, nativeId: a.identityNativeId },
  ],
  unlinkIdentity: (a, b) => [
    { userId: a.other.id, backendId: a.backend },
    { userId: b.other.id, backendId: a.backend },
  ],
};

describe('cross-partner probe', () => {
  it('covers every mutation of the schema', () => {
    const fields = Object.keys(schema.getMutationType()!.getFields()).sort();
    expect(Object.keys(MUTATION_PROBES).sort()).toEqual(fields);
  });

  it("finds none of A's nodes by id, in any form", async () => {
    const aRun = (await h.store.prisma.syncRun.findFirstOrThrow({ where: { partnerId: A.partner.accountId } })).id;
    const ids = [
      A.user.id,
      A.other.id,
      A.partner.accountGlobalId,
      A.account,
      A.clientGlobal,
      A.course,
      A.enrollment,
      A.order,
      A.apiKey,
      A.backend,
      Buffer.from(`SyncRun:${aRun}`).toString('base64'),
      A.conflict,
      A.pendingChange,
    ];
    for (const token of [B.partner.key, bUserToken]) {
      for (const id of ids) {
        const r = await h.gql(`query ($id: ID!) { node(id: $id) { id } }`, { id }, { token });
        expect(r.data.node, id).toBeNull();
      }
      const many = await h.gql(`query ($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids }, { token });
      expect(many.errors, JSON.stringify(many.errors)).toBeUndefined();
      expect(many.data.nodes.every((n: unknown) => n === null)).toBe(true);
      const lookups = [
        [`query ($id: ID!) { user(id: $id) { id } }`, { id: A.user.id }],
        [`query ($id: ID!) { user(id: $id) { id } }`, { id: A.user.uuid }],
        [`query ($id: ID!) { account(id: $id) { id } }`, { id: A.account }],
        [`query ($id: ID!) { account(id: $id) { id } }`, { id: A.partner.accountId }],
        [`{ client(identifier: "a-client") { id } }`, {}],
        [`{ userByKey(externalUserId: "a-ext") { id } }`, {}],
        [`{ userByKey(email: "a@example.com") { id } }`, {}],
        [`{ userByKey(identifier: "a-emb") { id } }`, {}],
      ] as const;
      for (const [query, variables] of lookups) {
        const r = await h.gql(query, variables, { token });
        expect(r.errors?.[0]?.extensions?.code, query).toBe('NOT_FOUND');
      }
    }
  });

  it('lists nothing of A, whatever the filter', async () => {
    const r = await h.gql(
      `query ($acc: ID!, $client: ID!, $subject: String!) {
        byAccount: users(filter: { accountId: $acc }) { totalCount }
        byClient: users(filter: { clientId: $client }) { totalCount }
        bySearch: users(filter: { search: "a-" }) { totalCount }
        children: accounts(filter: { parentId: $acc }) { totalCount }
        accounts { edges { node { ulid } } }
        clients { edges { node { identifier } } }
        audit: auditEvents(filter: { subjectId: $subject }) { totalCount }
        linkConflicts { totalCount edges { node { identity { nativeId } candidates { uuid } } } }
        open: linkConflicts(status: OPEN) { totalCount }
        pendingChanges { totalCount edges { node { id userId } } }
        failed: pendingChanges(status: FAILED) { totalCount }
        users(first: 100) { edges { node { identities { nativeId backend { id } } pendingChanges { id } } } }
        viewer { user { identities { nativeId } } }
      }`,
      { acc: A.account, client: A.clientGlobal, subject: A.user.uuid },
      { token: B.partner.key },
    );
    expect(r.errors).toBeUndefined();
    expect(r.data.byAccount.totalCount).toBe(0);
    expect(r.data.byClient.totalCount).toBe(0);
    expect(r.data.bySearch.totalCount).toBe(0);
    expect(r.data.children.totalCount).toBe(0);
    expect(r.data.audit.totalCount).toBe(0);
    // Only B's own conflict and identities; none of A's.
    expect(r.data.linkConflicts.totalCount).toBe(1);
    expect(r.data.linkConflicts.edges[0].node).toEqual({
      identity: { nativeId: 'b-1' },
      candidates: [{ uuid: B.user.uuid }],
    });
    expect(r.data.open.totalCount).toBe(1);
    // Only B's own pending change, at the root and on its users.
    expect(r.data.pendingChanges.edges.map((e: any) => e.node)).toEqual([{ id: B.pendingChange, userId: B.other.id }]);
    expect(r.data.failed.totalCount).toBe(1);
    const onUsers = r.data.users.edges.flatMap((e: any) => e.node.pendingChanges.map((c: any) => c.id));
    expect(onUsers).toEqual([B.pendingChange]);
    const nativeIds = r.data.users.edges.flatMap((e: any) => e.node.identities.map((i: any) => i.nativeId));
    expect(nativeIds).toContain('b-1');
    expect(nativeIds.some((id: string) => id.startsWith('a-'))).toBe(false);
    expect(JSON.stringify(r.data)).not.toContain(A.backend);
    expect(r.data.accounts.edges.map((e: any) => e.node.ulid)).not.toContain(A.partner.accountId);
    expect(r.data.clients.edges.map((e: any) => e.node.identifier)).toEqual(['b-client']);
  });

  it("pages from none of A's rows: a cursor naming one answers as an unknown cursor does", async () => {
    const cursor = (id: string) => Buffer.from(`GPC:S:${id}`).toString('base64');
    const p = h.store.prisma;
    const aClient = (await p.client.findFirstOrThrow({ where: { partnerId: A.partner.accountId } })).id;
    const aEvent = (await p.auditEvent.findFirstOrThrow({ where: { partnerId: A.partner.accountId } })).id;
    const unknown = '00000000-0000-7000-8000-000000000000';
    const page = (ids: { user: string; account: string; client: string; event: string }, withViewer: boolean) =>
      h.gql(
        `query ($u: String, $a: String, $c: String, $e: String) {
          users(first: 5, after: $u) { edges { node { uuid } } }
          accounts(first: 5, after: $a) { edges { node { ulid } } }
          clients(first: 5, after: $c) { edges { node { identifier } } }
          auditEvents(first: 5, after: $e) { edges { node { action } } }
          ${withViewer ? 'viewer { isAdmin }' : ''}
        }`,
        { u: cursor(ids.user), a: cursor(ids.account), c: cursor(ids.client), e: cursor(ids.event) },
        { token: B.partner.key },
      );
    // Alone, the users page takes the compiled read path; beside viewer, the executor.
    const usersOnly = (id: string) =>
      h.gql(
        `query ($u: String) { users(first: 5, after: $u) { edges { node { uuid } } } }`,
        { u: cursor(id) },
        { token: B.partner.key },
      );
    expect((await usersOnly(A.user.uuid)).data).toEqual((await usersOnly(unknown)).data);
    for (const withViewer of [false, true]) {
      const foreign = await page(
        { user: A.user.uuid, account: A.partner.accountId, client: aClient, event: aEvent },
        withViewer,
      );
      const none = await page(
        { user: unknown, account: '01ZZZZZZZZZZZZZZZZZZZZZZZZ', client: unknown, event: unknown },
        withViewer,
      );
      expect(foreign.errors).toBeUndefined();
      expect(foreign.data).toEqual(none.data);
      expect(foreign.data.users.edges).toEqual([]);
    }
  });

  it('changes nothing of A through any mutation', async () => {
    const before = await dump(h, A.partner.accountId);
    for (const [name, inputs] of Object.entries(MUTATION_PROBES)) {
      for (const input of inputs(A, B)) {
        for (const token of [B.partner.key, bUserToken]) {
          const inputType = `${name[0]!.toUpperCase()}${name.slice(1)}Input`;
          const r = await h.gql(
            `mutation ($input: ${inputType}!) { ${name}(input: $input) { __typename ... on Error { code }
              ${name === 'createUsers' ? '... on CreateUsersSuccess { results { __typename } }' : ''} } }`,
            { input },
            { token },
          );
          const outcome = r.data?.[name];
          const code = outcome?.code ?? r.errors?.[0]?.extensions?.code;
          const items = outcome?.results?.map((x: { __typename: string }) => x.__typename);
          // Either refused (NOT_FOUND / FORBIDDEN), or acting on B's own data only.
          const acceptable =
            ['NOT_FOUND', 'FORBIDDEN'].includes(code) ||
            items?.every((t: string) => t === 'NotFoundError') ||
            name === 'upsertClient' ||
            name === 'ensureUser';
          expect(acceptable, `${name} ${JSON.stringify(input)} → ${JSON.stringify(r.data ?? r.errors)}`).toBe(true);
        }
      }
    }
    expect(await dump(h, A.partner.accountId)).toBe(before);
  });
});
