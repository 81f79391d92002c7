// The catalog dialect (/rest/catalog): the course catalog's Users API with form or JSON
// bodies, integer ids, merge pointers, dependency deletes, date filters and Link pages.
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Partner } from '../helpers/app.js';
import { mutate } from '../helpers/fixtures.js';
import { expectCleanError, graph, jwtFor, rest, type RestOptions } from './helpers.js';

const h = useHarness();
let partner: Partner;
let other: Partner;
let rootCustomerId: number;
let rootCanvasUuid: string;

const USERS = '/rest/catalog/api/v1/users';

/** Catalog calls authenticate with the bare key, as the source API's clients do. */
const call = (method: string, path: string, options: RestOptions = {}, key = partner.key) =>
  rest(h, method, path, { authorization: key, ...options });

const register = (fields: Record<string, string>, key = partner.key) => call('POST', USERS, { form: fields }, key);

async function uuidOf(catalogId: number, key = partner.key): Promise<string> {
  const data = await graph(h, key, `query ($id: Int!) { userByKey(catalogId: $id) { uuid } }`, { id: catalogId });
  return data.userByKey.uuid;
}

beforeAll(async () => {
  if (!h.ready) return;
  partner = await h.newPartner('Catalog A');
  other = await h.newPartner('Catalog B');
  const data = await graph(
    h,
    partner.key,
    `query ($id: ID!) { account(id: $id) { customerId canvasRootAccountUuid } }`,
    { id: partner.accountId },
  );
  rootCustomerId = data.account.customerId;
  rootCanvasUuid = data.account.canvasRootAccountUuid;
});

describe('POST /api/v1/users', () => {
  it('registers a user from a form-encoded body', async () => {
    const res = await register({
      user_name: 'jdoe',
      email_address: 'Jane.Doe@Example.com',
      first_name: 'Jane',
      last_name: 'Doe',
      custom_fields: '{"phone":"867-5309"}',
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      user: {
        id: expect.any(Number),
        root_account_id: rootCustomerId,
        canvas_user_id: null,
        registered_account_id: rootCustomerId,
        canvas_root_account_uuid: rootCanvasUuid,
        canvas_user_uuid: expect.stringMatching(/^[A-Za-z0-9]{40}$/),
        user_name: 'jdoe',
        first_name: 'Jane',
        last_name: 'Doe',
        email_address: 'jane.doe@example.com',
        custom_fields: { phone: '867-5309' },
        created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        updated_at: expect.stringMatching(/Z$/),
        merged_into_user_id: null,
        time_zone: null,
        confirmation_url: null,
        // The source API's defaults for a user registered without them.
        terms_of_use: true,
        locale: 'en',
      },
    });
    // The catalog's alphabet: 40 letters of both cases and digits.
    expect(rootCanvasUuid).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(res.body.user.canvas_user_uuid).toMatch(/[A-Z]/);
    expect(res.body.user.canvas_user_uuid).toMatch(/[a-z]/);
    const stored = await graph(
      h,
      partner.key,
      `query ($id: Int!) { userByKey(catalogId: $id) { termsOfUse locale } }`,
      { id: res.body.user.id },
    );
    expect(stored.userByKey).toEqual({ termsOfUse: true, locale: 'en' });
  });

  it(`takes registered_account_id as a numeric string, as the source API sends it, \
in form and JSON bodies`, async () => {
    const sub = await mutate(
      h,
      partner.key,
      'createAccount',
      { name: 'String sub-catalog' },
      '... on CreateAccountSuccess { account { customerId } }',
    );
    const customerId = sub.account.customerId;
    const form = await register({
      user_name: 'str1',
      email_address: 'str1@example.com',
      registered_account_id: ` ${customerId}`,
    });
    expect(form.status).toBe(200);
    expect(form.body.user.registered_account_id).toBe(customerId);
    const json = await call('POST', USERS, {
      json: {
        user_name: 'str2',
        email_address: 'str2@example.com',
        registered_account_id: String(customerId),
        terms_of_use: 'false',
      },
    });
    expect(json.status).toBe(200);
    expect(json.body.user).toMatchObject({ registered_account_id: customerId, terms_of_use: false, locale: 'en' });
    for (const bad of ['7.5', '1e3', '-3', '0x7']) {
      const res = await call('POST', USERS, {
        json: { user_name: 'str3', email_address: 'str3@example.com', registered_account_id: bad },
      });
      expect(res.status, bad).toBe(400);
      expect(res.body.errors[0].field).toBe('registered_account_id');
    }
  });

  it('reads canvas uuids made before the alphabet widened (40 hex digits)', async () => {
    const res = await register({ user_name: 'old-uuid', email_address: 'old-uuid@example.com' });
    const uuid = await uuidOf(res.body.user.id);
    const hex = 'a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0';
    await h.store.prisma.user.update({ where: { id: uuid }, data: { canvasUserUuid: hex } });
    const read = await call('GET', `${USERS}/${res.body.user.id}`);
    expect(read.status).toBe(200);
    expect(read.body.user.canvas_user_uuid).toBe(hex);
  });

  it('takes JSON, a sub-catalog as registered_account_id, and custom_fields[key] form fields', async () => {
    const sub = await mutate(
      h,
      partner.key,
      'createAccount',
      { name: 'Sub-catalog' },
      '... on CreateAccountSuccess { account { customerId } }',
    );
    const customerId = sub.account.customerId;
    const json = await call('POST', USERS, {
      json: {
        user_name: 'sub1',
        email_address: 'sub1@example.com',
        registered_account_id: customerId,
        custom_fields: { team: 'blue' },
        time_zone: 'America/Denver',
        locale: 'en-GB',
        terms_of_use: true,
      },
    });
    expect(json.status).toBe(200);
    expect(json.body.user).toMatchObject({
      registered_account_id: customerId,
      root_account_id: rootCustomerId,
      custom_fields: { team: 'blue' },
      time_zone: 'America/Denver',
      locale: 'en-GB',
      terms_of_use: true,
    });
    const form = await register({
      user_name: 'sub2',
      email_address: 'sub2@example.com',
      registered_account_id: String(customerId),
      'custom_fields[phone]': '555',
      'custom_fields[team]': 'red',
    });
    expect(form.status).toBe(200);
    expect(form.body.user.custom_fields).toEqual({ phone: '555', team: 'red' });
    expect(form.body.user.registered_account_id).toBe(customerId);
  });

  it('accepts the key bare, as a bearer token, or as Token token="<key>"', async () => {
    const bearer = await rest(h, 'POST', USERS, {
      token: partner.key,
      form: { user_name: 'b', email_address: 'bearer@example.com' },
    });
    expect(bearer.status).toBe(200);
    const token = await rest(h, 'POST', USERS, {
      authorization: `Token token="${partner.key}"`,
      form: { user_name: 't', email_address: 'token@example.com' },
    });
    expect(token.status).toBe(200);
  });

  it('answers missing and invalid fields with 400 naming the wire field', async () => {
    const missing = await register({ first_name: 'No' });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({
      errors: [
        { field: 'user_name', message: 'is required' },
        { field: 'email_address', message: 'is required' },
      ],
    });
    const email = await register({ user_name: 'x', email_address: 'not-an-email' });
    expect(email.status).toBe(400);
    expect(email.body.errors[0].field).toBe('email_address');
    const custom = await call('POST', USERS, {
      json: { user_name: 'x', email_address: 'cf@example.com', custom_fields: { n: 1 } },
    });
    expect(custom.status).toBe(400);
    expect(custom.body.errors[0]).toEqual({ field: 'custom_fields.n', message: 'values must be strings or null' });
    const notJson = await register({ user_name: 'x', email_address: 'cf2@example.com', custom_fields: '{oops' });
    expect(notJson.status).toBe(400);
    const tz = await register({ user_name: 'x', email_address: 'tz@example.com', time_zone: 'Mars/Olympus' });
    expect(tz.status).toBe(400);
    expect(tz.body.errors[0].field).toBe('time_zone');
    const account = await register({
      user_name: 'x',
      email_address: 'acc@example.com',
      registered_account_id: 'seven',
    });
    expect(account.status).toBe(400);
    for (const body of ['{"user_name":', '[]']) {
      const res = await call('POST', USERS, { body });
      expect(res.status).toBe(400);
      expectCleanError(res);
    }
  });

  it('answers a taken e-mail address (any case) with 409', async () => {
    await register({ user_name: 'dup', email_address: 'dup@example.com' });
    const again = await register({ user_name: 'dup2', email_address: 'DUP@example.com' });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ errors: [{ message: 'email_address has already been taken' }] });
  });

  it('answers an unknown or foreign registered_account_id with 404', async () => {
    const foreign = await graph(h, other.key, `query ($id: ID!) { account(id: $id) { customerId } }`, {
      id: other.accountId,
    });
    for (const id of ['999999999', String(foreign.account.customerId)]) {
      const res = await register({ user_name: 'x', email_address: `acct${id}@example.com`, registered_account_id: id });
      expect(res.status).toBe(404);
      expect(res.body.errors[0].message).toMatch(/not found/);
    }
  });

  it('is for admins: a plain user gets 403', async () => {
    const me = await register({ user_name: 'plain', email_address: 'plain@example.com' });
    const token = await jwtFor(await uuidOf(me.body.user.id));
    const res = await rest(h, 'POST', USERS, { token, form: { user_name: 'y', email_address: 'by-user@example.com' } });
    expect(res.status).toBe(403);
    // ... who still reads itself.
    const self = await rest(h, 'GET', `${USERS}/${me.body.user.id}`, { token });
    expect(self.status).toBe(200);
    expect(self.body.user.email_address).toBe('plain@example.com');
  });
});

describe('GET /api/v1/users/{id}', () => {
  it('reads a user by its integer id', async () => {
    const created = await register({ user_name: 'reader', email_address: 'reader@example.com', first_name: 'Rea' });
    const { user: registered } = created.body;
    const res = await call('GET', `${USERS}/${registered.id}`);
    expect(res.status).toBe(200);
    const { confirmation_url, terms_of_use, locale, ...shown } = registered;
    void confirmation_url;
    void terms_of_use;
    void locale;
    expect(res.body).toEqual({ user: shown });
    expect(Object.keys(res.body.user)).toEqual([
      'id',
      'root_account_id',
      'canvas_user_id',
      'registered_account_id',
      'canvas_root_account_uuid',
      'canvas_user_uuid',
      'user_name',
      'first_name',
      'last_name',
      'email_address',
      'custom_fields',
      'created_at',
      'updated_at',
      'merged_into_user_id',
      'time_zone',
    ]);
  });

  it('answers unknown, malformed, out-of-range and foreign ids with 404', async () => {
    const foreign = await register({ user_name: 'b', email_address: 'b-user@example.com' }, other.key);
    expect(foreign.status).toBe(200);
    for (const id of ['999999999', 'abc', '1.5', '-1', '99999999999999999999', String(foreign.body.user.id)]) {
      const res = await call('GET', `${USERS}/${id}`);
      expect(res.status).toBe(404);
      expect(res.body.errors[0].message).toMatch(/not found/);
    }
  });

  it('does not show users without a catalog identity', async () => {
    const learner = await rest(h, 'POST', '/rest/learning/accounts', {
      token: partner.key,
      json: { external_user_id: 'catalog-less' },
    });
    const { data } = await h.gql(
      `query ($id: ID!) { user(id: $id) { uuid } }`,
      { id: learner.body.id },
      { token: partner.key },
    );
    expect(data.user.uuid).toBe(learner.body.id);
    const list = await call('GET', `${USERS}?per_page=100`);
    expect(list.body.users.some((u: any) => u.email_address === null && u.user_name === null)).toBe(false);
  });
});

describe('PUT /api/v1/users/{id}', () => {
  it('updates profile fields and merges custom_fields key by key', async () => {
    const created = await call('POST', USERS, {
      json: { user_name: 'upd', email_address: 'upd@example.com', custom_fields: { phone: '1', team: 'blue' } },
    });
    const id = created.body.user.id;
    const res = await call('PUT', `${USERS}/${id}`, {
      form: { first_name: 'Up', last_name: 'Dated', 'custom_fields[team]': 'red', 'custom_fields[city]': 'Oslo' },
    });
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({
      id,
      first_name: 'Up',
      last_name: 'Dated',
      custom_fields: { phone: '1', team: 'red', city: 'Oslo' },
    });
    const removed = await call('PUT', `${USERS}/${id}`, {
      json: { custom_fields: { phone: null }, time_zone: 'Europe/Oslo', canvas_user_id: 4242 },
    });
    expect(removed.body.user.custom_fields).toEqual({ team: 'red', city: 'Oslo' });
    expect(removed.body.user).toMatchObject({ time_zone: 'Europe/Oslo', canvas_user_id: 4242 });
    expect(Date.parse(removed.body.user.updated_at)).toBeGreaterThanOrEqual(Date.parse(created.body.user.updated_at));
  });

  it('answers bad fields with 400, a taken e-mail with 409, unknown and foreign ids with 404', async () => {
    const a = await register({ user_name: 'pa', email_address: 'put-a@example.com' });
    await register({ user_name: 'pb', email_address: 'put-b@example.com' });
    const id = a.body.user.id;
    expect((await call('PUT', `${USERS}/${id}`, { form: { time_zone: 'Nowhere/Land' } })).status).toBe(400);
    expect((await call('PUT', `${USERS}/${id}`, { form: { clear_merged_into_user_id: 'maybe' } })).status).toBe(400);
    expect((await call('PUT', `${USERS}/${id}`, { body: '{"first_name":' })).status).toBe(400);
    const taken = await call('PUT', `${USERS}/${id}`, { form: { email_address: 'put-b@example.com' } });
    expect(taken.status).toBe(409);
    const foreign = await register({ user_name: 'pf', email_address: 'put-foreign@example.com' }, other.key);
    for (const target of [foreign.body.user.id, 999999999, 'x']) {
      const res = await call('PUT', `${USERS}/${target}`, { form: { first_name: 'Hacked' } });
      expect(res.status).toBe(404);
    }
    const check = await call('GET', `${USERS}/${foreign.body.user.id}`, {}, other.key);
    expect(check.body.user.first_name).toBeNull();
  });

  it(`shows a merge as merged_into_user_id (the target catalog id) \
and clears it with clear_merged_into_user_id=true`, async () => {
    const source = (await register({ user_name: 'src', email_address: 'merge-src@example.com' })).body.user;
    const target = (await register({ user_name: 'tgt', email_address: 'merge-tgt@example.com' })).body.user;
    const merged = await mutate(h, partner.key, 'mergeUsers', {
      sourceId: await uuidOf(source.id),
      targetId: await uuidOf(target.id),
    });
    expect(merged.__typename).toBe('MergeUsersSuccess');
    const read = await call('GET', `${USERS}/${source.id}`);
    expect(read.body.user.merged_into_user_id).toBe(target.id);
    const cleared = await call('PUT', `${USERS}/${source.id}`, { form: { clear_merged_into_user_id: 'true' } });
    expect(cleared.status).toBe(200);
    expect(cleared.body.user.merged_into_user_id).toBeNull();
    const { data } = await h.gql(
      `query ($id: ID!) { user(id: $id) { status mergedInto { uuid } } }`,
      { id: await uuidOf(source.id) },
      { token: partner.key },
    );
    expect(data.user).toEqual({ status: 'ACTIVE', mergedInto: null });
    // Clearing a pointer that is not set changes nothing.
    const again = await call('PUT', `${USERS}/${source.id}`, { json: { clear_merged_into_user_id: true } });
    expect(again.status).toBe(200);
    expect(again.body.user.merged_into_user_id).toBeNull();
  });

  it('reads merged_into_user_id as null once the target is deleted, as the graph reads mergedInto', async () => {
    const source = (await register({ user_name: 'src2', email_address: 'merge-src2@example.com' })).body.user;
    const target = (await register({ user_name: 'tgt2', email_address: 'merge-tgt2@example.com' })).body.user;
    expect(
      (
        await mutate(h, partner.key, 'mergeUsers', {
          sourceId: await uuidOf(source.id),
          targetId: await uuidOf(target.id),
        })
      ).__typename,
    ).toBe('MergeUsersSuccess');
    expect(
      (await mutate(h, partner.key, 'deleteUser', { id: await uuidOf(target.id), action: 'IGNORE' })).__typename,
    ).toBe('DeleteUserSuccess');
    expect((await call('GET', `${USERS}/${source.id}`)).body.user.merged_into_user_id).toBeNull();
    let inList: { merged_into_user_id: number | null } | undefined;
    for (let page = 1; !inList; page++) {
      const { body } = await call('GET', `${USERS}?per_page=100&page=${page}`);
      if (!body.users.length) break;
      inList = body.users.find((u: { id: number }) => u.id === source.id);
    }
    expect(inList, 'the source is listed').toBeDefined();
    expect(inList!.merged_into_user_id).toBeNull();
  });
});

describe('DELETE /api/v1/users/{id}', () => {
  it('only_orders_and_enrollments=true removes orders and enrollments and keeps the user', async () => {
    const user = (await register({ user_name: 'deps', email_address: 'deps@example.com' })).body.user;
    const uuid = await uuidOf(user.id);
    const course = await mutate(
      h,
      partner.key,
      'createCourse',
      { ownerId: partner.adminUserId, title: 'Algebra' },
      '... on CreateCourseSuccess { course { id } }',
    );
    expect((await mutate(h, partner.key, 'enrollUser', { userId: uuid, courseId: course.course.id })).__typename).toBe(
      'EnrollUserSuccess',
    );
    expect(
      (await mutate(h, partner.key, 'recordOrder', { userId: uuid, courseId: course.course.id, amountCents: 1999 }))
        .__typename,
    ).toBe('RecordOrderSuccess');
    const res = await call('DELETE', `${USERS}/${user.id}`, { form: { only_orders_and_enrollments: 'true' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    const { data } = await h.gql(
      `query ($id: ID!) { user(id: $id) { status enrollments { totalCount } orders { totalCount } } }`,
      { id: uuid },
      { token: partner.key },
    );
    expect(data.user).toEqual({ status: 'ACTIVE', enrollments: { totalCount: 0 }, orders: { totalCount: 0 } });
    expect((await call('GET', `${USERS}/${user.id}`)).status).toBe(200);
  });

  it('otherwise deletes the user: 200 {}, then 404, and its e-mail stays taken', async () => {
    const user = (await register({ user_name: 'gone', email_address: 'gone@example.com' })).body.user;
    const res = await call('DELETE', `${USERS}/${user.id}?only_orders_and_enrollments=false`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect((await call('GET', `${USERS}/${user.id}`)).status).toBe(404);
    expect((await call('DELETE', `${USERS}/${user.id}`)).status).toBe(404);
    expect((await register({ user_name: 'again', email_address: 'gone@example.com' })).status).toBe(409);
  });

  it('answers unknown and foreign ids with 404 and leaves them alone', async () => {
    const foreign = (await register({ user_name: 'keep', email_address: 'keep@example.com' }, other.key)).body.user;
    expect((await call('DELETE', `${USERS}/${foreign.id}`)).status).toBe(404);
    expect((await call('DELETE', `${USERS}/123456789`)).status).toBe(404);
    expect((await call('GET', `${USERS}/${foreign.id}`, {}, other.key)).status).toBe(200);
  });
});

describe('GET /api/v1/users', () => {
  let lister: Partner;
  let ids: number[];
  let middle: string;

  beforeAll(async () => {
    if (!h.ready) return;
    lister = await h.newPartner('Catalog lister');
    ids = [];
    for (let i = 0; i < 5; i++) {
      const res = await register({ user_name: `l${i}`, email_address: `list${i}@example.com` }, lister.key);
      ids.push(res.body.user.id);
      if (i === 2) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        middle = new Date().toISOString();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    await call('PUT', `${USERS}/${ids[4]}`, { form: { canvas_user_id: '777' } }, lister.key);
    // Users the list must not show: another partner's, and one without a catalog identity.
    await register({ user_name: 'x', email_address: 'list-foreign@example.com' }, other.key);
    await rest(h, 'POST', '/rest/learning/accounts', {
      token: lister.key,
      json: { external_user_id: 'not-in-catalog' },
    });
  });

  const list = (query: string) => call('GET', `${USERS}${query}`, {}, lister.key);

  it('lists the catalog users of the partner in id order', async () => {
    const res = await list('');
    expect(res.status).toBe(200);
    expect(res.body.users.map((u: any) => u.id)).toEqual(ids);
    expect(res.headers.get('x-total-count')).toBe('5');
    expect((await list('?registered_in_catalog=true')).body.users).toHaveLength(5);
    expect((await list('?registered_in_catalog=false')).body.users).toEqual([]);
  });

  it('pages with page/per_page and a Link header', async () => {
    const res = await list('?per_page=2&page=2');
    expect(res.body.users.map((u: any) => u.id)).toEqual(ids.slice(2, 4));
    const link = res.headers.get('link')!;
    const rels = Object.fromEntries(
      [...link.matchAll(/<([^>]+)>; rel="(\w+)"/g)].map((m) => [m[2], new URL(m[1]!).searchParams.get('page')]),
    );
    expect(rels).toEqual({ current: '2', next: '3', prev: '1', first: '1', last: '3' });
    expect(link).toContain('per_page=2');
    const last = await list('?per_page=2&page=3');
    expect(last.body.users.map((u: any) => u.id)).toEqual(ids.slice(4));
    expect(last.headers.get('link')).not.toContain('rel="next"');
    expect((await list('?per_page=2&page=9')).body.users).toEqual([]);
  });

  it('filters by created_at/updated_at ranges and canvas_user_id', async () => {
    const after = await list(`?created_at_from=${encodeURIComponent(middle)}`);
    expect(after.body.users.map((u: any) => u.id)).toEqual(ids.slice(3));
    const before = await list(`?created_at_to=${encodeURIComponent(middle)}`);
    expect(before.body.users.map((u: any) => u.id)).toEqual(ids.slice(0, 3));
    const updated = await list(`?updated_at_from=${encodeURIComponent(middle)}`);
    expect(updated.body.users.map((u: any) => u.id)).toEqual(ids.slice(3));
    expect((await list('?updated_at_to=2000-01-01')).body.users).toEqual([]);
    const canvas = await list('?canvas_user_id=777');
    expect(canvas.body.users.map((u: any) => u.id)).toEqual([ids[4]]);
  });

  it('answers bad filters and paging with 400', async () => {
    for (const query of [
      '?per_page=0',
      '?per_page=101',
      '?page=0',
      '?page=x',
      '?created_at_from=yesterday',
      '?updated_at_to=2018-13-45',
      '?created_at_from=2020-02-30',
      '?canvas_user_id=abc',
      '?registered_in_catalog=perhaps',
    ]) {
      const res = await list(query);
      expect(res.status, query).toBe(400);
      expect(res.body.errors[0].field).toBeTruthy();
      expectCleanError(res);
    }
  });
});

describe('credentials and methods', () => {
  it('answers no or invalid credentials with 401', async () => {
    const none = await rest(h, 'GET', USERS);
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ errors: [{ message: expect.stringMatching(/authentication required/) }] });
    expect((await rest(h, 'GET', USERS, { authorization: 'Token token="nope"' })).status).toBe(401);
  });

  it('answers a wrong method with 405 and an unknown path with 404', async () => {
    const patch = await call('PATCH', `${USERS}/1`, { json: {} });
    expect(patch.status).toBe(405);
    expect(patch.headers.get('allow')).toBe('GET, PUT, DELETE');
    expect((await call('DELETE', USERS)).status).toBe(405);
    const unknown = await call('GET', '/rest/catalog/api/v2/users');
    expect(unknown.status).toBe(404);
    expect(unknown.body.errors[0].message).toMatch(/no route/);
  });
});
