// Turns a planned `users` read into one SQL statement that builds the whole response in
// PostgreSQL (json_build_object), the way the floor of the benchmark does. Every value has
// the exact form the normal executor gives it (global ids, cursors, ISO dates, enum names),
// and tenancy, filters, ordering and cursors follow the Prisma queries of the users
// connection; test/compiled-reads.test.ts compares both paths on generated queries.
// Anything this file does not handle returns null, and the normal executor answers.
import type { UserPrincipal } from '../../../auth/principal.js';
import { ORDER_COLUMNS, type UserFilter, type UserOrderField } from '../filters.js';
import { userFilterSql, userOrderSql } from '../list-sql.js';
import { isUuid } from '../../../store/ids.js';
import type { GraphQLObjectType, GraphQLSchema } from 'graphql';
import { LISTS, ROW_TYPES, type FieldPlan } from './plan.js';
import { NotCompiled } from './selection.js';
import { base64, relationColumn, sqlFields, type SqlValue } from '../../../graphql/sql-fields.js';
import { userPredicate } from '../../../auth/visibility.js';
import { sqlWhere } from '../../../store/conditions.js';
import type { Statement } from '../../../store/statements.js';

export type Sql = Statement;

export interface UsersArgs {
  /** nodes(ids:): the user id of each global id, null for one that names no row. */
  ids?: (string | null)[];
  first?: number | null;
  after?: string | null;
  filter: UserFilter;
  orderBy?: { field: string; direction?: string | null } | null;
}

const MAX_PAGE = 100;
const DEFAULT_PAGE = 20;
// PostgreSQL functions take at most 100 arguments: json_build_object 50 key/value pairs.
const MAX_PAIRS = 50;

/** Parameters and generated aliases of one statement. */
class Builder {
  readonly values: unknown[] = [];
  constructor(readonly declared: Declared) {}
  private aliases = 0;
  param(value: unknown, cast = ''): string {
    this.values.push(value);
    return `$${this.values.length}${cast}`;
  }
  alias(prefix: string): string {
    return `${prefix}${++this.aliases}`;
  }
}

const quote = (key: string) => `'${key}'`; // response keys are GraphQL names: [_A-Za-z][_0-9A-Za-z]*
const cursorOf = (u: string) => base64(`'GPC:S:' || ${u}.id::text`);

function object(fields: FieldPlan[], value: (field: FieldPlan) => string): string {
  if (fields.length > MAX_PAIRS) throw new NotCompiled();
  return `json_build_object(${fields.map((f) => `${quote(f.key)}, ${value(f)}`).join(', ')})`;
}

/**
 * The SQL of each field of the row types, from their declarations (sql-fields.ts), and the
 * foreign keys of User's to-one relations (account, registeredAccount, partner) from the datamodel.
 */
interface Declared {
  fields: Record<(typeof ROW_TYPES)[number], Map<string, SqlValue>>;
  userRelations: Map<string, string>;
}
const declared = new WeakMap<GraphQLSchema, Declared>();
function declarations(schema: GraphQLSchema): Declared {
  let d = declared.get(schema);
  if (!d) {
    const user = schema.getType('User') as GraphQLObjectType;
    const userRelations = new Map<string, string>();
    for (const name of ['account', 'registeredAccount', 'partner']) {
      const column = relationColumn(user.getFields()[name]!);
      if (column) userRelations.set(name, column);
    }
    d = {
      fields: Object.fromEntries(ROW_TYPES.map((type) => [type, sqlFields(schema, type)])) as Declared['fields'],
      userRelations,
    };
    declared.set(schema, d);
  }
  return d;
}

/** For a row that joins nothing: a field asking for a joined relation is not compiled. */
const noJoins = (): string => {
  throw new NotCompiled();
};

const COUNTED: Record<string, { table: string; owner: string; typename: string }> = {
  courses: { table: 'Course', owner: 'ownerId', typename: 'UserCoursesConnection' },
  enrollments: { table: 'Enrollment', owner: 'userId', typename: 'UserEnrollmentsConnection' },
  orders: { table: 'Order', owner: 'userId', typename: 'UserOrdersConnection' },
};

/** The users a principal may see, on alias `u`: userVisibility's own predicate, as SQL. */
function visible(b: Builder, p: UserPrincipal, u: string): string {
  return sqlWhere(userPredicate(p), u, (value) => b.param(value));
}

/**
 * A user object on alias `u`. Its account, partner and client come from LEFT JOINs on the
 * FROM clause that introduces `u`, pushed onto `joins` (a hash join once per page costs far
 * less than a subquery per row); lists and counts stay correlated subqueries on indexes.
 */
function userObject(b: Builder, p: UserPrincipal, u: string, fields: FieldPlan[], joins: string[]): string {
  const { fields: sql, userRelations } = b.declared;
  return object(fields, (f) => {
    const scalar = sql.User.get(f.name);
    if (scalar) return scalar(u, noJoins);
    const children = f.children!;
    switch (f.name) {
      case 'account':
      case 'registeredAccount':
      case 'partner': {
        const [a, ap] = [b.alias('a'), b.alias('ap')];
        const key = userRelations.get(f.name);
        if (!key) throw new NotCompiled();
        const joined = (relation: string) => (relation === 'partner' ? ap : noJoins());
        joins.push(
          `LEFT JOIN "Account" ${a} ON ${a}.id = ${u}."${key}" ` +
            `LEFT JOIN "Account" ${ap} ON ${ap}.id = ${a}."partnerId"`,
        );
        return `CASE WHEN ${a}.id IS NOT NULL THEN ${object(children, (g) => sql.Account.get(g.name)!(a, joined))} END`;
      }
      case 'client': {
        // A client the caller cannot see reads null, as User.client does (canSeeClient). A
        // plain user sees only itself, a member of its client, so only account admins narrow.
        const c = b.alias('c');
        const seen =
          !p.partnerAdmin && p.adminAccountIds.size > 0
            ? ` AND ${c}."accountId" = ANY(${b.param([...p.adminAccountIds])})`
            : '';
        joins.push(`LEFT JOIN "Client" ${c} ON ${c}.id = ${u}."clientId"${seen}`);
        return `CASE WHEN ${c}.id IS NOT NULL THEN ${object(children, (g) => sql.Client.get(g.name)!(c, noJoins))} END`;
      }
      case 'mergedInto': {
        // A deleted or invisible target reads null, as User.mergedInto does.
        const m = b.alias('m');
        const own: string[] = [];
        const body = userObject(b, p, m, children, own);
        return (
          `(SELECT ${body} FROM "User" ${m} ${own.join(' ')} ` +
          `WHERE ${m}.id = ${u}."mergedIntoId" AND ${visible(b, p, m)})`
        );
      }
      case 'entitlements': {
        const e = b.alias('e');
        const body = object(children, (g) => sql.Entitlement.get(g.name)!(e, noJoins));
        return (
          `(SELECT COALESCE(json_agg(${body} ORDER BY ${e}.kind), '[]'::json) ` +
          `FROM "Entitlement" ${e} WHERE ${e}."userId" = ${u}.id)`
        );
      }
      default: {
        const counted = COUNTED[f.name];
        if (!counted) throw new NotCompiled();
        // The user is visible, so all of its rows of the partner are (course/enrollment/orderVisibility).
        const x = b.alias('x');
        const count =
          `(SELECT count(*)::int FROM "${counted.table}" ${x} ` +
          `WHERE ${x}."${counted.owner}" = ${u}.id AND ${x}."partnerId" = ${b.param(p.partnerId)})`;
        return object(children, (g) => (g.name === 'totalCount' ? count : `'${counted.typename}'`));
      }
    }
  });
}

/** The user id inside a connection cursor ("GPC:S:<uuid>", base64), or null. */
function cursorId(cursor: string): string | null {
  if (!/^[A-Za-z0-9+/]+=*$/.test(cursor)) return null;
  const text = Buffer.from(cursor, 'base64').toString('utf8');
  if (!text.startsWith('GPC:S:')) return null;
  const id = text.slice(6);
  return isUuid(id) ? id : null;
}

function connection(b: Builder, p: UserPrincipal, args: UsersArgs, fields: FieldPlan[]): string {
  if (args.first != null && args.first < 0) throw new NotCompiled();
  const size = Math.min(args.first ?? DEFAULT_PAGE, MAX_PAGE);
  const order = args.orderBy ? ORDER_COLUMNS[args.orderBy.field as UserOrderField] : undefined;
  if (args.orderBy && !order) throw new NotCompiled();
  const dir = args.orderBy?.direction === 'DESC' ? 'DESC' : 'ASC';
  const orderBy = (x: string) =>
    userOrderSql(args.orderBy && { field: args.orderBy.field as UserOrderField, direction: dir }, x);

  const u = b.alias('u');
  const where = [visible(b, p, u), ...userFilterSql(args.filter, u, (v) => b.param(v))].join(' AND ');
  let cursorCondition = '';
  if (args.after != null) {
    // Prisma's cursor: rows at or after the cursor row in the order, then skip one (OFFSET 1);
    // an unknown or unseen cursor row makes the comparisons NULL, so the page is empty.
    const id = cursorId(args.after);
    if (!id || order?.nullable) throw new NotCompiled();
    // Row comparison: (col, id) >= (cursor's col, cursor's id) is "col after the cursor's, or
    // equal with id at or after it". Only a row the caller sees positions the page (as the
    // resolver's unseenCursor check).
    const cols = order ? [order.column, 'id'] : ['id'];
    const list = (x: string) => cols.map((col) => `${x}."${col}"`).join(', ');
    const cursorWhere = `cr.id = ${b.param(id)}::uuid AND ${visible(b, p, 'cr')}`;
    const cursorRow = `(SELECT ${list('cr')} FROM "User" cr WHERE ${cursorWhere})`;
    cursorCondition = ` AND (${list(u)}) ${dir === 'ASC' ? '>=' : '<='} ${cursorRow}`;
  }
  const offset = args.after != null ? ' OFFSET 1' : '';
  const page =
    `SELECT ${u}.* FROM "User" ${u} WHERE ${where}${cursorCondition} ` +
    `ORDER BY ${orderBy(u)} LIMIT ${size + 1}${offset}`;

  const value = (f: FieldPlan): string => {
    switch (f.name) {
      case '__typename':
        return `'QueryUsersConnection'`;
      case 'totalCount': {
        const t = b.alias('u');
        return (
          `(SELECT count(*)::int FROM "User" ${t} ` +
          `WHERE ${[visible(b, p, t), ...userFilterSql(args.filter, t, (v) => b.param(v))].join(' AND ')})`
        );
      }
      case 'pageInfo':
        return object(f.children!, (g) => {
          switch (g.name) {
            case 'hasNextPage':
              return `(SELECT count(*) > ${size} FROM page)`;
            case 'hasPreviousPage':
              return args.after != null ? 'true' : 'false';
            case 'startCursor':
              return `(SELECT ${cursorOf('r')} FROM numbered r WHERE r.rn = 1 AND r.rn <= ${size})`;
            case 'endCursor':
              return (
                `(SELECT ${cursorOf('r')} FROM numbered r ` +
                `WHERE r.rn = LEAST((SELECT count(*) FROM page), ${size}))`
              );
            default:
              return `'PageInfo'`;
          }
        });
      case 'edges': {
        const e = b.alias('r');
        const joins: string[] = [];
        const edge = object(f.children!, (g) =>
          g.name === 'cursor'
            ? cursorOf(e)
            : g.name === 'node'
              ? userObject(b, p, e, g.children!, joins)
              : `'QueryUsersConnectionEdge'`,
        );
        return (
          `(SELECT COALESCE(json_agg(${edge} ORDER BY ${e}.rn), '[]'::json) ` +
          `FROM numbered ${e} ${joins.join(' ')} WHERE ${e}.rn <= ${size})`
        );
      }
      default:
        throw new NotCompiled();
    }
  };
  const body = object(fields, value);
  const n = b.alias('n');
  return (
    `(WITH page AS (${page}), numbered AS (SELECT ${n}.*, row_number() ` +
    `OVER (ORDER BY ${orderBy(n)}) AS rn FROM page ${n}) SELECT ${body})`
  );
}

/**
 * nodes(ids:) or _entities of users: one row per id, in the order given (WITH ORDINALITY), the user when the
 * caller sees it and null otherwise, as the executor's batched node lookup answers.
 */
function nodeList(b: Builder, p: UserPrincipal, ids: (string | null)[], fields: FieldPlan[]): string {
  const [k, u] = [b.alias('k'), b.alias('u')];
  const joins: string[] = [];
  const body = userObject(b, p, u, fields, joins);
  return (
    `(SELECT COALESCE(json_agg(CASE WHEN ${u}.id IS NOT NULL THEN ${body} END ORDER BY ${k}.ord), '[]'::json) ` +
    `FROM unnest(${b.param(ids)}::uuid[]) WITH ORDINALITY AS ${k}(id, ord) ` +
    `LEFT JOIN "User" ${u} ON ${u}.id = ${k}.id AND ${visible(b, p, u)} ${joins.join(' ')})`
  );
}

/**
 * One statement answering the whole operation, or null when a value is outside what the
 * compiled path handles (a `first` below zero, a foreign cursor, an order on a nullable
 * column combined with a cursor, ...): the normal executor then answers, errors included.
 */
export function buildSql(
  schema: GraphQLSchema,
  roots: FieldPlan[],
  argsOf: (field: FieldPlan) => UsersArgs,
  principal: UserPrincipal,
): Sql | null {
  const b = new Builder(declarations(schema));
  try {
    const body = object(roots, (f) =>
      f.name === '__typename'
        ? `'Query'`
        : LISTS.has(f.name)
          ? nodeList(b, principal, argsOf(f).ids ?? [], f.children!)
          : connection(b, principal, argsOf(f), f.children!),
    );
    return { text: `SELECT ${body}::text AS data`, values: b.values };
  } catch (error) {
    if (error instanceof NotCompiled) return null;
    throw error;
  }
}
