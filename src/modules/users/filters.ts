// The filters of `users(filter, orderBy)` and the REST lists, and their orders: declared once
// here, as conditions (store/conditions.ts) and order columns, and emitted as a Prisma
// where/orderBy for the executor (userWhere, userOrderBy) and as SQL for the reads that run
// their own statement (list-sql.ts). Tenancy comes from the users' predicate
// (auth/visibility.ts); the filter only narrows it.
import type { EntitlementKind, Prisma, UserStatus } from '@prisma/client';
import type { Principal } from '../../auth/principal.js';
import { userVisibility } from '../../auth/visibility.js';
import { prismaWhere, type Condition } from '../../store/conditions.js';

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

/** The columns a search looks in. */
const SEARCHED = ['externalUserId', 'email', 'userName', 'firstName', 'lastName', 'identifier'] as const;

const range = (column: string, r: DateRange | null | undefined): Condition[] =>
  r?.from || r?.to ? [{ column, range: { ...(r.from ? { gte: r.from } : {}), ...(r.to ? { lte: r.to } : {}) } }] : [];

/** The users a filter keeps, as conditions on the user's row. */
export function userFilterConditions(filter: UserFilter): Condition[] {
  const out: Condition[] = [];
  if (filter.status) out.push({ column: 'status', equals: filter.status });
  if (filter.accountId != null) out.push({ column: 'accountId', equals: filter.accountId });
  if (filter.clientId != null) out.push({ column: 'clientId', equals: filter.clientId });
  out.push(...range('createdAt', filter.createdAt), ...range('updatedAt', filter.updatedAt));
  if (typeof filter.registeredInCatalog === 'boolean')
    out.push({ column: 'inCatalog', is: filter.registeredInCatalog });
  if (typeof filter.canvasUserId === 'number') out.push({ column: 'canvasUserId', equals: filter.canvasUserId });
  if (filter.entitlement) {
    const kind: Condition = { column: 'kind', equals: filter.entitlement };
    out.push({ some: 'entitlements', table: 'Entitlement', column: 'userId', where: [kind] });
  }
  const search = filter.search?.trim();
  if (search) out.push({ or: SEARCHED.map((column) => [{ column, contains: search }]) });
  return out;
}

/** The users a principal sees that a filter keeps, as a Prisma where. */
export function userWhere(principal: Principal | null, filter: UserFilter = {}): Prisma.UserWhereInput {
  const visible = userVisibility(principal);
  const conditions = userFilterConditions(filter);
  return conditions.length ? { AND: [visible, prismaWhere(conditions) as Prisma.UserWhereInput] } : visible;
}

/** The column of each order, and whether it may be null (a cursor cannot follow it then). */
export const ORDER_COLUMNS: Record<
  UserOrderField,
  { column: keyof Prisma.UserOrderByWithRelationInput; nullable: boolean }
> = {
  CREATED_AT: { column: 'createdAt', nullable: false },
  UPDATED_AT: { column: 'updatedAt', nullable: false },
  EXTERNAL_USER_ID: { column: 'externalUserId', nullable: true },
  EMAIL: { column: 'email', nullable: true },
  CATALOG_ID: { column: 'catalogId', nullable: false },
};

/** Always ends with the id so that pages are stable when the sort column ties (userOrderSql's twin). */
export function userOrderBy(
  order?: { field: UserOrderField; direction?: OrderDirection | null } | null,
): Prisma.UserOrderByWithRelationInput[] {
  const direction = order?.direction === 'DESC' ? 'desc' : 'asc';
  if (!order) return [{ id: 'asc' }];
  return [{ [ORDER_COLUMNS[order.field].column]: direction }, { id: direction }];
}
