// What a supergraph owner meets: composing with a second subgraph of the usual Pothos/Relay
// shape (both composition libraries), the Course/Enrollment/Order/User-by-uuid keys another
// subgraph extends, federated tracing (ftv1), and a contract without `pii`.
import {
  assertEnumType,
  assertInputObjectType,
  buildSchema,
  isEnumType,
  isInputObjectType,
  isObjectType,
  parse,
  type GraphQLSchema,
} from 'graphql';
import { beforeAll, describe, expect, it } from 'vitest';
import { composeServices as composeWithApollo } from '@apollo/composition';
import {
  composeServices as composeWithGuild,
  composeSchemaContract,
  compositionHasErrors,
} from '@theguild/federation-composition';
import { Trace } from '@apollo/usage-reporting-protobuf';
import { useHarness, type Partner } from './helpers/app.js';
import { createManyUsers, mutate } from './helpers/fixtures.js';

/**
 * A second subgraph as Pothos (relay, errors, federation plugins) prints one: its own Node,
 * node/nodes, PageInfo, Error interface and error types and viewer, each @shareable where it
 * has to be, and entities of ours extended by their keys (Course by id, User by uuid).
 */
const LESSONS_SDL = /* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@shareable"])

  interface Node {
    id: ID!
  }

  interface Error {
    message: String!
    code: String!
  }

  type PageInfo @shareable {
    hasNextPage: Boolean!
    hasPreviousPage: Boolean!
    startCursor: String
    endCursor: String
  }

  type FieldIssue @shareable {
    field: String!
    message: String!
  }

  type NotFoundError implements Error @shareable {
    message: String!
    code: String!
    entity: String!
  }

  type ValidationError implements Error @shareable {
    message: String!
    code: String!
    issues: [FieldIssue!]!
  }

  type ForbiddenError implements Error @shareable {
    message: String!
    code: String!
  }

  type Viewer @shareable {
    isAdmin: Boolean!
    lessonsDone: Int!
  }

  type Lesson implements Node @key(fields: "id") {
    id: ID!
    title: String!
    course: Course!
  }

  type Course implements Node @key(fields: "id") {
    id: ID!
    lessons(first: Int, after: String): CourseLessonsConnection!
  }

  type User @key(fields: "uuid") {
    uuid: String!
    lessonsDone: Int!
  }

  type CourseLessonsConnection {
    pageInfo: PageInfo!
    edges: [CourseLessonsConnectionEdge!]!
  }

  type CourseLessonsConnectionEdge {
    node: Lesson!
    cursor: String!
  }

  type AddLessonSuccess {
    lesson: Lesson!
  }

  union AddLessonResult = NotFoundError | ValidationError | ForbiddenError | AddLessonSuccess

  type Query {
    node(id: ID!): Node @shareable
    nodes(ids: [ID!]!): [Node]! @shareable
    viewer: Viewer! @shareable
  }

  type Mutation {
    addLesson(courseId: ID!, title: String!): AddLessonResult!
  }
`;

const h = useHarness();
let a: Partner;
let b: Partner;
let sdl: string;
/** 25 of each entity of partner A, as representations. */
const reps = { Course: [] as object[], Enrollment: [] as object[], Order: [] as object[], User: [] as object[] };

beforeAll(async () => {
  if (!h.ready) return;
  a = await h.newPartner('Supergraph A', 'AUTOMATE');
  b = await h.newPartner('Supergraph B', 'AUTOMATE');
  const { data } = await h.gql('{ _service { sdl } }', {}, { token: a.key });
  sdl = data._service.sdl;

  const users = await createManyUsers(h, a, 25, (i) => ({ externalUserId: `sg-${i}` }));
  const { data: uuids } = await h.gql(
    `query ($ids: [ID!]!) { nodes(ids: $ids) { ... on User { uuid } } }`,
    { ids: users },
    { token: a.key },
  );
  for (const [i, user] of users.entries()) {
    const course = await mutate(
      h,
      a.key,
      'createCourse',
      { ownerId: user, title: `Course ${i}` },
      '... on CreateCourseSuccess { course { id } }',
    );
    const enrollment = await mutate(
      h,
      a.key,
      'enrollUser',
      { userId: user, courseId: course.course.id },
      '... on EnrollUserSuccess { enrollment { id } }',
    );
    const order = await mutate(
      h,
      a.key,
      'recordOrder',
      { userId: user, courseId: course.course.id, amountCents: 100 + i },
      '... on RecordOrderSuccess { order { id } }',
    );
    reps.Course.push({ __typename: 'Course', id: course.course.id });
    reps.Enrollment.push({ __typename: 'Enrollment', id: enrollment.enrollment.id });
    reps.Order.push({ __typename: 'Order', id: order.order.id });
    reps.User.push({ __typename: 'User', uuid: uuids.nodes[i].uuid });
  }
}, 120_000);

const services = (accounts: string) => [
  { name: 'accounts', typeDefs: parse(accounts), url: 'http://accounts.test/graphql' },
  { name: 'lessons', typeDefs: parse(LESSONS_SDL), url: 'http://lessons.test/graphql' },
];

describe('composition with a second Pothos/Relay subgraph', () => {
  it('composes with the Guild library', () => {
    const result = composeWithGuild(services(sdl));
    expect(compositionHasErrors(result) ? result.errors.map((e) => e.message) : []).toEqual([]);
    if (compositionHasErrors(result)) return;
    // Both subgraphs' fields meet on the shared and the extended types.
    expect(result.publicSdl).toMatch(/type Viewer \{[^}]*isOperator: Boolean![^}]*lessonsDone: Int!/s);
    expect(result.publicSdl).toMatch(/type Course implements Node \{[^}]*title: String![^}]*lessons\(/s);
    expect(result.publicSdl).toMatch(/type User implements Node \{[^}]*externalUserId: String[^}]*lessonsDone: Int!/s);
  });

  it("composes with Apollo's library", () => {
    const result = composeWithApollo(services(sdl));
    expect((result.errors ?? []).map((e) => `${e.extensions?.code}: ${e.message}`)).toEqual([]);
    expect(result.supergraphSdl).toContain('lessonsDone: Int!');
  });

  it('declares keys for Course, Enrollment, Order and User by uuid', () => {
    for (const type of ['Course', 'Enrollment', 'Order'])
      expect(sdl).toMatch(new RegExp(`type ${type} implements Node\\s+@key\\(fields: "id"\\)`));
    expect(sdl).toMatch(
      /type User implements Node\s+@key\(fields: "id"\)\s+@key\(fields: "uuid"\)\s+@key\(fields: "externalUserId"\)/,
    );
  });
});

describe('_entities for the new keys', () => {
  const QUERY = `query ($r: [_Any!]!) { _entities(representations: $r) { __typename
    ... on Course { id title owner { uuid } enrollmentCount }
    ... on Enrollment { id user { uuid } course { title } }
    ... on Order { id amountCents user { externalUserId } orderCourse: course { id } }
    ... on User { uuid externalUserId }
  } }`;
  /** n representations, cycling through the four types. */
  const mixed = (n: number) =>
    Array.from({ length: n }, (_, i) => Object.values(reps)[i % 4]![Math.floor(i / 4) % 25]!);
  const send = (representations: object[], token: string) => h.gql(QUERY, { r: representations }, { token });

  it('resolves 100 Course/Enrollment/Order/User-by-uuid representations in as many statements as 10', async () => {
    await send(mixed(4), a.key); // warm the credential cache
    let ten: Awaited<ReturnType<typeof send>> | undefined;
    let hundred: Awaited<ReturnType<typeof send>> | undefined;
    const tenStatements = await h.countStatements(async () => (ten = await send(mixed(10), a.key)));
    const hundredStatements = await h.countStatements(async () => (hundred = await send(mixed(100), a.key)));
    expect(ten!.errors).toBeUndefined();
    expect(hundred!.errors).toBeUndefined();
    const entities = hundred!.data._entities;
    expect(entities).toHaveLength(100);
    expect(entities.every((e: unknown) => e !== null)).toBe(true);
    expect(entities[0]).toEqual({
      __typename: 'Course',
      id: (reps.Course[0] as { id: string }).id,
      title: 'Course 0',
      owner: { uuid: (reps.User[0] as { uuid: string }).uuid },
      enrollmentCount: 1,
    });
    expect(entities[1]).toMatchObject({
      __typename: 'Enrollment',
      user: { uuid: (reps.User[0] as { uuid: string }).uuid },
      course: { title: 'Course 0' },
    });
    expect(entities[2]).toMatchObject({ __typename: 'Order', amountCents: 100, user: { externalUserId: 'sg-0' } });
    expect(entities[3]).toEqual({
      __typename: 'User',
      uuid: (reps.User[0] as { uuid: string }).uuid,
      externalUserId: 'sg-0',
    });
    expect(entities[99]).toMatchObject({ __typename: 'User', externalUserId: 'sg-24' });
    expect(hundredStatements).toBe(tenStatements);
    // One statement per entity type (relations joined in), plus the relation count.
    expect(hundredStatements).toBeLessThanOrEqual(8);
  });

  it("answers null for another partner's courses, enrollments, orders and uuids", async () => {
    const { data } = await h.gql('{ viewer { user { uuid } } }', {}, { token: b.key });
    const own = { __typename: 'User', uuid: data.viewer.user.uuid };
    const foreign = mixed(8);
    const result = await send(
      [...foreign, own, { __typename: 'User', uuid: 'not-a-uuid' }, { __typename: 'Course', id: 'Q291cnNlOng=' }],
      b.key,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data._entities.slice(0, 8)).toEqual(Array(8).fill(null));
    // B's own admin by uuid, for contrast: the filter is the caller's tenancy.
    expect(result.data._entities[8]).toEqual({ __typename: 'User', uuid: own.uuid, externalUserId: null });
    expect(result.data._entities.slice(9)).toEqual([null, null]);
  });
});

describe('federated tracing', () => {
  const ask = (headers: Record<string, string>) =>
    h
      .request('/graphql', {
        method: 'POST',
        token: a.key,
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...headers },
        body: JSON.stringify({
          query: '{ viewer { isAdmin } user(id: "00000000-0000-4000-8000-000000000000") { uuid } }',
        }),
      })
      .then(
        (r) => r.json() as Promise<{ data: any; errors?: { message: string }[]; extensions?: Record<string, unknown> }>,
      );

  it('adds extensions.ftv1 only when the router asks with apollo-federation-include-trace: ftv1', async () => {
    const traced = await ask({ 'apollo-federation-include-trace': 'ftv1' });
    expect(traced.data.viewer).toEqual({ isAdmin: true });
    expect(typeof traced.extensions?.ftv1).toBe('string');
    const trace = Trace.decode(Buffer.from(traced.extensions!.ftv1 as string, 'base64'));
    expect(trace.root?.child?.map((c) => c.responseName).sort()).toEqual(['user', 'viewer']);
    // The trace carries the errors as the client sees them: masked, nothing internal.
    const errors = trace.root!.child!.find((c) => c.responseName === 'user')!.error!;
    expect(errors.map((e) => e.message)).toEqual([traced.errors![0]!.message]);

    const plain = await ask({});
    expect(plain.data.viewer).toEqual({ isAdmin: true });
    expect(plain.extensions?.ftv1).toBeUndefined();
    expect((await ask({ 'apollo-federation-include-trace': 'other' })).extensions?.ftv1).toBeUndefined();
  });
});

describe('a contract without pii', () => {
  let contract: GraphQLSchema;
  beforeAll(() => {
    if (!h.ready) return;
    const result = composeSchemaContract(services(sdl), { include: new Set(), exclude: new Set(['pii']) });
    if (compositionHasErrors(result)) throw new Error(result.errors.map((e) => e.message).join('\n'));
    contract = buildSchema(result.publicSdl);
  });

  const PERSONAL = [
    'email',
    'userName',
    'firstName',
    'lastName',
    'customFields',
    'metadata',
    'metadataPatch',
    'avatar',
    'data',
  ];

  it('leaves no field, argument, input field or order that reads, writes, matches or sorts by personal data', () => {
    const found: string[] = [];
    for (const type of Object.values(contract.getTypeMap())) {
      if (type.name.startsWith('__')) continue;
      // A user's `name` (metadata.name) and search (names, e-mails) are personal; an account's
      // or a course's are not.
      const personal = (field: string) =>
        PERSONAL.includes(field) || (['name', 'search'].includes(field) && /User/.test(type.name));
      if (isObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (personal(field.name)) found.push(`${type.name}.${field.name}`);
          for (const arg of field.args) if (personal(arg.name)) found.push(`${type.name}.${field.name}(${arg.name}:)`);
        }
      } else if (isInputObjectType(type)) {
        for (const field of Object.values(type.getFields()))
          if (personal(field.name)) found.push(`${type.name}.${field.name}`);
      } else if (isEnumType(type) && type.name === 'UserOrderField') {
        found.push(
          ...type
            .getValues()
            .filter((v) => v.name === 'EMAIL')
            .map((v) => `${type.name}.${v.name}`),
        );
      }
    }
    expect(found).toEqual([]);
  });

  it('still serves the rest: users by key, filter and order', () => {
    const query = contract.getQueryType()!.getFields();
    expect(query.userByKey!.args.map((arg) => arg.name)).toEqual(['externalUserId', 'identifier', 'catalogId']);
    expect(Object.keys(assertInputObjectType(contract.getType('UserFilter')).getFields())).toContain('status');
    expect(
      assertEnumType(contract.getType('UserOrderField'))
        .getValues()
        .map((v) => v.name),
    ).toEqual(['CREATED_AT', 'UPDATED_AT', 'EXTERNAL_USER_ID', 'CATALOG_ID']);
    expect(Object.keys(assertInputObjectType(contract.getType('CreateUserInput')).getFields())).toEqual(
      expect.arrayContaining(['externalUserId', 'identifier', 'timeZone', 'locale', 'termsOfUse', 'canvasUserId']),
    );
  });
});
