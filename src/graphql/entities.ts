// Federation entities. `_entities` calls resolveReference once per representation and
// outside Pothos' field wrappers (no field-level authScopes, no query planning), so each
// entity type resolves its representations through one per-request DataLoader per key:
// one statement for all of them, narrowed by the caller's visibility filter (a foreign,
// unknown or invisible key is simply null), and loading what the `_entities` selection
// asks of that type (relations included) with the prisma plugin's query planning.
import { isUnionType, type GraphQLFieldResolver, type GraphQLResolveInfo, type GraphQLSchema } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import type { PrismaClient } from '@prisma/client';
import type { GraphQLContext } from './builder.js';
import { nativeId } from './ids.js';
import { loadPlanned, type PlannedQuery } from './loaders.js';

/** The include/select the prisma plugin planned for one entity type's selection. */
export type EntityQuery = PlannedQuery;

export interface EntityLoad<K, V> {
  /** The entity type (`__typename` of the representations). */
  typeName: 'User' | 'Account' | 'Client' | 'Course' | 'Enrollment' | 'Order';
  /** Which @key the representation uses: one loader (one statement) per key. */
  keyName: string;
  /** The key's value, or null when it is malformed (resolves to null, like an unknown key). */
  key: K | null;
  /** Loads the rows for `keys`, visibility applied, with `query` spread into findMany. */
  find: (prisma: PrismaClient, keys: K[], query: EntityQuery) => Promise<V[]>;
  keyOf: (row: V) => K;
}

export function loadEntity<K, V>(
  ctx: GraphQLContext,
  info: GraphQLResolveInfo,
  load: EntityLoad<K, V>,
): Promise<V | null> {
  if (load.key === null) return Promise.resolve(null);
  return loadPlanned(
    ctx,
    info,
    { name: `entity:${load.typeName}:${load.keyName}`, typeName: load.typeName, find: load.find, keyOf: load.keyOf },
    load.key,
  );
}

/**
 * The resolveReference of an entity keyed by its global id: the representations of one request
 * load in one findMany; `find` applies the type's visibility (auth/visibility.ts).
 */
export function referenceById<V extends { id: string }>(
  typeName: EntityLoad<string, V>['typeName'],
  find: (prisma: PrismaClient, ids: string[], query: EntityQuery, ctx: GraphQLContext) => Promise<V[]>,
) {
  return (ref: { id: string | number }, ctx: GraphQLContext, info: GraphQLResolveInfo): Promise<V | null> =>
    loadEntity(ctx, info, {
      typeName,
      keyName: 'id',
      key: nativeId(typeName, String(ref.id)),
      find: (prisma, ids, query) => find(prisma, ids, query, ctx),
      keyOf: (row) => row.id,
    });
}

/** A string key from a representation; anything else (number, object, huge) is no key. */
export function stringKey(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 && value.length <= 200 ? value : null;
}

/**
 * Checks each representation before federation's own `_entities` resolver sees it: one that
 * is not an object, names no entity of this subgraph (or an interface such as Node) or
 * carries none of its type's @key fields answers a BAD_USER_INPUT error at its own index,
 * and the others resolve as usual. Unchecked, such a representation throws inside that
 * resolver: the whole list fails with an internal error and a message about resolvers.
 */
export function checkRepresentations(schema: GraphQLSchema): GraphQLSchema {
  const field = schema.getQueryType()?.getFields()._entities;
  const union = schema.getType('_Entity');
  if (!field?.resolve || !isUnionType(union)) return schema;
  const keys = new Map(union.getTypes().map((type) => [type.name, keyFieldsOf(type.extensions)]));
  const expected = [...keys]
    .map(([name, fields]) => `${name} (${fields.map((f) => f.join(' ')).join(' | ')})`)
    .join(', ');
  const resolve = field.resolve as GraphQLFieldResolver<unknown, GraphQLContext, { representations: unknown[] }>;
  field.resolve = (source, args: { representations: unknown[] }, ctx, info) => {
    const problems: (string | null)[] = args.representations.map((representation) =>
      representationProblem(representation, keys, expected),
    );
    const valid = args.representations.filter((_, i) => problems[i] === null);
    const resolved = valid.length ? (resolve(source, { representations: valid }, ctx, info) as unknown[]) : [];
    let next = 0;
    return problems.map((problem, i) =>
      problem === null
        ? resolved[next++]
        : createGraphQLError(`representations[${i}] ${problem}`, { extensions: { code: 'BAD_USER_INPUT' } }),
    );
  };
  return schema;
}

function representationProblem(
  representation: unknown,
  keys: Map<string, string[][]>,
  expected: string,
): string | null {
  if (representation === null || typeof representation !== 'object' || Array.isArray(representation)) {
    return `must be an object with __typename and the fields of one @key: ${expected}`;
  }
  const fields = representation as Record<string, unknown>;
  const typename = fields.__typename;
  if (typeof typename !== 'string') return `has no __typename; expected one of ${expected}`;
  const typeKeys = keys.get(typename);
  if (!typeKeys)
    return (
      `names ${JSON.stringify(typename.slice(0, 100))}, ` +
      `which is not an entity of this subgraph; expected one of ${expected}`
    );
  if (!typeKeys.some((key) => key.every((name) => fields[name] !== undefined && fields[name] !== null))) {
    return `carries none of ${typename}'s keys (${typeKeys.map((key) => key.join(' ')).join(' | ')})`;
  }
  return null;
}

/** The field names of each @key directive Pothos' federation plugin put on an entity type. */
function keyFieldsOf(extensions: Readonly<Record<string, unknown>> | null | undefined): string[][] {
  const directives = (extensions?.directives ?? []) as { name: string; args?: { fields?: unknown } }[];
  return directives
    .filter((d) => d.name === 'key' && typeof d.args?.fields === 'string')
    .map((d) => (d.args!.fields as string).split(/\s+/).filter(Boolean));
}
