// The connectors against a stand-in upstream (a hosted instance of the app on its own store and
// loopback port), through the fault-injecting proxy: every stream of every kind read fully and
// exactly, incremental and resumed reads, and each fault of SPEC §10.3/§10.5 (5xx bursts, 429
// with Retry-After, resets, latency, slow drip, HTML, huge bodies, endless pages, refused
// credentials, the circuit), the concurrency limit, and no credential in any error. Store-
// independent: the stand-in always runs on its own embedded store.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BackendKind } from '@prisma/client';
import pino from 'pino';
import {
  BackendError,
  BackendProtocolError,
  BackendRefusedError,
  BackendUnavailableError,
  connectorOptions,
  createConnector,
  dropConnector,
  retryAfterMs,
  type ConnectorOptions,
} from '../src/connectors/index.js';
import type {
  Checkpoint,
  Connector,
  Page,
  RecordError,
  SourceRecord,
  StreamName,
} from '../src/modules/backends/contract.js';
import { STANDIN_PREFIXES, type StandIn } from '../src/standin/index.js';
import { testStandIn } from './helpers/connected.js';
import { loadConfig } from '../src/config.js';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.js';
import { storeKind } from './helpers/store.js';

// The connectors never touch the gateway's store (the stand-in brings its own embedded one):
// the postgres project would run the very same thing again.
const onPostgres = storeKind === 'postgres';

let standIn: StandIn;
let proxy: FaultProxy;
/** Every error a connector threw in this file: none may carry a credential. */
const thrown: unknown[] = [];

beforeAll(async () => {
  if (onPostgres) return;
  standIn = await testStandIn();
  proxy = await startFaultProxy(standIn.url);
}, 180_000);

afterAll(async () => {
  await proxy?.stop();
  await standIn?.stop();
});

beforeEach((context) => {
  if (onPostgres) return context.skip();
  proxy.clear();
  proxy.resetLog();
  proxy.onRequest = undefined;
});

// Short timeouts and backoff keep the file fast; the defaults are the production ones.
const FAST: ConnectorOptions = {
  timeoutMs: 3000,
  concurrency: 2,
  pageSize: 4,
  retries: 6,
  backoff: { initialMs: 5, maxMs: 40 },
};

const connect = (
  kind: BackendKind,
  options: Partial<ConnectorOptions> = {},
  access: { id?: string; credential?: string } = {},
) =>
  createConnector(
    {
      id: access.id,
      kind,
      baseUrl: proxy.url + STANDIN_PREFIXES[kind],
      credential: access.credential ?? standIn.credentials[kind],
    },
    { ...FAST, ...options },
  );

interface Read {
  pages: Page[];
  records: SourceRecord[];
  errors: RecordError[];
  requests: number;
}

async function readAll(
  connector: Connector,
  stream: StreamName,
  from: Checkpoint | null = null,
  options = { full: true, since: null as Date | null },
): Promise<Read> {
  const pages: Page[] = [];
  for await (const page of connector.readPages(stream, from, options)) pages.push(page);
  return {
    pages,
    records: pages.flatMap((p) => p.records),
    errors: pages.flatMap((p) => p.errors),
    requests: pages.reduce((n, p) => n + p.requests, 0),
  };
}

/** The error a read or call ends with (and it is remembered for the credential check). */
async function failure(work: () => Promise<unknown>): Promise<BackendError> {
  try {
    await work();
  } catch (error) {
    thrown.push(error);
    if (error instanceof BackendError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

/** One page of everything, straight from the stand-in (no proxy, no paging): what a read must give. */
async function direct(kind: BackendKind, path: string, pick: (body: any) => any[]): Promise<any[]> {
  const headers = {
    authorization: kind === 'CATALOG' ? standIn.credentials[kind] : `Bearer ${standIn.credentials[kind]}`,
  };
  const response = await fetch(standIn.baseUrls[kind] + path, { headers });
  expect(response.status).toBe(200);
  return pick(await response.json());
}

describe('every stream of every kind, read fully through the proxy', () => {
  it("catalog users: bare key, page/per_page, exactly the stand-in's users, requests = pages", async () => {
    const read = await readAll(connect('CATALOG'), 'catalog.users');
    const expected = await direct('CATALOG', '/api/v1/users?per_page=100', (b) => b.users);
    expect(read.errors).toEqual([]);
    expect(read.records.map((r) => r.data)).toEqual(expected);
    expect(new Set(read.records.map((r) => r.email))).toEqual(new Set(standIn.seed.catalogEmails));
    expect(read.pages.length).toBe(Math.ceil(expected.length / 4));
    expect(read.requests).toBe(read.pages.length);
    expect(proxy.log.length).toBe(read.pages.length);
    for (const [i, entry] of proxy.log.entries()) {
      expect(entry).toMatchObject({
        method: 'GET',
        path: '/rest/catalog/api/v1/users',
        query: { page: String(i + 1), per_page: '4' },
        authorization: 'bare',
      });
    }
    const alice = read.records.find((r) => r.email === 'alice@example.com')!;
    expect(alice).toMatchObject({
      stream: 'catalog.users',
      entity: 'USER',
      key: 'alice@example.com',
      nativeId: String(alice.data.id),
    });
    expect(alice.sourceUpdatedAt?.toISOString()).toBe(alice.data.updated_at);
    expect(read.pages.at(-1)!.next).toBeNull();
    expect(read.pages.some((p) => p.drift)).toBe(false);
  });

  it('messaging accounts: bearer, after/limit cursors, the whole tree with the root', async () => {
    const read = await readAll(connect('MESSAGING'), 'messaging.accounts');
    const expected = await direct('MESSAGING', '/api/v1/accounts?limit=100', (b) =>
      b.data.items.map((i: any) => i.data),
    );
    expect(read.errors).toEqual([]);
    expect(read.records.map((r) => r.data)).toEqual(expected);
    expect(read.records.map((r) => r.data.name)).toEqual(['Stand-in Upstream Co', ...standIn.seed.subAccounts]);
    expect(read.records[0]!.nativeId).toBe(standIn.partnerId);
    expect(read.records.every((r) => r.entity === 'ACCOUNT' && r.key === null && r.email === null)).toBe(true);
    expect(read.requests).toBe(read.pages.length);
    expect(proxy.log[0]).toMatchObject({
      path: '/rest/messaging/api/v1/accounts',
      query: { limit: '4' },
      authorization: 'bearer',
    });
    expect(proxy.log[1]!.query).toEqual({ limit: '4', after: read.pages[0]!.next!.after });
  });

  it('embed clients and users: bearer, page/length, metadata.email lifted out', async () => {
    const connector = connect('EMBED');
    const clients = await readAll(connector, 'embed.clients');
    expect(clients.records.map((r) => r.data)).toEqual(
      await direct('EMBED', '/v1/headless/clients?length=1000', (b) => b.data),
    );
    expect(clients.records.map((r) => r.nativeId).sort()).toEqual([...standIn.seed.embedClients].sort());
    expect(clients.records.every((r) => r.entity === 'CLIENT')).toBe(true);
    const users = await readAll(connector, 'embed.users');
    expect(users.records.map((r) => r.data)).toEqual(
      await direct('EMBED', '/v1/headless/users?length=1000', (b) => b.data),
    );
    expect(users.records.map((r) => r.nativeId).sort()).toEqual([...standIn.seed.embedUsers].sort());
    expect(users.records.find((r) => r.nativeId === 'frank-embed')).toMatchObject({
      entity: 'USER',
      key: 'frank-embed',
      email: 'FRANK@example.com',
    });
    expect(users.records.find((r) => r.nativeId === 'emb-only-1')!.email).toBeNull();
    expect(proxy.log.map((e) => `${e.path}?page=${e.query.page}&length=${e.query.length}`)).toEqual([
      '/rest/embed/v1/headless/clients?page=0&length=4',
      '/rest/embed/v1/headless/users?page=0&length=4',
      '/rest/embed/v1/headless/users?page=1&length=4',
    ]);
    expect(proxy.log.every((e) => e.authorization === 'bearer')).toBe(true);
  });

  it('learning accounts cannot be listed; each known one is re-read by id, 404 is GONE', async () => {
    const connector = connect('LEARNING');
    expect(connector.streams).toEqual([]);
    await expect(readAll(connector, 'learning.accounts')).rejects.toThrow(
      /cannot list learning.accounts: re-read known records with readOne/,
    );
    const users = await standIn.store.prisma.user.findMany({
      where: { partnerId: standIn.partnerId, externalUserId: { not: null } },
    });
    expect(users.map((u) => u.externalUserId).sort()).toEqual([...standIn.seed.learningKeys].sort());
    for (const user of users) {
      const record = await connector.readOne('learning.accounts', user.id);
      expect(record).toMatchObject({
        stream: 'learning.accounts',
        entity: 'USER',
        nativeId: user.id,
        key: user.externalUserId,
        email: null,
      });
      expect((record as SourceRecord).data).toEqual({ id: user.id, external_user_id: user.externalUserId });
    }
    expect(await connector.readOne('learning.accounts', '01900000-0000-7000-8000-000000000000')).toBe('GONE');
    expect(proxy.log.every((e) => e.authorization === 'bearer' && e.path.startsWith('/rest/learning/accounts/'))).toBe(
      true,
    );
  });

  it('readOne of every listable stream, and GONE once the upstream deletes the record', async () => {
    const ctx = await standIn.context();
    const { createUser } = await import('../src/modules/users/service.js');
    const temp = await createUser(ctx, { email: 'temp-gone@example.com', identifier: 'temp-gone', userName: 'temp' });
    const catalog = connect('CATALOG');
    const embed = connect('EMBED');
    const messaging = connect('MESSAGING');
    expect(await catalog.readOne('catalog.users', String(temp.catalogId))).toMatchObject({
      key: 'temp-gone@example.com',
      nativeId: String(temp.catalogId),
    });
    expect(await embed.readOne('embed.users', 'temp-gone')).toMatchObject({ key: 'temp-gone', entity: 'USER' });
    expect(await embed.readOne('embed.clients', 'acme-school')).toMatchObject({ key: 'acme-school', entity: 'CLIENT' });
    expect(await messaging.readOne('messaging.accounts', standIn.partnerId)).toMatchObject({
      nativeId: standIn.partnerId,
      entity: 'ACCOUNT',
    });
    const deleted = await standIn.request(`/rest/catalog/api/v1/users/${temp.catalogId}`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect(await catalog.readOne('catalog.users', String(temp.catalogId))).toBe('GONE');
    expect(await embed.readOne('embed.users', 'temp-gone')).toBe('GONE');
    expect(await messaging.readOne('messaging.accounts', '01J00000000000000000000000')).toBe('GONE');
    // '..' would be resolved away in the URL (and read another path's 404 as GONE): refused before any request.
    proxy.resetLog();
    await expect(embed.readOne('embed.users', '..')).rejects.toThrow(
      /cannot name a record of the embed backend in a URL/,
    );
    expect(proxy.log).toEqual([]);
    expect(await embed.readOne('embed.users', 'a/b?c')).toBe('GONE');
    expect(proxy.log[0]!.path).toBe('/rest/embed/v1/headless/user/a%2Fb%3Fc');
  });
});

describe('incremental and resumed reads', () => {
  it('an incremental catalog read asks for updated_at_from = since − overlap and reads only the changes', async () => {
    const [first, , third] = await direct('CATALOG', '/api/v1/users?per_page=3', (b) => b.users.map((u: any) => u.id));
    const changed = [first, third];
    await new Promise((resolve) => setTimeout(resolve, 20));
    const since = new Date();
    for (const id of changed) {
      const response = await standIn.request(`/rest/catalog/api/v1/users/${id}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ first_name: `Changed ${id}` }),
      });
      expect(response.status).toBe(200);
    }
    const read = await readAll(connect('CATALOG', { overlapMs: 0 }), 'catalog.users', null, { full: false, since });
    expect(read.records.map((r) => r.nativeId)).toEqual(changed.map(String));
    expect(read.records.map((r) => r.data.first_name)).toEqual(changed.map((id) => `Changed ${id}`));
    expect(read.pages.length).toBe(1);
    expect(read.requests).toBe(1);
    expect(proxy.log[0]!.query).toEqual({ page: '1', per_page: '4', updated_at_from: since.toISOString() });

    proxy.resetLog();
    const overlapped = await readAll(connect('CATALOG', { overlapMs: 60_000 }), 'catalog.users', null, {
      full: false,
      since,
    });
    expect(proxy.log[0]!.query.updated_at_from).toBe(new Date(since.getTime() - 60_000).toISOString());
    // The window reaches back a minute: whatever it reads, it reads once each.
    expect(new Set(overlapped.records.map((r) => r.nativeId)).size).toBe(overlapped.records.length);
  });

  it("a read resumed from a page's next gives the rest, and keeps an incremental window", async () => {
    for (const [kind, stream] of [
      ['CATALOG', 'catalog.users'],
      ['MESSAGING', 'messaging.accounts'],
      ['EMBED', 'embed.users'],
    ] as const) {
      const connector = connect(kind);
      const whole = await readAll(connector, stream);
      expect(whole.pages.length).toBeGreaterThan(1);
      const first = whole.pages[0]!;
      // The checkpoint is what the sync stores: JSON.
      const checkpoint = JSON.parse(JSON.stringify(first.next)) as Checkpoint;
      const rest = await readAll(connector, stream, checkpoint);
      expect([...first.records, ...rest.records].map((r) => r.data)).toEqual(whole.records.map((r) => r.data));
    }
    const since = new Date(Date.now() - 3_600_000);
    const incremental = await readAll(connect('CATALOG', { overlapMs: 0 }), 'catalog.users', null, {
      full: false,
      since,
    });
    proxy.resetLog();
    await readAll(connect('CATALOG'), 'catalog.users', incremental.pages[0]!.next, { full: false, since: new Date() });
    expect(proxy.log[0]!.query).toEqual({ page: '2', per_page: '4', updated_at_from: since.toISOString() });
  });

  it(`records moving between pages during a read are yielded once; \
the upstream changing mid-read is no crash`, async () => {
    // Page 2 also carries page 1's last record (as an insert before it would cause).
    let firstPage: any[] = [];
    proxy.add({
      kind: 'rewrite',
      match: (e) => e.path.endsWith('/api/v1/users'),
      rewrite: (body, e) => {
        if (e.query.page === '1') firstPage = body.users;
        return e.query.page === '2' ? { users: [firstPage.at(-1), ...body.users] } : body;
      },
    });
    const read = await readAll(connect('CATALOG'), 'catalog.users');
    const ids = read.records.map((r) => r.nativeId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain(String(firstPage.at(-1).id));

    proxy.clear();
    const ctx = await standIn.context();
    const { createUser } = await import('../src/modules/users/service.js');
    proxy.onRequest = async (e) => {
      if (e.query.page === '2') await createUser(ctx, { email: `mid-read-${Date.now()}@example.com`, userName: 'mid' });
    };
    const during = await readAll(connect('CATALOG'), 'catalog.users');
    expect(during.records.some((r) => r.email?.startsWith('mid-read-'))).toBe(true);
    // The count changed after page 1: every later page says so (an offset read may have skipped records).
    expect(during.pages.map((p) => p.drift === true)).toEqual(during.pages.map((_, i) => i > 0));
    expect(during.pages[1]!.next).toMatchObject({ page: 3, drift: true, total: during.pages[0]!.next!.total });
    expect(read.pages.every((p) => p.drift === undefined)).toBe(true);

    // Removed during a messaging or embed read: the same, and a resumed read keeps comparing with the first count.
    for (const [kind, stream, remove] of [
      [
        'MESSAGING',
        'messaging.accounts',
        async () => {
          const { createAccount } = await import('../src/modules/accounts/service.js');
          await createAccount(ctx, { name: 'Upstream Mid-read' });
        },
      ],
      [
        'EMBED',
        'embed.users',
        async () => {
          await standIn.request('/rest/embed/v1/headless/user/mid-read-embed', {
            method: 'PUT',
            headers: { 'content-type': 'application/json' },
            body: '{}',
          });
        },
      ],
    ] as const) {
      const connector = connect(kind);
      const [first] = (await readAll(connector, stream)).pages;
      await remove();
      const resumed = await readAll(connector, stream, JSON.parse(JSON.stringify(first!.next)));
      expect(resumed.pages[0]!.drift).toBe(true);
    }
  });
});

describe('faults', () => {
  it(`20 % 503 and 429s with Retry-After: the same records, every request counted, \
none before a Retry-After expired`, async () => {
    const expected = (await readAll(connect('CATALOG'), 'catalog.users')).records.map((r) => r.data);
    proxy.resetLog();
    proxy.add({
      kind: 'status',
      status: 429,
      retryAfter: '1',
      times: 2,
      match: (e) => e.query.page === '2' || e.query.page === '3',
    });
    proxy.add({ kind: 'status', status: 503, probability: 0.2 });
    const connector = connect('CATALOG', { retries: 10, breaker: { consecutiveFailures: 20, halfOpenAfterMs: 1000 } });
    const read = await readAll(connector, 'catalog.users');
    expect(read.records.map((r) => r.data)).toEqual(expected);
    expect(read.requests).toBe(proxy.log.length);
    expect(read.requests).toBeGreaterThan(read.pages.length);
    const throttled = proxy.log.filter((e) => e.status === 429);
    expect(throttled.length).toBe(2);
    for (const t of throttled) {
      const later = proxy.log.filter((e) => e.at > t.at);
      expect(later.length).toBeGreaterThan(0);
      for (const e of later) expect(e.at).toBeGreaterThanOrEqual(t.answeredAt! + 1000);
    }
    expect(connector.health()).toBe('DEGRADED');
  });

  it('Retry-After as an HTTP date is obeyed too; one beyond the wait limit fails at once with retryAfter', async () => {
    expect(retryAfterMs('120', 0)).toBe(120_000);
    expect(retryAfterMs('Wed, 02 Dec 2026 10:00:05 GMT', Date.parse('2026-12-02T10:00:00Z'))).toBe(5000);
    expect(retryAfterMs('soon')).toBeNull();
    const date = new Date(Date.now() + 2000).toUTCString();
    proxy.add({ kind: 'status', status: 503, retryAfter: date, times: 1 });
    const connector = connect('EMBED');
    await readAll(connector, 'embed.clients');
    expect(proxy.log.length).toBe(2);
    expect(proxy.log[1]!.at).toBeGreaterThanOrEqual(Date.parse(date));

    proxy.resetLog();
    proxy.add({ kind: 'status', status: 429, retryAfter: '3600', times: 1 });
    const started = Date.now();
    const error = await failure(() => readAll(connect('EMBED'), 'embed.users'));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect((error as BackendUnavailableError).reason).toBe('retry_after');
    expect((error as BackendUnavailableError).retryAfter!.getTime()).toBeGreaterThan(Date.now() + 3_500_000);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(proxy.log.length).toBe(1);
  });

  it('connection resets are retried: the same records, requests = pages + resets', async () => {
    const clean = await readAll(connect('MESSAGING'), 'messaging.accounts');
    proxy.resetLog();
    proxy.add({ kind: 'reset', times: 2 });
    const read = await readAll(connect('MESSAGING'), 'messaging.accounts');
    expect(read.records.map((r) => r.data)).toEqual(clean.records.map((r) => r.data));
    expect(read.requests).toBe(clean.pages.length + 2);
    expect(proxy.log.filter((e) => e.fault === 'reset').length).toBe(2);
  });

  it('latency past the timeout and a slow drip end as unavailable within bounded time', async () => {
    proxy.add({ kind: 'latency', ms: 1500 });
    let started = Date.now();
    const slow = await failure(() => readAll(connect('EMBED', { timeoutMs: 200, retries: 1 }), 'embed.clients'));
    expect(slow).toBeInstanceOf(BackendUnavailableError);
    expect((slow as BackendUnavailableError).reason).toBe('timeout');
    expect(slow.message).toMatch(/no complete answer within 200 ms \(2 attempts\)/);
    expect(Date.now() - started).toBeLessThan(1500);

    proxy.clear();
    proxy.resetLog();
    proxy.add({ kind: 'drip', intervalMs: 20 });
    started = Date.now();
    const drip = await failure(() => readAll(connect('EMBED', { timeoutMs: 300, retries: 0 }), 'embed.clients'));
    expect(drip).toBeInstanceOf(BackendUnavailableError);
    expect((drip as BackendUnavailableError).reason).toBe('timeout');
    // Headers came at once: only a whole-request deadline ends a drip.
    expect(proxy.log[0]!.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it(`HTML, a wrong envelope, bad records, a huge body: protocol errors or record errors, no retry, \
bounded memory`, async () => {
    proxy.add({ kind: 'html', times: 1 });
    const html = await failure(() => readAll(connect('CATALOG'), 'catalog.users'));
    expect(html).toBeInstanceOf(BackendProtocolError);
    expect(html.message).toMatch(/text\/html, not JSON/);
    expect(proxy.log.length).toBe(1);

    proxy.add({ kind: 'status', status: 200, body: '{"accounts":[]}', times: 1 });
    const envelope = await failure(() => readAll(connect('MESSAGING'), 'messaging.accounts'));
    expect(envelope).toBeInstanceOf(BackendProtocolError);
    expect(envelope.message).toMatch(/not a \{"data":\{"items","page_info"\},"type":"list"\} envelope/);

    proxy.add({
      kind: 'rewrite',
      times: 1,
      rewrite: (body) => ({
        users: [
          ...body.users,
          'junk',
          { id: 'x' },
          { id: 999_001, email_address: 7 },
          { id: 999_002, updated_at: 'yesterday' },
        ],
      }),
    });
    const bad = await connect('CATALOG')
      .readPages('catalog.users', null, { full: true, since: null })
      [Symbol.asyncIterator]()
      .next();
    const page = bad.value as Page;
    expect(page.records.length).toBe(4);
    expect(page.errors).toEqual([
      { nativeId: null, reason: 'a user is not an object' },
      { nativeId: 'x', reason: 'id is not a positive integer' },
      { nativeId: '999001', reason: 'email_address is not a string' },
      { nativeId: '999002', reason: 'updated_at is not a date-time' },
    ]);

    proxy.clear();
    proxy.add({ kind: 'huge', bytes: 200_000_000 });
    const before = process.memoryUsage().rss;
    const started = Date.now();
    const huge = await failure(() => readAll(connect('CATALOG', { maxBodyBytes: 1_000_000 }), 'catalog.users'));
    expect(huge).toBeInstanceOf(BackendProtocolError);
    expect(huge.message).toMatch(/larger than 1000000 bytes/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(process.memoryUsage().rss - before).toBeLessThan(100_000_000);
  });

  it('endless pages: a repeated cursor, a page that ignores `page`, and pages past the cap', async () => {
    proxy.add({
      kind: 'rewrite',
      match: (e) => e.path.endsWith('/api/v1/accounts'),
      // Every page names the same cursor as the next one.
      rewrite: (body) => ({
        ...body,
        data: { ...body.data, page_info: { ...body.data.page_info, after: standIn.partnerId } },
      }),
    });
    const loop = await failure(() => readAll(connect('MESSAGING'), 'messaging.accounts'));
    expect(loop).toBeInstanceOf(BackendProtocolError);
    expect(loop.message).toMatch(/repeats a cursor/);
    expect(proxy.log.length).toBe(2);

    proxy.clear();
    const pageOne = await direct('CATALOG', '/api/v1/users?per_page=4', (b) => b.users);
    proxy.add({ kind: 'status', status: 200, body: JSON.stringify({ users: pageOne }) });
    const ignored = await failure(() => readAll(connect('CATALOG'), 'catalog.users'));
    expect(ignored).toBeInstanceOf(BackendProtocolError);
    expect(ignored.message).toMatch(/page 2 repeats records/);

    proxy.clear();
    proxy.resetLog();
    let invented = 0;
    proxy.add({
      kind: 'rewrite',
      match: (e) => e.path.endsWith('/v1/headless/clients'),
      // Always a full page of new clients, and a total that never ends.
      rewrite: (body) => ({
        ...body,
        total: 1e9,
        data: Array.from({ length: 4 }, () => ({ identifier: `invented-${++invented}`, metadata: {} })),
      }),
    });
    const endless = await failure(() => readAll(connect('EMBED', { maxPages: 5 }), 'embed.clients'));
    expect(endless).toBeInstanceOf(BackendProtocolError);
    expect(endless.message).toMatch(/more than 5 pages/);
    expect(proxy.log.length).toBe(5);
  });

  it(`the circuit opens after consecutive failures (FAILING, no request sent), half-opens later, \
closes on success`, async () => {
    proxy.add({ kind: 'status', status: 503 });
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
    const connector = connect('EMBED', {
      retries: 0,
      breaker: { consecutiveFailures: 3, halfOpenAfterMs: 400 },
      degradedWindowMs: 300,
      logger,
    });
    for (let i = 0; i < 3; i++) {
      const error = await failure(() => connector.readOne('embed.clients', 'acme-school'));
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect(error.message).toMatch(/answered 503/);
    }
    expect(connector.health()).toBe('FAILING');
    const open = await failure(() => connector.readOne('embed.clients', 'acme-school'));
    expect(open).toBeInstanceOf(BackendUnavailableError);
    expect((open as BackendUnavailableError).reason).toBe('circuit_open');
    expect((open as BackendUnavailableError).retryAfter!.getTime()).toBeGreaterThan(Date.now());
    expect(proxy.log.length).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(connector.health()).toBe('DEGRADED');
    proxy.clear();
    expect(await connector.readOne('embed.clients', 'acme-school')).toMatchObject({ nativeId: 'acme-school' });
    expect(connector.health()).toBe('HEALTHY');
    // The circuit's changes are logged, by kind, without the credential.
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['backend circuit opened', 'backend circuit closed']);
    expect(lines.every((l) => JSON.parse(l).kind === 'EMBED' && !l.includes(standIn.credentials.EMBED))).toBe(true);
  });

  it('401 is refused, not retried, and opens the circuit: no retry storm', async () => {
    const credential = 'agk_not-a-key-of-this-partner-0123456789';
    const connector = connect(
      'CATALOG',
      { breaker: { consecutiveFailures: 10, halfOpenAfterMs: 60_000 } },
      { credential },
    );
    const refused = await failure(() => readAll(connector, 'catalog.users'));
    expect(refused).toBeInstanceOf(BackendRefusedError);
    expect((refused as BackendRefusedError).status).toBe(401);
    expect(refused.message).toMatch(/catalog backend refused the credential \(401\)/);
    expect(connector.health()).toBe('FAILING');
    const again = await failure(() => connector.readOne('catalog.users', '8'));
    expect(again).toBeInstanceOf(BackendRefusedError);
    expect(proxy.log.length).toBe(1);
    expect(thrown.every((e) => !String((e as Error).message).includes(credential))).toBe(true);
  });

  it('a connection refused is unavailable after its retries, the message naming no credential', async () => {
    const closed = await startFaultProxy(standIn.url);
    const url = closed.url;
    await closed.stop();
    const connector = createConnector(
      { kind: 'EMBED', baseUrl: `${url}/rest/embed`, credential: standIn.credentials.EMBED },
      { ...FAST, retries: 2 },
    );
    const error = await failure(() => connector.readOne('embed.clients', 'acme-school'));
    expect(error).toBeInstanceOf(BackendUnavailableError);
    expect(error.message).toBe('embed backend: connection refused (3 attempts)');
  });
});

describe('politeness and the per-backend registry', () => {
  it('never more than BACKEND_CONCURRENCY requests in flight, also across connectors of one backend', async () => {
    const options = connectorOptions(loadConfig({ BACKEND_CONCURRENCY: '3', BACKEND_TIMEOUT_MS: '3000' }), {
      pageSize: 4,
    });
    expect(options).toMatchObject({ concurrency: 3, timeoutMs: 3000 });
    proxy.add({ kind: 'latency', ms: 60 });
    const id = 'backend-concurrency';
    const a = createConnector(
      { id, kind: 'EMBED', baseUrl: `${proxy.url}/rest/embed`, credential: standIn.credentials.EMBED },
      options,
    );
    const b = createConnector(
      { id, kind: 'EMBED', baseUrl: `${proxy.url}/rest/embed`, credential: standIn.credentials.EMBED },
      options,
    );
    const calls = Array.from({ length: 12 }, (_, i) =>
      (i % 2 ? a : b).readOne('embed.clients', standIn.seed.embedClients[i % 3]!),
    );
    calls.push(readAll(a, 'embed.users').then(() => 'GONE'));
    await Promise.all(calls);
    expect(proxy.maxInFlight).toBe(3);
    expect(proxy.log.length).toBe(14);
    dropConnector(id);
  });

  it('BACKEND_RETRIES and BACKEND_BACKOFF_MS: a failing call costs 1 + BACKEND_RETRIES requests', async () => {
    expect(connectorOptions(loadConfig({}))).toMatchObject({ retries: 5, backoff: { initialMs: 200, maxMs: 10_000 } });
    const options = connectorOptions(loadConfig({ BACKEND_RETRIES: '2', BACKEND_BACKOFF_MS: '1' }));
    expect(options).toMatchObject({ retries: 2, backoff: { initialMs: 1, maxMs: 10_000 } });
    proxy.add({ kind: 'status', status: 503 });
    const connector = createConnector(
      {
        id: 'backend-retries',
        kind: 'EMBED',
        baseUrl: `${proxy.url}/rest/embed`,
        credential: standIn.credentials.EMBED,
      },
      options,
    );
    expect(await failure(() => connector.readOne('embed.clients', 'acme-school'))).toBeInstanceOf(
      BackendUnavailableError,
    );
    expect(proxy.log.length).toBe(3);
    dropConnector('backend-retries');
  });

  it(`one circuit per backend id, shared by its connectors; dropConnector forgets it; \
a new credential is a new transport`, async () => {
    proxy.add({ kind: 'status', status: 503 });
    const id = 'backend-registry';
    const options = { retries: 0, breaker: { consecutiveFailures: 2, halfOpenAfterMs: 60_000 } };
    const first = connect('EMBED', options, { id });
    for (let i = 0; i < 2; i++) await failure(() => first.readOne('embed.clients', 'acme-school'));
    expect(first.health()).toBe('FAILING');
    expect(connect('EMBED', options, { id }).health()).toBe('FAILING');
    expect(connect('EMBED', options, { id, credential: `${standIn.credentials.EMBED}x` }).health()).toBe('HEALTHY');
    dropConnector(id);
    proxy.clear();
    const fresh = connect('EMBED', options, { id });
    expect(fresh.health()).toBe('HEALTHY');
    expect(await fresh.readOne('embed.clients', 'acme-school')).toMatchObject({ nativeId: 'acme-school' });
    dropConnector(id);
  });

  it('no error message of this file carries a credential', () => {
    expect(thrown.length).toBeGreaterThan(10);
    const secrets = Object.values(standIn.credentials);
    for (const error of thrown)
      for (const secret of secrets) expect(String((error as Error).message)).not.toContain(secret);
  });
});
