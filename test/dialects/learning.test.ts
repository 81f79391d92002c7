// The learning dialect (/rest/learning): the partner Accounts API of the adaptive-learning
// platform, walked with its own request and response shapes, then every error case.
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Partner } from '../helpers/app.js';
import { mutate } from '../helpers/fixtures.js';
import { expectCleanError, jwtFor, rest } from './helpers.js';

const h = useHarness();
let partner: Partner;
let other: Partner;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

beforeAll(async () => {
  if (!h.ready) return;
  partner = await h.newPartner('Learning A');
  other = await h.newPartner('Learning B');
});

const create = (externalUserId: unknown, token = partner.key) =>
  rest(h, 'POST', '/rest/learning/accounts', { token, json: { external_user_id: externalUserId } });

describe('POST /accounts', () => {
  it('creates an account and answers {id, external_user_id}', async () => {
    const res = await create('learner-0001');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: expect.stringMatching(UUID), external_user_id: 'learner-0001' });
    expect(Object.keys(res.body)).toEqual(['id', 'external_user_id']);
  });

  it('answers a duplicate with 422 "Duplicate account with <external_user_id>", as the source API does', async () => {
    const first = await create('learner-dup');
    expect(first.status).toBe(200);
    const again = await create('learner-dup');
    expect(again.status).toBe(422);
    expect(again.body).toEqual({ code: 422, error_message: 'Duplicate account with learner-dup' });
    expect(again.text).not.toContain(first.body.id);
  });

  it('never names the holder of a taken key, which an account admin may not see', async () => {
    const outside = await create('held-outside');
    const sub = await mutate(
      h,
      partner.key,
      'createAccount',
      { name: 'Learning sub' },
      '... on CreateAccountSuccess { account { ulid } }',
    );
    const admin = await mutate(
      h,
      partner.key,
      'createUser',
      { accountId: sub.account.ulid, externalUserId: 'learning-sub-admin' },
      '... on CreateUserSuccess { user { id uuid } }',
    );
    await mutate(h, partner.key, 'addAccountAdmin', { accountId: sub.account.ulid, userId: admin.user.id });
    const token = await jwtFor(admin.user.uuid);
    const again = await create('held-outside', token);
    expect(again.status).toBe(422);
    expect(again.body).toEqual({ code: 422, error_message: 'Duplicate account with held-outside' });
    const batch = await rest(h, 'POST', '/rest/learning/batch', {
      token,
      json: { requests: [{ method: 'post', relative_url: '/accounts', body: { external_user_id: 'held-outside' } }] },
    });
    expect(batch.body.responses).toEqual([
      { code: 422, body: { code: 422, error_message: 'Duplicate account with held-outside' } },
    ]);
    expect(batch.text + again.text).not.toContain(outside.body.id);
  });

  it('treats the key of a disabled account as taken (422)', async () => {
    const first = await create('learner-disabled-dup');
    expect((await rest(h, 'DELETE', `/rest/learning/accounts/${first.body.id}`, { token: partner.key })).status).toBe(
      204,
    );
    const again = await create('learner-disabled-dup');
    expect(again.status).toBe(422);
    expect(again.body).toEqual({ code: 422, error_message: 'Duplicate account with learner-disabled-dup' });
  });

  it('rejects personal data in external_user_id with 422', async () => {
    for (const pii of ['jane.doe@example.com', '+44 20 7946 0958', '123-45-6789']) {
      const res = await create(pii);
      expect(res.status).toBe(422);
      expect(res.body.code).toBe(422);
      expect(res.body.error_message).toMatch(/must not carry personal data/);
    }
  });

  it('answers a missing, mistyped or invalid external_user_id with 400', async () => {
    const missing = await rest(h, 'POST', '/rest/learning/accounts', { token: partner.key, json: {} });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ code: 400, error_message: 'external_user_id: is required' });
    const number = await create(12345);
    expect(number.status).toBe(400);
    expect(number.body.error_message).toBe('external_user_id: must be a string');
    const blank = await create('  padded ');
    expect(blank.status).toBe(400);
    expect(blank.body.error_message).toMatch(/^external_user_id: /);
    expect((await create('x'.repeat(256))).status).toBe(400);
  });

  it('answers malformed JSON and non-object bodies with 400', async () => {
    for (const body of ['{"external_user_id":', '[1,2]', '"text"', 'null']) {
      const res = await rest(h, 'POST', '/rest/learning/accounts', { token: partner.key, body });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe(400);
      expectCleanError(res);
    }
  });

  it('is for admins: a plain user gets 403', async () => {
    const user = await create('learner-plain');
    const token = await jwtFor(user.body.id);
    const res = await create('learner-by-user', token);
    expect(res.status).toBe(403);
    expect(res.body.code).toBe(403);
  });
});

describe('GET /accounts/{id} and /accounts/current', () => {
  it('reads an account; entitlements are absent when none and lower-case when granted', async () => {
    const created = await create('learner-read');
    const plain = await rest(h, 'GET', `/rest/learning/accounts/${created.body.id}`, { token: partner.key });
    expect(plain.status).toBe(200);
    expect(plain.body).toEqual({ id: created.body.id, external_user_id: 'learner-read' });
    expect('entitlements' in plain.body).toBe(false);

    const granted = await mutate(h, partner.key, 'grantEntitlements', {
      userId: created.body.id,
      kinds: ['CREATE_LEARNING_INSTANCE', 'KNERD'],
    });
    expect(granted.__typename).toBe('GrantEntitlementsSuccess');
    const res = await rest(h, 'GET', `/rest/learning/accounts/${created.body.id}`, { token: partner.key });
    expect(res.body.id).toBe(created.body.id);
    expect([...res.body.entitlements].sort()).toEqual(['create_learning_instance', 'knerd']);
  });

  it('lets a user read itself (by id and as current) but no one else', async () => {
    const me = await create('learner-self');
    const someone = await create('learner-someone');
    const token = await jwtFor(me.body.id);
    const current = await rest(h, 'GET', '/rest/learning/accounts/current', { token });
    expect(current.status).toBe(200);
    expect(current.body).toEqual({ id: me.body.id, external_user_id: 'learner-self' });
    expect((await rest(h, 'GET', `/rest/learning/accounts/${me.body.id}`, { token })).body).toEqual(current.body);
    const foreign = await rest(h, 'GET', `/rest/learning/accounts/${someone.body.id}`, { token });
    expect(foreign.status).toBe(404);
    expect(foreign.body).toEqual({ code: 404, error_message: expect.stringMatching(/not found/) });
  });

  it("answers /accounts/current for an API key with the key's admin", async () => {
    const res = await rest(h, 'GET', '/rest/learning/accounts/current', { token: partner.key });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ id: partner.adminUserId, external_user_id: null, entitlements: ['partner_admin'] });
  });

  it('answers unknown, malformed and foreign ids with 404', async () => {
    const foreign = await create('learner-of-b', other.key);
    for (const id of ['0193a5c2-8b1e-7c3d-9f00-4d2a1b3c4e5f', 'not-a-uuid', "1' OR '1'='1", foreign.body.id]) {
      const res = await rest(h, 'GET', `/rest/learning/accounts/${encodeURIComponent(id)}`, { token: partner.key });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe(404);
      expectCleanError(res);
    }
  });
});

describe('DELETE /accounts/{id}', () => {
  it('disables: 204, still readable by the admin, its credentials refused', async () => {
    const created = await create('learner-to-disable');
    const token = await jwtFor(created.body.id);
    expect((await rest(h, 'GET', '/rest/learning/accounts/current', { token })).status).toBe(200);
    const res = await rest(h, 'DELETE', `/rest/learning/accounts/${created.body.id}`, { token: partner.key });
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    const read = await rest(h, 'GET', `/rest/learning/accounts/${created.body.id}`, { token: partner.key });
    expect(read.status).toBe(200);
    const { data } = await h.gql(
      `query ($id: ID!) { user(id: $id) { status disabledAt } }`,
      { id: created.body.id },
      { token: partner.key },
    );
    expect(data.user.status).toBe('DISABLED');
    expect((await rest(h, 'GET', '/rest/learning/accounts/current', { token })).status).toBe(401);
  });

  it('answers unknown, malformed and foreign ids with 404, also to a plain user naming someone else', async () => {
    const foreign = await create('learner-of-b-2', other.key);
    for (const id of ['0193a5c2-8b1e-7c3d-9f00-4d2a1b3c4e5f', 'nope', foreign.body.id]) {
      const res = await rest(h, 'DELETE', `/rest/learning/accounts/${id}`, { token: partner.key });
      expect(res.status).toBe(404);
      expect(res.body.code).toBe(404);
    }
    const { data } = await h.gql(
      `query ($id: ID!) { user(id: $id) { status } }`,
      { id: foreign.body.id },
      { token: other.key },
    );
    expect(data.user.status).toBe('ACTIVE');
    const me = await create('learner-not-admin');
    const victim = await create('learner-victim');
    const res = await rest(h, 'DELETE', `/rest/learning/accounts/${victim.body.id}`, {
      token: await jwtFor(me.body.id),
    });
    expect(res.status).toBe(404);
  });
});

describe('POST /batch (deprecated)', () => {
  it('answers each request in order with its own code, and a Deprecation header', async () => {
    const existing = await create('batch-existing');
    const res = await rest(h, 'POST', '/rest/learning/batch', {
      token: partner.key,
      json: {
        requests: [
          { method: 'post', relative_url: '/accounts', body: { external_user_id: 'batch-new-1' } },
          { method: 'post', relative_url: '/accounts', body: { external_user_id: 'batch-existing' } },
          { method: 'post', relative_url: '/accounts', body: { external_user_id: 'someone@example.com' } },
          { method: 'get', relative_url: '/accounts', body: { external_user_id: 'batch-wrong-method' } },
          { method: 'post', relative_url: '/users', body: { external_user_id: 'batch-wrong-url' } },
          { method: 'POST', relative_url: '/accounts', body: { external_user_id: 'batch-new-1' } },
          { method: 'post', relative_url: '/accounts', body: {} },
          { method: 'post', relative_url: '/accounts', body: { external_user_id: 'batch-new-2' } },
        ],
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('deprecation')).toBe('true');
    const codes = res.body.responses.map((r: any) => r.code);
    expect(codes).toEqual([200, 422, 422, 400, 400, 422, 400, 200]);
    const [created, dup, pii, method, url, repeated, missing, second] = res.body.responses;
    expect(created.body).toEqual({ external_user_id: 'batch-new-1', account_id: expect.stringMatching(UUID) });
    expect(dup.body).toEqual({ code: 422, error_message: `Duplicate account with ${existing.body.external_user_id}` });
    expect(pii.body.error_message).toMatch(/personal data/);
    expect(method.body).toEqual({ code: 400, error_message: expect.stringMatching(/only "post" to "\/accounts"/) });
    expect(url.body.code).toBe(400);
    expect(repeated.body).toEqual({
      code: 422,
      error_message: `Duplicate account with ${created.body.external_user_id}`,
    });
    expect(missing.body.error_message).toMatch(/external_user_id: is required/);
    expect(second.body.external_user_id).toBe('batch-new-2');
    // The created accounts are real.
    const read = await rest(h, 'GET', `/rest/learning/accounts/${second.body.account_id}`, { token: partner.key });
    expect(read.body).toEqual({ id: second.body.account_id, external_user_id: 'batch-new-2' });
  });

  it('takes 50 requests and refuses 51 with 400', async () => {
    const item = (i: number) => ({
      method: 'post',
      relative_url: '/accounts',
      body: { external_user_id: `batch-many-${i}` },
    });
    const ok = await rest(h, 'POST', '/rest/learning/batch', {
      token: partner.key,
      json: { requests: Array.from({ length: 50 }, (_, i) => item(i)) },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.responses).toHaveLength(50);
    expect(ok.body.responses.every((r: any) => r.code === 200)).toBe(true);
    const tooMany = await rest(h, 'POST', '/rest/learning/batch', {
      token: partner.key,
      json: { requests: Array.from({ length: 51 }, (_, i) => item(100 + i)) },
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body).toEqual({ code: 400, error_message: 'requests: at most 50 requests per batch (got 51)' });
    expect(tooMany.headers.get('deprecation')).toBe('true');
    const none = await rest(h, 'GET', `/rest/learning/accounts/current`, { token: partner.key });
    expect(none.status).toBe(200);
  });

  it('answers a malformed envelope with 400', async () => {
    for (const json of [{}, { requests: 'all' }, { requests: [] }, { requests: {} }]) {
      const res = await rest(h, 'POST', '/rest/learning/batch', { token: partner.key, json });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe(400);
    }
    const broken = await rest(h, 'POST', '/rest/learning/batch', { token: partner.key, body: '{"requests": [' });
    expect(broken.status).toBe(400);
    expectCleanError(broken);
  });

  it('refuses a plain user with 403 for the whole batch, as POST /accounts does', async () => {
    const me = await create('batch-plain-user');
    const res = await rest(h, 'POST', '/rest/learning/batch', {
      token: await jwtFor(me.body.id),
      json: { requests: [{ method: 'post', relative_url: '/accounts', body: { external_user_id: 'batch-by-user' } }] },
    });
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ code: 403, error_message: expect.stringMatching(/only an admin/) });
    const holder = await rest(h, 'POST', '/rest/learning/accounts', {
      token: partner.key,
      json: { external_user_id: 'batch-by-user' },
    });
    expect(holder.status, 'nothing was created').toBe(200);
  });

  it('names items by their place in the request, and a taken or repeated key by the key', async () => {
    const existing = await create('batch-taken');
    const res = await rest(h, 'POST', '/rest/learning/batch', {
      token: partner.key,
      json: {
        requests: [
          { method: 'get', relative_url: '/accounts', body: {} },
          { method: 'post', relative_url: '/accounts', body: { external_user_id: '' } },
          { method: 'post', relative_url: '/accounts', body: { external_user_id: 'batch-taken' } },
          { method: 'post', relative_url: '/accounts', body: { external_user_id: 'batch-taken' } },
          { method: 'post', relative_url: '/accounts', body: { external_user_id: 'batch-twice' } },
          { method: 'post', relative_url: '/accounts', body: { external_user_id: 'batch-twice' } },
        ],
      },
    });
    expect(res.status).toBe(200);
    const [, empty, taken, takenAgain, first, again] = res.body.responses;
    expect(empty.body.error_message).toMatch(/^requests\.1\.external_user_id: /);
    expect(taken.body).toEqual({ code: 422, error_message: 'Duplicate account with batch-taken' });
    expect(takenAgain.body).toEqual({ code: 422, error_message: 'Duplicate account with batch-taken' });
    expect(first.code).toBe(200);
    expect(again.body).toEqual({ code: 422, error_message: 'Duplicate account with batch-twice' });
    expect(res.text).not.toContain(existing.body.id);
  });
});

describe('credentials, methods and limits', () => {
  it('answers no or invalid credentials with 401 in the dialect envelope', async () => {
    const none = await rest(h, 'GET', '/rest/learning/accounts/current');
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ code: 401, error_message: expect.stringMatching(/authentication required/) });
    const bad = await rest(h, 'POST', '/rest/learning/accounts', {
      token: 'not-a-key',
      json: { external_user_id: 'x' },
    });
    expect(bad.status).toBe(401);
    expect(bad.body.code).toBe(401);
  });

  it('answers a wrong method with 405 and Allow, an unknown path with 404', async () => {
    const wrong = await rest(h, 'PUT', '/rest/learning/accounts/current', { token: partner.key, json: {} });
    expect(wrong.status).toBe(405);
    // /accounts/current also has the shape of /accounts/{account_id}.
    expect(wrong.headers.get('allow')).toBe('GET, DELETE');
    expect(wrong.body.code).toBe(405);
    const patch = await rest(h, 'PATCH', '/rest/learning/accounts/0193a5c2-8b1e-7c3d-9f00-4d2a1b3c4e5f', {
      token: partner.key,
      json: {},
    });
    expect(patch.status).toBe(405);
    expect(patch.headers.get('allow')).toBe('GET, DELETE');
    const batchGet = await rest(h, 'GET', '/rest/learning/batch', { token: partner.key });
    expect(batchGet.status).toBe(405);
    const unknown = await rest(h, 'GET', '/rest/learning/nothing-here', { token: partner.key });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ code: 404, error_message: 'no route for GET /rest/learning/nothing-here' });
    // A trailing slash is another path: 404, not a 405 that lists the very method used.
    const slash = await rest(h, 'POST', '/rest/learning/accounts/', {
      token: partner.key,
      json: { external_user_id: 'slash' },
    });
    expect(slash.status).toBe(404);
  });

  it('answers a body over the limit with 413', async () => {
    const res = await rest(h, 'POST', '/rest/learning/accounts', {
      token: partner.key,
      body: JSON.stringify({ external_user_id: 'x'.repeat(h.config.maxBodyBytes) }),
    });
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ code: 413, error_message: `request body larger than ${h.config.maxBodyBytes} bytes` });
  });

  it("applies the account's REST IP allow-list (403 outside it)", async () => {
    const fenced = await h.newPartner('Learning fenced');
    const updated = await mutate(h, fenced.key, 'updateAccount', {
      id: fenced.accountId,
      requireIpApiAccess: true,
      allowedIps: ['10.0.0.0/8'],
    });
    expect(updated.__typename).toBe('UpdateAccountSuccess');
    const outside = await rest(h, 'GET', '/rest/learning/accounts/current', { token: fenced.key, ip: '192.0.2.7' });
    expect(outside.status).toBe(403);
    expect(outside.body.code).toBe(403);
    const inside = await rest(h, 'GET', '/rest/learning/accounts/current', { token: fenced.key, ip: '10.1.2.3' });
    expect(inside.status).toBe(200);
  });
});
