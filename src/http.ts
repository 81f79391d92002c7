// What the HTTP layer shares with the REST dialects: the request variables and the guard
// that turns a request into an authenticated, rate-limited, allow-listed principal.
import type { Context, MiddlewareHandler } from 'hono';
import type { PrismaClient } from '@prisma/client';
import type { Authenticator } from './auth/authenticate.js';
import type { RequestContext } from './auth/context.js';
import { assertIpAllowed, rateLimitKey, type RateLimiter } from './auth/limits.js';
import type { Principal } from './auth/principal.js';
import { UnauthenticatedError } from './errors.js';
import type { Logger } from './logger.js';

export type HttpEnv = { Variables: { requestId: string; ip: string; principal: Principal | null } };
export type HttpContext = Context<HttpEnv>;

export interface Guards {
  authenticator: Authenticator;
  rateLimiter: RateLimiter;
}

/**
 * Authenticates (401), rate-limits per credential (429) and checks the IP allow-list of
 * the given surface (403). Failures are thrown as DomainErrors for the surface to render.
 * A failed authentication also counts against the caller's address, to slow guessing.
 */
export function guard({ authenticator, rateLimiter }: Guards, surface: 'graphql' | 'rest'): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    const ip = c.get('ip');
    let principal: Principal | null;
    try {
      principal = await authenticator.authenticate(c.req.header('authorization'));
    } catch (error) {
      if (error instanceof UnauthenticatedError) await rateLimiter.consume(rateLimitKey(null, ip));
      throw error;
    }
    if (!principal) {
      await rateLimiter.consume(rateLimitKey(null, ip));
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
}

/** The message of every 413, in whichever envelope the surface uses. */
export const bodyTooLarge = (maxBodyBytes: number) => `request body larger than ${maxBodyBytes} bytes`;

/** The service context of a REST request (after the guard). */
export function requestContext(c: HttpContext, deps: DialectDeps): RequestContext {
  return {
    prisma: deps.prisma,
    principal: c.get('principal'),
    requestId: c.get('requestId'),
    ip: c.get('ip'),
    invalidatePrincipals: deps.guards.authenticator.invalidate,
  };
}
