// The bench's PostgreSQL database (--store postgres, DATABASE_URL): a scratch database of its
// own next to DATABASE_URL's, dropped and recreated on every run (bench/run.ts, bench/sync.ts).
import pg from 'pg';
import { BENCH_PREFIX } from './data.js';

/** A database of its own next to DATABASE_URL's, or that one if it holds only bench data. */
export async function benchDatabase(url: string, name: string, log: (line: string) => void): Promise<string> {
  const given = new URL(url);
  const admin = new URL(url);
  if (given.pathname === `/${name}`) admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${name}`);
    const bench = new URL(url);
    bench.pathname = `/${name}`;
    log(`PostgreSQL: created database ${name} on ${bench.host} (dropped and recreated on every run)`);
    return bench.toString();
  } catch (error) {
    log(
      `PostgreSQL: cannot create database ${name} (${(error as Error).message}); ` +
        `checking that ${given.pathname.slice(1)} holds only bench data`,
    );
  } finally {
    await client.end();
  }
  const target = new pg.Client({ connectionString: url });
  await target.connect();
  try {
    const { rows } = await target.query(`SELECT to_regclass('public."Account"') IS NOT NULL AS has`);
    if (rows[0].has) {
      const foreign = await target.query(
        `SELECT count(*)::int AS n FROM "Account" WHERE "parentId" IS NULL AND name NOT LIKE $1`,
        [`${BENCH_PREFIX}%`],
      );
      if (foreign.rows[0].n > 0) {
        throw new Error(
          `refusing to run: ${given.pathname.slice(1)} holds data that is not the benchmark's ` +
            `(${foreign.rows[0].n} partners). Point DATABASE_URL at a scratch server.`,
        );
      }
    }
    await target.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public');
    return url;
  } finally {
    await target.end();
  }
}

export async function dropBenchDatabase(url: string, benchUrl: string, name: string): Promise<void> {
  if (benchUrl === url) return;
  const admin = new URL(url);
  if (admin.pathname === `/${name}`) admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => {});
  await client.end();
}
