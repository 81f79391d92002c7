// Every public element of the API schema (what schema.client.graphql holds: the subgraph
// without federation internals) has a description: types, fields, arguments, input fields and
// enum values. Built-in scalars and introspection types are graphql-js' own; `_entities`,
// `_service`, `_Any`, `_Entity`, `_Service` and the link/federation directives are not in the
// client schema at all. A failure names each undescribed element, so it says what to write.
// And the derived parts stay true: each mutation's description lists exactly the errors of
// its result union.
import { printSubgraphSchema } from '@apollo/subgraph';
import {
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isIntrospectionType,
  isObjectType,
  isScalarType,
  isSpecifiedScalarType,
  isUnionType,
  lexicographicSortSchema,
  type GraphQLSchema,
} from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { clientSchema } from '../../scripts/client-schema.js';

const blank = (text: string | null | undefined) => !text || text.trim() === '';

/**
 * `type X`, `field X.f`, `argument X.f(a)`, `input field X.f`, `enum value X.V` for each element
 * without a description.
 */
function undescribed(schema: GraphQLSchema): string[] {
  const missing: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (isIntrospectionType(type) || (isScalarType(type) && isSpecifiedScalarType(type))) continue;
    if (blank(type.description)) missing.push(`type ${type.name}`);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        if (blank(field.description)) missing.push(`field ${type.name}.${field.name}`);
        for (const arg of field.args)
          if (blank(arg.description)) missing.push(`argument ${type.name}.${field.name}(${arg.name})`);
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields()))
        if (blank(field.description)) missing.push(`input field ${type.name}.${field.name}`);
    } else if (isEnumType(type)) {
      for (const value of type.getValues())
        if (blank(value.description)) missing.push(`enum value ${type.name}.${value.name}`);
    }
  }
  return missing.sort();
}

let api: GraphQLSchema;
beforeAll(async () => {
  const { schema } = await import('../../src/schema.js');
  api = clientSchema(printSubgraphSchema(lexicographicSortSchema(schema)));
}, 60_000);

describe('schema descriptions', () => {
  it('describe every public type, field, argument, input field and enum value', () => {
    expect(undescribed(api), 'elements without a description (add `description:` to their Pothos definition)').toEqual(
      [],
    );
  });

  it('the walk finds an element without a description (the check itself can fail)', async () => {
    const { buildSchema } = await import('graphql');
    const probe = buildSchema(`
      "Described." type Query { "Described." a(x: Int): Int  b: Color }
      enum Color { "Described." RED GREEN }
      "Described." input Filter { "Described." on: Boolean  off: Boolean }
      type Extra { "Described." q(f: Filter): Int }
    `);
    expect(undescribed(probe)).toEqual(
      [
        'argument Extra.q(f)',
        'argument Query.a(x)',
        'enum value Color.GREEN',
        'field Query.b',
        'input field Filter.off',
        'type Color',
        'type Extra',
      ].sort(),
    );
  });

  it("lists in each mutation's description exactly the typed errors of its result union", () => {
    const mutations = Object.values(api.getMutationType()!.getFields());
    expect(mutations.length).toBeGreaterThan(20);
    for (const mutation of mutations) {
      const union = mutation.type.toString().replace(/!$/, '');
      const result = api.getType(union);
      // An undescribed mutation is named by the first test; its Errors line comes with a description.
      if (!isUnionType(result) || blank(mutation.description)) continue;
      const errors = result
        .getTypes()
        .filter((t) => t.getInterfaces().some((i) => i.name === 'Error'))
        .map((t) => t.name)
        .sort();
      const listed = /\n\nErrors: (.*)\.$/s.exec(mutation.description ?? '')?.[1];
      expect(listed, `${mutation.name} has no "Errors:" line`).toBeDefined();
      // "NotFoundError (an id or key names …), ConflictError (…)": the names outside parentheses.
      const names = [...listed!.matchAll(/(?:^|, )([A-Za-z]+Error) \(/g)].map((m) => m[1]).sort();
      expect(names, `${mutation.name}'s Errors line`).toEqual(errors);
      expect(result.description, `${union} names its mutation`).toContain(`\`${mutation.name}\``);
    }
  });

  it('describes each error in the Errors lines by its own type description', () => {
    const conflict = api.getType('ConflictError')!;
    const createUser = api.getMutationType()!.getFields().createUser!;
    const firstSentence = conflict.description!.split(/(?<=\.)\s+(?=[A-Z`])/)[0]!.replace(/\.$/, '');
    expect(createUser.description).toContain(
      `ConflictError (${firstSentence[0]!.toLowerCase()}${firstSentence.slice(1)})`,
    );
  });

  it('gives every connection totalCount and page arguments the shared descriptions', () => {
    const users = api.getQueryType()!.getFields().users!;
    expect(users.args.find((a) => a.name === 'first')!.description).toMatch(/at most 100/);
    for (const type of Object.values(api.getTypeMap())) {
      if (isObjectType(type) && type.name.endsWith('Connection') && type.getFields().totalCount) {
        expect(type.getFields().totalCount!.description, `${type.name}.totalCount`).toMatch(/whole list/);
      }
    }
  });
});
