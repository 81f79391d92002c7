// Crash safety: run the server as a child process, drive a write load (creates, bulk
// creates, merges) recording every acknowledged write, kill -9 it mid-load, restart it on
// the same store, and check that every acknowledged write is there and nothing is
// half-written. Several rounds, on the embedded store and (when reachable) on PostgreSQL.
//   tsx scripts/crash-test.ts [--rounds 3] [--store pglite|postgres|both]
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startServer } from './child-server.js';

const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1]) || 3;
const which = args.includes('--store') ? args[args.indexOf('--store') + 1] : 'both';
const OPERATOR = 'crash-test-operator-token';
const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

interface Acked {
  creates: Map<string, string>; // externalUserId → user global id
  merges: [string, string][]; // [source, target] global ids
  batches: string[]; // key prefixes of every bulk call sent, acknowledged or not
}

const start = (env: NodeJS.ProcessEnv) =>
  startServer({ ...env, OPERATOR_TOKEN: OPERATOR, RATE_LIMIT_PER_MINUTE: '1000000' });

async function gql(url: string, token: string, query: string, variables: object = {}): Promise<any> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return res.json();
}

/** Writes until the server dies; only answers that came back count as acknowledged. */
async function load(url: string, key: string, round: number, acked: Acked, stop: { dead: boolean }) {
  let n = 0;
  const worker = async (w: number) => {
    while (!stop.dead) {
      const i = n++;
      try {
        if (i % 5 === 4) {
          const ids = [...acked.creates.values()];
          const merged = new Set(acked.merges.map(([s]) => s));
          const free = ids.filter((id) => !merged.has(id));
          if (free.length < 2) continue;
          const [source, target] = [free[(i * 7) % free.length]!, free[(i * 13 + 1) % free.length]!];
          if (source === target || merged.has(target)) continue;
          const r = await gql(
            url,
            key,
            'mutation ($s: ID!, $t: ID!) { mergeUsers(input: { sourceId: $s, targetId: $t }) ' +
              '{ __typename ... on MergeUsersSuccess { target { id } } } }',
            { s: source, t: target },
          );
          // Another worker may have merged the target meanwhile: the merge then follows the
          // chain, and the answer names the user the source was really merged into.
          if (r.data?.mergeUsers?.__typename === 'MergeUsersSuccess')
            acked.merges.push([source, r.data.mergeUsers.target.id]);
        } else if (i % 5 === 3) {
          const prefix = `r${round}-w${w}-b${i}-`;
          acked.batches.push(prefix);
          const users = Array.from({ length: 10 }, (_, j) => ({ externalUserId: `${prefix}${j}` }));
          const r = await gql(
            url,
            key,
            'mutation ($u: [CreateUserInput!]!) { createUsers(input: { users: $u }) ' +
              '{ ... on CreateUsersSuccess { results { __typename ' +
              '... on CreateUserSuccess { user { id externalUserId } } } } } }',
            { u: users },
          );
          for (const item of r.data?.createUsers?.results ?? [])
            if (item.user) acked.creates.set(item.user.externalUserId, item.user.id);
        } else {
          const ext = `r${round}-w${w}-${i}`;
          const r = await gql(
            url,
            key,
            'mutation ($e: String!) { createUser(input: { externalUserId: $e, metadata: ' +
              `{ round: ${round} } }) { ... on CreateUserSuccess { user { id } } } }`,
            { e: ext },
          );
          if (r.data?.createUser?.user) acked.creates.set(ext, r.data.createUser.user.id);
        }
      } catch {
        /* the server died under this request: not acknowledged */
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
}

async function verify(url: string, key: string, acked: Acked, db: pg.Client | null) {
  const problems: string[] = [];
  const entries = [...acked.creates.entries()];
  for (let i = 0; i < entries.length; i += 100) {
    const chunk = entries.slice(i, i + 100);
    const r = await gql(
      url,
      key,
      `query ($ids: [ID!]!) { nodes(ids: $ids) { ... on User { id status mergedInto { id } } } }`,
      { ids: chunk.map(([, id]) => id) },
    );
    chunk.forEach(([ext, id], j) => {
      if (r.data?.nodes?.[j]?.id !== id) problems.push(`acknowledged user ${ext} (${id}) is missing`);
    });
  }
  const merged = new Map(acked.merges);
  for (const [source, target] of merged) {
    const r = await gql(url, key, `query ($id: ID!) { node(id: $id) { ... on User { status mergedInto { id } } } }`, {
      id: source,
    });
    const node = r.data?.node;
    if (node?.status !== 'MERGED' || node.mergedInto?.id !== target)
      problems.push(`acknowledged merge ${source} → ${target} not found: ${JSON.stringify(node)}`);
  }
  // A bulk call is one transaction: after the crash each is all there or not at all.
  for (let i = 0; i < acked.batches.length; i += 10) {
    const prefixes = acked.batches.slice(i, i + 10);
    const query = `{ ${prefixes.map((p, j) => `b${j}: users(filter: { search: "${p}" }) { totalCount }`).join(' ')} }`;
    const r = await gql(url, key, query);
    prefixes.forEach((p, j) => {
      const count = r.data?.[`b${j}`]?.totalCount;
      if (count !== 0 && count !== 10) problems.push(`bulk call ${p}* is half-written: ${count} of 10 users`);
    });
  }
  if (db) {
    // Every user row came with its audit event in the same transaction, and has an identity
    // (or handed it to its merge target).
    const orphans = await db.query(`SELECT count(*)::int AS n FROM "User" u WHERE u."userName" IS DISTINCT FROM 'admin'
      AND NOT EXISTS (SELECT 1 FROM "AuditEvent" e WHERE e."subjectId" = u.id::text AND e.action = 'user.create')`);
    if (orphans.rows[0].n) problems.push(`${orphans.rows[0].n} user rows without their audit event`);
    const bare = await db.query(`SELECT count(*)::int AS n FROM "User"
      WHERE "userName" IS DISTINCT FROM 'admin' AND status <> 'MERGED'
      AND "externalUserId" IS NULL AND email IS NULL AND identifier IS NULL`);
    if (bare.rows[0].n) problems.push(`${bare.rows[0].n} users without any identity`);
    const halfMerged = await db.query(
      `SELECT count(*)::int AS n FROM "User" WHERE (status = 'MERGED') <> ("mergedIntoId" IS NOT NULL)`,
    );
    if (halfMerged.rows[0].n)
      problems.push(`${halfMerged.rows[0].n} users with a status and merge pointer that disagree`);
  }
  return problems;
}

async function crashRounds(label: string, env: NodeJS.ProcessEnv, connect: () => Promise<pg.Client | null>) {
  const acked: Acked = { creates: new Map(), merges: [], batches: [] };
  let key = '';
  for (let round = 1; round <= rounds; round++) {
    const { child, url } = await start(env);
    if (!key) {
      const r = await gql(
        url,
        OPERATOR,
        `mutation { createPartner(input: { name: "Crash" }) { ... on CreatePartnerSuccess { apiKey } } }`,
      );
      key = r.data.createPartner.apiKey;
    }
    const stop = { dead: false };
    const running = load(url, key, round, acked, stop);
    await new Promise((r) => setTimeout(r, 1500 + Math.random() * 1500));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    stop.dead = true;
    await running;
    const restarted = await start(env);
    const db = await connect();
    const problems = await verify(restarted.url, key, acked, db);
    await db?.end();
    restarted.child.kill('SIGTERM');
    await new Promise((r) => restarted.child.once('exit', r));
    console.log(
      `${label} round ${round}: ${acked.creates.size} acknowledged users, ${acked.merges.length} merges, ` +
        `${acked.batches.length} bulk calls — ${problems.length ? 'FAILED' : 'all present, nothing half-written'}`,
    );
    if (problems.length) {
      for (const p of problems.slice(0, 20)) console.log(`  ${p}`);
      process.exitCode = 1;
      return;
    }
  }
}

async function main() {
  if (which === 'pglite' || which === 'both') {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ag-crash-'));
    // The embedded store is checked through the API only (its data directory belongs to the server).
    await crashRounds('pglite', { DATA_DIR: dir, DATABASE_URL: '' }, async () => null);
    await fs.rm(dir, { recursive: true, force: true });
  }
  if (which === 'postgres' || which === 'both') {
    const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
    const up = await admin.connect().then(
      () => true,
      () => false,
    );
    if (!up) {
      if (process.env.CI === 'true') throw new Error(`PostgreSQL required in CI: ${ADMIN_URL} does not answer`);
      console.log('postgres: no server answers; skipped');
      return;
    }
    const name = `ag_crash_${process.pid}`;
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    try {
      await crashRounds('postgres', { DATABASE_URL: url.toString() }, async () => {
        const c = new pg.Client({ connectionString: url.toString() });
        await c.connect();
        return c;
      });
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
