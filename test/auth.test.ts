// Credentials → principal: API keys, JWTs, the operator; and who may see what.
import { beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_TOKEN, useHarness, type Partner } from './helpers/app.js';
import { mutate } from './helpers/fixtures.js';
import { hs256 } from './helpers/jwt.js';
import type { PrismaClient } from '@prisma/client';
import { createAuthenticator } from '../src/auth/authenticate.js';
import { hashApiKey } from '../src/auth/keys.js';
import { SignJWT } from 'jose';
import { JWT_SECRET } from './helpers/app.js';

const h = useHarness();
let partner: Partner;
let member: { id: string; uuid: string };

const VIEWER = `{ viewer { isAdmin isOperator user { uuid } partner { ulid } } }`;

async function newUser(token: string, input: Record<string, unknown>) {
  const r = await mutate(h, token, 'createUser', input, '... on CreateUserSuccess { user { id uuid } }');
  if (!r.user) throw new Error(JSON.stringify(r));
  return r.user as { id: string; uuid: string };
}

beforeAll(async () => {
  if (!h.ready) return;
  partner = await h.newPartner('Auth', 'CORE');
  member = await newUser(partner.key, { externalUserId: 'member-1' });
});

describe('API keys', () => {
  it('never hands a request that comes after a revocation the result of a lookup started before it', async () => {
    const created = await mutate(
      h,
      partner.key,
      'createApiKey',
      { name: 'racing' },
      '... on CreateApiKeySuccess { key }',
    );
    const db = h.store.prisma;
    // The key's row is read, then held at a gate: the lookup stays under way.
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const gated = {
      apiKey: {
        findUnique: async (args: Parameters<typeof db.apiKey.findUnique>[0]) => {
          const row = await db.apiKey.findUnique(args);
          await gate;
          return row;
        },
        update: (args: Parameters<typeof db.apiKey.update>[0]) => db.apiKey.update(args),
      },
      user: db.user,
      account: db.account,
    } as unknown as PrismaClient;
    const auth = createAuthenticator(gated, h.config);
    const before = auth.authenticate(`Bearer ${created.key}`);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the row has been read as active
    await db.apiKey.updateMany({
      where: { partnerId: partner.accountId, name: 'racing' },
      data: { revokedAt: new Date() },
    });
    auth.invalidate();
    const after = auth.authenticate(`Bearer ${created.key}`);
    open();
    const [first, second] = await Promise.allSettled([before, after]);
    expect(first).toMatchObject({ status: 'fulfilled', value: { kind: 'user' } });
    expect(second).toMatchObject({ status: 'rejected', reason: { message: expect.stringMatching(/revoked/) } });
  });

  it(`sees a revocation made elsewhere (another replica) once PRINCIPAL_CACHE_SECONDS is over, \
not before`, async () => {
    const created = await mutate(
      h,
      partner.key,
      'createApiKey',
      { name: 'elsewhere' },
      '... on CreateApiKeySuccess { key }',
    );
    const auth = createAuthenticator(h.store.prisma, { ...h.config, principalCacheMs: 1_000 });
    await expect(auth.authenticate(`Bearer ${created.key}`)).resolves.toMatchObject({ kind: 'user' });
    // Revoked behind this authenticator's back: nothing calls its invalidate().
    await h.store.prisma.apiKey.updateMany({
      where: { partnerId: partner.accountId, name: 'elsewhere' },
      data: { revokedAt: new Date() },
    });
    await expect(auth.authenticate(`Bearer ${created.key}`)).resolves.toMatchObject({ kind: 'user' });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await expect(auth.authenticate(`Bearer ${created.key}`)).rejects.toThrow(/revoked/);
  });

  it('authenticate an admin principal', async () => {
    const r = await h.gql(VIEWER, {}, { token: partner.key });
    expect(r.status).toBe(200);
    expect(r.data.viewer).toMatchObject({ isAdmin: true, isOperator: false, partner: { ulid: partner.accountId } });
  });

  it('refuse missing, malformed, unknown, revoked and expired keys with 401', async () => {
    const created = await mutate(
      h,
      partner.key,
      'createApiKey',
      { name: 'temp' },
      '... on CreateApiKeySuccess { key apiKey { id prefix } }',
    );
    expect(created.key.startsWith(created.apiKey.prefix)).toBe(true);
    expect((await h.gql(VIEWER, {}, { token: created.key })).status).toBe(200);
    await mutate(h, partner.key, 'revokeApiKey', { id: created.apiKey.id });
    const expiring = await mutate(
      h,
      partner.key,
      'createApiKey',
      { name: 'expiring' },
      '... on CreateApiKeySuccess { key apiKey { id } }',
    );
    await h.store.prisma.apiKey.updateMany({
      where: { name: 'expiring' },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    for (const token of [undefined, 'garbage', `agk_${'x'.repeat(43)}`, created.key, expiring.key, 'a.b.c']) {
      const r = await h.gql(VIEWER, {}, { token });
      expect(r.status, String(token)).toBe(401);
      expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(r.data).toBeUndefined();
    }
  });

  it('are stored only as a hash', async () => {
    const row = await h.store.prisma.apiKey.findFirstOrThrow({ where: { partnerId: partner.accountId } });
    expect(row.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(partner.key);
  });

  it('record lastUsedAt in the background, at most once a minute; settled() waits for the write', async () => {
    const authenticator = createAuthenticator(h.store.prisma, h.config);
    // The admin's own key (the partner has others by now).
    const where = { hash: hashApiKey(partner.key) };
    const long = new Date(Date.now() - 120_000);
    await h.store.prisma.apiKey.updateMany({ where, data: { lastUsedAt: long } });
    expect(await authenticator.authenticate(`Bearer ${partner.key}`)).toMatchObject({ kind: 'user' });
    await authenticator.settled();
    const used = (await h.store.prisma.apiKey.findFirstOrThrow({ where })).lastUsedAt!;
    expect(used.getTime()).toBeGreaterThan(long.getTime() + 60_000);
    // Within the minute the key is not written again (a fresh lookup: the cache forgotten).
    authenticator.invalidate();
    const before = h.store.statementCount();
    await authenticator.authenticate(`Bearer ${partner.key}`);
    await authenticator.settled();
    const lookup = h.store.statementCount() - before;
    expect((await h.store.prisma.apiKey.findFirstOrThrow({ where })).lastUsedAt).toEqual(used);
    // The write is one statement more than the lookup alone.
    await h.store.prisma.apiKey.updateMany({ where, data: { lastUsedAt: long } });
    authenticator.invalidate();
    const again = h.store.statementCount();
    await authenticator.authenticate(`Bearer ${partner.key}`);
    await authenticator.settled();
    expect(h.store.statementCount() - again).toBe(lookup + 1);
  });

  it('cannot be created by a non-admin, and a past expiry is a validation error', async () => {
    const token = await hs256(member.uuid);
    const r = await h.gql(
      `mutation { createApiKey(input: { name: "x" }) { __typename ... on Error { code } } }`,
      {},
      { token },
    );
    expect(r.data.createApiKey).toEqual({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    const past = await mutate(h, partner.key, 'createApiKey', { name: 'old', expiresAt: '2001-01-01T00:00:00Z' });
    expect(past.__typename).toBe('ValidationError');
  });
});

describe('the principal cache', () => {
  it(`forgets only the principals of the users a write names: a deletion costs the admin's next request \
no lookup`, async () => {
    const victim = await newUser(partner.key, { externalUserId: 'forgotten' });
    const token = await hs256(victim.uuid);
    expect((await h.gql(VIEWER, {}, { token })).status).toBe(200);
    const cached = await h.countStatements(() => h.gql(VIEWER, {}, { token: partner.key }));
    await mutate(h, partner.key, 'deleteUser', { id: victim.id, action: 'IGNORE' });
    // The admin's principal is still cached: its next request costs what the last one did.
    expect(await h.countStatements(() => h.gql(VIEWER, {}, { token: partner.key }))).toBe(cached);
    // The deleted user's was forgotten at once.
    const refused = await h.gql(VIEWER, {}, { token });
    expect(refused.status).toBe(401);
    expect(refused.errors?.[0]?.message).toMatch(/deleted/);
  });

  it('answers a lookup under way when its user is named, but does not keep it; others it keeps', async () => {
    const db = h.store.prisma;
    let lookups = 0;
    const counted = {
      apiKey: {
        findUnique: (args: Parameters<typeof db.apiKey.findUnique>[0]) => {
          lookups++;
          return db.apiKey.findUnique(args);
        },
        update: (args: Parameters<typeof db.apiKey.update>[0]) => db.apiKey.update(args),
      },
      user: db.user,
      account: db.account,
    } as unknown as PrismaClient;
    for (const [named, lookedUpAgain] of [
      [partner.adminUserId, true],
      [member.uuid, false],
    ] as const) {
      lookups = 0;
      const auth = createAuthenticator(counted, h.config);
      // The lookup has begun (its key row is being read) when the write names the user.
      const under = auth.authenticate(`Bearer ${partner.key}`);
      auth.invalidate([named]);
      expect(await under).toMatchObject({ kind: 'user', userId: partner.adminUserId });
      expect(await auth.authenticate(`Bearer ${partner.key}`)).toMatchObject({ userId: partner.adminUserId });
      expect(lookups, `named ${named === member.uuid ? 'another user' : 'the admin'}`).toBe(lookedUpAgain ? 2 : 1);
      await auth.settled();
    }
  });
});

describe('JWTs (HS256)', () => {
  it('authenticate the user named by sub', async () => {
    const r = await h.gql(VIEWER, {}, { token: await hs256(member.uuid, { expiresIn: '5m' }) });
    expect(r.data.viewer).toMatchObject({ isAdmin: false, user: { uuid: member.uuid } });
  });

  it('refuse expired, badly signed and foreign-subject tokens', async () => {
    const cases = [
      await hs256(member.uuid, { expiresIn: Math.floor(Date.now() / 1000) - 60 }),
      await hs256(member.uuid, { secret: 'another-secret-another-secret-another-secret' }),
      await hs256('not-a-uuid'),
      await hs256('00000000-0000-7000-8000-000000000000'),
      // Without an expiry a token would never lapse.
      await hs256(member.uuid, { expiresIn: null }),
    ];
    for (const token of cases) {
      const r = await h.gql(VIEWER, {}, { token });
      expect(r.status).toBe(401);
    }
    const expired = await h.gql(VIEWER, {}, { token: cases[0] });
    expect(expired.errors?.[0]?.message).toMatch(/expired/);
  });

  it('refuse disabled, merged and deleted users', async () => {
    const disabled = await newUser(partner.key, { externalUserId: 'to-disable' });
    const merged = await newUser(partner.key, { externalUserId: 'to-merge' });
    const deleted = await newUser(partner.key, { externalUserId: 'to-delete' });
    const tokens = await Promise.all([disabled, merged, deleted].map((u) => hs256(u.uuid)));
    for (const token of tokens) expect((await h.gql(VIEWER, {}, { token })).status).toBe(200);
    await mutate(h, partner.key, 'disableUser', { id: disabled.id });
    await mutate(h, partner.key, 'mergeUsers', { sourceId: merged.id, targetId: member.id });
    await mutate(h, partner.key, 'deleteUser', { id: deleted.id, action: 'IGNORE' });
    for (const token of tokens) {
      const r = await h.gql(VIEWER, {}, { token });
      expect(r.status).toBe(401);
      expect(r.errors?.[0]?.message).toMatch(/disabled|merged|deleted/);
    }
  });
});

describe('the operator', () => {
  it('provisions partners; others may not', async () => {
    const r = await h.gql(
      `mutation { createPartner(input: { name: "Nope" }) { __typename ... on Error { code } } }`,
      {},
      { token: partner.key },
    );
    expect(r.data.createPartner).toEqual({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    const ok = await h.gql(
      'mutation { createPartner(input: { name: "Yes", plan: ENTERPRISE }) ' +
        '{ __typename ... on CreatePartnerSuccess { account { plan } apiKey } } }',
      {},
      { token: OPERATOR_TOKEN },
    );
    expect(ok.errors).toBeUndefined();
    expect(ok.data.createPartner.account.plan).toBe('ENTERPRISE');
    expect(ok.data.createPartner.apiKey).toMatch(/^agk_/);
  });

  it('sees no tenant data', async () => {
    const r = await h.gql(`{ viewer { isOperator } users { totalCount } }`, {}, { token: OPERATOR_TOKEN });
    expect(r.data?.viewer?.isOperator ?? true).toBe(true);
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const node = await h.gql(`query ($id: ID!) { node(id: $id) { id } }`, { id: member.id }, { token: OPERATOR_TOKEN });
    expect(node.data.node).toBeNull();
  });
});

describe('visibility inside a partner', () => {
  it('a plain user sees itself, its account and its partner, nothing else', async () => {
    const token = await hs256(member.uuid);
    const r = await h.gql(`{ users { totalCount edges { node { uuid } } } accounts { totalCount } }`, {}, { token });
    expect(r.data.users).toEqual({ totalCount: 1, edges: [{ node: { uuid: member.uuid } }] });
    expect(r.data.accounts.totalCount).toBe(1);
    const other = await h.gql(`query ($id: ID!) { user(id: $id) { id } }`, { id: partner.adminGlobalId }, { token });
    expect(other.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    const mutation = await h.gql(
      `mutation ($id: ID!) { disableUser(input: { id: $id }) { __typename ... on Error { code } } }`,
      { id: partner.adminGlobalId },
      { token },
    );
    expect(mutation.data.disableUser).toEqual({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
  });

  it('a user may edit its own profile but not its keys or status', async () => {
    const token = await hs256(member.uuid);
    const ok = await h.gql(
      `mutation ($id: ID!) { updateUser(input: { id: $id, firstName: "Me" }) { __typename } }`,
      { id: member.id },
      { token },
    );
    expect(ok.data.updateUser.__typename).toBe('UpdateUserSuccess');
    const key = await h.gql(
      'mutation ($id: ID!) { updateUser(input: { id: $id, email: "me@example.com" }) ' +
        '{ __typename ... on Error { message } } }',
      { id: member.id },
      { token },
    );
    expect(key.data.updateUser.__typename).toBe('ForbiddenError');
  });

  it('an account admin administers its subtree only', async () => {
    const branch = await mutate(
      h,
      partner.key,
      'createAccount',
      { name: 'Branch' },
      '... on CreateAccountSuccess { account { id ulid } }',
    );
    const leaf = await mutate(
      h,
      partner.key,
      'createAccount',
      { name: 'Leaf', parentId: branch.account.id },
      '... on CreateAccountSuccess { account { id } }',
    );
    const admin = await newUser(partner.key, { externalUserId: 'branch-admin', accountId: branch.account.id });
    await h.store.prisma.accountAdmin.create({ data: { accountId: branch.account.ulid, userId: admin.uuid } });
    const inLeaf = await newUser(partner.key, { externalUserId: 'leaf-user', accountId: leaf.account.id });
    const token = await hs256(admin.uuid);
    const r = await h.gql(
      `{ viewer { isAdmin } users { totalCount edges { node { externalUserId } } } }`,
      {},
      { token },
    );
    expect(r.data.viewer.isAdmin).toBe(true);
    expect(r.data.users.edges.map((e: any) => e.node.externalUserId).sort()).toEqual(['branch-admin', 'leaf-user']);
    const disable = await mutate(
      h,
      token,
      'disableUser',
      { id: inLeaf.id },
      '... on DisableUserSuccess { user { status } }',
    );
    expect(disable.user.status).toBe('DISABLED');
    const outside = await mutate(h, token, 'disableUser', { id: member.id });
    expect(outside.__typename).toBe('NotFoundError');
    const escalate = await mutate(h, token, 'grantEntitlements', { userId: inLeaf.id, kinds: ['PARTNER_ADMIN'] });
    expect(escalate.__typename).toBe('ForbiddenError');
  });
});

describe('claims of the wrong type in a validly signed JWT', () => {
  /** HS256 with the harness secret and exactly these claims (no defaults). */
  const signed = (claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(JWT_SECRET));
  const inAnHour = () => Math.floor(Date.now() / 1000) + 3600;

  it('are a 401 with a clear message that counts against the address, never a 500', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ sub: [member.uuid], exp: inAnHour() }, /sub claim must be a string/],
      [{ sub: { id: member.uuid }, exp: inAnHour() }, /sub claim must be a string/],
      [{ sub: 42, exp: inAnHour() }, /sub claim must be a string/],
      [{ sub: true, exp: inAnHour() }, /sub claim must be a string/],
      [{ sub: member.uuid, exp: String(inAnHour()) }, /invalid token/],
      [{ sub: member.uuid, exp: [inAnHour()] }, /invalid token/],
      [{ sub: member.uuid, exp: inAnHour(), nbf: 'now' }, /invalid token/],
      [{ sub: member.uuid, exp: inAnHour(), iat: {} }, /invalid token/],
    ];
    let n = 0;
    for (const [claims, message] of cases) {
      const ip = `198.51.100.${100 + n++}`;
      const r = await h.gql(VIEWER, {}, { token: await signed(claims), ip });
      expect(r.status, JSON.stringify(claims)).toBe(401);
      expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(r.errors?.[0]?.message, JSON.stringify(claims)).toMatch(message);
      expect(r.headers.get('www-authenticate')).toBe('Bearer realm="account-gateway", error="invalid_token"');
      // The refused request took one point from its address' budget (this probe the second).
      const { remaining } = await h.app.rateLimiter.consume(`ip:${ip}`);
      expect(remaining, JSON.stringify(claims)).toBe(h.config.rateLimitPerMinute - 2);
    }
    // Each REST dialect refuses it the same way.
    const token = await signed({ sub: [member.uuid], exp: inAnHour() });
    const rest = await h.request('/rest/learning/accounts/current', { token });
    expect(rest.status).toBe(401);
    expect(JSON.stringify(await rest.json())).toMatch(/sub claim must be a string/);
    // The well-typed token of the same user still works.
    expect((await h.gql(VIEWER, {}, { token: await signed({ sub: member.uuid, exp: inAnHour() }) })).status).toBe(200);
  });
});

describe('WWW-Authenticate', () => {
  const DIALECT_PATHS = [
    '/rest/learning/openapi.json',
    '/rest/catalog/openapi.json',
    '/rest/messaging/openapi.json',
    '/rest/embed/openapi.json',
    '/rest/learning/accounts/current',
    '/rest/catalog/api/v1/users',
    '/rest/embed/v1/headless/users',
  ];

  it('comes with every 401 of the graph and of each dialect', async () => {
    const missing = await h.gql(VIEWER, {}, {});
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="account-gateway"');
    const bad = await h.gql(VIEWER, {}, { token: 'agk_not-a-key' });
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toBe('Bearer realm="account-gateway", error="invalid_token"');
    const viaGet = await h.request(`/graphql?query=${encodeURIComponent('{ viewer { isAdmin } }')}`, {
      headers: { accept: 'application/json' },
    });
    expect(viaGet.status).toBe(401);
    expect(viaGet.headers.get('www-authenticate')).toBe('Bearer realm="account-gateway"');
    for (const path of DIALECT_PATHS) {
      for (const headers of [{}, { authorization: 'Bearer agk_not-a-key' }] as Record<string, string>[]) {
        const r = await h.request(path, { headers });
        expect(r.status, path).toBe(401);
        expect(r.headers.get('www-authenticate'), path).toMatch(/^Bearer realm="account-gateway"/);
      }
    }
    // The catalog also takes the bare key (and the source API's Token scheme); its 401s say Bearer all the same.
    for (const authorization of ['agk_not-a-key', 'Token token="agk_not-a-key"']) {
      const r = await h.request('/rest/catalog/api/v1/users', { headers: { authorization } });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toBe('Bearer realm="account-gateway", error="invalid_token"');
    }
  });

  it('does not come with other answers', async () => {
    const ok = await h.gql(VIEWER, {}, { token: partner.key });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('www-authenticate')).toBeNull();
    const forbidden = await h.gql(`{ users { totalCount } }`, {}, { token: OPERATOR_TOKEN });
    expect(forbidden.headers.get('www-authenticate')).toBeNull();
    expect(
      (await h.request('/rest/learning/accounts/current', { token: partner.key })).headers.get('www-authenticate'),
    ).toBeNull();
  });
});
