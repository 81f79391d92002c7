// Filters of the audit log. Only a partner admin reads its partner's log.
import type { Prisma } from '@prisma/client';
import type { Principal } from '../../auth/principal.js';
import { partnerAdminScope } from '../../auth/visibility.js';

export interface AuditFilter {
  subjectId?: string | null;
  action?: string | null;
  actorId?: string | null;
  createdAt?: { from?: Date | null; to?: Date | null } | null;
}

export function auditWhere(principal: Principal | null, filter: AuditFilter): Prisma.AuditEventWhereInput {
  const where: Prisma.AuditEventWhereInput = { ...partnerAdminScope(principal) };
  if (filter.subjectId) where.subjectId = filter.subjectId;
  if (filter.actorId) where.actorId = filter.actorId;
  if (filter.action) where.action = filter.action.endsWith('.') ? { startsWith: filter.action } : filter.action;
  if (filter.createdAt?.from || filter.createdAt?.to) {
    where.createdAt = {
      ...(filter.createdAt.from ? { gte: filter.createdAt.from } : {}),
      ...(filter.createdAt.to ? { lte: filter.createdAt.to } : {}),
    };
  }
  return where;
}
