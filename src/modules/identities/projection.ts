// The projection (SPEC §10.2): the unified columns of User, Account and Client are kept as
// they were, so that reads stay one statement, and are maintained from a connected backend's
// identities by ONE function per kind: the identity's data (the record as the backend sent
// it, in its dialect's wire shape, src/dialects/*) → the columns it speaks for. Only fields
// the record carries, with the type the dialect gives them, are projected: a record that
// leaves a field out (or sends it malformed) leaves that column alone. Nothing else writes
// these columns from a backend's data.
import { Prisma, type BackendKind, type CoverageAccess } from '@prisma/client';
import { jsonColumn } from '../../store/json.js';

type Data = Record<string, unknown>;

const has = (data: Data, field: string) => Object.hasOwn(data, field);
const str = (v: unknown): string | null | undefined => (typeof v === 'string' ? v : v === null ? null : undefined);
const bool = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
const isObject = (v: unknown): v is Data => typeof v === 'object' && v !== null && !Array.isArray(v);
const COVERAGE = new Set<string>(['NONE', 'DOMESTIC', 'INTERNATIONAL']);

/** The user columns of one identity, and the unique values among them (checked before writing). */
export interface UserProjection {
  columns: Prisma.UserUncheckedUpdateInput;
  /** Per-partner unique columns (externalUserId, email, identifier) and the global canvasUserUuid. */
  unique: Partial<Record<UniqueUserColumn, string>>;
  /** An embed user's client, by the client's identifier (the caller resolves it to an id). */
  clientIdentifier?: string | null;
}

export type UniqueUserColumn = 'externalUserId' | 'email' | 'identifier' | 'canvasUserUuid';
export const UNIQUE_USER_COLUMNS: readonly UniqueUserColumn[] = [
  'externalUserId',
  'email',
  'identifier',
  'canvasUserUuid',
];

/** learning `{id, external_user_id, entitlements?}`: the key. Entitlements stay in data (they grant rights here). */
function learningUser(data: Data): UserProjection {
  const key = str(data.external_user_id);
  return key ? { columns: { externalUserId: key }, unique: { externalUserId: key } } : { columns: {}, unique: {} };
}

/** catalog users (`email_address`, names, `custom_fields`, `canvas_user_uuid`, ...): the catalog profile. */
function catalogUser(data: Data): UserProjection {
  const columns: Prisma.UserUncheckedUpdateInput = { inCatalog: true };
  const unique: UserProjection['unique'] = {};
  const email = str(data.email_address);
  if (email) {
    columns.email = email.trim().toLowerCase();
    unique.email = columns.email as string;
  }
  const uuid = str(data.canvas_user_uuid);
  if (uuid) {
    columns.canvasUserUuid = uuid;
    unique.canvasUserUuid = uuid;
  }
  const strings = {
    user_name: 'userName',
    first_name: 'firstName',
    last_name: 'lastName',
    time_zone: 'timeZone',
    locale: 'locale',
  } as const;
  for (const [wire, column] of Object.entries(strings)) {
    const value = str(data[wire]);
    if (has(data, wire) && value !== undefined) (columns as Data)[column] = value;
  }
  if (
    has(data, 'canvas_user_id') &&
    (data.canvas_user_id === null ||
      (Number.isSafeInteger(data.canvas_user_id) &&
        (data.canvas_user_id as number) > 0 &&
        (data.canvas_user_id as number) <= 2_147_483_647))
  ) {
    columns.canvasUserId = data.canvas_user_id as number | null;
  }
  if (isObject(data.custom_fields)) columns.customFields = jsonColumn(data.custom_fields);
  const terms = bool(data.terms_of_use);
  if (terms !== undefined) columns.termsOfUse = terms;
  return { columns, unique };
}

/** embed users `{identifier, clientIdentifier, metadata}`: the embed identity. */
function embedUser(data: Data): UserProjection {
  const columns: Prisma.UserUncheckedUpdateInput = {};
  const unique: UserProjection['unique'] = {};
  const identifier = str(data.identifier);
  if (identifier) {
    columns.identifier = identifier;
    unique.identifier = identifier;
  }
  if (isObject(data.metadata)) columns.metadata = jsonColumn(data.metadata);
  const client = str(data.clientIdentifier);
  return { columns, unique, clientIdentifier: has(data, 'clientIdentifier') ? (client ?? null) : undefined };
}

export function projectUser(kind: BackendKind, data: Data): UserProjection {
  switch (kind) {
    case 'LEARNING':
      return learningUser(data);
    case 'CATALOG':
      return catalogUser(data);
    case 'EMBED':
      return embedUser(data);
    default:
      return { columns: {}, unique: {} };
  }
}

/**
 * messaging accounts: the name and the access flags (customer_id stays in data: customerId is the
 * gateway's serial).
 */
export function projectAccount(data: Data): Prisma.AccountUncheckedUpdateInput {
  const columns: Prisma.AccountUncheckedUpdateInput = {};
  const name = str(data.name);
  if (name) columns.name = name.slice(0, 1000);
  const flags = {
    legacy_access: 'legacyAccess',
    lrn_access: 'lrnAccess',
    require_ip_api_access: 'requireIpApiAccess',
    require_ip_gql_access: 'requireIpGqlAccess',
  } as const;
  for (const [wire, column] of Object.entries(flags)) {
    const value = bool(data[wire]);
    if (value !== undefined) (columns as Data)[column] = value;
  }
  for (const [wire, column] of [
    ['sms_access', 'smsAccess'],
    ['mms_access', 'mmsAccess'],
  ] as const) {
    const value = str(data[wire])?.toUpperCase();
    if (value && COVERAGE.has(value)) columns[column] = value as CoverageAccess;
  }
  return columns;
}

/** embed clients `{identifier, metadata}`: the metadata (the identifier is the native id). */
export function projectClient(data: Data): Prisma.ClientUncheckedUpdateInput {
  return isObject(data.metadata) ? { metadata: jsonColumn(data.metadata) } : {};
}

/**
 * The messaging parent of an account record: `undefined` when the record does not say
 * (the dialect's wire has no parent field today: the account goes under the partner root),
 * `null` when it says it has none (the backend's own root: the partner's root account), or
 * the parent's native id.
 */
export function parentOf(data: Data): string | null | undefined {
  if (!has(data, 'parent_id')) return undefined;
  return str(data.parent_id) || null;
}

/** A catalog user's `registered_account_id` (a messaging `customer_id`), when it has one. */
export function registeredAccountOf(data: Data): number | null {
  const value = data.registered_account_id;
  return Number.isSafeInteger(value) ? (value as number) : null;
}

/**
 * The user columns an identity of `kind` speaks for, emptied: what a user keeps of that kind
 * once the identity moves to another user (linkIdentity, unlinkIdentity), so its unique
 * values are free for the receiver.
 */
export function clearedUser(kind: BackendKind): Prisma.UserUncheckedUpdateInput {
  switch (kind) {
    case 'LEARNING':
      return { externalUserId: null };
    case 'CATALOG':
      return { inCatalog: false, email: null, canvasUserUuid: null, userName: null };
    case 'EMBED':
      return { identifier: null, clientId: null, metadata: Prisma.DbNull };
    default:
      return {};
  }
}

/** Whether the user's own columns hold an identity of `kind` (a hosted one, or a connected one's projection). */
export function holdsKind(
  user: { externalUserId: string | null; inCatalog: boolean; identifier: string | null },
  kind: BackendKind,
): boolean {
  return kind === 'LEARNING'
    ? Boolean(user.externalUserId)
    : kind === 'CATALOG'
      ? user.inCatalog
      : kind === 'EMBED'
        ? Boolean(user.identifier)
        : false;
}
