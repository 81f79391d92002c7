// Federation entities. `_entities` calls resolveReference once per representation and
// outside Pothos' field wrappers (no field-level authScopes, no query planning), so each
// entity type resolves its representations through one per-request DataLoader per key:
// one statement for all of them, narrowed by the caller's visibility filter (a foreign,
// unknown or invisible key is simply null), and loading what the `_entities` selection
// asks of that type (relations included) with the prisma plugin's query planning.
import type { GraphQLResolveInfo } from 'graphql';
import { queryFromInfo } from '@pothos/plugin-prisma';
import type { PrismaClient } from '@prisma/client';
import type { GraphQLContext } from './builder.js';
import { byKey } from './loaders.js';

/** The include/select the prisma plugin planned for one entity type's selection. */
export type EntityQuery = { include?: any; select?: any };

export interface EntityLoad<K, V> {
  /** The entity type (`__typename` of the representations). */
  typeName: 'User' | 'Account' | 'Client';
  /** Which @key the representation uses: one loader (one statement) per key. */
  keyName: string;
  /** The key's value, or null when the representation is malformed (resolves to null). */
  key: K | null;
  /** Loads the rows for `keys`, visibility applied, with `query` spread into findMany. */
  find: (prisma: PrismaClient, keys: K[], query: EntityQuery) => Promise<V[]>;
  keyOf: (row: V) => K;
}

export function loadEntity<K, V>(ctx: GraphQLContext, info: GraphQLResolveInfo, load: EntityLoad<K, V>): Promise<V | null> {
  if (load.key === null) return Promise.resolve(null);
  // Every representation of one `_entities` field shares its info, so the query is planned
  // once per field (an aliased second `_entities` gets its own loader and plan).
  const name = `entity:${load.typeName}:${load.keyName}:${String(info.path.key)}`;
  const loader = ctx.loaders.get<K, V>(name, async (keys, prisma) => {
    // Records the plan's mappings under the `_entities` path, so the relation fields below
    // read what this statement loaded instead of querying per entity.
    const query = queryFromInfo({ context: ctx, info, typeName: load.typeName }) as EntityQuery;
    const rows = await load.find(prisma, [...keys], query);
    return byKey(keys, rows, load.keyOf);
  });
  return loader.load(load.key);
}

/** A string key from a representation; anything else (number, object, huge) is no key. */
export function stringKey(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 && value.length <= 200 ? value : null;
}
