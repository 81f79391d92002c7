// The one place that reads process.env: parsed and validated once into a typed Config.
import { z } from 'zod';

const flag = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', ''])
  .transform((v) => v === '1' || v === 'true' || v === 'yes');

const positiveInt = z.coerce.number().int().positive();

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  DATABASE_POOL_SIZE: positiveInt.max(200).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SEED_DEMO: flag.default(true),
  OPERATOR_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters (HS256)').optional(),
  JWT_JWKS_URL: z.url().optional(),
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
  TRUST_PROXY: flag.default(false),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .optional(),
  RATE_LIMIT_PER_MINUTE: positiveInt.default(600),
  MAX_BODY_BYTES: positiveInt.default(1_000_000),
  MAX_LIST_ITEMS: positiveInt.max(10_000).default(100),
  DISABLE_INTROSPECTION: flag.default(false),
  COMPILED_READS: flag.default(true),
  PRINCIPAL_CACHE_SECONDS: positiveInt.max(300).default(5),
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(60_000).default(500),
  SECRETS_KEY: z
    .string()
    .refine(
      (v) => /^[A-Za-z0-9+/]+={0,2}$/.test(v) && Buffer.from(v, 'base64').length === 32,
      'must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`)',
    )
    .optional(),
  BACKEND_CONCURRENCY: positiveInt.max(64).default(4),
  BACKEND_TIMEOUT_MS: positiveInt.max(300_000).default(10_000),
  BACKEND_RETRIES: z.coerce.number().int().min(0).max(10).default(5),
  BACKEND_BACKOFF_MS: positiveInt.max(10_000).default(200),
  BACKEND_ALLOWED_HOSTS: z
    .string()
    .transform((v) =>
      v
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter(Boolean),
    )
    .default([]),
  DEMO_UPSTREAM: flag.default(true),
  SYNC_CONCURRENCY: z.coerce.number().int().min(0).max(32).default(2),
  SYNC_STALE_SECONDS: z.coerce.number().int().min(2).max(3600).default(60),
  OUTBOX_LEASE_SECONDS: z.coerce.number().int().min(2).max(3600).default(120),
});

/** Rules between variables: what one allows depends on another. */
const envRules = envSchema.superRefine((e, ctx) => {
  if (e.OUTBOX_LEASE_SECONDS * 1000 <= e.BACKEND_TIMEOUT_MS)
    ctx.addIssue({
      code: 'custom',
      path: ['OUTBOX_LEASE_SECONDS'],
      message:
        `must be longer than one backend request (BACKEND_TIMEOUT_MS is ${e.BACKEND_TIMEOUT_MS} ms): ` +
        'a live attempt would lose its claim to another worker',
    });
});

export type Config = Readonly<{
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  databasePoolSize: number | undefined;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  seedDemo: boolean;
  /** The demo partner's four kinds connected to an in-process stand-in (false: the hosted demo). */
  demoUpstream: boolean;
  operatorToken: string | undefined;
  jwt: Readonly<{ secret?: string; jwksUrl?: string; issuer?: string; audience?: string }>;
  trustProxy: boolean;
  redisUrl: string | undefined;
  rateLimitPerMinute: number;
  maxBodyBytes: number;
  /** Items any GraphQL list input (nodes' ids, _entities' representations, …) may hold. */
  maxListItems: number;
  disableIntrospection: boolean;
  /** How long a credential's principal is cached: other replicas see a revoke or disable within it. */
  principalCacheMs: number;
  shutdownGraceMs: number;
  compiledReads: boolean;
  backends: BackendSettings;
  sync: SyncSettings;
  outbox: OutboxSettings;
}>;

/** The outbox's delivery (SPEC §10.4). */
export type OutboxSettings = Readonly<{
  /** How long an attempt holds its entry: past it another worker takes it over (its worker died). */
  leaseMs: number;
}>;

/** Sync runs (SPEC §10.3): how many this process runs at once, and when a run's worker is dead. */
export type SyncSettings = Readonly<{
  /** Runs this process works on at once; 0: it runs none (other replicas do). */
  concurrency: number;
  /** A RUNNING run whose heartbeat is older than this is taken over (its worker died). */
  staleSeconds: number;
}>;

/** Connected backends (SPEC §10): the key their credentials are sealed with, and politeness. */
export type BackendSettings = Readonly<{
  /** SECRETS_KEY decoded: 32 bytes for AES-256-GCM; without it no backend can be connected. */
  secretsKey: Buffer | undefined;
  /** Per backend: requests in flight at most. */
  concurrency: number;
  timeoutMs: number;
  /** Retries after a failed attempt (connection error, timeout, 429, 5xx), and the first wait (doubling up to 10 s). */
  retries: number;
  backoffMs: number;
  /** Lower-case host names a baseUrl may name; empty: any host that is not refused. */
  allowedHosts: readonly string[];
}>;

export class ConfigError extends Error {}

/** Parses the environment; throws a ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  // Treat empty strings as unset, the way shells and .env files usually mean them.
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = envRules.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    dataDir: e.DATA_DIR,
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    logLevel: e.LOG_LEVEL,
    seedDemo: e.SEED_DEMO,
    demoUpstream: e.DEMO_UPSTREAM,
    operatorToken: e.OPERATOR_TOKEN,
    jwt: Object.freeze({
      secret: e.JWT_SECRET,
      jwksUrl: e.JWT_JWKS_URL,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
    }),
    trustProxy: e.TRUST_PROXY,
    redisUrl: e.REDIS_URL,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    maxBodyBytes: e.MAX_BODY_BYTES,
    maxListItems: e.MAX_LIST_ITEMS,
    disableIntrospection: e.DISABLE_INTROSPECTION,
    principalCacheMs: e.PRINCIPAL_CACHE_SECONDS * 1000,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    compiledReads: e.COMPILED_READS,
    backends: Object.freeze({
      secretsKey: e.SECRETS_KEY === undefined ? undefined : Buffer.from(e.SECRETS_KEY, 'base64'),
      concurrency: e.BACKEND_CONCURRENCY,
      timeoutMs: e.BACKEND_TIMEOUT_MS,
      retries: e.BACKEND_RETRIES,
      backoffMs: e.BACKEND_BACKOFF_MS,
      allowedHosts: Object.freeze(e.BACKEND_ALLOWED_HOSTS),
    }),
    sync: Object.freeze({ concurrency: e.SYNC_CONCURRENCY, staleSeconds: e.SYNC_STALE_SECONDS }),
    outbox: Object.freeze({ leaseMs: e.OUTBOX_LEASE_SECONDS * 1000 }),
  });
}
