// Abuse limits: GraphQL document limits (graphql-armor), per-credential rate limits
// (rate-limiter-flexible, in memory or shared through Redis), IP allow-lists.
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { Redis } from 'ioredis';
import type { Config } from '../config.js';
import { ForbiddenError, RateLimitedError } from '../errors.js';
import { ipAllowed } from './ip.js';
import type { Principal } from './principal.js';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

/** Document limits; each is tested just under and just over in test/limits.test.ts. */
export const DOCUMENT_LIMITS = {
  maxDepth: 12,
  maxAliases: 15,
  // A literal 100-node page of every User field costs about 26,000; a connection nested in
  // a 100-node page (100 × 100) about 660,000.
  maxCost: 50_000,
  maxTokens: 2000,
  maxDirectives: 20,
} as const;

export function armorPlugin(config: Config) {
  return EnvelopArmorPlugin({
    maxDepth: { n: DOCUMENT_LIMITS.maxDepth, ignoreIntrospection: true, flattenFragments: true },
    maxAliases: { n: DOCUMENT_LIMITS.maxAliases },
    costLimit: { maxCost: DOCUMENT_LIMITS.maxCost, ignoreIntrospection: true },
    maxTokens: { n: DOCUMENT_LIMITS.maxTokens },
    maxDirectives: { n: DOCUMENT_LIMITS.maxDirectives },
    // With introspection on, field suggestions reveal nothing new and help analysts.
    blockFieldSuggestion: { enabled: config.disableIntrospection },
  });
}

export interface RateLimiter {
  /** Counts one request (or `points`) for `key`; throws RateLimitedError past the limit. */
  consume(key: string, points?: number): Promise<{ remaining: number }>;
  close(): Promise<void>;
}

export function createRateLimiter(config: Config): RateLimiter {
  const options = { keyPrefix: 'account-gateway:rl', points: config.rateLimitPerMinute, duration: 60 };
  let redis: Redis | undefined;
  let limiter: RateLimiterAbstract;
  if (config.redisUrl) {
    // Commands wait for the connection at start-up; past one retry they fail over to the
    // in-memory insurance limiter instead of hanging requests.
    redis = new Redis(config.redisUrl, { enableOfflineQueue: true, maxRetriesPerRequest: 1 });
    redis.on('error', () => {
      /* reported by the limiter's own fallback below */
    });
    // Replicas share counters through Redis; if Redis is down, each replica limits alone.
    limiter = new RateLimiterRedis({ ...options, storeClient: redis, insuranceLimiter: new RateLimiterMemory(options) });
  } else {
    limiter = new RateLimiterMemory(options);
  }
  return {
    async consume(key, points = 1) {
      try {
        const res = await limiter.consume(key, points);
        return { remaining: res.remainingPoints };
      } catch (error) {
        if (error instanceof RateLimiterRes) throw new RateLimitedError(Math.max(1, Math.ceil(error.msBeforeNext / 1000)));
        throw error;
      }
    },
    async close() {
      redis?.disconnect();
    },
  };
}

/**
 * A batched request counts once per operation: the guard counted the request, this plugin
 * the other operations, so batching does not multiply a credential's budget.
 */
export function batchedOperationsPlugin(rateLimiter: RateLimiter): Plugin {
  return {
    onRequestParse({ serverContext }) {
      return {
        async onRequestParseDone({ requestParserResult }) {
          if (!Array.isArray(requestParserResult) || requestParserResult.length < 2) return;
          const { principal, ip } = serverContext as { principal?: Principal | null; ip?: string };
          try {
            await rateLimiter.consume(rateLimitKey(principal ?? null, ip ?? ''), requestParserResult.length - 1);
          } catch (error) {
            if (!(error instanceof RateLimitedError)) throw error;
            const retryAfter = String(error.retryAfterSeconds);
            throw createGraphQLError(error.message, { extensions: { code: error.code, http: { status: 429, headers: { 'retry-after': retryAfter } } } });
          }
        },
      };
    },
  };
}

/** The rate-limit bucket of a request: its credential, or its address when it has none. */
export function rateLimitKey(principal: Principal | null, ip: string): string {
  if (!principal) return `ip:${ip}`;
  if (principal.kind === 'operator') return 'operator';
  return principal.apiKeyId ? `key:${principal.apiKeyId}` : `user:${principal.userId}`;
}

/** Refuses a request from outside an allow-list that applies to the caller's accounts. */
export function assertIpAllowed(principal: Principal | null, ip: string, surface: 'graphql' | 'rest'): void {
  if (principal?.kind !== 'user') return;
  const lists = principal.allowLists[surface];
  if (lists.every((cidrs) => ipAllowed(ip, cidrs))) return;
  throw new ForbiddenError(`requests from ${ip} are not allowed for this account (IP allow-list)`);
}
