// The HTTP surface: one Hono app that serves the graph (yoga), the REST dialects, health
// checks and GraphiQL. Authentication and per-request limits happen here, once for all.
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Hono, type Context } from 'hono';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Config } from './config.js';
import type { Store } from './store/database.js';
import type { Logger } from './logger.js';
import type { RequestContext } from './auth/context.js';
import { createAuthenticator, type Authenticator } from './auth/authenticate.js';
import { canonicalAddress } from './auth/ip.js';
import {
  armorPlugin,
  batchedOperationsPlugin,
  createRateLimiter,
  inputLimitsPlugin,
  type RateLimiter,
} from './auth/limits.js';
import { DomainError } from './errors.js';
import { RateLimitedError } from './auth/errors.js';
import { createGraphQLServer, graphiqlResponse, type Yoga } from './graphql/yoga.js';
import { schema } from './schema.js';
import { useCompiledReads } from './modules/users/compiled/plugin.js';
import { guard, httpStatus, limitBody, type HttpEnv } from './http.js';
import { DIALECTS, mountDialects } from './dialects/index.js';

export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
  /** The sync service's queue, for syncBackend and connectBackend (src/modules/sync). */
  sync?: RequestContext['sync'];
}

export interface App {
  /** A WHATWG fetch handler: `env.ip` overrides the peer address (in-process tests). */
  fetch: (request: Request, env?: { ip?: string; [key: string]: unknown }) => Promise<Response>;
  yoga: Yoga;
  authenticator: Authenticator;
  rateLimiter: RateLimiter;
  /** From now on /readyz answers 503, so that load balancers stop sending new requests. */
  drain(): void;
}

export function createApp({ config, store, logger, sync }: AppDeps): App {
  const authenticator = createAuthenticator(store.prisma, config);
  const rateLimiter = createRateLimiter(config);
  const guards = { authenticator, rateLimiter };
  const yoga = createGraphQLServer({
    schema,
    prisma: store.prisma,
    logger,
    invalidatePrincipals: authenticator.invalidate,
    config,
    sync,
    plugins: [
      armorPlugin(config),
      inputLimitsPlugin(config),
      batchedOperationsPlugin(rateLimiter),
      // Credentials travel only in the Authorization header, never in cookies, so a
      // request that carries one cannot be a cross-site forgery.
      useCSRFPrevention({ requestHeaders: ['authorization', 'x-graphql-yoga-csrf'] }),
      ...(config.disableIntrospection ? [useDisableIntrospection()] : []),
      ...(config.compiledReads ? [useCompiledReads(store.pool, logger)] : []),
    ],
  });
  const app = new Hono<HttpEnv>();

  app.use(async (c, next) => {
    const started = performance.now();
    const given = c.req.header('x-request-id');
    c.set('requestId', given && /^[\w.-]{1,64}$/.test(given) ? given : crypto.randomUUID());
    const ip = clientIp(c, config.trustProxy);
    if (ip === null)
      c.set(
        'ipProblem',
        'the last entry must be an IPv4 address in dotted-quad form (such as 203.0.113.7) or an IPv6 address',
      );
    c.set('ip', ip ?? '');
    await next();
    // On the answer's own headers: Hono's c.header() on a finished answer re-creates it
    // around its body as a stream, which costs the Node adapter its one-write path for text.
    // An answer relayed as fetch gave it (a proxied one) has headers that cannot change.
    try {
      c.res.headers.set('x-request-id', c.get('requestId'));
    } catch {
      c.header('x-request-id', c.get('requestId'));
    }
    logger.info(
      {
        requestId: c.get('requestId'),
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Math.round(performance.now() - started),
      },
      'request',
    );
  });

  // The dialects apply the same limit in their own envelopes (dialects/common.ts).
  app.use(
    '/graphql',
    limitBody(config.maxBodyBytes, (c, message) =>
      c.json({ errors: [{ message, extensions: { code: 'PAYLOAD_TOO_LARGE' } }] }, 413),
    ),
  );

  // Whoever opens the bare host is pointed at the graph: a browser goes to GraphiQL.
  app.get('/', (c) => {
    if (wantsHtml(c)) return c.redirect('/graphql', 302);
    return c.json({
      service: 'account-gateway',
      graphql: '/graphql',
      hint:
        'POST GraphQL requests to /graphql with "Authorization: ' +
        'Bearer <API key>"; open /graphql in a browser for GraphiQL',
      rest: Object.keys(DIALECTS),
      health: '/healthz',
      readiness: '/readyz',
    });
  });
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  let draining = false;
  app.get('/readyz', async (c) => {
    if (draining) return c.json({ status: 'draining', store: store.kind }, 503);
    try {
      await store.ping();
      return c.json({ status: 'ready', store: store.kind });
    } catch {
      return c.json({ status: 'unavailable', store: store.kind }, 503);
    }
  });

  // GraphiQL: compressed per Accept-Encoding, with an ETag per encoding (graphiql.ts).
  app.get('/graphql', async (c, next) => {
    if (!wantsHtml(c)) return next();
    return graphiqlResponse(c.req.raw, schema);
  });

  const graphqlGuard = guard(guards, 'graphql');
  app.on(['GET', 'POST'], '/graphql', async (c) => {
    try {
      await graphqlGuard(c, async () => {});
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      if (error instanceof RateLimitedError) c.header('retry-after', String(error.retryAfterSeconds));
      return c.json({ errors: [{ message: error.message, extensions: { code: error.code } }] }, httpStatus(error));
    }
    const context = { principal: c.get('principal'), requestId: c.get('requestId'), ip: c.get('ip') };
    // Over HTTP, yoga reads the Node request itself (its own light Request around the socket)
    // rather than the fetch-API Request that c.req.raw would build — a stream, an AbortSignal
    // and the body read through both, on every request. Through c.req.raw go a body without
    // Content-Length (chunked: limitBody counts it as it is read) and one something has begun
    // to read (a wrapper around the app that looked at the request: the Node stream then
    // feeds that Request).
    const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
    const unread =
      incoming !== undefined &&
      incoming.readableFlowing === null &&
      !incoming.readableDidRead &&
      (c.req.method === 'GET' || incoming.headers['content-length'] !== undefined);
    const response = await (unread ? yoga.handleNodeRequest(incoming, context) : yoga.fetch(c.req.raw, context));
    // A whole JSON answer is handed on as text, which the Node adapter writes in one call,
    // rather than as a stream it would read and write chunk by chunk (multipart and
    // event-stream answers stay streams).
    if (!/^application\/(graphql-response\+)?json/.test(response.headers.get('content-type') ?? '')) return response;
    return new Response(await response.text(), { status: response.status, headers: response.headers });
  });

  mountDialects(app, { prisma: store.prisma, logger, guards, maxBodyBytes: config.maxBodyBytes, config });

  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => {
    if (error instanceof RateLimitedError) c.header('retry-after', String(error.retryAfterSeconds));
    if (error instanceof DomainError) return c.json({ error: error.message, code: error.code }, httpStatus(error));
    logger.error({ err: error, requestId: c.get('requestId') }, 'unexpected error');
    return c.json({ error: 'internal error', requestId: c.get('requestId') }, 500);
  });

  return {
    fetch: async (request, env) => app.fetch(request, env ?? {}),
    yoga,
    authenticator,
    rateLimiter,
    drain: () => {
      draining = true;
    },
  };
}

function wantsHtml(c: Context): boolean {
  const accept = c.req.header('accept') ?? '';
  return accept.includes('text/html') && !c.req.query('query');
}

/**
 * The peer address, or, when TRUST_PROXY says a proxy sits in front, the address that proxy
 * saw: the last X-Forwarded-For entry, the one it appended. Entries before it come from the
 * caller and prove nothing. Null when that entry is not a plainly written address: read as
 * inet_aton would ("10.5" is 10.0.0.5), it could name an address the proxy never saw.
 */
function clientIp(c: Context, trustProxy: boolean): string | null {
  if (trustProxy) {
    const forwarded = c.req.header('x-forwarded-for');
    if (forwarded?.trim()) return canonicalAddress(forwarded.split(',').at(-1)!);
  }
  const env = c.env as { ip?: string; incoming?: unknown } | undefined;
  if (env?.ip) return env.ip;
  if (env?.incoming) return getConnInfo(c).remote.address ?? '';
  return '127.0.0.1';
}
