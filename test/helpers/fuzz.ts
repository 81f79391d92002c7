// Shared pieces of the fuzz tests: hostile strings and values, and the checks every answer
// to bad input must pass (a 4xx or a typed error, a clear message, nothing leaked).
import fc from 'fast-check';
import { expect } from 'vitest';
import type { Store } from '../../src/store/database.js';

/** Strings that broke real systems: lone surrogates, direction marks, zero-width, NUL, ... */
export const ODD_PIECES = [
  '\u0000',
  'a\u0000b',
  '\uD800',
  '\uDC00x',
  'x\uDBFF',
  '\u202Eevil\u202C',
  '\u200F\u200E',
  '\u200B',
  '\u200D',
  '\uFEFF',
  '\u2028\u2029',
  '\r\n',
  '\t',
  '\u001b[31m',
  '\u007f',
  'Z̴̡̙̓a̷l̸g̵o̶',
  '👩‍👩‍👧‍👦',
  '🏳️‍🌈',
  '𝔥𝔢𝔩𝔩𝔬',
  'ﷺ',
  'עברית',
  'العربية',
  '中文字符',
  'Ω≈ç√∫',
  '\uFFFD',
  '\uFFFF',
  ' ',
  '',
  '%00',
  '%2e%2e%2f',
  '../../etc/passwd',
  '..\\..\\',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template-injection probe, meant literally
  '${7*7}',
  '{{7*7}}',
  '<script>alert(1)</script>',
  'null',
  'undefined',
  'NaN',
  'true',
  '-0',
  '1e309',
  '__proto__',
  'constructor',
  'prototype',
];

/** SQL and NoSQL injection strings (none contains a phrase the leak check looks for). */
export const INJECTIONS = [
  "' OR '1'='1",
  '\'; DROP TABLE "User"; --',
  '" OR ""="',
  '1; SELECT pg_sleep(5)',
  'x\' UNION SELECT id, hash FROM "ApiKey" --',
  "\\'; --",
  '$$; DROP TABLE x; $$',
  '%',
  '_',
  '\\',
  '%_%',
  "E'\\\\x00'",
  '{"$gt": ""}',
  '{"$ne": null}',
  '{"$where": "sleep(1000)"}',
  '[$ne]=1',
  "admin'--",
  '*)(uid=*))(|(uid=*',
  '|| pg_sleep(5)',
];

export const oddString: fc.Arbitrary<string> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .array(fc.constantFrom(...ODD_PIECES, ...INJECTIONS), { minLength: 1, maxLength: 4 })
      .map((p) => p.join('')),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 300 }) },
  { weight: 1, arbitrary: fc.constantFrom(...INJECTIONS) },
);

/** Rarely: a string of 10 KB up to nearly the whole body limit. */
export const hugeString = (maxBytes: number): fc.Arbitrary<string> =>
  fc
    .tuple(fc.integer({ min: 10_000, max: maxBytes }), fc.constantFrom('x', 'é', '\u0000', '🙂', "'"))
    .map(([n, c]) => c.repeat(Math.floor(n / Buffer.byteLength(c))));

/**
 * A value nested `depth` levels deep. It stays a marker until serialized by `toJsonText`:
 * neither JSON.stringify nor fast-check's printer can recurse that deep.
 */
export class Deep {
  constructor(
    readonly depth: number,
    readonly kind: 'object' | 'array',
  ) {}
  text(): string {
    return this.kind === 'object'
      ? `${'{"a":'.repeat(this.depth)}1${'}'.repeat(this.depth)}`
      : `${'['.repeat(this.depth)}${']'.repeat(this.depth)}`;
  }
  [fc.toStringMethod]() {
    return `Deep(${this.kind}, ${this.depth})`;
  }
}

/** JSON text of a value that may hold Deep markers. */
export function toJsonText(value: unknown): string {
  const deep: Deep[] = [];
  const text = JSON.stringify(value, (_key, v) => (v instanceof Deep ? `__deep_${deep.push(v) - 1}__` : v));
  return deep.reduce((t, d, i) => t.replace(`"__deep_${i}__"`, () => d.text()), text);
}

const oddKey = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('__proto__', 'constructor', 'toString', '', '\u0000', '\uD800', '$where', 'a.b', '🙂', '"'),
);

/** Small JSON objects with odd keys and values (for items of long lists). */
export const oddObject: fc.Arbitrary<Record<string, unknown>> = fc.dictionary(
  oddKey,
  fc.oneof(fc.jsonValue({ maxDepth: 3 }), oddString),
  { maxKeys: 8 },
);

/** JSON objects of every awkward kind: odd keys and values, NUL, deep, wide, big. */
export const hostileObject: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: oddObject },
  { weight: 1, arbitrary: fc.integer({ min: 17, max: 100_000 }).map((d) => new Deep(d, 'object')) },
  { weight: 1, arbitrary: fc.integer({ min: 17, max: 100_000 }).map((d) => ({ list: new Deep(d, 'array') })) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 100, max: 20_000 })
      .map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]))),
  },
  { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 200_000 }).map((n) => ({ big: 'x'.repeat(n) })) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      { nul: '\u0000' },
      { '\u0000': 1 },
      { s: '\uD800' },
      { n: 1e308 },
      { n: -0 },
      JSON.parse('{"__proto__": {"polluted": true}}'),
    ),
  },
);

/** Numbers outside what an Int or a column can take. */
export const wildNumber = fc.constantFrom(
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 53,
  -(2 ** 53),
  1e20,
  -1e308,
  1.5,
  -0.0001,
  Number.MAX_SAFE_INTEGER + 2,
);

/** A value of the wrong JSON type for any field. */
export const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -1, 1.5, '', 'x', [], {}, [null], [{}], { nested: { x: 1 } }),
  wildNumber,
  oddString,
);

// What must never reach a client: stack frames, driver and SQL text, internal names.
const LEAKS: [RegExp, string][] = [
  [/\n\s+at [\w.<>]+ \(|\bat (async )?[\w.]+ \(\/|node:internal/, 'a stack trace'],
  [/node_modules|\/work\/|\.ts:\d+/, 'a file path'],
  [/Prisma|prisma\.|PrismaClient|Invalid `|P20\d\d/, 'a Prisma error'],
  [
    new RegExp(
      [
        /violates|duplicate key value|invalid input syntax for|syntax error at or near/.source,
        /invalid byte sequence|unsupported Unicode escape|relation "|column "|"public"\./.source,
      ].join('|'),
    ),
    'PostgreSQL error text',
  ],
  [/Maximum call stack|RangeError|TypeError|ReferenceError|Cannot read propert/, 'a JavaScript error'],
  [/Unexpected error\.|INTERNAL_SERVER_ERROR|internal error/i, 'an internal error'],
];

/** Fails when an answer's body carries a stack, SQL text or an internal error. */
export function expectNoLeak(body: string, context: string) {
  for (const [pattern, what] of LEAKS) {
    const match = pattern.exec(body);
    if (match)
      expect.fail(
        `${context}: the answer contains ${what} ` +
          `(${JSON.stringify(body.slice(Math.max(0, match.index - 120), match.index + 200))})`,
      );
  }
}

/** A message a person can act on: a non-empty sentence, not a bare code. */
export function expectClearMessage(message: unknown, context: string) {
  expect(typeof message, `${context}: message ${JSON.stringify(message)}`).toBe('string');
  expect((message as string).trim().length, `${context}: empty message`).toBeGreaterThan(3);
}

/** Short description of a value for failure messages (huge and deep values are summarised). */
export function show(value: unknown): string {
  const text =
    JSON.stringify(value, (_key, v) => (v instanceof Deep ? `Deep(${v.kind}, ${v.depth})` : v)) ?? String(value);
  return text.length > 400 ? `${text.slice(0, 300)}… (${text.length} chars)` : text;
}

/**
 * A fingerprint of every table, in one statement: md5 of each table's rows. ApiKey's
 * lastUsedAt is left out (every authenticated request touches it).
 */
const FINGERPRINT_SQL = `SELECT
  (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM "Account" t) AS accounts,
  (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM "User" t) AS users,
  (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM "Client" t) AS clients,
  (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM "Entitlement" t) AS entitlements,
  (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM "Course" t) AS courses,
  (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM "Enrollment" t) AS enrollments,
  (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM "Order" t) AS orders,
  (SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM "AccountAdmin" t) AS admins,
  (SELECT md5(coalesce(string_agg(concat_ws(',', t.id, t.name, t."principalId", t."expiresAt", t."revokedAt"),
                                  '|' ORDER BY t.id), '')) FROM "ApiKey" t) AS api_keys,
  (SELECT count(*)::text FROM "AuditEvent") AS audit_events,
  (SELECT count(*)::text FROM "IdempotencyRecord") AS idempotency`;

/** The store's fingerprint now, read on its pool (not through Prisma: fuzzers take thousands). */
export async function fingerprint(store: Store): Promise<Record<string, string>> {
  return (await store.pool.query<Record<string, string>>(FINGERPRINT_SQL)).rows[0]!;
}
