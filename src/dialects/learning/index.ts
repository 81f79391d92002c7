// The learning dialect: an adaptive-learning platform's partner Accounts API. An "account"
// here is one end user of the partner's app: its id is the user's uuid, its key the
// partner-scoped, anonymized `external_user_id`. Conflicts and personal data are 422s with
// `{"code":422,"error_message":…}`, the envelope every error of this dialect uses.
import type { Hono } from 'hono';
import { ConflictError, DomainError, ValidationError } from '../../errors.js';
import { entitlementWireName } from '../../modules/entitlements/service.js';
import { createUser, disableUser, findUserView, type User, type UserView } from '../../modules/users/service.js';
import { assertMayCreateUsers, createUsers, MAX_BULK } from '../../modules/users/bulk.js';
import { NotFoundError } from '../../errors.js';
import {
  caller,
  dialectApp,
  finishDialect,
  isObject,
  send,
  toFailure,
  uuidParam,
  type DialectDeps,
  type Failure,
  type HttpEnv,
  type RenderFailure,
} from '../common.js';
import { declaredRoutes } from '../declared.js';
import {
  externalUserId as externalUserIdSchema,
  LEARNING_PREFIX,
  learningOpenApi,
  learningRoutes as routes,
} from './routes.js';

export { LEARNING_PREFIX };

const FIELD_NAMES = { externalUserId: 'external_user_id', users: 'requests' };

const render: RenderFailure = (c, f) => send(c, { code: f.status, error_message: f.message }, f.status);

/** Conflicts are 422 in this dialect. */
function failure(error: DomainError): Failure {
  if (error instanceof ConflictError) return { status: 422, code: 'conflict', message: error.message };
  return toFailure(error, FIELD_NAMES);
}

/**
 * Creating an account can only conflict on its key, so any conflict is a duplicate (also of a
 * disabled or deleted account, or of an earlier item of the same batch), named as the source
 * API names it: by the taken external_user_id, which the caller sent. Never by the holder's
 * id, which the caller may not be allowed to see.
 */
function duplicateOf(error: unknown, externalUserId: string): unknown {
  return error instanceof ConflictError
    ? new ConflictError(`Duplicate account with ${externalUserId}`, 'externalUserId')
    : error;
}

const accountJson = (user: User | UserView) => ({
  id: user.id,
  external_user_id: user.externalUserId,
  // Absent, not empty, when the user has none.
  ...('entitlements' in user && user.entitlements.length
    ? { entitlements: user.entitlements.map((e) => entitlementWireName(e.kind)) }
    : {}),
});

/** A batch item's external_user_id, by the same declared rule as POST /accounts. */
function externalUserId(body: Record<string, unknown>, field: string): string {
  const result = externalUserIdSchema.safeParse(body.external_user_id);
  if (!result.success) throw new ValidationError(result.error.issues[0]!.message, field);
  return result.data;
}

export function learningDialect(deps: DialectDeps): Hono<HttpEnv> {
  const app = dialectApp(deps, {
    prefix: LEARNING_PREFIX,
    openapi: learningOpenApi,
    render,
    failure,
    fieldNames: FIELD_NAMES,
  });
  const serve = declaredRoutes(app, (c) => caller(c, deps));

  serve(routes.createAccount, async (c, { body }, { ctx }) => {
    const key = body.external_user_id;
    const user = await createUser(ctx, { externalUserId: key }).catch((error: unknown) => {
      throw duplicateOf(error, key);
    });
    return c.json(accountJson(user));
  });

  // Registered before /accounts/:account_id so that "current" is not taken for an id.
  serve(routes.getCurrentAccount, async (c, _input, { ctx, principal }) => {
    const user = await findUserView(ctx, { id: principal.userId });
    if (!user) throw new NotFoundError('Account', principal.userId);
    return c.json(accountJson(user));
  });

  serve(routes.getAccount, async (c, { params: { account_id: id } }, { ctx }) => {
    const user = await findUserView(ctx, { id });
    if (!user) throw new NotFoundError('Account', id.slice(0, 100));
    return c.json(accountJson(user));
  });

  serve(routes.disableAccount, async (c, { params }, { ctx }) => {
    await disableUser(ctx, uuidParam(params.account_id, 'Account'));
    return c.body(null, 204);
  });

  // Deprecated: several account creations in one call, each answered with its own code.
  // The deprecation headers go on every answer of /batch, errors included; a caller who may not
  // create users learns it (one 403, not 50 items of 403) before anything about the body.
  app.post('/batch', async (c, next) => {
    c.header('deprecation', 'true');
    c.header('link', `<${LEARNING_PREFIX}/accounts>; rel="alternate"`);
    assertMayCreateUsers(caller(c, deps).ctx);
    await next();
  });
  serve(routes.batch, async (c, { body: { requests } }, { ctx }) => {
    if (!Array.isArray(requests))
      throw new ValidationError('must be an array of {"method","relative_url","body"}', 'requests');
    if (requests.length === 0) throw new ValidationError('give at least one request', 'requests');
    if (requests.length > MAX_BULK)
      throw new ValidationError(`at most ${MAX_BULK} requests per batch (got ${requests.length})`, 'requests');

    const responses: { code: number; body: unknown }[] = new Array(requests.length);
    const itemError = (index: number, f: Failure) =>
      (responses[index] = { code: f.status, body: { code: f.status, error_message: f.message } });
    const calls: { index: number; externalUserId: string }[] = [];
    requests.forEach((item: unknown, index) => {
      try {
        if (!isObject(item))
          throw new ValidationError('must be an object {"method","relative_url","body"}', `requests.${index}`);
        const method = typeof item.method === 'string' ? item.method.toLowerCase() : String(item.method);
        const url =
          typeof item.relative_url === 'string'
            ? item.relative_url.trim().replace(/\/+$/, '')
            : String(item.relative_url);
        if (method !== 'post' || (url !== '/accounts' && url !== 'accounts')) {
          throw new ValidationError(
            'only "post" to "/accounts" can be batched, ' +
              `not ${JSON.stringify(method)} to ${JSON.stringify(url).slice(0, 100)}`,
            `requests.${index}`,
          );
        }
        if (!isObject(item.body))
          throw new ValidationError('must be an object with external_user_id', `requests.${index}.body`);
        calls.push({ index, externalUserId: externalUserId(item.body, 'external_user_id') });
      } catch (error) {
        itemError(index, failure(error as DomainError));
      }
    });
    if (calls.length) {
      // Only the valid items go to the service; its errors name them by their place in the request.
      const results = await createUsers(
        ctx,
        { users: calls.map((call) => ({ externalUserId: call.externalUserId })) },
        (i) => calls[i]!.index,
      );
      results.forEach((result, i) => {
        const { index, externalUserId } = calls[i]!;
        const error = result.ok ? undefined : duplicateOf(result.error, externalUserId);
        if (result.ok) {
          responses[index] = {
            code: 200,
            body: { external_user_id: result.user.externalUserId, account_id: result.user.id },
          };
        } else if (error instanceof DomainError) {
          itemError(index, failure(error));
        } else {
          deps.logger.error({ err: result.error, requestId: c.get('requestId') }, 'unexpected error in a batch item');
          itemError(index, { status: 500, code: 'internal', message: 'Unexpected error.' });
        }
      });
    }
    return c.json({ responses });
  });

  return finishDialect(app, { prefix: LEARNING_PREFIX, render });
}
