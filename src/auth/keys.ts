// API key material: random, shown once, stored only as a SHA-256 hash.
import crypto from 'node:crypto';

const PREFIX = 'agk_';

export function generateApiKey(): { key: string; hash: string; prefix: string } {
  const key = PREFIX + crypto.randomBytes(32).toString('base64url');
  return { key, hash: hashApiKey(key), prefix: key.slice(0, PREFIX.length + 6) };
}

// The key has 256 bits of entropy, so a plain (unsalted) hash is safe and allows lookup.
export function hashApiKey(key: string): string {
  return crypto.createHash('sha256').update(key).digest('hex');
}

export const looksLikeApiKey = (token: string) => token.startsWith(PREFIX) && token.length < 100;

/** Constant-time string comparison (for the operator token). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}
