// The learning dialect's routes, declared once: they validate its requests and are its OpenAPI
// 3.1 document (served at /rest/learning/openapi.json).
import { ValidationError } from '../../errors.js';
import { coerced, createRoute, dialectDocument, errorResponses, ok, REASONS, z } from '../declared.js';

export const LEARNING_PREFIX = '/rest/learning';

const ACCOUNT_EXAMPLE = {
  id: '0193a5c2-8b1e-7c3d-9f00-4d2a1b3c4e5f',
  external_user_id: 'abc322',
  entitlements: ['create_learning_instance'],
};
const DUPLICATE = 'Duplicate account with abc322';

const Account = z
  .object({
    id: z.string().openapi({ format: 'uuid' }),
    external_user_id: z
      .string()
      .nullable()
      .openapi({ description: 'Null for a user created without a learning identity.' }),
    entitlements: z
      .array(z.string().openapi({ example: 'create_learning_instance' }))
      .optional()
      .openapi({ description: 'Lower-case; absent when the account has none.' }),
  })
  .openapi('Account');

/** The external_user_id of a creation (the users service checks its length and content). */
export const externalUserId = coerced(
  (value) => {
    if (value === undefined || value === null) throw new ValidationError('is required', '');
    if (typeof value !== 'string') throw new ValidationError('must be a string', '');
    return value;
  },
  { type: 'string', minLength: 1, maxLength: 255 },
);

const NewAccount = z
  .object({ external_user_id: externalUserId })
  .openapi({ required: ['external_user_id'] })
  .openapi('NewAccount');

const ErrorEnvelope = z
  .object({
    code: z.number().int().openapi({ example: 422 }),
    error_message: z
      .string()
      .openapi({ example: DUPLICATE, description: 'A duplicate names the taken external_user_id.' }),
  })
  .openapi('Error');

// The batch's items are answered one by one (each with its own code), so the dialect reads them
// itself: the declaration documents them without refusing the whole request.
const BatchRequest = z
  .object({
    requests: z
      .unknown()
      .optional()
      .openapi({
        type: 'array',
        minItems: 1,
        maxItems: 50,
        items: {
          type: 'object',
          required: ['method', 'relative_url', 'body'],
          properties: {
            method: { const: 'post' },
            relative_url: { const: '/accounts' },
            body: { $ref: '#/components/schemas/NewAccount' },
          },
        },
      }),
  })
  .openapi({ required: ['requests'] })
  .openapi('BatchRequest');

const BatchResponse = z
  .object({
    responses: z
      .array(
        z.object({
          code: z
            .number()
            .int()
            .openapi({ description: '200, or the status the request would have had on its own (400, 403, 404, 422).' }),
          body: z.union([
            z.object({ external_user_id: z.string(), account_id: z.string().openapi({ format: 'uuid' }) }),
            ErrorEnvelope,
          ]),
        }),
      )
      .openapi({ description: 'One per request, in request order.' }),
  })
  .openapi('BatchResponse');

const accountId = z.object({
  account_id: z.string().openapi({ format: 'uuid', description: 'The account (user) id.' }),
});

export const learningRoutes = {
  createAccount: createRoute({
    method: 'post',
    path: '/accounts',
    operationId: 'createAccount',
    summary: 'Create an account (admin)',
    request: {
      body: {
        required: true,
        content: { 'application/json': { schema: NewAccount, example: { external_user_id: 'abc322' } } },
      },
    },
    responses: {
      ...ok(200, Account, { id: ACCOUNT_EXAMPLE.id, external_user_id: 'abc322' }),
      ...errorResponses([400, 403, 422], ErrorEnvelope),
    },
  }),
  getCurrentAccount: createRoute({
    method: 'get',
    path: '/accounts/current',
    operationId: 'getCurrentAccount',
    summary: "The caller's own account",
    responses: { ...ok(200, Account, ACCOUNT_EXAMPLE), ...errorResponses([403, 404], ErrorEnvelope) },
  }),
  getAccount: createRoute({
    method: 'get',
    path: '/accounts/{account_id}',
    operationId: 'getAccount',
    summary: 'An account (admin, or the user itself)',
    request: { params: accountId },
    responses: { ...ok(200, Account, ACCOUNT_EXAMPLE), ...errorResponses([404], ErrorEnvelope) },
  }),
  disableAccount: createRoute({
    method: 'delete',
    path: '/accounts/{account_id}',
    operationId: 'disableAccount',
    summary: 'Disable an account (admin). Its external_user_id stays taken.',
    request: { params: accountId },
    responses: { 204: { description: REASONS[204]! }, ...errorResponses([403, 404, 422], ErrorEnvelope) },
  }),
  batch: createRoute({
    method: 'post',
    path: '/batch',
    operationId: 'batch',
    summary: 'Create up to 50 accounts (deprecated: answers carry a Deprecation header)',
    deprecated: true,
    request: {
      body: {
        required: true,
        content: {
          'application/json': {
            schema: BatchRequest,
            example: {
              requests: [
                { method: 'post', relative_url: '/accounts', body: { external_user_id: 'abc323' } },
                { method: 'post', relative_url: '/accounts', body: { external_user_id: 'abc322' } },
              ],
            },
          },
        },
      },
    },
    responses: {
      ...ok(
        200,
        BatchResponse,
        {
          responses: [
            { code: 200, body: { external_user_id: 'abc323', account_id: '0193a5c2-8b1f-7e21-8a3c-5b6d7e8f9a0b' } },
            { code: 422, body: { code: 422, error_message: DUPLICATE } },
          ],
        },
        z.object({ Deprecation: z.string().openapi({ description: 'Always "true".' }) }),
      ),
      ...errorResponses([400, 403], ErrorEnvelope),
    },
  }),
};

export const learningOpenApi = dialectDocument(
  {
    title: 'account-gateway — learning dialect',
    description:
      'The partner Accounts API of the adaptive-learning platform. An account is one end user of the partner app; ' +
      '`external_user_id` is partner-scoped and must be anonymized (no e-mail address, phone number or national id). ' +
      'Every error is `{"code": <status>, "error_message": "..."}`.',
    prefix: LEARNING_PREFIX,
  },
  learningRoutes,
);
