// The pass-through proxies (SPEC §10.4, src/dialects/proxy.ts): partner A has all four kinds
// connected to a stand-in upstream through the fault proxy; the gateway listens on loopback.
// One integration per dialect, written against the source API, runs unchanged against the
// stand-in itself and against the gateway (only the base URL and the key differ); what it
// creates, changes or deletes is in A's graph as soon as the call returns. Headers, statuses and
// bodies pass unchanged, hop-by-hop headers do not, the backend credential never reaches the
// caller nor the caller's key the backend, big answers are cut off, a backend down is the
// dialect's 503 with Retry-After, and partner B (hosted) never reaches A's backends.
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve } from '@hono/node-server';
import type { BackendKind } from '@prisma/client';
import { useHarness, type Partner } from './helpers/app.js';
import { connectStandIn, testStandIn } from './helpers/connected.js';
import { jwtFor } from './dialects/helpers.js';
import { startFaultProxy, type FaultProxy, type LoggedRequest } from './helpers/fault-proxy.js';
import { STANDIN_PREFIXES, type StandIn } from '../src/standin/index.js';

const h = useHarness({ SECRETS_KEY: crypto.randomBytes(32).toString('base64'), RATE_LIMIT_PER_MINUTE: '100000' });

let standIn: StandIn;
let proxy: FaultProxy;
let server: Server;
let gateway: string;
let a: Partner;
let b: Partner;
const KINDS = ['LEARNING', 'CATALOG', 'MESSAGING', 'EMBED'] as const;

const CONNECT =
  'mutation ($input: ConnectBackendInput!) { connectBackend(input: $input) ' +
  '{ __typename ... on Error { message } } }';
const sha = (value: string) => crypto.createHash('sha256').update(value).digest('hex');
/** The Authorization value each source API takes its key in. */
const authorization = (kind: BackendKind, key: string) => (kind === 'CATALOG' ? key : `Bearer ${key}`);

interface Api {
  base: string;
  key: string;
}

/** Everything a caller of the gateway received, to search for leaked secrets; every request the backend got. */
const received: string[] = [];
const upstreamLog: LoggedRequest[] = [];

async function call(api: Api, kind: BackendKind, method: string, path: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  headers.set('authorization', authorization(kind, api.key));
  const response = await fetch(path.startsWith('http') ? path : api.base + path, { ...init, method, headers });
  const text = await response.text();
  received.push(text, ...[...response.headers].map(([n, v]) => `${n}: ${v}`));
  return { status: response.status, headers: response.headers, text, body: text ? JSON.parse(text) : null };
}
const json = (body: unknown): RequestInit => ({
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

type Check = (step: string, value: any) => Promise<void>;
const none: Check = async () => {};

// ---------------------------------------------------------------- integrations (source API only)

async function learningIntegration(api: Api, tag: string, check: Check = none) {
  const created = await call(api, 'LEARNING', 'POST', '/accounts', json({ external_user_id: `learner-${tag}` }));
  expect(created.status).toBe(200);
  expect(created.body).toEqual({ id: expect.any(String), external_user_id: `learner-${tag}` });
  await check('created', created.body);
  const read = await call(api, 'LEARNING', 'GET', `/accounts/${created.body.id}`);
  expect(read.status).toBe(200);
  expect(read.body.external_user_id).toBe(`learner-${tag}`);
  const batch = await call(
    api,
    'LEARNING',
    'POST',
    '/batch',
    json({
      requests: [
        { method: 'post', relative_url: '/accounts', body: { external_user_id: `batched-${tag}` } },
        { method: 'post', relative_url: '/accounts', body: { external_user_id: `learner-${tag}` } },
      ],
    }),
  );
  expect(batch.status).toBe(200);
  expect(batch.headers.get('deprecation')).toBe('true');
  expect(batch.body.responses.map((r: any) => r.code)).toEqual([200, 422]);
  expect(batch.body.responses[1].body.error_message).toBe(`Duplicate account with learner-${tag}`);
  await check('batched', batch.body.responses[0].body);
  const duplicate = await call(api, 'LEARNING', 'POST', '/accounts', json({ external_user_id: `learner-${tag}` }));
  expect(duplicate.status).toBe(422);
  expect(duplicate.body).toEqual({ code: 422, error_message: `Duplicate account with learner-${tag}` });
  const disabled = await call(api, 'LEARNING', 'DELETE', `/accounts/${created.body.id}`);
  expect([200, 204]).toContain(disabled.status);
  await check('disabled', created.body);
}

async function catalogIntegration(api: Api, tag: string, check: Check = none) {
  const form = new URLSearchParams({
    user_name: `cat-${tag}`,
    email_address: `cat-${tag}@example.com`,
    first_name: 'Cat',
  });
  const created = await call(api, 'CATALOG', 'POST', '/api/v1/users', {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
  expect(created.status).toBe(200);
  expect(created.body.user).toMatchObject({ email_address: `cat-${tag}@example.com`, first_name: 'Cat' });
  await check('created', created.body.user);
  // Paging by the Link header, followed as given.
  const first = await call(api, 'CATALOG', 'GET', '/api/v1/users?per_page=2&page=1');
  expect(first.status).toBe(200);
  const next = /<([^>]+)>;\s*rel="next"/.exec(first.headers.get('link') ?? '')?.[1];
  expect(next, first.headers.get('link') ?? 'no Link').toBeDefined();
  expect(next!.startsWith(api.base)).toBe(true);
  const second = await call(api, 'CATALOG', 'GET', next!);
  expect(second.status).toBe(200);
  expect(second.body.users).toHaveLength(2);
  expect(second.body.users.map((u: any) => u.id)).not.toContain(first.body.users[0].id);
  const changed = await call(
    api,
    'CATALOG',
    'PUT',
    `/api/v1/users/${created.body.user.id}`,
    json({ last_name: 'Changed' }),
  );
  expect(changed.status).toBe(200);
  expect(changed.body.user.last_name).toBe('Changed');
  await check('changed', changed.body.user);
  const deleted = await call(api, 'CATALOG', 'DELETE', `/api/v1/users/${created.body.user.id}`);
  expect(deleted.status).toBe(200);
  expect(deleted.body).toEqual({});
  await check('deleted', created.body.user);
}

async function messagingIntegration(api: Api, tag: string, check: Check = none) {
  const created = await call(
    api,
    'MESSAGING',
    'POST',
    '/api/v1/accounts',
    json({ data: { name: `Region ${tag}` }, type: 'account' }),
  );
  expect(created.status).toBe(201);
  expect(created.body).toMatchObject({ type: 'account', data: { name: `Region ${tag}`, id: expect.any(String) } });
  await check('created', created.body.data);
  const read = await call(api, 'MESSAGING', 'GET', `/api/v1/accounts/${created.body.data.id}`);
  expect(read.status).toBe(200);
  expect(read.body.data.name).toBe(`Region ${tag}`);
  const list = await call(api, 'MESSAGING', 'GET', '/api/v1/accounts?limit=100');
  expect(list.status).toBe(200);
  expect(list.body.type).toBe('list');
  expect(list.body.data.items.map((i: any) => i.data.id)).toContain(created.body.data.id);
}

async function embedIntegration(api: Api, tag: string, check: Check = none) {
  const client = await call(
    api,
    'EMBED',
    'PUT',
    `/v1/headless/client/client-${tag}`,
    json({ metadata: { tier: 'gold' } }),
  );
  expect(client.status).toBe(201);
  await check('client', client.body);
  const user = await call(
    api,
    'EMBED',
    'PUT',
    `/v1/headless/user/emb-${tag}`,
    json({ clientIdentifier: `client-${tag}`, metadata: { email: `emb-${tag}@example.com` }, name: 'Em' }),
  );
  expect(user.status).toBe(201);
  expect(user.body).toMatchObject({ identifier: `emb-${tag}`, clientIdentifier: `client-${tag}` });
  await check('user', user.body);
  const merged = await call(api, 'EMBED', 'PUT', `/v1/headless/user/emb-${tag}`, json({ metadata: { level: 2 } }));
  expect(merged.status).toBe(200);
  expect(merged.body.metadata).toMatchObject({ email: `emb-${tag}@example.com`, level: 2, name: 'Em' });
  await check('merged', merged.body);
  const list = await call(api, 'EMBED', 'GET', `/v1/headless/users?length=10&page=0&clientIdentifier=client-${tag}`);
  expect(list.status).toBe(200);
  expect(list.body).toMatchObject({ page: 0, length: 10, total: 1 });
  const deleted = await call(api, 'EMBED', 'DELETE', `/v1/headless/user/emb-${tag}?action=delete`);
  expect(deleted.status).toBe(204);
  await check('deleted', user.body);
  const second = await call(
    api,
    'EMBED',
    'PUT',
    `/v1/headless/user/emb2-${tag}`,
    json({ clientIdentifier: `client-${tag}` }),
  );
  expect(second.status).toBe(201);
  // Deleting the client removes its users too.
  const goneClient = await call(api, 'EMBED', 'DELETE', `/v1/headless/client/client-${tag}`);
  expect(goneClient.status).toBe(204);
  await check('client deleted', goneClient.body);
}

const INTEGRATIONS = {
  LEARNING: learningIntegration,
  CATALOG: catalogIntegration,
  MESSAGING: messagingIntegration,
  EMBED: embedIntegration,
};

// ---------------------------------------------------------------- setup

const direct = (kind: BackendKind): Api => ({ base: standIn.baseUrls[kind], key: standIn.credentials[kind] });
const through = (kind: BackendKind, partner: Partner = a): Api => ({
  base: gateway + STANDIN_PREFIXES[kind],
  key: partner.key,
});

/** A's user holding the given key, with its identities, read through the graph. */
async function userByKey(args: string) {
  const r = await h.gql(
    `{ userByKey(${args}) { uuid status identities { kind nativeId status } } }`,
    {},
    { token: a.key },
  );
  return r.data?.userByKey ?? null;
}

beforeAll(async () => {
  if (!h.ready) return;
  standIn = await testStandIn();
  proxy = await startFaultProxy(standIn.url, { seed: 5, preserveHost: true });
  proxy.onRequest = (entry) => void upstreamLog.push(entry);
  a = await h.newPartner('Proxy A', 'AUTOMATE');
  b = await h.newPartner('Proxy B', 'AUTOMATE');
  await connectStandIn(h, a, standIn, proxy.url, KINDS);
  server = serve({ fetch: h.app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  await new Promise<void>((resolve) => server.once('listening', resolve));
  gateway = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 120_000);

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await proxy?.stop();
  await standIn?.stop();
});

// ---------------------------------------------------------------- tests

describe('an integration written against the source API works unchanged through the gateway', () => {
  for (const kind of KINDS) {
    it(`${kind.toLowerCase()}: against the stand-in itself, \
then through the gateway with only the base URL and key changed`, async () => {
      await INTEGRATIONS[kind](direct(kind), `direct-${kind.toLowerCase()}`);
      proxy.resetLog();
      await INTEGRATIONS[kind](through(kind), `gw-${kind.toLowerCase()}`);
      // Every request went on to the backend, with the backend's credential in its form.
      expect(proxy.log.length).toBeGreaterThan(2);
      for (const entry of proxy.log) {
        expect(entry.path.startsWith(STANDIN_PREFIXES[kind])).toBe(true);
        expect(entry.authorizationSha256).toBe(sha(authorization(kind, standIn.credentials[kind])));
      }
    });
  }
});

describe('the effect is in the graph as soon as the call returns', () => {
  it(`learning: a created account is a user with its LINKED identity; a batched one too; \
DELETE disables it`, async () => {
    await learningIntegration(through('LEARNING'), 'fx', async (step, value) => {
      if (step === 'created') {
        const user = await userByKey('externalUserId: "learner-fx"');
        expect(user).toMatchObject({ status: 'ACTIVE' });
        expect(user.identities).toContainEqual({ kind: 'LEARNING', nativeId: value.id, status: 'LINKED' });
      }
      if (step === 'batched') {
        const user = await userByKey('externalUserId: "batched-fx"');
        expect(user.identities).toContainEqual({ kind: 'LEARNING', nativeId: value.account_id, status: 'LINKED' });
      }
      if (step === 'disabled')
        expect(await userByKey('externalUserId: "learner-fx"')).toMatchObject({ status: 'DISABLED' });
    });
  });

  it('catalog: a registered user appears, its change is projected, its delete makes the identity GONE', async () => {
    await catalogIntegration(through('CATALOG'), 'fx', async (step, value) => {
      const user = await userByKey('email: "cat-fx@example.com"');
      if (step === 'created')
        expect(user.identities).toContainEqual({ kind: 'CATALOG', nativeId: String(value.id), status: 'LINKED' });
      if (step === 'changed') {
        const r = await h.gql(`{ userByKey(email: "cat-fx@example.com") { lastName } }`, {}, { token: a.key });
        expect(r.data.userByKey.lastName).toBe('Changed');
      }
      if (step === 'deleted')
        expect(user.identities).toContainEqual({ kind: 'CATALOG', nativeId: String(value.id), status: 'GONE' });
    });
  });

  it('messaging: a created account is an Account of the partner with its MESSAGING identity', async () => {
    await messagingIntegration(through('MESSAGING'), 'fx', async (step, value) => {
      if (step !== 'created') return;
      const identity = await h.store.prisma.identity.findFirst({
        where: { partnerId: a.accountId, kind: 'MESSAGING', nativeId: value.id },
        include: { account: true },
      });
      expect(identity).toMatchObject({ status: 'LINKED', entity: 'ACCOUNT' });
      expect(identity!.account).toMatchObject({ name: 'Region fx', partnerId: a.accountId });
    });
  });

  it('embed: the client and user appear, a merge is projected, a delete makes the identity GONE', async () => {
    await embedIntegration(through('EMBED'), 'fx', async (step) => {
      if (step === 'client') {
        const r = await h.gql(`{ client(identifier: "client-fx") { identifier metadata } }`, {}, { token: a.key });
        expect(r.data.client).toEqual({ identifier: 'client-fx', metadata: { tier: 'gold' } });
      }
      const user = await userByKey('identifier: "emb-fx"');
      if (step === 'user')
        expect(user.identities).toContainEqual({ kind: 'EMBED', nativeId: 'emb-fx', status: 'LINKED' });
      if (step === 'merged') {
        const r = await h.gql(`{ userByKey(identifier: "emb-fx") { metadata } }`, {}, { token: a.key });
        expect(r.data.userByKey.metadata).toMatchObject({ level: 2, email: 'emb-fx@example.com' });
      }
      if (step === 'deleted')
        expect(user.identities).toContainEqual({ kind: 'EMBED', nativeId: 'emb-fx', status: 'GONE' });
      if (step === 'client deleted') {
        const identities = await h.store.prisma.identity.findMany({
          where: { partnerId: a.accountId, kind: 'EMBED', nativeId: { in: ['client-fx', 'emb2-fx'] } },
          select: { entity: true, nativeId: true, status: true },
          orderBy: { nativeId: 'asc' },
        });
        expect(identities).toEqual([
          { entity: 'CLIENT', nativeId: 'client-fx', status: 'GONE' },
          { entity: 'USER', nativeId: 'emb2-fx', status: 'GONE' },
        ]);
      }
    });
  });
});

describe('what passes and what does not', () => {
  it("the backend's status, Content-Type, Retry-After and body come back unchanged", async () => {
    const body = '{"error":{"code":"busy","message":"come back later"}}';
    proxy.add({
      kind: 'status',
      status: 409,
      retryAfter: '7',
      body,
      headers: { 'content-type': 'application/vnd.example+json; charset=utf-8' },
      times: 1,
    });
    const r = await call(through('EMBED'), 'EMBED', 'GET', '/v1/headless/clients?length=1&page=0');
    expect(r.status).toBe(409);
    expect(r.text).toBe(body);
    expect(r.headers.get('content-type')).toBe('application/vnd.example+json; charset=utf-8');
    expect(r.headers.get('retry-after')).toBe('7');
    // The gateway's own request id is added to the relayed answer.
    expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('hop-by-hop headers are dropped both ways, and so is what Connection names', async () => {
    proxy.add({
      kind: 'status',
      status: 200,
      body: '{"data":[],"page":0,"length":1,"total":0}',
      headers: {
        connection: 'keep-alive, x-backend-hop',
        'x-backend-hop': 'secret-of-the-connection',
        'keep-alive': 'timeout=77',
        'proxy-authenticate': 'Basic realm="backend"',
        'set-cookie': 'backend-session=1',
        'x-end-to-end': 'kept',
      },
      times: 1,
    });
    const answer = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(
        `${gateway}/rest/embed/v1/headless/clients?length=1&page=0`,
        {
          headers: {
            authorization: `Bearer ${a.key}`,
            connection: 'keep-alive, x-caller-hop',
            'x-caller-hop': 'for-the-gateway-only',
            'keep-alive': 'timeout=9',
            te: 'trailers',
            'proxy-authorization': 'Basic Zm9vOmJhcg==',
            cookie: 'gateway-session=1',
            'x-caller-end-to-end': 'kept',
          },
        },
        resolve,
      );
      req.once('error', reject);
      req.end();
    });
    answer.resume();
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['x-end-to-end']).toBe('kept');
    for (const name of ['x-backend-hop', 'proxy-authenticate', 'set-cookie'])
      expect(answer.headers[name]).toBeUndefined();
    expect(answer.headers['keep-alive']).not.toBe('timeout=77');
    const sent = proxy.log.at(-1)!.headers;
    expect(sent['x-caller-end-to-end']).toBe('kept');
    for (const name of ['x-caller-hop', 'te', 'cookie']) expect(sent[name]).toBeUndefined();
    expect(sent['keep-alive']).not.toBe('timeout=9');
    expect(proxy.log.at(-1)!.authorizationSha256).toBe(sha(`Bearer ${standIn.credentials.EMBED}`));
  });

  it(`neither credential crosses: the backend never sees the caller's key, \
the caller never sees the backend's`, async () => {
    const callerForms = [sha(`Bearer ${a.key}`), sha(a.key)];
    expect(upstreamLog.length).toBeGreaterThan(30);
    for (const entry of upstreamLog) expect(callerForms).not.toContain(entry.authorizationSha256);
    expect(received.length).toBeGreaterThan(50);
    for (const kind of KINDS) for (const text of received) expect(text).not.toContain(standIn.credentials[kind]);
  });

  it('an answer over the size limit is cut off, never passed on whole', async () => {
    proxy.add({ kind: 'huge', bytes: 11_000_000, times: 1 });
    const response = await fetch(`${gateway}/rest/catalog/api/v1/users?per_page=2`, {
      headers: { authorization: a.key },
    });
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
  });

  it(`a backend that cannot be reached is the dialect's 503 envelope with Retry-After; \
nothing is recorded`, async () => {
    proxy.add({ kind: 'reset', times: 1 });
    const r = await call(
      through('LEARNING'),
      'LEARNING',
      'POST',
      '/accounts',
      json({ external_user_id: 'never-there' }),
    );
    expect(r.status).toBe(503);
    expect(r.body).toEqual({ code: 503, error_message: expect.stringContaining('learning backend') });
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await userByKey('externalUserId: "never-there"')).toBeNull();

    proxy.add({ kind: 'reset', times: 1 });
    const m = await call(through('MESSAGING'), 'MESSAGING', 'GET', '/api/v1/accounts');
    expect(m.status).toBe(503);
    expect(m.body).toMatchObject({ type: 'error', data: { code: 'backend_unavailable' } });
    expect(Number(m.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('tenancy and rights', () => {
  it(`the gateway guards first: a bad key is its own 401 and a refused address its own 403, \
and nothing is sent`, async () => {
    proxy.resetLog();
    const bad = await call(
      { base: gateway + STANDIN_PREFIXES.LEARNING, key: 'not-a-key' },
      'LEARNING',
      'GET',
      '/accounts/current',
    );
    expect(bad.status).toBe(401);
    expect(bad.body).toMatchObject({ code: 401 });
    const c = await h.newPartner('Proxy C', 'AUTOMATE');
    const connected = await h.gql(
      CONNECT,
      {
        input: {
          kind: 'LEARNING',
          baseUrl: proxy.url + STANDIN_PREFIXES.LEARNING,
          credential: standIn.credentials.LEARNING,
        },
      },
      { token: c.key },
    );
    expect(connected.data.connectBackend.__typename).toBe('ConnectBackendSuccess');
    const locked = await h.gql(
      'mutation ($i: UpdateAccountInput!) { updateAccount(input: $i) { __typename } }',
      { i: { id: c.accountGlobalId, requireIpApiAccess: true, allowedIps: ['10.9.9.9'] } },
      { token: c.key },
    );
    expect(locked.data.updateAccount.__typename).toBe('UpdateAccountSuccess');
    const refused = await call(
      through('LEARNING', c),
      'LEARNING',
      'POST',
      '/accounts',
      json({ external_user_id: 'c-1' }),
    );
    expect(refused.status).toBe(403);
    expect(proxy.log).toEqual([]);
  });

  it(`many callers at once: no more than BACKEND_CONCURRENCY requests in flight to the backend, \
every one answered`, async () => {
    proxy.add({ kind: 'latency', ms: 150, times: 12 });
    proxy.resetLog();
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => call(through('CATALOG'), 'CATALOG', 'GET', '/api/v1/users?per_page=1')),
    );
    expect(answers.map((r) => r.status)).toEqual(Array(12).fill(200));
    expect(proxy.log).toHaveLength(12);
    expect(proxy.maxInFlight).toBeGreaterThan(1);
    expect(proxy.maxInFlight).toBeLessThanOrEqual(h.config.backends.concurrency);
  });

  it("a backend's answer that is not JSON passes unchanged too", async () => {
    proxy.add({ kind: 'html', times: 1 });
    const r = await fetch(`${gateway}/rest/embed/v1/headless/users?length=1&page=0`, {
      headers: { authorization: `Bearer ${a.key}` },
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(await r.text()).toBe('<!doctype html><html><body><h1>Welcome</h1></body></html>');
  });

  it("partner B (hosted) is served by its own store and never reaches A's backends", async () => {
    proxy.resetLog();
    const created = await call(
      through('LEARNING', b),
      'LEARNING',
      'POST',
      '/accounts',
      json({ external_user_id: 'b-own' }),
    );
    expect(created.status).toBe(200);
    const aAccount = await userByKey('externalUserId: "learner-fx"');
    const foreign = await call(
      through('LEARNING', b),
      'LEARNING',
      'GET',
      `/accounts/${aAccount.identities[0].nativeId}`,
    );
    expect(foreign.status).toBe(404);
    const aUser = await call(through('LEARNING', b), 'LEARNING', 'GET', `/accounts/${aAccount.uuid}`);
    expect(aUser.status).toBe(404);
    const list = await call(through('CATALOG', b), 'CATALOG', 'GET', '/api/v1/users?per_page=100');
    expect(list.body.users.map((u: any) => u.email_address)).not.toContain('cat-fx@example.com');
    expect(proxy.log).toEqual([]);
    // And B's new account is B's alone: the stand-in never heard of it.
    expect(await standIn.store.prisma.user.count({ where: { externalUserId: 'b-own' } })).toBe(0);
  });

  it(`a caller with narrower rights (a plain user) is served by the gateway itself: \
the partner's credential never acts for it`, async () => {
    const learner = await userByKey('externalUserId: "batched-fx"');
    const token = await jwtFor(learner.uuid);
    proxy.resetLog();
    const own = await call(
      { base: gateway + STANDIN_PREFIXES.LEARNING, key: token },
      'LEARNING',
      'GET',
      '/accounts/current',
    );
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ id: learner.uuid, external_user_id: 'batched-fx' });
    const other = await userByKey('externalUserId: "learner-fx"');
    const foreign = await call(
      { base: gateway + STANDIN_PREFIXES.LEARNING, key: token },
      'LEARNING',
      'GET',
      `/accounts/${other.uuid}`,
    );
    expect(foreign.status).toBe(404);
    expect(proxy.log).toEqual([]);
  });

  it("a path that climbs out of the backend's baseUrl is refused before anything is sent", async () => {
    proxy.resetLog();
    const r = await call(through('CATALOG'), 'CATALOG', 'GET', '/api/v1/users/..%2f..%2f..%2f..%2fgraphql');
    expect(r.status).toBe(404);
    expect(proxy.log).toEqual([]);
  });
});

// Last: these leave a backend's transport waiting (a Retry-After, an open circuit).
describe("the backend's pacing and a refused credential", () => {
  it(`a 429 with Retry-After passes unchanged, and then no request reaches the backend before it: \
503 with Retry-After`, async () => {
    proxy.add({ kind: 'status', status: 429, retryAfter: '120', times: 1 });
    const paced = await call(through('MESSAGING'), 'MESSAGING', 'GET', '/api/v1/accounts');
    expect(paced.status).toBe(429);
    expect(paced.headers.get('retry-after')).toBe('120');
    proxy.resetLog();
    const gated = await call(through('MESSAGING'), 'MESSAGING', 'GET', '/api/v1/accounts');
    expect(gated.status).toBe(503);
    expect(Number(gated.headers.get('retry-after'))).toBeGreaterThan(100);
    expect(proxy.log).toEqual([]);
  });

  it(`the backend refusing the stored credential is the gateway's 503, \
never the backend's 401 or its challenge`, async () => {
    proxy.add({
      kind: 'status',
      status: 401,
      headers: { 'www-authenticate': 'Bearer realm="backend"' },
      match: (r) => r.path.startsWith('/rest/embed/'),
    });
    const r = await call(through('EMBED'), 'EMBED', 'GET', '/v1/headless/clients?length=1&page=0');
    expect(r.status).toBe(503);
    expect(r.body.error.message).toContain("refused the gateway's stored credential");
    expect(r.headers.get('www-authenticate')).toBeNull();
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    proxy.clear();
  });
});

describe('which requests are relayed follows connecting and disconnecting at once', () => {
  it(`a hosted kind is served by the gateway, the same kind connected is relayed, \
disconnected served again`, async () => {
    const c = await h.newPartner('Proxy C', 'AUTOMATE');
    const clients = () => call(through('EMBED', c), 'EMBED', 'GET', '/v1/headless/clients?length=1&page=0');
    const relayed = async () => {
      const before = upstreamLog.length;
      const r = await clients();
      expect(r.status).toBe(200);
      return upstreamLog.length > before;
    };
    // Hosted: the principal (now cached) says EMBED is not connected, nothing goes upstream.
    expect(await relayed()).toBe(false);
    const { EMBED } = await connectStandIn(h, c, standIn, proxy.url, ['EMBED']);
    expect(await relayed()).toBe(true);
    const r = await h.gql(
      `mutation ($id: ID!) { disconnectBackend(input: { id: $id }) { __typename } }`,
      { id: EMBED.id },
      { token: c.key },
    );
    expect(r.data?.disconnectBackend?.__typename).toBe('DisconnectBackendSuccess');
    expect(await relayed()).toBe(false);
  });
});
