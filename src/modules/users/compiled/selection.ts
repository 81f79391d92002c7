// What both read-model planners (plan.ts for users pages and id lists, rows.ts for the sqlRoot
// fields) read of a document: its one query operation and fragments, and each selection set
// flattened into plain fields (fragments spread, fields sharing a response key merged). A
// planner says how a field leads to its child scope and which type conditions a scope admits;
// anything the read model does not answer throws NotCompiled, and the executor answers.
import {
  Kind,
  type ArgumentNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type InlineFragmentNode,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

/** Thrown where the read model does not answer: the executor does. */
export class NotCompiled extends Error {}

export interface FieldPlan {
  /** Response key (alias or field name). */
  key: string;
  name: string;
  args: readonly ArgumentNode[];
  /** Selected sub-fields, for object fields. */
  children: FieldPlan[] | null;
}

export type Fragments = Map<string, FragmentDefinitionNode>;

/** The operation a request runs, when it is a query without directives, and the document's fragments. */
export function queryOf(
  document: DocumentNode,
  operationName: string | null | undefined,
): { operation: OperationDefinitionNode; fragments: Fragments } | null {
  const operations = document.definitions.filter(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION,
  );
  const operation = operationName
    ? operations.find((o) => o.name?.value === operationName)
    : operations.length === 1
      ? operations[0]
      : undefined;
  if (operation?.operation !== 'query' || operation.directives?.length) return null;
  const fragments = new Map(
    document.definitions
      .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
      .map((f) => [f.name.value, f]),
  );
  return { operation, fragments };
}

/** How a planner walks its scopes (a GraphQL type, or a row of its own field table). */
export interface Scopes<S> {
  /** The scope a field with a selection set leads to; null: not answerable. */
  child(scope: S, field: string): S | null;
  /** Whether a fragment's type condition applies to the scope. */
  admits(scope: S, condition: string): boolean;
}

/** Flattens fragments into plain fields, merging fields that share a response key. */
export function collect<S>(
  scopes: Scopes<S>,
  set: SelectionSetNode,
  scope: S,
  fragments: Fragments,
  visiting: ReadonlySet<string> = new Set(),
): FieldPlan[] {
  const out: FieldPlan[] = [];
  for (const selection of set.selections) {
    if (selection.directives?.length) throw new NotCompiled();
    if (selection.kind === Kind.FIELD) {
      const name = selection.name.value;
      let children: FieldPlan[] | null = null;
      if (selection.selectionSet) {
        const child = scopes.child(scope, name);
        if (child === null) throw new NotCompiled();
        children = collect(scopes, selection.selectionSet, child, fragments, visiting);
      }
      merge(out, { key: selection.alias?.value ?? name, name, args: selection.arguments ?? [], children });
      continue;
    }
    const spread = selection.kind === Kind.FRAGMENT_SPREAD ? selection.name.value : null;
    const fragment: FragmentDefinitionNode | InlineFragmentNode | undefined = spread
      ? fragments.get(spread)
      : (selection as InlineFragmentNode);
    if (!fragment || fragment.directives?.length || (spread && visiting.has(spread))) throw new NotCompiled();
    const condition = fragment.typeCondition?.name.value;
    if (condition && !scopes.admits(scope, condition)) throw new NotCompiled();
    const inner = spread ? new Set([...visiting, spread]) : visiting;
    for (const plan of collect(scopes, fragment.selectionSet, scope, fragments, inner)) merge(out, plan);
  }
  return out;
}

function merge(out: FieldPlan[], plan: FieldPlan): void {
  const same = out.find((f) => f.key === plan.key);
  if (!same) {
    out.push(plan);
    return;
  }
  // Validation guarantees that fields sharing a key are the same field with the same arguments.
  if (same.name !== plan.name) throw new NotCompiled();
  if (same.children && plan.children) for (const child of plan.children) merge(same.children, child);
}
