// The floor: the response of the PAGE query (same JSON, byte for byte the same data) built by
// one hand-written SQL statement in PostgreSQL and written out as it comes, no GraphQL, no
// ORM, no authentication (the partner is fixed when the server starts). What a GraphQL
// server cannot beat on the same store: the cost of the data itself.
import http from 'node:http';
import type pg from 'pg';

// Global ids and cursors are computed in SQL with the gateway's encodings
// (base64 of "User:<uuid>", of "GPC:S:<uuid>" for Pothos' prisma cursors); every input is
// short enough that PostgreSQL's base64 has no line breaks.
const b64 = (expr: string) => `encode(convert_to(${expr}, 'UTF8'), 'base64')`;
const iso = (expr: string) => `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

export const FLOOR_SQL = `
WITH page AS (
  SELECT * FROM "User" WHERE "partnerId" = $1 AND "deletedAt" IS NULL ORDER BY id LIMIT $2 + 1
), shown AS (
  SELECT * FROM page ORDER BY id LIMIT $2
)
SELECT json_build_object('data', json_build_object('users', json_build_object(
  'totalCount', (SELECT count(*) FROM "User" WHERE "partnerId" = $1 AND "deletedAt" IS NULL),
  'pageInfo', json_build_object(
    'hasNextPage', (SELECT count(*) FROM page) > $2,
    'endCursor', (SELECT ${b64(`'GPC:S:' || max(id::text)`)} FROM shown)),
  'edges', coalesce((SELECT json_agg(json_build_object(
    'cursor', ${b64(`'GPC:S:' || s.id::text`)},
    'node', json_build_object(
      'id', ${b64(`'User:' || s.id::text`)},
      'uuid', s.id,
      'status', s.status,
      'externalUserId', s."externalUserId",
      'email', s.email,
      'identifier', s.identifier,
      'account', CASE WHEN a.id IS NOT NULL THEN json_build_object(
                   'id', ${b64(`'Account:' || a.id`)}, 'name', a.name, 'plan', coalesce(a.plan, p.plan, 'CORE')) END,
      'client', CASE WHEN c.id IS NOT NULL THEN json_build_object(
                  'id', ${b64(`'Client:' || c.id::text`)}, 'identifier', c.identifier) END,
      'entitlements', coalesce((SELECT json_agg(json_build_object('kind', e.kind, 'grantedAt', ${iso('e."grantedAt"')})
                                                ORDER BY e.kind)
                                FROM "Entitlement" e WHERE e."userId" = s.id), '[]'),
      'mergedInto', (SELECT json_build_object('id', ${b64(`'User:' || m.id::text`)}, 'uuid', m.id)
                       FROM "User" m WHERE m.id = s."mergedIntoId"),
      'courses', json_build_object(
                   'totalCount', (SELECT count(*) FROM "Course" x WHERE x."ownerId" = s.id AND x."partnerId" = $1))
    )) ORDER BY s.id)
    FROM shown s
    LEFT JOIN "Account" a ON a.id = s."accountId" LEFT JOIN "Account" p ON p.id = a."partnerId"
    LEFT JOIN "Client" c ON c.id = s."clientId"), '[]')
)))::text AS body`;

/** The PAGE response for `first` users of `partnerId`, as JSON text: one statement. */
export async function floorPage(pool: pg.Pool, partnerId: string, first: number): Promise<string> {
  const { rows } = await pool.query<{ body: string }>({
    name: 'bench-floor-page',
    text: FLOOR_SQL,
    values: [partnerId, first],
  });
  return rows[0]!.body;
}

/** A bare node:http server: GET /page?first=N answers the PAGE response of the fixed partner. */
export function createFloorServer(pool: pg.Pool, partnerId: string): http.Server {
  return http.createServer((req, res) => {
    const first = Math.min(
      100,
      Math.max(1, Number(new URL(req.url ?? '/', 'http://floor').searchParams.get('first')) || 100),
    );
    // Drain the body (there is none for GET) before answering, as any server must.
    req.resume();
    floorPage(pool, partnerId, first).then(
      (body) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      },
      () => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":"floor query failed"}');
      },
    );
  });
}
