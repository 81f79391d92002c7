// The read graph: connections, filters, ordering, node lookups, and statement counts that
// do not grow with the page size.
import { describe, expect, it, beforeAll } from 'vitest';
import { useHarness, type Partner } from './helpers/app.js';
import { createManyUsers, mutate } from './helpers/fixtures.js';

const h = useHarness();
let partner: Partner;
let ids: string[];

const PAGE = `query ($first: Int!) {
  users(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id uuid status externalUserId email identifier
      account { id name plan }
      client { id identifier }
      entitlements { kind grantedAt }
      mergedInto { id uuid }
      courses { totalCount }
    } }
  }
}`;

beforeAll(async () => {
  if (!h.ready) return;
  partner = await h.newPartner('Reads', 'AUTOMATE');
  await mutate(h, partner.key, 'upsertClient', { identifier: 'client-a', metadata: { name: 'A' } });
  ids = await createManyUsers(h, partner, 120, (i) =>
    i % 3 === 0
      ? { identifier: `emb-${i}`, clientIdentifier: 'client-a', name: `Emb ${i}` }
      : i % 3 === 1
        ? { email: `user${i}@example.com`, userName: `user${i}`, firstName: 'F', lastName: `L${i}` }
        : { externalUserId: `ext-${i}` },
  );
  for (const i of [1, 2, 3, 4, 5]) {
    await mutate(h, partner.key, 'grantEntitlements', { userId: ids[i], kinds: ['KNERD', 'CREATE_LEARNING_INSTANCE'] });
    await mutate(h, partner.key, 'createCourse', { ownerId: ids[i], title: `Course ${i}` });
  }
  await mutate(
    h,
    partner.key,
    'mergeUsers',
    { sourceId: ids[10], targetId: ids[11] },
    '... on MergeUsersSuccess { source { id } }',
  );
});

describe('users connection', () => {
  it('pages forward with cursors and reports totalCount', async () => {
    const first = await h.gql(PAGE, { first: 50 }, { token: partner.key });
    expect(first.errors).toBeUndefined();
    // 120 created + the partner's admin.
    expect(first.data.users.totalCount).toBe(121);
    expect(first.data.users.edges).toHaveLength(50);
    expect(first.data.users.pageInfo.hasNextPage).toBe(true);
    const next = await h.gql(
      `query ($after: String) { users(first: 100, after: $after) { edges { node { id } } pageInfo { hasNextPage } } }`,
      { after: first.data.users.pageInfo.endCursor },
      { token: partner.key },
    );
    expect(next.data.users.edges).toHaveLength(71);
    expect(next.data.users.pageInfo.hasNextPage).toBe(false);
    const seen = new Set([...first.data.users.edges, ...next.data.users.edges].map((e: any) => e.node.id));
    expect(seen.size).toBe(121);
  });

  it('resolves every nested relation', async () => {
    const { data } = await h.gql(PAGE, { first: 100 }, { token: partner.key });
    const byId = new Map(data.users.edges.map((e: any) => [e.node.id, e.node]));
    const merged: any = byId.get(ids[10]);
    expect(merged.status).toBe('MERGED');
    expect(merged.mergedInto.id).toBe(ids[11]);
    const entitled: any = byId.get(ids[1]);
    expect(entitled.entitlements.map((e: any) => e.kind).sort()).toEqual(['CREATE_LEARNING_INSTANCE', 'KNERD']);
    expect(entitled.courses.totalCount).toBe(1);
    const embedded: any = byId.get(ids[3]);
    expect(embedded.client.identifier).toBe('client-a');
    expect(embedded.account.plan).toBe('AUTOMATE');
  });

  it('costs the same small number of SQL statements for 10 and for 100 users', async () => {
    await h.gql(PAGE, { first: 1 }, { token: partner.key }); // warm the credential cache
    const ten = await h.countStatements(() => h.gql(PAGE, { first: 10 }, { token: partner.key }));
    const hundred = await h.countStatements(() => h.gql(PAGE, { first: 100 }, { token: partner.key }));
    expect(hundred).toBe(ten);
    expect(hundred).toBeLessThanOrEqual(6);
  });

  it('filters by status, client, entitlement, catalog registration, dates and search', async () => {
    const count = async (filter: object) =>
      (
        await h.gql(
          `query ($f: UserFilter) { users(filter: $f) { totalCount } }`,
          { f: filter },
          { token: partner.key },
        )
      ).data.users.totalCount;
    expect(await count({ status: 'MERGED' })).toBe(1);
    expect(await count({ entitlement: 'KNERD' })).toBe(5);
    // 40 catalog users, plus the merge target that gained the merged source's catalog identity.
    expect(await count({ registeredInCatalog: true })).toBe(41);
    expect(await count({ search: 'USER1@example.COM' })).toBe(1);
    expect(await count({ search: 'user1' })).toBe(13);
    expect(await count({ createdAt: { from: '2000-01-01T00:00:00Z', to: '2001-01-01T00:00:00Z' } })).toBe(0);
    expect(await count({ createdAt: { from: '2000-01-01T00:00:00Z' } })).toBe(121);
    const clientId = (await h.gql(`{ client(identifier: "client-a") { id } }`, {}, { token: partner.key })).data.client
      .id;
    // The merge moved ids[10]'s embed identity to ids[11]: still 40 users on the client.
    expect(await count({ clientId })).toBe(40);
  });

  it('orders by a column with a stable tie-break', async () => {
    const { data } = await h.gql(
      '{ users(first: 100, filter: { registeredInCatalog: true }, orderBy: { field: EMAIL, direction: DESC }) ' +
        '{ edges { node { email } } } }',
      {},
      { token: partner.key },
    );
    // The merged source kept its catalog record but gave its e-mail to the target: NULLs first when descending.
    const emails = data.users.edges.map((e: any) => e.node.email);
    expect(emails[0]).toBeNull();
    expect(emails.slice(1)).toEqual(emails.slice(1).sort().reverse());
  });
});

describe('single lookups', () => {
  it('finds a user by global id, uuid, and each key', async () => {
    const { data } = await h.gql(
      `query ($id: ID!) { node(id: $id) { ... on User { uuid email catalogId } } }`,
      { id: ids[1] },
      { token: partner.key },
    );
    const { uuid, email, catalogId } = data.node;
    const byUuid = await h.gql(`query ($id: ID!) { user(id: $id) { id } }`, { id: uuid }, { token: partner.key });
    expect(byUuid.data.user.id).toBe(ids[1]);
    for (const key of [{ email }, { email: email.toUpperCase() }, { catalogId }]) {
      const r = await h.gql(
        'query ($externalUserId: String, $email: String, $identifier: String, $catalogId: Int) ' +
          '{ userByKey(externalUserId: $externalUserId, email: $email, ' +
          'identifier: $identifier, catalogId: $catalogId) { id } }',
        key,
        { token: partner.key },
      );
      expect(r.data.userByKey?.id).toBe(ids[1]);
    }
    const ext = await h.gql(`{ userByKey(externalUserId: "ext-2") { id } }`, {}, { token: partner.key });
    expect(ext.data.userByKey.id).toBe(ids[2]);
    const emb = await h.gql(`{ userByKey(identifier: "emb-0") { id name } }`, {}, { token: partner.key });
    expect(emb.data.userByKey).toEqual({ id: ids[0], name: 'Emb 0' });
  });

  it('answers NOT_FOUND for unknown and malformed ids', async () => {
    for (const id of ['00000000-0000-7000-8000-000000000000', 'not-an-id', 'VXNlcjpub3BlOm5vcGU=', '']) {
      const r = await h.gql(`query ($id: ID!) { user(id: $id) { id } }`, { id }, { token: partner.key });
      expect(r.data.user).toBeNull();
      expect(r.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
  });

  it('rejects userByKey with zero or two keys', async () => {
    const r = await h.gql(`{ userByKey(externalUserId: "a", email: "b@c.de") { id } }`, {}, { token: partner.key });
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('loads many nodes in one statement', async () => {
    const some = ids.slice(20, 70);
    await h.gql(`{ viewer { isAdmin } }`, {}, { token: partner.key });
    let result: any;
    const statements = await h.countStatements(async () => {
      result = await h.gql(`query ($ids: [ID!]!) { nodes(ids: $ids) { id } }`, { ids: some }, { token: partner.key });
    });
    expect(result.data.nodes.map((n: any) => n.id)).toEqual(some);
    expect(statements).toBeLessThanOrEqual(2);
  });
});

describe('accounts', () => {
  it('lists the tree and inherits the plan', async () => {
    const child = await mutate(
      h,
      partner.key,
      'createAccount',
      { name: 'Child', smsAccess: 'DOMESTIC' },
      '... on CreateAccountSuccess { account { id } }',
    );
    const grand = await mutate(
      h,
      partner.key,
      'createAccount',
      { name: 'Grandchild', parentId: child.account.id },
      '... on CreateAccountSuccess { account { id plan parent { id } } }',
    );
    expect(grand.account.plan).toBe('AUTOMATE');
    expect(grand.account.parent.id).toBe(child.account.id);
    const { data } = await h.gql(
      `query ($id: ID!) { account(id: $id) { name smsAccess subAccounts { totalCount edges { node { name } } } } }`,
      { id: child.account.id },
      { token: partner.key },
    );
    expect(data.account).toEqual({
      name: 'Child',
      smsAccess: 'DOMESTIC',
      subAccounts: { totalCount: 1, edges: [{ node: { name: 'Grandchild' } }] },
    });
    const all = await h.gql(
      `{ accounts { totalCount } partners: accounts(filter: { partnersOnly: true }) { totalCount } }`,
      {},
      { token: partner.key },
    );
    expect(all.data).toEqual({ accounts: { totalCount: 3 }, partners: { totalCount: 1 } });
  });
});
