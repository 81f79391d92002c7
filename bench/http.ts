// Over real HTTP: a target served by its own process (bench/serve.ts), loaded by autocannon
// from this one with concurrent keep-alive connections.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import type { ServeRequest, ServeTarget } from './serve.js';

export interface TargetStats {
  statements: number;
  rssMiB: number;
  /** Highest RSS sampled since the previous stats call. */
  peakRssMiB: number;
  /** Highest RSS of the process's whole life (getrusage). */
  maxRssMiB: number;
  /** CPU time (user + system) the process has used so far, ms. */
  cpuMs: number;
}

export interface ServerHandle {
  target: ServeTarget;
  url: string;
  stats(): Promise<TargetStats>;
  /** A CPU profile of the target from now until `stopProfile`, written to `file`. */
  startProfile(): Promise<void>;
  stopProfile(file: string): Promise<void>;
  sql<T = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

export type StoreLocation = { dataDir: string } | { databaseUrl: string };

/**
 * Requests to a forked child over IPC, each with an id its reply carries back (the child's
 * message handler resolves them through `pending`); a reply with `error` rejects.
 */
export function ipcAsk<R extends { id: number }>(child: ChildProcess, pending: Map<number, (reply: any) => void>) {
  let next = 1;
  return (request: Omit<R, 'id'>) =>
    new Promise<any>((resolve, reject) => {
      const id = next++;
      pending.set(id, (reply) => {
        pending.delete(id);
        if (reply.error) reject(new Error(reply.error));
        else resolve(reply);
      });
      child.send({ ...request, id });
    });
}

/** Forks bench/serve.ts for `target` on the store and waits until it listens. */
export async function startServer(
  target: ServeTarget,
  store: StoreLocation,
  partnerId: string,
  /** More environment for the target (e.g. BENCH_COMPILED_READS). */
  env: Record<string, string> = {},
): Promise<ServerHandle> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./serve.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      BENCH_TARGET: target,
      BENCH_PARTNER_ID: partnerId,
      ...('dataDir' in store
        ? { BENCH_DATA_DIR: store.dataDir, BENCH_DATABASE_URL: '' }
        : { BENCH_DATABASE_URL: store.databaseUrl }),
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, (reply: any) => void>();
  const port = await new Promise<number>((resolve, reject) => {
    const early = (code: number | null) =>
      reject(new Error(`bench server (${target}) exited with ${code} before listening`));
    child.once('exit', early);
    child.on('message', (message: any) => {
      if (message.ready) {
        child.off('exit', early);
        resolve(message.port);
      } else pending.get(message.id)?.(message);
    });
  });
  const ask = ipcAsk<ServeRequest>(child, pending);
  return {
    target,
    url: `http://127.0.0.1:${port}`,
    stats: () => ask({ cmd: 'stats' }),
    startProfile: async () => void (await ask({ cmd: 'profile-start' })),
    stopProfile: async (file) => void (await ask({ cmd: 'profile-stop', file })),
    sql: async (text, values) => (await ask({ cmd: 'sql', text, values })).rows,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await Promise.race([ask({ cmd: 'stop' }), new Promise((resolve) => setTimeout(resolve, 10_000))]);
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

export interface LoadOptions {
  path: string;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** A fixed body, or one made per request (n counts from 0). */
  body?: string | ((n: number) => string);
  connections: number;
  /** Requests in all (every one answered before this resolves). */
  amount: number;
  /** Sees every response body (for checks); keep it cheap. */
  onResponse?: (status: number, body: string) => void;
}

export interface LoadResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  seconds: number;
}

export async function load(url: string, options: LoadOptions): Promise<LoadResult> {
  let n = 0;
  const { body } = options;
  // autocannon notices the end of a counted run on its next 1-second tick, so its duration
  // is rounded up; the rate comes from the time of the last answer instead.
  const started = performance.now();
  let lastAnswer = started;
  const result = await autocannon({
    url: url + options.path,
    connections: Math.min(options.connections, options.amount),
    amount: options.amount,
    // Slow targets (the naive build) answer in tens of seconds under 50 connections.
    timeout: 120,
    requests: [
      {
        method: options.method ?? 'POST',
        path: options.path,
        headers: options.headers,
        ...(typeof body === 'string' ? { body } : {}),
        ...(typeof body === 'function' ? { setupRequest: (request) => ({ ...request, body: body(n++) }) } : {}),
        onResponse: (status, text) => {
          lastAnswer = performance.now();
          options.onResponse?.(status, text);
        },
      },
    ],
  });
  const completed = result['2xx'] + result.non2xx;
  const seconds = (lastAnswer - started) / 1000;
  return {
    requests: completed,
    rps: seconds > 0 ? completed / seconds : 0,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds,
  };
}
