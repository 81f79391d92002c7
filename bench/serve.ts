// A benchmark target in its own process (forked by bench/http.ts), so that its memory and
// CPU are its own: the gateway exactly as src/server.ts serves it (Hono app on
// @hono/node-server), the naive build (yoga on node:http) or the floor (bare node:http).
// With the embedded store, PGlite runs inside this process too, as it does in production.
// Talks to the parent over IPC: "ready" with the port, then stats and SQL on request.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { openStore } from '../src/store/database.js';
import { createLogger } from '../src/logger.js';
import { createApp } from '../src/app.js';
import { createNaive } from './naive.js';
import { createFloorServer } from './floor.js';
import { benchConfig } from './inprocess.js';

export type ServeTarget = 'gateway' | 'naive' | 'floor';

export interface ServeRequest {
  id: number;
  cmd: 'stats' | 'sql' | 'stop';
  text?: string;
  values?: unknown[];
}

const MiB = 1024 * 1024;

async function main() {
  const target = process.env.BENCH_TARGET as ServeTarget;
  const store = await openStore(
    process.env.BENCH_DATABASE_URL
      ? { databaseUrl: process.env.BENCH_DATABASE_URL }
      : { dataDir: process.env.BENCH_DATA_DIR! },
  );
  // Logs off (a log line per request is the operator's choice, not the gateway's cost).
  const config = benchConfig();
  let server: Server;
  if (target === 'gateway') {
    const app = createApp({ config, store, logger: createLogger('silent') });
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
  } else {
    server =
      target === 'naive'
        ? createNaive(store.prisma, config).server()
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
          statements: store.statementCount(),
          rssMiB: rss / MiB,
          peakRssMiB: Math.max(peak, rss) / MiB,
          maxRssMiB: process.resourceUsage().maxRSS / 1024,
        };
        peak = rss;
        process.send!(reply);
      } else if (message.cmd === 'sql') {
        const { rows } = await store.pool.query(message.text!, message.values);
        process.send!({ id: message.id, rows });
      } else if (message.cmd === 'stop') {
        server.closeAllConnections();
        server.close();
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
