// SourceRecords as the connectors produce them (src/modules/backends/contract.ts), with `data`
// in each dialect's wire shape (src/dialects/*/index.ts), and a backend row to store them
// for: the identities and linking tests feed them straight into the IdentitySink.
import crypto from 'node:crypto';
import type { BackendKind, LinkRule, PrismaClient } from '@prisma/client';
import type { BackendRef, SourceRecord } from '../../src/modules/backends/contract.js';

export async function makeBackend(
  prisma: PrismaClient,
  partnerId: string,
  kind: BackendKind,
  linkBy: LinkRule[] = ['KEY', 'EMAIL'],
): Promise<BackendRef> {
  const row = await prisma.backend.create({
    data: {
      partnerId,
      kind,
      activeKind: kind,
      baseUrl: `https://${kind.toLowerCase()}.example.com`,
      credential: 'v1:test',
      linkBy,
    },
  });
  return { id: row.id, partnerId, kind, linkBy: row.linkBy };
}

export const runId = () => crypto.randomUUID();

export function learning(id: string, externalUserId: string): SourceRecord {
  return {
    stream: 'learning.accounts',
    entity: 'USER',
    nativeId: id,
    key: externalUserId,
    email: null,
    sourceUpdatedAt: null,
    data: { id, external_user_id: externalUserId },
  };
}

export function catalog(id: number, email: string, extra: Record<string, unknown> = {}): SourceRecord {
  const data = {
    id,
    root_account_id: 1,
    canvas_user_id: null,
    registered_account_id: 1,
    canvas_user_uuid: crypto.createHash('sha1').update(`${id}:${email}`).digest('hex'),
    user_name: email,
    first_name: 'First',
    last_name: `Last${id}`,
    email_address: email,
    custom_fields: {},
    created_at: '2026-01-01T00:00:00.000Z',
    updated_at: '2026-01-02T00:00:00.000Z',
    merged_into_user_id: null,
    time_zone: 'Europe/Berlin',
    ...extra,
  };
  return {
    stream: 'catalog.users',
    entity: 'USER',
    nativeId: String(id),
    key: email,
    email,
    sourceUpdatedAt: new Date(data.updated_at as string),
    data,
  };
}

export function embedUser(
  identifier: string,
  metadata: Record<string, unknown> = {},
  clientIdentifier: string | null = null,
): SourceRecord {
  const email = typeof metadata.email === 'string' ? metadata.email : null;
  return {
    stream: 'embed.users',
    entity: 'USER',
    nativeId: identifier,
    key: identifier,
    email,
    sourceUpdatedAt: null,
    data: {
      identifier,
      clientIdentifier,
      metadata,
      createdAt: '2026-01-01T00:00:00.000Z',
      updatedAt: '2026-01-01T00:00:00.000Z',
    },
  };
}

export function embedClient(identifier: string, metadata: Record<string, unknown> = {}): SourceRecord {
  return {
    stream: 'embed.clients',
    entity: 'CLIENT',
    nativeId: identifier,
    key: identifier,
    email: null,
    sourceUpdatedAt: null,
    data: { identifier, metadata },
  };
}

/** A messaging account; `parent`: its parent's id, null for the backend's root, undefined to leave the field out. */
export function messaging(id: string, name: string, customerId: number, parent?: string | null): SourceRecord {
  const data: Record<string, unknown> = {
    customer_id: customerId,
    id,
    inserted_at: '2026-01-01T00:00:00.000Z',
    legacy_access: true,
    lrn_access: false,
    mms_access: 'NONE',
    name,
    require_ip_api_access: false,
    require_ip_gql_access: false,
    sms_access: 'DOMESTIC',
    updated_at: '2026-01-01T00:00:00.000Z',
  };
  if (parent !== undefined) data.parent_id = parent;
  return {
    stream: 'messaging.accounts',
    entity: 'ACCOUNT',
    nativeId: id,
    key: null,
    email: null,
    sourceUpdatedAt: null,
    data,
  };
}

/** A ULID-shaped id from a small number (tests name accounts by number). */
export const ulid = (n: number) => `01J${String(n).padStart(23, '0')}`;

/** Which native ids ended on the same user: sorted groups of `kind:nativeId`, for comparing two stores. */
export async function partition(prisma: PrismaClient, partnerId: string): Promise<string[][]> {
  const rows = await prisma.identity.findMany({
    where: { partnerId, entity: 'USER' },
    select: { kind: true, nativeId: true, userId: true },
  });
  const groups = new Map<string, string[]>();
  for (const r of rows)
    groups.set(r.userId ?? `none:${r.nativeId}`, [
      ...(groups.get(r.userId ?? `none:${r.nativeId}`) ?? []),
      `${r.kind}:${r.nativeId}`,
    ]);
  return [...groups.values()].map((g) => g.sort()).sort((a, b) => a.join().localeCompare(b.join()));
}

/** Fisher–Yates with a seeded generator, so a failing order can be replayed. */
export function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  const next = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
