// Sync runs as a service (SPEC §10.3): what the graph, the schedule and the CLI ask for.
// `syncBackend` queues a run (or answers the one already queued or running); the schedule
// queues each backend's incremental run every syncIntervalSeconds and its first full import
// as soon as it is connected; the sweep hands the queue every run waiting without a job and
// every RUNNING run whose worker died. Every replica runs the schedule and the sweep: the
// store's one-active-run-per-backend index and the run's claim make that safe.
import crypto from 'node:crypto';
import os from 'node:os';
import type { Backend, PrismaClient, SyncRun } from '@prisma/client';
import type { RequestContext } from '../../auth/context.js';
import type { Config } from '../../config.js';
import { ForbiddenError, NotFoundError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { isUuid } from '../../store/ids.js';
import { requireUser } from '../../auth/context.js';
import type { Connector, IdentitySink } from '../backends/contract.js';
import { backendCredential } from '../backends/service.js';
import { identitySink } from '../identities/sink.js';
import { connectorOptions, createConnector, type ConnectorOptions } from '../../connectors/index.js';
import { graphileQueue, inProcessQueue, type SyncQueue } from './queue.js';
import { executeRun, requestRun, type ExecuteOptions, type RunnerDeps } from './runner.js';

/** What a request handler may ask of the sync service. */
export interface SyncRequester {
  /** Hands a QUEUED run to the queue now (the sweep would, a little later). */
  enqueue(run: Pick<SyncRun, 'id' | 'backendId'>): Promise<void>;
}

export interface SyncServiceOptions {
  prisma: PrismaClient;
  config: Config;
  logger: Logger;
  sink: IdentitySink;
  /** Makes the connector of a backend (src/connectors keeps one transport, and circuit, per backend). */
  createConnector(backend: Backend): Connector;
  /** PostgreSQL URL: the runs go through graphile-worker there; without it, in-process. */
  databaseUrl?: string;
  /** How often the schedule and the sweep look (default 5 s). */
  tickMs?: number;
  workerId?: string;
}

export interface SyncService extends SyncRequester {
  readonly queue: SyncQueue['kind'];
  readonly workerId: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Queues what is due and hands waiting and orphaned runs to the queue (the schedule's tick). */
  tick(): Promise<void>;
  /** Runs one run in this process, now (the CLI): null when another worker has it. */
  runNow(runId: string, options?: ExecuteOptions): Promise<SyncRun | null>;
  /** The runner's dependencies (the CLI and tests run runs with them). */
  readonly deps: RunnerDeps;
}

export function createSyncService(options: SyncServiceOptions): SyncService {
  const { prisma, config, logger } = options;
  const workerId = options.workerId ?? `${os.hostname()}:${process.pid}:${crypto.randomBytes(3).toString('hex')}`;
  const deps: RunnerDeps = {
    prisma,
    logger,
    sink: options.sink,
    workerId,
    staleSeconds: config.sync.staleSeconds,
    connectorFor: options.createConnector,
  };
  const job = async (runId: string, signal: AbortSignal) => {
    await executeRun(deps, runId, { signal });
  };
  const queue = options.databaseUrl
    ? graphileQueue({ connectionString: options.databaseUrl, concurrency: config.sync.concurrency, logger, job })
    : inProcessQueue({ concurrency: Math.max(config.sync.concurrency, 0), logger, job });
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;

  const tick = async () => {
    await queueDue(prisma);
    for (const run of await orphans(prisma, config.sync.staleSeconds)) await queue.enqueue(run);
  };
  const safeTick = () => {
    ticking ??= tick()
      .catch((error: unknown) => logger.warn({ err: error }, 'sync schedule tick failed'))
      .finally(() => {
        ticking = undefined;
      });
    return ticking;
  };

  return {
    queue: queue.kind,
    workerId,
    deps,
    async start() {
      // The embedded store belongs to this one process: a run left RUNNING was this store's
      // previous process's, which died. It resumes now, not after SYNC_STALE_SECONDS.
      if (!options.databaseUrl)
        await prisma.syncRun.updateMany({
          where: { status: 'RUNNING' },
          data: { status: 'QUEUED', worker: null, heartbeatAt: null },
        });
      await queue.start();
      await safeTick();
      timer = setInterval(() => void safeTick(), options.tickMs ?? 5000);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await ticking;
      await queue.stop();
    },
    tick: safeTick,
    async enqueue(run) {
      await queue.enqueue({ id: run.id, backendId: run.backendId });
    },
    runNow: (runId, runOptions) => executeRun(deps, runId, runOptions),
  };
}

/**
 * The gateway's sync service: the identities service as the sink, the connectors of
 * src/connectors with the stored credentials, graphile-worker when the store is PostgreSQL.
 */
export function gatewaySync(options: {
  prisma: PrismaClient;
  config: Config;
  logger: Logger;
  databaseUrl?: string;
  connector?: Partial<ConnectorOptions>;
  tickMs?: number;
}): SyncService {
  const { config } = options;
  return createSyncService({
    ...options,
    sink: identitySink(options.prisma),
    createConnector: (backend) =>
      createConnector(
        {
          id: backend.id,
          kind: backend.kind,
          baseUrl: backend.baseUrl,
          credential: backendCredential(config, backend),
        },
        connectorOptions(config, options.connector),
      ),
  });
}

/**
 * Queues each backend's due run: the full import of one never synced, an incremental one
 * when the last run began syncIntervalSeconds ago. Paused backends wait.
 */
export async function queueDue(prisma: PrismaClient): Promise<number> {
  const due = await prisma.$queryRaw<{ id: string; partnerId: string; never: boolean }[]>`
    SELECT b.id, b."partnerId", last.at IS NULL AS never
      FROM "Backend" b
      LEFT JOIN LATERAL (SELECT max(r."createdAt") AS at FROM "SyncRun" r WHERE r."backendId" = b.id) last ON true
     WHERE b.status <> 'PAUSED'
       AND (last.at IS NULL OR last.at <= now() - make_interval(secs => b."syncIntervalSeconds"))
       AND NOT EXISTS (SELECT 1 FROM "SyncRun" a WHERE a."backendId" = b.id AND a.status IN ('QUEUED', 'RUNNING'))`;
  let queued = 0;
  for (const backend of due) if ((await requestRun(prisma, backend, backend.never)).created) queued++;
  return queued;
}

/** Runs that need a worker: QUEUED ones, and RUNNING ones whose worker went silent. */
async function orphans(prisma: PrismaClient, staleSeconds: number): Promise<{ id: string; backendId: string }[]> {
  return prisma.$queryRaw<{ id: string; backendId: string }[]>`
    SELECT id, "backendId" FROM "SyncRun"
     WHERE status = 'QUEUED'
        OR (status = 'RUNNING'
            AND ("heartbeatAt" IS NULL OR "heartbeatAt" < now() - make_interval(secs => ${staleSeconds})))
     ORDER BY id LIMIT 1000`;
}

// ---------------------------------------------------------------------------- the graph's requests

/**
 * syncBackend: a partner admin asks for a run of one of its backends. A run already queued
 * or running is the answer (a full request makes a queued incremental one full).
 */
export async function syncBackend(
  ctx: RequestContext & { sync?: SyncRequester },
  input: { id: string; full?: boolean | null },
): Promise<SyncRun> {
  const principal = requireUser(ctx);
  if (!principal.partnerAdmin) throw new ForbiddenError('connected backends are managed by partner admins only');
  const backend = isUuid(input.id)
    ? await ctx.prisma.backend.findFirst({
        where: { id: input.id, partnerId: principal.partnerId, disconnectedAt: null },
      })
    : null;
  if (!backend) throw new NotFoundError('Backend', input.id);
  const { run } = await requestRun(ctx.prisma, backend, input.full ?? false);
  if (run.status === 'QUEUED') await ctx.sync?.enqueue(run);
  return run;
}

/** After connectBackend: its first full import is queued at once. */
export async function firstSync(ctx: RequestContext & { sync?: SyncRequester }, backend: Backend): Promise<void> {
  const { run } = await requestRun(ctx.prisma, backend, true);
  if (run.status === 'QUEUED') await ctx.sync?.enqueue(run);
}
