// The User node, its reads, and (below) its lifecycle mutations.
import { GraphQLError } from 'graphql';
import { builder, type JsonObject } from '../../graphql/builder.js';
import { nodeLookup } from '../../graphql/nodes.js';
import { DateRangeInput, OrderDirection, unseenCursor } from '../../graphql/connections.js';
import { globalId, isUuid, nativeId } from '../../graphql/ids.js';
import { notFound } from '../../graphql/errors.js';
import { loadEntity, stringKey } from '../../graphql/entities.js';
import { ClientRef } from '../clients/schema.js';
import { canSeeClient, canSeeUser, courseVisibility, enrollmentVisibility, orderVisibility, userVisibility, within } from '../../auth/visibility.js';
import { EntitlementKindEnum, UserStatusEnum } from '../../graphql/enums.js';
import { ALL_ERRORS, resultUnion } from '../../graphql/errors.js';
import { idArg, optionalIdArg } from '../../graphql/mutations.js';
import { NotFoundError, PiiRejectedError, ValidationError } from '../../errors.js';
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

// Tagged so that a supergraph contract can leave personal data out: the fields that hold it
// and every input (argument, filter, order, mutation field) that writes, matches or sorts by it.
const PII = { tag: ['pii'] };

export const UserRef = builder.prismaNode('User', {
  id: { field: 'id' },
  // Foreign, unknown, deleted and invisible users are all simply not found.
  findUnique: nodeLookup('User', (id, ctx) => within({ id }, userVisibility(ctx.principal)) as { id: string }),
  nullable: true,
  authScopes: (user, ctx) => canSeeUser(ctx.principal, user),
  runScopesOnType: true,
  fields: (t) => ({
    uuid: t.exposeString('id', { description: 'The learning dialect\'s account id; the `sub` of a JWT.' }),
    status: t.expose('status', { type: UserStatusEnum }),
    externalUserId: t.exposeString('externalUserId', { nullable: true, description: 'Learning identity: partner-scoped, anonymized.' }),
    catalogId: t.int({
      nullable: true,
      description: 'Catalog identity: the integer user id of the catalog dialect.',
      resolve: (u) => (u.inCatalog ? u.catalogId : null),
    }),
    registeredInCatalog: t.exposeBoolean('inCatalog'),
    canvasUserId: t.exposeInt('canvasUserId', { nullable: true }),
    canvasUserUuid: t.exposeString('canvasUserUuid', { nullable: true }),
    userName: t.exposeString('userName', { nullable: true, ...PII }),
    firstName: t.exposeString('firstName', { nullable: true, ...PII }),
    lastName: t.exposeString('lastName', { nullable: true, ...PII }),
    email: t.expose('email', { type: 'EmailAddress', nullable: true, ...PII }),
    customFields: t.field({ type: 'JSONObject', nullable: true, ...PII, resolve: (u) => u.customFields as JsonObject | null }),
    timeZone: t.exposeString('timeZone', { nullable: true }),
    locale: t.exposeString('locale', { nullable: true }),
    termsOfUse: t.exposeBoolean('termsOfUse'),
    identifier: t.exposeString('identifier', { nullable: true, description: 'Embed identity: caller-chosen, unique per partner.' }),
    metadata: t.field({ type: 'JSONObject', nullable: true, ...PII, resolve: (u) => u.metadata as JsonObject | null }),
    name: t.string({ nullable: true, ...PII, description: 'Shorthand for metadata.name.', resolve: (u) => metadataString(u.metadata, 'name') }),
    avatar: t.string({ nullable: true, ...PII, description: 'Shorthand for metadata.avatar.', resolve: (u) => metadataString(u.metadata, 'avatar') }),
    account: t.relation('account', { description: 'The account the user is registered in.' }),
    registeredAccount: t.relation('account', { description: 'Alias of `account` (catalog `registered_account_id`).' }),
    partner: t.relation('partner'),
    // Not a plain relation: a partner admin may attach a user to a client of the root or of
    // another account, which the user's account admin must not read (clientVisibility).
    client: t.field({
      type: ClientRef,
      nullable: true,
      description: 'The embed client; null when the caller may not see it.',
      select: (_args, _ctx, nestedSelection) => ({ client: nestedSelection(true) }),
      resolve: (u, _args, ctx) => (u.client && canSeeClient(ctx.principal, u.client, u.id) ? u.client : null),
    }),
    entitlements: t.relation('entitlements', { query: { orderBy: { kind: 'asc' } } }),
    courses: t.relatedConnection('courses', {
      cursor: 'id',
      totalCount: true,
      query: (_args, ctx) => ({ where: courseVisibility(ctx.principal), orderBy: { id: 'asc' } }),
    }),
    enrollments: t.relatedConnection('enrollments', {
      cursor: 'id',
      totalCount: true,
      query: (_args, ctx) => ({ where: enrollmentVisibility(ctx.principal), orderBy: { id: 'asc' } }),
    }),
    orders: t.relatedConnection('orders', {
      cursor: 'id',
      totalCount: true,
      query: (_args, ctx) => ({ where: orderVisibility(ctx.principal), orderBy: { id: 'asc' } }),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    disabledAt: t.expose('disabledAt', { type: 'DateTime', nullable: true }),
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
      const given = fields.id !== undefined ? stringKey(String(fields.id)) : stringKey(fields.uuid);
      return loadEntity(ctx, info, {
        typeName: 'User',
        keyName: 'id',
        key: given && (fields.id !== undefined ? nativeId('User', given) : isUuid(given) ? given.toLowerCase() : null),
        find: (prisma, ids, query) => prisma.user.findMany({ ...query, where: within({ id: { in: ids } }, userVisibility(ctx.principal)) }),
        keyOf: (u) => u.id,
      });
    }
    return loadEntity(ctx, info, {
      typeName: 'User',
      keyName: 'externalUserId',
      key: stringKey(fields.externalUserId),
      // userVisibility pins the caller's partner, where externalUserId is unique.
      find: (prisma, keys, query) =>
        prisma.user.findMany({ ...query, where: within({ externalUserId: { in: keys } }, userVisibility(ctx.principal)) }),
      keyOf: (u) => u.externalUserId!,
    });
  },
});

const UserFilterInput = builder.inputType('UserFilter', {
  fields: (t) => ({
    status: t.field({ type: UserStatusEnum }),
    accountId: t.id({ description: 'Users registered in this account (global id or ULID).' }),
    clientId: t.id({ description: 'Users of this embed client (global id or native id).' }),
    createdAt: t.field({ type: DateRangeInput }),
    updatedAt: t.field({ type: DateRangeInput }),
    registeredInCatalog: t.boolean(),
    canvasUserId: t.int(),
    entitlement: t.field({ type: EntitlementKindEnum }),
    // Matches names and e-mails, so it can probe personal data: out of a contract without pii.
    search: t.string({ ...PII, description: 'Case-insensitive substring of a key, name or e-mail.' }),
  }),
});

const UserOrderField = builder.enumType('UserOrderField', {
  // Ordering by e-mail reveals it (a bisection over pages): tagged like the field.
  values: { CREATED_AT: {}, UPDATED_AT: {}, EXTERNAL_USER_ID: {}, EMAIL: PII, CATALOG_ID: {} } as const,
});

const UserOrderInput = builder.inputType('UserOrder', {
  fields: (t) => ({
    field: t.field({ type: UserOrderField, required: true }),
    direction: t.field({ type: OrderDirection, defaultValue: 'ASC' }),
  }),
});

/**
 * Turns an id argument into a native id; an id of the wrong kind matches nothing. The
 * stand-ins are ids no row has but the columns accept (a NUL would be a database error).
 */
const idOrNone = (type: 'Account' | 'Client', value: string | null | undefined) =>
  value === null || value === undefined ? undefined : nativeId(type, value) ?? (type === 'Client' ? '00000000-0000-0000-0000-000000000000' : '-');

const MAX_SEARCH = 255;

export function toUserFilter(filter: (typeof UserFilterInput)['$inferInput'] | null | undefined): UserFilter {
  if (!filter) return {};
  // No searched column holds more than 255 characters; a longer pattern matches nothing and
  // costs PostgreSQL's ILIKE time that grows faster than its length (100 KB: seconds).
  if (filter.search && filter.search.length > MAX_SEARCH) throw new ValidationError(`must be at most ${MAX_SEARCH} characters`, 'filter.search');
  return { ...filter, accountId: idOrNone('Account', filter.accountId), clientId: idOrNone('Client', filter.clientId) };
}

builder.queryFields((t) => ({
  user: t.prismaField({
    type: 'User',
    nullable: true,
    authScopes: { member: true },
    args: { id: t.arg.id({ required: true, description: 'Global id or uuid.' }) },
    resolve: async (query, _root, args, ctx) => {
      const id = nativeId('User', String(args.id));
      const user = id ? await ctx.prisma.user.findFirst({ ...query, where: within({ id }, userVisibility(ctx.principal)) }) : null;
      return user ?? notFound('User');
    },
  }),
  userByKey: t.prismaField({
    type: 'User',
    nullable: true,
    authScopes: { member: true },
    description: 'The user holding one partner-scoped key: give exactly one of the arguments.',
    args: {
      externalUserId: t.arg.string(),
      email: t.arg.string(PII),
      identifier: t.arg.string(),
      catalogId: t.arg.int(),
    },
    resolve: async (query, _root, key, ctx) => {
      const given = Object.entries(key).filter(([, v]) => v !== null && v !== undefined);
      if (given.length !== 1) {
        throw new GraphQLError('userByKey takes exactly one of externalUserId, email, identifier, catalogId', { extensions: { code: 'BAD_USER_INPUT' } });
      }
      return (await findUserByKey(ctx, key as UserKey, query)) ?? notFound('User');
    },
  }),
  users: t.prismaConnection({
    type: 'User',
    cursor: 'id',
    authScopes: { member: true },
    args: {
      filter: t.arg({ type: UserFilterInput }),
      orderBy: t.arg({ type: UserOrderInput }),
    },
    resolve: async (query, _root, args, ctx) => {
      if (await unseenCursor(query.cursor, (where) => ctx.prisma.user.count({ where: { AND: [where, userVisibility(ctx.principal)] } }))) return [];
      return ctx.prisma.user.findMany({ ...query, where: userWhere(ctx.principal, toUserFilter(args.filter)), orderBy: userOrderBy(args.orderBy) });
    },
    totalCount: (_conn, args, ctx) => ctx.prisma.user.count({ where: userWhere(ctx.principal, toUserFilter(args.filter)) }),
  }),
}));

// ---------------------------------------------------------------------------- mutations

const ProfileFields = (t: PothosInputFieldBuilder) => ({
  email: t.string({ ...PII, description: 'Catalog login, unique per partner among catalog users (stored lower-case).' }),
  userName: t.string(PII),
  firstName: t.string(PII),
  lastName: t.string(PII),
  customFields: t.field({ type: 'JSONObject', ...PII }),
  timeZone: t.string({ description: 'IANA time zone, e.g. Europe/Paris.' }),
  locale: t.string({ description: 'BCP 47 tag, e.g. en-GB.' }),
  termsOfUse: t.boolean(),
  canvasUserId: t.int(),
  metadata: t.field({ type: 'JSONObject', ...PII, description: 'Embed metadata; replaces the whole object.' }),
  name: t.string({ ...PII, description: 'Shorthand for metadata.name.' }),
  avatar: t.string({ ...PII, description: 'Shorthand for metadata.avatar.' }),
});

type PothosInputFieldBuilder = Parameters<Parameters<typeof builder.inputType>[1]['fields']>[0];

const CreateUserInput = builder.inputType('CreateUserInput', {
  fields: (t) => ({
    accountId: t.id({ description: 'Account to register the user in (default: the partner).' }),
    externalUserId: t.string({ description: 'Learning identity; must not carry personal data.' }),
    identifier: t.string({ description: 'Embed identity.' }),
    clientIdentifier: t.string({ description: 'Embed client the user belongs to.' }),
    ...ProfileFields(t),
  }),
});

const UserPayload = (name: string) =>
  builder.objectRef<{ user: User }>(name).implement({ fields: (t) => ({ user: t.field({ type: UserRef, resolve: (p) => p.user }) }) });

const CreateUserSuccess = UserPayload('CreateUserSuccess');

function toCreateInput(input: (typeof CreateUserInput)['$inferInput']): CreateUserData {
  return { ...input, accountId: optionalIdArg('Account', input.accountId) } as CreateUserData;
}

builder.mutationFields((t) => ({
  createUser: t.field({
    type: CreateUserSuccess,
    errors: resultUnion('CreateUserResult', NotFoundError, ValidationError, PiiRejectedError),
    authScopes: { admin: true },
    args: { input: t.arg({ type: CreateUserInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ user: await createUser(ctx, toCreateInput(input)) }),
  }),
}));

const CreateUsersSuccess = builder.objectRef<{ results: BulkItemResult[] }>('CreateUsersSuccess').implement({
  fields: (t) => ({
    results: t.field({
      type: [CreateUserSuccess],
      // itemErrors, not a hand-made union: graphql-js turns an Error returned in a list into a
      // field error, so the errors plugin must wrap each failed item for it to stay data.
      itemErrors: { types: ALL_ERRORS, directResult: true, union: { name: 'CreateUsersItemResult' } },
      description: 'One result per input item, in input order.',
      // The plugin wraps returned errors at run time; its types only expect thrown ones.
      resolve: (p) => p.results.map((r) => (r.ok ? { user: r.user } : asTypedError(r.error))) as never,
    }),
  }),
});

/** Bulk items answer typed errors only; anything unexpected is reported as a plain validation failure. */
function asTypedError(error: Error): Error {
  return ALL_ERRORS.some((E) => error instanceof E) ? error : new ValidationError('this item could not be created');
}

const CreateUsersInput = builder.inputType('CreateUsersInput', {
  fields: (t) => ({
    users: t.field({ type: [CreateUserInput], required: true, description: `At most ${MAX_BULK} users.` }),
    idempotencyKey: t.string({ description: 'A retried call with the same key returns the first call\'s results.' }),
  }),
});

const EnsureUserInput = builder.inputType('EnsureUserInput', {
  description: 'Exactly one of externalUserId and identifier.',
  fields: (t) => ({
    externalUserId: t.string(),
    identifier: t.string(),
    clientIdentifier: t.string({ description: 'Client of a user created by identifier.' }),
  }),
});

const EnsureUserSuccess = builder.objectRef<{ user: User; created: boolean }>('EnsureUserSuccess').implement({
  fields: (t) => ({
    user: t.field({ type: UserRef, resolve: (p) => p.user }),
    created: t.exposeBoolean('created'),
  }),
});

const UpdateUserInput = builder.inputType('UpdateUserInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    externalUserId: t.string({ description: 'Only while unset: keys never change.' }),
    identifier: t.string({ description: 'Only while unset: keys never change.' }),
    clientIdentifier: t.string(),
    metadataPatch: t.field({ type: 'JSONObject', ...PII, description: 'Merged into metadata key by key (RFC 7396: null removes a key).' }),
    ...ProfileFields(t),
  }),
});

const UserIdInput = (name: string) => builder.inputType(name, { fields: (t) => ({ id: t.id({ required: true }) }) });

const MergeUsersSuccess = builder.objectRef<{ source: User; target: User }>('MergeUsersSuccess').implement({
  fields: (t) => ({
    source: t.field({ type: UserRef, resolve: (p) => p.source }),
    target: t.field({ type: UserRef, resolve: (p) => p.target }),
  }),
});

const DeleteAction = builder.enumType('DeleteAction', {
  values: {
    REALLOCATE: { description: 'Move the user\'s courses to reallocateTo (default: the partner\'s first admin).' },
    DELETE: { description: 'Delete the user\'s courses.' },
    IGNORE: { description: 'Leave the courses without an owner.' },
  },
});

const ReallocateCoursesSuccess = builder.objectRef<{ moved: number }>('ReallocateCoursesSuccess').implement({
  fields: (t) => ({ moved: t.exposeInt('moved', { description: 'Courses moved.' }) }),
});

const DeleteUserSuccess = builder.objectRef<{ id: string }>('DeleteUserSuccess').implement({
  fields: (t) => ({ deletedUserId: t.id({ resolve: (p) => globalId('User', p.id) }) }),
});

const DeleteUserDependenciesSuccess = builder.objectRef<{ orders: number; enrollments: number }>('DeleteUserDependenciesSuccess').implement({
  fields: (t) => ({
    deletedOrders: t.exposeInt('orders'),
    deletedEnrollments: t.exposeInt('enrollments'),
  }),
});

builder.mutationFields((t) => ({
  createUsers: t.field({
    type: CreateUsersSuccess,
    errors: resultUnion('CreateUsersResult', ValidationError),
    authScopes: { admin: true },
    args: { input: t.arg({ type: CreateUsersInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({
      // An item whose accountId is malformed becomes that item's NOT_FOUND, not the call's.
      results: await createUsers(ctx, {
        users: input.users.map((u) => ({ ...u, accountId: u.accountId == null ? undefined : nativeId('Account', String(u.accountId)) ?? '-' })),
        idempotencyKey: input.idempotencyKey,
      }),
    }),
  }),
  ensureUser: t.field({
    type: EnsureUserSuccess,
    errors: resultUnion('EnsureUserResult', NotFoundError, ValidationError, PiiRejectedError),
    authScopes: { admin: true },
    args: { input: t.arg({ type: EnsureUserInput, required: true }) },
    resolve: (_root, { input }, ctx) => ensureUser(ctx, input),
  }),
  updateUser: t.field({
    type: UserPayload('UpdateUserSuccess'),
    errors: resultUnion('UpdateUserResult', NotFoundError, ValidationError, PiiRejectedError),
    authScopes: { member: true },
    args: { input: t.arg({ type: UpdateUserInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ user: await updateUser(ctx, { ...input, id: idArg('User', input.id) } as UpdateUserData) }),
  }),
  disableUser: t.field({
    type: UserPayload('DisableUserSuccess'),
    errors: resultUnion('DisableUserResult', NotFoundError),
    authScopes: { admin: true },
    args: { input: t.arg({ type: UserIdInput('DisableUserInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => ({ user: await disableUser(ctx, idArg('User', input.id)) }),
  }),
  enableUser: t.field({
    type: UserPayload('EnableUserSuccess'),
    errors: resultUnion('EnableUserResult', NotFoundError),
    authScopes: { admin: true },
    args: { input: t.arg({ type: UserIdInput('EnableUserInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => ({ user: await enableUser(ctx, idArg('User', input.id)) }),
  }),
  mergeUsers: t.field({
    type: MergeUsersSuccess,
    errors: resultUnion('MergeUsersResult', NotFoundError, ValidationError),
    authScopes: { admin: true },
    args: {
      input: t.arg({
        type: builder.inputType('MergeUsersInput', { fields: (f) => ({ sourceId: f.id({ required: true }), targetId: f.id({ required: true }) }) }),
        required: true,
      }),
    },
    resolve: (_root, { input }, ctx) => mergeUsers(ctx, idArg('User', input.sourceId), idArg('User', input.targetId)),
  }),
  unmergeUser: t.field({
    type: UserPayload('UnmergeUserSuccess'),
    errors: resultUnion('UnmergeUserResult', NotFoundError),
    authScopes: { admin: true },
    args: { input: t.arg({ type: UserIdInput('UnmergeUserInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => ({ user: await unmergeUser(ctx, idArg('User', input.id)) }),
  }),
  reallocateCourses: t.field({
    type: ReallocateCoursesSuccess,
    errors: resultUnion('ReallocateCoursesResult', NotFoundError, ValidationError),
    authScopes: { admin: true },
    args: {
      input: t.arg({
        type: builder.inputType('ReallocateCoursesInput', {
          fields: (f) => ({ fromUserId: f.id({ required: true }), toUserId: f.id({ required: true }) }),
        }),
        required: true,
      }),
    },
    resolve: async (_root, { input }, ctx) => ({
      moved: await reallocateCourses(ctx, idArg('User', input.fromUserId), idArg('User', input.toUserId)),
    }),
  }),
  deleteUser: t.field({
    type: DeleteUserSuccess,
    errors: resultUnion('DeleteUserResult', NotFoundError, ValidationError),
    authScopes: { admin: true },
    args: {
      input: t.arg({
        type: builder.inputType('DeleteUserInput', {
          fields: (f) => ({
            id: f.id({ required: true }),
            action: f.field({ type: DeleteAction, defaultValue: 'REALLOCATE' }),
            reallocateTo: f.id(),
          }),
        }),
        required: true,
      }),
    },
    resolve: async (_root, { input }, ctx) => ({
      id: await deleteUser(ctx, idArg('User', input.id), input.action ?? 'REALLOCATE', optionalIdArg('User', input.reallocateTo)),
    }),
  }),
  deleteUserDependencies: t.field({
    type: DeleteUserDependenciesSuccess,
    errors: resultUnion('DeleteUserDependenciesResult', NotFoundError),
    authScopes: { admin: true },
    args: { input: t.arg({ type: UserIdInput('DeleteUserDependenciesInput'), required: true }) },
    resolve: (_root, { input }, ctx) => deleteUserDependencies(ctx, idArg('User', input.id)),
  }),
}));
