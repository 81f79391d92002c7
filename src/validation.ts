// Input rules shared by every surface (GraphQL and the REST dialects), as zod schemas.
// parse() turns zod's issues into one ValidationError with a path per field.
import { z } from 'zod';
import { ValidationError } from './errors.js';

export function parse<T extends z.ZodType>(schema: T, input: unknown, prefix = 'input'): z.infer<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw new ValidationError(
    result.error.issues.map((issue) => ({
      field: [prefix, ...issue.path.map(String)].join('.'),
      message: issue.message,
    })),
  );
}

/** GraphQL sends null for an omitted optional field; the services treat both as absent. */
export const nullish = <T extends z.ZodType>(schema: T) => schema.nullish().transform((v) => v ?? undefined);

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f]/;
/** Half of a UTF-16 surrogate pair on its own: no UTF-8 text (or PostgreSQL column) holds it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const WELL_FORMED = 'must be well-formed Unicode (no unpaired surrogates)';

/** A caller-chosen key: printable, not blank, no surrounding spaces, at most 255 characters. */
export const keyString = z
  .string()
  .min(1, 'must not be empty')
  .max(255, 'must be at most 255 characters')
  .refine((v) => !CONTROL.test(v), 'must not contain control characters')
  .refine((v) => !LONE_SURROGATE.test(v), WELL_FORMED)
  .refine((v) => v.trim() === v && v.trim() !== '', 'must not be blank or start/end with spaces');

/** An embed identifier: a key that also travels in URL paths, so no "/". */
export const embedKey = keyString.refine((v) => !v.includes('/'), 'must not contain "/"');

/** Free text such as a name: at most 255 characters, no control characters. */
export const text = z
  .string()
  .max(255, 'must be at most 255 characters')
  .refine((v) => !CONTROL.test(v), 'must not contain control characters')
  .refine((v) => !LONE_SURROGATE.test(v), WELL_FORMED);

export const email = z
  .string()
  .trim()
  .max(254, 'must be at most 254 characters')
  .pipe(z.email('must be an e-mail address'))
  .transform((v) => v.toLowerCase());

export const timeZone = z
  .string()
  .max(64)
  .refine((tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  }, 'must be an IANA time zone such as Europe/Paris');

export const locale = z
  .string()
  .max(35)
  .refine((l) => {
    try {
      return Intl.getCanonicalLocales(l).length === 1;
    } catch {
      return false;
    }
  }, 'must be a BCP 47 language tag such as en-GB');

const MAX_JSON_BYTES = 64 * 1024;
const MAX_JSON_DEPTH = 16;

function depth(value: unknown, level = 0): number {
  if (level > MAX_JSON_DEPTH) return level;
  if (value && typeof value === 'object') {
    let max = level;
    for (const v of Object.values(value)) max = Math.max(max, depth(v, level + 1));
    return max;
  }
  return level;
}

const isJsonObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A JSON object (metadata, custom fields): at most 64 KiB and 16 levels deep. Kept as given,
 * not copied key by key as z.record does: that copy assigns, so a "__proto__" key (an own
 * key of any parsed JSON) would set the copy's prototype and vanish instead of being data.
 */
export const jsonObject = z
  .custom<Record<string, unknown>>(isJsonObject, 'must be a JSON object')
  // abort: the size check below must not stringify a value nested thousands of levels deep.
  .refine((v) => depth(v) <= MAX_JSON_DEPTH, { message: `must be at most ${MAX_JSON_DEPTH} levels deep`, abort: true })
  .refine(
    (v) => unstorable(v, 'value', MAX_JSON_DEPTH + 1) === null,
    'must not contain NUL characters or unpaired surrogates',
  )
  .refine((v) => Buffer.byteLength(JSON.stringify(v)) <= MAX_JSON_BYTES, 'must be at most 64 KiB as JSON');

/** How deep any request value may nest (JSON objects inside inputs need far less). */
export const MAX_INPUT_DEPTH = 64;

/**
 * Where a request value holds text PostgreSQL cannot store (NUL, or an unpaired UTF-16
 * surrogate, which also breaks the query engine's JSON) or nests deeper than `maxDepth`: a
 * message naming the path; else null. Checked once at the edge of every surface, so no such
 * value reaches a service or the database. Iterative: a hostile depth cannot blow the stack.
 */
export function unstorable(value: unknown, path = 'input', maxDepth = MAX_INPUT_DEPTH): string | null {
  const stack: [unknown, string, number][] = [[value, path, 0]];
  while (stack.length) {
    const [v, at, level] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return `${at}: must not contain NUL characters`;
      if (LONE_SURROGATE.test(v)) return `${at}: must be well-formed Unicode (no unpaired surrogates)`;
    } else if (v !== null && typeof v === 'object') {
      if (level >= maxDepth) return `${at}: nested deeper than ${maxDepth} levels`;
      for (const [key, child] of Object.entries(v)) {
        const problem = unstorable(key, `${at} (a key)`, 1);
        if (problem) return problem;
        stack.push([child, Array.isArray(v) ? `${at}[${key}]` : `${at}.${key.slice(0, 40)}`, level + 1]);
      }
    }
  }
  return null;
}

// The instants every store takes: years 1 to 9999 AD at UTC. PostgreSQL's timestamptz holds
// 4713 BC to 294276 AD, but the ORM writes a date parameter as YYYY-MM-DD, which PostgreSQL
// refuses for year 0 (an RFC 3339 "0000-01-01" is 1 BC) and the ORM itself for years past
// 9999: such a date failed at bind time, a 500 for a bad input. Both surfaces check here.
export const MIN_DATE = new Date('0001-01-01T00:00:00.000Z');
export const MAX_DATE = new Date('9999-12-31T23:59:59.999Z');
export const DATE_RANGE = 'must lie between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z (UTC)';

/** Whether a date can be stored and compared with (see MIN_DATE). */
export const storableDate = (date: Date) =>
  date.getTime() >= MIN_DATE.getTime() && date.getTime() <= MAX_DATE.getTime();

export const cents = z.number().int('must be a whole number of cents').min(0).max(1_000_000_000);
