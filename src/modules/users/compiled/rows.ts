// The read model's general planner: one SQL statement for root fields that read rows of a
// Prisma-backed type by id (`user(id:)`, `account(id:)`) or as the id-ordered list
// (`accounts`), declared as such with `sqlRoot` (sql-fields.ts), with everything below them read
// from the schema's own declarations: leaves from sql-fields.ts (exposed columns, global ids,
// sqlTwin), to-many relation connections (`t.relatedConnection`: plugin-prisma's relation
// field, cursor `id`, `totalCount`) whose own Prisma `where` must be the target model's
// predicate (auth/visibility.ts PREDICATES, compared for the principal of each request),
// relation counts (`t.relationCount`) and to-one relations (`t.relation`) of types without
// auth scopes. Anything else (arguments beyond `first`, directives, a field with a resolver
// and no SQL form, a `where` that is not the predicate) is "not compiled": the executor answers.
import {
  getNamedType,
  isObjectType,
  type DocumentNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import { isDeepStrictEqual } from 'node:util';
import type { UserPrincipal } from '../../../auth/principal.js';
import { PREDICATES, type VisibleModel } from '../../../auth/visibility.js';
import { sqlWhere } from '../../../store/conditions.js';
import { DEFAULT_PAGE, MAX_PAGE } from '../../../graphql/builder.js';
import {
  base64,
  sqlVisibleOf,
  inverseColumn,
  modelOf,
  relationColumn,
  sqlFields,
  sqlRootOf,
  visibleRowsOf,
} from '../../../graphql/sql-fields.js';
import type { OperationPlan } from './plan.js';
import { NotCompiled, collect, queryOf, type FieldPlan, type Scopes } from './selection.js';
import type { Sql } from './sql.js';

/**
 * What the statement writes for a row it may not answer (one the caller cannot see, a by-id
 * root naming none): its JSON text holds DENIED, and the executor answers the request instead.
 * A JSON string no data can hold (PostgreSQL text has no NUL character).
 */
export const DENIED = '"\\u0000denied"';
const DENIED_SQL = `'${DENIED}'::json`;

// PostgreSQL functions take at most 100 arguments: json_build_object 50 key/value pairs.
const MAX_PAIRS = 50;

export function planRows(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
): OperationPlan | null {
  const request = queryOf(document, operationName);
  if (!request) return null;
  const { operation, fragments } = request;
  try {
    const query = schema.getQueryType()!;
    const roots = collect(TYPES, operation.selectionSet, query, fragments);
    for (const root of roots) {
      if (root.name === '__typename') continue;
      const field = query.getFields()[root.name]!;
      // Roots whose only scope is `member` (a user of a partner: the compiled path answers no one else).
      const scopes = ext(field).pothosOptions?.authScopes;
      if (!sqlRootOf(field) || !root.children || (scopes && !isDeepStrictEqual(scopes, { member: true }))) return null;
    }
    return roots.some((r) => r.name !== '__typename') ? { operation, fields: roots } : null;
  } catch (error) {
    if (error instanceof NotCompiled) return null;
    throw error;
  }
}

/** The schema's object types as the scopes `collect` walks. */
const TYPES: Scopes<GraphQLObjectType> = {
  child: (type, name) => {
    const field = type.getFields()[name];
    const child = field && getNamedType(field.type);
    return child && isObjectType(child) ? child : null;
  },
  admits: (type, condition) => condition === type.name || type.getInterfaces().some((i) => i.name === condition),
};

/** The values of a field's arguments (variables applied), from the request. */
export type ArgsOf = (field: GraphQLField<unknown, unknown>, plan: FieldPlan) => Record<string, unknown>;

interface Extensions {
  pothosPrismaRelationField?: { type: string; isList: boolean; name: string; relationFromFields?: string[] };
  pothosPrismaSelect?: unknown;
  pothosOptions?: { query?: unknown; authScopes?: unknown; resolve?: unknown; select?: unknown };
}
const ext = (field: GraphQLField<unknown, unknown>) => (field.extensions ?? {}) as Extensions;
const typeOptions = (type: GraphQLObjectType) =>
  ((type.extensions ?? {}) as { pothosOptions?: { authScopes?: unknown } }).pothosOptions ?? {};

class Builder {
  readonly values: unknown[] = [];
  private aliases = 0;
  constructor(
    readonly schema: GraphQLSchema,
    readonly principal: UserPrincipal,
    readonly argsOf: ArgsOf,
  ) {}
  param(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
  alias(prefix: string): string {
    return `${prefix}${++this.aliases}`;
  }
  visible(model: string, row: string): string {
    if (!(model in PREDICATES)) throw new NotCompiled();
    return sqlWhere(PREDICATES[model as VisibleModel](this.principal), row, (v) => this.param(v));
  }
}

const quote = (key: string) => `'${key}'`; // response keys are GraphQL names
function object(fields: FieldPlan[], value: (field: FieldPlan) => string): string {
  if (fields.length > MAX_PAIRS) throw new NotCompiled();
  return `json_build_object(${fields.map((f) => `${quote(f.key)}, ${value(f)}`).join(', ')})`;
}
// plugin-prisma's cursor of `cursor: 'id'` on a string id: base64 of "GPC:S:<id>".
const cursorOf = (row: string) => base64(`'GPC:S:' || ${row}.id::text`);

/**
 * A row of `type` on alias `row` as JSON; to-one relations a computed field reads
 * (`joined`, Account.plan's partner) are LEFT JOINs pushed onto `joins`.
 */
function rowObject(b: Builder, type: GraphQLObjectType, row: string, fields: FieldPlan[], joins: string[]): string {
  const leaves = sqlFields(b.schema, type.name);
  const joinedAliases = new Map<string, string>();
  const joined = (relation: string) => {
    let j = joinedAliases.get(relation);
    if (!j) {
      const field = type.getFields()[relation];
      const column = field && relationColumn(field);
      const target = field && ext(field).pothosPrismaRelationField?.type;
      if (!column || !target) throw new NotCompiled();
      j = b.alias('j');
      joins.push(`LEFT JOIN "${target}" ${j} ON ${j}.id = ${row}."${column}"`);
      joinedAliases.set(relation, j);
    }
    return j;
  };
  const json = object(fields, (f) => {
    const field = type.getFields()[f.name];
    // A field with auth scopes of its own is the executor's.
    if (field && ext(field).pothosOptions?.authScopes) throw new NotCompiled();
    const leaf = leaves.get(f.name);
    if (leaf) {
      if (f.args.length || f.children) throw new NotCompiled();
      return leaf(row, joined);
    }
    if (!field || !f.children) throw new NotCompiled();
    const e = ext(field);
    const relation = e.pothosPrismaRelationField;
    const target = getNamedType(field.type) as GraphQLObjectType;
    if (relation?.isList && target.getFields().edges) return relatedConnection(b, type, row, field, f);
    if (relation && !relation.isList) {
      // t.relation without a query of its own, to a type without auth scopes: the row it names.
      const column = relationColumn(field);
      if (!column || e.pothosOptions?.query || f.args.length) throw new NotCompiled();
      const t = b.alias('t');
      const own: string[] = [];
      const body = rowObject(b, target, t, f.children, own);
      return `(SELECT ${body} FROM "${relation.type}" ${t} ${own.join(' ')} WHERE ${t}.id = ${row}."${column}")`;
    }
    throw new NotCompiled();
  });
  // A type with auth scopes declares them as a predicate too (sqlVisible): a row the caller may
  // not see is the executor's to answer (null or an error, as its scopes say).
  if (!typeOptions(type).authScopes) return json;
  const visible = sqlVisibleOf(type);
  if (!visible) throw new NotCompiled();
  return `CASE WHEN ${sqlWhere(visible(b.principal), row, (v) => b.param(v))} THEN ${json} ELSE ${DENIED_SQL} END`;
}

/**
 * A `t.relatedConnection` of the row on alias `row` declared with `visibleRows` (sql-fields.ts):
 * the related rows whose foreign key names it that the caller sees, in id order.
 */
function relatedConnection(
  b: Builder,
  type: GraphQLObjectType,
  row: string,
  field: GraphQLField<unknown, unknown>,
  plan: FieldPlan,
): string {
  const relation = ext(field).pothosPrismaRelationField!;
  const rows = visibleRowsOf(field);
  const model = modelOf(type);
  const inverse = model && inverseColumn(model, relation.name);
  if (!inverse || rows !== relation.type) throw new NotCompiled();
  const x = b.alias('x');
  return connection(b, field, plan, rows, x, `${x}."${inverse.column}" = ${row}.id AND ${b.visible(rows, x)}`);
}

/** A connection over rows of `model` (alias `x` in `where`), in id order, `first` only. */
function connection(
  b: Builder,
  field: GraphQLField<unknown, unknown>,
  plan: FieldPlan,
  model: string,
  x: string,
  where: string,
): string {
  if (plan.args.some((a) => a.name.value !== 'first')) throw new NotCompiled();
  const { first } = b.argsOf(field, plan) as { first?: number | null };
  if (first != null && first < 0) throw new NotCompiled();
  const size = Math.min(first ?? DEFAULT_PAGE, MAX_PAGE);
  const connectionType = getNamedType(field.type) as GraphQLObjectType;
  const edgeType = getNamedType(connectionType.getFields().edges!.type) as GraphQLObjectType;
  const nodeType = getNamedType(edgeType.getFields().node!.type) as GraphQLObjectType;
  const page = b.alias('p');
  const pageCursor = cursorOf(page);
  const pageRows = `(SELECT ${x}.* FROM "${model}" ${x} WHERE ${where} ORDER BY ${x}.id LIMIT ${size + 1})`;
  const value = (f: FieldPlan): string => {
    if (f.args.length) throw new NotCompiled();
    switch (f.name) {
      case '__typename':
        return `'${connectionType.name}'`;
      case 'totalCount':
        return `(SELECT count(*)::int FROM "${model}" ${x} WHERE ${where})`;
      case 'pageInfo':
        return object(f.children!, (g) => {
          switch (g.name) {
            case 'hasNextPage':
              return `(SELECT count(*) > ${size} FROM ${pageRows} ${page})`;
            case 'hasPreviousPage':
              return 'false';
            case 'startCursor':
              return `(SELECT ${pageCursor} FROM ${pageRows} ${page} WHERE ${size} > 0 ORDER BY ${page}.id LIMIT 1)`;
            case 'endCursor':
              return (
                `(SELECT ${pageCursor} FROM (SELECT * FROM ${pageRows} l ` +
                `ORDER BY l.id LIMIT ${size}) ${page} ORDER BY ${page}.id DESC LIMIT 1)`
              );
            case '__typename':
              return `'PageInfo'`;
            default:
              throw new NotCompiled();
          }
        });
      case 'edges': {
        const joins: string[] = [];
        const edge = object(f.children!, (g) => {
          if (g.args.length) throw new NotCompiled();
          if (g.name === 'cursor') return pageCursor;
          if (g.name === '__typename') return `'${edgeType.name}'`;
          if (g.name === 'node' && g.children) return rowObject(b, nodeType, page, g.children, joins);
          throw new NotCompiled();
        });
        return (
          `(SELECT COALESCE(json_agg(${edge} ORDER BY ${page}.id), '[]'::json) ` +
          `FROM (SELECT * FROM ${pageRows} l ORDER BY l.id LIMIT ${size}) ${page} ${joins.join(' ')})`
        );
      }
      default:
        throw new NotCompiled();
    }
  };
  return object(plan.children!, value);
}

/**
 * One statement answering the operation, or null (the executor answers). `byId` roots read
 * null when no visible row has the id: the caller then leaves the request to the executor,
 * which answers NOT_FOUND.
 */
export function buildRowsSql(
  schema: GraphQLSchema,
  roots: FieldPlan[],
  argsOf: ArgsOf,
  principal: UserPrincipal,
  nativeId: (typename: string, id: string) => string | null,
): Sql | null {
  const b = new Builder(schema, principal, argsOf);
  const query = schema.getQueryType()!;
  try {
    const body = object(roots, (f) => {
      if (f.name === '__typename') return `'Query'`;
      const field = query.getFields()[f.name]!;
      const type = getNamedType(field.type) as GraphQLObjectType;
      const kind = sqlRootOf(field)!;
      if (kind === 'byId') {
        const nodeType = type;
        const model = modelOf(nodeType);
        if (!model || f.args.some((a) => a.name.value !== 'id')) throw new NotCompiled();
        const id = nativeId(nodeType.name, String(argsOf(field, f).id));
        if (!id) throw new NotCompiled();
        const r = b.alias('r');
        const joins: string[] = [];
        const body = rowObject(b, nodeType, r, f.children!, joins);
        const row =
          `(SELECT ${body} FROM "${model}" ${r} ${joins.join(' ')} ` +
          `WHERE ${r}.id = ${b.param(id)} AND ${b.visible(model, r)})`;
        // No such row the caller sees: the executor's NOT_FOUND.
        return `COALESCE(${row}, ${DENIED_SQL})`;
      }
      // A list root: a connection of its node type over every visible row.
      const edgeType = getNamedType(type.getFields().edges!.type) as GraphQLObjectType;
      const model = modelOf(getNamedType(edgeType.getFields().node!.type) as GraphQLObjectType);
      if (!model) throw new NotCompiled();
      const x = b.alias('x');
      return connection(b, field, f, model, x, b.visible(model, x));
    });
    return { text: `SELECT ${body}::text AS data`, values: b.values };
  } catch (error) {
    if (error instanceof NotCompiled) return null;
    throw error;
  }
}
