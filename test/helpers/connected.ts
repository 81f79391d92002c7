// A partner with backends connected to a stand-in upstream (src/standin), reached through
// `baseUrl` (usually a fault proxy in front of the stand-in), as a partner admin connects them.
import { expect, inject } from 'vitest';
import type { Backend, BackendKind } from '@prisma/client';
import { STANDIN_PREFIXES, startStandIn, type StandIn, type StandInOptions } from '../../src/standin/index.js';
import type { Harness, Partner } from './app.js';
import { createTestDatabase, pgliteDump, storeKind } from './store.js';

/**
 * A stand-in upstream whose store starts as a copy of the run's migrated template: in memory,
 * or on the PostgreSQL project a database of its own on the server (dropped when it stops),
 * where each of its statements costs half the CPU of the embedded store's and runs beside the
 * test's process rather than in it.
 */
export async function testStandIn(
  options: Omit<StandInOptions, 'inMemory' | 'loadDataDir' | 'databaseUrl'> = {},
): Promise<StandIn> {
  if (storeKind !== 'postgres') return startStandIn({ ...options, loadDataDir: await pgliteDump() });
  const database = await createTestDatabase(inject('postgresTemplate') ?? undefined);
  try {
    const standIn = await startStandIn({ ...options, databaseUrl: database.url });
    let stopped: Promise<void> | undefined;
    return { ...standIn, stop: () => (stopped ??= standIn.stop().finally(() => database.drop())) };
  } catch (error) {
    await database.drop();
    throw error;
  }
}

const CONNECT =
  'mutation ($input: ConnectBackendInput!) { connectBackend(input: $input) ' +
  '{ __typename ... on Error { message } } }';

/** Connects each kind with the stand-in's credential; the stored Backend rows by kind. */
export async function connectStandIn(
  h: Harness,
  partner: Partner,
  standIn: StandIn,
  baseUrl: string,
  kinds: readonly BackendKind[],
): Promise<Record<BackendKind, Backend>> {
  const backends = {} as Record<BackendKind, Backend>;
  for (const kind of kinds) {
    const r = await h.gql(
      CONNECT,
      { input: { kind, baseUrl: baseUrl + STANDIN_PREFIXES[kind], credential: standIn.credentials[kind] } },
      { token: partner.key },
    );
    expect(r.data.connectBackend.__typename, JSON.stringify(r.data)).toBe('ConnectBackendSuccess');
    backends[kind] = await h.store.prisma.backend.findFirstOrThrow({
      where: { partnerId: partner.accountId, kind, disconnectedAt: null },
    });
  }
  return backends;
}
