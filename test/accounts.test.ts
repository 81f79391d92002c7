// Sub-account lifecycle: createAccount / updateAccount (access flags, allow-lists), rights,
// partner B probing partner A's accounts, and the migration of the access flags.
import { beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/store/database.js';
import { readMigrations } from '../src/store/migrate.js';
import { useHarness, type Partner } from './helpers/app.js';
import { accountAdmin, jwtFor, run, subAccount } from './helpers/lifecycle.js';
import { createTestDatabase, storeKind } from './helpers/store.js';

const h = useHarness();
let a: Partner;
let b: Partner;

const ACCOUNT =
  'account { ulid name parent { ulid } smsAccess legacyAccess ' +
  'lrnAccess requireIpGqlAccess requireIpApiAccess allowedIps plan }';
const create = (token: string, input: Record<string, unknown>) =>
  run(h, token, 'createAccount', input, `... on CreateAccountSuccess { ${ACCOUNT} }`);
const update = (token: string, input: Record<string, unknown>) =>
  run(h, token, 'updateAccount', input, `... on UpdateAccountSuccess { ${ACCOUNT} }`);

beforeAll(async () => {
  if (!h.ready) return;
  a = await h.newPartner('Accounts A', 'ENTERPRISE');
  b = await h.newPartner('Accounts B', 'AUTOMATE');
});

describe('createAccount / updateAccount', () => {
  it('creates sub-accounts under the partner or a given parent, inheriting the plan', async () => {
    const child = await create(a.key, { name: 'Child', smsAccess: 'DOMESTIC' });
    expect(child.account).toMatchObject({
      name: 'Child',
      parent: { ulid: a.accountId },
      smsAccess: 'DOMESTIC',
      legacyAccess: false,
      lrnAccess: false,
      plan: 'ENTERPRISE',
    });
    const grand = await create(a.key, { name: 'Grand', parentId: child.account.ulid });
    expect(grand.account.parent.ulid).toBe(child.account.ulid);
  });

  it('updates flags and allow-lists, normalising CIDRs', async () => {
    const id = await subAccount(h, a, 'Flags');
    const r = await update(a.key, {
      id,
      name: 'Flags 2',
      lrnAccess: true,
      requireIpApiAccess: true,
      allowedIps: ['10.1.2.3', '192.168.0.0/16'],
    });
    expect(r.account).toMatchObject({
      name: 'Flags 2',
      legacyAccess: false,
      lrnAccess: true,
      requireIpApiAccess: true,
    });
    expect(r.account.allowedIps).toHaveLength(2);
    expect((await update(a.key, { id, allowedIps: [] })).__typename).toBe('ValidationError');
    const bad = await h.gql(
      'mutation ($i: UpdateAccountInput!) { updateAccount(input: $i) { __typename } }',
      { i: { id, allowedIps: ['not-an-ip'] } },
      { token: a.key },
    );
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await create(a.key, { name: '' })).__typename).toBe('ValidationError');
    expect((await create(a.key, { name: 'Locked', requireIpGqlAccess: true })).__typename).toBe('ValidationError');
    // legacyAccess and lrnAccess are booleans: a coverage value is a bad input, and changes nothing.
    const coverage = await h.gql(
      'mutation ($i: UpdateAccountInput!) { updateAccount(input: $i) { __typename } }',
      { i: { id, lrnAccess: 'NONE' } },
      { token: a.key },
    );
    expect(coverage.errors?.[0]?.message).toMatch(/lrnAccess.*Boolean/);
    expect(await h.store.prisma.account.findUnique({ where: { id }, select: { lrnAccess: true } })).toEqual({
      lrnAccess: true,
    });
  });

  it('applies a new GraphQL allow-list to the next request at once', async () => {
    const p = await h.newPartner('Accounts IP', 'CORE');
    expect((await h.gql('{ viewer { isAdmin } }', {}, { token: p.key, ip: '198.51.100.7' })).status).toBe(200);
    await update(p.key, { id: p.accountId, requireIpGqlAccess: true, allowedIps: ['203.0.113.0/24'] });
    expect((await h.gql('{ viewer { isAdmin } }', {}, { token: p.key, ip: '198.51.100.7' })).status).toBe(403);
    expect((await h.gql('{ viewer { isAdmin } }', {}, { token: p.key, ip: '203.0.113.9' })).status).toBe(200);
    await update(p.key, { id: p.accountId, requireIpGqlAccess: false }).catch(() => {});
  });

  it('lets an account admin manage its subtree only', async () => {
    const child = await subAccount(h, a, 'Admin child');
    const admin = await accountAdmin(h, a, child, 'acct-admin');
    const sub = await create(admin.token, { name: 'Sub of child', parentId: child });
    expect(sub.__typename).toBe('CreateAccountSuccess');
    expect((await update(admin.token, { id: sub.account.ulid, smsAccess: 'INTERNATIONAL' })).account.smsAccess).toBe(
      'INTERNATIONAL',
    );
    expect((await create(admin.token, { name: 'At the root' })).__typename).toBe('ForbiddenError');
    expect((await update(admin.token, { id: a.accountId, name: 'Renamed by an account admin' })).__typename).toBe(
      'ForbiddenError',
    );
    const sibling = await subAccount(h, a, 'Sibling');
    expect((await update(admin.token, { id: sibling, name: 'x' })).__typename).toBe('NotFoundError');
    // An account it cannot see is not found for creating under it or in it, never forbidden.
    expect((await create(admin.token, { name: 'Under the sibling', parentId: sibling })).__typename).toBe(
      'NotFoundError',
    );
    expect(
      (await run(h, admin.token, 'createUser', { externalUserId: 'in-the-sibling', accountId: sibling })).__typename,
    ).toBe('NotFoundError');
    expect(await h.store.prisma.account.count({ where: { name: 'Under the sibling' } })).toBe(0);
    expect(await h.store.prisma.user.count({ where: { externalUserId: 'in-the-sibling' } })).toBe(0);
  });

  it('answers NOT_FOUND across partners and changes nothing', async () => {
    const id = await subAccount(h, a, 'Cross');
    expect(await update(b.key, { id, name: 'Taken over' })).toMatchObject({ __typename: 'NotFoundError' });
    expect(await update(b.key, { id: a.accountId, smsAccess: 'INTERNATIONAL' })).toMatchObject({
      __typename: 'NotFoundError',
    });
    expect(await create(b.key, { name: 'Inside A', parentId: id })).toMatchObject({ __typename: 'NotFoundError' });
    const row = await h.store.prisma.account.findUnique({ where: { id } });
    expect(row).toMatchObject({ name: 'Cross', smsAccess: 'NONE' });
    expect(await h.store.prisma.account.count({ where: { name: 'Inside A' } })).toBe(0);
  });
});

describe('addAccountAdmin / removeAccountAdmin', () => {
  it('appoints subtree admins whose rights follow at once, and removes them', async () => {
    const region = await subAccount(h, a, 'Region');
    const city = (await create(a.key, { name: 'City', parentId: region })).account.ulid;
    const user = await run(
      h,
      a.key,
      'createUser',
      { externalUserId: 'future-admin', accountId: region },
      '... on CreateUserSuccess { user { id uuid } }',
    );
    const inCity = await run(
      h,
      a.key,
      'createUser',
      { externalUserId: 'citizen', accountId: city },
      '... on CreateUserSuccess { user { id } }',
    );
    const token = await jwtFor(user.user.uuid);
    const before = await h.gql(`{ viewer { isAdmin } users { totalCount } }`, {}, { token });
    expect(before.data).toEqual({ viewer: { isAdmin: false }, users: { totalCount: 1 } });

    const added = await run(
      h,
      a.key,
      'addAccountAdmin',
      { accountId: region, userId: user.user.id },
      '... on AddAccountAdminSuccess { account { ulid admins { uuid } } }',
    );
    expect(added.account.admins.map((u: { uuid: string }) => u.uuid)).toEqual([user.user.uuid]);
    const after = await h.gql(`{ viewer { isAdmin } users { totalCount } }`, {}, { token });
    expect(after.data).toEqual({ viewer: { isAdmin: true }, users: { totalCount: 2 } });

    // An account admin may appoint below itself, never above.
    const below = await run(h, token, 'addAccountAdmin', { accountId: city, userId: inCity.user.id });
    expect(below.__typename).toBe('AddAccountAdminSuccess');
    const above = await run(h, token, 'addAccountAdmin', { accountId: a.accountId, userId: inCity.user.id });
    expect(['ForbiddenError', 'NotFoundError']).toContain(above.__typename);

    const removed = await run(h, a.key, 'removeAccountAdmin', { accountId: region, userId: user.user.id });
    expect(removed.__typename).toBe('RemoveAccountAdminSuccess');
    expect((await h.gql(`{ viewer { isAdmin } }`, {}, { token })).data.viewer.isAdmin).toBe(false);
  });

  it("refuses another partner's accounts and users", async () => {
    const user = await run(
      h,
      b.key,
      'createUser',
      { externalUserId: 'b-user' },
      '... on CreateUserSuccess { user { id } }',
    );
    expect((await run(h, b.key, 'addAccountAdmin', { accountId: a.accountId, userId: user.user.id })).__typename).toBe(
      'NotFoundError',
    );
    const aUser = await run(
      h,
      a.key,
      'createUser',
      { externalUserId: 'a-user-x' },
      '... on CreateUserSuccess { user { id } }',
    );
    expect((await run(h, b.key, 'addAccountAdmin', { accountId: b.accountId, userId: aUser.user.id })).__typename).toBe(
      'NotFoundError',
    );
  });
});

describe('the access-flag migration', () => {
  it(`converts legacyAccess and lrnAccess of an existing store in place: NONE is false, \
any other value true`, async () => {
    const database = storeKind === 'postgres' ? await createTestDatabase() : null;
    const store = await openStore({
      ...(database ? { databaseUrl: database.url } : { dataDir: 'memory://' }),
      poolSize: 2,
      migrate: false,
    });
    try {
      const migrations = await readMigrations();
      const at = migrations.findIndex((m) => m.name.endsWith('_account_access_booleans'));
      expect(at).toBeGreaterThan(0);
      for (const m of migrations.slice(0, at)) await store.pool.query(m.sql);
      const rows: [string, string, string][] = [
        ['P', 'NONE', 'NONE'],
        ['Q', 'DOMESTIC', 'NONE'],
        ['R', 'NONE', 'INTERNATIONAL'],
        ['S', 'INTERNATIONAL', 'DOMESTIC'],
      ];
      for (const [id, legacy, lrn] of rows) {
        await store.pool.query(
          `INSERT INTO "Account" (id, "partnerId", "ancestorIds", name, "canvasUuid", "legacyAccess", "lrnAccess",
                                  "smsAccess", "allowedIps", "updatedAt")
           VALUES ($1, 'P', $2, $1, $1, $3::"CoverageAccess", $4::"CoverageAccess", 'DOMESTIC', '{}', now())`,
          [id, id === 'P' ? [] : ['P'], legacy, lrn],
        );
      }
      for (const m of migrations.slice(at)) await store.pool.query(m.sql);
      const { rows: after } = await store.pool.query(
        `SELECT id, "legacyAccess", "lrnAccess", "smsAccess"::text AS sms FROM "Account" ORDER BY id`,
      );
      expect(after).toEqual([
        { id: 'P', legacyAccess: false, lrnAccess: false, sms: 'DOMESTIC' },
        { id: 'Q', legacyAccess: true, lrnAccess: false, sms: 'DOMESTIC' },
        { id: 'R', legacyAccess: false, lrnAccess: true, sms: 'DOMESTIC' },
        { id: 'S', legacyAccess: true, lrnAccess: true, sms: 'DOMESTIC' },
      ]);
      // New rows get the new defaults, and Prisma reads the columns as booleans.
      await store.pool.query(
        'INSERT INTO "Account" (id, "partnerId", "ancestorIds", name, "canvasUuid", "allowedIps", "updatedAt") ' +
          "VALUES ('T', 'P', '{P}', 'T', 'T', '{}', now())",
      );
      expect(
        await store.prisma.account.findUnique({ where: { id: 'T' }, select: { legacyAccess: true, lrnAccess: true } }),
      ).toEqual({ legacyAccess: false, lrnAccess: false });
    } finally {
      await store.close();
      await database?.drop();
    }
  }, 120_000); // an empty store migrated from scratch, as the template is once per run
});
