// Accounts: reads and (below) sub-account lifecycle.
import { CoverageAccess, type Account, type AccountStatus, type Prisma } from '@prisma/client';
import { z } from 'zod';
import type { RequestContext } from '../../auth/context.js';
import { administers, type Principal, type UserPrincipal } from '../../auth/principal.js';
import { accountVisibility, within } from '../../auth/visibility.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../errors.js';
import { normaliseCidr } from '../../auth/ip.js';
import { nullish, parse, text } from '../../validation.js';
import { audited } from '../audit/service.js';
import { requireUser } from '../../auth/context.js';
import type { Tx } from '../../store/transaction.js';
import { canvasUuid } from '../../store/ids.js';
import { accountCreateCalls, callBackends, connectedBackends, recordAccepted } from '../backends/write-through.js';

export interface AccountFilter {
  parentId?: string | null;
  partnersOnly?: boolean | null;
  status?: AccountStatus | null;
  search?: string | null;
}

export function accountWhere(principal: Principal | null, filter: AccountFilter = {}): Prisma.AccountWhereInput {
  const and: Prisma.AccountWhereInput[] = [accountVisibility(principal)];
  if (filter.parentId) and.push({ parentId: filter.parentId });
  if (filter.partnersOnly) and.push({ parentId: null });
  if (filter.status) and.push({ status: filter.status });
  const search = filter.search?.trim();
  if (search) and.push({ name: { contains: search, mode: 'insensitive' } });
  return and.length === 1 ? and[0]! : { AND: and };
}

// ---------------------------------------------------------------------------- writes

const accessFields = {
  legacyAccess: nullish(z.boolean()),
  lrnAccess: nullish(z.boolean()),
  smsAccess: nullish(z.enum(CoverageAccess)),
  mmsAccess: nullish(z.enum(CoverageAccess)),
  requireIpApiAccess: nullish(z.boolean()),
  requireIpGqlAccess: nullish(z.boolean()),
  allowedIps: nullish(
    z
      .array(
        z.string().transform((v, c) => {
          const cidr = normaliseCidr(v.trim());
          if (cidr) return cidr;
          c.addIssue({
            code: 'custom',
            message: `${JSON.stringify(v).slice(0, 60)} is not an IP address or CIDR block`,
          });
          return z.NEVER;
        }),
      )
      .max(200, 'at most 200 entries'),
  ),
};

const createSchema = z.object({
  parentId: nullish(z.string()),
  name: text.min(1, 'must not be empty'),
  ...accessFields,
});
const updateSchema = z.object({ id: z.string(), name: nullish(text.min(1, 'must not be empty')), ...accessFields });

export type CreateAccountInput = z.input<typeof createSchema>;
export type UpdateAccountInput = z.input<typeof updateSchema>;

/** Requiring an allow-list without any entry would lock every caller out. */
function assertAllowListUsable(account: {
  requireIpApiAccess: boolean;
  requireIpGqlAccess: boolean;
  allowedIps: string[];
}) {
  if ((account.requireIpApiAccess || account.requireIpGqlAccess) && account.allowedIps.length === 0) {
    throw new ValidationError('requiring an IP allow-list needs at least one allowedIps entry', 'input.allowedIps');
  }
}

/** A sub-account under `parentId` (default: the caller's partner). Needs admin rights on the parent. */
export async function createAccount(ctx: RequestContext, raw: CreateAccountInput): Promise<Account> {
  const principal = requireUser(ctx);
  const input = parse(createSchema, raw);
  const parentId = input.parentId ?? principal.partnerId;
  const account = await audited(ctx, async (tx, audit) => {
    const parent = await managedAccount(
      tx,
      principal,
      parentId,
      'creating a sub-account needs admin rights on its parent',
    );
    const data = {
      name: input.name,
      partnerId: parent.partnerId,
      parentId: parent.id,
      ancestorIds: [...parent.ancestorIds, parent.id],
      canvasUuid: canvasUuid(),
      legacyAccess: input.legacyAccess ?? false,
      lrnAccess: input.lrnAccess ?? false,
      smsAccess: input.smsAccess,
      mmsAccess: input.mmsAccess,
      requireIpApiAccess: input.requireIpApiAccess ?? false,
      requireIpGqlAccess: input.requireIpGqlAccess ?? false,
      allowedIps: input.allowedIps ?? [],
    };
    assertAllowListUsable(data);
    // A connected messaging backend creates it first (write-through.ts).
    const backends = await connectedBackends(tx, parent.partnerId);
    const accepted = backends.has('MESSAGING')
      ? await callBackends(
          ctx,
          backends,
          accountCreateCalls(parent.partnerId, parent.id, input.name, backends),
          'createAccount',
        )
      : [];
    let account = await tx.account.create({ data });
    if (accepted.length) {
      await recordAccepted(tx, accepted, { accountId: account.id });
      account = await tx.account.findUniqueOrThrow({ where: { id: account.id } });
    }
    audit({
      action: 'account.create',
      subjectType: 'Account',
      subjectId: account.id,
      data: { parentId: parent.id, name: account.name },
    });
    return account;
  });
  // A new account inside an account admin's subtree widens that admin's rights.
  ctx.invalidatePrincipals?.();
  return account;
}

export async function updateAccount(ctx: RequestContext, raw: UpdateAccountInput): Promise<Account> {
  const principal = requireUser(ctx);
  const input = parse(updateSchema, raw);
  const updated = await audited(ctx, async (tx, audit) => {
    await tx.$queryRaw`SELECT id FROM "Account" WHERE id = ${input.id} FOR UPDATE`;
    const account = await managedAccount(tx, principal, input.id, 'updating an account needs admin rights on it');
    const { id, ...changes } = input;
    const data = Object.fromEntries(
      Object.entries(changes).filter(([, v]) => v !== undefined),
    ) as Prisma.AccountUpdateInput;
    assertAllowListUsable({ ...account, ...(data as object) } as Account);
    if (Object.keys(data).length === 0) return account;
    const updated = await tx.account.update({ where: { id }, data });
    audit({
      action: 'account.update',
      subjectType: 'Account',
      subjectId: id,
      data: {
        before: pick(account, Object.keys(data)),
        after: pick(updated, Object.keys(data)),
      } as Prisma.InputJsonValue,
    });
    return updated;
  });
  // Allow-lists are part of cached principals.
  ctx.invalidatePrincipals?.();
  return updated;
}

const pick = (o: object, keys: string[]) => Object.fromEntries(Object.entries(o).filter(([k]) => keys.includes(k)));

/** The account a REST caller speaks for: its own account (sub-account keys) or the partner. */
export async function getAccount(ctx: RequestContext, id: string): Promise<Account> {
  const account = await ctx.prisma.account.findFirst({ where: within({ id }, accountVisibility(ctx.principal)) });
  if (!account) throw new NotFoundError('Account', id);
  return account;
}

/** A visible account by its integer customer id (the catalog dialect's account ids). */
export async function findAccountByCustomerId(ctx: RequestContext, customerId: number): Promise<Account | null> {
  if (!Number.isSafeInteger(customerId) || customerId < 1 || customerId > 2_147_483_647) return null;
  return ctx.prisma.account.findFirst({ where: within({ customerId }, accountVisibility(ctx.principal)) });
}

/**
 * An account and every account below it, grandchildren included (the messaging list: "every
 * account associated with" the caller's), one cursor page in id (ULID, so creation) order.
 * `after`/`before` are ids; `hasNext`/`hasPrevious` say what lies beyond.
 */
export async function listAccountSubtree(
  ctx: RequestContext,
  accountId: string,
  page: { after?: string; before?: string; limit: number },
): Promise<{ accounts: Account[]; total: number; hasNext: boolean; hasPrevious: boolean }> {
  const family: Prisma.AccountWhereInput = {
    AND: [accountVisibility(ctx.principal), { OR: [{ id: accountId }, { ancestorIds: { has: accountId } }] }],
  };
  const backward = page.before !== undefined && page.after === undefined;
  const cursor = backward ? { id: { lt: page.before } } : page.after !== undefined ? { id: { gt: page.after } } : {};
  const [rows, total] = await Promise.all([
    ctx.prisma.account.findMany({
      where: { AND: [family, cursor] },
      orderBy: { id: backward ? 'desc' : 'asc' },
      take: page.limit + 1,
    }),
    ctx.prisma.account.count({ where: family }),
  ]);
  const more = rows.length > page.limit;
  const accounts = rows.slice(0, page.limit);
  if (backward) accounts.reverse();
  // Is there anything on the other side of the page (the cursor row itself counts)?
  const other = backward
    ? accounts.length
      ? { gt: accounts.at(-1)!.id }
      : { gte: page.before }
    : page.after === undefined
      ? null
      : accounts.length
        ? { lt: accounts[0]!.id }
        : { lte: page.after };
  const beyond = other
    ? Boolean(await ctx.prisma.account.findFirst({ where: { AND: [family, { id: other }] }, select: { id: true } }))
    : false;
  return { accounts, total, hasNext: backward ? beyond : more, hasPrevious: backward ? more : beyond };
}

// ---------------------------------------------------------------------------- acting on an account

/**
 * The one rule for acting on an account: one the caller cannot see is not found (never
 * forbidden, which would confirm it exists); one it sees but does not administer is forbidden.
 * Account `id` if the caller administers it; `forbidden` says what the rights were needed for.
 */
export async function managedAccount(
  db: Tx | RequestContext['prisma'],
  principal: UserPrincipal,
  id: string,
  forbidden: string,
): Promise<Account> {
  const account = await db.account.findFirst({ where: within({ id }, accountVisibility(principal)) });
  if (!account) throw new NotFoundError('Account', id);
  if (!administers(principal, account.id)) throw new ForbiddenError(forbidden);
  return account;
}
