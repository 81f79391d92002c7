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
      description:
        "The user the credentials act as (an API key's admin, " +
        "a JWT's `sub`); null for the operator and for anonymous callers.",
      resolve: (query, _v, _args, ctx) =>
        isUser(ctx.principal) ? ctx.prisma.user.findUnique({ ...query, where: { id: ctx.principal.userId } }) : null,
    }),
    partner: t.prismaField({
      type: 'Account',
      nullable: true,
      description: "The root account of the caller's partner; null for the operator and for anonymous callers.",
      resolve: (query, _v, _args, ctx) =>
        isUser(ctx.principal)
          ? ctx.prisma.account.findUnique({ ...query, where: { id: ctx.principal.partnerId } })
          : null,
    }),
    isAdmin: t.boolean({
      description:
        'True when the caller administers something: ' +
        'the whole partner (PARTNER_ADMIN or ALL) or at least one account subtree.',
      resolve: (_v, _args, ctx) => isAdmin(ctx.principal),
    }),
    isPartnerAdmin: t.boolean({
      description: 'True when the caller administers the whole partner (the PARTNER_ADMIN or ALL entitlement).',
      resolve: (_v, _args, ctx) => isUser(ctx.principal) && ctx.principal.partnerAdmin,
    }),
    isOperator: t.boolean({
      description: "True for the operator (OPERATOR_TOKEN), who provisions partners and sees no tenant's data.",
      resolve: (_v, _args, ctx) => ctx.principal?.kind === 'operator',
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: Viewer,
    shareable: true,
    description: 'Who the caller is and what it may do; answered for every caller, anonymous ones included.',
    resolve: () => ({ marker: 'viewer' as const }),
  }),
);
