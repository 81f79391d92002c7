// Prints the checked-in schema files from the code, or checks them with --check:
//   schema.graphql        the subgraph SDL (with @key, @link, @tag) for composition
//   schema.client.graphql the API schema for client tools (no federation internals)
//   possible-types.json   Apollo Client's possibleTypes (interfaces and unions → types)
//   src/connectors/generated/<dialect>.ts  the connectors' wire types, from the dialects'
//                         OpenAPI documents (scripts/connector-types.ts)
import fs from 'node:fs';
import { printSubgraphSchema } from '@apollo/subgraph';
import { lexicographicSortSchema } from 'graphql';
import { schema } from '../src/schema.js';
import { clientSchema, possibleTypes, printClientSchema } from './client-schema.js';
import { connectorTypeFiles } from './connector-types.js';

const subgraphSdl = `${printSubgraphSchema(lexicographicSortSchema(schema)).trim()}\n`;
const client = clientSchema(subgraphSdl);
const files: [name: string, text: string][] = [
  ['schema.graphql', subgraphSdl],
  ['schema.client.graphql', printClientSchema(client)],
  ['possible-types.json', `${JSON.stringify(possibleTypes(client), null, 2)}\n`],
  ...(await connectorTypeFiles()),
];

const root = new URL('../', import.meta.url);
if (process.argv.includes('--check')) {
  const stale = files.filter(([name, text]) => {
    const file = new URL(name, root);
    return !fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text;
  });
  if (stale.length) {
    console.error(
      `${stale.map(([name]) => name).join(', ')} ${stale.length > 1 ? 'are' : 'is'} stale: ` +
        'run `npm run schema:print`',
    );
    process.exit(1);
  }
  console.log(`${files.map(([name]) => name).join(', ')} are up to date`);
} else {
  for (const [name, text] of files) {
    fs.writeFileSync(new URL(name, root), text);
    console.log(`wrote ${name} (${text.length} bytes)`);
  }
}
