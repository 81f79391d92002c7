// node(id) and nodes(ids). The relay plugin's own resolver loads a prisma node per id: one
// findUnique each (which Prisma batches only for some filters, and compiles at a cost that
// grows faster than the list; for the operator, a plain user or mixed types it sends one
// statement per id) with the selection planned again for every id. Here the ids of each
// type share one per-request loader: one findMany per type asked for, planned once, with
// the same lookup filter as the type's findUnique, so visibility keeps one home.
import { brandWithType } from '@pothos/core';
import type { GraphQLResolveInfo } from 'graphql';
import type { PrismaClient } from '@prisma/client';
import type { GraphQLContext } from './builder.js';
import type { NodeType } from './ids.js';
import { loadPlanned } from './loaders.js';

/** One id, or (for nodes) the ids of one batch. */
export type NodeIds = string | { in: string[] };

type Lookup = (id: NodeIds, ctx: GraphQLContext) => unknown;
const lookups = new Map<string, Lookup>();

/**
 * A node type's lookup filter: `where(id, ctx)` must put `id` at the top level, as
 * findUnique wants it, and narrow by the caller's visibility. Returns it for the type's
 * `findUnique`; node/nodes call it with `{ in: ids }`.
 */
export function nodeLookup<W>(
  type: NodeType,
  where: (id: NodeIds, ctx: GraphQLContext) => W,
): (id: string, ctx: GraphQLContext) => W {
  lookups.set(type, where);
  return where;
}

type GlobalId = { typename: string; id: string } | null | undefined;

/** The nodes for `ids`, in order; null for an id that names nothing the caller can see. */
export function resolveNodes(
  ctx: GraphQLContext,
  info: GraphQLResolveInfo,
  ids: readonly GlobalId[],
): Promise<unknown[]> {
  return Promise.all(ids.map((gid) => (gid ? loadNode(ctx, info, gid.typename, gid.id) : null)));
}

function loadNode(
  ctx: GraphQLContext,
  info: GraphQLResolveInfo,
  typename: string,
  id: string,
): Promise<unknown> | null {
  const where = lookups.get(typename);
  if (!where) return null;
  const delegate = (prisma: PrismaClient) =>
    (prisma as unknown as Record<string, { findMany(args: object): Promise<{ id: string }[]> }>)[
      typename[0]!.toLowerCase() + typename.slice(1)
    ]!;
  return loadPlanned(
    ctx,
    info,
    {
      name: `node:${typename}`,
      typeName: typename,
      find: async (prisma, keys, query) => {
        const rows = await delegate(prisma).findMany({ ...query, where: where({ in: keys }, ctx) as object });
        // The Node interface resolves a row's type by this brand.
        for (const row of rows) brandWithType(row, typename as never);
        return rows;
      },
      keyOf: (row) => row.id,
    },
    id,
  );
}
