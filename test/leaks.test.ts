// Nothing a caller cannot see is named to it (issue 12, "Conflicts name holders the caller
// cannot see"): an account admin of a sub-account acting on a user merged into a root or a
// sibling account's user never reads that target's uuid or global id in any answer, through
// the graph or the learning, catalog and embed dialects; nor a client of the root account.
// A partner admin, who sees the target, still gets the precise message. Partner B probes too.
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Partner } from './helpers/app.js';
import { accountAdmin, createCourse, newUser, run, subAccount } from './helpers/lifecycle.js';
import { rest } from './dialects/helpers.js';

const h = useHarness();
let a: Partner;
let b: Partner;
let admin: { user: any; token: string };
/** A user of the admin's sub-account that owns a course (so deleting it needs a receiver). */
let plain: any;
let course: string;
/** Merged into a root-account user, and into a sibling account's user. */
const cases: { name: string; merged: any; target: any }[] = [];

const USER = 'id uuid catalogId';

/** The answer leaks none of the target's names. */
function expectUnnamed(answer: unknown, target: { id: string; uuid: string }) {
  const text = typeof answer === 'string' ? answer : JSON.stringify(answer);
  expect(text).not.toContain(target.uuid);
  expect(text).not.toContain(target.id);
}

beforeAll(async () => {
  if (!h.ready) return;
  a = await h.newPartner('Leaks A', 'AUTOMATE');
  b = await h.newPartner('Leaks B', 'AUTOMATE');
  const child = await subAccount(h, a, 'Leaks child');
  const sibling = await subAccount(h, a, 'Leaks sibling');
  admin = await accountAdmin(h, a, child, 'lk-admin');
  await run(h, a.key, 'upsertClient', { identifier: 'lk-root-app' });
  plain = await newUser(h, a.key, { externalUserId: 'lk-plain', identifier: 'lk-plain-emb', accountId: child }, USER);
  course = await createCourse(h, a.key, plain.id, 'Owned by plain');
  // Targets holding every key, so the merged users keep theirs (and stay reachable by them).
  const targets = {
    root: await newUser(
      h,
      a.key,
      { externalUserId: 'lk-root', email: 'lk-root@example.com', identifier: 'lk-root-emb' },
      USER,
    ),
    sibling: await newUser(
      h,
      a.key,
      { externalUserId: 'lk-sib', email: 'lk-sib@example.com', identifier: 'lk-sib-emb', accountId: sibling },
      USER,
    ),
  };
  for (const [name, target] of Object.entries(targets)) {
    const merged = await newUser(
      h,
      a.key,
      {
        externalUserId: `lk-m-${name}`,
        email: `lk-m-${name}@example.com`,
        identifier: `lk-m-${name}-emb`,
        clientIdentifier: 'lk-root-app',
        accountId: child,
      },
      USER,
    );
    const r = await run(h, a.key, 'mergeUsers', { sourceId: merged.id, targetId: target.id });
    expect(r.__typename).toBe('MergeUsersSuccess');
    cases.push({ name, merged, target });
  }
});

const MUTATIONS: [string, (m: any) => Record<string, unknown>][] = [
  ['disableUser', (m) => ({ id: m.id })],
  ['enableUser', (m) => ({ id: m.id })],
  ['createCourse', (m) => ({ ownerId: m.id, title: 'For a merged user' })],
  ['enrollUser', (m) => ({ userId: m.id, courseId: course })],
  ['recordOrder', (m) => ({ userId: m.id, courseId: null, amountCents: 100 })],
  ['reallocateCourses', (m) => ({ fromUserId: plain.id, toUserId: m.id })],
  ['deleteUser', (m) => ({ id: plain.id, action: 'REALLOCATE', reallocateTo: m.id })],
  ['mergeUsers', (m) => ({ sourceId: m.id, targetId: plain.id })],
];

describe("a user merged outside an account admin's subtree", () => {
  for (const name of ['root', 'sibling']) {
    describe(`into a ${name} account's user`, () => {
      const c = () => cases.find((x) => x.name === name)!;

      for (const [mutation, input] of MUTATIONS) {
        it(`${mutation}: CONFLICT "merged into another user" to the account admin, \
the target named to a partner admin`, async () => {
          const { merged, target } = c();
          const r = await run(h, admin.token, mutation, input(merged));
          expect(r).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT' });
          expect(r.message).toContain(`user ${merged.uuid} is merged into another user`);
          expectUnnamed(r, target);
          const p = await run(h, a.key, mutation, input(merged));
          expect(p.__typename).toBe('ConflictError');
          expect(p.message).toContain(`user ${merged.uuid} is merged into user ${target.uuid}`);
        });
      }

      it("mergeUsers into the merged user: NOT_FOUND names only the target given, not the chain's end", async () => {
        const { merged, target } = c();
        const r = await run(h, admin.token, 'mergeUsers', { sourceId: plain.id, targetId: merged.id });
        expect(r).toMatchObject({
          __typename: 'NotFoundError',
          code: 'NOT_FOUND',
          message: `User ${merged.uuid} not found`,
        });
        expectUnnamed(r, target);
        const row = await h.store.prisma.user.findUnique({ where: { id: plain.uuid } });
        expect(row).toMatchObject({ status: 'ACTIVE', mergedIntoId: null });
      });

      it('learning: DELETE /accounts/:id answers 422 without the target', async () => {
        const { merged, target } = c();
        const res = await rest(h, 'DELETE', `/rest/learning/accounts/${merged.uuid}`, { token: admin.token });
        expect(res.status).toBe(422);
        expect(res.body.error_message).toContain('merged into another user');
        expectUnnamed(res.text, target);
        const p = await rest(h, 'DELETE', `/rest/learning/accounts/${merged.uuid}`, { token: a.key });
        expect(p.body.error_message).toContain(`merged into user ${target.uuid}`);
      });

      it('embed: DELETE a user reallocating to the merged one answers 409 without the target', async () => {
        const { merged, target } = c();
        const path = `/rest/embed/v1/headless/user/lk-plain-emb?reallocateTo=lk-m-${name}-emb`;
        const res = await rest(h, 'DELETE', path, { token: admin.token });
        expect(res.status).toBe(409);
        expect(res.body.error.message).toContain(`user ${merged.uuid} is merged into another user`);
        expectUnnamed(res.text, target);
        const p = await rest(h, 'DELETE', path, { token: a.key });
        expect(p.status).toBe(409);
        expect(p.body.error.message).toContain(`merged into user ${target.uuid}`);
      });

      it('catalog: merged_into_user_id is null to the account admin, the catalog id to a partner admin', async () => {
        const { merged, target } = c();
        const res = await rest(h, 'GET', `/rest/catalog/api/v1/users/${merged.catalogId}`, { token: admin.token });
        expect(res.status).toBe(200);
        expect(res.body.user.merged_into_user_id).toBeNull();
        expectUnnamed(res.text, target);
        const list = await rest(h, 'GET', `/rest/catalog/api/v1/users?per_page=100`, { token: admin.token });
        expectUnnamed(list.text, target);
        const p = await rest(h, 'GET', `/rest/catalog/api/v1/users/${merged.catalogId}`, { token: a.key });
        expect(p.body.user.merged_into_user_id).toBe(target.catalogId);
      });
    });
  }

  it('nothing was changed by the refused calls', async () => {
    const row = await h.store.prisma.user.findUnique({ where: { id: plain.uuid }, include: { courses: true } });
    expect(row).toMatchObject({ status: 'ACTIVE', mergedIntoId: null });
    expect(row!.courses).toHaveLength(1);
    for (const { merged, target } of cases) {
      const m = await h.store.prisma.user.findUnique({
        where: { id: merged.uuid },
        include: { courses: true, orders: true, enrollments: true },
      });
      expect(m).toMatchObject({
        status: 'MERGED',
        mergedIntoId: target.uuid,
        courses: [],
        orders: [],
        enrollments: [],
      });
    }
  });
});

describe('a client of the root account, to an account admin', () => {
  it(`embed: the user's clientIdentifier reads null (as User.client in the graph), \
the client to a partner admin`, async () => {
    const res = await rest(h, 'GET', '/rest/embed/v1/headless/user/lk-m-root-emb', { token: admin.token });
    expect(res.status).toBe(200);
    expect(res.body.clientIdentifier).toBeNull();
    expect(res.text).not.toContain('lk-root-app');
    const graph = await h.gql(
      'query ($id: ID!) { user(id: $id) { client { identifier } } }',
      { id: cases[0]!.merged.id },
      { token: admin.token },
    );
    expect(graph.data.user.client).toBeNull();
    const p = await rest(h, 'GET', '/rest/embed/v1/headless/user/lk-m-root-emb', { token: a.key });
    expect(p.body.clientIdentifier).toBe('lk-root-app');
  });

  it('embed: listing by that client finds nobody; every listed user shows no such client', async () => {
    const byClient = await rest(h, 'GET', '/rest/embed/v1/headless/users?clientIdentifier=lk-root-app', {
      token: admin.token,
    });
    expect(byClient.status).toBe(200);
    expect(byClient.body).toMatchObject({ data: [], total: 0 });
    const all = await rest(h, 'GET', '/rest/embed/v1/headless/users', { token: admin.token });
    expect(all.body.total).toBeGreaterThanOrEqual(2);
    expect(all.text).not.toContain('lk-root-app');
    const p = await rest(h, 'GET', '/rest/embed/v1/headless/users?clientIdentifier=lk-root-app', { token: a.key });
    expect(p.body.total).toBe(2);
  });

  it('embed: naming that client on a delete is NOT_FOUND, and deletes nothing', async () => {
    const res = await rest(
      h,
      'DELETE',
      '/rest/embed/v1/headless/user/lk-m-root-emb?clientIdentifier=lk-root-app&action=ignore',
      { token: admin.token },
    );
    expect(res.status).toBe(404);
    expect(res.text).not.toContain('lk-root-app');
    expect(await h.store.prisma.user.findUnique({ where: { id: cases[0]!.merged.uuid } })).toMatchObject({
      status: 'MERGED',
    });
  });
});

describe('partner B probing partner A', () => {
  it("acting on A's merged users is NOT_FOUND naming only the id given", async () => {
    const mine = await newUser(h, b.key, { externalUserId: 'lk-b-user' }, USER);
    for (const { name, merged, target } of cases) {
      for (const [mutation, input] of [
        ['disableUser', { id: merged.id }],
        ['createCourse', { ownerId: merged.id, title: 'probe' }],
        ['mergeUsers', { sourceId: mine.id, targetId: merged.id }],
        ['mergeUsers', { sourceId: merged.id, targetId: mine.id }],
      ] as const) {
        const r = await run(h, b.key, mutation, input);
        expect(r, mutation).toMatchObject({ __typename: 'NotFoundError', message: `User ${merged.uuid} not found` });
        expectUnnamed(r, target);
      }
      const learning = await rest(h, 'DELETE', `/rest/learning/accounts/${merged.uuid}`, { token: b.key });
      expect(learning.status).toBe(404);
      expectUnnamed(learning.text, target);
      const embed = await rest(h, 'GET', `/rest/embed/v1/headless/user/lk-m-${name}-emb`, { token: b.key });
      expect(embed.status).toBe(404);
      const catalog = await rest(h, 'GET', `/rest/catalog/api/v1/users/${merged.catalogId}`, { token: b.key });
      expect(catalog.status).toBe(404);
      expectUnnamed(catalog.text, target);
    }
    const clients = await rest(h, 'GET', '/rest/embed/v1/headless/users?clientIdentifier=lk-root-app', {
      token: b.key,
    });
    expect(clients.body.total).toBe(0);
  });
});
