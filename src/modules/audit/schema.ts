// auditEvents: who did what, for admins of the partner.
import { builder } from '../../graphql/builder.js';
import { partnerAdminScope } from '../../auth/visibility.js';
import { nodeLookup } from '../../graphql/nodes.js';
import { DateRangeInput, unseenCursor } from '../../graphql/connections.js';
import { auditWhere } from './queries.js';

builder.prismaNode('AuditEvent', {
  id: { field: 'id' },
  findUnique: nodeLookup('AuditEvent', (id, ctx) => ({ id, ...partnerAdminScope(ctx.principal) }) as { id: string }),
  nullable: true,
  authScopes: { partnerAdmin: true },
  description:
    'One recorded write: who did what to which record, and when. Every write of the ' +
    'graph and the dialects records one in the same transaction. Partner admins only.',
  fields: (t) => ({
    action: t.exposeString('action', { description: 'What happened, e.g. user.merge.' }),
    actorKind: t.exposeString('actorKind', { description: 'operator, api_key, jwt or system.' }),
    actorId: t.exposeString('actorId', { nullable: true, description: 'uuid of the acting user.' }),
    subjectType: t.exposeString('subjectType', {
      description: 'The type of record acted on, e.g. User, Account, Client, ApiKey.',
    }),
    subjectId: t.exposeString('subjectId', { description: 'Native id of the subject.' }),
    // Tagged: a user's keys (an e-mail address among them) are recorded with its creation.
    data: t.expose('data', {
      type: 'JSON',
      nullable: true,
      tag: ['pii'],
      description: "Details of the change, as the action records them (e.g. a grant's kinds); never a credential.",
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it happened.' }),
  }),
});

const AuditFilter = builder.inputType('AuditEventFilter', {
  description: 'Narrows auditEvents; the conditions given all apply.',
  fields: (t) => ({
    subjectId: t.string({ description: 'Native id (uuid, ULID) of the subject.' }),
    action: t.string({ description: 'Exact action, or a prefix ending in "." (e.g. "user.").' }),
    actorId: t.string({ description: 'uuid of the acting user.' }),
    createdAt: t.field({ type: DateRangeInput, description: 'When it happened.' }),
  }),
});

builder.queryField('auditEvents', (t) =>
  t.prismaConnection({
    type: 'AuditEvent',
    cursor: 'id',
    authScopes: { partnerAdmin: true },
    description: "The audit log of the caller's partner, newest first. Partner admins only (others: FORBIDDEN).",
    args: { filter: t.arg({ type: AuditFilter, description: 'Left out: every event.' }) },
    resolve: async (query, _root, { filter }, ctx) => {
      if (
        await unseenCursor(query.cursor, (where) =>
          ctx.prisma.auditEvent.count({ where: { AND: [where, auditWhere(ctx.principal, {})] } }),
        )
      )
        return [];
      return ctx.prisma.auditEvent.findMany({
        ...query,
        where: auditWhere(ctx.principal, filter ?? {}),
        orderBy: { id: 'desc' },
      });
    },
    totalCount: (_c, { filter }, ctx) =>
      ctx.prisma.auditEvent.count({ where: auditWhere(ctx.principal, filter ?? {}) }),
  }),
);
