// How a connector reaches one backend (SPEC §10.3 "Politeness and faults"): HTTP over an undici
// Agent of its own, and cockatiel policies of its own, kept for the backend's lifetime in the
// process (src/connectors/index.ts). Per attempt: a whole-request deadline (headers and body,
// so a slow drip cannot hold a run), the body read while streaming up to a size limit, JSON
// only. Per backend: at most `concurrency` requests in flight (bulkhead), retries with
// exponential backoff and decorrelated jitter on connection errors, timeouts, 429 and 5xx, a
// Retry-After gate (no request to the backend before it expires), and a circuit breaker
// (consecutive failures open it: FAILING; it half-opens later). A refused credential opens
// the circuit at once: retrying it would only be a storm of 401s.
//
// Writes (SPEC §10.4) go through the same policies with their body. PUT and DELETE are
// idempotent and retried like reads; a POST (a create) is retried only when it cannot have
// reached the backend (connection refused, host not found, connect timeout, 429): after a
// reset, a timeout or a 5xx it may have been applied, so it fails as unavailable instead of
// being sent twice. A write's 4xx answers (400, 404, 405, 409, 410, 422) and 501 are the
// backend's verdict: they come back to the connector to interpret, not as errors.
import dns from 'node:dns';
import type { LookupAddress, LookupOptions } from 'node:dns';
import { Agent, fetch as undiciFetch } from 'undici';
import type { BackendKind } from '@prisma/client';
import {
  BrokenCircuitError,
  bulkhead,
  circuitBreaker,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleWhen,
  retry,
  TaskCancelledError,
  timeout,
  TimeoutStrategy,
  wrap,
  type CircuitBreakerPolicy,
  type IPolicy,
  type TimeoutPolicy,
} from 'cockatiel';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { ConnectorHealth } from '../modules/backends/contract.js';
import { isRefusedAddress } from '../modules/backends/base-url.js';
import { BackendError, BackendProtocolError, BackendRefusedError, BackendUnavailableError, excerpt } from './errors.js';

/** The end of a failed create's message when the backend may have applied it. */
const MAYBE_APPLIED = '; the create was not sent again (it may have been applied)';

export interface ConnectorOptions {
  /** Whole-request deadline of one attempt (BACKEND_TIMEOUT_MS). */
  timeoutMs: number;
  /** Requests in flight to the backend at most (BACKEND_CONCURRENCY). */
  concurrency: number;
  /** Retries after the first attempt (connection errors, timeouts, 429, 5xx) (BACKEND_RETRIES). */
  retries: number;
  /** Exponential backoff between attempts, with jitter: from BACKEND_BACKOFF_MS, doubling up to 10 s. */
  backoff: { initialMs: number; maxMs: number };
  /** Consecutive failed attempts that open the circuit (default 10), and how long it stays open (default 30 s). */
  breaker?: { consecutiveFailures: number; halfOpenAfterMs: number };
  /** Failures this recent make the backend DEGRADED (default 5 min). */
  degradedWindowMs?: number;
  /** A Retry-After longer than this is not waited for: the call fails as unavailable until then (default 60 s). */
  maxRetryAfterMs?: number;
  /** Largest answer read (default 10 MB): more is a protocol error, found while streaming. */
  maxBodyBytes?: number;
  /** Pages one read may take before it is called endless (default 10,000). */
  maxPages?: number;
  /** Records asked for per page (default 100; each API's own maximum caps it). */
  pageSize?: number;
  /** Incremental catalog reads start this long before `since` (default 5 min). */
  overlapMs?: number;
  /** Refuse (default) addresses a backend must not be reached at: link-local, metadata, multicast… */
  checkAddresses?: boolean;
  logger?: Logger;
}

/** The longest wait between two attempts, whatever the first one. */
const MAX_BACKOFF_MS = 10_000;

export type ResolvedOptions = Required<Omit<ConnectorOptions, 'logger'>> & { logger?: Logger };

/**
 * The options of config.backends (BACKEND_TIMEOUT_MS, BACKEND_CONCURRENCY, BACKEND_RETRIES,
 * BACKEND_BACKOFF_MS), with the defaults below for the rest.
 */
export function connectorOptions(
  config: Pick<Config, 'backends'>,
  overrides: Partial<ConnectorOptions> = {},
): ConnectorOptions {
  const { timeoutMs, concurrency, retries, backoffMs } = config.backends;
  return { timeoutMs, concurrency, retries, backoff: { initialMs: backoffMs, maxMs: MAX_BACKOFF_MS }, ...overrides };
}

export function resolveOptions(options: ConnectorOptions): ResolvedOptions {
  return {
    breaker: { consecutiveFailures: 10, halfOpenAfterMs: 30_000 },
    degradedWindowMs: 300_000,
    maxRetryAfterMs: 60_000,
    maxBodyBytes: 10_000_000,
    maxPages: 10_000,
    pageSize: 100,
    overlapMs: 300_000,
    checkAddresses: true,
    ...options,
  };
}

/** One call's cost: HTTP requests sent, retries included. */
export interface CallCounter {
  requests: number;
}

/** An attempt that may succeed when tried again. */
class RetryableFailure extends Error {
  constructor(
    message: string,
    readonly reason: 'connection' | 'timeout' | 'status',
    /** 429 is the backend pacing us, not failing: it does not count towards the circuit. */
    readonly throttled = false,
    /** A create that may have been applied: not tried again. */
    readonly final = false,
  ) {
    super(message);
  }
}

/** The Retry-After gate is further away than we wait. */
class GateClosed extends Error {
  constructor(readonly until: number) {
    super('retry-after');
  }
}

// cockatiel 3.2's isTaskCancelledError tests for another error's marker: check the class.
const timedOut = (error: unknown) => error instanceof TaskCancelledError;

/** Connection failures that happen before a request is sent: a POST is safe to send again after them. */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_REFUSED_ADDRESS',
]);

/** A write's answers that are the backend's verdict on it, handed to the connector. */
const WRITE_VERDICTS = new Set([400, 404, 405, 409, 410, 422, 501]);

/** What one attempt sends besides the method and URL. */
interface Outgoing {
  body: Buffer | undefined;
  contentType: string | null;
  write: boolean;
  idempotent: boolean;
}

const CONNECTION_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed by the backend',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
  UND_ERR_BODY_TIMEOUT: 'answer stalled',
  ERR_REFUSED_ADDRESS: 'the host resolves to an address a backend must not have (link-local, metadata, multicast…)',
};

function connectionCode(error: unknown): string | null {
  for (let e: unknown = error, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECTION_CODES[code]) return code;
  }
  return null;
}

function connectionProblem(error: unknown): string {
  const code = connectionCode(error);
  return code ? CONNECTION_CODES[code]! : 'connection failed';
}

/** Retry-After as milliseconds from now: delay-seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** dns.lookup that refuses the addresses no backend may have, for every name the agent resolves. */
function guardedLookup(
  hostname: string,
  options: LookupOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
) {
  dns.lookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, []);
    const list = addresses as LookupAddress[];
    if (list.some((a) => isRefusedAddress(a.address))) {
      const refused: NodeJS.ErrnoException = new Error('refused address');
      refused.code = 'ERR_REFUSED_ADDRESS';
      return callback(refused, []);
    }
    if (options.all) return callback(null, list);
    callback(null, list[0]!.address, list[0]!.family);
  });
}

export class Transport {
  readonly options: ResolvedOptions;
  private readonly agent: Agent;
  private readonly breaker: CircuitBreakerPolicy;
  private readonly attemptTimeout: TimeoutPolicy;
  private readonly policy: IPolicy;
  /** The pass-through proxy's policy: the same circuit and bulkhead, no retries (the caller's integration retries). */
  private readonly relayPolicy: IPolicy;
  private readonly authorization: string;
  /** No request before this time (ms since the epoch): the latest Retry-After. */
  private notBefore = 0;
  private openedAt = 0;
  private failures: number[] = [];
  private isolation: { dispose(): void; until: number; status: number; timer: NodeJS.Timeout } | undefined;
  private closed = false;

  constructor(
    readonly kind: BackendKind,
    /** The stored credential; sent as the header `authorization` builds, never logged or shown. */
    private readonly credential: string,
    authorization: (credential: string) => string,
    options: ConnectorOptions,
  ) {
    this.options = resolveOptions(options);
    this.authorization = authorization(credential);
    const o = this.options;
    this.agent = new Agent({
      connections: o.concurrency,
      // Backstops only: the attempt's whole-request deadline (below) ends every attempt first.
      headersTimeout: o.timeoutMs + 1000,
      bodyTimeout: o.timeoutMs + 1000,
      connect: { timeout: o.timeoutMs, ...(o.checkAddresses ? { lookup: guardedLookup } : {}) },
    });
    const retryPolicy = retry(
      handleWhen((e) => (e instanceof RetryableFailure && !e.final) || timedOut(e)),
      {
        maxAttempts: o.retries,
        backoff: new ExponentialBackoff({ initialDelay: o.backoff.initialMs, maxDelay: o.backoff.maxMs }),
      },
    );
    this.breaker = circuitBreaker(
      handleWhen(
        (e) => (e instanceof RetryableFailure && !e.throttled) || timedOut(e) || e instanceof BackendRefusedError,
      ),
      { halfOpenAfter: o.breaker.halfOpenAfterMs, breaker: new ConsecutiveBreaker(o.breaker.consecutiveFailures) },
    );
    this.breaker.onBreak(() => {
      this.openedAt = Date.now();
      o.logger?.warn({ kind }, 'backend circuit opened');
    });
    this.breaker.onReset(() => o.logger?.info({ kind }, 'backend circuit closed'));
    this.attemptTimeout = timeout(o.timeoutMs, TimeoutStrategy.Aggressive);
    const limit = bulkhead(o.concurrency, Number.MAX_SAFE_INTEGER);
    this.policy = wrap(retryPolicy, this.breaker, limit);
    this.relayPolicy = wrap(this.breaker, limit);
  }

  /** The circuit's state as Backend.status: open → FAILING; half-open or failures lately → DEGRADED. */
  health(): ConnectorHealth {
    const state = this.breaker.state;
    if (state === CircuitState.Isolated) return 'FAILING';
    if (state === CircuitState.Open)
      return Date.now() >= this.openedAt + this.options.breaker.halfOpenAfterMs ? 'DEGRADED' : 'FAILING';
    if (state === CircuitState.HalfOpen) return 'DEGRADED';
    const since = Date.now() - this.options.degradedWindowMs;
    this.failures = this.failures.filter((t) => t >= since);
    return this.failures.length ? 'DEGRADED' : 'HEALTHY';
  }

  /** A fetch for openapi-fetch: GET through the policies; counts what it sends into `counter`. */
  fetcher(counter: CallCounter, signal?: AbortSignal): (request: Request) => Promise<Response> {
    return (request) => this.send(request, counter, signal);
  }

  async send(request: Request, counter: CallCounter, signal?: AbortSignal): Promise<Response> {
    if (this.closed) throw new BackendUnavailableError(this.kind, `${this.kind.toLowerCase()} backend: disconnected`);
    const write = request.method !== 'GET' && request.method !== 'HEAD';
    const outgoing: Outgoing = {
      body: request.body ? Buffer.from(await request.arrayBuffer()) : undefined,
      contentType: request.headers.get('content-type'),
      write,
      idempotent: request.method !== 'POST' && request.method !== 'PATCH',
    };
    try {
      return await this.policy.execute(async ({ signal: attemptSignal }) => {
        await this.gate(attemptSignal);
        counter.requests++;
        try {
          return await this.attemptTimeout.execute(
            ({ signal: deadline }) => this.attempt(request, deadline, outgoing),
            attemptSignal,
          );
        } catch (error) {
          if (timedOut(error) && !attemptSignal.aborted) {
            this.failed();
            if (!outgoing.idempotent)
              throw new RetryableFailure(
                `${this.kind.toLowerCase()} backend sent no complete answer within ${this.options.timeoutMs} ms` +
                  MAYBE_APPLIED,
                'timeout',
                false,
                true,
              );
          }
          throw error;
        }
      }, signal);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw this.translate(error);
    }
  }

  /**
   * One request of the pass-through proxy (SPEC §10.4), sent as the caller built it (method, path,
   * end-to-end headers, body) with the stored credential in the kind's header form, through the
   * backend's bulkhead, circuit breaker and Retry-After gate, once. The answer comes back as the
   * backend sent it, whatever its status, its body not yet read (the caller streams it); only the
   * deadline for its headers is `timeoutMs` (the agent's body timeout ends a stalled body).
   * Unreachable, timing out, gated or circuit open: a BackendUnavailableError. A refused
   * credential (401) is the gateway's problem, never the caller's: a BackendRefusedError, and the
   * circuit opens as for reads.
   */
  async relay(
    request: { method: string; url: string; headers: Headers; body: Buffer | undefined },
    signal?: AbortSignal,
  ): Promise<Awaited<ReturnType<typeof undiciFetch>>> {
    if (this.closed) throw new BackendUnavailableError(this.kind, `${this.kind.toLowerCase()} backend: disconnected`);
    const what = `${this.kind.toLowerCase()} backend`;
    const headers: Record<string, string> = {};
    for (const [name, value] of request.headers) headers[name] = value;
    headers.authorization = this.authorization;
    try {
      return await this.relayPolicy.execute(async () => {
        if (this.notBefore > Date.now()) throw new GateClosed(this.notBefore);
        const deadline = new AbortController();
        const timer = setTimeout(() => deadline.abort(), this.options.timeoutMs);
        const both = signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
        let response: Awaited<ReturnType<typeof undiciFetch>>;
        try {
          response = await undiciFetch(request.url, {
            method: request.method,
            headers,
            ...(request.body ? { body: request.body } : {}),
            dispatcher: this.agent,
            redirect: 'manual',
            signal: both,
          });
        } catch (error) {
          if (signal?.aborted) throw error;
          this.failed();
          const late = deadline.signal.aborted;
          throw new RetryableFailure(
            late
              ? `${what} sent no answer within ${this.options.timeoutMs} ms`
              : `${what}: ${connectionProblem(error)}`,
            late ? 'timeout' : 'connection',
            false,
            true,
          );
        } finally {
          clearTimeout(timer);
        }
        const pause = retryAfterMs(response.headers.get('retry-after'));
        if (pause !== null && (response.status === 429 || response.status >= 500))
          this.notBefore = Math.max(this.notBefore, Date.now() + pause);
        if (response.status >= 500) this.failed();
        if (response.status === 401) {
          await response.body?.cancel().catch(() => {});
          this.failed();
          this.isolate(401);
          throw this.refused(401);
        }
        return response;
      }, signal);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw this.translate(error);
    }
  }

  close(): void {
    this.closed = true;
    if (this.isolation) clearTimeout(this.isolation.timer);
    void this.agent.close().catch(() => {});
  }

  /** Waits out a Retry-After; one further than maxRetryAfterMs fails the call instead. */
  private async gate(signal: AbortSignal): Promise<void> {
    for (let wait = this.notBefore - Date.now(); wait > 0; wait = this.notBefore - Date.now()) {
      if (wait > this.options.maxRetryAfterMs) throw new GateClosed(this.notBefore);
      // Timers may fire a little early against the wall clock: wake after it, and check again.
      await sleep(wait + 2, signal);
    }
  }

  private async attempt(request: Request, signal: AbortSignal, outgoing: Outgoing): Promise<Response> {
    const what = `${this.kind.toLowerCase()} backend`;
    let response: Awaited<ReturnType<typeof undiciFetch>>;
    try {
      response = await undiciFetch(request.url, {
        method: request.method,
        headers: {
          accept: 'application/json',
          authorization: this.authorization,
          'user-agent': 'account-gateway-connector',
          ...(outgoing.body && outgoing.contentType ? { 'content-type': outgoing.contentType } : {}),
        },
        ...(outgoing.body ? { body: outgoing.body } : {}),
        dispatcher: this.agent,
        redirect: 'manual',
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw new TaskCancelledError('deadline');
      this.failed();
      const code = connectionCode(error);
      const maybeApplied = !outgoing.idempotent && !(code && NOT_SENT.has(code));
      throw new RetryableFailure(
        `${what}: ${connectionProblem(error)}${maybeApplied ? MAYBE_APPLIED : ''}`,
        'connection',
        false,
        maybeApplied,
      );
    }
    const { status } = response;
    const verdict = outgoing.write && WRITE_VERDICTS.has(status);
    const pause = retryAfterMs(response.headers.get('retry-after'));
    if (pause !== null && (status === 429 || status >= 500))
      this.notBefore = Math.max(this.notBefore, Date.now() + pause);
    if (!verdict && (status === 429 || status >= 500)) {
      await response.body?.cancel().catch(() => {});
      if (status !== 429) this.failed();
      const maybeApplied = status !== 429 && !outgoing.idempotent;
      throw new RetryableFailure(
        `${what} answered ${status}${status === 429 ? ' (too many requests)' : ''}${maybeApplied ? MAYBE_APPLIED : ''}`,
        'status',
        status === 429,
        maybeApplied,
      );
    }
    if (status === 401 || status === 403) {
      await response.body?.cancel().catch(() => {});
      this.failed();
      this.isolate(status);
      throw this.refused(status);
    }
    if (status >= 300 && status < 400) {
      await response.body?.cancel().catch(() => {});
      throw new BackendProtocolError(
        this.kind,
        `${what} answered ${status}, a redirect: the baseUrl must name the API itself`,
      );
    }
    const body = (await this.readBody(response, signal)).toString('utf8');
    const type = response.headers.get('content-type') ?? '';
    if (status !== 204 && body.length > 0) {
      if (!/^application\/([\w.+-]*\+)?json\b/i.test(type)) {
        throw new BackendProtocolError(
          this.kind,
          `${what} answered ${status} with ${excerpt(type.split(';')[0] || 'no content type', 60)}, ` +
            'not JSON: is the baseUrl that of its API?',
        );
      }
      try {
        JSON.parse(body);
      } catch {
        throw new BackendProtocolError(this.kind, `${what} answered ${status} with a body that is not valid JSON`);
      }
    }
    if (status >= 400 && status !== 404 && !verdict) {
      throw new BackendProtocolError(
        this.kind,
        `${what} refused the request with ${status}: ${excerpt(errorMessage(body) ?? '')}`.replace(/: $/, ''),
      );
    }
    // Success (and 404, which readOne turns into GONE): hand openapi-fetch the body we read.
    const headers = new Headers();
    for (const [name, value] of response.headers) if (!PASSED_OVER.has(name)) headers.set(name, value);
    return new Response(status === 204 || body.length === 0 ? null : body, { status, headers });
  }

  /** The body, read chunk by chunk and given up on past maxBodyBytes (announced or streamed). */
  private async readBody(response: Awaited<ReturnType<typeof undiciFetch>>, signal: AbortSignal): Promise<Buffer> {
    const max = this.options.maxBodyBytes;
    const tooBig = () =>
      new BackendProtocolError(this.kind, `${this.kind.toLowerCase()} backend sent an answer larger than ${max} bytes`);
    const announced = Number(response.headers.get('content-length'));
    if (announced > max) {
      await response.body?.cancel().catch(() => {});
      throw tooBig();
    }
    if (!response.body) return Buffer.alloc(0);
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of response.body) {
        size += chunk.byteLength;
        if (size > max) {
          await response.body.cancel().catch(() => {});
          throw tooBig();
        }
        chunks.push(Buffer.from(chunk));
      }
    } catch (error) {
      if (error instanceof BackendError) throw error;
      if (signal.aborted) throw new TaskCancelledError('deadline');
      this.failed();
      throw new RetryableFailure(
        `${this.kind.toLowerCase()} backend: ${connectionProblem(error)} while sending its answer`,
        'connection',
      );
    }
    return Buffer.concat(chunks, size);
  }

  private failed() {
    this.failures.push(Date.now());
    if (this.failures.length > 1000) this.failures.splice(0, this.failures.length - 1000);
  }

  /** A refused credential opens the circuit at once, for the half-open time. */
  private isolate(status: number) {
    if (this.isolation) return;
    const handle = this.breaker.isolate();
    const until = Date.now() + this.options.breaker.halfOpenAfterMs;
    const timer = setTimeout(() => {
      this.isolation = undefined;
      handle.dispose();
    }, this.options.breaker.halfOpenAfterMs);
    timer.unref();
    this.isolation = { dispose: handle.dispose, until, status, timer };
    this.openedAt = Date.now();
  }

  private refused(status: number) {
    return new BackendRefusedError(
      this.kind,
      `${this.kind.toLowerCase()} backend refused the credential (${status}): ` +
        'give the backend a valid credential (updateBackend)',
      status,
    );
  }

  /** Every failure as one of the three BackendErrors, its message free of the credential. */
  private translate(error: unknown): BackendError {
    const what = `${this.kind.toLowerCase()} backend`;
    const attempts = this.options.retries + 1;
    let out: BackendError;
    if (error instanceof BackendError) out = error;
    else if (error instanceof GateClosed) {
      out = new BackendUnavailableError(
        this.kind,
        `${what} asked not to be called before ${new Date(error.until).toISOString()} (Retry-After)`,
        new Date(error.until),
        'retry_after',
      );
    } else if (error instanceof BrokenCircuitError) {
      if (this.isolation) {
        out = new BackendRefusedError(
          this.kind,
          `${what} refused the credential (${this.isolation.status}); ` +
            `not asked again before ${new Date(this.isolation.until).toISOString()}`,
          this.isolation.status,
        );
      } else {
        const until = new Date(this.openedAt + this.options.breaker.halfOpenAfterMs);
        out = new BackendUnavailableError(
          this.kind,
          `${what} is failing: circuit open after repeated failures, tried again after ${until.toISOString()}`,
          until,
          'circuit_open',
        );
      }
    } else if (timedOut(error)) {
      out = new BackendUnavailableError(
        this.kind,
        `${what} sent no complete answer within ${this.options.timeoutMs} ms (${attempts} attempts)`,
        this.gateDate(),
        'timeout',
      );
    } else if (error instanceof RetryableFailure) {
      out = new BackendUnavailableError(
        this.kind,
        error.final ? error.message : `${error.message} (${attempts} attempts)`,
        this.gateDate(),
        error.reason,
      );
    } else {
      this.options.logger?.error(
        { kind: this.kind, err: scrub(String(error), this.credential) },
        'unexpected connector failure',
      );
      out = new BackendUnavailableError(this.kind, `${what}: unexpected failure`);
    }
    out.message = scrub(out.message, this.credential);
    return out;
  }

  private gateDate(): Date | null {
    return this.notBefore > Date.now() ? new Date(this.notBefore) : null;
  }
}

// The body handed on is the decoded one, read whole.
const PASSED_OVER = new Set(['content-length', 'content-encoding', 'transfer-encoding']);

// A credential too short to be one would only garble the message (each is checked where it is stored).
const scrub = (text: string, secret: string) => (secret.length >= 6 ? text.split(secret).join('[credential]') : text);

/**
 * The message of a dialect's error body ({"errors":[{message}]}, {"error":{message}},
 * {"data":{message}}, {"error_message"}).
 */
function errorMessage(body: string): string | null {
  type Envelope = {
    errors?: { message?: unknown }[];
    error?: { message?: unknown };
    data?: { message?: unknown };
    error_message?: unknown;
    message?: unknown;
  };
  try {
    const json = JSON.parse(body) as Envelope | null;
    const message =
      json?.errors?.[0]?.message ?? json?.error?.message ?? json?.data?.message ?? json?.error_message ?? json?.message;
    return typeof message === 'string' ? message : null;
  } catch {
    return null;
  }
}
