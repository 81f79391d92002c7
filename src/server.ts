// Process entry: configuration, store, demo seed, HTTP server, graceful shutdown.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { serve } from '@hono/node-server';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createLogger } from './logger.js';
import { openStore } from './store/database.js';
import { createApp } from './app.js';
import type { GraphQLObjectType } from 'graphql';
import { schema } from './schema.js';
import { seedDemo } from './demo/hosted.js';
import { checkStoredCredentials } from './modules/backends/service.js';
import { SecretsKeyError } from './modules/backends/errors.js';
import { gatewaySync } from './modules/sync/service.js';
import { createOutboxWorker } from './modules/outbox/worker.js';
import { connectedDemo, type ConnectedDemo } from './demo/connected.js';

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
  // The connected demo seals its backends' credentials: on the embedded store, without a
  // SECRETS_KEY of the operator's, a key of its own is made once and kept in DATA_DIR.
  const connected =
    config.seedDemo && config.demoUpstream && (config.backends.secretsKey !== undefined || !config.databaseUrl);
  if (connected && !config.backends.secretsKey) config = await withDemoSecretsKey(config);
  const store = await openStore({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolSize: config.databasePoolSize,
    log: (message) => logger.info(message),
  });
  logger.info(
    { store: store.kind, dataDir: store.kind === 'pglite' ? path.resolve(config.dataDir) : undefined },
    'store ready',
  );
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

  const sync = gatewaySync({ prisma: store.prisma, config, logger, databaseUrl: config.databaseUrl });
  let connectedInfo: ConnectedDemo | null = null;
  if (connected) {
    connectedInfo = await connectedDemo(store, config, logger, sync);
    if (connectedInfo && store.kind === 'pglite' && connectedInfo.apiKey)
      await keepDemoKey(config, connectedInfo.partnerName, connectedInfo.apiKey);
  }
  const demo = connected
    ? await demoCredentials(config, store, false)
    : config.seedDemo
      ? await demoCredentials(config, store)
      : null;
  await sync.start();
  // The outbox's deliveries (changes that span several backends) on the same queue mechanism.
  const outbox = createOutboxWorker({ prisma: store.prisma, config, logger, databaseUrl: config.databaseUrl });
  await outbox.start();
  const app = createApp({ config, store, logger, sync });
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
  if (connectedInfo) printConnected(connectedInfo, demo);

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
    // Runs in progress go back to QUEUED at their checkpoint; the next start resumes them. An
    // outbox attempt cut short is attempted again after restart (checking the backend first).
    // The two queues stop side by side: each may wait for its jobs' abort. An answered
    // request's lastUsedAt write may still be on its way to the store.
    await Promise.all([
      app.authenticator.settled(),
      sync.stop().catch((error: unknown) => logger.warn({ err: error }, 'stopping the sync queue failed')),
      outbox.stop().catch((error: unknown) => logger.warn({ err: error }, 'stopping the outbox worker failed')),
    ]);
    await connectedInfo?.standIn.stop().catch(() => {});
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
async function demoCredentials(
  config: Config,
  store: Awaited<ReturnType<typeof openStore>>,
  seed = true,
): Promise<DemoInfo | null> {
  const file = store.kind === 'pglite' ? path.join(path.resolve(config.dataDir), 'demo-credentials.json') : null;
  const seeded = seed ? await seedDemo(store) : null;
  if (seeded) {
    if (file)
      await fs.writeFile(file, JSON.stringify({ partnerName: seeded.partnerName, apiKey: seeded.apiKey }, null, 2), {
        mode: 0o600,
      });
    return seeded;
  }
  if (!file) return null;
  return JSON.parse(await fs.readFile(file, 'utf8').catch(() => 'null')) as DemoInfo | null;
}

async function keepDemoKey(config: Config, partnerName: string, apiKey: string) {
  const file = path.join(path.resolve(config.dataDir), 'demo-credentials.json');
  await fs.writeFile(file, JSON.stringify({ partnerName, apiKey }, null, 2), { mode: 0o600 });
}

/** Config with the embedded demo's own SECRETS_KEY (DATA_DIR/secrets-key, mode 0600, made once). */
async function withDemoSecretsKey(config: Config): Promise<Config> {
  const dir = path.resolve(config.dataDir);
  const file = path.join(dir, 'secrets-key');
  let key = (await fs.readFile(file, 'utf8').catch(() => '')).trim();
  if (!key) {
    await fs.mkdir(dir, { recursive: true });
    key = crypto.randomBytes(32).toString('base64');
    await fs.writeFile(file, `${key}\n`, { mode: 0o600 });
  }
  return loadConfig({ ...process.env, SECRETS_KEY: key });
}

function printConnected(info: ConnectedDemo, demo: DemoInfo | null) {
  const lines = [
    '',
    `  connected demo: the demo partner's four backends read the stand-in upstream at ${info.standIn.url}`,
  ];
  for (const [kind, run] of Object.entries(info.runs)) {
    if (!run) continue;
    lines.push(
      `    ${kind.padEnd(9)} ${run.status.padEnd(9)} ${run.seen} read, ${run.created} new, ${run.updated} changed, ` +
        `${run.linked} linked, ${run.gone} gone, ${run.conflicts} conflicts, ${run.requests} requests`,
    );
  }
  lines.push(
    '  users unified across the four (each with its identities), in GraphiQL or with curl:',
    `    ${UNIFIED_QUERY}`,
  );
  if (demo?.apiKey) lines.push(`  (Authorization: Bearer ${demo.apiKey})`);
  console.log(`${lines.join('\n')}\n`);
}

// Each user with the identities it is made of, where the graph has User.identities (SPEC §10.2).
const hasIdentities = Boolean((schema.getType('User') as GraphQLObjectType | undefined)?.getFields().identities);
const UNIFIED_QUERY =
  '{ users(first: 20) { totalCount edges { node { uuid externalUserId email ' +
  `identifier${hasIdentities ? ' identities { kind nativeId key status }' : ''} } } } }`;

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
