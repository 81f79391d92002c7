// The messaging dialect: a messaging platform's Account API. Accounts are organisations
// named by ULID, with sub-accounts; every body is an envelope `{"data": …, "type": …}`,
// errors included: `{"data":{"code","message","issues"?},"type":"error"}`.
import type { Account } from '@prisma/client';
import type { Hono } from 'hono';
import { NotFoundError, ValidationError } from '../../errors.js';
import { createAccount, getAccount, listAccountSubtree } from '../../modules/accounts/service.js';
import { boolValue, caller, dialectApp, finishDialect, isObject, iso, jsonBody, optionalInt, send, type DialectDeps, type HttpEnv, type RenderFailure } from '../common.js';
import { messagingOpenApi } from './openapi.js';

export const MESSAGING_PREFIX = '/rest/messaging';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/i;
const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 100;

// Coverage access flags (upper-case values, as the source API spells them) and booleans.
const COVERAGE = { sms_access: 'smsAccess', mms_access: 'mmsAccess' } as const;
const FLAGS = {
  legacy_access: 'legacyAccess',
  lrn_access: 'lrnAccess',
  require_ip_api_access: 'requireIpApiAccess',
  require_ip_gql_access: 'requireIpGqlAccess',
} as const;

const FIELD_NAMES: Record<string, string> = {
  ...Object.fromEntries(Object.entries({ ...COVERAGE, ...FLAGS }).map(([wire, field]) => [field, `data.${wire}`])),
  name: 'data.name',
  allowedIps: 'data.allowed_ips',
};

const render: RenderFailure = (c, f) =>
  send(c, { data: { code: f.code, message: f.message, ...(f.issues?.length ? { issues: f.issues } : {}) }, type: 'error' }, f.status);

const accountJson = (a: Account) => ({
  customer_id: a.customerId,
  id: a.id,
  inserted_at: iso(a.createdAt),
  legacy_access: a.legacyAccess,
  lrn_access: a.lrnAccess,
  mms_access: a.mmsAccess,
  name: a.name,
  require_ip_api_access: a.requireIpApiAccess,
  require_ip_gql_access: a.requireIpGqlAccess,
  sms_access: a.smsAccess,
  updated_at: iso(a.updatedAt),
});

const envelope = (a: Account) => ({ data: accountJson(a), type: 'account' });

/** The `data` of a `{"data": {...}, "type": "account"}` request body. */
function accountData(body: Record<string, unknown>): Record<string, unknown> {
  if (body.type !== undefined && body.type !== 'account') throw new ValidationError('must be "account"', 'type');
  if (!isObject(body.data)) throw new ValidationError('must be an object: {"data": {"name": ...}, "type": "account"}', 'data');
  return body.data;
}

/** A cursor is an account id (a ULID); anything else cannot be one. */
function cursor(value: string | undefined, field: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!ULID.test(value)) throw new ValidationError('must be a cursor from page_info', field);
  return value.toUpperCase();
}

export function messagingDialect(deps: DialectDeps): Hono<HttpEnv> {
  const app = dialectApp(deps, { prefix: MESSAGING_PREFIX, openapi: messagingOpenApi, render, fieldNames: FIELD_NAMES });

  // A sub-account of the caller's own account.
  app.post('/api/v1/accounts', async (c) => {
    const { ctx, principal } = caller(c, deps);
    const data = accountData(await jsonBody(c));
    const input: Record<string, unknown> = { parentId: principal.accountId, name: data.name };
    // Coverage values are upper-case ("NONE"); other spellings of the same value are taken too.
    for (const [wire, field] of Object.entries(COVERAGE)) {
      const value = data[wire];
      if (value !== undefined && value !== null) input[field] = typeof value === 'string' ? value.toUpperCase() : value;
    }
    for (const [wire, field] of Object.entries(FLAGS)) input[field] = boolValue(data[wire], `data.${wire}`);
    if (data.allowed_ips !== undefined) input.allowedIps = data.allowed_ips;
    const account = await createAccount(ctx, input as Parameters<typeof createAccount>[1]);
    return c.json(envelope(account), 201);
  });

  // Every account associated with the caller's: itself and its whole subtree, in creation
  // (ULID) order.
  app.get('/api/v1/accounts', async (c) => {
    const { ctx, principal } = caller(c, deps);
    const after = cursor(c.req.query('after'), 'after');
    const before = cursor(c.req.query('before'), 'before');
    if (after && before) throw new ValidationError('give after or before, not both', 'before');
    const limit = optionalInt(c.req.query('limit'), 'limit', 1, MAX_LIMIT, DEFAULT_LIMIT)!;
    const page = await listAccountSubtree(ctx, principal.accountId, { after, before, limit });
    return c.json({
      data: {
        items: page.accounts.map(envelope),
        page_info: {
          after: page.hasNext ? page.accounts.at(-1)?.id ?? null : null,
          before: page.hasPrevious ? page.accounts[0]?.id ?? null : null,
          limit,
          total: page.total,
        },
      },
      type: 'list',
    });
  });

  app.get('/api/v1/accounts/:id', async (c) => {
    const { ctx } = caller(c, deps);
    const id = c.req.param('id');
    if (!ULID.test(id)) throw new NotFoundError('Account', id.slice(0, 100));
    return c.json(envelope(await getAccount(ctx, id.toUpperCase())));
  });

  return finishDialect(app, { prefix: MESSAGING_PREFIX, render });
}
