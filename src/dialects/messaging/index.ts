// The messaging dialect: a messaging platform's Account API. Accounts are organisations
// named by ULID, with sub-accounts; every body is an envelope `{"data": …, "type": …}`,
// errors included: `{"data":{"code","message","issues"?},"type":"error"}`.
import type { Account } from '@prisma/client';
import type { Hono } from 'hono';
import { NotFoundError } from '../../errors.js';
import { createAccount, getAccount, listAccountSubtree } from '../../modules/accounts/service.js';
import {
  caller,
  dialectApp,
  finishDialect,
  iso,
  send,
  type DialectDeps,
  type HttpEnv,
  type RenderFailure,
} from '../common.js';
import { declaredRoutes } from '../declared.js';
import { MESSAGING_PREFIX, messagingOpenApi, messagingRoutes as routes, ULID } from './routes.js';

export { MESSAGING_PREFIX };

// Service field names → wire names (the routes' declarations name their own fields).
const FIELDS = {
  sms_access: 'smsAccess',
  mms_access: 'mmsAccess',
  legacy_access: 'legacyAccess',
  lrn_access: 'lrnAccess',
  require_ip_api_access: 'requireIpApiAccess',
  require_ip_gql_access: 'requireIpGqlAccess',
  allowed_ips: 'allowedIps',
  name: 'name',
} as const;

const FIELD_NAMES: Record<string, string> = Object.fromEntries(
  Object.entries(FIELDS).map(([wire, field]) => [field, `data.${wire}`]),
);

const render: RenderFailure = (c, f) =>
  send(
    c,
    { data: { code: f.code, message: f.message, ...(f.issues?.length ? { issues: f.issues } : {}) }, type: 'error' },
    f.status,
  );

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

export function messagingDialect(deps: DialectDeps): Hono<HttpEnv> {
  const app = dialectApp(deps, {
    prefix: MESSAGING_PREFIX,
    openapi: messagingOpenApi,
    render,
    fieldNames: FIELD_NAMES,
  });
  const serve = declaredRoutes(app, (c) => caller(c, deps));

  // A sub-account of the caller's own account.
  serve(routes.createAccount, async (c, { body }, { ctx, principal }) => {
    const input: Record<string, unknown> = { parentId: principal.accountId };
    for (const [wire, field] of Object.entries(FIELDS)) input[field] = body.data[wire as keyof typeof FIELDS];
    const account = await createAccount(ctx, input as Parameters<typeof createAccount>[1]);
    return c.json(envelope(account), 201);
  });

  // Every account associated with the caller's: itself and its whole subtree, in creation
  // (ULID) order.
  serve(routes.listAccounts, async (c, { query: { after, before, limit } }, { ctx, principal }) => {
    const page = await listAccountSubtree(ctx, principal.accountId, { after, before, limit });
    return c.json({
      data: {
        items: page.accounts.map(envelope),
        page_info: {
          after: page.hasNext ? (page.accounts.at(-1)?.id ?? null) : null,
          before: page.hasPrevious ? (page.accounts[0]?.id ?? null) : null,
          limit,
          total: page.total,
        },
      },
      type: 'list',
    });
  });

  serve(routes.getAccount, async (c, { params: { id } }, { ctx }) => {
    if (!ULID.test(id)) throw new NotFoundError('Account', id.slice(0, 100));
    return c.json(envelope(await getAccount(ctx, id.toUpperCase())));
  });

  return finishDialect(app, { prefix: MESSAGING_PREFIX, render });
}
