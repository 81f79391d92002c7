// The PostGraphile v5 target of issue #14's side-by-side benchmark: PostGraphile (the amber
// preset, no plugins added) over the bench's own PostgreSQL database, on a bare node:http server
// (grafserv), answering the read shapes of bench/shapes.ts with the same data the gateway
// answers. The partner filter is a `condition` on the root connections (allUsers,
// allAccounts); PostGraphile has no substring search, range or IS NOT NULL condition of its
// own, so three set-returning SQL functions (its way of adding a root connection) take the
// search term, the range or nothing with the partner (search, range, the embed list), and
// one computed column gives an account the gateway's inherited plan. `preparePostGraphile` creates
// them in the bench database before start. Every column may be a `condition` or `orderBy`
// (PgIndexBehaviorsPlugin off, as PostGraphile v4 had it by default): the gateway's visibility
// reads the unindexed "deletedAt".
//
// postgraphile 5.1.5 (grafast 1.1) calls Promise.withResolvers, which Node 22 has and Node
// 20 does not: bench/promise-polyfill.ts adds it before PostGraphile is loaded.
import './promise-polyfill.js';
import http from 'node:http';
import pg from 'pg';

/** The SQL PostGraphile's graph needs beyond Prisma's tables (idempotent). */
export const POSTGRAPHILE_SQL = `
CREATE OR REPLACE FUNCTION "Account_effectivePlan"(a "Account") RETURNS "Plan" LANGUAGE sql STABLE AS $$
  SELECT coalesce(a.plan, (SELECT p.plan FROM "Account" p WHERE p.id = a."partnerId"), 'CORE')
$$;
CREATE OR REPLACE FUNCTION bench_search_users(partner text, search text) RETURNS SETOF "User" LANGUAGE sql STABLE AS $$
  SELECT * FROM "User" u WHERE u."partnerId" = partner AND u."deletedAt" IS NULL AND (
    u."externalUserId" ILIKE '%' || replace(replace(replace(search, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'
    OR u.email ILIKE '%' || replace(replace(replace(search, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'
    OR u."userName" ILIKE '%' || replace(replace(replace(search, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'
    OR u."firstName" ILIKE '%' || replace(replace(replace(search, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'
    OR u."lastName" ILIKE '%' || replace(replace(replace(search, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'
    OR u.identifier ILIKE '%' || replace(replace(replace(search, '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%')
  ORDER BY u.id
$$;
CREATE OR REPLACE FUNCTION bench_users_created_between(partner text, from_time timestamp, to_time timestamp)
  RETURNS SETOF "User" LANGUAGE sql STABLE AS $$
  SELECT * FROM "User" u WHERE u."partnerId" = partner AND u."deletedAt" IS NULL
    AND u."createdAt" >= from_time AND u."createdAt" <= to_time
  ORDER BY u.id
$$;
-- The gateway lists a user's entitlements by kind (the enum's order); PostGraphile orders by
-- no enum column unless told.
COMMENT ON COLUMN "Entitlement".kind IS E'@behavior +orderBy';
CREATE OR REPLACE FUNCTION bench_embed_users(partner text) RETURNS SETOF "User" LANGUAGE sql STABLE AS $$
  SELECT * FROM "User" u WHERE u."partnerId" = partner AND u."deletedAt" IS NULL AND u.identifier IS NOT NULL
  ORDER BY u.id
$$;
`;

export async function preparePostGraphile(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(POSTGRAPHILE_SQL);
  } finally {
    await client.end();
  }
}

export interface PostGraphileTarget {
  server: http.Server;
  /** Statements sent to PostgreSQL so far (every client.query of PostGraphile's pool). */
  statementCount(): number;
  close(): Promise<void>;
}

export async function createPostGraphileServer(databaseUrl: string): Promise<PostGraphileTarget> {
  const { postgraphile } = await import('postgraphile');
  const { PostGraphileAmberPreset } = await import('postgraphile/presets/amber');
  const { makePgService } = await import('postgraphile/adaptors/pg');
  const { grafserv } = await import('postgraphile/grafserv/node');
  // The gateway's store pool holds 10 connections by default; PostGraphile gets as many.
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
  let statements = 0;
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      statements++;
      return query(...args);
    };
  });
  const pgl = postgraphile({
    extends: [PostGraphileAmberPreset],
    disablePlugins: ['PgIndexBehaviorsPlugin'],
    pgServices: [makePgService({ pool, schemas: ['public'] })],
    grafserv: { graphqlPath: '/graphql', graphiql: false, watch: false },
    grafast: { explain: false },
  });
  const serv = pgl.createServ(grafserv);
  const server = http.createServer();
  serv.addTo(server);
  await pgl.getSchema();
  return {
    server,
    statementCount: () => statements,
    async close() {
      await pgl.release();
      await pool.end().catch(() => {});
    },
  };
}
