// A body over MAX_BODY_BYTES sent on a kept-alive connection, over real HTTP: the client reads
// the whole 413 (which says Connection: close) and no reset or EPIPE, however much of the body
// it still sends; its next request goes out on a new connection.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '@hono/node-server';
import { useHarness, type Partner } from './helpers/app.js';

const MAX = 65_536;
const h = useHarness({ MAX_BODY_BYTES: String(MAX) });
let partner: Partner;
let server: http.Server | undefined;
let port: number;

beforeAll(async () => {
  if (!h.ready) return;
  partner = await h.newPartner('Body limit');
  server = serve({ fetch: h.app.fetch, port: 0, hostname: '127.0.0.1' }) as http.Server;
  await new Promise<void>((resolve) => (server!.listening ? resolve() : server!.once('listening', () => resolve())));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  socket: Socket;
  reused: boolean;
  /** Errors the request emitted until its socket closed (for a Connection: close answer). */
  errors: Error[];
}

/**
 * POSTs `body` through `agent`: all at once with a Content-Length, or (`chunked`) in pieces
 * spread over about a second, as a slow client would upload it. The client keeps sending
 * after the answer arrives, as simple clients do.
 */
function post(agent: http.Agent, path: string, body: Buffer, chunked = false): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const errors: Error[] = [];
    const headers: Record<string, string | number> = {
      'content-type': 'application/json',
      authorization: `Bearer ${partner.key}`,
    };
    if (!chunked) headers['content-length'] = body.length;
    let answered = false;
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers }, (res) => {
      answered = true;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('error', (error) => errors.push(error));
      res.on('end', () => {
        const socket = req.socket!;
        const done = () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            text,
            socket,
            reused: req.reusedSocket,
            errors: [...errors],
          });
        // A kept-alive socket stays open; one the server closes must close, without errors.
        if (res.headers.connection !== 'close') return void setImmediate(done);
        const timer = setTimeout(
          () => reject(new Error(`the socket did not close (errors: ${errors.map((e) => e.message)})`)),
          20_000,
        );
        socket.once('close', () => {
          clearTimeout(timer);
          setImmediate(done);
        });
      });
    });
    req.on('error', (error) => {
      errors.push(error);
      if (!answered) reject(error);
    });
    if (!chunked) {
      req.end(body);
      return;
    }
    const piece = 16_384;
    let at = 0;
    const next = () => {
      if (req.destroyed) return;
      if (at >= body.length) return void req.end();
      req.write(body.subarray(at, at + piece));
      at += piece;
      setTimeout(next, 1_000 / Math.ceil(body.length / piece));
    };
    next();
  });
}

const small = () => Buffer.from(JSON.stringify({ query: '{ viewer { isAdmin } }' }));
// Valid JSON, so that only its size is wrong. Built before the connection is opened: building
// it must not outlast the server's keep-alive timeout.
const large = (bytes: number) =>
  Buffer.concat([
    Buffer.from('{"query":"{ viewer { isAdmin } }","padding":"'),
    Buffer.alloc(bytes, 'x'),
    Buffer.from('"}'),
  ]);

describe('a 413 on a kept-alive connection', { timeout: 90_000 }, () => {
  it(`is read whole, says Connection: close, \
and the connection closes cleanly (body of 70 MB with Content-Length)`, async () => {
    // More than the server would drain in the background before giving up on the socket.
    const body = large(70 * 1024 * 1024);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await post(agent, '/graphql', small());
      expect(first.status).toBe(200);
      expect(first.headers.connection).toBe('keep-alive');
      const refused = await post(agent, '/graphql', body);
      expect(refused.reused).toBe(true);
      expect(refused.socket).toBe(first.socket);
      expect(refused.status).toBe(413);
      expect(refused.headers.connection).toBe('close');
      expect(JSON.parse(refused.text)).toEqual({
        errors: [{ message: `request body larger than ${MAX} bytes`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }],
      });
      expect(refused.errors).toEqual([]);
      const after = await post(agent, '/graphql', small());
      expect(after.status).toBe(200);
      expect(after.reused).toBe(false);
    } finally {
      agent.destroy();
    }
  });

  it('is read whole in the dialect envelope when the body comes slowly in chunks', async () => {
    const body = large(2 * 1024 * 1024);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await post(
        agent,
        '/rest/learning/accounts',
        Buffer.from(JSON.stringify({ external_user_id: 'body-limit-1' })),
      );
      expect(first.status).toBe(200);
      const refused = await post(agent, '/rest/learning/accounts', body, true);
      expect(refused.reused).toBe(true);
      expect(refused.status).toBe(413);
      expect(refused.headers.connection).toBe('close');
      expect(JSON.parse(refused.text)).toEqual({ code: 413, error_message: `request body larger than ${MAX} bytes` });
      expect(refused.errors).toEqual([]);
      const after = await post(
        agent,
        '/rest/learning/accounts',
        Buffer.from(JSON.stringify({ external_user_id: 'body-limit-2' })),
      );
      expect(after.status).toBe(200);
    } finally {
      agent.destroy();
    }
  });
});

// The graph reads a body with a Content-Length from the Node request itself and a chunked one
// through the fetch-API Request that counts it (app.ts, http.ts limitBody): both must see the
// whole body, also many at once and when it arrives in several TCP segments.
describe('the graph reads request bodies however they are framed', { timeout: 60_000 }, () => {
  const query = (padding: number) =>
    Buffer.from(
      JSON.stringify({
        query: '{ viewer { isAdmin } }',
        extensions: { pad: 'p'.repeat(padding) },
      }),
    );

  it('answers bodies sent with a Content-Length, 50 at once, whole', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
    try {
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) => post(agent, '/graphql', query(500 + i * 200))),
      );
      for (const answer of answers) {
        expect(answer.status, answer.text).toBe(200);
        expect(JSON.parse(answer.text)).toEqual({ data: { viewer: { isAdmin: true } } });
      }
    } finally {
      agent.destroy();
    }
  });

  it('answers a chunked body, and refuses a chunked one over the limit in the graph envelope', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const chunked = await post(agent, '/graphql', query(40_000), true);
      expect(chunked.status, chunked.text).toBe(200);
      expect(JSON.parse(chunked.text)).toEqual({ data: { viewer: { isAdmin: true } } });
      const refused = await post(agent, '/graphql', large(2 * 1024 * 1024), true);
      expect(refused.status).toBe(413);
      expect(JSON.parse(refused.text)).toEqual({
        errors: [{ message: `request body larger than ${MAX} bytes`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }],
      });
    } finally {
      agent.destroy();
    }
  });
});
