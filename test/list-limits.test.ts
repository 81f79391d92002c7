// List inputs: every GraphQL list argument (nodes' ids, _entities' representations, lists
// inside input objects), written in the document or sent as a variable, holds at most
// MAX_LIST_ITEMS items; the cost limit counts list lengths and page sizes sent as variables;
// node/nodes read each type's ids with one statement, whatever their number.
import crypto from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_TOKEN, useHarness, type GqlResult, type Partner } from './helpers/app.js';
import { createManyUsers, mutate } from './helpers/fixtures.js';
import { hs256 } from './helpers/jwt.js';
import { DOCUMENT_LIMITS } from '../src/auth/limits.js';

const h = useHarness();
let a: Partner;
let b: Partner;
let ids: string[];
let plainToken: string;
let plainId: string;

const NODES =
  'query ($ids: [ID!]!) { nodes(ids: $ids) { __typename id ... on User ' +
  '{ uuid externalUserId account { name } entitlements { kind } } ... on Account { ulid name } } }';
const unknownUserIds = (n: number) =>
  Array.from({ length: n }, () => Buffer.from(`User:${crypto.randomUUID()}`).toString('base64'));

beforeAll(async () => {
  if (!h.ready) return;
  a = await h.newPartner('Lists A');
  b = await h.newPartner('Lists B');
  ids = await createManyUsers(h, a, 100, (i) => ({ externalUserId: `list-${i}` }));
  const plain = await mutate(
    h,
    a.key,
    'createUser',
    { externalUserId: 'list-plain' },
    '... on CreateUserSuccess { user { id uuid } }',
  );
  plainId = plain.user.id;
  plainToken = await hs256(plain.user.uuid);
});

describe('list arguments are capped', () => {
  it('answers nodes with more ids than MAX_LIST_ITEMS with BAD_USER_INPUT (400), before anything runs', async () => {
    expect(h.config.maxListItems).toBe(100);
    for (const token of [a.key, plainToken, OPERATOR_TOKEN]) {
      let r: GqlResult | undefined;
      const statements = await h.countStatements(async () => {
        r = await h.gql(NODES, { ids: unknownUserIds(4000) }, { token });
      });
      expect(r!.status).toBe(400);
      expect(r!.data).toBeUndefined();
      expect(r!.errors).toHaveLength(1);
      expect(r!.errors![0]!.extensions?.code).toBe('BAD_USER_INPUT');
      expect(r!.errors![0]!.message).toBe('$ids has 4000 items; a list takes at most 100');
      // Authentication may read the credential; no node is looked up.
      expect(statements).toBeLessThanOrEqual(2);
    }
  });

  it('answers nodes with exactly MAX_LIST_ITEMS ids', async () => {
    const r = await h.gql(NODES, { ids }, { token: a.key });
    expect(r.errors).toBeUndefined();
    expect(r.data.nodes).toHaveLength(100);
    expect(r.data.nodes[0]).toMatchObject({
      __typename: 'User',
      id: ids[0],
      externalUserId: 'list-0',
      account: { name: 'Lists A' },
    });
    expect(r.data.nodes[99]).toMatchObject({ id: ids[99], externalUserId: 'list-99' });
    const over = await h.gql(NODES, { ids: [...ids, plainId] }, { token: a.key });
    expect(over.status).toBe(400);
    expect(over.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('caps lists written into the document, and lists inside input objects', async () => {
    const literal = (n: number) =>
      `{ nodes(ids: [${unknownUserIds(n)
        .map((id) => JSON.stringify(id))
        .join(' ')}]) { id } }`;
    expect((await h.gql(literal(100), {}, { token: a.key })).errors).toBeUndefined();
    const over = await h.gql(literal(101), {}, { token: a.key });
    expect(over.status).toBe(400);
    expect(over.errors?.[0]).toMatchObject({
      message: 'nodes(ids:) has 101 items; a list takes at most 100',
      extensions: { code: 'BAD_USER_INPUT' },
    });

    // A list nested in an input variable, and one nested in an input literal.
    const cidrs = Array.from({ length: 101 }, (_, i) => `10.${i}.0.0/16`);
    const viaVariable = await h.gql(
      `mutation ($input: CreateAccountInput!) { createAccount(input: $input) { __typename } }`,
      { input: { name: 'Many', allowedIps: cidrs } },
      { token: a.key },
    );
    expect(viaVariable.status).toBe(400);
    expect(viaVariable.errors?.[0]).toMatchObject({
      message: '$input.allowedIps has 101 items; a list takes at most 100',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    const viaLiteral = await h.gql(
      `mutation { createAccount(input: { name: "Many", allowedIps: ${JSON.stringify(cidrs)} }) { __typename } }`,
      {},
      { token: a.key },
    );
    expect(viaLiteral.errors?.[0]).toMatchObject({
      message: 'createAccount(input.allowedIps:) has 101 items; a list takes at most 100',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    // Nothing was created.
    const accounts = await h.gql(`{ accounts(first: 100) { edges { node { name } } } }`, {}, { token: a.key });
    expect(accounts.data.accounts.edges.map((e: any) => e.node.name)).not.toContain('Many');
  });

  it('caps _entities representations, and leaves arrays inside JSON values alone', async () => {
    const reps = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ __typename: 'User', externalUserId: `list-${i}` }));
    const query = `query ($r: [_Any!]!) { _entities(representations: $r) { ... on User { externalUserId } } }`;
    const ok = await h.gql(query, { r: reps(100) }, { token: a.key });
    expect(ok.errors).toBeUndefined();
    expect(ok.data._entities).toHaveLength(100);
    const over = await h.gql(query, { r: reps(101) }, { token: a.key });
    expect(over.status).toBe(400);
    expect(over.errors?.[0]).toMatchObject({
      message: '$r has 101 items; a list takes at most 100',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    // A JSON scalar is one value, whatever it holds.
    const metadata = { tags: Array.from({ length: 500 }, (_, i) => i) };
    expect((await mutate(h, a.key, 'upsertClient', { identifier: 'list-json', metadata })).__typename).toBe(
      'UpsertClientSuccess',
    );
  });

  it('counts list variables and page sizes sent as variables in the cost limit', async () => {
    // k aliased nodes(ids: $ids) of 100 users each: refused for cost from some k on, well
    // under the alias limit; and the same with users(first: $n).
    const node =
      'nodes(ids: $ids) { id ... on User { uuid status externalUserId email account { id name parent { id name } } } }';
    const page =
      'users(first: $n) { edges { node { id uuid status externalUserId email ' +
      'account { id name parent { id name } } } } }';
    const nodes = (k: number) =>
      `query ($ids: [ID!]!) { ${Array.from({ length: k }, (_, i) => `n${i}: ${node}`).join(' ')} }`;
    const pages = (k: number) =>
      `query ($n: Int) { ${Array.from({ length: k }, (_, i) => `u${i}: ${page}`).join(' ')} }`;
    for (const [document, variables] of [
      [nodes, { ids }],
      [pages, { n: 100 }],
    ] as const) {
      const first = await firstRefused((k) => h.gql(document(k), variables, { token: a.key }));
      expect(first).toBeGreaterThan(1);
      expect(first).toBeLessThan(DOCUMENT_LIMITS.maxAliases);
      // The same documents with one item per list cost a hundredth and pass.
      const small = await h.gql(document(first), 'ids' in (variables as object) ? { ids: ids.slice(0, 1) } : { n: 1 }, {
        token: a.key,
      });
      expect(small.errors).toBeUndefined();
    }
  }, 120_000); // up to 24 documents reading hundreds of users each
});

/** The smallest k whose document is refused for cost (400, nothing run); every larger k is too. */
async function firstRefused(
  send: (
    k: number,
  ) => Promise<{ status: number; data: unknown; errors?: { message: string; extensions?: { code?: string } }[] }>,
) {
  const refused: boolean[] = [];
  for (let k = 1; k <= 12; k++) {
    const r = await send(k);
    const cost = Boolean(r.errors?.some((e) => /cost/i.test(e.message)));
    if (cost) {
      expect(r.status).toBe(400);
      expect(r.data).toBeUndefined();
    } else expect(r.errors).toBeUndefined();
    refused.push(cost);
  }
  const first = refused.indexOf(true) + 1;
  expect(first, 'some k is over the limit').toBeGreaterThan(0);
  expect(refused.slice(first - 1).every(Boolean), 'every larger document is refused too').toBe(true);
  return first;
}

describe('node and nodes read in batches', () => {
  const count = async (token: string, list: string[]) => {
    let r: GqlResult | undefined;
    // Principals are cached for 5 s: on a loaded machine the cache can expire between one count
    // and the next, and its credential lookup would be counted. Warm it right before counting.
    await h.gql('{ viewer { isAdmin } }', {}, { token });
    const statements = await h.countStatements(async () => {
      r = await h.gql(NODES, { ids: list }, { token });
    });
    expect(r!.errors).toBeUndefined();
    return { statements, nodes: r!.data.nodes as any[] };
  };

  it('costs the same number of statements for 10 and for 100 ids, for an admin and for a plain user', async () => {
    const mixed = (n: number) => [...ids.slice(0, n - 2), a.accountGlobalId, unknownUserIds(1)[0]!];
    await h.gql(NODES, { ids: ids.slice(0, 1) }, { token: a.key }); // warm the credential cache
    const ten = await count(a.key, mixed(10));
    const hundred = await count(a.key, mixed(100));
    expect(hundred.nodes.filter(Boolean)).toHaveLength(99);
    expect(hundred.nodes.at(-2)).toMatchObject({ __typename: 'Account', ulid: a.accountId });
    expect(hundred.nodes.at(-1)).toBeNull();
    // One statement per node type asked for (User, Account), relations planned in.
    expect(hundred.statements).toBe(ten.statements);
    expect(hundred.statements).toBeLessThanOrEqual(2);

    // A plain user sees only itself, also in a list of its partner's other users.
    await h.gql(NODES, { ids: [plainId] }, { token: plainToken });
    const plainTen = await count(plainToken, [...ids.slice(0, 9), plainId]);
    const plainHundred = await count(plainToken, [...ids.slice(0, 99), plainId]);
    expect(plainHundred.nodes.filter(Boolean).map((n) => n.id)).toEqual([plainId]);
    expect(plainHundred.statements).toBe(plainTen.statements);
    expect(plainHundred.statements).toBeLessThanOrEqual(1);
  });

  it('finds nothing of another partner, and nothing for the operator, in the same few statements', async () => {
    await h.gql(NODES, { ids: [b.adminGlobalId] }, { token: b.key });
    const foreign = await count(b.key, [...ids.slice(0, 99), b.adminGlobalId]);
    expect(foreign.nodes.slice(0, 99).every((n) => n === null)).toBe(true);
    expect(foreign.nodes[99]).toMatchObject({ id: b.adminGlobalId });
    expect(foreign.statements).toBeLessThanOrEqual(1);
    await h.gql(NODES, { ids: ids.slice(0, 1) }, { token: OPERATOR_TOKEN });
    const operator = await count(OPERATOR_TOKEN, ids);
    expect(operator.nodes.every((n) => n === null)).toBe(true);
    expect(operator.statements).toBeLessThanOrEqual(1);
  });

  it('answers node(id) and repeated ids like nodes', async () => {
    const one = await h.gql(
      `query ($id: ID!) { node(id: $id) { id ... on User { externalUserId } } }`,
      { id: ids[5] },
      { token: a.key },
    );
    expect(one.data.node).toEqual({ id: ids[5], externalUserId: 'list-5' });
    const twice = await h.gql(NODES, { ids: [ids[1], 'not-an-id', ids[1], b.accountGlobalId] }, { token: a.key });
    expect(twice.errors).toBeUndefined();
    expect(twice.data.nodes.map((n: any) => n?.id ?? null)).toEqual([ids[1], null, ids[1], null]);
  });
});

describe('other inputs whose cost grew faster than their size', () => {
  it('refuses a users search longer than any searched column (255 characters)', async () => {
    const query = `query ($s: String) { users(first: 5, filter: { search: $s }) { totalCount } }`;
    const ok = await h.gql(query, { s: 'l'.repeat(255) }, { token: a.key });
    expect(ok.errors).toBeUndefined();
    expect(ok.data.users.totalCount).toBe(0);
    // A 100 KB pattern took PostgreSQL's ILIKE seconds; now refused before any statement.
    const long = await h.gql(query, { s: 'ab'.repeat(50_000) }, { token: a.key });
    expect(long.errors?.[0]).toMatchObject({
      message: 'filter.search: must be at most 255 characters',
      extensions: { code: 'VALIDATION' },
    });
  });
});
