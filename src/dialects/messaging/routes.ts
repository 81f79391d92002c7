// The messaging dialect's routes, declared once: they validate its requests and are its
// OpenAPI 3.1 document (served at /rest/messaging/openapi.json).
import {
  coerced,
  createRoute,
  dialectDocument,
  errorResponses,
  flag,
  ok,
  serviceChecked,
  wholeNumber,
  z,
} from '../declared.js';
import { ValidationError } from '../../errors.js';

export const MESSAGING_PREFIX = '/rest/messaging';

export const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/i;

// Coverage access flags are upper-case strings; legacy and LRN access are booleans.
const LEVELS = ['NONE', 'DOMESTIC', 'INTERNATIONAL'] as const;
const coverage = (what: string) => z.enum(LEVELS).openapi({ description: `${what} access level.` });
const dateTime = z.string().openapi({ format: 'date-time' });

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

const Account = z
  .object({
    customer_id: z
      .number()
      .int()
      .openapi({ description: "Serial id of the account (the catalog dialect's account id)." }),
    id: z.string().openapi({ description: 'ULID' }),
    inserted_at: dateTime,
    legacy_access: z.boolean().openapi({ description: 'Whether the account may use the legacy APIs.' }),
    lrn_access: z.boolean().openapi({ description: 'Whether the account may use the LRN APIs.' }),
    mms_access: coverage('MMS'),
    name: z.string(),
    require_ip_api_access: z
      .boolean()
      .openapi({ description: 'Whether calls to the standard APIs must come from allowed_ips.' }),
    require_ip_gql_access: z.boolean().openapi({ description: 'Whether GraphQL calls must come from allowed_ips.' }),
    sms_access: coverage('SMS'),
    updated_at: dateTime,
  })
  .openapi('Account');

const AccountEnvelope = z.object({ data: Account, type: z.literal('account') }).openapi('AccountEnvelope');

// Coverage values are upper-case ("NONE"); other spellings of the same value are taken too. The
// accounts service checks the value (and the name and allowed_ips), as for the graph.
const level = (what: string) =>
  coerced((v) => (typeof v === 'string' ? v.toUpperCase() : v === null ? undefined : v), {
    type: 'string',
    enum: [...LEVELS],
    description: `${what} access level.`,
    default: 'NONE',
  });

const NewAccountEnvelope = z
  .object({
    type: z.literal('account', { error: 'must be "account"' }).optional(),
    data: z
      .object(
        {
          name: serviceChecked({ type: 'string', minLength: 1, maxLength: 255 }),
          legacy_access: flag({ default: false }),
          lrn_access: flag({ default: false }),
          sms_access: level('SMS'),
          mms_access: level('MMS'),
          require_ip_api_access: flag({ default: false }),
          require_ip_gql_access: flag({ default: false }),
          allowed_ips: serviceChecked({
            type: 'array',
            items: { type: 'string' },
            description: 'CIDRs; required when an IP requirement is set.',
          }),
        },
        { error: 'must be an object: {"data": {"name": ...}, "type": "account"}' },
      )
      .openapi({ required: ['name'] }),
  })
  .openapi('NewAccountEnvelope');

const AccountList = z
  .object({
    type: z.literal('list'),
    data: z.object({
      items: z.array(AccountEnvelope),
      page_info: z.object({
        after: z.string().nullable().openapi({ description: 'Pass as `after` for the next page; null on the last.' }),
        before: z
          .string()
          .nullable()
          .openapi({ description: 'Pass as `before` for the previous page; null on the first.' }),
        limit: z.number().int(),
        total: z.number().int(),
      }),
    }),
  })
  .openapi('AccountList');

const ErrorEnvelope = z
  .object({
    type: z.literal('error'),
    data: z.object({
      code: z.string().openapi({ example: 'not_found' }),
      message: z.string(),
      issues: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
    }),
  })
  .openapi('Error');

/** A cursor is an account id (a ULID); anything else cannot be one. */
const cursor = (description: string) =>
  coerced(
    (v) => {
      if (v === undefined || v === '') return undefined;
      if (typeof v !== 'string' || !ULID.test(v)) throw new ValidationError('must be a cursor from page_info', '');
      return v.toUpperCase();
    },
    { type: 'string', description },
  );

export const messagingRoutes = {
  listAccounts: createRoute({
    method: 'get',
    path: '/api/v1/accounts',
    operationId: 'listAccounts',
    summary:
      "Every account associated with the caller's: itself and all accounts below it (cursor pages in creation order)",
    request: {
      query: z
        .object({
          after: cursor('page_info.after of the previous answer'),
          before: cursor('page_info.before of the previous answer'),
          limit: wholeNumber(1, 100, 20),
        })
        .refine((q) => !(q.after && q.before), { message: 'give after or before, not both', path: ['before'] }),
    },
    responses: {
      ...ok(200, AccountList, {
        data: {
          items: [{ data: ACCOUNT_EXAMPLE, type: 'account' }],
          page_info: { after: null, before: null, limit: 20, total: 1 },
        },
        type: 'list',
      }),
      ...errorResponses([400, 403], ErrorEnvelope),
    },
  }),
  createAccount: createRoute({
    method: 'post',
    path: '/api/v1/accounts',
    operationId: 'createAccount',
    summary: "Create a sub-account of the caller's account (admin)",
    request: {
      body: {
        required: true,
        content: {
          'application/json': {
            schema: NewAccountEnvelope,
            example: { data: { name: 'Acme EMEA', sms_access: 'DOMESTIC' }, type: 'account' },
          },
        },
      },
    },
    responses: {
      ...ok(201, AccountEnvelope, { data: ACCOUNT_EXAMPLE, type: 'account' }),
      ...errorResponses([400, 403], ErrorEnvelope),
    },
  }),
  getAccount: createRoute({
    method: 'get',
    path: '/api/v1/accounts/{id}',
    operationId: 'getAccount',
    summary: 'An account',
    request: { params: z.object({ id: z.string().openapi({ description: 'ULID' }) }) },
    responses: {
      ...ok(200, AccountEnvelope, { data: ACCOUNT_EXAMPLE, type: 'account' }),
      ...errorResponses([404], ErrorEnvelope),
    },
  }),
};

export const messagingOpenApi = dialectDocument(
  {
    title: 'account-gateway — messaging dialect',
    description:
      'The Account API of the messaging platform: organisations (ULID ids) and their sub-accounts. Every body is an ' +
      'envelope `{"data": ..., "type": ...}`; errors are `{"data": {"code", "message", "issues"?}, "type": "error"}`.',
    prefix: MESSAGING_PREFIX,
  },
  messagingRoutes,
);
