// Input at the edges: a "__proto__" key in metadata and custom fields is data on every
// surface (created, replaced, patched, read back) and never pollutes a prototype; behind a
// trusted proxy only a plainly written X-Forwarded-For address is believed.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Partner } from './helpers/app.js';
import { mutate } from './helpers/fixtures.js';
import { rawUser, readUser } from './helpers/lifecycle.js';

const h = useHarness({ TRUST_PROXY: 'true' });
let a: Partner;
let b: Partner;

beforeAll(async () => {
  if (!h.ready) return;
  a = await h.newPartner('Edge A');
  b = await h.newPartner('Edge B');
  await mutate(h, a.key, 'upsertClient', { identifier: 'web' });
});

afterEach(() => {
  // Whatever a test sent, no object anywhere in this process gained a property.
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.prototype).not.toHaveProperty('polluted');
});

/**
 * A value as JSON text with keys sorted (jsonb reorders them): "__proto__" shows only if
 * it is an own key.
 */
function text(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(text).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${text((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value);
}
/** The expected JSON, written as text (so "__proto__" is an own key), in text()'s form. */
const json = (written: string) => text(JSON.parse(written));
const FIELDS = '{ id uuid metadata customFields }';

/** GraphQL with the variables sent as raw JSON text, so "__proto__" arrives as an own key. */
async function gqlRaw(token: string, query: string, variablesJson: string) {
  const response = await h.request('/graphql', {
    method: 'POST',
    token,
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: `{"query": ${JSON.stringify(query)}, "variables": ${variablesJson}}`,
  });
  return { status: response.status, body: (await response.json()) as any };
}

const CREATE =
  'mutation ($input: CreateUserInput!) { createUser(input: $input) { __typename ' +
  `... on CreateUserSuccess { user ${FIELDS} } ... on Error { message } } }`;
const UPDATE =
  'mutation ($input: UpdateUserInput!) { updateUser(input: $input) { __typename ' +
  `... on UpdateUserSuccess { user ${FIELDS} } ... on Error { message } } }`;

describe('"__proto__" in GraphQL metadata and customFields', () => {
  it('is kept on create, replace and patch, read back, and stored', async () => {
    const created = await gqlRaw(
      a.key,
      CREATE,
      '{"input": {"identifier": "proto-1", "metadata": {"__proto__": ' +
        '{"polluted": true}, "plain": 1}, "email": "proto-1@example.com", "customFields": {"__proto__": "x"}}}',
    );
    expect(created.body.data.createUser.__typename).toBe('CreateUserSuccess');
    const user = created.body.data.createUser.user;
    expect(text(user.metadata)).toBe(json('{"__proto__":{"polluted":true},"plain":1}'));
    expect(text(user.customFields)).toBe(json('{"__proto__":"x"}'));
    const stored = await rawUser(h, user.uuid);
    expect(text(stored!.metadata)).toBe(json('{"__proto__":{"polluted":true},"plain":1}'));
    expect(Object.hasOwn(stored!.customFields as object, '__proto__')).toBe(true);
    expect(text((await readUser(h, a.key, user.id, 'metadata customFields')).user)).toBe(
      json('{"metadata":{"__proto__":{"polluted":true},"plain":1},"customFields":{"__proto__":"x"}}'),
    );

    // RFC 7396 inside the key, then the key removed by null.
    const id = JSON.stringify(user.id);
    const patched = await gqlRaw(
      a.key,
      UPDATE,
      `{"input": {"id": ${id}, "metadataPatch": {"__proto__": {"polluted": null, "kept": 2}}}}`,
    );
    expect(text(patched.body.data.updateUser.user.metadata)).toBe(json('{"__proto__":{"kept":2},"plain":1}'));
    const removed = await gqlRaw(a.key, UPDATE, `{"input": {"id": ${id}, "metadataPatch": {"__proto__": null}}}`);
    expect(text(removed.body.data.updateUser.user.metadata)).toBe(json('{"plain":1}'));
    const added = await gqlRaw(a.key, UPDATE, `{"input": {"id": ${id}, "metadataPatch": {"__proto__": [1, 2]}}}`);
    expect(text(added.body.data.updateUser.user.metadata)).toBe(json('{"plain":1,"__proto__":[1,2]}'));

    const replaced = await gqlRaw(
      a.key,
      UPDATE,
      `{"input": {"id": ${id}, "metadata": {"__proto__": {"constructor": ` +
        '{"prototype": {"polluted": 1}}}}, "customFields": {"__proto__": "y", "b": "z"}}}',
    );
    expect(replaced.body.data.updateUser.__typename).toBe('UpdateUserSuccess');
    expect(text(replaced.body.data.updateUser.user.metadata)).toBe(
      json('{"__proto__":{"constructor":{"prototype":{"polluted":1}}}}'),
    );
    expect(text(replaced.body.data.updateUser.user.customFields)).toBe(json('{"__proto__":"y","b":"z"}'));
    expect(text((await rawUser(h, user.uuid))!.metadata)).toBe(
      json('{"__proto__":{"constructor":{"prototype":{"polluted":1}}}}'),
    );
  });

  it('moves with the embed identity in a merge', async () => {
    const source = await gqlRaw(
      a.key,
      CREATE,
      '{"input": {"identifier": "proto-merge-src", "metadata": {"__proto__": {"polluted": true}}}}',
    );
    const target = await gqlRaw(a.key, CREATE, '{"input": {"externalUserId": "proto-merge-target"}}');
    const merged = await mutate(
      h,
      a.key,
      'mergeUsers',
      { sourceId: source.body.data.createUser.user.id, targetId: target.body.data.createUser.user.id },
      '... on MergeUsersSuccess { target { metadata } } ... on Error { message }',
    );
    expect(merged.__typename, JSON.stringify(merged)).toBe('MergeUsersSuccess');
    expect(text((await rawUser(h, target.body.data.createUser.user.uuid))!.metadata)).toBe(
      json('{"__proto__":{"polluted":true}}'),
    );
  });

  it('is kept when written as a literal in the document', async () => {
    const r = await h.gql(
      'mutation { createUser(input: { identifier: "proto-lit", metadata: { __proto__: ' +
        `{ polluted: true }, a: 1 } }) { __typename ... on CreateUserSuccess { user ${FIELDS} } } }`,
      {},
      { token: a.key },
    );
    expect(r.data.createUser.__typename).toBe('CreateUserSuccess');
    expect(text(r.data.createUser.user.metadata)).toBe(json('{"__proto__":{"polluted":true},"a":1}'));
  });

  it('is kept in client metadata', async () => {
    const r = await gqlRaw(
      a.key,
      'mutation ($input: UpsertClientInput!) { upsertClient(input: $input) { __typename ' +
        '... on UpsertClientSuccess { client { metadata } } ... on Error { message } } }',
      '{"input": {"identifier": "proto-client", "metadata": {"__proto__": {"polluted": true}}}}',
    );
    expect(r.body.data.upsertClient.__typename).toBe('UpsertClientSuccess');
    expect(text(r.body.data.upsertClient.client.metadata)).toBe(json('{"__proto__":{"polluted":true}}'));
  });

  it('still counts towards the size and depth limits', async () => {
    const deep = `${'{"a":'.repeat(20)}1${'}'.repeat(20)}`;
    const r = await gqlRaw(
      a.key,
      CREATE,
      `{"input": {"identifier": "proto-deep", "metadata": {"__proto__": ${deep}}}}`,
    );
    expect(r.body.data.createUser.__typename).toBe('ValidationError');
    expect(r.body.data.createUser.message).toMatch(/levels deep/);
  });

  it('is refused as a JSON object only when it is not one', async () => {
    const r = await gqlRaw(
      a.key,
      UPDATE,
      `{"input": {"id": ${JSON.stringify(a.adminGlobalId)}, "metadataPatch": "no"}}`,
    );
    expect(r.status).toBeLessThan(500);
    expect(JSON.stringify(r.body)).toMatch(/JSONObject|JSON object/);
  });
});

describe('"__proto__" in the REST dialects', () => {
  const send = (token: string, method: string, path: string, body: string) =>
    h.request(path, { method, token, headers: { 'content-type': 'application/json' }, body });

  it('embed: user and client metadata keep it on create and merge', async () => {
    const created = await send(
      a.key,
      'PUT',
      '/rest/embed/v1/headless/user/proto-embed',
      '{"metadata": {"__proto__": {"polluted": true}, "x": 1}}',
    );
    expect(created.status).toBe(201);
    expect(text((await created.json()).metadata)).toBe(json('{"__proto__":{"polluted":true},"x":1}'));
    const merged = await send(
      a.key,
      'PUT',
      '/rest/embed/v1/headless/user/proto-embed',
      '{"metadata": {"__proto__": {"more": 2}}}',
    );
    expect(text((await merged.json()).metadata)).toBe(json('{"__proto__":{"polluted":true,"more":2},"x":1}'));
    const read = await h.request('/rest/embed/v1/headless/user/proto-embed', { token: a.key });
    expect(text((await read.json()).metadata)).toBe(json('{"__proto__":{"polluted":true,"more":2},"x":1}'));
    const client = await send(
      a.key,
      'PUT',
      '/rest/embed/v1/headless/client/proto-embed-client',
      '{"metadata": {"__proto__": "data"}}',
    );
    expect(client.status).toBe(201);
    expect(text((await client.json()).metadata)).toBe(json('{"__proto__":"data"}'));
    // Another partner cannot see it.
    expect((await h.request('/rest/embed/v1/headless/user/proto-embed', { token: b.key })).status).toBe(404);
  });

  it('catalog: custom_fields keep it from a JSON body, a JSON string form field and bracket fields', async () => {
    const created = await send(
      a.key,
      'POST',
      '/rest/catalog/api/v1/users',
      '{"user_name": "p1", "email_address": "proto-cat-1@example.com", "custom_fields": {"__proto__": "a", "b": "c"}}',
    );
    expect(created.status).toBe(200);
    const user = (await created.json()).user;
    expect(text(user.custom_fields)).toBe(json('{"__proto__":"a","b":"c"}'));

    const form = new URLSearchParams({
      user_name: 'p2',
      email_address: 'proto-cat-2@example.com',
      custom_fields: '{"__proto__": "form"}',
    });
    const viaForm = await h.request('/rest/catalog/api/v1/users', {
      method: 'POST',
      token: a.key,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    expect(viaForm.status).toBe(200);
    const formUser = (await viaForm.json()).user;
    expect(text(formUser.custom_fields)).toBe(json('{"__proto__":"form"}'));

    // PUT merges key by key: a value replaces, null removes.
    const put = (body: string, type = 'application/json') =>
      h.request(`/rest/catalog/api/v1/users/${user.id}`, {
        method: 'PUT',
        token: a.key,
        headers: { 'content-type': type },
        body,
      });
    expect(text((await (await put('{"custom_fields": {"__proto__": "changed"}}')).json()).user.custom_fields)).toBe(
      json('{"__proto__":"changed","b":"c"}'),
    );
    expect(
      text(
        (await (await put('custom_fields%5B__proto__%5D=bracket', 'application/x-www-form-urlencoded')).json()).user
          .custom_fields,
      ),
    ).toBe(json('{"__proto__":"bracket","b":"c"}'));
    expect(text((await (await put('{"custom_fields": {"__proto__": null}}')).json()).user.custom_fields)).toBe(
      json('{"b":"c"}'),
    );
    const read = await h.request(`/rest/catalog/api/v1/users/${user.id}`, { token: a.key });
    expect(text((await read.json()).user.custom_fields)).toBe(json('{"b":"c"}'));
    expect((await h.request(`/rest/catalog/api/v1/users/${user.id}`, { token: b.key })).status).toBe(404);
  });

  it('catalog: a top-level "__proto__" form field is still no field name', async () => {
    const r = await h.request('/rest/catalog/api/v1/users', {
      method: 'POST',
      token: a.key,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: '__proto__%5Bpolluted%5D=1&user_name=x&email_address=proto-top@example.com',
    });
    expect(r.status).toBe(400);
    expect(await h.store.prisma.user.count({ where: { email: 'proto-top@example.com' } })).toBe(0);
  });
});

describe('X-Forwarded-For behind a trusted proxy', () => {
  const viewer = (xff: string, token = a.key) =>
    h.gql(`{ viewer { isAdmin } }`, {}, { token, ip: '10.0.0.1', headers: { 'x-forwarded-for': xff } });

  it('refuses addresses not written as a dotted quad or IPv6 with 400, on every surface', async () => {
    const bad = [
      '10.5',
      '167772165',
      '0x0a.0.0.5',
      '010.0.0.5',
      '10.0.0.05',
      '1.2.3.4:80',
      '[2001:db8::1]',
      '::ffff:10.5',
      '::ffff:010.0.0.5',
      'unknown',
      '203.0.113.7, ',
      '256.1.1.1',
    ];
    for (const xff of bad) {
      const r = await viewer(xff);
      expect(r.status, xff).toBe(400);
      expect(r.errors?.[0]?.message, xff).toMatch(/x-forwarded-for.*dotted-quad/i);
      expect(r.data, xff).toBeUndefined();
    }
    const rest = await h.request('/rest/learning/accounts/current', {
      token: a.key,
      headers: { 'x-forwarded-for': '10.5' },
    });
    expect(rest.status).toBe(400);
    expect(JSON.stringify(await rest.json())).toMatch(/x-forwarded-for/);
    const catalog = await h.request('/rest/catalog/api/v1/users', {
      token: a.key,
      headers: { 'x-forwarded-for': '167772165' },
    });
    expect(catalog.status).toBe(400);
    // Health checks answer whatever the header says.
    expect((await h.request('/healthz', { headers: { 'x-forwarded-for': '10.5' } })).status).toBe(200);
  });

  it('believes canonical IPv4 and IPv6 addresses, IPv4-mapped ones as IPv4', async () => {
    const partner = await h.newPartner('Edge allow-list');
    await mutate(h, partner.key, 'updateAccount', {
      id: partner.accountGlobalId,
      requireIpGqlAccess: true,
      allowedIps: ['10.0.0.0/24', '2001:db8::/32'],
    });
    const via = (xff: string) => viewer(xff, partner.key);
    for (const xff of ['10.0.0.5', '198.51.100.1, 10.0.0.5', '2001:db8::1', '2001:DB8:0:0::1', '::ffff:10.0.0.5'])
      expect((await via(xff)).status, xff).toBe(200);
    // 10.5 would have been read as 10.0.0.5, inside the list.
    expect((await via('10.5')).status).toBe(400);
    expect((await via('10.0.1.5')).status).toBe(403);
    expect((await via('2001:db9::1')).status).toBe(403);
  });
});
