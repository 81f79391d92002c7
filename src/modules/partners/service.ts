// Partners and their credentials: the operator provisions a partner (root account, first
// admin, first API key) and can lift its GraphQL IP lock-out; admins mint and revoke API keys
// bound to themselves.
import { Plan, type Account, type ApiKey, type User } from '@prisma/client';
import { z } from 'zod';
import { ulid } from 'ulid';
import type { RequestContext } from '../../auth/context.js';
import { generateApiKey } from '../../auth/keys.js';
import { isAdmin } from '../../auth/principal.js';
import { apiKeyVisibility, within } from '../../auth/visibility.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../errors.js';
import { nullish, parse, text } from '../../validation.js';
import { audited } from '../audit/service.js';
import { requireUser } from '../../auth/context.js';
import type { Tx } from '../../store/transaction.js';
import { canvasUuid, uuidv7 } from '../../store/ids.js';

const partnerSchema = z.object({ name: text.min(1, 'must not be empty'), plan: z.enum(Plan).default('CORE') });
export type CreatePartnerInput = z.input<typeof partnerSchema>;

export interface NewPartner {
  account: Account;
  adminUser: User;
  apiKey: ApiKey;
  /** The API key itself: shown once, never stored. */
  key: string;
}

export async function createPartner(ctx: RequestContext, raw: CreatePartnerInput): Promise<NewPartner> {
  if (ctx.principal?.kind !== 'operator') throw new ForbiddenError('only the operator provisions partners');
  const input = parse(partnerSchema, raw);
  return audited(ctx, (tx, audit) => provisionPartner(tx, input, audit));
}

/** The body of createPartner, also used by the CLI and the demo seed. */
export async function provisionPartner(
  tx: Tx,
  input: { name: string; plan?: Plan },
  audit: (e: { action: string; subjectType: string; subjectId: string; data?: object }) => void = () => {},
): Promise<NewPartner> {
  const id = ulid();
  const account = await tx.account.create({
    data: {
      id,
      partnerId: id,
      name: input.name,
      plan: input.plan ?? 'CORE',
      ancestorIds: [],
      canvasUuid: canvasUuid(),
    },
  });
  const adminUser = await tx.user.create({ data: { id: uuidv7(), partnerId: id, accountId: id, userName: 'admin' } });
  await tx.entitlement.create({ data: { userId: adminUser.id, kind: 'PARTNER_ADMIN' } });
  const { key, hash, prefix } = generateApiKey();
  const apiKey = await tx.apiKey.create({
    data: { partnerId: id, principalId: adminUser.id, name: 'initial', prefix, hash },
  });
  audit({
    action: 'partner.create',
    subjectType: 'Account',
    subjectId: id,
    data: { partnerId: id, name: input.name, plan: account.plan, adminUserId: adminUser.id },
  });
  return { account, adminUser, apiKey, key };
}

/**
 * Active API keys (neither revoked nor expired) a partner may hold at once. Keys are minted by
 * any admin of the partner and never expire unless asked to: without a cap, a leaked admin
 * credential could mint keys without end.
 */
export const MAX_ACTIVE_API_KEYS = 50;

const apiKeySchema = z.object({
  name: text.min(1, 'must not be empty'),
  expiresAt: nullish(z.date()),
});

/** A new key acting as the calling admin. */
export async function createApiKey(
  ctx: RequestContext,
  raw: z.input<typeof apiKeySchema>,
): Promise<{ apiKey: ApiKey; key: string }> {
  const principal = requireUser(ctx);
  if (!isAdmin(principal)) throw new ForbiddenError('API keys are for admins');
  const input = parse(apiKeySchema, raw);
  if (input.expiresAt && input.expiresAt.getTime() <= Date.now())
    throw new ValidationError('expiresAt must be in the future', 'input.expiresAt');
  return audited(ctx, async (tx, audit) => {
    // One key creation per partner at a time, so that racing requests cannot both take the
    // last place (NO KEY UPDATE: rows that reference the partner can still be inserted).
    await tx.$queryRaw`SELECT id FROM "Account" WHERE id = ${principal.partnerId} FOR NO KEY UPDATE`;
    const now = new Date();
    const active = await tx.apiKey.count({
      where: { partnerId: principal.partnerId, revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
    });
    if (active >= MAX_ACTIVE_API_KEYS) {
      throw new ConflictError(
        `the partner already has ${MAX_ACTIVE_API_KEYS} active API keys, the most it may hold: revoke one first`,
      );
    }
    const { key, hash, prefix } = generateApiKey();
    const apiKey = await tx.apiKey.create({
      data: {
        partnerId: principal.partnerId,
        principalId: principal.userId,
        name: input.name,
        prefix,
        hash,
        expiresAt: input.expiresAt,
      },
    });
    audit({ action: 'api_key.create', subjectType: 'ApiKey', subjectId: apiKey.id, data: { name: input.name } });
    return { apiKey, key };
  });
}

/** Partner admins may revoke any key of the partner; other admins their own (apiKeyVisibility). */
export async function revokeApiKey(ctx: RequestContext, id: string): Promise<ApiKey> {
  const principal = requireUser(ctx);
  if (!isAdmin(principal)) throw new ForbiddenError('API keys are for admins');
  const apiKey = await audited(ctx, async (tx, audit) => {
    const key = await tx.apiKey.findFirst({ where: within({ id }, apiKeyVisibility(principal)) });
    if (!key) throw new NotFoundError('ApiKey', id);
    if (key.revokedAt) return key;
    const revoked = await tx.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
    audit({ action: 'api_key.revoke', subjectType: 'ApiKey', subjectId: id, data: { name: key.name } });
    return revoked;
  });
  ctx.invalidatePrincipals?.();
  return apiKey;
}

/**
 * The operator's way out of an IP lock-out: a partner admin can set requireIpGqlAccess with an
 * allow-list that leaves itself outside, and GraphQL is the only surface that changes
 * allow-lists, so nothing of the partner could undo it. This clears the account's
 * requireIpGqlAccess; its allowedIps and requireIpApiAccess stay, for the partner to decide.
 */
export async function resetAccountIpAccess(ctx: RequestContext, accountId: string): Promise<Account> {
  if (ctx.principal?.kind !== 'operator') throw new ForbiddenError('only the operator resets IP access');
  const account = await audited(ctx, async (tx, audit) => {
    const found = await tx.account.findUnique({ where: { id: accountId } });
    if (!found) throw new NotFoundError('Account', accountId);
    if (!found.requireIpGqlAccess) return found;
    const updated = await tx.account.update({ where: { id: accountId }, data: { requireIpGqlAccess: false } });
    audit({
      action: 'account.reset_ip_access',
      subjectType: 'Account',
      subjectId: accountId,
      data: { partnerId: found.partnerId, before: { requireIpGqlAccess: true }, after: { requireIpGqlAccess: false } },
    });
    return updated;
  });
  // The allow-lists are part of every cached principal of the partner.
  ctx.invalidatePrincipals?.();
  return account;
}
