// What frontend teams build on: schema.client.graphql (the API schema without federation
// internals) and possible-types.json must match the code, load in graphql-js and in the real
// Relay compiler, validate real client documents, and codegen.example.ts must map every
// custom scalar. The install side: every dependency supports the Node versions `engines`
// promises, and the lock file agrees with package.json.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildSchema, isScalarType, parse, specifiedScalarTypes, validate } from 'graphql';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { printSubgraphSchema } from '@apollo/subgraph';
import { lexicographicSortSchema } from 'graphql';
import { clientSchema, possibleTypes, printClientSchema } from '../../scripts/client-schema.js';

const root = new URL('../../', import.meta.url);
const read = (name: string) => fs.readFileSync(new URL(name, root), 'utf8');
const run = promisify(execFile);

/** Operations as a frontend writes them. */
const DOCUMENTS = {
  users: /* GraphQL */ `
    query UsersPage($after: String) {
      users(first: 50, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        edges { node { id externalUserId email createdAt account { id name } ...UserRow } }
      }
    }
    fragment UserRow on User { id status client { id identifier } }`,
  node: /* GraphQL */ `
    query NodeById($id: ID!) {
      node(id: $id) { __typename id ... on User { email } ... on Account { name } }
    }`,
  viewer: /* GraphQL */ `query Me { viewer { isAdmin } }`,
  createUser: /* GraphQL */ `
    mutation CreateUser($input: CreateUserInput!) {
      createUser(input: $input) {
        __typename
        ... on CreateUserSuccess { user { id externalUserId } }
        ... on ConflictError { field existingId }
        ... on Error { message code }
      }
    }`,
};

describe('schema.client.graphql', () => {
  it('is the printed API schema of the current code', async () => {
    const { schema } = await import('../../src/schema.js');
    const expected = clientSchema(`${printSubgraphSchema(lexicographicSortSchema(schema)).trim()}\n`);
    expect(read('schema.client.graphql'), 'schema.client.graphql is stale: run `npm run schema:print`').toBe(
      printClientSchema(expected),
    );
    expect(read('possible-types.json'), 'possible-types.json is stale: run `npm run schema:print`').toBe(
      `${JSON.stringify(possibleTypes(expected), null, 2)}\n`,
    );
  }, 60_000);

  it('loads in graphql-js (buildSchema validates it), where the subgraph SDL does not', () => {
    expect(() => buildSchema(read('schema.graphql'))).toThrow(/Unknown directive "@(link|key)"|@link|@key/);
    const schema = buildSchema(read('schema.client.graphql'));
    const sdl = read('schema.client.graphql');
    for (const internal of [
      '_entities',
      '_service',
      '_Any',
      '_Entity',
      '_Service',
      '@link',
      '@key',
      '@tag',
      '@shareable',
      '@inaccessible',
      'extend schema',
    ]) {
      expect(sdl, internal).not.toContain(internal);
    }
    expect(schema.getQueryType()?.getFields()).toHaveProperty('users');
    expect(schema.getMutationType()?.getFields()).toHaveProperty('createUser');
  });

  it('validates the operations a frontend writes', () => {
    const schema = buildSchema(read('schema.client.graphql'));
    for (const [name, document] of Object.entries(DOCUMENTS)) {
      expect(
        validate(schema, parse(document)).map((e) => e.message),
        name,
      ).toEqual([]);
    }
    // and still refuses a wrong one
    expect(validate(schema, parse('{ users(first: 1) { edges { node { nope } } } }'))).not.toEqual([]);
  });

  it('drops @inaccessible elements and federation directives, keeps descriptions and @deprecated', () => {
    const schema = clientSchema(/* GraphQL */ `
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key", "@tag", "@inaccessible"])
      type Query { thing: Thing  secret: String @inaccessible }
      """A thing."""
      type Thing @key(fields: "id") {
        id: ID!
        name: String @tag(name: "pii")
        old: String @deprecated(reason: "use name")
        kind(mode: Mode, hidden: Int @inaccessible): Kind
      }
      type Internal @inaccessible { id: ID! }
      union Any = Thing | Internal
      enum Kind { A B @inaccessible }
      enum Mode { X }`);
    const sdl = printClientSchema(schema);
    expect(sdl).not.toMatch(/secret|Internal|hidden|@key|@tag|@link|@inaccessible|\bB\b/);
    expect(sdl).toContain('"""A thing."""');
    expect(sdl).toContain('old: String @deprecated(reason: "use name")');
    expect(sdl).toContain('union Any = Thing');
    expect(possibleTypes(schema)).toEqual({ Any: ['Thing'] });
  });

  it('compiles with relay-compiler (which panics on the subgraph SDL)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ag-relay-'));
    try {
      fs.mkdirSync(path.join(dir, 'src/__generated__'), { recursive: true });
      // Relay names operations after their module and fragments <module>_<name>.
      fs.writeFileSync(
        path.join(dir, 'src/Users.ts'),
        `import { graphql } from 'react-relay';
export const page = graphql\`query UsersPageQuery { users(first: 50) { edges { node { id ...Users_row } } } }\`;
export const row = graphql\`fragment Users_row on User { email createdAt account { name } }\`;
export const create = graphql\`mutation UsersCreateMutation($input: CreateUserInput!) {
  createUser(input: $input) { __typename ... on CreateUserSuccess { user { id } } ... on Error { message code } }
}\`;
`,
      );
      const relay = new URL('node_modules/.bin/relay-compiler', root).pathname;
      const compile = (schemaFile: string) => {
        fs.copyFileSync(new URL(schemaFile, root), path.join(dir, 'schema.graphql'));
        fs.writeFileSync(
          path.join(dir, 'relay.config.json'),
          JSON.stringify({
            src: './src',
            schema: './schema.graphql',
            language: 'typescript',
            artifactDirectory: './src/__generated__',
          }),
        );
        return run(relay, [], { cwd: dir, timeout: 60_000, env: { ...process.env, RUST_BACKTRACE: '0' } });
      };
      await expect(compile('schema.graphql')).rejects.toBeTruthy();
      const { stdout, stderr } = await compile('schema.client.graphql');
      expect(`${stdout}${stderr}`).toContain('Compilation completed');
      expect(fs.readdirSync(path.join(dir, 'src/__generated__')).sort()).toEqual([
        'UsersCreateMutation.graphql.ts',
        'UsersPageQuery.graphql.ts',
        'Users_row.graphql.ts',
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe('possible-types.json', () => {
  it('names every interface and union with its concrete types', () => {
    const map = JSON.parse(read('possible-types.json')) as Record<string, string[]>;
    expect(map.Error).toEqual(
      expect.arrayContaining(['ConflictError', 'ForbiddenError', 'NotFoundError', 'ValidationError']),
    );
    expect(map.Node).toEqual(expect.arrayContaining(['Account', 'Client', 'User']));
    expect(map.CreateUserResult).toContain('CreateUserSuccess');
    const schema = buildSchema(read('schema.client.graphql'));
    for (const [abstract, types] of Object.entries(map)) {
      for (const name of types) expect(schema.getType(name), `${abstract} → ${name}`).toBeTruthy();
    }
  });
});

describe('codegen.example.ts', () => {
  it('maps every custom scalar of the client schema', () => {
    const example = read('codegen.example.ts');
    const builtIn = new Set(specifiedScalarTypes.map((s) => s.name));
    const custom = Object.values(buildSchema(read('schema.client.graphql')).getTypeMap())
      .filter((t) => isScalarType(t) && !builtIn.has(t.name))
      .map((t) => t.name);
    expect(custom).toContain('DateTime');
    // Whitespace-tolerant: the formatter wraps a long mapping over several lines.
    for (const name of custom)
      expect(example, `scalar ${name}`).toMatch(
        new RegExp(`\\b${name}: \\{\\s*input: '[^']+',\\s*output: '[^']+',?\\s*\\}`),
      );
    expect(example).toContain("schema: './schema.client.graphql'");
    expect(example).toContain('strictScalars: true');
  });
});

describe('install', () => {
  const pkg = JSON.parse(read('package.json'));
  const lock = JSON.parse(read('package-lock.json'));

  type Locked = {
    version?: string;
    dev?: boolean;
    engines?: { node?: string } | string[];
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
  };
  const locked = lock.packages as Record<string, Locked>;

  /** The lock entries a package pulls in, resolved as Node does (nearest node_modules up the tree). */
  function closure(top: string): Set<string> {
    const seen = new Set<string>();
    const visit = (at: string) => {
      if (seen.has(at) || !locked[at]) return;
      seen.add(at);
      for (const dep of Object.keys({ ...locked[at].dependencies, ...locked[at].optionalDependencies })) {
        for (let dir = at; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
          const candidate = `${dir ? `${dir}/` : ''}node_modules/${dep}`;
          if (locked[candidate]) {
            visit(candidate);
            break;
          }
          if (!dir) break;
        }
      }
    };
    visit(`node_modules/${top}`);
    return seen;
  }

  it('every locked dependency runs on every Node version `engines` allows', () => {
    const ours: string = pkg.engines.node;
    expect(semver.satisfies(process.version, ours), `this Node (${process.version}) is outside engines ${ours}`).toBe(
      true,
    );
    // The one exception: the bench's PostGraphile 5 (a devDependency) declares Node 22 for
    // Promise.withResolvers, which bench/promise-polyfill.ts adds in the bench's PostGraphile
    // process only (README, "Benchmark"). Only dev-only packages of its tree are excused.
    const benchOnly = closure('postgraphile');
    expect(benchOnly.size, 'postgraphile is locked as the bench target').toBeGreaterThan(0);
    const narrower = Object.entries(locked)
      .filter(([name, p]) => !(benchOnly.has(name) && p.dev))
      .filter(([name, p]) => name && p.engines && !Array.isArray(p.engines) && p.engines.node)
      .filter(([, p]) => !semver.subset(ours, (p.engines as { node: string }).node))
      .map(
        ([name, p]) =>
          `${name.replace(/^.*node_modules\//, '')}@${p.version} wants node ${(p.engines as { node: string }).node}`,
      );
    expect(narrower).toEqual([]);
  });

  it('the lock file agrees with package.json (npm install leaves it unchanged)', () => {
    const top = lock.packages[''];
    for (const field of ['name', 'version', 'bin', 'engines', 'dependencies', 'devDependencies'])
      expect(top[field], field).toEqual(pkg[field]);
  });
});
