// Identities with provenance (SPEC §10.2): a connected backend's records, stored one per
// (backend, entity, nativeId) and linked to the users, accounts and clients they are; and the
// hosted identities, read from the unified rows' own columns. The sink the sync runner calls
// is in sink.ts, linking in linking.ts, the projection (identity data → columns) in
// projection.ts and writes.ts. Here: reading identities, and the admin operations on them.
//
// Rights: identities are read with their user or account (whoever may see it); their backend
// only by partner admins (as `backends`). Link conflicts are the partner's linking as a whole:
// partner admins list and dismiss them. linkIdentity and unlinkIdentity change users, so they
// need admin rights on every user they touch (lockManagedUsers: an account admin inside its
// subtree, never a user holding partner-wide rights); the identity itself is found among the
// partner's, so an account admin can attach to its user an identity no user holds yet, or one
// a user of its own subtree holds, and nothing above.
import type { Account, Backend, BackendKind, Identity, IdentityStatus, LinkConflict, User } from '@prisma/client';
import type { RequestContext } from '../../auth/context.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../../errors.js';
import { uuidv7 } from '../../store/ids.js';
import { audited } from '../audit/service.js';
import { requireUser } from '../../auth/context.js';
import type { Tx } from '../../store/transaction.js';
import { assertNotMerged, lockManagedUsers } from '../users/service.js';
import { moveDependents } from '../users/merge.js';
import { clearedUser, holdsKind } from './projection.js';
import { lockLinking } from './linking.js';
import { projectIdentity } from './writes.js';

export { identitySink, systemContext } from './sink.js';

// ---------------------------------------------------------------------------- reads

/** An identity as the graph shows it: a stored one, or a hosted one read from its owner's columns. */
export interface IdentityView {
  backend: Backend | null;
  kind: BackendKind;
  nativeId: string;
  key: string | null;
  status: Exclude<IdentityStatus, 'PENDING'>;
  syncedAt: Date | null;
  sourceUpdatedAt: Date | null;
  data: Record<string, unknown>;
}

const KIND_ORDER: Record<BackendKind, number> = { LEARNING: 0, CATALOG: 1, MESSAGING: 2, EMBED: 3 };

export function storedView(identity: Identity & { backend: Backend }): IdentityView {
  return {
    backend: identity.backend,
    kind: identity.kind,
    nativeId: identity.nativeId,
    key: identity.key,
    // A stored identity on a user has been linked; PENDING ones belong to no one yet.
    status: identity.status === 'PENDING' ? 'LINKED' : identity.status,
    syncedAt: identity.syncedAt,
    sourceUpdatedAt: identity.sourceUpdatedAt,
    data: (identity.data ?? {}) as Record<string, unknown>,
  };
}

export type UserIdentitySource = Pick<
  User,
  | 'id'
  | 'externalUserId'
  | 'inCatalog'
  | 'catalogId'
  | 'email'
  | 'userName'
  | 'firstName'
  | 'lastName'
  | 'canvasUserUuid'
  | 'identifier'
  | 'metadata'
  | 'updatedAt'
> & {
  identities: (Identity & { backend: Backend })[];
};

/** What User.identities selects: the columns hosted identities are read from, and the stored ones. */
export const USER_IDENTITIES_SELECT = {
  id: true,
  externalUserId: true,
  inCatalog: true,
  catalogId: true,
  email: true,
  userName: true,
  firstName: true,
  lastName: true,
  canvasUserUuid: true,
  identifier: true,
  metadata: true,
  updatedAt: true,
  identities: {
    where: { status: { not: 'PENDING' as const } },
    include: { backend: true },
    orderBy: { id: 'asc' as const },
  },
};

const hosted = (
  kind: BackendKind,
  nativeId: string,
  key: string | null,
  updatedAt: Date,
  data: Record<string, unknown>,
): IdentityView => ({
  backend: null,
  kind,
  nativeId,
  key,
  status: 'LINKED',
  syncedAt: null,
  sourceUpdatedAt: updatedAt,
  data,
});

/**
 * A user's identities: its stored ones, and a hosted one for each kind its own columns hold
 * that no stored identity speaks for (those columns are then the gateway's own record).
 */
export function userIdentities(user: UserIdentitySource): IdentityView[] {
  const stored = user.identities.map(storedView);
  const has = new Set(stored.map((i) => i.kind));
  const views = [...stored];
  if (user.externalUserId && !has.has('LEARNING'))
    views.push(
      hosted('LEARNING', user.id, user.externalUserId, user.updatedAt, {
        id: user.id,
        external_user_id: user.externalUserId,
      }),
    );
  if (user.inCatalog && !has.has('CATALOG')) {
    views.push(
      hosted('CATALOG', String(user.catalogId), user.email, user.updatedAt, {
        id: user.catalogId,
        email_address: user.email,
        user_name: user.userName,
        first_name: user.firstName,
        last_name: user.lastName,
        canvas_user_uuid: user.canvasUserUuid,
      }),
    );
  }
  if (user.identifier && !has.has('EMBED'))
    views.push(
      hosted('EMBED', user.identifier, user.identifier, user.updatedAt, {
        identifier: user.identifier,
        metadata: user.metadata ?? {},
      }),
    );
  return views.sort(
    (a, b) =>
      KIND_ORDER[a.kind] - KIND_ORDER[b.kind] ||
      Number(a.backend !== null) - Number(b.backend !== null) ||
      (a.nativeId < b.nativeId ? -1 : 1),
  );
}

export type AccountIdentitySource = Pick<Account, 'id' | 'customerId' | 'name' | 'updatedAt'> & {
  identities: (Identity & { backend: Backend })[];
};

export const ACCOUNT_IDENTITIES_SELECT = {
  id: true,
  customerId: true,
  name: true,
  updatedAt: true,
  identities: {
    where: { status: { not: 'PENDING' as const } },
    include: { backend: true },
    orderBy: { id: 'asc' as const },
  },
};

/** An account's identities: its stored messaging ones, else the hosted one (the account itself). */
export function accountIdentities(account: AccountIdentitySource): IdentityView[] {
  const stored = account.identities.map(storedView);
  if (stored.some((i) => i.kind === 'MESSAGING')) return stored;
  return [
    hosted('MESSAGING', account.id, null, account.updatedAt, {
      id: account.id,
      customer_id: account.customerId,
      name: account.name,
    }),
    ...stored,
  ];
}

// ---------------------------------------------------------------------------- disconnect

/** disconnectBackend: the backend's identities stay on their owners, DETACHED. */
export async function detachIdentities(tx: Tx, backendId: string): Promise<number> {
  const { count } = await tx.identity.updateMany({ where: { backendId }, data: { status: 'DETACHED' } });
  return count;
}

// ---------------------------------------------------------------------------- conflicts

function requirePartnerAdmin(ctx: RequestContext) {
  const principal = requireUser(ctx);
  if (!principal.partnerAdmin) throw new ForbiddenError('link conflicts are handled by partner admins only');
  return principal;
}

/** The where of the caller's partner's link conflicts (partner admins only). */
export function linkConflictWhere(ctx: RequestContext, status?: LinkConflict['status'] | null) {
  const principal = requirePartnerAdmin(ctx);
  return { partnerId: principal.partnerId, ...(status ? { status } : {}) };
}

export async function dismissLinkConflict(ctx: RequestContext, id: string): Promise<LinkConflict> {
  const principal = requirePartnerAdmin(ctx);
  return audited(ctx, async (tx, audit) => {
    await tx.$queryRaw`
      SELECT id FROM "LinkConflict" WHERE id = ${id}::uuid AND "partnerId" = ${principal.partnerId} FOR UPDATE`;
    const conflict = await tx.linkConflict.findFirst({ where: { id, partnerId: principal.partnerId } });
    if (!conflict) throw new NotFoundError('LinkConflict', id);
    if (conflict.status !== 'OPEN') throw new ConflictError(`the link conflict is already ${conflict.status}`, 'id');
    const updated = await tx.linkConflict.update({
      where: { id },
      data: { status: 'DISMISSED', resolvedAt: new Date() },
    });
    audit({
      action: 'link_conflict.dismiss',
      subjectType: 'LinkConflict',
      subjectId: id,
      data: { identityId: conflict.identityId },
    });
    return updated;
  });
}

/** Resolves the OPEN conflicts of `identityIds`, or (with `users`) those among those users. */
async function resolveConflicts(tx: Tx, where: { identityIds?: string[]; users?: [string, string] }): Promise<number> {
  if (where.identityIds) {
    const { count } = await tx.linkConflict.updateMany({
      where: { identityId: { in: where.identityIds }, status: 'OPEN' },
      data: { status: 'RESOLVED', resolvedAt: new Date() },
    });
    return count;
  }
  const [a, b] = where.users!;
  return tx.$executeRaw`UPDATE "LinkConflict" SET status = 'RESOLVED', "resolvedAt" = now()
    WHERE status = 'OPEN' AND "candidateIds" && ARRAY[${a}, ${b}]::uuid[]
      AND "identityId" IN (SELECT id FROM "Identity" WHERE "userId" IN (${a}::uuid, ${b}::uuid))`;
}

// ---------------------------------------------------------------------------- linkIdentity / unlinkIdentity

/** Does the user still hold any identity (stored, or hosted in its columns)? */
async function holdsAny(tx: Tx, userId: string): Promise<boolean> {
  const user = await tx.user.findUniqueOrThrow({
    where: { id: userId },
    select: { externalUserId: true, inCatalog: true, identifier: true },
  });
  if (user.externalUserId || user.inCatalog || user.identifier) return true;
  return (await tx.identity.count({ where: { userId } })) > 0;
}

/**
 * The backend id of a Backend of the caller's partner (disconnected ones included: their identities
 * can still move).
 */
async function partnerBackend(tx: Tx, partnerId: string, backendId: string): Promise<Backend> {
  const backend = await tx.backend.findFirst({ where: { id: backendId, partnerId } });
  if (!backend) throw new NotFoundError('Backend', backendId);
  return backend;
}

/**
 * Attaches the backend's identity `nativeId` to `userId` by hand, moving it from the user
 * holding it; a user left with no identity becomes MERGED into the receiver (its dependents
 * move with it, as in a merge). Resolves the identity's open conflicts.
 */
export async function linkIdentity(
  ctx: RequestContext,
  input: { userId: string; backendId: string; nativeId: string },
): Promise<{ user: User; identity: Identity }> {
  const principal = requireUser(ctx);
  const result = await audited(ctx, async (tx, audit) => {
    await lockLinking(tx, principal.partnerId);
    const backend = await partnerBackend(tx, principal.partnerId, input.backendId);
    const found = await tx.identity.findUnique({
      where: { backendId_entity_nativeId: { backendId: backend.id, entity: 'USER', nativeId: input.nativeId } },
    });
    if (!found) throw new NotFoundError('Identity', input.nativeId.slice(0, 100));
    const involved = [input.userId, ...(found.userId && found.userId !== input.userId ? [found.userId] : [])];
    const users = await lockManagedUsers(tx, ctx, involved).catch((error: unknown) => {
      // A holder outside the caller's accounts is not named to it: the identity is simply not found.
      throw error instanceof NotFoundError && error.ref === found.userId
        ? new NotFoundError('Identity', input.nativeId.slice(0, 100))
        : error;
    });
    const receiver = users[0]!;
    const holder = users[1] ?? null;
    await assertNotMerged(tx, ctx, receiver, 'link the identity to the user it was merged into', 'userId');
    const identity = await tx.identity.findUniqueOrThrow({ where: { id: found.id } });
    if (identity.userId === receiver.id) {
      await resolveConflicts(tx, { identityIds: [identity.id] });
      return { user: receiver, identity };
    }
    const other = await tx.identity.count({
      where: { userId: receiver.id, kind: identity.kind, status: { in: ['LINKED', 'GONE'] } },
    });
    const hostedOther =
      !other &&
      holdsKind(receiver, identity.kind) &&
      !(await tx.identity.count({ where: { userId: receiver.id, kind: identity.kind } }));
    if (other || hostedOther)
      throw new ConflictError(`user ${receiver.id} already has a ${identity.kind} identity: unlink it first`, 'userId');
    // Free the holder's columns of that kind first: the unique constraints hold at every statement.
    if (holder) await tx.user.update({ where: { id: holder.id }, data: clearedUser(identity.kind) });
    const moved = await tx.identity.update({
      where: { id: identity.id },
      data: { userId: receiver.id, status: identity.status === 'PENDING' ? 'LINKED' : identity.status },
    });
    await resolveConflicts(tx, { identityIds: [identity.id] });
    await projectIdentity(tx, moved);
    let merged = false;
    if (holder && !(await holdsAny(tx, holder.id))) {
      await moveDependents(tx, holder.id, receiver.id, principal.partnerAdmin);
      await tx.user.update({ where: { id: holder.id }, data: { status: 'MERGED', mergedIntoId: receiver.id } });
      merged = true;
    }
    audit({
      action: 'identity.link',
      subjectType: 'User',
      subjectId: receiver.id,
      data: {
        backendId: backend.id,
        kind: identity.kind,
        nativeId: identity.nativeId,
        from: holder?.id ?? null,
        fromMerged: merged,
      },
    });
    return { user: await tx.user.findUniqueOrThrow({ where: { id: receiver.id } }), identity: moved };
  });
  ctx.invalidatePrincipals?.();
  return result;
}

/** Detaches the user's identity of `backendId` into a new user (in the same account), which it then alone holds. */
export async function unlinkIdentity(
  ctx: RequestContext,
  input: { userId: string; backendId: string },
): Promise<{ user: User; detachedUser: User }> {
  const principal = requireUser(ctx);
  return audited(ctx, async (tx, audit) => {
    await lockLinking(tx, principal.partnerId);
    const backend = await partnerBackend(tx, principal.partnerId, input.backendId);
    const [user] = await lockManagedUsers(tx, ctx, [input.userId]);
    await assertNotMerged(tx, ctx, user!, 'unlink it from the user it was merged into', 'userId');
    const identity = await tx.identity.findFirst({
      where: { userId: user!.id, backendId: backend.id, entity: 'USER' },
    });
    if (!identity) throw new NotFoundError('Identity', `of backend ${backend.id} on user ${user!.id}`);
    await tx.user.update({ where: { id: user!.id }, data: clearedUser(identity.kind) });
    const others = await tx.identity.count({ where: { userId: user!.id, id: { not: identity.id } } });
    const left = await tx.user.findUniqueOrThrow({
      where: { id: user!.id },
      select: { externalUserId: true, inCatalog: true, identifier: true },
    });
    if (!others && !left.externalUserId && !left.inCatalog && !left.identifier) {
      throw new ConflictError(
        `that is the only identity of user ${user!.id}: nothing would be left of it`,
        'backendId',
      );
    }
    const detached = await tx.user.create({
      data: { id: uuidv7(), partnerId: user!.partnerId, accountId: user!.accountId },
    });
    const moved = await tx.identity.update({ where: { id: identity.id }, data: { userId: detached.id } });
    await resolveConflicts(tx, { identityIds: [identity.id] });
    await projectIdentity(tx, moved);
    audit({
      action: 'identity.unlink',
      subjectType: 'User',
      subjectId: user!.id,
      data: { backendId: backend.id, kind: identity.kind, nativeId: identity.nativeId, detachedUser: detached.id },
    });
    return {
      user: await tx.user.findUniqueOrThrow({ where: { id: user!.id } }),
      detachedUser: await tx.user.findUniqueOrThrow({ where: { id: detached.id } }),
    };
  });
}

// ---------------------------------------------------------------------------- merges

const MOVED_KIND: Record<string, BackendKind> = { learning: 'LEARNING', catalog: 'CATALOG', embed: 'EMBED' };

/**
 * mergeUsers: the source's stored identities of the kinds that moved to the target go with
 * them (across backends: each backend's identity of that kind); the open conflicts among the
 * two users are resolved.
 */
export async function mergeIdentities(
  tx: Tx,
  sourceId: string,
  targetId: string,
  moved: string[],
): Promise<{ identities: number; resolvedConflicts: number }> {
  const kinds = moved.map((m) => MOVED_KIND[m]).filter((k): k is BackendKind => Boolean(k));
  const { count } = kinds.length
    ? await tx.identity.updateMany({ where: { userId: sourceId, kind: { in: kinds } }, data: { userId: targetId } })
    : { count: 0 };
  const resolvedConflicts = await resolveConflicts(tx, { users: [sourceId, targetId] });
  return { identities: count, resolvedConflicts };
}
