// The read shapes of issue #14, each as a request to the gateway and, where PostGraphile has
// the same read, as the PostGraphile query over the same tables (bench/postgraphile.ts)
// that answers the same data. Field names differ between the two graphs: the pairs map them
// with aliases and selections in the queries themselves, so that after `normalise` (dates to
// one ISO form, nothing else) the two answers are equal JSON.
import type pg from 'pg';
import type { BenchData } from './data.js';
import { globalId } from '../src/graphql/ids.js';
import { REST_LISTS, gqlBody } from './queries.js';

export interface ShapeRequest {
  method: 'GET' | 'POST';
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface Shape {
  /** The name `--only` takes. */
  key: string;
  title: string;
  gateway: ShapeRequest;
  /** The data of the gateway's answer that PostGraphile's must equal (and a check that it has any). */
  gatewayData: (body: any) => unknown;
  /**
   * How many items the gateway's answer holds: at least `expectedItems` (a check that the shape
   * reads what it says).
   */
  items: (body: any) => number;
  expectedItems: number;
  postgraphile?: { body: string; data: (body: any) => unknown };
}

export interface ShapeContext {
  partnerId: string;
  key: string;
  /** The first 100 users of the page (by id), uuids. */
  pageUserIds: string[];
  /** A user of the partner with courses, enrollments and orders. */
  detailUserId: string;
  search: string;
  range: { from: string; to: string };
}

export const SHAPE_KEYS = [
  'page',
  'tree',
  'detail',
  'search',
  'range',
  'entities',
  'nodes',
  'catalog',
  'embed',
] as const;

/** Reads the ids the shapes need from the bench's database. */
export async function shapeContext(pool: pg.Pool, data: BenchData): Promise<ShapeContext> {
  const partner = data.partners[0]!;
  const page = await pool.query<{ id: string }>(
    `SELECT id FROM "User" WHERE "partnerId" = $1 AND "deletedAt" IS NULL ORDER BY id LIMIT 100`,
    [partner.id],
  );
  const detail = await pool.query<{ id: string }>(
    `SELECT u.id FROM "User" u WHERE u."partnerId" = $1 AND u."deletedAt" IS NULL
     ORDER BY (SELECT count(*) FROM "Course" c WHERE c."ownerId" = u.id)
            + (SELECT count(*) FROM "Enrollment" e WHERE e."userId" = u.id)
            + (SELECT count(*) FROM "Order" o WHERE o."userId" = u.id) DESC, u.id LIMIT 1`,
    [partner.id],
  );
  return {
    partnerId: partner.id,
    key: partner.key,
    pageUserIds: page.rows.map((r) => r.id),
    detailUserId: detail.rows[0]!.id,
    search: 'user1',
    // Users are created a minute apart from 2024-01-01: this range holds thousands.
    range: { from: '2024-01-02T00:00:00.000Z', to: '2024-01-05T00:00:00.000Z' },
  };
}

const auth = (key: string) => ({
  'content-type': 'application/json',
  accept: 'application/graphql-response+json',
  authorization: `Bearer ${key}`,
});

const post = (key: string, query: string, variables: Record<string, unknown>): ShapeRequest => ({
  method: 'POST',
  path: '/graphql',
  headers: auth(key),
  body: gqlBody(query, variables),
});

/** Timestamps in one form: PostGraphile writes `2024-01-01T00:00:00`, the gateway `…00.000Z`. */
const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?$/;
export function normalise(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(normalise);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]));
  if (typeof value === 'string' && TIMESTAMP.test(value))
    return new Date(/[Z+-]\d*:?\d*$/.test(value.slice(19)) ? value : `${value}Z`).toISOString();
  return value;
}

// The User selection of the page (test/graph-reads.test.ts), in the gateway's names and in
// PostGraphile's (aliases give PostGraphile's fields the gateway's names; global ids differ
// between the two graphs, so both sides compare the row ids: uuid, ulid).
const USER_FIELDS = `uuid status externalUserId email identifier
      account { ulid name plan }
      client { identifier }
      entitlements { kind grantedAt }
      mergedInto { uuid }
      courses { totalCount }`;
const PG_USER_FIELDS = `uuid: rowId status externalUserId email identifier
      account: accountByAccountId { ulid: rowId name plan: effectivePlan }
      client: clientByClientId { identifier }
      entitlements: entitlementsByUserId(orderBy: KIND_ASC) { nodes { kind grantedAt } }
      mergedInto: userByMergedIntoId { uuid: rowId }
      courses: coursesByOwnerId(condition: { partnerId: $partner }) { totalCount }`;
// PostGraphile's lists are connections; the gateway's entitlements a plain list.
const pgUser = (u: any) => u && { ...u, entitlements: u.entitlements.nodes };

export function shapes(c: ShapeContext): Shape[] {
  const userCondition = `{ partnerId: $partner, deletedAt: null }`;
  const list = (first: number, filter: string) => ({
    gateway: `query Q($first: Int!${filter ? ', $filter: UserFilter' : ''}) {
  users(first: $first${filter ? ', filter: $filter' : ''}) { totalCount edges { node { ${USER_FIELDS} } } }
}`,
    first,
  });
  const page = list(100, '');
  const connectionData = (b: any) => ({
    totalCount: b?.data?.users?.totalCount,
    nodes: b?.data?.users?.edges?.map((e: any) => e.node),
  });
  const pgConnectionData = (b: any) => ({
    totalCount: b?.data?.users?.totalCount,
    nodes: b?.data?.users?.nodes?.map(pgUser),
  });
  const edgesCount = (b: any) => b?.data?.users?.edges?.length ?? 0;
  const out: Shape[] = [
    {
      key: 'page',
      title: 'users page of 100 (account, client, entitlements, mergedInto, course count)',
      gateway: post(c.key, page.gateway, { first: 100 }),
      gatewayData: connectionData,
      items: edgesCount,
      expectedItems: 100,
      postgraphile: {
        // totalCount: the dialect answers every page with the list's total (X-Total-Count, the
        // Link header's rel="last"), so the same answer costs PostGraphile the same count.
        body: gqlBody(
          `query Q($partner: String!) {
  users: allUsers(first: 100, condition: ${userCondition}, orderBy: PRIMARY_KEY_ASC) {
    totalCount nodes { ${PG_USER_FIELDS} }
  }
}`,
          { partner: c.partnerId },
        ),
        data: pgConnectionData,
      },
    },
    {
      key: 'tree',
      title: 'account tree: 20 accounts × (10 sub-accounts, 10 users, users totalCount)',
      gateway: post(
        c.key,
        `query Q {
  accounts(first: 20) { edges { node {
    ulid name
    subAccounts(first: 10) { edges { node { ulid name } } }
    users(first: 10) { totalCount edges { node { uuid externalUserId email } } }
  } } }
}`,
        {},
      ),
      gatewayData: (b) =>
        b?.data?.accounts?.edges?.map(({ node: a }: any) => ({
          ulid: a.ulid,
          name: a.name,
          subAccounts: a.subAccounts.edges.map((e: any) => e.node),
          users: { totalCount: a.users.totalCount, nodes: a.users.edges.map((e: any) => e.node) },
        })),
      items: (b) => b?.data?.accounts?.edges?.length ?? 0,
      expectedItems: 2,
      postgraphile: {
        body: gqlBody(
          `query Q($partner: String!) {
  accounts: allAccounts(first: 20, condition: { partnerId: $partner }, orderBy: PRIMARY_KEY_ASC) { nodes {
    ulid: rowId name
    subAccounts: accountsByParentId(first: 10, orderBy: PRIMARY_KEY_ASC) { nodes { ulid: rowId name } }
    users: usersByAccountId(first: 10, condition: { deletedAt: null }, orderBy: PRIMARY_KEY_ASC) {
      totalCount nodes { uuid: rowId externalUserId email }
    }
  } }
}`,
          { partner: c.partnerId },
        ),
        data: (b) => b?.data?.accounts?.nodes?.map((a: any) => ({ ...a, subAccounts: a.subAccounts.nodes })),
      },
    },
    {
      key: 'detail',
      title: 'user detail by id: courses (20, with enrollment count), enrollments (20, with course), orders (20)',
      gateway: post(
        c.key,
        `query Q($id: ID!) {
  user(id: $id) {
    uuid email
    courses(first: 20) { totalCount edges { node { id title enrollmentCount createdAt } } }
    enrollments(first: 20) { edges { node { createdAt course { title } } } }
    orders(first: 20) { edges { node { amountCents createdAt course { title } } } }
  }
}`,
        { id: globalId('User', c.detailUserId) },
      ),
      gatewayData: (b) => {
        const u = b?.data?.user;
        return (
          u && {
            uuid: u.uuid,
            email: u.email,
            courses: {
              totalCount: u.courses.totalCount,
              nodes: u.courses.edges.map(({ node: { id: _id, ...n } }: any) => n),
            },
            enrollments: u.enrollments.edges.map((e: any) => e.node),
            orders: u.orders.edges.map((e: any) => e.node),
          }
        );
      },
      items: (b) => (b?.data?.user ? 1 : 0),
      expectedItems: 1,
      postgraphile: {
        body: gqlBody(
          `query Q($id: UUID!, $partner: String!) {
  user: userByRowId(rowId: $id) {
    uuid: rowId email
    courses: coursesByOwnerId(first: 20, condition: { partnerId: $partner }, orderBy: PRIMARY_KEY_ASC) {
      totalCount nodes { title enrollmentCount: enrollmentsByCourseId { totalCount } createdAt }
    }
    enrollments: enrollmentsByUserId(first: 20, condition: { partnerId: $partner }, orderBy: PRIMARY_KEY_ASC) {
      nodes { createdAt course: courseByCourseId { title } }
    }
    orders: ordersByUserId(first: 20, condition: { partnerId: $partner }, orderBy: PRIMARY_KEY_ASC) {
      nodes { amountCents createdAt course: courseByCourseId { title } }
    }
  }
}`,
          { id: c.detailUserId, partner: c.partnerId },
        ),
        data: (b) => {
          const u = b?.data?.user;
          return (
            u && {
              ...u,
              courses: {
                totalCount: u.courses.totalCount,
                nodes: u.courses.nodes.map((n: any) => ({ ...n, enrollmentCount: n.enrollmentCount.totalCount })),
              },
              enrollments: u.enrollments.nodes,
              orders: u.orders.nodes,
            }
          );
        },
      },
    },
    {
      key: 'search',
      title: `users search (50, "${c.search}")`,
      gateway: post(c.key, list(50, 'filter').gateway, { first: 50, filter: { search: c.search } }),
      gatewayData: connectionData,
      items: edgesCount,
      expectedItems: 50,
      postgraphile: {
        body: gqlBody(
          `query Q($partner: String!, $search: String!) {
  users: benchSearchUsers(partner: $partner, search: $search, first: 50) { totalCount nodes { ${PG_USER_FIELDS} } }
}`,
          { partner: c.partnerId, search: c.search },
        ),
        data: pgConnectionData,
      },
    },
    {
      key: 'range',
      title: 'users by createdAt range (50)',
      gateway: post(c.key, list(50, 'filter').gateway, { first: 50, filter: { createdAt: c.range } }),
      gatewayData: connectionData,
      items: edgesCount,
      expectedItems: 50,
      postgraphile: {
        body: gqlBody(
          `query Q($partner: String!, $from: Datetime!, $to: Datetime!) {
  users: benchUsersCreatedBetween(partner: $partner, fromTime: $from, toTime: $to, first: 50) {
    totalCount nodes { ${PG_USER_FIELDS} }
  }
}`,
          { partner: c.partnerId, from: c.range.from, to: c.range.to },
        ),
        data: pgConnectionData,
      },
    },
    {
      key: 'entities',
      title: '`_entities` of 100 users',
      gateway: post(
        c.key,
        `query Q($r: [_Any!]!) { _entities(representations: $r) { ... on User { ${USER_FIELDS} } } }`,
        {
          r: c.pageUserIds.map((id) => ({ __typename: 'User', id: globalId('User', id) })),
        },
      ),
      gatewayData: (b) => b?.data?._entities,
      items: (b) => b?.data?._entities?.filter(Boolean).length ?? 0,
      expectedItems: 100,
    },
    {
      key: 'nodes',
      title: '`nodes(ids:)` of 100 users',
      gateway: post(c.key, `query Q($ids: [ID!]!) { nodes(ids: $ids) { ... on User { ${USER_FIELDS} } } }`, {
        ids: c.pageUserIds.map((id) => globalId('User', id)),
      }),
      gatewayData: (b) => b?.data?.nodes,
      items: (b) => b?.data?.nodes?.filter(Boolean).length ?? 0,
      expectedItems: 100,
    },
    {
      key: 'catalog',
      title: 'REST catalog list (100)',
      gateway: { method: 'GET', path: REST_LISTS[0].path, headers: { authorization: `Bearer ${c.key}` } },
      gatewayData: (b) => b?.users,
      items: (b) => b?.users?.length ?? 0,
      expectedItems: 100,
      postgraphile: {
        body: gqlBody(
          `query Q($partner: String!) {
  users: allUsers(
    first: 100, condition: { partnerId: $partner, deletedAt: null, inCatalog: true }, orderBy: CATALOG_ID_ASC
  ) { totalCount nodes {
    id: catalogId
    root: accountByPartnerId { customerId canvasUuid }
    registered: accountByAccountId { customerId }
    canvas_user_id: canvasUserId canvas_user_uuid: canvasUserUuid user_name: userName first_name: firstName
    last_name: lastName email_address: email custom_fields: customFields created_at: createdAt updated_at: updatedAt
    merged: userByMergedIntoId { catalogId } time_zone: timeZone
  } }
}`,
          { partner: c.partnerId },
        ),
        // The catalog dialect's record: the partner's and the account's serials, {} for no custom fields.
        data: (b) =>
          b?.data?.users?.nodes?.map(({ root, registered, merged, ...u }: any) => ({
            ...u,
            root_account_id: root.customerId,
            registered_account_id: registered.customerId,
            canvas_root_account_uuid: root.canvasUuid,
            custom_fields: u.custom_fields ?? {},
            merged_into_user_id: merged?.catalogId ?? null,
          })),
      },
    },
    {
      key: 'embed',
      title: 'REST embed list (100)',
      gateway: { method: 'GET', path: REST_LISTS[1].path, headers: { authorization: `Bearer ${c.key}` } },
      gatewayData: (b) => ({ total: b?.total, data: b?.data }),
      items: (b) => b?.data?.length ?? 0,
      expectedItems: 100,
      postgraphile: {
        body: gqlBody(
          `query Q($partner: String!) {
  users: benchEmbedUsers(partner: $partner, first: 100) { totalCount nodes {
    identifier client: clientByClientId { identifier } metadata createdAt updatedAt
  } }
}`,
          { partner: c.partnerId },
        ),
        data: (b) => ({
          total: b?.data?.users?.totalCount,
          data: b?.data?.users?.nodes?.map(({ client, ...u }: any) => ({ ...u, clientIdentifier: client.identifier })),
        }),
      },
    },
  ];
  return out;
}
