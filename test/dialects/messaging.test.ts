// The messaging dialect (/rest/messaging): the Account API with {data,type} envelopes, ULID
// ids, 201 on create, and cursor pages over the caller's account and its whole subtree.
// Value forms are the source API's: legacy_access/lrn_access booleans, coverage flags upper-case.
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Partner } from '../helpers/app.js';
import { mutate } from '../helpers/fixtures.js';
import { expectCleanError, graph, jwtFor, rest } from './helpers.js';

const h = useHarness();
let partner: Partner;
let other: Partner;

const ACCOUNTS = '/rest/messaging/api/v1/accounts';
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

const createSub = (data: Record<string, unknown>, token = partner.key) =>
  rest(h, 'POST', ACCOUNTS, { token, json: { data, type: 'account' } });

beforeAll(async () => {
  if (!h.ready) return;
  partner = await h.newPartner('Messaging A');
  other = await h.newPartner('Messaging B');
});

describe('POST /api/v1/accounts', () => {
  it("creates a sub-account of the caller's account: 201 and the account envelope", async () => {
    const res = await createSub({ name: 'Acme EMEA', sms_access: 'DOMESTIC', mms_access: 'INTERNATIONAL' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      data: {
        customer_id: expect.any(Number),
        id: expect.stringMatching(ULID),
        inserted_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        legacy_access: false,
        lrn_access: false,
        mms_access: 'INTERNATIONAL',
        name: 'Acme EMEA',
        require_ip_api_access: false,
        require_ip_gql_access: false,
        sms_access: 'DOMESTIC',
        updated_at: expect.stringMatching(/Z$/),
      },
      type: 'account',
    });
    const data = await graph(
      h,
      partner.key,
      `query ($id: ID!) { account(id: $id) { ulid customerId parent { ulid } smsAccess } }`,
      { id: res.body.data.id },
    );
    expect(data.account).toEqual({
      ulid: res.body.data.id,
      customerId: res.body.data.customer_id,
      parent: { ulid: partner.accountId },
      smsAccess: 'DOMESTIC',
    });
  });

  it('takes legacy_access and lrn_access as booleans, and refuses the coverage words for them', async () => {
    const res = await createSub({ name: 'Legacy', legacy_access: true, lrn_access: false, sms_access: 'NONE' });
    expect(res.status).toBe(201);
    expect(res.body.data).toMatchObject({
      legacy_access: true,
      lrn_access: false,
      sms_access: 'NONE',
      mms_access: 'NONE',
    });
    const data = await graph(h, partner.key, `query ($id: ID!) { account(id: $id) { legacyAccess lrnAccess } }`, {
      id: res.body.data.id,
    });
    expect(data.account).toEqual({ legacyAccess: true, lrnAccess: false });
    for (const [field, value] of [
      ['legacy_access', 'none'],
      ['lrn_access', 'DOMESTIC'],
      ['sms_access', true],
      ['mms_access', false],
    ] as const) {
      const bad = await createSub({ name: 'Wrong form', [field]: value });
      expect(bad.status, `${field}=${JSON.stringify(value)}`).toBe(400);
      expect(bad.body.data.issues[0].field).toBe(`data.${field}`);
    }
  });

  it('takes IP requirements with their allow-list', async () => {
    const res = await createSub({ name: 'Fenced', require_ip_api_access: true, allowed_ips: ['10.0.0.0/8'] });
    expect(res.status).toBe(201);
    expect(res.body.data.require_ip_api_access).toBe(true);
    const locked = await createSub({ name: 'Locked out', require_ip_api_access: true });
    expect(locked.status).toBe(400);
    expect(locked.body.data.message).toMatch(/allowed_ips/);
  });

  it('answers a bad envelope or field with 400 in the error envelope', async () => {
    const missing = await createSub({});
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({
      data: {
        code: 'invalid',
        message: expect.stringMatching(/^data\.name: /),
        issues: [{ field: 'data.name', message: expect.any(String) }],
      },
      type: 'error',
    });
    const access = await createSub({ name: 'X', sms_access: 'galactic' });
    expect(access.status).toBe(400);
    expect(access.body.data.issues[0].field).toBe('data.sms_access');
    expect((await createSub({ name: 'X', require_ip_gql_access: 'sometimes' })).status).toBe(400);
    expect((await createSub({ name: 'x'.repeat(300) })).status).toBe(400);
    for (const json of [
      { type: 'account' },
      { data: 'Acme', type: 'account' },
      { data: { name: 'X' }, type: 'user' },
    ]) {
      const res = await rest(h, 'POST', ACCOUNTS, { token: partner.key, json });
      expect(res.status).toBe(400);
      expect(res.body.type).toBe('error');
    }
    const broken = await rest(h, 'POST', ACCOUNTS, { token: partner.key, body: '{"data":{"name":"X"}' });
    expect(broken.status).toBe(400);
    expectCleanError(broken);
  });
});

describe('GET /api/v1/accounts', () => {
  let lister: Partner;
  let children: string[];
  let grandchild: string;

  beforeAll(async () => {
    if (!h.ready) return;
    lister = await h.newPartner('Messaging lister');
    children = [];
    for (let i = 0; i < 4; i++) children.push((await createSub({ name: `Child ${i}` }, lister.key)).body.data.id);
    // A grandchild is associated with the caller's account too: the list is the whole subtree.
    grandchild = (
      await mutate(
        h,
        lister.key,
        'createAccount',
        { parentId: children[0], name: 'Grandchild' },
        '... on CreateAccountSuccess { account { ulid } }',
      )
    ).account.ulid;
  });

  it("lists the caller's account and every account below it, grandchildren included, with page_info", async () => {
    const res = await rest(h, 'GET', ACCOUNTS, { token: lister.key });
    expect(res.status).toBe(200);
    expect(res.body.type).toBe('list');
    expect(res.body.data.items.map((i: any) => i.data.id)).toEqual([lister.accountId, ...children, grandchild]);
    expect(res.body.data.items.every((i: any) => i.type === 'account')).toBe(true);
    expect(res.body.data.page_info).toEqual({ after: null, before: null, limit: 20, total: 6 });
    // Another partner's list shows none of them.
    const foreign = await rest(h, 'GET', ACCOUNTS, { token: other.key });
    expect(foreign.body.data.items.map((i: any) => i.data.id)).toEqual([other.accountId]);
  });

  it('pages forward with after and back with before', async () => {
    const all = [lister.accountId, ...children, grandchild];
    const first = await rest(h, 'GET', `${ACCOUNTS}?limit=2`, { token: lister.key });
    expect(first.body.data.items.map((i: any) => i.data.id)).toEqual(all.slice(0, 2));
    expect(first.body.data.page_info).toEqual({ after: all[1], before: null, limit: 2, total: 6 });
    const second = await rest(h, 'GET', `${ACCOUNTS}?limit=2&after=${first.body.data.page_info.after}`, {
      token: lister.key,
    });
    expect(second.body.data.items.map((i: any) => i.data.id)).toEqual(all.slice(2, 4));
    expect(second.body.data.page_info).toEqual({ after: all[3], before: all[2], limit: 2, total: 6 });
    const third = await rest(h, 'GET', `${ACCOUNTS}?limit=2&after=${second.body.data.page_info.after}`, {
      token: lister.key,
    });
    expect(third.body.data.items.map((i: any) => i.data.id)).toEqual(all.slice(4));
    expect(third.body.data.page_info).toEqual({ after: null, before: all[4], limit: 2, total: 6 });
    const back = await rest(h, 'GET', `${ACCOUNTS}?limit=2&before=${third.body.data.page_info.before}`, {
      token: lister.key,
    });
    expect(back.body.data.items.map((i: any) => i.data.id)).toEqual(all.slice(2, 4));
    expect(back.body.data.page_info).toEqual({ after: all[3], before: all[2], limit: 2, total: 6 });
    const start = await rest(h, 'GET', `${ACCOUNTS}?limit=2&before=${back.body.data.page_info.before}`, {
      token: lister.key,
    });
    expect(start.body.data.page_info).toEqual({ after: all[1], before: null, limit: 2, total: 6 });
  });

  it('answers bad paging with 400', async () => {
    for (const query of [
      '?limit=0',
      '?limit=101',
      '?limit=ten',
      '?after=not-a-cursor',
      `?after=${children[0]}&before=${children[1]}`,
    ]) {
      const res = await rest(h, 'GET', `${ACCOUNTS}${query}`, { token: lister.key });
      expect(res.status, query).toBe(400);
      expect(res.body.data.code).toBe('invalid');
    }
  });

  it("shows a sub-account's user its own account, and an account admin's new sub-account goes under it", async () => {
    const [sub] = children;
    const created = await mutate(
      h,
      lister.key,
      'createUser',
      { accountId: sub, externalUserId: 'sub-user' },
      '... on CreateUserSuccess { user { uuid } }',
    );
    const uuid = created.user.uuid;
    const token = await jwtFor(uuid);
    const plain = await rest(h, 'GET', ACCOUNTS, { token });
    expect(plain.body.data.items.map((i: any) => i.data.id)).toEqual([sub]);
    expect((await createSub({ name: 'Not allowed' }, token)).status).toBe(403);
    // No mutation makes account admins yet: write the row as an operator tool would.
    await h.store.prisma.accountAdmin.create({ data: { accountId: sub!, userId: uuid } });
    const adminToken = await jwtFor(uuid);
    h.app.authenticator.invalidate();
    const made = await createSub({ name: 'Grand-sub' }, adminToken);
    expect(made.status).toBe(201);
    const data = await graph(h, lister.key, `query ($id: ID!) { account(id: $id) { parent { ulid } } }`, {
      id: made.body.data.id,
    });
    expect(data.account.parent.ulid).toBe(sub);
    const mine = await rest(h, 'GET', ACCOUNTS, { token: adminToken });
    expect(mine.body.data.items.map((i: any) => i.data.name)).toEqual(['Child 0', 'Grandchild', 'Grand-sub']);
  });
});

describe('GET /api/v1/accounts/{id}', () => {
  it('reads an account by ULID', async () => {
    const created = await createSub({ name: 'Readable', lrn_access: true, mms_access: 'DOMESTIC' });
    const res = await rest(h, 'GET', `${ACCOUNTS}/${created.body.data.id}`, { token: partner.key });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(created.body);
    const lower = await rest(h, 'GET', `${ACCOUNTS}/${created.body.data.id.toLowerCase()}`, { token: partner.key });
    expect(lower.body.data.id).toBe(created.body.data.id);
  });

  it('answers unknown, malformed and foreign ids with 404', async () => {
    for (const id of ['01JD3ZKQ8M4S6T7V9W0X1Y2Z3A', 'nope', "' OR 1=1 --", other.accountId]) {
      const res = await rest(h, 'GET', `${ACCOUNTS}/${encodeURIComponent(id)}`, { token: partner.key });
      expect(res.status).toBe(404);
      expect(res.body).toEqual({
        data: { code: 'not_found', message: expect.stringMatching(/not found/) },
        type: 'error',
      });
    }
  });
});

describe('credentials and methods', () => {
  it('answers no or invalid credentials with 401', async () => {
    const none = await rest(h, 'GET', ACCOUNTS);
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ data: { code: 'unauthenticated', message: expect.any(String) }, type: 'error' });
    expect((await rest(h, 'GET', ACCOUNTS, { token: 'ag_nope' })).status).toBe(401);
  });

  it('answers a wrong method with 405 and an unknown path with 404', async () => {
    const del = await rest(h, 'DELETE', `${ACCOUNTS}/${partner.accountId}`, { token: partner.key });
    expect(del.status).toBe(405);
    expect(del.headers.get('allow')).toBe('GET');
    expect((await rest(h, 'PUT', ACCOUNTS, { token: partner.key, json: {} })).status).toBe(405);
    const unknown = await rest(h, 'GET', '/rest/messaging/api/v1/messages', { token: partner.key });
    expect(unknown.status).toBe(404);
    expect(unknown.body.data.code).toBe('no_route');
  });
});
