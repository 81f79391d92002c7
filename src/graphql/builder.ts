// The one SchemaBuilder: plugins, scalars and the shared context type. It defines no
// domain types; each module adds its own (src/modules/*/schema.ts).
import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin, { AuthScopeFailureType, type AuthFailure } from '@pothos/plugin-scope-auth';
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
import { ForbiddenError } from '../errors.js';
import type { Loaders } from './loaders.js';
import { DateTimeScalar, IPCIDRScalar } from './scalars.js';
import { decodeNodeId } from './ids.js';
import { resolveNodes } from './nodes.js';

// The federation plugin prints `tag` on enum values too; only its option type lacks it.
declare global {
  namespace PothosSchemaTypes {
    interface EnumValueConfig<Types extends import('@pothos/core').SchemaTypes> {
      tag?: string[] | string;
    }
  }
}

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
  // Wrappers run outermost first. Typed errors wrap authorization, so that a mutation's
  // refusal by its authScopes is the ForbiddenError of its result union, not a field error
  // that would null the whole document (every mutation field is non-null). Fields without
  // `errors` are not wrapped, so authorization still runs before any resolver.
  plugins: [ErrorsPlugin, ScopeAuthPlugin, PrismaPlugin, RelayPlugin, DirectivesPlugin, FederationPlugin],
  scopeAuth: {
    authScopes: (ctx) => ({
      authenticated: ctx.principal !== null,
      operator: ctx.principal?.kind === 'operator',
      member: isUser(ctx.principal),
      admin: isAdmin(ctx.principal),
      partnerAdmin: isUser(ctx.principal) && ctx.principal.partnerAdmin,
      plan: (minimum) => isUser(ctx.principal) && planAtLeast(ctx.principal.plan, minimum),
    }),
    // The domain's ForbiddenError: a mutation answers it as the ForbiddenError member of its
    // union; elsewhere it is masked to a field error with code FORBIDDEN. No principal is a
    // failure of the request (401), never a typed result.
    unauthorizedError: (_parent, ctx, _info, result) =>
      ctx.principal
        ? new ForbiddenError(needs(result.failure))
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
    // One statement per node type, not one lookup per id (nodes.ts).
    // @shareable like PageInfo: every Relay subgraph defines node/nodes (and Node).
    nodeQueryOptions: { shareable: true, resolve: (_root, args, ctx, info) => resolveNodes(ctx, info, [args.id]).then(([node]) => node) },
    nodesQueryOptions: { shareable: true, resolve: (_root, args, ctx, info) => resolveNodes(ctx, info, args.ids) },
  },
  errors: {
    // No defaultTypes: an unexpected error must stay an error and be masked.
    defaultTypes: [],
  },
});

const SCOPE_NEEDS: Record<string, (parameter: unknown) => string> = {
  authenticated: () => 'credentials',
  operator: () => 'the operator',
  member: () => 'a user of a partner',
  admin: () => 'admin rights',
  partnerAdmin: () => 'partner admin rights',
  plan: (plan) => `the ${String(plan)} plan or above`,
};

/** What the refused scopes asked for, as a client can act on it. */
function needs(failure: AuthFailure): string {
  const wanted = (f: AuthFailure): string[] => {
    if (f.kind === AuthScopeFailureType.AuthScope) return [SCOPE_NEEDS[f.scope]?.(f.parameter) ?? f.scope];
    if (f.kind === AuthScopeFailureType.AnyAuthScopes || f.kind === AuthScopeFailureType.AllAuthScopes) return f.failures.flatMap(wanted);
    return [];
  };
  const list = wanted(failure);
  if (!list.length) return 'not allowed';
  return `not allowed: this needs ${list.join(failure.kind === AuthScopeFailureType.AllAuthScopes ? ' and ' : ' or ')}`;
}

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
