// A benchmark target in its own process (forked by bench/http.ts), so that its memory and
// CPU are its own: the gateway exactly as src/server.ts serves it (Hono app on
// @hono/node-server), the naive build (yoga on node:http) or the floor (bare node:http).
// With the embedded store, PGlite runs inside this process too, as it does in production.
// Talks to the parent over IPC: "ready" with the port, then stats and SQL on request.
import type { Server } from 'node:http';
import fs from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { openStore } from '../src/store/database.js';
import { createFloorServer } from './floor.js';

export type ServeTarget = 'gateway' | 'naive' | 'floor' | 'postgraphile';

export interface ServeRequest {
  id: number;
  /** profile-start / profile-stop: a CPU profile of this process between the two (inspector). */
  cmd: 'stats' | 'sql' | 'stop' | 'profile-start' | 'profile-stop';
  text?: string;
  values?: unknown[];
  /** profile-stop: where to write the .cpuprofile. */
  file?: string;
}

const MiB = 1024 * 1024;

/** CPU time (user + system) this process has used, ms: its server's and its store's. */
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

async function main() {
  const target = process.env.BENCH_TARGET as ServeTarget;
  const store = await openStore(
    process.env.BENCH_DATABASE_URL
      ? { databaseUrl: process.env.BENCH_DATABASE_URL }
      : { dataDir: process.env.BENCH_DATA_DIR! },
  );
  // Each target loads only its own code: PostGraphile none of the gateway's, the others none
  // of PostGraphile's (nor its Promise polyfill).
  // Logs off (a log line per request is the operator's choice, not the gateway's cost).
  // BENCH_COMPILED_READS=false: the gateway without its compiled read path (the executor).
  const config = async () =>
    (await import('./inprocess.js')).benchConfig(
      process.env.BENCH_COMPILED_READS ? { COMPILED_READS: process.env.BENCH_COMPILED_READS } : {},
    );
  let profiler: Session | undefined;
  let server: Server;
  let statementCount = () => store.statementCount();
  let closeTarget = async () => {};
  if (target === 'gateway') {
    const { createApp } = await import('../src/app.js');
    const { createLogger } = await import('../src/logger.js');
    const app = createApp({ config: await config(), store, logger: createLogger('silent') });
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  } else if (target === 'postgraphile') {
    const { createPostGraphileServer } = await import('./postgraphile.js');
    const pgl = await createPostGraphileServer(process.env.BENCH_DATABASE_URL!);
    server = pgl.server;
    statementCount = pgl.statementCount;
    closeTarget = pgl.close;
    server.listen(0, '127.0.0.1');
  } else {
    server =
      target === 'naive'
        ? (await import('./naive.js')).createNaive(store.prisma, await config()).server()
        : createFloorServer(store.pool, process.env.BENCH_PARTNER_ID!);
    server.listen(0, '127.0.0.1');
  }
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())));

  // RSS sampled often enough to catch the peak of a run; the parent resets the window.
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
  sampler.unref();

  process.on('message', async (message: ServeRequest) => {
    try {
      if (message.cmd === 'stats') {
        const rss = process.memoryUsage().rss;
        const reply = {
          id: message.id,
          statements: statementCount(),
          rssMiB: rss / MiB,
          peakRssMiB: Math.max(peak, rss) / MiB,
          maxRssMiB: process.resourceUsage().maxRSS / 1024,
          cpuMs: cpuMs(),
        };
        peak = rss;
        process.send!(reply);
      } else if (message.cmd === 'profile-start') {
        profiler = new Session();
        profiler.connect();
        await profiler.post('Profiler.enable');
        await profiler.post('Profiler.setSamplingInterval', { interval: 500 });
        await profiler.post('Profiler.start');
        process.send!({ id: message.id });
      } else if (message.cmd === 'profile-stop') {
        const { profile } = await profiler!.post('Profiler.stop');
        profiler!.disconnect();
        profiler = undefined;
        await fs.writeFile(message.file!, JSON.stringify(profile));
        process.send!({ id: message.id });
      } else if (message.cmd === 'sql') {
        const { rows } = await store.pool.query(message.text!, message.values);
        process.send!({ id: message.id, rows });
      } else if (message.cmd === 'stop') {
        server.closeAllConnections();
        server.close();
        await closeTarget();
        await store.close();
        process.send!({ id: message.id }, () => process.exit(0));
      }
    } catch (error) {
      process.send!({ id: message.id, error: String(error) });
    }
  });
  process.send!({ ready: true, port: (server.address() as AddressInfo).port });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
