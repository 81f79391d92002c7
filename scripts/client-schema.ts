// The schema client tools see (codegen, Relay, graphql-inspector, Apollo Client): the
// subgraph SDL without what only a federation router reads. Client tools reject the subgraph
// SDL: it extends the schema with @link and applies @key/@tag/@shareable without defining
// them (relay-compiler panics on it).
import {
  Kind,
  buildASTSchema,
  isAbstractType,
  lexicographicSortSchema,
  parse,
  printSchema,
  validateSchema,
  visit,
  type ASTNode,
  type DirectiveNode,
  type GraphQLSchema,
} from 'graphql';

/** Directives of the federation spec (any version) and of @link: a router's business only. */
const FEDERATION_DIRECTIVES = new Set([
  'link',
  'key',
  'shareable',
  'tag',
  'inaccessible',
  'external',
  'requires',
  'provides',
  'override',
  'extends',
  'composeDirective',
  'interfaceObject',
  'authenticated',
  'requiresScopes',
  'policy',
  'context',
  'fromContext',
  'cost',
  'listSize',
]);

/** Federation's own types and Query fields (printSubgraphSchema leaves them out already). */
const FEDERATION_TYPES = new Set([
  '_Any',
  '_Entity',
  '_Service',
  'link__Import',
  'link__Purpose',
  'federation__FieldSet',
  'federation__Scope',
  'federation__Policy',
]);
const FEDERATION_QUERY_FIELDS = new Set(['_entities', '_service']);

const isInaccessible = (node: { directives?: readonly DirectiveNode[] }) =>
  node.directives?.some((d) => d.name.value === 'inaccessible') ?? false;

/**
 * The API schema of a subgraph SDL: @inaccessible elements removed (as composition removes
 * them from the supergraph's API schema), federation directives, @link and federation types
 * gone, everything else (descriptions, @deprecated, @oneOf, @specifiedBy) kept.
 */
export function clientSchema(subgraphSdl: string): GraphQLSchema {
  const document = parse(subgraphSdl);
  const hidden = new Set(
    document.definitions.flatMap((d) =>
      'name' in d && d.name && 'directives' in d && isInaccessible(d) ? [d.name.value] : [],
    ),
  );
  for (const name of FEDERATION_TYPES) hidden.add(name);
  const cleaned = visit(document, {
    enter(node: ASTNode) {
      switch (node.kind) {
        case Kind.SCHEMA_EXTENSION:
        case Kind.SCHEMA_DEFINITION:
          // Only @link lives here; the root types keep their default names.
          return node.operationTypes?.length ? { ...node, directives: [] } : null;
        case Kind.DIRECTIVE_DEFINITION:
          return FEDERATION_DIRECTIVES.has(node.name.value) ? null : undefined;
        case Kind.DIRECTIVE:
          return FEDERATION_DIRECTIVES.has(node.name.value) ? null : undefined;
        case Kind.FIELD_DEFINITION:
          if (FEDERATION_QUERY_FIELDS.has(node.name.value)) return null;
          return isInaccessible(node) ? null : undefined;
        case Kind.INPUT_VALUE_DEFINITION:
        case Kind.ENUM_VALUE_DEFINITION:
          return isInaccessible(node) ? null : undefined;
        case Kind.OBJECT_TYPE_DEFINITION:
        case Kind.OBJECT_TYPE_EXTENSION:
        case Kind.INTERFACE_TYPE_DEFINITION:
        case Kind.INTERFACE_TYPE_EXTENSION:
          if (hidden.has(node.name.value)) return null;
          return { ...node, interfaces: node.interfaces?.filter((i) => !hidden.has(i.name.value)) };
        case Kind.UNION_TYPE_DEFINITION:
        case Kind.UNION_TYPE_EXTENSION:
          if (hidden.has(node.name.value)) return null;
          return { ...node, types: node.types?.filter((t) => !hidden.has(t.name.value)) };
        case Kind.SCALAR_TYPE_DEFINITION:
        case Kind.SCALAR_TYPE_EXTENSION:
        case Kind.ENUM_TYPE_DEFINITION:
        case Kind.ENUM_TYPE_EXTENSION:
        case Kind.INPUT_OBJECT_TYPE_DEFINITION:
        case Kind.INPUT_OBJECT_TYPE_EXTENSION:
          return hidden.has(node.name.value) ? null : undefined;
        default:
          return undefined;
      }
    },
  });
  const schema = buildASTSchema(cleaned, { assumeValidSDL: true });
  const errors = validateSchema(schema);
  if (errors.length)
    throw new Error(`the client schema is not valid:\n${errors.map((e) => `  ${e.message}`).join('\n')}`);
  return lexicographicSortSchema(schema);
}

export const printClientSchema = (schema: GraphQLSchema) => `${printSchema(schema).trim()}\n`;

/**
 * Apollo Client's `possibleTypes`: every interface and union with the concrete types that
 * can stand for it. Without it the cache cannot tell that a `ConflictError` matches
 * `... on Error`, and drops the fragment's fields.
 */
export function possibleTypes(schema: GraphQLSchema): Record<string, string[]> {
  const map: Record<string, string[]> = {};
  for (const type of Object.values(schema.getTypeMap()).sort((a, b) => a.name.localeCompare(b.name))) {
    if (type.name.startsWith('__') || !isAbstractType(type)) continue;
    map[type.name] = schema
      .getPossibleTypes(type)
      .map((t) => t.name)
      .sort();
  }
  return map;
}
