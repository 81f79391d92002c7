// One sync run (SPEC §10.3): QUEUED → RUNNING → SUCCEEDED | FAILED | CANCELLED. Per stream,
// per page: the identities service stores the page, then the run saves its checkpoint and
// counts, so a process killed mid-run resumes at the page after the last one saved (the
// page itself is idempotent if it is read again). Linking runs at the end of each stream;
// after a complete full pass the stream's unseen identities, each confirmed by id (404),
// become GONE. Streams that
// cannot be listed (learning) re-read the known identities by id.
//
// Exclusivity: the store holds at most one QUEUED or RUNNING run per backend (a partial
// unique index), and a run is claimed by one worker with one UPDATE; whoever loses the
// claim does nothing. A RUNNING run whose worker stopped beating is claimed again.
import { Prisma, type Backend, type BackendStatus, type PrismaClient, type SyncRun } from '@prisma/client';
import type { Logger } from '../../logger.js';
import { uuidv7 } from '../../store/ids.js';
import type {
  BackendRef,
  Checkpoint,
  Connector,
  IdentitySink,
  RecordError,
  SourceRecord,
  StreamName,
} from '../backends/contract.js';

/** Streams a kind cannot list, re-read by id instead (SPEC §10.3). */
export const REREAD_STREAMS: Partial<Record<Backend['kind'], StreamName>> = { LEARNING: 'learning.accounts' };
export const MAX_RECORD_ERRORS = 100;
/** Ids re-read at once from a stream that cannot be listed (the connector bounds requests in flight). */
const REREAD_BATCH = 16;
/** Unseen records of a full pass confirmed by id at most (see confirmUnseen). */
export const MAX_CONFIRM = 1000;

/** Where a run is, saved after every page. */
export interface RunCheckpoint {
  /** The stream being read, and the position of its next page (null: its start). */
  stream: StreamName | null;
  position: Checkpoint | null;
  /** Streams finished (stored, linked, and after a full pass GONE marked). */
  done: StreamName[];
}

export interface Progress {
  runId: string;
  backendId: string;
  kind: Backend['kind'];
  stream: StreamName;
  /** Pages (or re-read batches) of this stream so far, records of them, and the run's requests. */
  pages: number;
  records: number;
  requests: number;
  /** The stream is finished. */
  done: boolean;
}

export interface RunnerDeps {
  prisma: PrismaClient;
  logger: Logger;
  sink: IdentitySink;
  /** The connector that speaks to the backend (one per backend, kept by the caller). */
  connectorFor(backend: Backend): Connector;
  /** Names this process in SyncRun.worker. */
  workerId: string;
  /** A RUNNING run silent for longer than this is claimed again. */
  staleSeconds: number;
}

export interface ExecuteOptions {
  /** Aborting stops the run after the page in progress; it goes back to QUEUED and resumes later. */
  signal?: AbortSignal;
  onProgress?(progress: Progress): void;
}

type Failure = 'refused' | 'unavailable' | 'protocol' | 'internal';

/** Thrown inside a run when the store no longer lets this worker write it (cancelled, deleted, taken over). */
class LostRun extends Error {}

/**
 * The backend's active run (QUEUED or RUNNING), or a new QUEUED one. A request for a full
 * run makes a queued incremental one full. `created` says whether this call made it.
 */
export async function requestRun(
  prisma: PrismaClient,
  backend: Pick<Backend, 'id' | 'partnerId'>,
  full: boolean,
): Promise<{ run: SyncRun; created: boolean }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const id = uuidv7();
    const inserted = await prisma.$queryRaw<{ id: string }[]>`
      INSERT INTO "SyncRun" (id, "partnerId", "backendId", status, "full")
      VALUES (${id}::uuid, ${backend.partnerId}, ${backend.id}::uuid, 'QUEUED', ${full})
      ON CONFLICT ("backendId") WHERE status IN ('QUEUED', 'RUNNING') DO NOTHING
      RETURNING id`;
    if (inserted.length) return { run: await prisma.syncRun.findUniqueOrThrow({ where: { id } }), created: true };
    if (full)
      await prisma.syncRun.updateMany({
        where: { backendId: backend.id, status: 'QUEUED', full: false },
        data: { full: true },
      });
    const active = await prisma.syncRun.findFirst({
      where: { backendId: backend.id, status: { in: ['QUEUED', 'RUNNING'] } },
    });
    // It may have finished between the two statements: then try the insert again.
    if (active) return { run: active, created: false };
  }
  throw new Error(`could not queue a sync run for backend ${backend.id}`);
}

/**
 * Claims run `runId` for this worker and carries it out. Resolves to the run as it ended,
 * or null when it was not this worker's to run (another worker has it, or it is over).
 */
export async function executeRun(
  deps: RunnerDeps,
  runId: string,
  options: ExecuteOptions = {},
): Promise<SyncRun | null> {
  const { prisma, logger } = deps;
  const claimed = await prisma.$queryRaw<{ id: string }[]>`
    UPDATE "SyncRun"
       SET status = 'RUNNING', "startedAt" = COALESCE("startedAt", now()), worker = ${deps.workerId},
           "heartbeatAt" = now()
     WHERE id = ${runId}::uuid
       AND (status = 'QUEUED'
            OR (status = 'RUNNING'
                AND ("heartbeatAt" IS NULL OR "heartbeatAt" < now() - make_interval(secs => ${deps.staleSeconds}))))
    RETURNING id`;
  if (!claimed.length) return null;
  const run = await prisma.syncRun.findUniqueOrThrow({ where: { id: runId }, include: { backend: true } });
  const backend = run.backend;
  if (backend.status === 'PAUSED') {
    return finish(prisma, run.id, deps.workerId, { status: 'CANCELLED', lastError: null });
  }

  const lost = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, lost.signal]) : lost.signal;
  // The heartbeat says this worker is alive between pages (a slow page, a long Retry-After).
  const beat = setInterval(
    () => {
      void prisma.syncRun
        .updateMany({
          where: { id: runId, status: 'RUNNING', worker: deps.workerId },
          data: { heartbeatAt: new Date() },
        })
        .then(({ count }) => {
          if (count === 0) lost.abort(new LostRun());
        })
        .catch(() => {});
    },
    Math.max(1000, (deps.staleSeconds * 1000) / 4),
  );
  beat.unref();

  let connector: Connector | undefined;
  try {
    connector = deps.connectorFor(backend);
    const result = await read(deps, run, connector, signal, options.onProgress);
    const health = connector.health();
    return await finish(prisma, run.id, deps.workerId, {
      status: 'SUCCEEDED',
      lastError: null,
      backendStatus: health,
      counts: result,
    });
  } catch (error) {
    if (error instanceof LostRun || lost.signal.aborted) {
      logger.info({ runId }, 'sync run left: it was cancelled, removed or taken over');
      return prisma.syncRun.findUnique({ where: { id: runId } });
    }
    if (options.signal?.aborted) {
      // Stopping (shutdown): the run waits for the next worker, from its checkpoint.
      await prisma.syncRun.updateMany({
        where: { id: runId, status: 'RUNNING', worker: deps.workerId },
        data: { status: 'QUEUED', worker: null, heartbeatAt: null },
      });
      logger.info({ runId }, 'sync run paused for shutdown; it resumes from its checkpoint');
      return prisma.syncRun.findUnique({ where: { id: runId } });
    }
    const failure = classify(error);
    if (failure === 'internal') logger.error({ err: error, runId, backendId: backend.id }, 'sync run failed');
    else logger.warn({ runId, backendId: backend.id, failure, message: errorMessage(error) }, 'sync run failed');
    const health = connector?.health() ?? 'DEGRADED';
    const backendStatus: BackendStatus = failure === 'refused' ? 'FAILING' : health === 'HEALTHY' ? 'DEGRADED' : health;
    return finish(prisma, run.id, deps.workerId, {
      status: 'FAILED',
      lastError: describeFailure(failure, error),
      backendStatus,
    });
  } finally {
    clearInterval(beat);
  }
}

/** A run's counts of records read (SPEC §10.7). */
export interface Counts {
  requests: number;
  seen: number;
  created: number;
  updated: number;
  linked: number;
  gone: number;
  conflicts: number;
}

/** The counts a SyncRun row holds. */
export const countsOf = (run: SyncRun): Counts => ({
  requests: run.requests,
  seen: run.seen,
  created: run.created,
  updated: run.updated,
  linked: run.linked,
  gone: run.gone,
  conflicts: run.conflicts,
});

async function read(
  deps: RunnerDeps,
  run: SyncRun & { backend: Backend },
  connector: Connector,
  signal: AbortSignal,
  onProgress?: ExecuteOptions['onProgress'],
) {
  const { prisma, sink } = deps;
  const backend = run.backend;
  const ref: BackendRef = { id: backend.id, partnerId: backend.partnerId, kind: backend.kind, linkBy: backend.linkBy };
  let full = run.full;
  let since: Date | null = null;
  if (!full) {
    const last = await prisma.syncRun.findFirst({
      where: { backendId: backend.id, status: 'SUCCEEDED', id: { not: run.id } },
      orderBy: { startedAt: 'desc' },
      select: { startedAt: true },
    });
    since = last?.startedAt ?? null;
    // Nothing read before: the first run is the full import.
    if (!since) {
      full = true;
      await prisma.syncRun.update({ where: { id: run.id }, data: { full: true } });
    }
  }
  const checkpoint: RunCheckpoint = {
    stream: null,
    position: null,
    done: [],
    ...((run.checkpoint as RunCheckpoint | null) ?? {}),
  };
  const errors: RecordError[] = Array.isArray(run.errors) ? (run.errors as unknown as RecordError[]) : [];
  const counts = countsOf(run);

  /** Adds to the counts and saves them with the checkpoint, if the run is still this worker's. */
  const save = async (delta: Partial<Counts>, newErrors: RecordError[] = []) => {
    for (const [key, value] of Object.entries(delta) as [keyof Counts, number][]) counts[key] += value;
    for (const e of newErrors)
      if (errors.length < MAX_RECORD_ERRORS)
        errors.push({ nativeId: e.nativeId ?? null, reason: String(e.reason).slice(0, 500) });
    const { count } = await prisma.syncRun.updateMany({
      where: { id: run.id, status: 'RUNNING', worker: deps.workerId },
      data: {
        ...counts,
        errors: errors as unknown as Prisma.InputJsonValue,
        checkpoint: checkpoint as unknown as Prisma.InputJsonValue,
        heartbeatAt: new Date(),
      },
    });
    if (count === 0) throw new LostRun();
  };
  /** Tells the caller (the CLI's progress lines) where a stream is. */
  const progress = (stream: StreamName, pages: number, records: number, done: boolean) =>
    onProgress?.({
      runId: run.id,
      backendId: backend.id,
      kind: backend.kind,
      stream,
      pages,
      records,
      requests: counts.requests,
      done,
    });
  const link = async () => {
    const linked = await sink.linkPending(ref);
    await save({ linked: linked.linked, conflicts: linked.conflicts });
  };

  for (const stream of connector.streams) {
    if (checkpoint.done.includes(stream)) continue;
    const from = checkpoint.stream === stream ? checkpoint.position : null;
    checkpoint.stream = stream;
    let pages = 0;
    let records = 0;
    for await (const page of readAhead(connector.readPages(stream, from, { full, since, signal }))) {
      const stored = await store(sink, ref, page.records, run.id);
      pages++;
      records += page.records.length;
      checkpoint.position = page.next;
      await save(
        { requests: page.requests, seen: page.records.length, created: stored.created, updated: stored.updated },
        [...page.errors, ...stored.errors],
      );
      progress(stream, pages, records, false);
      if (signal.aborted) throw signal.reason;
    }
    await link();
    const gone = full ? await confirmUnseen(deps, ref, connector, stream, run.id, signal, save) : 0;
    checkpoint.done.push(stream);
    checkpoint.stream = null;
    checkpoint.position = null;
    await save({ gone });
    progress(stream, pages, records, true);
  }

  const reread = REREAD_STREAMS[backend.kind];
  if (reread && !checkpoint.done.includes(reread)) {
    checkpoint.stream = reread;
    let pages = 0;
    let records = 0;
    for await (const ids of sink.knownNativeIds(ref, reread)) {
      for (let i = 0; i < ids.length; i += REREAD_BATCH) {
        const batch = ids.slice(i, i + REREAD_BATCH);
        const { errors, ...delta } = await rereadBatch(sink, ref, connector, reread, batch, run.id, signal);
        pages++;
        records += delta.seen;
        await save({ requests: batch.length, ...delta }, errors);
        progress(reread, pages, records, false);
        if (signal.aborted) throw signal.reason;
      }
    }
    await link();
    checkpoint.done.push(reread);
    checkpoint.stream = null;
    await save({});
    progress(reread, pages, records, true);
  }
  return counts;
}

/**
 * A stream's pages with the next one already asked for while the caller stores the one it has,
 * so the backend's answer and the store's writes overlap instead of adding up (a full import of
 * 500 pages waits for the slower of the two, not for both). The same requests in the same
 * order, one at a time; at most one page waits (two in memory). The checkpoint is still the
 * stored page's: a run killed while a page is read ahead reads that page again when it resumes.
 * A page read ahead and never stored (the run stopped, a page failed to store) is not counted in
 * the run's requests.
 */
export async function* readAhead<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const pages = source[Symbol.asyncIterator]();
  let next = pages.next();
  try {
    for (;;) {
      const current = await next;
      if (current.done) return;
      next = pages.next();
      // Its failure surfaces when the loop comes back for it; until then it is not unhandled.
      next.catch(() => {});
      yield current.value;
    }
  } finally {
    // The caller stopped early: end the read (after the page in flight, which the run's signal aborts).
    await pages.return?.()?.catch(() => {});
  }
}

/**
 * After a full pass of a stream: the identities it did not see. A record may be missed by a
 * paged read while the list shifts under it (SPEC §10.7, "Order"), so each is asked for by id
 * before it is marked GONE: found, it is stored as read (seen by this run); 404, GONE. Never
 * is a present record marked GONE. More than MAX_CONFIRM unseen (a mass deletion, or a pass
 * that drifted badly) are left as they are, with a record error saying so; the next full
 * pass looks again. Resolves to the number marked GONE.
 */
async function confirmUnseen(
  deps: RunnerDeps,
  ref: BackendRef,
  connector: Connector,
  stream: StreamName,
  runId: string,
  signal: AbortSignal,
  save: (delta: Partial<Counts>, errors?: RecordError[]) => Promise<void>,
): Promise<number> {
  const unseen = await deps.sink.unseenNativeIds(ref, stream, runId, MAX_CONFIRM + 1);
  if (unseen.length > MAX_CONFIRM) {
    await save({}, [
      {
        nativeId: null,
        reason:
          `more than ${MAX_CONFIRM} known ${stream} records were not in this full pass: ` +
          'none was marked GONE (each is confirmed by id first, and that many are left to the next full pass)',
      },
    ]);
    return 0;
  }
  let gone = 0;
  for (let i = 0; i < unseen.length; i += REREAD_BATCH) {
    const batch = unseen.slice(i, i + REREAD_BATCH);
    // Not confirmed either way (a record answered badly): it stays as it is.
    // GONE is counted by the caller, from what this resolves to.
    const {
      errors,
      gone: marked,
      ...delta
    } = await rereadBatch(deps.sink, ref, connector, stream, batch, runId, signal);
    gone += marked;
    await save({ requests: batch.length, ...delta }, errors);
  }
  return gone;
}

/**
 * Re-reads records by id (one batch, in parallel): a 404 marks its identity GONE, a record read
 * is stored as read by this run. The backend itself failing ends the run (throws); one record it
 * answered badly is a record error.
 */
async function rereadBatch(
  sink: IdentitySink,
  ref: BackendRef,
  connector: Connector,
  stream: StreamName,
  batch: string[],
  runId: string,
  signal: AbortSignal,
): Promise<{ seen: number; created: number; updated: number; gone: number; errors: RecordError[] }> {
  const answers = await Promise.all(
    batch.map((id) => connector.readOne(stream, id, signal).catch((error: unknown) => ({ error }))),
  );
  const found: SourceRecord[] = [];
  const errors: RecordError[] = [];
  let gone = 0;
  for (const [index, answer] of answers.entries()) {
    if (answer === 'GONE') {
      if (await sink.markGone(ref, stream, batch[index]!)) gone++;
    } else if ('error' in answer) {
      if (classify(answer.error) !== 'protocol') throw answer.error;
      errors.push({ nativeId: batch[index]!, reason: errorMessage(answer.error) });
    } else found.push(answer);
  }
  const stored = await store(sink, ref, found, runId);
  return {
    seen: found.length,
    created: stored.created,
    updated: stored.updated,
    gone,
    errors: [...errors, ...stored.errors],
  };
}

/**
 * Stores a page. Should the page as a whole be refused, each record is stored alone, so a
 * bad record is skipped and counted and the others still land.
 */
async function store(
  sink: IdentitySink,
  ref: BackendRef,
  records: SourceRecord[],
  runId: string,
): Promise<{ created: number; updated: number; errors: RecordError[] }> {
  if (!records.length) return { created: 0, updated: 0, errors: [] };
  try {
    return { ...(await sink.upsertPage(ref, records, runId)), errors: [] };
  } catch (pageError) {
    if (records.length === 1)
      return { created: 0, updated: 0, errors: [{ nativeId: records[0]!.nativeId, reason: storeReason(pageError) }] };
    const result = { created: 0, updated: 0, errors: [] as RecordError[] };
    for (const record of records) {
      try {
        const one = await sink.upsertPage(ref, [record], runId);
        result.created += one.created;
        result.updated += one.updated;
      } catch (error) {
        result.errors.push({ nativeId: record.nativeId, reason: storeReason(error) });
      }
    }
    return result;
  }
}

/** A domain refusal says why; anything else (a database error) is not shown to admins. */
function storeReason(error: unknown): string {
  const name = error instanceof Error ? error.name : '';
  if (/ValidationError|ConflictError/.test(name)) return `not stored: ${errorMessage(error)}`;
  return 'not stored: the gateway could not store this record';
}

async function finish(
  prisma: PrismaClient,
  runId: string,
  workerId: string,
  outcome: {
    status: 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
    lastError: string | null;
    backendStatus?: BackendStatus;
    counts?: Counts;
  },
): Promise<SyncRun | null> {
  const now = new Date();
  return prisma.$transaction(async (tx) => {
    const { count } = await tx.syncRun.updateMany({
      where: { id: runId, status: 'RUNNING', worker: workerId },
      data: {
        status: outcome.status,
        finishedAt: now,
        worker: null,
        heartbeatAt: null,
        ...(outcome.status === 'SUCCEEDED' && { checkpoint: Prisma.DbNull }),
      },
    });
    const run = await tx.syncRun.findUnique({ where: { id: runId } });
    if (count && run && outcome.status !== 'CANCELLED') {
      await tx.backend.update({
        where: { id: run.backendId },
        data: {
          lastError: outcome.lastError,
          ...(outcome.status === 'SUCCEEDED' && { lastSyncAt: now }),
          ...(outcome.backendStatus && { status: outcome.backendStatus }),
        },
      });
    }
    return run;
  });
}

/** The connector's errors by name (src/connectors): refused (401/403), unavailable, protocol. */
export function classify(error: unknown): Failure {
  if (!(error instanceof Error)) return 'internal';
  const status = (error as { status?: unknown }).status;
  if (/Refused/.test(error.name) || status === 401 || status === 403) return 'refused';
  if (/Unavailable|Timeout|CircuitOpen|BrokenCircuit/.test(error.name)) return 'unavailable';
  if (/Protocol/.test(error.name)) return 'protocol';
  return 'internal';
}

function errorMessage(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 300);
}

/** Backend.lastError: what an admin can act on; never a credential (the connectors never put one in a message). */
function describeFailure(failure: Failure, error: unknown): string {
  const status = (error as { status?: unknown } | null)?.status;
  switch (failure) {
    case 'refused':
      return (
        `the backend refused the stored credential${typeof status === 'number' ? ` (HTTP ${status})` : ''}: ` +
        'replace it with updateBackend'
      );
    case 'unavailable':
      return `the backend could not be reached: ${errorMessage(error)}`;
    case 'protocol':
      return `the backend answered something its API does not: ${errorMessage(error)}`;
    default:
      return 'the sync stopped on an internal error of the gateway (see its log)';
  }
}
