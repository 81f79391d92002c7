// Small helpers shared by the mutation fields of every module.
import { NotFoundError } from '../errors.js';
import { nativeId, type NodeType } from './ids.js';

/** The native id inside a global (or native) id argument; a malformed one is NOT_FOUND. */
export function idArg(type: NodeType, value: string | number, field = 'id'): string {
  const id = nativeId(type, String(value));
  if (!id) throw new NotFoundError(type, String(value).slice(0, 80));
  void field;
  return id;
}

/** Like idArg for optional arguments. */
export const optionalIdArg = (type: NodeType, value: string | number | null | undefined) =>
  value === null || value === undefined ? undefined : idArg(type, value);
