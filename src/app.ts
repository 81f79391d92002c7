// The HTTP surface: one Hono app that serves the graph (yoga), the REST dialects, health
// checks and GraphiQL. Authentication and per-request limits happen here, once for all.
import crypto from 'node:crypto';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Config } from './config.js';
import type { Store } from './store/database.js';
import type { Logger } from './logger.js';
import { createAuthenticator, type Authenticator } from './auth/authenticate.js';
import type { Principal } from './auth/principal.js';
import { DomainError, UnauthenticatedError } from './errors.js';
import { createGraphQLServer, graphiqlPage, type Yoga } from './graphql/yoga.js';

export interface AppDeps {
  config: Config;
  store: Store;
  logger: Logger;
}

export interface App {
  /** A WHATWG fetch handler: `env.ip` overrides the peer address (in-process tests). */
  fetch: (request: Request, env?: { ip?: string; [key: string]: unknown }) => Promise<Response>;
  yoga: Yoga;
  authenticator: Authenticator;
}

type Env = { Variables: { requestId: string; ip: string; principal: Principal | null } };

export function createApp({ config, store, logger }: AppDeps): App {
  const authenticator = createAuthenticator(store.prisma, config);
  const yoga = createGraphQLServer({ prisma: store.prisma, logger, invalidatePrincipals: authenticator.invalidate });
  const app = new Hono<Env>();

  app.use(async (c, next) => {
    const started = performance.now();
    const given = c.req.header('x-request-id');
    c.set('requestId', given && /^[\w.-]{1,64}$/.test(given) ? given : crypto.randomUUID());
    c.set('ip', clientIp(c, config.trustProxy));
    await next();
    c.header('x-request-id', c.get('requestId'));
    logger.info(
      { requestId: c.get('requestId'), method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(performance.now() - started) },
      'request',
    );
  });

  app.use(
    bodyLimit({
      maxSize: config.maxBodyBytes,
      onError: (c) => c.json({ error: `request body larger than ${config.maxBodyBytes} bytes` }, 413),
    }),
  );

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    try {
      await store.ping();
      return c.json({ status: 'ready', store: store.kind });
    } catch {
      return c.json({ status: 'unavailable', store: store.kind }, 503);
    }
  });

  app.get('/graphql', async (c, next) => {
    if (!wantsHtml(c)) return next();
    const { gzip, html, etag } = graphiqlPage();
    if (c.req.header('if-none-match') === etag) return c.body(null, 304);
    c.header('content-type', 'text/html; charset=utf-8');
    c.header('etag', etag);
    c.header('cache-control', 'public, max-age=3600');
    if (/\bgzip\b/.test(c.req.header('accept-encoding') ?? '')) {
      c.header('content-encoding', 'gzip');
      return c.body(new Uint8Array(gzip));
    }
    return c.body(html);
  });

  app.on(['GET', 'POST', 'OPTIONS'], '/graphql', async (c) => {
    let principal: Principal | null;
    try {
      principal = await authenticator.authenticate(c.req.header('authorization'));
    } catch (error) {
      if (error instanceof UnauthenticatedError) return graphqlError(c, 401, 'UNAUTHENTICATED', error.message);
      throw error;
    }
    if (!principal) return graphqlError(c, 401, 'UNAUTHENTICATED', 'Authentication required: send "Authorization: Bearer <API key or JWT>"');
    return yoga.fetch(c.req.raw, { principal, requestId: c.get('requestId'), ip: c.get('ip') });
  });

  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => {
    if (error instanceof DomainError) return c.json({ error: error.message, code: error.code }, error.status as 400);
    logger.error({ err: error, requestId: c.get('requestId') }, 'unexpected error');
    return c.json({ error: 'internal error', requestId: c.get('requestId') }, 500);
  });

  return {
    fetch: async (request, env) => app.fetch(request, env ?? {}),
    yoga,
    authenticator,
  };
}

function wantsHtml(c: Context): boolean {
  const accept = c.req.header('accept') ?? '';
  return accept.includes('text/html') && !c.req.query('query');
}

function graphqlError(c: Context, status: 401 | 403 | 429, code: string, message: string) {
  return c.json({ errors: [{ message, extensions: { code } }] }, status);
}

/** The peer address, or the first X-Forwarded-For hop when TRUST_PROXY says a proxy sets it. */
function clientIp(c: Context, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = c.req.header('x-forwarded-for')?.split(',')[0]?.trim();
    if (forwarded) return forwarded;
  }
  const env = c.env as { ip?: string; incoming?: unknown } | undefined;
  if (env?.ip) return env.ip;
  if (env?.incoming) return getConnInfo(c).remote.address ?? '';
  return '127.0.0.1';
}
