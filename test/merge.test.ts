// mergeUsers / unmergeUser: what moves (identities the target lacks, entitlements,
// courses, enrollments, orders), what the source looks like afterwards, chains, cycles,
// self-merges, rights, and partner B probing partner A's users.
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Partner } from './helpers/app.js';
import {
  accountAdmin,
  createCourse,
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

const MERGE =
  `... on MergeUsersSuccess { source { ${USER_FIELDS} } target ` +
  `{ ${USER_FIELDS} name metadata registeredInCatalog firstName } }`;
const merge = (token: string, sourceId: string, targetId: string) =>
  run(h, token, 'mergeUsers', { sourceId, targetId }, MERGE);
const unmerge = (token: string, id: string) =>
  run(h, token, 'unmergeUser', { id }, `... on UnmergeUserSuccess { user { ${USER_FIELDS} } }`);
const kinds = (user: { entitlements: { kind: string }[] }) => user.entitlements.map((e) => e.kind).sort();

beforeAll(async () => {
  if (!h.ready) return;
  a = await h.newPartner('Merge A', 'AUTOMATE');
  b = await h.newPartner('Merge B', 'AUTOMATE');
  await run(h, a.key, 'upsertClient', { identifier: 'app' });
});

describe('mergeUsers', () => {
  it('moves the identities the target lacks, the entitlement union and every dependent', async () => {
    const source = await newUser(h, a.key, {
      externalUserId: 'm-src-ext',
      email: 'src@example.com',
      firstName: 'Source',
      identifier: 'm-src-emb',
      clientIdentifier: 'app',
      name: 'Src',
    });
    const target = await newUser(h, a.key, { externalUserId: 'm-tgt-ext' });
    await run(h, a.key, 'grantEntitlements', { userId: source.id, kinds: ['KNERD', 'CREATE_LEARNING_INSTANCE'] });
    await run(h, a.key, 'grantEntitlements', { userId: target.id, kinds: ['KNERD', 'PARTNER_GRAPH_UPDATE'] });
    const owned = await createCourse(h, a.key, source.id, 'Owned by source');
    const shared = await createCourse(h, a.key, a.adminGlobalId, 'Both enrolled');
    const onlySource = await createCourse(h, a.key, a.adminGlobalId, 'Source enrolled');
    await enroll(h, a.key, source.id, shared);
    await enroll(h, a.key, target.id, shared);
    await enroll(h, a.key, source.id, onlySource);
    await order(h, a.key, source.id, shared, 100);
    await order(h, a.key, source.id, null, 200);

    const r = await merge(a.key, source.id, target.id);
    expect(r.__typename).toBe('MergeUsersSuccess');
    // The target keeps its own learning key and gains the catalog and embed identities.
    expect(r.target).toMatchObject({
      uuid: target.uuid,
      status: 'ACTIVE',
      externalUserId: 'm-tgt-ext',
      email: 'src@example.com',
      registeredInCatalog: true,
      firstName: 'Source',
      identifier: 'm-src-emb',
      client: { identifier: 'app' },
      name: 'Src',
    });
    expect(kinds(r.target)).toEqual(['CREATE_LEARNING_INSTANCE', 'KNERD', 'PARTNER_GRAPH_UPDATE']);
    // The source keeps what did not move (its learning key, burned) and points at the target.
    expect(r.source).toMatchObject({
      uuid: source.uuid,
      status: 'MERGED',
      mergedInto: { uuid: target.uuid },
      externalUserId: 'm-src-ext',
      email: null,
      identifier: null,
    });
    expect(r.source.catalogId).toEqual(expect.any(Number));

    const src = await rawUser(h, source.uuid);
    const tgt = await rawUser(h, target.uuid);
    expect([src!.entitlements, src!.courses, src!.enrollments, src!.orders].map((l) => l.length)).toEqual([0, 0, 0, 0]);
    expect(tgt!.courses.map((c) => c.title)).toEqual(['Owned by source']);
    // The duplicate enrollment in the shared course was dropped, the other one moved.
    expect(tgt!.enrollments).toHaveLength(2);
    expect(tgt!.orders.map((o) => o.amountCents).sort()).toEqual([100, 200]);
    void owned;

    // Keys find the user that holds them now; the source is still readable by id.
    const byEmail = await h.gql('{ userByKey(email: "SRC@example.com") { uuid } }', {}, { token: a.key });
    expect(byEmail.data.userByKey.uuid).toBe(target.uuid);
    const read = await readUser(h, a.key, source.id, 'status mergedInto { uuid }');
    expect(read.user).toEqual({ status: 'MERGED', mergedInto: { uuid: target.uuid } });
    const byUuid = await readUser(h, a.key, source.uuid, 'uuid');
    expect(byUuid.user.uuid).toBe(source.uuid);
  });

  it("keeps the target's own identities when it has them all", async () => {
    const source = await newUser(h, a.key, {
      externalUserId: 'k-src',
      email: 'k-src@example.com',
      identifier: 'k-src-emb',
      metadata: { from: 'source' },
    });
    const target = await newUser(h, a.key, {
      externalUserId: 'k-tgt',
      email: 'k-tgt@example.com',
      identifier: 'k-tgt-emb',
      metadata: { from: 'target' },
    });
    const r = await merge(a.key, source.id, target.id);
    expect(r.target).toMatchObject({
      externalUserId: 'k-tgt',
      email: 'k-tgt@example.com',
      identifier: 'k-tgt-emb',
      metadata: { from: 'target' },
    });
    // Nothing moved, so the source's keys stay with it (burned, as the source is merged).
    expect(r.source).toMatchObject({ externalUserId: 'k-src', email: 'k-src@example.com', identifier: 'k-src-emb' });
    expect((await run(h, a.key, 'createUser', { externalUserId: 'k-src' })).__typename).toBe('ConflictError');
  });

  it("refuses the merged source's credentials", async () => {
    const source = await newUser(h, a.key, { externalUserId: 'cred-src' });
    const target = await newUser(h, a.key, { externalUserId: 'cred-tgt' });
    const token = await jwtFor(source.uuid);
    expect((await h.gql('{ viewer { user { uuid } } }', {}, { token })).status).toBe(200);
    await merge(a.key, source.id, target.id);
    expect((await h.gql('{ viewer { user { uuid } } }', {}, { token })).status).toBe(401);
  });

  it('refuses merging a user into itself', async () => {
    const user = await newUser(h, a.key, { externalUserId: 'self-merge' });
    for (const target of [user.id, user.uuid]) {
      expect(await merge(a.key, user.id, target)).toMatchObject({
        __typename: 'ValidationError',
        issues: [{ field: 'input.targetId' }],
      });
    }
    expect((await rawUser(h, user.uuid))!.status).toBe('ACTIVE');
  });

  it('follows a merged target to the end of its chain', async () => {
    const x = await newUser(h, a.key, { externalUserId: 'chain-x' });
    const y = await newUser(h, a.key, { externalUserId: 'chain-y' });
    const z = await newUser(h, a.key, { externalUserId: 'chain-z' });
    const w = await newUser(h, a.key, { email: 'chain-w@example.com' });
    await merge(a.key, x.id, y.id);
    await merge(a.key, y.id, z.id);
    // x → y → z: merging w into x lands on z.
    const r = await merge(a.key, w.id, x.id);
    expect(r.__typename).toBe('MergeUsersSuccess');
    expect(r.source.mergedInto.uuid).toBe(z.uuid);
    expect(r.target).toMatchObject({ uuid: z.uuid, email: 'chain-w@example.com' });
  });

  it('refuses cycles and merging an already merged source', async () => {
    const p = await newUser(h, a.key, { externalUserId: 'cyc-p' });
    const q = await newUser(h, a.key, { externalUserId: 'cyc-q' });
    const s = await newUser(h, a.key, { externalUserId: 'cyc-s' });
    await merge(a.key, p.id, q.id);
    // q → p would close p → q → p.
    expect(await merge(a.key, q.id, p.id)).toMatchObject({ __typename: 'ConflictError' });
    await merge(a.key, q.id, s.id);
    // p → q → s: s into p would lead back to s.
    expect(await merge(a.key, s.id, p.id)).toMatchObject({ __typename: 'ConflictError' });
    // p is merged already: act on the end of its chain instead.
    expect(await merge(a.key, p.id, s.id)).toMatchObject({ __typename: 'ConflictError' });
    const rows = await Promise.all([p, q, s].map((u) => rawUser(h, u.uuid)));
    expect(rows.map((u) => [u!.status, u!.mergedIntoId])).toEqual([
      ['MERGED', q.uuid],
      ['MERGED', s.uuid],
      ['ACTIVE', null],
    ]);
  });

  it('does not let an account admin pass on partner-wide rights by merging', async () => {
    const child = await subAccount(h, a, 'Merge child');
    const admin = await accountAdmin(h, a, child, 'merge-acct-admin');
    const powerful = await newUser(h, a.key, { externalUserId: 'merge-powerful', accountId: child });
    const plain = await newUser(h, a.key, { externalUserId: 'merge-plain', accountId: child });
    await run(h, a.key, 'grantEntitlements', { userId: powerful.id, kinds: ['PARTNER_ADMIN'] });
    expect(await merge(admin.token, powerful.id, plain.id)).toMatchObject({ __typename: 'ForbiddenError' });
    expect((await rawUser(h, plain.uuid))!.entitlements).toEqual([]);
    expect((await rawUser(h, powerful.uuid))!.status).toBe('ACTIVE');
    // Ordinary users of the subtree merge fine.
    const other = await newUser(h, a.key, { externalUserId: 'merge-other', accountId: child });
    expect((await merge(admin.token, other.id, plain.id)).__typename).toBe('MergeUsersSuccess');
  });

  it('answers NOT_FOUND across partners and changes nothing', async () => {
    const source = await newUser(h, a.key, { externalUserId: 'x-src' });
    const target = await newUser(h, a.key, { externalUserId: 'x-tgt' });
    const bUser = await newUser(h, b.key, { externalUserId: 'x-b' });
    await run(h, a.key, 'grantEntitlements', { userId: source.id, kinds: ['KNERD'] });
    // B merging A's users, A's user into B's, B's into A's: all NOT_FOUND.
    expect(await merge(b.key, source.id, target.id)).toMatchObject({ __typename: 'NotFoundError' });
    expect(await merge(b.key, source.id, bUser.id)).toMatchObject({ __typename: 'NotFoundError' });
    expect(await merge(b.key, bUser.id, target.id)).toMatchObject({ __typename: 'NotFoundError' });
    expect(await merge(a.key, source.id, bUser.id)).toMatchObject({ __typename: 'NotFoundError' });
    const rows = await Promise.all([source, target, bUser].map((u) => rawUser(h, u.uuid)));
    expect(rows.map((u) => [u!.status, u!.mergedIntoId, u!.externalUserId])).toEqual([
      ['ACTIVE', null, 'x-src'],
      ['ACTIVE', null, 'x-tgt'],
      ['ACTIVE', null, 'x-b'],
    ]);
    expect(rows[0]!.entitlements.map((e) => e.kind)).toEqual(['KNERD']);
  });

  it('keeps the source readable, without errors, once its target is deleted', async () => {
    const source = await newUser(h, a.key, { externalUserId: 'gone-src' });
    const target = await newUser(h, a.key, { externalUserId: 'gone-tgt' });
    await merge(a.key, source.id, target.id);
    await run(h, a.key, 'deleteUser', { id: target.id, action: 'IGNORE' });
    const r = await h.gql(
      'query ($id: ID!) { user(id: $id) { status mergedInto { uuid } } node(id: $id) { id } }',
      { id: source.id },
      { token: a.key },
    );
    expect(r.errors).toBeUndefined();
    expect(r.data).toEqual({ user: { status: 'MERGED', mergedInto: null }, node: { id: source.id } });
    const gone = await h.gql('query ($id: ID!) { node(id: $id) { id } }', { id: target.id }, { token: a.key });
    expect(gone.data.node).toBeNull();
  });

  it('shows an account admin a merge target outside its subtree as null, not an error', async () => {
    const child = await subAccount(h, a, 'Merge view child');
    const admin = await accountAdmin(h, a, child, 'merge-view-admin');
    const source = await newUser(h, a.key, { externalUserId: 'view-src', accountId: child });
    const outside = await newUser(h, a.key, { externalUserId: 'view-outside' });
    await merge(a.key, source.id, outside.id);
    const r = await h.gql(
      'query ($id: ID!) { user(id: $id) { status mergedInto { uuid } entitlements { kind } } }',
      { id: source.id },
      { token: admin.token },
    );
    expect(r.errors).toBeUndefined();
    expect(r.data.user).toMatchObject({ status: 'MERGED', mergedInto: null });
  });

  it('writes one audit event naming both users', async () => {
    const source = await newUser(h, a.key, { externalUserId: 'audit-src' });
    const target = await newUser(h, a.key, { externalUserId: 'audit-tgt' });
    await merge(a.key, source.id, target.id);
    const events = await h.store.prisma.auditEvent.findMany({
      where: { subjectId: source.uuid, action: 'user.merge' },
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      actorId: a.adminUserId,
      data: expect.objectContaining({ target: target.uuid, identities: [] }),
    });
  });
});

describe('unmergeUser', () => {
  it('restores ACTIVE and clears the pointer; moved data stays on the target', async () => {
    const source = await newUser(h, a.key, { externalUserId: 'u-src', email: 'u-src@example.com' });
    const target = await newUser(h, a.key, { externalUserId: 'u-tgt' });
    await createCourse(h, a.key, source.id, 'Moved');
    await run(h, a.key, 'grantEntitlements', { userId: source.id, kinds: ['KNERD'] });
    await merge(a.key, source.id, target.id);
    const r = await unmerge(a.key, source.id);
    expect(r.user).toMatchObject({
      uuid: source.uuid,
      status: 'ACTIVE',
      mergedInto: null,
      email: null,
      entitlements: [],
    });
    const tgt = await rawUser(h, target.uuid);
    expect(tgt).toMatchObject({ email: 'u-src@example.com', inCatalog: true });
    expect(tgt!.courses.map((c) => c.title)).toEqual(['Moved']);
    expect(tgt!.entitlements.map((e) => e.kind)).toEqual(['KNERD']);
    // The restored user can log in again, and be merged again.
    const token = await jwtFor(source.uuid);
    expect((await h.gql('{ viewer { user { uuid } } }', {}, { token })).data.viewer.user.uuid).toBe(source.uuid);
    expect((await merge(a.key, source.id, target.id)).__typename).toBe('MergeUsersSuccess');
  });

  it('refuses a user that is not merged', async () => {
    const user = await newUser(h, a.key, { externalUserId: 'u-not-merged' });
    expect(await unmerge(a.key, user.id)).toMatchObject({ __typename: 'ConflictError' });
  });

  it('answers NOT_FOUND across partners', async () => {
    const source = await newUser(h, a.key, { externalUserId: 'u-x-src' });
    const target = await newUser(h, a.key, { externalUserId: 'u-x-tgt' });
    await merge(a.key, source.id, target.id);
    expect(await unmerge(b.key, source.id)).toMatchObject({ __typename: 'NotFoundError' });
    expect((await rawUser(h, source.uuid))!).toMatchObject({ status: 'MERGED', mergedIntoId: target.uuid });
  });
});
