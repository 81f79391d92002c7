// The transactional outbox (SPEC §10.4, §10.7 "Single vs several backends"): a change whose
// effect lands in two or more connected backends is recorded with one PendingChange per
// backend call in the change's own transaction, and answered at once; the delivery worker
// (worker.ts) then makes each call, in `sequence` order per user, until it succeeds or fails
// for good. Delivery is idempotent to effect: an attempt that follows an earlier one (killed
// mid-call, or answered by a timeout or a 5xx that may have been applied) first asks the
// backend whether the record is still there (check-then-act: the source APIs have no
// idempotency keys), and a delete the backend answers 404 to counts as done. Each attempt's
// outcome is an audit event; a delivered entry is deleted, one that failed for good stays
// FAILED (with lastError) until retryChange or dropChange.
import type { Backend, PendingChange, PendingChangeOperation, Prisma, PrismaClient } from '@prisma/client';
import type { RequestContext } from '../../auth/context.js';
import { requireUser } from '../../auth/context.js';
import type { Config } from '../../config.js';
import type { Principal } from '../../auth/principal.js';
import { isUser } from '../../auth/principal.js';
import { userVisibility } from '../../auth/visibility.js';
import { BackendRefusedError, BackendError, BackendUnavailableError } from '../../connectors/index.js';
import { ConflictError, NotFoundError } from '../../errors.js';
import { BackendUnavailableError as DomainUnavailable } from '../backends/errors.js';
import type { Logger } from '../../logger.js';
import { inTransaction, type Tx } from '../../store/transaction.js';
import { audited, type AuditEntry } from '../audit/service.js';
import type { SourceRecord, StreamName, WriteOperation } from '../backends/contract.js';
import { connectorFor, recordAccepted } from '../backends/write-through.js';

/** One backend call a change hands to the outbox. */
export interface OutboxCall {
  backend: Backend;
  operation: WriteOperation;
  /** A create whose PUT creates or merges: the record its first attempt must not find (a duplicate upstream). */
  mustNotExist?: { stream: StreamName; nativeId: string };
}

/**
 * Records the calls of one change as PendingChanges of `userId`, in the given order (the
 * delivery order), inside the change's transaction `tx`.
 */
export async function recordChanges(
  tx: Tx,
  change: { partnerId: string; userId: string; operation: PendingChangeOperation },
  calls: OutboxCall[],
): Promise<PendingChange[]> {
  const created: PendingChange[] = [];
  // One statement per entry, so that `sequence` follows the given order.
  for (const call of calls) {
    created.push(
      await tx.pendingChange.create({
        data: {
          partnerId: change.partnerId,
          userId: change.userId,
          backendId: call.backend.id,
          operation: change.operation,
          payload: call.operation as unknown as Prisma.InputJsonObject,
          ...(call.mustNotExist ? { mustNotExist: call.mustNotExist } : {}),
        },
      }),
    );
  }
  return created;
}

/**
 * The outbox of a user change whose user row is written after the backends are asked
 * (createUser, updateUser): callBackends hands it the calls (`outbox`), and `record` writes
 * them as the user's PendingChanges once the row exists, in the same transaction.
 */
export function userOutbox(tx: Tx, change: { partnerId: string; operation: PendingChangeOperation }) {
  let calls: OutboxCall[] = [];
  return {
    outbox: async (handed: OutboxCall[]) => {
      calls = handed;
    },
    record: (userId: string): Promise<PendingChange[]> =>
      calls.length ? recordChanges(tx, { ...change, userId }, calls) : Promise.resolve([]),
  };
}

// ---------------------------------------------------------------------------- delivery

export interface DeliveryOptions {
  /** Attempts before an entry that keeps meeting an unavailable backend is FAILED. */
  maxAttempts: number;
  /** The first retry's delay; each further one doubles it, up to maxDelayMs (with jitter). */
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * How long an attempt holds its entry: past it, another worker may take it over (its worker
   * died). The operator's OUTBOX_LEASE_SECONDS (config.outbox.leaseMs).
   */
  leaseMs: number;
}

/** The retry policy; the lease comes from the configuration. */
export const DEFAULT_DELIVERY: Omit<DeliveryOptions, 'leaseMs'> = {
  maxAttempts: 12,
  baseDelayMs: 2_000,
  maxDelayMs: 600_000,
};

export interface DeliveryDeps {
  prisma: PrismaClient;
  config: Config;
  logger: Logger;
  workerId: string;
  options: DeliveryOptions;
}

type Outcome =
  | { kind: 'delivered'; detail: string; requests: number; record?: SourceRecord | null }
  | { kind: 'retry'; error: string; retryAfter: Date | null }
  | { kind: 'failed'; error: string };

/** The record each operation removes, to ask the backend about before acting again. */
function checkOf(operation: WriteOperation): { stream: StreamName; nativeId: string } | null {
  switch (operation.op) {
    case 'catalog.deleteUser':
      return operation.onlyOrdersAndEnrollments ? null : { stream: 'catalog.users', nativeId: operation.nativeId };
    case 'embed.deleteUser':
      return { stream: 'embed.users', nativeId: operation.identifier };
    case 'embed.deleteClient':
      return { stream: 'embed.clients', nativeId: operation.identifier };
    case 'learning.disableAccount':
      return { stream: 'learning.accounts', nativeId: operation.nativeId };
    default:
      return null;
  }
}

/** Makes one attempt of an entry: check (after an earlier attempt), then act; `lease`: when to give up. */
async function attempt(
  deps: DeliveryDeps,
  entry: PendingChange & { backend: Backend },
  lease: AbortSignal,
): Promise<Outcome> {
  const { backend } = entry;
  if (backend.disconnectedAt)
    return { kind: 'failed', error: `the ${what(backend)} was disconnected before this change reached it` };
  const operation = entry.payload as unknown as WriteOperation;
  try {
    const connector = connectorFor({ config: deps.config }, backend);
    let requests = 0;
    // An earlier attempt (also one before a retryChange, which counts attempts from 0 again but keeps lastError).
    const again = entry.attempts > 0 || entry.lastError !== null;
    const check = again ? checkOf(operation) : null;
    // A create whose PUT would merge into an existing record: the first attempt must not find one
    // (a duplicate upstream). A later one may find its own earlier attempt's, and the PUT is safe to repeat.
    const absent = entry.mustNotExist as { stream: StreamName; nativeId: string } | null;
    if (absent && !again) {
      requests++;
      if ((await connector.readOne(absent.stream, absent.nativeId, lease)) !== 'GONE')
        return { kind: 'failed', error: `the ${what(backend)} already has ${absent.nativeId}; ${TAKEN}` };
    }
    if (check) {
      requests++;
      if ((await connector.readOne(check.stream, check.nativeId, lease)) === 'GONE')
        return {
          kind: 'delivered',
          detail: 'the backend no longer had the record (an earlier attempt did it)',
          requests,
        };
    }
    const outcome = await connector.write(operation, lease);
    requests += outcome.requests;
    if (outcome.ok)
      return { kind: 'delivered', detail: 'the backend accepted the call', requests, record: outcome.record };
    // A create refused as a duplicate after an earlier attempt that may have been applied (killed,
    // timeout, 5xx): most likely that attempt's record. Neither API can be asked who holds the key,
    // so it counts as delivered, and the next sync links the record by the partner's linkBy rule.
    if (outcome.refusal === 'conflict' && again && CREATES.has(operation.op))
      return {
        kind: 'delivered',
        detail:
          `the backend already had it (${outcome.status}), ` +
          'most likely from an earlier attempt; the next sync links it',
        requests,
      };
    if (outcome.refusal === 'conflict')
      return {
        kind: 'failed',
        error:
          `the ${what(backend)} refused ${describe(operation)} as a ` +
          `duplicate (${outcome.status}): ${outcome.message}; ${TAKEN}`,
      };
    // A delete of a record the backend no longer has is done: that is what it was for.
    if (outcome.refusal === 'missing')
      return { kind: 'delivered', detail: `the backend no longer had the record (${outcome.status})`, requests };
    return {
      kind: 'failed',
      error: `the ${what(backend)} refused ${describe(operation)} (${outcome.status}): ${outcome.message}`,
    };
  } catch (error) {
    if (lease.aborted)
      return {
        kind: 'retry',
        error:
          'the attempt took longer than its lease allows (OUTBOX_LEASE_SECONDS) ' +
          `and was given up; the next one asks the ${what(backend)} first`,
        retryAfter: null,
      };
    if (error instanceof BackendRefusedError)
      return { kind: 'failed', error: `the ${what(backend)} refused the stored credential (${error.status})` };
    if (error instanceof BackendUnavailableError)
      return { kind: 'retry', error: error.message, retryAfter: error.retryAfter };
    if (error instanceof BackendError) return { kind: 'retry', error: error.message, retryAfter: null };
    if (error instanceof DomainUnavailable) return { kind: 'failed', error: error.message };
    deps.logger.error({ err: error, pendingChangeId: entry.id }, 'outbox delivery failed unexpectedly');
    return { kind: 'failed', error: `an unexpected error stopped the delivery to the ${what(backend)}` };
  }
}

const what = (backend: Pick<Backend, 'kind'>) => `${backend.kind.toLowerCase()} backend`;

/** Creates, whose duplicate on a repeated attempt may be the earlier attempt's own record. */
const CREATES = new Set<WriteOperation['op']>(['learning.createAccount', 'catalog.createUser']);

const TAKEN =
  "the key exists only upstream: linkIdentity with the backend's id " +
  'attaches it to a user, then retryChange or dropChange this change';

/** A call in words, for messages: the source API's verb and path. */
export function describe(operation: WriteOperation): string {
  switch (operation.op) {
    case 'catalog.deleteUser': {
      const query = operation.onlyOrdersAndEnrollments ? '?only_orders_and_enrollments=true' : '';
      return `DELETE /api/v1/users/${operation.nativeId}${query}`;
    }
    case 'embed.deleteUser': {
      const receiver = operation.reallocateTo ? `&reallocateTo=${operation.reallocateTo}` : '';
      return `DELETE /v1/headless/user/${operation.identifier}?action=${operation.action}${receiver}`;
    }
    case 'learning.disableAccount':
      return `DELETE /accounts/${operation.nativeId}`;
    case 'learning.createAccount':
      return 'POST /accounts';
    case 'catalog.createUser':
      return 'POST /api/v1/users';
    case 'catalog.updateUser':
      return `PUT /api/v1/users/${operation.nativeId}`;
    case 'embed.putUser':
      return `PUT /v1/headless/user/${operation.identifier}`;
    default:
      return operation.op;
  }
}

/** The delay before attempt `attempts + 1`: exponential with full jitter, never before the backend's Retry-After. */
export function retryDelay(
  options: Pick<DeliveryOptions, 'baseDelayMs' | 'maxDelayMs'>,
  attempts: number,
  retryAfter: Date | null,
  random = Math.random,
) {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.max(0, attempts - 1));
  const jittered = ceiling / 2 + (random() * ceiling) / 2;
  const asked = retryAfter ? retryAfter.getTime() - Date.now() : 0;
  return Math.max(jittered, asked);
}

/** Appends the audit event of a delivery outcome (actor: system) in `tx`. */
async function auditDelivery(tx: Tx, entry: PendingChange, action: string, data: Record<string, unknown>) {
  const event: AuditEntry = {
    action,
    subjectType: 'PendingChange',
    subjectId: entry.id,
    data: {
      partnerId: entry.partnerId,
      userId: entry.userId,
      backendId: entry.backendId,
      operation: entry.operation,
      attempts: entry.attempts,
      ...data,
    } as Prisma.InputJsonObject,
  };
  await tx.auditEvent.create({
    data: {
      partnerId: entry.partnerId,
      actorKind: 'system',
      actorId: null,
      action: event.action,
      subjectType: event.subjectType,
      subjectId: event.subjectId,
      data: event.data,
    },
  });
}

/**
 * Delivers the user's due entries, oldest first, until one is not due (waiting for its
 * retry, FAILED, or held by another worker) or none is left. The queue runs one of these
 * per user at a time; the claim (a lease in nextAttemptAt, and `worker`) keeps two workers
 * of different replicas off the same entry.
 */
export async function deliverUser(deps: DeliveryDeps, userId: string, signal?: AbortSignal): Promise<number> {
  const { prisma, options } = deps;
  let delivered = 0;
  while (!signal?.aborted) {
    const entry = await prisma.pendingChange.findFirst({
      where: { userId },
      orderBy: { sequence: 'asc' },
      include: { backend: true },
    });
    const now = new Date();
    if (entry?.status !== 'PENDING' || entry.nextAttemptAt > now) return delivered;
    const claimed = await prisma.pendingChange.updateMany({
      where: { id: entry.id, status: 'PENDING', attempts: entry.attempts, nextAttemptAt: { lte: now } },
      data: {
        attempts: { increment: 1 },
        nextAttemptAt: new Date(now.getTime() + options.leaseMs),
        worker: deps.workerId,
      },
    });
    if (claimed.count === 0) return delivered;
    // The attempt never outlives its claim: once the lease runs out another worker may take the
    // entry over and make the call again, so this attempt's calls are abandoned at three
    // quarters of it (a retry, whose check asks the backend first).
    const outcome = await attempt(deps, entry, AbortSignal.timeout(Math.max(1, Math.floor(options.leaseMs * 0.75))));
    const attempts = entry.attempts + 1;
    await inTransaction(prisma, async (tx) => {
      // Still ours? dropChange may have removed it meanwhile; then its outcome is only logged.
      const mine = await tx.pendingChange.findFirst({ where: { id: entry.id, worker: deps.workerId } });
      if (!mine) return;
      const current = { ...mine };
      if (outcome.kind === 'delivered') {
        await tx.pendingChange.delete({ where: { id: entry.id } });
        await markGone(tx, entry);
        await recordDelivered(tx, entry, outcome.record);
        await auditDelivery(tx, current, 'pending_change.delivered', {
          outcome: 'DELIVERED',
          detail: outcome.detail,
          requests: outcome.requests,
        });
      } else if (outcome.kind === 'retry' && attempts < options.maxAttempts) {
        const at = new Date(Date.now() + retryDelay(options, attempts, outcome.retryAfter));
        await tx.pendingChange.update({
          where: { id: entry.id },
          data: { lastError: outcome.error, nextAttemptAt: at, worker: null },
        });
        await auditDelivery(tx, current, 'pending_change.retry_scheduled', {
          outcome: 'RETRY',
          error: outcome.error,
          nextAttemptAt: at.toISOString(),
        });
      } else {
        const error = outcome.kind === 'retry' ? `gave up after ${attempts} attempts: ${outcome.error}` : outcome.error;
        await tx.pendingChange.update({
          where: { id: entry.id },
          data: { status: 'FAILED', lastError: error, worker: null },
        });
        await auditDelivery(tx, current, 'pending_change.failed', { outcome: 'FAILED', error });
      }
    });
    if (outcome.kind !== 'delivered') return delivered;
    delivered++;
  }
  return delivered;
}

/**
 * After a create or update reached its backend: what it accepted is the user's LINKED identity,
 * projected onto the user (recordAccepted, as a synchronous write does), unless the user was
 * deleted meanwhile (then the identity only).
 */
async function recordDelivered(tx: Tx, entry: PendingChange & { backend: Backend }, record?: SourceRecord | null) {
  if (!record || entry.operation === 'DELETE_USER' || entry.operation === 'DELETE_CLIENT') return;
  const user = await tx.user.findUnique({ where: { id: entry.userId }, select: { deletedAt: true } });
  await recordAccepted(
    tx,
    [{ backend: entry.backend, record }],
    { userId: entry.userId },
    { project: !user?.deletedAt },
  );
}

/**
 * After a delete reached its backend: the identities it removed are GONE (a learning disable
 * keeps its account); a client's deletion there took its users with it.
 */
async function markGone(tx: Tx, entry: PendingChange): Promise<void> {
  const operation = entry.payload as unknown as WriteOperation;
  const where = { backendId: entry.backendId, status: 'LINKED' as const };
  if (operation.op === 'embed.deleteClient') {
    const { identifier } = operation;
    await tx.identity.updateMany({
      where: {
        ...where,
        OR: [
          { entity: 'CLIENT', nativeId: identifier },
          { entity: 'USER', data: { path: ['clientIdentifier'], equals: identifier } },
        ],
      },
      data: { status: 'GONE' },
    });
    return;
  }
  const check = operation.op === 'learning.disableAccount' ? null : checkOf(operation);
  if (!check) return;
  await tx.identity.updateMany({
    where: { ...where, entity: 'USER', nativeId: check.nativeId },
    data: { status: 'GONE' },
  });
}

/**
 * Users whose first entry is due now (the one deliverUser would take): the worker's sweep hands
 * each to the queue. A user whose first entry is held by an attempt (its lease running), waits
 * for its retry or is FAILED is not due, whatever its later entries.
 */
export async function dueUsers(prisma: PrismaClient, limit = 1000): Promise<string[]> {
  const rows = await prisma.$queryRaw<{ userId: string }[]>`
    SELECT "userId" FROM (
      SELECT DISTINCT ON ("userId") "userId", status, "nextAttemptAt" FROM "PendingChange"
       WHERE "userId" IN (SELECT "userId" FROM "PendingChange" WHERE status = 'PENDING' AND "nextAttemptAt" <= now())
       ORDER BY "userId", sequence
    ) AS first
     WHERE status = 'PENDING' AND "nextAttemptAt" <= now()
     LIMIT ${limit}`;
  return rows.map((r) => r.userId);
}

/** The embedded store is this process's alone: attempts a killed process left claimed are due again now. */
export async function releaseClaims(prisma: PrismaClient): Promise<number> {
  const { count } = await prisma.pendingChange.updateMany({
    where: { worker: { not: null } },
    data: { worker: null, nextAttemptAt: new Date() },
  });
  return count;
}

// ---------------------------------------------------------------------------- the graph's reads and writes

/**
 * Pending changes the caller may see: a partner admin every one of its partner; an account
 * admin those of users it administers (alive ones: a deleted user's are for partner admins);
 * anyone else none.
 */
export function pendingChangeVisibility(p: Principal | null): Prisma.PendingChangeWhereInput {
  if (!isUser(p)) return { id: { in: [] } };
  if (p.partnerAdmin) return { partnerId: p.partnerId };
  if (p.adminAccountIds.size === 0) return { id: { in: [] } };
  return { partnerId: p.partnerId, user: userVisibility(p) };
}

export function pendingChangesWhere(ctx: RequestContext, status?: PendingChange['status'] | null) {
  return { ...pendingChangeVisibility(ctx.principal), ...(status ? { status } : {}) };
}

/** An attempt holds it: claimed by a worker whose lease has not run out (a dead worker's claim expires with it). */
const beingAttempted = (change: PendingChange) => change.worker !== null && change.nextAttemptAt > new Date();

async function lockVisible(tx: Tx, ctx: RequestContext, id: string): Promise<PendingChange> {
  requireUser(ctx);
  await tx.$queryRaw`SELECT id FROM "PendingChange" WHERE id = ${id}::uuid FOR UPDATE`;
  const change = await tx.pendingChange.findFirst({ where: { id, ...pendingChangeVisibility(ctx.principal) } });
  if (!change) throw new NotFoundError('PendingChange', id);
  return change;
}

/**
 * retryChange: a FAILED change is PENDING again and due now (attempts start over); a PENDING
 * one waiting for its retry is made due now. One being attempted right now is a conflict.
 */
export async function retryChange(ctx: RequestContext, id: string): Promise<PendingChange> {
  const change = await audited(ctx, async (tx, audit) => {
    const change = await lockVisible(tx, ctx, id);
    if (beingAttempted(change))
      throw new ConflictError('this change is being delivered right now; look again shortly', 'id');
    const updated = await tx.pendingChange.update({
      where: { id },
      data: { status: 'PENDING', attempts: 0, nextAttemptAt: new Date(), worker: null },
    });
    audit({
      action: 'pending_change.retry',
      subjectType: 'PendingChange',
      subjectId: id,
      data: { before: change.status, lastError: change.lastError, userId: change.userId },
    });
    return updated;
  });
  notifyOutbox();
  return change;
}

/**
 * dropChange: the change is given up (it never reaches its backend; the store keeps what the
 * change did locally) and leaves the outbox; the user's later changes go on.
 */
export async function dropChange(ctx: RequestContext, id: string): Promise<string> {
  const dropped = await audited(ctx, async (tx, audit) => {
    const change = await lockVisible(tx, ctx, id);
    if (beingAttempted(change))
      throw new ConflictError('this change is being delivered right now; look again shortly', 'id');
    await tx.pendingChange.delete({ where: { id } });
    audit({
      action: 'pending_change.drop',
      subjectType: 'PendingChange',
      subjectId: id,
      data: {
        status: change.status,
        attempts: change.attempts,
        lastError: change.lastError,
        userId: change.userId,
        backendId: change.backendId,
        operation: change.operation,
        call: describe(change.payload as unknown as WriteOperation),
      },
    });
    return id;
  });
  notifyOutbox();
  return dropped;
}

// ---------------------------------------------------------------------------- waking the worker

const listeners = new Set<() => void>();

/** A change was recorded (or made due): the process's outbox workers look now instead of at their next tick. */
export function notifyOutbox(): void {
  for (const listener of listeners) listener();
}

/** Subscribes a worker to notifyOutbox; returns the unsubscribe. */
export function onOutboxNotice(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
