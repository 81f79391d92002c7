// JWTs for tests, signed with the harness' HS256 secret unless a key is given.
import { SignJWT } from 'jose';
import { JWT_SECRET } from './app.js';

/** `expiresIn: null` leaves `exp` out (the gateway refuses such a token). */
export async function hs256(
  sub: string,
  options: { expiresIn?: string | number | null; audience?: string; issuer?: string; secret?: string } = {},
) {
  let jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setIssuedAt();
  if (options.expiresIn !== null) jwt = jwt.setExpirationTime(options.expiresIn ?? '1h');
  if (options.audience) jwt = jwt.setAudience(options.audience);
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  return jwt.sign(new TextEncoder().encode(options.secret ?? JWT_SECRET));
}
