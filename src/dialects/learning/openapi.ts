// OpenAPI 3.1 document of the learning dialect (served at /rest/learning/openapi.json).
import { errorResponses, jsonContent, openApiDocument, pathParam, ref, response } from '../openapi.js';

const ACCOUNT_EXAMPLE = {
  id: '0193a5c2-8b1e-7c3d-9f00-4d2a1b3c4e5f',
  external_user_id: 'abc322',
  entitlements: ['create_learning_instance'],
};
const DUPLICATE = 'Duplicate account with abc322';

const accountId = pathParam('account_id', { type: 'string', format: 'uuid' }, 'The account (user) id.');

export const learningOpenApi = openApiDocument({
  title: 'account-gateway — learning dialect',
  description:
    'The partner Accounts API of the adaptive-learning platform. An account is one end user of the partner app; ' +
    '`external_user_id` is partner-scoped and must be anonymized (no e-mail address, phone number or national id). ' +
    'Every error is `{"code": <status>, "error_message": "..."}`.',
  prefix: '/rest/learning',
  schemas: {
    Account: {
      type: 'object',
      required: ['id', 'external_user_id'],
      properties: {
        id: { type: 'string', format: 'uuid' },
        external_user_id: { type: ['string', 'null'], description: 'Null for a user created without a learning identity.' },
        entitlements: { type: 'array', items: { type: 'string', example: 'create_learning_instance' }, description: 'Lower-case; absent when the account has none.' },
      },
    },
    NewAccount: {
      type: 'object',
      required: ['external_user_id'],
      properties: { external_user_id: { type: 'string', minLength: 1, maxLength: 255 } },
    },
    BatchRequest: {
      type: 'object',
      required: ['requests'],
      properties: {
        requests: {
          type: 'array',
          minItems: 1,
          maxItems: 50,
          items: {
            type: 'object',
            required: ['method', 'relative_url', 'body'],
            properties: { method: { const: 'post' }, relative_url: { const: '/accounts' }, body: ref('NewAccount') },
          },
        },
      },
    },
    BatchResponse: {
      type: 'object',
      required: ['responses'],
      properties: {
        responses: {
          type: 'array',
          description: 'One per request, in request order.',
          items: {
            type: 'object',
            required: ['code', 'body'],
            properties: {
              code: { type: 'integer', description: '200, or the status the request would have had on its own (400, 403, 404, 422).' },
              body: {
                oneOf: [
                  { type: 'object', required: ['external_user_id', 'account_id'], properties: { external_user_id: { type: 'string' }, account_id: { type: 'string', format: 'uuid' } } },
                  ref('Error'),
                ],
              },
            },
          },
        },
      },
    },
    Error: {
      type: 'object',
      required: ['code', 'error_message'],
      properties: {
        code: { type: 'integer', example: 422 },
        error_message: { type: 'string', example: DUPLICATE, description: 'A duplicate names the taken external_user_id.' },
      },
    },
  },
  paths: {
    '/accounts': {
      post: {
        operationId: 'createAccount',
        summary: 'Create an account (admin)',
        requestBody: { required: true, content: jsonContent(ref('NewAccount'), { external_user_id: 'abc322' }) },
        responses: {
          ...response(200, ref('Account'), { id: ACCOUNT_EXAMPLE.id, external_user_id: 'abc322' }),
          ...errorResponses([400, 403, 422]),
        },
      },
    },
    '/accounts/current': {
      get: {
        operationId: 'getCurrentAccount',
        summary: "The caller's own account",
        responses: { ...response(200, ref('Account'), ACCOUNT_EXAMPLE), ...errorResponses([403, 404]) },
      },
    },
    '/accounts/{account_id}': {
      get: {
        operationId: 'getAccount',
        summary: 'An account (admin, or the user itself)',
        parameters: [accountId],
        responses: { ...response(200, ref('Account'), ACCOUNT_EXAMPLE), ...errorResponses([404]) },
      },
      delete: {
        operationId: 'disableAccount',
        summary: 'Disable an account (admin). Its external_user_id stays taken.',
        parameters: [accountId],
        responses: { ...response(204), ...errorResponses([403, 404, 422]) },
      },
    },
    '/batch': {
      post: {
        operationId: 'batch',
        summary: 'Create up to 50 accounts (deprecated: answers carry a Deprecation header)',
        deprecated: true,
        requestBody: {
          required: true,
          content: jsonContent(ref('BatchRequest'), {
            requests: [
              { method: 'post', relative_url: '/accounts', body: { external_user_id: 'abc323' } },
              { method: 'post', relative_url: '/accounts', body: { external_user_id: 'abc322' } },
            ],
          }),
        },
        responses: {
          ...response(200, ref('BatchResponse'), {
            responses: [
              { code: 200, body: { external_user_id: 'abc323', account_id: '0193a5c2-8b1f-7e21-8a3c-5b6d7e8f9a0b' } },
              { code: 422, body: { code: 422, error_message: DUPLICATE } },
            ],
          }, { Deprecation: { schema: { type: 'string' }, description: 'Always "true".' } }),
          ...errorResponses([400, 403]),
        },
      },
    },
  },
});
