// The naive build: the slice of the schema that the PAGE query touches, written as a plain
// graphql-js schema whose resolvers each run their own Prisma query (one per field that needs
// data, per row), with no loaders and no query planning. Served by graphql-yoga, with the
// same authenticator as the gateway, so that only the data fetching differs.
//
// findFirst rather than findUnique on purpose: Prisma batches findUnique calls of one tick
// into one statement behind the scenes, which is a loader, not the naive baseline.
import http from 'node:http';
import { createRequire } from 'node:module';
import type { GraphQLNullableType, GraphQLObjectType as ObjectType } from 'graphql';
import { createYoga } from 'graphql-yoga';
import type { Account, PrismaClient, User } from '@prisma/client';
import type { Config } from '../src/config.js';
import { createAuthenticator } from '../src/auth/authenticate.js';
import type { Principal } from '../src/auth/principal.js';
import { globalId } from '../src/graphql/ids.js';

// graphql ships CJS and ESM builds; yoga gets the CJS one (Node's resolution of 'graphql'),
// while a bundler-style resolver (vitest) would give this file the ESM one, and a schema of
// one realm cannot run in the other. Requiring it pins the instance yoga uses.
const {
  GraphQLBoolean,
  GraphQLID,
  GraphQLInt,
  GraphQLList,
  GraphQLNonNull,
  GraphQLObjectType,
  GraphQLSchema,
  GraphQLString,
} = createRequire(import.meta.url)('graphql') as typeof import('graphql');

interface NaiveContext {
  prisma: PrismaClient;
  partnerId: string;
}

const nonNull = <T extends GraphQLNullableType>(type: T) => new GraphQLNonNull(type);
const cursorOf = (id: string) => Buffer.from(`GPC:S:${id}`).toString('base64');

const AccountType = new GraphQLObjectType<Account, NaiveContext>({
  name: 'Account',
  fields: {
    id: { type: nonNull(GraphQLID), resolve: (a) => globalId('Account', a.id) },
    name: { type: nonNull(GraphQLString) },
    // Sub-accounts inherit the partner's plan: one more query when the row has none.
    plan: {
      type: nonNull(GraphQLString),
      resolve: async (a, _args, ctx) =>
        a.plan ??
        (await ctx.prisma.account.findFirst({ where: { id: a.partnerId }, select: { plan: true } }))?.plan ??
        'CORE',
    },
  },
});

const ClientType = new GraphQLObjectType<{ id: string; identifier: string }, NaiveContext>({
  name: 'Client',
  fields: {
    id: { type: nonNull(GraphQLID), resolve: (c) => globalId('Client', c.id) },
    identifier: { type: nonNull(GraphQLString) },
  },
});

const EntitlementType = new GraphQLObjectType<{ kind: string; grantedAt: Date }, NaiveContext>({
  name: 'Entitlement',
  fields: {
    kind: { type: nonNull(GraphQLString) },
    grantedAt: { type: nonNull(GraphQLString), resolve: (e) => e.grantedAt.toISOString() },
  },
});

const CourseConnectionType = new GraphQLObjectType<{ userId: string }, NaiveContext>({
  name: 'UserCoursesConnection',
  fields: {
    totalCount: {
      type: nonNull(GraphQLInt),
      resolve: (c, _args, ctx) => ctx.prisma.course.count({ where: { ownerId: c.userId, partnerId: ctx.partnerId } }),
    },
  },
});

const UserType: ObjectType<User, NaiveContext> = new GraphQLObjectType<User, NaiveContext>({
  name: 'User',
  fields: () => ({
    id: { type: nonNull(GraphQLID), resolve: (u) => globalId('User', u.id) },
    uuid: { type: nonNull(GraphQLString), resolve: (u) => u.id },
    status: { type: nonNull(GraphQLString) },
    externalUserId: { type: GraphQLString },
    email: { type: GraphQLString },
    identifier: { type: GraphQLString },
    account: {
      type: nonNull(AccountType),
      resolve: (u, _args, ctx) => ctx.prisma.account.findFirst({ where: { id: u.accountId } }),
    },
    client: {
      type: ClientType,
      resolve: (u, _args, ctx) => (u.clientId ? ctx.prisma.client.findFirst({ where: { id: u.clientId } }) : null),
    },
    entitlements: {
      type: nonNull(new GraphQLList(nonNull(EntitlementType))),
      resolve: (u, _args, ctx) =>
        ctx.prisma.entitlement.findMany({ where: { userId: u.id }, orderBy: { kind: 'asc' } }),
    },
    mergedInto: {
      type: UserType,
      resolve: (u, _args, ctx) =>
        u.mergedIntoId ? ctx.prisma.user.findFirst({ where: { id: u.mergedIntoId } }) : null,
    },
    courses: { type: nonNull(CourseConnectionType), resolve: (u) => ({ userId: u.id }) },
  }),
});

const PageInfoType = new GraphQLObjectType<{ hasNextPage: boolean; endCursor: string | null }>({
  name: 'PageInfo',
  fields: { hasNextPage: { type: nonNull(GraphQLBoolean) }, endCursor: { type: GraphQLString } },
});

const EdgeType = new GraphQLObjectType<User>({
  name: 'UserEdge',
  fields: {
    cursor: { type: nonNull(GraphQLString), resolve: (u) => cursorOf(u.id) },
    node: { type: nonNull(UserType), resolve: (u) => u },
  },
});

interface Page {
  rows: User[];
  first: number;
}

const ConnectionType = new GraphQLObjectType<Page, NaiveContext>({
  name: 'QueryUsersConnection',
  fields: {
    totalCount: {
      type: nonNull(GraphQLInt),
      resolve: (_page, _args, ctx) => ctx.prisma.user.count({ where: { partnerId: ctx.partnerId, deletedAt: null } }),
    },
    pageInfo: {
      type: nonNull(PageInfoType),
      resolve: ({ rows, first }) => ({
        hasNextPage: rows.length > first,
        endCursor: rows.length ? cursorOf(rows[Math.min(first, rows.length) - 1]!.id) : null,
      }),
    },
    edges: { type: nonNull(new GraphQLList(nonNull(EdgeType))), resolve: ({ rows, first }) => rows.slice(0, first) },
  },
});

export const naiveSchema = new GraphQLSchema({
  query: new GraphQLObjectType<unknown, NaiveContext>({
    name: 'Query',
    fields: {
      users: {
        type: nonNull(ConnectionType),
        args: { first: { type: GraphQLInt } },
        resolve: async (_root, args: { first?: number | null }, ctx): Promise<Page> => {
          const first = Math.min(100, Math.max(1, args.first ?? 20));
          const rows = await ctx.prisma.user.findMany({
            where: { partnerId: ctx.partnerId, deletedAt: null },
            orderBy: { id: 'asc' },
            take: first + 1,
          });
          return { rows, first };
        },
      },
    },
  }),
});

/** The naive server as a fetch handler (in-process) and as a node:http server. */
export function createNaive(prisma: PrismaClient, config: Config) {
  const authenticator = createAuthenticator(prisma, config);
  const yoga = createYoga<{ principal?: Principal | null }, NaiveContext>({
    schema: naiveSchema,
    graphqlEndpoint: '/graphql',
    graphiql: false,
    landingPage: false,
    logging: false,
    // A benchmark baseline: show what went wrong instead of "Unexpected error.".
    maskedErrors: false,
    context: async ({ request }) => {
      const principal = await authenticator.authenticate(request.headers.get('authorization'));
      if (principal?.kind !== 'user' || !principal.partnerAdmin)
        throw new Error('the naive server needs a partner admin key');
      return { prisma, partnerId: principal.partnerId };
    },
  });
  return {
    fetch: async (request: Request): Promise<Response> => yoga.fetch(request),
    server: () => http.createServer(yoga),
  };
}
