// The shape of a read the compiled path can answer: a query whose root fields are all
// `users` connections (any alias) selecting fields the path follows: the connection's own
// structure and relations below, and, for each Prisma-backed type, the fields whose
// declarations give them an SQL form (src/graphql/sql-fields.ts: exposed columns, global ids,
// computed fields' sqlTwin), so a field's meaning is read from its declaration, not copied. Fragments are
// flattened; anything else (directives, unknown fields, other root fields, `last`/`before`,
// nested connections beyond a count) makes the operation "not compiled", and the normal
// executor answers it. The plan depends on the document only, so it is cached per document.
import type { DocumentNode, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import { sqlFields } from '../../../graphql/sql-fields.js';
import { NotCompiled, collect, queryOf, type FieldPlan, type Scopes } from './selection.js';

export type TypeName =
  | 'UsersConnection'
  | 'UsersEdge'
  | 'PageInfo'
  | 'User'
  | 'Account'
  | 'Client'
  | 'Entitlement'
  | 'CountConnection';

export type { FieldPlan } from './selection.js';

export interface OperationPlan {
  operation: OperationDefinitionNode;
  /** Root fields: `users` connections, `nodes` and `_entities` lists (of users) and `__typename`. */
  fields: FieldPlan[];
}

/** The object fields of each type the compiled path follows, and the type each leads to. */
const OBJECT_FIELDS: Record<TypeName, Record<string, TypeName>> = {
  UsersConnection: { pageInfo: 'PageInfo', edges: 'UsersEdge' },
  UsersEdge: { node: 'User' },
  PageInfo: {},
  User: {
    account: 'Account',
    registeredAccount: 'Account',
    partner: 'Account',
    client: 'Client',
    mergedInto: 'User',
    entitlements: 'Entitlement',
    courses: 'CountConnection',
    enrollments: 'CountConnection',
    orders: 'CountConnection',
  },
  Account: {},
  Client: {},
  Entitlement: {},
  CountConnection: {},
};

/** Leaves of the connection types, which the statement's own structure answers. */
const CONNECTION_LEAVES: Partial<Record<TypeName, string[]>> = {
  UsersConnection: ['totalCount', '__typename'],
  UsersEdge: ['cursor', '__typename'],
  PageInfo: ['hasNextPage', 'hasPreviousPage', 'startCursor', 'endCursor', '__typename'],
  CountConnection: ['totalCount', '__typename'],
};

/** The Prisma-backed types, whose leaves are the fields their declarations give SQL for (sql-fields.ts). */
export const ROW_TYPES = ['User', 'Account', 'Client', 'Entitlement'] as const;

/** For each type: its fields, and the type of each object field (null for a leaf). */
type FieldTable = Record<TypeName, Record<string, TypeName | null>>;
const tables = new WeakMap<GraphQLSchema, FieldTable>();
function fieldTable(schema: GraphQLSchema): FieldTable {
  let table = tables.get(schema);
  if (!table) {
    table = {} as FieldTable;
    for (const type of Object.keys(OBJECT_FIELDS) as TypeName[]) {
      const leaves = (ROW_TYPES as readonly string[]).includes(type)
        ? [...sqlFields(schema, type).keys()]
        : (CONNECTION_LEAVES[type] ?? []);
      table[type] = { ...Object.fromEntries(leaves.map((name) => [name, null])), ...OBJECT_FIELDS[type] };
    }
    tables.set(schema, table);
  }
  return table;
}

/** GraphQL type names (for fragment type conditions) of each plan type. */
const GRAPHQL_NAMES: Record<TypeName, string[]> = {
  UsersConnection: ['QueryUsersConnection'],
  UsersEdge: ['QueryUsersConnectionEdge'],
  PageInfo: ['PageInfo'],
  User: ['User', 'Node'],
  Account: ['Account', 'Node'],
  Client: ['Client', 'Node'],
  Entitlement: ['Entitlement'],
  CountConnection: ['UserCoursesConnection', 'UserEnrollmentsConnection', 'UserOrdersConnection'],
};

/** Root fields that list objects by id: compiled when every one is a user's. */
export const LISTS = new Set(['nodes', '_entities']);

export function planOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
): OperationPlan | null {
  const FIELDS = fieldTable(schema);
  const query = queryOf(document, operationName);
  if (!query) return null;
  const { operation, fragments } = query;
  try {
    const roots = collect(scopesOf(FIELDS), operation.selectionSet, 'Query', fragments);
    if (!roots.some((f) => f.name === 'users' || LISTS.has(f.name))) return null;
    for (const root of roots) {
      if (root.name === '__typename') continue;
      // nodes(ids:) and _entities as lists of users: a fragment on another type, or an id or
      // representation of one (plugin.ts), is the executor's.
      if (LISTS.has(root.name) && root.children) {
        check(FIELDS, root.children, 'User');
        continue;
      }
      if (root.name !== 'users' || !root.children) return null;
      if (root.args.some((a) => a.name.value === 'last' || a.name.value === 'before')) return null;
      check(FIELDS, root.children, 'UsersConnection');
    }
    return { operation, fields: roots };
  } catch (error) {
    if (error instanceof NotCompiled) return null;
    throw error;
  }
}

/** Checks fields against the table, recursively; only `users` may take arguments. */
function check(FIELDS: FieldTable, fields: FieldPlan[], type: TypeName): void {
  for (const field of fields) {
    if (!(field.name in FIELDS[type]) || field.args.length) throw new NotCompiled();
    const child = FIELDS[type][field.name];
    if (child === null || child === undefined) {
      if (field.children) throw new NotCompiled();
    } else {
      if (!field.children) throw new NotCompiled();
      check(FIELDS, field.children, child);
    }
  }
}

/** The field table as the scopes `collect` walks (the root, then the table's types). */
function scopesOf(FIELDS: FieldTable): Scopes<TypeName | 'Query'> {
  return {
    child: (type, name) =>
      (type === 'Query'
        ? name === 'users'
          ? 'UsersConnection'
          : LISTS.has(name)
            ? 'User'
            : null
        : FIELDS[type][name]) ?? null,
    admits: (type, condition) => (type === 'Query' ? ['Query'] : GRAPHQL_NAMES[type]).includes(condition),
  };
}
