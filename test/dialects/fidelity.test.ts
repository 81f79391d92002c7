// Each dialect says what its source API says. For every dialect: the OpenAPI document's own
// examples fit its schemas; the document's sample requests, replayed in the order a client
// would send them, are answered with a documented status, in the documented schema (no
// undocumented field) and with the value types of the documented sample answer; and the
// answers have the value forms of the source API's published samples (booleans where the
// source has booleans, upper-case coverage flags, 40-character mixed-case catalog uuids,
// duplicates named by their key).
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Partner } from '../helpers/app.js';
import { mutate } from '../helpers/fixtures.js';
import { graph, rest, type RestAnswer, type RestOptions } from './helpers.js';
import { check, typeDifferences, type Schema } from './schema-check.js';

const h = useHarness();

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

interface Operation {
  method: string;
  path: string;
  op: Schema;
}

const operationsOf = (doc: any): Operation[] =>
  Object.entries(doc.paths as Record<string, Record<string, Schema>>).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((m) => METHODS.includes(m))
      .map((method) => ({ method: method.toUpperCase(), path, op: item[method]! })),
  );

/** Form fields in bracket notation (custom_fields[phone]) as the nested object the dialect reads. */
function formAsObject(form: Record<string, string>): Record<string, unknown> {
  const out: Record<string, any> = {};
  for (const [key, value] of Object.entries(form)) {
    const nested = /^([^[\]]+)\[([^[\]]*)\]$/.exec(key);
    if (nested) {
      out[nested[1]!] ??= {};
      out[nested[1]!]![nested[2]!] = value;
    } else out[key] = value;
  }
  return out;
}

/** One replayed request: a documented operation, its sample body in one encoding, path values. */
interface Step {
  method: string;
  path: string;
  params?: () => Record<string, string>;
  encoding?: 'application/json' | 'application/x-www-form-urlencoded';
  /** Values of the sample that name things of this store (an account id, say). */
  override?: () => Record<string, unknown>;
  query?: string;
  after?: (answer: RestAnswer) => void;
}

interface DialectCase {
  prefix: string;
  auth: (key: string) => Pick<RestOptions, 'token' | 'authorization'>;
  steps: (state: Record<string, any>) => Step[];
  /** A request for something that does not exist, answered in the error envelope. */
  missing: string;
}

function expectDocumentedAnswer(doc: any, step: Step, op: Schema, answer: RestAnswer) {
  const where = `${step.method} ${step.path}${step.encoding ? ` (${step.encoding})` : ''}`;
  const documented = op.responses[String(answer.status)];
  expect(
    documented,
    `${where} answered ${answer.status}, which its document does not list: ${answer.text.slice(0, 300)}`,
  ).toBeDefined();
  expect(answer.status, `${where}: ${answer.text.slice(0, 300)}`).toBeLessThan(300);
  const content = documented.content?.['application/json'];
  if (!content) {
    expect(answer.text, `${where} answers no body`).toBe('');
    return;
  }
  expect(check(doc, content.schema, answer.body, { strict: true }), `${where} in its documented schema`).toEqual([]);
  if (content.example !== undefined)
    expect(
      typeDifferences(content.example, answer.body),
      `${where}: value types of the documented sample answer`,
    ).toEqual([]);
}

const CASES: Record<string, DialectCase> = {
  learning: {
    prefix: '/rest/learning',
    auth: (key) => ({ token: key }),
    missing: '/accounts/00000000-0000-7000-8000-000000000000',
    steps: (state) => [
      { method: 'POST', path: '/accounts', after: (a) => (state.accountId = a.body.id) },
      { method: 'GET', path: '/accounts/current' },
      { method: 'GET', path: '/accounts/{account_id}', params: () => ({ account_id: state.accountId }) },
      // The sample batch creates one account and repeats the key the sample POST took.
      { method: 'POST', path: '/batch' },
      { method: 'DELETE', path: '/accounts/{account_id}', params: () => ({ account_id: state.accountId }) },
    ],
  },
  catalog: {
    prefix: '/rest/catalog',
    auth: (key) => ({ authorization: key }),
    missing: '/api/v1/users/2147483647',
    steps: (state) => [
      {
        method: 'POST',
        path: '/api/v1/users',
        encoding: 'application/json',
        after: (a) => (state.userId = a.body.user.id),
      },
      {
        method: 'POST',
        path: '/api/v1/users',
        encoding: 'application/x-www-form-urlencoded',
        override: () => ({ registered_account_id: String(state.subCustomerId) }),
        after: (a) => expect(a.body.user.registered_account_id).toBe(state.subCustomerId),
      },
      { method: 'GET', path: '/api/v1/users', query: '?per_page=10' },
      { method: 'GET', path: '/api/v1/users/{id}', params: () => ({ id: String(state.userId) }) },
      {
        method: 'PUT',
        path: '/api/v1/users/{id}',
        encoding: 'application/json',
        params: () => ({ id: String(state.userId) }),
      },
      {
        method: 'PUT',
        path: '/api/v1/users/{id}',
        encoding: 'application/x-www-form-urlencoded',
        params: () => ({ id: String(state.userId) }),
      },
      { method: 'DELETE', path: '/api/v1/users/{id}', params: () => ({ id: String(state.userId) }) },
    ],
  },
  messaging: {
    prefix: '/rest/messaging',
    auth: (key) => ({ token: key }),
    missing: '/api/v1/accounts/01JD3ZKQ8M4S6T7V9W0X1Y2Z3A',
    steps: (state) => [
      { method: 'POST', path: '/api/v1/accounts', after: (a) => (state.accountId = a.body.data.id) },
      { method: 'GET', path: '/api/v1/accounts' },
      { method: 'GET', path: '/api/v1/accounts/{id}', params: () => ({ id: state.accountId }) },
    ],
  },
  embed: {
    prefix: '/rest/embed',
    auth: (key) => ({ token: key }),
    missing: '/v1/headless/user/nobody-at-all',
    steps: (state) => [
      // The sample user belongs to the sample client.
      { method: 'PUT', path: '/v1/headless/client/{identifier}', params: () => ({ identifier: state.client }) },
      { method: 'PUT', path: '/v1/headless/user/{identifier}', params: () => ({ identifier: state.user }) },
      { method: 'GET', path: '/v1/headless/clients' },
      { method: 'GET', path: '/v1/headless/client/{identifier}', params: () => ({ identifier: state.client }) },
      { method: 'GET', path: '/v1/headless/users' },
      { method: 'GET', path: '/v1/headless/user/{identifier}', params: () => ({ identifier: state.user }) },
      { method: 'DELETE', path: '/v1/headless/user/{identifier}', params: () => ({ identifier: state.user }) },
      { method: 'DELETE', path: '/v1/headless/client/{identifier}', params: () => ({ identifier: state.client }) },
    ],
  },
};

describe.each(Object.entries(CASES))('%s', (name, dialect) => {
  let partner: Partner;
  let doc: any;
  const state: Record<string, any> = {};

  beforeAll(async () => {
    if (!h.ready) return;
    partner = await h.newPartner(`Fidelity ${name}`, 'AUTOMATE');
    doc = (await rest(h, 'GET', `${dialect.prefix}/openapi.json`, { token: partner.key })).body;
    const sub = await mutate(
      h,
      partner.key,
      'createAccount',
      { name: 'Fidelity sub' },
      '... on CreateAccountSuccess { account { customerId } }',
    );
    state.subCustomerId = sub.account.customerId;
    state.client =
      doc.paths['/v1/headless/user/{identifier}']?.put.requestBody.content['application/json'].example.clientIdentifier;
    state.user = state.client && 'learner-42';
  });

  it('fits its own examples to its own schemas', () => {
    for (const { method, path, op } of operationsOf(doc)) {
      for (const [type, content] of Object.entries<Schema>(op.requestBody?.content ?? {})) {
        if (content.example === undefined) continue;
        const example = type === 'application/x-www-form-urlencoded' ? formAsObject(content.example) : content.example;
        expect(check(doc, content.schema, example), `${method} ${path} request (${type})`).toEqual([]);
      }
      for (const [status, response] of Object.entries<Schema>(op.responses)) {
        const content = response.content?.['application/json'];
        if (content?.example !== undefined)
          expect(check(doc, content.schema, content.example, { strict: true }), `${method} ${path} ${status}`).toEqual(
            [],
          );
      }
    }
  });

  it('answers its sample requests as documented', async () => {
    const steps = dialect.steps(state);
    // Every documented operation is replayed.
    const replayed = new Set(steps.map((s) => `${s.method} ${s.path}`));
    expect(
      operationsOf(doc)
        .map((o) => `${o.method} ${o.path}`)
        .filter((o) => !replayed.has(o)),
    ).toEqual([]);
    for (const step of steps) {
      const { op } = operationsOf(doc).find((o) => o.method === step.method && o.path === step.path)!;
      const contents = op.requestBody?.content ?? {};
      const encoding =
        step.encoding ?? (contents['application/json']?.example !== undefined ? 'application/json' : undefined);
      const example = encoding ? contents[encoding]?.example : undefined;
      if (encoding) expect(example, `${step.method} ${step.path} has a sample ${encoding} body`).toBeDefined();
      const body = example === undefined ? undefined : { ...example, ...step.override?.() };
      const path = step.path.replace(/\{(\w+)\}/g, (_, param: string) => encodeURIComponent(step.params!()[param]!));
      const answer = await rest(h, step.method, `${dialect.prefix}${path}${step.query ?? ''}`, {
        ...dialect.auth(partner.key),
        ...(body === undefined
          ? {}
          : encoding === 'application/json'
            ? { json: body }
            : { form: body as Record<string, string> }),
      });
      expectDocumentedAnswer(doc, { ...step, encoding }, op, answer);
      step.after?.(answer);
    }
  });

  it('answers an unknown id in its documented error schema', async () => {
    const answer = await rest(h, 'GET', `${dialect.prefix}${dialect.missing}`, dialect.auth(partner.key));
    expect(answer.status).toBe(404);
    expect(check(doc, doc.components.schemas.Error, answer.body, { strict: true })).toEqual([]);
  });
});

// Samples published with the source APIs (values changed, shapes and value forms kept): what
// an integration built against the source expects to read.
const SOURCE = {
  messagingAccount: {
    customer_id: 0,
    id: '01J0CRVTXX9KBD9NWS02R5R8RT',
    inserted_at: '2024-06-14T00:00:00.000000Z',
    legacy_access: false,
    lrn_access: false,
    mms_access: 'NONE',
    name: 'ACME Corp',
    require_ip_api_access: false,
    require_ip_gql_access: false,
    sms_access: 'NONE',
    updated_at: '2024-06-14T00:00:00.000000Z',
  },
  catalogUser: {
    id: 1,
    root_account_id: 40,
    canvas_user_id: 2,
    registered_account_id: 40,
    canvas_root_account_uuid: 'Hq8LzW3nPd0sKe5YtR7uVb2XmAc9FgJ1oNi4ZlDw',
    canvas_user_uuid: '4Tb9XkQ2mZr7Lp0WsYd3NvC8eHu1JgF6aKo5RiMx',
    user_name: 'Firstname Lastname',
    first_name: 'Firstname',
    last_name: 'Lastname',
    email_address: 'firstname.lastname@example.com',
    custom_fields: { favorite_color: '#BADA55', code_of_conduct: '1', age: '19' },
    created_at: '2024-04-11T15:33:45.503Z',
    updated_at: '2024-04-11T15:33:45.563514Z',
    merged_into_user_id: 4,
    time_zone: 'Etc/UTC',
  },
  /** The learning API's duplicate answer, for external_user_id abc322. */
  learningDuplicate: { code: 422, error_message: 'Duplicate account with abc322' },
};

describe('the source APIs’ own samples', () => {
  let partner: Partner;
  const docs: Record<string, any> = {};

  beforeAll(async () => {
    if (!h.ready) return;
    partner = await h.newPartner('Fidelity sources', 'AUTOMATE');
    for (const name of ['learning', 'catalog', 'messaging'])
      docs[name] = (await rest(h, 'GET', `/rest/${name}/openapi.json`, { token: partner.key })).body;
  });

  it(`messaging: a sub-account created with the sample request reads with the sample answer’s value \
forms`, async () => {
    const created = await rest(h, 'POST', '/rest/messaging/api/v1/accounts', {
      token: partner.key,
      json: { data: { name: 'ACME Corp' }, type: 'account' },
    });
    expect(created.status).toBe(201);
    const answer = created.body.data;
    expect(Object.keys(answer).sort()).toEqual(Object.keys(SOURCE.messagingAccount).sort());
    expect(typeDifferences(SOURCE.messagingAccount, answer)).toEqual([]);
    expect(answer).toMatchObject({ legacy_access: false, lrn_access: false, mms_access: 'NONE', sms_access: 'NONE' });
    expect(
      check(docs.messaging, docs.messaging.components.schemas.Account, SOURCE.messagingAccount, { strict: true }),
    ).toEqual([]);
    // Listed, every item has the same forms.
    const list = await rest(h, 'GET', '/rest/messaging/api/v1/accounts', { token: partner.key });
    for (const item of list.body.data.items) expect(typeDifferences(SOURCE.messagingAccount, item.data)).toEqual([]);
  });

  it('catalog: a registered user reads with the sample user’s fields and value forms', async () => {
    const form = {
      user_name: 'Firstname Lastname',
      email_address: 'sample.user@example.com',
      first_name: 'Firstname',
      last_name: 'Lastname',
      'custom_fields[favorite_color]': '#BADA55',
    };
    const registered = await rest(h, 'POST', '/rest/catalog/api/v1/users', { authorization: partner.key, form });
    expect(registered.status).toBe(200);
    const read = await rest(h, 'GET', `/rest/catalog/api/v1/users/${registered.body.user.id}`, {
      authorization: partner.key,
    });
    expect(Object.keys(read.body.user)).toEqual(Object.keys(SOURCE.catalogUser));
    expect(typeDifferences(SOURCE.catalogUser, read.body.user)).toEqual([]);
    for (const key of ['canvas_root_account_uuid', 'canvas_user_uuid'] as const) {
      expect(SOURCE.catalogUser[key]).toMatch(/^[A-Za-z0-9]{40}$/);
      expect(read.body.user[key]).toMatch(/^[A-Za-z0-9]{40}$/);
    }
    expect(check(docs.catalog, docs.catalog.components.schemas.User, SOURCE.catalogUser, { strict: true })).toEqual([]);
    expect(registered.body.user).toMatchObject({ terms_of_use: true, locale: 'en', confirmation_url: null });
  });

  it('learning: a taken external_user_id is answered as in the sample, naming the key', async () => {
    expect(
      (await rest(h, 'POST', '/rest/learning/accounts', { token: partner.key, json: { external_user_id: 'abc322' } }))
        .status,
    ).toBe(200);
    const again = await rest(h, 'POST', '/rest/learning/accounts', {
      token: partner.key,
      json: { external_user_id: 'abc322' },
    });
    expect(again.status).toBe(422);
    expect(again.body).toEqual(SOURCE.learningDuplicate);
    expect(check(docs.learning, docs.learning.components.schemas.Error, again.body, { strict: true })).toEqual([]);
  });

  it('the graph carries the messaging booleans as Boolean', async () => {
    const data = await graph(
      h,
      partner.key,
      `query ($id: ID!) { account(id: $id) { legacyAccess lrnAccess smsAccess } }`,
      { id: partner.accountId },
    );
    expect(data.account).toEqual({ legacyAccess: false, lrnAccess: false, smsAccess: 'NONE' });
  });
});
