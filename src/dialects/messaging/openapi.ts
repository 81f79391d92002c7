// OpenAPI 3.1 document of the messaging dialect (served at /rest/messaging/openapi.json).
import { dateTime, errorResponses, jsonContent, openApiDocument, pathParam, queryParam, ref, response } from '../openapi.js';

const access = { type: 'string', enum: ['none', 'domestic', 'international'] };

const ACCOUNT_EXAMPLE = {
  customer_id: 1207,
  id: '01JD3ZKQ8M4S6T7V9W0X1Y2Z3A',
  inserted_at: '2026-01-15T09:30:00.000Z',
  legacy_access: 'none',
  lrn_access: 'none',
  mms_access: 'none',
  name: 'Acme EMEA',
  require_ip_api_access: false,
  require_ip_gql_access: false,
  sms_access: 'domestic',
  updated_at: '2026-01-15T09:30:00.000Z',
};

export const messagingOpenApi = openApiDocument({
  title: 'account-gateway — messaging dialect',
  description:
    'The Account API of the messaging platform: organisations (ULID ids) and their sub-accounts. Every body is an ' +
    'envelope `{"data": ..., "type": ...}`; errors are `{"data": {"code", "message", "issues"?}, "type": "error"}`.',
  prefix: '/rest/messaging',
  schemas: {
    Account: {
      type: 'object',
      properties: {
        customer_id: { type: 'integer' },
        id: { type: 'string', description: 'ULID' },
        inserted_at: dateTime,
        legacy_access: access,
        lrn_access: access,
        mms_access: access,
        name: { type: 'string' },
        require_ip_api_access: { type: 'boolean' },
        require_ip_gql_access: { type: 'boolean' },
        sms_access: access,
        updated_at: dateTime,
      },
    },
    AccountEnvelope: { type: 'object', required: ['data', 'type'], properties: { data: ref('Account'), type: { const: 'account' } } },
    NewAccountEnvelope: {
      type: 'object',
      required: ['data'],
      properties: {
        type: { const: 'account' },
        data: {
          type: 'object',
          required: ['name'],
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 255 },
            legacy_access: access,
            lrn_access: access,
            sms_access: access,
            mms_access: access,
            require_ip_api_access: { type: 'boolean' },
            require_ip_gql_access: { type: 'boolean' },
            allowed_ips: { type: 'array', items: { type: 'string' }, description: 'CIDRs; required when an IP requirement is set.' },
          },
        },
      },
    },
    AccountList: {
      type: 'object',
      properties: {
        type: { const: 'list' },
        data: {
          type: 'object',
          properties: {
            items: { type: 'array', items: ref('AccountEnvelope') },
            page_info: {
              type: 'object',
              properties: {
                after: { type: ['string', 'null'], description: 'Pass as `after` for the next page; null on the last.' },
                before: { type: ['string', 'null'], description: 'Pass as `before` for the previous page; null on the first.' },
                limit: { type: 'integer' },
                total: { type: 'integer' },
              },
            },
          },
        },
      },
    },
    Error: {
      type: 'object',
      properties: {
        type: { const: 'error' },
        data: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: { type: 'string', example: 'not_found' },
            message: { type: 'string' },
            issues: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, message: { type: 'string' } } } },
          },
        },
      },
    },
  },
  paths: {
    '/api/v1/accounts': {
      get: {
        operationId: 'listAccounts',
        summary: "The caller's account and its sub-accounts (cursor pages in creation order)",
        parameters: [
          queryParam('after', { type: 'string' }, 'page_info.after of the previous answer'),
          queryParam('before', { type: 'string' }, 'page_info.before of the previous answer'),
          queryParam('limit', { type: 'integer', minimum: 1, maximum: 100, default: 20 }),
        ],
        responses: {
          ...response(200, ref('AccountList'), {
            data: { items: [{ data: ACCOUNT_EXAMPLE, type: 'account' }], page_info: { after: null, before: null, limit: 20, total: 1 } },
            type: 'list',
          }),
          ...errorResponses([400, 403]),
        },
      },
      post: {
        operationId: 'createAccount',
        summary: "Create a sub-account of the caller's account (admin)",
        requestBody: { required: true, content: jsonContent(ref('NewAccountEnvelope'), { data: { name: 'Acme EMEA', sms_access: 'domestic' }, type: 'account' }) },
        responses: { ...response(201, ref('AccountEnvelope'), { data: ACCOUNT_EXAMPLE, type: 'account' }), ...errorResponses([400, 403]) },
      },
    },
    '/api/v1/accounts/{id}': {
      get: {
        operationId: 'getAccount',
        summary: 'An account',
        parameters: [pathParam('id', { type: 'string' }, 'ULID')],
        responses: { ...response(200, ref('AccountEnvelope'), { data: ACCOUNT_EXAMPLE, type: 'account' }), ...errorResponses([404]) },
      },
    },
  },
});
