// Identities in the graph (SPEC §10.2, §10.7): User.identities, Account.identities, the
// Identity type, the LinkConflict node and linkConflicts, and the mutations dismissLinkConflict,
// linkIdentity, unlinkIdentity. Resolvers call the identities service; rights live there.
import { LinkConflictStatus, type LinkConflict, type User } from '@prisma/client';
import { builder, type GraphQLContext, type JsonObject } from '../../graphql/builder.js';
import { unseenCursor } from '../../graphql/connections.js';
import { nodeLookup } from '../../graphql/nodes.js';
import { resultUnion } from '../../graphql/errors.js';
import { byKey } from '../../graphql/loaders.js';
import { idArg } from '../../graphql/mutations.js';
import { NotFoundError } from '../../errors.js';
import { isUser } from '../../auth/principal.js';
import { partnerAdminScope, userVisibility, within } from '../../auth/visibility.js';
import { AccountRef } from '../accounts/schema.js';
import { BackendKindEnum, BackendRef } from '../backends/schema.js';
import { UserRef } from '../users/schema.js';
import {
  ACCOUNT_IDENTITIES_SELECT,
  USER_IDENTITIES_SELECT,
  accountIdentities,
  dismissLinkConflict,
  linkConflictWhere,
  linkIdentity,
  storedView,
  unlinkIdentity,
  userIdentities,
  type AccountIdentitySource,
  type IdentityView,
  type UserIdentitySource,
} from './service.js';

const PII = { tag: ['pii'] };

const partnerAdmin = (ctx: GraphQLContext) => isUser(ctx.principal) && ctx.principal.partnerAdmin;

export const IdentityStatusEnum = builder.enumType('IdentityStatus', {
  description: 'Where an identity stands with its backend.',
  values: {
    LINKED: {
      description: 'The backend has it, and it belongs to its user (or account). Hosted identities are always LINKED.',
    },
    GONE: {
      description:
        'The backend no longer has it (missing from a full pass, ' +
        'or answered 404). Its user stays, with its other identities.',
    },
    DETACHED: {
      description:
        'Its backend was disconnected: it stays on its user as the backend last sent it, and is no longer synced.',
    },
  },
});

export const LinkConflictStatusEnum = builder.enumType(LinkConflictStatus, {
  name: 'LinkConflictStatus',
  description: 'Where a link conflict stands.',
  values: {
    OPEN: {
      description:
        'Waiting for an admin: a merge of the candidates, a linkIdentity of the identity, or dismissLinkConflict.',
    },
    RESOLVED: { description: 'Settled by a merge or a linkIdentity.' },
    DISMISSED: { description: 'Dismissed by an admin: the identity stays where linking put it.' },
  },
});

export const IdentityRef = builder.objectRef<IdentityView>('Identity').implement({
  description:
    'One record of a user (or account) in one backend, with its provenance ' +
    "(SPEC §10.2): a connected backend's identity as it last synced it, " +
    "or a hosted one (backend null) read from the gateway's own record.",
  fields: (t) => ({
    backend: t.field({
      type: BackendRef,
      nullable: true,
      description:
        'The connected backend it comes from; null for a hosted identity, ' +
        'and for callers who are not partner admins (only they see backends).',
      resolve: (i, _args, ctx) => (i.backend && partnerAdmin(ctx) ? i.backend : null),
    }),
    kind: t.field({
      type: BackendKindEnum,
      description: 'Which kind of backend it is an identity of.',
      resolve: (i) => i.kind,
    }),
    nativeId: t.string({
      description:
        "The backend's id of it: learning uuid, catalog integer id (as a string), messaging ULID, embed identifier.",
      resolve: (i) => i.nativeId,
    }),
    key: t.string({
      nullable: true,
      ...PII,
      description:
        "The backend's partner-scoped key where it has one: " +
        'external_user_id (learning), email_address (catalog), identifier (embed).',
      resolve: (i) => i.key,
    }),
    status: t.field({ type: IdentityStatusEnum, description: 'LINKED, GONE or DETACHED.', resolve: (i) => i.status }),
    syncedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When a sync last read it; null for a hosted identity.',
      resolve: (i) => i.syncedAt,
    }),
    sourceUpdatedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description:
        "The backend's own last-change time of it, when the backend sends one (hosted: the record's updatedAt).",
      resolve: (i) => i.sourceUpdatedAt,
    }),
    data: t.field({
      type: 'JSONObject',
      ...PII,
      description: "The backend's last record of it, as the backend sent it (in its dialect's wire shape).",
      resolve: (i) => i.data as JsonObject,
    }),
  }),
});

builder.prismaObjectField(UserRef, 'identities', (t) =>
  t.field({
    type: [IdentityRef],
    description:
      'One identity per backend the user is known to: connected ones with their ' +
      'provenance, hosted ones (backend null) from its own record. Kind order.',
    select: () => USER_IDENTITIES_SELECT,
    resolve: (u) => userIdentities(u as unknown as UserIdentitySource),
  }),
);

builder.prismaObjectField(AccountRef, 'identities', (t) =>
  t.field({
    type: [IdentityRef],
    description:
      "The account's identities: the messaging backend's record of " +
      'it when connected, else the hosted one (the account itself).',
    select: () => ACCOUNT_IDENTITIES_SELECT,
    resolve: (a) => accountIdentities(a as unknown as AccountIdentitySource),
  }),
);

// ---------------------------------------------------------------------------- conflicts

/** Users by id within the caller's visibility, one statement per request for every conflict's candidates. */
const visibleUser = (ctx: GraphQLContext, id: string) =>
  ctx.loaders
    .get<string, User>('linkConflictCandidates', async (ids, prisma) =>
      byKey(
        ids,
        await prisma.user.findMany({ where: within({ id: { in: [...ids] } }, userVisibility(ctx.principal)) }),
        (u) => u.id,
      ),
    )
    .load(id);

export const LinkConflictRef = builder.prismaNode('LinkConflict', {
  id: { field: 'id' },
  findUnique: nodeLookup('LinkConflict', (id, ctx) => ({ id, ...partnerAdminScope(ctx.principal) }) as { id: string }),
  nullable: true,
  authScopes: { partnerAdmin: true },
  description:
    'An identity linking could not place on one user (SPEC §10.7): several users matched it, ' +
    'or its data holds a unique value another user has. Partner admins only.',
  fields: (t) => ({
    identity: t.field({
      type: IdentityRef,
      description:
        'The identity linking could not place (it became its own user, or kept its user without that value).',
      select: () => ({ identity: { include: { backend: true } } }),
      resolve: (c) => storedView((c as unknown as { identity: Parameters<typeof storedView>[0] }).identity),
    }),
    identityUser: t.field({
      type: UserRef,
      nullable: true,
      description: 'The user the identity is on now; null when the caller cannot see it.',
      select: () => ({ identity: { select: { userId: true } } }),
      resolve: async (c, _args, ctx) => {
        const userId = (c as unknown as { identity: { userId: string | null } }).identity.userId;
        return userId ? visibleUser(ctx, userId) : null;
      },
    }),
    candidates: t.field({
      type: [UserRef],
      description: 'The users it matched (or whose value it could not take). Ones since deleted are left out.',
      resolve: async (c, _args, ctx) =>
        (await Promise.all(c.candidateIds.map((id) => visibleUser(ctx, id)))).filter((u): u is User => Boolean(u)),
    }),
    reason: t.string({
      description:
        'MATCH (several users matched it by the linkBy rules, or each already had this kind) ' +
        'or PROJECTION (a unique value of it is held by another user).',
      resolve: (c) => c.reason,
    }),
    status: t.expose('status', { type: LinkConflictStatusEnum, description: 'OPEN, RESOLVED or DISMISSED.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When linking recorded it.' }),
    resolvedAt: t.expose('resolvedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When it was resolved or dismissed.',
    }),
  }),
});

builder.queryField('linkConflicts', (t) =>
  t.prismaConnection({
    type: 'LinkConflict',
    cursor: 'id',
    authScopes: { partnerAdmin: true },
    description: "The partner's link conflicts, newest first. Partner admins only (others: FORBIDDEN).",
    args: {
      status: t.arg({ type: LinkConflictStatusEnum, description: 'Only conflicts of this status; left out: all.' }),
    },
    resolve: async (query, _root, { status }, ctx) => {
      const where = linkConflictWhere(ctx, status);
      if (
        await unseenCursor(query.cursor, (w) =>
          ctx.prisma.linkConflict.count({ where: { AND: [w, linkConflictWhere(ctx)] } }),
        )
      )
        return [];
      return ctx.prisma.linkConflict.findMany({ ...query, where, orderBy: { id: 'desc' } });
    },
    totalCount: (_c, { status }, ctx) => ctx.prisma.linkConflict.count({ where: linkConflictWhere(ctx, status) }),
  }),
);

// ---------------------------------------------------------------------------- mutations

const DismissLinkConflictSuccess = builder.objectRef<LinkConflict>('DismissLinkConflictSuccess').implement({
  description: 'The conflict, now DISMISSED.',
  fields: (t) => ({
    linkConflict: t.field({ type: LinkConflictRef, description: 'The dismissed conflict.', resolve: (c) => c }),
  }),
});

const LinkIdentitySuccess = builder.objectRef<{ user: User }>('LinkIdentitySuccess').implement({
  description: 'The identity, now on the user.',
  fields: (t) => ({
    user: t.field({ type: UserRef, description: 'The user that received the identity.', resolve: (r) => r.user }),
  }),
});

const UnlinkIdentitySuccess = builder.objectRef<{ user: User; detachedUser: User }>('UnlinkIdentitySuccess').implement({
  description: 'The user without the identity, and the new user that holds it.',
  fields: (t) => ({
    user: t.field({ type: UserRef, description: 'The user the identity was taken from.', resolve: (r) => r.user }),
    detachedUser: t.field({
      type: UserRef,
      description: 'The new user (same account) that now holds the identity alone.',
      resolve: (r) => r.detachedUser,
    }),
  }),
});

builder.mutationFields((t) => ({
  dismissLinkConflict: t.field({
    type: DismissLinkConflictSuccess,
    errors: resultUnion('DismissLinkConflictResult', NotFoundError),
    authScopes: { partnerAdmin: true },
    description:
      'Dismisses an OPEN link conflict: the identity stays where linking put it. ' +
      'Partner admins only; one not OPEN is a CONFLICT.',
    args: {
      input: t.arg({
        type: builder.inputType('DismissLinkConflictInput', {
          description: 'Which conflict.',
          fields: (f) => ({ id: f.id({ required: true, description: 'The LinkConflict: global id or uuid.' }) }),
        }),
        required: true,
        description: 'The conflict.',
      }),
    },
    resolve: (_root, { input }, ctx) => dismissLinkConflict(ctx, idArg('LinkConflict', input.id)),
  }),
  linkIdentity: t.field({
    type: LinkIdentitySuccess,
    errors: resultUnion('LinkIdentityResult', NotFoundError),
    authScopes: { admin: true },
    description:
      "Attaches a backend's identity to a user by hand, moving it from the user " +
      'holding it (a user left with no identity becomes MERGED into the receiver); ' +
      "resolves the identity's link conflicts. A receiver that already has an identity " +
      'of that kind is a CONFLICT (unlink it first). Admins, on users they administer.',
    args: {
      input: t.arg({
        type: builder.inputType('LinkIdentityInput', {
          description: 'Which identity goes to which user.',
          fields: (f) => ({
            userId: f.id({ required: true, description: 'The receiving user: global id or uuid.' }),
            backendId: f.id({ required: true, description: 'The backend the identity is of: global id or uuid.' }),
            nativeId: f.string({
              required: true,
              description: "The backend's id of the identity (Identity.nativeId).",
            }),
          }),
        }),
        required: true,
        description: 'The user, the backend and the native id.',
      }),
    },
    resolve: async (_root, { input }, ctx) => {
      const { user } = await linkIdentity(ctx, {
        userId: idArg('User', input.userId),
        backendId: idArg('Backend', input.backendId),
        nativeId: input.nativeId,
      });
      return { user };
    },
  }),
  unlinkIdentity: t.field({
    type: UnlinkIdentitySuccess,
    errors: resultUnion('UnlinkIdentityResult', NotFoundError),
    authScopes: { admin: true },
    description:
      "Detaches the user's identity of one backend into a new user of the same account (`detachedUser`). " +
      "The user's only identity cannot be unlinked (CONFLICT). Admins, on users they administer.",
    args: {
      input: t.arg({
        type: builder.inputType('UnlinkIdentityInput', {
          description: 'Which identity leaves which user.',
          fields: (f) => ({
            userId: f.id({ required: true, description: 'The user: global id or uuid.' }),
            backendId: f.id({
              required: true,
              description: 'The backend whose identity leaves it: global id or uuid.',
            }),
          }),
        }),
        required: true,
        description: 'The user and the backend.',
      }),
    },
    resolve: (_root, { input }, ctx) =>
      unlinkIdentity(ctx, { userId: idArg('User', input.userId), backendId: idArg('Backend', input.backendId) }),
  }),
}));
