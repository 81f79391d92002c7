// A fault-injecting HTTP proxy on loopback in front of an upstream (a stand-in): tests program
// faults (latency, connection resets, statuses with Retry-After, 5xx bursts, HTML, huge or
// dripping bodies, rewritten JSON answers) and read a log of every request it received
// (method, path, query, headers without credentials, arrival and answer times, status), and
// the most requests it ever had in flight at once.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Request headers, `authorization`/`cookie`/`proxy-authorization` left out (their presence is in `authorized`). */
  headers: Record<string, string>;
  /** Whether an Authorization header came, and in which form: 'bearer' or 'bare'. */
  authorization: 'bearer' | 'bare' | null;
  /** SHA-256 (hex) of the Authorization value, to tell which credential came without logging it. */
  authorizationSha256: string | null;
  /** Date.now() when the request arrived, and when its answer started (or the connection was cut). */
  at: number;
  answeredAt: number | null;
  status: number | null;
  /**
   * The fault that answered it, if any; 'upstream-failed' when forwarding failed (the upstream
   * cut the connection or the caller went away) and the proxy answered 502 itself.
   */
  fault: Fault['kind'] | 'upstream-failed' | null;
}

export type Fault = { match?: (request: LoggedRequest) => boolean; times?: number; probability?: number } & (
  | { kind: 'latency'; ms: number }
  | { kind: 'reset' }
  | { kind: 'status'; status: number; retryAfter?: string; body?: string; headers?: Record<string, string> }
  | { kind: 'html' }
  | { kind: 'huge'; bytes: number }
  | { kind: 'drip'; intervalMs: number }
  /** Forwards, then answers the upstream's JSON as `rewrite` returns it. */
  | { kind: 'rewrite'; rewrite: (body: any, request: LoggedRequest) => unknown }
);

export interface FaultProxy {
  url: string;
  log: LoggedRequest[];
  /** Requests received and not yet answered in full, now and at most. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  add(fault: Fault): void;
  /** Drops every fault (the log stays). */
  clear(): void;
  /** Empties the log and the in-flight maximum. */
  resetLog(): void;
  /** Runs before each request is handled (after it is logged): e.g. change upstream data mid-read. */
  onRequest?: (request: LoggedRequest) => void | Promise<void>;
  stop(): Promise<void>;
}

/** mulberry32: a seeded generator, so a "20 %" burst is the same burst on every run. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SECRET_HEADERS = new Set(['authorization', 'cookie', 'proxy-authorization']);

/**
 * `preserveHost`: pass the Host header on as the client sent it (as a reverse proxy may), instead
 * of the upstream's.
 */
export async function startFaultProxy(
  target: string,
  options: { seed?: number; preserveHost?: boolean } = {},
): Promise<FaultProxy> {
  const upstream = new URL(target);
  const faults: (Fault & { used: number })[] = [];
  const next = random(options.seed ?? 42);
  const sockets = new Set<import('node:net').Socket>();
  let inFlight = 0;
  let maxInFlight = 0;

  const pick = (entry: LoggedRequest): (Fault & { used: number })[] =>
    faults.filter((f) => {
      if (f.times !== undefined && f.used >= f.times) return false;
      if (f.match && !f.match(entry)) return false;
      if (f.probability !== undefined && next() >= f.probability) return false;
      f.used++;
      return true;
    });

  const proxy: FaultProxy = {
    url: '',
    log: [],
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    add(fault) {
      faults.push({ ...fault, used: 0 });
    },
    clear() {
      faults.length = 0;
    },
    resetLog() {
      proxy.log.length = 0;
      maxInFlight = inFlight;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!SECRET_HEADERS.has(name) && typeof value === 'string') headers[name] = value;
    }
    const auth = req.headers.authorization;
    const entry: LoggedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers,
      authorization: auth === undefined ? null : /^Bearer\s/i.test(auth) ? 'bearer' : 'bare',
      authorizationSha256: auth === undefined ? null : crypto.createHash('sha256').update(auth).digest('hex'),
      at: Date.now(),
      answeredAt: null,
      status: null,
      fault: null,
    };
    proxy.log.push(entry);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      inFlight--;
      entry.answeredAt ??= Date.now();
    };
    res.once('finish', finish);
    res.once('close', finish);
    const answer = (status: number, head: Record<string, string>, body?: string) => {
      entry.status = status;
      entry.answeredAt = Date.now();
      res.writeHead(status, head);
      res.end(body);
    };
    try {
      await proxy.onRequest?.(entry);
      const chosen = pick(entry);
      let rewrite: ((body: any, request: LoggedRequest) => unknown) | undefined;
      for (const fault of chosen) {
        if (fault.kind === 'latency') {
          await new Promise((resolve) => setTimeout(resolve, fault.ms));
          continue;
        }
        if (fault.kind === 'rewrite') {
          rewrite = fault.rewrite;
          continue;
        }
        entry.fault = fault.kind;
        if (fault.kind === 'reset') {
          entry.answeredAt = Date.now();
          req.socket.resetAndDestroy();
          return;
        }
        if (fault.kind === 'status') {
          return answer(
            fault.status,
            {
              'content-type': 'application/json',
              ...(fault.retryAfter ? { 'retry-after': fault.retryAfter } : {}),
              ...fault.headers,
            },
            fault.body ?? JSON.stringify({ error: { code: 'fault', message: `injected ${fault.status}` } }),
          );
        }
        if (fault.kind === 'html') {
          return answer(
            200,
            { 'content-type': 'text/html; charset=utf-8' },
            '<!doctype html><html><body><h1>Welcome</h1></body></html>',
          );
        }
        if (fault.kind === 'huge') {
          entry.status = 200;
          entry.answeredAt = Date.now();
          res.writeHead(200, { 'content-type': 'application/json' });
          const chunk = `${'{"filler":"'.padEnd(65_536, 'x')}"},`;
          res.write('{"users":[');
          for (let sent = 0; sent < fault.bytes && !res.destroyed; sent += chunk.length) {
            if (!res.write(chunk)) await drained(res);
          }
          res.end('{}]}');
          return;
        }
        if (fault.kind === 'drip') {
          entry.status = 200;
          entry.answeredAt = Date.now();
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write('{');
          const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(' ')), fault.intervalMs);
          res.once('close', () => clearInterval(timer));
          return;
        }
      }
      await forward(upstream, req, res, entry, rewrite, options.preserveHost);
    } catch {
      if (res.headersSent) res.destroy();
      else {
        entry.fault = 'upstream-failed';
        answer(502, { 'content-type': 'application/json' }, '{"error":{"message":"proxy: upstream failed"}}');
      }
    }
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

/** Until the answer can take more, or is gone. */
function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

async function forward(
  upstream: URL,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  entry: LoggedRequest,
  rewrite?: (body: any, request: LoggedRequest) => unknown,
  preserveHost = false,
) {
  const headers = { ...req.headers, host: preserveHost ? (req.headers.host ?? upstream.host) : upstream.host };
  if (rewrite) delete headers['accept-encoding'];
  await new Promise<void>((resolve, reject) => {
    const out = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (answer) => {
        entry.status = answer.statusCode ?? 502;
        if (!rewrite) {
          entry.answeredAt = Date.now();
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.once('end', resolve);
          answer.once('error', reject);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.once('error', reject);
        answer.once('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: string = text;
          try {
            body = JSON.stringify(rewrite(JSON.parse(text), entry));
          } catch {
            // Not JSON: as it came.
          }
          const head = { ...answer.headers };
          delete head['content-length'];
          entry.answeredAt = Date.now();
          res.writeHead(answer.statusCode ?? 502, head);
          res.end(body);
          resolve();
        });
      },
    );
    out.once('error', reject);
    req.pipe(out);
  });
}
