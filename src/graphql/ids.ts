// Ids at the edge of the graph. Arguments take a type's opaque global id (Relay) or, for
// convenience, its native id; services only ever see native ids, already well-formed,
// so a malformed id is a NOT_FOUND and never reaches the database as a type error.
import { decodeGlobalID, encodeGlobalID } from '@pothos/plugin-relay';
import { isUlid, isUuid } from '../store/ids.js';

export type NodeType =
  | 'Account'
  | 'User'
  | 'Client'
  | 'Course'
  | 'Enrollment'
  | 'Order'
  | 'ApiKey'
  | 'AuditEvent'
  | 'Backend'
  | 'SyncRun'
  | 'LinkConflict'
  | 'PendingChange';

const NATIVE_SHAPE: Record<NodeType, (value: string) => boolean> = {
  Account: isUlid,
  User: isUuid,
  Client: isUuid,
  Course: isUuid,
  Enrollment: isUuid,
  Order: isUuid,
  ApiKey: isUuid,
  AuditEvent: isUuid,
  Backend: isUuid,
  SyncRun: isUuid,
  LinkConflict: isUuid,
  PendingChange: isUuid,
};

export { isUlid, isUuid };

/** The native id inside `value` if it names a `type` node, else null. */
export function nativeId(type: NodeType, value: string): string | null {
  if (typeof value !== 'string' || value.length > 200) return null;
  const decoded = decodeGlobal(value);
  const id = decoded ? (decoded.typename === type ? decoded.id : null) : value;
  if (id === null || !NATIVE_SHAPE[type](id)) return null;
  return type === 'Account' ? id.toUpperCase() : id.toLowerCase();
}

/** An id no row has (uuid columns accept it): what a malformed node id decodes to. */
const NO_NODE = { typename: 'User' as NodeType, id: '00000000-0000-0000-0000-000000000000' };

/**
 * Relay's global id decoder (node, nodes). A malformed id, an unknown type or a native id of
 * the wrong shape decodes to an id that names no row, so it answers null like an unknown or
 * foreign id, instead of failing the whole `nodes` list or reaching the database as a type error.
 */
export function decodeNodeId(value: string): { typename: NodeType; id: string } {
  const decoded = typeof value === 'string' && value.length <= 200 ? decodeGlobal(value) : null;
  if (!decoded) return NO_NODE;
  const typename = decoded.typename as NodeType;
  const id = nativeId(typename, value);
  return id ? { typename, id } : NO_NODE;
}

export function globalId(type: NodeType, id: string): string {
  return encodeGlobalID(type, id);
}

/** plugin-relay's decoder, made total: a value that is not a global id of one of our types is null. */
function decodeGlobal(value: string): { typename: string; id: string } | null {
  if (!/^[A-Za-z0-9+/]+=*$/.test(value)) return null;
  try {
    const decoded = decodeGlobalID(value);
    return decoded.typename in NATIVE_SHAPE ? decoded : null;
  } catch {
    return null;
  }
}
