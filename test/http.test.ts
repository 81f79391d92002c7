// The HTTP surface without credentials, health checks, GraphiQL, error masking.
import { beforeAll, describe, expect, it } from 'vitest';
import { useHarness, type Partner } from './helpers/app.js';

const h = useHarness();
let partner: Partner;

beforeAll(async () => {
  if (!h.ready) return;
  partner = await h.newPartner('Http');
});

describe('without credentials', () => {
  it('only health checks and the GraphiQL page answer', async () => {
    expect((await h.request('/healthz')).status).toBe(200);
    const ready = await h.request('/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
    const page = await h.request('/graphql', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const post = await h.request('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query":"{ viewer { isAdmin } }"}',
    });
    expect(post.status).toBe(401);
    expect((await post.json()).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    const get = await h.request('/graphql?query=%7B__typename%7D', { headers: { accept: 'application/json' } });
    expect(get.status).toBe(401);
    for (const path of [
      '/rest/learning/openapi.json',
      '/rest/learning/accounts/current',
      '/rest/catalog/api/v1/users',
      '/rest/messaging/api/v1/accounts',
      '/rest/embed/v1/headless/clients',
    ]) {
      const r = await h.request(path);
      expect([401, 404], path).toContain(r.status);
    }
  }, 90_000);
});

describe('GraphiQL', () => {
  it('is self-contained (no CDN), compressed and cacheable', async () => {
    const r = await h.request('/graphql', { headers: { accept: 'text/html', 'accept-encoding': 'gzip' } });
    expect(r.headers.get('content-encoding')).toBe('gzip');
    const etag = r.headers.get('etag')!;
    const html = await new Response(r.body!.pipeThrough(new DecompressionStream('gzip'))).text();
    expect(html).toMatch(/graphiql/i);
    expect(html).not.toMatch(/unpkg\.com|cdn\.jsdelivr\.net|esm\.sh/);
    expect(r.headers.get('vary')).toBe('Accept, Accept-Encoding');
    // An ETag per encoding (test/unit/graphiql.test.ts covers the negotiation).
    const again = await h.request('/graphql', {
      headers: { accept: 'text/html', 'accept-encoding': 'gzip', 'if-none-match': etag },
    });
    expect(again.status).toBe(304);
    const identity = await h.request('/graphql', { headers: { accept: 'text/html', 'if-none-match': etag } });
    expect(identity.status).toBe(200);
    expect(identity.headers.get('content-encoding')).toBeNull();
  }, 90_000);
});

describe('responses', () => {
  it('carry a request id, echoing a sane one', async () => {
    const r = await h.request('/healthz', { headers: { 'x-request-id': 'abc-123' } });
    expect(r.headers.get('x-request-id')).toBe('abc-123');
    const generated = await h.request('/healthz', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    // A GraphQL answer (yoga's, handed on as text) carries it too.
    const graph = await h.request('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'graph-1' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(graph.headers.get('x-request-id')).toBe('graph-1');
  });

  it('answer unknown routes with a JSON 404', async () => {
    const r = await h.request('/nope');
    expect(r.status).toBe(404);
    expect(await r.json()).toMatchObject({ error: expect.stringContaining('no route') });
  });

  it('never leak internals for a failing query', async () => {
    const r = await h.gql(`{ users(first: -5) { edges { node { id } } } }`, {}, { token: partner.key });
    const text = JSON.stringify(r);
    expect(text).not.toMatch(/prisma|SELECT|at .*\.(ts|js):\d+/i);
    expect(r.errors?.length).toBeGreaterThan(0);
  });

  it('answer wrong variable types with a 400 (GraphQL over HTTP), not a 500', async () => {
    const r = await h.gql(`query ($n: Int) { users(first: $n) { totalCount } }`, { n: 'many' }, { token: partner.key });
    expect(r.status).toBe(400);
    expect(r.errors?.[0]?.message).toMatch(/Int/);
  });
});
