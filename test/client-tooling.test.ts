// Apollo Client against the app, as a frontend uses it: without possibleTypes its cache
// cannot tell that a ConflictError matches `... on Error` and drops `message` and `code`;
// with the checked-in possible-types.json it reads them.
import { ApolloClient, HttpLink, InMemoryCache, gql, type PossibleTypesMap } from '@apollo/client';
import { expect, it, vi } from 'vitest';
import { useHarness } from './helpers/app.js';
import possibleTypes from '../possible-types.json' with { type: 'json' };

const h = useHarness();

const CREATE_USER = gql`
  mutation CreateUser($input: CreateUserInput!) {
    createUser(input: $input) {
      __typename
      ... on CreateUserSuccess { user { id externalUserId } }
      ... on Error { message code }
    }
  }
`;

function client(key: string, options: { possibleTypes?: PossibleTypesMap } = {}) {
  return new ApolloClient({
    link: new HttpLink({
      uri: 'http://gateway.test/graphql',
      headers: { authorization: `Bearer ${key}` },
      fetch: (input, init) => h.app.fetch(new Request(input, init), { ip: '127.0.0.1' }),
    }),
    cache: new InMemoryCache(options),
  });
}

it("reads a ConflictError's message and code with possible-types.json, and loses them without it", async () => {
  const a = await h.newPartner();
  const create = (c: ApolloClient) =>
    c.mutate({ mutation: CREATE_USER, variables: { input: { externalUserId: 'apollo-dup' } } });

  const first = await create(client(a.key, { possibleTypes }));
  expect(first.data).toMatchObject({
    createUser: { __typename: 'CreateUserSuccess', user: { externalUserId: 'apollo-dup' } },
  });

  const conflict = await create(client(a.key, { possibleTypes }));
  expect(conflict.data).toEqual({
    createUser: { __typename: 'ConflictError', message: expect.stringContaining('apollo-dup'), code: 'CONFLICT' },
  });

  // The failure the map prevents (Apollo warns on the console, hence the spy).
  const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
  const error = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    const blind = await create(client(a.key));
    expect(blind.data).toEqual({ createUser: { __typename: 'ConflictError' } });
  } finally {
    warn.mockRestore();
    error.mockRestore();
  }
});

it('GET / points to /graphql: JSON for a program, a redirect to GraphiQL for a browser', async () => {
  const json = await h.request('/');
  expect(json.status).toBe(200);
  expect(await json.json()).toMatchObject({
    graphql: '/graphql',
    rest: expect.arrayContaining(['/rest/learning', '/rest/embed']),
    health: '/healthz',
  });
  const browser = await h.request('/', { headers: { accept: 'text/html,application/xhtml+xml' } });
  expect(browser.status).toBe(302);
  expect(browser.headers.get('location')).toBe('/graphql');
  // Other unknown paths stay a JSON 404.
  expect((await h.request('/nope')).status).toBe(404);
});
