// Where sync jobs wait (SPEC §10.3). On PostgreSQL: graphile-worker, one job per run, so
// replicas share the runs; that one backend has one run at a time is the store's rule (one
// active run per backend, claimed by one worker with one UPDATE: runner.ts), not the queue's.
// On the embedded store graphile-worker cannot run (it keeps a LISTEN connection open, and
// PGlite serves one connection: see src/store/database.ts), and only this process can open
// the store anyway, so the same job code runs in-process.
import { Logger as GraphileLogger, run, type Runner } from 'graphile-worker';
import type { Logger } from '../../logger.js';

export interface QueuedRun {
  id: string;
  backendId: string;
}

export type RunJob = (runId: string, signal: AbortSignal) => Promise<void>;

export interface SyncQueue {
  readonly kind: 'graphile-worker' | 'in-process';
  start(): Promise<void>;
  /** Idempotent: a run already waiting is not queued twice. */
  enqueue(run: QueuedRun): Promise<void>;
  /** Stops taking jobs; the ones running are aborted (they go back to QUEUED at their checkpoint). */
  stop(): Promise<void>;
}

/**
 * The same queue serves the outbox's deliveries (src/modules/outbox: `task: 'outbox'`, one job
 * per user, `backendId` its user). Jobs are in no named queue: a worker killed mid-job leaves
 * its job (and a named queue, had it one) locked for graphile-worker's 4 hours, and a job added
 * to that queue meanwhile would wait as long. Without one, the sweep's job for a run or a user
 * whose job a dead worker left locked is a new job that runs at once (add_job clears a locked
 * job's key, and the old one has no attempts left), and the store's claims keep the order: a
 * sync run is claimed by one worker (a stale one taken over), an outbox user's first entry too.
 */
export function graphileQueue(options: {
  connectionString: string;
  concurrency: number;
  logger: Logger;
  job: RunJob;
  task?: string;
}): SyncQueue {
  const TASK = options.task ?? 'sync';
  let runner: Runner | undefined;
  const log = new GraphileLogger(() => (level, message) => {
    if (level === 'error') options.logger.error({ queue: 'graphile-worker' }, message);
    else if (level === 'warning') options.logger.warn({ queue: 'graphile-worker' }, message);
    else options.logger.debug({ queue: 'graphile-worker' }, message);
  });
  return {
    kind: 'graphile-worker',
    async start() {
      runner = await run({
        connectionString: options.connectionString,
        maxPoolSize: Math.max(2, options.concurrency + 1),
        // 0 workers still needs the runner to add jobs; it then just never takes one.
        concurrency: Math.max(1, options.concurrency),
        forbiddenFlags: options.concurrency === 0 ? [TASK] : null,
        noHandleSignals: true,
        pollInterval: 2000,
        parsedCronItems: [], // no cron: the schedule is per backend (service.ts)
        logger: log,
        gracefulShutdownAbortTimeout: 2000,
        taskList: {
          [TASK]: async (payload, helpers) => {
            const { runId } = payload as { runId: string };
            await options.job(runId, helpers.abortSignal ?? new AbortController().signal);
          },
        },
      });
    },
    async enqueue(queued) {
      if (!runner) throw new Error(`the ${TASK} queue is not started`);
      await runner.addJob(
        TASK,
        { runId: queued.id },
        {
          jobKey: `${TASK}:${queued.id}`,
          jobKeyMode: 'preserve_run_at',
          maxAttempts: 3,
          flags: [TASK],
        },
      );
    },
    async stop() {
      await runner?.stop();
      runner = undefined;
    },
  };
}

/** The embedded store's queue: the same job, in this process, `concurrency` at a time, one per backend. */
export function inProcessQueue(options: {
  concurrency: number;
  logger: Logger;
  job: RunJob;
  task?: string;
}): SyncQueue {
  const waiting = new Map<string, QueuedRun>();
  const running = new Map<string, Promise<void>>(); // by backend
  const abort = new AbortController();
  let started = false;
  const pump = () => {
    if (!started) return;
    for (const [id, queued] of waiting) {
      if (running.size >= options.concurrency) return;
      if (running.has(queued.backendId)) continue;
      waiting.delete(id);
      const done = options
        .job(id, abort.signal)
        .catch((error: unknown) =>
          options.logger.error({ err: error, runId: id }, `${options.task ?? 'sync'} job failed`),
        )
        .finally(() => {
          running.delete(queued.backendId);
          pump();
        });
      running.set(queued.backendId, done);
    }
  };
  return {
    kind: 'in-process',
    async start() {
      started = true;
      pump();
    },
    async enqueue(queued) {
      waiting.set(queued.id, queued);
      pump();
    },
    async stop() {
      started = false;
      waiting.clear();
      abort.abort(new Error('the gateway is stopping'));
      await Promise.all(running.values());
    },
  };
}
