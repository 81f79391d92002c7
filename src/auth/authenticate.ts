// Credentials → principal. Bearer API keys, bearer JWTs (HS256 or a JWKS), or the operator
// token. A user who is disabled, merged or deleted is refused whatever the credential.
import { LRUCache } from 'lru-cache';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { PrismaClient } from '@prisma/client';
import type { Config } from '../config.js';
import { UnauthenticatedError } from './errors.js';
import { isUuid } from '../store/ids.js';
import { hashApiKey, looksLikeApiKey, safeEqual } from './keys.js';
import { PARTNER_WIDE_KINDS, type Credential, type Principal, type UserPrincipal } from './principal.js';

// Principals are cached briefly so that a burst of requests with one credential costs no
// SQL. Writes that change a principal (revoke, disable, entitlements, ...) clear the cache
// of this process (those of named users only: only their principals); other replicas notice
// within the TTL (PRINCIPAL_CACHE_SECONDS).
const CACHE_MAX = 10_000;

export interface Authenticator {
  /** `header` is the raw Authorization header value (or the catalog dialect's bare key). */
  authenticate(header: string | null | undefined): Promise<Principal | null>;
  /**
   * Forget cached principals: call after any write that could change one. With `userIds`, only
   * the principals of those users (a write that changes nobody else's rights: a user deleted,
   * disabled, merged, made or unmade an admin); without, every one.
   */
  invalidate(userIds?: readonly string[]): void;
  /**
   * Resolves when the background writes started so far (an API key's lastUsedAt) are done:
   * shutdown waits for them before it closes the store, and a test before it counts statements.
   */
  settled(): Promise<void>;
}

export function createAuthenticator(prisma: PrismaClient, config: Config): Authenticator {
  // lru-cache gives the TTL, the size bound and the single flight (concurrent fetches of one
  // key share one lookup). Keys carry a generation: `invalidate` moves to a new one, so a
  // lookup under way when principals changed can finish for its callers but is never read again.
  let generation = 0;
  // A user's principal forgotten by name: the count of such invalidations when it last was. A
  // lookup of that user begun before then may have read its rows before the change: it answers
  // its callers but is not kept. (Kept far longer than any lookup can take.)
  let named = 0;
  const namedAt = new LRUCache<string, number>({ max: CACHE_MAX * 10, ttl: 10 * 60_000 });
  const unkept = new WeakSet<Principal>();
  const background = new Set<Promise<void>>();
  const ttl = config.principalCacheMs;
  const cache = new LRUCache<string, Principal>({
    max: CACHE_MAX,
    ttl,
    ignoreFetchAbort: true,
    fetchMethod: async (key, _stale, { options }) => {
      const begun = named;
      const token = key.slice(key.indexOf(':') + 1);
      const found = await (looksLikeApiKey(token)
        ? fromApiKey(token)
        : token.split('.').length === 3
          ? fromJwt(token)
          : Promise.reject(new UnauthenticatedError('unrecognised credential')));
      const { principal } = found;
      if (principal.kind === 'user' && (namedAt.get(principal.userId) ?? -1) > begun) unkept.add(principal);
      // Never cache past the credential's own expiry.
      options.ttl = Math.max(1, Math.min(ttl, found.expiresAt - Date.now()));
      return principal;
    },
  });
  const jwks: JWTVerifyGetKey | undefined = config.jwt.jwksUrl
    ? createRemoteJWKSet(new URL(config.jwt.jwksUrl))
    : undefined;
  const hmacKey = config.jwt.secret ? new TextEncoder().encode(config.jwt.secret) : undefined;

  async function fromJwt(token: string): Promise<{ principal: Principal; expiresAt: number }> {
    if (!hmacKey && !jwks)
      throw new UnauthenticatedError('JWTs are not accepted: neither JWT_SECRET nor JWT_JWKS_URL is configured');
    const options = {
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      algorithms: hmacKey ? ['HS256'] : ['RS256', 'ES256'],
      clockTolerance: 5,
      // A token without an expiry would be good until its user is disabled: refuse it.
      requiredClaims: ['exp', 'sub'],
    };
    let payload: Record<string, unknown>;
    try {
      ({ payload } = hmacKey ? await jwtVerify(token, hmacKey, options) : await jwtVerify(token, jwks!, options));
    } catch (error) {
      const code = (error as { code?: string }).code;
      throw new UnauthenticatedError(code === 'ERR_JWT_EXPIRED' ? 'token expired' : 'invalid token');
    }
    // A signature vouches for who issued the claims, not for their types: jose checks exp,
    // nbf and iat, but sub may be anything JSON holds (an array, a number ...).
    const { sub, exp } = payload;
    if (typeof sub !== 'string')
      throw new UnauthenticatedError('invalid token: the sub claim must be a string (a user id)');
    if (typeof exp !== 'number' || !Number.isFinite(exp))
      throw new UnauthenticatedError('invalid token: the exp claim must be a number');
    if (!isUuid(sub)) throw new UnauthenticatedError('token subject is not a user id');
    const principal = await loadUserPrincipal(prisma, sub.toLowerCase(), 'jwt');
    return { principal, expiresAt: exp * 1000 };
  }

  async function fromApiKey(key: string): Promise<{ principal: Principal; expiresAt: number }> {
    const row = await prisma.apiKey.findUnique({ where: { hash: hashApiKey(key) } });
    if (!row || row.revokedAt) throw new UnauthenticatedError('invalid or revoked API key');
    if (row.expiresAt && row.expiresAt.getTime() <= Date.now()) throw new UnauthenticatedError('API key expired');
    const principal = await loadUserPrincipal(prisma, row.principalId, 'api_key', row.id);
    // Informational only: a failed update must not fail the request.
    if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > 60_000) {
      const write: Promise<void> = prisma.apiKey
        .update({ where: { id: row.id }, data: { lastUsedAt: new Date() } })
        .then(
          () => {},
          () => {},
        )
        .finally(() => background.delete(write));
      background.add(write);
    }
    return { principal, expiresAt: row.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY };
  }

  return {
    async authenticate(header) {
      if (!header) return null;
      const token = header.replace(/^Bearer\s+/i, '').trim();
      if (!token) return null;
      if (config.operatorToken && safeEqual(token, config.operatorToken)) return { kind: 'operator' };
      if (token.length > 4096) throw new UnauthenticatedError('credential too long');
      const key = `${generation}:${token}`;
      const principal = await cache.fetch(key);
      if (!principal) throw new UnauthenticatedError('invalid credential');
      // Its callers have it; nobody after them (the first of them removes it, before any other request runs).
      if (unkept.has(principal) && cache.peek(key) === principal) cache.delete(key);
      return principal;
    },
    invalidate(userIds) {
      if (!userIds) {
        // Lookups under way may have read the rows before the change: later requests start afresh.
        generation++;
        cache.clear();
        return;
      }
      named++;
      const users = new Set(userIds);
      for (const id of users) namedAt.set(id, named);
      const stale: string[] = [];
      for (const [key, principal] of cache.entries())
        if (principal.kind === 'user' && users.has(principal.userId)) stale.push(key);
      for (const key of stale) cache.delete(key);
    },
    async settled() {
      while (background.size) await Promise.all(background);
    },
  };
}

/** Loads a user and everything its rights depend on, in one round of statements. */
export async function loadUserPrincipal(
  prisma: PrismaClient,
  userId: string,
  credential: Credential,
  apiKeyId?: string,
): Promise<UserPrincipal> {
  const user = await prisma.user.findUnique({
    where: { id: userId },
    select: {
      id: true,
      partnerId: true,
      accountId: true,
      status: true,
      partner: {
        select: { plan: true, backends: { where: { activeKind: { not: null } }, select: { activeKind: true } } },
      },
      account: { select: { id: true, ancestorIds: true } },
      entitlements: { where: { kind: { in: [...PARTNER_WIDE_KINDS] } }, select: { kind: true } },
      adminOf: { select: { accountId: true } },
    },
  });
  if (!user) throw new UnauthenticatedError('unknown user');
  if (user.status !== 'ACTIVE') throw new UnauthenticatedError(`user is ${user.status.toLowerCase()}`);
  const roots = user.adminOf.map((a) => a.accountId);
  const [subtree, path] = await Promise.all([
    roots.length
      ? prisma.account.findMany({
          where: { partnerId: user.partnerId, OR: [{ id: { in: roots } }, { ancestorIds: { hasSome: roots } }] },
          select: { id: true },
        })
      : [],
    prisma.account.findMany({
      where: {
        id: { in: [user.account.id, ...user.account.ancestorIds] },
        OR: [{ requireIpGqlAccess: true }, { requireIpApiAccess: true }],
      },
      select: { requireIpGqlAccess: true, requireIpApiAccess: true, allowedIps: true },
    }),
  ]);
  return {
    kind: 'user',
    userId: user.id,
    partnerId: user.partnerId,
    accountId: user.accountId,
    plan: user.partner.plan ?? 'CORE',
    credential,
    apiKeyId,
    partnerAdmin: user.entitlements.length > 0,
    adminAccountIds: new Set(subtree.map((a) => a.id)),
    connectedKinds: new Set(user.partner.backends.flatMap((b) => (b.activeKind ? [b.activeKind] : []))),
    allowLists: {
      graphql: path.filter((a) => a.requireIpGqlAccess).map((a) => a.allowedIps),
      rest: path.filter((a) => a.requireIpApiAccess).map((a) => a.allowedIps),
    },
  };
}
