// The sync scenarios' upstream (forked by bench/sync.ts): a stand-in (src/standin) in its own
// process, so that the memory and CPU measured in the bench's process are the syncing
// gateway's alone. Seeded with BENCH_CATALOG_USERS bulk catalog users, all of them (and the
// demo records) dated a day back: the upstream's records were last changed long before the
// gateway connected, so an incremental read's overlap window (5 minutes) holds only the
// changes the scenario makes. Talks to the parent over IPC: "ready", then change/count/stop.
import { startStandIn } from '../src/standin/index.js';
import { standInDump } from './alone.js';

export interface StandInRequest {
  id: number;
  /** cpu: this process's CPU time so far (process.cpuUsage), to tell the upstream's share of a run. */
  cmd: 'change' | 'count' | 'cpu' | 'stop';
  /** change: how many catalog users get a new last name (the first ones by catalog id). */
  n?: number;
}

async function main() {
  const users = Number(process.env.BENCH_CATALOG_USERS ?? '0');
  const started = performance.now();
  const loadDataDir = await standInDump();
  const standIn = await startStandIn({ catalogUsers: users, ...(loadDataDir && { loadDataDir }) });
  const { pool } = standIn.store;
  await pool.query(
    'UPDATE "User" SET "createdAt" = now() - interval \'1 day\', ' +
      '"updatedAt" = now() - interval \'1 day\' WHERE "partnerId" = $1',
    [standIn.partnerId],
  );
  // Fresh statistics and visibility maps, as autovacuum keeps them on a database in use (and as
  // bench/data.ts leaves the gateway's store): the upstream's 50,000 rows were just bulk-written
  // and then all updated, which no upstream in service looks like. The embedded store has no
  // autovacuum; see BENCHMARKS.md's Sync section for what a list costs without it.
  if (process.env.BENCH_STANDIN_VACUUM !== 'false') await pool.query('VACUUM ANALYZE "User"');
  const listed = `"partnerId" = $1 AND "inCatalog" AND status <> 'DELETED'`;

  process.on('message', async (message: StandInRequest) => {
    try {
      if (message.cmd === 'change') {
        const { rows } = await pool.query<{ catalogId: number }>(
          `UPDATE "User" SET "lastName" = 'Changed ' || "catalogId", "updatedAt" = now()
            WHERE id IN (SELECT id FROM "User" WHERE ${listed} ORDER BY "catalogId" LIMIT $2)
            RETURNING "catalogId"`,
          [standIn.partnerId, message.n ?? 0],
        );
        process.send!({ id: message.id, changed: rows.map((r) => String(r.catalogId)) });
      } else if (message.cmd === 'cpu') {
        process.send!({ id: message.id, cpu: process.cpuUsage() });
      } else if (message.cmd === 'count') {
        const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM "User" WHERE ${listed}`, [
          standIn.partnerId,
        ]);
        process.send!({ id: message.id, count: rows[0]!.n });
      } else if (message.cmd === 'stop') {
        await standIn.stop();
        process.send!({ id: message.id }, () => process.exit(0));
      }
    } catch (error) {
      process.send!({ id: message.id, error: String(error) });
    }
  });
  process.send!({
    ready: true,
    baseUrl: standIn.baseUrls.CATALOG,
    credential: standIn.credentials.CATALOG,
    seedSeconds: (performance.now() - started) / 1000,
  });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
