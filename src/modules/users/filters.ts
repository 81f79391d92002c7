// The filters of `users(filter, orderBy)` and the catalog list, as Prisma where/orderBy.
// Tenancy comes from userVisibility; the filter only narrows it.
import type { EntitlementKind, Prisma, UserStatus } from '@prisma/client';
import type { Principal } from '../../auth/principal.js';
import { userVisibility } from '../../auth/visibility.js';

export interface DateRange {
  from?: Date | null;
  to?: Date | null;
}

export interface UserFilter {
  status?: UserStatus | null;
  accountId?: string | null;
  clientId?: string | null;
  createdAt?: DateRange | null;
  updatedAt?: DateRange | null;
  registeredInCatalog?: boolean | null;
  canvasUserId?: number | null;
  entitlement?: EntitlementKind | null;
  search?: string | null;
}

export type UserOrderField = 'CREATED_AT' | 'UPDATED_AT' | 'EXTERNAL_USER_ID' | 'EMAIL' | 'CATALOG_ID';
export type OrderDirection = 'ASC' | 'DESC';

const range = (r: DateRange | null | undefined) =>
  r && (r.from || r.to) ? { ...(r.from ? { gte: r.from } : {}), ...(r.to ? { lte: r.to } : {}) } : undefined;

export function userWhere(principal: Principal | null, filter: UserFilter = {}): Prisma.UserWhereInput {
  const and: Prisma.UserWhereInput[] = [userVisibility(principal)];
  if (filter.status) and.push({ status: filter.status });
  if (filter.accountId !== undefined && filter.accountId !== null) and.push({ accountId: filter.accountId });
  if (filter.clientId !== undefined && filter.clientId !== null) and.push({ clientId: filter.clientId });
  const created = range(filter.createdAt);
  if (created) and.push({ createdAt: created });
  const updated = range(filter.updatedAt);
  if (updated) and.push({ updatedAt: updated });
  if (typeof filter.registeredInCatalog === 'boolean') and.push({ inCatalog: filter.registeredInCatalog });
  if (typeof filter.canvasUserId === 'number') and.push({ canvasUserId: filter.canvasUserId });
  if (filter.entitlement) and.push({ entitlements: { some: { kind: filter.entitlement } } });
  const search = filter.search?.trim();
  if (search) {
    // Prisma passes `contains` to ILIKE as is: escape its wildcards so "a_b" means a_b.
    const contains = { contains: escapeLike(search), mode: 'insensitive' as const };
    and.push({
      OR: [
        { externalUserId: contains },
        { email: contains },
        { userName: contains },
        { firstName: contains },
        { lastName: contains },
        { identifier: contains },
      ],
    });
  }
  return and.length === 1 ? and[0]! : { AND: and };
}

const ORDER_COLUMN: Record<UserOrderField, keyof Prisma.UserOrderByWithRelationInput> = {
  CREATED_AT: 'createdAt',
  UPDATED_AT: 'updatedAt',
  EXTERNAL_USER_ID: 'externalUserId',
  EMAIL: 'email',
  CATALOG_ID: 'catalogId',
};

/** Always ends with the id so that pages are stable when the sort column ties. */
export function userOrderBy(
  order?: { field: UserOrderField; direction?: OrderDirection | null } | null,
): Prisma.UserOrderByWithRelationInput[] {
  const direction = order?.direction === 'DESC' ? 'desc' : 'asc';
  if (!order) return [{ id: 'asc' }];
  return [{ [ORDER_COLUMN[order.field]]: direction }, { id: direction }];
}

/** `%`, `_` and `\\` taken literally in a LIKE pattern (backslash is PostgreSQL's escape). */
export const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);
