// The store's enums as GraphQL enums, registered once for every module to use.
import { AccountStatus, CoverageAccess, EntitlementKind, Plan, UserStatus } from '@prisma/client';
import { builder } from './builder.js';

export const UserStatusEnum = builder.enumType(UserStatus, { name: 'UserStatus' });
export const EntitlementKindEnum = builder.enumType(EntitlementKind, { name: 'EntitlementKind' });
export const PlanEnum = builder.enumType(Plan, { name: 'Plan' });
export const CoverageAccessEnum = builder.enumType(CoverageAccess, { name: 'CoverageAccess' });
export const AccountStatusEnum = builder.enumType(AccountStatus, { name: 'AccountStatus' });
