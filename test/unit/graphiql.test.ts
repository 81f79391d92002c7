// The GraphiQL page as HTTP serves it: encodings, Vary, per-encoding ETags, 304s, caching;
// its content (offline, sign-in form, no placeholder key) and its example operations.
import zlib from 'node:zlib';
import { parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { exampleOperations, graphiqlHtml, graphiqlResponse, negotiateEncoding } from '../../src/graphql/graphiql.js';
import { schema } from '../../src/schema.js';

const get = (headers: Record<string, string> = {}, method = 'GET') =>
  graphiqlResponse(
    new Request('http://gateway.test/graphql', { method, headers: { accept: 'text/html', ...headers } }),
    schema,
  );

describe('Accept-Encoding negotiation', () => {
  it.each([
    [undefined, 'identity'],
    ['', 'identity'],
    ['identity', 'identity'],
    ['gzip, deflate, br, zstd', 'br'],
    ['gzip, deflate', 'gzip'],
    ['GZIP', 'gzip'],
    ['br;q=0.5, gzip', 'gzip'],
    ['br;q=0, gzip;q=0', 'identity'],
    ['deflate, zstd', 'identity'],
    ['*', 'br'],
    ['*;q=0.5, br;q=0', 'gzip'],
    ['gzip;q=0.2, identity;q=0.9', 'identity'],
  ] as const)('%j → %s', (header, expected) => {
    expect(negotiateEncoding(header)).toBe(expected);
  });
});

describe('GraphiQL over HTTP', () => {
  it('serves br, gzip or identity, the same page in each, with Vary and an ETag per encoding', async () => {
    const br = await get({ 'accept-encoding': 'gzip, deflate, br' });
    const gzip = await get({ 'accept-encoding': 'gzip' });
    const identity = await get();
    const html = graphiqlHtml(schema);
    for (const [response, encoding] of [
      [br, 'br'],
      [gzip, 'gzip'],
      [identity, null],
    ] as const) {
      expect(response.status).toBe(200);
      expect(response.headers.get('content-encoding')).toBe(encoding);
      expect(response.headers.get('vary')).toBe('Accept, Accept-Encoding');
      expect(response.headers.get('cache-control')).toBe('public, max-age=3600');
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('content-security-policy')).toContain("connect-src 'self'");
      const body = Buffer.from(await response.arrayBuffer());
      expect(Number(response.headers.get('content-length'))).toBe(body.length);
      const text = (
        encoding === 'br' ? zlib.brotliDecompressSync(body) : encoding === 'gzip' ? zlib.gunzipSync(body) : body
      ).toString('utf8');
      expect(text).toBe(html);
    }
    const tags = [br, gzip, identity].map((r) => r.headers.get('etag'));
    expect(new Set(tags).size).toBe(3);
    for (const tag of tags) expect(tag).toMatch(/^"graphiql-[\w-]+"$/);
    // 9 MB of HTML goes out as about 2 MB.
    expect(Number(br.headers.get('content-length'))).toBeLessThan(Number(gzip.headers.get('content-length')));
    expect(Number(gzip.headers.get('content-length'))).toBeLessThan(Number(identity.headers.get('content-length')) / 3);
  });

  it('answers 304 to the ETag of the encoding it would send, and 200 to another encoding', async () => {
    const first = await get({ 'accept-encoding': 'br' });
    const etag = first.headers.get('etag')!;
    const again = await get({ 'accept-encoding': 'br', 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.headers.get('etag')).toBe(etag);
    expect(again.headers.get('vary')).toBe('Accept, Accept-Encoding');
    expect(again.headers.get('cache-control')).toBe('public, max-age=3600');
    expect(again.body).toBeNull();
    expect((await get({ 'accept-encoding': 'br', 'if-none-match': `"other", W/${etag}` })).status).toBe(304);
    expect((await get({ 'accept-encoding': 'br', 'if-none-match': '*' })).status).toBe(304);
    // A cache that negotiated gzip before, asking for gzip again: its tag, not br's.
    const gzip = await get({ 'accept-encoding': 'gzip', 'if-none-match': etag });
    expect(gzip.status).toBe(200);
    expect(gzip.headers.get('content-encoding')).toBe('gzip');
  });

  it('answers HEAD with the headers and no body', async () => {
    const head = await get({ 'accept-encoding': 'gzip' }, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers.get('content-encoding')).toBe('gzip');
    expect(head.body).toBeNull();
  });
});

describe('the page', () => {
  const html = graphiqlHtml(schema);
  it('is self-contained: no script, style, image or font from another origin', () => {
    expect(html).not.toMatch(/<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/unpkg\.com|cdn\.jsdelivr\.net|esm\.sh/);
  });

  it('asks for the key in a form instead of introspecting with a placeholder', () => {
    expect(html).toContain('<input id="ag-key"');
    expect(html).not.toContain('<API key>');
    // The mount call of render-graphiql is replaced: GraphiQL mounts once a key is known.
    expect(html.match(/YogaGraphiQL\.renderYogaGraphiQL\(root/g)).toHaveLength(1);
    expect(html).not.toContain("YogaGraphiQL.renderYogaGraphiQL(\n          window.document.querySelector('#root')");
  });
});

describe('example operations', () => {
  it('are all valid against the schema, one operation each, with JSON variables', () => {
    const examples = exampleOperations(schema);
    const names = examples.map((e) => {
      const document = parse(e.query);
      expect(validate(schema, document)).toEqual([]);
      const operations = document.definitions.filter((d) => d.kind === 'OperationDefinition');
      expect(operations).toHaveLength(1);
      return operations[0]!.name?.value;
    });
    const expected = [
      'Viewer',
      'UsersCreatedBetween',
      'UsersByEntitlement',
      'SearchUsers',
      'AccountTree',
      'AuditEvents',
    ];
    if (schema.getQueryType()!.getFields().syncRuns) expected.push('SyncRuns');
    expect(names).toEqual(expected);
  });
});
