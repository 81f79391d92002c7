// Racing writes: ensures, creates, opposite merges, overlapping bulk creates and metadata
// patches never produce duplicates, cycles, lost updates or transport errors.
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { useHarness, type Partner } from './helpers/app.js';
import { ERRORS, newUser, rawUser, run } from './helpers/lifecycle.js';

// Hundreds of requests with one key within a second: lift the per-credential rate limit.
const h = useHarness({ RATE_LIMIT_PER_MINUTE: '100000' });
let a: Partner;

beforeAll(async () => {
  if (!h.ready) return;
  a = await h.newPartner('Concurrency', 'AUTOMATE');
});

/** Every response of a race must be a mutation result, never a transport error. */
async function race<T>(n: number, call: (i: number) => Promise<T>): Promise<T[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => call(i)));
}

describe('the store', () => {
  it('keeps statements of concurrent requests apart when some of them fail', async () => {
    // On the embedded store, a failed statement once made the backend skip another
    // connection's protocol messages ("portal does not exist"): see src/store/database.ts.
    const prisma = h.store.prisma;
    await prisma.$executeRawUnsafe('CREATE TABLE race_probe (k text PRIMARY KEY)');
    onTestFinished(() => prisma.$executeRawUnsafe('DROP TABLE race_probe').then(() => {}));
    const failures: string[] = [];
    await race(60, async (i) => {
      try {
        await prisma.$transaction(
          async (tx) => {
            await tx.$queryRaw`SELECT ${i}::int AS n`;
            await tx.$executeRaw`INSERT INTO race_probe (k) VALUES ('same')`;
            // The app's transaction runner waits as long (src/modules/audit/service.ts): on the
            // embedded store's one connection, 60 transactions queue, and under a loaded machine
            // Prisma's 2 s default measures the queue, not the interleaving this test is about.
          },
          { maxWait: 30_000, timeout: 30_000 },
        );
      } catch (error) {
        if (!String((error as Error).message).includes('23505'))
          failures.push(String((error as Error).message).slice(-120));
      }
      const rows = await prisma.$queryRaw<{ n: number }[]>`SELECT ${i}::int AS n`.catch((error: Error) => [
        { n: error.message },
      ]);
      if (rows[0]?.n !== i) failures.push(`read ${i} got ${JSON.stringify(rows)}`);
    });
    expect(failures).toEqual([]);
  });
});

describe('races', { timeout: 90_000 }, () => {
  it('100 concurrent ensureUser calls with one key create exactly one user', async () => {
    const sel = '... on EnsureUserSuccess { created user { uuid } }';
    const results = await race(100, () => run(h, a.key, 'ensureUser', { externalUserId: 'race-ensure' }, sel));
    expect(results.map((r) => r.__typename)).toEqual(Array(100).fill('EnsureUserSuccess'));
    expect(new Set(results.map((r) => r.user.uuid)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await h.store.prisma.user.count({ where: { partnerId: a.accountId, externalUserId: 'race-ensure' } })).toBe(
      1,
    );
  });

  it('concurrent ensureUser by identifier also converges', async () => {
    await run(h, a.key, 'upsertClient', { identifier: 'race-client' });
    const sel = '... on EnsureUserSuccess { created user { uuid client { identifier } } }';
    const results = await race(30, () =>
      run(h, a.key, 'ensureUser', { identifier: 'race-emb', clientIdentifier: 'race-client' }, sel),
    );
    expect(new Set(results.map((r) => r.user?.uuid)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await h.store.prisma.user.count({ where: { partnerId: a.accountId, identifier: 'race-emb' } })).toBe(1);
  });

  it('concurrent createUser with one key: one success, the rest ConflictError', async () => {
    const results = await race(20, (i) =>
      run(
        h,
        a.key,
        'createUser',
        { email: 'Race@Example.com', firstName: `F${i}` },
        '... on CreateUserSuccess { user { uuid } }',
      ),
    );
    const winners = results.filter((r) => r.__typename === 'CreateUserSuccess');
    expect(winners).toHaveLength(1);
    const losers = results.filter((r) => r.__typename !== 'CreateUserSuccess');
    expect(losers).toHaveLength(19);
    for (const loser of losers)
      expect(loser).toMatchObject({ __typename: 'ConflictError', field: 'email', existingId: winners[0].user.uuid });
    expect(await h.store.prisma.user.count({ where: { partnerId: a.accountId, email: 'race@example.com' } })).toBe(1);
  });

  it('opposite merges of one pair never make a cycle', async () => {
    const sel = '... on MergeUsersSuccess { source { uuid } target { uuid } }';
    for (let round = 0; round < 5; round++) {
      const x = await newUser(h, a.key, { externalUserId: `race-mx-${round}` });
      const y = await newUser(h, a.key, { email: `race-my-${round}@example.com` });
      const [xy, yx] = await Promise.all([
        run(h, a.key, 'mergeUsers', { sourceId: x.id, targetId: y.id }, sel),
        run(h, a.key, 'mergeUsers', { sourceId: y.id, targetId: x.id }, sel),
      ]);
      const outcomes = [xy.__typename, yx.__typename].sort();
      expect(outcomes).toEqual(['ConflictError', 'MergeUsersSuccess']);
      const [rx, ry] = await Promise.all([rawUser(h, x.uuid), rawUser(h, y.uuid)]);
      const merged = [rx!, ry!].filter((u) => u.status === 'MERGED');
      expect(merged).toHaveLength(1);
      const survivor = merged[0] === rx ? ry! : rx!;
      expect(merged[0]!.mergedIntoId).toBe(survivor.id);
      expect(survivor).toMatchObject({ status: 'ACTIVE', mergedIntoId: null });
      // The survivor holds both identities.
      expect(survivor.externalUserId).toBe(`race-mx-${round}`);
      expect(survivor.email).toBe(`race-my-${round}@example.com`);
    }
  });

  it('merges racing around a triangle leave no cycle', async () => {
    const sel = '... on MergeUsersSuccess { source { uuid } }';
    const [p, q, r] = await Promise.all(
      ['p', 'q', 'r'].map((n) => newUser(h, a.key, { externalUserId: `race-tri-${n}` })),
    );
    await Promise.all([
      run(h, a.key, 'mergeUsers', { sourceId: p.id, targetId: q.id }, sel),
      run(h, a.key, 'mergeUsers', { sourceId: q.id, targetId: r.id }, sel),
      run(h, a.key, 'mergeUsers', { sourceId: r.id, targetId: p.id }, sel),
    ]);
    const rows = await Promise.all([p, q, r].map((u) => rawUser(h, u.uuid)));
    // Follow each chain: it must end at an unmerged user within three hops.
    const byId = new Map(rows.map((u) => [u!.id, u!]));
    for (const start of rows) {
      let current = start!;
      for (let hops = 0; current.status === 'MERGED'; hops++) {
        expect(hops).toBeLessThan(3);
        current = byId.get(current.mergedIntoId!)!;
      }
      expect(current.status).toBe('ACTIVE');
    }
    expect(rows.filter((u) => u!.status === 'ACTIVE').length).toBeGreaterThanOrEqual(1);
  });

  it('overlapping bulk creates never duplicate a key', async () => {
    const keys = Array.from({ length: 40 }, (_, i) => `race-bulk-${i}`);
    // Four calls of 30 keys each, in different orders, so their inserts cross.
    const calls = [0, 1, 2, 3].map((c) => {
      const picked = keys.filter((_, i) => (i + c) % 4 !== 0);
      return (c % 2 ? picked.reverse() : picked).map((k) =>
        Number(k.split('-')[2]) % 2 ? { externalUserId: k } : { identifier: k },
      );
    });
    const BULK = `mutation ($input: CreateUsersInput!) {
      createUsers(input: $input) { __typename ... on Error { message }
        ... on CreateUsersSuccess { results { __typename
          ... on CreateUserSuccess { user { uuid } } ... on Error { code message } ${ERRORS} } } } }`;
    const responses = await Promise.all(calls.map((users) => h.gql(BULK, { input: { users } }, { token: a.key })));
    for (const r of responses) {
      expect(r.errors).toBeUndefined();
      expect(r.data.createUsers.__typename).toBe('CreateUsersSuccess');
    }
    const results = responses.flatMap((r) => r.data.createUsers.results);
    expect(results).toHaveLength(120);
    const successes = results.filter((x: any) => x.__typename === 'CreateUserSuccess');
    expect(successes).toHaveLength(40);
    for (const x of results.filter((x: any) => x.__typename !== 'CreateUserSuccess'))
      expect(x.__typename).toBe('ConflictError');
    const rows = await h.store.prisma.user.findMany({
      where: { partnerId: a.accountId, OR: [{ externalUserId: { in: keys } }, { identifier: { in: keys } }] },
      select: { id: true },
    });
    expect(rows).toHaveLength(40);
    expect(new Set(successes.map((x: any) => x.user.uuid))).toEqual(new Set(rows.map((u) => u.id)));
  });

  it('concurrent retries with one idempotency key all answer the first results', async () => {
    const users = [{ externalUserId: 'race-idem-1' }, { externalUserId: 'race-idem-2' }];
    const BULK = `mutation ($input: CreateUsersInput!) {
      createUsers(input: $input) { __typename ... on Error { message }
        ... on CreateUsersSuccess { results { __typename ... on CreateUserSuccess { user { uuid } } } } } }`;
    const responses = await race(6, () =>
      h.gql(BULK, { input: { users, idempotencyKey: 'race-idem' } }, { token: a.key }),
    );
    const answers = responses.map((r) => {
      expect(r.errors).toBeUndefined();
      return r.data.createUsers.results.map((x: any) => x.user?.uuid ?? x.__typename);
    });
    expect(answers[0]).toHaveLength(2);
    expect(answers[0]!.every((id: string) => /^[0-9a-f-]{36}$/.test(id))).toBe(true);
    for (const answer of answers) expect(answer).toEqual(answers[0]);
  });

  it('concurrent metadataPatch updates lose nothing', async () => {
    const user = await newUser(h, a.key, { identifier: 'race-meta', metadata: { base: true } });
    const results = await race(25, (i) =>
      run(h, a.key, 'updateUser', { id: user.id, metadataPatch: { [`k${i}`]: i } }),
    );
    expect(results.map((r) => r.__typename)).toEqual(Array(25).fill('UpdateUserSuccess'));
    const metadata = (await rawUser(h, user.uuid))!.metadata as Record<string, unknown>;
    expect(metadata).toEqual({ base: true, ...Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`k${i}`, i])) });
  });
});
