// Entitlements: grants of one capability to a user.
import type { User } from '@prisma/client';
import { builder } from '../../graphql/builder.js';
import { resultUnion } from '../../graphql/errors.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { EntitlementKindEnum } from '../../graphql/enums.js';
import { UserRef } from '../users/schema.js';
import { idArg } from '../../graphql/mutations.js';
import { grantEntitlements, revokeEntitlements } from './service.js';
import { canSeeUser } from '../../auth/visibility.js';

builder.prismaObject('Entitlement', {
  description: 'One capability granted to a user: which, when and by whom.',
  fields: (t) => ({
    kind: t.expose('kind', { type: EntitlementKindEnum, description: 'The capability granted.' }),
    grantedAt: t.expose('grantedAt', { type: 'DateTime', description: 'When it was granted.' }),
    // The granting admin may be deleted or invisible to the caller (an account admin does not
    // see partner admins): null then, not a FORBIDDEN error from the User type's scopes.
    grantedBy: t.field({
      type: UserRef,
      nullable: true,
      description: 'The admin who granted it; null when that user is deleted or not visible to the caller.',
      select: (_args, _ctx, nestedSelection) => ({ grantedBy: nestedSelection(true) }),
      resolve: (e, _args, ctx) => (e.grantedBy && canSeeUser(ctx.principal, e.grantedBy) ? e.grantedBy : null),
    }),
  }),
});

const EntitlementChangeInput = (name: string, verb: string) =>
  builder.inputType(name, {
    description: `Which user, and which capabilities to ${verb}.`,
    fields: (t) => ({
      userId: t.id({ required: true, description: 'The user: global id or uuid.' }),
      kinds: t.field({
        type: [EntitlementKindEnum],
        required: true,
        description: `The capabilities to ${verb}: 1 to 20 kinds; a kind already in that state is left as it is.`,
      }),
    }),
  });

const EntitlementChangeSuccess = (name: string) =>
  builder.objectRef<{ user: User }>(name).implement({
    description: 'The user, with its entitlements as they are now.',
    fields: (t) => ({
      user: t.field({ type: UserRef, description: 'The user, entitlements changed.', resolve: (p) => p.user }),
    }),
  });

builder.mutationFields((t) => ({
  grantEntitlements: t.field({
    type: EntitlementChangeSuccess('GrantEntitlementsSuccess'),
    errors: resultUnion('GrantEntitlementsResult', NotFoundError, ValidationError),
    authScopes: { admin: true },
    description:
      'Grants capabilities to a user. Admins only, within what they administer; ' +
      'PARTNER_ADMIN and ALL (partner-wide rights) only by a partner admin.',
    args: {
      input: t.arg({
        type: EntitlementChangeInput('GrantEntitlementsInput', 'grant'),
        required: true,
        description: 'The user and the kinds to grant.',
      }),
    },
    resolve: async (_root, { input }, ctx) => ({
      user: await grantEntitlements(ctx, { ...input, userId: idArg('User', input.userId) }),
    }),
  }),
  revokeEntitlements: t.field({
    type: EntitlementChangeSuccess('RevokeEntitlementsSuccess'),
    errors: resultUnion('RevokeEntitlementsResult', NotFoundError, ValidationError),
    authScopes: { admin: true },
    description:
      'Revokes capabilities from a user. Admins only, ' +
      'within what they administer; PARTNER_ADMIN and ALL only by a partner admin.',
    args: {
      input: t.arg({
        type: EntitlementChangeInput('RevokeEntitlementsInput', 'revoke'),
        required: true,
        description: 'The user and the kinds to revoke.',
      }),
    },
    resolve: async (_root, { input }, ctx) => ({
      user: await revokeEntitlements(ctx, { ...input, userId: idArg('User', input.userId) }),
    }),
  }),
}));
