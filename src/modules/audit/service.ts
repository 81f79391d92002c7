// Every write runs here: one transaction that also appends its audit events, retried when
// the database reports a lost race (serialization failure, deadlock). What the database
// still refuses after that is a typed error: a race lost every time is a ConflictError, a
// row that a concurrent delete removed under the write is a NotFoundError.
import type { Prisma } from '@prisma/client';
import type { RequestContext } from '../../auth/context.js';
import type { Principal } from '../../auth/principal.js';
import { isUser } from '../../auth/principal.js';
import { goneEntity, isRetryable } from '../../store/errors.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../../errors.js';

export type Tx = Prisma.TransactionClient;

export interface AuditEntry {
  action: string;
  subjectType: string;
  subjectId: string;
  /** Before/after and whatever else explains the change; never credentials. */
  data?: Prisma.InputJsonValue;
}

export type Audit = (entry: AuditEntry) => void;

const MAX_ATTEMPTS = 5;
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
      if (isRetryable(error)) {
        if (attempt >= MAX_ATTEMPTS) throw new ConflictError('the write kept colliding with concurrent writes of the same rows; try again');
        // Jittered, growing waits, so that the transactions that collided do not meet again.
        await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** attempt * (0.5 + Math.random())));
        continue;
      }
      const gone = goneEntity(error);
      if (gone) throw new NotFoundError(gone);
      throw error;
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
