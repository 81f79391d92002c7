// Writing an identity's projection onto its owner, in the caller's transaction. A value
// another user holds in a unique column (a per-partner key, or the global canvasUserUuid)
// is not written: the column keeps what it had, and the identity gets an OPEN LinkConflict
// (reason PROJECTION) naming the holder, so nothing crashes, nothing is overwritten, and an
// admin sees why (a merge of the two, or linkIdentity, resolves it).
import type { Identity, Prisma } from '@prisma/client';
import { uuidv7 } from '../../store/ids.js';
import type { Tx } from '../../store/transaction.js';
import {
  projectAccount,
  projectClient,
  projectUser,
  UNIQUE_USER_COLUMNS,
  type UniqueUserColumn,
  type UserProjection,
} from './projection.js';

type Data = Record<string, unknown>;

/** Who holds each of `unique`'s values, other than `self`: column → holder user id ('' for another partner's). */
export async function uniqueHolders(
  tx: Tx,
  partnerId: string,
  unique: UserProjection['unique'],
  self: string | null,
): Promise<Map<UniqueUserColumn, string>> {
  const holders = new Map<UniqueUserColumn, string>();
  const scoped = UNIQUE_USER_COLUMNS.filter((c) => c !== 'canvasUserUuid' && unique[c]);
  if (scoped.length) {
    const rows = await tx.user.findMany({
      where: { partnerId, OR: scoped.map((c) => ({ [c]: unique[c] })), ...(self ? { id: { not: self } } : {}) },
      select: { id: true, externalUserId: true, email: true, identifier: true },
    });
    for (const row of rows)
      for (const c of scoped) if ((row as Record<string, unknown>)[c] === unique[c]) holders.set(c, row.id);
  }
  if (unique.canvasUserUuid) {
    const row = await tx.user.findFirst({
      where: { canvasUserUuid: unique.canvasUserUuid, ...(self ? { id: { not: self } } : {}) },
      select: { id: true, partnerId: true },
    });
    if (row) holders.set('canvasUserUuid', row.partnerId === partnerId ? row.id : '');
  }
  return holders;
}

/** The columns of `projection` that may be written (no other user holds their value), and the holders of the rest. */
export function withoutHeld(
  projection: UserProjection,
  holders: Map<UniqueUserColumn, string>,
): { columns: Prisma.UserUncheckedUpdateInput; held: string[] } {
  const columns = { ...projection.columns } as Data;
  const held = new Set<string>();
  for (const [column, holder] of holders) {
    delete columns[column];
    if (holder) held.add(holder);
  }
  return { columns: columns as Prisma.UserUncheckedUpdateInput, held: [...held].sort() };
}

/** An OPEN PROJECTION conflict for the identity, unless one is already open. */
export async function projectionConflict(
  tx: Tx,
  identity: Pick<Identity, 'id' | 'partnerId'>,
  holders: string[],
): Promise<number> {
  const open = await tx.linkConflict.findFirst({
    where: { identityId: identity.id, status: 'OPEN', reason: 'PROJECTION' },
    select: { id: true },
  });
  if (open) return 0;
  await tx.linkConflict.create({
    data: {
      id: uuidv7(),
      partnerId: identity.partnerId,
      identityId: identity.id,
      candidateIds: holders,
      reason: 'PROJECTION',
    },
  });
  return 1;
}

/** An embed user's client id by the client's identifier (null: none, or the record names none). */
export async function clientIdOf(
  tx: Tx,
  partnerId: string,
  identifier: string | null | undefined,
): Promise<string | null | undefined> {
  if (identifier === undefined) return undefined;
  if (identifier === null) return null;
  const client = await tx.client.findUnique({
    where: { partnerId_identifier: { partnerId, identifier } },
    select: { id: true },
  });
  return client?.id ?? null;
}

/**
 * Writes a linked identity's data onto its owner (user, account or client): the one place a
 * backend's record reaches the unified columns after linking. Returns the conflicts it opened.
 */
export async function projectIdentity(tx: Tx, identity: Identity): Promise<number> {
  const data = (identity.data ?? {}) as Data;
  if (identity.entity === 'ACCOUNT' && identity.accountId) {
    const columns = projectAccount(data);
    if (Object.keys(columns).length) await tx.account.update({ where: { id: identity.accountId }, data: columns });
    return 0;
  }
  if (identity.entity === 'CLIENT' && identity.clientId) {
    const columns = projectClient(data);
    if (Object.keys(columns).length) await tx.client.update({ where: { id: identity.clientId }, data: columns });
    return 0;
  }
  if (identity.entity !== 'USER' || !identity.userId) return 0;
  const projection = projectUser(identity.kind, data);
  const holders = await uniqueHolders(tx, identity.partnerId, projection.unique, identity.userId);
  const { columns, held } = withoutHeld(projection, holders);
  const clientId = await clientIdOf(tx, identity.partnerId, projection.clientIdentifier);
  if (clientId !== undefined) columns.clientId = clientId;
  if (Object.keys(columns).length) await tx.user.update({ where: { id: identity.userId }, data: columns });
  return holders.size ? projectionConflict(tx, identity, held) : 0;
}
