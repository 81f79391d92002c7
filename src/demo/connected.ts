// The connected demo of `npm start` (SPEC §10.5): on an empty store, the demo partner with all
// four kinds connected to a stand-in upstream started in this process (a hosted gateway app on
// its own embedded store and port, src/standin), and the first sync run of each. On a later
// start the stand-in is started afresh (its store is temporary) and the demo's backends are
// pointed at it again, then synced. DEMO_UPSTREAM=false gives the hosted demo (seed.ts).
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Backend, BackendKind, SyncRun } from '@prisma/client';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/database.js';
import { loadUserPrincipal } from '../auth/authenticate.js';
import type { RequestContext } from '../auth/context.js';
import { createApiKey, provisionPartner } from '../modules/partners/service.js';
import { BACKEND_KINDS, connectBackend, updateBackend } from '../modules/backends/service.js';
import { identitySink } from '../modules/identities/sink.js';
import { requestRun } from '../modules/sync/runner.js';
import type { SyncService } from '../modules/sync/service.js';
import { startStandIn, type StandIn } from '../standin/index.js';
import { connectorOptions, createConnector } from '../connectors/index.js';
import { uuidv7 } from '../store/ids.js';

export const DEMO_PARTNER = 'Demo Learning Co';

export interface ConnectedDemo {
  partnerName: string;
  /** The admin key: shown on the first start only (null later). */
  apiKey: string | null;
  standIn: StandIn;
  /** The first sync's runs, by kind. */
  runs: Partial<Record<BackendKind, SyncRun>>;
}

/** Where a later start finds the demo partner (DATA_DIR for the embedded store). */
const markerFile = (config: Config) => path.join(path.resolve(config.dataDir), 'demo-upstream.json');

/**
 * Seeds (or, on a later start, reconnects) the connected demo and syncs it once. Null when
 * the store holds data that is not this demo's: then nothing is started or changed.
 */
export async function connectedDemo(
  store: Store,
  config: Config,
  logger: Logger,
  sync: SyncService,
): Promise<ConnectedDemo | null> {
  const empty = (await store.prisma.account.count()) === 0;
  const marker = empty ? null : await readMarker(store, config);
  if (!empty && !marker) return null;
  const standIn = await startStandIn({ logger });
  try {
    let partnerId: string;
    let adminUserId: string;
    let apiKey: string | null = null;
    if (empty) {
      const partner = await store.prisma.$transaction((tx) =>
        provisionPartner(tx, { name: DEMO_PARTNER, plan: 'AUTOMATE' }),
      );
      partnerId = partner.account.id;
      adminUserId = partner.adminUser.id;
      apiKey = partner.key;
    } else {
      ({ partnerId, adminUserId } = marker!);
    }
    const ctx: RequestContext = {
      prisma: store.prisma,
      principal: await loadUserPrincipal(store.prisma, adminUserId, 'api_key'),
      requestId: 'demo',
      ip: '127.0.0.1',
      config,
    };
    // A first start stopped before it kept the admin's key (DATA_DIR/demo-credentials.json): a new one.
    if (
      !empty &&
      store.kind === 'pglite' &&
      !(await fs.stat(path.join(path.resolve(config.dataDir), 'demo-credentials.json')).catch(() => null))
    ) {
      apiKey = (await createApiKey(ctx, { name: 'demo admin (issued again)' })).key;
    }
    const backends: Backend[] = [];
    for (const kind of BACKEND_KINDS) {
      const existing = await store.prisma.backend.findFirst({ where: { partnerId, kind, disconnectedAt: null } });
      const settings = { baseUrl: standIn.baseUrls[kind], credential: standIn.credentials[kind] };
      if (existing) {
        // A run left by an earlier start read the previous stand-in: its checkpoint (a page,
        // a cursor) means nothing to the new one, so it is cancelled and a fresh full run reads it.
        await store.prisma.syncRun.updateMany({
          where: { backendId: existing.id, status: { in: ['QUEUED', 'RUNNING'] } },
          data: { status: 'CANCELLED', finishedAt: new Date(), worker: null },
        });
      }
      backends.push(
        existing
          ? await updateBackend(ctx, { id: existing.id, ...settings })
          : await connectBackend(ctx, { kind, ...settings }),
      );
    }
    await fs
      .writeFile(markerFile(config), JSON.stringify({ partnerId, adminUserId }, null, 2), { mode: 0o600 })
      .catch(() => {});

    // The learning API cannot list its accounts: they reach the gateway as it creates them or
    // through ensureUser and the proxy. The demo tells it the stand-in's, read by id as
    // ensureUser would, so the re-read of the first sync has them.
    const learning = backends.find((b) => b.kind === 'LEARNING')!;
    await registerLearning(store, standIn, learning, config);

    const runs: ConnectedDemo['runs'] = {};
    for (const backend of backends) {
      // The schedule may have queued one already: its run is the one to carry out.
      const { run } = await requestRun(store.prisma, backend, true);
      runs[backend.kind] = (await sync.runNow(run.id)) ?? run;
    }
    return { partnerName: DEMO_PARTNER, apiKey, standIn, runs };
  } catch (error) {
    await standIn.stop();
    throw error;
  }
}

async function readMarker(store: Store, config: Config): Promise<{ partnerId: string; adminUserId: string } | null> {
  const text = await fs.readFile(markerFile(config), 'utf8').catch(() => null);
  if (text) {
    const marker = JSON.parse(text) as { partnerId: string; adminUserId: string };
    if (await store.prisma.account.findUnique({ where: { id: marker.partnerId } })) return marker;
  }
  // On PostgreSQL there is no DATA_DIR file: the demo partner is found by name.
  const partner = await store.prisma.account.findFirst({
    where: { parentId: null, name: DEMO_PARTNER },
    orderBy: { createdAt: 'asc' },
  });
  const admin =
    partner &&
    (await store.prisma.user.findFirst({
      where: { partnerId: partner.id, apiKeys: { some: {} } },
      orderBy: { createdAt: 'asc' },
    }));
  return partner && admin && (await store.prisma.backend.count({ where: { partnerId: partner.id } }))
    ? { partnerId: partner.id, adminUserId: admin.id }
    : null;
}

async function registerLearning(store: Store, standIn: StandIn, backend: Backend, config: Config): Promise<void> {
  const accounts = await standIn.store.prisma.user.findMany({
    where: { partnerId: standIn.partnerId, externalUserId: { not: null } },
    select: { id: true },
  });
  const connector = createConnector(
    { kind: 'LEARNING', baseUrl: backend.baseUrl, credential: standIn.credentials.LEARNING },
    connectorOptions(config),
  );
  const records = [];
  for (const { id } of accounts) {
    const record = await connector.readOne('learning.accounts', id);
    if (record !== 'GONE') records.push(record);
  }
  const ref = { id: backend.id, partnerId: backend.partnerId, kind: backend.kind, linkBy: backend.linkBy };
  await identitySink(store.prisma).upsertPage(ref, records, uuidv7());
}
