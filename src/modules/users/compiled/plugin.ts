// The compiled read path: a yoga/envelop plugin that answers `users` pages with one SQL
// statement building the JSON in PostgreSQL, instead of resolving some thousand fields in
// JavaScript. Plans are cached per parsed document (yoga caches those per query text).
// When a plan or its SQL cannot be made, or the statement fails, the normal executor
// answers: the compiled path can only be faster, never different.
import { createHash } from 'node:crypto';
import { getArgumentValues, getVariableValues, type DocumentNode, type FieldNode, type GraphQLSchema } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type pg from 'pg';
import { isUser } from '../../../auth/principal.js';
import type { Logger } from '../../../logger.js';
import { toUserFilter, userIdOfReference } from '../schema.js';
import { decodeNodeId } from '../../../graphql/ids.js';
import type { GraphQLContext } from '../../../graphql/builder.js';
import { planOperation, type FieldPlan, type OperationPlan } from './plan.js';
import { buildSql, type UsersArgs } from './sql.js';
import { DENIED, buildRowsSql, planRows } from './rows.js';
import { nativeId } from '../../../graphql/ids.js';

export function useCompiledReads(pool: pg.Pool, logger: Logger): Plugin<GraphQLContext> {
  const plans = new WeakMap<DocumentNode, Map<string, OperationPlan | null>>();
  const planFor = (schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined) => {
    let byName = plans.get(document);
    if (!byName) {
      byName = new Map();
      plans.set(document, byName);
    }
    const key = operationName ?? '';
    if (!byName.has(key))
      byName.set(key, planOperation(schema, document, operationName) ?? rowsPlan(schema, document, operationName));
    return byName.get(key)!;
  };

  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      const ctx = args.contextValue as GraphQLContext;
      if (!isUser(ctx.principal)) return;
      const plan = planFor(args.schema, args.document, args.operationName);
      if (!plan) return;
      const principal = ctx.principal;
      setExecuteFn(async (execArgs) => {
        const sql = compile(args.schema, plan, execArgs.variableValues ?? {}, principal);
        if (!sql) return executeFn(execArgs);
        try {
          const { rows } = await pool.query<{ data: string }>({ ...sql, name: statementName(sql.text) });
          // The JSON text goes out as PostgreSQL wrote it (yoga's `stringify` hook): no parse
          // and re-serialisation of a page in Node. `data` is parsed only if something reads it.
          const text = rows[0]!.data;
          // A row the statement may not answer (rows.ts DENIED): the executor answers, with its errors.
          if (text.includes(DENIED)) return executeFn(execArgs);
          let data: Record<string, unknown> | undefined;
          return {
            get data() {
              data ??= JSON.parse(text) as Record<string, unknown>;
              return data;
            },
            stringify: () => `{"data":${text}}`,
          };
        } catch (error) {
          logger.warn({ err: error, requestId: ctx.requestId }, 'compiled read failed; answering through the executor');
          return executeFn(execArgs);
        }
      });
    },
  };
}

// Named statements are parsed and planned once per connection: pg remembers per connection
// which names it has prepared, and a new connection starts from a new session (on the
// embedded store too, whose one PGlite session is reset for each connection: see
// store/database.ts). Their number is capped: the texts come from clients' documents, and
// each name costs memory in every backend.
const MAX_NAMED = 200;
const named = new Map<string, string>();
function statementName(text: string): string | undefined {
  let name = named.get(text);
  if (!name && named.size < MAX_NAMED) {
    name = `compiled_${createHash('sha1').update(text).digest('hex')}`;
    named.set(text, name);
  }
  return name;
}

/** A node id's user id; null when it names no row; an id of another type is the executor's. */
function userIdOrNone(id: string): string | null {
  const decoded = decodeNodeId(id);
  if (decoded.typename !== 'User') throw new Error('a node of another type');
  return decoded.id === NO_ROW ? null : decoded.id;
}
const NO_ROW = decodeNodeId('').id;

/**
 * A representation's user id (null when malformed), as User's resolveReference reads it; one
 * the federation layer would refuse, of another type or by externalUserId is the executor's.
 */
function entityUserId(representation: unknown): string | null {
  const r = representation as Record<string, unknown> | null;
  if (!r || typeof r !== 'object' || Array.isArray(r) || r.__typename !== 'User' || (r.id == null && r.uuid == null))
    throw new Error('answered by the executor');
  return userIdOfReference(r) ?? null;
}

/** Plans of the general planner (rows.ts), marked as such. */
const ROWS = new WeakSet<OperationPlan>();
function rowsPlan(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined) {
  const plan = planRows(schema, document, operationName);
  if (plan) ROWS.add(plan);
  return plan;
}

function compile(
  schema: GraphQLSchema,
  plan: OperationPlan,
  rawVariables: Record<string, unknown>,
  principal: Parameters<typeof buildSql>[3],
): { text: string; values: unknown[] } | null {
  const variables = getVariableValues(schema, plan.operation.variableDefinitions ?? [], rawVariables);
  if (variables.errors) return null;
  if (ROWS.has(plan)) {
    try {
      return buildRowsSql(
        schema,
        plan.fields,
        (field, f) => getArgumentValues(field, { arguments: f.args } as FieldNode, variables.coerced),
        principal,
        (typename, id) => nativeId(typename as Parameters<typeof nativeId>[0], id),
      );
    } catch {
      return null;
    }
  }
  const field = schema.getQueryType()!.getFields().users!;
  const roots = schema.getQueryType()!.getFields();
  const argsOf = (f: FieldPlan): UsersArgs => {
    if (f.name === 'nodes') {
      const { ids } = getArgumentValues(roots.nodes!, { arguments: f.args } as FieldNode, variables.coerced);
      return { filter: {}, ids: (ids as string[]).map(userIdOrNone) };
    }
    if (f.name === '_entities') {
      const { representations } = getArgumentValues(
        roots._entities!,
        { arguments: f.args } as FieldNode,
        variables.coerced,
      );
      return { filter: {}, ids: (representations as unknown[]).map(entityUserId) };
    }
    const values = getArgumentValues(field, { arguments: f.args } as FieldNode, variables.coerced);
    return {
      first: values.first as number | null | undefined,
      after: values.after as string | null | undefined,
      filter: toUserFilter(values.filter as Parameters<typeof toUserFilter>[0]),
      orderBy: values.orderBy as UsersArgs['orderBy'],
    };
  };
  try {
    return buildSql(schema, plan.fields, argsOf, principal);
  } catch {
    // An argument that does not coerce: the executor reports it properly.
    return null;
  }
}
