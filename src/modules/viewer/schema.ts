// `viewer`: who the caller is, answered for every caller (anonymous too).
import { builder } from '../../graphql/builder.js';
import { isAdmin, isUser } from '../../auth/principal.js';

const Viewer = builder.objectRef<{ readonly marker: 'viewer' }>('Viewer');

Viewer.implement({
  description: 'The caller: a user of one partner, the operator, or nobody.',
  // Many subgraphs define a `viewer`: shareable, so that a supergraph composes.
  shareable: true,
  fields: (t) => ({
    user: t.prismaField({
      type: 'User',
      nullable: true,
      resolve: (query, _v, _args, ctx) =>
        isUser(ctx.principal) ? ctx.prisma.user.findUnique({ ...query, where: { id: ctx.principal.userId } }) : null,
    }),
    partner: t.prismaField({
      type: 'Account',
      nullable: true,
      resolve: (query, _v, _args, ctx) =>
        isUser(ctx.principal) ? ctx.prisma.account.findUnique({ ...query, where: { id: ctx.principal.partnerId } }) : null,
    }),
    isAdmin: t.boolean({ resolve: (_v, _args, ctx) => isAdmin(ctx.principal) }),
    isPartnerAdmin: t.boolean({ resolve: (_v, _args, ctx) => isUser(ctx.principal) && ctx.principal.partnerAdmin }),
    isOperator: t.boolean({ resolve: (_v, _args, ctx) => ctx.principal?.kind === 'operator' }),
  }),
});

builder.queryField('viewer', (t) => t.field({ type: Viewer, shareable: true, resolve: () => ({ marker: 'viewer' as const }) }));
