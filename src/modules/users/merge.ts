// mergeUsers / unmergeUser. The source becomes MERGED with mergedInto = target; the target
// gains the identities it lacks, the union of entitlements, and the source's courses,
// enrollments and orders. Merging into a merged user follows the chain to its end; a chain
// that leads back to the source is a cycle and refused.
import type { Prisma, User } from '@prisma/client';
import type { RequestContext } from '../../auth/context.js';
import { isPartnerWide } from '../../auth/principal.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../errors.js';
import { StartOver } from '../../store/errors.js';
import { audited } from '../audit/service.js';
import { requireUser } from '../../auth/context.js';
import type { Tx } from '../../store/transaction.js';
import { lockManagedUsers, mergedConflict, unmergeChange } from './service.js';
import { callBackends, connectedBackends, recordAccepted, userUnmergeCalls } from '../backends/write-through.js';
import { optionalJsonColumn } from '../../store/json.js';
import { mergeIdentities } from '../identities/service.js';

const MAX_CHAIN = 32;

export async function mergeUsers(
  ctx: RequestContext,
  sourceId: string,
  targetId: string,
): Promise<{ source: User; target: User }> {
  const principal = requireUser(ctx);
  if (sourceId === targetId) throw new ValidationError('a user cannot be merged into itself', 'input.targetId');
  const result = await audited(ctx, async (tx, audit) => {
    const { source, target } = await lockMerge(tx, ctx, sourceId, targetId);
    const { sourceData, targetData, moved } = identityMove(source, target);
    // Free the source's keys first: the unique constraints hold at every statement.
    await tx.user.update({
      where: { id: sourceId },
      data: { ...sourceData, status: 'MERGED', mergedIntoId: target.id },
    });
    const updatedTarget = Object.keys(targetData).length
      ? await tx.user.update({ where: { id: target.id }, data: targetData })
      : target;
    const dependents = await moveDependents(tx, sourceId, target.id, principal.partnerAdmin);
    // The stored identities of the kinds that moved go along, whichever backend each is of.
    const stored = await mergeIdentities(tx, sourceId, target.id, moved);
    const updatedSource = await tx.user.findUniqueOrThrow({ where: { id: sourceId } });
    audit({
      action: 'user.merge',
      subjectType: 'User',
      subjectId: sourceId,
      data: {
        target: target.id,
        requestedTarget: targetId,
        identities: moved,
        storedIdentities: stored.identities,
        resolvedConflicts: stored.resolvedConflicts,
        ...dependents,
      },
    });
    return { source: updatedSource, target: updatedTarget };
  });
  // The source is refused from now on; the target may have gained its rights.
  ctx.invalidatePrincipals?.([sourceId, result.target.id]);
  return result;
}

/**
 * Locks what a merge changes: the source's embed client (FOR KEY SHARE, before any user, as
 * every write attaching users to a client does: the identity may move to the target), then
 * the source and the whole chain from the requested target to its end, all in one statement
 * in id order. Locking hop by hop while holding the pair let merges around a ring each hold
 * what the next one waited for (deadlocks). A chain that grew between reading and locking
 * (a concurrent merge of its end) starts the transaction over rather than lock out of order.
 */
async function lockMerge(
  tx: Tx,
  ctx: RequestContext,
  sourceId: string,
  targetId: string,
): Promise<{ source: User; target: User }> {
  await tx.$queryRaw`
    SELECT c.id FROM "Client" c JOIN "User" u ON u."clientId" = c.id WHERE u.id = ${sourceId}::uuid FOR KEY SHARE OF c`;
  const chain = await tx.$queryRaw<{ id: string }[]>`
    WITH RECURSIVE chain (id, next, hops) AS (
      SELECT id, "mergedIntoId", 0 FROM "User" WHERE id = ${targetId}::uuid
      UNION ALL
      SELECT u.id, u."mergedIntoId", chain.hops + 1
        FROM "User" u JOIN chain ON u.id = chain.next WHERE chain.hops < ${MAX_CHAIN}
    )
    SELECT id FROM "User" WHERE id = ${sourceId}::uuid OR id IN (SELECT id FROM chain) ORDER BY id FOR UPDATE`;
  const hops = chain.map((u) => u.id).filter((id) => id !== sourceId && id !== targetId);
  const [source, requested, ...rest] = await lockManagedUsers(tx, ctx, [sourceId, targetId, ...hops]).catch(
    (error: unknown) => {
      // A hop outside the caller's accounts is not named to it: the caller gave only the target.
      throw error instanceof NotFoundError && hops.includes(error.ref!) ? new NotFoundError('User', targetId) : error;
    },
  );
  if (source!.status === 'MERGED')
    throw await mergedConflict(tx, requireUser(ctx), source!, 'unmerge it first', 'sourceId');
  const target = endOfChain(requested!, sourceId, new Map([requested!, ...rest].map((u) => [u.id, u])));
  if (!target) throw new StartOver(`the merge chain from ${targetId} changed while it was locked`);
  return { source: source!, target };
}

/** Follows mergedInto from `user` to the first user that is not merged; null if it leaves `locked`. */
function endOfChain(user: User, sourceId: string, locked: Map<string, User>): User | null {
  let current = user;
  for (let hops = 0; current.status === 'MERGED'; hops++) {
    if (hops >= MAX_CHAIN || !current.mergedIntoId)
      throw new ConflictError(`merge chain from ${user.id} is too long or broken`);
    if (current.mergedIntoId === sourceId)
      throw new ConflictError(
        `user ${user.id} is already merged into ${sourceId}: merging back would make a cycle`,
        'targetId',
      );
    const next = locked.get(current.mergedIntoId);
    if (!next) return null;
    current = next;
  }
  if (current.id === sourceId) throw new ConflictError('merging would make a cycle', 'targetId');
  return current;
}

type UserUpdate = Prisma.UserUncheckedUpdateInput;

/** Which identities move from source to target: each one the target lacks. */
function identityMove(source: User, target: User): { sourceData: UserUpdate; targetData: UserUpdate; moved: string[] } {
  const sourceData: UserUpdate = {};
  const targetData: UserUpdate = {};
  const moved: string[] = [];
  if (source.externalUserId && !target.externalUserId) {
    sourceData.externalUserId = null;
    targetData.externalUserId = source.externalUserId;
    moved.push('learning');
  }
  if (source.inCatalog && !target.inCatalog) {
    // The source keeps its catalog id (its catalog record shows merged_into_user_id);
    // the profile and its unique keys move.
    Object.assign(sourceData, { email: null, canvasUserUuid: null });
    Object.assign(targetData, {
      inCatalog: true,
      email: source.email,
      canvasUserUuid: source.canvasUserUuid,
      canvasUserId: source.canvasUserId,
      userName: source.userName,
      firstName: source.firstName,
      lastName: source.lastName,
      customFields: optionalJsonColumn(source.customFields ?? undefined),
      timeZone: source.timeZone,
      locale: source.locale,
      termsOfUse: source.termsOfUse,
    });
    moved.push('catalog');
  }
  if (source.identifier && !target.identifier) {
    sourceData.identifier = null;
    Object.assign(targetData, {
      identifier: source.identifier,
      clientId: source.clientId,
      metadata: optionalJsonColumn(source.metadata ?? undefined),
    });
    moved.push('embed');
  }
  return { sourceData, targetData, moved };
}

export async function moveDependents(tx: Tx, sourceId: string, targetId: string, partnerAdmin: boolean) {
  const entitlements = await tx.entitlement.findMany({ where: { userId: sourceId } });
  // The union of entitlements is a grant to the target: an account admin may not hand out
  // partner-wide rights this way any more than through grantEntitlements.
  if (!partnerAdmin && entitlements.some((e) => isPartnerWide(e.kind))) {
    throw new ForbiddenError('only a partner admin may merge a user holding PARTNER_ADMIN or ALL');
  }
  if (entitlements.length) {
    await tx.entitlement.createMany({
      data: entitlements.map((e) => ({
        userId: targetId,
        kind: e.kind,
        grantedAt: e.grantedAt,
        grantedById: e.grantedById,
      })),
      skipDuplicates: true,
    });
    await tx.entitlement.deleteMany({ where: { userId: sourceId } });
  }
  const courses = (await tx.course.updateMany({ where: { ownerId: sourceId }, data: { ownerId: targetId } })).count;
  // An enrollment the target already has in the same course is a duplicate: drop the source's.
  const targetCourses = await tx.enrollment.findMany({ where: { userId: targetId }, select: { courseId: true } });
  const duplicates = (
    await tx.enrollment.deleteMany({
      where: { userId: sourceId, courseId: { in: targetCourses.map((e) => e.courseId) } },
    })
  ).count;
  const enrollments = (await tx.enrollment.updateMany({ where: { userId: sourceId }, data: { userId: targetId } }))
    .count;
  const orders = (await tx.order.updateMany({ where: { userId: sourceId }, data: { userId: targetId } })).count;
  return { entitlements: entitlements.length, courses, enrollments, duplicateEnrollments: duplicates, orders };
}

/** Clears the merge pointer and restores ACTIVE; moved data stays where it is. */
export async function unmergeUser(ctx: RequestContext, id: string): Promise<User> {
  return audited(ctx, async (tx, audit) => {
    const [user] = await lockManagedUsers(tx, ctx, [id]);
    if (user!.status !== 'MERGED') throw new ConflictError(`user ${id} is not merged`, 'id');
    const updated = await tx.user.update({ where: { id }, data: unmergeChange(user!, audit) });
    // A catalog user merged upstream is unmerged there too: catalog PUT clear_merged_into_user_id=true.
    const backends = await connectedBackends(tx, user!.partnerId);
    if (!backends.has('CATALOG')) return updated;
    const accepted = await callBackends(ctx, backends, await userUnmergeCalls(tx, id, backends), 'unmergeUser');
    // The record as the catalog answered, without projecting it: its profile stays with the target.
    await recordAccepted(tx, accepted, { userId: id }, { project: false });
    return updated;
  });
}
