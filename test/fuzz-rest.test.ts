// Property-based fuzzing of every REST route of the four dialects. The routes come from the
// OpenAPI documents the dialects serve (GET /rest/<dialect>/openapi.json), so every
// documented route is fuzzed, and bodies, path and query parameters are generated from their
// schemas: well-typed values with hostile contents, then malformed JSON, wrong content types,
// form bodies, wrong types, missing and extra fields, bodies over the limit, odd unicode and
// injection strings in paths and query strings, unknown and foreign ids. Every answer is
// below 500, JSON with a clear message when it is an error, leaks nothing, and a refused
// request leaves every table as it was.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Partner } from './helpers/app.js';
import { mutate } from './helpers/fixtures.js';
import {
  fingerprint as storeFingerprint,
  INJECTIONS,
  expectClearMessage,
  expectNoLeak,
  hostileObject,
  oddString,
  show,
  toJsonText,
  wildNumber,
  wrongType,
} from './helpers/fuzz.js';

const h = useHarness({ RATE_LIMIT_PER_MINUTE: '10000000' });
const RUNS = Number(process.env.FUZZ_RUNS ?? 30);
const WILD_RUNS = Math.ceil(RUNS / 2);
const MAX_BODY = 1_000_000;
const DIALECTS = ['learning', 'catalog', 'messaging', 'embed'] as const;

type Schema = Record<string, any>;
interface Operation {
  dialect: string;
  method: string;
  /** OpenAPI path template, e.g. /api/v1/users/{id} */
  path: string;
  params: { name: string; in: 'path' | 'query'; schema: Schema }[];
  body?: { types: string[]; schema: Schema };
  doc: Schema;
}

let A: Partner;
let B: Partner;
const operations: Operation[] = [];
/** Path parameter values by dialect and name: A's own, B's (foreign) and unknown ones. */
let own: Record<string, string[]>;
let foreign: Record<string, string[]>;

// ------------------------------------------------------------------ generators

function resolve(schema: Schema, doc: Schema): Schema {
  let s = schema;
  while (s?.$ref)
    s = s.$ref
      .split('/')
      .slice(1)
      .reduce((o: Schema, k: string) => o[k], doc);
  return s ?? {};
}

/** A plausible string for a property, by its name, or a hostile one. */
function stringFor(name: string, schema: Schema): fc.Arbitrary<string> {
  const plausible: fc.Arbitrary<string> =
    schema.format === 'email' || /email/.test(name)
      ? fc.oneof(fc.emailAddress(), fc.constantFrom('fz@example.com', 'not-an-email', 'a@b'))
      : schema.format === 'date-time'
        ? fc.oneof(
            fc
              .date({ min: new Date('1990-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
              .map((d) => d.toISOString()),
            fc.constantFrom(
              '2020-02-30',
              '2024-13-01T00:00:00Z',
              '0000-00-00',
              '9999-12-31T23:59:59Z',
              'yesterday',
              '1e10',
            ),
          )
        : schema.format === 'uuid'
          ? fc.uuid()
          : /time_zone/.test(name)
            ? fc.constantFrom('Europe/Paris', 'Mars/Base', 'UTC')
            : /locale/.test(name)
              ? fc.constantFrom('en-GB', 'xx_invalid', 'fr')
              : /external_user_id|identifier|name/.test(name)
                ? fc.oneof(
                    fc.stringMatching(/^[a-z0-9-]{1,20}$/),
                    fc.constantFrom('someone@example.com', '+1 415 555 0100', '123-45-6789', 'fz-ext', 'fz-client'),
                  )
                : fc.string({ maxLength: 30 });
  return fc.oneof(
    { weight: 5, arbitrary: plausible },
    { weight: 4, arbitrary: oddString },
    { weight: 1, arbitrary: fc.constantFrom(...INJECTIONS) },
    { weight: 1, arbitrary: fc.integer({ min: 256, max: 100_000 }).map((n) => 'k'.repeat(n)) },
  );
}

/** A value of the schema's JSON type with odd contents. */
function fromSchema(raw: Schema, doc: Schema, name = 'body', depth = 0): fc.Arbitrary<unknown> {
  const schema = resolve(raw, doc);
  if ('const' in schema)
    return fc.oneof({ weight: 6, arbitrary: fc.constant(schema.const) }, { weight: 1, arbitrary: oddString });
  if (schema.enum)
    return fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom(...schema.enum) },
      { weight: 1, arbitrary: stringFor(name, {}) },
    );
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (alternatives) return fc.oneof(...alternatives.map((s: Schema) => fromSchema(s, doc, name, depth)));
  if (schema.allOf)
    return fromSchema(Object.assign({}, ...schema.allOf.map((s: Schema) => resolve(s, doc))), doc, name, depth);
  if (Array.isArray(schema.type))
    return fc.oneof(...schema.type.map((t: string) => fromSchema({ ...schema, type: t }, doc, name, depth)));
  switch (schema.type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
    case 'number':
      return fc.oneof(
        {
          weight: 4,
          arbitrary: fc.integer({ min: schema.minimum ?? -3, max: Math.min(schema.maximum ?? 200, 10_000) }),
        },
        { weight: 1, arbitrary: fc.constantFrom(0, -1, 2 ** 31, 1e20, 1.5) },
      );
    case 'string':
      return stringFor(name, schema);
    case 'array': {
      const item = fromSchema(schema.items ?? {}, doc, name, depth + 1);
      return fc.oneof(
        { weight: 6, arbitrary: fc.array(item, { maxLength: 4 }) },
        { weight: 1, arbitrary: fc.array(item, { minLength: 48, maxLength: 55 }) },
      );
    }
    case 'object': {
      const props = schema.properties ?? {};
      const spec = Object.fromEntries(
        Object.entries(props).map(([k, s]) => [k, fromSchema(s as Schema, doc, k, depth + 1)]),
      );
      const record = fc.record(spec, { requiredKeys: schema.required ?? [] });
      if (!schema.additionalProperties || depth > 2) return record;
      return fc.tuple(record, hostileObject).map(([r, extra]) => ({ ...(extra as object), ...r }));
    }
    default:
      return fc.oneof(fc.jsonValue({ maxDepth: 2 }), hostileObject);
  }
}

/** A body of the right shape (or none, when the route takes none). */
function typedBody(op: Operation): fc.Arbitrary<RequestParts['body']> {
  if (!op.body) return fc.constant(undefined);
  return fc
    .tuple(fromSchema(op.body.schema, op.doc), fc.constantFrom(...op.body.types))
    .map(([value, type]) => encode(value, type));
}

function encode(value: unknown, type: string): RequestParts['body'] {
  if (type === 'application/x-www-form-urlencoded' && value && typeof value === 'object') {
    const form = new URLSearchParams();
    for (const [k, v] of Object.entries(value)) {
      if (v && typeof v === 'object' && !Array.isArray(v))
        for (const [sub, x] of Object.entries(v))
          form.append(`${k}[${sub}]`, typeof x === 'string' ? x : toJsonText(x));
      else form.append(k, typeof v === 'string' ? v : toJsonText(v));
    }
    return { type, text: form.toString() };
  }
  return { type: 'application/json', text: toJsonText(value) };
}

/** One item of a learning batch, repeated past the batch limit below. */
const BATCH_ITEM = '{"method":"post","relative_url":"/accounts","body":{"external_user_id":"x"}}';

/** Bodies that are broken as bodies: malformed JSON, wrong content types, odd forms. */
const brokenBody: fc.Arbitrary<NonNullable<RequestParts['body']>> = fc.oneof(
  fc
    .constantFrom(
      '{',
      '{"a":',
      '[1,2',
      'nul',
      '{"a":1}garbage',
      "{'single': 'quotes'}",
      '{"a":1,}',
      '\uFEFF{"a":1}',
      '{"a":"\\ud800"}',
      '{"a":"\\u0000"}',
      '{"\\u0000":1}',
      '{"__proto__":{"polluted":true}}',
      '"just a string"',
      '123',
      'null',
      '[]',
      '[{}]',
      '{"data":{"name":{"$gt":""}},"type":"account"}',
      '{"requests":"not a list"}',
      `{"requests":[${Array.from({ length: 60 }, () => BATCH_ITEM).join(',')}]}`,
      '',
    )
    .map((text) => ({ type: 'application/json', text })),
  fc
    .integer({ min: 33, max: 100_000 })
    .map((d) => ({ type: 'application/json', text: `${'{"a":'.repeat(d)}1${'}'.repeat(d)}` })),
  fc
    .tuple(
      fc.constantFrom(
        'text/plain',
        'application/xml',
        'multipart/form-data; boundary=x',
        'multipart/form-data',
        'application/json; charset=utf-16',
        'application/octet-stream',
        'image/png',
        '',
      ),
      fc.constantFrom(
        '{"a":1}',
        '<a>1</a>',
        '--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--',
        '\u0000\u0001\u0002',
        'a=1&b=2',
      ),
    )
    .map(([type, text]) => ({ type, text })),
  fc
    .array(
      fc.tuple(
        fc.oneof(
          fc.constantFrom(
            'user_name',
            'email_address',
            'custom_fields[x]',
            'custom_fields[__proto__]',
            'custom_fields',
            'a[b][c]',
            '[]',
            '__proto__',
            'constructor[prototype]',
            'external_user_id',
            'metadata',
          ),
          oddString,
        ),
        fc.oneof(oddString, fc.constantFrom('', '%', '%00', '%ZZ', '{"a":1}', 'true')),
      ),
    )
    .map((pairs) => ({
      type: 'application/x-www-form-urlencoded',
      text: pairs.map(([k, v]) => `${encodeURIComponentSafe(k)}=${encodeURIComponentSafe(v)}`).join('&'),
    })),
);

/** A body of the right content type but the wrong shape: wrong types, missing and extra fields. */
function wrongShapeBody(op: Operation): fc.Arbitrary<RequestParts['body']> {
  if (!op.body) return fc.constant(undefined);
  const schema = resolve(op.body.schema, op.doc);
  const keys = Object.keys(schema.properties ?? { x: 1 });
  return fc
    .tuple(
      fromSchema(schema, op.doc),
      fc.constantFrom(...keys),
      wrongType,
      fc.integer({ min: 0, max: 3 }),
      fc.constantFrom(...op.body.types),
    )
    .map(([value, key, bad, what, type]) => {
      const copy: Record<string, unknown> =
        value && typeof value === 'object' && !Array.isArray(value) ? { ...value } : {};
      if (what === 0) delete copy[key];
      else if (what === 1) copy[key] = bad;
      else if (what === 2) copy[`extra_${key}`] = bad;
      else copy[key] = { $ne: null };
      return encode(copy, type);
    });
}

/** Percent-encodes what can be encoded; an unpaired surrogate becomes invalid UTF-8. */
function encodeURIComponentSafe(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return value
      .split('')
      .map((ch) => (/[\uD800-\uDFFF]/.test(ch) ? '%ED%A0%80' : encodeURIComponent(ch)))
      .join('');
  }
}

/** Path segments: A's ids, B's ids, unknown ids, hostile text and broken percent-encoding. */
function pathValue(
  op: Operation,
  name: string,
  schema: Schema,
): fc.Arbitrary<{ raw: string; foreign: boolean; plain: boolean }> {
  const key = `${op.dialect}.${name}`;
  const text = fc.oneof(
    fromSchema(schema, op.doc, name).map((v) => encodeURIComponentSafe(String(v))),
    oddString.map(encodeURIComponentSafe),
    fc.constantFrom(...INJECTIONS).map(encodeURIComponentSafe),
    fc.constantFrom(
      '%',
      '%zz',
      '%00',
      '%ED%A0%80',
      '%FF%FE',
      '..%2F..%2Fetc',
      '%2e%2e',
      '..',
      '.',
      '-1',
      '0',
      '99999999999999999999',
      '1.5',
      '1e3',
      '0x10',
      ' 1',
      'null',
      'current',
    ),
    fc.integer({ min: 300, max: 5000 }).map((n) => 'z'.repeat(n)),
    fc.uuid(),
  );
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .constantFrom(...(own[key] ?? ['x']))
        .map((v) => ({ raw: encodeURIComponent(v), foreign: false, plain: true })),
    },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(...(foreign[key] ?? ['x']))
        .map((v) => ({ raw: encodeURIComponent(v), foreign: !!foreign[key], plain: true })),
    },
    { weight: 3, arbitrary: text.map((raw) => ({ raw, foreign: false, plain: false })) },
  );
}

/** A query string from the documented parameters, plus unknown and repeated ones. */
function queryString(op: Operation, broken: boolean): fc.Arbitrary<string> {
  const params = op.params.filter((p) => p.in === 'query');
  const spec = Object.fromEntries(
    params.map((p) => [
      p.name,
      broken
        ? fc.oneof(fromSchema(p.schema, op.doc, p.name), wrongType, wildNumber)
        : fromSchema(p.schema, op.doc, p.name),
    ]),
  );
  return fc
    .tuple(
      fc.record(spec, { requiredKeys: [] }),
      broken ? fc.array(fc.tuple(oddString, oddString), { maxLength: 3 }) : fc.constant([]),
    )
    .map(([values, extra]) => {
      const pairs: string[] = [];
      for (const [k, v] of Object.entries(values)) {
        const text = typeof v === 'string' ? v : toJsonText(v);
        pairs.push(`${k}=${encodeURIComponentSafe(text)}`);
        if (broken && k.length % 2) pairs.push(`${k}=${encodeURIComponentSafe(text)}x`); // a repeated parameter
      }
      for (const [k, v] of extra) pairs.push(`${encodeURIComponentSafe(k)}=${encodeURIComponentSafe(v)}`);
      return pairs.length ? `?${pairs.join('&')}` : '';
    });
}

interface RequestParts {
  path: string;
  foreign: boolean;
  /** The path segments are ids as a client would send them (not hostile text). */
  plain: boolean;
  body?: { type: string; text: string };
}

function requestParts(
  op: Operation,
  body: fc.Arbitrary<RequestParts['body']>,
  broken: boolean,
): fc.Arbitrary<RequestParts> {
  const pathParams = op.params.filter((p) => p.in === 'path');
  return fc
    .tuple(fc.tuple(...pathParams.map((p) => pathValue(op, p.name, p.schema))), queryString(op, broken), body)
    .map(([values, query, b]) => {
      let path = op.path;
      pathParams.forEach((p, i) => {
        path = path.replace(`{${p.name}}`, values[i]!.raw);
      });
      return {
        path: `/rest/${op.dialect}${path}${query}`,
        foreign: values.some((v) => v.foreign),
        plain: values.every((v) => v.plain),
        body: b,
      };
    });
}

// ------------------------------------------------------------------ checks

const fingerprint = () => storeFingerprint(h.store);

/** The message of an error body, whatever the dialect's envelope. */
/** A JSON value with its leaves replaced by their types. */
function shapeOf(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(shapeOf);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shapeOf(v)]));
  return typeof value;
}

function messageOf(body: any): unknown {
  return (
    body?.error_message ??
    body?.message ??
    body?.errors?.[0]?.message ??
    body?.error?.message ??
    body?.error ??
    body?.data?.message ??
    body?.detail
  );
}

async function call(op: Operation, parts: RequestParts, token = A.key) {
  const before = await fingerprint();
  const headers: Record<string, string> = {};
  if (parts.body) headers['content-type'] = parts.body.type;
  let response: Response;
  try {
    response = await h.request(parts.path, { method: op.method, token, headers, body: parts.body?.text });
  } catch (error) {
    // A URL the fetch API itself refuses never reaches the server.
    if (error instanceof TypeError && /URL|url/.test(error.message)) return null;
    throw error;
  }
  const text = await response.text();
  const sent = parts.body ? `${parts.body.type} ${show(parts.body.text)}` : '';
  const label = `${op.method} ${op.path}: ${op.method} ${show(parts.path)} ${sent}`;
  const context = `${label} → ${response.status} ${text.slice(0, 400)}`;
  expect(response.status, context).toBeLessThan(500);
  expectNoLeak(text, context);
  if (response.status === 204) return { status: response.status, body: null, context };
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    expect.fail(`${context}: the answer is not JSON`);
  }
  if (response.status >= 400) {
    expectClearMessage(messageOf(body), context);
    expect(await fingerprint(), `${context}: a refused request changed rows`).toEqual(before);
  }
  // A documented route answers as a route, not as the dialect's "no such route" fallback.
  if (parts.plain)
    expect(
      response.status === 405 || String(messageOf(body)).startsWith('no route for'),
      `${context}: the documented route is missing`,
    ).toBe(false);
  return { status: response.status, body, context };
}

// ------------------------------------------------------------------ fixtures

beforeAll(async () => {
  if (!h.ready) return;
  A = await h.newPartner('REST fuzz A', 'AUTOMATE');
  B = await h.newPartner('REST fuzz B', 'AUTOMATE');
  const world = async (p: Partner, prefix: string) => {
    const sub = (
      await mutate(
        h,
        p.key,
        'createAccount',
        { name: `${prefix} sub` },
        '... on CreateAccountSuccess { account { ulid customerId } }',
      )
    ).account;
    await mutate(h, p.key, 'upsertClient', { identifier: `${prefix}-client`, metadata: { a: 1 } });
    const sel = '... on CreateUserSuccess { user { uuid catalogId identifier } }';
    const users = [];
    for (const input of [
      { externalUserId: `${prefix}-ext-1` },
      {
        externalUserId: `${prefix}-ext-2`,
        email: `${prefix}-1@example.com`,
        identifier: `${prefix}-emb-1`,
        clientIdentifier: `${prefix}-client`,
      },
      { email: `${prefix}-2@example.com`, userName: `${prefix}2` },
      { identifier: `${prefix}-emb-2`, clientIdentifier: `${prefix}-client`, metadata: { k: 'v' } },
    ])
      users.push((await mutate(h, p.key, 'createUser', input, sel)).user);
    return {
      'learning.account_id': users.map((u) => u.uuid),
      'catalog.id': users.filter((u) => u.catalogId).map((u) => String(u.catalogId)),
      'messaging.id': [sub.ulid, p.accountId],
      'embed.identifier': [...users.filter((u) => u.identifier).map((u) => u.identifier), `${prefix}-client`],
    } as Record<string, string[]>;
  };
  own = await world(A, 'fza');
  foreign = await world(B, 'fzb');
  // Embed identifiers are names chosen per partner: B's are just unused names for A.
  delete foreign['embed.identifier'];

  for (const dialect of DIALECTS) {
    const response = await h.request(`/rest/${dialect}/openapi.json`, { token: A.key });
    expect(response.status, `${dialect} serves no OpenAPI document`).toBe(200);
    const doc = (await response.json()) as Schema;
    for (const [path, item] of Object.entries<Schema>(doc.paths)) {
      for (const [method, operation] of Object.entries<Schema>(item)) {
        if (!['get', 'put', 'post', 'delete', 'patch'].includes(method)) continue;
        const params = [...(item.parameters ?? []), ...(operation.parameters ?? [])].map((p: Schema) =>
          resolve(p, doc),
        ) as Operation['params'];
        const content = operation.requestBody ? resolve(operation.requestBody, doc).content : undefined;
        operations.push({
          dialect,
          method: method.toUpperCase(),
          path,
          params,
          body: content ? { types: Object.keys(content), schema: content[Object.keys(content)[0]!].schema } : undefined,
          doc,
        });
      }
    }
  }
});

// ------------------------------------------------------------------ properties

describe('fuzzing every REST route of the four dialects', { timeout: 180_000 }, () => {
  it('reads the routes from the four OpenAPI documents', () => {
    const byDialect = Object.fromEntries(DIALECTS.map((d) => [d, operations.filter((o) => o.dialect === d).length]));
    for (const d of DIALECTS) expect(byDialect[d], d).toBeGreaterThanOrEqual(3);
  });

  it('well-typed requests with hostile contents, unknown and foreign ids', async () => {
    for (const op of operations) {
      await fc.assert(
        fc.asyncProperty(requestParts(op, typedBody(op), false), async (parts) => {
          const result = await call(op, parts);
          // Another partner's id names nothing here.
          if (result && parts.foreign)
            expect(result.status, `${result.context}: a foreign id was found`).toBeGreaterThanOrEqual(400);
        }),
        { numRuns: RUNS },
      );
    }
  });

  it('broken bodies (malformed JSON, wrong content types, odd forms) are 4xx', async () => {
    for (const op of operations.filter((o) => o.body)) {
      await fc.assert(
        fc.asyncProperty(requestParts(op, brokenBody, false), async (parts) => {
          const result = await call(op, parts);
          // A leading byte-order mark is dropped by the UTF-8 decoder, as the Encoding standard says.
          const text = parts.body!.text.replace(/^\uFEFF/, '');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          // Not JSON at all, or JSON that is no object, when JSON is what was sent: refused.
          const json = parts.body!.type.startsWith('application/json');
          if (
            result &&
            json &&
            text.trim() &&
            (parsed === undefined || typeof parsed !== 'object' || Array.isArray(parsed) || parsed === null)
          ) {
            expect(result.status, `${result.context}: a broken body was accepted`).toBeGreaterThanOrEqual(400);
          }
        }),
        { numRuns: WILD_RUNS },
      );
    }
  });

  it('bodies of the wrong shape, and broken query strings and path segments', async () => {
    for (const op of operations) {
      await fc.assert(
        fc.asyncProperty(requestParts(op, wrongShapeBody(op), true), async (parts) => {
          await call(op, parts);
        }),
        { numRuns: WILD_RUNS },
      );
    }
  });

  it('a body over MAX_BODY_BYTES is 413 with a message, on every route that takes one', async () => {
    for (const op of operations.filter((o) => o.body)) {
      const [parts] = fc.sample(
        requestParts(
          op,
          fc.constant({ type: op.body!.types[0]!, text: `{"x":"${'a'.repeat(MAX_BODY + 10)}"}` }),
          false,
        ),
        { numRuns: 1, seed: 1 },
      );
      const result = await call(op, parts!);
      expect(result!.status, result!.context).toBe(413);
      // In the dialect's own error envelope: the same shape as its "no route" answer.
      const noRoute = await h.request(`/rest/${op.dialect}/no-such-route`, { token: A.key });
      expect(shapeOf(result!.body), result!.context).toEqual(shapeOf(await noRoute.json()));
    }
  });

  it(`without credentials every route is 401 with a message; \
with another partner's key A's ids are not found`, async () => {
    for (const op of operations) {
      const [parts] = fc.sample(requestParts(op, typedBody(op), false), { numRuns: 1, seed: 7 });
      const anonymous = await h.request(parts!.path, {
        method: op.method,
        body: parts!.body?.text,
        headers: parts!.body ? { 'content-type': parts!.body.type } : {},
      });
      const text = await anonymous.text();
      expect(anonymous.status, `${op.method} ${op.path} without credentials → ${text}`).toBe(401);
      expectClearMessage(messageOf(JSON.parse(text)), `${op.method} ${op.path}`);
      const ids = op.params.filter((p) => p.in === 'path');
      if (!ids.length || op.dialect === 'embed') continue;
      for (const id of own[`${op.dialect}.${ids[0]!.name}`] ?? []) {
        const result = await call(
          op,
          {
            path: `/rest/${op.dialect}${op.path.replace(`{${ids[0]!.name}}`, id)}`,
            foreign: true,
            plain: true,
            body: parts!.body,
          },
          B.key,
        );
        expect(result!.status, `${result!.context}: B reached A's ${id}`).toBeGreaterThanOrEqual(400);
      }
    }
  });
});
