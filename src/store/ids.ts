// Row ids made in the application, before the insert (bulk creation matches rows to their
// results by id).
import crypto from 'node:crypto';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Crockford base32: the ids of accounts (the messaging dialect's ULIDs).
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/i;

/** Any RFC 4122 shaped uuid, either case. */
export const isUuid = (value: string): boolean => UUID.test(value);
/** A ULID, either case. */
export const isUlid = (value: string): boolean => ULID.test(value);

/** UUID v7 (RFC 9562, the `uuid` package): time-ordered, so new rows land at the end of the primary key index. */
export { v7 as uuidv7 } from 'uuid';

const LETTERS_AND_DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * 40 random letters and digits (mixed case), the catalog's alphabet for canvas_user_uuid and
 * canvas_root_account_uuid. Bytes of 248 and above are skipped: 248 is 4 × 62, so every
 * character is equally likely.
 */
export function canvasUuid(): string {
  let out = '';
  while (out.length < 40) {
    for (const byte of crypto.randomBytes(48)) if (byte < 248 && out.length < 40) out += LETTERS_AND_DIGITS[byte % 62];
  }
  return out;
}
