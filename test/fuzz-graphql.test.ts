// Property-based fuzzing of the graph. Inputs are generated from the schema itself (every
// mutation of schema.getMutationType() and every argument of every query field), so a new
// mutation or argument is fuzzed without touching this file. For each generated request:
// the HTTP status is below 500, no "Unexpected error."/INTERNAL_SERVER_ERROR, every error
// has a clear message, nothing leaks (stack, SQL, Prisma), and a rejected mutation leaves
// every table exactly as it was.
import fc from 'fast-check';
import type {
  GraphQLArgument,
  GraphQLEnumType,
  GraphQLField,
  GraphQLInputObjectType,
  GraphQLInputType,
  GraphQLNamedType,
  GraphQLScalarType,
} from 'graphql';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../src/schema.js';
import { unstorable } from '../src/validation.js';
import { OPERATOR_TOKEN, useHarness, type Partner } from './helpers/app.js';
import { mutate } from './helpers/fixtures.js';
import { hs256 } from './helpers/jwt.js';
import {
  fingerprint as storeFingerprint,
  INJECTIONS,
  expectClearMessage,
  expectNoLeak,
  hostileObject,
  hugeString,
  oddObject,
  toJsonText,
  oddString,
  show,
  wildNumber,
  wrongType,
} from './helpers/fuzz.js';

const h = useHarness({ RATE_LIMIT_PER_MINUTE: '10000000' });
const RUNS = Number(process.env.FUZZ_RUNS ?? 30);
const WILD_RUNS = Math.ceil(RUNS / 2);
const MAX_BODY = 1_000_000;

/** Ids the generators draw from, by the kind of thing they name. */
interface Pools {
  users: string[];
  accounts: string[];
  clients: string[];
  courses: string[];
  apiKeys: string[];
  other: string[];
  /** Real ids of the wrong kind for any id argument except an account's: A's root account.
   * Never drawn for an account argument (see beforeAll). */
  notAccounts: string[];
  /** Ids of the other partner, in global and native form. */
  foreign: string[];
}

let A: Partner;
let B: Partner;
let bUserToken: string;
let pools: Pools;
let clientIdentifiers: string[];

const ulidLike = fc.stringMatching(/^[0-9A-HJKMNP-TV-Z]{26}$/);

/** Ids that are malformed, of the wrong type, unknown, or hostile text. */
function badIds(p: Pools): fc.Arbitrary<string> {
  return fc.oneof(
    fc.uuid(), // unknown uuid
    fc.uuid().map((u) => encodeGlobalID('User', u)),
    ulidLike.map((u) => encodeGlobalID('Account', u)),
    fc.constantFrom(...p.users, ...p.courses).map((g) => {
      // A real id under another type's name.
      const raw = Buffer.from(g, 'base64').toString();
      const native = raw.slice(raw.indexOf(':') + 1);
      return encodeGlobalID(raw.startsWith('User') ? 'Course' : 'User', native);
    }),
    fc
      .constantFrom(...p.accounts)
      .map((g) => encodeGlobalID('User', Buffer.from(g, 'base64').toString().split(':')[1]!)),
    fc.base64String({ maxLength: 60 }),
    fc.string({ maxLength: 30 }).map((s) => Buffer.from(s).toString('base64')),
    fc.constantFrom(
      'VXNlcjo',
      'VXNlcjo=',
      '====',
      'VXNlcjpub3QtYS11dWlk',
      '!!!',
      '',
      ' ',
      'User:',
      'Account:',
      '0',
      '-1',
      'ffffffff-ffff-ffff-ffff-ffffffffffff',
      '00000000-0000-0000-0000-000000000000',
    ),
    fc.constantFrom(
      encodeGlobalID('User', "' OR 1=1 --"),
      encodeGlobalID('Nope', '1'),
      encodeGlobalID('AuditEvent', '\u0000'),
      encodeGlobalID('Course', 'x'.repeat(500)),
    ),
    fc.integer({ min: 1000, max: 100_000 }).map((n) => 'A'.repeat(n)),
    oddString,
  );
}

/** An id argument: usually one that names a real thing of the right kind, else anything. */
function idFor(field: string, typeName: string, p: Pools): fc.Arbitrary<string> {
  const kind =
    /account|parent/i.test(field) || (typeName === 'UpdateAccountInput' && field === 'id')
      ? p.accounts
      : /client/i.test(field)
        ? p.clients
        : /course/i.test(field)
          ? p.courses
          : typeName === 'RevokeApiKeyInput'
            ? p.apiKeys
            : p.users;
  const other = kind === p.accounts ? p.other : [...p.other, ...p.notAccounts];
  return fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...kind) },
    { weight: 1, arbitrary: fc.constantFrom(...other) },
    { weight: 2, arbitrary: fc.constantFrom(...p.foreign) },
    { weight: 3, arbitrary: badIds(p) },
  );
}

/** A string for a field: plausible values for what the name suggests, mixed with hostile ones. */
function stringFor(field: string, light = false): fc.Arbitrary<string> {
  const plausible: fc.Arbitrary<string> = /email/i.test(field)
    ? fc.oneof(
        fc.emailAddress(),
        fc.constantFrom(
          'a@b',
          'x@example.com',
          'UPPER@EXAMPLE.COM',
          'no-at-sign',
          'a@b@c.d',
          `${'a'.repeat(250)}@x.io`,
        ),
      )
    : /timeZone/.test(field)
      ? fc.constantFrom('Europe/Paris', 'UTC', 'Mars/Olympus', 'Etc/GMT+14', '../../etc', '')
      : /locale/.test(field)
        ? fc.constantFrom('en-GB', 'fr', 'x-klingon', 'en_US', 'zh-Hant-TW', '')
        : /clientIdentifier/.test(field)
          ? fc.constantFrom(...clientIdentifiers, 'missing-client')
          : /externalUserId|identifier|idempotencyKey/i.test(field)
            ? fc.oneof(
                fc.stringMatching(/^[a-z0-9-]{1,24}$/),
                fc.constantFrom(
                  'fz-existing-ext',
                  'fz-existing-emb',
                  'someone@example.com',
                  '+44 20 7946 0958',
                  '555-123-4567',
                  '123-45-6789',
                  'AB 12 34 56 C',
                  'a/b',
                ),
              )
            : /action/.test(field)
              ? fc.constantFrom('user.', 'user.create', 'account.', '%', '')
              : fc.string({ maxLength: 40 });
  if (light) return fc.oneof({ weight: 3, arbitrary: plausible }, { weight: 1, arbitrary: oddString });
  return fc.oneof(
    { weight: 6, arbitrary: plausible },
    { weight: 4, arbitrary: oddString },
    { weight: 1, arbitrary: fc.constantFrom(...INJECTIONS) },
    { weight: 1, arbitrary: fc.integer({ min: 256, max: 5000 }).map((n) => 'k'.repeat(n)) },
    { weight: 1, arbitrary: hugeString(MAX_BODY / 2) },
  );
}

function scalarFor(
  type: GraphQLScalarType,
  field: string,
  parent: string,
  p: Pools,
  light: boolean,
): fc.Arbitrary<unknown> {
  switch (type.name) {
    case 'String':
      return stringFor(field, light);
    case 'ID':
      return idFor(field, parent, p);
    case 'Int':
      return fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: -5, max: 200 }) },
        { weight: 2, arbitrary: fc.constantFrom(0, -1, 2 ** 31 - 1, -(2 ** 31), 1_000_000_000, 1_000_000_001) },
        { weight: 1, arbitrary: fc.integer() },
      );
    case 'Float':
      return fc.double({ noNaN: true });
    case 'Boolean':
      return fc.boolean();
    case 'JSONObject':
      return light ? oddObject : hostileObject;
    case 'JSON':
      return fc.oneof(fc.jsonValue({ maxDepth: 3 }), hostileObject);
    case 'DateTime':
      return fc.oneof(
        fc
          .date({ min: new Date('1900-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
          .map((d) => d.toISOString()),
        fc.constantFrom(
          '2024-02-30T00:00:00Z',
          '+275760-09-13T00:00:00.000Z',
          '0000-01-01T00:00:00Z',
          '1970-01-01T00:00:00Z',
          '2024-01-01',
          '2024-01-01T25:00:00Z',
          'yesterday',
          '',
        ),
      );
    case 'IPCIDR':
      return fc.oneof(
        fc.ipV4().map((ip) => `${ip}/24`),
        fc.ipV6(),
        fc.constantFrom(
          '10.0.0.0/8',
          '::1/128',
          '300.1.1.1/33',
          '1.2.3.4/-1',
          '1.2.3.4/',
          '::ffff:1.2.3.4/200',
          'localhost',
          '0.0.0.0/0',
          '',
          "'; --",
        ),
      );
    case 'EmailAddress':
      return fc.oneof(fc.emailAddress(), oddString);
    case 'UUID':
      return fc.oneof(fc.uuid(), oddString);
    case '_Any':
      // Federation representations: right and wrong typenames, keys and shapes.
      return fc.oneof(
        fc.record({
          __typename: fc.constantFrom('User', 'Account', 'Client', 'Course', 'Query', 'Nope', ''),
          id: idFor('id', 'x', p),
        }),
        fc.record({ __typename: fc.constantFrom('User'), externalUserId: stringFor('externalUserId') }),
        fc.record({ __typename: fc.constantFrom('User', 'Account'), id: wrongType }),
        hostileObject,
      );
    default:
      return oddString;
  }
}

/**
 * A value of the right GraphQL type for `type`, with odd contents. `light` (items of long
 * lists) leaves out the huge and deep values, which one item at a time covers anyway.
 */
function typed(type: GraphQLInputType, field: string, parent: string, p: Pools, light = false): fc.Arbitrary<unknown> {
  if (isNonNull(type)) return typed((type as Wrapped).ofType!, field, parent, p, light);
  if (isList(type)) {
    const inner = (type as Wrapped).ofType!;
    return fc.oneof(
      { weight: 6, arbitrary: fc.array(typed(inner, field, parent, p, light), { maxLength: 4 }) },
      { weight: 1, arbitrary: fc.array(typed(inner, field, parent, p, true), { minLength: 45, maxLength: 60 }) },
    );
  }
  if (isEnum(type)) return fc.constantFrom(...type.getValues().map((v) => v.name));
  if (!isInputObject(type)) return scalarFor(type as GraphQLScalarType, field, parent, p, light);
  const object = type;
  const fields = Object.values(object.getFields());
  const spec = Object.fromEntries(fields.map((f) => [f.name, typed(f.type, f.name, object.name, p, light)]));
  const required = fields.filter((f) => isNonNull(f.type)).map((f) => f.name);
  return fc.record(spec, { requiredKeys: required });
}

/** A structurally broken value: wrong types, missing required fields, extra fields. */
function wild(type: GraphQLInputType, field: string, parent: string, p: Pools): fc.Arbitrary<unknown> {
  const object = named(type);
  if (!isInputObject(object)) return fc.oneof(wrongType, fc.constant(undefined));
  const keys = Object.keys(object.getFields());
  return fc
    .tuple(
      typed(type, field, parent, p),
      fc.constantFrom(...keys),
      wrongType,
      fc.integer({ min: 0, max: 4 }),
      fc.string({ minLength: 1, maxLength: 10 }),
    )
    .map(([value, key, bad, op, extra]) => {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return bad;
      const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
      if (op === 0)
        delete copy[key]; // a required field may go missing
      else if (op === 1)
        copy[`extra_${extra}`] = bad; // an unknown field
      else if (op === 2)
        copy[key] = bad; // a wrong type
      else if (op === 3)
        return [copy]; // a list where an object belongs
      else copy[key] = { $gt: '' }; // an operator object where a value belongs
      return copy;
    });
}

// Type tests by shape: the schema may come from another copy of graphql (CJS vs ESM), and
// graphql's own is*Type() checks refuse types of another copy.
type Wrapped = GraphQLInputType & { ofType?: GraphQLInputType };
const isNonNull = (t: GraphQLInputType) => 'ofType' in t && String(t).endsWith('!');
const isList = (t: GraphQLInputType) => 'ofType' in t && !String(t).endsWith('!');
const isInputObject = (t: unknown): t is GraphQLInputObjectType =>
  !!t && typeof t === 'object' && 'getFields' in t && !('ofType' in t);
const isEnum = (t: unknown): t is GraphQLEnumType => !!t && typeof t === 'object' && 'getValues' in t;
function named(t: unknown): GraphQLNamedType {
  let current = t as Wrapped;
  while (current.ofType) current = current.ofType as Wrapped;
  return current as GraphQLNamedType;
}

const ERROR_CODES = new Set([
  'NOT_FOUND',
  'VALIDATION',
  'CONFLICT',
  'FORBIDDEN',
  'PII_REJECTED',
  'BACKEND_UNAVAILABLE',
  'UNSUPPORTED_BY_BACKEND',
]);

const fingerprint = () => storeFingerprint(h.store);

/** Sends one request and checks everything that holds for any answer. Returns the parsed body. */
async function send(label: string, query: string, variables: Record<string, unknown>, token: string) {
  const response = await h.request('/graphql', {
    method: 'POST',
    token,
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: toJsonText({ query, variables }),
  });
  const text = await response.text();
  const context = `${label} ${show(variables)} → ${response.status} ${text.slice(0, 500)}`;
  expect(response.status, context).toBeLessThan(500);
  expectNoLeak(text, context);
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    expect.fail(`${context}: the answer is not JSON`);
  }
  if (response.status === 413) {
    expectClearMessage(body.error ?? body.errors?.[0]?.message, context);
    return { status: response.status, body, context };
  }
  for (const error of body.errors ?? []) {
    expectClearMessage(error.message, context);
    expect(error.extensions?.code, context).not.toBe('INTERNAL_SERVER_ERROR');
  }
  return { status: response.status, body, context };
}

/** Selection for a mutation's result union: its typename and any typed error. */
function mutationSelection(name: string): string {
  const items =
    name === 'createUsers' ? '... on CreateUsersSuccess { results { __typename ... on Error { message code } } }' : '';
  return `{ __typename ... on Error { message code } ${items} }`;
}

/** Whether a mutation answer means "nothing was written". */
function rejected(outcome: any): boolean {
  if (!outcome) return true;
  if (outcome.__typename.endsWith('Error')) return true;
  if (outcome.results) return outcome.results.every((r: any) => r.__typename.endsWith('Error'));
  return false;
}

async function fuzzMutation(name: string, value: unknown, token: string) {
  const field = schema.getMutationType()!.getFields()[name]!;
  const argType = field.args[0]!.type.toString();
  const before = await fingerprint();
  const variables = value === undefined ? {} : { input: value };
  const { body, context } = await send(
    name,
    `mutation ($input: ${argType}) { ${name}(input: $input) ${mutationSelection(name)} }`,
    variables,
    token,
  );
  const outcome = body.data?.[name];
  // A typed error the mutation threw but its result union does not list surfaces as a
  // top-level error with its code (and nulls the whole answer): every typed error a mutation
  // can throw must be a member of its union (resultUnion, src/graphql/errors.ts).
  for (const error of body.errors ?? [])
    expect(ERROR_CODES.has(error.extensions?.code), `${context}: a typed error outside ${name}'s result union`).toBe(
      false,
    );
  if (outcome?.__typename?.endsWith('Error')) {
    expectClearMessage(outcome.message, context);
    expect(ERROR_CODES.has(outcome.code), context).toBe(true);
  }
  for (const item of outcome?.results ?? [])
    if (item.__typename.endsWith('Error')) expectClearMessage(item.message, context);
  if (rejected(outcome)) {
    const after = await fingerprint();
    // A bulk call whose items all failed still answered: under an idempotency key it keeps
    // those results for a retry (documented). Nothing else may change.
    if (outcome?.results) after.idempotency = before.idempotency!;
    expect(after, `${context}: a rejected call changed rows`).toEqual(before);
  }
  return outcome;
}

beforeAll(async () => {
  if (!h.ready) return;
  A = await h.newPartner('Fuzz A', 'AUTOMATE');
  B = await h.newPartner('Fuzz B', 'CORE');
  const userSel = '... on CreateUserSuccess { user { id uuid } }';
  const sub = (
    await mutate(h, A.key, 'createAccount', { name: 'fz sub' }, '... on CreateAccountSuccess { account { id ulid } }')
  ).account;
  const client = (
    await mutate(
      h,
      A.key,
      'upsertClient',
      { identifier: 'fz-client', metadata: { a: 1 } },
      '... on UpsertClientSuccess { client { id } }',
    )
  ).client;
  const users = [];
  for (const input of [
    { externalUserId: 'fz-existing-ext' },
    { email: 'fz@example.com', firstName: 'F' },
    { identifier: 'fz-existing-emb', clientIdentifier: 'fz-client', metadata: { k: 'v' } },
    { externalUserId: 'fz-2', accountId: sub.id },
    { externalUserId: 'fz-3' },
    { externalUserId: 'fz-4' },
  ]) {
    const r = await mutate(h, A.key, 'createUser', input, userSel);
    users.push(r.user);
  }
  const course = (
    await mutate(
      h,
      A.key,
      'createCourse',
      { ownerId: users[0].id, title: 'fz course' },
      '... on CreateCourseSuccess { course { id } }',
    )
  ).course.id;
  await mutate(h, A.key, 'enrollUser', { userId: users[1].id, courseId: course });
  const apiKey = (
    await mutate(h, A.key, 'createApiKey', { name: 'fz spare' }, '... on CreateApiKeySuccess { apiKey { id } }')
  ).apiKey.id;
  const bUser = (await mutate(h, B.key, 'createUser', { externalUserId: 'fz-b' }, userSel)).user;
  const bCourse = (
    await mutate(
      h,
      B.key,
      'createCourse',
      { ownerId: bUser.id, title: 'b' },
      '... on CreateCourseSuccess { course { id } }',
    )
  ).course.id;
  const bClient = (
    await mutate(
      h,
      B.key,
      'upsertClient',
      { identifier: 'fz-b-client' },
      '... on UpsertClientSuccess { client { id } }',
    )
  ).client.id;
  bUserToken = await hs256(bUser.uuid);
  const audit = await h.gql('{ auditEvents(first: 1) { edges { node { id } } } }', {}, { token: A.key });
  const auditEventId = audit.data.auditEvents.edges[0].node.id as string;
  const native = (g: string) => Buffer.from(g, 'base64').toString().split(':').slice(1).join(':');
  clientIdentifiers = ['fz-client', 'fz-b-client'];
  // The root account is never drawn for an account argument (the account pool, and the
  // wrong-kind ids an account argument may get): an allow-list on it would lock the fuzzer
  // itself out of the graph. It is still drawn as a wrong-kind id for every other argument.
  // The admin user is left out so its key keeps working.
  pools = {
    users: [...users.map((u) => u.id), ...users.map((u) => u.uuid)],
    accounts: [sub.id, sub.ulid],
    clients: [client.id, native(client.id), 'fz-client'],
    courses: [course, native(course)],
    apiKeys: [apiKey],
    other: [course, client.id, sub.id, users[0].id, apiKey, auditEventId],
    notAccounts: [A.accountGlobalId],
    foreign: [bUser.id, bUser.uuid, bCourse, bClient, B.accountGlobalId, B.accountId, B.adminGlobalId, B.adminUserId],
  };
});

const mutationNames = Object.keys(schema.getMutationType()!.getFields());

describe('fuzzing every mutation', { timeout: 180_000 }, () => {
  it('enumerates the whole Mutation type', () => {
    expect(mutationNames.length).toBeGreaterThanOrEqual(23);
  });

  for (const name of mutationNames) {
    const token = () => (name === 'createPartner' ? OPERATOR_TOKEN : A.key);
    const inputType = () => schema.getMutationType()!.getFields()[name]!.args[0]!.type;

    it(`${name}: well-typed inputs with hostile contents`, async () => {
      await fc.assert(
        fc.asyncProperty(typed(inputType(), 'input', name, pools), async (value) => {
          await fuzzMutation(name, value, token());
        }),
        { numRuns: RUNS },
      );
    });

    it(`${name}: broken inputs (wrong types, missing and extra fields)`, async () => {
      await fc.assert(
        fc.asyncProperty(wild(inputType(), 'input', name, pools), async (value) => {
          const outcome = await fuzzMutation(name, value, token());
          // A structurally broken input never reaches the service... unless the break was
          // in an optional field that GraphQL accepts (null, or a single value for a list).
          void outcome;
        }),
        { numRuns: WILD_RUNS },
      );
    });
  }

  it('a plain user (not an admin) and another partner get typed refusals, never a 500', async () => {
    for (const name of mutationNames) {
      await fc.assert(
        fc.asyncProperty(
          typed(schema.getMutationType()!.getFields()[name]!.args[0]!.type, 'input', name, pools),
          async (value) => {
            await fuzzMutation(name, value, bUserToken);
          },
        ),
        { numRuns: 5 },
      );
    }
  });
});

describe('fuzzing every query argument', { timeout: 180_000 }, () => {
  const queryFields = Object.values(schema.getQueryType()!.getFields()).filter((f) => f.args.length > 0);

  /** `{ field(args) { __typename } }` with every argument as a variable. */
  function queryFor(field: GraphQLField<unknown, unknown>) {
    const vars = field.args.map((a: GraphQLArgument) => `$${a.name}: ${a.type.toString()}`).join(', ');
    const args = field.args.map((a) => `${a.name}: $${a.name}`).join(', ');
    const type = named(field.type) as GraphQLNamedType & { getFields?: () => Record<string, unknown> };
    const selection = !type.getFields
      ? ''
      : 'totalCount' in type.getFields()
        ? '{ totalCount edges { cursor } }'
        : '{ __typename }';
    return `query (${vars}) { ${field.name}(${args}) ${selection} }`;
  }

  function argsFor(field: GraphQLField<unknown, unknown>, broken: boolean) {
    const spec = Object.fromEntries(
      field.args.map((a) => {
        const value = typed(a.type, a.name, field.name, pools);
        return [a.name, broken ? fc.oneof(value, wild(a.type, a.name, field.name, pools), wrongType) : value];
      }),
    );
    // Cursors are strings the client got from us: also try forged ones.
    for (const cursor of ['after', 'before'])
      if (cursor in spec)
        spec[cursor] = fc.oneof(
          oddString,
          fc.base64String(),
          fc.constantFrom('', 'YXJyYXljb25uZWN0aW9uOjA=', Buffer.from("' OR 1=1").toString('base64')),
        );
    for (const n of ['first', 'last']) if (n in spec) spec[n] = fc.oneof(fc.integer({ min: -3, max: 150 }), wildNumber);
    const required = field.args.filter((a) => isNonNull(a.type)).map((a) => a.name);
    return fc.record(spec, { requiredKeys: broken ? [] : required });
  }

  for (const field of queryFields) {
    it(`${field.name}(${field.args.map((a) => a.name).join(', ')})`, async () => {
      const before = await fingerprint();
      await fc.assert(
        fc.asyncProperty(
          argsFor(field, false),
          argsFor(field, true),
          fc.constantFrom('admin', 'admin', 'plain user of B', 'operator'),
          async (good, bad, who) => {
            const token = who === 'admin' ? A.key : who === 'operator' ? OPERATOR_TOKEN : bUserToken;
            for (const variables of [good, bad]) {
              const { body, context } = await send(
                `${field.name} as ${who}`,
                queryFor(field),
                variables as Record<string, unknown>,
                token,
              );
              for (const error of body.errors ?? []) expect(error.extensions?.code ?? 'GRAPHQL', context).toBeTruthy();
            }
          },
        ),
        { numRuns: RUNS },
      );
      expect(await fingerprint(), 'a read changed rows').toEqual(before);
    });
  }

  it('node and nodes: ids of every kind resolve to a node or null, never an error of ours', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(idFor('id', 'x', pools), badIds(pools)), { minLength: 1, maxLength: 20 }),
        fc.constantFrom('admin', 'plain user of B', 'operator'),
        async (ids, who) => {
          const token = who === 'admin' ? A.key : who === 'operator' ? OPERATOR_TOKEN : bUserToken;
          const { body, context } = await send(
            `nodes as ${who}`,
            'query ($ids: [ID!]!) { nodes(ids: $ids) { id } }',
            { ids },
            token,
          );
          if (unstorable(ids)) {
            // Text no column can hold is refused up front, whatever it was meant to be.
            expect(body.errors?.[0]?.extensions?.code, context).toBe('BAD_USER_INPUT');
            return;
          }
          expect(body.errors, context).toBeUndefined();
          expect(body.data.nodes, context).toHaveLength(ids.length);
          // Foreign ids are never found.
          ids.forEach((id, i) => {
            if (pools.foreign.includes(id) && who === 'admin')
              expect(body.data.nodes[i], `${context}: ${id} of partner B found`).toBeNull();
            if (who !== 'admin' && !pools.foreign.includes(id))
              expect(body.data.nodes[i], `${context}: ${id} of partner A found`).toBeNull();
          });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('a body over MAX_BODY_BYTES gets 413 with a message', async () => {
    const { status, body } = await send(
      'huge',
      'query ($s: String!) { client(identifier: $s) { id } }',
      { s: 'x'.repeat(MAX_BODY + 10) },
      A.key,
    );
    expect(status).toBe(413);
    expect(body.errors?.[0]?.message).toMatch(/larger than/);
  });
});

describe('after fuzzing', () => {
  it("left A's root account without an allow-list, so the fuzzer was never locked out", async () => {
    const root = await h.store.prisma.account.findUniqueOrThrow({
      where: { id: A.accountId },
      select: { allowedIps: true, requireIpApiAccess: true, requireIpGqlAccess: true },
    });
    expect(root).toEqual({ allowedIps: [], requireIpApiAccess: false, requireIpGqlAccess: false });
    const { status, data } = await h.gql('{ viewer { __typename } }', {}, { token: A.key });
    expect(status).toBe(200);
    expect(data?.viewer?.__typename).toBeTruthy();
  });
});
