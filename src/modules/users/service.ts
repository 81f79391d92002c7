// Users: reads, create, ensure, update, disable/enable (bulk creation: bulk.ts; reallocation
// and deletion: removal.ts; merges: merge.ts). Every operation checks rights here (not in
// the resolvers), runs in one audited transaction, and leans on the database's unique
// constraints for keys, so races end in ConflictError.
import type { Prisma, User } from '@prisma/client';
import { z } from 'zod';
import type { RequestContext } from '../../auth/context.js';
import { administers, PARTNER_WIDE_KINDS, type UserPrincipal } from '../../auth/principal.js';
import { canSeeClient, canSeeUser, clientVisibility, userVisibility, within } from '../../auth/visibility.js';
import { managedAccount } from '../accounts/service.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../errors.js';
import { uniqueViolation } from '../../store/errors.js';
import { select as selectRows } from '../../store/statements.js';
import { canvasUuid, isUuid, uuidv7 } from '../../store/ids.js';
import { jsonColumn, optionalJsonColumn } from '../../store/json.js';
import { email, embedKey, jsonObject, keyString, locale, nullish, parse, text, timeZone } from '../../validation.js';
import { audited, type Audit } from '../audit/service.js';
import { requireUser } from '../../auth/context.js';
import type { Tx } from '../../store/transaction.js';
import { applyMergePatch, type JsonObject } from './merge-patch.js';
import { userViewsSql, viewsOf, type ListPage, type View } from './list-sql.js';
import { assertNoPii } from './pii.js';
import { notifyOutbox, userOutbox } from '../outbox/service.js';
import {
  assertEnableSupported,
  callBackends,
  connectedBackends,
  recordAccepted,
  userChangeCalls,
  userCreateCalls,
  userIdentities,
} from '../backends/write-through.js';

export type { User };
export type { UserListFilter } from './list-sql.js';
import type { UserListFilter } from './list-sql.js';

// ---------------------------------------------------------------------------- inputs

export const profileFields = {
  email: nullish(email),
  userName: nullish(text.min(1, 'must not be empty')),
  firstName: nullish(text),
  lastName: nullish(text),
  customFields: nullish(jsonObject),
  timeZone: nullish(timeZone),
  locale: nullish(locale),
  termsOfUse: nullish(z.boolean()),
  canvasUserId: nullish(z.number().int().positive().max(2_147_483_647)),
  metadata: nullish(jsonObject),
  name: nullish(text),
  avatar: nullish(z.string().max(2048, 'must be at most 2048 characters')),
};

export const createUserSchema = z
  .object({
    accountId: nullish(z.string()),
    externalUserId: nullish(keyString),
    identifier: nullish(embedKey),
    clientIdentifier: nullish(embedKey),
    ...profileFields,
  })
  .refine((u) => u.externalUserId || u.email || u.identifier, {
    message: 'give at least one identity: externalUserId, email (catalog) or identifier (embed)',
    path: ['externalUserId'],
  })
  .refine((u) => !u.clientIdentifier || u.identifier, {
    message: 'clientIdentifier needs an identifier',
    path: ['clientIdentifier'],
  });

export type CreateUserInput = z.input<typeof createUserSchema>;
type ValidCreateUser = z.output<typeof createUserSchema>;

export type UserKey = {
  externalUserId?: string | null;
  email?: string | null;
  identifier?: string | null;
  catalogId?: number | null;
};

// ---------------------------------------------------------------------------- reads

/** A user by one partner-scoped key, among the users the caller may see. */
export async function findUserByKey<Q extends { include?: unknown; select?: unknown }>(
  ctx: RequestContext,
  key: UserKey,
  query?: Q,
): Promise<User | null> {
  const where = keyWhere(key);
  if (!where) return null;
  return ctx.prisma.user.findFirst({ ...(query as object), where: { AND: [where, userVisibility(ctx.principal)] } });
}

function keyWhere(key: UserKey): Prisma.UserWhereInput | null {
  if (key.externalUserId) return { externalUserId: key.externalUserId };
  if (key.email) return { email: key.email.trim().toLowerCase(), inCatalog: true };
  if (key.identifier) return { identifier: key.identifier };
  if (typeof key.catalogId === 'number' && Number.isSafeInteger(key.catalogId))
    return { catalogId: key.catalogId, inCatalog: true };
  return null;
}

export async function getUser(ctx: RequestContext, id: string): Promise<User> {
  const user = await ctx.prisma.user.findFirst({ where: within({ id }, userVisibility(ctx.principal)) });
  if (!user) throw new NotFoundError('User', id);
  return user;
}

/** What the REST dialects show of a user besides its own columns, loaded with it. */
export const USER_VIEW = {
  account: { select: { id: true, customerId: true } },
  partner: { select: { customerId: true, canvasUuid: true } },
  mergedInto: {
    select: { id: true, catalogId: true, inCatalog: true, partnerId: true, accountId: true, status: true },
  },
  client: { select: { identifier: true, partnerId: true, accountId: true } },
  entitlements: { select: { kind: true }, orderBy: { kind: 'asc' } },
} satisfies Prisma.UserInclude;

export type UserView = Prisma.UserGetPayload<{ include: typeof USER_VIEW }>;

/** The relations that read null when the caller cannot see their row (seenBy). */
const SEEN = ['mergedInto', 'client'] as const;

/** USER_VIEW for the list's SQL: every column, the relations of USER_VIEW. */
const VIEW: View = { include: USER_VIEW, seen: SEEN };

/** A list's own `select` (a REST dialect's wire form), its unseen relations null as seenBy has them. */
const views = new WeakMap<Prisma.UserSelect, View>();
function viewOf(select: Prisma.UserSelect): View {
  let view = views.get(select);
  if (!view) {
    view = { select, seen: SEEN.filter((name) => select[name]) };
    views.set(select, view);
  }
  return view;
}

/** One visible user by uuid or by one partner-scoped key, with USER_VIEW; null when unseen. */
export async function findUserView(ctx: RequestContext, key: UserKey & { id?: string }): Promise<UserView | null> {
  // A malformed uuid names nobody (and must not reach the uuid column as a cast error).
  const where = key.id !== undefined ? (isUuid(key.id) ? { id: key.id.toLowerCase() } : null) : keyWhere(key);
  if (!where) return null;
  const user = await ctx.prisma.user.findFirst({
    where: { AND: [where, userVisibility(ctx.principal)] },
    include: USER_VIEW,
  });
  return user && seenBy(ctx, user);
}

/**
 * As User.mergedInto and User.client in the graph: a deleted target, or a target or client
 * the caller cannot see, reads null (the one rule of auth/visibility, for every dialect).
 */
function seenBy(ctx: RequestContext, user: UserView): UserView {
  const mergedInto = user.mergedInto && canSeeUser(ctx.principal, user.mergedInto) ? user.mergedInto : null;
  const client = user.client && canSeeClient(ctx.principal, user.client, user.id) ? user.client : null;
  return mergedInto === user.mergedInto && client === user.client ? user : { ...user, mergedInto, client };
}

/**
 * An offset page of visible users (the catalog and embed lists) and the filter's total, in
 * one statement (list-sql.ts) on the store's pool: no Prisma query to compile or to turn into
 * objects, which cost a page of 100 some 19 ms of CPU as two findMany and a count.
 *
 * The statement keeps the two steps' costs: the page's ids in the list's order first (the
 * catalog's are read from "User_partnerId_catalogId_listed_idx" alone, its OFFSET walking
 * index entries), then those users by primary key with USER_VIEW's relations, mergedInto and
 * client null when unseen as seenBy has them. The total is counted only when the page cannot
 * tell it: a page shorter than asked (or an empty first one) ends the list, so the total is its
 * offset plus its length — a list that fits one page, and the last page of a sync, cost no count.
 */
export async function listUserViews(
  ctx: RequestContext,
  filter: UserListFilter,
  page: ListPage,
): Promise<{ users: UserView[]; total: number }>;
/** The same list reading only `select` (a module constant) and the id: the columns and relations a wire form shows. */
export async function listUserViews<S extends Prisma.UserSelect>(
  ctx: RequestContext,
  filter: UserListFilter,
  page: ListPage,
  select: S,
): Promise<{ users: Prisma.UserGetPayload<{ select: S & { id: true } }>[]; total: number }>;
export async function listUserViews(
  ctx: RequestContext,
  filter: UserListFilter,
  page: ListPage,
  select?: Prisma.UserSelect,
): Promise<{ users: unknown[]; total: number }> {
  const view = select ? viewOf(select) : VIEW;
  const sql = userViewsSql(ctx.principal, filter, page, view);
  const [row] = await selectRows<ListRow>(ctx.prisma, sql);
  return { users: viewsOf(view, row!.users), total: row!.total };
}

type ListRow = { users: string; total: number };

// ---------------------------------------------------------------------------- create

/** Row data for a new user; the caller has validated the input and resolved the client. */
export function newUserRow(
  partnerId: string,
  accountId: string,
  input: ValidCreateUser,
  clientId: string | null,
): Prisma.UserCreateManyInput {
  if (input.externalUserId) assertNoPii('externalUserId', input.externalUserId);
  const inCatalog = Boolean(input.email);
  const metadata = withShorthands(input.metadata, input.name, input.avatar);
  return {
    id: uuidv7(),
    partnerId,
    accountId,
    externalUserId: input.externalUserId,
    inCatalog,
    email: input.email,
    userName: input.userName ?? (inCatalog ? input.email : undefined),
    firstName: input.firstName,
    lastName: input.lastName,
    customFields: optionalJsonColumn(input.customFields),
    timeZone: input.timeZone,
    locale: input.locale,
    termsOfUse: input.termsOfUse ?? false,
    canvasUserId: input.canvasUserId,
    canvasUserUuid: inCatalog ? canvasUuid() : undefined,
    identifier: input.identifier,
    clientId,
    metadata: optionalJsonColumn(metadata),
  };
}

function withShorthands(
  metadata: JsonObject | undefined,
  name: string | undefined,
  avatar: string | undefined,
): JsonObject | undefined {
  if (name === undefined && avatar === undefined) return metadata;
  return { ...(metadata ?? {}), ...(name !== undefined ? { name } : {}), ...(avatar !== undefined ? { avatar } : {}) };
}

/** The account a new user goes into: the given one, or the partner root. Needs admin rights on it. */
export async function targetAccount(
  db: Tx | RequestContext['prisma'],
  principal: UserPrincipal,
  accountId: string | undefined,
): Promise<string> {
  const forbidden = 'creating users needs admin rights on the account';
  if (accountId) return (await managedAccount(db, principal, accountId, forbidden)).id;
  // By default a partner admin creates users in the partner, an account admin in its own account.
  const id = principal.partnerAdmin ? principal.partnerId : principal.accountId;
  if (!administers(principal, id)) throw new ForbiddenError(forbidden);
  return id;
}

/**
 * The client a user is attached to, among the clients the caller may see: one of the root or
 * of a sibling account is not found to an account admin, as it is to another partner.
 */
export async function clientIdFor(
  db: Tx | RequestContext['prisma'],
  principal: UserPrincipal,
  identifier: string | undefined,
): Promise<string | null> {
  if (!identifier) return null;
  const client = await db.client.findFirst({
    where: within({ identifier }, clientVisibility(principal)),
    select: { id: true },
  });
  if (!client) throw new NotFoundError('Client', identifier);
  return client.id;
}

/**
 * Locks clients FOR KEY SHARE until the write that attaches users to them commits, before
 * any user row is locked (deleteClient locks its client first, then its users): a concurrent
 * deleteClient either waits and takes the new users along, or went first and the client is
 * gone. Returns the ids still there.
 */
export async function lockClients(tx: Tx, ids: string[]): Promise<Set<string>> {
  if (!ids.length) return new Set();
  const unique = [...new Set(ids)].sort();
  const rows = await tx.$queryRaw<
    { id: string }[]
  >`SELECT id FROM "Client" WHERE id = ANY(${unique}::uuid[]) ORDER BY id FOR KEY SHARE`;
  return new Set(rows.map((r) => r.id));
}

/** lockClients for one client (none: nothing to lock); NOT_FOUND when it is gone. */
async function lockClient(tx: Tx, clientId: string | null, identifier: string | undefined): Promise<void> {
  if (clientId && !(await lockClients(tx, [clientId])).has(clientId)) throw new NotFoundError('Client', identifier);
}

/** The columns `holderId` needs to decide whether the caller may learn a key holder's id. */
export const HOLDER = { id: true, partnerId: true, accountId: true, status: true } as const;

/** ConflictError.existingId: the holder's id only for a caller who can see the holder. */
export function holderId(
  principal: UserPrincipal,
  holder: { id: string; partnerId: string; accountId: string; status: string } | null | undefined,
): string | undefined {
  return holder && canSeeUser(principal, holder) ? holder.id : undefined;
}

const KEY_OF_CONSTRAINT: Record<string, keyof UserKey> = {
  externalUserId: 'externalUserId',
  email: 'email',
  identifier: 'identifier',
};

/** Turns a unique violation on a user key into a ConflictError naming the holder. */
async function conflictFor(
  ctx: RequestContext,
  partnerId: string,
  error: unknown,
  row: Prisma.UserCreateManyInput,
): Promise<ConflictError | null> {
  const fields = uniqueViolation(error);
  if (!fields) return null;
  const key = fields.map((f) => KEY_OF_CONSTRAINT[f]).find(Boolean);
  if (!key) return new ConflictError('a unique key is already taken');
  const value = row[key as 'externalUserId' | 'email' | 'identifier'] as string;
  const holder = await ctx.prisma.user.findFirst({ where: { partnerId, [key]: value }, select: HOLDER });
  return new ConflictError(`${key} ${JSON.stringify(value)} is already taken`, key, holderId(requireUser(ctx), holder));
}

export async function createUser(ctx: RequestContext, raw: CreateUserInput): Promise<User> {
  const principal = requireUser(ctx);
  const input = parse(createUserSchema, raw);
  const accountId = await targetAccount(ctx.prisma, principal, input.accountId);
  const clientId = await clientIdFor(ctx.prisma, principal, input.clientIdentifier);
  const row = newUserRow(principal.partnerId, accountId, input, clientId);
  let queued = false;
  try {
    const created = await audited(ctx, async (tx, audit) => {
      await lockClient(tx, clientId, input.clientIdentifier);
      // A connected kind's backend is asked first (write-through.ts); a key taken here is refused before it is.
      const backends = await connectedBackends(tx, principal.partnerId);
      if (backends.size) await assertKeysFree(tx, principal, row);
      const pending = userOutbox(tx, { partnerId: principal.partnerId, operation: 'CREATE_USER' });
      const calls = userCreateCalls(row, input.clientIdentifier);
      const accepted = await callBackends(ctx, backends, calls, 'createUser', pending.outbox);
      let user = await tx.user.create({ data: row as Prisma.UserUncheckedCreateInput });
      if ((await pending.record(user.id)).length) queued = true;
      if (accepted.length) {
        await recordAccepted(tx, accepted, { userId: user.id });
        user = await tx.user.findUniqueOrThrow({ where: { id: user.id } });
      }
      audit({ action: 'user.create', subjectType: 'User', subjectId: user.id, data: { keys: keysOf(user) } });
      return user;
    });
    if (queued) notifyOutbox();
    return created;
  } catch (error) {
    throw (await conflictFor(ctx, principal.partnerId, error, row)) ?? error;
  }
}

/**
 * A key of `row` another user of the partner holds: the ConflictError the insert would meet, found
 * before a backend is asked.
 */
async function assertKeysFree(tx: Tx, principal: UserPrincipal, row: Prisma.UserCreateManyInput): Promise<void> {
  const keys = (['externalUserId', 'email', 'identifier'] as const).filter((k) => row[k]);
  if (!keys.length) return;
  const holder = await tx.user.findFirst({
    where: { partnerId: row.partnerId, OR: keys.map((k) => ({ [k]: row[k] })) },
    select: { ...HOLDER, externalUserId: true, email: true, identifier: true },
  });
  if (!holder) return;
  const key = keys.find((k) => holder[k] === row[k])!;
  throw new ConflictError(`${key} ${JSON.stringify(row[key])} is already taken`, key, holderId(principal, holder));
}

export const keysOf = (u: Pick<User, 'externalUserId' | 'email' | 'identifier'>) => ({
  externalUserId: u.externalUserId,
  email: u.email,
  identifier: u.identifier,
});

// ---------------------------------------------------------------------------- ensure

const ensureSchema = z
  .object({ externalUserId: nullish(keyString), identifier: nullish(embedKey), clientIdentifier: nullish(embedKey) })
  .refine((v) => Boolean(v.externalUserId) !== Boolean(v.identifier), {
    message: 'give exactly one of externalUserId and identifier',
    path: ['externalUserId'],
  });

export type EnsureUserInput = z.input<typeof ensureSchema>;

/**
 * Lazy provisioning: the user holding the key, or a new one. Idempotent under concurrency:
 * the losers of a creation race find the winner's row. A deleted user's key stays burned.
 */
export async function ensureUser(ctx: RequestContext, raw: EnsureUserInput): Promise<{ user: User; created: boolean }> {
  const principal = requireUser(ctx);
  const input = parse(ensureSchema, raw);
  if (!administers(principal, principal.partnerId))
    throw new ForbiddenError('provisioning users needs partner admin rights');
  const key: UserKey = input.externalUserId
    ? { externalUserId: input.externalUserId }
    : { identifier: input.identifier };
  const existing = async () => {
    const user = await ctx.prisma.user.findFirst({ where: { partnerId: principal.partnerId, ...keyWhere(key) } });
    if (user?.deletedAt)
      throw new ConflictError(
        `${Object.keys(key)[0]} belongs to a deleted user and cannot be reused`,
        Object.keys(key)[0],
        holderId(principal, user),
      );
    return user;
  };
  return findOrCreate(existing, () => createUser(ctx, { ...input }));
}

/**
 * The user `find` answers, or a new one from `create`. The race of two callers creating the
 * same key at once is settled here, for every caller: the loser's unique violation
 * (ConflictError) is answered with the winner's row.
 */
async function findOrCreate<T>(
  find: () => Promise<T | null>,
  create: () => Promise<T>,
): Promise<{ user: T; created: boolean }> {
  const found = await find();
  if (found) return { user: found, created: false };
  try {
    return { user: await create(), created: true };
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    const winner = await find();
    if (!winner) throw error;
    return { user: winner, created: false };
  }
}

export interface EmbedUserFields {
  clientIdentifier?: string | null;
  name?: string | null;
  avatar?: string | null;
  metadata?: JsonObject | null;
}

/**
 * The embed dialect's PUT of a user by identifier: creates it with `fields`, or merges them
 * into the visible user holding the identifier (metadata as a merge patch, SPEC §3).
 */
export async function upsertUserByIdentifier(
  ctx: RequestContext,
  identifier: string,
  fields: EmbedUserFields,
): Promise<{ id: string; created: boolean }> {
  const { metadata, ...rest } = fields;
  const { user, created } = await findOrCreate(
    () => findUserView(ctx, { identifier }),
    () => createUser(ctx, { identifier, metadata, ...rest }),
  );
  if (!created) await updateUser(ctx, { id: user.id, metadataPatch: metadata, ...rest });
  return { id: user.id, created };
}

// ---------------------------------------------------------------------------- managed users

/**
 * Loads users the caller administers, locked FOR UPDATE in id order (so two transactions
 * touching the same pair never deadlock). Unknown, foreign, deleted → NOT_FOUND.
 *
 * A user holding partner-wide rights (PARTNER_ADMIN, ALL) is changed only by a partner admin:
 * the admin of the account such a user is homed in administers the account, not rights it
 * could not grant or revoke (disabling, deleting, re-keying or merging a partner admin would
 * take them away). `profileOnly`: the operation changes only what the user could change of
 * itself (names, locale, metadata...), which its account admin may.
 */
export async function lockManagedUsers(
  tx: Tx,
  ctx: RequestContext,
  ids: string[],
  options: { profileOnly?: boolean } = {},
): Promise<User[]> {
  const principal = requireUser(ctx);
  const unique = [...new Set(ids)].sort();
  await tx.$queryRaw`SELECT id FROM "User" WHERE id = ANY(${unique}::uuid[]) ORDER BY id FOR UPDATE`;
  const users = await tx.user.findMany({ where: within({ id: { in: unique } }, userVisibility(principal)) });
  const managed = ids.map((id) => {
    const user = users.find((u) => u.id === id);
    if (!user) throw new NotFoundError('User', id);
    if (!administers(principal, user.accountId))
      throw new ForbiddenError("this needs admin rights on the user's account");
    return user;
  });
  if (!principal.partnerAdmin && !options.profileOnly) {
    const held = await tx.entitlement.count({
      where: { userId: { in: unique }, kind: { in: [...PARTNER_WIDE_KINDS] } },
    });
    if (held)
      throw new ForbiddenError(
        'only a partner admin may change a user who holds PARTNER_ADMIN or ALL (beyond its profile)',
      );
  }
  return managed;
}

/**
 * How a message names a user: by id only to a caller who can see it, as everywhere else
 * (ConflictError.existingId, User.mergedInto); else without naming it.
 */
export function userNamed(
  principal: UserPrincipal,
  user: Pick<User, 'id' | 'partnerId' | 'accountId' | 'status'>,
): string {
  return canSeeUser(principal, user) ? `user ${user.id}` : 'that user';
}

/**
 * The CONFLICT for acting on a merged user: "user X is merged into Y; <advice>". Y, the
 * merge target, may be outside the caller's accounts (a sub-account's user merged into a
 * root one): it is named only when the caller can see it, else "into another user".
 */
export async function mergedConflict(
  db: Tx | RequestContext['prisma'],
  principal: UserPrincipal,
  user: User,
  advice: string,
  field?: string,
): Promise<ConflictError> {
  const target = user.mergedIntoId
    ? await db.user.findUnique({ where: { id: user.mergedIntoId }, select: HOLDER })
    : null;
  const into = target && canSeeUser(principal, target) ? `user ${target.id}` : 'another user';
  return new ConflictError(`${userNamed(principal, user)} is merged into ${into}; ${advice}`, field);
}

/** Refuses a merged user (see mergedConflict). */
export async function assertNotMerged(
  db: Tx,
  ctx: RequestContext,
  user: User,
  advice: string,
  field?: string,
): Promise<void> {
  if (user.status === 'MERGED') throw await mergedConflict(db, requireUser(ctx), user, advice, field);
}

export async function disableUser(ctx: RequestContext, id: string): Promise<User> {
  const user = await audited(ctx, async (tx, audit) => {
    const [user] = await lockManagedUsers(tx, ctx, [id]);
    await assertNotMerged(tx, ctx, user!, 'disable the target instead');
    if (user!.status === 'DISABLED') return user!;
    const backends = await connectedBackends(tx, user!.partnerId);
    if (backends.size) {
      const calls = userChangeCalls(
        user!,
        { status: 'DISABLED' },
        backends,
        await userIdentities(tx, id, backends),
        undefined,
      );
      await callBackends(ctx, backends, calls, 'disableUser'); // the learning DELETE only: one backend at most
    }
    const updated = await tx.user.update({ where: { id }, data: { status: 'DISABLED', disabledAt: new Date() } });
    audit({
      action: 'user.disable',
      subjectType: 'User',
      subjectId: id,
      data: { before: user!.status, after: 'DISABLED' },
    });
    return updated;
  });
  ctx.invalidatePrincipals?.([id]);
  return user;
}

export async function enableUser(ctx: RequestContext, id: string): Promise<User> {
  return audited(ctx, async (tx, audit) => {
    const [user] = await lockManagedUsers(tx, ctx, [id]);
    await assertNotMerged(tx, ctx, user!, 'enable the target instead');
    if (user!.status === 'ACTIVE') return user!;
    await assertEnableSupported(tx, user!);
    const updated = await tx.user.update({ where: { id }, data: { status: 'ACTIVE', disabledAt: null } });
    audit({
      action: 'user.enable',
      subjectType: 'User',
      subjectId: id,
      data: { before: user!.status, after: 'ACTIVE' },
    });
    return updated;
  });
}

// ---------------------------------------------------------------------------- update

const updateSchema = z
  .object({
    id: z.string(),
    externalUserId: nullish(keyString),
    identifier: nullish(embedKey),
    clientIdentifier: nullish(embedKey),
    metadataPatch: nullish(jsonObject),
    /** The catalog dialect's custom_fields update: merged key by key (RFC 7396). */
    customFieldsPatch: nullish(jsonObject),
    /** The catalog dialect's clear_merged_into_user_id, in the same transaction as the rest. */
    clearMergedInto: nullish(z.boolean()),
    ...profileFields,
  })
  .refine((u) => !(u.metadata && u.metadataPatch), {
    message: 'give metadata (replace) or metadataPatch (merge), not both',
    path: ['metadataPatch'],
  })
  .refine((u) => !(u.customFields && u.customFieldsPatch), {
    message: 'give customFields (replace) or customFieldsPatch (merge), not both',
    path: ['customFieldsPatch'],
  });

export type UpdateUserInput = z.input<typeof updateSchema>;

const SELF_EDITABLE = new Set([
  'firstName',
  'lastName',
  'timeZone',
  'locale',
  'termsOfUse',
  'metadata',
  'metadataPatch',
  'name',
  'avatar',
  'customFields',
  'customFieldsPatch',
]);

/**
 * Profile and identity changes. `metadata` replaces the object, `metadataPatch` merges it
 * (RFC 7396); `name`/`avatar` patch metadata.name/avatar. Keys, once set, do not change
 * (externalUserId, identifier): a key that could move would not stay burned.
 */
export async function updateUser(ctx: RequestContext, raw: UpdateUserInput): Promise<User> {
  const principal = requireUser(ctx);
  const input = parse(updateSchema, raw);
  const given = Object.entries(input)
    .filter(([k, v]) => k !== 'id' && v !== undefined)
    .map(([k]) => k);
  const self = input.id === principal.userId;
  const clientId = await clientIdFor(ctx.prisma, principal, input.clientIdentifier);
  const data: Prisma.UserUncheckedUpdateInput = {};
  let queued = false;
  try {
    const changed = await audited(ctx, async (tx, audit) => {
      await lockClient(tx, clientId, input.clientIdentifier);
      const [user] =
        self && !administers(principal, principal.accountId)
          ? await lockSelf(tx, principal, given)
          : await lockManagedUsers(tx, ctx, [input.id], { profileOnly: given.every((f) => SELF_EDITABLE.has(f)) });
      const u = user!;
      if (input.externalUserId !== undefined && input.externalUserId !== u.externalUserId) {
        if (u.externalUserId)
          throw new ValidationError('externalUserId cannot be changed once set', 'input.externalUserId');
        assertNoPii('externalUserId', input.externalUserId);
        data.externalUserId = input.externalUserId;
      }
      if (input.identifier !== undefined && input.identifier !== u.identifier) {
        if (u.identifier) throw new ValidationError('identifier cannot be changed once set', 'input.identifier');
        data.identifier = input.identifier;
      }
      if (clientId) {
        // As in createUser: a client belongs to an embed identity.
        if (!u.identifier && !input.identifier)
          throw new ValidationError('clientIdentifier needs an identifier', 'input.clientIdentifier');
        data.clientId = clientId;
      }
      if (input.email !== undefined) {
        data.email = input.email;
        if (!u.inCatalog) {
          data.inCatalog = true;
          data.canvasUserUuid = canvasUuid();
          if (!u.userName && input.userName === undefined) data.userName = input.email;
        }
      }
      for (const field of [
        'userName',
        'firstName',
        'lastName',
        'timeZone',
        'locale',
        'termsOfUse',
        'canvasUserId',
      ] as const) {
        if (input[field] !== undefined) (data as Record<string, unknown>)[field] = input[field];
      }
      if (input.customFields !== undefined) data.customFields = jsonColumn(input.customFields);
      if (input.customFieldsPatch !== undefined) {
        data.customFields = jsonColumn(
          parse(jsonObject, applyMergePatch(u.customFields ?? {}, input.customFieldsPatch), 'input.customFieldsPatch'),
        );
      }
      const current = (u.metadata ?? {}) as JsonObject;
      let metadata: JsonObject | undefined;
      if (input.metadata !== undefined) metadata = input.metadata;
      if (input.metadataPatch !== undefined) metadata = applyMergePatch(current, input.metadataPatch);
      if (input.name !== undefined || input.avatar !== undefined) {
        metadata = withShorthands(metadata ?? current, input.name, input.avatar);
      }
      if (metadata !== undefined) {
        // A patch (or a shorthand) can grow the object past the limits the input was checked against.
        const source =
          input.metadataPatch !== undefined
            ? 'metadataPatch'
            : input.metadata !== undefined
              ? 'metadata'
              : input.name !== undefined
                ? 'name'
                : 'avatar';
        data.metadata = jsonColumn(parse(jsonObject, metadata, `input.${source}`));
      }
      const fields = Object.keys(data);
      // Clearing a pointer that is not set is a no-op (as unmergeUser would refuse it).
      if (input.clearMergedInto && u.status === 'MERGED') Object.assign(data, unmergeChange(u, audit));
      if (Object.keys(data).length === 0) return u;
      const backends = await connectedBackends(tx, u.partnerId);
      const pending = userOutbox(tx, { partnerId: u.partnerId, operation: 'UPDATE_USER' });
      const accepted = backends.size
        ? await callBackends(
            ctx,
            backends,
            userChangeCalls(u, data, backends, await userIdentities(tx, u.id, backends), input.clientIdentifier),
            'updateUser',
            pending.outbox,
          )
        : [];
      let updated = await tx.user.update({ where: { id: u.id }, data });
      if ((await pending.record(u.id)).length) queued = true;
      if (accepted.length) {
        await recordAccepted(tx, accepted, { userId: u.id });
        updated = await tx.user.findUniqueOrThrow({ where: { id: u.id } });
      }
      if (fields.length) audit({ action: 'user.update', subjectType: 'User', subjectId: u.id, data: { fields } });
      return updated;
    });
    if (queued) notifyOutbox();
    return changed;
  } catch (error) {
    const fields = uniqueViolation(error);
    if (!fields) throw error;
    const key = fields.find((f) => f in KEY_OF_CONSTRAINT) ?? 'key';
    throw new ConflictError(`${key} is already taken`, key);
  }
}

/**
 * The change that makes a locked MERGED user ACTIVE again, audited: the one rule behind
 * unmergeUser and updateUser's `clearMergedInto` (the catalog's `clear_merged_into_user_id`).
 */
export function unmergeChange(user: User, audit: Audit): { status: 'ACTIVE'; mergedIntoId: null } {
  audit({ action: 'user.unmerge', subjectType: 'User', subjectId: user.id, data: { was: user.mergedIntoId } });
  return { status: 'ACTIVE', mergedIntoId: null };
}

async function lockSelf(tx: Tx, principal: UserPrincipal, given: string[]): Promise<User[]> {
  const denied = given.filter((f) => !SELF_EDITABLE.has(f));
  if (denied.length) throw new ForbiddenError(`only an admin may change ${denied.join(', ')}`);
  await tx.$queryRaw`SELECT id FROM "User" WHERE id = ${principal.userId}::uuid FOR UPDATE`;
  const user = await tx.user.findFirst({ where: within({ id: principal.userId }, userVisibility(principal)) });
  if (!user) throw new NotFoundError('User', principal.userId);
  return [user];
}
