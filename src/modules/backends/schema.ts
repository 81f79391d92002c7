// Connected backends in the graph: the Backend and SyncRun nodes, `backends`, and the
// connect/update/disconnect mutations. Partner admins only, everywhere: another caller's
// node(id) of a backend is null, as a foreign one is, and `backends` answers FORBIDDEN.
// The credential is an input field only; no output type has a field that could carry it.
import { BackendKind, BackendStatus, LinkRule, SyncRunStatus, type Backend } from '@prisma/client';
import { builder, type GraphQLContext } from '../../graphql/builder.js';
import { nodeLookup } from '../../graphql/nodes.js';
import { ErrorInterface, resultUnion } from '../../graphql/errors.js';
import { globalId } from '../../graphql/ids.js';
import { idArg } from '../../graphql/mutations.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { BackendUnavailableError, UnsupportedByBackendError } from './errors.js';
import { partnerAdminScope } from '../../auth/visibility.js';
import { isUser } from '../../auth/principal.js';
import { connectBackend, disconnectBackend, listBackends, updateBackend, SYNC_INTERVAL } from './service.js';
import { firstSync } from '../sync/service.js';

export const BackendKindEnum = builder.enumType(BackendKind, {
  name: 'BackendKind',
  description: 'Which of the four systems a backend is (SPEC §1); each speaks its own source API.',
  values: {
    LEARNING: {
      description:
        'The learning platform: partner accounts by external_user_id (bearer token; ' +
        'cannot list, so known accounts are re-read by id).',
    },
    CATALOG: {
      description:
        "The course catalog's users (the key as the bare Authorization value; " +
        'page/per_page, incremental by updated_at_from).',
    },
    MESSAGING: { description: "The messaging platform's account tree (bearer token; after/limit cursors)." },
    EMBED: { description: "The embeddable course builder's clients and users (bearer token; page/length)." },
  },
});
export const BackendStatusEnum = builder.enumType(BackendStatus, {
  name: 'BackendStatus',
  description: "How a backend's requests are going, as its circuit breaker sees them.",
  values: {
    HEALTHY: { description: 'Answering normally.' },
    DEGRADED: { description: 'Recent failures, still working.' },
    FAILING: { description: 'The circuit is open: requests are not sent until it half-opens.' },
    PAUSED: { description: 'Not synced until resumed.' },
  },
});
export const LinkRuleEnum = builder.enumType(LinkRule, {
  name: 'LinkRule',
  description:
    'A rule by which an arriving identity is linked to a user: ' +
    'exactly one matching user links it, none makes a new user, several make a LinkConflict.',
  values: {
    KEY: { description: 'Equal learning external_user_id / embed identifier values are one person.' },
    EMAIL: { description: 'Equal e-mail addresses (case-insensitive) are one person.' },
  },
});
export const SyncRunStatusEnum = builder.enumType(SyncRunStatus, {
  name: 'SyncRunStatus',
  description: 'Where a sync run is: QUEUED → RUNNING → SUCCEEDED, FAILED or CANCELLED.',
  values: {
    QUEUED: { description: 'Waiting for a worker (a run paused by a shutdown waits here too, at its checkpoint).' },
    RUNNING: { description: 'Being read; its counts grow page by page.' },
    SUCCEEDED: { description: 'Every stream read to its end.' },
    FAILED: {
      description:
        'Stopped: the backend could not be reached, ' +
        "refused the credential or answered garbage (see the backend's lastError).",
    },
    CANCELLED: { description: 'Not run: its backend was paused or disconnected.' },
  },
});

const SyncRecordErrorRef = builder
  .objectRef<{ nativeId?: string | null; reason: string }>('SyncRecordError')
  .implement({
    description: 'A record a sync run skipped, and why.',
    fields: (t) => ({
      nativeId: t.string({
        nullable: true,
        description: "The backend's id of the record, when it had one.",
        resolve: (e) => e.nativeId ?? null,
      }),
      reason: t.exposeString('reason', { description: 'Why it was skipped.' }),
    }),
  });

export const SyncRunRef = builder.prismaNode('SyncRun', {
  id: { field: 'id' },
  findUnique: nodeLookup('SyncRun', (id, ctx) => ({ id, ...partnerAdminScope(ctx.principal) }) as { id: string }),
  nullable: true,
  authScopes: { partnerAdmin: true },
  description: 'One read of a backend into the store (SPEC §10.3), with its counts of records read.',
  fields: (t) => ({
    backend: t.relation('backend', { description: 'The backend read.' }),
    status: t.expose('status', { type: SyncRunStatusEnum, description: 'Where the run is.' }),
    full: t.exposeBoolean('full', { description: 'A full pass (every record read), not an incremental one.' }),
    startedAt: t.expose('startedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When a worker first took it (null while QUEUED the first time).',
    }),
    finishedAt: t.expose('finishedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it ended (null until then).',
    }),
    requests: t.exposeInt('requests', { description: 'HTTP requests made to the backend.' }),
    seen: t.exposeInt('seen', { description: 'Records read.' }),
    created: t.exposeInt('created', { description: 'Identities new to the store.' }),
    updated: t.exposeInt('updated', { description: 'Known identities whose data changed.' }),
    linked: t.exposeInt('linked', { description: 'Of `created`, those attached to an existing user.' }),
    gone: t.exposeInt('gone', { description: 'Identities marked GONE.' }),
    conflicts: t.exposeInt('conflicts', { description: 'New link conflicts.' }),
    errors: t.field({
      type: [SyncRecordErrorRef],
      description: 'The first 100 record-level errors.',
      resolve: (run) =>
        Array.isArray(run.errors) ? (run.errors as { nativeId?: string; reason: string }[]).slice(0, 100) : [],
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was queued.' }),
  }),
});

export const BackendRef = builder.prismaNode('Backend', {
  id: { field: 'id' },
  findUnique: nodeLookup('Backend', (id, ctx) => ({ id, ...partnerAdminScope(ctx.principal) }) as { id: string }),
  nullable: true,
  authScopes: { partnerAdmin: true },
  description:
    "One of the partner's own systems, connected (SPEC §10). Its credential is write-only: no field returns it.",
  fields: (t) => ({
    kind: t.expose('kind', {
      type: BackendKindEnum,
      description: 'Which system it is; one backend per kind per partner.',
    }),
    baseUrl: t.exposeString('baseUrl', {
      description: 'The http(s) base URL its source API is reached at (no credentials in it).',
    }),
    status: t.expose('status', {
      type: BackendStatusEnum,
      description: 'How its requests are going (HEALTHY, DEGRADED, FAILING, PAUSED).',
    }),
    lastSyncAt: t.expose('lastSyncAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When its last successful sync run finished; null before the first.',
    }),
    lastError: t.exposeString('lastError', {
      nullable: true,
      description: 'What went wrong last, as a message (never a credential).',
    }),
    syncIntervalSeconds: t.exposeInt('syncIntervalSeconds', {
      description:
        'Seconds between its scheduled incremental syncs ' +
        `(${SYNC_INTERVAL.min} to ${SYNC_INTERVAL.max}; default ${SYNC_INTERVAL.default}).`,
    }),
    linkBy: t.expose('linkBy', {
      type: [LinkRuleEnum],
      description: 'The rules its identities are linked to users by, when they arrive.',
    }),
    syncRuns: t.relatedConnection('syncRuns', {
      cursor: 'id',
      totalCount: true,
      description: 'Newest first.',
      query: () => ({ orderBy: { id: 'desc' } }),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was connected.' }),
    disconnectedAt: t.expose('disconnectedAt', {
      type: 'DateTime',
      nullable: true,
      description:
        'When disconnectBackend disconnected it (then PAUSED, out of `backends`; ' +
        'the identities it brought stay DETACHED and name it); null while connected.',
    }),
  }),
});

// ---------------------------------------------------------------------------- the backends' errors (SPEC §10.4)

/** Only partner admins see backends: anyone else reads an error's `backend` as null. */
const seenBackend = (backend: Backend, ctx: GraphQLContext) =>
  isUser(ctx.principal) && ctx.principal.partnerAdmin ? backend : null;

builder.objectType(BackendUnavailableError, {
  name: 'BackendUnavailableError',
  description:
    'A connected backend this write goes through (the authority for that kind of identity) ' +
    'could not be reached: down, too slow, its circuit open after repeated failures, ' +
    'its stored credential refused, or answering something that is not its API. Nothing was changed, ' +
    'in the store or in the backend; try again after `retryAfter` seconds when it is given.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof BackendUnavailableError,
  fields: (t) => ({
    backend: t.field({
      type: BackendRef,
      nullable: true,
      description:
        'The backend that could not be reached; null for callers who are not partner admins (only they see backends).',
      resolve: (e, _args, ctx) => seenBackend(e.backend, ctx),
    }),
    kind: t.field({
      type: BackendKindEnum,
      description: 'Which kind of backend it is.',
      resolve: (e) => e.backend.kind,
    }),
    retryAfter: t.exposeInt('retryAfter', {
      nullable: true,
      description:
        'Seconds until the backend may be asked again (its Retry-After, ' +
        'or when its circuit half-opens); null when unknown.',
    }),
  }),
});

builder.objectType(UnsupportedByBackendError, {
  name: 'UnsupportedByBackendError',
  description:
    'The connected backend that is the authority for this change has no ' +
    'call for it in its API (e.g. enabling a learning account: ' +
    'the learning API can only disable). Nothing was changed; retrying cannot help.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof UnsupportedByBackendError,
  fields: (t) => ({
    backend: t.field({
      type: BackendRef,
      nullable: true,
      description:
        'The backend that cannot do it; null for callers who are not partner admins (only they see backends).',
      resolve: (e, _args, ctx) => seenBackend(e.backend, ctx),
    }),
    kind: t.field({
      type: BackendKindEnum,
      description: 'Which kind of backend it is.',
      resolve: (e) => e.backend.kind,
    }),
    operation: t.exposeString('operation', { description: 'The operation refused, e.g. enableUser.' }),
  }),
});

builder.queryField('backends', (t) =>
  t.prismaField({
    type: ['Backend'],
    authScopes: { partnerAdmin: true },
    description: "The partner's connected backends, in kind order. Partner admins only (others: FORBIDDEN).",
    resolve: (query, _root, _args, ctx) => listBackends(ctx, query),
  }),
);

// ---------------------------------------------------------------------------- mutations

const BackendSuccess = (name: string, verb: string) =>
  builder.objectRef<Backend>(name).implement({
    description: `The backend, ${verb}.`,
    fields: (t) => ({
      backend: t.field({ type: BackendRef, description: `The backend as ${verb}.`, resolve: (b) => b }),
    }),
  });

const ConnectBackendSuccess = BackendSuccess('ConnectBackendSuccess', 'connected');
const UpdateBackendSuccess = BackendSuccess('UpdateBackendSuccess', 'updated');
const DisconnectBackendSuccess = builder.objectRef<{ id: string }>('DisconnectBackendSuccess').implement({
  description: 'The backend is disconnected: nothing more is read from or written to it.',
  fields: (t) => ({
    disconnectedBackendId: t.id({
      description: 'The global id of the disconnected backend.',
      resolve: (p) => globalId('Backend', p.id),
    }),
  }),
});

const CREDENTIAL = 'Write-only: sealed at rest with the server key and never returned, logged or audited.';
const INTERVAL = `Seconds between incremental syncs, ${SYNC_INTERVAL.min} to ${SYNC_INTERVAL.max}`;

const ConnectBackendInput = builder.inputType('ConnectBackendInput', {
  description: 'A backend to connect; its first full sync is queued at once.',
  fields: (f) => ({
    kind: f.field({ type: BackendKindEnum, required: true, description: 'At most one backend per kind per partner.' }),
    baseUrl: f.string({ required: true, description: 'http(s) URL of its API, without credentials.' }),
    credential: f.string({
      required: true,
      description: `What the API authenticates with (token or key). ${CREDENTIAL}`,
    }),
    syncIntervalSeconds: f.int({ description: `${INTERVAL} (default ${SYNC_INTERVAL.default}).` }),
    linkBy: f.field({
      type: [LinkRuleEnum],
      description: 'How its identities are linked to users (default [KEY, EMAIL]).',
    }),
  }),
});

const UpdateBackendInput = builder.inputType('UpdateBackendInput', {
  description: 'Fields left out stay as they are. The kind cannot change: disconnect and connect instead.',
  fields: (f) => ({
    id: f.id({ required: true, description: 'The backend (global or native id).' }),
    baseUrl: f.string({ description: 'Moving it to another origin needs the credential again.' }),
    credential: f.string({ description: `Replaces the stored one. ${CREDENTIAL}` }),
    syncIntervalSeconds: f.int({ description: `${INTERVAL}.` }),
    linkBy: f.field({
      type: [LinkRuleEnum],
      description: 'The linking rules from now on (identities already linked stay).',
    }),
  }),
});

const DisconnectBackendInput = builder.inputType('DisconnectBackendInput', {
  description: 'The backend to disconnect.',
  fields: (f) => ({ id: f.id({ required: true, description: 'The backend (global or native id).' }) }),
});

builder.mutationFields((t) => ({
  connectBackend: t.field({
    type: ConnectBackendSuccess,
    description:
      "Connects one of the partner's own systems as the backend of its kind, " +
      'and queues its first full sync. Partner admins only.',
    errors: resultUnion('ConnectBackendResult', ValidationError),
    authScopes: { partnerAdmin: true },
    args: { input: t.arg({ type: ConnectBackendInput, required: true, description: 'The backend to connect.' }) },
    resolve: async (_root, { input }, ctx) => {
      const backend = await connectBackend(ctx, input);
      // Its first full import, queued now; should that fail, the schedule queues it shortly.
      await firstSync(ctx, backend).catch(() => {});
      return backend;
    },
  }),
  updateBackend: t.field({
    type: UpdateBackendSuccess,
    description: "Changes a backend's URL, credential, sync interval or linking rules. Partner admins only.",
    errors: resultUnion('UpdateBackendResult', NotFoundError, ValidationError),
    authScopes: { partnerAdmin: true },
    args: {
      input: t.arg({ type: UpdateBackendInput, required: true, description: 'The backend and the fields to change.' }),
    },
    resolve: (_root, { input }, ctx) => updateBackend(ctx, { ...input, id: idArg('Backend', input.id) }),
  }),
  disconnectBackend: t.field({
    type: DisconnectBackendSuccess,
    description:
      'Disconnects a backend: the identities it brought stay on their users, ' +
      'DETACHED; nothing is written to the backend. Partner admins only.',
    errors: resultUnion('DisconnectBackendResult', NotFoundError),
    authScopes: { partnerAdmin: true },
    args: { input: t.arg({ type: DisconnectBackendInput, required: true, description: 'The backend to disconnect.' }) },
    resolve: async (_root, { input }, ctx) => ({ id: await disconnectBackend(ctx, idArg('Backend', input.id)) }),
  }),
}));
