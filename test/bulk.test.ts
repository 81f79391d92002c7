// createUsers: one result per item in input order, bad items never fail the others, the
// 50-item limit, idempotent retries, a constant number of SQL statements, and tenancy.
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Partner } from './helpers/app.js';
import { ERRORS, newUser, run } from './helpers/lifecycle.js';

const h = useHarness();
let a: Partner;
let b: Partner;

const BULK = `mutation ($input: CreateUsersInput!) { createUsers(input: $input) { __typename
  ... on Error { message code }
  ${ERRORS}
  ... on CreateUsersSuccess { results { __typename
    ... on CreateUserSuccess { user { uuid externalUserId email identifier client { identifier } account { ulid } } }
    ... on Error { message code }
    ${ERRORS}
  } }
} }`;

async function bulk(token: string, users: Record<string, unknown>[], idempotencyKey?: string): Promise<any> {
  const { data, errors } = await h.gql(BULK, { input: { users, idempotencyKey } }, { token });
  if (errors?.length) throw new Error(JSON.stringify(errors));
  return data.createUsers;
}

beforeAll(async () => {
  if (!h.ready) return;
  a = await h.newPartner('Bulk A', 'AUTOMATE');
  b = await h.newPartner('Bulk B', 'AUTOMATE');
  await run(h, a.key, 'upsertClient', { identifier: 'bulk-client' });
});

describe('createUsers', () => {
  it('answers 50 mixed items one by one, in input order', async () => {
    const taken = await newUser(h, a.key, {
      externalUserId: 'pre-ext',
      email: 'pre@example.com',
      identifier: 'pre-emb',
    });
    const deleted = await newUser(h, a.key, { externalUserId: 'pre-deleted' });
    await run(h, a.key, 'deleteUser', { id: deleted.id, action: 'IGNORE' });

    type Expect = { type: string; match?: Record<string, unknown> };
    const items: Record<string, unknown>[] = [];
    const expected: Expect[] = [];
    const add = (item: Record<string, unknown>, type: string, match?: Record<string, unknown>) => {
      items.push(item);
      expected.push({ type, match });
    };
    const piis = ['p@example.com', '+14155552671', '123-45-6789', 'AB123456C', '555-123-4567'];
    const rules = ['email', 'phone', 'national_id', 'national_id', 'phone'];
    for (let i = 0; i < 50; i++) {
      if (i === 3)
        add({ externalUserId: 'mix-ext-1' }, 'ConflictError', { field: 'externalUserId' }); // repeats item 1
      else if (i === 4)
        add({ email: 'MIX-2@example.com' }, 'ConflictError', { field: 'email' }); // repeats item 2
      else if (i === 6)
        add({ externalUserId: 'pre-ext' }, 'ConflictError', { field: 'externalUserId', existingId: taken.uuid });
      else if (i === 7) add({ email: 'Pre@Example.com' }, 'ConflictError', { field: 'email', existingId: taken.uuid });
      else if (i === 8)
        add({ identifier: 'pre-emb' }, 'ConflictError', { field: 'identifier', existingId: taken.uuid });
      else if (i === 9)
        // a deleted holder is seen by no one
        add({ externalUserId: 'pre-deleted' }, 'ConflictError', { field: 'externalUserId', existingId: null });
      else if (i % 10 === 0)
        add({ externalUserId: piis[i / 10]! }, 'PiiRejectedError', { piiField: 'externalUserId', rule: rules[i / 10] });
      else if (i === 11)
        add({ email: 'not-an-email' }, 'ValidationError', {
          issues: [{ field: `input.users.${i}.email`, message: expect.any(String) }],
        });
      else if (i === 12) add({}, 'ValidationError');
      else if (i === 13)
        add({ identifier: 'mix-emb-13', clientIdentifier: 'no-such-client' }, 'NotFoundError', { entity: 'Client' });
      else if (i === 14)
        add({ externalUserId: 'mix-ext-14', accountId: b.accountId }, 'NotFoundError', { entity: 'Account' });
      else if (i === 15)
        // its identifier is repeated next
        add({ externalUserId: 'mix-ext-15', identifier: 'mix-emb-16' }, 'CreateUserSuccess');
      else if (i === 16) add({ identifier: 'mix-emb-16' }, 'ConflictError', { field: 'identifier' });
      else if (i % 3 === 0)
        add({ identifier: `mix-emb-${i}`, clientIdentifier: 'bulk-client', name: `E${i}` }, 'CreateUserSuccess', {
          user: expect.objectContaining({ identifier: `mix-emb-${i}`, client: { identifier: 'bulk-client' } }),
        });
      else if (i % 3 === 1)
        add({ externalUserId: `mix-ext-${i}` }, 'CreateUserSuccess', {
          user: expect.objectContaining({ externalUserId: `mix-ext-${i}` }),
        });
      else
        add({ email: `Mix-${i}@example.com`, firstName: `F${i}` }, 'CreateUserSuccess', {
          user: expect.objectContaining({ email: `mix-${i}@example.com` }),
        });
    }
    expect(items).toHaveLength(50);

    const r = await bulk(a.key, items);
    expect(r.__typename).toBe('CreateUsersSuccess');
    expect(r.results).toHaveLength(50);
    r.results.forEach((result: any, i: number) => {
      expect(result.__typename, `item ${i}: ${JSON.stringify(result)}`).toBe(expected[i]!.type);
      if (expected[i]!.match) expect(result, `item ${i}`).toMatchObject(expected[i]!.match!);
    });
    const created = r.results.filter((x: any) => x.__typename === 'CreateUserSuccess');
    const okCount = expected.filter((e) => e.type === 'CreateUserSuccess').length;
    expect(created).toHaveLength(okCount);
    expect(new Set(created.map((x: any) => x.user.uuid)).size).toBe(okCount);
    // Exactly the successes are in the store: nothing from the failed items.
    const stored = await h.store.prisma.user.count({
      where: {
        partnerId: a.accountId,
        OR: [
          { externalUserId: { startsWith: 'mix-' } },
          { email: { startsWith: 'mix-' } },
          { identifier: { startsWith: 'mix-' } },
        ],
      },
    });
    expect(stored).toBe(okCount);
    expect(await h.store.prisma.user.count({ where: { partnerId: a.accountId, externalUserId: { in: piis } } })).toBe(
      0,
    );
    // One audit event per created user.
    expect(
      await h.store.prisma.auditEvent.count({
        where: {
          partnerId: a.accountId,
          action: 'user.create',
          subjectId: { in: created.map((x: any) => x.user.uuid) },
        },
      }),
    ).toBe(okCount);
  });

  it('refuses more than 50 items, and none at all, as a whole', async () => {
    const many = Array.from({ length: 51 }, (_, i) => ({ externalUserId: `too-many-${i}` }));
    const r = await bulk(a.key, many);
    expect(r).toMatchObject({ __typename: 'ValidationError', issues: [{ field: 'input.users' }] });
    expect(await h.store.prisma.user.count({ where: { externalUserId: { startsWith: 'too-many-' } } })).toBe(0);
    expect(await bulk(a.key, [])).toMatchObject({ __typename: 'ValidationError' });
  });

  it('returns the first results for a retried idempotency key', async () => {
    const users = [
      { externalUserId: 'idem-1' },
      { externalUserId: 'idem-2' },
      { externalUserId: 'idem-1' },
      { externalUserId: 'x@example.com' },
    ];
    const first = await bulk(a.key, users, 'retry-key-1');
    expect(first.results.map((x: any) => x.__typename)).toEqual([
      'CreateUserSuccess',
      'CreateUserSuccess',
      'ConflictError',
      'PiiRejectedError',
    ]);
    const again = await bulk(a.key, users, 'retry-key-1');
    expect(again.results.map((x: any) => x.__typename)).toEqual([
      'CreateUserSuccess',
      'CreateUserSuccess',
      'ConflictError',
      'PiiRejectedError',
    ]);
    expect(again.results.slice(0, 2).map((x: any) => x.user.uuid)).toEqual(
      first.results.slice(0, 2).map((x: any) => x.user.uuid),
    );
    expect(again.results[2]).toMatchObject({
      code: 'CONFLICT',
      field: 'externalUserId',
      message: first.results[2].message,
    });
    expect(again.results[3]).toMatchObject({ code: 'PII_REJECTED', rule: 'email', piiField: 'externalUserId' });
    // Without the key the same request is new work: now every key is taken.
    const fresh = await bulk(a.key, users.slice(0, 2));
    expect(fresh.results.map((x: any) => x.__typename)).toEqual(['ConflictError', 'ConflictError']);
    expect(
      await h.store.prisma.user.count({
        where: { partnerId: a.accountId, externalUserId: { in: ['idem-1', 'idem-2'] } },
      }),
    ).toBe(2);
  });

  it('refuses the same idempotency key with a different request', async () => {
    await bulk(a.key, [{ externalUserId: 'idem-diff-1' }], 'retry-key-2');
    const r = await bulk(a.key, [{ externalUserId: 'idem-diff-2' }], 'retry-key-2');
    expect(r).toMatchObject({ __typename: 'ValidationError', issues: [{ field: 'idempotencyKey' }] });
    expect(await h.store.prisma.user.count({ where: { externalUserId: 'idem-diff-2' } })).toBe(0);
  });

  it('scopes idempotency keys to the partner', async () => {
    const users = [{ externalUserId: 'idem-scope' }];
    const fromA = await bulk(a.key, users, 'shared-key');
    const fromB = await bulk(b.key, users, 'shared-key');
    expect(fromB.results[0].__typename).toBe('CreateUserSuccess');
    expect(fromB.results[0].user.uuid).not.toBe(fromA.results[0].user.uuid);
    expect(fromB.results[0].user.account.ulid).toBe(b.accountId);
  });

  it("does not report partner A's keys as taken to partner B", async () => {
    await newUser(h, a.key, { externalUserId: 'cross-bulk', email: 'cross-bulk@example.com' });
    const r = await bulk(b.key, [
      { externalUserId: 'cross-bulk' },
      { email: 'cross-bulk@example.com' },
      { identifier: 'x', clientIdentifier: 'bulk-client' },
    ]);
    expect(r.results.map((x: any) => x.__typename)).toEqual([
      'CreateUserSuccess',
      'CreateUserSuccess',
      'NotFoundError',
    ]);
    expect(await h.store.prisma.user.count({ where: { partnerId: a.accountId, externalUserId: 'cross-bulk' } })).toBe(
      1,
    );
  });

  it('costs a constant number of SQL statements', async () => {
    await h.gql('{ viewer { isAdmin } }', {}, { token: a.key }); // warm the credential cache
    const make = (n: number, tag: string) =>
      Array.from({ length: n }, (_, i) =>
        i % 2
          ? { externalUserId: `stmt-${tag}-${i}` }
          : { identifier: `stmt-${tag}-${i}`, clientIdentifier: 'bulk-client' },
      );
    const five = await h.countStatements(() => bulk(a.key, make(5, 'five'), 'stmt-five'));
    const fifty = await h.countStatements(() => bulk(a.key, make(50, 'fifty'), 'stmt-fifty'));
    expect(fifty).toBe(five);
    // 11: ten, and the one lookup of the partner's connected backends (src/modules/backends/write-through.ts).
    expect(fifty).toBeLessThanOrEqual(11);
    expect(await h.store.prisma.user.count({ where: { externalUserId: { startsWith: 'stmt-fifty-' } } })).toBe(25);
  });
});
