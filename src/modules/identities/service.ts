// Identities with provenance (SPEC §10.2): a connected backend's records, stored one per
// (backend, entity, nativeId) and linked to the users, accounts and clients they are; and the
// hosted identities, read from the unified rows' own columns. The sink the sync runner calls
// is in sink.ts, linking in linking.ts, the projection (identity data → columns) in
// projection.ts and writes.ts.
import type { Tx } from '../audit/service.js';

export { identitySink, systemContext } from './sink.js';

/** disconnectBackend: the backend's identities stay on their owners, DETACHED. */
export async function detachIdentities(tx: Tx, backendId: string): Promise<number> {
  const { count } = await tx.identity.updateMany({ where: { backendId }, data: { status: 'DETACHED' } });
  return count;
}
