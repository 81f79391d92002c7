// The Account node (partners and their sub-accounts) and its reads.
import type { Account, Prisma } from '@prisma/client';
import { AccountStatusEnum, CoverageAccessEnum, PlanEnum } from '../../graphql/enums.js';
import { builder } from '../../graphql/builder.js';
import { nodeLookup } from '../../graphql/nodes.js';
import { nativeId } from '../../graphql/ids.js';
import { loadEntity } from '../../graphql/entities.js';
import { accountVisibility, canSeeAccount, clientVisibility, userVisibility, within } from '../../auth/visibility.js';
import { notFound, resultUnion } from '../../graphql/errors.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { idArg, optionalIdArg } from '../../graphql/mutations.js';
import { UserRef } from '../users/schema.js';
import { isUser, type Principal, type UserPrincipal } from '../../auth/principal.js';
import { OrderDirection, unseenCursor } from '../../graphql/connections.js';
import { accountWhere, addAccountAdmin, createAccount, removeAccountAdmin, updateAccount } from './service.js';

/**
 * An account below one the caller administers. The principal's set of administered accounts
 * was computed when it authenticated, so an account admin's createAccount would otherwise
 * return a sub-account that its own request may not see.
 */
function inAdministeredSubtree(principal: Principal | null, account: Pick<Account, 'partnerId' | 'ancestorIds'>): boolean {
  return isUser(principal) && account.partnerId === principal.partnerId && account.ancestorIds.some((id) => principal.adminAccountIds.has(id));
}

const subtreeAdmin = (p: Principal | null): p is UserPrincipal => isUser(p) && !p.partnerAdmin && p.adminAccountIds.size > 0;
const subtreeOf = (p: UserPrincipal): Prisma.AccountWhereInput => ({ partnerId: p.partnerId, ancestorIds: { hasSome: [...p.adminAccountIds] } });

export const AccountRef = builder.prismaNode('Account', {
  id: { field: 'id' },
  findUnique: nodeLookup('Account', (id, ctx) =>
    (subtreeAdmin(ctx.principal)
      ? { id, AND: [{ OR: [accountVisibility(ctx.principal), subtreeOf(ctx.principal)] }] }
      : within({ id }, accountVisibility(ctx.principal))) as { id: string },
  ),
  nullable: true,
  authScopes: (account, ctx) => canSeeAccount(ctx.principal, account) || inAdministeredSubtree(ctx.principal, account),
  runScopesOnType: true,
  fields: (t) => ({
    ulid: t.exposeString('id', { description: 'The messaging dialect\'s account id.' }),
    customerId: t.exposeInt('customerId', { description: 'Legacy serial; also the catalog dialect\'s integer account id.' }),
    name: t.exposeString('name'),
    isPartner: t.boolean({ resolve: (a) => a.parentId === null }),
    parent: t.relation('parent', { nullable: true }),
    partner: t.relation('partner'),
    plan: t.field({
      type: PlanEnum,
      description: 'Embed plan tier, inherited from the partner.',
      select: { plan: true, partner: { select: { plan: true } } },
      resolve: (a) => a.plan ?? a.partner.plan ?? 'CORE',
    }),
    canvasRootAccountUuid: t.exposeString('canvasUuid'),
    legacyAccess: t.exposeBoolean('legacyAccess', { description: 'May use the legacy APIs (messaging `legacy_access`).' }),
    lrnAccess: t.exposeBoolean('lrnAccess', { description: 'May use the LRN APIs (messaging `lrn_access`).' }),
    smsAccess: t.expose('smsAccess', { type: CoverageAccessEnum }),
    mmsAccess: t.expose('mmsAccess', { type: CoverageAccessEnum }),
    requireIpApiAccess: t.exposeBoolean('requireIpApiAccess'),
    requireIpGqlAccess: t.exposeBoolean('requireIpGqlAccess'),
    allowedIps: t.expose('allowedIps', { type: ['IPCIDR'] }),
    status: t.expose('status', { type: AccountStatusEnum }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'Messaging `inserted_at`.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    subAccounts: t.relatedConnection('subAccounts', {
      cursor: 'id',
      totalCount: true,
      query: (_args, ctx) => ({ where: accountVisibility(ctx.principal), orderBy: { id: 'asc' } }),
    }),
    users: t.relatedConnection('users', {
      cursor: 'id',
      totalCount: true,
      query: (_args, ctx) => ({ where: userVisibility(ctx.principal), orderBy: { id: 'asc' } }),
    }),
    clients: t.relatedConnection('clients', {
      cursor: 'id',
      totalCount: true,
      query: (_args, ctx) => ({ where: clientVisibility(ctx.principal), orderBy: { id: 'asc' } }),
    }),
    admins: t.field({
      type: [UserRef],
      description: 'Users holding an AccountAdmin row on this account. Partner-wide admins hold the PARTNER_ADMIN entitlement instead.',
      select: (_args, ctx) => ({ admins: { where: { user: userVisibility(ctx.principal) }, orderBy: { createdAt: 'asc' }, select: { user: true } } }),
      resolve: (a) => a.admins.map((row) => row.user),
    }),
  }),
});

// Federation: other subgraphs reference an account by its global id.
builder.asEntity(AccountRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: (ref, ctx, info) =>
    loadEntity(ctx, info, {
      typeName: 'Account',
      keyName: 'id',
      key: nativeId('Account', String(ref.id)),
      find: (prisma, ids, query) => prisma.account.findMany({ ...query, where: within({ id: { in: ids } }, accountVisibility(ctx.principal)) }),
      keyOf: (a) => a.id,
    }),
});

const AccountFilterInput = builder.inputType('AccountFilter', {
  fields: (t) => ({
    parentId: t.id({ description: 'Direct children of this account.' }),
    partnersOnly: t.boolean({ description: 'Only root accounts.' }),
    status: t.field({ type: AccountStatusEnum }),
    search: t.string({ description: 'Case-insensitive substring of the name.' }),
  }),
});

const AccountOrderField = builder.enumType('AccountOrderField', { values: ['CREATED_AT', 'NAME', 'CUSTOMER_ID'] as const });
const AccountOrderInput = builder.inputType('AccountOrder', {
  fields: (t) => ({
    field: t.field({ type: AccountOrderField, required: true }),
    direction: t.field({ type: OrderDirection, defaultValue: 'ASC' }),
  }),
});

const ACCOUNT_ORDER = { CREATED_AT: 'createdAt', NAME: 'name', CUSTOMER_ID: 'customerId' } as const;

builder.queryFields((t) => ({
  account: t.prismaField({
    type: 'Account',
    nullable: true,
    authScopes: { member: true },
    args: { id: t.arg.id({ required: true, description: 'Global id or ULID.' }) },
    resolve: async (query, _root, args, ctx) => {
      const id = nativeId('Account', String(args.id));
      const account = id ? await ctx.prisma.account.findFirst({ ...query, where: within({ id }, accountVisibility(ctx.principal)) }) : null;
      return account ?? notFound('Account');
    },
  }),
  accounts: t.prismaConnection({
    type: 'Account',
    cursor: 'id',
    authScopes: { member: true },
    args: { filter: t.arg({ type: AccountFilterInput }), orderBy: t.arg({ type: AccountOrderInput }) },
    resolve: async (query, _root, { filter, orderBy }, ctx) => {
      if (await unseenCursor(query.cursor, (where) => ctx.prisma.account.count({ where: { AND: [where, accountVisibility(ctx.principal)] } }))) return [];
      const direction = orderBy?.direction === 'DESC' ? 'desc' : 'asc';
      return ctx.prisma.account.findMany({
        ...query,
        where: accountWhere(ctx.principal, filter ? { ...filter, parentId: parentFilter(filter.parentId) } : {}),
        orderBy: orderBy ? [{ [ACCOUNT_ORDER[orderBy.field]]: direction }, { id: direction }] : [{ id: 'asc' }],
      });
    },
    totalCount: (_conn, { filter }, ctx) =>
      ctx.prisma.account.count({ where: accountWhere(ctx.principal, filter ? { ...filter, parentId: parentFilter(filter.parentId) } : {}) }),
  }),
}));

const parentFilter = (value: string | null | undefined) =>
  value === null || value === undefined ? undefined : nativeId('Account', String(value)) ?? '-'; // matches no account (a NUL is a database error)

// ---------------------------------------------------------------------------- mutations

const accessInputFields = (t: Parameters<Parameters<typeof builder.inputType>[1]['fields']>[0]) => ({
  legacyAccess: t.boolean({ description: 'May use the legacy APIs (messaging `legacy_access`).' }),
  lrnAccess: t.boolean({ description: 'May use the LRN APIs (messaging `lrn_access`).' }),
  smsAccess: t.field({ type: CoverageAccessEnum }),
  mmsAccess: t.field({ type: CoverageAccessEnum }),
  requireIpApiAccess: t.boolean({ description: 'Refuse REST calls from outside allowedIps (this account and its subtree).' }),
  requireIpGqlAccess: t.boolean({ description: 'Refuse GraphQL calls from outside allowedIps (this account and its subtree).' }),
  allowedIps: t.field({ type: ['IPCIDR'] }),
});

const AccountPayload = (name: string) =>
  builder.objectRef<{ account: Account }>(name).implement({ fields: (t) => ({ account: t.field({ type: AccountRef, resolve: (p) => p.account }) }) });

builder.mutationFields((t) => ({
  createAccount: t.field({
    type: AccountPayload('CreateAccountSuccess'),
    errors: resultUnion('CreateAccountResult', NotFoundError, ValidationError),
    authScopes: { admin: true },
    args: {
      input: t.arg({
        type: builder.inputType('CreateAccountInput', {
          fields: (f) => ({
            parentId: f.id({ description: 'Parent account (default: the partner).' }),
            name: f.string({ required: true }),
            ...accessInputFields(f),
          }),
        }),
        required: true,
      }),
    },
    resolve: async (_root, { input }, ctx) => ({
      account: await createAccount(ctx, { ...input, parentId: optionalIdArg('Account', input.parentId) }),
    }),
  }),
  updateAccount: t.field({
    type: AccountPayload('UpdateAccountSuccess'),
    errors: resultUnion('UpdateAccountResult', NotFoundError, ValidationError),
    authScopes: { admin: true },
    args: {
      input: t.arg({
        type: builder.inputType('UpdateAccountInput', {
          fields: (f) => ({ id: f.id({ required: true }), name: f.string(), ...accessInputFields(f) }),
        }),
        required: true,
      }),
    },
    resolve: async (_root, { input }, ctx) => ({ account: await updateAccount(ctx, { ...input, id: idArg('Account', input.id) }) }),
  }),
  addAccountAdmin: t.field({
    type: AccountPayload('AddAccountAdminSuccess'),
    errors: resultUnion('AddAccountAdminResult', NotFoundError),
    authScopes: { admin: true },
    description: 'Make a user an admin of the account and its subtree.',
    args: { input: t.arg({ type: AccountAdminInput('AddAccountAdminInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => ({ account: await addAccountAdmin(ctx, idArg('Account', input.accountId), idArg('User', input.userId)) }),
  }),
  removeAccountAdmin: t.field({
    type: AccountPayload('RemoveAccountAdminSuccess'),
    errors: resultUnion('RemoveAccountAdminResult', NotFoundError),
    authScopes: { admin: true },
    args: { input: t.arg({ type: AccountAdminInput('RemoveAccountAdminInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => ({ account: await removeAccountAdmin(ctx, idArg('Account', input.accountId), idArg('User', input.userId)) }),
  }),
}));

function AccountAdminInput(name: string) {
  return builder.inputType(name, { fields: (f) => ({ accountId: f.id({ required: true }), userId: f.id({ required: true }) }) });
}
