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
  fields: (t) => ({
    kind: t.expose('kind', { type: EntitlementKindEnum }),
    grantedAt: t.expose('grantedAt', { type: 'DateTime' }),
    // The granting admin may be deleted or invisible to the caller (an account admin does not
    // see partner admins): null then, not a FORBIDDEN error from the User type's scopes.
    grantedBy: t.field({
      type: UserRef,
      nullable: true,
      select: (_args, _ctx, nestedSelection) => ({ grantedBy: nestedSelection(true) }),
      resolve: (e, _args, ctx) => (e.grantedBy && canSeeUser(ctx.principal, e.grantedBy) ? e.grantedBy : null),
    }),
  }),
});

const EntitlementChangeInput = (name: string) =>
  builder.inputType(name, {
    fields: (t) => ({
      userId: t.id({ required: true }),
      kinds: t.field({ type: [EntitlementKindEnum], required: true }),
    }),
  });

const EntitlementChangeSuccess = (name: string) =>
  builder.objectRef<{ user: User }>(name).implement({ fields: (t) => ({ user: t.field({ type: UserRef, resolve: (p) => p.user }) }) });

builder.mutationFields((t) => ({
  grantEntitlements: t.field({
    type: EntitlementChangeSuccess('GrantEntitlementsSuccess'),
    errors: resultUnion('GrantEntitlementsResult', NotFoundError, ValidationError),
    authScopes: { admin: true },
    args: { input: t.arg({ type: EntitlementChangeInput('GrantEntitlementsInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => ({ user: await grantEntitlements(ctx, { ...input, userId: idArg('User', input.userId) }) }),
  }),
  revokeEntitlements: t.field({
    type: EntitlementChangeSuccess('RevokeEntitlementsSuccess'),
    errors: resultUnion('RevokeEntitlementsResult', NotFoundError, ValidationError),
    authScopes: { admin: true },
    args: { input: t.arg({ type: EntitlementChangeInput('RevokeEntitlementsInput'), required: true }) },
    resolve: async (_root, { input }, ctx) => ({ user: await revokeEntitlements(ctx, { ...input, userId: idArg('User', input.userId) }) }),
  }),
}));
