// Abuse limits: GraphQL document limits (graphql-armor), per-credential rate limits
// (rate-limiter-flexible, in memory or shared through Redis), IP allow-lists.
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { ForbiddenError } from '../errors.js';
import { RateLimitedError } from './errors.js';
import { ipAllowed } from './ip.js';
import type { Principal } from './principal.js';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import {
  getNamedType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isInterfaceType,
  Kind,
  typeFromAST,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionNode,
  type ValueNode,
} from 'graphql';

/** Document limits; each is tested just under and just over in test/limits.test.ts. */
export const DOCUMENT_LIMITS = {
  maxDepth: 12,
  // Aliases cost nothing by themselves; what they multiply is counted by the cost limit. A
  // gateway merges parallel fetches into one request with an alias per fetch (Hive Gateway:
  // `_v0__entities`, `_v1_user`, …), so the limit leaves room for that, about as many as the
  // token limit lets such a document hold.
  maxAliases: 100,
  // A 100-node page of every User field costs about 26,000; a connection nested in a
  // 100-node page (100 × 100) about 660,000. Page sizes and list lengths count whether
  // written in the document or sent as variables.
  maxCost: 50_000,
  maxTokens: 2000,
  maxDirectives: 20,
} as const;

export function armorPlugin(config: Config) {
  return EnvelopArmorPlugin({
    maxDepth: { n: DOCUMENT_LIMITS.maxDepth, ignoreIntrospection: true, flattenFragments: true },
    maxAliases: { n: DOCUMENT_LIMITS.maxAliases },
    // graphql-armor's cost sees only the document, so a page size or a list sent as a
    // variable would cost as one item: inputLimitsPlugin counts the cost instead.
    costLimit: { enabled: false },
    maxTokens: { n: DOCUMENT_LIMITS.maxTokens },
    maxDirectives: { n: DOCUMENT_LIMITS.maxDirectives },
    // With introspection on, field suggestions reveal nothing new and help analysts.
    blockFieldSuggestion: { enabled: config.disableIntrospection },
  });
}

/**
 * Before anything runs: every GraphQL list input (nodes' ids, _entities' representations, a
 * list inside an input object), written in the document or sent in a variable, holds at
 * most `config.maxListItems` items, and the operation's cost, with page sizes and list
 * lengths taken from the variables, is at most DOCUMENT_LIMITS.maxCost. Either refusal is a
 * 400 with BAD_USER_INPUT. The work is linear in the document and the variables.
 */
export function inputLimitsPlugin(config: Config): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const document = args.document as DocumentNode;
      const operation = document.definitions.find(
        (d): d is OperationDefinitionNode =>
          d.kind === Kind.OPERATION_DEFINITION && (!args.operationName || d.name?.value === args.operationName),
      );
      if (!operation) return;
      let problem: string | null;
      try {
        const cost = operationCost(
          args.schema,
          document,
          operation,
          (args.variableValues ?? {}) as Record<string, unknown>,
          config.maxListItems,
        );
        problem =
          cost > DOCUMENT_LIMITS.maxCost
            ? `Query Cost limit of ${DOCUMENT_LIMITS.maxCost} exceeded, found ${Math.round(cost)}.`
            : null;
      } catch (error) {
        if (!(error instanceof ListTooLong)) throw error;
        problem = error.message;
      }
      if (problem) {
        setResultAndStopExecution({
          errors: [createGraphQLError(problem, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } })],
        });
      }
    },
  };
}

class ListTooLong extends Error {
  constructor(at: string, length: number, max: number) {
    super(`${at} has ${length} items; a list takes at most ${max}`);
  }
}

// graphql-armor's cost model (objectCost 2, scalarCost 1, depthCostFactor 1.5, fragments not
// flattened), so the calibration above holds; a field's multiplier is the largest of its
// `first`/`last` and the lengths of the lists in its arguments, literal or variable.
const OBJECT_COST = 2;
const SCALAR_COST = 1;
const DEPTH_FACTOR = 1.5;
// Plus, for each root field (an alias each: a lookup, a mutation, a merged gateway fetch),
// what its own statement and resolution cost: measured, about as much CPU as 250 units of a
// page, so that 100 aliased `user(id:)` lookups cost what their ~1.5 ms each weigh.
const ROOT_FIELD_COST = 250;

function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  maxItems: number,
): number {
  // The longest list in each variable (checked against the cap on the way).
  const variableLists = new Map<string, number>();
  for (const definition of operation.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    const type = typeFromAST(schema, definition.type as never) as GraphQLInputType | undefined;
    if (type && name in variables) variableLists.set(name, longestList(variables[name], type, `$${name}`, maxItems));
  }
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const fragmentCosts = new Map<string, number>();
  const root = schema.getRootType(operation.operation) ?? undefined;

  const multiplier = (
    field: GraphQLField<unknown, unknown> | undefined,
    node: SelectionNode & { kind: Kind.FIELD },
  ): number => {
    let n = 1;
    for (const arg of node.arguments ?? []) {
      const name = arg.name.value;
      if (name === 'first' || name === 'last') {
        const value =
          arg.value.kind === Kind.INT
            ? Number.parseInt(arg.value.value, 10)
            : arg.value.kind === Kind.VARIABLE
              ? variables[arg.value.name.value]
              : null;
        if (typeof value === 'number' && Number.isFinite(value)) n = Math.max(n, value);
      }
      const definition = field?.args.find((a) => a.name === name);
      if (definition)
        n = Math.max(
          n,
          longestLiteralList(arg.value, definition.type, `${node.name.value}(${name}`, maxItems, variableLists),
        );
    }
    return n;
  };

  const cost = (node: SelectionNode | FragmentDefinitionNode, parent: GraphQLNamedType | undefined): number => {
    if (node.kind === Kind.FIELD && node.name.value === '__schema') return 0;
    if (node.kind === Kind.FRAGMENT_SPREAD) {
      const name = node.name.value;
      const known = fragmentCosts.get(name);
      if (known !== undefined) return SCALAR_COST + DEPTH_FACTOR * known;
      const fragment = fragments.get(name);
      if (!fragment) return SCALAR_COST;
      const fragmentCost = cost(fragment, schema.getType(fragment.typeCondition.name.value) ?? undefined);
      fragmentCosts.set(name, fragmentCost);
      return SCALAR_COST + DEPTH_FACTOR * fragmentCost;
    }
    let type = parent;
    let n = 1;
    const rootField =
      node.kind === Kind.FIELD && parent === root && node.name.value !== '__typename' ? ROOT_FIELD_COST : 0;
    if (node.kind === Kind.FIELD) {
      const field =
        parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[node.name.value] : undefined;
      n = multiplier(field, node);
      type = field ? getNamedType(field.type) : undefined;
    } else if (node.kind === Kind.INLINE_FRAGMENT && node.typeCondition) {
      type = schema.getType(node.typeCondition.name.value) ?? undefined;
    }
    if (!node.selectionSet) return rootField + SCALAR_COST;
    let total = OBJECT_COST;
    for (const child of node.selectionSet.selections) total += DEPTH_FACTOR * cost(child, type);
    return rootField + total * n;
  };

  return operation.selectionSet.selections.reduce((sum, child) => sum + cost(child, root), 0);
}

/** The longest GraphQL list in a variable's value; throws ListTooLong past the cap. */
function longestList(value: unknown, type: GraphQLInputType, at: string, max: number): number {
  if (isNonNullType(type)) return longestList(value, type.ofType, at, max);
  if (isListType(type)) {
    const item = type.ofType as GraphQLInputType;
    // A single value where a list is expected is coerced to a list of one.
    if (!Array.isArray(value)) return longestList(value, item, at, max);
    if (value.length > max) throw new ListTooLong(at, value.length, max);
    let longest = value.length;
    if (!isLeafType(getNamedType(item))) {
      value.forEach((v, i) => {
        longest = Math.max(longest, longestList(v, item, `${at}[${i}]`, max));
      });
    }
    return longest;
  }
  if (isInputObjectType(type) && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const fields = type.getFields();
    let longest = 0;
    for (const [key, v] of Object.entries(value)) {
      if (Object.hasOwn(fields, key))
        longest = Math.max(longest, longestList(v, fields[key]!.type, `${at}.${key}`, max));
    }
    return longest;
  }
  // Scalars (JSON ones included) are single values, whatever they hold.
  return 0;
}

/** The same for an argument written in the document, whose variables were measured already. */
function longestLiteralList(
  node: ValueNode,
  type: GraphQLInputType,
  at: string,
  max: number,
  variableLists: Map<string, number>,
): number {
  if (node.kind === Kind.VARIABLE) return variableLists.get(node.name.value) ?? 0;
  if (isNonNullType(type)) return longestLiteralList(node, type.ofType, at, max, variableLists);
  if (isListType(type)) {
    const item = type.ofType as GraphQLInputType;
    if (node.kind !== Kind.LIST) return longestLiteralList(node, item, at, max, variableLists);
    if (node.values.length > max) throw new ListTooLong(`${at}:)`, node.values.length, max);
    let longest = node.values.length;
    for (const v of node.values) longest = Math.max(longest, longestLiteralList(v, item, at, max, variableLists));
    return longest;
  }
  if (isInputObjectType(type) && node.kind === Kind.OBJECT) {
    const fields = type.getFields();
    let longest = 0;
    for (const f of node.fields) {
      const key = f.name.value;
      if (Object.hasOwn(fields, key))
        longest = Math.max(longest, longestLiteralList(f.value, fields[key]!.type, `${at}.${key}`, max, variableLists));
    }
    return longest;
  }
  return 0;
}

export interface RateLimiter {
  /** Counts one request (or `points`) for `key`; throws RateLimitedError past the limit. */
  consume(key: string, points?: number): Promise<{ remaining: number }>;
  close(): Promise<void>;
}

export function createRateLimiter(config: Config): RateLimiter {
  const options = { keyPrefix: 'account-gateway:rl', points: config.rateLimitPerMinute, duration: 60 };
  let redis: Redis | undefined;
  let limiter: RateLimiterAbstract;
  if (config.redisUrl) {
    // Commands wait for the connection at start-up; past one retry they fail over to the
    // in-memory insurance limiter instead of hanging requests.
    redis = new Redis(config.redisUrl, { enableOfflineQueue: true, maxRetriesPerRequest: 1 });
    redis.on('error', () => {
      /* reported by the limiter's own fallback below */
    });
    // Replicas share counters through Redis; if Redis is down, each replica limits alone.
    limiter = new RateLimiterRedis({
      ...options,
      storeClient: redis,
      insuranceLimiter: new RateLimiterMemory(options),
    });
  } else {
    limiter = new RateLimiterMemory(options);
  }
  return {
    async consume(key, points = 1) {
      try {
        const res = await limiter.consume(key, points);
        return { remaining: res.remainingPoints };
      } catch (error) {
        if (error instanceof RateLimiterRes)
          throw new RateLimitedError(Math.max(1, Math.ceil(error.msBeforeNext / 1000)));
        throw error;
      }
    },
    async close() {
      redis?.disconnect();
    },
  };
}

/**
 * A batched request counts once per operation: the guard counted the request, this plugin
 * the other operations, so batching does not multiply a credential's budget.
 */
export function batchedOperationsPlugin(rateLimiter: RateLimiter): Plugin {
  return {
    onRequestParse({ serverContext }) {
      return {
        async onRequestParseDone({ requestParserResult }) {
          if (!Array.isArray(requestParserResult) || requestParserResult.length < 2) return;
          const { principal, ip } = serverContext as { principal?: Principal | null; ip?: string };
          try {
            await rateLimiter.consume(rateLimitKey(principal ?? null, ip ?? ''), requestParserResult.length - 1);
          } catch (error) {
            if (!(error instanceof RateLimitedError)) throw error;
            const retryAfter = String(error.retryAfterSeconds);
            throw createGraphQLError(error.message, {
              extensions: { code: error.code, http: { status: 429, headers: { 'retry-after': retryAfter } } },
            });
          }
        },
      };
    },
  };
}

/** The rate-limit bucket of a request: its credential, or its address when it has none. */
export function rateLimitKey(principal: Principal | null, ip: string): string {
  if (!principal) return `ip:${ip}`;
  if (principal.kind === 'operator') return 'operator';
  return principal.apiKeyId ? `key:${principal.apiKeyId}` : `user:${principal.userId}`;
}

/** Refuses a request from outside an allow-list that applies to the caller's accounts. */
export function assertIpAllowed(principal: Principal | null, ip: string, surface: 'graphql' | 'rest'): void {
  if (principal?.kind !== 'user') return;
  const lists = principal.allowLists[surface];
  if (lists.every((cidrs) => ipAllowed(ip, cidrs))) return;
  throw new ForbiddenError(`requests from ${ip} are not allowed for this account (IP allow-list)`);
}
