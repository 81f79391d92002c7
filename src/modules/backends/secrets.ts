// Backend credentials at rest: AES-256-GCM with SECRETS_KEY (node:crypto), as
// `v1:<iv b64>:<tag b64>:<cipher b64>`. The version prefix leaves room for a key rotation
// that re-seals under a new format. Each credential is bound to its place (partner and
// kind) as additional authenticated data, so a sealed value copied into another partner's
// row fails to open there instead of lending that partner someone else's credential.
import crypto from 'node:crypto';
import { SecretsKeyError } from './errors.js';

const VERSION = 'v1';
const IV_BYTES = 12;

export function seal(key: Buffer, plaintext: string, context: string): string {
  assertKey(key);
  const iv = crypto.randomBytes(IV_BYTES);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join(':');
}

export function open(key: Buffer, sealed: string, context: string): string {
  assertKey(key);
  const parts = sealed.split(':');
  if (parts.length !== 4 || parts[0] !== VERSION)
    throw new SecretsKeyError('a stored credential is not in the v1 sealed format');
  const [, iv, tag, body] = parts as [string, string, string, string];
  try {
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    // GCM's tag check is the only thing that fails here; node's message says nothing useful.
    throw new SecretsKeyError(
      'SECRETS_KEY does not open the stored backend credentials: it is not the key they were sealed with',
    );
  }
}

function assertKey(key: Buffer): void {
  if (key.length !== 32) throw new SecretsKeyError('SECRETS_KEY must be 32 bytes');
}
