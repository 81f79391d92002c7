// The outbox's delivery worker (SPEC §10.4): the sync's job queue (src/modules/sync/queue.ts:
// graphile-worker on PostgreSQL, in-process on the embedded store) with one job per user, and
// replicas share the users. A user's entries go out in order because deliverUser only ever
// takes the user's first entry, claimed in one statement (a second job of the same user finds
// it held and ends), not because of the queue: on graphile-worker the jobs are in no named
// queue, which a killed worker would leave locked for hours. A sweep every `tickMs` hands the
// queue every user whose first entry is due (new, or whose retry time came), which is also how a
// restarted process finds what a killed one left: the entries are in the store, committed with
// the change that made them. On the embedded store the previous process's claims are released
// at start (it was the only process); on PostgreSQL a dead worker's claim expires with its lease
// (OUTBOX_LEASE_SECONDS), and the sweep's job for that user runs even though the dead worker's
// job is still locked (graphile-worker's add_job then makes a new job).
import crypto from 'node:crypto';
import os from 'node:os';
import type { PrismaClient } from '@prisma/client';
import type { Config } from '../../config.js';
import type { Logger } from '../../logger.js';
import { graphileQueue, inProcessQueue, type SyncQueue } from '../sync/queue.js';
import {
  DEFAULT_DELIVERY,
  deliverUser,
  dueUsers,
  onOutboxNotice,
  releaseClaims,
  type DeliveryDeps,
  type DeliveryOptions,
} from './service.js';

export interface OutboxWorker {
  readonly queue: SyncQueue['kind'];
  start(): Promise<void>;
  /** Hands the queue every user with an entry due now. */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

export function createOutboxWorker(options: {
  prisma: PrismaClient;
  config: Config;
  logger: Logger;
  /** PostgreSQL URL: deliveries go through graphile-worker there; without it, in-process. */
  databaseUrl?: string;
  /** Users delivered at once (default 4). */
  concurrency?: number;
  /** How often the sweep looks (default 2 s). */
  tickMs?: number;
  workerId?: string;
  delivery?: Partial<DeliveryOptions>;
}): OutboxWorker {
  const { prisma, logger } = options;
  const deps: DeliveryDeps = {
    prisma,
    config: options.config,
    logger,
    workerId: options.workerId ?? `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`,
    options: { ...DEFAULT_DELIVERY, leaseMs: options.config.outbox.leaseMs, ...options.delivery },
  };
  const concurrency = options.concurrency ?? 4;
  const job = async (userId: string, signal: AbortSignal) => {
    await deliverUser(deps, userId, signal);
  };
  const queue = options.databaseUrl
    ? graphileQueue({ connectionString: options.databaseUrl, concurrency, logger, job, task: 'outbox' })
    : inProcessQueue({ concurrency, logger, job, task: 'outbox' });
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  let unsubscribe: (() => void) | undefined;
  let started = false;

  const tick = async () => {
    for (const userId of await dueUsers(prisma)) await queue.enqueue({ id: userId, backendId: userId });
  };
  const safeTick = () => {
    if (!started) return Promise.resolve();
    ticking ??= tick()
      .catch((error: unknown) => logger.warn({ err: error }, 'outbox sweep failed'))
      .finally(() => {
        ticking = undefined;
      });
    return ticking;
  };

  return {
    queue: queue.kind,
    async start() {
      if (!options.databaseUrl) await releaseClaims(prisma);
      await queue.start();
      started = true;
      unsubscribe = onOutboxNotice(() => void safeTick());
      await safeTick();
      timer = setInterval(() => void safeTick(), options.tickMs ?? 2000);
      timer.unref();
    },
    tick: safeTick,
    async stop() {
      started = false;
      unsubscribe?.();
      if (timer) clearInterval(timer);
      timer = undefined;
      await ticking;
      await queue.stop();
    },
  };
}
