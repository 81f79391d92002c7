// Data builders that go through the public API, so fixtures exercise the real paths.
import type { Harness, Partner } from './app.js';

export const USER_FIELDS =
  'id uuid status externalUserId email identifier catalogId mergedInto ' +
  '{ uuid } entitlements { kind } account { ulid } client { identifier }';

/** Creates `count` users through createUsers (batches of 50); returns their global ids. */
export async function createManyUsers(
  h: Harness,
  partner: Partner,
  count: number,
  make: (i: number) => Record<string, unknown> = (i) => ({ externalUserId: `ext-${i}` }),
): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 50) {
    const users = Array.from({ length: Math.min(50, count - start) }, (_, j) => make(start + j));
    const { data, errors } = await h.gql(
      `mutation ($input: CreateUsersInput!) { createUsers(input: $input) { __typename
        ... on CreateUsersSuccess { results { __typename
          ... on CreateUserSuccess { user { id } } ... on Error { message } } }
        ... on Error { message } } }`,
      { input: { users } },
      { token: partner.key },
    );
    if (data?.createUsers?.__typename !== 'CreateUsersSuccess') throw new Error(JSON.stringify(errors ?? data));
    for (const r of data.createUsers.results) {
      if (r.__typename !== 'CreateUserSuccess') throw new Error(`item failed: ${r.message}`);
      ids.push(r.user.id);
    }
  }
  return ids;
}

/** Runs a mutation and returns its result union value, failing on transport errors. */
export async function mutate(
  h: Harness,
  token: string,
  name: string,
  input: Record<string, unknown>,
  selection = '__typename',
): Promise<any> {
  const inputType = `${name[0]!.toUpperCase()}${name.slice(1)}Input`;
  const { data, errors } = await h.gql(
    `mutation ($input: ${inputType}!) { ${name}(input: $input) ` +
      `{ __typename ... on Error { message code } ${selection} } }`,
    { input },
    { token },
  );
  if (errors?.length) throw new Error(`${name}: ${JSON.stringify(errors)}`);
  return data[name];
}

/** One POST /graphql carrying `n` operations (a batch), each `{ viewer { isAdmin } }`. */
export function viewerBatch(h: Harness, token: string, n: number): Promise<Response> {
  return h.request('/graphql', {
    method: 'POST',
    token,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(Array.from({ length: n }, () => ({ query: '{ viewer { isAdmin } }' }))),
  });
}
