// Reallocation and deletion: a user's courses move, go or stay ownerless; its dependents go;
// the row stays as a tombstone that keeps its keys burned.
import { Prisma, type PendingChange, type User } from '@prisma/client';
import type { RequestContext } from '../../auth/context.js';
import { PARTNER_WIDE_KINDS, planAtLeast, type UserPrincipal } from '../../auth/principal.js';
import { ConflictError, ForbiddenError, ValidationError } from '../../errors.js';
import { UnsupportedByBackendError } from '../backends/errors.js';
import { audited } from '../audit/service.js';
import { requireUser } from '../../auth/context.js';
import type { Tx } from '../../store/transaction.js';
import { assertNotMerged, lockManagedUsers, userNamed } from './service.js';
import {
  callBackends,
  connectedBackends,
  markDeletedUpstream,
  userDependenciesCalls,
  userDeleteCalls,
  userIdentities,
} from '../backends/write-through.js';
import { notifyOutbox, recordChanges } from '../outbox/service.js';

async function reallocate(tx: Tx, fromId: string, toId: string): Promise<number> {
  const { count } = await tx.course.updateMany({ where: { ownerId: fromId }, data: { ownerId: toId } });
  return count;
}

/**
 * Courses go only to an active user: a merged one has handed everything on, a disabled one
 * cannot act. The receiver may be the partner's default one, which an account admin cannot
 * see: messages name users only as the caller may know them.
 */
async function assertReceiver(tx: Tx, ctx: RequestContext, user: User, field: string): Promise<void> {
  await assertNotMerged(tx, ctx, user, 'give the target instead', field);
  if (user.status !== 'ACTIVE')
    throw new ConflictError(
      `${userNamed(requireUser(ctx), user)} is ${user.status.toLowerCase()} and cannot receive courses`,
      field,
    );
}

export async function reallocateCourses(ctx: RequestContext, fromUserId: string, toUserId: string): Promise<number> {
  if (fromUserId === toUserId) throw new ValidationError('fromUserId and toUserId are the same user', 'input.toUserId');
  return audited(ctx, async (tx, audit) => {
    const [, to] = await lockManagedUsers(tx, ctx, [fromUserId, toUserId]);
    await assertReceiver(tx, ctx, to!, 'toUserId');
    const moved = await reallocate(tx, fromUserId, toUserId);
    audit({ action: 'course.reallocate', subjectType: 'User', subjectId: fromUserId, data: { to: toUserId, moved } });
    return moved;
  });
}

export type DeleteAction = 'REALLOCATE' | 'DELETE' | 'IGNORE';

/**
 * Deletes a user: its courses are reallocated (to `reallocateTo`, default the partner's
 * first admin), deleted, or left ownerless; its enrollments, orders, entitlements, admin
 * rows and API keys go. The row stays as a tombstone so its keys stay burned; PII is erased.
 */
export async function deleteUser(
  ctx: RequestContext,
  id: string,
  action: DeleteAction = 'REALLOCATE',
  reallocateTo?: string | null,
): Promise<{ id: string; pendingChanges: PendingChange[] }> {
  const principal = requireUser(ctx);
  const deleted = await audited(ctx, async (tx, audit) => {
    // An explicit receiver is locked with the user, in id order: locked after it, a deletion
    // and a merge or reallocation of the same two users could each wait for the other.
    const [user] = await lockManagedUsers(tx, ctx, reallocateTo && action === 'REALLOCATE' ? [id, reallocateTo] : [id]);
    if (user!.identifier && !planAtLeast(principal.plan, 'AUTOMATE')) {
      throw new ForbiddenError('deleting embed users needs the Automate plan or above');
    }
    const moved = await removeUser(tx, ctx, principal, user!, action, reallocateTo ?? undefined);
    const pendingChanges = await deleteUpstream(tx, ctx, user!, action, reallocateTo ?? undefined);
    const outbox = pendingChanges.length ? { pendingChanges: pendingChanges.map((c) => c.id) } : {};
    audit({ action: 'user.delete', subjectType: 'User', subjectId: id, data: { action, ...moved, ...outbox } });
    return { id, pendingChanges };
  });
  // Only its own principal changes: its rights and keys went with it.
  ctx.invalidatePrincipals?.([id]);
  if (deleted.pendingChanges.length) notifyOutbox();
  return deleted;
}

/**
 * A connected backend holding the user deletes it too (SPEC §10.4): asked last, once the
 * store's side is written and checked, so its refusal rolls everything back and nothing the
 * store would still refuse reaches it. The courses go to the receiver's embed user there.
 * Several backends holding it: the calls go through the outbox (SPEC §10.7), one
 * PendingChange each in this transaction, in the order embed, catalog, learning; returned.
 */
async function deleteUpstream(
  tx: Tx,
  ctx: RequestContext,
  user: User,
  action: DeleteAction,
  reallocateTo: string | undefined,
): Promise<PendingChange[]> {
  const backends = await connectedBackends(tx, user.partnerId);
  if (!backends.size) return [];
  const identities = await userIdentities(tx, user.id, backends);
  const embed = backends.get('EMBED');
  let receiver: string | undefined;
  if (embed && identities.has(embed.id) && action === 'REALLOCATE' && reallocateTo) {
    receiver = (await userIdentities(tx, reallocateTo, new Map([['EMBED', embed]]))).get(embed.id);
    if (!receiver)
      throw new UnsupportedByBackendError(
        embed,
        'deleteUser',
        'the embed backend reallocates courses only to one of its own users, and reallocateTo has ' +
          'no user there; give a receiver that has one, or action DELETE or IGNORE; nothing was changed',
      );
  }
  let pending: PendingChange[] = [];
  const accepted = await callBackends(
    ctx,
    backends,
    userDeleteCalls(backends, identities, action, receiver, undefined),
    'deleteUser',
    async (calls) => {
      pending = await recordChanges(
        tx,
        { partnerId: user.partnerId, userId: user.id, operation: 'DELETE_USER' },
        calls,
      );
    },
  );
  await markDeletedUpstream(tx, accepted, { userId: { in: [user.id] } });
  return pending;
}

/** The shared body of deleteUser and deleteClient (its users). */
export async function removeUser(
  tx: Tx,
  ctx: RequestContext,
  principal: UserPrincipal,
  user: User,
  action: DeleteAction,
  reallocateTo?: string,
) {
  let courses: Record<string, unknown> = {};
  const owned = action === 'REALLOCATE' && !reallocateTo ? await tx.course.count({ where: { ownerId: user.id } }) : 1;
  if (action === 'REALLOCATE' && owned === 0) {
    // Nothing to move: no receiver is needed (the partner's last admin can be deleted).
    courses = { moved: 0 };
  } else if (action === 'REALLOCATE') {
    const receiver = reallocateTo ?? (await firstAdmin(tx, principal.partnerId, user.id));
    if (!receiver)
      throw new ValidationError(
        'the partner has no other admin to take the courses: give reallocateTo',
        'input.reallocateTo',
      );
    if (receiver === user.id) throw new ValidationError('reallocateTo is the user being deleted', 'input.reallocateTo');
    // An explicit receiver must be a user the caller manages; the default one is chosen by
    // the rules (the partner's first admin), so an account admin may hand courses to it.
    const [to] = reallocateTo ? await lockManagedUsers(tx, ctx, [receiver]) : await lockUser(tx, receiver);
    await assertReceiver(tx, ctx, to!, 'reallocateTo');
    courses = { reallocatedTo: receiver, moved: await reallocate(tx, user.id, receiver) };
  } else if (action === 'DELETE') {
    courses = { deletedCourses: (await tx.course.deleteMany({ where: { ownerId: user.id } })).count };
  } else {
    courses = {
      orphanedCourses: (await tx.course.updateMany({ where: { ownerId: user.id }, data: { ownerId: null } })).count,
    };
  }
  await tx.enrollment.deleteMany({ where: { userId: user.id } });
  await tx.order.deleteMany({ where: { userId: user.id } });
  await tx.entitlement.deleteMany({ where: { userId: user.id } });
  await tx.accountAdmin.deleteMany({ where: { userId: user.id } });
  await tx.apiKey.updateMany({ where: { principalId: user.id, revokedAt: null }, data: { revokedAt: new Date() } });
  await tx.user.update({
    where: { id: user.id },
    data: {
      status: 'DELETED',
      deletedAt: new Date(),
      // Erase personal data; keep the keys so that they stay burned.
      firstName: null,
      lastName: null,
      userName: null,
      customFields: Prisma.DbNull,
      metadata: Prisma.DbNull,
    },
  });
  return courses;
}

async function lockUser(tx: Tx, id: string): Promise<User[]> {
  await tx.$queryRaw`SELECT id FROM "User" WHERE id = ${id}::uuid FOR UPDATE`;
  return [await tx.user.findUniqueOrThrow({ where: { id } })];
}

async function firstAdmin(tx: Tx, partnerId: string, except: string): Promise<string | undefined> {
  const admin = await tx.user.findFirst({
    where: {
      partnerId,
      id: { not: except },
      status: 'ACTIVE',
      entitlements: { some: { kind: { in: [...PARTNER_WIDE_KINDS] } } },
    },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: { id: true },
  });
  return admin?.id;
}

export async function deleteUserDependencies(
  ctx: RequestContext,
  id: string,
): Promise<{ orders: number; enrollments: number }> {
  return audited(ctx, async (tx, audit) => {
    const [user] = await lockManagedUsers(tx, ctx, [id]);
    const orders = (await tx.order.deleteMany({ where: { userId: id } })).count;
    const enrollments = (await tx.enrollment.deleteMany({ where: { userId: id } })).count;
    // A catalog user's are deleted there too: catalog DELETE only_orders_and_enrollments=true.
    const backends = await connectedBackends(tx, user!.partnerId);
    if (backends.has('CATALOG'))
      await callBackends(
        ctx,
        backends,
        userDependenciesCalls(backends, await userIdentities(tx, id, backends)),
        'deleteUserDependencies',
      );
    audit({ action: 'user.delete_dependencies', subjectType: 'User', subjectId: id, data: { orders, enrollments } });
    return { orders, enrollments };
  });
}
