// Connected backends (SPEC §10.1): connect, list, update, disconnect; one per kind; baseUrl
// rules; partner admins only; tenancy; the credential sealed at rest and never seen again.
import crypto from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { useHarness, type Partner } from './helpers/app.js';
import { hs256 } from './helpers/jwt.js';
import { loadConfig } from '../src/config.js';
import { backendCredential, checkStoredCredentials } from '../src/modules/backends/service.js';
import { SecretsKeyError } from '../src/modules/backends/errors.js';

const KEY = crypto.randomBytes(32).toString('base64');
// Every log line the app writes, at every level, unredacted: the credential must not be in one.
const logLines: string[] = [];
const logger = pino(
  { level: 'trace' },
  new Writable({
    write: (chunk, _encoding, done) => {
      logLines.push(String(chunk));
      done();
    },
  }),
);
// The gateway's own listener, as the self check sees it.
const h = useHarness({ SECRETS_KEY: KEY, HOST: '127.0.0.1', PORT: '4000' }, {}, { logger });

const secrets: string[] = [];
const secret = () => {
  const value = `sk-live-${crypto.randomBytes(12).toString('hex')}`;
  secrets.push(value);
  return value;
};
// Every answer the tests receive, to search for credentials at the end.
const answers: string[] = [];

const BACKEND =
  'id kind baseUrl status lastSyncAt lastError syncIntervalSeconds linkBy ' +
  'createdAt syncRuns(first: 5) { totalCount edges { node { id } } }';
const RESULT =
  '__typename ... on Error { message code } ' +
  '... on ValidationError { issues { field message } } ... on ConflictError { field }';

async function gql(token: string, query: string, variables?: Record<string, unknown>) {
  const result = await h.gql(query, variables, { token });
  answers.push(JSON.stringify(result));
  return result;
}

async function run(
  token: string,
  name: 'connectBackend' | 'updateBackend' | 'disconnectBackend',
  input: Record<string, unknown>,
) {
  const success =
    name === 'disconnectBackend'
      ? '... on DisconnectBackendSuccess { disconnectedBackendId }'
      : `... on ${name[0]!.toUpperCase()}${name.slice(1)}Success { backend { ${BACKEND} } }`;
  const inputType = `${name[0]!.toUpperCase()}${name.slice(1)}Input`;
  // Each union holds exactly its mutation's errors: disconnect validates nothing.
  const result = name === 'disconnectBackend' ? '__typename ... on Error { message code }' : RESULT;
  const { data, errors } = await gql(
    token,
    `mutation ($input: ${inputType}!) { ${name}(input: $input) { ${result} ${success} } }`,
    { input },
  );
  if (errors?.length) throw new Error(`${name}: ${JSON.stringify(errors)}`);
  return data[name];
}

const connect = (token: string, input: Record<string, unknown>) =>
  run(token, 'connectBackend', { credential: secret(), ...input });
const backends = (token: string) => gql(token, `{ backends { ${BACKEND} } }`);
const node = (token: string, id: string) =>
  gql(token, `query ($id: ID!) { node(id: $id) { __typename id ... on Backend { kind } ... on SyncRun { status } } }`, {
    id,
  });

async function member(partner: Partner, accountAdmin: boolean): Promise<string> {
  let accountId = partner.accountGlobalId;
  if (accountAdmin) {
    const { data } = await gql(
      partner.key,
      'mutation ($input: CreateAccountInput!) { createAccount(input: $input) ' +
        '{ ... on CreateAccountSuccess { account { id } } } }',
      {
        input: { parentId: partner.accountGlobalId, name: `Region ${crypto.randomUUID().slice(0, 6)}` },
      },
    );
    accountId = data.createAccount.account.id;
  }
  const { data } = await gql(
    partner.key,
    'mutation ($input: CreateUserInput!) { createUser(input: $input) ' +
      '{ ... on CreateUserSuccess { user { id uuid } } } }',
    {
      input: { accountId, externalUserId: `member-${crypto.randomUUID()}` },
    },
  );
  const user = data.createUser.user;
  if (accountAdmin) {
    const added = await gql(
      partner.key,
      `mutation ($input: AddAccountAdminInput!) { addAccountAdmin(input: $input) { __typename } }`,
      { input: { accountId, userId: user.id } },
    );
    expect(added.data.addAccountAdmin.__typename).toBe('AddAccountAdminSuccess');
  }
  return hs256(user.uuid);
}

describe('connecting backends', () => {
  it('connects, lists, updates and disconnects; the credential is sealed at rest and audited without it', async () => {
    const a = await h.newPartner();
    const learningCredential = secret();
    const learning = await run(a.key, 'connectBackend', {
      kind: 'LEARNING',
      baseUrl: 'http://127.0.0.1:4001/rest/learning/',
      credential: learningCredential,
    });
    expect(learning.__typename).toBe('ConnectBackendSuccess');
    expect(learning.backend).toMatchObject({
      kind: 'LEARNING',
      baseUrl: 'http://127.0.0.1:4001/rest/learning',
      status: 'HEALTHY',
      lastSyncAt: null,
      lastError: null,
      syncIntervalSeconds: 300,
      linkBy: ['KEY', 'EMAIL'],
      // Connecting queues the first full import at once (SPEC §10.3).
      syncRuns: { totalCount: 1, edges: [{ node: { id: expect.any(String) } }] },
    });
    const catalog = await connect(a.key, {
      kind: 'CATALOG',
      baseUrl: 'https://catalog.example.com',
      syncIntervalSeconds: 60,
      linkBy: ['EMAIL'],
    });
    expect(catalog.backend).toMatchObject({
      kind: 'CATALOG',
      baseUrl: 'https://catalog.example.com',
      syncIntervalSeconds: 60,
      linkBy: ['EMAIL'],
    });

    // In kind order, whatever the order of connecting.
    await connect(a.key, { kind: 'EMBED', baseUrl: 'http://10.1.2.3:8080' });
    const listed = await backends(a.key);
    expect(listed.data.backends.map((b: { kind: string }) => b.kind)).toEqual(['LEARNING', 'CATALOG', 'EMBED']);
    expect((await node(a.key, learning.backend.id)).data.node).toMatchObject({
      __typename: 'Backend',
      kind: 'LEARNING',
    });

    // Sealed: not the plaintext, in the v1 format, opened by the key for its own place only.
    const row = await h.store.prisma.backend.findUniqueOrThrow({
      where: { partnerId_activeKind: { partnerId: a.accountId, activeKind: 'LEARNING' } },
    });
    expect(row.credential).not.toContain(learningCredential);
    expect(row.credential).toMatch(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(backendCredential(h.config, row)).toBe(learningCredential);
    expect(() => backendCredential(h.config, { ...row, kind: 'CATALOG' })).toThrow(SecretsKeyError);

    // Update: only what is given changes; the rule set is stored in one order.
    const newCredential = secret();
    const updated = await run(a.key, 'updateBackend', {
      id: learning.backend.id,
      syncIntervalSeconds: 900,
      linkBy: ['EMAIL', 'KEY', 'EMAIL'],
      credential: newCredential,
    });
    expect(updated.__typename).toBe('UpdateBackendSuccess');
    expect(updated.backend).toMatchObject({
      baseUrl: 'http://127.0.0.1:4001/rest/learning',
      syncIntervalSeconds: 900,
      linkBy: ['KEY', 'EMAIL'],
    });
    const resealed = await h.store.prisma.backend.findUniqueOrThrow({ where: { id: row.id } });
    expect(backendCredential(h.config, resealed)).toBe(newCredential);
    // Another path on the same origin keeps the credential; another origin needs it again.
    expect(
      (await run(a.key, 'updateBackend', { id: learning.backend.id, baseUrl: 'http://127.0.0.1:4001/v2' })).backend
        .baseUrl,
    ).toBe('http://127.0.0.1:4001/v2');
    const moved = await run(a.key, 'updateBackend', { id: learning.backend.id, baseUrl: 'https://evil.example.net' });
    expect(moved).toMatchObject({ __typename: 'ValidationError', issues: [{ field: 'input.credential' }] });
    const withCredential = await run(a.key, 'updateBackend', {
      id: learning.backend.id,
      baseUrl: 'https://learning.example.net',
      credential: secret(),
    });
    expect(withCredential.backend.baseUrl).toBe('https://learning.example.net');

    // Sync runs: newest first, with their counts.
    const first = await h.store.prisma.syncRun.create({
      data: { partnerId: a.accountId, backendId: row.id, status: 'SUCCEEDED', full: true, seen: 7, requests: 2 },
    });
    const second = await h.store.prisma.syncRun.create({
      data: {
        partnerId: a.accountId,
        backendId: row.id,
        status: 'FAILED',
        errors: [{ nativeId: '42', reason: 'bad record' }],
      },
    });
    const runs = await gql(
      a.key,
      'query ($id: ID!) { node(id: $id) { ... on Backend { syncRuns(first: 10) { totalCount edges ' +
        '{ node { id status full seen requests errors { nativeId reason } backend { kind } } } } } } }',
      { id: learning.backend.id },
    );
    // Three: the two above and, oldest, the first full import that connectBackend queued.
    expect(runs.data.node.syncRuns.totalCount).toBe(3);
    expect(runs.data.node.syncRuns.edges.slice(0, 2).map((e: { node: { status: string } }) => e.node.status)).toEqual([
      'FAILED',
      'SUCCEEDED',
    ]);
    expect(runs.data.node.syncRuns.edges[2].node).toMatchObject({ full: true, backend: { kind: 'LEARNING' } });
    expect(runs.data.node.syncRuns.edges[0].node).toMatchObject({
      errors: [{ nativeId: '42', reason: 'bad record' }],
      backend: { kind: 'LEARNING' },
    });
    expect(runs.data.node.syncRuns.edges[1].node).toMatchObject({ full: true, seen: 7, requests: 2 });
    void first;
    void second;

    // Disconnect: gone from the list; node(id) still names it (its DETACHED identities do), PAUSED,
    // with disconnectedAt; a second disconnect finds nothing.
    const disconnected = await run(a.key, 'disconnectBackend', { id: catalog.backend.id });
    expect(disconnected).toEqual({ __typename: 'DisconnectBackendSuccess', disconnectedBackendId: catalog.backend.id });
    expect((await backends(a.key)).data.backends.map((b: { kind: string }) => b.kind)).toEqual(['LEARNING', 'EMBED']);
    expect((await node(a.key, catalog.backend.id)).data.node).toMatchObject({ __typename: 'Backend', kind: 'CATALOG' });
    const after = await gql(a.key, `query ($id: ID!) { node(id: $id) { ... on Backend { status disconnectedAt } } }`, {
      id: catalog.backend.id,
    });
    expect(after.data.node.status).toBe('PAUSED');
    expect(Date.parse(after.data.node.disconnectedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(await run(a.key, 'disconnectBackend', { id: catalog.backend.id })).toMatchObject({
      __typename: 'NotFoundError',
      code: 'NOT_FOUND',
    });
    // The kind is free again.
    expect((await connect(a.key, { kind: 'CATALOG', baseUrl: 'https://catalog.example.com' })).__typename).toBe(
      'ConnectBackendSuccess',
    );

    // Audited: every change, with what identifies it, never the credential.
    const audit = await gql(
      a.key,
      `{ auditEvents(first: 50, filter: { action: "backend." }) { edges { node { action subjectId data } } } }`,
    );
    const actions = audit.data.auditEvents.edges.map((e: { node: { action: string } }) => e.node.action);
    expect(actions.filter((x: string) => x === 'backend.connect')).toHaveLength(4);
    expect(actions.filter((x: string) => x === 'backend.update')).toHaveLength(3);
    expect(actions.filter((x: string) => x === 'backend.disconnect')).toHaveLength(1);
    const update = audit.data.auditEvents.edges.find(
      (e: { node: { action: string; data: { changed: string[] } } }) =>
        e.node.action === 'backend.update' && e.node.data.changed.includes('syncIntervalSeconds'),
    );
    expect(update.node.data).toMatchObject({
      kind: 'LEARNING',
      syncIntervalSeconds: 900,
      changed: ['syncIntervalSeconds', 'credential'],
    });
    const raw = await h.store.prisma.auditEvent.findMany({
      where: { partnerId: a.accountId, action: { startsWith: 'backend.' } },
    });
    expect(raw).toHaveLength(8);
    for (const event of raw) for (const value of secrets) expect(JSON.stringify(event)).not.toContain(value);
  });

  it('refuses every bad input with a ValidationError naming the field, and changes nothing', async () => {
    const a = await h.newPartner();
    const bad = async (input: Record<string, unknown>, field: string, message?: RegExp) => {
      const result = await connect(a.key, { kind: 'MESSAGING', baseUrl: 'https://messaging.example.com', ...input });
      expect(result.__typename, JSON.stringify(input)).toBe('ValidationError');
      expect(result.issues.map((i: { field: string }) => i.field)).toContain(field);
      if (message) expect(result.issues.find((i: { field: string }) => i.field === field).message).toMatch(message);
      return result;
    };
    await bad({ baseUrl: 'ftp://files.example.com' }, 'input.baseUrl', /http or https/);
    await bad({ baseUrl: 'javascript:alert(1)' }, 'input.baseUrl', /http or https/);
    await bad({ baseUrl: 'not a url' }, 'input.baseUrl', /absolute/);
    await bad({ baseUrl: '/relative/path' }, 'input.baseUrl', /absolute/);
    const withUserinfo = await bad(
      { baseUrl: 'https://admin:hunter2-pass@messaging.example.com' },
      'input.baseUrl',
      /credentials/,
    );
    // The refused URL (and its password) is not echoed.
    expect(JSON.stringify(withUserinfo)).not.toContain('hunter2-pass');
    await bad({ baseUrl: 'https://messaging.example.com/?token=x' }, 'input.baseUrl', /query/);
    await bad({ baseUrl: 'https://messaging.example.com/#x' }, 'input.baseUrl', /fragment/);
    await bad({ baseUrl: `https://messaging.example.com/${'a'.repeat(2100)}` }, 'input.baseUrl', /at most 2048/);
    // The gateway itself (HOST 127.0.0.1, PORT 4000), by any loopback name.
    for (const self of [
      'http://127.0.0.1:4000',
      'http://localhost:4000/rest/messaging',
      'http://127.0.0.2:4000',
      'http://[::1]:4000',
      'http://LOCALHOST.:4000',
    ]) {
      await bad({ baseUrl: self }, 'input.baseUrl', /this gateway itself/);
    }
    // Link-local, metadata, unspecified, in every spelling the URL parser accepts.
    for (const refused of [
      'http://169.254.169.254/latest/meta-data',
      'http://169.254.0.1:8080',
      'http://2852039166/', // 169.254.169.254 as one number
      'http://0xa9.0xfe.0xa9.0xfe/',
      'http://[::ffff:169.254.169.254]/',
      'http://[fe80::1]/',
      'http://[febf::1]/',
      'http://[fd00:ec2::254]/',
      'http://0.0.0.0:8080',
      'http://0/',
      'http://[::]:8080',
      'http://metadata.google.internal/computeMetadata/v1',
      'http://224.0.0.1/',
    ]) {
      await bad({ baseUrl: refused }, 'input.baseUrl', /metadata|link-local|unspecified|multicast/);
    }
    await bad({ syncIntervalSeconds: 29 }, 'input.syncIntervalSeconds', /at least 30/);
    await bad({ syncIntervalSeconds: 86_401 }, 'input.syncIntervalSeconds', /at most 86400/);
    await bad({ linkBy: [] }, 'input.linkBy', /at least one/);
    await bad({ credential: '' }, 'input.credential', /empty/);
    await bad({ credential: ' padded' }, 'input.credential', /spaces/);
    await bad({ credential: 'line\r\nX-Injected: 1' }, 'input.credential', /control characters/);
    await bad({ credential: 'k'.repeat(4097) }, 'input.credential', /at most 4096/);
    // Several at once: one error, every field named.
    const several = await bad({ baseUrl: 'ftp://x', syncIntervalSeconds: 5, credential: '' }, 'input.baseUrl');
    expect(several.issues.map((i: { field: string }) => i.field).sort()).toEqual([
      'input.baseUrl',
      'input.credential',
      'input.syncIntervalSeconds',
    ]);
    // Loopback and private networks on other ports stay allowed (partners' systems, stand-ins).
    expect((await connect(a.key, { kind: 'MESSAGING', baseUrl: 'http://127.0.0.1:4010' })).__typename).toBe(
      'ConnectBackendSuccess',
    );
    expect((await backends(a.key)).data.backends).toHaveLength(1);

    // Update refuses the same, and leaves the backend as it was.
    const [existing] = (await backends(a.key)).data.backends;
    for (const input of [
      { baseUrl: 'http://169.254.169.254' },
      { syncIntervalSeconds: 0 },
      { linkBy: [] },
      { credential: '' },
    ]) {
      const result = await run(a.key, 'updateBackend', { id: existing.id, ...input });
      expect(result.__typename, JSON.stringify(input)).toBe('ValidationError');
    }
    expect((await backends(a.key)).data.backends[0]).toEqual(existing);
    // A malformed or unknown id is NOT_FOUND.
    expect((await run(a.key, 'updateBackend', { id: 'nope', syncIntervalSeconds: 60 })).__typename).toBe(
      'NotFoundError',
    );
    expect((await run(a.key, 'disconnectBackend', { id: crypto.randomUUID() })).__typename).toBe('NotFoundError');
  });

  it('connects at most one backend per kind per partner, also under concurrent connects', async () => {
    const a = await h.newPartner();
    expect((await connect(a.key, { kind: 'EMBED', baseUrl: 'https://embed.example.com' })).__typename).toBe(
      'ConnectBackendSuccess',
    );
    const again = await connect(a.key, { kind: 'EMBED', baseUrl: 'https://other.example.com' });
    expect(again).toMatchObject({ __typename: 'ConflictError', code: 'CONFLICT', field: 'kind' });
    const results = await Promise.all(
      Array.from({ length: 4 }, () => connect(a.key, { kind: 'CATALOG', baseUrl: 'https://catalog.example.com' })),
    );
    expect(results.map((r) => r.__typename).sort()).toEqual([
      'ConflictError',
      'ConflictError',
      'ConflictError',
      'ConnectBackendSuccess',
    ]);
    expect(await h.store.prisma.backend.count({ where: { partnerId: a.accountId } })).toBe(2);
    // Another partner has its own slot per kind.
    const b = await h.newPartner();
    expect((await connect(b.key, { kind: 'EMBED', baseUrl: 'https://embed.example.com' })).__typename).toBe(
      'ConnectBackendSuccess',
    );
  });

  it('is for partner admins only: account admins and plain users are refused', async () => {
    const a = await h.newPartner();
    // The members first: with learning connected, creating them would write through to it (SPEC §10.4).
    const members = [await member(a, true), await member(a, false)];
    const mine = await connect(a.key, { kind: 'LEARNING', baseUrl: 'https://learning.example.com' });
    for (const token of members) {
      expect(await connect(token, { kind: 'CATALOG', baseUrl: 'https://catalog.example.com' })).toMatchObject({
        __typename: 'ForbiddenError',
        code: 'FORBIDDEN',
      });
      expect(await run(token, 'updateBackend', { id: mine.backend.id, syncIntervalSeconds: 60 })).toMatchObject({
        __typename: 'ForbiddenError',
      });
      expect(await run(token, 'disconnectBackend', { id: mine.backend.id })).toMatchObject({
        __typename: 'ForbiddenError',
      });
      const listed = await backends(token);
      expect(listed.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect((await node(token, mine.backend.id)).data.node).toBeNull();
    }
    expect((await backends(a.key)).data.backends).toHaveLength(1);
    expect((await backends(a.key)).data.backends[0].syncIntervalSeconds).toBe(300);
  });

  it("keeps partners apart: another partner's admin finds nothing", async () => {
    const a = await h.newPartner();
    const b = await h.newPartner();
    const mine = await connect(a.key, { kind: 'MESSAGING', baseUrl: 'https://messaging.example.com' });
    // The first full import connectBackend queued.
    const run_ = await h.store.prisma.syncRun.findFirstOrThrow({ where: { partnerId: a.accountId } });
    const runId = Buffer.from(`SyncRun:${run_.id}`).toString('base64');
    expect((await node(a.key, runId)).data.node).toMatchObject({ __typename: 'SyncRun', status: 'QUEUED' });
    expect(await run(b.key, 'updateBackend', { id: mine.backend.id, credential: secret() })).toMatchObject({
      __typename: 'NotFoundError',
      code: 'NOT_FOUND',
    });
    expect(await run(b.key, 'disconnectBackend', { id: mine.backend.id })).toMatchObject({
      __typename: 'NotFoundError',
    });
    expect((await node(b.key, mine.backend.id)).data.node).toBeNull();
    expect((await node(b.key, runId)).data.node).toBeNull();
    const nodes = await gql(b.key, `query ($ids: [ID!]!) { nodes(ids: $ids) { id } }`, {
      ids: [mine.backend.id, runId],
    });
    expect(nodes.data.nodes).toEqual([null, null]);
    expect((await backends(b.key)).data.backends).toEqual([]);
    // A's backend is untouched.
    expect((await backends(a.key)).data.backends).toHaveLength(1);
  });

  it('never shows a credential in any answer or log line', async () => {
    expect(secrets.length).toBeGreaterThan(10);
    expect(answers.length).toBeGreaterThan(20);
    expect(logLines.length).toBeGreaterThan(20);
    for (const value of secrets) {
      for (const answer of answers) expect(answer).not.toContain(value);
      for (const line of logLines) expect(line).not.toContain(value);
    }
  });
});

describe('the start-up check', () => {
  it('passes with the key the credentials were sealed with, and refuses another key or none', async () => {
    const a = await h.newPartner();
    await connect(a.key, { kind: 'LEARNING', baseUrl: 'https://learning.example.com' });
    // Disconnected backends keep no credential (it is wiped), so only connected ones are opened.
    const stored = await h.store.prisma.backend.count({ where: { disconnectedAt: null } });
    expect(await checkStoredCredentials(h.store.prisma, h.config)).toBe(stored);
    const other = loadConfig({ SECRETS_KEY: crypto.randomBytes(32).toString('base64') });
    await expect(checkStoredCredentials(h.store.prisma, other)).rejects.toThrow(SecretsKeyError);
    await expect(checkStoredCredentials(h.store.prisma, other)).rejects.toThrow(/not the key they were sealed with/);
    await expect(checkStoredCredentials(h.store.prisma, loadConfig({}))).rejects.toThrow(
      /stored but SECRETS_KEY is not set/,
    );
  });

  it('refuses a SECRETS_KEY that is not 32 bytes of base64', () => {
    expect(() => loadConfig({ SECRETS_KEY: 'too-short' })).toThrow(/SECRETS_KEY: must be 32 bytes, base64-encoded/);
    expect(() => loadConfig({ SECRETS_KEY: crypto.randomBytes(16).toString('base64') })).toThrow(/SECRETS_KEY/);
  });
});

describe('with BACKEND_ALLOWED_HOSTS and without SECRETS_KEY', () => {
  const restricted = useHarness({ BACKEND_ALLOWED_HOSTS: 'Catalog.Example.com, 10.0.0.5' });

  it('refuses hosts outside the list, and connecting at all without the key', async () => {
    const a = await restricted.newPartner();
    const query = `mutation ($input: ConnectBackendInput!) { connectBackend(input: $input) { ${RESULT} } }`;
    const connectTo = async (baseUrl: string) =>
      (
        await restricted.gql(
          query,
          { input: { kind: 'CATALOG', baseUrl, credential: 'catalog-key-1234' } },
          { token: a.key },
        )
      ).data.connectBackend;
    expect(await connectTo('https://other.example.com')).toMatchObject({
      __typename: 'ValidationError',
      issues: [{ field: 'input.baseUrl', message: expect.stringMatching(/BACKEND_ALLOWED_HOSTS/) }],
    });
    expect((await connectTo('http://10.0.0.6:8080')).__typename).toBe('ValidationError');
    // Allowed hosts pass the rules; without SECRETS_KEY nothing can be sealed, so nothing is stored.
    for (const allowed of ['https://catalog.example.com/api', 'http://10.0.0.5:8080', 'https://CATALOG.example.com.']) {
      expect(await connectTo(allowed)).toMatchObject({
        __typename: 'ForbiddenError',
        message: expect.stringMatching(/SECRETS_KEY/),
      });
    }
    expect(await restricted.store.prisma.backend.count()).toBe(0);
  });
});
