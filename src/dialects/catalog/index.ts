// The catalog dialect: a course catalog's Users API. Users are the ones with a catalog
// identity, named by their integer catalog id; accounts by their integer customer id.
// Bodies may be form-encoded or JSON; the API key may come bare, as a bearer token, or as
// the source API's `Token token="<key>"`. Errors are `{"errors":[{"message", "field"?}]}`.
import type { Prisma } from '@prisma/client';
import type { Hono } from 'hono';
import { ConflictError, type DomainError, NotFoundError } from '../../errors.js';
import { findAccountByCustomerId } from '../../modules/accounts/service.js';
import { deleteUser, deleteUserDependencies } from '../../modules/users/removal.js';
import {
  createUser,
  findUserView,
  listUserViews,
  type UpdateUserInput,
  updateUser,
} from '../../modules/users/service.js';
import {
  caller,
  type DialectDeps,
  dialectApp,
  type Failure,
  finishDialect,
  type HttpEnv,
  type RenderFailure,
  iso,
  send,
} from '../common.js';
import { declaredRoutes } from '../declared.js';
import { CATALOG_PREFIX, catalogOpenApi, catalogRoutes as routes, INT_MAX } from './routes.js';

export { CATALOG_PREFIX };

// Wire names → the users service's fields, for the profile fields a body may give.
const PROFILE = {
  user_name: 'userName',
  first_name: 'firstName',
  last_name: 'lastName',
  email_address: 'email',
  time_zone: 'timeZone',
  locale: 'locale',
  terms_of_use: 'termsOfUse',
  canvas_user_id: 'canvasUserId',
} as const;

// Service field names (in its errors) → wire names.
const FIELD_NAMES: Record<string, string> = {
  ...Object.fromEntries(Object.entries(PROFILE).map(([wire, field]) => [field, wire])),
  accountId: 'registered_account_id',
  customFields: 'custom_fields',
  customFieldsPatch: 'custom_fields',
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

/** What the catalog's user record shows (userJson): its list reads only this. */
const CATALOG_USER = {
  catalogId: true,
  canvasUserId: true,
  canvasUserUuid: true,
  userName: true,
  firstName: true,
  lastName: true,
  email: true,
  customFields: true,
  createdAt: true,
  updatedAt: true,
  timeZone: true,
  partner: { select: { customerId: true, canvasUuid: true } },
  account: { select: { customerId: true } },
  mergedInto: { select: { inCatalog: true, catalogId: true } },
} satisfies Prisma.UserSelect;

function userJson(u: Prisma.UserGetPayload<{ select: typeof CATALOG_USER }>) {
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

/** The profile fields a parsed body gives, as service input (only those present). */
function profile(body: Partial<Record<keyof typeof PROFILE, unknown>>): Partial<UpdateUserInput> {
  const out: Record<string, unknown> = {};
  for (const [wire, field] of Object.entries(PROFILE)) {
    const value = body[wire as keyof typeof PROFILE];
    if (value !== undefined) out[field] = value;
  }
  return out as Partial<UpdateUserInput>;
}

/** A path id: an integer catalog id, or nobody (404). */
function catalogId(raw: string): number {
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
  const serve = declaredRoutes(app, (c) => caller(c, deps));

  const find = async (ctx: ReturnType<typeof caller>['ctx'], raw: string) => {
    const id = catalogId(raw);
    const user = await findUserView(ctx, { catalogId: id });
    if (!user) throw new NotFoundError('User', String(id));
    return user;
  };

  serve(routes.registerUser, async (c, { body }, { ctx }) => {
    // Default: the key's root account (the partner), which createUser picks when none is given.
    let accountId: string | undefined;
    if (body.registered_account_id !== undefined) {
      const account = await findAccountByCustomerId(ctx, body.registered_account_id);
      if (!account) throw new NotFoundError('Account', String(body.registered_account_id));
      accountId = account.id;
    }
    // A new user has no custom field to delete: null values are simply not set.
    const customFields = Object.fromEntries(Object.entries(body.custom_fields ?? {}).filter(([, v]) => v !== null));
    const created = await createUser(ctx, { ...profile(body), accountId, customFields });
    const user = (await findUserView(ctx, { id: created.id }))!;
    // No confirmation e-mail is sent by the gateway, so there is no confirmation URL.
    return c.json({
      user: { ...userJson(user), confirmation_url: null, terms_of_use: user.termsOfUse, locale: user.locale },
    });
  });

  serve(routes.listUsers, async (c, { query: q }, { ctx }) => {
    const { page, per_page: perPage } = q;
    const filter = {
      registeredInCatalog: true,
      canvasUserId: q.canvas_user_id,
      createdAt: { from: q.created_at_from, to: q.created_at_to },
      updatedAt: { from: q.updated_at_from, to: q.updated_at_to },
    };
    // Every user this dialect can name has a catalog identity: "not registered in the
    // catalog" selects nobody (see the README's catalog section).
    const { users, total } =
      q.registered_in_catalog === false
        ? { users: [], total: 0 }
        : await listUserViews(
            ctx,
            filter,
            { skip: (page - 1) * perPage, take: perPage, order: 'CATALOG_ID' },
            CATALOG_USER,
          );
    c.header('link', linkHeader(new URL(c.req.url), page, perPage, total));
    c.header('x-total-count', String(total));
    return c.json({ users: users.map(userJson) });
  });

  serve(routes.getUser, async (c, { params }, { ctx }) => c.json({ user: userJson(await find(ctx, params.id)) }));

  serve(routes.updateUser, async (c, { params, body }, { ctx }) => {
    const user = await find(ctx, params.id);
    const clear = body.clear_merged_into_user_id;
    const changes = profile(body);
    // The source API merges custom_fields key by key; null deletes a key.
    if (body.custom_fields) changes.customFieldsPatch = body.custom_fields;
    // One transaction for the profile and the merge pointer (clearing one not set is a no-op).
    if (Object.keys(changes).length || clear)
      await updateUser(ctx, { id: user.id, ...changes, clearMergedInto: clear || undefined });
    const updated = await findUserView(ctx, { id: user.id });
    if (!updated) throw new NotFoundError('User', String(user.catalogId));
    return c.json({ user: userJson(updated) });
  });

  serve(routes.deleteUser, async (c, { params, query, body }, { ctx }) => {
    const user = await find(ctx, params.id);
    if (body.only_orders_and_enrollments ?? query.only_orders_and_enrollments)
      await deleteUserDependencies(ctx, user.id);
    else await deleteUser(ctx, user.id);
    return c.json({});
  });

  return finishDialect(app, { prefix: CATALOG_PREFIX, render });
}
