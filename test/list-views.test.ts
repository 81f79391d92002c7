// listUserViews (the catalog and embed lists, issue #14): one statement per page on the store's
// pool, answering exactly what the Prisma reads it replaced answer — the filter as userWhere
// (it and the SQL are both emitted from userFilterConditions) and the embed list's client
// condition select, in userOrderBy's order, each user as findUserView reads it (USER_VIEW,
// mergedInto and client null when unseen) — for a partner admin, an account admin, a plain user
// and another partner; no list of one partner shows another's users, and a client identifier of
// another partner matches nobody. In a transaction it reads the transaction's own rows.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Prisma } from '@prisma/client';
import { useHarness, type Partner } from './helpers/app.js';
import { rest } from './dialects/helpers.js';
import { accountAdmin, jwtFor, newUser, run, subAccount } from './helpers/lifecycle.js';
import { loadUserPrincipal } from '../src/auth/authenticate.js';
import type { Principal } from '../src/auth/principal.js';
import type { RequestContext } from '../src/auth/context.js';
import { clientVisibility, within } from '../src/auth/visibility.js';
import { userOrderBy, userWhere, type UserOrderField } from '../src/modules/users/filters.js';
import { userViewsSql, type UserListFilter } from '../src/modules/users/list-sql.js';
import { findUserView, listUserViews, USER_VIEW } from '../src/modules/users/service.js';

const h = useHarness();
let a: Partner;
let b: Partner;
let sub: string;
const uuids: Record<string, string> = {};
const principals: Record<string, Principal> = {};
const tokens: Record<string, string> = {};
let start: Date;

const ctxOf = (principal: Principal, prisma = h.store.prisma): RequestContext => ({
  prisma,
  principal,
  requestId: 'list-views',
  ip: '127.0.0.1',
});

/** The list as the Prisma reads it replaced answered it: the page's ids, each by findUserView, and the count. */
async function viaPrisma(
  principal: Principal,
  filter: UserListFilter,
  page: { skip: number; take: number; order: UserOrderField },
) {
  const prisma = h.store.prisma;
  const and: Prisma.UserWhereInput[] = [userWhere(principal, filter)];
  if (filter.hasIdentifier) and.push({ identifier: { not: null } });
  if (filter.clientIdentifier !== undefined)
    and.push({ client: within({ identifier: filter.clientIdentifier }, clientVisibility(principal)) });
  const where = { AND: and };
  const ids = await prisma.user.findMany({
    where,
    select: { id: true },
    orderBy: userOrderBy({ field: page.order }),
    skip: page.skip,
    take: page.take,
  });
  const users = await Promise.all(ids.map(({ id }) => findUserView(ctxOf(principal), { id })));
  return { users, total: await prisma.user.count({ where }) };
}

async function user(key: string, input: Record<string, unknown>, partner = a) {
  const created = await newUser(h, partner.key, input, 'id uuid');
  uuids[key] = created.uuid;
  return created;
}

beforeAll(async () => {
  if (!h.ready) return;
  start = new Date(Date.now() - 1000);
  a = await h.newPartner('List views A');
  b = await h.newPartner('List views B');
  sub = await subAccount(h, a, 'List views sub');
  const admin = await accountAdmin(h, a, sub, 'lv-sub-admin');
  uuids.subAdmin = admin.user.uuid;
  tokens.subAdmin = admin.token;
  for (const [partner, identifier, accountId] of [
    [a, 'root-client', undefined],
    [a, 'sub-client', sub],
    [b, 'b-client', undefined],
  ] as const) {
    const r = await run(
      h,
      partner.key,
      'upsertClient',
      { identifier, accountId },
      '... on UpsertClientSuccess { created }',
    );
    expect(r.created, identifier).toBe(true);
  }
  const r1 = await user('r1', { email: 'lv-r1@example.com', userName: 'r_one', canvasUserId: 7 });
  await user('r2', { identifier: 'lv-r2', clientIdentifier: 'root-client', metadata: { name: 'R2', n: 2 } });
  await user('r3', { email: 'lv-r3@example.com', identifier: 'lv-r3', externalUserId: 'lv-ext-r3' });
  await user('r4', { externalUserId: 'lv-ext-r4' });
  const r5 = await user('r5', { email: 'lv-r5@example.com' });
  const s1 = await user('s1', { email: 'lv-s1@example.com', accountId: sub, canvasUserId: 7 });
  await user('s2', { identifier: 'lv-s2', clientIdentifier: 'sub-client', accountId: sub });
  await user('s3', { identifier: 'lv-s3', clientIdentifier: 'root-client', accountId: sub });
  const s4 = await user('s4', { email: 'lv-s4@example.com', accountId: sub });
  const s5 = await user('s5', { email: 'lv-s5@example.com', accountId: sub, userName: 'r_s5' });
  await user('b1', { email: 'lv-b1@example.com' }, b);
  await user('b2', { identifier: 'lv-b2', clientIdentifier: 'b-client' }, b);
  // Entitlements granted out of their order (the view lists them by kind).
  await run(h, a.key, 'grantEntitlements', { userId: r1.id, kinds: ['PARTNER_INVENTORY_ACCESS', 'KNERD'] });
  await run(h, a.key, 'grantEntitlements', { userId: s1.id, kinds: ['KNERD'] });
  // s4 merged into a root user (unseen by the sub-account's admin), s5 into a sub-account user.
  for (const [source, target] of [
    [s4, r1],
    [s5, s1],
  ])
    expect((await run(h, a.key, 'mergeUsers', { sourceId: source.id, targetId: target.id })).__typename).toBe(
      'MergeUsersSuccess',
    );
  expect((await run(h, a.key, 'deleteUser', { id: r5.id })).__typename).toBe('DeleteUserSuccess');
  const prisma = h.store.prisma;
  principals.partnerAdmin = await loadUserPrincipal(prisma, a.adminUserId, 'api_key');
  principals.subAdmin = await loadUserPrincipal(prisma, uuids.subAdmin!, 'jwt');
  principals.plainUser = await loadUserPrincipal(prisma, uuids.s2!, 'jwt');
  principals.otherPartner = await loadUserPrincipal(prisma, b.adminUserId, 'api_key');
  tokens.plainUser = await jwtFor(uuids.s2!);
});

const CASES: [string, () => UserListFilter, UserOrderField][] = [
  ['the catalog list', () => ({ registeredInCatalog: true }), 'CATALOG_ID'],
  ['the embed list', () => ({ hasIdentifier: true }), 'CREATED_AT'],
  ['the embed list of a root client', () => ({ hasIdentifier: true, clientIdentifier: 'root-client' }), 'CREATED_AT'],
  [
    'the embed list of a sub-account client',
    () => ({ hasIdentifier: true, clientIdentifier: 'sub-client' }),
    'CREATED_AT',
  ],
  ["the embed list of partner B's client", () => ({ hasIdentifier: true, clientIdentifier: 'b-client' }), 'CREATED_AT'],
  [
    'a canvas id and a creation range',
    () => ({ registeredInCatalog: true, canvasUserId: 7, createdAt: { from: start, to: new Date() } }),
    'CATALOG_ID',
  ],
  ['an entitlement', () => ({ entitlement: 'KNERD' }), 'UPDATED_AT'],
  ['a search with a LIKE wildcard in it', () => ({ search: 'r_' }), 'EMAIL'],
  ['an account and a status', () => ({ accountId: sub, status: 'MERGED' }), 'EXTERNAL_USER_ID'],
  ['no filter', () => ({ updatedAt: { from: start } }), 'EXTERNAL_USER_ID'],
];
const PAGES = [
  { skip: 0, take: 100 },
  { skip: 0, take: 2 },
  { skip: 2, take: 2 },
  { skip: 50, take: 10 },
];

describe('listUserViews', () => {
  it('answers what the Prisma reads answer, for every kind of caller, filter and page', async () => {
    const sizes: Record<string, number> = {};
    for (const [who, principal] of Object.entries(principals)) {
      for (const [name, filter, order] of CASES) {
        for (const page of PAGES) {
          const label = `${who}, ${name}, ${JSON.stringify(page)}`;
          const expected = await viaPrisma(principal, filter(), { ...page, order });
          const answer = await listUserViews(ctxOf(principal), filter(), { ...page, order });
          expect(answer, label).toEqual(expected);
          if (page.take === 100) sizes[`${who}, ${name}`] = answer.total;
        }
      }
    }
    // The rules differ, so agreeing means something.
    expect(sizes['partnerAdmin, the catalog list']).toBe(5); // r1 r3 s1 s4 s5 (r5 deleted)
    expect(sizes['subAdmin, the catalog list']).toBe(3);
    expect(sizes['plainUser, the embed list']).toBe(1);
    expect(sizes['plainUser, the catalog list']).toBe(0);
    expect(sizes['otherPartner, the embed list']).toBe(1);
    expect(sizes['partnerAdmin, the embed list of a root client']).toBe(2);
    // A client the caller cannot see matches nobody: the root's for the sub-account's admin,
    // another partner's for anyone.
    expect(sizes['subAdmin, the embed list of a root client']).toBe(0);
    expect(sizes['subAdmin, the embed list of a sub-account client']).toBe(1);
    expect(sizes["partnerAdmin, the embed list of partner B's client"]).toBe(0);
    expect(sizes["otherPartner, the embed list of partner B's client"]).toBe(1);
  });

  it('reads mergedInto and client as null when the caller cannot see them, entitlements by kind', async () => {
    const byId = async (who: string, filter: UserListFilter) =>
      new Map(
        (await listUserViews(ctxOf(principals[who]!), filter, { skip: 0, take: 100, order: 'CREATED_AT' })).users.map(
          (u) => [u.id, u],
        ),
      );
    const asPartner = await byId('partnerAdmin', {});
    const asSubAdmin = await byId('subAdmin', {});
    expect(asPartner.get(uuids.s4!)!.mergedInto?.id).toBe(uuids.r1);
    expect(asSubAdmin.get(uuids.s4!)!.mergedInto).toBeNull();
    expect(asSubAdmin.get(uuids.s5!)!.mergedInto?.id).toBe(uuids.s1);
    expect(asPartner.get(uuids.s3!)!.client?.identifier).toBe('root-client');
    expect(asSubAdmin.get(uuids.s3!)!.client).toBeNull();
    expect(asSubAdmin.get(uuids.s2!)!.client?.identifier).toBe('sub-client');
    expect(asPartner.get(uuids.r1!)!.entitlements).toEqual([{ kind: 'KNERD' }, { kind: 'PARTNER_INVENTORY_ACCESS' }]);
    expect(asPartner.get(uuids.r2!)!.metadata).toEqual({ name: 'R2', n: 2 });
    expect(asPartner.get(uuids.r2!)!.createdAt).toBeInstanceOf(Date);
    expect(asPartner.has(uuids.r5!)).toBe(false);
  });

  it("never shows another partner's users", async () => {
    const ours = new Set(
      Object.entries(uuids)
        .filter(([k]) => !k.startsWith('b'))
        .map(([, id]) => id),
    );
    for (const [, filter] of CASES) {
      const theirs = await listUserViews(ctxOf(principals.otherPartner!), filter(), {
        skip: 0,
        take: 100,
        order: 'CREATED_AT',
      });
      expect(theirs.users.some((u) => ours.has(u.id) || u.partnerId !== b.accountId)).toBe(false);
    }
  });

  it('costs one statement whatever the page, and counts the total only when the page cannot tell it', async () => {
    const ctx = ctxOf(principals.partnerAdmin!);
    const filter = { registeredInCatalog: true };
    for (const page of [
      { skip: 0, take: 2 }, // full: counted
      { skip: 4, take: 2 }, // the last page: no count
      { skip: 50, take: 2 }, // past the end: counted
      { skip: 0, take: 100 }, // the whole list: no count
    ]) {
      const statements = await h.countStatements(() => listUserViews(ctx, filter, { ...page, order: 'CATALOG_ID' }));
      expect(statements, JSON.stringify(page)).toBe(1);
      const sql = userViewsSql(
        principals.partnerAdmin!,
        filter,
        { ...page, order: 'CATALOG_ID' },
        {
          include: USER_VIEW,
          seen: [],
        },
      );
      const plan = (
        await h.store.pool.query<{ 'QUERY PLAN': string }>({
          text: `EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ${sql.text}`,
          values: sql.values,
        })
      ).rows.map((r) => r['QUERY PLAN']);
      // The count's scan (the second alias of "User" u in the statement) runs only when needed.
      const count = plan.filter((line) => /"User" u_1\b/.test(line));
      expect(count.length, JSON.stringify(page)).toBeGreaterThan(0);
      const counted = page.take === 2 && page.skip !== 4;
      for (const line of count)
        expect(line.includes('never executed'), `${JSON.stringify(page)}: ${line}`).toBe(!counted);
    }
  });

  it("reads a transaction's own rows inside it", async () => {
    const principal = principals.partnerAdmin!;
    const filter = { hasIdentifier: true };
    const page = { skip: 0, take: 100, order: 'CREATED_AT' as const };
    const before = await listUserViews(ctxOf(principal), filter, page);
    // Rolled back after the read: the row exists only inside the transaction.
    let inside: Awaited<ReturnType<typeof listUserViews>> | undefined;
    await h.store.prisma
      .$transaction(async (tx) => {
        await tx.user.create({ data: { partnerId: a.accountId, accountId: a.accountId, identifier: 'lv-in-tx' } });
        inside = await listUserViews(ctxOf(principal, tx as unknown as RequestContext['prisma']), filter, page);
        throw new Error('roll back');
      })
      .catch((error: Error) => expect(error.message).toBe('roll back'));
    expect(inside!.total).toBe(before.total + 1);
    expect(inside!.users.at(-1)!.identifier).toBe('lv-in-tx');
    expect(inside!.users.at(-1)!.account.id).toBe(a.accountId);
    expect(await listUserViews(ctxOf(principal), filter, page)).toEqual(before);
  });
});

describe('the REST lists', () => {
  const CATALOG = '/rest/catalog/api/v1/users?per_page=100';
  const EMBED = '/rest/embed/v1/headless/users?length=100&page=0';

  /** The fewest statements of three tries (a request may also pay for its credential). */
  async function statements(path: string, headers: { authorization?: string; token?: string }) {
    let least = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 3; i++) least = Math.min(least, await h.countStatements(() => rest(h, 'GET', path, headers)));
    return least;
  }

  it('cost the list its one statement, for an account admin and for a partner admin of hosted kinds', async () => {
    expect(await statements(CATALOG, { token: tokens.subAdmin })).toBe(1);
    expect(await statements(EMBED, { token: tokens.subAdmin })).toBe(1);
    // The pass-through proxy looks a backend up only for a kind the principal says is connected.
    expect(await statements(CATALOG, { authorization: a.key })).toBe(1);
    expect(await statements(EMBED, { token: a.key })).toBe(1);
  });

  it('show a plain user itself only, and an account admin its subtree', async () => {
    const plain = await rest(h, 'GET', EMBED, { token: tokens.plainUser });
    expect(plain.status).toBe(200);
    expect(plain.body.data.map((u: any) => u.identifier)).toEqual(['lv-s2']);
    expect(plain.body.total).toBe(1);
    const catalog = await rest(h, 'GET', CATALOG, { token: tokens.subAdmin });
    expect(catalog.status).toBe(200);
    expect(catalog.body.users.map((u: any) => u.email_address).sort()).toEqual([
      'lv-s1@example.com',
      'lv-s4@example.com',
      'lv-s5@example.com',
    ]);
    // s4's merge target is a root user: unseen, so the catalog shows no merge.
    const s4 = catalog.body.users.find((u: any) => u.email_address === 'lv-s4@example.com');
    expect(s4.merged_into_user_id).toBeNull();
    const embed = await rest(h, 'GET', EMBED, { token: tokens.subAdmin });
    expect(embed.body.data.map((u: any) => [u.identifier, u.clientIdentifier])).toEqual([
      ['lv-s2', 'sub-client'],
      ['lv-s3', null],
    ]);
  });

  it("never list another partner's users, nor match another partner's client", async () => {
    const theirs = await rest(h, 'GET', EMBED, { token: b.key });
    expect(theirs.body.data.map((u: any) => u.identifier)).toEqual(['lv-b2']);
    const foreign = await rest(h, 'GET', `${EMBED}&clientIdentifier=b-client`, { token: a.key });
    expect(foreign.status).toBe(200);
    expect(foreign.body).toMatchObject({ data: [], total: 0 });
    const ownClient = await rest(h, 'GET', `${EMBED}&clientIdentifier=root-client`, { token: b.key });
    expect(ownClient.body).toMatchObject({ data: [], total: 0 });
    const catalog = await rest(h, 'GET', CATALOG, { authorization: b.key });
    expect(catalog.body.users.map((u: any) => u.email_address)).toEqual(['lv-b1@example.com']);
    expect(catalog.headers.get('x-total-count')).toBe('1');
  });
});

describe('listUserViews with a select (a REST list reading only what its wire form shows)', () => {
  const SELECT = {
    identifier: true,
    createdAt: true,
    client: { select: { identifier: true } },
    mergedInto: { select: { id: true } },
  } satisfies Prisma.UserSelect;

  it('answers exactly the selected fields of what the full view answers, unseen relations null', async () => {
    for (const [who, principal] of Object.entries(principals)) {
      for (const [name, filter, order] of CASES) {
        const page = { skip: 0, take: 100, order };
        const full = await listUserViews(ctxOf(principal), filter(), page);
        const selected = await listUserViews(ctxOf(principal), filter(), page, SELECT);
        expect(selected.total, `${who}, ${name}`).toBe(full.total);
        expect(selected.users, `${who}, ${name}`).toEqual(
          full.users.map((u) => ({
            id: u.id,
            identifier: u.identifier,
            createdAt: u.createdAt,
            client: u.client && { identifier: u.client.identifier },
            mergedInto: u.mergedInto && { id: u.mergedInto.id },
          })),
        );
      }
    }
    // The cases above hold relations the sub-account's admin cannot see (read null in both).
    const asSubAdmin = await listUserViews(
      ctxOf(principals.subAdmin!),
      {},
      { skip: 0, take: 100, order: 'CREATED_AT' },
      SELECT,
    );
    expect(asSubAdmin.users.find((u) => u.id === uuids.s4)!.mergedInto).toBeNull();
    expect(asSubAdmin.users.find((u) => u.id === uuids.s3)!.client).toBeNull();
  });

  it('puts no other column or relation in the statement', () => {
    const sql = userViewsSql(
      principals.partnerAdmin!,
      {},
      { skip: 0, take: 10, order: 'CREATED_AT' },
      { select: SELECT, seen: ['client', 'mergedInto'] },
    );
    // The user's object: its pairs on the alias v, and the relations' on their own aliases.
    const pairs = [...sql.text.matchAll(/'(\w+)', (v|r_\w+)\."(\w+)"/g)].map(([, key, alias, column]) => {
      expect(key).toBe(column);
      return `${alias}.${column}`;
    });
    expect(pairs.sort()).toEqual(['r_client.identifier', 'r_mergedInto.id', 'v.createdAt', 'v.id', 'v.identifier']);
    for (const absent of ['"email"', '"metadata"', '"customFields"', 'r_entitlements', 'r_account', 'r_partner'])
      expect(sql.text.includes(absent), absent).toBe(false);
  });
});
