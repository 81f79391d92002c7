// Every write runs here: one transaction that also appends its audit events, retried when
// the database reports a lost race (serialization failure, deadlock).
import type { Prisma } from '@prisma/client';
import type { RequestContext } from '../../auth/context.js';
import type { Principal } from '../../auth/principal.js';
import { isUser } from '../../auth/principal.js';
import { isRetryable } from '../../store/errors.js';
import { ForbiddenError } from '../../errors.js';

export type Tx = Prisma.TransactionClient;

export interface AuditEntry {
  action: string;
  subjectType: string;
  subjectId: string;
  /** Before/after and whatever else explains the change; never credentials. */
  data?: Prisma.InputJsonValue;
}

export type Audit = (entry: AuditEntry) => void;

const MAX_ATTEMPTS = 4;
// PGlite answers one statement at a time, so under load a transaction may wait a while for
// its connection; these bounds are about a stuck database, not a slow one.
const TX_OPTIONS = { maxWait: 30_000, timeout: 30_000 } as const;

export async function audited<T>(ctx: RequestContext, work: (tx: Tx, audit: Audit) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ctx.prisma.$transaction(async (tx) => {
        const entries: AuditEntry[] = [];
        const result = await work(tx, (entry) => entries.push(entry));
        if (entries.length) await tx.auditEvent.createMany({ data: entries.map((e) => auditRow(ctx.principal, e)) });
        return result;
      }, TX_OPTIONS);
    } catch (error) {
      if (attempt >= MAX_ATTEMPTS || !isRetryable(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 5 * attempt + Math.random() * 20));
    }
  }
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

export function requireUser(ctx: RequestContext) {
  if (!isUser(ctx.principal)) throw new ForbiddenError('this operation needs a user of a partner');
  return ctx.principal;
}
