// Embed clients: upsert (create, replace metadata), concurrent upserts, delete with its
// cascade (users tombstoned, their courses gone), plan gating and tenancy.
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Partner } from './helpers/app.js';
import {
  accountAdmin,
  createCourse,
  createUser,
  enroll,
  jwtFor,
  newUser,
  rawUser,
  readUser,
  run,
  subAccount,
} from './helpers/lifecycle.js';

const h = useHarness();
let a: Partner;
let b: Partner;

const UPSERT =
  '... on UpsertClientSuccess { created client { id identifier metadata account { ulid } users { totalCount } } }';
const upsert = (token: string, input: Record<string, unknown>) => run(h, token, 'upsertClient', input, UPSERT);
const del = (token: string, identifier: string) =>
  run(h, token, 'deleteClient', { identifier }, '... on DeleteClientSuccess { deletedClientId }');
const readClient = async (token: string, identifier: string) => {
  const { data, errors } = await h.gql(
    'query ($i: String!) { client(identifier: $i) { id metadata users { totalCount } } }',
    { i: identifier },
    { token },
  );
  return { client: data?.client ?? null, code: errors?.[0]?.extensions?.code };
};

beforeAll(async () => {
  if (!h.ready) return;
  a = await h.newPartner('Clients A', 'AUTOMATE');
  b = await h.newPartner('Clients B', 'AUTOMATE');
});

describe('upsertClient', () => {
  it('creates, then replaces the whole metadata', async () => {
    const created = await upsert(a.key, { identifier: 'c-1', metadata: { theme: 'dark', lang: 'en' } });
    expect(created).toMatchObject({
      created: true,
      client: { identifier: 'c-1', metadata: { theme: 'dark', lang: 'en' }, account: { ulid: a.accountId } },
    });
    const replaced = await upsert(a.key, { identifier: 'c-1', metadata: { theme: 'light' } });
    expect(replaced).toMatchObject({ created: false, client: { id: created.client.id, metadata: { theme: 'light' } } });
    // Explicit, never implicit: without metadata nothing changes; {} empties it.
    expect((await upsert(a.key, { identifier: 'c-1' })).client.metadata).toEqual({ theme: 'light' });
    expect((await upsert(a.key, { identifier: 'c-1', metadata: null })).client.metadata).toEqual({ theme: 'light' });
    expect((await upsert(a.key, { identifier: 'c-1', metadata: {} })).client.metadata).toEqual({});
  });

  it('creates a client in a sub-account, and refuses a foreign account', async () => {
    const child = await subAccount(h, a, 'Client child');
    expect((await upsert(a.key, { identifier: 'c-child', accountId: child })).client.account.ulid).toBe(child);
    expect(await upsert(b.key, { identifier: 'c-foreign-acct', accountId: a.accountId })).toMatchObject({
      __typename: 'NotFoundError',
    });
    expect(await h.store.prisma.client.count({ where: { identifier: 'c-foreign-acct' } })).toBe(0);
  });

  it('validates identifier and metadata', async () => {
    for (const [input, field] of [
      [{ identifier: '' }, 'input.identifier'],
      [{ identifier: 'a/b' }, 'input.identifier'],
      [{ identifier: ' pad' }, 'input.identifier'],
      [{ identifier: 'big', metadata: { x: 'y'.repeat(70_000) } }, 'input.metadata'],
    ] as const) {
      const r = await upsert(a.key, input);
      expect(r.__typename, JSON.stringify(input).slice(0, 60)).toBe('ValidationError');
      expect(r.issues.map((i: any) => i.field)).toContain(field);
    }
  });

  it('lets an account admin manage the clients of its subtree only', async () => {
    const child = await subAccount(h, a, 'Client admin child');
    const admin = await accountAdmin(h, a, child, 'client-acct-admin');
    expect((await upsert(admin.token, { identifier: 'c-adm', accountId: child })).created).toBe(true);
    expect((await upsert(admin.token, { identifier: 'c-adm', metadata: { v: 2 } })).client.metadata).toEqual({ v: 2 });
    // A client of the partner root is not the account admin's to see or change: to it the
    // identifier is simply taken.
    await upsert(a.key, { identifier: 'c-root', metadata: { v: 1 } });
    expect((await upsert(admin.token, { identifier: 'c-root', metadata: { v: 'hacked' } })).__typename).toBe(
      'ConflictError',
    );
    expect((await readClient(a.key, 'c-root')).client.metadata).toEqual({ v: 1 });
    // An account outside its subtree is not found (not forbidden, which would confirm it).
    const sibling = await subAccount(h, a, 'Client admin sibling');
    expect(await upsert(admin.token, { identifier: 'c-sibling', accountId: sibling })).toMatchObject({
      __typename: 'NotFoundError',
    });
  });

  it(`refuses a plain user, even on a plan that allows clients, and a client it sees is forbidden, \
not taken`, async () => {
    await upsert(a.key, { identifier: 'c-mine', metadata: { v: 1 } });
    const plain = await newUser(h, a.key, { identifier: 'plain-client-user', clientIdentifier: 'c-mine' });
    const token = await jwtFor(plain.uuid);
    const asPlain = async (input: object) =>
      (
        await h.gql(
          'mutation ($input: UpsertClientInput!) { upsertClient(input: $input) { __typename ... on Error { code } } }',
          { input },
          { token },
        )
      ).data.upsertClient;
    expect(await asPlain({ identifier: 'c-mine', metadata: { v: 'hacked' } })).toEqual({
      __typename: 'ForbiddenError',
      code: 'FORBIDDEN',
    });
    expect(await asPlain({ identifier: 'c-new-by-plain' })).toEqual({
      __typename: 'ForbiddenError',
      code: 'FORBIDDEN',
    });
    // The embed dialect reaches the service itself: the client the user belongs to is
    // visible to it, so changing it is forbidden (403), not a taken identifier (409).
    const put = await h.request('/rest/embed/v1/headless/client/c-mine', {
      method: 'PUT',
      token,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ metadata: { v: 'hacked' } }),
    });
    expect(put.status).toBe(403);
    expect((await readClient(a.key, 'c-mine')).client.metadata).toEqual({ v: 1 });
    expect(await h.store.prisma.client.count({ where: { identifier: 'c-new-by-plain' } })).toBe(0);
  });

  it('converges when many upserts of one identifier race', async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => upsert(a.key, { identifier: 'c-race', metadata: { i } })),
    );
    expect(results.map((r) => r.__typename)).toEqual(Array(12).fill('UpsertClientSuccess'));
    expect(new Set(results.map((r) => r.client.id)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await h.store.prisma.client.count({ where: { partnerId: a.accountId, identifier: 'c-race' } })).toBe(1);
  });

  it("keeps identifiers per partner: B's upsert never touches A's client", async () => {
    await upsert(a.key, { identifier: 'c-shared', metadata: { owner: 'A' } });
    const fromB = await upsert(b.key, { identifier: 'c-shared', metadata: { owner: 'B' } });
    expect(fromB).toMatchObject({
      created: true,
      client: { metadata: { owner: 'B' }, account: { ulid: b.accountId } },
    });
    expect((await readClient(a.key, 'c-shared')).client.metadata).toEqual({ owner: 'A' });
  });
});

describe('deleteClient', () => {
  it('removes the client, tombstones its users and deletes their courses', async () => {
    await upsert(a.key, { identifier: 'c-del' });
    const u1 = await newUser(h, a.key, { identifier: 'c-del-u1', clientIdentifier: 'c-del', metadata: { x: 1 } });
    const u2 = await newUser(h, a.key, {
      identifier: 'c-del-u2',
      clientIdentifier: 'c-del',
      externalUserId: 'c-del-ext',
    });
    const outsider = await newUser(h, a.key, { externalUserId: 'c-del-outsider' });
    const course = await createCourse(h, a.key, u1.id, 'Embed course');
    const kept = await createCourse(h, a.key, outsider.id, 'Outsider course');
    await enroll(h, a.key, outsider.id, course);
    await enroll(h, a.key, u2.id, kept);
    expect((await readClient(a.key, 'c-del')).client.users.totalCount).toBe(2);

    const r = await del(a.key, 'c-del');
    expect(r.__typename).toBe('DeleteClientSuccess');
    expect((await readClient(a.key, 'c-del')).code).toBe('NOT_FOUND');
    for (const user of [u1, u2]) {
      expect((await readUser(h, a.key, user.id)).code).toBe('NOT_FOUND');
      expect(await rawUser(h, user.uuid)).toMatchObject({ status: 'DELETED', metadata: null, clientId: null });
    }
    // Their courses are gone (and enrollments in them); the outsider keeps its own.
    expect((await rawUser(h, u1.uuid))!.courses).toHaveLength(0);
    const outsiderRow = await rawUser(h, outsider.uuid);
    expect(outsiderRow!.courses.map((c) => c.title)).toEqual(['Outsider course']);
    expect(outsiderRow!.enrollments).toHaveLength(0);
    // The users' keys stay burned, even under a new client of the same name.
    await upsert(a.key, { identifier: 'c-del' });
    expect((await createUser(h, a.key, { identifier: 'c-del-u1', clientIdentifier: 'c-del' })).__typename).toBe(
      'ConflictError',
    );
    expect((await createUser(h, a.key, { externalUserId: 'c-del-ext' })).__typename).toBe('ConflictError');
    const events = await h.store.prisma.auditEvent.findMany({
      where: {
        partnerId: a.accountId,
        action: { in: ['client.delete', 'user.delete'] },
        createdAt: { gte: new Date(Date.now() - 60_000) },
      },
    });
    expect(events.filter((e) => e.action === 'client.delete')).toHaveLength(1);
  });

  it('answers NOT_FOUND for unknown and foreign clients, and leaves them alone', async () => {
    await upsert(a.key, { identifier: 'c-keep' });
    const user = await newUser(h, a.key, { identifier: 'c-keep-u', clientIdentifier: 'c-keep' });
    expect(await del(a.key, 'c-unknown')).toMatchObject({ __typename: 'NotFoundError' });
    expect(await del(b.key, 'c-keep')).toMatchObject({ __typename: 'NotFoundError' });
    expect((await readClient(b.key, 'c-keep')).code).toBe('NOT_FOUND');
    expect((await readClient(a.key, 'c-keep')).client.users.totalCount).toBe(1);
    expect((await rawUser(h, user.uuid))!.status).toBe('ACTIVE');
  });

  it('needs the Automate plan', async () => {
    const core = await h.newPartner('Clients Core', 'CORE');
    expect((await upsert(core.key, { identifier: 'core-client' })).created).toBe(true);
    const user = await newUser(h, core.key, { identifier: 'core-client-u', clientIdentifier: 'core-client' });
    expect(await del(core.key, 'core-client')).toMatchObject({ __typename: 'ForbiddenError', code: 'FORBIDDEN' });
    expect((await readClient(core.key, 'core-client')).client.users.totalCount).toBe(1);
    expect((await rawUser(h, user.uuid))!.status).toBe('ACTIVE');
    const enterprise = await h.newPartner('Clients Enterprise', 'ENTERPRISE');
    await upsert(enterprise.key, { identifier: 'ent-client' });
    expect((await del(enterprise.key, 'ent-client')).__typename).toBe('DeleteClientSuccess');
  });
});
