// account-gateway sync --partner ULID [--kind K] [--full] (SPEC §10.3): runs a partner's sync
// runs in this process, one backend after the other, through the same runner as the server's
// queue. On a terminal a progress bar per stream (pages, records, rate, ETA against the
// stream's known identities); elsewhere one JSON line per page and one per run. Exits
// non-zero when a run failed, with the backend's reason.
import cliProgress from 'cli-progress';
import type { Backend, SyncRun } from '@prisma/client';
import type { Config } from '../config.js';
import { createLogger } from '../logger.js';
import type { Store } from '../store/database.js';
import { listBackends } from '../modules/backends/service.js';
import type { RequestContext } from '../auth/context.js';
import { countsOf, requestRun, type Progress } from '../modules/sync/runner.js';
import { gatewaySync } from '../modules/sync/service.js';
import type { CliIo } from './io.js';

export interface SyncCommandOptions {
  kind?: Backend['kind'];
  full?: boolean;
}

export interface SyncOutcome {
  runs: { kind: Backend['kind']; run: SyncRun | null; lastError: string | null }[];
  failed: boolean;
}

/** How long to wait for a run another process is carrying out, polling its row. */
const WAIT_POLL_MS = 1000;

export async function runSyncCommand(
  io: CliIo,
  store: Store,
  config: Config,
  ctx: RequestContext,
  options: SyncCommandOptions,
): Promise<SyncOutcome> {
  const backends = (await listBackends(ctx)).filter((b) => !options.kind || b.kind === options.kind);
  if (!backends.length)
    throw new Error(
      options.kind ? `this partner has no connected ${options.kind} backend` : 'this partner has no connected backend',
    );
  const sync = gatewaySync({
    prisma: store.prisma,
    config,
    logger: createLogger('silent'),
    databaseUrl: config.databaseUrl,
  });
  const reporter = await progressReporter(io, store, backends);
  const outcome: SyncOutcome = { runs: [], failed: false };
  try {
    for (const backend of backends) {
      const { run } = await requestRun(store.prisma, backend, options.full ?? false);
      let ended = await sync.runNow(run.id, { onProgress: reporter.update });
      // Another process (a server's queue) has it: wait for its end rather than run it twice.
      if (!ended) ended = await waitForEnd(store, run.id, reporter, backend);
      const after = await store.prisma.backend.findUnique({ where: { id: backend.id }, select: { lastError: true } });
      outcome.runs.push({ kind: backend.kind, run: ended, lastError: after?.lastError ?? null });
      if (ended?.status !== 'SUCCEEDED') outcome.failed = true;
      reporter.finish(backend, ended, after?.lastError ?? null);
    }
  } finally {
    reporter.stop();
  }
  return outcome;
}

async function waitForEnd(store: Store, runId: string, reporter: Reporter, backend: Backend): Promise<SyncRun | null> {
  reporter.note(`${backend.kind}: a run is already in progress in another process; waiting for it`);
  for (;;) {
    const run = await store.prisma.syncRun.findUnique({ where: { id: runId } });
    if (!run || !['QUEUED', 'RUNNING'].includes(run.status)) return run;
    await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
  }
}

interface Reporter {
  update(progress: Progress): void;
  finish(backend: Backend, run: SyncRun | null, lastError: string | null): void;
  note(message: string): void;
  stop(): void;
}

const counts = (run: SyncRun) => ({
  ...countsOf(run),
  errors: Array.isArray(run.errors) ? run.errors.length : 0,
});

async function progressReporter(io: CliIo, store: Store, backends: Backend[]): Promise<Reporter> {
  const started = new Map<string, number>();
  const rate = (p: Progress) => {
    const key = `${p.runId}:${p.stream}`;
    if (!started.has(key)) started.set(key, Date.now());
    const seconds = (Date.now() - started.get(key)!) / 1000;
    return seconds > 0 ? p.records / seconds : 0;
  };
  if (!io.stderr.isTTY) {
    // One JSON line per page on standard output, and one per run.
    return {
      update: (p) =>
        io.out(
          JSON.stringify({
            event: 'progress',
            kind: p.kind,
            stream: p.stream,
            pages: p.pages,
            records: p.records,
            requests: p.requests,
            rate: Math.round(rate(p)),
            done: p.done,
          }),
        ),
      finish: (backend, run, lastError) =>
        io.out(
          JSON.stringify({
            event: 'run',
            kind: backend.kind,
            run: run?.id ?? null,
            status: run?.status ?? 'GONE',
            full: run?.full ?? null,
            ...(run && counts(run)),
            ...(run?.status !== 'SUCCEEDED' && { reason: lastError }),
          }),
        ),
      note: (message) => io.err(message),
      stop: () => {},
    };
  }
  // The stream's known identities are what a full pass will roughly read: the bar's total.
  const known = new Map<string, number>();
  for (const backend of backends) {
    const rows = await store.prisma.identity.groupBy({
      by: ['stream'],
      where: { backendId: backend.id, status: { in: ['LINKED', 'PENDING'] } },
      _count: { _all: true },
    });
    for (const row of rows) known.set(`${backend.id}:${row.stream}`, row._count._all);
  }
  const multi = new cliProgress.MultiBar(
    {
      format: '{label} |{bar}| {value}/{total} records, {pages} pages, {rate}/s, ETA {eta_formatted}',
      stream: io.stderr,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  return {
    update(p) {
      const key = `${p.backendId}:${p.stream}`;
      let bar = bars.get(key);
      const total = Math.max(known.get(key) ?? 0, p.records, 1);
      const payload = {
        label: `${p.kind.padEnd(9)} ${p.stream.padEnd(18)}`,
        pages: p.pages,
        rate: Math.round(rate(p)),
      };
      if (!bar) {
        bar = multi.create(total, 0, payload);
        bars.set(key, bar);
      }
      bar.setTotal(p.done ? Math.max(p.records, 1) : total);
      bar.update(p.done ? Math.max(p.records, 1) : p.records, payload);
    },
    finish(backend, run, lastError) {
      const line = run
        ? `${backend.kind}: ${run.status}, ${run.seen} read, ${run.created} new, ${run.updated} changed, ` +
          `${run.linked} linked, ${run.gone} gone, ${run.conflicts} conflicts, ${run.requests} requests`
        : `${backend.kind}: the run is gone`;
      multi.log(`${line}${run?.status !== 'SUCCEEDED' && lastError ? ` — ${lastError}` : ''}\n`);
    },
    note: (message) => multi.log(`${message}\n`),
    stop: () => multi.stop(),
  };
}
