// The User node, its reads, and (below) its lifecycle mutations.
import { GraphQLError } from 'graphql';
import type { PendingChange } from '@prisma/client';
import { builder, type JsonObject } from '../../graphql/builder.js';
import { nodeLookup } from '../../graphql/nodes.js';
import { DateRangeInput, OrderDirection, unseenCursor } from '../../graphql/connections.js';
import { globalId, isUuid, nativeId } from '../../graphql/ids.js';
import { notFound } from '../../graphql/errors.js';
import { loadEntity, stringKey } from '../../graphql/entities.js';
import { sqlRoot, sqlTwin, sqlVisible, visibleRows } from '../../graphql/sql-fields.js';
import { ClientRef } from '../clients/schema.js';
import { canSeeClient, canSeeUser, userPredicate, userVisibility, within } from '../../auth/visibility.js';
import { EntitlementKindEnum, UserStatusEnum } from '../../graphql/enums.js';
import { ErrorInterface, resultUnion } from '../../graphql/errors.js';
import { idArg, optionalIdArg } from '../../graphql/mutations.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../errors.js';
import { BackendUnavailableError, UnsupportedByBackendError } from '../backends/errors.js';
import { PiiRejectedError } from './errors.js';
import { userOrderBy, userWhere, type UserFilter } from './filters.js';
import { mergeUsers, unmergeUser } from './merge.js';
import { MAX_BULK, createUsers, type BulkItemResult } from './bulk.js';
import { deleteUser, deleteUserDependencies, reallocateCourses } from './removal.js';
import {
  createUser,
  disableUser,
  enableUser,
  ensureUser,
  findUserByKey,
  updateUser,
  type CreateUserInput as CreateUserData,
  type UpdateUserInput as UpdateUserData,
  type User,
  type UserKey,
} from './service.js';

const MAX_SEARCH = 255;

// Tagged so that a supergraph contract can leave personal data out: the fields that hold it
// and every input (argument, filter, order, mutation field) that writes, matches or sorts by it.
const PII = { tag: ['pii'] };

export const UserRef = builder.prismaNode('User', {
  id: { field: 'id' },
  // Foreign, unknown, deleted and invisible users are all simply not found.
  findUnique: nodeLookup('User', (id, ctx) => within({ id }, userVisibility(ctx.principal)) as { id: string }),
  nullable: true,
  authScopes: (user, ctx) => canSeeUser(ctx.principal, user),
  ...sqlVisible(userPredicate),
  runScopesOnType: true,
  description:
    'One person inside one partner, with an identity for each dialect it is known to: ' +
    'learning (`externalUserId`, `uuid`), catalog (`catalogId` and the profile) and embed (`identifier`, ' +
    '`client`, `metadata`). A user sees itself; admins see the users of the accounts they administer.',
  fields: (t) => ({
    uuid: t.exposeString('id', { description: "The learning dialect's account id; the `sub` of a JWT." }),
    status: t.expose('status', { type: UserStatusEnum, description: 'Where the user is in its lifecycle.' }),
    externalUserId: t.exposeString('externalUserId', {
      nullable: true,
      description: 'Learning identity: partner-scoped, anonymized.',
    }),
    catalogId: t.int({
      nullable: true,
      description: 'Catalog identity: the integer user id of the catalog dialect.',
      resolve: (u) => (u.inCatalog ? u.catalogId : null),
      ...sqlTwin((u) => `CASE WHEN ${u}."inCatalog" THEN ${u}."catalogId" END`),
    }),
    registeredInCatalog: t.exposeBoolean('inCatalog', {
      description:
        'True once the user has a catalog identity (an e-mail address ' +
        'given at creation or later); `catalogId` is null until then.',
    }),
    canvasUserId: t.exposeInt('canvasUserId', {
      nullable: true,
      description: "The catalog's `canvas_user_id`, as the caller set it.",
    }),
    canvasUserUuid: t.exposeString('canvasUserUuid', {
      nullable: true,
      description: "The catalog's 40-character `canvas_user_uuid`, assigned when the catalog identity is.",
    }),
    userName: t.exposeString('userName', {
      nullable: true,
      ...PII,
      description: 'Catalog login name (default: the e-mail address). Personal data (tag pii).',
    }),
    firstName: t.exposeString('firstName', {
      nullable: true,
      ...PII,
      description: 'Given name. Personal data (tag pii).',
    }),
    lastName: t.exposeString('lastName', {
      nullable: true,
      ...PII,
      description: 'Family name. Personal data (tag pii).',
    }),
    email: t.expose('email', {
      type: 'EmailAddress',
      nullable: true,
      ...PII,
      description:
        'Catalog login e-mail address, unique per partner among ' +
        'catalog users (stored lower-case). Personal data (tag pii).',
    }),
    customFields: t.field({
      type: 'JSONObject',
      nullable: true,
      ...PII,
      description: "The catalog profile's free-form fields. Personal data (tag pii).",
      resolve: (u) => u.customFields as JsonObject | null,
      ...sqlTwin((u) => `${u}."customFields"`),
    }),
    timeZone: t.exposeString('timeZone', { nullable: true, description: 'IANA time zone, e.g. Europe/Paris.' }),
    locale: t.exposeString('locale', { nullable: true, description: 'BCP 47 language tag, e.g. en-GB.' }),
    termsOfUse: t.exposeBoolean('termsOfUse', {
      description: 'True once the user accepted the terms of use (catalog `terms_of_use`); false by default.',
    }),
    identifier: t.exposeString('identifier', {
      nullable: true,
      description: 'Embed identity: caller-chosen, unique per partner.',
    }),
    metadata: t.field({
      type: 'JSONObject',
      nullable: true,
      ...PII,
      description:
        'Embed metadata, a free-form JSON object (`name` and `avatar` are read from it). Personal data (tag pii).',
      resolve: (u) => u.metadata as JsonObject | null,
      ...sqlTwin((u) => `${u}.metadata`),
    }),
    name: t.string({
      nullable: true,
      ...PII,
      description: 'Shorthand for metadata.name.',
      resolve: (u) => metadataString(u.metadata, 'name'),
      ...sqlTwin((u) => metadataStringSql(u, 'name')),
    }),
    avatar: t.string({
      nullable: true,
      ...PII,
      description: 'Shorthand for metadata.avatar.',
      resolve: (u) => metadataString(u.metadata, 'avatar'),
      ...sqlTwin((u) => metadataStringSql(u, 'avatar')),
    }),
    account: t.relation('account', { description: 'The account the user is registered in.' }),
    registeredAccount: t.relation('account', { description: 'Alias of `account` (catalog `registered_account_id`).' }),
    partner: t.relation('partner', { description: 'The partner (root account) the user belongs to.' }),
    // Not a plain relation: a partner admin may attach a user to a client of the root or of
    // another account, which the user's account admin must not read (clientVisibility).
    client: t.field({
      type: ClientRef,
      nullable: true,
      description: 'The embed client; null when the caller may not see it.',
      select: (_args, _ctx, nestedSelection) => ({ client: nestedSelection(true) }),
      resolve: (u, _args, ctx) => (u.client && canSeeClient(ctx.principal, u.client, u.id) ? u.client : null),
    }),
    entitlements: t.relation('entitlements', {
      description: 'The capabilities granted to the user, in kind order.',
      query: { orderBy: { kind: 'asc' } },
    }),
    courses: t.relatedConnection('courses', {
      cursor: 'id',
      totalCount: true,
      description: 'Courses the user owns, oldest first.',
      ...visibleRows('Course'),
    }),
    enrollments: t.relatedConnection('enrollments', {
      cursor: 'id',
      totalCount: true,
      description: "The user's course enrollments, oldest first.",
      ...visibleRows('Enrollment'),
    }),
    orders: t.relatedConnection('orders', {
      cursor: 'id',
      totalCount: true,
      description: "The user's orders, oldest first.",
      ...visibleRows('Order'),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the user was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the user last changed.' }),
    disabledAt: t.expose('disabledAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the user was disabled; null unless DISABLED.',
    }),
  }),
});

// Not a plain relation: the target may since have been deleted, or sit outside an account
// admin's subtree, and the User type's scopes would then fail the whole field with an error.
// (Defined after UserRef, which it returns.)
builder.prismaObjectField(UserRef, 'mergedInto', (t) =>
  t.field({
    type: UserRef,
    nullable: true,
    description: 'The user this one was merged into; null when that user is gone or not visible to the caller.',
    select: (_args, _ctx, nestedSelection) => ({ mergedInto: nestedSelection(true) }),
    resolve: (u, _args, ctx) => (u.mergedInto && canSeeUser(ctx.principal, u.mergedInto) ? u.mergedInto : null),
  }),
);

function metadataString(metadata: unknown, key: string): string | null {
  if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) return null;
  const value = (metadata as Record<string, unknown>)[key];
  return typeof value === 'string' ? value : null;
}
/** metadataString in SQL (`key` is one of the field names above, never a client's text). */
const metadataStringSql = (u: string, key: string) =>
  `CASE WHEN jsonb_typeof(${u}.metadata->'${key}') = 'string' THEN ${u}.metadata->>'${key}' END`;

/**
 * The user id a representation's `id` (global id) or `uuid` names, null when malformed;
 * undefined when it carries neither (a reference by externalUserId). The compiled read path
 * reads `_entities` by it too.
 */
export function userIdOfReference(ref: { id?: unknown; uuid?: unknown }): string | null | undefined {
  if (ref.id === undefined && ref.uuid === undefined) return undefined;
  const given = ref.id !== undefined ? stringKey(String(ref.id)) : stringKey(ref.uuid);
  return given && (ref.id !== undefined ? nativeId('User', given) : isUuid(given) ? given.toLowerCase() : null);
}

// Federation: other subgraphs reference a user by its global id, its uuid (the learning id, a
// JWT's `sub`) or its learning key. Ids and uuids name the same column: one statement for both.
builder.asEntity(UserRef, {
  key: [
    builder.selection<{ id: string }>('id'),
    builder.selection<{ uuid: string }>('uuid'),
    builder.selection<{ externalUserId: string }>('externalUserId'),
  ],
  resolveReference: (ref, ctx, info) => {
    const fields = ref as { id?: unknown; uuid?: unknown; externalUserId?: unknown };
    if (fields.id !== undefined || fields.uuid !== undefined) {
      return loadEntity(ctx, info, {
        typeName: 'User',
        keyName: 'id',
        key: userIdOfReference(fields)!,
        find: (prisma, ids, query) =>
          prisma.user.findMany({ ...query, where: within({ id: { in: ids } }, userVisibility(ctx.principal)) }),
        keyOf: (u) => u.id,
      });
    }
    return loadEntity(ctx, info, {
      typeName: 'User',
      keyName: 'externalUserId',
      key: stringKey(fields.externalUserId),
      // userVisibility pins the caller's partner, where externalUserId is unique.
      find: (prisma, keys, query) =>
        prisma.user.findMany({
          ...query,
          where: within({ externalUserId: { in: keys } }, userVisibility(ctx.principal)),
        }),
      keyOf: (u) => u.externalUserId!,
    });
  },
});

const UserFilterInput = builder.inputType('UserFilter', {
  description: 'Narrows `users`; the conditions given all apply.',
  fields: (t) => ({
    status: t.field({ type: UserStatusEnum, description: 'Users in this state.' }),
    accountId: t.id({ description: 'Users registered in this account (global id or ULID).' }),
    clientId: t.id({ description: 'Users of this embed client (global id or native id).' }),
    createdAt: t.field({ type: DateRangeInput, description: 'Users created in this range.' }),
    updatedAt: t.field({ type: DateRangeInput, description: 'Users last changed in this range.' }),
    registeredInCatalog: t.boolean({ description: 'Users with (true) or without (false) a catalog identity.' }),
    canvasUserId: t.int({ description: 'Users with this canvas_user_id.' }),
    entitlement: t.field({ type: EntitlementKindEnum, description: 'Users holding this entitlement.' }),
    // Matches names and e-mails, so it can probe personal data: out of a contract without pii.
    search: t.string({
      ...PII,
      description:
        'Case-insensitive substring (taken literally) of externalUserId, identifier, e-mail, user name, ' +
        `first or last name; at most ${MAX_SEARCH} characters. Matches personal data (tag pii).`,
    }),
  }),
});

const UserOrderField = builder.enumType('UserOrderField', {
  description: 'What `users` can be sorted by.',
  // Ordering by e-mail reveals it (a bisection over pages): tagged like the field.
  values: {
    CREATED_AT: { description: 'Creation time.' },
    UPDATED_AT: { description: 'Time of the last change.' },
    EXTERNAL_USER_ID: { description: 'The learning key (users without one sort last in ASC).' },
    EMAIL: {
      ...PII,
      description: 'The e-mail address (users without one sort last in ASC). Reveals personal data (tag pii).',
    },
    CATALOG_ID: { description: 'The catalog id.' },
  } as const,
});

const UserOrderInput = builder.inputType('UserOrder', {
  description: 'How to sort `users`; ties are broken by id, so pages stay stable.',
  fields: (t) => ({
    field: t.field({ type: UserOrderField, required: true, description: 'The sort key.' }),
    direction: t.field({ type: OrderDirection, defaultValue: 'ASC', description: 'ASC (the default) or DESC.' }),
  }),
});

/**
 * Turns an id argument into a native id; an id of the wrong kind matches nothing. The
 * stand-ins are ids no row has but the columns accept (a NUL would be a database error).
 */
const idOrNone = (type: 'Account' | 'Client', value: string | null | undefined) =>
  value === null || value === undefined
    ? undefined
    : (nativeId(type, value) ?? (type === 'Client' ? '00000000-0000-0000-0000-000000000000' : '-'));

export function toUserFilter(filter: (typeof UserFilterInput)['$inferInput'] | null | undefined): UserFilter {
  if (!filter) return {};
  // No searched column holds more than 255 characters; a longer pattern matches nothing and
  // costs PostgreSQL's ILIKE time that grows faster than its length (100 KB: seconds).
  if (filter.search && filter.search.length > MAX_SEARCH)
    throw new ValidationError(`must be at most ${MAX_SEARCH} characters`, 'filter.search');
  return { ...filter, accountId: idOrNone('Account', filter.accountId), clientId: idOrNone('Client', filter.clientId) };
}

builder.queryFields((t) => ({
  user: t.prismaField({
    type: 'User',
    nullable: true,
    authScopes: { member: true },
    ...sqlRoot('byId'),
    description:
      'The user with this id; null with a NOT_FOUND error when it names no user the caller may ' +
      'see (unknown, deleted and foreign ids alike). Merged users are found, with `mergedInto`.',
    args: { id: t.arg.id({ required: true, description: 'Global id or uuid.' }) },
    resolve: async (query, _root, args, ctx) => {
      const id = nativeId('User', String(args.id));
      const user = id
        ? await ctx.prisma.user.findFirst({ ...query, where: within({ id }, userVisibility(ctx.principal)) })
        : null;
      return user ?? notFound('User');
    },
  }),
  userByKey: t.prismaField({
    type: 'User',
    nullable: true,
    authScopes: { member: true },
    description:
      "The user of the caller's partner holding one key: give exactly one of the arguments (otherwise " +
      'BAD_USER_INPUT). Null with a NOT_FOUND error when no user the caller may see holds it.',
    args: {
      externalUserId: t.arg.string({ description: 'The learning key.' }),
      email: t.arg.string({ ...PII, description: 'The catalog e-mail address, in any case. Personal data (tag pii).' }),
      identifier: t.arg.string({ description: 'The embed identifier.' }),
      catalogId: t.arg.int({ description: 'The catalog id.' }),
    },
    resolve: async (query, _root, key, ctx) => {
      const given = Object.entries(key).filter(([, v]) => v !== null && v !== undefined);
      if (given.length !== 1) {
        throw new GraphQLError('userByKey takes exactly one of externalUserId, email, identifier, catalogId', {
          extensions: { code: 'BAD_USER_INPUT' },
        });
      }
      return (await findUserByKey(ctx, key as UserKey, query)) ?? notFound('User');
    },
  }),
  users: t.prismaConnection({
    type: 'User',
    cursor: 'id',
    authScopes: { member: true },
    description:
      'The users the caller may see (an admin: those of the accounts it administers; any other user: ' +
      'itself), by id unless `orderBy` says otherwise. Deleted users are never listed.',
    args: {
      filter: t.arg({ type: UserFilterInput, description: 'Left out: every user the caller may see.' }),
      orderBy: t.arg({ type: UserOrderInput, description: 'Left out: by id (creation order).' }),
    },
    resolve: async (query, _root, args, ctx) => {
      if (
        await unseenCursor(query.cursor, (where) =>
          ctx.prisma.user.count({ where: { AND: [where, userVisibility(ctx.principal)] } }),
        )
      )
        return [];
      return ctx.prisma.user.findMany({
        ...query,
        where: userWhere(ctx.principal, toUserFilter(args.filter)),
        orderBy: userOrderBy(args.orderBy),
      });
    },
    totalCount: (_conn, args, ctx) =>
      ctx.prisma.user.count({ where: userWhere(ctx.principal, toUserFilter(args.filter)) }),
  }),
}));

// ---------------------------------------------------------------------------- mutations

const ProfileFields = (t: PothosInputFieldBuilder) => ({
  email: t.string({
    ...PII,
    description:
      'Catalog login, unique per partner among catalog users ' +
      '(stored lower-case); giving it creates the catalog identity.',
  }),
  userName: t.string({ ...PII, description: 'Catalog login name, 1 to 255 characters (default: the e-mail address).' }),
  firstName: t.string({ ...PII, description: 'Given name, at most 255 characters.' }),
  lastName: t.string({ ...PII, description: 'Family name, at most 255 characters.' }),
  customFields: t.field({
    type: 'JSONObject',
    ...PII,
    description: 'Catalog free-form fields: a JSON object of at most 64 KiB and 16 levels; replaces the whole object.',
  }),
  timeZone: t.string({ description: 'IANA time zone, e.g. Europe/Paris.' }),
  locale: t.string({ description: 'BCP 47 tag, e.g. en-GB.' }),
  termsOfUse: t.boolean({ description: 'Whether the user accepted the terms of use (default false).' }),
  canvasUserId: t.int({ description: "The catalog's canvas_user_id: a positive 32-bit integer." }),
  metadata: t.field({
    type: 'JSONObject',
    ...PII,
    description: 'Embed metadata: a JSON object of at most 64 KiB and 16 levels; replaces the whole object.',
  }),
  name: t.string({ ...PII, description: 'Shorthand for metadata.name.' }),
  avatar: t.string({ ...PII, description: 'Shorthand for metadata.avatar (a URL, at most 2048 characters).' }),
});

type PothosInputFieldBuilder = Parameters<Parameters<typeof builder.inputType>[1]['fields']>[0];

const CreateUserInput = builder.inputType('CreateUserInput', {
  description:
    'A new user: at least one identity (externalUserId, email or identifier) ' +
    'and any profile fields. Each key must be free in the partner.',
  fields: (t) => ({
    accountId: t.id({ description: 'Account to register the user in (default: the partner).' }),
    externalUserId: t.string({
      description:
        'Learning identity, at most 255 characters, unique per partner; must not carry personal ' +
        'data (an e-mail address, phone number or national id is refused with PiiRejectedError).',
    }),
    identifier: t.string({ description: 'Embed identity: at most 255 characters without "/", unique per partner.' }),
    clientIdentifier: t.string({ description: 'Embed client the user belongs to (needs `identifier`).' }),
    ...ProfileFields(t),
  }),
});

const UserPayload = (name: string, what: string) =>
  builder.objectRef<{ user: User }>(name).implement({
    description: `The user ${what}.`,
    fields: (t) => ({ user: t.field({ type: UserRef, description: `The user ${what}.`, resolve: (p) => p.user }) }),
  });

builder.objectType(PiiRejectedError, {
  name: 'PiiRejectedError',
  description:
    'A value that must not carry personal data looks like an e-mail address, a phone number or a national ' +
    'id. That is externalUserId, the learning identity, which must stay anonymous. Nothing was changed.',
  interfaces: [ErrorInterface],
  shareable: true,
  isTypeOf: (value) => value instanceof PiiRejectedError,
  fields: (t) => ({
    field: t.exposeString('field', { description: 'The input field refused, e.g. input.externalUserId.' }),
    rule: t.exposeString('rule', { description: 'Which rule matched: email, phone or national_id.' }),
  }),
});

export const CreateUserSuccess = UserPayload('CreateUserSuccess', 'created');

function toCreateInput(input: (typeof CreateUserInput)['$inferInput']): CreateUserData {
  return { ...input, accountId: optionalIdArg('Account', input.accountId) } as CreateUserData;
}

builder.mutationFields((t) => ({
  createUser: t.field({
    type: CreateUserSuccess,
    errors: resultUnion(
      'CreateUserResult',
      NotFoundError,
      ValidationError,
      PiiRejectedError,
      BackendUnavailableError,
      UnsupportedByBackendError,
    ),
    authScopes: { admin: true },
    description:
      'Creates a user in an account the caller administers. A key (externalUserId, ' +
      'email, identifier) already held in the partner, also by a disabled ' +
      'or deleted user, is a ConflictError naming it, never a second user.',
    args: { input: t.arg({ type: CreateUserInput, required: true, description: 'The new user.' }) },
    resolve: async (_root, { input }, ctx) => ({ user: await createUser(ctx, toCreateInput(input)) }),
  }),
}));

/** What one item of createUsers (a whole createUser) can fail with. */
const ITEM_ERRORS = [
  NotFoundError,
  ValidationError,
  ConflictError,
  ForbiddenError,
  PiiRejectedError,
  BackendUnavailableError,
  UnsupportedByBackendError,
];

const CreateUsersSuccess = builder.objectRef<{ results: BulkItemResult[] }>('CreateUsersSuccess').implement({
  description: 'The outcome of each item of a createUsers call.',
  fields: (t) => ({
    results: t.field({
      type: [CreateUserSuccess],
      // itemErrors, not a hand-made union: graphql-js turns an Error returned in a list into a
      // field error, so the errors plugin must wrap each failed item for it to stay data.
      itemErrors: {
        types: ITEM_ERRORS,
        directResult: true,
        union: {
          name: 'CreateUsersItemResult',
          description:
            'One item of createUsers: CreateUserSuccess, or the typed ' +
            'error that item failed with (the others are not affected).',
        },
      },
      description: 'One result per input item, in input order.',
      // The plugin wraps returned errors at run time; its types only expect thrown ones.
      resolve: (p) => p.results.map((r) => (r.ok ? { user: r.user } : asTypedError(r.error))) as never,
    }),
  }),
});

/** Bulk items answer typed errors only; anything unexpected is reported as a plain validation failure. */
function asTypedError(error: Error): Error {
  return ITEM_ERRORS.some((E) => error instanceof E) ? error : new ValidationError('this item could not be created');
}

const CreateUsersInput = builder.inputType('CreateUsersInput', {
  description: 'Several new users, created one by one in one call.',
  fields: (t) => ({
    users: t.field({
      type: [CreateUserInput],
      required: true,
      description: `1 to ${MAX_BULK} users, each as createUser takes it.`,
    }),
    idempotencyKey: t.string({
      description:
        "At most 255 characters, scoped to the caller's credential: a retried call " +
        "with the same key returns the first call's results instead of creating again.",
    }),
  }),
});

const EnsureUserInput = builder.inputType('EnsureUserInput', {
  description: 'The key of the user to find or create: exactly one of externalUserId and identifier.',
  fields: (t) => ({
    externalUserId: t.string({ description: 'The learning key (no personal data, as in createUser).' }),
    identifier: t.string({ description: 'The embed identifier.' }),
    clientIdentifier: t.string({ description: 'Client of a user created by identifier.' }),
  }),
});

export const EnsureUserSuccess = builder.objectRef<{ user: User; created: boolean }>('EnsureUserSuccess').implement({
  description: 'The user holding the key, found or just created.',
  fields: (t) => ({
    user: t.field({ type: UserRef, description: 'The user holding the key.', resolve: (p) => p.user }),
    created: t.exposeBoolean('created', { description: 'True when this call created it, false when it existed.' }),
  }),
});

export const UpdateUserSuccess = UserPayload('UpdateUserSuccess', 'as it is now');

const UpdateUserInput = builder.inputType('UpdateUserInput', {
  description:
    'Which user, and the fields to change: fields left out stay as they are. A user without admin ' +
    'rights may change its own names, timeZone, locale, termsOfUse, customFields and metadata.',
  fields: (t) => ({
    id: t.id({ required: true, description: 'The user: global id or uuid.' }),
    externalUserId: t.string({ description: 'Only while unset: keys never change.' }),
    identifier: t.string({ description: 'Only while unset: keys never change.' }),
    clientIdentifier: t.string({
      description: 'Moves the user to this embed client of the partner (needs an identifier).',
    }),
    metadataPatch: t.field({
      type: 'JSONObject',
      ...PII,
      description: 'Merged into metadata key by key (RFC 7396: null removes a key).',
    }),
    ...ProfileFields(t),
  }),
});

const UserIdInput = (name: string, what: string) =>
  builder.inputType(name, {
    description: `The user to ${what}.`,
    fields: (t) => ({ id: t.id({ required: true, description: `The user to ${what}: global id or uuid.` }) }),
  });

const MergeUsersSuccess = builder.objectRef<{ source: User; target: User }>('MergeUsersSuccess').implement({
  description: 'Both users after the merge.',
  fields: (t) => ({
    source: t.field({
      type: UserRef,
      description: 'The merged user, now MERGED with `mergedInto` set.',
      resolve: (p) => p.source,
    }),
    target: t.field({
      type: UserRef,
      description:
        "The user merged into (the end of the target's merge chain), " +
        "with the source's identities, entitlements, courses, enrollments and orders.",
      resolve: (p) => p.target,
    }),
  }),
});

const DeleteAction = builder.enumType('DeleteAction', {
  description: 'What deleteUser does with the courses the user owns.',
  values: {
    REALLOCATE: { description: "Move the user's courses to reallocateTo (default: the partner's first admin)." },
    DELETE: { description: "Delete the user's courses." },
    IGNORE: { description: 'Leave the courses without an owner.' },
  },
});

const ReallocateCoursesSuccess = builder.objectRef<{ moved: number }>('ReallocateCoursesSuccess').implement({
  description: 'How many courses changed owner.',
  fields: (t) => ({ moved: t.exposeInt('moved', { description: 'Courses moved (0 when the user owned none).' }) }),
});

/**
 * Its `pendingChanges` (the outbox's, when the user was in several connected backends):
 * src/modules/outbox/schema.ts.
 */
export const DeleteUserSuccess = builder
  .objectRef<{ id: string; pendingChanges: PendingChange[] }>('DeleteUserSuccess')
  .implement({
    description: 'The user is deleted: it answers NOT_FOUND from now on, and its keys stay taken.',
    fields: (t) => ({
      deletedUserId: t.id({ description: 'Global id of the deleted user.', resolve: (p) => globalId('User', p.id) }),
    }),
  });

const DeleteUserDependenciesSuccess = builder
  .objectRef<{ orders: number; enrollments: number }>('DeleteUserDependenciesSuccess')
  .implement({
    description: "How many of the user's orders and enrollments were deleted; the user itself stays.",
    fields: (t) => ({
      deletedOrders: t.exposeInt('orders', { description: 'Orders deleted.' }),
      deletedEnrollments: t.exposeInt('enrollments', { description: 'Enrollments deleted.' }),
    }),
  });

builder.mutationFields((t) => ({
  createUsers: t.field({
    type: CreateUsersSuccess,
    errors: resultUnion('CreateUsersResult', ValidationError),
    authScopes: { admin: true },
    description:
      `Creates up to ${MAX_BULK} users in one call, each as createUser would: one result per item, ` +
      'in input order, and one bad item never fails the others. The call as a whole fails ' +
      'only when the list itself is refused (empty, too long, a malformed idempotencyKey).',
    args: {
      input: t.arg({
        type: CreateUsersInput,
        required: true,
        description: 'The users, and an optional idempotency key.',
      }),
    },
    resolve: async (_root, { input }, ctx) => ({
      // An item whose accountId is malformed becomes that item's NOT_FOUND, not the call's.
      results: await createUsers(ctx, {
        users: input.users.map((u) => ({
          ...u,
          accountId: u.accountId == null ? undefined : (nativeId('Account', String(u.accountId)) ?? '-'),
        })),
        idempotencyKey: input.idempotencyKey,
      }),
    }),
  }),
  ensureUser: t.field({
    type: EnsureUserSuccess,
    errors: resultUnion(
      'EnsureUserResult',
      NotFoundError,
      ValidationError,
      PiiRejectedError,
      BackendUnavailableError,
      UnsupportedByBackendError,
    ),
    authScopes: { admin: true },
    description:
      'Lazy provisioning: the user of the partner holding the key, created when none does. ' +
      'Idempotent, also under concurrent calls (they all answer the same user).',
    args: { input: t.arg({ type: EnsureUserInput, required: true, description: 'The key.' }) },
    resolve: (_root, { input }, ctx) => ensureUser(ctx, input),
  }),
  updateUser: t.field({
    type: UpdateUserSuccess,
    errors: resultUnion(
      'UpdateUserResult',
      NotFoundError,
      ValidationError,
      PiiRejectedError,
      BackendUnavailableError,
      UnsupportedByBackendError,
    ),
    authScopes: { member: true },
    description:
      'Changes profile fields, metadata and unset keys of a user: an admin within what it ' +
      'administers, any user on itself (profile fields only). Keys, once set, never change.',
    args: { input: t.arg({ type: UpdateUserInput, required: true, description: 'The user and the changes.' }) },
    resolve: async (_root, { input }, ctx) => ({
      user: await updateUser(ctx, { ...input, id: idArg('User', input.id) } as UpdateUserData),
    }),
  }),
  disableUser: t.field({
    type: UserPayload('DisableUserSuccess', 'now DISABLED'),
    errors: resultUnion(
      'DisableUserResult',
      NotFoundError,
      ValidationError,
      BackendUnavailableError,
      UnsupportedByBackendError,
    ),
    authScopes: { admin: true },
    description:
      'Makes a user DISABLED: it cannot authenticate (its credentials are refused), stays readable by ' +
      'admins, and its keys cannot be taken by a new user. Admins only, within what they administer.',
    args: {
      input: t.arg({ type: UserIdInput('DisableUserInput', 'disable'), required: true, description: 'The user.' }),
    },
    resolve: async (_root, { input }, ctx) => ({ user: await disableUser(ctx, idArg('User', input.id)) }),
  }),
  enableUser: t.field({
    type: UserPayload('EnableUserSuccess', 'now ACTIVE'),
    errors: resultUnion('EnableUserResult', NotFoundError, UnsupportedByBackendError),
    authScopes: { admin: true },
    description: 'Makes a disabled user ACTIVE again. Admins only, within what they administer.',
    args: {
      input: t.arg({ type: UserIdInput('EnableUserInput', 'enable'), required: true, description: 'The user.' }),
    },
    resolve: async (_root, { input }, ctx) => ({ user: await enableUser(ctx, idArg('User', input.id)) }),
  }),
  mergeUsers: t.field({
    type: MergeUsersSuccess,
    errors: resultUnion('MergeUsersResult', NotFoundError, ValidationError),
    authScopes: { admin: true },
    description:
      'Merges one user into another of the same partner: the source becomes MERGED with `mergedInto`, ' +
      "the target gains the source's identities it lacks, the union of entitlements, and the source's " +
      'courses, enrollments and orders. A target that is itself merged is followed to the end of its chain; ' +
      'merging a user into itself or into its own chain is refused. Admins only, within what they administer.',
    args: {
      input: t.arg({
        type: builder.inputType('MergeUsersInput', {
          description: 'Which user to merge into which.',
          fields: (f) => ({
            sourceId: f.id({ required: true, description: 'The user that is merged away: global id or uuid.' }),
            targetId: f.id({ required: true, description: 'The user that remains: global id or uuid.' }),
          }),
        }),
        required: true,
        description: 'The two users.',
      }),
    },
    resolve: (_root, { input }, ctx) => mergeUsers(ctx, idArg('User', input.sourceId), idArg('User', input.targetId)),
  }),
  unmergeUser: t.field({
    type: UserPayload('UnmergeUserSuccess', 'ACTIVE again'),
    errors: resultUnion(
      'UnmergeUserResult',
      NotFoundError,
      ValidationError,
      BackendUnavailableError,
      UnsupportedByBackendError,
    ),
    authScopes: { admin: true },
    description:
      "Clears a merged user's `mergedInto` and makes it ACTIVE again (catalog `clear_merged_into_user_id`); " +
      'what the merge moved stays with the target. Admins only, within what they administer.',
    args: {
      input: t.arg({
        type: UserIdInput('UnmergeUserInput', 'unmerge'),
        required: true,
        description: 'The merged user.',
      }),
    },
    resolve: async (_root, { input }, ctx) => ({ user: await unmergeUser(ctx, idArg('User', input.id)) }),
  }),
  reallocateCourses: t.field({
    type: ReallocateCoursesSuccess,
    errors: resultUnion('ReallocateCoursesResult', NotFoundError, ValidationError),
    authScopes: { admin: true },
    description:
      'Moves every course one user owns to another user of the same partner. Admins only, within what they administer.',
    args: {
      input: t.arg({
        type: builder.inputType('ReallocateCoursesInput', {
          description: 'From whom to whom.',
          fields: (f) => ({
            fromUserId: f.id({ required: true, description: 'The current owner: global id or uuid.' }),
            toUserId: f.id({ required: true, description: 'The new owner: global id or uuid.' }),
          }),
        }),
        required: true,
        description: 'The two users.',
      }),
    },
    resolve: async (_root, { input }, ctx) => ({
      moved: await reallocateCourses(ctx, idArg('User', input.fromUserId), idArg('User', input.toUserId)),
    }),
  }),
  deleteUser: t.field({
    type: DeleteUserSuccess,
    errors: resultUnion(
      'DeleteUserResult',
      NotFoundError,
      ValidationError,
      BackendUnavailableError,
      UnsupportedByBackendError,
    ),
    authScopes: { admin: true },
    description:
      'Deletes a user, doing with its courses what `action` says. The user answers NOT_FOUND ' +
      'afterwards and its keys stay taken. Admins only, within what they administer; ' +
      'an embed user (one with an identifier) needs the AUTOMATE plan or above. A user of one connected ' +
      'backend is deleted there at once (its verdict is the answer); one of several is deleted there ' +
      'through the outbox: the answer comes at once, with the `pendingChanges` still on their way.',
    args: {
      input: t.arg({
        type: builder.inputType('DeleteUserInput', {
          description: 'The user, and what becomes of its courses.',
          fields: (f) => ({
            id: f.id({ required: true, description: 'The user: global id or uuid.' }),
            action: f.field({
              type: DeleteAction,
              defaultValue: 'REALLOCATE',
              description: 'What to do with its courses (default REALLOCATE).',
            }),
            reallocateTo: f.id({
              description:
                "REALLOCATE's receiver: global id or uuid of a user of " +
                "the same partner (default: the partner's first admin).",
            }),
          }),
        }),
        required: true,
        description: 'The user and the action.',
      }),
    },
    resolve: (_root, { input }, ctx) =>
      deleteUser(ctx, idArg('User', input.id), input.action ?? 'REALLOCATE', optionalIdArg('User', input.reallocateTo)),
  }),
  deleteUserDependencies: t.field({
    type: DeleteUserDependenciesSuccess,
    errors: resultUnion(
      'DeleteUserDependenciesResult',
      NotFoundError,
      ValidationError,
      BackendUnavailableError,
      UnsupportedByBackendError,
    ),
    authScopes: { admin: true },
    description:
      "Deletes only a user's orders and enrollments; the user and its courses stay " +
      '(catalog `only_orders_and_enrollments`). Admins only, within what they administer.',
    args: {
      input: t.arg({
        type: UserIdInput('DeleteUserDependenciesInput', 'strip of its orders and enrollments'),
        required: true,
        description: 'The user.',
      }),
    },
    resolve: (_root, { input }, ctx) => deleteUserDependencies(ctx, idArg('User', input.id)),
  }),
}));
