// The documents and request bodies of the scenarios, shared by the in-process and HTTP runs.

/** Scenario 1/2: the page of test/graph-reads.test.ts. */
export const PAGE = `query Page($first: Int!) {
  users(first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id uuid status externalUserId email identifier
      account { id name plan }
      client { id identifier }
      entitlements { kind grantedAt }
      mergedInto { id uuid }
      courses { totalCount }
    } }
  }
}`;

/** Scenario 3: the same User selection, through federation's `_entities`. */
export const ENTITIES = `query Entities($r: [_Any!]!) {
  _entities(representations: $r) {
    ... on User {
      id uuid status externalUserId email identifier
      account { id name plan }
      client { id identifier }
      entitlements { kind grantedAt }
      mergedInto { id uuid }
      courses { totalCount }
    }
  }
}`;

export const CREATE_USERS = `mutation CreateUsers($input: CreateUsersInput!) {
  createUsers(input: $input) { __typename
    ... on CreateUsersSuccess {
      results { __typename ... on CreateUserSuccess { user { id } } ... on Error { message } }
    }
    ... on Error { message }
  }
}`;

export const ENSURE_USER = `mutation Ensure($input: EnsureUserInput!) {
  ensureUser(input: $input) { __typename
    ... on EnsureUserSuccess { created user { id uuid } }
    ... on Error { message }
  }
}`;

export const gqlBody = (query: string, variables: Record<string, unknown>) => JSON.stringify({ query, variables });

export const pageBody = (first: number) => gqlBody(PAGE, { first });

export const entitiesBody = (globalIds: string[]) =>
  gqlBody(ENTITIES, { r: globalIds.map((id) => ({ __typename: 'User', id })) });

/** 50 new users, each with a learning and a catalog identity (half also embedded). */
export function createUsersBody(prefix: string, clientIdentifier: string | undefined, count = 50): string {
  const users = Array.from({ length: count }, (_, i) => ({
    externalUserId: `${prefix}-${i}`,
    email: `${prefix}-${i}@bulk.bench.example`,
    firstName: 'Bulk',
    lastName: `User ${i}`,
    ...(clientIdentifier && i % 2 === 0
      ? { identifier: `${prefix}-emb-${i}`, clientIdentifier, name: `Bulk ${i}` }
      : {}),
  }));
  return gqlBody(CREATE_USERS, { input: { users } });
}

export const ensureBody = (externalUserId: string) => gqlBody(ENSURE_USER, { input: { externalUserId } });

/** REST list pages of the dialects (scenario 6), tried in this order; absent ones answer 404. */
export const REST_LISTS = [
  { name: 'catalog', path: '/rest/catalog/api/v1/users?per_page=100', items: (b: any) => b?.users },
  { name: 'embed', path: '/rest/embed/v1/headless/users?length=100&page=0', items: (b: any) => b?.data },
] as const;
