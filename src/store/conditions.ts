// Conditions on a model's rows as data, declared once and emitted two ways: as a Prisma
// `where` (prismaWhere) for the executor's reads, and as SQL (sqlWhere) for the reads that run
// their own statement (the compiled users page, the REST lists). Visibility's predicates
// (auth/visibility.ts) and the users' filter (modules/users/filters.ts) are written in it, so
// each rule has one home; test/read-model.test.ts and test/list-views.test.ts check that the
// two forms find the same rows.

export type Condition =
  | { column: string; equals: string | number }
  /** A Boolean column: a literal in SQL, so that a partial index on it applies to the statement. */
  | { column: string; is: boolean }
  | { column: string; isNull: true }
  | { column: string; in: readonly string[] }
  /** Within the bounds that are given (both inclusive). */
  | { column: string; range: { gte?: Date; lte?: Date } }
  /** Contains `text` literally (`%`, `_` and `\` are not wildcards), ignoring case. */
  | { column: string; contains: string }
  /** The row's array column `column` shares a value with `overlaps`. */
  | { column: string; overlaps: readonly string[] }
  | { or: Condition[][] }
  /** The row's to-one relation `relation` (foreign key `column`, table `table`) meets `where`. */
  | { relation: string; table: string; column: string; where: Condition[] }
  /** Some row of the to-many relation `some` (rows of `table` whose `column` holds this row's id) meets `where`. */
  | { some: string; table: string; column: string; where: Condition[] }
  | { nothing: true };

// Matches no row.
const NOTHING = { id: { in: [] as string[] } };

/** `%`, `_` and `\\` taken literally in a LIKE pattern (backslash is PostgreSQL's escape). */
export const escapeLike = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Conditions as a Prisma `where`: one object, so that equality-only rules stay batchable by
 * Prisma; a condition on a key already used goes under AND.
 */
export function prismaWhere(conditions: readonly Condition[]): Record<string, unknown> {
  const where: Record<string, unknown> = {};
  const and: Record<string, unknown>[] = [];
  const put = (key: string, value: unknown) => {
    if (key in where) and.push({ [key]: value });
    else where[key] = value;
  };
  for (const c of conditions) {
    if ('nothing' in c) put('id', NOTHING.id);
    else if ('or' in c) put('OR', c.or.map(prismaWhere));
    else if ('relation' in c) put(c.relation, prismaWhere(c.where));
    else if ('some' in c) put(c.some, { some: prismaWhere(c.where) });
    else if ('equals' in c) put(c.column, c.equals);
    else if ('is' in c) put(c.column, c.is);
    else if ('isNull' in c) put(c.column, null);
    else if ('range' in c) put(c.column, c.range);
    // Prisma passes `contains` to ILIKE as is: its wildcards are escaped so that "a_b" means a_b.
    else if ('contains' in c) put(c.column, { contains: escapeLike(c.contains), mode: 'insensitive' });
    else if ('overlaps' in c) put(c.column, { hasSome: [...c.overlaps] });
    else put(c.column, { in: [...c.in] });
  }
  if (and.length) where.AND = and;
  return where;
}

/**
 * Conditions as SQL on the table alias `row`; `param` binds a value and returns its
 * placeholder (PostgreSQL infers the parameter's type from the column it is compared to).
 * A search's pattern is bound once however many columns it is matched against (always as
 * text); other values once per use, since one placeholder takes one type.
 */
export function sqlWhere(conditions: readonly Condition[], row: string, param: (value: unknown) => string): string {
  return whereSql(conditions, row, { param, patterns: new Map() });
}

interface Binder {
  param: (value: unknown) => string;
  /** The placeholder of each LIKE pattern bound so far. */
  patterns: Map<string, string>;
}

function whereSql(conditions: readonly Condition[], row: string, b: Binder): string {
  if (!conditions.length) return 'true';
  return conditions.map((c) => conditionSql(c, row, b)).join(' AND ');
}

function conditionSql(c: Condition, row: string, b: Binder): string {
  const { param } = b;
  if ('nothing' in c) return 'false';
  if ('or' in c) return `(${c.or.map((all) => `(${whereSql(all, row, b)})`).join(' OR ')})`;
  if ('relation' in c) {
    const r = `${row}_${c.relation}`;
    return (
      `EXISTS (SELECT 1 FROM "${c.table}" ${r} ` +
      `WHERE ${r}.id = ${row}."${c.column}" AND ${whereSql(c.where, r, b)})`
    );
  }
  if ('some' in c) {
    const r = `${row}_${c.some}`;
    return (
      `EXISTS (SELECT 1 FROM "${c.table}" ${r} ` +
      `WHERE ${r}."${c.column}" = ${row}.id AND ${whereSql(c.where, r, b)})`
    );
  }
  const column = `${row}."${c.column}"`;
  if ('equals' in c) return `${column} = ${param(c.equals)}`;
  if ('is' in c) return c.is ? column : `NOT ${column}`;
  if ('isNull' in c) return `${column} IS NULL`;
  if ('range' in c) {
    const bounds = [];
    if (c.range.gte) bounds.push(`${column} >= ${param(c.range.gte)}`);
    if (c.range.lte) bounds.push(`${column} <= ${param(c.range.lte)}`);
    return bounds.length ? bounds.join(' AND ') : 'true';
  }
  if ('contains' in c) {
    const pattern = `%${escapeLike(c.contains)}%`;
    const placeholder = b.patterns.get(pattern) ?? param(pattern);
    b.patterns.set(pattern, placeholder);
    return `${column} ILIKE ${placeholder}`;
  }
  if ('overlaps' in c) return `${column} && ${param([...c.overlaps])}`;
  return `${column} = ANY(${param([...c.in])})`;
}
