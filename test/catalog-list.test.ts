// The catalog dialect's user list at depth (SPEC §7.2, §10.6): what every catalog sync reads
// page by page. A page costs the same statements at page 1 and deep in the list (its ids from
// an index in list order, then those users), a page that ends the list costs no count, the
// totals stay exact, and no page or total of one partner shows another's users.
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Partner } from './helpers/app.js';
import { rest } from './dialects/helpers.js';

const h = useHarness();
let partner: Partner;
let other: Partner;
const USERS = '/rest/catalog/api/v1/users';
const MINE = 11;
const THEIRS = 3;
let ids: number[] = [];

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
  it('costs the same statements for the first page and for a deep one', async () => {
    const first = await measured('?per_page=1&page=1');
    const deep = await measured(`?per_page=1&page=${MINE - 1}`);
    expect(first.res.body.users.map((u: any) => u.id)).toEqual([ids[0]]);
    expect(deep.res.body.users.map((u: any) => u.id)).toEqual([ids[MINE - 2]]);
    expect(deep.statements).toBe(first.statements);
    // Both are full pages, not the end of the list: the total is counted.
    expect(first.res.headers.get('x-total-count')).toBe(String(MINE));
    expect(deep.res.headers.get('x-total-count')).toBe(String(MINE));
  });

  it('counts no total on the page that ends the list, and the total stays exact', async () => {
    const full = await measured('?per_page=4&page=2');
    const last = await measured('?per_page=4&page=3');
    const beyond = await measured('?per_page=4&page=4');
    expect(full.res.body.users.map((u: any) => u.id)).toEqual(ids.slice(4, 8));
    expect(last.res.body.users.map((u: any) => u.id)).toEqual(ids.slice(8));
    expect(beyond.res.body.users).toEqual([]);
    // The last page: ids, then those users (no count: the page says the list ends at 8 + 3).
    expect(last.statements).toBe(full.statements - 1);
    // Past the end: ids (none), then the count the Link header's rel="last" needs; no users to read.
    expect(beyond.statements).toBe(full.statements - 1);
    for (const { res } of [full, last, beyond]) {
      expect(res.status).toBe(200);
      expect(res.headers.get('x-total-count')).toBe(String(MINE));
      expect(relLast(res.headers.get('link'))).toBe(3);
    }
    expect(last.res.headers.get('link')).not.toContain('rel="next"');
  });

  it('answers a list that fits one page with no count, and one of none with a total of 0', async () => {
    const one = await measured('?per_page=100');
    expect(one.res.body.users.map((u: any) => u.id)).toEqual(ids);
    expect(one.res.headers.get('x-total-count')).toBe(String(MINE));
    const none = await measured(`?per_page=100&canvas_user_id=424242`);
    expect(none.res.body.users).toEqual([]);
    expect(none.res.headers.get('x-total-count')).toBe('0');
    expect(relLast(none.res.headers.get('link'))).toBe(1);
    // The empty first page: only the ids statement (one fewer than a page of users).
    expect(none.statements).toBe(one.statements - 1);
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

  it('has an index that serves the list in its order, without a sort', async () => {
    // A small table may be scanned and sorted by choice: forbid both, to ask only whether the
    // index can give the page's ids in list order.
    const plan = await h.store.prisma.$transaction(async (tx) => {
      await tx.$executeRawUnsafe('SET LOCAL enable_seqscan = off');
      await tx.$executeRawUnsafe('SET LOCAL enable_sort = off');
      return tx.$queryRawUnsafe<{ 'QUERY PLAN': string }[]>(
        `EXPLAIN SELECT id FROM "User" WHERE "partnerId" = $1 AND "deletedAt" IS NULL AND "inCatalog" = true
          ORDER BY "catalogId" ASC, id ASC LIMIT 100 OFFSET 5`,
        partner.accountId,
      );
    });
    const text = plan.map((row) => row['QUERY PLAN']).join('\n');
    expect(text).toContain('User_partnerId_catalogId_listed_idx');
    expect(text).not.toMatch(/\bSort\b/);
  });
});
