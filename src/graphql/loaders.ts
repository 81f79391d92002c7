// Per-request DataLoaders, created on first use. Each batches the lookups of one request
// (federation `_entities`, principal checks) into one statement per kind.
import DataLoader from 'dataloader';
import type { PrismaClient } from '@prisma/client';

export class Loaders {
  private readonly cache = new Map<string, DataLoader<unknown, unknown>>();
  constructor(private readonly prisma: PrismaClient) {}

  /** The loader registered under `name`, made on first use with `batch`. */
  get<K, V>(name: string, batch: (keys: readonly K[], prisma: PrismaClient) => Promise<(V | null)[]>): DataLoader<K, V | null> {
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
