// The read model's costs (issue #14): lists of ids are batched reads (`nodes(ids:)` and
// `_entities` of 1, 10 or 100 cost the same statements: one per type asked for), they keep
// the order given and answer null for unknown, malformed and other partners' ids, and every
// read shape of the table costs a constant number of statements on the path a user
// gets (compiled reads on) and on the executor alone (COMPILED_READS=false).
import { beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { globalId } from '../src/graphql/ids.js';
import { siblingApp, useHarness, watchCompiledStatements, type Partner } from './helpers/app.js';
import { createManyUsers, mutate } from './helpers/fixtures.js';
import { accountAdmin, createCourse, enroll, order, run, subAccount } from './helpers/lifecycle.js';
import { loadUserPrincipal } from '../src/auth/authenticate.js';
import {
  accountNodePredicate,
  accountNodeVisibility,
  canSeeAccountNode,
  canSeeUser,
  userPredicate,
  userVisibility,
} from '../src/auth/visibility.js';
import type { Principal } from '../src/auth/principal.js';
import { sqlWhere } from '../src/store/conditions.js';

const h = useHarness();
let paths: { name: string; app: App }[];
let a: Partner;
let b: Partner;
let usersA: string[];
let usersB: string[];
let accountIds: string[];
let clientId: string;
let courseId: string;
let subIds: string[];
let subAdmin: { user: { uuid: string } };

// The User selection of the benchmark's page.
const USER = `id uuid status externalUserId email identifier
  account { id name plan } client { id identifier } entitlements { kind grantedAt }
  mergedInto { id uuid } courses { totalCount }`;

async function call(app: App, token: string, query: string, variables: object = {}) {
  const response = await app.fetch(
    new Request('http://gateway.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    }),
    { ip: '127.0.0.1' },
  );
  return (await response.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
}

/**
 * The answer and the statements it cost. The credential is looked up just before (each app
 * caches principals for a few seconds on its own); the least of three tries is the read's
 * own cost, since statements of background work (a key's lastUsedAt, a principal refreshed
 * on a slow machine) can only add to a count.
 */
async function counted(app: App, token: string, query: string, variables: object = {}) {
  let body: Awaited<ReturnType<typeof call>> | undefined;
  let statements = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 3; i++) {
    await call(app, token, '{ __typename }');
    statements = Math.min(
      statements,
      await h.countStatements(async () => {
        body = await call(app, token, query, variables);
      }),
    );
  }
  return { body: body!, statements };
}

beforeAll(async () => {
  if (!h.ready) return;
  const make = (compiled: boolean) => siblingApp(h.store, { COMPILED_READS: String(compiled) });
  paths = [
    { name: 'compiled reads on', app: make(true) },
    { name: 'executor only', app: make(false) },
  ];
  a = await h.newPartner('Read model A', 'AUTOMATE');
  b = await h.newPartner('Read model B', 'CORE');
  const subs = [await subAccount(h, a, 'Sub 1'), await subAccount(h, a, 'Sub 2')];
  subIds = subs;
  const client = await mutate(
    h,
    a.key,
    'upsertClient',
    { identifier: 'rm-client' },
    '... on UpsertClientSuccess { client { id } }',
  );
  clientId = client.client.id;
  usersA = await createManyUsers(h, a, 110, (i) => ({
    externalUserId: `rm-${i}`,
    ...(i % 2 ? { email: `rm${i}@example.com` } : {}),
    ...(i % 3 === 0 ? { identifier: `rm-id-${i}`, clientIdentifier: 'rm-client' } : {}),
    ...(i % 4 === 1 ? { accountId: subs[i % 2] } : {}),
  }));
  usersB = await createManyUsers(h, b, 5, (i) => ({ externalUserId: `rm-b-${i}` }));
  accountIds = [a.accountGlobalId, ...subs.map((s) => globalId('Account', s))];
  courseId = await createCourse(h, a.key, usersA[0]!, 'Read model course');
  subAdmin = await accountAdmin(h, a, subs[1]!, 'rm-sub-admin');
  // A deleted user, in the sub-account: no rule may find it.
  const gone = await run(h, a.key, 'deleteUser', { id: usersA[105], action: 'IGNORE' }, '__typename');
  if (gone.__typename !== 'DeleteUserSuccess') throw new Error(JSON.stringify(gone));
  for (const user of usersA.slice(0, 5)) {
    await enroll(h, a.key, user, courseId);
    await order(h, a.key, user, courseId);
  }
}, 240_000);

const NODES = `query ($ids: [ID!]!) { nodes(ids: $ids) { __typename ... on User { ${USER} } ... on Account { ulid name }
  ... on Client { clientIdentifier: identifier } ... on Course { title } } }`;
const ENTITIES = `query ($r: [_Any!]!) { _entities(representations: $r) { __typename ... on User { ${USER} }
  ... on Account { ulid name } ... on Client { clientIdentifier: identifier } ... on Course { title } } }`;
const byId = (ids: string[], typename = 'User') => ids.map((id) => ({ __typename: typename, id }));

describe('nodes(ids:) and _entities are batched reads', () => {
  it('cost the same statements for 1, 10 and 100 users, on both paths', async () => {
    for (const { name, app } of paths) {
      const nodes: number[] = [];
      const entities: number[] = [];
      for (const n of [1, 10, 100]) {
        const ids = usersA.slice(0, n);
        const r = await counted(app, a.key, NODES, { ids });
        expect(r.body.errors, name).toBeUndefined();
        expect(r.body.data.nodes.map((x: any) => x.id)).toEqual(ids);
        nodes.push(r.statements);
        const e = await counted(app, a.key, ENTITIES, { r: byId(ids) });
        expect(e.body.errors, name).toBeUndefined();
        expect(e.body.data._entities.map((x: any) => x.id)).toEqual(ids);
        // The same User selection answers the same values both ways.
        expect(e.body.data._entities).toEqual(r.body.data.nodes);
        entities.push(e.statements);
      }
      // One statement for the users with their account, client, entitlements, mergedInto and course count.
      expect(nodes, `${name}: nodes of 1, 10, 100`).toEqual([1, 1, 1]);
      expect(entities, `${name}: _entities of 1, 10, 100`).toEqual([1, 1, 1]);
    }
  });

  it('of users only are answered by the compiled statement, exactly as the executor answers them', async () => {
    const query = `query ($ids: [ID!]!) { nodes(ids: $ids) { __typename ... on Node { id } ... on User { ${USER} } } }`;
    const unknown = globalId('User', '00000000-0000-7000-8000-000000000000');
    const lists = [
      usersA.slice(0, 100),
      [usersA[7]!, unknown, 'not-an-id', usersB[0]!, usersA[7]!, usersA[105]!, usersA[0]!.toLowerCase()],
      [],
    ];
    const watch = watchCompiledStatements(h.store);
    try {
      for (const ids of lists) {
        const fast = await counted(paths[0]!.app, a.key, query, { ids });
        const slow = await counted(paths[1]!.app, a.key, query, { ids });
        expect(fast.body.errors).toBeUndefined();
        // Key order too: the same JSON text.
        expect(JSON.stringify(fast.body)).toBe(JSON.stringify(slow.body));
        expect(fast.statements).toBe(1);
      }
    } finally {
      watch.restore();
    }
    // Three lists, three tries each (counted): every one answered by the compiled statement.
    expect(watch.count()).toBe(lists.length * 3);
    // The deleted user, the foreign one, the unknown and the malformed ids read null.
    const second = await call(paths[0]!.app, a.key, query, { ids: lists[1] });
    expect(second.data.nodes.map((n: any) => n?.id ?? null)).toEqual([
      usersA[7],
      null,
      null,
      null,
      usersA[7],
      null,
      null,
    ]);
  });

  it(`_entities of users by id or uuid are answered by the compiled statement, \
exactly as the executor answers them`, async () => {
    const query = `query ($r: [_Any!]!) { _entities(representations: $r) { __typename ... on User { ${USER} } } }`;
    const uuidOf = (id: string) => Buffer.from(id, 'base64').toString().slice('User:'.length);
    const compiledLists = [
      byId(usersA.slice(0, 100)),
      [
        { __typename: 'User', id: usersA[7] },
        { __typename: 'User', uuid: uuidOf(usersA[8]!).toUpperCase() },
        { __typename: 'User', id: 'not-an-id' },
        { __typename: 'User', id: 42 },
        { __typename: 'User', uuid: 'nope' },
        { __typename: 'User', id: usersB[0] },
        { __typename: 'User', id: usersA[105] },
        { __typename: 'User', id: usersA[7] },
      ],
    ];
    // By external key, or with a representation federation refuses: the executor's.
    const executorLists = [
      [{ __typename: 'User', externalUserId: 'rm-3' }, ...byId(usersA.slice(0, 2))],
      [{ __typename: 'User' }, ...byId(usersA.slice(0, 2))],
    ];
    const watch = watchCompiledStatements(h.store);
    const answered: number[] = [];
    try {
      for (const r of [...compiledLists, ...executorLists]) {
        const before = watch.count();
        const fast = await call(paths[0]!.app, a.key, query, { r });
        answered.push(watch.count() - before);
        const slow = await call(paths[1]!.app, a.key, query, { r });
        expect(JSON.stringify(fast)).toBe(JSON.stringify(slow));
      }
    } finally {
      watch.restore();
    }
    expect(answered).toEqual([1, 1, 0, 0]);
    const mixed = await call(paths[0]!.app, a.key, query, { r: compiledLists[1] });
    expect(mixed.data._entities.map((u: any) => u?.id ?? null)).toEqual([
      usersA[7],
      usersA[8],
      null,
      null,
      null,
      null,
      null,
      usersA[7],
    ]);
  });

  it('cost one statement per type asked for, whatever the number of ids of each', async () => {
    for (const { name, app } of paths) {
      const cost = async (users: number) => {
        const ids = [...usersA.slice(0, users), ...accountIds, clientId, courseId];
        const r = await counted(app, a.key, NODES, { ids });
        expect(r.body.errors, name).toBeUndefined();
        expect(r.body.data.nodes.map((x: any) => x.__typename)).toEqual([
          ...Array(users).fill('User'),
          'Account',
          'Account',
          'Account',
          'Client',
          'Course',
        ]);
        const reps = [
          ...byId(usersA.slice(0, users)),
          ...byId(accountIds, 'Account'),
          ...byId([clientId], 'Client'),
          ...byId([courseId], 'Course'),
        ];
        const e = await counted(app, a.key, ENTITIES, { r: reps });
        expect(e.body.errors, name).toBeUndefined();
        expect(e.body.data._entities.map((x: any) => x.__typename)).toEqual(
          r.body.data.nodes.map((x: any) => x.__typename),
        );
        return [r.statements, e.statements];
      };
      expect(await cost(10), name).toEqual([4, 4]);
      // 95: with the 5 other ids, the most one list takes (MAX_LIST_ITEMS, 100).
      expect(await cost(95), name).toEqual([4, 4]);
    }
  });

  it(`keep the order given, with null for unknown, malformed and repeated-but-foreign ids, \
at no extra cost`, async () => {
    for (const { name, app } of paths) {
      const unknown = globalId('User', '00000000-0000-7000-8000-000000000000');
      const ids = [
        usersA[3]!,
        unknown,
        'not-an-id',
        usersA[1]!,
        usersB[0]!,
        usersA[3]!,
        Buffer.from('Nope:x').toString('base64'),
      ];
      const r = await counted(app, a.key, NODES, { ids });
      expect(r.body.errors, name).toBeUndefined();
      expect(r.body.data.nodes.map((x: any) => x?.id ?? null)).toEqual([
        usersA[3],
        null,
        null,
        usersA[1],
        null,
        usersA[3],
        null,
      ]);
      expect(r.statements, name).toBe(1);
      const e = await counted(app, a.key, ENTITIES, {
        r: [...byId([usersA[3]!, unknown, usersA[1]!, usersB[0]!]), { __typename: 'User', externalUserId: 'rm-b-1' }],
      });
      expect(e.body.errors, name).toBeUndefined();
      expect(e.body.data._entities.map((x: any) => x?.id ?? null)).toEqual([usersA[3], null, usersA[1], null, null]);
      // Ids and external keys are two lookups: one statement each.
      expect(e.statements, name).toBe(2);
    }
  });

  it('answer null for every id of another partner (cross-partner probe), both ways round', async () => {
    for (const { name, app } of paths) {
      const foreignOfB = [...usersA.slice(0, 10), ...accountIds, clientId, courseId];
      const r = await call(app, b.key, NODES, { ids: foreignOfB });
      expect(r.errors, name).toBeUndefined();
      expect(r.data.nodes).toEqual(foreignOfB.map(() => null));
      const e = await call(app, b.key, ENTITIES, {
        r: [
          ...byId(usersA.slice(0, 10)),
          ...byId(accountIds, 'Account'),
          ...byId([clientId], 'Client'),
          ...byId([courseId], 'Course'),
          { __typename: 'User', externalUserId: 'rm-0' },
          { __typename: 'User', uuid: Buffer.from(usersA[0]!, 'base64').toString().slice('User:'.length) },
        ],
      });
      expect(e.errors, name).toBeUndefined();
      expect(e.data._entities).toEqual(Array(foreignOfB.length + 2).fill(null));
      // And A sees none of B's.
      const back = await call(app, a.key, NODES, { ids: usersB });
      expect(back.data.nodes).toEqual(usersB.map(() => null));
    }
  });
});

// The read shapes of issue #14's table, with the statements each costs on each path.
// `compiled`: the shape is answered by the read model's one statement when compiled reads are on.
const SHAPES: {
  name: string;
  query: string;
  variables: () => object;
  statements: [number, number];
  compiled: boolean;
}[] = [
  {
    name: 'users page of 100 (account, client, entitlements, mergedInto, course count)',
    query: `query ($first: Int!) { users(first: $first) { totalCount edges { node { ${USER} } } } }`,
    variables: () => ({ first: 100 }),
    statements: [1, 2],
    compiled: true,
  },
  {
    name: 'account tree: accounts × (sub-accounts, users, users totalCount)',
    query: `{ accounts(first: 20) { edges { node { ulid name
      subAccounts(first: 10) { edges { node { ulid name } } }
      users(first: 10) { totalCount edges { node { uuid externalUserId email } } } } } } }`,
    variables: () => ({}),
    statements: [1, 1],
    compiled: true,
  },
  {
    name: 'user detail: courses (with enrollment count), enrollments (with course), orders',
    query: `query ($id: ID!) { user(id: $id) { uuid email
      courses(first: 20) { totalCount edges { node { id title enrollmentCount createdAt } } }
      enrollments(first: 20) { edges { node { createdAt course { title } } } }
      orders(first: 20) { edges { node { amountCents createdAt course { title } } } } } }`,
    variables: () => ({ id: usersA[0] }),
    statements: [1, 1],
    compiled: true,
  },
  {
    name: 'users search (50)',
    query:
      'query ($filter: UserFilter) { users(first: 50, filter: $filter) ' +
      `{ totalCount edges { node { ${USER} } } } }`,
    variables: () => ({ filter: { search: 'rm-1' } }),
    statements: [1, 2],
    compiled: true,
  },
  {
    name: 'users by createdAt range (50)',
    query:
      'query ($filter: UserFilter) { users(first: 50, filter: $filter) ' +
      `{ totalCount edges { node { ${USER} } } } }`,
    variables: () => ({ filter: { createdAt: { from: '2000-01-01T00:00:00Z' } } }),
    statements: [1, 2],
    compiled: true,
  },
];

describe('every read shape costs a constant number of statements', () => {
  for (const shape of SHAPES) {
    it(shape.name, async () => {
      const answers: unknown[] = [];
      for (const [i, { name, app }] of paths.entries()) {
        const watch = watchCompiledStatements(h.store);
        const r = await counted(app, a.key, shape.query, shape.variables()).finally(watch.restore);
        expect(r.body.errors, name).toBeUndefined();
        expect(r.statements, name).toBe(shape.statements[i]);
        // Three tries (counted), each answered by the compiled statement or none by it.
        expect(watch.count(), name).toBe(i === 0 && shape.compiled ? 3 : 0);
        answers.push(r.body.data);
        // Partner B, on the same shape, reads none of A's rows (B's own page only).
        const other = JSON.stringify((await call(app, b.key, shape.query, shape.variables())).data ?? null);
        for (const id of usersA.slice(0, 3)) expect(other, name).not.toContain(id);
      }
      expect(answers[0]).toEqual(answers[1]);
    });
  }
});

describe('visibility is one predicate per type', () => {
  it("finds the same users as a Prisma where and as the compiled path's SQL, for every kind of caller", async () => {
    const uuidOf = (id: string) => Buffer.from(id, 'base64').toString().slice('User:'.length);
    const prisma = h.store.prisma;
    const plainUser = uuidOf(usersA[2]!);
    const principals: [string, Principal | null][] = [
      ['partner admin of A', await loadUserPrincipal(prisma, a.adminUserId, 'api_key')],
      ['partner admin of B', await loadUserPrincipal(prisma, b.adminUserId, 'api_key')],
      ['account admin of a sub-account', await loadUserPrincipal(prisma, subAdmin.user.uuid, 'jwt')],
      ['plain user', await loadUserPrincipal(prisma, plainUser, 'jwt')],
      ['operator', { kind: 'operator' } as Principal],
      ['no principal', null],
    ];
    const sizes: Record<string, number> = {};
    for (const [name, principal] of principals) {
      const viaPrisma = (await prisma.user.findMany({ where: userVisibility(principal), select: { id: true } }))
        .map((u) => u.id)
        .sort();
      const values: unknown[] = [];
      const condition = sqlWhere(userPredicate(principal), 'u', (value) => {
        values.push(value);
        return `$${values.length}`;
      });
      const viaSql = (
        await h.store.pool.query<{ id: string }>(`SELECT id FROM "User" u WHERE ${condition}`, values)
      ).rows
        .map((r) => r.id)
        .sort();
      expect(viaSql, name).toEqual(viaPrisma);
      sizes[name] = viaPrisma.length;
      // The type's own scope (its synchronous twin, on loaded rows) admits the same users...
      if (principal?.kind !== 'operator') {
        const all = await prisma.user.findMany({ where: { partnerId: { in: [a.accountId, b.accountId] } } });
        const admitted = all.filter((u) => canSeeUser(principal, u)).map((u) => u.id);
        expect(admitted.sort(), `${name}: canSeeUser`).toEqual(viaPrisma);
        // ...and the account node's the accounts of its predicate.
        const accounts = await prisma.account.findMany({ where: { partnerId: { in: [a.accountId, b.accountId] } } });
        const nodes = (await prisma.account.findMany({ where: accountNodeVisibility(principal), select: { id: true } }))
          .map((x) => x.id)
          .sort();
        const accountValues: unknown[] = [];
        const accountSql = sqlWhere(accountNodePredicate(principal), 'x', (value) => {
          accountValues.push(value);
          return `$${accountValues.length}`;
        });
        const nodesViaSql = (
          await h.store.pool.query<{ id: string }>(`SELECT id FROM "Account" x WHERE ${accountSql}`, accountValues)
        ).rows
          .map((r) => r.id)
          .sort();
        expect(nodesViaSql, `${name}: account nodes`).toEqual(nodes);
        expect(
          accounts
            .filter((x) => canSeeAccountNode(principal, x))
            .map((x) => x.id)
            .sort(),
          name,
        ).toEqual(nodes);
      }
    }
    // The rules differ, so agreeing means something: each caller sees its own share.
    // the users, less the deleted one, plus the admin and the sub-admin
    expect(sizes['partner admin of A']).toBe(110 - 1 + 2);
    expect(sizes['partner admin of B']).toBe(5 + 1);
    expect(sizes['plain user']).toBe(1);
    expect(sizes['account admin of a sub-account']).toBeGreaterThan(1);
    expect(sizes['account admin of a sub-account']).toBeLessThan(sizes['partner admin of A']!);
    expect(sizes.operator).toBe(0);
    expect(sizes['no principal']).toBe(0);
    expect(subIds).toHaveLength(2);
  });
});
