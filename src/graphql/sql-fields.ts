// Which SQL expression answers a field of a Prisma-backed GraphQL type, read from the field's
// own declaration: an exposed field (`t.expose*`) names its Prisma field, whose column and
// type the Prisma datamodel gives (an enum is its name, a DateTime the ISO form the DateTime
// scalar writes, a list a JSON array); a Node's `id` is its global id; a computed field
// (a resolver of its own) carries its SQL form beside its resolver with `sqlTwin`, so the
// field's meaning is declared once, in both forms, where the field is. A field with neither is
// not answerable in SQL: the compiled read path then leaves the query to the executor.
import type { GraphQLField, GraphQLObjectType, GraphQLSchema } from 'graphql';
import { getDatamodel } from '../generated/pothos-types.js';
import type { Principal } from '../auth/principal.js';
import { visibleWhere, type VisibleModel } from '../auth/visibility.js';
import type { Condition } from '../store/conditions.js';

/**
 * A field's value as SQL on the row alias `row`; `joined(relation)` is the alias of a to-one
 * relation of that row the statement joined (Account.plan reads its partner's plan).
 */
export type SqlValue = (row: string, joined: (relation: string) => string) => string;

/** Field options to spread into a computed field: its SQL form, next to its resolver. */
export function sqlTwin(sql: SqlValue): { extensions: { sqlValue: SqlValue } } {
  return { extensions: { sqlValue: sql } };
}

/**
 * Root field options: the field reads rows of its type the caller may see (its model's
 * predicate, auth/visibility.ts PREDICATES), by `id` (a byId root) or all of them in id order
 * as a connection (a list root), so the read model's SQL may answer it (compiled/rows.ts).
 */
export function sqlRoot(kind: SqlRoot): { extensions: { sqlRoot: SqlRoot } } {
  return { extensions: { sqlRoot: kind } };
}
export type SqlRoot = 'byId' | 'list';
export function sqlRootOf(field: GraphQLField<unknown, unknown> | undefined): SqlRoot | null {
  return ((field?.extensions ?? {}) as { sqlRoot?: SqlRoot }).sqlRoot ?? null;
}

/**
 * Options of a `t.relatedConnection` listing the related rows of `model` the caller may see
 * (its predicate, auth/visibility.ts), oldest first: the executor's Prisma query and the read
 * model's SQL (compiled/rows.ts) both come from this one declaration.
 */
export function visibleRows<M extends VisibleModel>(model: M) {
  return {
    query: (_args: unknown, ctx: { principal: Principal | null }) => ({
      where: visibleWhere(model, ctx.principal),
      orderBy: { id: 'asc' as const },
    }),
    extensions: { sqlRows: model },
  };
}
export function visibleRowsOf(field: GraphQLField<unknown, unknown>): VisibleModel | null {
  return ((field.extensions ?? {}) as { sqlRows?: VisibleModel }).sqlRows ?? null;
}

/**
 * Type options beside a type's `authScopes`: the same rule as a predicate (auth/visibility.ts),
 * so the read model's SQL knows which of its rows the caller may see and leaves any other to
 * the executor, which answers them with their errors.
 */
export function sqlVisible(predicate: (p: Principal | null) => Condition[]) {
  return { extensions: { sqlVisible: predicate } };
}
export function sqlVisibleOf(type: GraphQLObjectType): ((p: Principal | null) => Condition[]) | null {
  return ((type.extensions ?? {}) as { sqlVisible?: (p: Principal | null) => Condition[] }).sqlVisible ?? null;
}

/** A field of the Prisma datamodel (DMMF), as the read model's SQL reads it. */
export interface DmmfField {
  name: string;
  kind: 'scalar' | 'enum' | 'object';
  type: string;
  isList: boolean;
  relationName?: string;
  relationFromFields?: string[];
}

/** The Prisma datamodel's models by name. */
export const models = getDatamodel().datamodel.models as unknown as Record<string, { fields: DmmfField[] }>;

export const iso = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
// Global ids and cursors are short (under 57 base64 characters), so encode() adds no line break.
export const base64 = (text: string) => `encode(convert_to(${text}, 'UTF8'), 'base64')`;
/** The Relay global id of a row (ids.ts: base64 of `Type:id`). */
export const globalIdSql = (type: string, id: string) => base64(`'${type}:' || ${id}`);

/** The value of a Prisma field (a column of the model's table) as the GraphQL scalar writes it. */
function columnValue(field: DmmfField): SqlValue | null {
  if (field.kind === 'object') return null;
  const col = (x: string) => `${x}."${field.name}"`;
  if (field.isList) return (x) => `COALESCE(to_json(${col(x)}), '[]'::json)`;
  if (field.kind === 'enum') return (x) => `${col(x)}::text`;
  if (field.type === 'DateTime') return (x) => iso(col(x));
  return col;
}

/** The Prisma model behind a GraphQL type (plugin-prisma records it on the type). */
export function modelOf(type: GraphQLObjectType): string | null {
  const model = (type.extensions as { pothosPrismaModel?: unknown } | undefined)?.pothosPrismaModel;
  return typeof model === 'string' && model in models ? model : null;
}

/**
 * The table and foreign-key column of the rows a to-many relation of `model` lists: the
 * field on the other side of the same relation holds the key (from the datamodel).
 */
export function inverseColumn(model: string, relation: string): { table: string; column: string } | null {
  const field = models[model]?.fields.find((f) => f.name === relation);
  if (field?.kind !== 'object' || !field.isList) return null;
  const other = models[field.type]?.fields.find(
    (f) => f.relationName === field.relationName && f.type === model && !f.isList,
  );
  const from = other?.relationFromFields;
  return from?.length === 1 ? { table: field.type, column: from[0]! } : null;
}

/** A `t.relationCount` field: plugin-prisma's `_count` of one relation, with no where. */
function relationCount(model: string, field: GraphQLField<unknown, unknown>): SqlValue | null {
  const select = (field.extensions as { pothosPrismaSelect?: unknown } | undefined)?.pothosPrismaSelect as
    | { _count?: { select?: Record<string, unknown> } }
    | undefined;
  const counted = select?._count?.select;
  const names = counted ? Object.keys(counted) : [];
  if (Object.keys(select ?? {}).length !== 1 || names.length !== 1 || counted![names[0]!] !== true) return null;
  const inverse = inverseColumn(model, names[0]!);
  if (!inverse) return null;
  return (x) => `(SELECT count(*)::int FROM "${inverse.table}" WHERE "${inverse.column}" = ${x}.id)`;
}

/** The SQL of one field, or null when its declaration gives none. */
export function sqlOfField(type: GraphQLObjectType, field: GraphQLField<unknown, unknown>): SqlValue | null {
  const extensions = (field.extensions ?? {}) as { sqlValue?: SqlValue; pothosExposedField?: string };
  if (extensions.sqlValue) return extensions.sqlValue;
  const model = modelOf(type);
  if (!model) return null;
  const count = relationCount(model, field);
  if (count) return count;
  if (field.name === 'id' && type.getInterfaces().some((i) => i.name === 'Node'))
    return (x) => globalIdSql(type.name, `${x}.id::text`);
  if (!extensions.pothosExposedField) return null;
  const prismaField = models[model]!.fields.find((f) => f.name === extensions.pothosExposedField);
  return prismaField ? columnValue(prismaField) : null;
}

/** The foreign-key column of a to-one relation field (`t.relation`), from the datamodel. */
export function relationColumn(field: GraphQLField<unknown, unknown>): string | null {
  const relation = (field.extensions as { pothosPrismaRelationField?: DmmfField } | undefined)
    ?.pothosPrismaRelationField;
  const from = relation && !relation.isList ? relation.relationFromFields : undefined;
  return from?.length === 1 ? from[0]! : null;
}

const cache = new WeakMap<GraphQLSchema, Map<string, Map<string, SqlValue>>>();

/**
 * Every field of `typeName` answerable in SQL (plus `__typename`), from the schema's own
 * declarations; built once per schema.
 */
export function sqlFields(schema: GraphQLSchema, typeName: string): Map<string, SqlValue> {
  let bySchema = cache.get(schema);
  if (!bySchema) {
    bySchema = new Map();
    cache.set(schema, bySchema);
  }
  let fields = bySchema.get(typeName);
  if (!fields) {
    fields = new Map([['__typename', () => `'${typeName}'`]]);
    const type = schema.getType(typeName) as GraphQLObjectType | undefined;
    for (const field of Object.values(type?.getFields() ?? {})) {
      if (field.args.length) continue;
      const sql = sqlOfField(type!, field);
      if (sql) fields.set(field.name, sql);
    }
    bySchema.set(typeName, fields);
  }
  return fields;
}
