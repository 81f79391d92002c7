// Races that complement test/concurrency.test.ts: deletes with reallocation racing with
// merges, course creation and reallocation; bulk creates on overlapping keys from several
// callers at once (with single creates and ensures on the same keys); merges in both
// directions around a ring; IGNORE deletes racing with reallocations; enrollments and
// orders racing with the deletion of their course's owner; creates, updates and embed PUTs
// naming a client racing with its deletion; two deletions of one client. After each race
// the store is checked directly (h.store.prisma), not through the API: no duplicate keys,
// no merge cycles, no course owned by a deleted or merged user, no ownerless course except
// those an IGNORE delete left, and an audit event for every write that answered success.
// Every call must end in success or a typed error: run() throws on "Unexpected error.".
// PGlite runs one statement at a time, so most of these interleavings only happen on
// PostgreSQL; the rounds are repeated to make them likely there.
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Partner } from './helpers/app.js';
import { accountAdmin, createCourse, newUser, run, subAccount } from './helpers/lifecycle.js';
import { storeKind } from './helpers/store.js';
import type { RequestContext } from '../src/auth/context.js';
import { ConflictError, NotFoundError } from '../src/errors.js';
import { audited } from '../src/modules/audit/service.js';
import { StartOver } from '../src/store/errors.js';
import { mutate } from './helpers/fixtures.js';

// Hundreds of requests with one key within a second: lift the per-credential rate limit.
const h = useHarness({ RATE_LIMIT_PER_MINUTE: '100000' });
let p: Partner;
/** Several callers of the same partner: the admin key, a second key, an account admin's JWT. */
let callers: string[];
let subAccountId: string;

beforeAll(async () => {
  if (!h.ready) return;
  p = await h.newPartner('Races', 'AUTOMATE');
  const second = await mutate(
    h,
    p.key,
    'createApiKey',
    { name: 'second caller' },
    '... on CreateApiKeySuccess { key }',
  );
  subAccountId = await subAccount(h, p, 'race sub');
  const admin = await accountAdmin(h, p, subAccountId, 'race-account-admin');
  callers = [p.key, second.key, admin.token];
});

/** Runs every call at once; each must answer a mutation result (run() throws on a transport error). */
const all = <T>(calls: (() => Promise<T>)[]) => Promise.all(calls.map((c) => c()));

const ok = (r: { __typename: string }) => !r.__typename.endsWith('Error');

/** The invariants that must hold for the partner whatever raced. */
async function checkInvariants() {
  const db = h.store.prisma;
  const partnerId = p.accountId;
  // No key held twice (the constraints say so; this proves it of the data).
  for (const key of ['externalUserId', 'email', 'identifier', 'canvasUserUuid']) {
    const dupes = await db.$queryRawUnsafe<{ key: string }[]>(
      `SELECT "${key}" AS key FROM "User" WHERE "partnerId" = $1 ` +
        `AND "${key}" IS NOT NULL GROUP BY "${key}" HAVING count(*) > 1`,
      partnerId,
    );
    expect(dupes, `duplicate ${key}`).toEqual([]);
  }
  const users = await db.user.findMany({
    where: { partnerId },
    select: { id: true, status: true, mergedIntoId: true },
  });
  const byId = new Map(users.map((u) => [u.id, u]));
  // Merge pointers: set exactly on MERGED users, and every chain ends at an unmerged user.
  for (const user of users) {
    expect(user.status === 'MERGED', `${user.id}: status ${user.status} with mergedInto ${user.mergedIntoId}`).toBe(
      user.mergedIntoId !== null,
    );
    const seen = new Set<string>();
    let current = user;
    while (current.status === 'MERGED') {
      expect(seen.has(current.id), `merge cycle through ${[...seen].join(' → ')}`).toBe(false);
      seen.add(current.id);
      current = byId.get(current.mergedIntoId!)!;
      expect(current, `${user.id} merged into a user of another partner or none`).toBeDefined();
    }
  }
  // Dependents live only on users that can hold them.
  const gone = users.filter((u) => u.status === 'DELETED' || u.status === 'MERGED').map((u) => u.id);
  const stranded = await db.course.findMany({ where: { ownerId: { in: gone } }, select: { id: true, ownerId: true } });
  expect(stranded.map((c) => `${c.id} owned by ${byId.get(c.ownerId!)!.status} ${c.ownerId}`)).toEqual([]);
  expect(await db.enrollment.count({ where: { userId: { in: gone } } }), 'enrollments of merged or deleted users').toBe(
    0,
  );
  expect(await db.order.count({ where: { userId: { in: gone } } }), 'orders of merged or deleted users').toBe(0);
  expect(
    await db.entitlement.count({ where: { userId: { in: gone } } }),
    'entitlements of merged or deleted users',
  ).toBe(0);
  // Ownerless courses: exactly those IGNORE deletes reported leaving behind.
  const events = await db.auditEvent.findMany({
    where: { partnerId },
    select: { action: true, subjectId: true, data: true },
  });
  const orphanedByIgnore = events
    .filter((e) => e.action === 'user.delete')
    .reduce((n, e) => n + Number((e.data as { orphanedCourses?: number }).orphanedCourses ?? 0), 0);
  expect(
    await db.course.count({ where: { partnerId, ownerId: null } }),
    'ownerless courses beyond what IGNORE deletes left',
  ).toBe(orphanedByIgnore);
  // Every row has the audit event of the write that made it, and every state change its own.
  const subjects = (action: string) => new Set(events.filter((e) => e.action === action).map((e) => e.subjectId));
  const admins = new Set(
    events.filter((e) => e.action === 'partner.create').map((e) => (e.data as { adminUserId: string }).adminUserId),
  );
  const created = subjects('user.create');
  expect(
    users.filter((u) => !created.has(u.id) && !admins.has(u.id)).map((u) => u.id),
    'users without user.create',
  ).toEqual([]);
  const merged = subjects('user.merge');
  expect(
    users.filter((u) => u.status === 'MERGED' && !merged.has(u.id)).map((u) => u.id),
    'merged users without user.merge',
  ).toEqual([]);
  const deleted = subjects('user.delete');
  expect(
    users.filter((u) => u.status === 'DELETED' && !deleted.has(u.id)).map((u) => u.id),
    'deleted users without user.delete',
  ).toEqual([]);
  const courses = await db.course.findMany({ where: { partnerId }, select: { id: true } });
  const coursesCreated = subjects('course.create');
  expect(
    courses.filter((c) => !coursesCreated.has(c.id)).map((c) => c.id),
    'courses without course.create',
  ).toEqual([]);
  return { events, users, byId };
}

/**
 * Deadlocks PostgreSQL has detected in the test database. Backends publish their counts when
 * they go idle, at most once a second: wait that long, then give every pool connection a
 * statement. (PGlite has no such view, and serialises anyway: 0.)
 */
async function deadlocks(): Promise<number> {
  if (storeKind !== 'postgres') return 0;
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await Promise.all(Array.from({ length: 10 }, () => h.store.pool.query('SELECT pg_sleep(0.05)')));
  const [row] = await h.store.prisma.$queryRaw<
    { deadlocks: bigint }[]
  >`SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`;
  return Number(row!.deadlocks);
}

/** How many audit events of `action` name `subjectId`. */
async function auditCount(action: string, subjectIds: string[]): Promise<number> {
  return h.store.prisma.auditEvent.count({ where: { partnerId: p.accountId, action, subjectId: { in: subjectIds } } });
}

// Rounds of concurrent requests: up to 25 s a test on PostgreSQL on a loaded machine.
describe('races', { timeout: 90_000 }, () => {
  it('deletes with reallocation race with merges, course creation, reallocation and creates', async () => {
    const users = [];
    for (let i = 0; i < 12; i++) users.push(await newUser(h, p.key, { externalUserId: `rd-${i}` }));
    for (const u of users) for (let c = 0; c < 2; c++) await createCourse(h, p.key, u.id, `rd course ${c}`);
    const coursesBefore = await h.store.prisma.course.count({ where: { partnerId: p.accountId } });
    const calls: { kind: string; subject?: string; call: () => Promise<any> }[] = [];
    for (let i = 0; i + 2 < users.length; i += 3) {
      const [x, y, z] = [users[i], users[i + 1], users[i + 2]];
      // x is deleted with its courses going to y, while y is merged into z, new courses are
      // made for x and y, and z's courses are moved to x (who is going away).
      calls.push({
        kind: 'user.delete',
        subject: x.uuid,
        call: () => run(h, p.key, 'deleteUser', { id: x.id, action: 'REALLOCATE', reallocateTo: y.id }),
      });
      calls.push({
        kind: 'user.merge',
        subject: y.uuid,
        call: () => run(h, p.key, 'mergeUsers', { sourceId: y.id, targetId: z.id }),
      });
      calls.push({
        kind: 'course.create',
        call: () =>
          run(
            h,
            p.key,
            'createCourse',
            { ownerId: x.id, title: 'raced' },
            '... on CreateCourseSuccess { course { id } }',
          ),
      });
      calls.push({
        kind: 'course.create',
        call: () =>
          run(
            h,
            p.key,
            'createCourse',
            { ownerId: y.id, title: 'raced' },
            '... on CreateCourseSuccess { course { id } }',
          ),
      });
      calls.push({
        kind: 'course.reallocate',
        subject: z.uuid,
        call: () => run(h, p.key, 'reallocateCourses', { fromUserId: z.id, toUserId: x.id }),
      });
      // deleteUser's courses go to the first admin
      calls.push({ kind: 'user.delete', subject: z.uuid, call: () => run(h, p.key, 'deleteUser', { id: z.id }) });
      calls.push({
        kind: 'user.create',
        call: () =>
          run(h, p.key, 'createUser', { externalUserId: `rd-new-${i}` }, '... on CreateUserSuccess { user { uuid } }'),
      });
    }
    const results = await all(calls.map((c) => c.call));
    const outcomes = results.map((r, i) => ({ ...calls[i]!, result: r, ok: ok(r) }));
    // Losers lose with a typed error (merged, deleted, conflict), never a transport error.
    for (const o of outcomes.filter((o) => !o.ok))
      expect(['NOT_FOUND', 'CONFLICT', 'VALIDATION'], `${o.kind}: ${JSON.stringify(o.result)}`).toContain(
        o.result.code,
      );
    expect(outcomes.filter((o) => o.ok).length).toBeGreaterThan(calls.length / 3);
    await checkInvariants();
    // Reallocation never loses a course: only new ones were added.
    const coursesCreated = outcomes.filter((o) => o.kind === 'course.create' && o.ok).length;
    expect(await h.store.prisma.course.count({ where: { partnerId: p.accountId } })).toBe(
      coursesBefore + coursesCreated,
    );
    // Every success has its audit event.
    for (const kind of ['user.delete', 'user.merge', 'course.reallocate']) {
      const subjects = outcomes.filter((o) => o.kind === kind && o.ok).map((o) => o.subject!);
      expect(await auditCount(kind, subjects), kind).toBeGreaterThanOrEqual(subjects.length);
    }
    const newCourses = outcomes.filter((o) => o.kind === 'course.create' && o.ok).map((o) => o.result.course.id);
    const courseUuids = newCourses.map((g: string) => Buffer.from(g, 'base64').toString().split(':')[1]!);
    expect(await auditCount('course.create', courseUuids)).toBe(courseUuids.length);
    const newUsers = outcomes.filter((o) => o.kind === 'user.create' && o.ok).map((o) => o.result.user.uuid);
    expect(await auditCount('user.create', newUsers)).toBe(newUsers.length);
  });

  it(`bulk creates on overlapping keys from several callers, with single creates and ensures, \
make each key once`, async () => {
    const keys = Array.from({ length: 50 }, (_, i) => `rb-${i}`);
    const BULK = `mutation ($input: CreateUsersInput!) {
      createUsers(input: $input) { __typename ... on Error { code message }
        ... on CreateUsersSuccess { results { __typename
          ... on CreateUserSuccess { user { uuid externalUserId identifier } } ... on Error { code message } } } } }`;
    const calls: (() => Promise<{ key: string; uuid?: string; created: boolean; type: string }[]>)[] = [];
    callers.forEach((token, c) => {
      for (let b = 0; b < 2; b++) {
        // Each call takes 30 of the 50 keys in its own order; even keys are embed identifiers.
        const picked = keys.filter((_, i) => (i + c + b) % 5 !== 0).slice(0, 30);
        const ordered = (c + b) % 2 ? picked.reverse() : picked;
        const users = ordered.map((k) =>
          Number(k.slice(3)) % 2
            ? { externalUserId: k, accountId: subAccountId }
            : { identifier: k, accountId: subAccountId },
        );
        calls.push(async () => {
          const r = await h.gql(BULK, { input: { users } }, { token });
          expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
          expect(r.data.createUsers.__typename).toBe('CreateUsersSuccess');
          return r.data.createUsers.results.map((x: any, i: number) => ({
            key: users[i]!.externalUserId ?? users[i]!.identifier!,
            uuid: x.user?.uuid,
            created: x.__typename === 'CreateUserSuccess',
            type: x.code ?? x.__typename,
          }));
        });
      }
      for (const k of keys.filter((_, i) => i % 7 === c)) {
        // ensureUser creates in the partner's root account: only partner-wide callers may.
        const partnerWide = token !== callers[2];
        const input =
          Number(k.slice(3)) % 2
            ? { externalUserId: k, accountId: subAccountId }
            : { identifier: k, accountId: subAccountId };
        calls.push(async () => {
          const r = await run(h, token, 'createUser', input, '... on CreateUserSuccess { user { uuid } }');
          return [
            { key: k, uuid: r.user?.uuid, created: r.__typename === 'CreateUserSuccess', type: r.code ?? r.__typename },
          ];
        });
        if (partnerWide)
          calls.push(async () => {
            const r = await run(
              h,
              token,
              'ensureUser',
              Number(k.slice(3)) % 2 ? { externalUserId: k } : { identifier: k },
              '... on EnsureUserSuccess { created user { uuid } }',
            );
            return [{ key: k, uuid: r.user?.uuid, created: r.created === true, type: r.code ?? r.__typename }];
          });
      }
    });
    const answers = (await all(calls)).flat();
    for (const a of answers.filter((a) => !a.created && a.type !== 'EnsureUserSuccess'))
      expect(a.type, JSON.stringify(a)).toBe('CONFLICT');
    const rows = await h.store.prisma.user.findMany({
      where: { partnerId: p.accountId, OR: [{ externalUserId: { in: keys } }, { identifier: { in: keys } }] },
      select: { id: true, externalUserId: true, identifier: true },
    });
    const rowOf = new Map(rows.map((r) => [r.externalUserId ?? r.identifier!, r.id]));
    for (const key of keys) {
      const creations = answers.filter((a) => a.key === key && a.created);
      // Every key that was asked for exists once, and exactly one call says it created it.
      if (answers.some((a) => a.key === key)) {
        expect(rowOf.has(key), `${key} missing`).toBe(true);
        expect(
          creations.map((a) => a.uuid),
          `${key} created ${creations.length} times`,
        ).toEqual([rowOf.get(key)]);
      }
      // Whoever got the user back got the one row.
      for (const a of answers.filter((a) => a.key === key && a.uuid)) expect(a.uuid).toBe(rowOf.get(key));
    }
    expect(
      await auditCount(
        'user.create',
        rows.map((r) => r.id),
      ),
    ).toBe(rows.length);
    await checkInvariants();
  });

  it('merges in both directions around a ring leave chains without cycles and lose nothing', async () => {
    const ring: any[] = [];
    for (let i = 0; i < 8; i++)
      ring.push(
        await newUser(h, p.key, {
          externalUserId: `ring-${i}`,
          ...(i % 2 ? { email: `ring-${i}@example.com` } : { identifier: `ring-emb-${i}` }),
        }),
      );
    for (const u of ring) {
      await createCourse(h, p.key, u.id, 'ring course');
      await mutate(h, p.key, 'grantEntitlements', { userId: u.id, kinds: ['KNERD'] });
    }
    const calls = ring.flatMap((u, i) => {
      const next = ring[(i + 1) % ring.length];
      return [
        {
          source: u.uuid,
          call: () =>
            run(
              h,
              p.key,
              'mergeUsers',
              { sourceId: u.id, targetId: next.id },
              '... on MergeUsersSuccess { target { uuid } }',
            ),
        },
        {
          source: next.uuid,
          call: () =>
            run(
              h,
              p.key,
              'mergeUsers',
              { sourceId: next.id, targetId: u.id },
              '... on MergeUsersSuccess { target { uuid } }',
            ),
        },
      ];
    });
    const results = await all(calls.map((c) => c.call));
    for (const r of results.filter((r) => !ok(r))) expect(r.code, JSON.stringify(r)).toBe('CONFLICT');
    const successes = results.filter(ok).length;
    expect(successes).toBeGreaterThanOrEqual(1);
    const { byId } = await checkInvariants();
    const rows = ring.map((u) => byId.get(u.uuid)!);
    // Every user merged at most once, so the successful merges are exactly the merged users.
    expect(rows.filter((u) => u.status === 'MERGED')).toHaveLength(successes);
    expect(rows.filter((u) => u.status === 'ACTIVE').length).toBeGreaterThanOrEqual(1);
    // Nothing lost: the eight courses, the learning keys and one KNERD per survivor.
    const ids = ring.map((u) => u.uuid);
    const courses = await h.store.prisma.course.findMany({
      where: { title: 'ring course', partnerId: p.accountId },
      select: { ownerId: true },
    });
    expect(courses).toHaveLength(8);
    for (const c of courses) expect(byId.get(c.ownerId!)!.status).toBe('ACTIVE');
    // No learning key is lost: a merge moves a key the target lacks, else the source keeps it.
    const keys = await h.store.prisma.user.findMany({ where: { id: { in: ids } }, select: { externalUserId: true } });
    expect(keys.map((u) => u.externalUserId).sort()).toEqual(ring.map((_, i) => `ring-${i}`).sort());
    expect(await auditCount('user.merge', ids)).toBe(successes);
  });

  it('IGNORE deletes racing with reallocations leave ownerless only what the deletes reported', async () => {
    const users = [];
    for (let i = 0; i < 9; i++) users.push(await newUser(h, p.key, { externalUserId: `ri-${i}` }));
    for (const u of users) await createCourse(h, p.key, u.id, 'ri course');
    const calls = [];
    for (let i = 0; i < users.length; i += 3) {
      const [x, y, z] = [users[i], users[i + 1], users[i + 2]];
      calls.push(() => run(h, p.key, 'deleteUser', { id: x.id, action: 'IGNORE' }));
      calls.push(() => run(h, p.key, 'reallocateCourses', { fromUserId: y.id, toUserId: x.id }));
      calls.push(() => run(h, p.key, 'reallocateCourses', { fromUserId: x.id, toUserId: z.id }));
      calls.push(() => run(h, p.key, 'deleteUser', { id: y.id, action: 'DELETE' }));
      calls.push(() => run(h, p.key, 'createCourse', { ownerId: x.id, title: 'ri raced' }));
    }
    const results = await all(calls);
    for (const r of results.filter((r) => !ok(r)))
      expect(['NOT_FOUND', 'CONFLICT'], JSON.stringify(r)).toContain(r.code);
    await checkInvariants();
  });
  it(`enrollments and orders racing with the deletion (DELETE) \
of their course's owner succeed or are NOT_FOUND`, async () => {
    const learners = await Promise.all(
      Array.from({ length: 4 }, (_, i) => newUser(h, p.key, { externalUserId: `ro-learner-${i}` })),
    );
    const rounds = storeKind === 'postgres' ? 6 : 2;
    for (let round = 0; round < rounds; round++) {
      const owners = await Promise.all(
        Array.from({ length: 6 }, (_, i) => newUser(h, p.key, { externalUserId: `ro-owner-${round}-${i}` })),
      );
      const courses = await Promise.all(owners.map((o) => createCourse(h, p.key, o.id, 'ro course')));
      const calls: { kind: string; call: () => Promise<any> }[] = [];
      owners.forEach((owner, i) => {
        for (const learner of learners) {
          calls.push({
            kind: 'enroll',
            call: () =>
              run(
                h,
                p.key,
                'enrollUser',
                { userId: learner.id, courseId: courses[i] },
                '... on EnrollUserSuccess { enrollment { id } }',
              ),
          });
          calls.push({
            kind: 'order',
            call: () => run(h, p.key, 'recordOrder', { userId: learner.id, courseId: courses[i], amountCents: 100 }),
          });
        }
        // In the middle of its course's writes, so that some read the course before it goes.
        calls.splice(calls.length - learners.length, 0, {
          kind: 'delete',
          call: () => run(h, p.key, 'deleteUser', { id: owner.id, action: 'DELETE' }),
        });
      });
      const results = await all(calls.map((c) => c.call));
      results.forEach((r, i) => {
        if (calls[i]!.kind === 'delete') expect(r.__typename, JSON.stringify(r)).toBe('DeleteUserSuccess');
        else if (!ok(r)) expect(r, JSON.stringify(r)).toMatchObject({ code: 'NOT_FOUND', entity: 'Course' });
      });
      // The courses went with their owners, and their enrollments with them.
      expect(await h.store.prisma.course.count({ where: { ownerId: { in: owners.map((o) => o.uuid) } } })).toBe(0);
      expect(await h.store.prisma.enrollment.count({ where: { course: { title: 'ro course' } } })).toBe(0);
    }
    await checkInvariants();
  });

  it(`creates, updates and embed PUTs naming a client racing with its deletion leave no live user of a deleted \
client`, async () => {
    const rounds = storeKind === 'postgres' ? 5 : 2;
    const BULK = `mutation ($input: CreateUsersInput!) {
      createUsers(input: $input) { __typename ... on Error { code message }
        ... on CreateUsersSuccess { results { __typename
          ... on CreateUserSuccess { user { uuid } } ... on Error { code message } } } } }`;
    for (let round = 0; round < rounds; round++) {
      const clients = Array.from({ length: 4 }, (_, i) => `rc-${round}-${i}`);
      for (const identifier of clients)
        expect((await run(h, p.key, 'upsertClient', { identifier })).__typename).toBe('UpsertClientSuccess');
      // Embed users without a client yet, for the updates to give them one.
      const loose = await Promise.all(
        clients.flatMap((c) => [0, 1].map((j) => newUser(h, p.key, { identifier: `${c}-loose-${j}` }))),
      );
      // Per client: which identifiers asked for it, and whether the request said it succeeded.
      const asked: { client: string; identifier: string; call: () => Promise<boolean> }[] = [];
      const deletes: { client: string; call: () => Promise<boolean> }[] = [];
      clients.forEach((client, c) => {
        for (let j = 0; j < 3; j++) {
          const identifier = `${client}-new-${j}`;
          asked.push({
            client,
            identifier,
            call: async () => {
              const r = await run(
                h,
                p.key,
                'createUser',
                { identifier, clientIdentifier: client },
                '... on CreateUserSuccess { user { uuid } }',
              );
              if (!ok(r)) expect(r, JSON.stringify(r)).toMatchObject({ code: 'NOT_FOUND', entity: 'Client' });
              return ok(r);
            },
          });
        }
        const bulkUsers = [0, 1, 2].map((j) => ({ identifier: `${client}-bulk-${j}`, clientIdentifier: client }));
        let sent: Promise<any[]> | undefined;
        // One call for the three items, sent when the first of them is due.
        const bulk = () =>
          (sent ??= h.gql(BULK, { input: { users: bulkUsers } }, { token: p.key }).then((r) => {
            expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
            return r.data.createUsers.results as any[];
          }));
        bulkUsers.forEach((u, j) => {
          asked.push({
            client,
            identifier: u.identifier,
            call: async () => {
              const r = (await bulk())[j];
              if (r.__typename !== 'CreateUserSuccess')
                expect(r, JSON.stringify(r)).toMatchObject({ code: 'NOT_FOUND' });
              return r.__typename === 'CreateUserSuccess';
            },
          });
        });
        for (const user of [loose[2 * c]!]) {
          asked.push({
            client,
            identifier: user.identifier,
            call: async () => {
              const r = await run(
                h,
                p.key,
                'updateUser',
                { id: user.id, clientIdentifier: client },
                '... on UpdateUserSuccess { user { uuid } }',
              );
              if (!ok(r)) expect(r, JSON.stringify(r)).toMatchObject({ code: 'NOT_FOUND' });
              return ok(r);
            },
          });
        }
        // Embed PUTs: one creates a user, one updates a loose one.
        for (const identifier of [`${client}-put`, loose[2 * c + 1]!.identifier]) {
          asked.push({
            client,
            identifier,
            call: async () => {
              const r = await h.request(`/rest/embed/v1/headless/user/${identifier}`, {
                method: 'PUT',
                token: p.key,
                headers: { 'content-type': 'application/json' },
                body: JSON.stringify({ clientIdentifier: client, name: 'raced' }),
              });
              const body = await r.text();
              expect([200, 201, 404], body).toContain(r.status);
              return r.status < 300;
            },
          });
        }
        deletes.push({
          client,
          call: async () => {
            const r = await run(h, p.key, 'deleteClient', { identifier: client });
            expect(r.__typename, JSON.stringify(r)).toBe('DeleteClientSuccess');
            return true;
          },
        });
      });
      // Each client's deletion starts among the writes that name it.
      const started: Promise<unknown>[] = [];
      const succeeded = new Set<string>();
      for (const client of clients) {
        const writes = asked.filter((a) => a.client === client);
        writes.forEach((w, i) => {
          if (i === Math.floor(writes.length / 2)) started.push(deletes.find((d) => d.client === client)!.call());
          started.push(w.call().then((done) => done && succeeded.add(w.identifier)));
        });
      }
      await Promise.all(started);
      // Every client is gone, and every user that was given one went with it: a user created
      // for a client exists only as a tombstone, and so does one that was moved into it.
      expect(
        await h.store.prisma.client.count({ where: { partnerId: p.accountId, identifier: { in: clients } } }),
      ).toBe(0);
      const rows = await h.store.prisma.user.findMany({
        where: { partnerId: p.accountId, identifier: { in: asked.map((a) => a.identifier) } },
        select: { identifier: true, status: true },
      });
      const live = rows.filter(
        (u) => u.status !== 'DELETED' && (succeeded.has(u.identifier!) || !u.identifier!.includes('-loose-')),
      );
      expect(
        live.map((u) => u.identifier),
        'live users of a deleted client',
      ).toEqual([]);
    }
    await checkInvariants();
  });

  it('two deletions of one client: one succeeds, the other is NOT_FOUND', async () => {
    const rounds = storeKind === 'postgres' ? 5 : 1;
    for (let round = 0; round < rounds; round++) {
      const clients = Array.from({ length: 6 }, (_, i) => `rdd-${round}-${i}`);
      // Half of them with a user (the loser used to find it deleted), half empty.
      for (const [i, identifier] of clients.entries()) {
        await run(h, p.key, 'upsertClient', { identifier });
        if (i % 2) await newUser(h, p.key, { identifier: `${identifier}-u`, clientIdentifier: identifier });
      }
      const results = await all(
        clients.flatMap((identifier) =>
          [0, 1].map(() => () => run(h, p.key, 'deleteClient', { identifier }, '... on NotFoundError { entity }')),
        ),
      );
      for (let i = 0; i < clients.length; i++) {
        const pair = results
          .slice(2 * i, 2 * i + 2)
          .map((r) => `${r.__typename}${r.entity ? ` ${r.entity}` : ''}`)
          .sort();
        expect(pair, JSON.stringify(results.slice(2 * i, 2 * i + 2))).toEqual([
          'DeleteClientSuccess',
          'NotFoundError Client',
        ]);
      }
      const events = await h.store.prisma.auditEvent.count({
        where: {
          partnerId: p.accountId,
          action: 'client.delete',
          data: { path: ['identifier'], string_starts_with: `rdd-${round}-` },
        },
      });
      expect(events).toBe(clients.length);
    }
    await checkInvariants();
  });

  it('rings of merges racing in both directions, several at once, end in success or CONFLICT', async () => {
    const rounds = storeKind === 'postgres' ? 3 : 1;
    const deadlocksBefore = await deadlocks();
    for (let round = 0; round < rounds; round++) {
      const rings = await Promise.all(
        Array.from({ length: 3 }, (_, r) =>
          Promise.all(
            Array.from({ length: 8 }, (_, i) => newUser(h, p.key, { externalUserId: `rr-${round}-${r}-${i}` })),
          ),
        ),
      );
      const calls = rings.flatMap((ring) =>
        ring.flatMap((u, i) => {
          const next = ring[(i + 1) % ring.length];
          const after = ring[(i + 2) % ring.length];
          return [
            () => run(h, p.key, 'mergeUsers', { sourceId: u.id, targetId: next.id }),
            () => run(h, p.key, 'mergeUsers', { sourceId: next.id, targetId: u.id }),
            // Across the ring too, so that chains form and are followed while they change.
            () => run(h, p.key, 'mergeUsers', { sourceId: after.id, targetId: u.id }),
          ];
        }),
      );
      const results = await all(calls);
      for (const r of results.filter((r) => !ok(r))) expect(r.code, JSON.stringify(r)).toBe('CONFLICT');
      for (const ring of rings) {
        const ids = ring.map((u) => u.uuid);
        const rows = await h.store.prisma.user.findMany({ where: { id: { in: ids } }, select: { status: true } });
        expect(rows.filter((u) => u.status === 'ACTIVE').length).toBeGreaterThanOrEqual(1);
      }
    }
    // Merges lock the source and the target's whole chain in id order: none waits in a cycle
    // (retries hid the deadlocks, each after a second's wait, until they ran out).
    expect(await deadlocks(), 'deadlocks detected during the merges').toBe(deadlocksBefore);
    await checkInvariants();
  });
});

describe('the transaction runner', () => {
  // The runner alone, on the store: no principal, no audit entries.
  const ctx = () => ({ prisma: h.store.prisma, principal: null }) as unknown as RequestContext;

  it.runIf(storeKind === 'postgres')('runs the loser of a real deadlock again, and both succeed', async () => {
    const [a, b] = await Promise.all([
      newUser(h, p.key, { externalUserId: 'tx-a' }),
      newUser(h, p.key, { externalUserId: 'tx-b' }),
    ]);
    let attempts = 0;
    let arrived = 0;
    let release!: () => void;
    const bothHoldOne = new Promise<void>((resolve) => (release = resolve));
    // Each first attempt locks one row, waits until the other holds the other row, then asks for it.
    const lockBoth = (first: string, second: string) =>
      audited(ctx(), async (tx) => {
        const attempt = ++attempts;
        await tx.$queryRaw`SELECT id FROM "User" WHERE id = ${first}::uuid FOR UPDATE`;
        if (attempt <= 2) {
          if (++arrived === 2) release();
          await bothHoldOne;
        }
        await tx.$queryRaw`SELECT id FROM "User" WHERE id = ${second}::uuid FOR UPDATE`;
        return attempt;
      });
    const done = await Promise.all([lockBoth(a.uuid, b.uuid), lockBoth(b.uuid, a.uuid)]);
    // Three attempts: the two that deadlocked, and the loser's second, which succeeded.
    expect(attempts).toBe(3);
    expect(done).toContain(3);
  });

  it('ends a race lost on every attempt in a ConflictError, not an internal error', async () => {
    let attempts = 0;
    const result = audited(ctx(), async () => {
      attempts++;
      throw new StartOver('lost again');
    });
    await expect(result).rejects.toBeInstanceOf(ConflictError);
    expect(attempts).toBe(5);
  });

  it('answers a write on a row that is gone with a NotFoundError naming it', async () => {
    const nobody = '00000000-0000-7000-8000-000000000000';
    await expect(audited(ctx(), (tx) => tx.client.delete({ where: { id: nobody } }))).rejects.toMatchObject({
      name: 'NotFoundError',
      entity: 'Client',
    });
    const learner = await newUser(h, p.key, { externalUserId: 'tx-gone' });
    const enroll = audited(ctx(), (tx) =>
      tx.enrollment.create({ data: { partnerId: p.accountId, userId: learner.uuid, courseId: nobody } }),
    );
    await expect(enroll).rejects.toBeInstanceOf(NotFoundError);
    await expect(enroll).rejects.toMatchObject({ entity: 'Course' });
  });
});
