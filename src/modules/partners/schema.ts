// createPartner and resetAccountIpAccess (operator), API keys (admins).
import type { Account, ApiKey } from '@prisma/client';
import { builder } from '../../graphql/builder.js';
import { nodeLookup } from '../../graphql/nodes.js';
import { resultUnion } from '../../graphql/errors.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { apiKeyVisibility, within } from '../../auth/visibility.js';
import { idArg } from '../../graphql/mutations.js';
import { PlanEnum } from '../../graphql/enums.js';
import { createApiKey, createPartner, resetAccountIpAccess, revokeApiKey, type NewPartner } from './service.js';

const ApiKeyRef = builder.prismaNode('ApiKey', {
  id: { field: 'id' },
  // The owner's own keys, or every key of the partner for a partner admin; others are not found.
  findUnique: nodeLookup('ApiKey', (id, ctx) => within({ id }, apiKeyVisibility(ctx.principal)) as { id: string }),
  nullable: true,
  // The operator reads the key it has just created (createPartner's apiKeyInfo); every
  // lookup it could make itself finds nothing (findUnique above), as for users and accounts.
  authScopes: { admin: true, operator: true },
  fields: (t) => ({
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix', { description: 'The first characters of the key, to recognise it.' }),
    principal: t.relation('principal', { description: 'The admin user the key acts as.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
  }),
});

const CreatePartnerSuccess = builder.objectRef<NewPartner>('CreatePartnerSuccess').implement({
  fields: (t) => ({
    // Loaded by id so that nested selections plan one query; the operator's own
    // visibility (nothing of any tenant) would refuse the usual fallback lookups.
    account: t.prismaField({
      type: 'Account',
      resolve: (query, p, _args, ctx) => ctx.prisma.account.findUniqueOrThrow({ ...query, where: { id: p.account.id } }),
    }),
    adminUser: t.prismaField({
      type: 'User',
      resolve: (query, p, _args, ctx) => ctx.prisma.user.findUniqueOrThrow({ ...query, where: { id: p.adminUser.id } }),
    }),
    apiKey: t.string({ description: 'The first API key of the partner\'s admin. Shown once.', resolve: (p) => p.key }),
    apiKeyInfo: t.prismaField({
      type: 'ApiKey',
      resolve: (query, p, _args, ctx) => ctx.prisma.apiKey.findUniqueOrThrow({ ...query, where: { id: p.apiKey.id } }),
    }),
  }),
});

const CreateApiKeySuccess = builder.objectRef<{ apiKey: ApiKey; key: string }>('CreateApiKeySuccess').implement({
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyRef, resolve: (p) => p.apiKey }),
    key: t.exposeString('key', { description: 'The key itself. Shown once; only its hash is stored.' }),
  }),
});

const RevokeApiKeySuccess = builder.objectRef<{ apiKey: ApiKey }>('RevokeApiKeySuccess').implement({
  fields: (t) => ({ apiKey: t.field({ type: ApiKeyRef, resolve: (p) => p.apiKey }) }),
});

const ResetAccountIpAccessSuccess = builder.objectRef<{ account: Account }>('ResetAccountIpAccessSuccess').implement({
  fields: (t) => ({
    // Loaded by id, as createPartner's account: the operator sees no tenant through the usual lookups.
    account: t.prismaField({
      type: 'Account',
      resolve: (query, p, _args, ctx) => ctx.prisma.account.findUniqueOrThrow({ ...query, where: { id: p.account.id } }),
    }),
  }),
});

builder.mutationFields((t) => ({
  createPartner: t.field({
    type: CreatePartnerSuccess,
    errors: resultUnion('CreatePartnerResult', ValidationError),
    authScopes: { operator: true },
    args: {
      input: t.arg({
        type: builder.inputType('CreatePartnerInput', {
          fields: (f) => ({ name: f.string({ required: true }), plan: f.field({ type: PlanEnum, defaultValue: 'CORE' }) }),
        }),
        required: true,
      }),
    },
    resolve: (_root, { input }, ctx) => createPartner(ctx, { name: input.name, plan: input.plan ?? undefined }),
  }),
  createApiKey: t.field({
    type: CreateApiKeySuccess,
    // ConflictError: the partner already holds MAX_ACTIVE_API_KEYS active keys.
    errors: resultUnion('CreateApiKeyResult', ValidationError),
    authScopes: { admin: true },
    args: {
      input: t.arg({
        type: builder.inputType('CreateApiKeyInput', {
          fields: (f) => ({ name: f.string({ required: true }), expiresAt: f.field({ type: 'DateTime' }) }),
        }),
        required: true,
      }),
    },
    resolve: (_root, { input }, ctx) => createApiKey(ctx, input),
  }),
  revokeApiKey: t.field({
    type: RevokeApiKeySuccess,
    errors: resultUnion('RevokeApiKeyResult', NotFoundError),
    authScopes: { admin: true },
    args: {
      input: t.arg({ type: builder.inputType('RevokeApiKeyInput', { fields: (f) => ({ id: f.id({ required: true }) }) }), required: true }),
    },
    resolve: async (_root, { input }, ctx) => ({ apiKey: await revokeApiKey(ctx, idArg('ApiKey', input.id)) }),
  }),
  resetAccountIpAccess: t.field({
    type: ResetAccountIpAccessSuccess,
    errors: resultUnion('ResetAccountIpAccessResult', NotFoundError),
    authScopes: { operator: true },
    description: 'Operator only: clears the account\'s requireIpGqlAccess (a partner locked out of GraphQL by its own allow-list). allowedIps and requireIpApiAccess stay.',
    args: {
      input: t.arg({
        type: builder.inputType('ResetAccountIpAccessInput', {
          fields: (f) => ({ accountId: f.id({ required: true, description: 'The account whose requirement locks the partner out (usually the partner itself).' }) }),
        }),
        required: true,
      }),
    },
    resolve: async (_root, { input }, ctx) => ({ account: await resetAccountIpAccess(ctx, idArg('Account', input.accountId)) }),
  }),
}));
