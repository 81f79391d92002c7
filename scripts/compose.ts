// Prints the supergraph SDL of this subgraph composed with the test's `reviews` subgraph
// (test/helpers/reviews.ts), the way a supergraph's composition step would see them.
//   npm run compose                                   supergraph SDL on stdout
//   npm run compose -- --exclude-tag pii              the contract without personal data
//   npm run compose -- --accounts-url URL --reviews-url URL
import { parseArgs } from 'node:util';
import { printSubgraphSchema } from '@apollo/subgraph';
import { compositionHasErrors } from '@theguild/federation-composition';
import { lexicographicSortSchema } from 'graphql';
import { schema } from '../src/schema.js';
import { composeWithoutPii, composeWithReviews } from '../test/helpers/reviews.js';

const { values } = parseArgs({
  options: {
    'accounts-url': { type: 'string', default: 'http://127.0.0.1:4000/graphql' },
    'reviews-url': { type: 'string', default: 'http://127.0.0.1:4001/graphql' },
    'exclude-tag': { type: 'string' },
  },
});
if (values['exclude-tag'] !== undefined && values['exclude-tag'] !== 'pii') {
  console.error('only --exclude-tag pii is supported');
  process.exit(2);
}

// The same SDL as schema.graphql and `_service { sdl }`.
const accounts = { sdl: printSubgraphSchema(lexicographicSortSchema(schema)), url: values['accounts-url'] };
const result = values['exclude-tag']
  ? composeWithoutPii(accounts, values['reviews-url'])
  : composeWithReviews(accounts, values['reviews-url']);
if (compositionHasErrors(result)) {
  for (const error of result.errors) console.error(error.message);
  process.exit(1);
}
process.stdout.write(`${result.supergraphSdl.trim()}\n`);
