// Dates the stores can hold: the one range (src/validation.ts) as the DateTime scalar and
// the REST dialects' date parameters apply it.
import { GraphQLError, Kind } from 'graphql';
import { describe, expect, it } from 'vitest';
import { dateValue } from '../../src/dialects/common.js';
import { ValidationError } from '../../src/errors.js';
import { DateTimeScalar } from '../../src/graphql/scalars.js';
import { MAX_DATE, MIN_DATE, storableDate } from '../../src/validation.js';

const inside = [
  '0001-01-01T00:00:00Z',
  '0001-01-01T01:00:00+01:00',
  '1970-01-01T00:00:00Z',
  '2024-02-29T12:00:00.5Z',
  '9999-12-31T23:59:59.999Z',
  '9999-12-31T11:59:59-12:00',
];
const outside = [
  '0000-01-01T00:00:00Z',
  '0000-12-31T23:59:59.999Z',
  '0001-01-01T00:59:59+01:00',
  '9999-12-31T23:59:59-12:00',
  '9999-12-31T23:00:00-01:00',
];

describe('storableDate', () => {
  it('holds years 1 to 9999 at UTC, both ends included', () => {
    expect(storableDate(MIN_DATE)).toBe(true);
    expect(storableDate(MAX_DATE)).toBe(true);
    expect(storableDate(new Date(MIN_DATE.getTime() - 1))).toBe(false);
    expect(storableDate(new Date(MAX_DATE.getTime() + 1))).toBe(false);
    expect(storableDate(new Date(-8.64e15))).toBe(false);
    expect(storableDate(new Date(8.64e15))).toBe(false);
  });
});

describe('DateTime scalar', () => {
  const literal = (value: string) => DateTimeScalar.parseLiteral({ kind: Kind.STRING, value }, {});

  it.each(inside)('takes %s', (value) => {
    expect((DateTimeScalar.parseValue(value) as Date).getTime()).toBe(Date.parse(value));
    expect((literal(value) as Date).getTime()).toBe(Date.parse(value));
  });

  it.each(outside)('refuses %s as a bad input', (value) => {
    for (const [parse, fromLiteral] of [
      [() => DateTimeScalar.parseValue(value), false],
      [() => literal(value), true],
    ] as const) {
      let error: unknown;
      try {
        parse();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(GraphQLError);
      expect((error as GraphQLError).extensions.code).toBe('BAD_USER_INPUT');
      expect((error as GraphQLError).message).toContain('between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z');
      // A literal's error points at the literal (graphql-js reports it as thrown).
      expect(Boolean((error as GraphQLError).nodes?.length)).toBe(fromLiteral);
    }
  });

  it('still refuses what is no date at all, and serialises as before', () => {
    expect(() => DateTimeScalar.parseValue('2024-02-30T00:00:00Z')).toThrow(GraphQLError);
    expect(() => DateTimeScalar.parseValue(0)).toThrow(GraphQLError);
    expect(DateTimeScalar.serialize(new Date('2024-01-02T03:04:05Z'))).toEqual(new Date('2024-01-02T03:04:05Z'));
  });
});

describe('REST date parameters', () => {
  it.each([...inside, '0001-01-01', '9999-12-31', '2020-06-01 10:00'])('take %s', (value) => {
    expect(dateValue(value, 'created_at_from')).toBeInstanceOf(Date);
  });

  it.each([...outside, '0000-01-01', '0000-06-15 12:00'])(
    'refuse %s with a ValidationError naming the field',
    (value) => {
      expect(() => dateValue(value, 'created_at_from')).toThrow(ValidationError);
      expect(() => dateValue(value, 'created_at_from')).toThrow(
        /created_at_from: must lie between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z/,
      );
    },
  );
});
