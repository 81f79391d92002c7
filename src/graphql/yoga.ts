// graphql-yoga over the subgraph schema: context per request, error masking, GraphiQL.
import { createYoga, createGraphQLError, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { useApolloInlineTrace } from '@graphql-yoga/plugin-apollo-inline-trace';
import type { DocumentNode, GraphQLError, GraphQLSchema } from 'graphql';
import type { PrismaClient } from '@prisma/client';
import type { Principal } from '../auth/principal.js';
import { DomainError } from '../errors.js';
import { unstorable } from '../validation.js';
import type { Logger } from '../logger.js';
import type { Config } from '../config.js';
import type { GraphQLContext } from './builder.js';
import type { RequestContext } from '../auth/context.js';
import { Loaders } from './loaders.js';

/** What the HTTP layer hands to yoga for each request. */
export interface ServerContext {
  principal: Principal | null;
  requestId: string;
  ip: string;
}

export interface YogaDeps {
  /** The subgraph schema (src/schema.ts), handed down by app.ts: nothing under graphql/ imports the modules. */
  schema: GraphQLSchema;
  prisma: PrismaClient;
  logger: Logger;
  invalidatePrincipals: NonNullable<RequestContext['invalidatePrincipals']>;
  config?: Config;
  sync?: RequestContext['sync'];
  plugins?: Parameters<typeof createYoga>[0]['plugins'];
  batchingLimit?: number;
}

export type Yoga = YogaServerInstance<ServerContext, GraphQLContext>;

export function createGraphQLServer(deps: YogaDeps): Yoga {
  return createYoga<ServerContext, GraphQLContext>({
    schema: deps.schema,
    graphqlEndpoint: '/graphql',
    // The page is served (offline, cached, compressed) by the HTTP layer: see graphiql.ts.
    graphiql: false,
    landingPage: false,
    batching: { limit: deps.batchingLimit ?? 10 },
    logging: {
      debug: (...args) => deps.logger.debug({ args }, 'yoga'),
      info: (...args) => deps.logger.info({ args }, 'yoga'),
      warn: (...args) => deps.logger.warn({ args }, 'yoga'),
      error: (...args) => deps.logger.error({ args }, 'yoga'),
    },
    maskedErrors: { maskError: (error) => maskError(error, deps.logger) },
    // Federated tracing: a router or gateway that asks with `apollo-federation-include-trace:
    // ftv1` gets the field timings in extensions.ftv1; other requests carry no trace. Errors in
    // the trace are the masked ones the client sees.
    plugins: [storableInput(), useApolloInlineTrace(), ...(deps.plugins ?? [])],
    context: ({ principal, requestId, ip }) => ({
      prisma: deps.prisma,
      principal,
      requestId,
      ip,
      loaders: new Loaders(deps.prisma),
      invalidatePrincipals: deps.invalidatePrincipals,
      config: deps.config,
      sync: deps.sync,
    }),
  });
}

/**
 * Expected failures keep their message and gain extensions.code; GraphQL's own errors
 * (syntax, validation, our coded GraphQLErrors) pass through; anything else is logged and
 * answered with "Unexpected error." so that no stack or SQL text reaches a client.
 */
export function maskError(error: unknown, logger: Logger): Error {
  const graphqlError = isGraphQLError(error) ? error : null;
  const original = graphqlError ? graphqlError.originalError : error;
  const location = graphqlError
    ? {
        nodes: graphqlError.nodes,
        path: graphqlError.path,
        source: graphqlError.source,
        positions: graphqlError.positions,
      }
    : {};
  if (original instanceof DomainError) {
    return createGraphQLError(original.message, { ...location, extensions: { code: original.code } });
  }
  if (graphqlError && (!original || isGraphQLError(original))) return graphqlError;
  // Pothos refuses malformed connection arguments (a forged cursor, before with first):
  // the client's mistake, so say what it was.
  if (
    original instanceof Error &&
    original.name === 'PothosValidationError' &&
    CONNECTION_ARGUMENT.test(original.message)
  ) {
    return createGraphQLError(original.message.slice(0, 200), { ...location, extensions: { code: 'BAD_USER_INPUT' } });
  }
  logger.error({ err: original, path: graphqlError?.path }, 'unexpected error in a GraphQL request');
  return createGraphQLError('Unexpected error.', { ...location, extensions: { code: 'INTERNAL_SERVER_ERROR' } });
}

const CURSOR_MESSAGES = [
  'Invalid cursor',
  'Invalid base64',
  'Invalid offset cursor',
  'Cursor must be',
  'Cursor chunk',
  'Expected compound cursor',
  'Unsupported cursor type',
];
const CONNECTION_ARGUMENT = new RegExp(`^(${CURSOR_MESSAGES.join('|')}|Arguments? "(first|last|before|after)")`);

/**
 * Refuses, before execution, variables and string literals that PostgreSQL cannot store (NUL,
 * unpaired surrogates) or that nest absurdly deep: a 400 naming the place, never a 500 from
 * deep inside a service or the query engine.
 */
function storableInput(): Plugin {
  // Documents are parsed once and reused (yoga's parser cache): check their literals once.
  const literalProblems = new WeakMap<DocumentNode, string | null>();
  const literalProblem = (document: DocumentNode) => {
    if (!literalProblems.has(document)) literalProblems.set(document, unstorableLiteral(document));
    return literalProblems.get(document) ?? null;
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const problem = unstorable(args.variableValues ?? {}, 'variables') ?? literalProblem(args.document);
      if (problem) {
        setResultAndStopExecution({
          errors: [createGraphQLError(problem, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } })],
        });
      }
    },
  };
}

/** The first string literal written into the document itself that cannot be stored. */
function unstorableLiteral(document: DocumentNode): string | null {
  const pending: unknown[] = [document];
  while (pending.length) {
    const node = pending.pop() as Record<string, unknown> | null;
    if (!node || typeof node !== 'object') continue;
    if (node.kind === 'StringValue' && typeof node.value === 'string') {
      const problem = unstorable(node.value, 'a string literal');
      if (problem) return problem;
    } else
      for (const [key, child] of Object.entries(node))
        if (key !== 'loc' && child && typeof child === 'object') pending.push(child);
  }
  return null;
}

// By name, not instanceof: graphql ships CJS and ESM builds, and a tool chain may load both.
const isGraphQLError = (e: unknown): e is GraphQLError => e instanceof Error && e.name === 'GraphQLError';

// The GraphiQL page is served by the HTTP layer (offline, compressed, cached): graphiql.ts.
export { graphiqlResponse } from './graphiql.js';
