// Writing JSON columns (metadata, custom fields) so that what is stored is exactly the JSON
// that was given.
import type { Prisma } from '@prisma/client';

/**
 * `value` for a Prisma Json column, handed over as its JSON text. Prisma copies a plain
 * object key by key by assignment before sending it, and assigning "__proto__" (an own key
 * of any parsed JSON object) sets the copy's prototype instead: the key would silently
 * vanish. A tagged Json value (the form Prisma's own protocol uses for JSON) travels as
 * text, so every key is stored as written. test/input-edge.test.ts checks the stored text.
 */
export function jsonColumn(value: unknown): Prisma.InputJsonValue {
  const text = JSON.stringify(value);
  return { toJSON: () => ({ $type: 'Json', value: text }) } as unknown as Prisma.InputJsonValue;
}

/** As jsonColumn, for an optional value: undefined (leave the column alone) stays undefined. */
export const optionalJsonColumn = (value: unknown): Prisma.InputJsonValue | undefined =>
  value === undefined ? undefined : jsonColumn(value);
