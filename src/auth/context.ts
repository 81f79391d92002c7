// What a service needs to know about the request it works for.
import type { PrismaClient } from '@prisma/client';
import type { Principal } from './principal.js';
import type { Config } from '../config.js';

export interface RequestContext {
  readonly prisma: PrismaClient;
  readonly principal: Principal | null;
  readonly requestId: string;
  /** The caller's address as the allow-list sees it. */
  readonly ip: string;
  /** Forget cached principals after a write that may change one (disable, revoke, ...). */
  readonly invalidatePrincipals?: () => void;
  /** The server's configuration, for the services that need settings (connected backends). */
  readonly config?: Config;
  /** Hands queued sync runs to the job queue (absent: the schedule's sweep picks them up). */
  readonly sync?: { enqueue(run: { id: string; backendId: string }): Promise<void> };
}
