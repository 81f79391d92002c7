// The catalog dialect's user list at depth (SPEC §7.2, §10.6): what every catalog sync reads
// page by page. A page costs one statement at page 1 and deep in the list (its ids from an
// index in list order, then those users, and the total only when the page cannot tell it:
// test/list-views.test.ts shows which pages run the count), the totals stay exact, and no page
// or total of one partner shows another's users.
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Partner } from './helpers/app.js';
import { rest } from './dialects/helpers.js';
import { loadUserPrincipal } from '../src/auth/authenticate.js';
import { userViewsSql } from '../src/modules/users/list-sql.js';
import { USER_VIEW } from '../src/modules/users/service.js';

const h = useHarness();
let partner: Partner;
let other: Partner;
const USERS = '/rest/catalog/api/v1/users';
const MINE = 11;
const THEIRS = 3;
let ids: number[] = [];
// What a page costs a partner admin's key: the list's one statement (the pass-through proxy
// looks a backend up only when the principal says its kind is connected: here it is hosted).
const PER_PAGE = 1;

const list = (query: string, key = partner.key) => rest(h, 'GET', `${USERS}${query}`, { authorization: key });

/**
 * The statements one list request costs, and its answer: the fewest of three tries. A request
 * may also pay for its key (the principal cache's 5 s entry expired, the once-a-minute
 * lastUsedAt write), which a loaded machine makes likely; the list's own statements are the floor.
 */
async function measured(query: string, key = partner.key) {
  let statements = Number.POSITIVE_INFINITY;
  let res: Awaited<ReturnType<typeof list>> | undefined;
  for (let i = 0; i < 3; i++) {
    const counted = await h.countStatements(async () => {
      res = await list(query, key);
    });
    statements = Math.min(statements, counted);
  }
  return { statements, res: res! };
}

const relLast = (link: string | null) => Number(/[?&]page=(\d+)[^>]*>; rel="last"/.exec(link ?? '')?.[1]);

beforeAll(async () => {
  if (!h.ready) return;
  partner = await h.newPartner('Catalog list A');
  other = await h.newPartner('Catalog list B');
  for (let i = 0; i < MINE; i++) {
    const res = await rest(h, 'POST', USERS, {
      authorization: partner.key,
      form: { user_name: `a-${i}`, email_address: `a-${i}@example.com` },
    });
    expect(res.status).toBe(200);
    ids.push(res.body.user.id);
  }
  for (let i = 0; i < THEIRS; i++) {
    const res = await rest(h, 'POST', USERS, {
      authorization: other.key,
      form: { user_name: `b-${i}`, email_address: `b-${i}@example.com` },
    });
    expect(res.status).toBe(200);
  }
  ids = ids.sort((a, b) => a - b);
});

describe('GET /rest/catalog/api/v1/users at depth', () => {
  it('costs the list one statement for the first page and for a deep one', async () => {
    const first = await measured('?per_page=1&page=1');
    const deep = await measured(`?per_page=1&page=${MINE - 1}`);
    expect(first.res.body.users.map((u: any) => u.id)).toEqual([ids[0]]);
    expect(deep.res.body.users.map((u: any) => u.id)).toEqual([ids[MINE - 2]]);
    expect(first.statements).toBe(PER_PAGE);
    expect(deep.statements).toBe(PER_PAGE);
    // Both are full pages, not the end of the list: the total is counted.
    expect(first.res.headers.get('x-total-count')).toBe(String(MINE));
    expect(deep.res.headers.get('x-total-count')).toBe(String(MINE));
  });

  it('costs the page that ends the list and one past it the same statement, and the total stays exact', async () => {
    const full = await measured('?per_page=4&page=2');
    const last = await measured('?per_page=4&page=3');
    const beyond = await measured('?per_page=4&page=4');
    expect(full.res.body.users.map((u: any) => u.id)).toEqual(ids.slice(4, 8));
    expect(last.res.body.users.map((u: any) => u.id)).toEqual(ids.slice(8));
    expect(beyond.res.body.users).toEqual([]);
    // The last page counts nothing (it says the list ends at 8 + 3); past the end, the count the
    // Link header's rel="last" needs: both inside the one statement.
    for (const { statements } of [full, last, beyond]) expect(statements).toBe(PER_PAGE);
    for (const { res } of [full, last, beyond]) {
      expect(res.status).toBe(200);
      expect(res.headers.get('x-total-count')).toBe(String(MINE));
      expect(relLast(res.headers.get('link'))).toBe(3);
    }
    expect(last.res.headers.get('link')).not.toContain('rel="next"');
  });

  it('answers a list that fits one page, and one of none with a total of 0, in one statement', async () => {
    const one = await measured('?per_page=100');
    expect(one.res.body.users.map((u: any) => u.id)).toEqual(ids);
    expect(one.res.headers.get('x-total-count')).toBe(String(MINE));
    const none = await measured(`?per_page=100&canvas_user_id=424242`);
    expect(none.res.body.users).toEqual([]);
    expect(none.res.headers.get('x-total-count')).toBe('0');
    expect(relLast(none.res.headers.get('link'))).toBe(1);
    expect(one.statements).toBe(PER_PAGE);
    expect(none.statements).toBe(PER_PAGE);
  });

  it("never lists or counts another partner's users", async () => {
    const mine = await list('?per_page=100');
    const theirs = await list('?per_page=100', other.key);
    expect(theirs.body.users).toHaveLength(THEIRS);
    expect(theirs.headers.get('x-total-count')).toBe(String(THEIRS));
    const both = new Set(theirs.body.users.map((u: any) => u.id));
    expect(mine.body.users.some((u: any) => both.has(u.id))).toBe(false);
    // A full page of the other partner's list counts its total: its own users only.
    const page = await list('?per_page=1&page=2', other.key);
    expect(page.body.users).toHaveLength(1);
    expect(page.headers.get('x-total-count')).toBe(String(THEIRS));
    expect(both.has(page.body.users[0].id)).toBe(true);
  });

  it('leaves a deleted user out of the pages and the total', async () => {
    const gone = ids[1]!;
    const res = await rest(h, 'DELETE', `${USERS}/${gone}`, { authorization: partner.key });
    expect(res.status).toBe(200);
    const first = await list('?per_page=2&page=1');
    expect(first.body.users.map((u: any) => u.id)).toEqual([ids[0], ids[2]]);
    expect(first.headers.get('x-total-count')).toBe(String(MINE - 1));
    const all = await list('?per_page=100');
    expect(all.body.users.map((u: any) => u.id)).toEqual(ids.filter((id) => id !== gone));
    expect(all.headers.get('x-total-count')).toBe(String(MINE - 1));
    ids = ids.filter((id) => id !== gone);
  });

  it("has an index that serves the list's page of ids in its order, without a sort", async () => {
    // The list's own statement. A small table may be scanned and sorted by choice: forbid both,
    // to ask only whether the index can give the page's ids in list order.
    const principal = await loadUserPrincipal(h.store.prisma, partner.adminUserId, 'api_key');
    const sql = userViewsSql(
      principal,
      { registeredInCatalog: true },
      { skip: 5, take: 100, order: 'CATALOG_ID' },
      { include: USER_VIEW, seen: ['mergedInto', 'client'] },
    );
    const plan = await h.store.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe('SET LOCAL enable_seqscan = off');
      await tx.$executeRawUnsafe('SET LOCAL enable_sort = off');
      return tx.$queryRawUnsafe<{ 'QUERY PLAN': string }[]>(`EXPLAIN ${sql.text}`, ...sql.values);
    });
    const lines = plan.map((row) => row['QUERY PLAN']);
    // The page's CTE: its lines up to the next node at its depth. (The views are then sorted by
    // their place in the page: 100 rows, not the partner's users.)
    const at = lines.findIndex((line) => /^\s*CTE page\b/.test(line));
    expect(at).toBeGreaterThanOrEqual(0);
    const depth = lines[at]!.search(/\S/);
    const end = lines.findIndex((line, i) => i > at && line.search(/\S/) <= depth);
    const page = lines.slice(at, end < 0 ? undefined : end).join('\n');
    expect(page).toContain('User_partnerId_catalogId_listed_idx');
    expect(page).not.toMatch(/\bSort\b/);
  });
});
