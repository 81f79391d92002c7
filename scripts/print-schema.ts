// Prints the subgraph SDL (with @key, @link, @tag) to schema.graphql, or checks it with --check.
import fs from 'node:fs';
import { printSubgraphSchema } from '@apollo/subgraph';
import { lexicographicSortSchema } from 'graphql';
import { schema } from '../src/schema.js';

const file = new URL('../schema.graphql', import.meta.url);
const sdl = `${printSubgraphSchema(lexicographicSortSchema(schema)).trim()}\n`;
if (process.argv.includes('--check')) {
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (current !== sdl) {
    console.error('schema.graphql is stale: run `npm run schema:print`');
    process.exit(1);
  }
  console.log('schema.graphql is up to date');
} else {
  fs.writeFileSync(file, sdl);
  console.log(`wrote schema.graphql (${sdl.length} bytes)`);
}
