// Identities with provenance (SPEC §10.2): the IdentitySink the sync runner calls, fed with
// SourceRecords shaped like the dialects' wire records. Upserts are idempotent and count
// `updated` only on real change; the projection keeps the unified columns; GONE and DETACHED.
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { useHarness } from './helpers/app.js';
import { catalog, embedClient, embedUser, learning, makeBackend, messaging, runId, ulid } from './helpers/records.js';
import { identitySink } from '../src/modules/identities/service.js';
import { openStore } from '../src/store/database.js';
import { readMigrations } from '../src/store/migrate.js';
import { createTestDatabase, storeKind } from './helpers/store.js';
import { accountAdmin, jwtFor, newUser, run, subAccount } from './helpers/lifecycle.js';

const h = useHarness({ SECRETS_KEY: crypto.randomBytes(32).toString('base64') });
const sink = () => identitySink(h.store.prisma);

describe('upsertPage', () => {
  it('stores each record once, is idempotent, and counts updated only when the data changed', async () => {
    const p = await h.newPartner();
    const backend = await makeBackend(h.store.prisma, p.accountId, 'CATALOG');
    const page = [catalog(1, 'one@example.com'), catalog(2, 'two@example.com'), catalog(2, 'two@example.com')];
    expect(await sink().upsertPage(backend, page, runId())).toEqual({ created: 2, updated: 0 });
    expect(await sink().upsertPage(backend, page, runId())).toEqual({ created: 0, updated: 0 });
    // The same data with its keys in another order is no change.
    const reordered = catalog(1, 'one@example.com');
    reordered.data = Object.fromEntries(Object.entries(reordered.data).reverse());
    expect(await sink().upsertPage(backend, [reordered], runId())).toEqual({ created: 0, updated: 0 });
    expect(
      await sink().upsertPage(backend, [catalog(1, 'one@example.com', { first_name: 'Changed' })], runId()),
    ).toEqual({ created: 0, updated: 1 });
    const rows = await h.store.prisma.identity.findMany({
      where: { backendId: backend.id },
      orderBy: { nativeId: 'asc' },
    });
    expect(rows.map((r) => [r.nativeId, r.kind, r.entity, r.status, r.email])).toEqual([
      ['1', 'CATALOG', 'USER', 'PENDING', 'one@example.com'],
      ['2', 'CATALOG', 'USER', 'PENDING', 'two@example.com'],
    ]);
    expect((rows[0]!.data as { first_name: string }).first_name).toBe('Changed');
    expect(rows[0]!.sourceUpdatedAt?.toISOString()).toBe('2026-01-02T00:00:00.000Z');
  });

  it('stores e-mails lower-case for linking, and an empty page changes nothing', async () => {
    const p = await h.newPartner();
    const backend = await makeBackend(h.store.prisma, p.accountId, 'CATALOG');
    expect(await sink().upsertPage(backend, [], runId())).toEqual({ created: 0, updated: 0 });
    await sink().upsertPage(backend, [catalog(7, 'Mixed.Case@Example.COM')], runId());
    const row = await h.store.prisma.identity.findFirstOrThrow({ where: { backendId: backend.id } });
    expect(row.email).toBe('mixed.case@example.com');
    expect((row.data as { email_address: string }).email_address).toBe('Mixed.Case@Example.COM');
  });

  it('changed data of a linked identity reaches its user in the same call', async () => {
    const p = await h.newPartner();
    const backend = await makeBackend(h.store.prisma, p.accountId, 'CATALOG');
    await sink().upsertPage(backend, [catalog(10, 'ten@example.com')], runId());
    expect(await sink().linkPending(backend)).toEqual({ linked: 0, newUsers: 1, conflicts: 0 });
    const identity = await h.store.prisma.identity.findFirstOrThrow({ where: { backendId: backend.id } });
    let user = await h.store.prisma.user.findUniqueOrThrow({ where: { id: identity.userId! } });
    expect(user).toMatchObject({
      inCatalog: true,
      email: 'ten@example.com',
      lastName: 'Last10',
      timeZone: 'Europe/Berlin',
      partnerId: p.accountId,
      accountId: p.accountId,
    });
    await sink().upsertPage(backend, [catalog(10, 'Ten.New@example.com', { last_name: 'Renamed' })], runId());
    user = await h.store.prisma.user.findUniqueOrThrow({ where: { id: identity.userId! } });
    expect(user).toMatchObject({ email: 'ten.new@example.com', lastName: 'Renamed' });
    // And the graph reads it, as before: one person, its columns.
    const { data } = await h.gql(
      `query ($id: ID!) { node(id: $id) { ... on User { email lastName registeredInCatalog } } }`,
      { id: Buffer.from(`User:${user.id}`).toString('base64') },
      { token: p.key },
    );
    expect(data.node).toEqual({ email: 'ten.new@example.com', lastName: 'Renamed', registeredInCatalog: true });
  });
});

describe('GONE', () => {
  it('markUnseenGone marks what a full pass did not see; the user stays with its other identities', async () => {
    const p = await h.newPartner();
    const cat = await makeBackend(h.store.prisma, p.accountId, 'CATALOG');
    const emb = await makeBackend(h.store.prisma, p.accountId, 'EMBED');
    await sink().upsertPage(emb, [embedUser('e-1', { email: 'one@example.com' })], runId());
    const first = runId();
    await sink().upsertPage(cat, [catalog(1, 'one@example.com'), catalog(2, 'two@example.com')], first);
    await sink().linkPending(cat);
    const full = runId();
    await sink().upsertPage(cat, [catalog(2, 'two@example.com')], full);
    expect(await sink().markUnseenGone(cat, 'catalog.users', full)).toBe(1);
    expect(await sink().markUnseenGone(cat, 'catalog.users', full)).toBe(0);
    const gone = await h.store.prisma.identity.findFirstOrThrow({ where: { backendId: cat.id, nativeId: '1' } });
    expect(gone.status).toBe('GONE');
    const user = await h.store.prisma.user.findUniqueOrThrow({
      where: { id: gone.userId! },
      include: { identities: true },
    });
    expect(user.status).toBe('ACTIVE');
    expect(user.identities.map((i) => [i.kind, i.status]).sort()).toEqual([
      ['CATALOG', 'GONE'],
      ['EMBED', 'LINKED'],
    ]);
    // Another stream's identities are not touched by this stream's pass.
    expect((await h.store.prisma.identity.findFirstOrThrow({ where: { backendId: emb.id } })).status).toBe('LINKED');
    // Seen again: back on its user.
    await sink().upsertPage(cat, [catalog(1, 'one@example.com')], runId());
    expect(await h.store.prisma.identity.findUniqueOrThrow({ where: { id: gone.id } })).toMatchObject({
      status: 'LINKED',
      userId: gone.userId,
    });
  });

  it('markGone marks one identity the backend answered 404 for', async () => {
    const p = await h.newPartner();
    const backend = await makeBackend(h.store.prisma, p.accountId, 'LEARNING');
    const id = crypto.randomUUID();
    await sink().upsertPage(backend, [learning(id, 'ext-404')], runId());
    await sink().linkPending(backend);
    expect(await sink().markGone(backend, 'learning.accounts', id)).toBe(true);
    expect(await sink().markGone(backend, 'learning.accounts', id)).toBe(false);
    expect(await sink().markGone(backend, 'learning.accounts', 'unknown')).toBe(false);
    const row = await h.store.prisma.identity.findFirstOrThrow({ where: { backendId: backend.id } });
    expect(row.status).toBe('GONE');
    expect(await h.store.prisma.user.findUniqueOrThrow({ where: { id: row.userId! } })).toMatchObject({
      status: 'ACTIVE',
      externalUserId: 'ext-404',
    });
  });
});

describe('knownNativeIds', () => {
  it('pages through the known identities of a stream, GONE ones left out', async () => {
    const p = await h.newPartner();
    const backend = await makeBackend(h.store.prisma, p.accountId, 'LEARNING');
    const ids = Array.from({ length: 1203 }, () => crypto.randomUUID());
    for (let i = 0; i < ids.length; i += 400)
      await sink().upsertPage(
        backend,
        ids.slice(i, i + 400).map((id, j) => learning(id, `k-${i + j}`)),
        runId(),
      );
    await sink().markGone(backend, 'learning.accounts', ids[5]!);
    const pages: string[][] = [];
    for await (const page of sink().knownNativeIds(backend, 'learning.accounts')) pages.push(page);
    expect(pages.map((p) => p.length)).toEqual([500, 500, 202]);
    expect(new Set(pages.flat())).toEqual(new Set(ids.filter((_, i) => i !== 5)));
  });
});

describe('accounts and clients', () => {
  it("messaging accounts become the backend's tree, parents before children whatever order they came in", async () => {
    const p = await h.newPartner();
    const backend = await makeBackend(h.store.prisma, p.accountId, 'MESSAGING');
    // Children first, grandchild before its parent, across two pages.
    await sink().upsertPage(
      backend,
      [messaging(ulid(3), 'Grandchild', 103, ulid(2)), messaging(ulid(4), 'No parent field', 104)],
      runId(),
    );
    await sink().upsertPage(
      backend,
      [messaging(ulid(2), 'Child', 102, ulid(1)), messaging(ulid(1), 'Backend root', 101, null)],
      runId(),
    );
    await sink().linkPending(backend);
    const rows = await h.store.prisma.identity.findMany({
      where: { backendId: backend.id },
      include: { account: true },
      orderBy: { nativeId: 'asc' },
    });
    expect(rows.every((r) => r.status === 'LINKED')).toBe(true);
    const [root, child, grandchild, loose] = rows.map((r) => r.account!);
    // The backend's root is the partner itself; its flags come from the record.
    expect(root!.id).toBe(p.accountId);
    expect(root!).toMatchObject({ name: 'Backend root', legacyAccess: true, smsAccess: 'DOMESTIC' });
    expect(child!).toMatchObject({
      name: 'Child',
      parentId: p.accountId,
      partnerId: p.accountId,
      ancestorIds: [p.accountId],
    });
    expect(grandchild!).toMatchObject({
      name: 'Grandchild',
      parentId: child!.id,
      ancestorIds: [p.accountId, child!.id],
    });
    expect(loose!).toMatchObject({ name: 'No parent field', parentId: p.accountId });
    // A catalog user registered in a messaging customer_id lands in that account.
    const cat = await makeBackend(h.store.prisma, p.accountId, 'CATALOG');
    await sink().upsertPage(
      cat,
      [
        catalog(1, 'in-child@example.com', { registered_account_id: 102 }),
        catalog(2, 'nowhere@example.com', { registered_account_id: 999 }),
      ],
      runId(),
    );
    await sink().linkPending(cat);
    const users = await h.store.prisma.user.findMany({
      where: { partnerId: p.accountId, email: { in: ['in-child@example.com', 'nowhere@example.com'] } },
      orderBy: { email: 'asc' },
    });
    expect(users.map((u) => u.accountId)).toEqual([child!.id, p.accountId]);
    // Renamed upstream: the account follows.
    await sink().upsertPage(backend, [messaging(ulid(2), 'Child renamed', 102, ulid(1))], runId());
    expect((await h.store.prisma.account.findUniqueOrThrow({ where: { id: child!.id } })).name).toBe('Child renamed');
  });

  it(`embed clients become Clients (a hosted one of the same identifier is linked), \
and their users are attached`, async () => {
    const p = await h.newPartner();
    const hosted = await h.store.prisma.client.create({
      data: { partnerId: p.accountId, accountId: p.accountId, identifier: 'hosted-client', metadata: {} },
    });
    const backend = await makeBackend(h.store.prisma, p.accountId, 'EMBED');
    await sink().upsertPage(
      backend,
      [
        embedUser('u-1', { name: 'Una' }, 'new-client'),
        embedClient('new-client', { tier: 'gold' }),
        embedClient('hosted-client', { tier: 'silver' }),
      ],
      runId(),
    );
    expect(await sink().linkPending(backend)).toEqual({ linked: 1, newUsers: 1, conflicts: 0 });
    const clients = await h.store.prisma.client.findMany({
      where: { partnerId: p.accountId },
      orderBy: { identifier: 'asc' },
    });
    expect(clients.map((c) => [c.identifier, c.metadata])).toEqual([
      ['hosted-client', { tier: 'silver' }],
      ['new-client', { tier: 'gold' }],
    ]);
    expect(clients[0]!.id).toBe(hosted.id);
    const user = await h.store.prisma.user.findFirstOrThrow({ where: { partnerId: p.accountId, identifier: 'u-1' } });
    expect(user).toMatchObject({ clientId: clients[1]!.id, metadata: { name: 'Una' } });
  });
});

describe('the projection', () => {
  it(`a unique value another user holds is not written: the column stays, \
and a PROJECTION conflict names the holder`, async () => {
    const p = await h.newPartner();
    const holder = await h.gql(
      `mutation { createUser(input: { email: "taken@example.com" }) { ... on CreateUserSuccess { user { uuid } } } }`,
      {},
      { token: p.key },
    );
    const holderId = holder.data.createUser.user.uuid;
    // KEY only: the catalog record's e-mail does not link it to the holder, so it is a new user...
    const backend = await makeBackend(h.store.prisma, p.accountId, 'CATALOG', ['KEY']);
    await sink().upsertPage(backend, [catalog(5, 'TAKEN@example.com'), catalog(6, 'free@example.com')], runId());
    expect(await sink().linkPending(backend)).toEqual({ linked: 0, newUsers: 2, conflicts: 1 });
    const identity = await h.store.prisma.identity.findFirstOrThrow({
      where: { backendId: backend.id, nativeId: '5' },
      include: { user: true, conflicts: true },
    });
    // ...without the e-mail, which stays the holder's.
    expect(identity.user).toMatchObject({ email: null, inCatalog: true, lastName: 'Last5' });
    expect(identity.conflicts.map((c) => [c.reason, c.status, c.candidateIds])).toEqual([
      ['PROJECTION', 'OPEN', [holderId]],
    ]);
    expect((await h.store.prisma.user.findUniqueOrThrow({ where: { id: holderId } })).email).toBe('taken@example.com');

    // An update that moves a linked identity's e-mail onto another user's: the column keeps the old one.
    const other = await h.store.prisma.identity.findFirstOrThrow({ where: { backendId: backend.id, nativeId: '6' } });
    await sink().upsertPage(backend, [catalog(6, 'taken@example.com', { first_name: 'Still projected' })], runId());
    expect(await h.store.prisma.user.findUniqueOrThrow({ where: { id: other.userId! } })).toMatchObject({
      email: 'free@example.com',
      firstName: 'Still projected',
    });
    expect(
      await h.store.prisma.linkConflict.count({
        where: { identityId: other.id, reason: 'PROJECTION', status: 'OPEN' },
      }),
    ).toBe(1);
    // Said again, not recorded twice.
    await sink().upsertPage(backend, [catalog(6, 'taken@example.com', { first_name: 'Again' })], runId());
    expect(await h.store.prisma.linkConflict.count({ where: { identityId: other.id } })).toBe(1);
  });

  it("a canvas_user_uuid another partner's user holds is not written (and not named)", async () => {
    const p = await h.newPartner();
    const q = await h.newPartner();
    const theirs = await makeBackend(h.store.prisma, q.accountId, 'CATALOG');
    const mine = await makeBackend(h.store.prisma, p.accountId, 'CATALOG');
    const record = catalog(1, 'same@example.com');
    await sink().upsertPage(theirs, [record], runId());
    await sink().linkPending(theirs);
    await sink().upsertPage(mine, [record], runId());
    await sink().linkPending(mine);
    const [a, b] = await Promise.all(
      [theirs, mine].map((backend) =>
        h.store.prisma.identity.findFirstOrThrow({
          where: { backendId: backend.id },
          include: { user: true, conflicts: true },
        }),
      ),
    );
    expect(a!.user!.canvasUserUuid).toBe((record.data as { canvas_user_uuid: string }).canvas_user_uuid);
    expect(b!.user!.canvasUserUuid).not.toBe(a!.user!.canvasUserUuid);
    expect(b!.user!.canvasUserUuid).toMatch(/^[A-Za-z0-9]{40}$/);
    expect(b!.conflicts.map((c) => c.candidateIds)).toEqual([[]]);
  });
});

describe('disconnectBackend', () => {
  it('leaves the identities it brought on their users, DETACHED, still naming their backend and kind', async () => {
    const p = await h.newPartner();
    const backend = await makeBackend(h.store.prisma, p.accountId, 'LEARNING');
    const id = crypto.randomUUID();
    await sink().upsertPage(backend, [learning(id, 'ext-detach')], runId());
    await sink().linkPending(backend);
    const { data } = await h.gql(
      `mutation ($id: ID!) { disconnectBackend(input: { id: $id }) { __typename } }`,
      { id: Buffer.from(`Backend:${backend.id}`).toString('base64') },
      { token: p.key },
    );
    expect(data.disconnectBackend.__typename).toBe('DisconnectBackendSuccess');
    // Out of `backends`, still named by node(id): PAUSED, with disconnectedAt.
    const backendId = Buffer.from(`Backend:${backend.id}`).toString('base64');
    const read = await h.gql(
      `query ($id: ID!) { backends { id } node(id: $id) { ... on Backend { kind status disconnectedAt } } }`,
      { id: backendId },
      { token: p.key },
    );
    expect(read.data.backends).toEqual([]);
    expect(read.data.node).toMatchObject({ kind: 'LEARNING', status: 'PAUSED' });
    expect(Date.parse(read.data.node.disconnectedAt)).toBeGreaterThan(Date.now() - 60_000);
    // The kind can be connected again.
    expect((await makeBackend(h.store.prisma, p.accountId, 'LEARNING')).id).not.toBe(backend.id);
    const row = await h.store.prisma.identity.findFirstOrThrow({
      where: { nativeId: id },
      include: { backend: true, user: true },
    });
    expect(row).toMatchObject({ status: 'DETACHED', kind: 'LEARNING', backendId: backend.id });
    expect(row.backend).toMatchObject({ kind: 'LEARNING', activeKind: null, credential: '' });
    expect(row.backend.disconnectedAt).toBeInstanceOf(Date);
    expect(row.user).toMatchObject({ status: 'ACTIVE', externalUserId: 'ext-detach' });
    // Nothing syncs it any more: a late page leaves it as it is.
    await sink().upsertPage(backend, [learning(id, 'ext-detach-changed')], runId());
    expect((await h.store.prisma.identity.findUniqueOrThrow({ where: { id: row.id } })).status).toBe('DETACHED');
  });
});

describe('the identities migration', () => {
  it(`upgrades a store of the previous release in place: its backends stay connected, \
its users and their reads unchanged`, async () => {
    const database = storeKind === 'postgres' ? await createTestDatabase() : null;
    const store = await openStore({
      ...(database ? { databaseUrl: database.url } : { dataDir: 'memory://' }),
      poolSize: 2,
      migrate: false,
    });
    try {
      const migrations = await readMigrations();
      const at = migrations.findIndex((m) => m.name.endsWith('_identities'));
      expect(at).toBeGreaterThan(0);
      for (const m of migrations.slice(0, at)) await store.pool.query(m.sql);
      // A partner with a user and a connected backend, as the previous release stored them.
      await store.pool.query(
        'INSERT INTO "Account" (id, "partnerId", "ancestorIds", name, "canvasUuid", "allowedIps", "updatedAt") ' +
          "VALUES ('P', 'P', '{}', 'P', 'P', '{}', now())",
      );
      await store.pool.query(
        'INSERT INTO "User" (id, "partnerId", "accountId", "externalUserId", email, "inCatalog", "updatedAt") ' +
          "VALUES ('00000000-0000-7000-8000-000000000001', 'P', 'P', 'old-key', 'old@example.com', true, now())",
      );
      await store.pool.query(
        'INSERT INTO "Backend" (id, "partnerId", kind, "baseUrl", credential, "updatedAt") VALUES ' +
          "('00000000-0000-7000-8000-0000000000b1', 'P', 'CATALOG', 'https://c.example.com', 'v1:x', now())",
      );
      for (const m of migrations.slice(at)) await store.pool.query(m.sql);
      expect(
        await store.prisma.backend.findMany({ select: { kind: true, activeKind: true, disconnectedAt: true } }),
      ).toEqual([{ kind: 'CATALOG', activeKind: 'CATALOG', disconnectedAt: null }]);
      expect(
        await store.prisma.user.findMany({ select: { externalUserId: true, email: true, inCatalog: true } }),
      ).toEqual([{ externalUserId: 'old-key', email: 'old@example.com', inCatalog: true }]);
      // Still one connected backend per kind; the store takes identities.
      await expect(
        store.pool.query(
          'INSERT INTO "Backend" (id, "partnerId", kind, "activeKind", "baseUrl", credential, "updatedAt") ' +
            "VALUES ('00000000-0000-7000-8000-0000000000b2', " +
            "'P', 'CATALOG', 'CATALOG', 'https://d.example.com', 'v1:y', now())",
        ),
      ).rejects.toThrow();
      const backend = {
        id: '00000000-0000-7000-8000-0000000000b1',
        partnerId: 'P',
        kind: 'CATALOG' as const,
        linkBy: ['KEY', 'EMAIL'] as const,
      };
      await identitySink(store.prisma).upsertPage(backend, [catalog(1, 'OLD@example.com')], runId());
      expect(await identitySink(store.prisma).linkPending(backend)).toEqual({ linked: 1, newUsers: 0, conflicts: 0 });
      expect((await store.prisma.identity.findFirstOrThrow({})).userId).toBe('00000000-0000-7000-8000-000000000001');
    } finally {
      await store.close();
      await database?.drop();
    }
    // A second embedded store, opened and migrated by hand: slow on a loaded machine.
  }, 90_000);
});

describe('in the graph', () => {
  const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64');
  const IDENTITY = 'kind nativeId key status syncedAt sourceUpdatedAt data backend { id kind }';

  it(`User.identities: hosted ones from the record (backend null), connected ones with their provenance; \
Account.identities`, async () => {
    const p = await h.newPartner();
    const hosted = await newUser(h, p.key, { externalUserId: 'g-ext', email: 'g@example.com', identifier: 'g-emb' });
    const backend = await makeBackend(h.store.prisma, p.accountId, 'CATALOG');
    await sink().upsertPage(backend, [catalog(77, 'connected@example.com')], runId());
    await sink().linkPending(backend);
    const connected = await h.store.prisma.identity.findFirstOrThrow({ where: { backendId: backend.id } });
    const read = await h.gql(
      'query ($a: ID!, $b: ID!, $acc: ID!) { a: node(id: $a) { ... on User { identities ' +
        `{ ${IDENTITY} } } } b: node(id: $b) { ... on User { identities { ${IDENTITY} } } } ` +
        'acc: node(id: $acc) { ... on Account { identities { kind nativeId backend { id } } } } }',
      { a: hosted.id, b: gid('User', connected.userId!), acc: p.accountGlobalId },
      { token: p.key },
    );
    expect(read.errors).toBeUndefined();
    expect(read.data.a.identities.map((i: any) => [i.kind, i.key, i.status, i.backend])).toEqual([
      ['LEARNING', 'g-ext', 'LINKED', null],
      ['CATALOG', 'g@example.com', 'LINKED', null],
      ['EMBED', 'g-emb', 'LINKED', null],
    ]);
    expect(read.data.a.identities[0].nativeId).toBe(hosted.uuid);
    expect(read.data.b.identities).toEqual([
      {
        kind: 'CATALOG',
        nativeId: '77',
        key: 'connected@example.com',
        status: 'LINKED',
        syncedAt: connected.syncedAt.toISOString(),
        sourceUpdatedAt: '2026-01-02T00:00:00.000Z',
        data: expect.objectContaining({ id: 77, email_address: 'connected@example.com' }),
        backend: { id: gid('Backend', backend.id), kind: 'CATALOG' },
      },
    ]);
    expect(read.data.acc.identities).toEqual([{ kind: 'MESSAGING', nativeId: p.accountId, backend: null }]);
    // The user itself sees its identities, but not the backend (partner admins only).
    const own = await h.gql(
      `{ viewer { user { identities { kind backend { id } } } } }`,
      {},
      { token: await jwtFor(connected.userId!) },
    );
    expect(own.data.viewer.user.identities).toEqual([{ kind: 'CATALOG', backend: null }]);
  });

  it("100 users' identities cost the statements 10 users' do", async () => {
    const p = await h.newPartner();
    const backend = await makeBackend(h.store.prisma, p.accountId, 'CATALOG');
    await sink().upsertPage(
      backend,
      Array.from({ length: 100 }, (_, i) => catalog(1000 + i, `bulk-${i}@example.com`)),
      runId(),
    );
    await sink().linkPending(backend);
    const query = (n: number) => () =>
      h.gql(
        `{ users(first: ${n}) { edges { node { uuid identities ` +
          '{ kind nativeId data backend { kind syncRuns(first: 1) { totalCount } } } } } } }',
        {},
        { token: p.key },
      );
    // Each count right after a warm-up (the principal cache and the plans).
    await query(10)();
    const ten = await h.countStatements(query(10));
    await query(100)();
    const hundred = await h.countStatements(query(100));
    expect(hundred).toBe(ten);
    const r = await query(100)();
    expect(r.data.users.edges.filter((e: any) => e.node.identities[0]?.backend?.kind === 'CATALOG')).toHaveLength(99);
  });

  it(`linkIdentity moves an identity (the user left with none is MERGED into the receiver) and resolves its conflicts; \
unlinkIdentity detaches it into a new user`, async () => {
    const p = await h.newPartner();
    const receiver = await newUser(h, p.key, { externalUserId: 'receiver-key' });
    const backend = await makeBackend(h.store.prisma, p.accountId, 'CATALOG');
    await sink().upsertPage(backend, [catalog(1, 'moving@example.com')], runId());
    await sink().linkPending(backend);
    const identity = await h.store.prisma.identity.findFirstOrThrow({ where: { backendId: backend.id } });
    const holder = identity.userId!;
    await h.store.prisma.linkConflict.create({
      data: { partnerId: p.accountId, identityId: identity.id, candidateIds: [receiver.uuid], reason: 'MATCH' },
    });
    const linked = await run(
      h,
      p.key,
      'linkIdentity',
      { userId: receiver.id, backendId: gid('Backend', backend.id), nativeId: '1' },
      '... on LinkIdentitySuccess { user { uuid email identities { kind backend { kind } } } }',
    );
    expect(linked.__typename).toBe('LinkIdentitySuccess');
    expect(linked.user).toEqual({
      uuid: receiver.uuid,
      email: 'moving@example.com',
      identities: [
        { kind: 'LEARNING', backend: null },
        { kind: 'CATALOG', backend: { kind: 'CATALOG' } },
      ],
    });
    expect(await h.store.prisma.user.findUniqueOrThrow({ where: { id: holder } })).toMatchObject({
      status: 'MERGED',
      mergedIntoId: receiver.uuid,
      email: null,
      inCatalog: false,
    });
    expect((await h.store.prisma.linkConflict.findFirstOrThrow({ where: { identityId: identity.id } })).status).toBe(
      'RESOLVED',
    );
    // Again: nothing to move. A receiver with a catalog identity of its own cannot take a second.
    expect(
      (
        await run(h, p.key, 'linkIdentity', {
          userId: receiver.id,
          backendId: gid('Backend', backend.id),
          nativeId: '1',
        })
      ).__typename,
    ).toBe('LinkIdentitySuccess');
    await sink().upsertPage(backend, [catalog(2, 'second@example.com')], runId());
    await sink().linkPending(backend);
    const second = await run(h, p.key, 'linkIdentity', {
      userId: receiver.id,
      backendId: gid('Backend', backend.id),
      nativeId: '2',
    });
    expect(second).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT' });
    // Unknown native id or backend: NOT_FOUND.
    expect(
      (
        await run(h, p.key, 'linkIdentity', {
          userId: receiver.id,
          backendId: gid('Backend', backend.id),
          nativeId: 'nope',
        })
      ).__typename,
    ).toBe('NotFoundError');
    expect(
      (await run(h, p.key, 'linkIdentity', { userId: receiver.id, backendId: crypto.randomUUID(), nativeId: '1' }))
        .__typename,
    ).toBe('NotFoundError');

    const unlinked = await run(
      h,
      p.key,
      'unlinkIdentity',
      { userId: receiver.id, backendId: gid('Backend', backend.id) },
      '... on UnlinkIdentitySuccess { user { uuid email externalUserId } ' +
        'detachedUser { uuid email account { ulid } identities { kind nativeId } } }',
    );
    expect(unlinked.user).toEqual({ uuid: receiver.uuid, email: null, externalUserId: 'receiver-key' });
    expect(unlinked.detachedUser).toMatchObject({
      email: 'moving@example.com',
      account: { ulid: p.accountId },
      identities: [{ kind: 'CATALOG', nativeId: '1' }],
    });
    // Its only identity cannot be unlinked.
    const only = await run(h, p.key, 'unlinkIdentity', {
      userId: gid('User', unlinked.detachedUser.uuid),
      backendId: gid('Backend', backend.id),
    });
    expect(only).toMatchObject({ __typename: 'ConflictError' });
    expect(
      (await run(h, p.key, 'unlinkIdentity', { userId: receiver.id, backendId: gid('Backend', backend.id) }))
        .__typename,
    ).toBe('NotFoundError');
  });

  it('mergeUsers moves identities across backends and resolves the conflicts among the two', async () => {
    const p = await h.newPartner();
    const lrn = await makeBackend(h.store.prisma, p.accountId, 'LEARNING');
    const cat = await makeBackend(h.store.prisma, p.accountId, 'CATALOG');
    await sink().upsertPage(lrn, [learning(crypto.randomUUID(), 'merge-key')], runId());
    await sink().upsertPage(cat, [catalog(1, 'merge@example.com')], runId());
    await sink().linkPending(lrn);
    const [l, c] = await Promise.all(
      [lrn, cat].map((b) => h.store.prisma.identity.findFirstOrThrow({ where: { backendId: b.id } })),
    );
    expect(l!.userId).not.toBe(c!.userId);
    await h.store.prisma.linkConflict.create({
      data: { partnerId: p.accountId, identityId: c!.id, candidateIds: [l!.userId!], reason: 'MATCH' },
    });
    const merged = await run(
      h,
      p.key,
      'mergeUsers',
      { sourceId: gid('User', c!.userId!), targetId: gid('User', l!.userId!) },
      '... on MergeUsersSuccess { target { identities { kind backend { kind } } } }',
    );
    expect(merged.target.identities).toEqual([
      { kind: 'LEARNING', backend: { kind: 'LEARNING' } },
      { kind: 'CATALOG', backend: { kind: 'CATALOG' } },
    ]);
    expect((await h.store.prisma.identity.findUniqueOrThrow({ where: { id: c!.id } })).userId).toBe(l!.userId);
    expect((await h.store.prisma.linkConflict.findFirstOrThrow({ where: { identityId: c!.id } })).status).toBe(
      'RESOLVED',
    );
  });

  it('linkConflicts and dismissLinkConflict, for partner admins only', async () => {
    const p = await h.newPartner();
    // The hosted holder first: once the catalog is connected, a catalog user is created there (SPEC §10.4).
    await newUser(h, p.key, { email: 'held@example.com' });
    const backend = await makeBackend(h.store.prisma, p.accountId, 'CATALOG', ['KEY']);
    await sink().upsertPage(backend, [catalog(1, 'held@example.com')], runId());
    await sink().linkPending(backend);
    const list = await h.gql(
      '{ linkConflicts(first: 10, status: OPEN) { totalCount edges { node { id reason status identity ' +
        '{ nativeId } candidates { email } identityUser { registeredInCatalog } } } } }',
      {},
      { token: p.key },
    );
    expect(list.errors).toBeUndefined();
    expect(list.data.linkConflicts.totalCount).toBe(1);
    const conflict = list.data.linkConflicts.edges[0].node;
    expect(conflict).toMatchObject({
      reason: 'PROJECTION',
      status: 'OPEN',
      identity: { nativeId: '1' },
      candidates: [{ email: 'held@example.com' }],
      identityUser: { registeredInCatalog: true },
    });
    // Rights: an account admin and a plain user are refused.
    const region = await subAccount(h, p, 'Region');
    const admin = await accountAdmin(h, p, region, 'region-admin');
    expect(
      (await h.gql(`{ linkConflicts { totalCount } }`, {}, { token: admin.token })).errors?.[0]?.extensions?.code,
    ).toBe('FORBIDDEN');
    expect((await run(h, admin.token, 'dismissLinkConflict', { id: conflict.id })).__typename).toBe('ForbiddenError');
    expect(
      (await h.gql(`query ($id: ID!) { node(id: $id) { id } }`, { id: conflict.id }, { token: admin.token })).data.node,
    ).toBeNull();
    // An account admin cannot pull an identity held outside its subtree onto its user.
    const mine = await newUser(h, admin.token, { externalUserId: 'in-region', accountId: region });
    const pulled = await run(h, admin.token, 'linkIdentity', {
      userId: mine.id,
      backendId: gid('Backend', backend.id),
      nativeId: '1',
    });
    // Not found, and the holder (a user it cannot see) is not named.
    expect(pulled.__typename).toBe('NotFoundError');
    const holderId = (await h.store.prisma.identity.findFirstOrThrow({ where: { backendId: backend.id } })).userId!;
    expect(JSON.stringify(pulled)).not.toContain(holderId);

    const dismissed = await run(
      h,
      p.key,
      'dismissLinkConflict',
      { id: conflict.id },
      '... on DismissLinkConflictSuccess { linkConflict { status resolvedAt } }',
    );
    expect(dismissed.linkConflict.status).toBe('DISMISSED');
    expect((await run(h, p.key, 'dismissLinkConflict', { id: conflict.id })).__typename).toBe('ConflictError');
    expect((await run(h, p.key, 'dismissLinkConflict', { id: crypto.randomUUID() })).__typename).toBe('NotFoundError');
    expect(
      (
        await h.gql(
          `{ open: linkConflicts(status: OPEN) { totalCount } all: linkConflicts { totalCount } }`,
          {},
          { token: p.key },
        )
      ).data,
    ).toEqual({ open: { totalCount: 0 }, all: { totalCount: 1 } });
  });
});
