// Connectors (SPEC §10.1, §10.3): the gateway's clients of connected backends, one per kind,
// each speaking that source API exactly as the gateway's own dialect serves it (the types
// come from the same OpenAPI documents: src/connectors/generated, `npm run connectors:types`).
//
//   const connector = createConnector({ id, kind, baseUrl, credential }, connectorOptions(config));
//   for await (const page of connector.readPages('catalog.users', checkpoint, { full, since })) …
//   const outcome = await connector.write({ op: 'learning.createAccount', externalUserId });
//
// A backend with an `id` keeps one Transport (HTTP agent, bulkhead, retry, circuit breaker,
// Retry-After gate) per process, reused across runs, so its politeness limits and circuit
// hold across them; dropConnector(id) forgets it (disconnect). Without an id each connector
// gets its own.
import crypto from 'node:crypto';
import type { BackendKind } from '@prisma/client';
import type { Connector, ConnectorWrites } from '../modules/backends/contract.js';
import { CatalogConnector, catalogUser } from './catalog.js';
import { EmbedConnector, embedRecord } from './embed.js';
import { LearningConnector, learningAccount } from './learning.js';
import { MessagingConnector, messagingAccount } from './messaging.js';
import { Transport, type ConnectorOptions } from './transport.js';

export { connectorOptions, retryAfterMs, type ConnectorOptions, type Transport } from './transport.js';
export { BackendError, BackendProtocolError, BackendRefusedError, BackendUnavailableError } from './errors.js';

export interface BackendAccess {
  /** The backend's id: its transport (and circuit) is kept per id. */
  id?: string;
  kind: BackendKind;
  /** Where its API lives, e.g. https://catalog.example.com (a stand-in: <origin>/rest/catalog). */
  baseUrl: string;
  /** The stored credential, opened; the connector sends it in the header form the kind expects. */
  credential: string;
}

/** How each source API takes its key: the catalog's bare, the others' as a bearer token. */
const AUTHORIZATION: Record<BackendKind, (credential: string) => string> = {
  LEARNING: (c) => `Bearer ${c}`,
  CATALOG: (c) => c,
  MESSAGING: (c) => `Bearer ${c}`,
  EMBED: (c) => `Bearer ${c}`,
};

const CONNECTORS = {
  LEARNING: LearningConnector,
  CATALOG: CatalogConnector,
  MESSAGING: MessagingConnector,
  EMBED: EmbedConnector,
} as const;

const transports = new Map<string, { fingerprint: string; transport: Transport }>();

/**
 * A backend's reader and writer (SPEC §10.3, §10.4): one transport, so reads and writes share its
 * limits and circuit.
 */
export function createConnector(backend: BackendAccess, options: ConnectorOptions): Connector & ConnectorWrites {
  const transport = backend.id
    ? sharedTransport(backend, options)
    : new Transport(backend.kind, backend.credential, AUTHORIZATION[backend.kind], options);
  return new CONNECTORS[backend.kind](transport, backend.baseUrl);
}

/**
 * One wire record of a source API as the connectors read it (a SourceRecord, or why it is not
 * one): what the pass-through proxy records of the answers it relays.
 */
export const wireRecord = {
  learningAccount,
  catalogUser,
  messagingAccount,
  embedUser: (raw: unknown) => embedRecord('embed.users', raw),
  embedClient: (raw: unknown) => embedRecord('embed.clients', raw),
} as const;

/**
 * The backend's transport itself, for the pass-through proxy (src/dialects/proxy.ts): the same
 * agent, bulkhead, circuit and Retry-After gate as its connector's reads and writes.
 */
export function backendTransport(backend: BackendAccess & { id: string }, options: ConnectorOptions): Transport {
  return sharedTransport(backend, options);
}

/** Forgets a backend's transport (its circuit and gate) and closes its connections: on disconnect. */
export function dropConnector(backendId: string): void {
  transports.get(backendId)?.transport.close();
  transports.delete(backendId);
}

/** The backend's transport; a new one when its kind, URL or credential changed (updateBackend). */
function sharedTransport(backend: BackendAccess, options: ConnectorOptions): Transport {
  const fingerprint = crypto
    .createHash('sha256')
    .update(`${backend.kind}\n${backend.baseUrl}\n${backend.credential}`)
    .digest('base64');
  const known = transports.get(backend.id!);
  if (known?.fingerprint === fingerprint) return known.transport;
  known?.transport.close();
  const transport = new Transport(backend.kind, backend.credential, AUTHORIZATION[backend.kind], options);
  transports.set(backend.id!, { fingerprint, transport });
  return transport;
}
