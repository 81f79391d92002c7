// OpenAPI 3.1 document of the messaging dialect (served at /rest/messaging/openapi.json).
import { dateTime, errorResponses, jsonContent, openApiDocument, pathParam, queryParam, ref, response } from '../openapi.js';

// Coverage access flags are upper-case strings; legacy and LRN access are booleans.
const coverage = (what: string) => ({ type: 'string', enum: ['NONE', 'DOMESTIC', 'INTERNATIONAL'], description: `${what} access level.` });
const flag = (description: string) => ({ type: 'boolean', description });

const ACCOUNT_EXAMPLE = {
  customer_id: 1207,
  id: '01JD3ZKQ8M4S6T7V9W0X1Y2Z3A',
  inserted_at: '2026-01-15T09:30:00.000Z',
  legacy_access: false,
  lrn_access: false,
  mms_access: 'NONE',
  name: 'Acme EMEA',
  require_ip_api_access: false,
  require_ip_gql_access: false,
  sms_access: 'DOMESTIC',
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
      required: ['customer_id', 'id', 'inserted_at', 'legacy_access', 'lrn_access', 'mms_access', 'name', 'require_ip_api_access', 'require_ip_gql_access', 'sms_access', 'updated_at'],
      properties: {
        customer_id: { type: 'integer', description: 'Serial id of the account (the catalog dialect\'s account id).' },
        id: { type: 'string', description: 'ULID' },
        inserted_at: dateTime,
        legacy_access: flag('Whether the account may use the legacy APIs.'),
        lrn_access: flag('Whether the account may use the LRN APIs.'),
        mms_access: coverage('MMS'),
        name: { type: 'string' },
        require_ip_api_access: flag('Whether calls to the standard APIs must come from allowed_ips.'),
        require_ip_gql_access: flag('Whether GraphQL calls must come from allowed_ips.'),
        sms_access: coverage('SMS'),
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
            legacy_access: { type: 'boolean', default: false },
            lrn_access: { type: 'boolean', default: false },
            sms_access: { ...coverage('SMS'), default: 'NONE' },
            mms_access: { ...coverage('MMS'), default: 'NONE' },
            require_ip_api_access: { type: 'boolean', default: false },
            require_ip_gql_access: { type: 'boolean', default: false },
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
        summary: "Every account associated with the caller's: itself and all accounts below it (cursor pages in creation order)",
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
        requestBody: { required: true, content: jsonContent(ref('NewAccountEnvelope'), { data: { name: 'Acme EMEA', sms_access: 'DOMESTIC' }, type: 'account' }) },
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
