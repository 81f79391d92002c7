// What the HTTP layer shares with the REST dialects: the request variables and the guard
// that turns a request into an authenticated, rate-limited, allow-listed principal.
import type { IncomingMessage } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { PrismaClient } from '@prisma/client';
import type { Authenticator } from './auth/authenticate.js';
import type { RequestContext } from './auth/context.js';
import { assertIpAllowed, rateLimitKey, type RateLimiter } from './auth/limits.js';
import type { Principal } from './auth/principal.js';
import type { ConflictError, DomainError, ForbiddenError, NotFoundError } from './errors.js';
import { ValidationError } from './errors.js';
import { type RateLimitedError, UnauthenticatedError } from './auth/errors.js';
import type { BackendUnavailableError, UnsupportedByBackendError } from './modules/backends/errors.js';
import type { PiiRejectedError } from './modules/users/errors.js';
import type { Logger } from './logger.js';
import type { Config } from './config.js';

/** Every domain error's code: the generic ones' and each concept's own. */
type ErrorCode = (
  | NotFoundError
  | ValidationError
  | ConflictError
  | ForbiddenError
  | PiiRejectedError
  | UnauthenticatedError
  | RateLimitedError
  | BackendUnavailableError
  | UnsupportedByBackendError
)['code'];

/**
 * The HTTP status of each domain error, for the graph's HTTP errors and every REST dialect unless
 * it documents another.
 */
export const HTTP_STATUS = {
  NOT_FOUND: 404,
  VALIDATION: 400,
  CONFLICT: 409,
  FORBIDDEN: 403,
  PII_REJECTED: 422,
  UNAUTHENTICATED: 401,
  RATE_LIMITED: 429,
  // The backend is the authority and could not be asked: try again later (Retry-After when known).
  BACKEND_UNAVAILABLE: 503,
  // The backend's API has no such call: retrying cannot help.
  UNSUPPORTED_BY_BACKEND: 501,
} as const satisfies Record<ErrorCode, number>;

/** A code this table does not know (a new error class not added here) is a 500, as unexpected. */
export const httpStatus = (error: DomainError) => HTTP_STATUS[error.code as ErrorCode] ?? 500;

export type HttpEnv = {
  /** `ipProblem`: why the caller's address could not be read (a malformed X-Forwarded-For). */
  Variables: { requestId: string; ip: string; ipProblem?: string; principal: Principal | null };
};
export type HttpContext = Context<HttpEnv>;

export interface Guards {
  authenticator: Authenticator;
  rateLimiter: RateLimiter;
}

/** The challenge of every 401 (RFC 6750), whichever surface answers it. */
export const WWW_AUTHENTICATE = 'Bearer realm="account-gateway"';

/**
 * Authenticates (401), rate-limits per credential (429) and checks the IP allow-list of
 * the given surface (403). Failures are thrown as DomainErrors for the surface to render.
 * A failed authentication also counts against the caller's address, to slow guessing.
 * A request whose address cannot be read (a malformed X-Forwarded-For) is a 400.
 */
export function guard({ authenticator, rateLimiter }: Guards, surface: 'graphql' | 'rest'): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    // Without a readable address neither the allow-lists nor the per-address limit can apply.
    const ipProblem = c.get('ipProblem');
    if (ipProblem) throw new ValidationError(ipProblem, 'x-forwarded-for');
    const ip = c.get('ip');
    let principal: Principal | null;
    try {
      principal = await authenticator.authenticate(c.req.header('authorization'));
    } catch (error) {
      if (error instanceof UnauthenticatedError) {
        await rateLimiter.consume(rateLimitKey(null, ip));
        c.header('www-authenticate', `${WWW_AUTHENTICATE}, error="invalid_token"`);
      }
      throw error;
    }
    if (!principal) {
      await rateLimiter.consume(rateLimitKey(null, ip));
      c.header('www-authenticate', WWW_AUTHENTICATE);
      throw new UnauthenticatedError('authentication required: send "Authorization: Bearer <API key or JWT>"');
    }
    const { remaining } = await rateLimiter.consume(rateLimitKey(principal, ip));
    c.header('ratelimit-remaining', String(remaining));
    assertIpAllowed(principal, ip, surface);
    c.set('principal', principal);
    await next();
  };
}

export interface DialectDeps {
  prisma: PrismaClient;
  logger: Logger;
  guards: Guards;
  /** Larger request bodies are answered 413 in the dialect's error envelope. */
  maxBodyBytes: number;
  /** The server's settings: the services need them to reach connected backends (write-through). */
  config?: Config;
}

/** The message of every 413, in whichever envelope the surface uses. */
export const bodyTooLarge = (maxBodyBytes: number) => `request body larger than ${maxBodyBytes} bytes`;

/**
 * Refuses a request body over `maxBodyBytes` with 413, rendered by `answer` in the surface's
 * own envelope. The answer goes out before the body has been read, so the connection cannot
 * carry another request: the answer says `Connection: close`, and the socket closes only
 * once the client has read it (lingerAfterAnswer).
 */
export function limitBody(
  maxBodyBytes: number,
  answer: (c: HttpContext, message: string) => Response,
): MiddlewareHandler<HttpEnv> {
  const refuse = (c: HttpContext) => {
    c.header('connection', 'close');
    lingerAfterAnswer(c);
    return answer(c, bodyTooLarge(maxBodyBytes));
  };
  const counted = bodyLimit({ maxSize: maxBodyBytes, onError: refuse });
  return async (c, next) => {
    // A declared length is judged from the header alone, before anything reads the body
    // (hono's bodyLimit would build the fetch-API Request and its stream to ask for it, and
    // the graph reads the Node request itself: app.ts). Node's parser holds a body to its
    // Content-Length. A body sent in chunks is counted as it is read.
    const length = c.req.header('content-length');
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    if (length !== undefined && c.req.header('transfer-encoding') === undefined)
      return Number(length) > maxBodyBytes ? refuse(c) : next();
    return counted(c, next);
  };
}

// A refused upload is read (and dropped) while it keeps coming, up to a limit.
const LINGER_IDLE_MS = 2_000;
const LINGER_MAX_MS = 30_000;

/**
 * Node destroys a `Connection: close` socket as soon as the answer is written (destroySoon).
 * A client still uploading the refused body then gets a reset, and a reset makes the client's
 * kernel drop the answer it has not read yet: it sees EPIPE or "other side closed" instead of
 * the 413. So the socket of such an answer only ends its sending side, goes on reading what
 * still arrives and drops it, and closes when the client closes its side, when nothing has
 * arrived for LINGER_IDLE_MS, or at the latest after LINGER_MAX_MS.
 */
function lingerAfterAnswer(c: HttpContext): void {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  const socket = incoming?.socket;
  if (!incoming || !socket || socket.destroyed) return;
  let lingering = false;
  socket.destroySoon = () => {
    if (lingering) return;
    lingering = true;
    socket.end();
    // Nothing reads the body any more; the stream that began to (the Request's) would stop
    // the socket once its buffer is full, and the client's upload with it.
    incoming.removeAllListeners('data');
    const idle = setTimeout(() => socket.destroy(), LINGER_IDLE_MS).unref();
    const deadline = setTimeout(() => socket.destroy(), LINGER_MAX_MS).unref();
    incoming.on('data', () => idle.refresh());
    incoming.resume();
    socket.once('close', () => {
      clearTimeout(idle);
      clearTimeout(deadline);
    });
  };
}

/** The service context of a REST request (after the guard). */
export function requestContext(c: HttpContext, deps: DialectDeps): RequestContext {
  return {
    prisma: deps.prisma,
    principal: c.get('principal'),
    requestId: c.get('requestId'),
    ip: c.get('ip'),
    invalidatePrincipals: deps.guards.authenticator.invalidate,
    ...(deps.config ? { config: deps.config } : {}),
  };
}
