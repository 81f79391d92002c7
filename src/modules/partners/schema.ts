// createPartner (operator), API keys (admins).
import type { ApiKey } from '@prisma/client';
import { builder } from '../../graphql/builder.js';
import { resultUnion } from '../../graphql/errors.js';
import { idArg } from '../../graphql/mutations.js';
import { PlanEnum } from '../../graphql/enums.js';
import { createApiKey, createPartner, revokeApiKey, type NewPartner } from './service.js';

const ApiKeyRef = builder.prismaNode('ApiKey', {
  id: { field: 'id' },
  findUnique: (id, ctx) => ({ id, partnerId: ctx.principal?.kind === 'user' ? ctx.principal.partnerId : '-' }), // '-': no partner (a NUL is a database error)
  nullable: true,
  authScopes: { admin: true },
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
    apiKeyInfo: t.field({ type: ApiKeyRef, resolve: (p) => p.apiKey }),
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

const errors = resultUnion;

builder.mutationFields((t) => ({
  createPartner: t.field({
    type: CreatePartnerSuccess,
    errors: errors('CreatePartnerResult'),
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
    errors: errors('CreateApiKeyResult'),
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
    errors: errors('RevokeApiKeyResult'),
    authScopes: { admin: true },
    args: {
      input: t.arg({ type: builder.inputType('RevokeApiKeyInput', { fields: (f) => ({ id: f.id({ required: true }) }) }), required: true }),
    },
    resolve: async (_root, { input }, ctx) => ({ apiKey: await revokeApiKey(ctx, idArg('ApiKey', input.id)) }),
  }),
}));
