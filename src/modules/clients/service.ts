// Embed clients: upsert (metadata replaced) and delete (cascade to users and their courses).
import type { Client, PendingChange, User } from '@prisma/client';
import { z } from 'zod';
import type { RequestContext } from '../../auth/context.js';
import { administers, planAtLeast } from '../../auth/principal.js';
import { clientVisibility, within } from '../../auth/visibility.js';
import { managedAccount } from '../accounts/service.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../../errors.js';
import { uniqueViolation } from '../../store/errors.js';
import { embedKey, jsonObject, nullish, parse } from '../../validation.js';
import { audited } from '../audit/service.js';
import { requireUser } from '../../auth/context.js';
import {
  callBackends,
  clientDeleteCalls,
  clientUpsertCalls,
  connectedBackends,
  markDeletedUpstream,
  recordAccepted,
  usersIdentities,
} from '../backends/write-through.js';
import { notifyOutbox, recordChanges } from '../outbox/service.js';
import type { Tx } from '../../store/transaction.js';
import { lockManagedUsers } from '../users/service.js';
import { removeUser, type DeleteAction } from '../users/removal.js';
import { jsonColumn } from '../../store/json.js';

const upsertSchema = z.object({ identifier: embedKey, metadata: nullish(jsonObject), accountId: nullish(z.string()) });
export type UpsertClientInput = z.input<typeof upsertSchema>;

export async function getClient(ctx: RequestContext, identifier: string): Promise<Client> {
  const client = await ctx.prisma.client.findFirst({ where: within({ identifier }, clientVisibility(ctx.principal)) });
  if (!client) throw new NotFoundError('Client', identifier);
  return client;
}

/** Creates the client or replaces its metadata. Concurrent upserts of one identifier converge. */
export async function upsertClient(
  ctx: RequestContext,
  raw: UpsertClientInput,
): Promise<{ client: Client; created: boolean }> {
  const principal = requireUser(ctx);
  const input = parse(upsertSchema, raw);
  const accountId = input.accountId ?? principal.partnerId;
  for (let attempt = 0; ; attempt++) {
    try {
      return await audited(ctx, async (tx, audit) => {
        // Both branches: a connected embed backend is asked first (write-through.ts: PUT client
        // creates or replaces), then the row is written, its identities recorded and audited.
        const save = async (metadata: Record<string, unknown>, write: () => Promise<Client>, created: boolean) => {
          const accepted = await callBackends(
            ctx,
            await connectedBackends(tx, principal.partnerId),
            clientUpsertCalls(input.identifier, metadata),
            'upsertClient',
          );
          let client = await write();
          if (accepted.length) {
            await recordAccepted(tx, accepted, { clientId: client.id });
            client = await tx.client.findUniqueOrThrow({ where: { id: client.id } });
          }
          audit({
            action: created ? 'client.create' : 'client.update',
            subjectType: 'Client',
            subjectId: client.id,
            data: { identifier: client.identifier },
          });
          return { client, created };
        };
        const where = { partnerId_identifier: { partnerId: principal.partnerId, identifier: input.identifier } };
        const existing = await tx.client.findUnique({ where });
        // An existing client is managed by the admins of its own account (an account admin
        // needs no rights on the partner root to update one of its clients). One the caller
        // cannot see is a taken identifier, as a taken user key is.
        if (existing) {
          if (!administers(principal, existing.accountId)) {
            const visible = await tx.client.count({ where: within({ id: existing.id }, clientVisibility(principal)) });
            if (!visible)
              throw new ConflictError(
                `client identifier ${JSON.stringify(input.identifier)} is already taken`,
                'identifier',
              );
            throw new ForbiddenError('managing this client needs admin rights on its account');
          }
          // Metadata is replaced only when given: leaving it out changes nothing.
          const { metadata } = input;
          if (metadata === undefined) return { client: existing, created: false };
          const update = { where: { id: existing.id }, data: { metadata: jsonColumn(metadata) } };
          return save(metadata, () => tx.client.update(update), false);
        }
        const forbidden = 'creating a client needs admin rights on its account (give accountId)';
        if (input.accountId) await managedAccount(tx, principal, accountId, forbidden);
        else if (!administers(principal, accountId)) throw new ForbiddenError(forbidden);
        const metadata = input.metadata ?? {};
        const data = {
          partnerId: principal.partnerId,
          accountId,
          identifier: input.identifier,
          metadata: jsonColumn(metadata),
        };
        return save(metadata, () => tx.client.create({ data }), true);
      });
    } catch (error) {
      // Lost a creation race: the other request created it, so this one updates it.
      if (attempt === 0 && uniqueViolation(error)) continue;
      throw error;
    }
  }
}

/**
 * Removes the client, its users (tombstoned, keys burned) and their courses, and what the
 * connected backends hold of them (deleteUpstream). Automate and above.
 */
export async function deleteClient(
  ctx: RequestContext,
  identifier: string,
  action: DeleteAction = 'DELETE',
): Promise<{ id: string; pendingChanges: PendingChange[] }> {
  const principal = requireUser(ctx);
  if (!planAtLeast(principal.plan, 'AUTOMATE'))
    throw new ForbiddenError('deleting clients needs the Automate plan or above');
  const deleted = await audited(ctx, async (tx, audit) => {
    // The client first, FOR UPDATE: every write that attaches a user to a client locks it
    // (lockClients), so such a write has committed before the users are read below, or waits
    // and then finds the client gone. A second deletion waits here and finds nothing.
    await tx.$queryRaw`
      SELECT id FROM "Client" WHERE "partnerId" = ${principal.partnerId} AND identifier = ${identifier} FOR UPDATE`;
    const client = await tx.client.findFirst({ where: within({ identifier }, clientVisibility(principal)) });
    if (!client) throw new NotFoundError('Client', identifier);
    if (!administers(principal, client.accountId))
      throw new ForbiddenError('deleting this client needs admin rights on its account');
    // Then its users, in id order (as lockManagedUsers locks). Locking re-reads a row changed
    // meanwhile, so a user deleted or moved to another client since drops out.
    const members = await tx.$queryRaw<{ id: string; accountId: string }[]>`
      SELECT id, "accountId" FROM "User"
       WHERE "clientId" = ${client.id}::uuid AND "deletedAt" IS NULL ORDER BY id FOR UPDATE`;
    // Deleting the client deletes its users: each must be the caller's to delete. One homed
    // outside its subtree is refused as a whole, without naming the user it cannot see.
    if (members.some((m) => !administers(principal, m.accountId))) {
      throw new ForbiddenError(
        'this client has users outside the accounts you administer; deleting it needs an admin of theirs',
      );
    }
    const users = members.length
      ? await lockManagedUsers(
          tx,
          ctx,
          members.map((m) => m.id),
        )
      : [];
    for (const user of users) {
      const moved = await removeUser(tx, ctx, principal, user, action);
      audit({
        action: 'user.delete',
        subjectType: 'User',
        subjectId: user.id,
        data: { action, client: identifier, ...moved },
      });
    }
    const pendingChanges = await deleteUpstream(tx, ctx, client, users);
    await tx.client.delete({ where: { id: client.id } });
    const outbox = pendingChanges.length ? { pendingChanges: pendingChanges.map((c) => c.id) } : {};
    audit({
      action: 'client.delete',
      subjectType: 'Client',
      subjectId: client.id,
      data: { identifier, users: users.length, ...outbox },
    });
    return { id: client.id, pendingChanges };
  });
  ctx.invalidatePrincipals?.();
  if (deleted.pendingChanges.length) notifyOutbox();
  return deleted;
}

/**
 * The connected backends delete what they hold of the client, asked last (a refusal rolls the
 * above back; SPEC §10.4): the embed backend the client (DELETE client takes its users and
 * their courses with it there as here), the other backends each member they hold. One call is
 * made at once, its verdict the answer; several go through the outbox, recorded in this
 * transaction as the members' PendingChanges (clientDeleteCalls), and are returned.
 */
async function deleteUpstream(tx: Tx, ctx: RequestContext, client: Client, users: User[]): Promise<PendingChange[]> {
  const backends = await connectedBackends(tx, client.partnerId);
  if (!backends.size) return [];
  const identities = await usersIdentities(
    tx,
    users.map((u) => u.id),
    backends,
  );
  const calls = clientDeleteCalls(
    backends,
    client.identifier,
    users.map((u) => ({ userId: u.id, identities: identities.get(u.id) ?? new Map() })),
  );
  const pending: PendingChange[] = [];
  const accepted = await callBackends(
    ctx,
    backends,
    calls.map((c) => c.call),
    'deleteClient',
    async (handed) => {
      // In the given order (callBackends hands over every call: all are to connected backends).
      for (const [i, call] of handed.entries()) {
        const { userId, operation } = calls[i]!;
        pending.push(...(await recordChanges(tx, { partnerId: client.partnerId, userId: userId!, operation }, [call])));
      }
    },
  );
  await markDeletedUpstream(tx, accepted, { clientId: client.id });
  await markDeletedUpstream(tx, accepted, { userId: { in: users.map((u) => u.id) } });
  return pending;
}

/** An offset page of visible clients in creation order, and their total (the embed list). */
export async function listClients(
  ctx: RequestContext,
  page: { skip: number; take: number },
): Promise<{ clients: Client[]; total: number }> {
  const where = clientVisibility(ctx.principal);
  const [clients, total] = await Promise.all([
    ctx.prisma.client.findMany({
      where,
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      skip: page.skip,
      take: page.take,
    }),
    ctx.prisma.client.count({ where }),
  ]);
  return { clients, total };
}
