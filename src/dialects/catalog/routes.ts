// The catalog dialect's routes, declared once: they validate its requests and are its OpenAPI
// 3.1 document (served at /rest/catalog/openapi.json). Bodies come form-encoded or as JSON, so
// numbers and booleans are also taken as the strings a form sends.
import { ValidationError } from '../../errors.js';
import { boolValue, dateValue, isObject, optionalInt, stringValue } from '../common.js';
import { coerced, createRoute, dialectDocument, errorResponses, flag, ok, text, wholeNumber, z } from '../declared.js';

export const CATALOG_PREFIX = '/rest/catalog';

export const INT_MAX = 2_147_483_647;

const USER_EXAMPLE = {
  id: 1042,
  root_account_id: 7,
  canvas_user_id: null,
  registered_account_id: 7,
  canvas_root_account_uuid: 'Qm7Xk2LpR9sT4vWb8NcY1dZe3FgH5jKa6MoP0qUr',
  canvas_user_uuid: 'b3TnV8xLq2WmZ5kR7pYc9D1fG4hJ6sA0eNuKiOlM',
  user_name: 'jdoe',
  first_name: 'Jane',
  last_name: 'Doe',
  email_address: 'jane.doe@example.com',
  custom_fields: { phone: '867-5309' },
  created_at: '2026-01-15T09:30:00.000Z',
  updated_at: '2026-01-15T09:30:00.000Z',
  merged_into_user_id: null,
  time_zone: 'America/Denver',
};

const dateTime = z.string().openapi({ format: 'date-time' });
// The catalog's uuids are 40 letters (either case) and digits.
const canvasUuid = z.string().openapi({ pattern: '^[A-Za-z0-9]{40}$' });

const User = z
  .object({
    id: z.number().int(),
    root_account_id: z.number().int(),
    canvas_user_id: z.number().int().nullable(),
    registered_account_id: z.number().int(),
    canvas_root_account_uuid: canvasUuid,
    canvas_user_uuid: canvasUuid.nullable().openapi({ description: 'Null on a merged user (moved to the target).' }),
    user_name: z.string().nullable(),
    first_name: z.string().nullable(),
    last_name: z.string().nullable(),
    email_address: z.string().nullable(),
    custom_fields: z.record(z.string(), z.unknown()),
    created_at: dateTime,
    updated_at: dateTime,
    merged_into_user_id: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'Catalog id of the user this one was merged into.' }),
    time_zone: z.string().nullable(),
  })
  .openapi('User');

const RegisteredUser = User.extend({
  confirmation_url: z.string().nullable(),
  terms_of_use: z.boolean(),
  locale: z.string().nullable(),
});

const ErrorEnvelope = z
  .object({ errors: z.array(z.object({ message: z.string(), field: z.string().optional() })) })
  .openapi('Error');

/** A whole number in [1, INT_MAX]; form bodies send it as a string. */
const formInt = (description: string) =>
  coerced((v) => optionalInt(v, '', 1, INT_MAX), {
    type: ['integer', 'string'],
    pattern: '^\\d+$',
    description: `${description}; form bodies send it as a string.`,
  });

/** true/false (or 1/0): a JSON boolean or the string a form sends; absent → `fallback`. */
const formFlag = (description = '', fallback?: boolean) =>
  coerced((v) => boolValue(v, '') ?? fallback, {
    type: ['boolean', 'string'],
    description: `${description ? `${description} ` : ''}true/false (or 1/0).`,
    ...(fallback === undefined ? {} : { default: fallback }),
  });

/** custom_fields: an object, or the same as a JSON string; values are strings (or null). */
const customFields = (description: string) =>
  coerced(
    (value): Record<string, string | null> | undefined => {
      if (value === undefined || value === null || value === '') return undefined;
      let object = value;
      if (typeof value === 'string') {
        try {
          object = JSON.parse(value);
        } catch {
          throw new ValidationError('must be an object or a JSON object string', '');
        }
      }
      if (!isObject(object)) throw new ValidationError('must be an object or a JSON object string', '');
      for (const [key, v] of Object.entries(object))
        if (v !== null && typeof v !== 'string') throw new ValidationError('values must be strings or null', key);
      return object as Record<string, string | null>;
    },
    {
      description:
        `${description} An object of string (or null) values, ` +
        'or the same as a JSON string. Form bodies may also use custom_fields[key]=value.',
      oneOf: [{ type: 'object', additionalProperties: { type: ['string', 'null'] } }, { type: 'string' }],
    },
  );

/** A string the body must give (not empty). */
const requiredText = (meta: { format?: string; description?: string } = {}) =>
  coerced(
    (v) => {
      if (v === undefined || v === null || v === '') throw new ValidationError('is required', '');
      return stringValue(v, '')!;
    },
    { type: 'string', ...meta },
  );

const EMAIL = { format: 'email', description: 'Login; unique per partner (stored lower-case).' };

// The profile fields both a registration and an update take (the users service checks their
// values, as for the graph).
const profile = {
  first_name: text(),
  last_name: text(),
  time_zone: text({ description: 'IANA time zone' }),
  canvas_user_id: formInt('A whole number'),
};

const NewUser = z
  .object({
    user_name: requiredText(),
    email_address: requiredText(EMAIL),
    ...profile,
    custom_fields: customFields('Set on the new user.'),
    // The source API's register answer shows these for a user registered without them: terms
    // accepted (the partner registers the user through its own sign-up) and English.
    terms_of_use: formFlag('', true),
    locale: coerced((v) => stringValue(v, '') ?? 'en', { type: 'string', description: 'BCP 47 tag', default: 'en' }),
    registered_account_id: formInt(
      "Id of the sub-catalog (account) to register the user in (default: the key's root account)",
    ),
  })
  .openapi({ required: ['user_name', 'email_address'] })
  .openapi('NewUser');

const UserUpdate = z
  .object({
    user_name: text(),
    email_address: text(EMAIL),
    ...profile,
    custom_fields: customFields('Merged key by key: a null value deletes the key; keys not given stay.'),
    terms_of_use: formFlag(),
    locale: text({ description: 'BCP 47 tag' }),
    clear_merged_into_user_id: formFlag('true clears merged_into_user_id (and makes the user active again).'),
  })
  .openapi('UserUpdate');

const UserDelete = z.object({ only_orders_and_enrollments: formFlag() }).openapi('UserDelete');

/** A request value that is an ISO-8601 date or timestamp. */
const date = (what: string) =>
  coerced((v) => dateValue(v as string | undefined, ''), {
    type: 'string',
    format: 'date-time',
    description: `${what}. ISO-8601, e.g. 2018-01-01T00:00:00Z; UTC unless an offset is given.`,
  });

// A malformed or out-of-range id names nobody: the dialect answers 404, as for an unknown one.
const userId = z.object({
  id: z.string().openapi({ type: 'integer', minimum: 1, description: 'Catalog user id' }),
});

/** A body in either encoding; the form example is the source API's own kind of request. */
const body = <S extends z.ZodType>(
  schema: S,
  example: Record<string, unknown>,
  formExample?: Record<string, string>,
) => ({
  required: true,
  content: {
    'application/x-www-form-urlencoded': { schema, ...(formExample ? { example: formExample } : {}) },
    'application/json': { schema, example },
  },
});

const userEnvelope = (schema: z.ZodType, example: unknown) => ok(200, z.object({ user: schema }), { user: example });

export const catalogRoutes = {
  listUsers: createRoute({
    method: 'get',
    path: '/api/v1/users',
    operationId: 'listUsers',
    summary: 'List users (with a Link header)',
    request: {
      query: z.object({
        registered_in_catalog: flag({
          description: 'Every user this dialect names has a catalog identity: false selects nobody.',
        }),
        canvas_user_id: wholeNumber(1, INT_MAX),
        created_at_from: date('Created at or after'),
        created_at_to: date('Created at or before'),
        updated_at_from: date('Updated at or after'),
        updated_at_to: date('Updated at or before'),
        page: wholeNumber(1, 1_000_000, 1),
        per_page: wholeNumber(1, 100, 50),
      }),
    },
    responses: {
      ...ok(
        200,
        z.object({ users: z.array(User) }),
        { users: [USER_EXAMPLE] },
        z.object({
          Link: z.string().openapi({ description: 'rel="current", "next", "prev", "first", "last"' }),
          'X-Total-Count': z.number().int(),
        }),
      ),
      ...errorResponses([400, 403], ErrorEnvelope),
    },
  }),
  registerUser: createRoute({
    method: 'post',
    path: '/api/v1/users',
    operationId: 'registerUser',
    summary: 'Register a user',
    request: {
      body: body(
        NewUser,
        {
          user_name: 'jdoe',
          email_address: 'jane.doe@example.com',
          first_name: 'Jane',
          last_name: 'Doe',
          custom_fields: { phone: '867-5309' },
        },
        {
          user_name: 'Firstname Lastname',
          email_address: 'firstname.lastname@example.com',
          first_name: 'Firstname',
          last_name: 'Lastname',
          registered_account_id: '7',
          'custom_fields[favorite_color]': '#BADA55',
        },
      ),
    },
    responses: {
      ...userEnvelope(RegisteredUser, { ...USER_EXAMPLE, confirmation_url: null, terms_of_use: true, locale: 'en' }),
      ...errorResponses([400, 403, 404, 409], ErrorEnvelope),
    },
  }),
  getUser: createRoute({
    method: 'get',
    path: '/api/v1/users/{id}',
    operationId: 'getUser',
    summary: 'A user',
    request: { params: userId },
    responses: { ...userEnvelope(User, USER_EXAMPLE), ...errorResponses([404], ErrorEnvelope) },
  }),
  updateUser: createRoute({
    method: 'put',
    path: '/api/v1/users/{id}',
    operationId: 'updateUser',
    summary: 'Update a user; clear_merged_into_user_id=true unmerges it',
    request: {
      params: userId,
      body: body(
        UserUpdate,
        { clear_merged_into_user_id: true, custom_fields: { phone: null } },
        { clear_merged_into_user_id: 'true' },
      ),
    },
    responses: { ...userEnvelope(User, USER_EXAMPLE), ...errorResponses([400, 403, 404, 409], ErrorEnvelope) },
  }),
  deleteUser: createRoute({
    method: 'delete',
    path: '/api/v1/users/{id}',
    operationId: 'deleteUser',
    summary:
      'Delete a user with its dependencies and account admin rows, or (only_orders_and_enrollments=true) only ' +
      'its orders and enrollments',
    request: {
      params: userId,
      query: z.object({ only_orders_and_enrollments: flag() }),
      body: {
        required: false,
        content: {
          'application/x-www-form-urlencoded': { schema: UserDelete },
          'application/json': { schema: UserDelete },
        },
      },
    },
    responses: { ...ok(200, z.object({}), {}), ...errorResponses([400, 403, 404, 501], ErrorEnvelope) },
  }),
};

export const catalogOpenApi = dialectDocument(
  {
    title: 'account-gateway — catalog dialect',
    description:
      'The Users API of the course catalog. Ids are integers: users by catalog id, accounts by customer id. Bodies ' +
      'may be form-encoded or JSON. Authorization: the API key bare, as `Bearer <key>`, or as `Token token="<key>"`. ' +
      'Errors are `{"errors":[{"message":"...","field":"..."}]}`; a taken e-mail address is 409.',
    prefix: CATALOG_PREFIX,
    securitySchemes: {
      bearer: {
        type: 'apiKey',
        in: 'header',
        name: 'Authorization',
        description: 'The API key, bare or as `Bearer <key>` or `Token token="<key>"`.',
      },
    },
  },
  catalogRoutes,
);
