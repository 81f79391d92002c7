// The Account node (partners and their sub-accounts) and its reads.
import type { Account } from '@prisma/client';
import { AccountStatusEnum, CoverageAccessEnum, PlanEnum } from '../../graphql/enums.js';
import { builder } from '../../graphql/builder.js';
import { nodeLookup } from '../../graphql/nodes.js';
import { nativeId } from '../../graphql/ids.js';
import { referenceById } from '../../graphql/entities.js';
import { sqlRoot, sqlTwin, sqlVisible, visibleRows } from '../../graphql/sql-fields.js';
import {
  accountNodePredicate,
  accountNodeVisibility,
  accountVisibility,
  canSeeAccountNode,
  clientVisibility,
  userVisibility,
  within,
} from '../../auth/visibility.js';
import { notFound, resultUnion } from '../../graphql/errors.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { BackendUnavailableError, UnsupportedByBackendError } from '../backends/errors.js';
import { idArg, optionalIdArg } from '../../graphql/mutations.js';
import { UserRef } from '../users/schema.js';
import { OrderDirection, unseenCursor } from '../../graphql/connections.js';
import { accountWhere, createAccount, updateAccount } from './service.js';
import { addAccountAdmin, removeAccountAdmin } from '../admins/service.js';

export const AccountRef = builder.prismaNode('Account', {
  id: { field: 'id' },
  findUnique: nodeLookup(
    'Account',
    (id, ctx) => within({ id }, accountNodeVisibility(ctx.principal)) as { id: string },
  ),
  nullable: true,
  authScopes: (account, ctx) => canSeeAccountNode(ctx.principal, account),
  ...sqlVisible(accountNodePredicate),
  runScopesOnType: true,
  description:
    "An organisation: a partner (a root account, no parent) or a sub-account in the partner's " +
    'tree (messaging sub-accounts, catalog sub-catalogs). Admins see the accounts they administer ' +
    'and their subtrees; a user without admin rights sees its own account and the partner.',
  fields: (t) => ({
    ulid: t.exposeString('id', { description: "The messaging dialect's account id." }),
    customerId: t.exposeInt('customerId', {
      description: "Legacy serial; also the catalog dialect's integer account id.",
    }),
    name: t.exposeString('name', { description: 'Display name, 1 to 255 characters.' }),
    isPartner: t.boolean({
      description: 'True for a partner (a root account).',
      resolve: (a) => a.parentId === null,
      ...sqlTwin((a) => `(${a}."parentId" IS NULL)`),
    }),
    parent: t.relation('parent', { nullable: true, description: 'The account directly above; null for a partner.' }),
    partner: t.relation('partner', { description: 'The partner (root account) of the tree; a partner is its own.' }),
    plan: t.field({
      type: PlanEnum,
      description: 'Embed plan tier, inherited from the partner.',
      select: { plan: true, partner: { select: { plan: true } } },
      resolve: (a) => a.plan ?? a.partner.plan ?? 'CORE',
      ...sqlTwin((a, joined) => `COALESCE(${a}.plan::text, ${joined('partner')}.plan::text, 'CORE')`),
    }),
    canvasRootAccountUuid: t.exposeString('canvasUuid', {
      description: "The catalog dialect's 40-character `canvas_root_account_uuid`.",
    }),
    legacyAccess: t.exposeBoolean('legacyAccess', {
      description: 'May use the legacy APIs (messaging `legacy_access`).',
    }),
    lrnAccess: t.exposeBoolean('lrnAccess', { description: 'May use the LRN APIs (messaging `lrn_access`).' }),
    smsAccess: t.expose('smsAccess', {
      type: CoverageAccessEnum,
      description: 'How far the account may send SMS (messaging `sms_access`).',
    }),
    mmsAccess: t.expose('mmsAccess', {
      type: CoverageAccessEnum,
      description: 'How far the account may send MMS (messaging `mms_access`).',
    }),
    requireIpApiAccess: t.exposeBoolean('requireIpApiAccess', {
      description: 'When true, REST calls of this account and its subtree from outside `allowedIps` are refused.',
    }),
    requireIpGqlAccess: t.exposeBoolean('requireIpGqlAccess', {
      description: 'When true, GraphQL calls of this account and its subtree from outside `allowedIps` are refused.',
    }),
    allowedIps: t.expose('allowedIps', {
      type: ['IPCIDR'],
      description: 'The IP allow-list: addresses and CIDR blocks (at most 200) the require flags admit.',
    }),
    status: t.expose('status', { type: AccountStatusEnum, description: 'Whether the account is in use.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'Messaging `inserted_at`.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the account last changed.' }),
    subAccounts: t.relatedConnection('subAccounts', {
      cursor: 'id',
      totalCount: true,
      description: 'The accounts directly below this one that the caller may see, oldest first.',
      ...visibleRows('Account'),
    }),
    users: t.relatedConnection('users', {
      cursor: 'id',
      totalCount: true,
      description: 'The users registered in this account (not its subtree) that the caller may see, oldest first.',
      ...visibleRows('User'),
    }),
    clients: t.relatedConnection('clients', {
      cursor: 'id',
      totalCount: true,
      description: 'The embed clients of this account that the caller may see, oldest first.',
      query: (_args, ctx) => ({ where: clientVisibility(ctx.principal), orderBy: { id: 'asc' } }),
    }),
    admins: t.field({
      type: [UserRef],
      description:
        'Users holding an AccountAdmin row on this account. ' +
        'Partner-wide admins hold the PARTNER_ADMIN entitlement instead.',
      select: (_args, ctx) => ({
        admins: {
          where: { user: userVisibility(ctx.principal) },
          orderBy: { createdAt: 'asc' },
          select: { user: true },
        },
      }),
      resolve: (a) => a.admins.map((row) => row.user),
    }),
  }),
});

// Federation: other subgraphs reference an account by its global id.
builder.asEntity(AccountRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: referenceById('Account', (prisma, ids, query, ctx) =>
    prisma.account.findMany({ ...query, where: within({ id: { in: ids } }, accountNodeVisibility(ctx.principal)) }),
  ),
});

const AccountFilterInput = builder.inputType('AccountFilter', {
  description: 'Narrows `accounts`; the conditions given all apply.',
  fields: (t) => ({
    parentId: t.id({ description: 'Direct children of this account.' }),
    partnersOnly: t.boolean({ description: 'Only root accounts.' }),
    status: t.field({ type: AccountStatusEnum, description: 'Accounts in this state.' }),
    search: t.string({ description: 'Case-insensitive substring of the name.' }),
  }),
});

const AccountOrderField = builder.enumType('AccountOrderField', {
  description: 'What `accounts` can be sorted by.',
  values: {
    CREATED_AT: { description: 'Creation time.' },
    NAME: { description: 'The name.' },
    CUSTOMER_ID: { description: 'The legacy serial.' },
  } as const,
});
const AccountOrderInput = builder.inputType('AccountOrder', {
  description: 'How to sort `accounts`; ties are broken by id, so pages stay stable.',
  fields: (t) => ({
    field: t.field({ type: AccountOrderField, required: true, description: 'The sort key.' }),
    direction: t.field({ type: OrderDirection, defaultValue: 'ASC', description: 'ASC (the default) or DESC.' }),
  }),
});

const ACCOUNT_ORDER = { CREATED_AT: 'createdAt', NAME: 'name', CUSTOMER_ID: 'customerId' } as const;

builder.queryFields((t) => ({
  account: t.prismaField({
    type: 'Account',
    nullable: true,
    authScopes: { member: true },
    ...sqlRoot('byId'),
    description:
      'The account with this id; null with a NOT_FOUND error when it ' +
      'names no account the caller may see (unknown and foreign ids alike).',
    args: { id: t.arg.id({ required: true, description: 'Global id or ULID.' }) },
    resolve: async (query, _root, args, ctx) => {
      const id = nativeId('Account', String(args.id));
      const account = id
        ? await ctx.prisma.account.findFirst({ ...query, where: within({ id }, accountVisibility(ctx.principal)) })
        : null;
      return account ?? notFound('Account');
    },
  }),
  accounts: t.prismaConnection({
    type: 'Account',
    cursor: 'id',
    authScopes: { member: true },
    ...sqlRoot('list'),
    description:
      'The accounts the caller may see (an admin: the accounts it ' +
      'administers and their subtrees), by id unless `orderBy` says otherwise.',
    args: {
      filter: t.arg({ type: AccountFilterInput, description: 'Left out: every account the caller may see.' }),
      orderBy: t.arg({ type: AccountOrderInput, description: 'Left out: by id (creation order).' }),
    },
    resolve: async (query, _root, { filter, orderBy }, ctx) => {
      if (
        await unseenCursor(query.cursor, (where) =>
          ctx.prisma.account.count({ where: { AND: [where, accountVisibility(ctx.principal)] } }),
        )
      )
        return [];
      const direction = orderBy?.direction === 'DESC' ? 'desc' : 'asc';
      return ctx.prisma.account.findMany({
        ...query,
        where: accountWhere(ctx.principal, filter ? { ...filter, parentId: parentFilter(filter.parentId) } : {}),
        orderBy: orderBy ? [{ [ACCOUNT_ORDER[orderBy.field]]: direction }, { id: direction }] : [{ id: 'asc' }],
      });
    },
    totalCount: (_conn, { filter }, ctx) =>
      ctx.prisma.account.count({
        where: accountWhere(ctx.principal, filter ? { ...filter, parentId: parentFilter(filter.parentId) } : {}),
      }),
  }),
}));

// An id that names no account is '-', which matches no account (a NUL is a database error).
const parentFilter = (value: string | null | undefined) =>
  value === null || value === undefined ? undefined : (nativeId('Account', String(value)) ?? '-');

// ---------------------------------------------------------------------------- mutations

const accessInputFields = (t: Parameters<Parameters<typeof builder.inputType>[1]['fields']>[0]) => ({
  legacyAccess: t.boolean({ description: 'May use the legacy APIs (messaging `legacy_access`).' }),
  lrnAccess: t.boolean({ description: 'May use the LRN APIs (messaging `lrn_access`).' }),
  smsAccess: t.field({
    type: CoverageAccessEnum,
    description: 'How far the account may send SMS (messaging `sms_access`).',
  }),
  mmsAccess: t.field({
    type: CoverageAccessEnum,
    description: 'How far the account may send MMS (messaging `mms_access`).',
  }),
  requireIpApiAccess: t.boolean({
    description: 'Refuse REST calls from outside allowedIps (this account and its subtree).',
  }),
  requireIpGqlAccess: t.boolean({
    description: 'Refuse GraphQL calls from outside allowedIps (this account and its subtree).',
  }),
  allowedIps: t.field({
    type: ['IPCIDR'],
    description:
      'The IP allow-list, at most 200 addresses or CIDR blocks; ' +
      'replaces the whole list. A require flag needs at least one entry.',
  }),
});

const AccountPayload = (name: string, what: string) =>
  builder.objectRef<{ account: Account }>(name).implement({
    description: `The account ${what}.`,
    fields: (t) => ({
      account: t.field({ type: AccountRef, description: `The account ${what}.`, resolve: (p) => p.account }),
    }),
  });

builder.mutationFields((t) => ({
  createAccount: t.field({
    type: AccountPayload('CreateAccountSuccess', 'created'),
    errors: resultUnion(
      'CreateAccountResult',
      NotFoundError,
      ValidationError,
      BackendUnavailableError,
      UnsupportedByBackendError,
    ),
    authScopes: { admin: true },
    description:
      'Creates a sub-account under an account the caller administers. ' +
      'Flags left out are false, coverage NONE and the allow-list empty.',
    args: {
      input: t.arg({
        type: builder.inputType('CreateAccountInput', {
          description: 'The new sub-account: where it goes, its name and its access settings.',
          fields: (f) => ({
            parentId: f.id({ description: 'Parent account: global id or ULID (default: the partner).' }),
            name: f.string({ required: true, description: 'Display name, 1 to 255 characters.' }),
            ...accessInputFields(f),
          }),
        }),
        required: true,
        description: 'The new account.',
      }),
    },
    resolve: async (_root, { input }, ctx) => ({
      account: await createAccount(ctx, { ...input, parentId: optionalIdArg('Account', input.parentId) }),
    }),
  }),
  updateAccount: t.field({
    type: AccountPayload('UpdateAccountSuccess', 'as it is now'),
    errors: resultUnion('UpdateAccountResult', NotFoundError, ValidationError),
    authScopes: { admin: true },
    description:
      'Changes an account the caller administers: its name and access settings. Fields left out stay as they are.',
    args: {
      input: t.arg({
        type: builder.inputType('UpdateAccountInput', {
          description: 'Which account, and the fields to change.',
          fields: (f) => ({
            id: f.id({ required: true, description: 'The account: global id or ULID.' }),
            name: f.string({ description: 'Display name, 1 to 255 characters.' }),
            ...accessInputFields(f),
          }),
        }),
        required: true,
        description: 'The account and the changes.',
      }),
    },
    resolve: async (_root, { input }, ctx) => ({
      account: await updateAccount(ctx, { ...input, id: idArg('Account', input.id) }),
    }),
  }),
  addAccountAdmin: t.field({
    type: AccountPayload('AddAccountAdminSuccess', 'with its admins'),
    errors: resultUnion('AddAccountAdminResult', NotFoundError),
    authScopes: { admin: true },
    description:
      'Makes an ACTIVE user of the partner an admin of the account and its subtree. ' +
      'The caller must administer the account itself, so an account ' +
      'admin appoints admins at or below its own accounts, never above.',
    args: {
      input: t.arg({
        type: AccountAdminInput('AddAccountAdminInput', 'appoint'),
        required: true,
        description: 'The account and the user.',
      }),
    },
    resolve: async (_root, { input }, ctx) => ({
      account: await addAccountAdmin(ctx, idArg('Account', input.accountId), idArg('User', input.userId)),
    }),
  }),
  removeAccountAdmin: t.field({
    type: AccountPayload('RemoveAccountAdminSuccess', 'with its admins'),
    errors: resultUnion('RemoveAccountAdminResult', NotFoundError),
    authScopes: { admin: true },
    description:
      "Removes a user's admin rights on the account (its AccountAdmin row); " +
      'rights from entitlements or other accounts stay. The caller must administer the account.',
    args: {
      input: t.arg({
        type: AccountAdminInput('RemoveAccountAdminInput', 'remove'),
        required: true,
        description: 'The account and the user.',
      }),
    },
    resolve: async (_root, { input }, ctx) => ({
      account: await removeAccountAdmin(ctx, idArg('Account', input.accountId), idArg('User', input.userId)),
    }),
  }),
}));

function AccountAdminInput(name: string, verb: string) {
  return builder.inputType(name, {
    description: `The account, and the admin to ${verb}.`,
    fields: (f) => ({
      accountId: f.id({ required: true, description: 'The account: global id or ULID.' }),
      userId: f.id({ required: true, description: 'The user: global id or uuid.' }),
    }),
  });
}
