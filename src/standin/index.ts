// The stand-in upstream (SPEC §10.5): a hosted instance of this very app, on its own embedded
// store in a temporary directory and its own loopback port, seeded with one partner whose
// data spans the four dialects. A hosted gateway speaks each backend's source API exactly
// (§7), so the connectors, the sync runner, the tests, the benchmark and `npm start`'s demo
// all read it as they would read the real systems.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { BackendKind } from '@prisma/client';
import { createApp, type App } from '../app.js';
import { loadConfig } from '../config.js';
import { createLogger, type Logger } from '../logger.js';
import { openStore, type Store } from '../store/database.js';
import { loadUserPrincipal } from '../auth/authenticate.js';
import type { RequestContext } from '../auth/context.js';
import { createApiKey, provisionPartner } from '../modules/partners/service.js';
import { seedStandIn, type StandInSeed } from './seed.js';

export type { StandInSeed } from './seed.js';

/** Where each dialect of the stand-in lives: the `baseUrl` a backend of that kind is connected with. */
export const STANDIN_PREFIXES: Record<BackendKind, string> = {
  LEARNING: '/rest/learning',
  CATALOG: '/rest/catalog',
  MESSAGING: '/rest/messaging',
  EMBED: '/rest/embed',
};

export interface StandInOptions {
  /** Loopback port; 0 (the default) picks a free one. */
  port?: number;
  logger?: Logger;
  /**
   * Extra catalog users (`bulk-000001@example.com` …) beside the demo data, e.g. the benchmark's
   * 50,000: written a thousand rows per statement, without audit events.
   */
  catalogUsers?: number;
  /** Keep the stand-in's store in memory instead of a temporary directory (starts faster; tests). */
  inMemory?: boolean;
  /**
   * A migrated store's dump (PGlite's dumpDataDir) to start from, in memory, instead of
   * migrating an empty store: the tests' template.
   */
  loadDataDir?: Blob;
  /** A PostgreSQL database for the stand-in's store instead of an embedded one (migrated if it is not). */
  databaseUrl?: string;
}

export interface StandIn {
  /** The stand-in's origin, `http://127.0.0.1:<port>`. */
  url: string;
  /** `baseUrl` per kind: the origin plus the dialect's prefix. */
  baseUrls: Record<BackendKind, string>;
  /**
   * API keys of the stand-in's partner, one per kind, as the backends' credentials are stored
   * (the connector adds the header form each dialect expects: bearer, or the bare key for the catalog).
   */
  credentials: Record<BackendKind, string>;
  /** The stand-in partner's id (its root account, also the messaging account its keys belong to). */
  partnerId: string;
  /** What was seeded, by name, for tests to compare against. */
  seed: StandInSeed;
  /** The stand-in's store: change or delete upstream records with its Prisma client or the services. */
  store: Store;
  app: App;
  /** A request context acting as the partner's admin, for the services (createUser, updateUser, deleteUser …). */
  context(): Promise<RequestContext>;
  /** A request to the stand-in over HTTP with the partner admin's key as bearer token. */
  request(path: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

export async function startStandIn(options: StandInOptions = {}): Promise<StandIn> {
  const logger = options.logger ?? createLogger('silent');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'account-gateway-standin-'));
  let store: Store | undefined;
  let server: Server | undefined;
  try {
    const { loadDataDir } = options;
    store = await openStore(
      options.databaseUrl
        ? { databaseUrl: options.databaseUrl, poolSize: 4 }
        : {
            dataDir: options.inMemory || loadDataDir ? 'memory://' : dir,
            poolSize: 4,
            ...(loadDataDir && { loadDataDir }),
          },
    );
    // The stand-in is an upstream, not a guarded edge: syncs and the benchmark read many pages.
    const config = loadConfig({
      HOST: '127.0.0.1',
      PORT: String(options.port ?? 0),
      SEED_DEMO: 'false',
      LOG_LEVEL: 'silent',
      RATE_LIMIT_PER_MINUTE: '1000000',
    });
    const partner = await store.prisma.$transaction((tx) =>
      provisionPartner(tx, { name: 'Stand-in Upstream Co', plan: 'AUTOMATE' }),
    );
    const prisma = store.prisma;
    const context = async (): Promise<RequestContext> => ({
      prisma,
      principal: await loadUserPrincipal(prisma, partner.adminUser.id, 'api_key', partner.apiKey.id),
      requestId: 'standin',
      ip: '127.0.0.1',
      config,
    });
    const ctx = await context();
    const credentials = {} as Record<BackendKind, string>;
    for (const kind of Object.keys(STANDIN_PREFIXES) as BackendKind[]) {
      credentials[kind] = (await createApiKey(ctx, { name: `${kind.toLowerCase()} connector` })).key;
    }
    const seed = await seedStandIn(ctx, { catalogUsers: options.catalogUsers ?? 0 });

    const app = createApp({ config, store, logger });
    server = serve({ fetch: app.fetch, port: options.port ?? 0, hostname: '127.0.0.1' }) as Server;
    const listening = server;
    await new Promise<void>((resolve, reject) => {
      listening.once('listening', resolve);
      listening.once('error', reject);
    });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    logger.info({ url }, 'stand-in upstream listening');
    const baseUrls = Object.fromEntries(
      Object.entries(STANDIN_PREFIXES).map(([kind, prefix]) => [kind, url + prefix]),
    ) as Record<BackendKind, string>;
    const openStoreRef = store;
    let stopped: Promise<void> | undefined;
    return {
      url,
      baseUrls,
      credentials,
      partnerId: partner.account.id,
      seed,
      store,
      app,
      context,
      request(requestPath, init = {}) {
        const headers = new Headers(init.headers);
        if (!headers.has('authorization')) headers.set('authorization', `Bearer ${partner.key}`);
        return fetch(url + requestPath, { ...init, headers });
      },
      stop() {
        stopped ??= (async () => {
          listening.closeAllConnections();
          await new Promise<void>((resolve) => listening.close(() => resolve()));
          await openStoreRef.close();
          await fs.rm(dir, { recursive: true, force: true });
        })();
        return stopped;
      },
    };
  } catch (error) {
    server?.close();
    await store?.close().catch(() => {});
    await fs.rm(dir, { recursive: true, force: true }).catch(() => {});
    throw error;
  }
}
