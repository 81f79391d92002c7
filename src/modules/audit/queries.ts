// Filters of the audit log. Only a partner admin reads its partner's log.
import type { Prisma } from '@prisma/client';
import { isUser, type Principal } from '../../auth/principal.js';

export interface AuditFilter {
  subjectId?: string | null;
  action?: string | null;
  actorId?: string | null;
  createdAt?: { from?: Date | null; to?: Date | null } | null;
}

export function auditWhere(principal: Principal | null, filter: AuditFilter): Prisma.AuditEventWhereInput {
  if (!isUser(principal) || !principal.partnerAdmin) return { id: { in: [] } };
  const where: Prisma.AuditEventWhereInput = { partnerId: principal.partnerId };
  if (filter.subjectId) where.subjectId = filter.subjectId;
  if (filter.actorId) where.actorId = filter.actorId;
  if (filter.action) where.action = filter.action.endsWith('.') ? { startsWith: filter.action } : filter.action;
  if (filter.createdAt?.from || filter.createdAt?.to) {
    where.createdAt = { ...(filter.createdAt.from ? { gte: filter.createdAt.from } : {}), ...(filter.createdAt.to ? { lte: filter.createdAt.to } : {}) };
  }
  return where;
}
