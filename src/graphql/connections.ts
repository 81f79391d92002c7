// Shared connection arguments and ordering inputs.
import { builder } from './builder.js';

export const OrderDirection = builder.enumType('OrderDirection', {
  description: 'Sort direction of a list.',
  values: {
    ASC: { description: 'Ascending: smallest, earliest or A first.' },
    DESC: { description: 'Descending: largest, latest or Z first.' },
  } as const,
});

export const DateRangeInput = builder.inputType('DateRange', {
  description: 'An inclusive time range; either end may be left open.',
  fields: (t) => ({
    from: t.field({ type: 'DateTime', description: 'Earliest instant included; left out, no lower bound.' }),
    to: t.field({ type: 'DateTime', description: 'Latest instant included; left out, no upper bound.' }),
  }),
});

/**
 * Prisma positions a cursor on its row whatever the page's filter, so a cursor naming a row
 * the caller cannot see (another partner's) would page on from it and confirm it exists.
 * True when the cursor names no row the caller sees: the page is then empty, as for an
 * unknown cursor. `visible` counts the caller's rows matching a where.
 */
export async function unseenCursor(
  cursor: unknown,
  visible: (where: { id: string }) => Promise<number>,
): Promise<boolean> {
  return typeof cursor === 'object' && cursor !== null && 'id' in cursor
    ? (await visible(cursor as { id: string })) === 0
    : false;
}
