// User lifecycle through the graph: create, ensure, update (metadata rules, immutable keys,
// self-edit limits), disable/enable, delete with each action, dependents, entitlements.
// Every mutation also gets a cross-partner probe: foreign ids are NOT_FOUND, rows unchanged.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadUserPrincipal } from '../src/auth/authenticate.js';
import { updateUser } from '../src/modules/users/service.js';
import { useHarness, type Partner } from './helpers/app.js';
import {
  accountAdmin,
  createCourse,
  createUser,
  enroll,
  jwtFor,
  newUser,
  order,
  rawUser,
  readUser,
  run,
  subAccount,
  USER_FIELDS,
} from './helpers/lifecycle.js';

const h = useHarness();
let a: Partner;
let b: Partner;

beforeAll(async () => {
  if (!h.ready) return;
  a = await h.newPartner('Users A', 'AUTOMATE');
  b = await h.newPartner('Users B', 'AUTOMATE');
  await run(h, a.key, 'upsertClient', { identifier: 'web' });
});

describe('createUser', () => {
  it('creates each identity kind', async () => {
    const learning = await newUser(h, a.key, { externalUserId: 'c-ext-1' });
    expect(learning).toMatchObject({
      status: 'ACTIVE',
      externalUserId: 'c-ext-1',
      email: null,
      identifier: null,
      catalogId: null,
    });
    expect(learning.account.ulid).toBe(a.accountId);

    const catalog = await newUser(
      h,
      a.key,
      { email: 'Ada@Example.COM', firstName: 'Ada', timeZone: 'Europe/Paris', locale: 'en-GB' },
      `${USER_FIELDS} userName firstName timeZone locale registeredInCatalog canvasUserUuid`,
    );
    expect(catalog.email).toBe('ada@example.com');
    expect(catalog.userName).toBe('ada@example.com');
    expect(catalog.registeredInCatalog).toBe(true);
    expect(catalog.catalogId).toEqual(expect.any(Number));
    expect(catalog.canvasUserUuid).toMatch(/^[A-Za-z0-9]{40}$/);

    const embed = await newUser(
      h,
      a.key,
      {
        identifier: 'c-emb-1',
        clientIdentifier: 'web',
        name: 'Emb',
        avatar: 'https://x/a.png',
        metadata: { plan: 'gold' },
      },
      `${USER_FIELDS} name avatar metadata`,
    );
    expect(embed).toMatchObject({
      identifier: 'c-emb-1',
      client: { identifier: 'web' },
      name: 'Emb',
      avatar: 'https://x/a.png',
    });
    expect(embed.metadata).toEqual({ plan: 'gold', name: 'Emb', avatar: 'https://x/a.png' });

    const all = await newUser(h, a.key, { externalUserId: 'c-ext-2', email: 'all@example.com', identifier: 'c-emb-2' });
    expect(all).toMatchObject({
      externalUserId: 'c-ext-2',
      email: 'all@example.com',
      identifier: 'c-emb-2',
      client: null,
    });
  });

  it('registers the user in a sub-account', async () => {
    const child = await subAccount(h, a, 'Create child');
    const user = await newUser(h, a.key, { externalUserId: 'c-sub-1', accountId: child });
    expect(user.account.ulid).toBe(child);
  });

  it('answers a conflict for every taken key, naming the holder', async () => {
    const holder = await newUser(h, a.key, { externalUserId: 'k-ext', email: 'k@example.com', identifier: 'k-emb' });
    for (const input of [{ externalUserId: 'k-ext' }, { email: 'K@EXAMPLE.com' }, { identifier: 'k-emb' }]) {
      const r = await createUser(h, a.key, input);
      expect(r.__typename, JSON.stringify(input)).toBe('ConflictError');
      expect(r.code).toBe('CONFLICT');
      expect(r.field).toBe(Object.keys(input)[0]);
      expect(r.existingId).toBe(holder.uuid);
    }
    // The same keys are free in another partner.
    expect(
      (await createUser(h, b.key, { externalUserId: 'k-ext', email: 'k@example.com', identifier: 'k-emb' })).__typename,
    ).toBe('CreateUserSuccess');
  });

  it("keeps a disabled user's key burned", async () => {
    const user = await newUser(h, a.key, { externalUserId: 'burn-disabled' });
    expect(
      (await run(h, a.key, 'disableUser', { id: user.id }, '... on DisableUserSuccess { user { status } }')).user
        .status,
    ).toBe('DISABLED');
    const again = await createUser(h, a.key, { externalUserId: 'burn-disabled' });
    expect(again).toMatchObject({ __typename: 'ConflictError', field: 'externalUserId', existingId: user.uuid });
    const ensured = await run(
      h,
      a.key,
      'ensureUser',
      { externalUserId: 'burn-disabled' },
      '... on EnsureUserSuccess { created user { uuid status } }',
    );
    expect(ensured).toMatchObject({ created: false, user: { uuid: user.uuid, status: 'DISABLED' } });
  });

  it('rejects PII in externalUserId, naming the rule', async () => {
    const cases: [string, string][] = [
      ['jane.doe@example.com', 'email'],
      ['id:jane@example.org', 'email'],
      ['+44 20 7946 0958', 'phone'],
      ['+14155552671', 'phone'],
      ['555-123-4567', 'phone'],
      ['(555) 123-4567', 'phone'],
      ['123-45-6789', 'national_id'],
      ['123 456 789', 'national_id'],
      ['AB 12 34 56 C', 'national_id'],
    ];
    for (const [value, rule] of cases) {
      const r = await createUser(h, a.key, { externalUserId: value });
      expect(r, value).toMatchObject({
        __typename: 'PiiRejectedError',
        code: 'PII_REJECTED',
        piiField: 'externalUserId',
        rule,
      });
      expect(r.message).toContain('externalUserId');
    }
    expect(
      await h.store.prisma.user.count({
        where: { partnerId: a.accountId, externalUserId: { in: cases.map(([v]) => v) } },
      }),
    ).toBe(0);
    // Anonymized numeric ids are fine.
    expect((await createUser(h, a.key, { externalUserId: '4155552671' })).__typename).toBe('CreateUserSuccess');
  });

  it('reports validation errors per field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{}, 'input.externalUserId'],
      [{ externalUserId: '' }, 'input.externalUserId'],
      [{ externalUserId: ' padded ' }, 'input.externalUserId'],
      [{ externalUserId: 'x'.repeat(256) }, 'input.externalUserId'],
      [{ externalUserId: 'ctl\u0001' }, 'input.externalUserId'],
      [{ email: 'not-an-email' }, 'input.email'],
      [{ externalUserId: 'v-1', timeZone: 'Mars/Olympus' }, 'input.timeZone'],
      [{ externalUserId: 'v-2', locale: 'not a locale!' }, 'input.locale'],
      [{ identifier: 'a/b' }, 'input.identifier'],
      [{ externalUserId: 'v-3', clientIdentifier: 'web' }, 'input.clientIdentifier'],
      [{ externalUserId: 'v-4', customFields: deep(20) }, 'input.customFields'],
      [{ identifier: 'v-5', metadata: { big: 'x'.repeat(70_000) } }, 'input.metadata'],
      [{ email: 'v6@example.com', userName: '' }, 'input.userName'],
    ];
    for (const [input, field] of cases) {
      const r = await createUser(h, a.key, input);
      expect(r.__typename, JSON.stringify(input).slice(0, 80)).toBe('ValidationError');
      expect(r.code).toBe('VALIDATION');
      expect(r.issues.map((i: any) => i.field)).toContain(field);
    }
  });

  it('answers NOT_FOUND for an unknown client or a foreign account', async () => {
    expect(await createUser(h, a.key, { identifier: 'nf-1', clientIdentifier: 'nope' })).toMatchObject({
      __typename: 'NotFoundError',
      entity: 'Client',
    });
    expect(await createUser(h, b.key, { externalUserId: 'nf-2', accountId: a.accountId })).toMatchObject({
      __typename: 'NotFoundError',
      entity: 'Account',
    });
    // B cannot attach a user to A's client either.
    expect(await createUser(h, b.key, { identifier: 'nf-3', clientIdentifier: 'web' })).toMatchObject({
      __typename: 'NotFoundError',
    });
    expect(await h.store.prisma.user.count({ where: { partnerId: a.accountId, externalUserId: 'nf-2' } })).toBe(0);
  });
});

describe('ensureUser', () => {
  it('returns an existing user, creates a new one, and refuses a deleted key', async () => {
    const existing = await newUser(h, a.key, { externalUserId: 'e-1' });
    const sel = '... on EnsureUserSuccess { created user { uuid externalUserId identifier client { identifier } } }';
    expect(await run(h, a.key, 'ensureUser', { externalUserId: 'e-1' }, sel)).toMatchObject({
      created: false,
      user: { uuid: existing.uuid },
    });
    const fresh = await run(h, a.key, 'ensureUser', { externalUserId: 'e-2' }, sel);
    expect(fresh).toMatchObject({ created: true, user: { externalUserId: 'e-2' } });
    expect(await run(h, a.key, 'ensureUser', { externalUserId: 'e-2' }, sel)).toMatchObject({
      created: false,
      user: { uuid: fresh.user.uuid },
    });
    const embed = await run(h, a.key, 'ensureUser', { identifier: 'e-emb', clientIdentifier: 'web' }, sel);
    expect(embed).toMatchObject({ created: true, user: { identifier: 'e-emb', client: { identifier: 'web' } } });

    await run(h, a.key, 'deleteUser', { id: existing.id, action: 'IGNORE' });
    const burned = await run(h, a.key, 'ensureUser', { externalUserId: 'e-1' }, sel);
    expect(burned).toMatchObject({ __typename: 'ConflictError', field: 'externalUserId' });
  });

  it('validates its input and PII', async () => {
    expect((await run(h, a.key, 'ensureUser', {})).__typename).toBe('ValidationError');
    expect((await run(h, a.key, 'ensureUser', { externalUserId: 'x', identifier: 'y' })).__typename).toBe(
      'ValidationError',
    );
    expect(await run(h, a.key, 'ensureUser', { externalUserId: 'me@example.com' })).toMatchObject({
      __typename: 'PiiRejectedError',
      rule: 'email',
    });
  });

  it("does not hand partner B a user of partner A's key", async () => {
    await newUser(h, a.key, { externalUserId: 'e-cross' });
    const r = await run(
      h,
      b.key,
      'ensureUser',
      { externalUserId: 'e-cross' },
      '... on EnsureUserSuccess { created user { uuid partner { ulid } } }',
    );
    expect(r).toMatchObject({ created: true, user: { partner: { ulid: b.accountId } } });
  });
});

describe('updateUser', () => {
  const sel =
    `... on UpdateUserSuccess { user { ${USER_FIELDS} metadata name ` +
    'avatar firstName lastName userName timeZone registeredInCatalog } }';

  it('replaces metadata with `metadata` and merges it with `metadataPatch` (RFC 7396)', async () => {
    const user = await newUser(h, a.key, { identifier: 'm-1', metadata: { a: 1, nested: { x: 1, y: 2 }, keep: true } });
    const patched = await run(
      h,
      a.key,
      'updateUser',
      { id: user.id, metadataPatch: { a: 2, nested: { y: null, z: 3 }, keep: null, list: [1, 2] } },
      sel,
    );
    expect(patched.user.metadata).toEqual({ a: 2, nested: { x: 1, z: 3 }, list: [1, 2] });
    const replaced = await run(h, a.key, 'updateUser', { id: user.id, metadata: { only: 'this' } }, sel);
    expect(replaced.user.metadata).toEqual({ only: 'this' });
    const both = await run(h, a.key, 'updateUser', { id: user.id, metadata: { a: 1 }, metadataPatch: { b: 2 } });
    expect(both).toMatchObject({ __typename: 'ValidationError', issues: [{ field: 'input.metadataPatch' }] });
    expect((await readUser(h, a.key, user.id, 'metadata')).user.metadata).toEqual({ only: 'this' });
  });

  it('treats name and avatar as shorthands for metadata.name and metadata.avatar', async () => {
    const user = await newUser(h, a.key, { identifier: 'm-2', metadata: { team: 'red' } });
    const r = await run(h, a.key, 'updateUser', { id: user.id, name: 'Grace', avatar: 'https://x/g.png' }, sel);
    expect(r.user).toMatchObject({
      name: 'Grace',
      avatar: 'https://x/g.png',
      metadata: { team: 'red', name: 'Grace', avatar: 'https://x/g.png' },
    });
    // With a replacement, the shorthand applies on top of the new object.
    const r2 = await run(h, a.key, 'updateUser', { id: user.id, metadata: { team: 'blue' }, name: 'G' }, sel);
    expect(r2.user.metadata).toEqual({ team: 'blue', name: 'G' });
  });

  it('refuses a patch that would grow metadata past 64 KiB', async () => {
    const user = await newUser(h, a.key, { identifier: 'm-big', metadata: { a: 'x'.repeat(40_000) } });
    const r = await run(h, a.key, 'updateUser', { id: user.id, metadataPatch: { b: 'y'.repeat(40_000) } });
    expect(r).toMatchObject({ __typename: 'ValidationError', issues: [{ field: 'input.metadataPatch' }] });
    expect(Object.keys((await rawUser(h, user.uuid))!.metadata as object)).toEqual(['a']);
    // The catalog dialect's custom-field patch (not in the graph) obeys the same limit.
    const principal = await loadUserPrincipal(h.store.prisma, a.adminUserId, 'api_key');
    const ctx = { prisma: h.store.prisma, principal, requestId: 'test', ip: '127.0.0.1' };
    const catalog = await newUser(h, a.key, { email: 'm-big@example.com', customFields: { a: 'x'.repeat(40_000) } });
    await expect(
      updateUser(ctx, { id: catalog.uuid, customFieldsPatch: { b: 'y'.repeat(40_000) } }),
    ).rejects.toMatchObject({
      issues: [{ field: 'input.customFieldsPatch', message: expect.stringContaining('64 KiB') }],
    });
    expect(
      (await updateUser(ctx, { id: catalog.uuid, customFieldsPatch: { a: null, b: 'small' } })).customFields,
    ).toEqual({ b: 'small' });
  });

  it('sets a missing key once and never changes a set one', async () => {
    const user = await newUser(h, a.key, { email: 'keys@example.com' });
    const set = await run(
      h,
      a.key,
      'updateUser',
      { id: user.id, externalUserId: 'u-ext', identifier: 'u-emb', clientIdentifier: 'web' },
      sel,
    );
    expect(set.user).toMatchObject({ externalUserId: 'u-ext', identifier: 'u-emb', client: { identifier: 'web' } });
    const same = await run(h, a.key, 'updateUser', { id: user.id, externalUserId: 'u-ext' }, sel);
    expect(same.__typename).toBe('UpdateUserSuccess');
    for (const change of [{ externalUserId: 'u-ext-2' }, { identifier: 'u-emb-2' }]) {
      const r = await run(h, a.key, 'updateUser', { id: user.id, ...change });
      expect(r.__typename, JSON.stringify(change)).toBe('ValidationError');
      expect(r.issues[0].field).toBe(`input.${Object.keys(change)[0]}`);
    }
    const learner = await newUser(h, a.key, { externalUserId: 'u-no-emb' });
    expect(await run(h, a.key, 'updateUser', { id: learner.id, clientIdentifier: 'web' })).toMatchObject({
      __typename: 'ValidationError',
      issues: [{ field: 'input.clientIdentifier' }],
    });
    const pii = await newUser(h, a.key, { identifier: 'u-pii' });
    expect(await run(h, a.key, 'updateUser', { id: pii.id, externalUserId: '123-45-6789' })).toMatchObject({
      __typename: 'PiiRejectedError',
      rule: 'national_id',
    });
    expect((await rawUser(h, user.uuid))!.externalUserId).toBe('u-ext');
  });

  it('keeps e-mail addresses unique and registers a user in the catalog by e-mail', async () => {
    await newUser(h, a.key, { email: 'taken@example.com' });
    const user = await newUser(h, a.key, { externalUserId: 'u-mail' });
    const clash = await run(h, a.key, 'updateUser', { id: user.id, email: 'TAKEN@example.com' });
    expect(clash).toMatchObject({ __typename: 'ConflictError', field: 'email' });
    const ok = await run(
      h,
      a.key,
      'updateUser',
      { id: user.id, email: 'Free@Example.com', firstName: 'F', timeZone: 'Asia/Tokyo' },
      sel,
    );
    expect(ok.user).toMatchObject({
      email: 'free@example.com',
      registeredInCatalog: true,
      userName: 'free@example.com',
      firstName: 'F',
      timeZone: 'Asia/Tokyo',
    });
    expect(ok.user.catalogId).toEqual(expect.any(Number));
  });

  it('lets a plain user edit only its own profile fields', async () => {
    const me = await newUser(h, a.key, { identifier: 'self-1', email: 'self@example.com' });
    const other = await newUser(h, a.key, { identifier: 'self-2' });
    const token = await jwtFor(me.uuid);
    const own = await run(
      h,
      token,
      'updateUser',
      { id: me.id, firstName: 'Me', metadataPatch: { color: 'green' }, name: 'Myself' },
      sel,
    );
    expect(own.user).toMatchObject({ firstName: 'Me', name: 'Myself', metadata: { color: 'green', name: 'Myself' } });
    for (const change of [
      { email: 'new@example.com' },
      { userName: 'new' },
      { externalUserId: 'self-ext' },
      { canvasUserId: 5 },
    ]) {
      const r = await run(h, token, 'updateUser', { id: me.id, ...change });
      expect(r.__typename, JSON.stringify(change)).toBe('ForbiddenError');
    }
    expect(await run(h, token, 'updateUser', { id: other.id, firstName: 'Hacked' })).toMatchObject({
      __typename: 'NotFoundError',
    });
    const row = await rawUser(h, me.uuid);
    expect(row).toMatchObject({ email: 'self@example.com', userName: 'self@example.com', externalUserId: null });
    expect((await rawUser(h, other.uuid))!.firstName).toBeNull();
  });

  it('answers NOT_FOUND to another partner and leaves the row alone', async () => {
    const user = await newUser(h, a.key, { identifier: 'x-upd', metadata: { v: 1 } });
    const before = await rawUser(h, user.uuid);
    for (const id of [user.id, user.uuid]) {
      expect(await run(h, b.key, 'updateUser', { id, metadataPatch: { v: 2 }, firstName: 'B' })).toMatchObject({
        __typename: 'NotFoundError',
        code: 'NOT_FOUND',
      });
    }
    expect(await rawUser(h, user.uuid)).toEqual(before);
  });
});

describe('disableUser / enableUser', () => {
  it('disables (readable by admins, no login) and enables again', async () => {
    const user = await newUser(h, a.key, { externalUserId: 'd-1' });
    const token = await jwtFor(user.uuid);
    expect((await h.gql('{ viewer { user { uuid } } }', {}, { token })).data.viewer.user.uuid).toBe(user.uuid);
    const sel = '... on DisableUserSuccess { user { status disabledAt } }';
    const disabled = await run(h, a.key, 'disableUser', { id: user.id }, sel);
    expect(disabled.user.status).toBe('DISABLED');
    expect(disabled.user.disabledAt).toEqual(expect.any(String));
    expect((await readUser(h, a.key, user.id, 'status')).user.status).toBe('DISABLED');
    const refused = await h.gql('{ viewer { user { uuid } } }', {}, { token });
    expect(refused.status).toBe(401);
    // Disabling twice is harmless.
    expect((await run(h, a.key, 'disableUser', { id: user.id }, sel)).user.status).toBe('DISABLED');
    const enabled = await run(
      h,
      a.key,
      'enableUser',
      { id: user.id },
      '... on EnableUserSuccess { user { status disabledAt } }',
    );
    expect(enabled.user).toEqual({ status: 'ACTIVE', disabledAt: null });
    expect((await h.gql('{ viewer { user { uuid } } }', {}, { token })).data.viewer.user.uuid).toBe(user.uuid);
  });

  it('refuses to disable or enable a merged user', async () => {
    const source = await newUser(h, a.key, { externalUserId: 'd-src' });
    const target = await newUser(h, a.key, { externalUserId: 'd-tgt' });
    await run(h, a.key, 'mergeUsers', { sourceId: source.id, targetId: target.id });
    expect((await run(h, a.key, 'disableUser', { id: source.id })).__typename).toBe('ConflictError');
    expect((await run(h, a.key, 'enableUser', { id: source.id })).__typename).toBe('ConflictError');
  });

  it('answers NOT_FOUND across partners', async () => {
    const user = await newUser(h, a.key, { externalUserId: 'd-cross' });
    expect(await run(h, b.key, 'disableUser', { id: user.id })).toMatchObject({ __typename: 'NotFoundError' });
    await run(h, a.key, 'disableUser', { id: user.id });
    expect(await run(h, b.key, 'enableUser', { id: user.id })).toMatchObject({ __typename: 'NotFoundError' });
    expect((await rawUser(h, user.uuid))!.status).toBe('DISABLED');
  });
});

describe('courses, enrollments and orders', () => {
  it('creates them for managed users and refuses duplicates and foreign ids', async () => {
    const owner = await newUser(h, a.key, { externalUserId: 'co-owner' });
    const student = await newUser(h, a.key, { email: 'student@example.com' });
    const courseId = await createCourse(h, a.key, owner.id, 'Algebra');
    expect((await enroll(h, a.key, student.id, courseId)).__typename).toBe('EnrollUserSuccess');
    expect(await enroll(h, a.key, student.id, courseId)).toMatchObject({
      __typename: 'ConflictError',
      field: 'courseId',
    });
    expect(await order(h, a.key, student.id, courseId, 1999)).toMatchObject({
      __typename: 'RecordOrderSuccess',
      order: { amountCents: 1999 },
    });
    expect((await order(h, a.key, student.id, null, 5)).__typename).toBe('RecordOrderSuccess');
    expect((await order(h, a.key, student.id, courseId, -1)).__typename).toBe('ValidationError');
    expect((await run(h, a.key, 'createCourse', { ownerId: owner.id, title: '' })).__typename).toBe('ValidationError');

    const { user } = await readUser(h, a.key, student.id, 'enrollments { totalCount } orders { totalCount }');
    expect(user).toEqual({ enrollments: { totalCount: 1 }, orders: { totalCount: 2 } });

    // Partner B can use neither A's users nor A's courses.
    const bUser = await newUser(h, b.key, { externalUserId: 'co-b' });
    expect(await run(h, b.key, 'createCourse', { ownerId: owner.id, title: 'Hijack' })).toMatchObject({
      __typename: 'NotFoundError',
    });
    expect(await enroll(h, b.key, bUser.id, courseId)).toMatchObject({ __typename: 'NotFoundError', entity: 'Course' });
    expect(await order(h, b.key, bUser.id, courseId)).toMatchObject({ __typename: 'NotFoundError', entity: 'Course' });
    expect(await order(h, b.key, student.id, null)).toMatchObject({ __typename: 'NotFoundError', entity: 'User' });
    const row = await rawUser(h, student.uuid);
    expect([row!.enrollments.length, row!.orders.length]).toEqual([1, 2]);
    expect((await rawUser(h, owner.uuid))!.courses).toHaveLength(1);
  });
});

describe('reallocateCourses', () => {
  it('moves every course to another active user of the partner', async () => {
    const from = await newUser(h, a.key, { externalUserId: 'r-from' });
    const to = await newUser(h, a.key, { externalUserId: 'r-to' });
    await createCourse(h, a.key, from.id, 'One');
    await createCourse(h, a.key, from.id, 'Two');
    const r = await run(
      h,
      a.key,
      'reallocateCourses',
      { fromUserId: from.id, toUserId: to.id },
      '... on ReallocateCoursesSuccess { moved }',
    );
    expect(r.moved).toBe(2);
    expect((await rawUser(h, to.uuid))!.courses.map((c) => c.title).sort()).toEqual(['One', 'Two']);
    expect((await rawUser(h, from.uuid))!.courses).toHaveLength(0);
    expect((await run(h, a.key, 'reallocateCourses', { fromUserId: from.id, toUserId: from.id })).__typename).toBe(
      'ValidationError',
    );
  });

  it('refuses a merged or disabled receiver', async () => {
    const from = await newUser(h, a.key, { externalUserId: 'r2-from' });
    const merged = await newUser(h, a.key, { externalUserId: 'r2-merged' });
    const disabled = await newUser(h, a.key, { externalUserId: 'r2-disabled' });
    const sink = await newUser(h, a.key, { externalUserId: 'r2-sink' });
    await createCourse(h, a.key, from.id);
    await run(h, a.key, 'mergeUsers', { sourceId: merged.id, targetId: sink.id });
    await run(h, a.key, 'disableUser', { id: disabled.id });
    for (const to of [merged, disabled]) {
      expect((await run(h, a.key, 'reallocateCourses', { fromUserId: from.id, toUserId: to.id })).__typename).toBe(
        'ConflictError',
      );
    }
    expect((await rawUser(h, from.uuid))!.courses).toHaveLength(1);
  });

  it('answers NOT_FOUND across partners', async () => {
    const from = await newUser(h, a.key, { externalUserId: 'r3-from' });
    await createCourse(h, a.key, from.id);
    const bUser = await newUser(h, b.key, { externalUserId: 'r3-b' });
    expect(await run(h, b.key, 'reallocateCourses', { fromUserId: from.id, toUserId: bUser.id })).toMatchObject({
      __typename: 'NotFoundError',
    });
    expect(await run(h, a.key, 'reallocateCourses', { fromUserId: from.id, toUserId: bUser.id })).toMatchObject({
      __typename: 'NotFoundError',
    });
    expect((await rawUser(h, from.uuid))!.courses).toHaveLength(1);
  });
});

describe('deleteUser', () => {
  async function withDependents(prefix: string) {
    const user = await newUser(h, a.key, {
      externalUserId: `${prefix}-ext`,
      email: `${prefix}@example.com`,
      identifier: `${prefix}-emb`,
      firstName: 'Del',
      customFields: { x: 1 },
      metadata: { m: 1 },
    });
    const other = await newUser(h, a.key, { externalUserId: `${prefix}-other` });
    const own = await createCourse(h, a.key, user.id, `${prefix} own`);
    const foreign = await createCourse(h, a.key, other.id, `${prefix} theirs`);
    await enroll(h, a.key, user.id, foreign);
    await enroll(h, a.key, other.id, own);
    await order(h, a.key, user.id, foreign);
    await run(h, a.key, 'grantEntitlements', { userId: user.id, kinds: ['KNERD'] });
    return { user, other, own, foreign };
  }
  const del = (id: string, extra: Record<string, unknown> = {}) =>
    run(h, a.key, 'deleteUser', { id, ...extra }, '... on DeleteUserSuccess { deletedUserId }');

  it('REALLOCATE moves courses to reallocateTo, removes dependents, tombstones the row', async () => {
    const { user, other, own } = await withDependents('del1');
    const r = await del(user.id, { action: 'REALLOCATE', reallocateTo: other.id });
    expect(r).toEqual({ __typename: 'DeleteUserSuccess', deletedUserId: user.id });
    const course = await h.store.prisma.course.findUnique({ where: { id: await nativeCourse(own) } });
    expect(course!.ownerId).toBe(other.uuid);
    const row = await rawUser(h, user.uuid);
    expect(row).toMatchObject({
      status: 'DELETED',
      firstName: null,
      userName: null,
      customFields: null,
      metadata: null,
      entitlements: [],
      enrollments: [],
      orders: [],
    });
    expect(row!.deletedAt).toBeInstanceOf(Date);
    // Keys stay on the tombstone: burned.
    expect(row).toMatchObject({ externalUserId: 'del1-ext', email: 'del1@example.com', identifier: 'del1-emb' });
    expect((await readUser(h, a.key, user.id)).code).toBe('NOT_FOUND');
    for (const key of [{ externalUserId: 'del1-ext' }, { email: 'del1@example.com' }, { identifier: 'del1-emb' }]) {
      expect((await createUser(h, a.key, key)).__typename).toBe('ConflictError');
      const byKey = await h.gql(
        'query ($externalUserId: String, $email: String, $identifier: String) ' +
          '{ userByKey(externalUserId: $externalUserId, email: $email, identifier: $identifier) { id } }',
        key,
        { token: a.key },
      );
      expect(byKey.data.userByKey).toBeNull();
      expect(byKey.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    }
    for (const [name, input] of [
      ['updateUser', { id: user.id, firstName: 'Zombie' }],
      ['disableUser', { id: user.id }],
      ['enableUser', { id: user.id }],
      ['deleteUser', { id: user.id }],
      ['deleteUserDependencies', { id: user.id }],
      ['grantEntitlements', { userId: user.id, kinds: ['KNERD'] }],
      ['mergeUsers', { sourceId: user.id, targetId: other.id }],
    ] as const) {
      expect(await run(h, a.key, name, input), name).toMatchObject({ __typename: 'NotFoundError' });
    }
  });

  it("REALLOCATE defaults to the partner's first admin", async () => {
    const { user, own } = await withDependents('del2');
    expect((await del(user.id)).__typename).toBe('DeleteUserSuccess');
    const course = await h.store.prisma.course.findUnique({ where: { id: await nativeCourse(own) } });
    expect(course!.ownerId).toBe(a.adminUserId);
  });

  it("REALLOCATE by an account admin also defaults to the partner's first admin", async () => {
    const child = await subAccount(h, a, 'Delete child');
    const admin = await accountAdmin(h, a, child, 'del-acct-admin');
    const user = await newUser(h, a.key, { externalUserId: 'del-acct-user', accountId: child });
    const course = await createCourse(h, admin.token, user.id, 'child course');
    const r = await run(h, admin.token, 'deleteUser', { id: user.id }, '... on DeleteUserSuccess { deletedUserId }');
    expect(r.__typename).toBe('DeleteUserSuccess');
    expect((await h.store.prisma.course.findUnique({ where: { id: await nativeCourse(course) } }))!.ownerId).toBe(
      a.adminUserId,
    );
  });

  it('REALLOCATE refuses a merged, disabled or foreign receiver', async () => {
    const { user } = await withDependents('del3');
    const disabled = await newUser(h, a.key, { externalUserId: 'del3-disabled' });
    await run(h, a.key, 'disableUser', { id: disabled.id });
    expect((await del(user.id, { reallocateTo: disabled.id })).__typename).toBe('ConflictError');
    expect((await del(user.id, { reallocateTo: user.id })).__typename).toBe('ValidationError');
    const bUser = await newUser(h, b.key, { externalUserId: 'del3-b' });
    expect(await del(user.id, { reallocateTo: bUser.id })).toMatchObject({ __typename: 'NotFoundError' });
    expect((await rawUser(h, user.uuid))!.status).toBe('ACTIVE');
  });

  it('DELETE deletes the courses (and the enrollments in them)', async () => {
    const { user, other, own } = await withDependents('del4');
    expect((await del(user.id, { action: 'DELETE' })).__typename).toBe('DeleteUserSuccess');
    expect(await h.store.prisma.course.findUnique({ where: { id: await nativeCourse(own) } })).toBeNull();
    expect((await rawUser(h, other.uuid))!.enrollments).toHaveLength(0);
  });

  it('IGNORE leaves the courses without owner', async () => {
    const { user, other, own } = await withDependents('del5');
    expect((await del(user.id, { action: 'IGNORE' })).__typename).toBe('DeleteUserSuccess');
    const course = await h.store.prisma.course.findUnique({ where: { id: await nativeCourse(own) } });
    expect(course!.ownerId).toBeNull();
    expect((await rawUser(h, other.uuid))!.enrollments).toHaveLength(1);
  });

  it('needs the Automate plan for embed users', async () => {
    const core = await h.newPartner('Users Core', 'CORE');
    const embed = await newUser(h, core.key, { identifier: 'core-emb' });
    const learning = await newUser(h, core.key, { externalUserId: 'core-ext' });
    expect((await run(h, core.key, 'deleteUser', { id: embed.id, action: 'IGNORE' })).__typename).toBe(
      'ForbiddenError',
    );
    expect((await run(h, core.key, 'deleteUser', { id: learning.id, action: 'IGNORE' })).__typename).toBe(
      'DeleteUserSuccess',
    );
    expect((await rawUser(h, embed.uuid))!.status).toBe('ACTIVE');
  });

  it("revokes the deleted user's credentials", async () => {
    const user = await newUser(h, a.key, { externalUserId: 'del-login' });
    const token = await jwtFor(user.uuid);
    expect((await h.gql('{ viewer { user { uuid } } }', {}, { token })).status).toBe(200);
    await del(user.id, { action: 'IGNORE' });
    expect((await h.gql('{ viewer { user { uuid } } }', {}, { token })).status).toBe(401);
  });

  it('answers NOT_FOUND across partners and leaves the user alone', async () => {
    const { user } = await withDependents('del6');
    for (const action of ['REALLOCATE', 'DELETE', 'IGNORE']) {
      expect(await run(h, b.key, 'deleteUser', { id: user.id, action })).toMatchObject({ __typename: 'NotFoundError' });
    }
    const row = await rawUser(h, user.uuid);
    expect(row).toMatchObject({ status: 'ACTIVE', firstName: 'Del' });
    expect(row!.courses).toHaveLength(1);
  });
});

describe('deleteUserDependencies', () => {
  it('removes only orders and enrollments', async () => {
    const user = await newUser(h, a.key, { email: 'deps@example.com' });
    const courseId = await createCourse(h, a.key, user.id, 'Own');
    const other = await createCourse(h, a.key, a.adminGlobalId, 'Admin course');
    await enroll(h, a.key, user.id, other);
    await order(h, a.key, user.id, other);
    await order(h, a.key, user.id, null);
    await run(h, a.key, 'grantEntitlements', { userId: user.id, kinds: ['KNERD'] });

    expect(await run(h, b.key, 'deleteUserDependencies', { id: user.id })).toMatchObject({
      __typename: 'NotFoundError',
    });
    expect((await rawUser(h, user.uuid))!.orders).toHaveLength(2);

    const r = await run(
      h,
      a.key,
      'deleteUserDependencies',
      { id: user.id },
      '... on DeleteUserDependenciesSuccess { deletedOrders deletedEnrollments }',
    );
    expect(r).toMatchObject({ deletedOrders: 2, deletedEnrollments: 1 });
    const row = await rawUser(h, user.uuid);
    expect(row).toMatchObject({ status: 'ACTIVE', email: 'deps@example.com', orders: [], enrollments: [] });
    expect(row!.courses.map((c) => c.id)).toEqual([await nativeCourse(courseId)]);
    expect(row!.entitlements.map((e) => e.kind)).toEqual(['KNERD']);
  });
});

describe('grantEntitlements / revokeEntitlements', () => {
  const sel = '... on GrantEntitlementsSuccess { user { entitlements { kind grantedBy { uuid } } } }';
  const revokeSel = '... on RevokeEntitlementsSuccess { user { entitlements { kind } } }';

  it('grants (idempotently) and revokes', async () => {
    const user = await newUser(h, a.key, { externalUserId: 'ent-1' });
    const g = await run(
      h,
      a.key,
      'grantEntitlements',
      { userId: user.id, kinds: ['KNERD', 'CREATE_LEARNING_INSTANCE'] },
      sel,
    );
    expect(g.user.entitlements).toEqual([
      { kind: 'KNERD', grantedBy: { uuid: a.adminUserId } },
      { kind: 'CREATE_LEARNING_INSTANCE', grantedBy: { uuid: a.adminUserId } },
    ]);
    expect(
      (await run(h, a.key, 'grantEntitlements', { userId: user.id, kinds: ['KNERD'] }, sel)).user.entitlements,
    ).toHaveLength(2);
    const r = await run(h, a.key, 'revokeEntitlements', { userId: user.id, kinds: ['KNERD'] }, revokeSel);
    expect(r.user.entitlements).toEqual([{ kind: 'CREATE_LEARNING_INSTANCE' }]);
    expect((await run(h, a.key, 'grantEntitlements', { userId: user.id, kinds: [] })).__typename).toBe(
      'ValidationError',
    );
  });

  it('makes a partner admin, whose rights take effect at once', async () => {
    const user = await newUser(h, a.key, { externalUserId: 'ent-admin' });
    const token = await jwtFor(user.uuid);
    expect((await h.gql('{ viewer { isAdmin } }', {}, { token })).data.viewer.isAdmin).toBe(false);
    await run(h, a.key, 'grantEntitlements', { userId: user.id, kinds: ['PARTNER_ADMIN'] });
    expect((await h.gql('{ viewer { isAdmin } }', {}, { token })).data.viewer.isAdmin).toBe(true);
    await run(h, a.key, 'revokeEntitlements', { userId: user.id, kinds: ['PARTNER_ADMIN'] });
    expect((await h.gql('{ viewer { isAdmin } }', {}, { token })).data.viewer.isAdmin).toBe(false);
  });

  it('does not let an account admin grant or revoke partner-wide rights', async () => {
    const child = await subAccount(h, a, 'Entitlement child');
    const admin = await accountAdmin(h, a, child, 'ent-acct-admin');
    const user = await newUser(h, a.key, { externalUserId: 'ent-child-user', accountId: child });
    for (const kind of ['PARTNER_ADMIN', 'ALL']) {
      expect((await run(h, admin.token, 'grantEntitlements', { userId: user.id, kinds: [kind] })).__typename).toBe(
        'ForbiddenError',
      );
      expect(
        (await run(h, admin.token, 'grantEntitlements', { userId: admin.user.id, kinds: [kind] })).__typename,
      ).toBe('ForbiddenError');
    }
    expect(
      (await run(h, admin.token, 'grantEntitlements', { userId: user.id, kinds: ['KNERD'] }, sel)).user.entitlements,
    ).toHaveLength(1);
    // Users outside the admin's subtree are not found.
    const outside = await newUser(h, a.key, { externalUserId: 'ent-outside' });
    expect((await run(h, admin.token, 'grantEntitlements', { userId: outside.id, kinds: ['KNERD'] })).__typename).toBe(
      'NotFoundError',
    );
    await run(h, a.key, 'grantEntitlements', { userId: user.id, kinds: ['PARTNER_ADMIN'] });
    expect(
      (await run(h, admin.token, 'revokeEntitlements', { userId: user.id, kinds: ['PARTNER_ADMIN'] })).__typename,
    ).toBe('ForbiddenError');
    expect((await rawUser(h, user.uuid))!.entitlements.map((e) => e.kind).sort()).toEqual(['KNERD', 'PARTNER_ADMIN']);
  });

  it('shows an account admin the grants of admins it cannot see as grantedBy null, not an error', async () => {
    const child = await subAccount(h, a, 'Grant view child');
    const admin = await accountAdmin(h, a, child, 'ent-view-admin');
    const user = await newUser(h, a.key, { externalUserId: 'ent-view-user', accountId: child });
    await run(h, a.key, 'grantEntitlements', { userId: user.id, kinds: ['KNERD'] });
    await run(h, admin.token, 'grantEntitlements', { userId: user.id, kinds: ['CREATE_LEARNING_INSTANCE'] });
    const r = await h.gql(
      'query ($id: ID!) { user(id: $id) { entitlements { kind grantedBy { uuid } } } }',
      { id: user.id },
      { token: admin.token },
    );
    expect(r.errors).toBeUndefined();
    expect(r.data.user.entitlements).toEqual([
      { kind: 'KNERD', grantedBy: null },
      { kind: 'CREATE_LEARNING_INSTANCE', grantedBy: { uuid: admin.user.uuid } },
    ]);
  });

  it('answers NOT_FOUND across partners', async () => {
    const user = await newUser(h, a.key, { externalUserId: 'ent-cross' });
    await run(h, a.key, 'grantEntitlements', { userId: user.id, kinds: ['KNERD'] });
    expect(await run(h, b.key, 'grantEntitlements', { userId: user.id, kinds: ['ALL'] })).toMatchObject({
      __typename: 'NotFoundError',
    });
    expect(await run(h, b.key, 'revokeEntitlements', { userId: user.id, kinds: ['KNERD'] })).toMatchObject({
      __typename: 'NotFoundError',
    });
    expect((await rawUser(h, user.uuid))!.entitlements.map((e) => e.kind)).toEqual(['KNERD']);
  });
});

/** A nested object `levels` deep. */
function deep(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < levels; i++) value = { n: value };
  return value;
}

/** A course's native id from its global id. */
async function nativeCourse(globalId: string): Promise<string> {
  return Buffer.from(globalId, 'base64').toString('utf8').split(':')[1]!;
}

describe('defaults for account admins and course-less deletes', () => {
  it('an account admin creates users in its own account by default', async () => {
    const solo = await h.newPartner('Default account');
    const branch = await subAccount(h, solo, 'Branch');
    const { token } = await accountAdmin(h, solo, branch, 'branch-admin');
    const created = await createUser(h, token, { externalUserId: 'in-branch' }, 'account { ulid }');
    expect(created.user.account.ulid).toBe(branch);
  });

  it('the last admin can be deleted with the default REALLOCATE when it owns no course', async () => {
    const solo = await h.newPartner('Last admin');
    const deleted = await run(h, solo.key, 'deleteUser', { id: solo.adminGlobalId });
    expect(deleted.__typename).toBe('DeleteUserSuccess');
  });
});
