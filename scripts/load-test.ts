// Load test: 50 concurrent clients mixing reads (the 100-user page, node lookups, userByKey)
// and writes (createUser, updateUser with metadataPatch, ensureUser) for a fixed duration
// against the server as a child process, on the embedded store and (when reachable) on
// PostgreSQL. Prints requests/s, p50/p95/p99 per operation, errors, and the server's RSS;
// exits 1 on any error (5xx, GraphQL error, unexpected typed error, network failure) or when
// RSS grows past the bound below.
//   tsx scripts/load-test.ts [--duration 20] [--clients 50] [--store pglite|postgres|both]
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startServer } from './child-server.js';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string) =>
  args.includes(`--${name}`) ? args[args.indexOf(`--${name}`) + 1]! : fallback;
const DURATION_S = Number(arg('duration', '20'));
const CLIENTS = Number(arg('clients', '50'));
const WARMUP_S = 5;
const which = arg('store', 'both');
const OPERATOR = 'load-test-operator-token';
const start = (env: NodeJS.ProcessEnv) =>
  startServer({ ...env, OPERATOR_TOKEN: OPERATOR, RATE_LIMIT_PER_MINUTE: '100000000' });
const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * The memory bound. A healthy process grows early in a run and then stays flat: V8 sizes
 * its young and old generations to the allocation rate, JIT code is compiled, pools and
 * caches fill up, and on the embedded store PGlite's WebAssembly memory reaches its working
 * size (it never shrinks). Measured here with 50 clients: on PostgreSQL the server went from
 * ~400 MB after the warm-up to a plateau of 525-575 MB within 8-13 s of full load and stayed
 * there for the rest of a 30 s run; on PGlite it settled at ~840 MB. A leak keeps growing
 * instead. So the bound compares the end of the run with the highest RSS of its first half:
 * at most 20 % + 64 MB more (GC timing alone moves RSS by some tens of MB). What this
 * catches in a 15 s run at ~100-150 requests/s: anything that keeps around 60 KB or more
 * per request (a request's context, its loaders, a 100-user page's rows or response), not
 * a leak of a few bytes per request.
 */
const RSS_GROWTH_FIXED_MB = 64;
const RSS_GROWTH_RATIO = 0.2;

const USERS_PAGE = `query Page($first: Int!) { users(first: $first) {
  totalCount pageInfo { hasNextPage endCursor } edges { cursor node {
  id uuid status externalUserId email identifier account { id name plan } client { id identifier }
  entitlements { kind grantedAt } mergedInto { id uuid } courses { totalCount } } } } }`;
const NODE = `query Node($id: ID!) { node(id: $id) { id ... on User { uuid externalUserId metadata } } }`;
const BY_KEY = `query ByKey($k: String!) { userByKey(externalUserId: $k) { id uuid status } }`;
const CREATE = `mutation Create($e: String!, $m: JSONObject) { createUser(input: { externalUserId: $e, metadata: $m }) {
  __typename ... on CreateUserSuccess { user { id externalUserId } } ... on Error { code message } } }`;
const UPDATE = `mutation Update($id: ID!, $p: JSONObject!) { updateUser(input: { id: $id, metadataPatch: $p }) {
  __typename ... on UpdateUserSuccess { user { id } } ... on Error { code message } } }`;
const ENSURE = `mutation Ensure($e: String!) { ensureUser(input: { externalUserId: $e }) {
  __typename ... on EnsureUserSuccess { created user { id } } ... on Error { code message } } }`;

type Op = 'usersPage' | 'node' | 'userByKey' | 'createUser' | 'updateUser' | 'ensureUser';
/** The mix: reads are 70 % of the calls. */
const MIX: [Op, number][] = [
  ['usersPage', 20],
  ['node', 25],
  ['userByKey', 25],
  ['createUser', 10],
  ['updateUser', 12],
  ['ensureUser', 8],
];

interface Stats {
  latencies: Record<Op, number[]>;
  errors: Record<Op, number>;
  samples: string[];
}

/** Resident set size of a process in MB (Linux /proc). */
async function rssMb(pid: number): Promise<number> {
  const status = await fs.readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

async function gql(
  url: string,
  token: string,
  query: string,
  variables: object = {},
): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

const percentile = (sorted: number[], p: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;

async function run(label: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const { child, url } = await start(env);
  try {
    const partner = await gql(
      url,
      OPERATOR,
      `mutation { createPartner(input: { name: "Load", plan: AUTOMATE }) { ... on CreatePartnerSuccess { apiKey } } }`,
    );
    const key = partner.body.data.createPartner.apiKey as string;
    // 200 users to read and update, in 4 bulk calls.
    const ids: string[] = [];
    const keys: string[] = [];
    for (let b = 0; b < 4; b++) {
      const users = Array.from({ length: 50 }, (_, i) => ({
        externalUserId: `seed-${b * 50 + i}`,
        metadata: { seed: true, n: b * 50 + i },
      }));
      const r = await gql(
        url,
        key,
        'mutation ($u: [CreateUserInput!]!) { createUsers(input: { users: $u }) { ... on CreateUsersSuccess ' +
          '{ results { ... on CreateUserSuccess { user { id externalUserId } } } } } }',
        { u: users },
      );
      for (const item of r.body.data.createUsers.results) {
        ids.push(item.user.id);
        keys.push(item.user.externalUserId);
      }
    }
    const stats: Stats = {
      latencies: Object.fromEntries(MIX.map(([op]) => [op, []])) as any,
      errors: Object.fromEntries(MIX.map(([op]) => [op, 0])) as any,
      samples: [],
    };
    const total = MIX.reduce((n, [, w]) => n + w, 0);
    let created = 0;
    let measuring = false;

    /** Runs one operation; answers null when it went right, else what was wrong. */
    const call = async (op: Op, client: number): Promise<string | null> => {
      const check = (good: boolean, r: { status: number; body: any }) =>
        good ? null : `${r.status} ${JSON.stringify(r.body).slice(0, 300)}`;
      const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)]!;
      switch (op) {
        case 'usersPage': {
          const r = await gql(url, key, USERS_PAGE, { first: 100 });
          return check(r.status === 200 && !r.body?.errors && r.body?.data?.users?.edges?.length === 100, r);
        }
        case 'node': {
          const id = pick(ids);
          const r = await gql(url, key, NODE, { id });
          return check(r.status === 200 && !r.body?.errors && r.body?.data?.node?.id === id, r);
        }
        case 'userByKey': {
          const k = pick(keys);
          const r = await gql(url, key, BY_KEY, { k });
          return check(r.status === 200 && !r.body?.errors && !!r.body?.data?.userByKey?.id, r);
        }
        case 'createUser': {
          const e = `load-${label}-${client}-${created++}`;
          const r = await gql(url, key, CREATE, { e, m: { client, at: Date.now() } });
          const user = r.body?.data?.createUser?.user;
          if (user) {
            ids.push(user.id);
            keys.push(user.externalUserId);
          }
          return check(r.status === 200 && !r.body?.errors && !!user, r);
        }
        case 'updateUser': {
          const r = await gql(url, key, UPDATE, { id: pick(ids), p: { [`c${client}`]: Date.now(), removed: null } });
          return check(
            r.status === 200 && !r.body?.errors && r.body?.data?.updateUser?.__typename === 'UpdateUserSuccess',
            r,
          );
        }
        case 'ensureUser': {
          // Half of these keys exist after a while: both paths of ensure are exercised.
          const r = await gql(url, key, ENSURE, { e: `ensure-${Math.floor(Math.random() * 400)}` });
          return check(
            r.status === 200 && !r.body?.errors && r.body?.data?.ensureUser?.__typename === 'EnsureUserSuccess',
            r,
          );
        }
      }
    };

    const client = async (n: number, until: number) => {
      while (Date.now() < until) {
        let roll = Math.random() * total;
        const op = MIX.find(([, w]) => {
          roll -= w;
          return roll < 0;
        })![0];
        const started = performance.now();
        let problem: string | null;
        try {
          problem = await call(op, n);
        } catch (error) {
          problem = String(error);
        }
        if (!measuring) continue;
        stats.latencies[op].push(performance.now() - started);
        if (problem) {
          stats.errors[op]++;
          if (stats.samples.length < 5) stats.samples.push(`${op}: ${problem}`);
        }
      }
    };

    // Warm-up at full load, then the measured run.
    const warmEnd = Date.now() + WARMUP_S * 1000;
    const end = warmEnd + DURATION_S * 1000;
    const clients = Array.from({ length: CLIENTS }, (_, n) => client(n, end));
    await new Promise((r) => setTimeout(r, warmEnd - Date.now()));
    measuring = true;
    const rssStart = await rssMb(child.pid!);
    let rssPeak = rssStart;
    const timeline: number[] = [];
    const sampler = setInterval(
      () =>
        void rssMb(child.pid!).then(
          (v) => {
            rssPeak = Math.max(rssPeak, v);
            timeline.push(Math.round(v));
          },
          () => {},
        ),
      1000,
    );
    const measuredFrom = performance.now();
    await Promise.all(clients);
    const seconds = (performance.now() - measuredFrom) / 1000;
    clearInterval(sampler);
    const rssEnd = await rssMb(child.pid!);
    rssPeak = Math.max(rssPeak, rssEnd);

    const rows = MIX.map(([op]) => {
      const sorted = [...stats.latencies[op]].sort((a, b) => a - b);
      return {
        op,
        requests: sorted.length,
        rps: sorted.length / seconds,
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        p99: percentile(sorted, 99),
        errors: stats.errors[op],
      };
    });
    const requests = rows.reduce((n, r) => n + r.requests, 0);
    const errors = rows.reduce((n, r) => n + r.errors, 0);
    const firstHalf = timeline.slice(0, Math.max(1, Math.floor(timeline.length / 2)));
    const rssFirstHalf = Math.max(rssStart, ...firstHalf);
    const bound = rssFirstHalf * (1 + RSS_GROWTH_RATIO) + RSS_GROWTH_FIXED_MB;
    console.log(`\n${label}: ${CLIENTS} clients, ${seconds.toFixed(1)} s measured after a ${WARMUP_S} s warm-up`);
    console.log('operation      requests   req/s    p50 ms   p95 ms   p99 ms  errors');
    for (const r of rows) {
      const latencies = [r.p50.toFixed(1).padStart(9), r.p95.toFixed(1).padStart(8), r.p99.toFixed(1).padStart(8)];
      console.log(
        `${r.op.padEnd(13)} ${String(r.requests).padStart(9)} ${r.rps.toFixed(1).padStart(7)} ` +
          `${latencies.join(' ')} ${String(r.errors).padStart(7)}`,
      );
    }
    console.log(
      `${'all'.padEnd(13)} ${String(requests).padStart(9)} ${(requests / seconds).toFixed(1).padStart(7)}` +
        `${' '.repeat(36)}${String(errors).padStart(7)}`,
    );
    console.log(
      `server RSS: ${rssStart.toFixed(0)} MB after warm-up, ${rssEnd.toFixed(0)} MB at the end, ` +
        `${rssPeak.toFixed(0)} MB peak (bound: ${rssFirstHalf.toFixed(0)} MB, the first half's highest, ` +
        `+ 20 % + ${RSS_GROWTH_FIXED_MB} MB = ${bound.toFixed(0)} MB); each second: ${timeline.join(' ')}`,
    );
    const result = {
      store: label,
      clients: CLIENTS,
      seconds: Number(seconds.toFixed(1)),
      requests,
      rps: Number((requests / seconds).toFixed(1)),
      errors,
      rssStartMb: Math.round(rssStart),
      rssEndMb: Math.round(rssEnd),
      rssPeakMb: Math.round(rssPeak),
      ops: rows.map((r) => ({
        op: r.op,
        rps: Number(r.rps.toFixed(1)),
        p50: Number(r.p50.toFixed(1)),
        p95: Number(r.p95.toFixed(1)),
        p99: Number(r.p99.toFixed(1)),
        errors: r.errors,
      })),
    };
    console.log(`LOAD-RESULT ${JSON.stringify(result)}`);
    let ok = true;
    if (errors) {
      console.log(`FAILED: ${errors} errors, e.g. ${stats.samples.join(' | ')}`);
      ok = false;
    }
    if (rssEnd > bound) {
      console.log(
        `FAILED: RSS kept growing: ${rssFirstHalf.toFixed(0)} MB in the first ` +
          `half, ${rssEnd.toFixed(0)} MB at the end (bound ${bound.toFixed(0)} MB)`,
      );
      ok = false;
    }
    if (requests === 0) ok = false;
    return ok;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  }
}

async function main() {
  let ok = true;
  if (which === 'pglite' || which === 'both') {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'ag-load-'));
    try {
      ok = (await run('pglite', { DATA_DIR: dir, DATABASE_URL: '' })) && ok;
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
  if (which === 'postgres' || which === 'both') {
    const admin = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
    if (
      !(await admin.connect().then(
        () => true,
        () => false,
      ))
    ) {
      if (process.env.CI === 'true') throw new Error(`PostgreSQL required in CI: ${ADMIN_URL} does not answer`);
      console.log('postgres: no server answers; skipped');
    } else {
      const name = `ag_load_${process.pid}`;
      await admin.query(`CREATE DATABASE ${name}`);
      const url = new URL(ADMIN_URL);
      url.pathname = `/${name}`;
      try {
        ok = (await run('postgres', { DATABASE_URL: url.toString() })) && ok;
      } finally {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await admin.end();
      }
    }
  }
  process.exitCode = ok ? 0 : 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
