// store/conditions.ts: one declaration of a condition, two forms (Prisma where, SQL). That the
// two select the same rows is checked against the database by test/read-model.test.ts
// (visibility) and test/list-views.test.ts (the users' filter); these are the forms themselves.
import { describe, expect, it } from 'vitest';
import { prismaWhere, sqlWhere, type Condition } from '../../src/store/conditions.js';
import { userFilterConditions, userWhere, type UserFilter } from '../../src/modules/users/filters.js';

const sqlOf = (conditions: Condition[]) => {
  const values: unknown[] = [];
  const text = sqlWhere(conditions, 'u', (value) => {
    values.push(value);
    return `$${values.length}`;
  });
  return { text, values };
};

describe('conditions', () => {
  it('puts a second condition on one key under AND instead of overwriting the first', () => {
    const where = prismaWhere([
      { or: [[{ column: 'id', equals: 'a' }]] },
      { column: 'status', equals: 'ACTIVE' },
      { or: [[{ column: 'email', contains: 'x' }]] },
    ]);
    expect(where).toEqual({
      OR: [{ id: 'a' }],
      status: 'ACTIVE',
      AND: [{ OR: [{ email: { contains: 'x', mode: 'insensitive' } }] }],
    });
  });

  it('takes the wildcards of a search literally in both forms', () => {
    const search: Condition = { column: 'email', contains: '50%_a\\b' };
    expect(prismaWhere([search])).toEqual({ email: { contains: '50\\%\\_a\\\\b', mode: 'insensitive' } });
    expect(sqlOf([search])).toEqual({ text: 'u."email" ILIKE $1', values: ['%50\\%\\_a\\\\b%'] });
  });

  it("binds a search's pattern once for all the columns it looks in", () => {
    const search: Condition = {
      or: [[{ column: 'email', contains: 'ann' }], [{ column: 'firstName', contains: 'ann' }]],
    };
    expect(sqlOf([search])).toEqual({ text: '((u."email" ILIKE $1) OR (u."firstName" ILIKE $1))', values: ['%ann%'] });
  });

  it('writes a Boolean as a literal (a partial index applies) and a range by the bounds given', () => {
    const to = new Date('2026-01-01T00:00:00Z');
    const { text, values } = sqlOf([
      { column: 'inCatalog', is: false },
      { column: 'createdAt', range: { lte: to } },
    ]);
    expect(text).toBe('NOT u."inCatalog" AND u."createdAt" <= $1');
    expect(values).toEqual([to]);
    expect(prismaWhere([{ column: 'createdAt', range: { lte: to } }])).toEqual({ createdAt: { lte: to } });
  });

  it('matches nothing for nothing, in both forms', () => {
    expect(prismaWhere([{ nothing: true }])).toEqual({ id: { in: [] } });
    expect(sqlOf([{ nothing: true }]).text).toBe('false');
  });
});

describe("the users' filter", () => {
  const every: Required<{ [K in keyof UserFilter]: NonNullable<UserFilter[K]> }> = {
    status: 'ACTIVE',
    accountId: 'acc',
    clientId: '00000000-0000-4000-8000-000000000000',
    createdAt: { from: new Date(0) },
    updatedAt: { to: new Date(0) },
    registeredInCatalog: true,
    canvasUserId: 7,
    entitlement: 'ALL',
    search: ' ann ',
  };

  it('gives every field of the filter one condition, and none to an empty or unset field', () => {
    expect(userFilterConditions(every)).toHaveLength(Object.keys(every).length);
    expect(
      userFilterConditions({ status: null, search: '   ', createdAt: { from: null }, registeredInCatalog: null }),
    ).toEqual([]);
  });

  it('is the visibility alone when it keeps everyone, and under AND with it otherwise', () => {
    expect(userWhere(null, {})).toEqual({ id: { in: [] } });
    expect(userWhere(null, { canvasUserId: 7 })).toEqual({ AND: [{ id: { in: [] } }, { canvasUserId: 7 }] });
  });
});
