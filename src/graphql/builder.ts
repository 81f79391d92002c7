// The one SchemaBuilder: plugins, scalars and the shared context type. It defines no
// domain types; each module adds its own (src/modules/*/schema.ts).
import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import DirectivesPlugin from '@pothos/plugin-directives';
import FederationPlugin from '@pothos/plugin-federation';
import { EmailAddressResolver, JSONObjectResolver, JSONResolver, UUIDResolver } from 'graphql-scalars';
import { GraphQLError } from 'graphql';
import type { Plan } from '@prisma/client';
import type PrismaTypes from '../generated/pothos-types.js';
import { getDatamodel } from '../generated/pothos-types.js';
import type { RequestContext } from '../auth/context.js';
import { isAdmin, isUser, planAtLeast } from '../auth/principal.js';
import type { Loaders } from './loaders.js';
import { DateTimeScalar, IPCIDRScalar } from './scalars.js';
import { decodeNodeId } from './ids.js';

export interface GraphQLContext extends RequestContext {
  readonly loaders: Loaders;
}

export type JsonObject = { [key: string]: unknown };

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  PrismaTypes: PrismaTypes;
  AuthScopes: {
    authenticated: boolean;
    operator: boolean;
    member: boolean;
    admin: boolean;
    partnerAdmin: boolean;
    plan: Plan;
  };
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    UUID: { Input: string; Output: string };
    EmailAddress: { Input: string; Output: string };
    JSON: { Input: unknown; Output: unknown };
    JSONObject: { Input: JsonObject; Output: JsonObject };
    IPCIDR: { Input: string; Output: string };
  };
  Connection: { totalCount?: number | (() => number | Promise<number>) };
  DefaultFieldNullability: false;
}>({
  // Non-null unless a field says otherwise: clients should not null-check an id.
  defaultFieldNullability: false,
  // Wrappers run outermost first: authorization, then typed errors, then data loading.
  plugins: [ScopeAuthPlugin, ErrorsPlugin, PrismaPlugin, RelayPlugin, DirectivesPlugin, FederationPlugin],
  scopeAuth: {
    authScopes: (ctx) => ({
      authenticated: ctx.principal !== null,
      operator: ctx.principal?.kind === 'operator',
      member: isUser(ctx.principal),
      admin: isAdmin(ctx.principal),
      partnerAdmin: isUser(ctx.principal) && ctx.principal.partnerAdmin,
      plan: (minimum) => isUser(ctx.principal) && planAtLeast(ctx.principal.plan, minimum),
    }),
    // scope-auth's own error has no code; clients switch on extensions.code.
    unauthorizedError: (_parent, ctx) =>
      ctx.principal
        ? new GraphQLError('Not allowed', { extensions: { code: 'FORBIDDEN' } })
        : new GraphQLError('Authentication required', { extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } } }),
  },
  prisma: {
    client: (ctx) => ctx.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    // A resolver that forgets to spread `query` would silently cost an extra query per row.
    onUnusedQuery: 'error',
    maxConnectionSize: 100,
    defaultConnectionSize: 20,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodesOnConnection: false,
    // Every Relay subgraph of a supergraph defines the same PageInfo: let them share it.
    pageInfoTypeOptions: { shareable: true },
    // node/nodes: a malformed or unknown id is null (like a foreign one), never an error.
    decodeGlobalID: (id) => decodeNodeId(id),
  },
  errors: {
    // No defaultTypes: an unexpected error must stay an error and be masked.
    defaultTypes: [],
  },
});

builder.addScalarType('DateTime', DateTimeScalar);
builder.addScalarType('UUID', UUIDResolver);
builder.addScalarType('EmailAddress', EmailAddressResolver);
builder.addScalarType('JSON', JSONResolver);
builder.addScalarType('JSONObject', JSONObjectResolver);
builder.addScalarType('IPCIDR', IPCIDRScalar);

builder.queryType({});
builder.mutationType({});

// Every connection answers totalCount; each connection field supplies it (a count, or a
// thunk that runs only when asked for).
builder.globalConnectionField('totalCount', (t) =>
  t.int({
    resolve: async (connection) => {
      const total = connection.totalCount;
      if (total === undefined) throw new Error('connection without totalCount');
      return typeof total === 'function' ? total() : total;
    },
  }),
);
