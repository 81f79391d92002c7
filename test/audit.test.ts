// The audit log: every write appends its event (actor, credential, action, subject) in its
// own transaction; auditEvents filters by subject and action; partner admins only; tenancy.
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Partner } from './helpers/app.js';
import {
  accountAdmin,
  createCourse,
  createUser,
  enroll,
  jwtFor,
  newUser,
  order,
  run,
  subAccount,
} from './helpers/lifecycle.js';

const h = useHarness();
let a: Partner;
let b: Partner;

const EVENTS = `query ($filter: AuditEventFilter, $first: Int) { auditEvents(filter: $filter, first: $first) {
  totalCount edges { node { id action actorKind actorId subjectType subjectId data createdAt } } } }`;

async function events(token: string, filter: Record<string, unknown> = {}, first = 100) {
  const r = await h.gql(EVENTS, { filter, first }, { token });
  return {
    list: r.data?.auditEvents?.edges.map((e: any) => e.node) ?? null,
    total: r.data?.auditEvents?.totalCount,
    code: r.errors?.[0]?.extensions?.code,
  };
}

beforeAll(async () => {
  if (!h.ready) return;
  a = await h.newPartner('Audit A', 'AUTOMATE');
  b = await h.newPartner('Audit B', 'AUTOMATE');
});

describe('audit events', () => {
  it('records every kind of write with its actor and subject', async () => {
    const child = await subAccount(h, a, 'Audit child');
    await run(h, a.key, 'updateAccount', { id: child, name: 'Audit child renamed' });
    await run(h, a.key, 'upsertClient', { identifier: 'audit-client' });
    await run(h, a.key, 'upsertClient', { identifier: 'audit-client', metadata: { v: 2 } });
    const u = await newUser(h, a.key, {
      externalUserId: 'audit-u',
      identifier: 'audit-emb',
      clientIdentifier: 'audit-client',
    });
    const v = await newUser(h, a.key, { email: 'audit-v@example.com' });
    await run(h, a.key, 'ensureUser', { externalUserId: 'audit-ensured' });
    await run(h, a.key, 'createUsers', {
      users: [{ externalUserId: 'audit-bulk-1' }, { externalUserId: 'audit-bulk-2' }],
    });
    await run(h, a.key, 'updateUser', { id: u.id, metadataPatch: { a: 1 } });
    await run(h, a.key, 'disableUser', { id: u.id });
    await run(h, a.key, 'enableUser', { id: u.id });
    await run(h, a.key, 'grantEntitlements', { userId: u.id, kinds: ['KNERD'] });
    await run(h, a.key, 'revokeEntitlements', { userId: u.id, kinds: ['KNERD'] });
    const course = await createCourse(h, a.key, u.id, 'Audited');
    await enroll(h, a.key, v.id, course);
    await order(h, a.key, v.id, course);
    await run(h, a.key, 'reallocateCourses', { fromUserId: u.id, toUserId: v.id });
    await run(h, a.key, 'deleteUserDependencies', { id: v.id });
    const w = await newUser(h, a.key, { externalUserId: 'audit-w' });
    await run(h, a.key, 'mergeUsers', { sourceId: w.id, targetId: v.id });
    await run(h, a.key, 'unmergeUser', { id: w.id });
    await run(h, a.key, 'deleteUser', { id: w.id, action: 'IGNORE' });
    await run(h, a.key, 'deleteClient', { identifier: 'audit-client' });

    const { list } = await events(a.key, {}, 100);
    const actions = new Set(list.map((e: any) => e.action));
    for (const action of [
      'account.create',
      'account.update',
      'client.create',
      'client.update',
      'client.delete',
      'user.create',
      'user.update',
      'user.disable',
      'user.enable',
      'user.merge',
      'user.unmerge',
      'user.delete',
      'user.delete_dependencies',
      'entitlement.grant',
      'entitlement.revoke',
      'course.create',
      'course.reallocate',
      'enrollment.create',
      'order.create',
    ]) {
      expect(actions, action).toContain(action);
    }
    // Every event names the acting admin and its credential; the partner itself was made by the operator.
    expect(list.filter((e: any) => e.action === 'partner.create')).toEqual([
      expect.objectContaining({ actorKind: 'operator', actorId: null, subjectId: a.accountId }),
    ]);
    for (const e of list.filter((e: any) => e.action !== 'partner.create')) {
      expect(e, e.action).toMatchObject({ actorId: a.adminUserId, actorKind: 'api_key' });
      expect(e.data?.apiKeyId, e.action).toEqual(expect.any(String));
      expect(e.subjectId).toEqual(expect.any(String));
    }
    // Newest first.
    const times = list.map((e: any) => Date.parse(e.createdAt));
    expect(times).toEqual([...times].sort((x, y) => y - x));
    // The deleted user's tombstone keeps its history.
    const wEvents = await events(a.key, { subjectId: w.uuid });
    expect(wEvents.list.map((e: any) => e.action).sort()).toEqual([
      'user.create',
      'user.delete',
      'user.merge',
      'user.unmerge',
    ]);
    expect(wEvents.list.find((e: any) => e.action === 'user.merge').data).toMatchObject({ target: v.uuid });
  });

  it('filters by subject, exact action and action prefix', async () => {
    const user = await newUser(h, a.key, { externalUserId: 'audit-filter' });
    await run(h, a.key, 'updateUser', { id: user.id, firstName: 'F' });
    await run(h, a.key, 'disableUser', { id: user.id });
    await run(h, a.key, 'grantEntitlements', { userId: user.id, kinds: ['KNERD'] });
    const all = await events(a.key, { subjectId: user.uuid });
    expect(all.total).toBe(4);
    expect(all.list.map((e: any) => e.action)).toEqual([
      'entitlement.grant',
      'user.disable',
      'user.update',
      'user.create',
    ]);
    const userOnly = await events(a.key, { subjectId: user.uuid, action: 'user.' });
    expect(userOnly.list.map((e: any) => e.action)).toEqual(['user.disable', 'user.update', 'user.create']);
    const exact = await events(a.key, { subjectId: user.uuid, action: 'user.update' });
    expect(exact.list).toHaveLength(1);
    expect(exact.list[0].data).toMatchObject({ fields: ['firstName'] });
    // A prefix without the dot is an exact action name: nothing is called "user".
    expect((await events(a.key, { subjectId: user.uuid, action: 'user' })).total).toBe(0);
    expect((await events(a.key, { action: 'entitlement.', actorId: a.adminUserId })).total).toBeGreaterThanOrEqual(1);
  });

  it('records a JWT caller as such', async () => {
    const me = await newUser(h, a.key, { identifier: 'audit-self' });
    await run(h, await jwtFor(me.uuid), 'updateUser', { id: me.id, name: 'Me' });
    const { list } = await events(a.key, { subjectId: me.uuid, action: 'user.update' });
    expect(list).toEqual([expect.objectContaining({ actorKind: 'jwt', actorId: me.uuid })]);
    expect(list[0].data.apiKeyId).toBeUndefined();
  });

  it('writes nothing for a refused or failed write', async () => {
    await newUser(h, a.key, { externalUserId: 'audit-dup' });
    const before = (await events(a.key, { action: 'user.create' })).total;
    expect((await createUser(h, a.key, { externalUserId: 'audit-dup' })).__typename).toBe('ConflictError');
    expect((await createUser(h, a.key, { externalUserId: 'audit@example.com' })).__typename).toBe('PiiRejectedError');
    const other = await newUser(h, b.key, { externalUserId: 'audit-b-user' });
    expect((await run(h, a.key, 'disableUser', { id: other.id })).__typename).toBe('NotFoundError');
    expect((await events(a.key, { action: 'user.create' })).total).toBe(before);
    expect((await events(a.key, { subjectId: other.uuid })).total).toBe(0);
  });

  it('is readable by partner admins only', async () => {
    const plain = await newUser(h, a.key, { externalUserId: 'audit-plain' });
    const asPlain = await events(await jwtFor(plain.uuid));
    expect(asPlain.list).toBeNull();
    expect(asPlain.code).toBe('FORBIDDEN');
    const child = await subAccount(h, a, 'Audit admin child');
    const admin = await accountAdmin(h, a, child, 'audit-acct-admin');
    expect((await events(admin.token)).code).toBe('FORBIDDEN');
    expect((await h.gql(EVENTS, {}, {})).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // A user made partner admin reads it.
    await run(h, a.key, 'grantEntitlements', { userId: plain.id, kinds: ['PARTNER_ADMIN'] });
    expect((await events(await jwtFor(plain.uuid))).total).toBeGreaterThan(0);
  });

  it("keeps partner A's events invisible to partner B", async () => {
    const user = await newUser(h, a.key, { externalUserId: 'audit-cross' });
    const mine = await events(a.key, { subjectId: user.uuid });
    expect(mine.total).toBe(1);
    expect((await events(b.key, { subjectId: user.uuid })).total).toBe(0);
    const bAll = await events(b.key, {}, 100);
    expect(bAll.list.every((e: any) => e.actorId === b.adminUserId || e.actorId === null)).toBe(true);
    expect(bAll.list.map((e: any) => e.subjectId)).not.toContain(user.uuid);
    // Not through node(id) either.
    const node = await h.gql('query ($id: ID!) { node(id: $id) { id } }', { id: mine.list[0].id }, { token: b.key });
    expect(node.data?.node ?? null).toBeNull();
    const own = await h.gql(
      'query ($id: ID!) { node(id: $id) { ... on AuditEvent { action } } }',
      { id: mine.list[0].id },
      { token: a.key },
    );
    expect(own.data.node).toEqual({ action: 'user.create' });
  });
});
