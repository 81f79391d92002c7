// The Client node (embed clients) and its reads.
import type { Client, PendingChange } from '@prisma/client';
import { builder, type JsonObject } from '../../graphql/builder.js';
import { nodeLookup } from '../../graphql/nodes.js';
import { notFound, resultUnion } from '../../graphql/errors.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { BackendUnavailableError, UnsupportedByBackendError } from '../backends/errors.js';
import { globalId } from '../../graphql/ids.js';
import { referenceById } from '../../graphql/entities.js';
import { sqlTwin, visibleRows } from '../../graphql/sql-fields.js';
import { optionalIdArg } from '../../graphql/mutations.js';
import { deleteClient, upsertClient } from './service.js';
import { clientVisibility, within } from '../../auth/visibility.js';
import { unseenCursor } from '../../graphql/connections.js';

export const ClientRef = builder.prismaNode('Client', {
  id: { field: 'id' },
  findUnique: nodeLookup(
    'Client',
    (id, ctx) => within({ id }, clientVisibility(ctx.principal)) as { id: string; partnerId_identifier: never },
  ),
  nullable: true,
  description:
    'An embed client: an organisation of the embed platform, named by a caller-chosen identifier, ' +
    'with its users. Admins see the clients of the accounts they administer; a user sees its own client.',
  fields: (t) => ({
    identifier: t.exposeString('identifier', { description: 'Caller-chosen, unique per partner.' }),
    metadata: t.field({
      type: 'JSONObject',
      tag: ['pii'],
      description:
        'Free-form JSON object set by the caller (upsertClient replaces it whole). May hold personal data (tag pii).',
      resolve: (c) => c.metadata as JsonObject,
      ...sqlTwin((c) => `${c}.metadata`),
    }),
    account: t.relation('account', { description: 'The account the client belongs to.' }),
    users: t.relatedConnection('users', {
      cursor: 'id',
      totalCount: true,
      description: 'The users of this client that the caller may see, oldest first.',
      ...visibleRows('User'),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the client was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the client last changed.' }),
  }),
});

// Federation: other subgraphs reference a client by its global id.
builder.asEntity(ClientRef, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: referenceById('Client', (prisma, ids, query, ctx) =>
    prisma.client.findMany({ ...query, where: within({ id: { in: ids } }, clientVisibility(ctx.principal)) }),
  ),
});

builder.queryFields((t) => ({
  client: t.prismaField({
    type: 'Client',
    nullable: true,
    authScopes: { member: true },
    description:
      "The client of the caller's partner with this identifier; " +
      'null with a NOT_FOUND error when the caller may not see such a client.',
    args: { identifier: t.arg.string({ required: true, description: 'The client identifier.' }) },
    resolve: async (query, _root, { identifier }, ctx) =>
      (await ctx.prisma.client.findFirst({
        ...query,
        where: within({ identifier }, clientVisibility(ctx.principal)),
      })) ?? notFound('Client'),
  }),
  clients: t.prismaConnection({
    type: 'Client',
    cursor: 'id',
    authScopes: { member: true },
    description: 'The embed clients the caller may see, oldest first.',
    resolve: async (query, _root, _args, ctx) => {
      if (
        await unseenCursor(query.cursor, (where) =>
          ctx.prisma.client.count({ where: { AND: [where, clientVisibility(ctx.principal)] } }),
        )
      )
        return [];
      return ctx.prisma.client.findMany({ ...query, where: clientVisibility(ctx.principal), orderBy: { id: 'asc' } });
    },
    totalCount: (_conn, _args, ctx) => ctx.prisma.client.count({ where: clientVisibility(ctx.principal) }),
  }),
}));

// ---------------------------------------------------------------------------- mutations

const UpsertClientSuccess = builder.objectRef<{ client: Client; created: boolean }>('UpsertClientSuccess').implement({
  description: 'The client as it is now, and whether this call created it.',
  fields: (t) => ({
    client: t.field({ type: ClientRef, description: 'The client as it is now.', resolve: (p) => p.client }),
    created: t.exposeBoolean('created', {
      description: 'True when this call created the client, false when it updated it.',
    }),
  }),
});

/** Its `pendingChanges` (the outbox's, when the deletion needs several backend calls): src/modules/outbox/schema.ts. */
export const DeleteClientSuccess = builder
  .objectRef<{ id: string; pendingChanges: PendingChange[] }>('DeleteClientSuccess')
  .implement({
    description: 'The client, its users and their courses are deleted.',
    fields: (t) => ({
      deletedClientId: t.id({
        description: 'Global id of the deleted client.',
        resolve: (p) => globalId('Client', p.id),
      }),
    }),
  });

builder.mutationFields((t) => ({
  upsertClient: t.field({
    type: UpsertClientSuccess,
    errors: resultUnion(
      'UpsertClientResult',
      NotFoundError,
      ValidationError,
      BackendUnavailableError,
      UnsupportedByBackendError,
    ),
    // Both: a scope map passes when any one of its scopes does.
    authScopes: { $all: { admin: true, plan: 'CORE' } },
    description:
      'Creates the embed client with this identifier, ' +
      'or updates it when the partner has one. Admins on the CORE plan or above.',
    args: {
      input: t.arg({
        description: 'The client.',
        type: builder.inputType('UpsertClientInput', {
          description: 'The client identifier, and what to set.',
          fields: (f) => ({
            identifier: f.string({
              required: true,
              description: 'Caller-chosen, unique per partner: at most 255 characters, without "/".',
            }),
            metadata: f.field({
              type: 'JSONObject',
              tag: ['pii'],
              description: 'Replaces the whole metadata object; left out (or null), the metadata stays as it is.',
            }),
            accountId: f.id({ description: 'Account of a new client (default: the partner).' }),
          }),
        }),
        required: true,
      }),
    },
    resolve: (_root, { input }, ctx) =>
      upsertClient(ctx, { ...input, accountId: optionalIdArg('Account', input.accountId) }),
  }),
  deleteClient: t.field({
    type: DeleteClientSuccess,
    errors: resultUnion(
      'DeleteClientResult',
      NotFoundError,
      ValidationError,
      BackendUnavailableError,
      UnsupportedByBackendError,
    ),
    authScopes: { admin: true },
    description:
      'Deletes an embed client with its users and their courses. Admins on the AUTOMATE plan or above, ' +
      "of every account the client's users are in. On a partner with connected backends it reaches " +
      'each that holds the client or its users (the embed backend DELETE client, ' +
      "the others each member's delete): one call is made at once, its verdict the answer; several go " +
      'through the outbox, and the answer comes at once with the `pendingChanges` still on their way.',
    args: {
      input: t.arg({
        type: builder.inputType('DeleteClientInput', {
          description: 'The client to delete.',
          fields: (f) => ({ identifier: f.string({ required: true, description: 'The client identifier.' }) }),
        }),
        required: true,
        description: 'The client.',
      }),
    },
    resolve: (_root, { input }, ctx) => deleteClient(ctx, input.identifier),
  }),
}));
