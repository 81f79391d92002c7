// The outbox in the graph (SPEC §10.7 "Pending changes are visible even when their user is
// not"): the PendingChange node, User.pendingChanges, the partner admins' pendingChanges
// connection, retryChange and dropChange, and the pendingChanges of deleteUser's and deleteClient's payloads.
// Rights live in the service (pendingChangeVisibility).
import { PendingChangeOperation, PendingChangeStatus, type PendingChange, type User } from '@prisma/client';
import { builder, type GraphQLContext } from '../../graphql/builder.js';
import { unseenCursor } from '../../graphql/connections.js';
import { resultUnion } from '../../graphql/errors.js';
import { globalId } from '../../graphql/ids.js';
import { byKey } from '../../graphql/loaders.js';
import { idArg } from '../../graphql/mutations.js';
import { nodeLookup } from '../../graphql/nodes.js';
import { NotFoundError } from '../../errors.js';
import { isUser } from '../../auth/principal.js';
import { userVisibility, within } from '../../auth/visibility.js';
import { BackendRef } from '../backends/schema.js';
import { DeleteClientSuccess } from '../clients/schema.js';
import {
  CreateUserSuccess,
  DeleteUserSuccess,
  EnsureUserSuccess,
  UpdateUserSuccess,
  UserRef,
} from '../users/schema.js';
import { dropChange, pendingChangeVisibility, pendingChangesWhere, retryChange } from './service.js';

export const PendingChangeStatusEnum = builder.enumType(PendingChangeStatus, {
  name: 'PendingChangeStatus',
  description: 'Where a pending change stands.',
  values: {
    PENDING: {
      description:
        'On its way: it is attempted at nextAttemptAt (again after ' +
        'a failure that may pass: the backend down, slow or busy).',
    },
    FAILED: {
      description:
        'Failed for good (the backend refused it, or it kept failing): ' +
        "it waits for retryChange or dropChange, and the user's later changes wait behind it.",
    },
  },
});

export const PendingChangeOperationEnum = builder.enumType(PendingChangeOperation, {
  name: 'PendingChangeOperation',
  description: 'The change a pending change carries to its backend.',
  values: {
    DELETE_USER: {
      description:
        'deleteUser: embed DELETE user (with the action and the receiver), ' +
        'catalog DELETE user, or learning DELETE account.',
    },
    CREATE_USER: {
      description:
        'createUser, ensureUser or a createUsers item whose keys land in several backends: ' +
        'learning POST account, catalog POST user, or embed PUT user (the one record of that backend).',
    },
    UPDATE_USER: {
      description:
        'updateUser whose change lands in several backends: catalog PUT user (the profile) ' +
        'or embed PUT user (the metadata, replaced or patched as the call asked).',
    },
    DELETE_CLIENT: {
      description:
        'deleteClient whose effect lands in several backends: embed DELETE client (which ' +
        "takes the client's users with it there), carried as a change of the client's first member; " +
        "its other members' deletes elsewhere are their DELETE_USER changes.",
    },
  },
});

/** Users by id within the caller's visibility: one statement per request for every change's user. */
const visibleUser = (ctx: GraphQLContext, id: string) =>
  ctx.loaders
    .get<string, User>('pendingChangeUsers', async (ids, prisma) =>
      byKey(
        ids,
        await prisma.user.findMany({ where: within({ id: { in: [...ids] } }, userVisibility(ctx.principal)) }),
        (u) => u.id,
      ),
    )
    .load(id);

const partnerAdmin = (ctx: GraphQLContext) => isUser(ctx.principal) && ctx.principal.partnerAdmin;

export const PendingChangeRef = builder.prismaNode('PendingChange', {
  id: { field: 'id' },
  findUnique: nodeLookup(
    'PendingChange',
    (id, ctx) => ({ id, ...pendingChangeVisibility(ctx.principal) }) as unknown as { id: string },
  ),
  nullable: true,
  authScopes: { admin: true },
  description:
    'One backend call of a change that spans several connected backends, still on its way ' +
    '(SPEC §10.4): the outbox delivers it in order per user, retrying while its backend is ' +
    'unavailable. Delivered ones leave; a FAILED one waits for retryChange or dropChange. ' +
    "Partner admins see their partner's; account admins those of the users they administer.",
  fields: (t) => ({
    user: t.field({
      type: UserRef,
      nullable: true,
      description: 'The user it is about; null once the user is deleted (or when the caller cannot see it).',
      resolve: (c, _args, ctx) => visibleUser(ctx, c.userId),
    }),
    userId: t.id({
      description: "Global id of the user it is about, kept after the user's deletion.",
      resolve: (c) => globalId('User', c.userId),
    }),
    backend: t.field({
      type: BackendRef,
      nullable: true,
      description:
        'The connected backend it goes to; null for callers who are not partner admins (only they see backends).',
      select: { backend: true },
      resolve: (c, _args, ctx) => (partnerAdmin(ctx) ? (c as unknown as { backend: never }).backend : null),
    }),
    operation: t.expose('operation', { type: PendingChangeOperationEnum, description: 'What it does there.' }),
    status: t.expose('status', { type: PendingChangeStatusEnum, description: 'PENDING or FAILED.' }),
    attempts: t.exposeInt('attempts', { description: 'Attempts made so far (since the last retryChange).' }),
    lastError: t.exposeString('lastError', {
      nullable: true,
      description: 'What went wrong at the last attempt, in words (never a credential); null before any failure.',
    }),
    nextAttemptAt: t.expose('nextAttemptAt', {
      type: 'DateTime',
      description: 'While PENDING: not attempted before this time. For a FAILED one: meaningless until retryChange.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the change was recorded.' }),
  }),
});

builder.prismaObjectField(UserRef, 'pendingChanges', (t) =>
  t.relation('pendingChanges', {
    description:
      "The user's changes still on their way to connected backends, " +
      'in delivery order (SPEC §10.7); empty when none. Admins only (others: empty).',
    query: (_args, ctx) => ({ where: pendingChangeVisibility(ctx.principal), orderBy: { sequence: 'asc' } }),
  }),
);

builder.queryField('pendingChanges', (t) =>
  t.prismaConnection({
    type: 'PendingChange',
    cursor: 'id',
    authScopes: { partnerAdmin: true },
    description:
      "The partner's pending changes, oldest first, also those of " +
      'users since deleted. Partner admins only (others: FORBIDDEN).',
    args: {
      status: t.arg({ type: PendingChangeStatusEnum, description: 'Only changes of this status; left out: all.' }),
    },
    resolve: async (query, _root, { status }, ctx) => {
      const where = pendingChangesWhere(ctx, status);
      if (
        await unseenCursor(query.cursor, (w) =>
          ctx.prisma.pendingChange.count({ where: { AND: [w, pendingChangesWhere(ctx)] } }),
        )
      )
        return [];
      return ctx.prisma.pendingChange.findMany({ ...query, where, orderBy: { id: 'asc' } });
    },
    totalCount: (_c, { status }, ctx) => ctx.prisma.pendingChange.count({ where: pendingChangesWhere(ctx, status) }),
  }),
);

// A create or update whose effect lands in two or more connected backends answers at once; its
// payload shows the user's entries still on their way (SPEC §10.7), the ones it created among them.
for (const payload of [CreateUserSuccess, EnsureUserSuccess, UpdateUserSuccess] as const)
  builder.objectField(payload, 'pendingChanges', (t) =>
    t.field({
      type: [PendingChangeRef],
      description:
        "The user's outbox entries still on their way, in delivery order: " +
        'those this call created (one per connected backend when it reached two or more), ' +
        'and any earlier one not yet delivered; empty when it reached at most one backend (at once).',
      resolve: (p: { user: User }, _args, ctx) =>
        ctx.prisma.pendingChange.findMany({
          where: { userId: p.user.id, ...pendingChangeVisibility(ctx.principal) },
          orderBy: { sequence: 'asc' },
        }),
    }),
  );

// A deletion answers with the entries it created (SPEC §10.7).
for (const [payload, description] of [
  [
    DeleteUserSuccess,
    'The outbox entries this deletion created, one per connected backend that held ' +
      'the user (SPEC §10.7); empty when it reached at most one backend (at once).',
  ],
  [
    DeleteClientSuccess,
    'The outbox entries this deletion created, in delivery order (SPEC §10.7): ' +
      "the embed backend's DELETE client and each member's deletes in the other connected backends that " +
      'hold it, when that is more than one call; empty when it reached at most one backend call (at once).',
  ],
] as const)
  builder.objectField(payload, 'pendingChanges', (t) =>
    t.field({
      type: [PendingChangeRef],
      description,
      resolve: (p: { pendingChanges: PendingChange[] }) => p.pendingChanges,
    }),
  );

// ---------------------------------------------------------------------------- mutations

const ChangeIdInput = (name: string, what: string) =>
  builder.inputType(name, {
    description: `The pending change to ${what}.`,
    fields: (f) => ({ id: f.id({ required: true, description: 'The PendingChange: global id or uuid.' }) }),
  });

const RetryChangeSuccess = builder.objectRef<PendingChange>('RetryChangeSuccess').implement({
  description: 'The change, PENDING and due now.',
  fields: (t) => ({
    change: t.field({ type: PendingChangeRef, description: 'The change, as it is now.', resolve: (c) => c }),
  }),
});

const DropChangeSuccess = builder.objectRef<{ id: string }>('DropChangeSuccess').implement({
  description: 'The change is given up: it will not reach its backend.',
  fields: (t) => ({
    droppedChangeId: t.id({
      description: 'Global id of the dropped change.',
      resolve: (p) => globalId('PendingChange', p.id),
    }),
  }),
});

builder.mutationFields((t) => ({
  retryChange: t.field({
    type: RetryChangeSuccess,
    errors: resultUnion('RetryChangeResult', NotFoundError),
    authScopes: { admin: true },
    description:
      'Makes a pending change due now: a FAILED one becomes PENDING with its attempts counted from 0, ' +
      'a PENDING one waiting for its retry is attempted at once. One being attempted right ' +
      'now is a CONFLICT. Partner admins, and account admins for the users they administer.',
    args: {
      input: t.arg({ type: ChangeIdInput('RetryChangeInput', 'retry'), required: true, description: 'The change.' }),
    },
    resolve: (_root, { input }, ctx) => retryChange(ctx, idArg('PendingChange', input.id)),
  }),
  dropChange: t.field({
    type: DropChangeSuccess,
    errors: resultUnion('DropChangeResult', NotFoundError),
    authScopes: { admin: true },
    description:
      'Gives a pending change up: it never reaches its backend (what the change did in ' +
      "the gateway stays), and the user's later changes go on. One being attempted right " +
      'now is a CONFLICT. Partner admins, and account admins for the users they administer.',
    args: {
      input: t.arg({ type: ChangeIdInput('DropChangeInput', 'drop'), required: true, description: 'The change.' }),
    },
    resolve: async (_root, { input }, ctx) => ({ id: await dropChange(ctx, idArg('PendingChange', input.id)) }),
  }),
}));
