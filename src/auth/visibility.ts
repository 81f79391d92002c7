// Tenancy and visibility as Prisma filters. Every read of a tenant row goes through one
// of these, so a foreign or invisible row is simply never found (NOT_FOUND, not FORBIDDEN).
import type { Prisma } from '@prisma/client';
import { prismaWhere, type Condition } from '../store/conditions.js';
import { isUser, type Principal, type UserPrincipal } from './principal.js';

/**
 * `where` narrowed by a visibility filter. Spread when the two share no column (so an
 * equality-only lookup stays batchable by Prisma), else the filter goes under AND; `where`
 * stays at the top either way, as findUnique wants its unique field there.
 */
export function within<W extends object>(where: W, visibility: W): W {
  const overlap = Object.keys(where).some((k) => k in visibility);
  return overlap ? ({ ...where, AND: [visibility] } as W) : { ...where, ...visibility };
}

// Matches no row: for callers that may see nothing of a kind (no principal, the operator).
const NOTHING = prismaWhere([{ nothing: true }]) as { id: { in: string[] } };

/** The users a principal sees. */
export function userPredicate(p: Principal | null): Condition[] {
  if (!isUser(p)) return [{ nothing: true }];
  // `deletedAt: null` rather than a status test: Prisma batches equality-only lookups of
  // many ids (node, nodes, _entities) into one statement, and deletedAt is set iff DELETED.
  const alive: Condition[] = [
    { column: 'partnerId', equals: p.partnerId },
    { column: 'deletedAt', isNull: true },
  ];
  if (p.partnerAdmin) return alive;
  const self: Condition = { column: 'id', equals: p.userId };
  if (p.adminAccountIds.size === 0) return [...alive, self];
  return [...alive, { or: [[self], [{ column: 'accountId', in: [...p.adminAccountIds] }]] }];
}

export function userVisibility(p: Principal | null): Prisma.UserWhereInput {
  return visibleWhere('User', p);
}

/** The accounts a principal sees. */
export function accountPredicate(p: Principal | null): Condition[] {
  if (!isUser(p)) return [{ nothing: true }];
  const partner: Condition = { column: 'partnerId', equals: p.partnerId };
  if (p.partnerAdmin) return [partner];
  // Everyone sees their partner and their own account; account admins their subtrees.
  const ids = new Set([p.partnerId, p.accountId, ...p.adminAccountIds]);
  return [partner, { column: 'id', in: [...ids] }];
}

export function accountVisibility(p: Principal | null): Prisma.AccountWhereInput {
  return visibleWhere('Account', p);
}

/**
 * Accounts as nodes: accountVisibility, plus accounts created below an administered one since
 * the principal was loaded (its set of administered accounts was computed when it
 * authenticated, so an account admin's createAccount would otherwise return a sub-account that
 * its own request may not see).
 */
export function accountNodePredicate(p: Principal | null): Condition[] {
  if (!subtreeAdmin(p)) return accountPredicate(p);
  const subtrees: Condition[] = [
    { column: 'partnerId', equals: p.partnerId },
    { column: 'ancestorIds', overlaps: [...p.adminAccountIds] },
  ];
  return [{ or: [accountPredicate(p), subtrees] }];
}

export function accountNodeVisibility(p: Principal | null): Prisma.AccountWhereInput {
  return prismaWhere(accountNodePredicate(p)) as Prisma.AccountWhereInput;
}

const subtreeAdmin = (p: Principal | null): p is UserPrincipal =>
  isUser(p) && !p.partnerAdmin && p.adminAccountIds.size > 0;

/** Synchronous twin of accountNodeVisibility for a loaded account. */
export function canSeeAccountNode(
  p: Principal | null,
  account: { id: string; partnerId: string; ancestorIds: readonly string[] },
): boolean {
  if (canSeeAccount(p, account)) return true;
  return isUser(p) && account.partnerId === p.partnerId && account.ancestorIds.some((id) => p.adminAccountIds.has(id));
}

/**
 * Rows only a partner admin reads, of its own partner (audit events, backends, sync runs,
 * identities' link conflicts): the partner to filter by, or one no row has.
 */
export function partnerAdminScope(p: Principal | null): { partnerId: string } {
  // '-': no partner (a NUL would be a database error).
  return { partnerId: isUser(p) && p.partnerAdmin ? p.partnerId : '-' };
}

/** The clients a principal sees. */
export function clientPredicate(p: Principal | null): Condition[] {
  if (!isUser(p)) return [{ nothing: true }];
  const partner: Condition = { column: 'partnerId', equals: p.partnerId };
  if (p.partnerAdmin) return [partner];
  if (p.adminAccountIds.size > 0) return [partner, { column: 'accountId', in: [...p.adminAccountIds] }];
  // A plain user sees the client it belongs to.
  return [partner, { some: 'users', table: 'User', column: 'clientId', where: [{ column: 'id', equals: p.userId }] }];
}

export function clientVisibility(p: Principal | null): Prisma.ClientWhereInput {
  return visibleWhere('Client', p);
}

/**
 * API keys: the owner sees its own, a partner admin every key of the partner. An account
 * admin administers users, not the credentials of admins above or beside it.
 */
export function apiKeyVisibility(p: Principal | null): Prisma.ApiKeyWhereInput {
  if (!isUser(p)) return NOTHING;
  if (p.partnerAdmin) return { partnerId: p.partnerId };
  return { partnerId: p.partnerId, principalId: p.userId };
}

/** Courses, enrollments and orders follow the visibility of the user they belong to. */
function dependentPredicate(p: Principal | null, relation: string, column: string): Condition[] {
  if (!isUser(p)) return [{ nothing: true }];
  const partner: Condition = { column: 'partnerId', equals: p.partnerId };
  if (p.partnerAdmin) return [partner];
  return [partner, { relation, table: 'User', column, where: userPredicate(p) }];
}
export const coursePredicate = (p: Principal | null) => dependentPredicate(p, 'owner', 'ownerId');
export const enrollmentPredicate = (p: Principal | null) => dependentPredicate(p, 'user', 'userId');
export const orderPredicate = (p: Principal | null) => dependentPredicate(p, 'user', 'userId');

/** The Prisma `where` type of each model with a predicate. */
interface WhereOf {
  User: Prisma.UserWhereInput;
  Account: Prisma.AccountWhereInput;
  Client: Prisma.ClientWhereInput;
  Course: Prisma.CourseWhereInput;
  Enrollment: Prisma.EnrollmentWhereInput;
  Order: Prisma.OrderWhereInput;
}
export type VisibleModel = keyof WhereOf;

/**
 * The predicate of each Prisma model's rows as lists and relations read them (by model name):
 * emitted as a Prisma `where` (visibleWhere) by the executor, as SQL by the read model.
 */
export const PREDICATES: Record<VisibleModel, (p: Principal | null) => Condition[]> = {
  User: userPredicate,
  Account: accountPredicate,
  Client: clientPredicate,
  Course: coursePredicate,
  Enrollment: enrollmentPredicate,
  Order: orderPredicate,
};

/** The rows of `model` a principal sees, as a Prisma `where`. */
export function visibleWhere<M extends VisibleModel>(model: M, p: Principal | null): WhereOf[M] {
  return prismaWhere(PREDICATES[model](p)) as WhereOf[M];
}

export const courseVisibility = (p: Principal | null) => visibleWhere('Course', p);
export const enrollmentVisibility = (p: Principal | null) => visibleWhere('Enrollment', p);
export const orderVisibility = (p: Principal | null) => visibleWhere('Order', p);

/**
 * Synchronous twin of userVisibility for rows already loaded (relations, entities). The
 * operator sees what its own mutations return (createPartner); every query path it could
 * use to look further is filtered to nothing above.
 */
export function canSeeUser(
  p: Principal | null,
  user: { id: string; partnerId: string; accountId: string; status: string },
): boolean {
  if (p?.kind === 'operator') return true;
  if (!isUser(p) || user.partnerId !== p.partnerId || user.status === 'DELETED') return false;
  return p.partnerAdmin || user.id === p.userId || p.adminAccountIds.has(user.accountId);
}

export function canSeeAccount(p: Principal | null, account: { id: string; partnerId: string }): boolean {
  if (p?.kind === 'operator') return true;
  if (!isUser(p) || account.partnerId !== p.partnerId) return false;
  return (
    p.partnerAdmin || account.id === p.partnerId || account.id === p.accountId || p.adminAccountIds.has(account.id)
  );
}

/**
 * Synchronous twin of clientVisibility for the client of a loaded user: `memberId` is that
 * user, which a plain user (who sees only itself and the client it belongs to) must be.
 */
export function canSeeClient(
  p: Principal | null,
  client: { partnerId: string; accountId: string },
  memberId: string,
): boolean {
  if (p?.kind === 'operator') return true;
  if (!isUser(p) || client.partnerId !== p.partnerId) return false;
  if (p.partnerAdmin) return true;
  if (p.adminAccountIds.size > 0) return p.adminAccountIds.has(client.accountId);
  return memberId === p.userId;
}
