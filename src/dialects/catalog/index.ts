// The catalog dialect: a course catalog's Users API. Users are the ones with a catalog
// identity, named by their integer catalog id; accounts by their integer customer id.
// Bodies may be form-encoded or JSON; the API key may come bare, as a bearer token, or as
// the source API's `Token token="<key>"`. Errors are `{"errors":[{"message", "field"?}]}`.
import type { Hono } from 'hono';
import { ConflictError, type DomainError, NotFoundError, ValidationError } from '../../errors.js';
import { findAccountByCustomerId } from '../../modules/accounts/service.js';
import {
  createUser,
  findUserView,
  listUserViews,
  updateUser,
  type UpdateUserInput,
  type UserView,
} from '../../modules/users/service.js';
import { deleteUser, deleteUserDependencies } from '../../modules/users/removal.js';
import {
  boolValue,
  caller,
  dateValue,
  dialectApp,
  finishDialect,
  formOrJsonBody,
  isObject,
  iso,
  optionalInt,
  send,
  stringValue,
  type DialectDeps,
  type Failure,
  type HttpContext,
  type HttpEnv,
  type RenderFailure,
} from '../common.js';
import { catalogOpenApi } from './openapi.js';

export const CATALOG_PREFIX = '/rest/catalog';

const INT_MAX = 2_147_483_647;
const DEFAULT_PER_PAGE = 50;
const MAX_PER_PAGE = 100;

const FIELD_NAMES: Record<string, string> = {
  accountId: 'registered_account_id',
  userName: 'user_name',
  firstName: 'first_name',
  lastName: 'last_name',
  email: 'email_address',
  customFields: 'custom_fields',
  customFieldsPatch: 'custom_fields',
  timeZone: 'time_zone',
  termsOfUse: 'terms_of_use',
  canvasUserId: 'canvas_user_id',
};

const render: RenderFailure = (c, f) =>
  send(
    c,
    {
      errors: f.issues?.length
        ? f.issues.map((i) => ({ field: i.field, message: i.message }))
        : [{ message: f.message }],
    },
    f.status,
  );

/** A taken key names the wire field, not the service's. */
function failure(error: DomainError): Failure | undefined {
  if (error instanceof ConflictError && error.field && FIELD_NAMES[error.field]) {
    return { status: 409, code: 'conflict', message: `${FIELD_NAMES[error.field]} has already been taken` };
  }
  return undefined;
}

/** `Token token="<key>"`, the source API's scheme, carries the same API key. */
const authorization = (value: string) => /^Token\s+token="?([^"\s]+)"?\s*$/i.exec(value)?.[1] ?? value;

function userJson(u: UserView) {
  return {
    id: u.catalogId,
    root_account_id: u.partner.customerId,
    canvas_user_id: u.canvasUserId,
    registered_account_id: u.account.customerId,
    canvas_root_account_uuid: u.partner.canvasUuid,
    canvas_user_uuid: u.canvasUserUuid,
    user_name: u.userName,
    first_name: u.firstName,
    last_name: u.lastName,
    email_address: u.email,
    custom_fields: u.customFields ?? {},
    created_at: iso(u.createdAt),
    updated_at: iso(u.updatedAt),
    // The merge target as the catalog knows it: by its catalog id.
    merged_into_user_id: u.mergedInto?.inCatalog ? u.mergedInto.catalogId : null,
    time_zone: u.timeZone,
  };
}

/** custom_fields: an object, or the same as a JSON string; values are strings (or null). */
function customFields(value: unknown): Record<string, string | null> | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  let object = value;
  if (typeof value === 'string') {
    try {
      object = JSON.parse(value);
    } catch {
      throw new ValidationError('must be an object or a JSON object string', 'custom_fields');
    }
  }
  if (!isObject(object)) throw new ValidationError('must be an object or a JSON object string', 'custom_fields');
  for (const [key, v] of Object.entries(object)) {
    if (v !== null && typeof v !== 'string')
      throw new ValidationError('values must be strings or null', `custom_fields.${key}`);
  }
  return object as Record<string, string | null>;
}

/** The profile fields a body gives, as service input (only those present). */
function profile(body: Record<string, unknown>) {
  const out: Partial<UpdateUserInput> = {};
  const strings = {
    user_name: 'userName',
    first_name: 'firstName',
    last_name: 'lastName',
    email_address: 'email',
    time_zone: 'timeZone',
    locale: 'locale',
  } as const;
  for (const [wire, field] of Object.entries(strings)) {
    const value = stringValue(body[wire], wire);
    if (value !== undefined) out[field] = value;
  }
  const terms = boolValue(body.terms_of_use, 'terms_of_use');
  if (terms !== undefined) out.termsOfUse = terms;
  const canvasUserId = optionalInt(body.canvas_user_id, 'canvas_user_id', 1, INT_MAX);
  if (canvasUserId !== undefined) out.canvasUserId = canvasUserId;
  return out;
}

/**
 * What the source API's register answer shows for a user registered without them: terms of use
 * accepted (the partner registers the user through its own sign-up) and English.
 */
const REGISTER_DEFAULTS = { termsOfUse: true, locale: 'en' } as const;

/** A path id: an integer catalog id, or nobody (404). */
function catalogId(c: HttpContext): number {
  const raw = c.req.param('id') ?? '';
  const id = /^\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!(id >= 1 && id <= INT_MAX)) throw new NotFoundError('User', raw.slice(0, 100));
  return id;
}

function linkHeader(url: URL, page: number, perPage: number, total: number): string {
  const last = Math.max(1, Math.ceil(total / perPage));
  const at = (p: number) => {
    const u = new URL(url);
    u.searchParams.set('page', String(p));
    u.searchParams.set('per_page', String(perPage));
    return `<${u.toString()}>`;
  };
  const links = [`${at(page)}; rel="current"`];
  if (page < last) links.push(`${at(page + 1)}; rel="next"`);
  if (page > 1) links.push(`${at(Math.min(page - 1, last))}; rel="prev"`);
  links.push(`${at(1)}; rel="first"`, `${at(last)}; rel="last"`);
  return links.join(', ');
}

export function catalogDialect(deps: DialectDeps): Hono<HttpEnv> {
  const app = dialectApp(deps, {
    prefix: CATALOG_PREFIX,
    openapi: catalogOpenApi,
    render,
    failure,
    authorization,
    fieldNames: FIELD_NAMES,
  });

  const find = async (c: HttpContext) => {
    const { ctx } = caller(c, deps);
    const id = catalogId(c);
    const user = await findUserView(ctx, { catalogId: id });
    if (!user) throw new NotFoundError('User', String(id));
    return { ctx, user };
  };

  app.post('/api/v1/users', async (c) => {
    const { ctx } = caller(c, deps);
    const body = await formOrJsonBody(c);
    const missing = ['user_name', 'email_address'].filter(
      (k) => body[k] === undefined || body[k] === null || body[k] === '',
    );
    if (missing.length) throw new ValidationError(missing.map((field) => ({ field, message: 'is required' })));
    // Default: the key's root account (the partner), which createUser picks when none is given.
    const registered = optionalInt(body.registered_account_id, 'registered_account_id', 1, INT_MAX);
    let accountId: string | undefined;
    if (registered !== undefined) {
      const account = await findAccountByCustomerId(ctx, registered);
      if (!account) throw new NotFoundError('Account', String(registered));
      accountId = account.id;
    }
    // A new user has no custom field to delete: null values are simply not set.
    const fields = Object.fromEntries(
      Object.entries(customFields(body.custom_fields) ?? {}).filter(([, v]) => v !== null),
    );
    const created = await createUser(ctx, { ...REGISTER_DEFAULTS, ...profile(body), accountId, customFields: fields });
    const user = (await findUserView(ctx, { id: created.id }))!;
    // No confirmation e-mail is sent by the gateway, so there is no confirmation URL.
    return c.json({
      user: { ...userJson(user), confirmation_url: null, terms_of_use: user.termsOfUse, locale: user.locale },
    });
  });

  app.get('/api/v1/users', async (c) => {
    const { ctx } = caller(c, deps);
    const q = c.req.query();
    const page = optionalInt(q.page, 'page', 1, 1_000_000, 1)!;
    const perPage = optionalInt(q.per_page, 'per_page', 1, MAX_PER_PAGE, DEFAULT_PER_PAGE)!;
    const registered = boolValue(q.registered_in_catalog, 'registered_in_catalog');
    const filter = {
      registeredInCatalog: true,
      canvasUserId: optionalInt(q.canvas_user_id, 'canvas_user_id', 1, INT_MAX),
      createdAt: {
        from: dateValue(q.created_at_from, 'created_at_from'),
        to: dateValue(q.created_at_to, 'created_at_to'),
      },
      updatedAt: {
        from: dateValue(q.updated_at_from, 'updated_at_from'),
        to: dateValue(q.updated_at_to, 'updated_at_to'),
      },
    };
    // Every user this dialect can name has a catalog identity: "not registered in the
    // catalog" selects nobody (see the README's catalog section).
    const { users, total } =
      registered === false
        ? { users: [], total: 0 }
        : await listUserViews(ctx, filter, { skip: (page - 1) * perPage, take: perPage, order: 'CATALOG_ID' });
    c.header('link', linkHeader(new URL(c.req.url), page, perPage, total));
    c.header('x-total-count', String(total));
    return c.json({ users: users.map(userJson) });
  });

  app.get('/api/v1/users/:id', async (c) => {
    const { user } = await find(c);
    return c.json({ user: userJson(user) });
  });

  app.put('/api/v1/users/:id', async (c) => {
    const body = await formOrJsonBody(c);
    const { ctx, user } = await find(c);
    const clear = boolValue(body.clear_merged_into_user_id, 'clear_merged_into_user_id');
    const changes = profile(body);
    // The source API merges custom_fields key by key; null deletes a key.
    const fields = customFields(body.custom_fields);
    if (fields) changes.customFieldsPatch = fields;
    // One transaction for the profile and the merge pointer (clearing one not set is a no-op).
    if (Object.keys(changes).length || clear)
      await updateUser(ctx, { id: user.id, ...changes, clearMergedInto: clear || undefined });
    const updated = await findUserView(ctx, { id: user.id });
    if (!updated) throw new NotFoundError('User', String(user.catalogId));
    return c.json({ user: userJson(updated) });
  });

  app.delete('/api/v1/users/:id', async (c) => {
    const body = await formOrJsonBody(c);
    const { ctx, user } = await find(c);
    const only = boolValue(
      body.only_orders_and_enrollments ?? c.req.query('only_orders_and_enrollments'),
      'only_orders_and_enrollments',
    );
    if (only) await deleteUserDependencies(ctx, user.id);
    else await deleteUser(ctx, user.id);
    return c.json({});
  });

  return finishDialect(app, { prefix: CATALOG_PREFIX, render });
}
