// The store keeps answering whatever one caller does to it (issue 12): the pool's
// connections are dropped and reopened (idle timeout, or pg-pool discarding a connection
// after any failed statement), and on the embedded store every reconnect reaches the same
// PGlite session. Compiled reads' named statements, failing statements of one partner, and
// dates PostgreSQL cannot store must never turn into failures of later or other requests.
// The pool's idle timeout is short here, so the reconnects are real ones, not simulated.
import { Writable } from 'node:stream';
import pino from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../src/app.js';
import { useHarness, type Partner } from './helpers/app.js';
import { createManyUsers } from './helpers/fixtures.js';

const IDLE_MS = 100;
const h = useHarness({ RATE_LIMIT_PER_MINUTE: '1000000' }, { idleTimeoutMillis: IDLE_MS });

let app: App;
let a: Partner;
let b: Partner;
const logs: { level: number; msg: string; err?: { message?: string } }[] = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function call(
  token: string,
  path: string,
  init: { query?: string; variables?: Record<string, unknown>; authorization?: string } = {},
) {
  const headers: Record<string, string> = { authorization: init.authorization ?? `Bearer ${token}` };
  let body: string | undefined;
  if (init.query) {
    headers['content-type'] = 'application/json';
    headers.accept = 'application/graphql-response+json';
    body = JSON.stringify({ query: init.query, variables: init.variables });
  }
  const response = await app.fetch(
    new Request(`http://gateway.test${path}`, { method: body ? 'POST' : 'GET', headers, body }),
    { ip: '127.0.0.1' },
  );
  const text = await response.text();
  return { status: response.status, text, body: JSON.parse(text) as any };
}

const gql = (token: string, query: string, variables?: Record<string, unknown>) =>
  call(token, '/graphql', { query, variables });
const catalog = (key: string, query: string) =>
  call(key, `/rest/catalog/api/v1/users?${query}`, { authorization: key });

const USERS = `query ($first: Int, $filter: UserFilter) { users(first: $first, filter: $filter) {
  totalCount edges { cursor node { id uuid externalUserId createdAt account { ulid } } }
  pageInfo { hasNextPage endCursor } } }`;

/** Warnings and errors logged since `from` (the compiled path logs its fallbacks). */
const problems = (from = 0) => logs.slice(from).filter((line) => line.level >= 40);

beforeAll(async () => {
  if (!h.ready) return;
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  app = createApp({ config: h.config, store: h.store, logger: pino({ level: 'warn' }, sink) });
  a = await h.newPartner('Resilience A');
  b = await h.newPartner('Resilience B');
  await createManyUsers(h, a, 12);
  await createManyUsers(h, b, 12);
});

describe('compiled reads across reconnects', () => {
  it('answer the same page after the pool closed its idle connection, every time', async () => {
    const from = logs.length;
    const answers: string[] = [];
    for (let round = 0; round < 4; round++) {
      const res = await gql(a.key, USERS, { first: 5 });
      expect(res.status, res.text).toBe(200);
      expect(res.body.errors).toBeUndefined();
      answers.push(JSON.stringify(res.body.data));
      // Past the idle timeout the pool has closed every connection: the next read opens a
      // new one (on the embedded store: to the same PGlite session).
      await sleep(IDLE_MS * 4);
      expect(h.store.pool.totalCount).toBe(0);
    }
    expect(new Set(answers).size).toBe(1);
    expect(JSON.parse(answers[0]!).users.edges).toHaveLength(5);
    // No fallback: the compiled statement itself answered each time.
    expect(problems(from)).toEqual([]);
  });

  it('answer while other requests keep the connection busy between reconnects', async () => {
    const from = logs.length;
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all([
        gql(a.key, USERS, { first: 3 }),
        gql(b.key, USERS, { first: 4 }),
        gql(a.key, USERS, { first: 3 }),
      ]);
      for (const res of results) {
        expect(res.status, res.text).toBe(200);
        expect(res.body.errors).toBeUndefined();
      }
      await sleep(IDLE_MS * 4);
    }
    expect(problems(from)).toEqual([]);
  });
});

describe('a failing statement', () => {
  // Failures at each step of the extended protocol: Parse (syntax), Bind (a parameter that
  // does not convert), Execute (division by zero), a named statement failing at Bind, and a
  // failure inside a transaction the caller then abandons.
  const failures: (() => Promise<unknown>)[] = [
    () => h.store.pool.query('SELEC 1'),
    () => h.store.pool.query('SELECT $1::timestamptz AS t', ['0000-01-01T00:00:00Z']),
    () => h.store.pool.query('SELECT 1 / (random() * 0)::int AS x'),
    () => h.store.pool.query({ name: 'resilience_bad_bind', text: 'SELECT $1::int AS x', values: ['not a number'] }),
    () => h.store.prisma.$transaction(async (tx) => tx.$queryRawUnsafe('SELECT 1 / 0')),
  ];

  it('fails alone: the next statement on the store answers', async () => {
    for (const fail of failures) {
      await expect(fail()).rejects.toThrow();
      expect((await h.store.pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      // A named statement after the reconnect that the failure caused.
      const named = await h.store.pool.query({ name: 'resilience_ok', text: 'SELECT $1::int AS x', values: [7] });
      expect(named.rows).toEqual([{ x: 7 }]);
    }
  });

  it("from one caller in a loop never fails another partner's requests", async () => {
    let stop = false;
    let failed = 0;
    // Two loops, so that failures keep coming while a reconnect after one is under way.
    const badCaller = (start: number) =>
      (async () => {
        for (let i = start; !stop; i++) {
          await failures[i % failures.length]!().then(
            () => {
              throw new Error('a deliberately failing statement succeeded');
            },
            () => failed++,
          );
          await sleep(0);
        }
      })();
    const loops = [badCaller(0), badCaller(2)];
    const results = await runPartnerRequests(b, 200);
    const failedMeanwhile = failed;
    stop = true;
    await Promise.all(loops);
    expect(failedMeanwhile).toBeGreaterThanOrEqual(10);
    expect(results.filter((r) => !r.ok)).toEqual([]);
  }, 120_000);
});

/**
 * `count` requests of `partner`, four at a time: compiled and executor reads, the REST
 * catalog list, and the API-key lookup each of them starts with. Each must answer 200
 * without errors.
 */
async function runPartnerRequests(partner: Partner, count: number) {
  const kinds = [
    () => gql(partner.key, USERS, { first: 5 }),
    () => gql(partner.key, `{ viewer { isAdmin } }`),
    () => catalog(partner.key, 'per_page=5'),
    () => gql(partner.key, `{ auditEvents(first: 3) { totalCount edges { node { id action } } } }`),
  ];
  const results: { ok: boolean; status: number; text: string }[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < count) {
        const res = await kinds[next++ % kinds.length]!();
        results.push({ ok: res.status === 200 && !res.body.errors, status: res.status, text: res.text.slice(0, 300) });
      }
    }),
  );
  expect(results).toHaveLength(count);
  return results;
}

describe('dates PostgreSQL cannot store', () => {
  const expectBadDate = (res: Awaited<ReturnType<typeof gql>>) => {
    expect(res.status).toBeLessThan(500);
    expect(res.body.errors?.[0]?.extensions?.code, res.text).toBe('BAD_USER_INPUT');
    expect(res.body.errors[0].message).toMatch(/0001-01-01/);
    expect(res.text).not.toMatch(/prisma|SELECT |out of range: "/i);
  };

  it('are refused by the DateTime scalar, in variables and in literals', async () => {
    expectBadDate(await gql(a.key, USERS, { filter: { createdAt: { to: '0000-01-01T00:00:00Z' } } }));
    expectBadDate(
      await gql(a.key, `{ users(filter: { createdAt: { from: "0000-06-01T00:00:00Z" } }) { totalCount } }`),
    );
    expectBadDate(
      await gql(a.key, `{ auditEvents(filter: { createdAt: { to: "0000-01-01T00:00:00Z" } }) { totalCount } }`),
    );
    expectBadDate(
      await gql(a.key, `query ($f: AuditEventFilter) { auditEvents(filter: $f) { totalCount } }`, {
        f: { createdAt: { from: '0000-12-31T23:59:59.999Z' } },
      }),
    );
    // Year 1 written with a positive offset is still in year 0 at UTC; year 9999 with a
    // negative one is in year 10000, which the ORM cannot write.
    expectBadDate(await gql(a.key, USERS, { filter: { createdAt: { from: '0001-01-01T00:30:00+01:00' } } }));
    expectBadDate(await gql(a.key, USERS, { filter: { updatedAt: { to: '9999-12-31T23:59:59-12:00' } } }));
  });

  it('at the edges of the range are accepted', async () => {
    for (const [from, to] of [
      ['0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z'],
      ['0001-01-01T01:00:00+01:00', '9999-12-31T11:59:59-12:00'],
    ]) {
      const res = await gql(a.key, USERS, { first: 1, filter: { createdAt: { from, to } } });
      expect(res.status, res.text).toBe(200);
      expect(res.body.errors).toBeUndefined();
      expect(res.body.data.users.totalCount).toBe(13);
      const audit = await gql(a.key, `query ($f: AuditEventFilter) { auditEvents(filter: $f) { totalCount } }`, {
        f: { createdAt: { from, to } },
      });
      expect(audit.body.errors, audit.text).toBeUndefined();
    }
  });

  it('are a 400 naming the field in the catalog dialect', async () => {
    for (const query of [
      'created_at_from=0000-01-01',
      'created_at_to=0000-01-01T00:00:00Z',
      'updated_at_from=0001-01-01T00:00:00%2B02:00',
      'updated_at_to=0000-12-31',
      'updated_at_to=9999-12-31T23:30:00-01:00',
    ]) {
      const res = await catalog(a.key, query);
      expect(res.status, res.text).toBe(400);
      const field = query.split('=')[0]!;
      expect(res.text).toContain(field);
      expect(res.text).toMatch(/0001-01-01/);
    }
    const edge = await catalog(a.key, 'created_at_from=0001-01-01&updated_at_to=9999-12-31T23:59:59Z');
    expect(edge.status, edge.text).toBe(200);
  });

  it("from one partner never fail another partner's requests", async () => {
    let stop = false;
    let refused = 0;
    const badCaller = (async () => {
      const bad = [
        () => catalog(a.key, 'created_at_from=0000-01-01'),
        () => gql(a.key, `{ auditEvents(filter: { createdAt: { to: "0000-01-01T00:00:00Z" } }) { totalCount } }`),
        () => gql(a.key, USERS, { filter: { createdAt: { to: '0000-01-01T00:00:00Z' } } }),
      ];
      for (let i = 0; !stop; i++) {
        const res = await bad[i % bad.length]!();
        if (res.status >= 500) throw new Error(`bad date answered ${res.status}: ${res.text}`);
        refused++;
        // A refusal can complete without any I/O: let the other partner's requests run.
        await sleep(0);
      }
    })();
    const results = await runPartnerRequests(b, 200);
    const refusedMeanwhile = refused;
    stop = true;
    await badCaller;
    expect(refusedMeanwhile).toBeGreaterThanOrEqual(20);
    expect(results.filter((r) => !r.ok)).toEqual([]);
  }, 120_000);
});
