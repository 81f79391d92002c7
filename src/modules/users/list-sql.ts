// The users' filter and order as SQL (emitted from filters.ts's declarations, for every read
// that runs its own statement: the compiled users page, compiled/sql.ts, and the REST lists), and
// the one statement of listUserViews: a page of visible users as a view reads them (each REST
// list's own `select`, service.ts), from that Prisma `select` and the datamodel, so that the REST
// lists cost one statement, no Prisma query, and carry only the columns and relations their wire
// form shows.
import { createHash } from 'node:crypto';
import type { Prisma } from '@prisma/client';
import type { Principal } from '../../auth/principal.js';
import { PREDICATES, type VisibleModel } from '../../auth/visibility.js';
import { models, type DmmfField } from '../../graphql/sql-fields.js';
import { sqlWhere, type Condition } from '../../store/conditions.js';
import type { Statement } from '../../store/statements.js';
import {
  ORDER_COLUMNS,
  userFilterConditions,
  type OrderDirection,
  type UserFilter,
  type UserOrderField,
} from './filters.js';

/** Binds a value and returns its placeholder. */
export type Param = (value: unknown) => string;

/**
 * The filter's conditions (tenancy aside: that is the caller's predicate) as SQL on the alias
 * `u`, none when it keeps everyone.
 */
export function userFilterSql(filter: UserFilter, u: string, param: Param): string[] {
  const conditions = userFilterConditions(filter);
  return conditions.length ? [sqlWhere(conditions, u, param)] : [];
}

/** userOrderBy as SQL on alias `x`: the order's column then the id, or the id alone. */
export function userOrderSql(
  order: { field: UserOrderField; direction?: OrderDirection | null } | null | undefined,
  x: string,
): string {
  if (!order) return `${x}.id ASC`;
  const dir = order.direction === 'DESC' ? 'DESC' : 'ASC';
  return `${x}."${ORDER_COLUMNS[order.field].column}" ${dir}, ${x}.id ${dir}`;
}

// ---------------------------------------------------------------------------- the list of views

export interface UserListFilter extends UserFilter {
  /** Only users with an embed identity. */
  hasIdentifier?: boolean;
  /** Only users of the embed client with this identifier. */
  clientIdentifier?: string;
}

export interface ListPage {
  skip: number;
  take: number;
  order: UserOrderField;
}

/**
 * A view: what a list reads of each user, as a Prisma `select` — its columns (`true`) and its
 * relations (each a `select` of their fields, to-many ones with an `orderBy`) — or all columns
 * and the relations of an `include`; and which of its to-one relations read null when the
 * caller cannot see their row (their model's predicate, auth/visibility.ts).
 */
export type View = ({ select: Prisma.UserSelect } | { include: Prisma.UserInclude }) & { seen: readonly string[] };

const fieldOf = (model: string, name: string): DmmfField => {
  const field = models[model]?.fields.find((f) => f.name === name);
  if (!field) throw new Error(`${model}.${name} is not in the datamodel`);
  return field;
};

// PostgreSQL functions take at most 100 arguments: json_build_object 50 key/value pairs.
const MAX_PAIRS = 50;
const object = (pairs: [string, string][]) => {
  if (pairs.length > MAX_PAIRS) throw new Error('a view object of more than 50 fields');
  return `json_build_object(${pairs.map(([key, value]) => `'${key}', ${value}`).join(', ')})`;
};

/**
 * How a view's JSON becomes what Prisma returns: the DateTime fields of each object (JSON has
 * no dates), and the same of its relations. Everything else has its Prisma form in JSON
 * (enums their names, Json fields their value, Int and Boolean as they are).
 */
interface Revive {
  dates: string[];
  relations: [string, Revive, boolean][];
}

/** A row of `model` on alias `x`: the fields `select` names (all scalars when null). */
function rowSql(
  model: string,
  x: string,
  select: Record<string, unknown> | null,
): { pairs: [string, string][]; revive: Revive } {
  const names = select
    ? Object.keys(select).filter((k) => select[k])
    : models[model]!.fields.filter((f) => f.kind !== 'object').map((f) => f.name);
  const revive: Revive = { dates: [], relations: [] };
  const pairs: [string, string][] = names.map((name) => {
    const field = fieldOf(model, name);
    if (field.kind === 'object') throw new Error(`a relation in the select of ${model}: ${name}`);
    if (field.type === 'DateTime' && !field.isList) revive.dates.push(name);
    else if (!['String', 'Int', 'Boolean', 'Json'].includes(field.type) && field.kind !== 'enum')
      throw new Error(`${model}.${name}: ${field.type} has no JSON form here`);
    return [name, `${x}."${name}"`];
  });
  return { pairs, revive };
}

interface Compiled {
  /** The view object of the user on alias `v`, given the joins' aliases. */
  object: (param: Param, principal: Principal | null) => { sql: string; joins: string[] };
  revive: Revive;
}

const compiled = new WeakMap<View, Compiled>();

/** A view's SQL and its revival, from its `select` or `include` and the datamodel. */
function compile(view: View): Compiled {
  let c = compiled.get(view);
  if (c) return c;
  const fields = Object.entries('select' in view ? view.select : view.include).filter(([, value]) => value);
  // A select's `true` entries are the user's columns (always with its id), the rest its relations;
  // an include reads every column and names relations only.
  const isColumn = ([, value]: [string, unknown]) => 'select' in view && value === true;
  const columns = 'select' in view ? Object.fromEntries([['id', true], ...fields.filter(isColumn)]) : null;
  const user = rowSql('User', 'v', columns);
  const revive = user.revive;
  type Part = (param: Param, principal: Principal | null, joins: string[]) => string;
  const parts: [string, Part][] = [];
  for (const [name, value] of fields.filter((field) => !isColumn(field))) {
    const { select, orderBy, ...rest } = value as { select?: Record<string, unknown>; orderBy?: unknown };
    if (!select || Object.keys(rest).length) throw new Error(`view.${name}: only select and orderBy are read`);
    const field = fieldOf('User', name);
    if (field.kind !== 'object') throw new Error(`User.${name} is not a relation`);
    const target = rowSql(field.type, `r_${name}`, select);
    const body = object(target.pairs);
    if (!field.isList) {
      const key = field.relationFromFields?.[0];
      if (field.relationFromFields?.length !== 1 || !key) throw new Error(`User.${name}: one foreign key expected`);
      const seen = view.seen.includes(name);
      if (seen && !(field.type in PREDICATES)) throw new Error(`User.${name}: ${field.type} has no predicate`);
      const r = `r_${name}`;
      parts.push([
        name,
        (param, principal, joins) => {
          const visible = seen
            ? ` AND ${sqlWhere(PREDICATES[field.type as VisibleModel](principal) as Condition[], r, param)}`
            : '';
          joins.push(`LEFT JOIN "${field.type}" ${r} ON ${r}.id = v."${key}"${visible}`);
          return `CASE WHEN ${r}.id IS NOT NULL THEN ${body} END`;
        },
      ]);
      revive.relations.push([name, target.revive, false]);
      continue;
    }
    // A to-many relation: the rows whose foreign key (the other side of the relation) is the user's id.
    const inverse = models[field.type]!.fields.find(
      (f) => f.relationName === field.relationName && f.type === 'User' && !f.isList,
    );
    const column = inverse?.relationFromFields?.[0];
    if (!column || inverse.relationFromFields!.length !== 1) throw new Error(`User.${name}: one foreign key expected`);
    const r = `r_${name}`;
    const order = (Array.isArray(orderBy) ? orderBy : orderBy ? [orderBy] : [{ id: 'asc' }]) as Record<
      string,
      string
    >[];
    const orderSql = order
      .flatMap((o) => Object.entries(o))
      .map(([col, dir]) => {
        fieldOf(field.type, col);
        return `${r}."${col}" ${dir === 'desc' ? 'DESC' : 'ASC'}`;
      })
      .join(', ');
    parts.push([
      name,
      () =>
        `(SELECT COALESCE(json_agg(${body} ORDER BY ${orderSql}), '[]'::json) ` +
        `FROM "${field.type}" ${r} WHERE ${r}."${column}" = v.id)`,
    ]);
    revive.relations.push([name, target.revive, true]);
  }
  c = {
    object: (param, principal) => {
      const joins: string[] = [];
      const sql = object([
        ...user.pairs,
        ...parts.map(([name, part]): [string, string] => [name, part(param, principal, joins)]),
      ]);
      return { sql, joins };
    },
    revive,
  };
  compiled.set(view, c);
  return c;
}

export type Sql = Statement;

// The texts differ only by which filters a list has and the kind of caller, but their number
// is capped all the same: each name costs memory in every backend.
const MAX_NAMED = 100;
const named = new Map<string, string>();
function statementName(text: string): string | undefined {
  let name = named.get(text);
  if (!name && named.size < MAX_NAMED) {
    name = `list_${createHash('sha1').update(text).digest('hex')}`;
    named.set(text, name);
  }
  return name;
}

/**
 * The one statement of a page of views: the page's ids in the list's order (a CTE on the index
 * of the order, its OFFSET walking index entries), those users with the view's relations in
 * the same order, and the filter's total, counted only when the page cannot tell it (see
 * listUserViews). Answers one row: `users` (JSON text) and `total`.
 */
export function userViewsSql(principal: Principal | null, filter: UserListFilter, page: ListPage, view: View): Sql {
  const values: unknown[] = [];
  const param: Param = (value) => {
    values.push(value);
    return `$${values.length}`;
  };
  const where = [sqlWhere(PREDICATES.User(principal), 'u', param), ...userFilterSql(filter, 'u', param)];
  if (filter.hasIdentifier) where.push('u.identifier IS NOT NULL');
  // A client the caller cannot see matches nobody, as if it did not exist.
  if (filter.clientIdentifier !== undefined) {
    const client: Condition = {
      relation: 'client',
      table: 'Client',
      column: 'clientId',
      where: [{ column: 'identifier', equals: filter.clientIdentifier }, ...PREDICATES.Client(principal)],
    };
    where.push(sqlWhere([client], 'u', param));
  }
  const condition = where.join(' AND ');
  const { sql: viewJson, joins } = compile(view).object(param, principal);
  const [take, skip] = [`${param(page.take)}::int`, `${param(page.skip)}::int`];
  // A page shorter than asked (or an empty first one) ends the list: its total is offset + length.
  const n = '(SELECT count(*) FROM page)';
  const ends = page.skip === 0 ? `${n} < ${take}` : `${n} < ${take} AND ${n} > 0`;
  // The page's rows are numbered in its order (rn) and the views aggregated by that number: an
  // ORDER BY on the users' own columns could lead the planner to walk an index of that order
  // over the whole table instead of sorting the page's rows.
  const orderBy = userOrderSql({ field: page.order }, 'u');
  const text = `WITH page AS MATERIALIZED (SELECT u.id, row_number() OVER (ORDER BY ${orderBy}) AS rn FROM "User" u
  WHERE ${condition} ORDER BY ${orderBy} LIMIT ${take} OFFSET ${skip})
SELECT (SELECT COALESCE(json_agg(${viewJson} ORDER BY p.rn), '[]'::json)
  FROM page p JOIN "User" v ON v.id = p.id ${joins.join(' ')})::text AS users,
  (CASE WHEN ${ends} THEN ${skip} + ${n} ELSE (SELECT count(*) FROM "User" u WHERE ${condition}) END)::int AS total`;
  const name = statementName(text);
  return name ? { text, values, name } : { text, values };
}

/** The views of a userViewsSql answer, as Prisma would return them (Dates for DateTime fields). */
export function viewsOf<T>(view: View, json: string): T[] {
  const { revive } = compile(view);
  const users = JSON.parse(json) as Record<string, unknown>[];
  for (const user of users) reviveRow(user, revive);
  return users as T[];
}

function reviveRow(row: Record<string, unknown>, revive: Revive): void {
  for (const name of revive.dates) {
    const value = row[name];
    if (typeof value === 'string') row[name] = new Date(value);
  }
  for (const [name, inner, list] of revive.relations) {
    const value = row[name];
    if (!value || (!inner.dates.length && !inner.relations.length)) continue;
    if (list) for (const item of value as Record<string, unknown>[]) reviveRow(item, inner);
    else reviveRow(value as Record<string, unknown>, inner);
  }
}
