// OpenAPI 3.1 document of the catalog dialect (served at /rest/catalog/openapi.json).
import { dateTime, errorResponses, openApiDocument, pathParam, queryParam, ref, response } from '../openapi.js';

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

const str = { type: 'string' };
// The catalog's uuids are 40 letters (either case) and digits.
const canvasUuid = { type: 'string', pattern: '^[A-Za-z0-9]{40}$' };
const nstr = { type: ['string', 'null'] };
const nint = { type: ['integer', 'null'] };

const profileProperties = {
  user_name: str,
  first_name: str,
  last_name: str,
  email_address: { type: 'string', format: 'email', description: 'Login; unique per partner (stored lower-case).' },
  custom_fields: {
    description:
      'An object of string (or null) values, or the same as a JSON string. Form bodies may also use custom_fields[key]=value.',
    oneOf: [{ type: 'object', additionalProperties: { type: ['string', 'null'] } }, { type: 'string' }],
  },
  time_zone: { type: 'string', description: 'IANA time zone' },
  locale: { type: 'string', description: 'BCP 47 tag' },
  terms_of_use: { type: ['boolean', 'string'], description: 'true/false (or 1/0).' },
  canvas_user_id: {
    type: ['integer', 'string'],
    pattern: '^\\d+$',
    description: 'A whole number; form bodies send it as a string.',
  },
};

/** A body in either encoding; the form example is the source API's own kind of request. */
const body = (
  schema: Record<string, unknown>,
  example: Record<string, unknown>,
  formExample?: Record<string, string>,
) => ({
  required: true,
  content: {
    'application/x-www-form-urlencoded': { schema, ...(formExample ? { example: formExample } : {}) },
    'application/json': { schema, example },
  },
});

const userId = pathParam('id', { type: 'integer', minimum: 1 }, 'Catalog user id');
const dateQuery = (name: string, what: string) =>
  queryParam(name, dateTime, `${what}. ISO-8601, e.g. 2018-01-01T00:00:00Z; UTC unless an offset is given.`);

export const catalogOpenApi = openApiDocument({
  title: 'account-gateway — catalog dialect',
  description:
    'The Users API of the course catalog. Ids are integers: users by catalog id, accounts by customer id. Bodies may be ' +
    'form-encoded or JSON. Authorization: the API key bare, as `Bearer <key>`, or as `Token token="<key>"`. ' +
    'Errors are `{"errors":[{"message":"...","field":"..."}]}`; a taken e-mail address is 409.',
  prefix: '/rest/catalog',
  securitySchemes: {
    bearer: {
      type: 'apiKey',
      in: 'header',
      name: 'Authorization',
      description: 'The API key, bare or as `Bearer <key>` or `Token token="<key>"`.',
    },
  },
  schemas: {
    User: {
      type: 'object',
      properties: {
        id: { type: 'integer' },
        root_account_id: { type: 'integer' },
        canvas_user_id: nint,
        registered_account_id: { type: 'integer' },
        canvas_root_account_uuid: canvasUuid,
        canvas_user_uuid: {
          ...canvasUuid,
          type: ['string', 'null'],
          description: 'Null on a merged user (moved to the target).',
        },
        user_name: nstr,
        first_name: nstr,
        last_name: nstr,
        email_address: nstr,
        custom_fields: { type: 'object', additionalProperties: true },
        created_at: dateTime,
        updated_at: dateTime,
        merged_into_user_id: { ...nint, description: 'Catalog id of the user this one was merged into.' },
        time_zone: nstr,
      },
    },
    NewUser: {
      type: 'object',
      required: ['user_name', 'email_address'],
      properties: {
        ...profileProperties,
        terms_of_use: { ...profileProperties.terms_of_use, default: true },
        locale: { ...profileProperties.locale, default: 'en' },
        registered_account_id: {
          type: ['integer', 'string'],
          pattern: '^\\d+$',
          description:
            "Id of the sub-catalog (account) to register the user in; form bodies send it as a string. Defaults to the key's root account.",
        },
      },
    },
    UserUpdate: {
      type: 'object',
      properties: {
        ...profileProperties,
        custom_fields: {
          ...profileProperties.custom_fields,
          description: 'Merged key by key: a null value deletes the key; keys not given stay.',
        },
        clear_merged_into_user_id: {
          type: ['boolean', 'string'],
          description: 'true clears merged_into_user_id (and makes the user active again).',
        },
      },
    },
    UserDelete: { type: 'object', properties: { only_orders_and_enrollments: { type: ['boolean', 'string'] } } },
    Error: {
      type: 'object',
      required: ['errors'],
      properties: {
        errors: {
          type: 'array',
          items: { type: 'object', required: ['message'], properties: { message: str, field: str } },
        },
      },
    },
  },
  paths: {
    '/api/v1/users': {
      get: {
        operationId: 'listUsers',
        summary: 'List users (with a Link header)',
        parameters: [
          queryParam(
            'registered_in_catalog',
            { type: 'boolean' },
            'Every user this dialect names has a catalog identity: false selects nobody.',
          ),
          queryParam('canvas_user_id', { type: 'integer' }),
          dateQuery('created_at_from', 'Created at or after'),
          dateQuery('created_at_to', 'Created at or before'),
          dateQuery('updated_at_from', 'Updated at or after'),
          dateQuery('updated_at_to', 'Updated at or before'),
          queryParam('page', { type: 'integer', minimum: 1, default: 1 }),
          queryParam('per_page', { type: 'integer', minimum: 1, maximum: 100, default: 50 }),
        ],
        responses: {
          ...response(
            200,
            { type: 'object', properties: { users: { type: 'array', items: ref('User') } } },
            { users: [USER_EXAMPLE] },
            {
              Link: { schema: str, description: 'rel="current", "next", "prev", "first", "last"' },
              'X-Total-Count': { schema: { type: 'integer' } },
            },
          ),
          ...errorResponses([400, 403]),
        },
      },
      post: {
        operationId: 'registerUser',
        summary: 'Register a user',
        requestBody: body(
          ref('NewUser'),
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
        responses: {
          ...response(
            200,
            {
              type: 'object',
              properties: {
                user: {
                  allOf: [
                    ref('User'),
                    {
                      type: 'object',
                      properties: { confirmation_url: nstr, terms_of_use: { type: 'boolean' }, locale: nstr },
                    },
                  ],
                },
              },
            },
            {
              user: { ...USER_EXAMPLE, confirmation_url: null, terms_of_use: true, locale: 'en' },
            },
          ),
          ...errorResponses([400, 403, 404, 409]),
        },
      },
    },
    '/api/v1/users/{id}': {
      get: {
        operationId: 'getUser',
        summary: 'A user',
        parameters: [userId],
        responses: {
          ...response(200, { type: 'object', properties: { user: ref('User') } }, { user: USER_EXAMPLE }),
          ...errorResponses([404]),
        },
      },
      put: {
        operationId: 'updateUser',
        summary: 'Update a user; clear_merged_into_user_id=true unmerges it',
        parameters: [userId],
        requestBody: body(
          ref('UserUpdate'),
          { clear_merged_into_user_id: true, custom_fields: { phone: null } },
          { clear_merged_into_user_id: 'true' },
        ),
        responses: {
          ...response(200, { type: 'object', properties: { user: ref('User') } }, { user: USER_EXAMPLE }),
          ...errorResponses([400, 403, 404, 409]),
        },
      },
      delete: {
        operationId: 'deleteUser',
        summary:
          'Delete a user with its dependencies and account admin rows, or (only_orders_and_enrollments=true) only its orders and enrollments',
        parameters: [userId, queryParam('only_orders_and_enrollments', { type: 'boolean' })],
        requestBody: {
          required: false,
          content: {
            'application/x-www-form-urlencoded': { schema: ref('UserDelete') },
            'application/json': { schema: ref('UserDelete') },
          },
        },
        responses: { ...response(200, { type: 'object' }, {}), ...errorResponses([400, 403, 404]) },
      },
    },
  },
});
