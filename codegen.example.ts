// A ready `codegen.ts` for a frontend app that queries account-gateway with GraphQL Code
// Generator (`npm i -D @graphql-codegen/cli @graphql-codegen/client-preset`, then
// `npx graphql-codegen`). Copy it into the app as codegen.ts, with schema.client.graphql
// (and possible-types.json for Apollo Client) from this repository.
//
// Point `schema` at schema.client.graphql, not schema.graphql: that one is the federation
// subgraph SDL (`extend schema @link`, @key, @tag) and client tools reject it.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: './schema.client.graphql',
  documents: ['src/**/*.{ts,tsx,graphql}'],
  ignoreNoDocuments: true,
  generates: {
    './src/gql/': {
      preset: 'client',
      config: {
        // Fails the build when the graph gains a scalar this map does not know, instead of
        // typing it `any`/`unknown`.
        strictScalars: true,
        // What each custom scalar is on the wire (JSON), in both directions.
        scalars: {
          DateTime: { input: 'string', output: 'string' }, // RFC 3339 at UTC: 2007-12-03T10:15:30.000Z
          EmailAddress: { input: 'string', output: 'string' },
          IPCIDR: { input: 'string', output: 'string' }, // 10.0.0.0/8, 2001:db8::/32 or a bare address
          JSON: {
            input: 'string | number | boolean | null | unknown[] | { [key: string]: unknown }',
            output: 'string | number | boolean | null | unknown[] | { [key: string]: unknown }',
          },
          JSONObject: { input: 'Record<string, unknown>', output: 'Record<string, unknown>' },
          UUID: { input: 'string', output: 'string' },
        },
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
