// The GraphiQL page: every asset inlined (works offline), a sign-in form in front of it, ready
// example operations, federation's entry points hidden; rendered and compressed once, served
// with per-encoding ETags.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { getNamedType, isObjectType, isLeafType, parse, validate, type GraphQLSchema } from 'graphql';

const TITLE = 'account-gateway';

/** What GraphiQL's docs and autocomplete leave out: a router's business, not an analyst's. */
const HIDDEN_TYPES = ['_Any', '_Entity', '_Service'];
const HIDDEN_QUERY_FIELDS = ['_entities', '_service'];

export interface ExampleOperation {
  query: string;
  variables?: Record<string, unknown>;
}

/**
 * The tabs a fresh GraphiQL opens with (GraphiQL keeps the analyst's own tabs in
 * localStorage after that). Each is checked against the schema (test/unit/graphiql.test.ts);
 * the sync runs tab appears once the schema has `syncRuns`.
 */
export function exampleOperations(target: GraphQLSchema): ExampleOperation[] {
  const examples: ExampleOperation[] = [
    {
      query: `# Who you are signed in as, and the first users of your partner.
# Each tab holds an example; Ctrl-Space completes, the Docs explorer (left) lists every field.
query Viewer {
  viewer { isAdmin isPartnerAdmin partner { name plan } }
  users(first: 10) {
    totalCount
    edges { node { id uuid status externalUserId email identifier createdAt entitlements { kind } } }
  }
}
`,
    },
    {
      query: `# Users created in a time range (both ends inclusive, either may be left out), oldest first.
query UsersCreatedBetween($from: DateTime, $to: DateTime, $after: String) {
  users(
    first: 50
    after: $after
    filter: { createdAt: { from: $from, to: $to } }
    orderBy: { field: CREATED_AT, direction: ASC }
  ) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id uuid email externalUserId status createdAt account { name } } }
  }
}
`,
      variables: { from: '2026-01-01T00:00:00Z', to: '2026-12-31T23:59:59Z', after: null },
    },
    {
      query: `# Users holding an entitlement (see EntitlementKind in the Docs explorer for the kinds).
query UsersByEntitlement($kind: EntitlementKind!) {
  users(first: 50, filter: { entitlement: $kind, status: ACTIVE }) {
    totalCount
    edges { node { id email externalUserId entitlements { kind grantedAt grantedBy { email } } } }
  }
}
`,
      variables: { kind: 'PARTNER_ADMIN' },
    },
    {
      query: `# Search users by e-mail, name, external id or identifier (up to 255 characters).
query SearchUsers($search: String!) {
  users(first: 20, filter: { search: $search }) {
    totalCount
    edges { node { id email firstName lastName externalUserId identifier status account { name } } }
  }
}
`,
      variables: { search: 'example' },
    },
    {
      query: `# Your partner's account tree, three levels deep (subAccounts is a connection: page it with after:).
query AccountTree {
  viewer {
    partner {
      ...AccountSummary
      subAccounts(first: 50) {
        totalCount
        edges {
          node {
            ...AccountSummary
            subAccounts(first: 50) {
              totalCount
              edges { node { ...AccountSummary subAccounts(first: 1) { totalCount } } }
            }
          }
        }
      }
    }
  }
}

fragment AccountSummary on Account { id name status plan isPartner createdAt }
`,
    },
    {
      query: `# Audit events, newest first: who did what to which subject. action takes an exact
# action or a prefix ending in "." such as "user.".
query AuditEvents($from: DateTime, $action: String, $after: String) {
  auditEvents(first: 50, after: $after, filter: { createdAt: { from: $from }, action: $action }) {
    pageInfo { hasNextPage endCursor }
    edges { node { createdAt action actorKind actorId subjectType subjectId data } }
  }
}
`,
      variables: { from: '2026-01-01T00:00:00Z', action: 'user.', after: null },
    },
  ];
  const syncRuns = syncRunsExample(target);
  if (syncRuns) examples.push(syncRuns);
  return examples.filter((example) => validate(target, parse(example.query)).length === 0);
}

/** Sync runs, once the schema has them: every scalar field of a run, newest page first. */
function syncRunsExample(target: GraphQLSchema): ExampleOperation | null {
  const field = target.getQueryType()?.getFields().syncRuns;
  if (!field) return null;
  const connection = getNamedType(field.type);
  const node = isObjectType(connection) ? getNamedType(connection.getFields().edges?.type) : null;
  const run = node && isObjectType(node) ? getNamedType(node.getFields().node?.type) : null;
  if (!run || !isObjectType(run)) return null;
  const leaves = Object.values(run.getFields())
    .filter((f) => isLeafType(getNamedType(f.type)) && f.args.every((a) => a.type.toString().slice(-1) !== '!'))
    .map((f) => f.name);
  if (leaves.length === 0) return null;
  return {
    query: `# Synchronisation runs.
query SyncRuns {
  syncRuns(first: 20) {
    edges { node { ${leaves.join(' ')} } }
  }
}
`,
  };
}

/** Options handed to GraphiQL in the page (JSON: the fetcher is added by the sign-in script). */
function graphiqlOptions(schema: GraphQLSchema) {
  const tabs = exampleOperations(schema).map((example) => ({
    query: example.query,
    variables: example.variables ? JSON.stringify(example.variables, null, 2) : null,
    headers: null,
  }));
  return {
    title: TITLE,
    defaultTabs: tabs,
    defaultQuery: tabs[0]?.query,
    // The key lives in sessionStorage (sign-in script), never in GraphiQL's localStorage.
    shouldPersistHeaders: false,
    visiblePlugin: 'Documentation Explorer',
  };
}

const SIGN_IN_STYLE = `
.ag-signin { position: fixed; inset: 0; display: flex; align-items: center; justify-content: center;
  background: hsl(219, 28%, 97%); font-family: system-ui, sans-serif; color: hsl(219, 28%, 18%); }
.ag-signin[hidden], #root[hidden] { display: none; }
.ag-signin form { width: min(28rem, 90vw); padding: 2rem; border-radius: 12px; background: #fff;
  box-shadow: 0 2px 16px rgba(0,0,0,.12); display: flex; flex-direction: column; gap: .75rem; }
.ag-signin h1 { margin: 0; font-size: 1.4rem; }
.ag-signin p { margin: 0; line-height: 1.4; }
.ag-signin label { font-weight: 600; }
.ag-signin input { font: inherit; padding: .55rem .7rem; border: 1px solid hsl(219, 15%, 70%); border-radius: 6px; }
.ag-signin button { font: inherit; padding: .55rem .7rem; border: 0; border-radius: 6px;
  background: hsl(330, 86%, 44%); color: #fff; cursor: pointer; }
.ag-signin button:disabled { opacity: .6; cursor: wait; }
.ag-message { min-height: 1.4em; }
.ag-message.ag-error { color: hsl(0, 70%, 42%); font-weight: 600; }
.ag-note { font-size: .85rem; color: hsl(219, 10%, 40%); }
.ag-session { position: fixed; right: 12px; bottom: 10px; z-index: 100; padding: .3rem .4rem .3rem .75rem;
  border-radius: 999px; background: #fff; box-shadow: 0 1px 6px rgba(0,0,0,.18); font: .8rem system-ui, sans-serif;
  color: hsl(219, 28%, 18%); }
.ag-session[hidden] { display: none; }
.ag-signout { margin-left: .4rem; font: inherit; padding: .15rem .6rem; border: 1px solid hsl(219, 15%, 70%);
  border-radius: 999px; background: #fff; cursor: pointer; }
`;

const SIGN_IN_FORM = `
<style>${SIGN_IN_STYLE}</style>
<main id="ag-signin" class="ag-signin" hidden>
  <form id="ag-form" autocomplete="off" aria-labelledby="ag-heading">
    <h1 id="ag-heading">${TITLE} · GraphiQL</h1>
    <p>Sign in with an API key of your partner to explore the graph: the schema, its documentation and autocomplete
      load as soon as the key is accepted.</p>
    <label for="ag-key">API key</label>
    <input id="ag-key" name="apiKey" type="password" autocomplete="off" spellcheck="false" required>
    <button id="ag-submit" type="submit">Sign in</button>
    <p id="ag-message" class="ag-message" role="alert" aria-live="polite"></p>
    <p class="ag-note">The key is kept in this browser tab only (session storage, gone when the tab closes) and sent
      nowhere but <code id="ag-origin"></code>.</p>
  </form>
</main>
<div id="ag-session" class="ag-session" hidden></div>
`;

/** JSON inside a script element: `<` escaped so no string can close the element. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

const CALL = 'YogaGraphiQL.renderYogaGraphiQL(';

/** The page as HTML: yoga's offline GraphiQL with its mount call replaced by the sign-in script. */
export function graphiqlHtml(schema: GraphQLSchema): string {
  const html = renderGraphiQL({ title: TITLE });
  // render-graphiql ends its script with a call that mounts GraphiQL at once, unauthenticated:
  // that call is replaced by the sign-in script, which mounts it once a key is known.
  const call = html.lastIndexOf(CALL);
  const end = call < 0 ? -1 : html.indexOf(');', call);
  const root = html.indexOf('<div id="root"></div>');
  if (call < 0 || end < 0 || root < 0 || root > call)
    throw new Error('@graphql-yoga/render-graphiql changed its page template: update src/graphql/graphiql.ts');
  const config = {
    endpoint: '/graphql',
    title: TITLE,
    hiddenTypes: HIDDEN_TYPES,
    hiddenQueryFields: HIDDEN_QUERY_FIELDS,
    graphiql: graphiqlOptions(schema),
  };
  const signIn = fs.readFileSync(new URL('./graphiql-signin.js', import.meta.url), 'utf8');
  const script = `window.__ACCOUNT_GATEWAY_GRAPHIQL__ = ${scriptJson(config)};\n${signIn}`;
  return (
    html.slice(0, root) +
    SIGN_IN_FORM +
    '<div id="root" hidden></div>' +
    html.slice(root + '<div id="root"></div>'.length, call) +
    script +
    html.slice(end + 2)
  );
}

export type Encoding = 'br' | 'gzip' | 'identity';

interface Variant {
  body: Uint8Array<ArrayBuffer>;
  etag: string;
}

export type GraphiQLPage = Record<Encoding, Variant>;

const gzip = promisify(zlib.gzip);
const brotli = promisify(zlib.brotliCompress);
const pages = new WeakMap<GraphQLSchema, Promise<GraphiQLPage>>();

/**
 * The page of a schema in each encoding, built on first use. Compression runs on libuv's thread pool
 * (brotli quality 9: 9 MB → 1.9 MB in about a second; 11 would take 14 s for 8% less), so
 * the event loop keeps serving meanwhile. The ETag derives from the content, so replicas
 * running the same release agree on it.
 */
export function graphiqlPage(schema: GraphQLSchema): Promise<GraphiQLPage> {
  let page = pages.get(schema);
  if (!page) {
    page = build(schema).catch((error: unknown) => {
      pages.delete(schema);
      throw error;
    });
    pages.set(schema, page);
  }
  return page;
}

async function build(schema: GraphQLSchema): Promise<GraphiQLPage> {
  const html = Buffer.from(graphiqlHtml(schema), 'utf8');
  const [gzipped, brotlied] = await Promise.all([
    gzip(html, { level: 9 }),
    brotli(html, {
      params: {
        [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
        [zlib.constants.BROTLI_PARAM_QUALITY]: 9,
        [zlib.constants.BROTLI_PARAM_SIZE_HINT]: html.length,
      },
    }),
  ]);
  const tag = crypto.createHash('sha256').update(html).digest('base64url').slice(0, 22);
  return {
    identity: { body: new Uint8Array(html), etag: `"graphiql-${tag}"` },
    gzip: { body: new Uint8Array(gzipped), etag: `"graphiql-${tag}-gzip"` },
    br: { body: new Uint8Array(brotlied), etag: `"graphiql-${tag}-br"` },
  };
}

/**
 * The coding to answer with (RFC 9110 §12.5.3): the acceptable one with the highest q, brotli
 * before gzip on a tie; identity when neither is acceptable, or when the header is absent, or
 * when identity is listed with a higher q.
 */
export function negotiateEncoding(acceptEncoding: string | null | undefined): Encoding {
  const q = new Map<string, number>();
  for (const part of (acceptEncoding ?? '').split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    if (!name) continue;
    let weight = 1;
    for (const param of params) {
      const match = /^\s*q\s*=\s*([0-9.]+)\s*$/.exec(param);
      if (match) weight = Math.min(1, Number(match[1]) || 0);
    }
    q.set(name, weight);
  }
  const weight = (name: string) => q.get(name) ?? q.get('*') ?? 0;
  let best: Encoding = 'identity';
  let bestQ = 0;
  for (const coding of ['br', 'gzip'] as const) {
    if (weight(coding) > bestQ) {
      best = coding;
      bestQ = weight(coding);
    }
  }
  if (best !== 'identity' && (q.get('identity') ?? 0) > bestQ) return 'identity';
  return best;
}

/** Whether an If-None-Match header names this ETag (weak comparison, as RFC 9110 §13.1.2 asks). */
function matches(ifNoneMatch: string | null, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const strip = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || strip(tag) === etag);
}

/**
 * The page is public (no key in it), so any cache may keep it; the key never reaches another
 * origin: the CSP lets the page connect to its own origin only, and no frame may embed it.
 */
const HEADERS = {
  'cache-control': 'public, max-age=3600',
  // /graphql serves this page or a GraphQL answer depending on Accept.
  vary: 'Accept, Accept-Encoding',
  'content-security-policy':
    "default-src 'none'; script-src 'unsafe-inline' blob:; worker-src blob:; " +
    "style-src 'unsafe-inline'; img-src 'self' data: blob:; font-src data:; " +
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

/** The answer to a browser's GET /graphql: the page in the best accepted encoding, or a 304. */
export async function graphiqlResponse(request: Request, schema: GraphQLSchema): Promise<Response> {
  const encoding = negotiateEncoding(request.headers.get('accept-encoding'));
  const variant = (await graphiqlPage(schema))[encoding];
  const headers = new Headers({ ...HEADERS, etag: variant.etag });
  if (matches(request.headers.get('if-none-match'), variant.etag)) return new Response(null, { status: 304, headers });
  headers.set('content-type', 'text/html; charset=utf-8');
  headers.set('content-length', String(variant.body.byteLength));
  if (encoding !== 'identity') headers.set('content-encoding', encoding);
  return new Response(request.method === 'HEAD' ? null : variant.body, { status: 200, headers });
}
