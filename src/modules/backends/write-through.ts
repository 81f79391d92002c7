// Write-through to ONE connected backend, synchronously (SPEC §10.4, §10.7 "Single vs several"):
// the one home of the rule "for a connected kind the backend is the authority". The users,
// accounts and clients services call it inside their transaction, before they write: the
// backend is asked first and its verdict is the answer (a duplicate is a ConflictError naming
// the key and the backend, unreachable is a BackendUnavailableError, a call its API lacks an
// UnsupportedByBackendError, and each throws before the store is written, so the transaction
// rolls back with nothing changed). What the backend accepted is then recorded as the owner's
// identity, LINKED, and projected onto its columns, in the same transaction.
//
// Hosted kinds (no connected backend of that kind) are untouched: every function here returns
// without a call. A change that would land in two or more backends goes through the outbox
// (src/modules/outbox): callBackends hands its calls to the caller's outbox and calls nothing.
import type { Backend, BackendKind, Prisma, User } from '@prisma/client';
import type { RequestContext } from '../../auth/context.js';
import { ConflictError, ValidationError } from '../../errors.js';
import { BackendUnavailableError, UnsupportedByBackendError } from './errors.js';
import { jsonColumn } from '../../store/json.js';
import { uuidv7 } from '../../store/ids.js';
import {
  BackendError,
  BackendUnavailableError as ConnectorUnavailable,
  connectorOptions,
  createConnector,
} from '../../connectors/index.js';
import { sideEffect, type Tx } from '../../store/transaction.js';
import { dataHash } from '../identities/sink.js';
import { projectIdentity } from '../identities/writes.js';
import type { CatalogUserFields, SourceRecord, WriteOperation } from './contract.js';
import { backendCredential } from './service.js';

type Db = Tx | RequestContext['prisma'];
type Json = Record<string, unknown>;

/** One backend call a change needs, and what a duplicate there is about. */
export interface Call {
  kind: BackendKind;
  operation: WriteOperation;
  /** The key a conflict is about: its input field and value. */
  key?: { field: string; value: string };
  /** Check-then-act: the backend's PUT creates or merges, so an existing record must be found first. */
  mustNotExist?: { stream: 'embed.users'; nativeId: string };
  /** A delete: the backend no longer having the record (404) is the effect wanted, not a refusal. */
  missingIsDone?: boolean;
}

/** The source API call of each operation, for messages. */
const CALLS: Record<WriteOperation['op'], string> = {
  'learning.createAccount': 'POST /accounts',
  'learning.disableAccount': 'DELETE /accounts/{id}',
  'catalog.createUser': 'POST /api/v1/users',
  'catalog.updateUser': 'PUT /api/v1/users/{id}',
  'catalog.deleteUser': 'DELETE /api/v1/users/{id}',
  'messaging.createAccount': 'POST /api/v1/accounts',
  'embed.putUser': 'PUT /v1/headless/user/{identifier}',
  'embed.putClient': 'PUT /v1/headless/client/{identifier}',
  'embed.deleteUser': 'DELETE /v1/headless/user/{identifier}',
  'embed.deleteClient': 'DELETE /v1/headless/client/{identifier}',
};

/** What a backend accepted, to record as an identity of its owner. */
export interface Accepted {
  backend: Backend;
  record: SourceRecord | null;
}

export type Owner = { userId: string } | { accountId: string } | { clientId: string };

/** The partner's connected backends by kind. */
export async function connectedBackends(db: Db, partnerId: string): Promise<Map<BackendKind, Backend>> {
  const rows = await db.backend.findMany({ where: { partnerId, disconnectedAt: null } });
  return new Map(rows.map((b) => [b.kind, b]));
}

/** The backend's connector with its stored credential opened (also the outbox's, src/modules/outbox). */
export function connectorFor(ctx: Pick<RequestContext, 'config'>, backend: Backend) {
  if (!ctx.config) {
    throw new BackendUnavailableError(
      backend,
      null,
      `the ${what(backend)} cannot be reached from here: this process was started without the backends' settings`,
    );
  }
  let credential: string;
  try {
    credential = backendCredential(ctx.config, backend);
  } catch {
    throw new BackendUnavailableError(
      backend,
      null,
      `the ${what(backend)}'s stored credential cannot be opened with this gateway's SECRETS_KEY; nothing was changed`,
    );
  }
  return createConnector(
    { id: backend.id, kind: backend.kind, baseUrl: backend.baseUrl, credential },
    connectorOptions(ctx.config, { logger: undefined }),
  );
}

const what = (backend: Pick<Backend, 'kind'>) => `${backend.kind.toLowerCase()} backend`;

/** A connector's failure as the domain's: unreachable, refused credential and garbage alike are unavailable. */
function unavailable(backend: Backend, error: BackendError): BackendUnavailableError {
  const until = error instanceof ConnectorUnavailable ? error.retryAfter : null;
  const retryAfter = until ? Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000)) : null;
  return new BackendUnavailableError(backend, retryAfter, `${error.message}; nothing was changed`);
}

/**
 * Where a change that needs several backends goes: the outbox (recordChanges of
 * src/modules/outbox), in the caller's transaction.
 */
export type Outbox = (
  calls: { backend: Backend; operation: WriteOperation; mustNotExist?: Call['mustNotExist'] }[],
) => Promise<void>;

/**
 * Carries out the one call a change needs (none: returns []). A change that needs several is
 * handed to `outbox` (which records them in the caller's transaction; nothing is called now,
 * SPEC §10.7 "Single vs several backends"). The caller records the result with
 * `recordAccepted` once its own rows are written. Callers whose changes can only ever reach
 * one backend (accounts, clients, a catalog-only call) pass no outbox.
 */
export async function callBackends(
  ctx: RequestContext,
  backends: Map<BackendKind, Backend>,
  calls: Call[],
  operation: string,
  outbox?: Outbox,
): Promise<Accepted[]> {
  const connected = calls.filter((c) => backends.has(c.kind));
  if (connected.length === 0) return [];
  if (connected.length > 1) {
    // A programming error, not the caller's: every change that can span backends passes its outbox.
    if (!outbox) throw new Error(`${operation} spans ${connected.length} backends but was given no outbox`);
    await outbox(
      connected.map((c) => ({
        backend: backends.get(c.kind)!,
        operation: c.operation,
        ...(c.mustNotExist ? { mustNotExist: c.mustNotExist } : {}),
      })),
    );
    return [];
  }
  const call = connected[0]!;
  return [await callBackend(ctx, backends.get(call.kind)!, call, operation)];
}

/**
 * One backend call, its verdict as the answer: what it accepted, or the typed error. Inside a
 * transaction it runs at most once whatever the retries (`sideEffect`, store/transaction.ts):
 * a retried write replays its verdict instead of sending the call again.
 */
export async function callBackend(
  ctx: RequestContext,
  backend: Backend,
  call: Call,
  operation: string,
): Promise<Accepted> {
  const key = JSON.stringify([backend.id, call.operation, call.mustNotExist ?? null]);
  return sideEffect(key, `the ${what(backend)}'s ${CALLS[call.operation.op]} (${operation})`, async () => {
    const connector = connectorFor(ctx, backend);
    try {
      if (call.mustNotExist) {
        const found = await connector.readOne(call.mustNotExist.stream, call.mustNotExist.nativeId);
        if (found !== 'GONE') throw conflict(backend, call, 'it already has one');
      }
      const outcome = await connector.write(call.operation);
      if (outcome.ok) return { backend, record: outcome.record };
      switch (outcome.refusal) {
        case 'conflict':
          throw conflict(backend, call, outcome.message);
        case 'unsupported':
          throw new UnsupportedByBackendError(
            backend,
            operation,
            `the ${what(backend)} has no call for ${operation} ` +
              `(${outcome.status}: ${outcome.message}); nothing was changed`,
          );
        case 'missing':
          if (call.missingIsDone) return { backend, record: null };
          throw new ConflictError(
            `the ${what(backend)} no longer has this record (${outcome.status}); a sync marks it GONE`,
            call.key?.field,
          );
        default:
          throw new ValidationError(
            `the ${what(backend)} refused it (${outcome.status}): ${outcome.message}`,
            call.key ? `input.${call.key.field}` : 'input',
          );
      }
    } catch (error) {
      if (error instanceof BackendError) throw unavailable(backend, error);
      throw error;
    }
  });
}

/**
 * A key that exists only upstream (SPEC §10.7): a ConflictError naming the key and the backend;
 * the backend cannot say who holds it, so linkIdentity with its id attaches it.
 */
function conflict(backend: Backend, call: Call, message: string): ConflictError {
  const key = call.key ? `${call.key.field} ${JSON.stringify(call.key.value)}` : 'the key';
  return new ConflictError(
    `${key} is already taken in the ${what(backend)} (${message}); ` +
      "linkIdentity with the backend's id attaches it to a user",
    call.key?.field,
  );
}

/**
 * Records what each backend accepted as the owner's LINKED identity and projects it onto the
 * owner (`project: false`: the identity only, e.g. a merged user's catalog record, whose
 * profile moved to the merge target).
 */
export async function recordAccepted(
  tx: Tx,
  accepted: Accepted[],
  owner: Owner,
  { project = true }: { project?: boolean } = {},
): Promise<void> {
  const now = new Date();
  for (const { backend, record } of accepted) {
    if (!record) continue;
    const data = jsonColumn(record.data);
    const fields = {
      key: record.key,
      email: record.email ? record.email.trim().toLowerCase() || null : null,
      sourceUpdatedAt: record.sourceUpdatedAt,
      syncedAt: now,
      status: 'LINKED' as const,
      data,
      dataHash: dataHash(record.data),
      stream: record.stream,
      ...owner,
    };
    const identity = await tx.identity.upsert({
      where: { backendId_entity_nativeId: { backendId: backend.id, entity: record.entity, nativeId: record.nativeId } },
      create: {
        id: uuidv7(),
        partnerId: backend.partnerId,
        backendId: backend.id,
        kind: backend.kind,
        entity: record.entity,
        nativeId: record.nativeId,
        ...fields,
      },
      update: fields,
    });
    if (project) await projectIdentity(tx, identity);
  }
}

// ---------------------------------------------------------------------------- users

const CATALOG_COLUMNS = {
  userName: 'user_name',
  email: 'email_address',
  firstName: 'first_name',
  lastName: 'last_name',
  customFields: 'custom_fields',
  timeZone: 'time_zone',
  locale: 'locale',
} as const;

/** A JSON column's value as plain JSON (jsonColumn wraps it for Prisma: src/store/json.ts). */
function plain(value: unknown): unknown {
  const wrapped =
    value && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function'
      ? (value as { toJSON(): unknown }).toJSON()
      : null;
  return wrapped && typeof wrapped === 'object' && (wrapped as Json).$type === 'Json'
    ? JSON.parse((wrapped as { value: string }).value)
    : value;
}

/** The catalog fields of a user row (or change), as the catalog API names them. */
function catalogFields(row: Json): CatalogUserFields {
  const fields: Json = {};
  for (const [column, wire] of Object.entries(CATALOG_COLUMNS))
    if (row[column] !== undefined) fields[wire] = plain(row[column]);
  return fields as CatalogUserFields;
}

/** The calls that create a new user's identities in their backends (SPEC §10.4 "create user"). */
export function userCreateCalls(row: Prisma.UserCreateManyInput, clientIdentifier: string | null | undefined): Call[] {
  const calls: Call[] = [];
  if (row.externalUserId)
    calls.push({
      kind: 'LEARNING',
      operation: { op: 'learning.createAccount', externalUserId: row.externalUserId },
      key: { field: 'externalUserId', value: row.externalUserId },
    });
  if (row.inCatalog && row.email) {
    const fields = { ...catalogFields(row as Json), user_name: row.userName ?? row.email, email_address: row.email };
    calls.push({
      kind: 'CATALOG',
      operation: { op: 'catalog.createUser', fields },
      key: { field: 'email', value: row.email },
    });
  }
  if (row.identifier) {
    const metadata = plain(row.metadata ?? undefined) as Json | undefined;
    calls.push({
      kind: 'EMBED',
      operation: {
        op: 'embed.putUser',
        identifier: row.identifier,
        fields: { ...(clientIdentifier ? { clientIdentifier } : {}), ...(metadata ? { metadata } : {}) },
      },
      key: { field: 'identifier', value: row.identifier },
      mustNotExist: { stream: 'embed.users', nativeId: row.identifier },
    });
  }
  return calls;
}

/**
 * RFC 7396 patch that turns `before` into `after` (null removes a key): how a replace reaches the
 * embed PUT, which merges.
 */
function replacingPatch(before: Json, after: Json): Json {
  const patch: Json = { ...after };
  for (const key of Object.keys(before)) if (!(key in after)) patch[key] = null;
  return patch;
}

/**
 * The calls of a change to an existing user (`data`, as updateUser/disableUser would write it):
 * a new identity is created in its backend; the catalog profile is PUT to the catalog; the
 * embed metadata or client is PUT to the embed backend; a disable is the learning DELETE.
 * `identities`: the user's LINKED identities by backend id.
 */
export function userChangeCalls(
  user: User,
  data: Prisma.UserUncheckedUpdateInput,
  backends: Map<BackendKind, Backend>,
  identities: Map<string, string>,
  clientIdentifier: string | null | undefined,
): Call[] {
  const calls: Call[] = [];
  const native = (kind: BackendKind) => nativeIn(backends, identities, kind);
  const changed = data as Json;
  if (typeof changed.externalUserId === 'string' && !user.externalUserId) {
    calls.push({
      kind: 'LEARNING',
      operation: { op: 'learning.createAccount', externalUserId: changed.externalUserId },
      key: { field: 'externalUserId', value: changed.externalUserId },
    });
  }
  if (changed.status === 'DISABLED' && user.status !== 'DISABLED' && native('LEARNING')) {
    calls.push({ kind: 'LEARNING', operation: { op: 'learning.disableAccount', nativeId: native('LEARNING')! } });
  }
  const catalog = catalogFields(changed);
  if (changed.inCatalog === true && !user.inCatalog && typeof changed.email === 'string') {
    const fields = {
      ...catalogFields({ ...user, ...changed }),
      user_name: (changed.userName ?? user.userName ?? changed.email) as string,
      email_address: changed.email,
    };
    calls.push({
      kind: 'CATALOG',
      operation: { op: 'catalog.createUser', fields },
      key: { field: 'email', value: changed.email },
    });
  } else if (Object.keys(catalog).length && native('CATALOG')) {
    calls.push({
      kind: 'CATALOG',
      operation: { op: 'catalog.updateUser', nativeId: native('CATALOG')!, fields: catalog },
      ...(typeof changed.email === 'string' ? { key: { field: 'email', value: changed.email } } : {}),
    });
  }
  const identifier = (typeof changed.identifier === 'string' ? changed.identifier : null) ?? user.identifier;
  const embedChanged =
    changed.metadata !== undefined ||
    changed.clientId !== undefined ||
    (typeof changed.identifier === 'string' && !user.identifier);
  if (identifier && embedChanged && (native('EMBED') || !user.identifier)) {
    const fields: { clientIdentifier?: string | null; metadata?: Json } = {};
    if (changed.metadata !== undefined)
      fields.metadata = replacingPatch((user.metadata ?? {}) as Json, (plain(changed.metadata) ?? {}) as Json);
    if (clientIdentifier) fields.clientIdentifier = clientIdentifier;
    const created = !user.identifier;
    calls.push({
      kind: 'EMBED',
      operation: { op: 'embed.putUser', identifier, fields },
      key: { field: 'identifier', value: identifier },
      ...(created ? { mustNotExist: { stream: 'embed.users' as const, nativeId: identifier } } : {}),
    });
  }
  return calls;
}

/** The native id of the user's identity in the connected backend of `kind` (`identities`: from userIdentities). */
function nativeIn(
  backends: Map<BackendKind, Backend>,
  identities: Map<string, string>,
  kind: BackendKind,
): string | undefined {
  const backend = backends.get(kind);
  return backend ? identities.get(backend.id) : undefined;
}

/** The user's LINKED identities in the given backends: backend id → native id. */
export async function userIdentities(
  tx: Tx,
  userId: string,
  backends: Map<BackendKind, Backend>,
): Promise<Map<string, string>> {
  return (await usersIdentities(tx, [userId], backends)).get(userId) ?? new Map();
}

/** userIdentities of several users in one statement: user id → (backend id → native id). */
export async function usersIdentities(
  tx: Tx,
  userIds: string[],
  backends: Map<BackendKind, Backend>,
): Promise<Map<string, Map<string, string>>> {
  const out = new Map<string, Map<string, string>>();
  if (!backends.size || !userIds.length) return out;
  const rows = await tx.identity.findMany({
    where: {
      userId: { in: userIds },
      entity: 'USER',
      status: 'LINKED',
      backendId: { in: [...backends.values()].map((b) => b.id) },
    },
    select: { userId: true, backendId: true, nativeId: true },
  });
  for (const r of rows) {
    const identities = out.get(r.userId!) ?? new Map<string, string>();
    out.set(r.userId!, identities.set(r.backendId, r.nativeId));
  }
  return out;
}

/**
 * Enabling a user whose learning account the connected learning backend holds: the learning
 * API can disable an account but has no call to enable it again (SPEC §10.4).
 */
export async function assertEnableSupported(tx: Tx, user: User): Promise<void> {
  const backends = await connectedBackends(tx, user.partnerId);
  const learning = backends.get('LEARNING');
  if (!learning) return;
  const identities = await userIdentities(tx, user.id, new Map([['LEARNING', learning]]));
  if (identities.has(learning.id)) {
    throw new UnsupportedByBackendError(
      learning,
      'enableUser',
      "the learning backend holds this user's account and its " +
        'API cannot enable a disabled account; nothing was changed',
    );
  }
}

/**
 * deleteUser's calls (SPEC §10.4): for each connected backend holding one of the user's
 * identities, its delete: embed DELETE user with the action and the receiver's embed
 * identifier, catalog DELETE, learning DELETE (which disables: the learning API deletes
 * nothing). A record the backend no longer has counts as deleted. One call is made
 * synchronously by callBackends; two or more are the outbox's (the same calls).
 * `receiver`: the embed identifier of an explicit reallocateTo (undefined: the backend's default).
 */
export function userDeleteCalls(
  backends: Map<BackendKind, Backend>,
  identities: Map<string, string>,
  action: 'REALLOCATE' | 'DELETE' | 'IGNORE',
  receiver: string | undefined,
  clientIdentifier: string | null | undefined,
): Call[] {
  const calls: Call[] = [];
  const native = (kind: BackendKind) => nativeIn(backends, identities, kind);
  const embed = native('EMBED');
  if (embed)
    calls.push({
      kind: 'EMBED',
      operation: {
        op: 'embed.deleteUser',
        identifier: embed,
        action: action.toLowerCase() as 'reallocate' | 'delete' | 'ignore',
        ...(clientIdentifier ? { clientIdentifier } : {}),
        ...(action === 'REALLOCATE' && receiver ? { reallocateTo: receiver } : {}),
      },
      missingIsDone: true,
    });
  const catalog = native('CATALOG');
  if (catalog)
    calls.push({ kind: 'CATALOG', operation: { op: 'catalog.deleteUser', nativeId: catalog }, missingIsDone: true });
  const learning = native('LEARNING');
  if (learning)
    calls.push({
      kind: 'LEARNING',
      operation: { op: 'learning.disableAccount', nativeId: learning },
      missingIsDone: true,
    });
  return calls;
}

/**
 * After a backend accepted a delete: the identities it no longer has are GONE (a sync would
 * find the same). A learning account is only disabled by its DELETE, so it stays LINKED.
 */
export async function markDeletedUpstream(
  tx: Tx,
  accepted: Accepted[],
  owners: { userId: { in: string[] } } | { clientId: string },
): Promise<void> {
  const gone = accepted.filter((a) => a.backend.kind !== 'LEARNING').map((a) => a.backend.id);
  if (gone.length)
    await tx.identity.updateMany({ where: { backendId: { in: gone }, ...owners }, data: { status: 'GONE' } });
}

/** deleteUserDependencies: catalog DELETE /api/v1/users/{id}?only_orders_and_enrollments=true for a catalog user. */
export function userDependenciesCalls(backends: Map<BackendKind, Backend>, identities: Map<string, string>): Call[] {
  const nativeId = nativeIn(backends, identities, 'CATALOG');
  return nativeId
    ? [{ kind: 'CATALOG', operation: { op: 'catalog.deleteUser', nativeId, onlyOrdersAndEnrollments: true } }]
    : [];
}

/**
 * unmergeUser of a user whose catalog record is merged upstream (its identity's data shows
 * merged_into_user_id): catalog PUT /api/v1/users/{id} with clear_merged_into_user_id=true.
 */
export async function userUnmergeCalls(tx: Tx, userId: string, backends: Map<BackendKind, Backend>): Promise<Call[]> {
  const catalog = backends.get('CATALOG');
  if (!catalog) return [];
  const identity = await tx.identity.findFirst({
    where: { userId, backendId: catalog.id, entity: 'USER', status: 'LINKED' },
    select: { nativeId: true, data: true },
  });
  const merged = (identity?.data as Json | null | undefined)?.merged_into_user_id;
  if (!identity || merged === null || merged === undefined) return [];
  return [
    {
      kind: 'CATALOG',
      operation: { op: 'catalog.updateUser', nativeId: identity.nativeId, fields: { clear_merged_into_user_id: true } },
    },
  ];
}

// ---------------------------------------------------------------------------- accounts and clients

/**
 * createAccount on a partner whose messaging backend is connected: messaging POST
 * /api/v1/accounts, which creates a sub-account of the credential's own account, the
 * partner's root (SPEC §10.7 "Messaging tree"); a deeper parent is not expressible there.
 */
export function accountCreateCalls(
  partnerId: string,
  parentId: string,
  name: string,
  backends: Map<BackendKind, Backend>,
): Call[] {
  const messaging = backends.get('MESSAGING');
  if (messaging && parentId !== partnerId) {
    throw new UnsupportedByBackendError(
      messaging,
      'createAccount',
      "the messaging backend creates sub-accounts of the partner's root account " +
        'only (its API has no parent); create it under the root; nothing was changed',
    );
  }
  return [{ kind: 'MESSAGING', operation: { op: 'messaging.createAccount', name } }];
}

/** upsertClient: embed PUT /v1/headless/client/{identifier} with the metadata (creates or replaces). */
export function clientUpsertCalls(identifier: string, metadata: Json): Call[] {
  return [
    {
      kind: 'EMBED',
      operation: { op: 'embed.putClient', identifier, metadata },
      key: { field: 'identifier', value: identifier },
    },
  ];
}

/**
 * deleteClient's calls, each with the user whose change it is (the outbox delivers in order
 * per user): embed DELETE /v1/headless/client/{identifier}, which takes its users and their
 * courses with it there, when the embed backend is connected; and for each member, the
 * deletes of userDeleteCalls in the other connected backends that hold it (its embed record
 * goes with the client). The client's own call is the first member's, delivered before that
 * member's other deletes. `members`: the client's users in id order, with their identities
 * (usersIdentities).
 */
export function clientDeleteCalls(
  backends: Map<BackendKind, Backend>,
  identifier: string,
  members: { userId: string; identities: Map<string, string> }[],
): { userId: string | null; operation: 'DELETE_CLIENT' | 'DELETE_USER'; call: Call }[] {
  const others = new Map([...backends].filter(([kind]) => kind !== 'EMBED'));
  const calls: { userId: string | null; operation: 'DELETE_CLIENT' | 'DELETE_USER'; call: Call }[] = [];
  if (backends.has('EMBED')) {
    const call: Call = { kind: 'EMBED', operation: { op: 'embed.deleteClient', identifier }, missingIsDone: true };
    calls.push({ userId: members[0]?.userId ?? null, operation: 'DELETE_CLIENT', call });
  }
  for (const { userId, identities } of members)
    for (const call of userDeleteCalls(others, identities, 'DELETE', undefined, undefined))
      calls.push({ userId, operation: 'DELETE_USER', call });
  return calls;
}
