// Federation v2: our subgraph over real HTTP, composed with a second subgraph (reviews) and
// queried through a real gateway (Hive Gateway runtime), plus `_entities` batching and
// tenancy sent straight to our subgraph.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '@hono/node-server';
import { createGatewayRuntime, type GatewayRuntime } from '@graphql-hive/gateway-runtime';
import { compositionHasErrors } from '@theguild/federation-composition';
import { useHarness, type Partner } from './helpers/app.js';
import { createManyUsers, mutate } from './helpers/fixtures.js';
import {
  composeWithReviews,
  composeWithoutPii,
  startReviews,
  supergraphOf,
  type ReviewsSubgraph,
} from './helpers/reviews.js';

const h = useHarness();
let a: Partner;
let b: Partner;
let ids: string[];
let server: Server | undefined;
let reviews: ReviewsSubgraph | undefined;
let gateway: GatewayRuntime | undefined;
let accountsUrl: string;
let sdl: string;
/** The documents our subgraph received over HTTP (from the gateway, mostly). */
const subgraphQueries: string[] = [];

beforeAll(async () => {
  if (!h.ready) return;
  a = await h.newPartner('Federated A', 'AUTOMATE');
  b = await h.newPartner('Federated B', 'AUTOMATE');
  ids = await createManyUsers(h, a, 50, (i) => ({
    externalUserId: `fed-${i}`,
    email: `fed${i}@example.com`,
    firstName: `F${i}`,
  }));
  for (const i of [0, 1]) await mutate(h, a.key, 'grantEntitlements', { userId: ids[i], kinds: ['KNERD'] });

  // Our app over real HTTP on a loopback port, as a gateway reaches it.
  server = serve({
    fetch: async (request: Request, env: Record<string, unknown>) => {
      if (request.method === 'POST') subgraphQueries.push(((await request.clone().json()) as { query: string }).query);
      return h.app.fetch(request, env);
    },
    port: 0,
    hostname: '127.0.0.1',
  }) as Server;
  await new Promise<void>((resolve) => (server!.listening ? resolve() : server!.once('listening', () => resolve())));
  accountsUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;

  reviews = await startReviews([
    { id: 'r1', body: 'Great learner', authorId: ids[0]! },
    { id: 'r2', body: 'Asks good questions', authorId: ids[1]! },
    { id: 'r3', body: 'Again', authorId: ids[0]! },
  ]);

  // The SDL a gateway or registry reads: `_service { sdl }` over HTTP.
  const response = await fetch(accountsUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${a.key}` },
    body: JSON.stringify({ query: '{ _service { sdl } }' }),
  });
  sdl = ((await response.json()) as { data: { _service: { sdl: string } } }).data._service.sdl;

  gateway = createGatewayRuntime({
    supergraph: supergraphOf(composeWithReviews({ sdl, url: accountsUrl }, reviews.url)),
    logging: false,
    // The subgraphs authenticate each request themselves: pass the caller's credential on.
    propagateHeaders: {
      fromClientToSubgraphs: ({ request }) => ({ authorization: request.headers.get('authorization') }),
    },
  });
});

afterAll(async () => {
  await gateway?.dispose();
  await reviews?.close();
  if (server) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server!.close(() => resolve()));
  }
});

/** A query through the gateway, with a bearer token. */
async function viaGateway(query: string, variables: Record<string, unknown> = {}, token?: string) {
  const response = await gateway!.fetch('http://gateway.test/graphql', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  return {
    status: response.status,
    ...((await response.json()) as { data?: any; errors?: { message: string; extensions?: { code?: string } }[] }),
  };
}

const ENTITIES = `query ($r: [_Any!]!) { _entities(representations: $r) { __typename
  ... on User { id uuid externalUserId email account { name } entitlements { kind } }
  ... on Account { ulid name }
  ... on Client { identifier }
} }`;

describe('subgraph SDL', () => {
  it('declares the entities, their keys, the pii tags and the shareable PageInfo', () => {
    expect(sdl).toMatch(
      /type User implements Node\s+@key\(fields: "id"\)\s+@key\(fields: "uuid"\)\s+@key\(fields: "externalUserId"\)/,
    );
    expect(sdl).toMatch(/type Account implements Node\s+@key\(fields: "id"\)/);
    expect(sdl).toMatch(/type Client implements Node\s+@key\(fields: "id"\)/);
    expect(sdl).toMatch(/type PageInfo\s+@shareable/);
    expect(sdl).toContain('email: EmailAddress @tag(name: "pii")');
    expect(sdl).toContain('@link(url: "https://specs.apollo.dev/federation/v2.6"');
  });

  it('composes with a second subgraph, and a contract without pii leaves personal fields out', () => {
    const supergraph = composeWithReviews({ sdl, url: accountsUrl }, reviews!.url);
    expect(compositionHasErrors(supergraph)).toBe(false);
    expect(supergraph.publicSdl).toContain('reviews: [Review!]!');
    const contract = composeWithoutPii({ sdl, url: accountsUrl }, reviews!.url);
    expect(compositionHasErrors(contract)).toBe(false);
    const userType = (publicSdl: string) => /type User implements Node \{[^}]*\}/.exec(publicSdl)?.[0] ?? '';
    expect(userType(supergraph.publicSdl!)).toContain('email: EmailAddress');
    const contractUser = userType(contract.publicSdl!);
    expect(contractUser).toContain('externalUserId: String');
    for (const field of ['email', 'firstName', 'lastName', 'userName', 'customFields', 'metadata', 'name', 'avatar']) {
      expect(contractUser).not.toMatch(new RegExp(`\\b${field}:`));
    }
  });
});

describe('through the gateway', () => {
  it('serves a query that only this subgraph answers', async () => {
    const result = await viaGateway(
      `{ viewer { isAdmin partner { name } } users(first: 3) { totalCount edges { node { externalUserId } } } }`,
      {},
      a.key,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data.viewer).toEqual({ isAdmin: true, partner: { name: 'Federated A' } });
    expect(result.data.users.totalCount).toBe(51);
    expect(result.data.users.edges).toHaveLength(3);
  });

  it("resolves User fields of another subgraph's reviews through our _entities", async () => {
    const result = await viaGateway(
      `{ latestReviews { body author { id externalUserId email account { name } entitlements { kind } } } }`,
      {},
      a.key,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data.latestReviews).toEqual([
      {
        body: 'Great learner',
        author: {
          id: ids[0],
          externalUserId: 'fed-0',
          email: 'fed0@example.com',
          account: { name: 'Federated A' },
          entitlements: [{ kind: 'KNERD' }],
        },
      },
      {
        body: 'Asks good questions',
        author: {
          id: ids[1],
          externalUserId: 'fed-1',
          email: 'fed1@example.com',
          account: { name: 'Federated A' },
          entitlements: [{ kind: 'KNERD' }],
        },
      },
      { body: 'Again', author: expect.objectContaining({ id: ids[0], externalUserId: 'fed-0' }) },
    ]);
  });

  it("adds the other subgraph's fields to our users", async () => {
    const result = await viaGateway(
      `query ($id: ID!) { user(id: $id) { externalUserId reviews { body } } }`,
      { id: ids[0] },
      a.key,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data.user).toEqual({
      externalUserId: 'fed-0',
      reviews: [{ body: 'Great learner' }, { body: 'Again' }],
    });
  });

  it(`passes a gateway's merged fetches: one request with an alias per fetch (20 user lookups, \
two _entities)`, async () => {
    subgraphQueries.length = 0;
    const lookups = await viaGateway(
      `{ ${ids
        .slice(0, 20)
        .map((id, i) => `u${i}: user(id: "${id}") { externalUserId reviews { body } }`)
        .join(' ')} }`,
      {},
      a.key,
    );
    expect(lookups.errors).toBeUndefined();
    expect(lookups.data.u0).toEqual({
      externalUserId: 'fed-0',
      reviews: [{ body: 'Great learner' }, { body: 'Again' }],
    });
    expect(lookups.data.u19).toEqual({ externalUserId: 'fed-19', reviews: [] });
    // Hive Gateway sent the 20 lookups to us as one document with 20 aliases (`_v0_user`, …).
    expect(subgraphQueries.some((q) => (q.match(/_v\d+_user:/g) ?? []).length === 20)).toBe(true);

    subgraphQueries.length = 0;
    const twice = await viaGateway(
      `{ a: latestReviews { author { externalUserId } } b: latestReviews { author { email account { name } } } }`,
      {},
      a.key,
    );
    expect(twice.errors).toBeUndefined();
    expect(twice.data.a[0]).toEqual({ author: { externalUserId: 'fed-0' } });
    expect(twice.data.b[1]).toEqual({ author: { email: 'fed1@example.com', account: { name: 'Federated A' } } });
    expect(subgraphQueries.some((q) => (q.match(/_v\d+__entities:/g) ?? []).length === 2)).toBe(true);
  });

  it('still refuses an abusive query that comes through the gateway', async () => {
    // Three 100-node pages, each with a 100-node connection in every node: far over the cost.
    const pages = Array.from(
      { length: 3 },
      (_, i) =>
        `p${i}: users(first: 100) { edges { node { id courses(first: 100) { edges { node { id title } } } } } }`,
    ).join(' ');
    const result = await viaGateway(`{ ${pages} }`, {}, a.key);
    expect(result.data?.p0 ?? null).toBeNull();
    expect(result.errors?.[0]?.message).toMatch(/cost/i);
  });

  it("forwards the caller's credential: another partner sees null authors, no credential is refused", async () => {
    const foreign = await viaGateway(`{ latestReviews { body author { externalUserId } } }`, {}, b.key);
    // The reviews still come (that subgraph knows nothing of tenancy); every User field
    // from us is null, since our _entities found none of A's users for B.
    expect(foreign.errors).toBeUndefined();
    expect(foreign.data.latestReviews.map((r: any) => r.author)).toEqual([
      { externalUserId: null },
      { externalUserId: null },
      { externalUserId: null },
    ]);
    const anonymous = await viaGateway(`{ users(first: 1) { totalCount } }`);
    expect(anonymous.data).toBeNull();
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('_entities sent straight to this subgraph', () => {
  const send = (representations: object[], token: string, query = ENTITIES) =>
    h.gql(query, { r: representations }, { token });

  it('resolves 50 users by id and 49 by externalUserId in at most 2 statements per entity type', async () => {
    const byId = ids.map((id) => ({ __typename: 'User', id }));
    // 100 representations in all: the most one list may hold (MAX_LIST_ITEMS).
    const byKey = ids.slice(1).map((_, i) => ({ __typename: 'User', externalUserId: `fed-${i + 1}` }));
    const accounts = [{ __typename: 'Account', id: a.accountGlobalId }];
    await send(byId.slice(0, 1), a.key); // warm the credential cache
    let result: Awaited<ReturnType<typeof send>> | undefined;
    const statements = await h.countStatements(async () => {
      result = await send([...byId, ...byKey, ...accounts], a.key);
    });
    expect(result!.errors).toBeUndefined();
    const entities = result!.data._entities;
    expect(entities).toHaveLength(100);
    expect(entities[0]).toEqual({
      __typename: 'User',
      id: ids[0],
      uuid: expect.any(String),
      externalUserId: 'fed-0',
      email: 'fed0@example.com',
      account: { name: 'Federated A' },
      entitlements: [{ kind: 'KNERD' }],
    });
    expect(entities[98]).toMatchObject({ id: ids[49], externalUserId: 'fed-49' });
    expect(entities[99]).toEqual({ __typename: 'Account', ulid: a.accountId, name: 'Federated A' });
    // Users: one statement per key (id, externalUserId), nested account and entitlements
    // joined in; accounts: one.
    expect(statements).toBeLessThanOrEqual(3);
  });

  it('costs the same for 5 and for 50 representations with nested connections', async () => {
    const query =
      'query ($r: [_Any!]!) { _entities(representations: $r) { ... on User { uuid courses { totalCount } ' +
      'enrollments(first: 5) { edges { node { id } } } client { identifier } mergedInto { uuid } } } }';
    const reps = (n: number) => ids.slice(0, n).map((id) => ({ __typename: 'User', id }));
    await send(reps(1), a.key, query);
    const five = await h.countStatements(() => send(reps(5), a.key, query));
    const fifty = await h.countStatements(() => send(reps(50), a.key, query));
    expect(fifty).toBe(five);
    expect(fifty).toBeLessThanOrEqual(2);
  });

  it("answers null for another partner's, unknown and malformed representations", async () => {
    const foreign = [
      ...ids.slice(0, 5).map((id) => ({ __typename: 'User', id })),
      { __typename: 'User', externalUserId: 'fed-1' },
      { __typename: 'Account', id: a.accountGlobalId },
      { __typename: 'User', id: b.adminGlobalId },
    ];
    await send(foreign.slice(-1), b.key);
    let result: Awaited<ReturnType<typeof send>> | undefined;
    const statements = await h.countStatements(async () => {
      result = await send(foreign, b.key);
    });
    expect(result!.errors).toBeUndefined();
    expect(result!.data._entities.slice(0, 7)).toEqual([null, null, null, null, null, null, null]);
    // B's own admin, for contrast: the filter is the caller's tenancy, not a blanket refusal.
    expect(result!.data._entities[7]).toMatchObject({ __typename: 'User', id: b.adminGlobalId });
    expect(statements).toBeLessThanOrEqual(3);

    const odd = await send(
      [
        { __typename: 'User', id: 'not-an-id' },
        { __typename: 'User', id: a.accountGlobalId },
        { __typename: 'User', id: 42 },
        { __typename: 'User', externalUserId: { nested: true } },
        { __typename: 'Client', id: '00000000-0000-4000-8000-000000000000' },
      ],
      a.key,
    );
    expect(odd.errors).toBeUndefined();
    expect(odd.data._entities).toEqual([null, null, null, null, null]);
  });

  it('answers each malformed representation with its own BAD_USER_INPUT error, and resolves the others', async () => {
    const result = await send(
      [
        { __typename: 'User', id: ids[0] },
        { __typename: 'Nope', id: ids[0] },
        { id: ids[0] },
        'User:1' as unknown as object,
        { __typename: 'Node', id: ids[0] },
        { __typename: 'User' },
        [{ __typename: 'User', id: ids[0] }],
        { __typename: 'User', externalUserId: 'fed-2' },
      ],
      a.key,
    );
    expect(result.status).toBe(200);
    const entities = result.data._entities;
    expect(entities).toHaveLength(8);
    expect(entities[0]).toMatchObject({ __typename: 'User', id: ids[0] });
    expect(entities.slice(1, 7)).toEqual([null, null, null, null, null, null]);
    expect(entities[7]).toMatchObject({ __typename: 'User', externalUserId: 'fed-2' });
    const errors = result.errors ?? [];
    expect(errors.map((e: any) => e.path)).toEqual([1, 2, 3, 4, 5, 6].map((i) => ['_entities', i]));
    for (const error of errors) {
      expect(error.extensions?.code).toBe('BAD_USER_INPUT');
      expect(error.message).not.toMatch(/resolveReference|Abstract type|Unexpected error/);
    }
    expect(errors[0]!.message).toMatch(/^representations\[1\] names "Nope", which is not an entity of this subgraph/);
    expect(errors[1]!.message).toMatch(/^representations\[2\] has no __typename/);
    expect(errors[2]!.message).toMatch(/^representations\[3\] must be an object/);
    expect(errors[3]!.message).toMatch(/^representations\[4\] names "Node"/);
    expect(errors[4]!.message).toBe("representations[5] carries none of User's keys (id | uuid | externalUserId)");
  });

  it("resolves a client entity within the caller's partner only", async () => {
    await mutate(h, a.key, 'upsertClient', { identifier: 'fed-client' });
    const { data } = await h.gql(`{ client(identifier: "fed-client") { id } }`, {}, { token: a.key });
    const rep = [{ __typename: 'Client', id: data.client.id }];
    expect((await send(rep, a.key)).data._entities).toEqual([{ __typename: 'Client', identifier: 'fed-client' }]);
    expect((await send(rep, b.key)).data._entities).toEqual([null]);
  });
});
