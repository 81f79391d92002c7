// The IdentitySink of src/modules/backends/contract.ts: what the sync runner calls to store a
// backend's records as identities (upsertPage, markUnseenGone, markGone, knownNativeIds) and
// then link them into users, accounts and clients (linkPending, in linking.ts). Each call is
// one transaction (linkPending: one per chunk), retried on lost races like every write.
import crypto from 'node:crypto';
import type { IdentityStatus, Prisma, PrismaClient } from '@prisma/client';
import type { RequestContext } from '../../auth/context.js';
import { uuidv7 } from '../../store/ids.js';
import { audited } from '../audit/service.js';
import { execute, sql } from '../../store/statements.js';
import type { Tx } from '../../store/transaction.js';
import type { BackendRef, IdentitySink, SourceRecord, StreamName } from '../backends/contract.js';
import { linkPending } from './linking.js';
import { type Projected, projectOwners, projectUsers } from './writes.js';

/** The context of writes nobody requested: the sync runner's (audit actor `system`). */
export const systemContext = (prisma: PrismaClient): RequestContext => ({
  prisma,
  principal: null,
  requestId: 'sync',
  ip: '',
});

/** JSON with object keys sorted, so the same record hashes the same whatever order its keys came in. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value as object)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export const dataHash = (data: unknown) => crypto.createHash('sha256').update(stableJson(data)).digest('hex');

const normaliseEmail = (email: string | null) => (email ? email.trim().toLowerCase() || null : null);

const KNOWN_PAGE = 500;

export function identitySink(prisma: PrismaClient): IdentitySink {
  const ctx = systemContext(prisma);
  return {
    upsertPage: (backend, records, runId) => audited(ctx, (tx) => upsertPage(tx, backend, records, runId)),

    async markUnseenGone(backend, stream, runId) {
      const { count } = await prisma.identity.updateMany({
        where: {
          backendId: backend.id,
          stream,
          status: { in: ['LINKED', 'PENDING'] },
          OR: [{ lastSeenRunId: null }, { lastSeenRunId: { not: runId } }],
        },
        data: { status: 'GONE' },
      });
      return count;
    },

    async unseenNativeIds(backend, stream, runId, limit) {
      const rows = await prisma.identity.findMany({
        where: {
          backendId: backend.id,
          stream,
          status: { in: ['LINKED', 'PENDING'] },
          OR: [{ lastSeenRunId: null }, { lastSeenRunId: { not: runId } }],
        },
        select: { nativeId: true },
        orderBy: { nativeId: 'asc' },
        take: limit,
      });
      return rows.map((r) => r.nativeId);
    },

    async markGone(backend, stream, nativeId) {
      const { count } = await prisma.identity.updateMany({
        where: { backendId: backend.id, stream, nativeId, status: { in: ['LINKED', 'PENDING'] } },
        data: { status: 'GONE' },
      });
      return count > 0;
    },

    async *knownNativeIds(backend, stream) {
      for (let after: string | undefined; ; ) {
        const rows = await prisma.identity.findMany({
          where: {
            backendId: backend.id,
            stream,
            status: { in: ['LINKED', 'PENDING'] },
            ...(after ? { id: { gt: after } } : {}),
          },
          select: { id: true, nativeId: true },
          orderBy: { id: 'asc' },
          take: KNOWN_PAGE,
        });
        if (rows.length) yield rows.map((r) => r.nativeId);
        if (rows.length < KNOWN_PAGE) return;
        after = rows.at(-1)!.id;
      }
    },

    linkPending: (backend) => linkPending(ctx, backend),
  };
}

async function upsertPage(
  tx: Tx,
  backend: BackendRef,
  records: SourceRecord[],
  runId: string,
): Promise<{ created: number; updated: number }> {
  // A record read twice in one page (a list that shifted under the reader) counts once: the last read wins.
  const unique = new Map<string, SourceRecord>();
  for (const record of records) if (record.nativeId) unique.set(`${record.entity}\u0000${record.nativeId}`, record);
  if (!unique.size) return { created: 0, updated: 0 };
  const list = [...unique.values()];
  const byEntity = new Map<string, string[]>();
  for (const r of list) byEntity.set(r.entity, [...(byEntity.get(r.entity) ?? []), r.nativeId]);
  const existing = await tx.identity.findMany({
    where: {
      backendId: backend.id,
      OR: [...byEntity].map(([entity, nativeIds]) => ({
        entity: entity as SourceRecord['entity'],
        nativeId: { in: nativeIds },
      })),
    },
    select: {
      id: true,
      entity: true,
      nativeId: true,
      status: true,
      dataHash: true,
      userId: true,
      accountId: true,
      clientId: true,
    },
  });
  const known = new Map(existing.map((i) => [`${i.entity}\u0000${i.nativeId}`, i]));
  const now = new Date();
  const fresh: {
    id: string;
    stream: string;
    entity: string;
    nativeId: string;
    data: unknown;
    dataHash: string;
    key: string | null;
    email: string | null;
    sourceUpdatedAt: Date | null;
  }[] = [];
  const seen: string[] = [];
  const changed: { id: string; record: SourceRecord; status: IdentityStatus; hash: string }[] = [];
  const toProject: Projected[] = [];
  let updated = 0;
  for (const record of list) {
    const hash = dataHash(record.data);
    const identity = known.get(`${record.entity}\u0000${record.nativeId}`);
    if (!identity) {
      fresh.push({
        id: uuidv7(),
        stream: record.stream,
        entity: record.entity,
        nativeId: record.nativeId,
        data: record.data ?? null,
        dataHash: hash,
        key: record.key,
        email: normaliseEmail(record.email),
        sourceUpdatedAt: record.sourceUpdatedAt,
      });
      continue;
    }
    // A disconnected backend's identities are its last word; nothing syncs them any more.
    if (identity.status === 'DETACHED') continue;
    const owned = Boolean(identity.userId || identity.accountId || identity.clientId);
    // The backend has it again: back to its owner (or to linking).
    const status: IdentityStatus = identity.status === 'GONE' ? (owned ? 'LINKED' : 'PENDING') : identity.status;
    if (identity.dataHash === hash && status === identity.status) {
      seen.push(identity.id);
      continue;
    }
    if (identity.dataHash !== hash) updated++;
    changed.push({ id: identity.id, record, status, hash });
    // Changed data of a linked identity reaches its owner in the same transaction.
    if (status === 'LINKED' && identity.dataHash !== hash)
      toProject.push({
        ...identity,
        partnerId: backend.partnerId,
        kind: backend.kind,
        data: record.data as Prisma.JsonValue,
      });
  }
  // The page's known identities in one statement: the changed ones take the record (its data,
  // status and what it says), the others only that this run saw them.
  if (changed.length || seen.length) {
    const rows = [
      ...changed.map(({ id, record, status, hash }) => ({
        id,
        changed: true,
        key: record.key,
        email: normaliseEmail(record.email),
        sourceUpdatedAt: record.sourceUpdatedAt,
        status,
        data: record.data ?? null,
        dataHash: hash,
        stream: record.stream,
      })),
      ...seen.map((id) => ({ id, changed: false })),
    ];
    await execute(
      tx,
      sql`UPDATE "Identity" AS i SET
        key = CASE WHEN v.changed THEN v.key ELSE i.key END,
        email = CASE WHEN v.changed THEN v.email ELSE i.email END,
        "sourceUpdatedAt" = CASE WHEN v.changed THEN v."sourceUpdatedAt" ELSE i."sourceUpdatedAt" END,
        status = CASE WHEN v.changed THEN v.status::"IdentityStatus" ELSE i.status END,
        data = CASE WHEN v.changed THEN v.data ELSE i.data END,
        "dataHash" = CASE WHEN v.changed THEN v."dataHash" ELSE i."dataHash" END,
        stream = CASE WHEN v.changed THEN v.stream ELSE i.stream END,
        "syncedAt" = ${now.toISOString()}::timestamptz, "lastSeenRunId" = ${runId}::uuid, "updatedAt" = now()
      FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS v(id uuid, changed boolean, key text, email text,
        "sourceUpdatedAt" timestamptz, status text, data jsonb, "dataHash" text, stream text)
      WHERE i.id = v.id`,
    );
  }
  // Their owners' projection in a constant number of statements: the users of the page, then
  // its accounts and clients (one UPDATE each).
  await projectUsers(tx, backend.partnerId, toProject);
  await projectOwners(tx, toProject);
  // A concurrent writer of the same page (there is none: one run per backend at a time) would be skipped, not doubled.
  // The page's new identities in one INSERT (PENDING: linking takes them).
  const created = fresh.length
    ? await execute(
        tx,
        sql`INSERT INTO "Identity"
          (id, "partnerId", "backendId", kind, stream, entity, "nativeId", status,
          data, "dataHash", key, email, "sourceUpdatedAt", "syncedAt", "lastSeenRunId", "updatedAt")
        SELECT v.id, ${backend.partnerId}, ${backend.id}::uuid, ${backend.kind}::"BackendKind", v.stream,
          v.entity::"IdentityEntity", v."nativeId", 'PENDING', v.data, v."dataHash", v.key, v.email,
          v."sourceUpdatedAt",
          ${now.toISOString()}::timestamptz, ${runId}::uuid, now()
        FROM jsonb_to_recordset(${JSON.stringify(fresh)}::jsonb)
          AS v(id uuid, stream text, entity text, "nativeId" text,
          data jsonb, "dataHash" text, key text, email text, "sourceUpdatedAt" timestamptz)
        ON CONFLICT DO NOTHING`,
      )
    : 0;
  return { created, updated };
}

export type { StreamName };
