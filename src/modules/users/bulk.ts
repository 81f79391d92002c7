// Bulk creation: up to 50 users in one transaction, one typed result per item, and
// idempotent retries.
import crypto from 'node:crypto';
import type { Backend, Prisma, User } from '@prisma/client';
import { BackendUnavailableError, UnsupportedByBackendError } from '../backends/errors.js';
import { z } from 'zod';
import type { RequestContext } from '../../auth/context.js';
import { isAdmin, type UserPrincipal } from '../../auth/principal.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError, type FieldIssue } from '../../errors.js';
import { PiiRejectedError, type PiiRule } from './errors.js';
import { uniqueViolation } from '../../store/errors.js';
import { keyString, nullish, parse } from '../../validation.js';
import { audited } from '../audit/service.js';
import { requireUser } from '../../auth/context.js';
import type { Tx } from '../../store/transaction.js';
import {
  HOLDER,
  clientIdFor,
  createUserSchema,
  holderId,
  keysOf,
  lockClients,
  newUserRow,
  targetAccount,
} from './service.js';
import { notifyOutbox, recordChanges } from '../outbox/service.js';
import {
  callBackend,
  callBackends,
  connectedBackends,
  recordAccepted,
  userCreateCalls,
  type Accepted,
  type Call,
} from '../backends/write-through.js';

export const MAX_BULK = 50;

export type BulkItemResult =
  | { ok: true; user: User }
  | { ok: false; error: ValidationError | ConflictError | ForbiddenError | NotFoundError | Error };

const bulkEnvelope = z.object({
  users: z.array(z.unknown()).min(1, 'give at least one user').max(MAX_BULK, `at most ${MAX_BULK} users per call`),
  idempotencyKey: nullish(keyString),
});

/**
 * Whose idempotency keys these are: the API key, or the JWT's subject. Scoped to one
 * credential, a key can be neither replayed (reading another caller's results) nor taken
 * first (making another caller's retry a ValidationError) by anyone else of the partner.
 */
export function idempotencyScope(principal: UserPrincipal): string {
  return principal.apiKeyId ? `api_key:${principal.apiKeyId}` : `user:${principal.userId}`;
}

interface StoredBulk {
  requestHash: string;
  results: ({ userId: string } | { error: StoredError })[];
}

/** Enough of a typed error to answer a retry with the same error. */
interface StoredError {
  name: string;
  message: string;
  field?: string;
  existingId?: string;
  rule?: PiiRule;
  entity?: string;
  issues?: FieldIssue[];
  /** A connected backend's error: which backend, and its retryAfter or operation. */
  backendId?: string;
  retryAfter?: number | null;
  operation?: string;
}

/**
 * Up to 50 users in one transaction, one result per item in input order. Items are checked
 * first (shape, PII, client, duplicates inside the call, keys already taken); an item a
 * connected backend holds is created there first, before the transaction (its refusal is that
 * item's error); the rest are inserted with ON CONFLICT DO NOTHING, so a concurrent winner
 * turns an item into a conflict instead of failing the call. With an idempotency key, a retry
 * returns the first results (a backend's error included, without asking it again).
 */
/**
 * Who may create users at all: an admin of the partner or of an account (where exactly is
 * checked per item, by targetAccount). A whole-call refusal, before any item is looked at.
 */
export function assertMayCreateUsers(ctx: RequestContext): void {
  if (!isAdmin(ctx.principal))
    throw new ForbiddenError('only an admin of the partner or of an account can create users');
}

export async function createUsers(
  ctx: RequestContext,
  raw: { users: unknown[]; idempotencyKey?: string | null },
  /**
   * How errors name item i (default i): a caller that sends only part of its request names them by
   * their place in it.
   */
  position: (index: number) => number = (index) => index,
): Promise<BulkItemResult[]> {
  const principal = requireUser(ctx);
  assertMayCreateUsers(ctx);
  const { users, idempotencyKey } = parse(bulkEnvelope, raw);
  const requestHash = crypto.createHash('sha256').update(JSON.stringify(users)).digest('hex');
  if (idempotencyKey) {
    const replay = await replayBulk(ctx, principal, idempotencyKey, requestHash);
    if (replay) return replay;
  }
  const results: (BulkItemResult | null)[] = users.map(() => null);
  const rows: {
    index: number;
    row: Prisma.UserCreateManyInput;
    client?: string;
    call?: Call;
    /** Two or more connected backends: the item's calls go through the outbox (SPEC §10.7). */
    outbox?: Call[];
  }[] = [];
  const seen = new Map<string, number>();
  const clientCache = new Map<string, string | null>();
  const accountCache = new Map<string | undefined, Promise<string>>();
  const backends = await connectedBackends(ctx.prisma, principal.partnerId);
  for (const [index, item] of users.entries()) {
    try {
      const input = parse(createUserSchema, item, `input.users.${position(index)}`);
      if (!accountCache.has(input.accountId))
        accountCache.set(input.accountId, targetAccount(ctx.prisma, principal, input.accountId));
      const accountId = await accountCache.get(input.accountId)!;
      let clientId: string | null = null;
      if (input.clientIdentifier) {
        if (!clientCache.has(input.clientIdentifier)) {
          clientCache.set(
            input.clientIdentifier,
            await clientIdFor(ctx.prisma, principal, input.clientIdentifier).catch(() => null),
          );
        }
        clientId = clientCache.get(input.clientIdentifier) ?? null;
        if (!clientId) throw new NotFoundError('Client', input.clientIdentifier);
      }
      const row = newUserRow(principal.partnerId, accountId, input, clientId);
      const calls = backends.size
        ? userCreateCalls(row, input.clientIdentifier).filter((c) => backends.has(c.kind))
        : [];
      for (const [field, value] of Object.entries(keysOf(row as User))) {
        if (!value) continue;
        const earlier = seen.get(`${field}:${value}`);
        if (earlier !== undefined)
          throw new ConflictError(
            `${field} ${JSON.stringify(value)} is repeated in this call (item ${position(earlier)})`,
            field,
          );
      }
      for (const [field, value] of Object.entries(keysOf(row as User))) if (value) seen.set(`${field}:${value}`, index);
      rows.push({
        index,
        row,
        client: input.clientIdentifier ?? undefined,
        ...(calls.length > 1 ? { outbox: calls } : { call: calls[0] }),
      });
    } catch (error) {
      results[index] = { ok: false, error: error as Error };
    }
  }
  // Items a connected backend holds are created there first, outside the transaction (so a
  // retried transaction never sends them again), each on its own: one refused item (taken
  // upstream, backend down) fails only itself. A key taken in the store is refused before.
  const accepted = new Map<number, Accepted>();
  const through = rows.filter((r) => r.call || r.outbox);
  if (through.length) {
    const taken = await takenKeys(
      ctx.prisma as unknown as Tx,
      principal,
      through.map((r) => r.row),
    );
    const send = through.filter(({ index, row, call }) => {
      const clash = takenError(row, taken);
      if (clash) results[index] = { ok: false, error: clash };
      return !clash && call;
    });
    await inPool(send, ctx.config?.backends.concurrency ?? 1, async ({ index, call }) => {
      try {
        accepted.set(index, await callBackend(ctx, backends.get(call!.kind)!, call!, 'createUsers'));
      } catch (error) {
        results[index] = { ok: false, error: error as Error };
      }
    });
    for (let i = rows.length - 1; i >= 0; i--) if (results[rows[i]!.index]) rows.splice(i, 1);
  }
  let queued = false;
  try {
    const created = await audited(ctx, async (tx, audit) => {
      // A client deleted since it was looked up takes its items with it (see lockClients).
      const clients = await lockClients(
        tx,
        rows.flatMap((r) => (r.row.clientId ? [r.row.clientId] : [])),
      );
      const live = rows.filter(({ index, row, client }) => {
        if (!row.clientId || clients.has(row.clientId)) return true;
        results[index] = { ok: false, error: new NotFoundError('Client', client) };
        return false;
      });
      const taken = await takenKeys(
        tx,
        principal,
        live.map((r) => r.row),
      );
      const insertable = live.filter(({ index, row }) => {
        const clash = takenError(row, taken);
        if (clash) results[index] = { ok: false, error: clash };
        return !clash;
      });
      const inserted = insertable.length
        ? await tx.user.createManyAndReturn({ data: insertable.map((r) => r.row).sort(byKeys), skipDuplicates: true })
        : [];
      const byId = new Map(inserted.map((u) => [u.id, u]));
      // Rows skipped by ON CONFLICT lost a race to a concurrent writer: name the key it took
      // (one more statement, only when that happened).
      const lost = insertable.filter(({ row }) => !byId.has(row.id!));
      const takenNow = lost.length
        ? await takenKeys(
            tx,
            principal,
            lost.map((r) => r.row),
          )
        : new Map<string, string | undefined>();
      for (const { index, row, outbox } of insertable) {
        let user = byId.get(row.id!);
        if (user && outbox) {
          // Several backends: the calls are recorded for the outbox's worker, in this transaction.
          await callBackends(ctx, backends, outbox, 'createUsers', async (calls) => {
            await recordChanges(
              tx,
              { partnerId: principal.partnerId, userId: user!.id, operation: 'CREATE_USER' },
              calls,
            );
          });
          queued = true;
        }
        if (user) {
          // What the backend accepted becomes the user's LINKED identity, projected onto it.
          const backend = accepted.get(index);
          if (backend) {
            await recordAccepted(tx, [backend], { userId: user.id });
            user = await tx.user.findUniqueOrThrow({ where: { id: user.id } });
          }
          results[index] = { ok: true, user };
          continue;
        }
        const clash = (['externalUserId', 'email', 'identifier'] as const).find(
          (k) => row[k] && takenNow.has(`${k}:${row[k]}`),
        );
        results[index] = {
          ok: false,
          error: clash
            ? new ConflictError(
                `${clash} ${JSON.stringify(row[clash])} is already taken`,
                clash,
                takenNow.get(`${clash}:${row[clash]}`),
              )
            : new ConflictError('a key of this user was taken by a concurrent request'),
        };
      }
      for (const user of inserted)
        audit({
          action: 'user.create',
          subjectType: 'User',
          subjectId: user.id,
          data: { keys: keysOf(user), bulk: true },
        });
      if (idempotencyKey) {
        const stored: StoredBulk = { requestHash, results: (results as BulkItemResult[]).map(storeResult) };
        await tx.idempotencyRecord.create({
          data: {
            partnerId: principal.partnerId,
            credential: idempotencyScope(principal),
            key: idempotencyKey,
            operation: 'createUsers',
            response: stored as unknown as Prisma.InputJsonValue,
          },
        });
      }
      return results as BulkItemResult[];
    });
    if (queued) notifyOutbox();
    return created;
  } catch (error) {
    // A concurrent call with the same idempotency key committed first: answer with its results.
    if (idempotencyKey && uniqueViolation(error)?.includes('key')) {
      const replay = await replayBulk(ctx, principal, idempotencyKey, requestHash);
      if (replay) return replay;
    }
    throw error;
  }
}

/** The ConflictError of a row whose key another user of the partner holds (`taken`: from takenKeys), or null. */
function takenError(row: Prisma.UserCreateManyInput, taken: Map<string, string | undefined>): ConflictError | null {
  const clash = (['externalUserId', 'email', 'identifier'] as const).find((k) => row[k] && taken.has(`${k}:${row[k]}`));
  if (!clash) return null;
  return new ConflictError(
    `${clash} ${JSON.stringify(row[clash])} is already taken`,
    clash,
    taken.get(`${clash}:${row[clash]}`),
  );
}

/** Runs `work` on each item, at most `limit` at once (the backend's concurrency limit). */
async function inPool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}

// Concurrent bulk calls that insert the same keys in the same order wait for each other
// instead of deadlocking (a deadlock is retried, but costs a round).
const sortKey = (r: Prisma.UserCreateManyInput) =>
  `${r.externalUserId ?? ''}\u0000${r.email ?? ''}\u0000${r.identifier ?? ''}`;
const byKeys = (x: Prisma.UserCreateManyInput, y: Prisma.UserCreateManyInput) =>
  sortKey(x) < sortKey(y) ? -1 : sortKey(x) > sortKey(y) ? 1 : 0;

/** `field:value` of each key already held → the holder's id, if the caller may see the holder. */
async function takenKeys(
  tx: Tx,
  principal: UserPrincipal,
  rows: Prisma.UserCreateManyInput[],
): Promise<Map<string, string | undefined>> {
  const ids = rows.map((r) => r.externalUserId).filter((v): v is string => Boolean(v));
  const emails = rows.map((r) => r.email).filter((v): v is string => Boolean(v));
  const identifiers = rows.map((r) => r.identifier).filter((v): v is string => Boolean(v));
  if (!ids.length && !emails.length && !identifiers.length) return new Map<string, string | undefined>();
  const holders = await tx.user.findMany({
    where: {
      partnerId: principal.partnerId,
      OR: [{ externalUserId: { in: ids } }, { email: { in: emails } }, { identifier: { in: identifiers } }],
    },
    select: { ...HOLDER, externalUserId: true, email: true, identifier: true },
  });
  const taken = new Map<string, string | undefined>();
  for (const h of holders) {
    for (const [k, v] of Object.entries(keysOf(h))) if (v) taken.set(`${k}:${v}`, holderId(principal, h));
  }
  return taken;
}

function storeResult(result: BulkItemResult): StoredBulk['results'][number] {
  if (result.ok) return { userId: result.user.id };
  const e = result.error as Error & Omit<StoredError, 'name' | 'message'> & { issues?: readonly FieldIssue[] };
  const backend =
    e instanceof BackendUnavailableError
      ? { backendId: e.backend.id, retryAfter: e.retryAfter }
      : e instanceof UnsupportedByBackendError
        ? { backendId: e.backend.id, operation: e.operation }
        : {};
  return {
    error: {
      ...backend,
      name: e.name,
      message: e.message,
      field: e.field,
      existingId: e.existingId,
      rule: e.rule,
      entity: e.entity,
      issues: e.issues && [...e.issues],
    },
  };
}

async function replayBulk(
  ctx: RequestContext,
  principal: UserPrincipal,
  key: string,
  requestHash: string,
): Promise<BulkItemResult[] | null> {
  const where = {
    partnerId_credential_key: { partnerId: principal.partnerId, credential: idempotencyScope(principal), key },
  };
  const record = await ctx.prisma.idempotencyRecord.findUnique({ where });
  if (!record) return null;
  const stored = record.response as unknown as StoredBulk;
  if (record.operation !== 'createUsers' || stored.requestHash !== requestHash) {
    throw new ValidationError('this idempotencyKey was used for a different request', 'idempotencyKey');
  }
  const ids = stored.results.flatMap((r) => ('userId' in r ? [r.userId] : []));
  const users = new Map((await ctx.prisma.user.findMany({ where: { id: { in: ids } } })).map((u) => [u.id, u]));
  const backendIds = stored.results.flatMap((r) => ('error' in r && r.error.backendId ? [r.error.backendId] : []));
  const backends = new Map(
    backendIds.length
      ? (await ctx.prisma.backend.findMany({ where: { id: { in: backendIds }, partnerId: principal.partnerId } })).map(
          (b) => [b.id, b],
        )
      : [],
  );
  return stored.results.map((r) => {
    if ('userId' in r) {
      const user = users.get(r.userId);
      return user ? { ok: true as const, user } : { ok: false as const, error: new NotFoundError('User', r.userId) };
    }
    return { ok: false as const, error: reviveError(r.error, backends) };
  });
}

function reviveError(e: StoredError, backends: Map<string, Backend>): Error {
  const backend = e.backendId ? backends.get(e.backendId) : undefined;
  switch (e.name) {
    case 'BackendUnavailableError':
      if (backend) return new BackendUnavailableError(backend, e.retryAfter ?? null, e.message);
      return new ValidationError(e.message);
    case 'UnsupportedByBackendError':
      if (backend) return new UnsupportedByBackendError(backend, e.operation ?? 'createUsers', e.message);
      return new ValidationError(e.message);
    case 'ConflictError':
      return new ConflictError(e.message, e.field, e.existingId);
    case 'NotFoundError':
      return Object.assign(new NotFoundError(e.entity ?? 'User'), { message: e.message });
    case 'ForbiddenError':
      return new ForbiddenError(e.message);
    case 'PiiRejectedError':
      if (e.field && e.rule) return new PiiRejectedError(e.field, e.rule);
      return new ValidationError(e.message, e.field);
    default:
      return e.issues?.length ? new ValidationError(e.issues) : new ValidationError(e.message);
  }
}
