// Rights inside a partner: what an account admin may use, read and change above or beside
// its subtree (clients, partner-wide rights holders, conflict holders, API keys, idempotency
// keys), the cap on API keys, and the operator's way out of an IP lock-out. Each rule has a
// cross-partner probe beside it.
import crypto from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_TOKEN, useHarness, type Partner } from './helpers/app.js';
import { accountAdmin, jwtFor, newUser, rawUser, readUser, subAccount } from './helpers/lifecycle.js';
import { rest } from './dialects/helpers.js';
import { globalId } from '../src/graphql/ids.js';
import { MAX_ACTIVE_API_KEYS } from '../src/modules/partners/service.js';

const h = useHarness();

interface Outcome {
  /** The mutation's union value, when it answered one. */
  value: any;
  /** The code of the first transport-level error, when it answered with errors. */
  code?: string;
  message?: string;
}

/**
 * A mutation answered either way (union value or transport error). Each result union lists
 * only the errors its mutation can give, so details are asked for per call (CONFLICT, NOT_FOUND).
 */
async function attempt(token: string, name: string, input: Record<string, unknown>, selection = ''): Promise<Outcome> {
  const type = `${name[0]!.toUpperCase()}${name.slice(1)}Input`;
  const { data, errors } = await h.gql(
    `mutation ($input: ${type}!) { ${name}(input: $input) { __typename ... on Error { message code } ${selection} } }`,
    { input },
    { token },
  );
  return { value: data?.[name] ?? null, code: errors?.[0]?.extensions?.code, message: errors?.[0]?.message };
}

/**
 * A refusal for lack of rights surfaces as a ForbiddenError in the union or as a FORBIDDEN
 * transport error (how mutation refusals surface may change); either is accepted, and neither
 * may name a uuid.
 */
function expectRefused(outcome: Outcome): void {
  const forbidden = outcome.value?.__typename === 'ForbiddenError' || outcome.code === 'FORBIDDEN';
  expect(forbidden, JSON.stringify(outcome)).toBe(true);
  expect(JSON.stringify(outcome)).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-/);
}

const CONFLICT = '... on ConflictError { field existingId }';
const NOT_FOUND = '... on NotFoundError { entity }';

const UUID_TEXT = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

const upsertClient = async (token: string, input: Record<string, unknown>) =>
  (await attempt(token, 'upsertClient', input)).value;

// One partner with two sibling sub-accounts, an admin of each, and a client at the root and in each.
let a: Partner;
let b: Partner;
let left: string;
let right: string;
let leftAdmin: { user: any; token: string };
let rightAdmin: { user: any; token: string };

beforeAll(async () => {
  if (!h.ready) return;
  a = await h.newPartner('Rights A', 'AUTOMATE');
  b = await h.newPartner('Rights B', 'AUTOMATE');
  left = await subAccount(h, a, 'Left');
  right = await subAccount(h, a, 'Right');
  leftAdmin = await accountAdmin(h, a, left, 'rights-left-admin');
  rightAdmin = await accountAdmin(h, a, right, 'rights-right-admin');
  expect((await upsertClient(a.key, { identifier: 'root-client', metadata: { secret: 'root' } })).__typename).toBe(
    'UpsertClientSuccess',
  );
  expect(
    (await upsertClient(leftAdmin.token, { identifier: 'left-client', accountId: left, metadata: { secret: 'left' } }))
      .__typename,
  ).toBe('UpsertClientSuccess');
  expect(
    (
      await upsertClient(rightAdmin.token, {
        identifier: 'right-client',
        accountId: right,
        metadata: { secret: 'right' },
      })
    ).__typename,
  ).toBe('UpsertClientSuccess');
  expect((await upsertClient(b.key, { identifier: 'b-client', metadata: { secret: 'b' } })).__typename).toBe(
    'UpsertClientSuccess',
  );
});

describe('clients an account admin cannot see', () => {
  it('cannot be attached by createUser, createUsers, updateUser or the embed PUT: they are not found', async () => {
    for (const clientIdentifier of ['root-client', 'right-client', 'b-client', 'no-such-client']) {
      const created = await attempt(
        leftAdmin.token,
        'createUser',
        { identifier: `att-${clientIdentifier}`, clientIdentifier, accountId: left },
        NOT_FOUND,
      );
      expect(created.value, clientIdentifier).toMatchObject({ __typename: 'NotFoundError', entity: 'Client' });
      expect(created.value.message).not.toMatch(UUID_TEXT);

      const bulk = await attempt(
        leftAdmin.token,
        'createUsers',
        { users: [{ identifier: `bulk-${clientIdentifier}`, clientIdentifier }] },
        '... on CreateUsersSuccess { results { __typename ... on NotFoundError { entity message } } }',
      );
      expect(bulk.value.results, clientIdentifier).toEqual([
        { __typename: 'NotFoundError', entity: 'Client', message: expect.not.stringMatching(UUID_TEXT) },
      ]);

      const put = await rest(h, 'PUT', `/rest/embed/v1/headless/user/put-${clientIdentifier}`, {
        token: leftAdmin.token,
        json: { clientIdentifier },
      });
      expect(put.status, clientIdentifier).toBe(404);
    }
    const mine = await newUser(h, leftAdmin.token, { identifier: 'att-mine', accountId: left });
    for (const clientIdentifier of ['root-client', 'right-client', 'b-client']) {
      const updated = await attempt(leftAdmin.token, 'updateUser', { id: mine.id, clientIdentifier }, NOT_FOUND);
      expect(updated.value, clientIdentifier).toMatchObject({ __typename: 'NotFoundError', entity: 'Client' });
    }
    expect((await rawUser(h, mine.uuid))!.clientId).toBeNull();
    expect(
      await h.store.prisma.user.count({ where: { partnerId: a.accountId, identifier: { startsWith: 'bulk-' } } }),
    ).toBe(0);
    expect(await h.store.prisma.user.count({ where: { identifier: { startsWith: 'put-' } } })).toBe(0);
    // Its own client it may use, and the partner admin may use any of the partner's.
    expect(
      (await attempt(leftAdmin.token, 'updateUser', { id: mine.id, clientIdentifier: 'left-client' })).value.__typename,
    ).toBe('UpdateUserSuccess');
    expect(
      (
        await attempt(a.key, 'createUser', {
          identifier: 'att-by-partner',
          clientIdentifier: 'right-client',
          accountId: left,
        })
      ).value.__typename,
    ).toBe('CreateUserSuccess');
    // Another partner's admin finds none of A's clients.
    expect(
      (await attempt(b.key, 'createUser', { identifier: 'att-cross', clientIdentifier: 'left-client' })).value,
    ).toMatchObject({ __typename: 'NotFoundError' });
  });

  it(`reads null for the client of a user it manages when the client is not its to see, \
on both read paths`, async () => {
    // A partner admin attached a user of the left account to the root's client.
    const user = await newUser(h, a.key, {
      identifier: 'read-root-client',
      clientIdentifier: 'root-client',
      accountId: left,
    });
    const fields = 'uuid client { identifier metadata }';
    expect((await readUser(h, a.key, user.id, fields)).user.client).toEqual({
      identifier: 'root-client',
      metadata: { secret: 'root' },
    });
    expect((await readUser(h, leftAdmin.token, user.id, fields)).user).toEqual({ uuid: user.uuid, client: null });
    // The users page (answered by the compiled path when it is on) agrees.
    const page = await h.gql(
      `{ users(first: 100, filter: { accountId: "${globalId('Account', left)}" }) { edges { node { ${fields} } } } }`,
      {},
      { token: leftAdmin.token },
    );
    expect(page.errors).toBeUndefined();
    const node = page.data.users.edges.map((e: any) => e.node).find((n: any) => n.uuid === user.uuid);
    expect(node).toEqual({ uuid: user.uuid, client: null });
    // A user of its own client still shows it.
    const own = await newUser(h, leftAdmin.token, {
      identifier: 'read-left-client',
      clientIdentifier: 'left-client',
      accountId: left,
    });
    expect((await readUser(h, leftAdmin.token, own.id, fields)).user.client).toEqual({
      identifier: 'left-client',
      metadata: { secret: 'left' },
    });
    // The plain user itself sees the client it belongs to.
    expect((await readUser(h, await jwtFor(user.uuid), user.id, fields)).user.client).toEqual({
      identifier: 'root-client',
      metadata: { secret: 'root' },
    });
  });

  it('refuses to delete a client whose users it does not administer, naming no one', async () => {
    await upsertClient(rightAdmin.token, { identifier: 'mixed-client', accountId: right });
    const outsider = await newUser(h, a.key, {
      identifier: 'mixed-outsider',
      clientIdentifier: 'mixed-client',
      accountId: left,
    });
    const refused = await attempt(rightAdmin.token, 'deleteClient', { identifier: 'mixed-client' });
    expectRefused(refused);
    expect(await h.store.prisma.client.count({ where: { partnerId: a.accountId, identifier: 'mixed-client' } })).toBe(
      1,
    );
    expect((await rawUser(h, outsider.uuid))!.status).toBe('ACTIVE');
    // The partner admin may.
    expect((await attempt(a.key, 'deleteClient', { identifier: 'mixed-client' })).value.__typename).toBe(
      'DeleteClientSuccess',
    );
  });
});

describe('users holding partner-wide rights', () => {
  // A partner admin homed in the left account: its account admin manages its account, not its rights.
  async function partnerWideUser(externalUserId: string, kind: 'PARTNER_ADMIN' | 'ALL' = 'PARTNER_ADMIN') {
    const user = await newUser(h, a.key, { externalUserId, email: `${externalUserId}@example.com`, accountId: left });
    expect((await attempt(a.key, 'grantEntitlements', { userId: user.id, kinds: [kind] })).value.__typename).toBe(
      'GrantEntitlementsSuccess',
    );
    const key = (
      await attempt(await jwtFor(user.uuid), 'createApiKey', { name: 'own' }, '... on CreateApiKeySuccess { key }')
    ).value;
    return { ...user, key: key.key as string };
  }

  it('are disabled, enabled, deleted, re-keyed and merged only by a partner admin', async () => {
    for (const kind of ['PARTNER_ADMIN', 'ALL'] as const) {
      const boss = await partnerWideUser(`pw-boss-${kind.toLowerCase()}`, kind);
      const other = await newUser(h, leftAdmin.token, {
        externalUserId: `pw-other-${kind.toLowerCase()}`,
        accountId: left,
      });
      const t = leftAdmin.token;
      expectRefused(await attempt(t, 'disableUser', { id: boss.id }));
      expectRefused(await attempt(t, 'deleteUser', { id: boss.id, action: 'DELETE' }));
      expectRefused(await attempt(t, 'updateUser', { id: boss.id, email: `hijack-${kind}@example.com` }));
      expectRefused(await attempt(t, 'updateUser', { id: boss.id, identifier: `hijack-${kind}` }));
      expectRefused(await attempt(t, 'mergeUsers', { sourceId: boss.id, targetId: other.id }));
      expectRefused(await attempt(t, 'mergeUsers', { sourceId: other.id, targetId: boss.id }));
      expectRefused(await attempt(t, 'deleteUserDependencies', { id: boss.id }));
      expectRefused(await attempt(t, 'revokeEntitlements', { userId: boss.id, kinds: ['KNERD'] }));
      expectRefused(await attempt(t, 'reallocateCourses', { fromUserId: boss.id, toUserId: other.id }));
      expectRefused(await attempt(t, 'createCourse', { ownerId: boss.id, title: 'pushed' }));
      expectRefused(await attempt(t, 'removeAccountAdmin', { accountId: left, userId: boss.id }));
      const row = (await rawUser(h, boss.uuid))!;
      expect(row).toMatchObject({ status: 'ACTIVE', email: boss.email, identifier: null });
      expect(row.entitlements.map((e) => e.kind)).toContain(kind);
      expect((await rawUser(h, other.uuid))!.status).toBe('ACTIVE');
      expect(await h.store.prisma.apiKey.count({ where: { principalId: boss.uuid, revokedAt: null } })).toBe(1);
      // Its key still works: nothing was revoked.
      expect((await h.gql('{ viewer { isAdmin } }', {}, { token: boss.key })).data.viewer.isAdmin).toBe(true);
      // What the user could change of itself, its account admin may change too.
      const renamed = await attempt(
        t,
        'updateUser',
        { id: boss.id, firstName: 'Renamed', metadataPatch: { team: 'left' } },
        '... on UpdateUserSuccess { user { firstName } }',
      );
      expect(renamed.value).toMatchObject({ __typename: 'UpdateUserSuccess', user: { firstName: 'Renamed' } });
      // A partner admin may do all of it.
      expect(
        (await attempt(a.key, 'updateUser', { id: boss.id, email: `moved-${kind}@example.com` })).value.__typename,
      ).toBe('UpdateUserSuccess');
      expect((await attempt(a.key, 'disableUser', { id: boss.id })).value.__typename).toBe('DisableUserSuccess');
      expect((await attempt(a.key, 'enableUser', { id: boss.id })).value.__typename).toBe('EnableUserSuccess');
      expect((await attempt(a.key, 'deleteUser', { id: boss.id, action: 'DELETE' })).value.__typename).toBe(
        'DeleteUserSuccess',
      );
    }
  });

  it('is refused to a disabled one being enabled by an account admin', async () => {
    const boss = await partnerWideUser('pw-disabled');
    expect((await attempt(a.key, 'disableUser', { id: boss.id })).value.__typename).toBe('DisableUserSuccess');
    expectRefused(await attempt(leftAdmin.token, 'enableUser', { id: boss.id }));
    expect((await rawUser(h, boss.uuid))!.status).toBe('DISABLED');
  });

  it('stays invisible to another partner, which finds no such user', async () => {
    const boss = await partnerWideUser('pw-cross');
    for (const name of ['disableUser', 'enableUser', 'deleteUserDependencies']) {
      expect((await attempt(b.key, name, { id: boss.id })).value, name).toMatchObject({ __typename: 'NotFoundError' });
    }
    expect((await attempt(b.key, 'deleteUser', { id: boss.id, action: 'DELETE' })).value).toMatchObject({
      __typename: 'NotFoundError',
    });
    expect((await rawUser(h, boss.uuid))!.status).toBe('ACTIVE');
  });
});

describe('ConflictError.existingId', () => {
  it('names the holder only to a caller who can see it', async () => {
    await newUser(h, a.key, { externalUserId: 'cx-root', email: 'cx-root@example.com', identifier: 'cx-root' });
    const siblingHolder = await newUser(h, rightAdmin.token, { externalUserId: 'cx-right', accountId: right });
    const ownHolder = await newUser(h, leftAdmin.token, { externalUserId: 'cx-left', accountId: left });
    const deleted = await newUser(h, a.key, { externalUserId: 'cx-deleted' });
    expect((await attempt(a.key, 'deleteUser', { id: deleted.id, action: 'DELETE' })).value.__typename).toBe(
      'DeleteUserSuccess',
    );

    const one = async (token: string, input: Record<string, unknown>) =>
      (await attempt(token, 'createUser', { accountId: left, ...input }, CONFLICT)).value;
    for (const input of [
      { externalUserId: 'cx-root' },
      { email: 'CX-root@example.com' },
      { identifier: 'cx-root' },
      { externalUserId: 'cx-right' },
      { externalUserId: 'cx-deleted' },
    ]) {
      const r = await one(leftAdmin.token, input);
      expect(r, JSON.stringify(input)).toMatchObject({
        __typename: 'ConflictError',
        field: Object.keys(input)[0],
        existingId: null,
      });
      expect(r.message).not.toMatch(UUID_TEXT);
    }
    expect(await one(leftAdmin.token, { externalUserId: 'cx-left' })).toMatchObject({
      __typename: 'ConflictError',
      existingId: ownHolder.uuid,
    });
    // The partner admin sees every live holder (a deleted one answers NOT_FOUND to everyone).
    expect(await one(a.key, { externalUserId: 'cx-right' })).toMatchObject({
      __typename: 'ConflictError',
      existingId: siblingHolder.uuid,
    });
    expect(await one(a.key, { externalUserId: 'cx-deleted' })).toMatchObject({
      __typename: 'ConflictError',
      existingId: null,
    });

    const bulk = await attempt(
      leftAdmin.token,
      'createUsers',
      {
        users: [
          { externalUserId: 'cx-root' },
          { externalUserId: 'cx-right' },
          { externalUserId: 'cx-left' },
          { externalUserId: 'cx-new' },
        ],
      },
      '... on CreateUsersSuccess { results { __typename ... on ConflictError { existingId message } } }',
    );
    expect(
      bulk.value.results.map((r: any) => (r.__typename === 'ConflictError' ? r.existingId : r.__typename)),
    ).toEqual([null, null, ownHolder.uuid, 'CreateUserSuccess']);
    expect(JSON.stringify(bulk.value.results.slice(0, 2))).not.toMatch(UUID_TEXT);

    // A plain user of another partner learns nothing, and B's keys are its own.
    expect(await one(b.key, { externalUserId: 'cx-root', accountId: undefined })).toMatchObject({
      __typename: 'CreateUserSuccess',
    });
  });
});

describe('ApiKey nodes', () => {
  // What the finding was about: name, prefix and lastUsedAt (the principal is a User, with its own visibility).
  const NODE = 'query ($id: ID!) { node(id: $id) { __typename ... on ApiKey { name prefix lastUsedAt } } }';
  const readKey = async (token: string, id: string) => {
    const { data, errors } = await h.gql(NODE, { id }, { token });
    expect(errors?.filter((e) => e.extensions?.code !== 'NOT_FOUND') ?? []).toEqual([]);
    return data?.node ?? null;
  };

  it("answer only the key's owner and the partner's admins", async () => {
    const partnerKey = (
      await attempt(a.key, 'createApiKey', { name: 'partner-ci' }, '... on CreateApiKeySuccess { apiKey { id } key }')
    ).value;
    const leftKey = (
      await attempt(
        leftAdmin.token,
        'createApiKey',
        { name: 'left-ci' },
        '... on CreateApiKeySuccess { apiKey { id } key }',
      )
    ).value;
    const initial = await h.store.prisma.apiKey.findFirstOrThrow({
      where: { partnerId: a.accountId, name: 'initial' },
    });
    const initialId = globalId('ApiKey', initial.id);

    expect(await readKey(a.key, partnerKey.apiKey.id)).toMatchObject({ name: 'partner-ci' });
    expect(await readKey(a.key, leftKey.apiKey.id)).toMatchObject({ name: 'left-ci' });
    const owner = await h.gql(
      'query ($id: ID!) { node(id: $id) { ... on ApiKey { principal { uuid } } } }',
      { id: leftKey.apiKey.id },
      { token: a.key },
    );
    expect(owner.data.node.principal.uuid).toBe(leftAdmin.user.uuid);
    expect(await readKey(leftAdmin.token, leftKey.apiKey.id)).toMatchObject({ name: 'left-ci' });
    expect(await readKey(leftKey.key, leftKey.apiKey.id)).toMatchObject({ name: 'left-ci' });
    for (const id of [partnerKey.apiKey.id, initialId]) {
      expect(await readKey(leftAdmin.token, id)).toBeNull();
      expect(await readKey(rightAdmin.token, id)).toBeNull();
      expect(await readKey(b.key, id)).toBeNull();
    }
    expect(await readKey(rightAdmin.token, leftKey.apiKey.id)).toBeNull();
    expect(await readKey(b.key, leftKey.apiKey.id)).toBeNull();
    const nodes = await h.gql(
      'query ($ids: [ID!]!) { nodes(ids: $ids) { __typename } }',
      { ids: [partnerKey.apiKey.id, leftKey.apiKey.id, initialId] },
      { token: leftAdmin.token },
    );
    expect(nodes.data.nodes).toEqual([null, { __typename: 'ApiKey' }, null]);
    // Revoking follows the same rule: a key the caller cannot see is not found.
    expect((await attempt(leftAdmin.token, 'revokeApiKey', { id: partnerKey.apiKey.id })).value).toMatchObject({
      __typename: 'NotFoundError',
    });
    expect((await attempt(b.key, 'revokeApiKey', { id: leftKey.apiKey.id })).value).toMatchObject({
      __typename: 'NotFoundError',
    });
    expect(await h.store.prisma.apiKey.count({ where: { id: { in: [initial.id] }, revokedAt: { not: null } } })).toBe(
      0,
    );
  });
});

describe('idempotency keys', () => {
  const BULK_RESULTS =
    '... on CreateUsersSuccess { results { __typename ... on CreateUserSuccess { user { uuid } } } }';
  const bulk = async (token: string, users: object[], idempotencyKey: string) =>
    (await attempt(token, 'createUsers', { users, idempotencyKey }, BULK_RESULTS)).value;

  it('belong to one credential: another key, a JWT or an account admin neither replays nor squats them', async () => {
    const second = (await attempt(a.key, 'createApiKey', { name: 'second' }, '... on CreateApiKeySuccess { key }'))
      .value.key as string;
    const users = [{ externalUserId: 'idem-r-1', accountId: left }];
    const first = await bulk(a.key, users, 'scoped-key');
    expect(first.results[0].__typename).toBe('CreateUserSuccess');
    // The same credential gets its first results again.
    expect((await bulk(a.key, users, 'scoped-key')).results[0].user.uuid).toBe(first.results[0].user.uuid);
    // Another credential's call with the same key is new work: the key is taken, nothing is replayed.
    for (const token of [leftAdmin.token, second, await jwtFor(a.adminUserId)]) {
      const other = await bulk(token, users, 'scoped-key');
      expect(other.results[0].__typename).toBe('ConflictError');
    }
    // A key used first by an account admin does not block (or answer) the partner admin.
    await bulk(leftAdmin.token, [{ externalUserId: 'idem-squat', accountId: left }], 'squatted');
    const mine = await bulk(a.key, [{ externalUserId: 'idem-squatted-not' }], 'squatted');
    expect(mine.results[0].__typename).toBe('CreateUserSuccess');
    // Another partner with the same key and request is its own work.
    expect((await bulk(b.key, [{ externalUserId: 'idem-r-1' }], 'scoped-key')).results[0].__typename).toBe(
      'CreateUserSuccess',
    );
    const records = await h.store.prisma.idempotencyRecord.findMany({
      where: { key: { in: ['scoped-key', 'squatted'] } },
    });
    expect(new Set(records.map((r) => `${r.partnerId} ${r.credential} ${r.key}`)).size).toBe(records.length);
  });
});

describe('API key cap', () => {
  it(`allows ${MAX_ACTIVE_API_KEYS} active keys per partner; revoked and expired ones do not count`, async () => {
    const p = await h.newPartner('Key cap', 'CORE');
    const other = await h.newPartner('Key cap other', 'CORE');
    // The initial key plus filler rows up to one below the cap (faster than the API).
    const filler = Array.from({ length: MAX_ACTIVE_API_KEYS - 2 }, (_, i) => ({
      partnerId: p.accountId,
      principalId: p.adminUserId,
      name: `filler-${i}`,
      prefix: 'agk_fill',
      hash: crypto.randomBytes(32).toString('hex'),
    }));
    await h.store.prisma.apiKey.createMany({ data: filler });
    const create = (token: string, name: string) =>
      attempt(token, 'createApiKey', { name }, '... on CreateApiKeySuccess { apiKey { id } }');
    // Two at once for the last place: exactly one gets it.
    const racing = await Promise.all([create(p.key, 'race-1'), create(p.key, 'race-2')]);
    expect(racing.map((r) => r.value.__typename).sort()).toEqual(['ConflictError', 'CreateApiKeySuccess']);
    const refused = racing.find((r) => r.value.__typename === 'ConflictError')!.value;
    expect(refused.message).toMatch(new RegExp(`${MAX_ACTIVE_API_KEYS} active API keys`));
    expect(await h.store.prisma.apiKey.count({ where: { partnerId: p.accountId, revokedAt: null } })).toBe(
      MAX_ACTIVE_API_KEYS,
    );
    // The CLI goes through the same service; another partner is not affected.
    expect((await create(other.key, 'unaffected')).value.__typename).toBe('CreateApiKeySuccess');
    // A revoked key frees a place, and so does an expired one.
    const made = racing.find((r) => r.value.__typename === 'CreateApiKeySuccess')!.value;
    expect((await attempt(p.key, 'revokeApiKey', { id: made.apiKey.id })).value.__typename).toBe('RevokeApiKeySuccess');
    expect((await create(p.key, 'after-revoke')).value.__typename).toBe('CreateApiKeySuccess');
    expect((await create(p.key, 'over')).value.__typename).toBe('ConflictError');
    await h.store.prisma.apiKey.updateMany({
      where: { partnerId: p.accountId, name: 'filler-0' },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    expect((await create(p.key, 'after-expiry')).value.__typename).toBe('CreateApiKeySuccess');
  });
});

describe('resetAccountIpAccess (operator)', () => {
  const RESET =
    'mutation ($input: ResetAccountIpAccessInput!) { resetAccountIpAccess(input: $input) ' +
    '{ __typename ... on Error { message code } ... on ResetAccountIpAccessSuccess ' +
    '{ account { ulid requireIpGqlAccess requireIpApiAccess allowedIps } } } }';

  it("undoes a partner admin's GraphQL lock-out and nothing else", async () => {
    const p = await h.newPartner('Locked out', 'CORE');
    const locked = await attempt(p.key, 'updateAccount', {
      id: p.accountGlobalId,
      requireIpGqlAccess: true,
      requireIpApiAccess: true,
      allowedIps: ['203.0.113.0/24'],
    });
    expect(locked.value?.__typename ?? locked.code).toBe('UpdateAccountSuccess');
    expect((await h.gql('{ viewer { isAdmin } }', {}, { token: p.key })).status).toBe(403);
    expect((await rest(h, 'GET', '/rest/messaging/api/v1/accounts', { token: p.key })).status).toBe(403);
    // Nobody of the partner (nor another partner) can undo it; the operator can.
    expect((await h.gql(RESET, { input: { accountId: p.accountGlobalId } }, { token: p.key })).status).toBe(403);
    const foreign = await h.gql(RESET, { input: { accountId: p.accountGlobalId } }, { token: a.key });
    expect(
      foreign.data?.resetAccountIpAccess?.__typename === 'ForbiddenError' ||
        foreign.errors?.[0]?.extensions?.code === 'FORBIDDEN',
    ).toBe(true);
    const reset = await h.gql(RESET, { input: { accountId: p.accountGlobalId } }, { token: OPERATOR_TOKEN });
    expect(reset.errors).toBeUndefined();
    expect(reset.data.resetAccountIpAccess).toEqual({
      __typename: 'ResetAccountIpAccessSuccess',
      account: {
        ulid: p.accountId,
        requireIpGqlAccess: false,
        requireIpApiAccess: true,
        allowedIps: ['203.0.113.0/24'],
      },
    });
    // At once, not after the principal cache's TTL.
    expect((await h.gql('{ viewer { isAdmin } }', {}, { token: p.key })).data.viewer.isAdmin).toBe(true);
    expect((await rest(h, 'GET', '/rest/messaging/api/v1/accounts', { token: p.key })).status).toBe(403);
    const audit = await h.store.prisma.auditEvent.findFirst({
      where: { partnerId: p.accountId, action: 'account.reset_ip_access' },
    });
    expect(audit).toMatchObject({ actorKind: 'operator', subjectId: p.accountId });
    // The native id works too; an unknown or malformed one is not found.
    expect(
      (await h.gql(RESET, { input: { accountId: p.accountId } }, { token: OPERATOR_TOKEN })).data.resetAccountIpAccess
        .__typename,
    ).toBe('ResetAccountIpAccessSuccess');
    for (const accountId of ['01ARZ3NDEKTSV4RRFFQ69G5FAV', 'nonsense']) {
      expect(
        (await h.gql(RESET, { input: { accountId } }, { token: OPERATOR_TOKEN })).data.resetAccountIpAccess.__typename,
      ).toBe('NotFoundError');
    }
  });
});
