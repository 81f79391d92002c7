// The one SchemaBuilder: plugins, scalars and the shared context type. It defines no
// domain types; each module adds its own (src/modules/*/schema.ts).
import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin, { AuthScopeFailureType, type AuthFailure } from '@pothos/plugin-scope-auth';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import DirectivesPlugin from '@pothos/plugin-directives';
import FederationPlugin from '@pothos/plugin-federation';
import DocsPlugin, { TOTAL_COUNT_DESCRIPTION } from './docs-plugin.js';
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

/** Connection page sizes: the most `first`/`last` may ask for, and the size when neither is given. */
export const MAX_PAGE = 100;
export const DEFAULT_PAGE = 20;

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
  // DocsPlugin appends to a field's description the typed errors it can answer (docs-plugin.ts).
  plugins: [ErrorsPlugin, ScopeAuthPlugin, PrismaPlugin, RelayPlugin, DirectivesPlugin, FederationPlugin, DocsPlugin],
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
        : new GraphQLError('Authentication required', {
            extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
          }),
  },
  prisma: {
    client: (ctx) => ctx.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    // A resolver that forgets to spread `query` would silently cost an extra query per row.
    onUnusedQuery: 'error',
    maxConnectionSize: MAX_PAGE,
    defaultConnectionSize: DEFAULT_PAGE,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodesOnConnection: false,
    // Every Relay subgraph of a supergraph defines the same PageInfo: let them share it.
    pageInfoTypeOptions: {
      shareable: true,
      description: 'Where a page of a connection sits in the whole list, and the cursors to page on from.',
    },
    hasNextPageFieldOptions: {
      description: 'True when more items follow this page (pass `endCursor` as `after` to read them).',
    },
    hasPreviousPageFieldOptions: {
      description: 'True when items precede this page (pass `startCursor` as `before` to read them).',
    },
    startCursorFieldOptions: { description: "The first edge's cursor; null on an empty page." },
    endCursorFieldOptions: { description: "The last edge's cursor; null on an empty page." },
    // Connections and edges: one description for all (each type's name says what it lists).
    defaultConnectionTypeOptions: {
      description:
        'One page of a list: its edges, where it sits (`pageInfo`) ' +
        'and how many items the whole list has (`totalCount`).',
    },
    defaultEdgeTypeOptions: { description: 'One item of a connection page, with the cursor that names its position.' },
    edgesFieldOptions: { description: "The page's items, in the list's order." },
    pageInfoFieldOptions: { description: 'Where this page sits in the list, and the cursors to page on from.' },
    cursorFieldOptions: {
      description: 'Opaque position of this item: pass it as `after` or `before` to page on from here.',
    },
    nodeFieldOptions: { description: 'The item.' },
    firstArgOptions: {
      description:
        'How many items to read from the start of the list (or after `after`): 0 or more, ' +
        `at most ${MAX_PAGE} are answered (a larger value reads ${MAX_PAGE}); ` +
        `${DEFAULT_PAGE} when neither first nor last is given. Not with \`before\` or \`last\`.`,
    },
    lastArgOptions: {
      description:
        'How many items to read from the end of the list (or before `before`): ' +
        `0 or more, at most ${MAX_PAGE} are answered. Not with \`after\` or \`first\`.`,
    },
    afterArgOptions: { description: 'Start after this cursor (an `endCursor` or edge `cursor` of an earlier page).' },
    beforeArgOptions: { description: 'End before this cursor (a `startCursor` or edge `cursor` of an earlier page).' },
    nodeTypeOptions: {
      description: 'An object with a global id: fetch any of them again with `node(id:)` or `nodes(ids:)`.',
    },
    idFieldOptions: {
      description:
        'Opaque global id (Relay): unique across types, stable; use it with `node`, ' +
        '`nodes` and the mutations. Native ids are fields of their own.',
    },
    // node/nodes: a malformed or unknown id is null (like a foreign one), never an error.
    decodeGlobalID: (id) => decodeNodeId(id),
    // One statement per node type, not one lookup per id (nodes.ts).
    // @shareable like PageInfo: every Relay subgraph defines node/nodes (and Node).
    nodeQueryOptions: {
      shareable: true,
      description:
        'The object with this global id, of any type; null when it names ' +
        'nothing the caller may see (unknown, malformed and foreign ids alike).',
      args: { id: { description: 'A global id (the `id` field of any Node).' } },
      resolve: (_root, args, ctx, info) => resolveNodes(ctx, info, [args.id]).then(([node]) => node),
    },
    nodesQueryOptions: {
      shareable: true,
      description:
        'The objects with these global ids, in the order given; ' +
        'null in place of an id that names nothing the caller may see.',
      args: {
        ids: { description: 'Global ids, of any types mixed; at most MAX_LIST_ITEMS (100 by default) in one list.' },
      },
      resolve: (_root, args, ctx, info) => resolveNodes(ctx, info, args.ids),
    },
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
    if (f.kind === AuthScopeFailureType.AnyAuthScopes || f.kind === AuthScopeFailureType.AllAuthScopes)
      return f.failures.flatMap(wanted);
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

builder.queryType({
  description:
    "The reads. Every caller sees only its own partner's data (unknown and foreign ids " +
    'alike answer NOT_FOUND or null); inside the partner an admin sees what it administers, ' +
    `any other user itself. Lists are Relay connections (at most ${MAX_PAGE} items a page).`,
});
builder.mutationType({
  description:
    'The writes. Each takes one `input` and answers a result union: its success type, or a typed error (`... ' +
    'on Error { code message }`) when the write was refused, in which case nothing changed. Each field ' +
    'lists the errors it can answer. Every write is one transaction and is recorded in `auditEvents`.',
});

// Every connection answers totalCount; each connection field supplies it (a count, or a
// thunk that runs only when asked for).
builder.globalConnectionField('totalCount', (t) =>
  t.int({
    description: TOTAL_COUNT_DESCRIPTION,
    resolve: async (connection) => {
      const total = connection.totalCount;
      if (total === undefined) throw new Error('connection without totalCount');
      return typeof total === 'function' ? total() : total;
    },
  }),
);
