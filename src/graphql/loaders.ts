// Per-request DataLoaders, created on first use. Each batches the lookups of one request
// (node/nodes, federation `_entities`, principal checks) into one statement per kind.
import DataLoader from 'dataloader';
import type { GraphQLResolveInfo } from 'graphql';
import { queryFromInfo } from '@pothos/plugin-prisma';
import type { PrismaClient } from '@prisma/client';
import type { GraphQLContext } from './builder.js';

export class Loaders {
  private readonly cache = new Map<string, DataLoader<unknown, unknown>>();
  constructor(private readonly prisma: PrismaClient) {}

  /** The loader registered under `name`, made on first use with `batch`. */
  get<K, V>(
    name: string,
    batch: (keys: readonly K[], prisma: PrismaClient) => Promise<(V | null)[]>,
  ): DataLoader<K, V | null> {
    let loader = this.cache.get(name) as DataLoader<K, V | null> | undefined;
    if (!loader) {
      loader = new DataLoader<K, V | null>((keys) => batch(keys, this.prisma), { maxBatchSize: 500 });
      this.cache.set(name, loader as DataLoader<unknown, unknown>);
    }
    return loader;
  }
}

/** Orders `rows` to match `keys`, with null where a key found nothing. */
export function byKey<K, V>(keys: readonly K[], rows: V[], keyOf: (row: V) => K): (V | null)[] {
  const map = new Map(rows.map((row) => [keyOf(row), row]));
  return keys.map((key) => map.get(key) ?? null);
}

/** The include/select the prisma plugin planned for one type's selection under a field. */
/* biome-ignore lint/suspicious/noExplicitAny: each model has its own include/select type; the plugin
   plans the one of the model the loader reads */
export type PlannedQuery = { include?: any; select?: any };

export interface PlannedLoad<K, V> {
  /** Loader name: one loader (one statement) per name and per field of the document. */
  name: string;
  /** The Prisma-backed type the rows become (its selection is what gets planned). */
  typeName: string;
  /** Loads the rows for `keys`, visibility applied, with `query` spread into findMany. */
  find: (prisma: PrismaClient, keys: K[], query: PlannedQuery) => Promise<V[]>;
  keyOf: (row: V) => K;
}

/**
 * Loads one row by key for a list field that resolves many (nodes, `_entities`): the keys
 * of one field share a loader, so they cost one statement, and the selection below the field
 * is planned once into it (the plan's mappings are recorded under the field's path, so the
 * relation fields below read what this statement loaded instead of querying per row).
 */
export function loadPlanned<K, V>(
  ctx: GraphQLContext,
  info: GraphQLResolveInfo,
  load: PlannedLoad<K, V>,
  key: K,
): Promise<V | null> {
  // Every item of one field shares its info; an aliased second field gets its own loader and plan.
  const loader = ctx.loaders.get<K, V>(`${load.name}:${String(info.path.key)}`, async (keys, prisma) => {
    const query = (await queryFromInfo({
      context: ctx,
      info,
      typeName: load.typeName,
      awaitSelections: true,
    })) as PlannedQuery;
    const rows = await load.find(prisma, [...keys], query);
    return byKey(keys, rows, load.keyOf);
  });
  return loader.load(key);
}
