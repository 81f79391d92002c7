// Abuse limits: document depth, aliases, tokens, cost; body size; batching; IP allow-lists;
// each just under and just over.
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Partner } from './helpers/app.js';
import { createManyUsers, mutate, viewerBatch } from './helpers/fixtures.js';
import { hs256 } from './helpers/jwt.js';
import { DOCUMENT_LIMITS } from '../src/auth/limits.js';

const h = useHarness({ MAX_BODY_BYTES: '20000' });
let partner: Partner;

beforeAll(async () => {
  if (!h.ready) return;
  partner = await h.newPartner('Limits');
});

/** A query `depth` fields deep: viewer { partner { parent { … { id } } } }. */
function nested(depth: number) {
  let inner = 'id';
  for (let i = 0; i < depth - 3; i++) inner = `parent { ${inner} }`;
  return `{ viewer { partner { ${inner} } } }`;
}

describe('document limits', () => {
  it(`allows depth ${DOCUMENT_LIMITS.maxDepth} and refuses one more`, async () => {
    const ok = await h.gql(nested(DOCUMENT_LIMITS.maxDepth), {}, { token: partner.key });
    expect(ok.errors?.some((e) => /depth/i.test(e.message))).toBeFalsy();
    const over = await h.gql(nested(DOCUMENT_LIMITS.maxDepth + 1), {}, { token: partner.key });
    expect(over.errors?.[0]?.message).toMatch(/depth/i);
    expect(over.data).toBeUndefined();
  });

  it(`allows ${DOCUMENT_LIMITS.maxAliases} aliases and refuses one more`, async () => {
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: viewer { isAdmin }`).join(' ')} }`;
    expect((await h.gql(aliases(DOCUMENT_LIMITS.maxAliases), {}, { token: partner.key })).errors).toBeUndefined();
    const over = await h.gql(aliases(DOCUMENT_LIMITS.maxAliases + 1), {}, { token: partner.key });
    expect(over.errors?.[0]?.message).toMatch(/alias/i);
  });

  it('refuses documents over the token limit', async () => {
    const fields = (n: number) => `{ viewer { ${Array.from({ length: n }, () => 'isAdmin').join(' ')} } }`;
    // 5 tokens of frame ({ viewer { } }) plus one per field.
    expect(
      (await h.gql(fields(DOCUMENT_LIMITS.maxTokens - 5), {}, { token: partner.key })).errors?.some((e) =>
        /token/i.test(e.message),
      ),
    ).toBeFalsy();
    const over = await h.gql(fields(DOCUMENT_LIMITS.maxTokens + 10), {}, { token: partner.key });
    expect(over.errors?.[0]?.message).toMatch(/token/i);
  });

  it('refuses documents over the cost limit, and allows them under it', async () => {
    // k aliased pages of 100 users: the cost grows with k, so the answers must be allowed up
    // to some k and refused (for cost, before anything runs) from the next one on.
    const page =
      'users(first: 100) { edges { node { id uuid status email externalUserId identifier ' +
      'account { id name parent { id name partner { id name } } } } } }';
    const pages = (k: number) => `{ ${Array.from({ length: k }, (_, i) => `u${i}: ${page}`).join(' ')} }`;
    const refused: boolean[] = [];
    for (let k = 1; k <= 12; k++) {
      const r = await h.gql(pages(k), {}, { token: partner.key });
      refused.push(Boolean(r.errors?.some((e) => /cost/i.test(e.message))));
      if (refused.at(-1)) expect(r.data).toBeUndefined();
    }
    const first = refused.indexOf(true);
    expect(first, 'some page count is over the limit').toBeGreaterThan(0);
    expect(refused.slice(first).every(Boolean), 'every larger document is refused too').toBe(true);
  });

  it(`allows ${DOCUMENT_LIMITS.maxDirectives} directives and refuses one more`, async () => {
    const directives = (n: number) =>
      `{ viewer { ${Array.from({ length: n }, () => 'isAdmin @include(if: true)').join(' ')} } }`;
    expect((await h.gql(directives(DOCUMENT_LIMITS.maxDirectives), {}, { token: partner.key })).errors).toBeUndefined();
    const over = await h.gql(directives(DOCUMENT_LIMITS.maxDirectives + 1), {}, { token: partner.key });
    expect(over.errors?.[0]?.message).toMatch(/directive/i);
  });

  it('caps connection pages at 100 nodes', async () => {
    await createManyUsers(h, partner, 104);
    const r = await h.gql(
      `query ($n: Int) { users(first: $n) { edges { node { id } } pageInfo { hasNextPage } } }`,
      { n: 1000 },
      { token: partner.key },
    );
    expect(r.data.users.edges).toHaveLength(100);
    expect(r.data.users.pageInfo.hasNextPage).toBe(true);
    const literal = await h.gql(`{ users(first: 1000) { edges { node { id } } } }`, {}, { token: partner.key });
    expect(literal.data.users.edges).toHaveLength(100);
  });
});

describe('HTTP limits', () => {
  it('accepts a body just under MAX_BODY_BYTES', async () => {
    const frame = JSON.stringify({ query: `{ viewer { isAdmin } }`, variables: { pad: '' } });
    const body = JSON.stringify({
      query: `{ viewer { isAdmin } }`,
      variables: { pad: 'x'.repeat(h.config.maxBodyBytes - frame.length - 1) },
    });
    expect(body.length).toBe(h.config.maxBodyBytes - 1);
    const r = await h.request('/graphql', {
      method: 'POST',
      token: partner.key,
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(r.status).toBe(200);
  });

  it('answers 413 for a body over MAX_BODY_BYTES', async () => {
    const body = JSON.stringify({ query: `{ viewer { isAdmin } }`, variables: { pad: 'x'.repeat(25_000) } });
    const r = await h.request('/graphql', {
      method: 'POST',
      token: partner.key,
      headers: { 'content-type': 'application/json' },
      body,
    });
    expect(r.status).toBe(413);
    expect(await r.json()).toEqual({
      errors: [
        {
          message: `request body larger than ${h.config.maxBodyBytes} bytes`,
          extensions: { code: 'PAYLOAD_TOO_LARGE' },
        },
      ],
    });
  });

  it('allows 10 batched operations and refuses 11', async () => {
    const batch = (n: number) => viewerBatch(h, partner.key, n);
    const ok = await batch(10);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toHaveLength(10);
    const over = await batch(11);
    expect(over.status).toBeGreaterThanOrEqual(400);
    expect(over.status).toBeLessThan(500);
  });

  it('answers malformed JSON with a 400', async () => {
    const r = await h.request('/graphql', {
      method: 'POST',
      token: partner.key,
      headers: { 'content-type': 'application/json' },
      body: '{"query": ',
    });
    expect(r.status).toBe(400);
  });
});

describe('IP allow-lists', () => {
  it('refuse GraphQL calls from outside allowedIps when the account requires it', async () => {
    const locked = await mutate(
      h,
      partner.key,
      'createAccount',
      { name: 'Locked', requireIpGqlAccess: true, allowedIps: ['10.0.0.0/8', '2001:db8::/32'] },
      '... on CreateAccountSuccess { account { id allowedIps } }',
    );
    expect(locked.account.allowedIps).toEqual(['10.0.0.0/8', '2001:db8::/32']);
    const child = await mutate(
      h,
      partner.key,
      'createAccount',
      { name: 'Locked child', parentId: locked.account.id },
      '... on CreateAccountSuccess { account { id } }',
    );
    const user = await mutate(
      h,
      partner.key,
      'createUser',
      { externalUserId: 'locked-user', accountId: child.account.id },
      '... on CreateUserSuccess { user { uuid } }',
    );
    const token = await hs256(user.user.uuid);
    const outside = await h.gql(`{ viewer { isAdmin } }`, {}, { token, ip: '192.168.1.10' });
    expect(outside.status).toBe(403);
    expect(outside.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    for (const ip of ['10.1.2.3', '::ffff:10.9.9.9', '2001:db8::1']) {
      expect((await h.gql(`{ viewer { isAdmin } }`, {}, { token, ip })).status, ip).toBe(200);
    }
    // X-Forwarded-For is not believed without TRUST_PROXY.
    const spoofed = await h.gql(
      `{ viewer { isAdmin } }`,
      {},
      { token, ip: '192.168.1.10', headers: { 'x-forwarded-for': '10.1.2.3' } },
    );
    expect(spoofed.status).toBe(403);
  });

  it('refuses requiring an allow-list without entries, and bad CIDRs', async () => {
    const empty = await mutate(h, partner.key, 'createAccount', { name: 'Empty', requireIpApiAccess: true });
    expect(empty.__typename).toBe('ValidationError');
    const bad = await h.gql(
      `mutation { createAccount(input: { name: "Bad", allowedIps: ["10.0.0.0/99"] }) { __typename } }`,
      {},
      { token: partner.key },
    );
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
