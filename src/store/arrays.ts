// PostgreSQL array literals built here, for a `$n::text[]` (or `::uuid[]`) parameter: one flat
// string made by one join. Handed an array instead, the driver (pg's arrayString) builds the
// literal element by element, a chain of concatenations, after Prisma's raw parameters have
// copied every element once more; for the bulk statements of linking (500-row arrays, up to
// 18 of them in one statement) that was a large share of the chunk's garbage.

/** `{"a","b",NULL}`: each value quoted, a backslash or double quote escaped, null as NULL. */
export function arrayLiteral(values: readonly (string | null | undefined)[]): string {
  return `{${values.map((v) => (v == null ? 'NULL' : `"${v.replace(/[\\"]/g, '\\$&')}"`)).join(',')}}`;
}
