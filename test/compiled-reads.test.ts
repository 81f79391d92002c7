// The compiled read path (src/modules/users/compiled) against the normal executor: generated
// `users` queries — random selections, aliases, fragments, filters, orders, pages and
// cursors, as different principals — must give the same answer both ways (the same JSON
// text once whitespace is normalised: key order counts), the same status and content type,
// and the compiled path must answer a page with one SQL statement.
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import fc from 'fast-check';
import type { App } from '../src/app.js';
import { siblingApp, useHarness, watchCompiledStatements, type Partner } from './helpers/app.js';
import { createManyUsers, mutate } from './helpers/fixtures.js';
import { hs256 } from './helpers/jwt.js';

const h = useHarness();
let fast: App;
let slow: App;
let a: Partner;
let b: Partner;
let tokens: Record<string, string>;
let ids: string[];
let idsB: string[];
let subAccountId: string;
let clientGlobalId: string;

async function call(app: App, token: string, query: string, variables: object = {}) {
  const response = await app.fetch(
    new Request('http://gateway.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    }),
    { ip: '127.0.0.1' },
  );
  // Whitespace aside (PostgreSQL writes `{"a" : 1}`), the same text: key order included.
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: JSON.stringify(JSON.parse(text)),
  };
}

beforeAll(async () => {
  if (!h.ready) return;
  const make = (compiled: boolean) => siblingApp(h.store, { COMPILED_READS: String(compiled) });
  fast = make(true);
  slow = make(false);
  a = await h.newPartner('Compiled A', 'AUTOMATE');
  b = await h.newPartner('Compiled B', 'CORE');
  const sub = await mutate(
    h,
    a.key,
    'createAccount',
    { name: 'Sub', allowedIps: ['10.0.0.0/8'], smsAccess: 'DOMESTIC' },
    '... on CreateAccountSuccess { account { id ulid } }',
  );
  subAccountId = sub.account.id;
  clientGlobalId = (
    await mutate(
      h,
      a.key,
      'upsertClient',
      { identifier: 'client-x', metadata: { tier: 'gold', n: [1, 2] } },
      '... on UpsertClientSuccess { client { id } }',
    )
  ).client.id;
  ids = await createManyUsers(h, a, 60, (i) => {
    const kinds = [
      { externalUserId: `ext-${i}` },
      {
        email: `user${i}@Example.com`,
        userName: `user_${i}`,
        firstName: i % 4 ? 'Ann' : null,
        lastName: `L%${i}`,
        customFields: { i },
      },
      {
        identifier: `emb-${i}`,
        clientIdentifier: 'client-x',
        name: `Name ${i}`,
        metadata: { avatar: i % 2 ? 'a.png' : 7 },
      },
      {
        externalUserId: `all-${i}`,
        email: `all${i}@example.com`,
        identifier: `all-${i}`,
        clientIdentifier: 'client-x',
        canvasUserId: 1000 + i,
      },
    ];
    return { ...kinds[i % 4], ...(i % 5 === 0 ? { accountId: subAccountId } : {}) };
  });
  idsB = await createManyUsers(h, b, 5);
  for (const i of [1, 2, 3, 7, 11]) {
    await mutate(h, a.key, 'grantEntitlements', {
      userId: ids[i],
      kinds: i % 2 ? ['KNERD', 'CREATE_LEARNING_INSTANCE'] : ['PARTNER_GRAPH_INGEST'],
    });
    const course = await mutate(
      h,
      a.key,
      'createCourse',
      { ownerId: ids[i], title: `C${i}` },
      '... on CreateCourseSuccess { course { id } }',
    );
    await mutate(h, a.key, 'enrollUser', { userId: ids[i + 1], courseId: course.course.id });
    await mutate(h, a.key, 'recordOrder', { userId: ids[i + 1], courseId: course.course.id, amountCents: 10 * i });
  }
  await mutate(h, a.key, 'mergeUsers', { sourceId: ids[20], targetId: ids[21] });
  await mutate(h, a.key, 'mergeUsers', { sourceId: ids[22], targetId: ids[23] });
  await mutate(h, a.key, 'deleteUser', { id: ids[23], action: 'IGNORE' }); // ids[22] now points at a deleted user
  await mutate(h, a.key, 'mergeUsers', { sourceId: ids[25], targetId: ids[26] }); // 25 is in the sub-account, 26 is not
  await mutate(h, a.key, 'disableUser', { id: ids[30] });
  await mutate(h, a.key, 'deleteUser', { id: ids[31], action: 'DELETE' });
  const subAdmin = await mutate(
    h,
    a.key,
    'createUser',
    { externalUserId: 'sub-admin', accountId: subAccountId },
    '... on CreateUserSuccess { user { id uuid } }',
  );
  await mutate(h, a.key, 'addAccountAdmin', { accountId: subAccountId, userId: subAdmin.user.id });
  const plain = await h.store.prisma.user.findFirstOrThrow({ where: { externalUserId: 'ext-8' } });
  tokens = { admin: a.key, subAdmin: await hs256(subAdmin.user.uuid), plain: await hs256(plain.id), other: b.key };
});

// ------------------------------------------------------------------------ query generator

const ACCOUNT = [
  'id',
  'ulid',
  'customerId',
  'name',
  'isPartner',
  'plan',
  'canvasRootAccountUuid',
  'legacyAccess',
  'smsAccess',
  'requireIpApiAccess',
  'allowedIps',
  'status',
  'createdAt',
  'updatedAt',
  '__typename',
];
const CLIENT = ['id', 'identifier', 'metadata', 'createdAt', 'updatedAt', '__typename'];
const USER_SCALARS = [
  'id',
  'uuid',
  'status',
  'externalUserId',
  'catalogId',
  'registeredInCatalog',
  'canvasUserId',
  'canvasUserUuid',
  'userName',
  'firstName',
  'lastName',
  'email',
  'customFields',
  'timeZone',
  'locale',
  'termsOfUse',
  'identifier',
  'metadata',
  'name',
  'avatar',
  'createdAt',
  'updatedAt',
  'disabledAt',
  '__typename',
];

const pick = (names: string[]) => fc.subarray(names, { minLength: 1 });
// A few aliases per object (the document limit allows 15 in all).
const aliased = (name: string, alias: boolean) =>
  alias && ['uuid', 'email', 'metadata', 'createdAt'].includes(name) ? `al_${name}: ${name}` : name;

const userSelection = (depth: number): fc.Arbitrary<string> =>
  fc
    .record({
      scalars: pick(USER_SCALARS),
      alias: fc.boolean(),
      accounts: fc.uniqueArray(fc.tuple(fc.constantFrom('account', 'registeredAccount', 'partner'), pick(ACCOUNT)), {
        selector: ([field]) => field,
        maxLength: 3,
      }),
      client: fc.option(pick(CLIENT), { nil: undefined }),
      entitlements: fc.option(pick(['kind', 'grantedAt', '__typename']), { nil: undefined }),
      counts: fc.subarray(['courses', 'enrollments', 'orders']),
      merged: depth < 2 ? fc.option(userSelection(depth + 1), { nil: undefined }) : fc.constant(undefined),
      fragment: fc.constantFrom('none', 'inline', 'node'),
    })
    .map((s) => {
      const parts = s.scalars.map((n) => aliased(n, s.alias && depth === 0));
      for (const [field, names] of s.accounts) parts.push(`${field} { ${names.join(' ')} }`);
      if (s.client) parts.push(`client { ${s.client.join(' ')} }`);
      if (s.entitlements) parts.push(`entitlements { ${s.entitlements.join(' ')} }`);
      for (const c of s.counts) parts.push(`${c} { totalCount }`);
      if (s.merged) parts.push(`mergedInto { ${s.merged} }`);
      const body = parts.join(' ');
      return s.fragment === 'inline'
        ? `... on User { ${body} }`
        : s.fragment === 'node'
          ? `... on Node { id } ${body}`
          : body;
    });

const connectionSelection = fc
  .record({
    totalCount: fc.boolean(),
    pageInfo: fc.option(pick(['hasNextPage', 'hasPreviousPage', 'startCursor', 'endCursor', '__typename']), {
      nil: undefined,
    }),
    cursor: fc.boolean(),
    node: userSelection(0),
  })
  .map((s) =>
    [
      s.totalCount ? 'totalCount' : '',
      s.pageInfo ? `pageInfo { ${s.pageInfo.join(' ')} }` : '',
      `edges { ${s.cursor ? 'cursor ' : ''}node { ${s.node} } }`,
    ].join(' '),
  );

const filterArb = fc.record(
  {
    status: fc.constantFrom('ACTIVE', 'DISABLED', 'MERGED'),
    accountId: fc.constantFrom('sub', 'garbage'),
    clientId: fc.constantFrom('client', 'garbage'),
    createdAt: fc.constantFrom(
      { from: '2000-01-01T00:00:00Z' },
      { to: '2000-01-01T00:00:00Z' },
      { from: '2000-01-01T00:00:00Z', to: '2999-01-01T00:00:00Z' },
    ),
    registeredInCatalog: fc.boolean(),
    canvasUserId: fc.constantFrom(1003, 1007, 5),
    entitlement: fc.constantFrom('KNERD', 'PARTNER_GRAPH_INGEST', 'ALL'),
    search: fc.constantFrom('user1', 'EXAMPLE', 'L%1', 'user_1', 'a_', '  emb  ', '%'),
  },
  { requiredKeys: [] },
);

const argsArb = fc.record(
  {
    first: fc.constantFrom(0, 1, 3, 7, 20, 100, 150),
    filter: filterArb,
    orderBy: fc.record({
      field: fc.constantFrom('CREATED_AT', 'UPDATED_AT', 'EXTERNAL_USER_ID', 'EMAIL', 'CATALOG_ID'),
      direction: fc.constantFrom('ASC', 'DESC'),
    }),
  },
  { requiredKeys: [] },
);

function resolveFilter(filter: Record<string, unknown> | undefined) {
  if (!filter) return undefined;
  const out: Record<string, unknown> = { ...filter };
  if (filter.accountId) out.accountId = filter.accountId === 'sub' ? subAccountId : 'not-an-account';
  if (filter.clientId) out.clientId = filter.clientId === 'client' ? clientGlobalId : 'not-a-client';
  return out;
}

const QUERY = (selection: string, extra: string) =>
  'query Page($first: Int, $after: String, $filter: UserFilter, $orderBy: UserOrder) { ' +
  `page: users(first: $first, after: $after, filter: $filter, orderBy: $orderBy) { ${selection} } ${extra} }`;

/** Sometimes more root fields: the root __typename, or a second page under another alias. */
const extraRoot = fc.constantFrom(
  '',
  '__typename',
  'second: users(first: 2, orderBy: { field: CATALOG_ID, direction: DESC }) ' +
    '{ totalCount edges { node { uuid catalogId } } }',
);

describe('compiled reads', () => {
  it('answer generated queries exactly as the executor does', async () => {
    const watch = watchCompiledStatements(h.store);
    onTestFinished(watch.restore);
    let runs = 0;
    let compiled = 0;
    await fc.assert(
      fc.asyncProperty(
        connectionSelection,
        argsArb,
        fc.constantFrom('admin', 'subAdmin', 'plain', 'other'),
        fc.boolean(),
        extraRoot,
        async (selection, args, who, paged, extra) => {
          const variables: Record<string, unknown> = {
            ...args,
            filter: resolveFilter(args.filter as Record<string, unknown> | undefined),
          };
          if (paged) {
            // Continue from the end of a first page of the same query.
            const first = await call(
              slow,
              tokens[who]!,
              'query ($first: Int, $filter: UserFilter, $orderBy: UserOrder) ' +
                '{ users(first: $first, filter: $filter, orderBy: $orderBy) { pageInfo { endCursor } } }',
              { ...variables, first: 4 },
            );
            variables.after = JSON.parse(first.body).data?.users?.pageInfo?.endCursor ?? null;
          }
          const query = QUERY(selection, extra);
          const before = watch.count();
          const x = await call(fast, tokens[who]!, query, variables);
          runs++;
          // The compiled path answered: it sent its named statement (a count of all statements
          // would also hold a principal's reload or a key's lastUsedAt on a slow machine).
          if (watch.count() > before) compiled++;
          const y = await call(slow, tokens[who]!, query, variables);
          expect(x, `${who} ${query} ${JSON.stringify(variables)}`).toEqual(y);
        },
      ),
      { numRuns: Number(process.env.COMPILED_RUNS ?? 120) },
    );
    // Most generated queries are within the compiled path's reach (not a cursor on a nullable order).
    expect(compiled / runs).toBeGreaterThan(0.6);
  }, 180_000);

  it('answer a 100-user page with one SQL statement, the same for 10', async () => {
    const page =
      'query ($first: Int!) { users(first: $first) { totalCount pageInfo { hasNextPage endCursor } edges ' +
      '{ cursor node { id uuid status externalUserId email identifier account { id name plan } client ' +
      '{ id identifier } entitlements { kind grantedAt } mergedInto { id uuid } courses { totalCount } } } } }';
    // Warm the credential cache; the lookup also writes the key's lastUsedAt (once a minute)
    // in the background, which must settle before counting.
    await h.store.prisma.apiKey.updateMany({
      where: { partnerId: a.accountId },
      data: { lastUsedAt: new Date(Date.now() - 120_000) },
    });
    fast.authenticator.invalidate();
    await call(fast, a.key, page, { first: 1 });
    for (const first of [10, 100]) {
      await h.settle();
      const before = h.store.statementCount();
      const r = await call(fast, a.key, page, { first });
      expect(h.store.statementCount() - before).toBe(1);
      expect(JSON.parse(r.body).data.users.edges.length).toBe(Math.min(first, 60));
    }
  });

  it('leave what they do not handle to the executor, with the same answers and errors', async () => {
    const cases: [string, object][] = [
      [`{ users(last: 3) { edges { node { uuid } } } }`, {}],
      [`{ users(first: -1) { totalCount } }`, {}],
      [`{ users(after: "bm90LWEtY3Vyc29y") { totalCount } }`, {}],
      [`{ users(first: 2) { edges { node { courses(first: 1) { edges { node { title } } } } } } }`, {}],
      [`{ users(first: 2) { edges { node { uuid @include(if: true) } } } }`, {}],
      [`{ users(first: 2) { totalCount } viewer { isAdmin } }`, {}],
      [`query ($f: UserFilter) { users(filter: $f) { totalCount } }`, { f: { status: 'NOPE' } }],
    ];
    for (const [query, variables] of cases) {
      const [x, y] = [await call(fast, a.key, query, variables), await call(slow, a.key, query, variables)];
      expect(x, query).toEqual(y);
    }
  });

  it("never show another partner's users", async () => {
    const r = await call(
      fast,
      b.key,
      `{ users(first: 100, filter: { search: "all-" }) { totalCount edges { node { externalUserId } } } }`,
    );
    expect(JSON.parse(r.body).data.users).toEqual({ totalCount: 0, edges: [] });
  });
});

// ------------------------------------------------------- rows of every type (compiled/rows.ts)

const COURSE = ['id', 'title', 'enrollmentCount', 'createdAt', 'updatedAt', '__typename'];
const nested = (name: string, fields: string[]) => fc.option(pick(fields).map((f) => `${name} { ${f.join(' ')} }`));
const courseNode = fc
  .tuple(pick(COURSE), nested('owner', ['uuid', 'email', '__typename']))
  .map(([f, owner]) => [...f, owner ?? ''].join(' '));
const enrollmentNode = fc
  .tuple(pick(['id', 'createdAt', '__typename']), nested('course', COURSE), nested('user', ['uuid', 'externalUserId']))
  .map(([f, course, user]) => [...f, course ?? '', user ?? ''].join(' '));
const orderNode = fc
  .tuple(pick(['id', 'amountCents', 'createdAt', '__typename']), nested('course', COURSE), nested('user', ['uuid']))
  .map(([f, course, user]) => [...f, course ?? '', user ?? ''].join(' '));

/** A connection field with a page size, a total, page info, cursors and a node selection. */
const related = (name: string, node: fc.Arbitrary<string>) =>
  fc
    .record({
      first: fc.option(fc.constantFrom(0, 1, 2, 5, 20, 150), { nil: undefined }),
      totalCount: fc.boolean(),
      pageInfo: fc.option(pick(['hasNextPage', 'hasPreviousPage', 'startCursor', 'endCursor', '__typename']), {
        nil: undefined,
      }),
      cursor: fc.boolean(),
      node,
    })
    .map((c) =>
      [
        `${name}${c.first === undefined ? '' : `(first: ${c.first})`} {`,
        c.totalCount ? 'totalCount' : '',
        c.pageInfo ? `pageInfo { ${c.pageInfo.join(' ')} }` : '',
        `edges { ${c.cursor ? 'cursor ' : ''}node { ${c.node} } } }`,
      ].join(' '),
    );

const userRows = fc
  .tuple(
    pick(USER_SCALARS),
    fc.option(related('courses', courseNode)),
    fc.option(related('enrollments', enrollmentNode)),
    fc.option(related('orders', orderNode)),
    fc.option(pick(ACCOUNT).map((f) => `account { ${f.join(' ')} }`)),
    fc.subarray(['courses', 'enrollments', 'orders']).map((c) => c.map((n) => `n_${n}: ${n} { totalCount }`)),
  )
  .map(([scalars, ...parts]) => [...scalars, ...parts.flat()].filter(Boolean).join(' '));
const accountRows = fc
  .tuple(
    pick(ACCOUNT),
    fc.option(
      related(
        'subAccounts',
        pick(ACCOUNT).map((f) => f.join(' ')),
      ),
    ),
    fc.option(
      related(
        'users',
        pick(USER_SCALARS).map((f) => f.join(' ')),
      ),
    ),
    fc.option(pick(['name', 'ulid', 'plan']).map((f) => `parent { ${f.join(' ')} }`)),
  )
  .map(([scalars, ...parts]) => [...scalars, ...parts].filter(Boolean).join(' '));

/** One to three roots among user(id:), account(id:) and accounts, each with a generated selection. */
const rowsQuery = fc
  .record(
    {
      user: userRows,
      account: accountRows,
      accounts: related('accounts', accountRows),
      typename: fc.constant('__typename'),
    },
    { requiredKeys: [] },
  )
  .filter((r) => Boolean(r.user || r.account || r.accounts))
  .map((r) =>
    [
      r.user ? `u: user(id: $user) { ${r.user} }` : '',
      r.account ? `acc: account(id: $account) { ${r.account} }` : '',
      r.accounts ?? '',
      r.typename ?? '',
    ].join(' '),
  );

/**
 * The errors of two roots come in the order their resolvers finished (on the server, the order
 * of two concurrent statements): compared as a set, the rest of the text exactly.
 */
function errorsInAnyOrder(r: Awaited<ReturnType<typeof call>>) {
  const body = JSON.parse(r.body) as { errors?: unknown[] };
  body.errors = body.errors?.map((e) => JSON.stringify(e)).sort();
  return { ...r, body: JSON.stringify(body) };
}

describe('compiled reads of rows by id and of the account list', () => {
  it('answer generated queries exactly as the executor does, for every kind of caller', async () => {
    const watch = watchCompiledStatements(h.store);
    onTestFinished(watch.restore);
    let runs = 0;
    let compiled = 0;
    // Users: plain, in the sub-account, merged, deleted, another partner's, unknown, malformed.
    const users = () => [ids[1]!, ids[5]!, ids[20]!, ids[31]!, idsB[0]!, 'VXNlcjpub3BlCg==', 'not-an-id'];
    const accounts = () => [a.accountGlobalId, subAccountId, b.accountGlobalId, 'not-an-id'];
    await fc.assert(
      fc.asyncProperty(
        rowsQuery,
        fc.constantFrom('admin', 'subAdmin', 'plain', 'other'),
        fc.nat(),
        fc.nat(),
        async (selection, who, u, acc) => {
          const uses = (name: string) => selection.includes(`$${name}`);
          const definitions = [uses('user') ? '$user: ID!' : '', uses('account') ? '$account: ID!' : ''].filter(
            Boolean,
          );
          const query = `query Rows${definitions.length ? `(${definitions.join(', ')})` : ''} { ${selection} }`;
          const variables = {
            ...(uses('user') ? { user: users()[u % users().length] } : {}),
            ...(uses('account') ? { account: accounts()[acc % accounts().length] } : {}),
          };
          const before = watch.count();
          const x = await call(fast, tokens[who]!, query, variables);
          runs++;
          if (watch.count() > before) compiled++;
          const y = await call(slow, tokens[who]!, query, variables);
          expect(errorsInAnyOrder(x), `${who} ${query} ${JSON.stringify(variables)}`).toEqual(errorsInAnyOrder(y));
        },
      ),
      { numRuns: Number(process.env.COMPILED_RUNS ?? 120) },
    );
    // The planner answers a good share itself (not: a by-id row the caller cannot see, a
    // document over the size of one statement's arguments).
    expect(compiled / runs).toBeGreaterThan(0.3);
  }, 180_000);
});
