// Process entry: configuration, store, demo seed, HTTP server, graceful shutdown.
import fs from 'node:fs/promises';
import path from 'node:path';
import { serve } from '@hono/node-server';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { openStore } from './store/database.js';
import { createApp } from './app.js';
import { seedDemo } from '../prisma/seed.js';
import { checkStoredCredentials } from './modules/backends/service.js';
import { SecretsKeyError } from './modules/backends/errors.js';

async function main() {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  const store = await openStore({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.databasePoolSize,
    log: (message) => logger.info(message),
  });
  logger.info({ store: store.kind, dataDir: store.kind === 'pglite' ? path.resolve(config.dataDir) : undefined }, 'store ready');
  // Stored backend credentials that SECRETS_KEY cannot open would fail every sync later:
  // refuse now, with the reason, before serving anything.
  try {
    await checkStoredCredentials(store.prisma, config);
  } catch (error) {
    if (!(error instanceof SecretsKeyError)) throw error;
    console.error(error.message);
    await store.close();
    process.exit(2);
  }

  const demo = config.seedDemo ? await demoCredentials(config, store) : null;
  const app = createApp({ config, store, logger });
  const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }) as Server;
  // Slow clients cannot hold sockets forever.
  server.headersTimeout = 15_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const base = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}`;
  logger.info({ url: `${base}/graphql` }, 'listening');
  printWelcome(base, demo);

  // For draining: answers in progress, and connections that have served a request.
  const inFlight = new Set<ServerResponse>();
  const served = new Set<Socket>();
  let stopping = false;
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
    // Once per connection: a kept-alive socket serves many requests.
    if (!served.has(req.socket)) {
      served.add(req.socket);
      req.socket.once('close', () => served.delete(req.socket));
    }
    // A request that arrives while draining (on a kept-alive connection, or one accepted
    // just before the listener closed) is answered, then its connection closes.
    if (stopping) res.shouldKeepAlive = false;
  });

  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: config.shutdownGraceMs }, 'shutting down: draining requests');
    const force = setTimeout(() => {
      logger.warn('requests still running after 10s; closing anyway');
      server.closeAllConnections();
    }, 10_000);
    force.unref();
    // Keep accepting for a moment, /readyz answering 503: connections the kernel already
    // accepted but this busy process has not taken yet would be reset if the listener
    // closed now, and a load balancer needs a moment to stop sending.
    app.drain();
    await new Promise((resolve) => setTimeout(resolve, config.shutdownGraceMs));
    // Stop listening with net.Server#close: http.Server#close also destroys every connection
    // that has no request in progress, including one whose request was sent but not yet read.
    const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
    // Answers in progress close their connection when done; idle kept-alive ones close now.
    for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
    const busy = new Set([...inFlight].map((res) => res.socket));
    for (const socket of served) if (!busy.has(socket)) socket.end();
    await closed;
    await store.close();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

interface DemoInfo {
  partnerName: string;
  apiKey?: string;
}

/**
 * Seeds the demo partner on an empty store. Its key is shown once; for the embedded store
 * it is also kept in DATA_DIR/demo-credentials.json (mode 0600) so later starts can repeat it.
 */
async function demoCredentials(config: Config, store: Awaited<ReturnType<typeof openStore>>): Promise<DemoInfo | null> {
  const file = store.kind === 'pglite' ? path.join(path.resolve(config.dataDir), 'demo-credentials.json') : null;
  const seeded = await seedDemo(store);
  if (seeded) {
    if (file) await fs.writeFile(file, JSON.stringify({ partnerName: seeded.partnerName, apiKey: seeded.apiKey }, null, 2), { mode: 0o600 });
    return seeded;
  }
  if (!file) return null;
  return JSON.parse(await fs.readFile(file, 'utf8').catch(() => 'null')) as DemoInfo | null;
}

function printWelcome(base: string, demo: DemoInfo | null) {
  const lines = [
    '',
    `  account-gateway is up: ${base}/graphql (GraphiQL in a browser)`,
    `  health: ${base}/healthz  readiness: ${base}/readyz`,
  ];
  if (demo?.apiKey) {
    lines.push(
      `  demo partner "${demo.partnerName}", admin API key:`,
      `    ${demo.apiKey}`,
      '  try:',
      `    curl -s ${base}/graphql -H 'content-type: application/json' \\`,
      `      -H 'authorization: Bearer ${demo.apiKey}' \\`,
      `      -d '{"query":"{ users(first: 5) { totalCount edges { node { uuid externalUserId email } } } }"}'`,
      '  In GraphiQL, put {"Authorization": "Bearer <key>"} in the Headers tab.',
    );
  }
  console.log(`${lines.join('\n')}\n`);
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
