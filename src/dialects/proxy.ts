// The pass-through proxies (SPEC §10.4): when a partner's kind is connected, that kind's
// /rest/<dialect> routes forward a partner admin's request to the partner's backend, after the
// gateway's own guard (authentication, rate limit, REST allow-list: dialectApp runs it first),
// so an integration written against the source API works with only its base URL changed.
//
// - Sent: the method, the path below the dialect's prefix (under the backend's baseUrl), the
//   query, the end-to-end headers and the body; the caller's Authorization is replaced by the
//   stored credential in the kind's own form (transport.ts). Hop-by-hop headers (and those the
//   Connection header names), cookies, Host and forwarding headers are not passed on.
// - Answered: the backend's status, headers (Content-Type, Link, Retry-After, Deprecation …)
//   and body as it sent them, streamed, cut off past the transport's answer size limit; the same
//   hop-by-hop filtering back; Set-Cookie and WWW-Authenticate dropped (they are about the
//   backend's origin and credential, not the caller's); Link and Location targets under the
//   backend's baseUrl rewritten to the gateway's own URL, so paging works through the proxy.
// - Recorded: the successful creates, changes and deletes of each API (EFFECTS) are read from
//   the backend's answer and stored before the caller gets it (modules/backends/proxied.ts), so
//   the graph sees them at once.
// - Unreachable, timing out, circuit open, Retry-After pending, or refusing the stored credential:
//   the dialect's 503 envelope with Retry-After (nothing of the backend's 401 reaches the caller).
//
// Callers with narrower rights (a user, an account admin) are served by the dialect itself, from
// the store and with write-through, so that the partner-wide credential never acts for them.
// Hosted kinds (nothing connected) are served by the dialect as before.
import type { Backend, BackendKind } from '@prisma/client';
import type { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { BackendError, BackendRefusedError, BackendUnavailableError, wireRecord } from '../connectors/index.js';
import {
  proxiedBackend,
  proxyTransport,
  proxyUnavailable,
  recordProxied,
  type ProxyEffect,
} from '../modules/backends/proxied.js';
import type { RecordError, SourceRecord } from '../modules/backends/contract.js';
import { requestContext, type DialectDeps, type HttpEnv } from '../http.js';
import type { RenderFailure } from './common.js';

const KIND_OF_PREFIX: Record<string, BackendKind> = {
  '/rest/learning': 'LEARNING',
  '/rest/catalog': 'CATALOG',
  '/rest/messaging': 'MESSAGING',
  '/rest/embed': 'EMBED',
};

// RFC 9110 §7.6.1: meaningful for one connection only; plus what a proxy must not pass on.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
]);
const NOT_SENT = new Set([
  'authorization',
  'cookie',
  'host',
  'content-length',
  // undici asks for and decodes its own encodings.
  'accept-encoding',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
]);
const NOT_ANSWERED = new Set(['set-cookie', 'www-authenticate', 'content-encoding']);

/** Headers without the hop-by-hop ones, those the Connection header names, and `drop`. */
function endToEnd(headers: Headers, drop: Set<string>): Headers {
  const named = new Set(
    (headers.get('connection') ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
  const out = new Headers();
  for (const [name, value] of headers) {
    if (HOP_BY_HOP.has(name) || name.startsWith('proxy-') || named.has(name) || drop.has(name)) continue;
    out.append(name, value);
  }
  return out;
}

// A dot segment, written plainly or percent-encoded, or a backslash: it could climb out of the
// backend's baseUrl on the backend's side and carry the credential to another of its paths.
const ESCAPING = /(^|\/)(\.|%2e){1,2}(\/|$)|\\|%5c|%2f/i;

/** The backend URL of a request path below the dialect's prefix. */
function targetUrl(baseUrl: string, suffix: string, search: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${suffix}${search}`;
}

/**
 * A Link or Location value with each target under the backend's baseUrl pointing at the same
 * place below the gateway's prefix instead; absolute targets stay absolute, references stay
 * path-absolute. Anything else is left as the backend sent it.
 */
export function rewriteTargets(value: string, upstream: URL, base: URL, gateway: URL, prefix: string): string {
  const basePath = base.pathname.replace(/\/+$/, '');
  const rewrite = (target: string): string => {
    let url: URL;
    try {
      url = new URL(target, upstream);
    } catch {
      return target;
    }
    if (url.origin !== base.origin) return target;
    if (url.pathname !== basePath && !url.pathname.startsWith(`${basePath}/`)) return target;
    const path = `${prefix}${url.pathname.slice(basePath.length)}${url.search}${url.hash}`;
    return /^[a-z][a-z\d+.-]*:/i.test(target) ? `${gateway.origin}${path}` : path;
  };
  return value.includes('<') ? value.replace(/<([^>]*)>/g, (_, t: string) => `<${rewrite(t)}>`) : rewrite(value.trim());
}

// ---------------------------------------------------------------------------- effects

type Parse = (raw: unknown) => SourceRecord | RecordError;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const records = (parse: Parse, ...raws: unknown[]): ProxyEffect => ({
  type: 'records',
  records: raws.map(parse).filter((r): r is SourceRecord => !('reason' in r)),
});

interface Effect {
  method: string;
  path: RegExp;
  effect: (body: unknown, id: string, query: URLSearchParams) => ProxyEffect | null;
}

/** The calls of each source API whose success changes the partner's identities, and what each changes. */
const EFFECTS: Record<BackendKind, Effect[]> = {
  LEARNING: [
    { method: 'POST', path: /^\/accounts$/, effect: (body) => records(wireRecord.learningAccount, body) },
    {
      method: 'POST',
      path: /^\/batch$/,
      effect: (body) => {
        const responses = isObject(body) && Array.isArray(body.responses) ? body.responses : [];
        const created = responses
          .filter((r) => isObject(r) && r.code === 200 && isObject(r.body))
          .map((r) => {
            const item = (r as { body: Record<string, unknown> }).body;
            return { id: item.account_id, external_user_id: item.external_user_id };
          });
        return records(wireRecord.learningAccount, ...created);
      },
    },
    { method: 'DELETE', path: /^\/accounts\/([^/]+)$/, effect: (_, id) => ({ type: 'disabled', nativeId: id }) },
  ],
  CATALOG: [
    {
      method: 'POST',
      path: /^\/api\/v1\/users$/,
      effect: (body) => (isObject(body) ? records(wireRecord.catalogUser, body.user) : null),
    },
    {
      method: 'PUT',
      path: /^\/api\/v1\/users\/([^/]+)$/,
      effect: (body) => (isObject(body) ? records(wireRecord.catalogUser, body.user) : null),
    },
    {
      method: 'DELETE',
      path: /^\/api\/v1\/users\/([^/]+)$/,
      // Only orders and enrollments: the user stays.
      effect: (_, id, query) =>
        /^(true|1)$/i.test(query.get('only_orders_and_enrollments') ?? '')
          ? null
          : { type: 'gone', stream: 'catalog.users', nativeIds: [id] },
    },
  ],
  MESSAGING: [
    { method: 'POST', path: /^\/api\/v1\/accounts$/, effect: (body) => records(wireRecord.messagingAccount, body) },
  ],
  EMBED: [
    { method: 'PUT', path: /^\/v1\/headless\/user\/([^/]+)$/, effect: (body) => records(wireRecord.embedUser, body) },
    {
      method: 'PUT',
      path: /^\/v1\/headless\/client\/([^/]+)$/,
      effect: (body) => records(wireRecord.embedClient, body),
    },
    {
      method: 'DELETE',
      path: /^\/v1\/headless\/user\/([^/]+)$/,
      effect: (_, id) => ({ type: 'gone', stream: 'embed.users', nativeIds: [id] }),
    },
    {
      method: 'DELETE',
      path: /^\/v1\/headless\/client\/([^/]+)$/,
      effect: (_, id) => ({ type: 'gone', stream: 'embed.clients', nativeIds: [id], cascade: 'embed.client-users' }),
    },
  ],
};

function effectOf(kind: BackendKind, method: string, suffix: string) {
  for (const e of EFFECTS[kind]) {
    if (e.method !== method) continue;
    const match = e.path.exec(suffix);
    if (!match) continue;
    let id = '';
    try {
      id = decodeURIComponent(match[1] ?? '');
    } catch {
      return null;
    }
    return { effect: e.effect, id };
  }
  return null;
}

// ---------------------------------------------------------------------------- the middleware

/** Answers of these statuses (and to HEAD) have no body. */
const NULL_BODY = new Set([101, 204, 205, 304]);

/**
 * The pass-through middleware of the dialect mounted at `prefix`; runs after the guard. A
 * request it does not take (not a partner admin, or the kind not connected) goes on to the
 * dialect's own routes.
 */
export function passThrough(deps: DialectDeps, prefix: string, render: RenderFailure): MiddlewareHandler<HttpEnv> {
  const kind = KIND_OF_PREFIX[prefix];
  return async (c, next) => {
    if (!kind || !deps.config) return next();
    const ctx = requestContext(c, deps);
    const backend = await proxiedBackend(ctx, kind);
    if (!backend) return next();

    const url = new URL(c.req.url);
    const suffix = url.pathname.slice(prefix.length);
    if (ESCAPING.test(suffix))
      return render(c, { status: 404, code: 'no_route', message: `no route for ${c.req.method} ${url.pathname}` });
    const transport = proxyTransport(ctx, backend);
    const method = c.req.method;
    const raw = method === 'GET' || method === 'HEAD' ? undefined : Buffer.from(await c.req.arrayBuffer());
    const headers = endToEnd(c.req.raw.headers, NOT_SENT);
    headers.set('x-request-id', c.get('requestId'));
    const target = targetUrl(backend.baseUrl, suffix, url.search);

    let upstream: Awaited<ReturnType<typeof transport.relay>>;
    try {
      upstream = await transport.relay(
        { method, url: target, headers, body: raw?.length ? raw : undefined },
        c.req.raw.signal,
      );
    } catch (error) {
      throw unavailable(backend, error);
    }

    const max = transport.options.maxBodyBytes;
    const tooLarge = () =>
      render(c, {
        status: 502,
        code: 'bad_gateway',
        message: `the ${kind.toLowerCase()} backend sent an answer larger than ${max} bytes`,
      });
    const answerHeaders = endToEnd(upstream.headers as unknown as Headers, NOT_ANSWERED);
    // undici decoded the body: its encoded length no longer applies.
    if (upstream.headers.get('content-encoding')) answerHeaders.delete('content-length');
    const base = new URL(backend.baseUrl);
    for (const name of ['link', 'location']) {
      const value = answerHeaders.get(name);
      if (value) answerHeaders.set(name, rewriteTargets(value, new URL(target), base, url, prefix));
    }
    const { status } = upstream;
    if (Number(upstream.headers.get('content-length')) > max) {
      await upstream.body?.cancel().catch(() => {});
      return tooLarge();
    }
    const stream = upstream.body as unknown as ReadableStream<Uint8Array> | null;
    if (NULL_BODY.has(status) || method === 'HEAD' || !stream) {
      await upstream.body?.cancel().catch(() => {});
      const found = status >= 200 && status < 300 ? effectOf(kind, method, suffix) : null;
      if (found) await record(backend, found.effect(null, found.id, url.searchParams));
      return new Response(null, { status, headers: answerHeaders });
    }

    const found = status >= 200 && status < 300 ? effectOf(kind, method, suffix) : null;
    if (found) {
      // A write's answer is read whole (it is one record, or a batch of 50), recorded, then sent.
      const body = await readLimited(stream, max);
      if (body === null) return tooLarge();
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        // Not JSON: nothing to record; the caller gets what the backend sent.
      }
      await record(backend, found.effect(parsed, found.id, url.searchParams));
      answerHeaders.set('content-length', String(body.length));
      return new Response(new Uint8Array(body), { status, headers: answerHeaders });
    }
    return new Response(
      limited(stream, max, () => {
        deps.logger.warn(
          { requestId: c.get('requestId'), kind, max },
          'a proxied answer grew past the size limit: cut off',
        );
        // The status and headers are out: only a reset tells the caller the answer is not whole.
        (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.socket?.destroy();
      }),
      { status, headers: answerHeaders },
    );

    async function record(b: Backend, effect: ProxyEffect | null) {
      if (!effect) return;
      try {
        await recordProxied(ctx, b, effect);
      } catch (error) {
        // The backend did it: its answer stands, and the next sync records it.
        deps.logger.error({ err: error, requestId: c.get('requestId'), kind }, 'recording a proxied call failed');
      }
    }
  };
}

/**
 * A relay failure as the dialect's 503 (with Retry-After); a refused credential is said so, without
 * the backend's 401.
 */
function unavailable(backend: Backend, error: unknown): unknown {
  if (error instanceof BackendRefusedError)
    return proxyUnavailable(
      backend,
      `the ${backend.kind.toLowerCase()} backend refused the gateway's stored ` +
        'credential for it: a partner admin must give it a valid one (updateBackend)',
      null,
    );
  if (error instanceof BackendUnavailableError) return proxyUnavailable(backend, error.message, error.retryAfter);
  if (error instanceof BackendError) return proxyUnavailable(backend, error.message, null);
  return error;
}

/** The whole body, or null past `max` bytes. */
async function readLimited(body: ReadableStream<Uint8Array>, max: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > max) {
      await body.cancel().catch(() => {});
      return null;
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks, size);
}

/**
 * The body streamed on as it comes; past `max` bytes `exceeded` runs and the stream fails, cutting
 * the caller's answer off.
 */
function limited(body: ReadableStream<Uint8Array>, max: number, exceeded: () => void): ReadableStream<Uint8Array> {
  let size = 0;
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        size += chunk.byteLength;
        if (size <= max) return controller.enqueue(chunk);
        exceeded();
        // The code the Node adapter reads as a connection already gone: it writes nothing more.
        controller.error(
          Object.assign(new Error(`answer larger than ${max} bytes`), { code: 'ERR_STREAM_PREMATURE_CLOSE' }),
        );
      },
    }),
  );
}
