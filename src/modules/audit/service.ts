// The audit log's writing side: every write's events are appended in the write's own
// transaction (the runner is store/transaction.ts).
import type { Prisma } from '@prisma/client';
import type { RequestContext } from '../../auth/context.js';
import type { Principal } from '../../auth/principal.js';
import { isUser } from '../../auth/principal.js';
import { inTransaction, type Tx } from '../../store/transaction.js';

export interface AuditEntry {
  action: string;
  subjectType: string;
  subjectId: string;
  /** Before/after and whatever else explains the change; never credentials. */
  data?: Prisma.InputJsonValue;
}

export type Audit = (entry: AuditEntry) => void;

/** A write: one transaction (store/transaction.ts: retried on lost races) that also appends its audit events. */
export async function audited<T>(ctx: RequestContext, work: (tx: Tx, audit: Audit) => Promise<T>): Promise<T> {
  return inTransaction(ctx.prisma, async (tx) => {
    const entries: AuditEntry[] = [];
    const result = await work(tx, (entry) => entries.push(entry));
    if (entries.length) await tx.auditEvent.createMany({ data: entries.map((e) => auditRow(ctx.principal, e)) });
    return result;
  });
}

function auditRow(principal: Principal | null, entry: AuditEntry): Prisma.AuditEventCreateManyInput {
  const user = isUser(principal) ? principal : null;
  return {
    partnerId: user?.partnerId ?? partnerOf(entry),
    actorKind: principal?.kind === 'operator' ? 'operator' : user ? user.credential : 'system',
    actorId: user?.userId ?? null,
    action: entry.action,
    subjectType: entry.subjectType,
    subjectId: entry.subjectId,
    data: user?.apiKeyId ? { ...(entry.data as object | undefined), apiKeyId: user.apiKeyId } : entry.data,
  };
}

// Operator writes (createPartner) name their partner in the entry's data.
function partnerOf(entry: AuditEntry): string | null {
  const data = entry.data as { partnerId?: string } | undefined;
  return data?.partnerId ?? null;
}
