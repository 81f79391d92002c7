// The embed dialect (/rest/embed): the headless Identities API with caller-chosen
// identifiers, page/length lists, client metadata replaced and user metadata merged,
// deletes with action/reallocateTo, and plan tiers.
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Partner } from '../helpers/app.js';
import { mutate } from '../helpers/fixtures.js';
import { expectCleanError, graph, jwtFor, rest } from './helpers.js';

const h = useHarness();
let partner: Partner;
let core: Partner;
let other: Partner;

const BASE = '/rest/embed/v1/headless';
const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const put = (path: string, json: unknown, token = partner.key) => rest(h, 'PUT', `${BASE}${path}`, { token, json });
const get = (path: string, token = partner.key) => rest(h, 'GET', `${BASE}${path}`, { token });
const del = (path: string, token = partner.key) => rest(h, 'DELETE', `${BASE}${path}`, { token });

async function uuidOf(identifier: string, token = partner.key): Promise<string> {
  const data = await graph(h, token, `query ($k: String!) { userByKey(identifier: $k) { uuid } }`, { k: identifier });
  return data.userByKey.uuid;
}

async function courseCount(uuid: string): Promise<number> {
  const data = await graph(h, partner.key, `query ($id: ID!) { user(id: $id) { courses { totalCount } } }`, {
    id: uuid,
  });
  return data.user.courses.totalCount;
}

const giveCourse = (ownerId: string, title = 'Course') =>
  mutate(h, partner.key, 'createCourse', { ownerId, title }, '... on CreateCourseSuccess { course { id } }');

beforeAll(async () => {
  if (!h.ready) return;
  partner = await h.newPartner('Embed A', 'AUTOMATE');
  core = await h.newPartner('Embed Core', 'CORE');
  other = await h.newPartner('Embed B', 'AUTOMATE');
  await put('/client/school', { metadata: { name: 'School' } });
});

describe('clients', () => {
  it('PUT creates (201) and then replaces the whole metadata (200)', async () => {
    const created = await put('/client/acme', { metadata: { name: 'Acme', tier: 'gold' } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      identifier: 'acme',
      metadata: { name: 'Acme', tier: 'gold' },
      createdAt: expect.stringMatching(TS),
      updatedAt: expect.stringMatching(TS),
    });
    const replaced = await put('/client/acme', { metadata: { name: 'Acme Inc' } });
    expect(replaced.status).toBe(200);
    expect(replaced.body.metadata).toEqual({ name: 'Acme Inc' });
    expect(replaced.body.createdAt).toBe(created.body.createdAt);
    const read = await get('/client/acme');
    expect(read.status).toBe(200);
    expect(read.body).toEqual(replaced.body);
    const data = await graph(h, partner.key, `{ client(identifier: "acme") { identifier metadata } }`);
    expect(data.client).toEqual({ identifier: 'acme', metadata: { name: 'Acme Inc' } });
  });

  it('answers bad bodies and identifiers with 400', async () => {
    for (const metadata of [[1, 2], 'text', 5]) {
      const res = await put('/client/bad-meta', { metadata });
      expect(res.status).toBe(400);
      expect(res.body).toEqual({
        error: {
          code: 'invalid',
          message: expect.stringMatching(/^metadata: /),
          issues: [{ field: 'metadata', message: expect.any(String) }],
        },
      });
    }
    const broken = await rest(h, 'PUT', `${BASE}/client/broken`, { token: partner.key, body: '{"metadata":' });
    expect(broken.status).toBe(400);
    expectCleanError(broken);
    const deep = await put('/client/deep', { metadata: JSON.parse(`${'{"a":'.repeat(20)}1${'}'.repeat(20)}`) });
    expect(deep.status).toBe(400);
    expect((await put(`/client/${encodeURIComponent(' padded ')}`, {})).status).toBe(400);
    // PostgreSQL cannot store NUL: refused as bad input, in the body and in the URL.
    const nul = await put('/client/nul', { metadata: { note: 'a\u0000b' } });
    expect(nul.status).toBe(400);
    expect(nul.body.error.issues[0].field).toBe('body.metadata.note');
    expect((await get('/client/a%00b')).status).toBe(400);
    expect((await get('/users?clientIdentifier=%00')).status).toBe(400);
    const nested = await rest(h, 'PUT', `${BASE}/user/deep`, {
      token: partner.key,
      body: `{"metadata":{"a":${'['.repeat(100000)}${']'.repeat(100000)}}}`,
    });
    expect(nested.status).toBe(400);
    expectCleanError(nested);
    expect((await get('/client/bad-meta')).status).toBe(404);
  });

  it('answers unknown and foreign identifiers with 404', async () => {
    await put('/client/b-only', { metadata: {} }, other.key);
    for (const identifier of ['nobody', 'b-only']) {
      const res = await get(`/client/${identifier}`);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    expect((await del('/client/b-only')).status).toBe(404);
    expect((await get('/client/b-only', other.key)).status).toBe(200);
  });

  it('lists clients with page/length and total', async () => {
    const lister = await h.newPartner('Embed lister');
    for (const id of ['c1', 'c2', 'c3']) await put(`/client/${id}`, { metadata: { id } }, lister.key);
    const all = await get('/clients', lister.key);
    expect(all.body).toEqual({ data: expect.any(Array), page: 0, length: 100, total: 3 });
    expect(all.body.data.map((c: any) => c.identifier)).toEqual(['c1', 'c2', 'c3']);
    const second = await get('/clients?length=2&page=1', lister.key);
    expect(second.body).toMatchObject({ page: 1, length: 2, total: 3 });
    expect(second.body.data.map((c: any) => c.identifier)).toEqual(['c3']);
    for (const query of ['?length=0', '?length=1001', '?page=-1', '?page=one']) {
      const res = await get(`/clients${query}`, lister.key);
      expect(res.status, query).toBe(400);
    }
  });

  it('DELETE removes the client with its users and their courses (Automate), 403 on Core', async () => {
    await put('/client/doomed', { metadata: {} });
    await put('/user/doomed-user', { clientIdentifier: 'doomed' });
    const uuid = await uuidOf('doomed-user');
    const course = await giveCourse(uuid, 'Doomed course');
    const res = await del('/client/doomed');
    expect(res.status).toBe(204);
    expect((await get('/client/doomed')).status).toBe(404);
    expect((await get('/user/doomed-user')).status).toBe(404);
    const { data } = await h.gql(
      `query ($id: ID!) { node(id: $id) { id } }`,
      { id: course.course.id },
      { token: partner.key },
    );
    expect(data.node).toBeNull();
    expect((await del('/client/doomed')).status).toBe(404);

    await put('/client/core-client', { metadata: {} }, core.key);
    const refused = await del('/client/core-client', core.key);
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(/Automate/);
    expect((await get('/client/core-client', core.key)).status).toBe(200);
  });
});

describe('users', () => {
  it('PUT creates a user (201) with clientIdentifier and name/avatar shorthands', async () => {
    const res = await put('/user/ada', {
      clientIdentifier: 'school',
      name: 'Ada',
      avatar: 'https://example.com/ada.png',
      metadata: { level: 1 },
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      identifier: 'ada',
      clientIdentifier: 'school',
      metadata: { level: 1, name: 'Ada', avatar: 'https://example.com/ada.png' },
      createdAt: expect.stringMatching(TS),
      updatedAt: expect.stringMatching(TS),
    });
    const data = await graph(
      h,
      partner.key,
      `{ userByKey(identifier: "ada") { identifier name avatar client { identifier } } }`,
    );
    expect(data.userByKey).toEqual({
      identifier: 'ada',
      name: 'Ada',
      avatar: 'https://example.com/ada.png',
      client: { identifier: 'school' },
    });
  });

  it('PUT on an existing user merges its metadata key by key (null removes)', async () => {
    await put('/user/grace', { metadata: { level: 1, team: 'blue' } });
    const merged = await put('/user/grace', { metadata: { level: 2, badge: 'gold' } });
    expect(merged.status).toBe(200);
    expect(merged.body.metadata).toEqual({ level: 2, team: 'blue', badge: 'gold' });
    const removed = await put('/user/grace', { metadata: { team: null }, name: 'Grace' });
    expect(removed.body.metadata).toEqual({ level: 2, badge: 'gold', name: 'Grace' });
    const moved = await put('/user/grace', { clientIdentifier: 'school' });
    expect(moved.body.clientIdentifier).toBe('school');
    expect(moved.body.metadata).toEqual({ level: 2, badge: 'gold', name: 'Grace' });
  });

  it('answers bad bodies with 400 and an unknown client with 404', async () => {
    expect((await put('/user/bad', { metadata: 'x' })).status).toBe(400);
    expect((await put('/user/bad', { name: 42 })).status).toBe(400);
    expect((await rest(h, 'PUT', `${BASE}/user/bad`, { token: partner.key, body: 'not json' })).status).toBe(400);
    const client = await put('/user/bad', { clientIdentifier: 'no-such-client' });
    expect(client.status).toBe(404);
    expect(client.body.error.message).toMatch(/Client/);
    expect((await get('/user/bad')).status).toBe(404);
  });

  it('GET reads a user; unknown and foreign identifiers are 404', async () => {
    const res = await get('/user/ada');
    expect(res.status).toBe(200);
    expect(res.body.identifier).toBe('ada');
    await put('/user/b-user', {}, other.key);
    for (const id of ['nobody', 'b-user']) expect((await get(`/user/${id}`)).status).toBe(404);
    // Partner B's identifier does not clash with A's: A can create its own.
    expect((await put('/user/b-user', {})).status).toBe(201);
    expect((await get('/user/b-user', other.key)).body.identifier).toBe('b-user');
  });

  it('lists users with page/length and the clientIdentifier filter', async () => {
    const lister = await h.newPartner('Embed user lister');
    await put('/client/k1', {}, lister.key);
    await put('/client/k2', {}, lister.key);
    for (const [id, client] of [
      ['u1', 'k1'],
      ['u2', 'k2'],
      ['u3', 'k1'],
    ])
      await put(`/user/${id}`, { clientIdentifier: client }, lister.key);
    await put('/user/u4', {}, lister.key);
    // A learning-only user has no embed identity and is not listed.
    await rest(h, 'POST', '/rest/learning/accounts', { token: lister.key, json: { external_user_id: 'no-embed' } });
    const all = await get('/users', lister.key);
    expect(all.body).toMatchObject({ page: 0, length: 100, total: 4 });
    expect(all.body.data.map((u: any) => u.identifier)).toEqual(['u1', 'u2', 'u3', 'u4']);
    const k1 = await get('/users?clientIdentifier=k1&length=1&page=1', lister.key);
    expect(k1.body).toMatchObject({ page: 1, length: 1, total: 2 });
    expect(k1.body.data).toEqual([expect.objectContaining({ identifier: 'u3', clientIdentifier: 'k1' })]);
    expect((await get('/users?clientIdentifier=nope', lister.key)).body).toMatchObject({ data: [], total: 0 });
    expect((await get('/users?length=5000', lister.key)).status).toBe(400);
  });

  it("lets an embed user's own JWT read and merge its metadata, nothing else", async () => {
    await put('/user/self-user', { metadata: { a: 1 } });
    const token = await jwtFor(await uuidOf('self-user'));
    expect((await get('/user/self-user', token)).status).toBe(200);
    const mine = await put('/user/self-user', { metadata: { b: 2 } }, token);
    expect(mine.status).toBe(200);
    expect(mine.body.metadata).toEqual({ a: 1, b: 2 });
    expect((await get('/user/ada', token)).status).toBe(404);
    expect((await put('/user/new-by-user', {}, token)).status).toBe(403);
  });
});

describe('DELETE /user/{identifier}', () => {
  it("reallocates courses by default to the partner's first admin", async () => {
    await put('/user/leaver', { clientIdentifier: 'school' });
    const uuid = await uuidOf('leaver');
    await giveCourse(uuid);
    const before = await courseCount(partner.adminUserId);
    const res = await del('/user/leaver');
    expect(res.status).toBe(204);
    expect((await get('/user/leaver')).status).toBe(404);
    expect(await courseCount(partner.adminUserId)).toBe(before + 1);
    // Its identifier stays burned.
    expect((await put('/user/leaver', {})).status).toBe(409);
  });

  it('reallocates to reallocateTo, or deletes / ignores courses with action', async () => {
    await put('/user/from', {});
    await put('/user/to', {});
    await giveCourse(await uuidOf('from'));
    const toUuid = await uuidOf('to');
    expect((await del('/user/from?action=reallocate&reallocateTo=to')).status).toBe(204);
    expect(await courseCount(toUuid)).toBe(1);

    await put('/user/dropper', {});
    const course = await giveCourse(await uuidOf('dropper'));
    expect((await del('/user/dropper?action=DELETE')).status).toBe(204);
    const { data } = await h.gql(
      `query ($id: ID!) { node(id: $id) { id } }`,
      { id: course.course.id },
      { token: partner.key },
    );
    expect(data.node).toBeNull();

    await put('/user/ignorer', {});
    const kept = await giveCourse(await uuidOf('ignorer'));
    expect((await del('/user/ignorer?action=ignore')).status).toBe(204);
    const orphan = await h.gql(
      `query ($id: ID!) { node(id: $id) { id } }`,
      { id: kept.course.id },
      { token: partner.key },
    );
    expect(orphan.data.node).toEqual({ id: kept.course.id });
  });

  it('checks clientIdentifier, action and reallocateTo', async () => {
    await put('/user/careful', { clientIdentifier: 'school' });
    expect((await del('/user/careful?clientIdentifier=acme')).status).toBe(404);
    const action = await del('/user/careful?action=shred');
    expect(action.status).toBe(400);
    expect(action.body.error.issues[0].field).toBe('action');
    expect((await del('/user/careful?action=delete&reallocateTo=ada')).status).toBe(400);
    const unknown = await del('/user/careful?reallocateTo=nobody');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.issues[0].field).toBe('reallocateTo');
    expect((await del('/user/careful?reallocateTo=careful')).status).toBe(400);
    expect((await get('/user/careful')).status).toBe(200);
    expect((await del('/user/careful?clientIdentifier=school&action=ignore')).status).toBe(204);
  });

  it('answers unknown and foreign users with 404 and Core plans with 403', async () => {
    await put('/user/b-keeper', {}, other.key);
    expect((await del('/user/b-keeper')).status).toBe(404);
    expect((await del('/user/nobody')).status).toBe(404);
    expect((await get('/user/b-keeper', other.key)).status).toBe(200);
    await put('/user/core-user', {}, core.key);
    const refused = await del('/user/core-user', core.key);
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toMatch(/Automate/);
    expect((await get('/user/core-user', core.key)).status).toBe(200);
  });
});

describe('credentials and methods', () => {
  it('answers no or invalid credentials with 401', async () => {
    const none = await rest(h, 'GET', `${BASE}/clients`);
    expect(none.status).toBe(401);
    expect(none.body).toEqual({ error: { code: 'unauthenticated', message: expect.any(String) } });
  });

  it('answers a wrong method with 405 and an unknown path with 404', async () => {
    const post = await rest(h, 'POST', `${BASE}/users`, { token: partner.key, json: {} });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    expect((await rest(h, 'PATCH', `${BASE}/user/ada`, { token: partner.key, json: {} })).status).toBe(405);
    const unknown = await get('/widgets');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('no_route');
  });
});
