// Writing an identity's projection onto its owner, in the caller's transaction. A value
// another user holds in a unique column (a per-partner key, or the global canvasUserUuid)
// is not written: the column keeps what it had, and the identity gets an OPEN LinkConflict
// (reason PROJECTION) naming the holder, so nothing crashes, nothing is overwritten, and an
// admin sees why (a merge of the two, or linkIdentity, resolves it).
import type { Identity, Prisma } from '@prisma/client';
import { uuidv7 } from '../../store/ids.js';
import { arrayLiteral } from '../../store/arrays.js';
import { execute } from '../../store/statements.js';
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

/** What projecting an identity reads of it. */
export type Projected = Pick<
  Identity,
  'id' | 'partnerId' | 'kind' | 'entity' | 'data' | 'userId' | 'accountId' | 'clientId'
>;

/**
 * Writes a linked identity's data onto its owner (user, account or client): the one place a
 * backend's record reaches the unified columns after linking. Returns the conflicts it opened.
 */
export async function projectIdentity(tx: Tx, identity: Projected): Promise<number> {
  if (identity.entity === 'USER') return identity.userId ? projectUsers(tx, identity.partnerId, [identity]) : 0;
  await projectOwners(tx, [identity]);
  return 0;
}

/**
 * Projects linked account and client identities onto their accounts and clients, in one
 * UPDATE per entity whatever their number: the identities are taken in the list's order, so a
 * later identity of the same owner writes over an earlier one's columns, as one by one (these
 * columns hold no unique value: nothing is held or freed). Other identities are left out.
 */
export async function projectOwners(tx: Tx, identities: Projected[]): Promise<void> {
  const accounts = new Map<string, Record<string, unknown>>();
  const clients = new Map<string, Record<string, unknown>>();
  const put = (owners: Map<string, Record<string, unknown>>, id: string, columns: Record<string, unknown>) =>
    Object.keys(columns).length && owners.set(id, { ...(owners.get(id) ?? {}), ...columns });
  for (const identity of identities) {
    const data = (identity.data ?? {}) as Data;
    if (identity.entity === 'ACCOUNT' && identity.accountId) put(accounts, identity.accountId, projectAccount(data));
    if (identity.entity === 'CLIENT' && identity.clientId) put(clients, identity.clientId, projectClient(data));
  }
  await updateRows(tx, 'Account', [...accounts]);
  await updateRows(tx, 'Client', [...clients]);
}

/** The user columns a projection may write, by SQL type (UPDATE_OF.User's SET list). */
const USER_COLUMN_TYPES = {
  externalUserId: 'text',
  email: 'text',
  canvasUserUuid: 'text',
  userName: 'text',
  firstName: 'text',
  lastName: 'text',
  timeZone: 'text',
  locale: 'text',
  identifier: 'text',
  inCatalog: 'boolean',
  termsOfUse: 'boolean',
  canvasUserId: 'int',
  customFields: 'jsonb',
  metadata: 'jsonb',
  clientId: 'uuid',
} as const;

/** The account columns a projection may write (projectAccount's), by SQL type. */
const ACCOUNT_COLUMN_TYPES = {
  name: 'text',
  legacyAccess: 'boolean',
  lrnAccess: 'boolean',
  requireIpApiAccess: 'boolean',
  requireIpGqlAccess: 'boolean',
  smsAccess: '"CoverageAccess"',
  mmsAccess: '"CoverageAccess"',
} as const;

/** The client columns a projection may write (projectClient's), by SQL type. */
const CLIENT_COLUMN_TYPES = { metadata: 'jsonb' } as const;

type ColumnTypes = Readonly<Record<string, string>>;

/**
 * UPDATE ... SET of a table: each row of the list `v` gets the columns its `c` names (a column it
 * does not name keeps its value).
 */
function updateOf(table: string, types: ColumnTypes): string {
  const set = Object.entries(types).map(
    ([column, type]) =>
      `"${column}" = CASE WHEN jsonb_exists(v.c, '${column}') THEN ${
        type === 'jsonb' ? `v.c->'${column}'` : `(v.c->>'${column}')${type === 'text' ? '' : `::${type}`}`
      } ELSE t."${column}" END`,
  );
  return `UPDATE "${table}" AS t SET ${set.join(', ')}, "updatedAt" = now()`;
}

/** Per table the columns a projection writes and the type of its id. */
const TABLES = {
  User: { types: USER_COLUMN_TYPES, id: 'uuid', update: updateOf('User', USER_COLUMN_TYPES) },
  Account: { types: ACCOUNT_COLUMN_TYPES, id: 'text', update: updateOf('Account', ACCOUNT_COLUMN_TYPES) },
  Client: { types: CLIENT_COLUMN_TYPES, id: 'uuid', update: updateOf('Client', CLIENT_COLUMN_TYPES) },
} as const;

/** A column value as JSON text: a jsonColumn() value is its own text (see store/json.ts). */
function jsonText(value: unknown): string {
  if (value && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    const tagged = (value as { toJSON(): { $type?: string; value?: string } }).toJSON();
    if (tagged?.$type === 'Json' && typeof tagged.value === 'string') return tagged.value;
  }
  return JSON.stringify(value ?? null);
}

/**
 * Projects linked user identities of one partner onto their users, in a constant number of
 * statements whatever their number: the holders of their unique values (one read, their users'
 * own values included), their embed clients (one read), the users' columns (one UPDATE), and
 * the PROJECTION conflicts (one read of the open ones, one insert). The identities are taken
 * in the list's order, as one by one: a value an earlier one takes or frees is held or free for
 * the later ones. Returns the conflicts it opened.
 */
export async function projectUsers(tx: Tx, partnerId: string, identities: Projected[]): Promise<number> {
  const list = identities
    .filter((i) => i.entity === 'USER' && i.userId)
    .map((i) => ({ identity: i, userId: i.userId!, projection: projectUser(i.kind, (i.data ?? {}) as Data) }));
  if (!list.length) return 0;
  const values = new Map<UniqueUserColumn, Set<string>>(UNIQUE_USER_COLUMNS.map((c) => [c, new Set<string>()]));
  for (const { projection } of list)
    for (const c of UNIQUE_USER_COLUMNS) if (projection.unique[c]) values.get(c)!.add(projection.unique[c]!);
  /** `${column}\0${value}` → its holder ('' for another partner's user). */
  const holderOf = new Map<string, string>();
  /** The users' own unique values as the list has left them so far. */
  const own = new Map<string, Partial<Record<UniqueUserColumn, string | null>>>();
  if (UNIQUE_USER_COLUMNS.some((c) => values.get(c)!.size)) {
    const scoped = (['externalUserId', 'email', 'identifier'] as const).filter((c) => values.get(c)!.size);
    const rows = await tx.user.findMany({
      where: {
        OR: [
          ...scoped.map((c) => ({ partnerId, [c]: { in: [...values.get(c)!] } })),
          ...(values.get('canvasUserUuid')!.size
            ? [{ canvasUserUuid: { in: [...values.get('canvasUserUuid')!] } }]
            : []),
          { id: { in: [...new Set(list.map((l) => l.userId))] } },
        ],
      },
      select: { id: true, partnerId: true, externalUserId: true, email: true, identifier: true, canvasUserUuid: true },
    });
    for (const row of rows) {
      for (const c of UNIQUE_USER_COLUMNS) {
        const value = row[c];
        if (!value) continue;
        if (c === 'canvasUserUuid') holderOf.set(`${c}\u0000${value}`, row.partnerId === partnerId ? row.id : '');
        else if (row.partnerId === partnerId) holderOf.set(`${c}\u0000${value}`, row.id);
      }
      if (row.partnerId === partnerId) own.set(row.id, { ...row });
    }
  }
  const identifiers = [
    ...new Set(list.map((l) => l.projection.clientIdentifier).filter((v): v is string => Boolean(v))),
  ];
  const clients = identifiers.length
    ? await tx.client.findMany({
        where: { partnerId, identifier: { in: identifiers } },
        select: { id: true, identifier: true },
      })
    : [];
  const clientOf = new Map(clients.map((c) => [c.identifier, c.id]));

  const writes: [string, Record<string, unknown>][] = [];
  /** `${column}\0${value}` freed by an earlier write of the list. */
  const freed = new Set<string>();
  let reused = false;
  const conflicts: { identity: Projected; held: string[] }[] = [];
  for (const { identity, userId, projection } of list) {
    const holders = new Map<UniqueUserColumn, string>();
    for (const c of UNIQUE_USER_COLUMNS) {
      const value = projection.unique[c];
      const holder = value ? holderOf.get(`${c}\u0000${value}`) : undefined;
      if (holder !== undefined && holder !== userId) holders.set(c, holder);
    }
    const { columns, held } = withoutHeld(projection, holders);
    if (projection.clientIdentifier !== undefined)
      columns.clientId =
        projection.clientIdentifier === null ? null : (clientOf.get(projection.clientIdentifier) ?? null);
    // What this one writes is held (or freed) for the ones after it.
    const mine = own.get(userId) ?? {};
    for (const c of UNIQUE_USER_COLUMNS) {
      const value = (columns as Record<string, unknown>)[c];
      if (typeof value !== 'string') continue;
      const before = mine[c];
      if (before && before !== value && holderOf.get(`${c}\u0000${before}`) === userId) {
        holderOf.delete(`${c}\u0000${before}`);
        freed.add(`${c}\u0000${before}`);
      }
      if (freed.has(`${c}\u0000${value}`)) reused = true;
      holderOf.set(`${c}\u0000${value}`, userId);
      mine[c] = value;
    }
    own.set(userId, mine);
    if (Object.keys(columns).length) writes.push([userId, columns as Record<string, unknown>]);
    if (holders.size) conflicts.push({ identity, held });
  }
  if (reused) {
    // A value one user of the list frees and another takes: one UPDATE each, in the list's
    // order (one statement checks each row's unique values as it goes, in no set order).
    for (const write of writes) await updateUsers(tx, [write]);
  } else {
    const merged = new Map<string, Record<string, unknown>>();
    for (const [id, columns] of writes) merged.set(id, { ...(merged.get(id) ?? {}), ...columns });
    await updateUsers(tx, [...merged]);
  }
  return conflicts.length ? projectionConflicts(tx, conflicts) : 0;
}

/** Projection columns as the JSON object `c` the statements read (undefined values left out). */
function columnsJson(columns: Record<string, unknown>, types: ColumnTypes = USER_COLUMN_TYPES): string {
  const entries = Object.entries(columns)
    .filter(([, value]) => value !== undefined)
    .map(([column, value]) => {
      if (!Object.hasOwn(types, column)) throw new Error(`projection column ${column} has no SQL type`);
      return `${JSON.stringify(column)}:${jsonText(value)}`;
    });
  return `{${entries.join(',')}}`;
}

/** Each user's columns, in one statement. */
export async function updateUsers(tx: Tx, writes: [string, Record<string, unknown>][]): Promise<void> {
  await updateRows(tx, 'User', writes);
}

/** Each row's projection columns, in one statement. */
async function updateRows(
  tx: Tx,
  table: keyof typeof TABLES,
  writes: [string, Record<string, unknown>][],
): Promise<void> {
  if (!writes.length) return;
  const { types, id, update } = TABLES[table];
  const rows = writes.map(([key, columns]) => `{"id":${JSON.stringify(key)},"c":${columnsJson(columns, types)}}`);
  await execute(tx, {
    text: `${update} FROM jsonb_to_recordset($1::jsonb) AS v(id ${id}, c jsonb) WHERE t.id = v.id`,
    values: [`[${rows.join(',')}]`],
  });
}

const USER_INSERT_COLUMNS = Object.keys(USER_COLUMN_TYPES) as (keyof typeof USER_COLUMN_TYPES)[];
/**
 * INSERT of new users from one array per column, unnested in the list's order. A column a
 * user's projection does not name is NULL in its array: the column's NULL, or false for a
 * Boolean one (as a user created without it); a jsonb column's JSON null is the text 'null'.
 */
const USER_INSERT_NAMES = USER_INSERT_COLUMNS.map((c) => `"${c}"`).join(', ');
const USER_INSERT_VALUES = USER_INSERT_COLUMNS.map((c) => {
  const type = USER_COLUMN_TYPES[c];
  return type === 'boolean' ? `COALESCE(v."${c}"::boolean, false)` : type === 'text' ? `v."${c}"` : `v."${c}"::${type}`;
}).join(', ');
const USER_INSERT_ARRAYS = USER_INSERT_COLUMNS.map((_, i) => `$${i + 4}::text[]`).join(', ');
const USER_INSERT = `INSERT INTO "User" (id, "partnerId", "accountId", status, ${USER_INSERT_NAMES}, "updatedAt")
  SELECT v.id, v.p, v.a, 'ACTIVE', ${USER_INSERT_VALUES}, now()
    FROM unnest($1::uuid[], $2::text[], $3::text[], ${USER_INSERT_ARRAYS})
      WITH ORDINALITY AS v(id, p, a, ${USER_INSERT_NAMES}, ord)
    ORDER BY v.ord`;

/** A column's value as the text its array holds (null: not named, or SQL NULL). */
function columnText(value: unknown, type: string): string | null {
  if (value === undefined) return null;
  if (type === 'jsonb') return jsonText(value);
  if (value === null) return null;
  return typeof value === 'string' ? value : jsonText(value);
}

/**
 * New ACTIVE users with their projection columns, in one statement, created in the list's
 * order. The values travel as one array per column, not as one JSON document of the list:
 * each parameter stays a few KiB (a 500-user document was a ~200 KiB string, copied several
 * times on its way to the driver, each copy in V8's large-object space).
 */
export async function insertUsers(
  tx: Tx,
  users: { id: string; partnerId: string; accountId: string; columns: Record<string, unknown> }[],
): Promise<number> {
  if (!users.length) return 0;
  const columns = USER_INSERT_COLUMNS.map(() => new Array<string | null>(users.length));
  for (let u = 0; u < users.length; u++) {
    const given = users[u]!.columns;
    for (const column of Object.keys(given))
      if (given[column] !== undefined && !Object.hasOwn(USER_COLUMN_TYPES, column))
        throw new Error(`projection column ${column} has no SQL type`);
    for (let c = 0; c < USER_INSERT_COLUMNS.length; c++) {
      const column = USER_INSERT_COLUMNS[c]!;
      columns[c]![u] = columnText(given[column], USER_COLUMN_TYPES[column]);
    }
  }
  return execute(tx, {
    text: USER_INSERT,
    values: [
      arrayLiteral(users.map((u) => u.id)),
      arrayLiteral(users.map((u) => u.partnerId)),
      arrayLiteral(users.map((u) => u.accountId)),
      ...columns.map(arrayLiteral),
    ],
  });
}

/** An OPEN PROJECTION conflict for each identity that has none open yet (two statements). */
async function projectionConflicts(tx: Tx, list: { identity: Projected; held: string[] }[]): Promise<number> {
  const open = await tx.linkConflict.findMany({
    where: { identityId: { in: list.map((l) => l.identity.id) }, status: 'OPEN', reason: 'PROJECTION' },
    select: { identityId: true },
  });
  const taken = new Set(open.map((o) => o.identityId));
  const data = list
    .filter((l) => !taken.has(l.identity.id))
    .map((l) => ({
      id: uuidv7(),
      partnerId: l.identity.partnerId,
      identityId: l.identity.id,
      candidateIds: l.held,
      reason: 'PROJECTION' as const,
    }));
  if (data.length) await tx.linkConflict.createMany({ data });
  return data.length;
}
