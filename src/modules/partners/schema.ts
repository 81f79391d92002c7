// createPartner and resetAccountIpAccess (operator), API keys (admins).
import type { Account, ApiKey } from '@prisma/client';
import { builder } from '../../graphql/builder.js';
import { nodeLookup } from '../../graphql/nodes.js';
import { resultUnion } from '../../graphql/errors.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { apiKeyVisibility, within } from '../../auth/visibility.js';
import { idArg } from '../../graphql/mutations.js';
import { PlanEnum } from '../../graphql/enums.js';
import {
  MAX_ACTIVE_API_KEYS,
  createApiKey,
  createPartner,
  resetAccountIpAccess,
  revokeApiKey,
  type NewPartner,
} from './service.js';

const ApiKeyRef = builder.prismaNode('ApiKey', {
  id: { field: 'id' },
  // The owner's own keys, or every key of the partner for a partner admin; others are not found.
  findUnique: nodeLookup('ApiKey', (id, ctx) => within({ id }, apiKeyVisibility(ctx.principal)) as { id: string }),
  nullable: true,
  // The operator reads the key it has just created (createPartner's apiKeyInfo); every
  // lookup it could make itself finds nothing (findUnique above), as for users and accounts.
  authScopes: { admin: true, operator: true },
  description:
    'A partner API key: the credential (sent as `Authorization: Bearer <key>`) ' +
    'is shown once at creation and stored only as a hash; this is what is kept about it. ' +
    'An admin sees its own keys, a partner admin every key of the partner.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The name given at creation, to tell keys apart.' }),
    prefix: t.exposeString('prefix', { description: 'The first characters of the key, to recognise it.' }),
    principal: t.relation('principal', { description: 'The admin user the key acts as.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the key was created.' }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the key stops working; null: never.',
    }),
    revokedAt: t.expose('revokedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the key was revoked; null while it is not.',
    }),
    lastUsedAt: t.expose('lastUsedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the key last authenticated a request (refreshed at most once a minute); null: never used.',
    }),
  }),
});

const CreatePartnerSuccess = builder.objectRef<NewPartner>('CreatePartnerSuccess').implement({
  description: "The new partner, its first admin and that admin's first API key.",
  fields: (t) => ({
    // Loaded by id so that nested selections plan one query; the operator's own
    // visibility (nothing of any tenant) would refuse the usual fallback lookups.
    account: t.prismaField({
      type: 'Account',
      description: "The partner's root account.",
      resolve: (query, p, _args, ctx) =>
        ctx.prisma.account.findUniqueOrThrow({ ...query, where: { id: p.account.id } }),
    }),
    adminUser: t.prismaField({
      type: 'User',
      description: "The partner's first admin (PARTNER_ADMIN), whom the API key acts as.",
      resolve: (query, p, _args, ctx) => ctx.prisma.user.findUniqueOrThrow({ ...query, where: { id: p.adminUser.id } }),
    }),
    apiKey: t.string({ description: "The first API key of the partner's admin. Shown once.", resolve: (p) => p.key }),
    apiKeyInfo: t.prismaField({
      type: 'ApiKey',
      description: 'What is kept about that key (name, prefix, dates).',
      resolve: (query, p, _args, ctx) => ctx.prisma.apiKey.findUniqueOrThrow({ ...query, where: { id: p.apiKey.id } }),
    }),
  }),
});

const CreateApiKeySuccess = builder.objectRef<{ apiKey: ApiKey; key: string }>('CreateApiKeySuccess').implement({
  description: 'The new key: the credential itself, once, and what is kept about it.',
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyRef, description: 'What is kept about the key.', resolve: (p) => p.apiKey }),
    key: t.exposeString('key', { description: 'The key itself. Shown once; only its hash is stored.' }),
  }),
});

const RevokeApiKeySuccess = builder.objectRef<{ apiKey: ApiKey }>('RevokeApiKeySuccess').implement({
  description: 'The key, revoked: it authenticates nothing from now on.',
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyRef, description: 'The revoked key (`revokedAt` set).', resolve: (p) => p.apiKey }),
  }),
});

const ResetAccountIpAccessSuccess = builder.objectRef<{ account: Account }>('ResetAccountIpAccessSuccess').implement({
  description: 'The account, requireIpGqlAccess cleared.',
  fields: (t) => ({
    // Loaded by id, as createPartner's account: the operator sees no tenant through the usual lookups.
    account: t.prismaField({
      type: 'Account',
      description: 'The account as it is now.',
      resolve: (query, p, _args, ctx) =>
        ctx.prisma.account.findUniqueOrThrow({ ...query, where: { id: p.account.id } }),
    }),
  }),
});

builder.mutationFields((t) => ({
  createPartner: t.field({
    type: CreatePartnerSuccess,
    errors: resultUnion('CreatePartnerResult', ValidationError),
    authScopes: { operator: true },
    description:
      'Operator only: provisions a partner, i.e. its root account, ' +
      'its first admin user and an API key for that admin (returned once).',
    args: {
      input: t.arg({
        type: builder.inputType('CreatePartnerInput', {
          description: 'The new partner.',
          fields: (f) => ({
            name: f.string({ required: true, description: 'Display name, 1 to 255 characters.' }),
            plan: f.field({ type: PlanEnum, defaultValue: 'CORE', description: 'Its embed plan tier (default CORE).' }),
          }),
        }),
        required: true,
        description: 'The new partner.',
      }),
    },
    resolve: (_root, { input }, ctx) => createPartner(ctx, { name: input.name, plan: input.plan ?? undefined }),
  }),
  createApiKey: t.field({
    type: CreateApiKeySuccess,
    // ConflictError: the partner already holds MAX_ACTIVE_API_KEYS active keys.
    errors: resultUnion('CreateApiKeyResult', ValidationError),
    authScopes: { admin: true },
    description:
      'Creates an API key acting as the calling admin (with its rights). The key is returned once. ' +
      `A partner holds at most ${MAX_ACTIVE_API_KEYS} active keys: one more is a ConflictError.`,
    args: {
      input: t.arg({
        type: builder.inputType('CreateApiKeyInput', {
          description: 'The new key.',
          fields: (f) => ({
            name: f.string({ required: true, description: 'A name to tell keys apart, 1 to 255 characters.' }),
            expiresAt: f.field({
              type: 'DateTime',
              description: 'When the key stops working, in the future (left out: never).',
            }),
          }),
        }),
        required: true,
        description: 'The new key.',
      }),
    },
    resolve: (_root, { input }, ctx) => createApiKey(ctx, input),
  }),
  revokeApiKey: t.field({
    type: RevokeApiKeySuccess,
    errors: resultUnion('RevokeApiKeyResult', NotFoundError),
    authScopes: { admin: true },
    description:
      'Revokes an API key at once (revoking a revoked key changes nothing). ' +
      'An admin revokes its own keys, a partner admin any key of the partner.',
    args: {
      input: t.arg({
        type: builder.inputType('RevokeApiKeyInput', {
          description: 'The key to revoke.',
          fields: (f) => ({ id: f.id({ required: true, description: 'The key: global id of the ApiKey.' }) }),
        }),
        required: true,
        description: 'The key.',
      }),
    },
    resolve: async (_root, { input }, ctx) => ({ apiKey: await revokeApiKey(ctx, idArg('ApiKey', input.id)) }),
  }),
  resetAccountIpAccess: t.field({
    type: ResetAccountIpAccessSuccess,
    errors: resultUnion('ResetAccountIpAccessResult', NotFoundError),
    authScopes: { operator: true },
    description:
      "Operator only: clears the account's requireIpGqlAccess (a partner locked out " +
      'of GraphQL by its own allow-list). allowedIps and requireIpApiAccess stay.',
    args: {
      input: t.arg({
        type: builder.inputType('ResetAccountIpAccessInput', {
          description: 'The account to unlock.',
          fields: (f) => ({
            accountId: f.id({
              required: true,
              description: 'The account whose requirement locks the partner out (usually the partner itself).',
            }),
          }),
        }),
        required: true,
        description: 'The account.',
      }),
    },
    resolve: async (_root, { input }, ctx) => ({
      account: await resetAccountIpAccess(ctx, idArg('Account', input.accountId)),
    }),
  }),
}));
