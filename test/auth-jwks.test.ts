// JWTs verified through a JWKS (RS256 and ES256), with issuer and audience checked.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import { useHarness, type Partner } from './helpers/app.js';
import { mutate } from './helpers/fixtures.js';

const rsa = await generateKeyPair('RS256');
const ec = await generateKeyPair('ES256');
const stranger = await generateKeyPair('RS256');
const keys = {
  keys: [
    { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256' },
    { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256' },
  ],
};
const server = http.createServer((_req, res) =>
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(keys)),
);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`;
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const h = useHarness({
  JWT_SECRET: '',
  JWT_JWKS_URL: url,
  JWT_ISSUER: 'https://issuer.test',
  JWT_AUDIENCE: 'account-gateway',
});
let partner: Partner;
let uuid: string;

function sign(
  alg: 'RS256' | 'ES256',
  key: CryptoKey,
  kid: string,
  claims: { sub: string; iss?: string; aud?: string; exp?: string | number },
) {
  let jwt = new SignJWT({}).setProtectedHeader({ alg, kid }).setSubject(claims.sub).setIssuedAt();
  if (claims.iss) jwt = jwt.setIssuer(claims.iss);
  if (claims.aud) jwt = jwt.setAudience(claims.aud);
  jwt = jwt.setExpirationTime(claims.exp ?? '5m');
  return jwt.sign(key);
}

beforeAll(async () => {
  if (!h.ready) return;
  partner = await h.newPartner('Jwks');
  const r = await mutate(
    h,
    partner.key,
    'createUser',
    { externalUserId: 'jwks-user' },
    '... on CreateUserSuccess { user { uuid } }',
  );
  uuid = r.user.uuid;
});

const viewer = (token: string) => h.gql(`{ viewer { user { uuid } } }`, {}, { token });

describe('JWKS', () => {
  it('accepts RS256 and ES256 tokens with the right issuer and audience', async () => {
    for (const token of [
      await sign('RS256', rsa.privateKey, 'rsa-1', { sub: uuid, iss: 'https://issuer.test', aud: 'account-gateway' }),
      await sign('ES256', ec.privateKey, 'ec-1', { sub: uuid, iss: 'https://issuer.test', aud: 'account-gateway' }),
    ]) {
      const r = await viewer(token);
      expect(r.status).toBe(200);
      expect(r.data.viewer.user.uuid).toBe(uuid);
    }
  });

  it('refuses a wrong audience, a wrong issuer, an unknown key and an expired token', async () => {
    const bad = [
      await sign('RS256', rsa.privateKey, 'rsa-1', { sub: uuid, iss: 'https://issuer.test', aud: 'someone-else' }),
      await sign('RS256', rsa.privateKey, 'rsa-1', { sub: uuid, iss: 'https://evil.test', aud: 'account-gateway' }),
      await sign('RS256', stranger.privateKey, 'rsa-1', {
        sub: uuid,
        iss: 'https://issuer.test',
        aud: 'account-gateway',
      }),
      await sign('RS256', rsa.privateKey, 'rsa-1', {
        sub: uuid,
        iss: 'https://issuer.test',
        aud: 'account-gateway',
        exp: Math.floor(Date.now() / 1000) - 60,
      }),
    ];
    for (const token of bad) {
      const r = await viewer(token);
      expect(r.status).toBe(401);
      expect(r.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
  });

  it('refuses HS256 tokens when only a JWKS is configured', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(uuid)
      .setIssuer('https://issuer.test')
      .setAudience('account-gateway')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('x'.repeat(40)));
    expect((await viewer(token)).status).toBe(401);
  });
});
