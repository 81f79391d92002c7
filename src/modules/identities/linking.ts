// Linking (SPEC §10.2): which PENDING identities are which user, account or client.
//
// Deterministic: every pending identity of the partner is taken in one canonical order,
// whatever order the records arrived in: accounts first (parents before children, then by
// native id), then clients (by native id), then users by kind — EMBED, LEARNING, CATALOG (an
// embed user carries both an identifier and an e-mail, so taken first it joins what KEY and
// EMAIL would otherwise split) — then key, e-mail and native id. Each user identity is
// matched by its backend's `linkBy` rules against the partner's users as they stand (their
// unified columns, which are the identities' projection, hosted ones included):
//   KEY   learning `external_user_id` and embed `identifier`: equal to a user's
//         externalUserId or identifier;
//   EMAIL catalog `email_address` and embed `metadata.email`, lower-cased: equal to a user's
//         catalog email or embed metadata.email.
// A candidate that already has an identity of this kind (another catalog record, another
// embed identifier) cannot take a second one. Exactly one candidate left: linked to it. None:
// a new user (in the account the record names — catalog `registered_account_id` as a
// messaging customer_id, the embed user's client's account — else the partner root). Several:
// a new user of its own, and an OPEN LinkConflict (reason MATCH) naming the candidates; so
// does a match whose every candidate already had this kind.
import type { BackendKind, Identity, IdentityEntity, LinkRule, Prisma } from '@prisma/client';
import { monotonicFactory } from 'ulid';
import type { RequestContext } from '../../auth/context.js';
import { arrayLiteral } from '../../store/arrays.js';
import { canvasUuid, uuidv7 } from '../../store/ids.js';
import { audited } from '../audit/service.js';
import { execute, select, sql } from '../../store/statements.js';
import type { Tx } from '../../store/transaction.js';
import type { BackendRef } from '../backends/contract.js';
import {
  parentOf,
  projectAccount,
  projectUser,
  registeredAccountOf,
  UNIQUE_USER_COLUMNS,
  type UniqueUserColumn,
} from './projection.js';
import { insertUsers, type Projected, projectOwners, updateUsers } from './writes.js';

export interface LinkCounts {
  linked: number;
  newUsers: number;
  conflicts: number;
}

/** Account ids as Prisma's ulid() default, increasing in creation order. */
const newAccountId = monotonicFactory();
const USER_CHUNK = 500;
const OTHER_CHUNK = 200;
const KIND_ORDER: Record<BackendKind, number> = { EMBED: 0, LEARNING: 1, CATALOG: 2, MESSAGING: 3 };
const KEY_KINDS = new Set<BackendKind>(['LEARNING', 'EMBED']);
const EMAIL_KINDS = new Set<BackendKind>(['CATALOG', 'EMBED']);

const compare = (a: string | null, b: string | null) =>
  a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1;

type Head = Pick<Identity, 'id' | 'backendId' | 'kind' | 'entity' | 'nativeId' | 'key' | 'email'>;

/** What user linking reads of a pending identity: its head and its record. */
type Pending = Head & Pick<Identity, 'data'>;

/** The canonical order of user identities (see the head comment). */
export function userOrder(a: Head, b: Head): number {
  return (
    KIND_ORDER[a.kind] - KIND_ORDER[b.kind] ||
    compare(a.key, b.key) ||
    compare(a.email, b.email) ||
    compare(a.nativeId, b.nativeId) ||
    compare(a.backendId, b.backendId)
  );
}

export async function linkPending(ctx: RequestContext, backend: BackendRef): Promise<LinkCounts> {
  const counts: LinkCounts = { linked: 0, newUsers: 0, conflicts: 0 };
  const add = (c: LinkCounts) => {
    counts.linked += c.linked;
    counts.newUsers += c.newUsers;
    counts.conflicts += c.conflicts;
  };
  // Every pending identity of the partner in one statement (a run calls this after each page).
  const all = await select<Head>(
    ctx.prisma,
    sql`SELECT id, "backendId", kind::text AS kind, entity::text AS entity, "nativeId", key, email
      FROM "Identity" WHERE "partnerId" = ${backend.partnerId} AND status = 'PENDING'`,
  );
  if (!all.length) return counts;
  const rules = await rulesOf(ctx, backend);
  const pending = (entity: IdentityEntity) => all.filter((i) => i.entity === entity);
  const accounts = pending('ACCOUNT');
  if (accounts.length) add(await audited(ctx, (tx) => linkAccounts(tx, backend.partnerId, accounts)));
  const clients = pending('CLIENT').sort(
    (a, b) => compare(a.nativeId, b.nativeId) || compare(a.backendId, b.backendId),
  );
  for (let i = 0; i < clients.length; i += OTHER_CHUNK) {
    const chunk = clients.slice(i, i + OTHER_CHUNK).map((c) => c.id);
    add(await audited(ctx, (tx) => linkClients(tx, backend.partnerId, chunk)));
  }
  const users = pending('USER').sort(userOrder);
  for (let i = 0; i < users.length; i += USER_CHUNK) {
    const chunk = users.slice(i, i + USER_CHUNK).map((u) => u.id);
    add(await audited(ctx, (tx) => linkUsers(tx, backend.partnerId, chunk, rules)));
  }
  if (counts.linked || counts.newUsers || counts.conflicts) {
    await audited(ctx, async (_tx, audit) =>
      audit({
        action: 'identity.link',
        subjectType: 'Backend',
        subjectId: backend.id,
        data: { partnerId: backend.partnerId, ...counts },
      }),
    );
  }
  return counts;
}

/**
 * Linking of one partner runs one transaction at a time (two backends' runs finishing
 * together, or a linkIdentity beside a run): each waits for the other's chunk, then finds only
 * the identities still PENDING. A transaction-scoped advisory lock, released at commit.
 */
export async function lockLinking(tx: Tx, partnerId: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`identities.link:${partnerId}`}))`;
}

/** Each backend's rules by id (the partner's pending identities may come from several). */
async function rulesOf(ctx: RequestContext, backend: BackendRef): Promise<Map<string, readonly LinkRule[]>> {
  const rows = await ctx.prisma.backend.findMany({
    where: { partnerId: backend.partnerId },
    select: { id: true, linkBy: true },
  });
  const rules = new Map<string, readonly LinkRule[]>(rows.map((r) => [r.id, r.linkBy]));
  rules.set(backend.id, backend.linkBy);
  return rules;
}

// ---------------------------------------------------------------------------- accounts

/**
 * Messaging accounts become Accounts in the backend's tree: parents before children, whatever
 * order they came in. A record without a parent field goes under the partner root; one that
 * says it has no parent is the backend's own root, which is the partner's root account.
 *
 * A constant number of statements whatever the number of accounts or levels: the tree is
 * planned in the canonical order (ids made here, so a child names a parent of the same chunk),
 * the parents already stored are read in one statement for their ancestorIds, then the new
 * accounts go in one INSERT in that order (a foreign key is checked at the statement's end),
 * the identities in one UPDATE, and their projection in one more (projectOwners).
 */
async function linkAccounts(tx: Tx, partnerId: string, heads: Head[]): Promise<LinkCounts> {
  await lockLinking(tx, partnerId);
  const ids = heads.map((h) => h.id);
  const identities = await tx.identity.findMany({ where: { id: { in: ids }, status: 'PENDING' } });
  if (!identities.length) return { linked: 0, newUsers: 0, conflicts: 0 };
  const backendIds = [...new Set(identities.map((i) => i.backendId))];
  const linked = await tx.identity.findMany({
    where: { backendId: { in: backendIds }, entity: 'ACCOUNT', status: { not: 'PENDING' }, accountId: { not: null } },
    select: { backendId: true, nativeId: true, accountId: true },
  });
  const accountOf = new Map(linked.map((l) => [`${l.backendId}\u0000${l.nativeId}`, l.accountId!]));
  const pendingOf = new Map(identities.map((i) => [`${i.backendId}\u0000${i.nativeId}`, i]));
  const depth = (i: Identity, seen = new Set<string>()): number => {
    const parent = parentOf(i.data as Record<string, unknown>);
    const next = parent ? pendingOf.get(`${i.backendId}\u0000${parent}`) : undefined;
    if (!next || seen.has(next.id)) return 0;
    seen.add(i.id);
    return 1 + depth(next, seen);
  };
  const ordered = identities
    .map((i) => ({ i, d: depth(i) }))
    .sort((a, b) => a.d - b.d || compare(a.i.nativeId, b.i.nativeId) || compare(a.i.backendId, b.i.backendId));
  const rootTaken = await tx.identity.count({
    where: { partnerId, entity: 'ACCOUNT', accountId: partnerId, status: { in: ['LINKED', 'GONE'] } },
  });
  let rootFree = rootTaken === 0;
  const created: { id: string; parentId: string; name: string }[] = [];
  const createdIds = new Set<string>();
  const links: Projected[] = [];
  for (const { i } of ordered) {
    const data = i.data as Record<string, unknown>;
    const parent = parentOf(data);
    let accountId: string;
    if (parent === null && rootFree) {
      accountId = partnerId;
      rootFree = false;
    } else {
      accountId = newAccountId();
      const name = projectAccount(data).name as string | undefined;
      created.push({
        id: accountId,
        parentId: (parent && accountOf.get(`${i.backendId}\u0000${parent}`)) || partnerId,
        name: name ?? `messaging account ${i.nativeId}`.slice(0, 200),
      });
      createdIds.add(accountId);
    }
    accountOf.set(`${i.backendId}\u0000${i.nativeId}`, accountId);
    links.push({ ...i, accountId });
  }
  if (created.length) {
    // The stored parents' ancestors; a parent created above in this chunk has its own already.
    const stored = [...new Set(created.map((c) => c.parentId).filter((id) => !createdIds.has(id)))];
    const rows = await tx.account.findMany({ where: { id: { in: stored } }, select: { id: true, ancestorIds: true } });
    const ancestorsOf = new Map(rows.map((r) => [r.id, r.ancestorIds ?? []]));
    const values = created.map((c) => {
      const above = ancestorsOf.get(c.parentId);
      if (!above) throw new Error(`linkAccounts: parent account ${c.parentId} not found`);
      const ancestorIds = [...above, c.parentId];
      ancestorsOf.set(c.id, ancestorIds);
      return { id: c.id, p: c.parentId, a: ancestorIds, n: c.name, u: canvasUuid() };
    });
    await tx.$executeRaw`INSERT INTO "Account"
        (id, "partnerId", "parentId", "ancestorIds", name, "canvasUuid", "updatedAt")
      SELECT e.r->>'id', ${partnerId}, e.r->>'p', ARRAY(SELECT jsonb_array_elements_text(e.r->'a')),
        e.r->>'n', e.r->>'u', now()
        FROM jsonb_array_elements(${JSON.stringify(values)}::jsonb) WITH ORDINALITY AS e(r, ord) ORDER BY e.ord`;
  }
  await tx.$executeRaw`UPDATE "Identity" AS i SET status = 'LINKED', "accountId" = v.account_id, "updatedAt" = now()
    FROM unnest(${links.map((l) => l.id)}::uuid[], ${links.map((l) => l.accountId)}::text[]) AS v(id, account_id)
    WHERE i.id = v.id`;
  await projectOwners(tx, links);
  return { linked: 0, newUsers: 0, conflicts: 0 };
}

// ---------------------------------------------------------------------------- clients

/**
 * Embed clients: the partner's client of that identifier (a hosted one), else a new one in the
 * partner root. A constant number of statements whatever their number: the partner's clients
 * of those identifiers (one read), the new ones (one INSERT), the identities (one UPDATE) and
 * their projection (one more, projectOwners: a later identity of the same client writes last).
 */
async function linkClients(tx: Tx, partnerId: string, ids: string[]): Promise<LinkCounts> {
  await lockLinking(tx, partnerId);
  const identities = (await tx.identity.findMany({ where: { id: { in: ids }, status: 'PENDING' } })).sort(
    (a, b) => compare(a.nativeId, b.nativeId) || compare(a.backendId, b.backendId),
  );
  if (!identities.length) return { linked: 0, newUsers: 0, conflicts: 0 };
  const existing = await tx.client.findMany({
    where: { partnerId, identifier: { in: identities.map((i) => i.nativeId) } },
    select: { id: true, identifier: true },
  });
  const byIdentifier = new Map(existing.map((c) => [c.identifier, c.id]));
  const created: { id: string; identifier: string }[] = [];
  const links: Projected[] = [];
  let linked = 0;
  for (const identity of identities) {
    let clientId = byIdentifier.get(identity.nativeId);
    if (clientId) linked++;
    else {
      clientId = uuidv7();
      created.push({ id: clientId, identifier: identity.nativeId });
      byIdentifier.set(identity.nativeId, clientId);
    }
    links.push({ ...identity, clientId });
  }
  // The metadata is the projection's (projectOwners below); a client whose record has none keeps the default {}.
  if (created.length)
    await tx.$executeRaw`INSERT INTO "Client" (id, "partnerId", "accountId", identifier, "updatedAt")
      SELECT v.id, ${partnerId}, ${partnerId}, v.identifier, now()
        FROM unnest(${created.map((c) => c.id)}::uuid[], ${created.map((c) => c.identifier)}::text[])
          WITH ORDINALITY AS v(id, identifier, ord)
        ORDER BY v.ord`;
  await tx.$executeRaw`UPDATE "Identity" AS i SET status = 'LINKED', "clientId" = v.client_id, "updatedAt" = now()
    FROM unnest(${links.map((l) => l.id)}::uuid[], ${links.map((l) => l.clientId)}::uuid[]) AS v(id, client_id)
    WHERE i.id = v.id`;
  await projectOwners(tx, links);
  return { linked, newUsers: 0, conflicts: 0 };
}

// ---------------------------------------------------------------------------- users

interface Candidate {
  id: string;
  live: boolean;
  externalUserId: string | null;
  identifier: string | null;
  email: string | null;
  metaEmail: string | null;
  inCatalog: boolean;
  /** Kinds it already has a (non-detached) identity of. */
  kinds: Set<BackendKind>;
}

/** The value of an identity's KEY and EMAIL rules, if its kind and backend use them. */
function matchValues(identity: Pending, rules: readonly LinkRule[]): { key: string | null; email: string | null } {
  return {
    key: rules.includes('KEY') && KEY_KINDS.has(identity.kind) ? identity.key : null,
    email: rules.includes('EMAIL') && EMAIL_KINDS.has(identity.kind) ? identity.email : null,
  };
}

/** Whether `user` already has an identity of this kind that is not this one. */
function occupied(user: Candidate, identity: Pending, projected: Partial<Record<UniqueUserColumn, string>>): boolean {
  if (user.kinds.has(identity.kind)) return true;
  // A hosted identity of the kind (the user's own columns) that is another one.
  if (identity.kind === 'LEARNING')
    return Boolean(user.externalUserId && user.externalUserId !== projected.externalUserId);
  if (identity.kind === 'EMBED') return Boolean(user.identifier && user.identifier !== projected.identifier);
  if (identity.kind === 'CATALOG') return user.inCatalog && user.email !== (projected.email ?? null);
  return false;
}

class Index {
  readonly users = new Map<string, Candidate>();
  private readonly byKey = new Map<string, Set<string>>();
  private readonly byEmail = new Map<string, Set<string>>();
  /** `${column}\0${value}` → holder ('' for another partner's). */
  readonly holders = new Map<string, string>();

  add(user: Candidate) {
    this.users.set(user.id, user);
    this.refresh(user);
  }

  refresh(user: Candidate) {
    const put = (map: Map<string, Set<string>>, value: string | null) =>
      value && map.set(value, (map.get(value) ?? new Set()).add(user.id));
    put(this.byKey, user.externalUserId);
    put(this.byKey, user.identifier);
    put(this.byEmail, user.email);
    put(this.byEmail, user.metaEmail);
    for (const column of ['externalUserId', 'identifier', 'email'] as const)
      if (user[column]) this.holders.set(`${column}\u0000${user[column]}`, user.id);
  }

  match(key: string | null, email: string | null): Candidate[] {
    const ids = new Set([
      ...(key ? (this.byKey.get(key) ?? []) : []),
      ...(email ? (this.byEmail.get(email) ?? []) : []),
    ]);
    return [...ids]
      .map((id) => this.users.get(id)!)
      .filter((u) => u.live)
      .sort((a, b) => compare(a.id, b.id));
  }
}

async function linkUsers(
  tx: Tx,
  partnerId: string,
  ids: string[],
  rules: Map<string, readonly LinkRule[]>,
): Promise<LinkCounts> {
  await lockLinking(tx, partnerId);
  // Raw, with only the columns linking reads: a model findMany of 500 full rows cost five
  // times the allocations (Prisma's row mapping), all of it garbage by the chunk's end.
  const loaded = await select<Pending>(
    tx,
    sql`SELECT id, "backendId", kind::text AS kind, entity::text AS entity, "nativeId", key, email, data
      FROM "Identity" WHERE id = ANY(${arrayLiteral(ids)}::uuid[]) AND status = 'PENDING'`,
  );
  const identities = loaded.sort(userOrder);
  if (!identities.length) return { linked: 0, newUsers: 0, conflicts: 0 };
  const projections = new Map(identities.map((i) => [i.id, projectUser(i.kind, i.data as Record<string, unknown>)]));
  const index = await prefetch(tx, partnerId, identities, projections);
  const clients = await clientsOf(
    tx,
    partnerId,
    [...projections.values()].map((p) => p.clientIdentifier),
  );
  const accounts = await accountsOf(tx, partnerId, identities);

  const newUsers: { id: string; partnerId: string; accountId: string; columns: Record<string, unknown> }[] = [];
  const changedUsers = new Map<string, Prisma.UserUncheckedUpdateInput>();
  const links: { id: string; userId: string }[] = [];
  const conflicts: Prisma.LinkConflictCreateManyInput[] = [];
  let linked = 0;
  for (const identity of identities) {
    const projection = projections.get(identity.id)!;
    const { key, email } = matchValues(identity, rules.get(identity.backendId) ?? ['KEY', 'EMAIL']);
    const matches = key || email ? index.match(key, email) : [];
    const free = matches.filter((u) => !occupied(u, identity, projection.unique));
    let owner: Candidate;
    const columns = { ...projection.columns } as Record<string, unknown>;
    // Unique values another user holds stay where they are (see writes.ts).
    const held = new Set<string>();
    const hold = (ownerId: string | null) => {
      for (const column of UNIQUE_USER_COLUMNS) {
        const value = projection.unique[column];
        const holder = value === undefined ? undefined : index.holders.get(`${column}\u0000${value}`);
        if (holder === undefined || holder === ownerId) continue;
        delete columns[column];
        if (holder) held.add(holder);
        else held.add('');
      }
    };
    const clientId =
      projection.clientIdentifier === undefined
        ? undefined
        : projection.clientIdentifier === null
          ? null
          : (clients.get(projection.clientIdentifier)?.id ?? null);
    if (clientId !== undefined) columns.clientId = clientId;
    if (free.length === 1) {
      owner = free[0]!;
      hold(owner.id);
      if (identity.kind === 'CATALOG' && !owner.inCatalog) {
        columns.canvasUserUuid ??= canvasUuid();
        if (columns.userName === undefined && columns.email) columns.userName = columns.email;
      }
      changedUsers.set(owner.id, {
        ...(changedUsers.get(owner.id) ?? {}),
        ...(columns as Prisma.UserUncheckedUpdateInput),
      });
      linked++;
    } else {
      hold(null);
      if (identity.kind === 'CATALOG') {
        columns.canvasUserUuid ??= canvasUuid();
        if (columns.userName === undefined && columns.email) columns.userName = columns.email;
      }
      const client = clientId ? [...clients.values()].find((c) => c.id === clientId) : undefined;
      const accountId =
        client?.accountId ??
        accounts.get(registeredAccountOf(identity.data as Record<string, unknown>) ?? -1) ??
        partnerId;
      const id = uuidv7();
      newUsers.push({ id, partnerId, accountId, columns });
      owner = {
        id,
        live: true,
        externalUserId: null,
        identifier: null,
        email: null,
        metaEmail: null,
        inCatalog: false,
        kinds: new Set(),
      };
      index.add(owner);
      // Several free candidates, or some that each had this kind already: an admin decides.
      const named = free.length > 1 ? free : matches;
      if (named.length)
        conflicts.push({
          id: uuidv7(),
          partnerId,
          identityId: identity.id,
          candidateIds: named.map((u) => u.id),
          reason: 'MATCH',
        });
    }
    if (held.size)
      conflicts.push({
        id: uuidv7(),
        partnerId,
        identityId: identity.id,
        candidateIds: [...held].filter(Boolean).sort(),
        reason: 'PROJECTION',
      });
    // What this identity brings, for the identities after it.
    if (columns.externalUserId) owner.externalUserId = columns.externalUserId as string;
    if (columns.identifier) owner.identifier = columns.identifier as string;
    if (columns.email) owner.email = columns.email as string;
    if (identity.kind === 'CATALOG') owner.inCatalog = true;
    const metaEmail = metadataEmail(identity);
    if (identity.kind === 'EMBED' && metaEmail) owner.metaEmail = metaEmail;
    owner.kinds.add(identity.kind);
    index.refresh(owner);
    if (typeof columns.canvasUserUuid === 'string')
      index.holders.set(`canvasUserUuid\u0000${columns.canvasUserUuid}`, owner.id);
    links.push({ id: identity.id, userId: owner.id });
  }
  // The chunk's users in two statements: the new ones, then the matched ones' columns (a
  // value is never freed here, see hold(), so one UPDATE of all of them checks no swap).
  await insertUsers(tx, newUsers);
  await updateUsers(
    tx,
    [...changedUsers].filter(([, data]) => Object.keys(data).length) as [string, Record<string, unknown>][],
  );
  await execute(
    tx,
    sql`UPDATE "Identity" AS i SET status = 'LINKED', "userId" = v.user_id, "updatedAt" = now()
      FROM unnest(${arrayLiteral(links.map((l) => l.id))}::uuid[], ${arrayLiteral(links.map((l) => l.userId))}::uuid[])
        AS v(id, user_id) WHERE i.id = v.id`,
  );
  if (conflicts.length) await tx.linkConflict.createMany({ data: conflicts });
  return { linked, newUsers: newUsers.length, conflicts: conflicts.length };
}

const metadataEmail = (identity: Pending): string | null => {
  const metadata = (identity.data as Record<string, unknown>)?.metadata as Record<string, unknown> | undefined;
  return typeof metadata?.email === 'string' ? metadata.email.trim().toLowerCase() || null : null;
};

/**
 * The partner's users any identity of the chunk could match or collide with, in one statement
 * (two with canvas uuids).
 */
async function prefetch(
  tx: Tx,
  partnerId: string,
  identities: Pending[],
  projections: Map<string, ReturnType<typeof projectUser>>,
): Promise<Index> {
  const keys = new Set<string>();
  const emails = new Set<string>();
  const uuids = new Set<string>();
  for (const identity of identities) {
    const p = projections.get(identity.id)!;
    for (const v of [identity.key, p.unique.externalUserId, p.unique.identifier]) if (v) keys.add(v);
    for (const v of [identity.email, p.unique.email]) if (v) emails.add(v);
    if (p.unique.canvasUserUuid) uuids.add(p.unique.canvasUserUuid);
  }
  const keyList = arrayLiteral([...keys]);
  const emailList = arrayLiteral([...emails]);
  const rows = await select<Omit<Candidate, 'kinds'> & { kinds: BackendKind[] | null }>(
    tx,
    sql`SELECT u.id, (u.status IN ('ACTIVE', 'DISABLED') AND u."deletedAt" IS NULL) AS live,
      u."externalUserId", u.identifier, u.email,
      lower(u.metadata->>'email') AS "metaEmail", u."inCatalog",
      (SELECT array_agg(DISTINCT i.kind::text) FROM "Identity" i
        WHERE i."userId" = u.id AND i.status = 'LINKED') AS kinds
    FROM "User" u
    WHERE u."partnerId" = ${partnerId}
      AND (u."externalUserId" = ANY(${keyList}::text[]) OR u.identifier = ANY(${keyList}::text[])
      OR u.email = ANY(${emailList}::text[]) OR lower(u.metadata->>'email') = ANY(${emailList}::text[]))`,
  );
  const index = new Index();
  for (const row of rows) index.add({ ...row, kinds: new Set(row.kinds ?? []) });
  if (uuids.size) {
    const held = await tx.$queryRaw<{ id: string; partnerId: string; canvasUserUuid: string }[]>`
      SELECT id, "partnerId", "canvasUserUuid" FROM "User"
      WHERE "canvasUserUuid" = ANY(${arrayLiteral([...uuids])}::text[])`;
    for (const h of held)
      index.holders.set(`canvasUserUuid\u0000${h.canvasUserUuid}`, h.partnerId === partnerId ? h.id : '');
  }
  return index;
}

async function clientsOf(tx: Tx, partnerId: string, identifiers: (string | null | undefined)[]) {
  const wanted = [...new Set(identifiers.filter((v): v is string => Boolean(v)))];
  if (!wanted.length) return new Map<string, { id: string; accountId: string }>();
  const rows = await tx.client.findMany({
    where: { partnerId, identifier: { in: wanted } },
    select: { id: true, identifier: true, accountId: true },
  });
  return new Map(rows.map((c) => [c.identifier, c]));
}

/** Catalog `registered_account_id`s as accounts: the messaging identity with that customer_id. */
async function accountsOf(tx: Tx, partnerId: string, identities: Pending[]): Promise<Map<number, string>> {
  const wanted = [
    ...new Set(
      identities
        .map((i) => registeredAccountOf(i.data as Record<string, unknown>))
        .filter((v): v is number => v !== null),
    ),
  ];
  if (!wanted.length) return new Map();
  const rows = await tx.$queryRaw<{ customerId: number; accountId: string }[]>`
    SELECT (data->>'customer_id')::int AS "customerId", "accountId" FROM "Identity"
    WHERE "partnerId" = ${partnerId} AND entity = 'ACCOUNT' AND status = 'LINKED' AND "accountId" IS NOT NULL
      AND jsonb_typeof(data->'customer_id') = 'number' AND (data->>'customer_id') = ANY(${wanted.map(String)}::text[])`;
  return new Map(rows.map((r) => [Number(r.customerId), r.accountId]));
}
