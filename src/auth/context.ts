// What a service needs to know about the request it works for.
import type { PrismaClient } from '@prisma/client';
import { ForbiddenError } from '../errors.js';
import { isUser, type Principal, type UserPrincipal } from './principal.js';
import type { Config } from '../config.js';

export interface RequestContext {
  readonly prisma: PrismaClient;
  readonly principal: Principal | null;
  readonly requestId: string;
  /** The caller's address as the allow-list sees it. */
  readonly ip: string;
  /**
   * Forget cached principals after a write that may change one (disable, revoke, ...): those of
   * `userIds` when the write changes only theirs, else every one (Authenticator.invalidate).
   */
  readonly invalidatePrincipals?: (userIds?: readonly string[]) => void;
  /** The server's configuration, for the services that need settings (connected backends). */
  readonly config?: Config;
  /** Hands queued sync runs to the job queue (absent: the schedule's sweep picks them up). */
  readonly sync?: { enqueue(run: { id: string; backendId: string }): Promise<void> };
}

/** The calling user of a partner; anyone else (no principal, the operator) is FORBIDDEN. */
export function requireUser(ctx: RequestContext): UserPrincipal {
  if (!isUser(ctx.principal)) throw new ForbiddenError('this operation needs a user of a partner');
  return ctx.principal;
}
