// Connected backends (SPEC §10.1): a partner admin connects at most one per kind, with a
// credential that is sealed at rest and never leaves the gateway again except towards the
// backend's own origin. Partner admins only: a backend's data reaches the whole partner,
// so an account admin (whose rights end at its subtree) may not connect or change one.
import type { Backend, BackendKind, LinkRule, PrismaClient } from '@prisma/client';
import { z } from 'zod';
import type { RequestContext } from '../../auth/context.js';
import type { Config } from '../../config.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError, type FieldIssue } from '../../errors.js';
import { uniqueViolation } from '../../store/errors.js';
import { isUuid } from '../../store/ids.js';
import { nullish } from '../../validation.js';
import { audited } from '../audit/service.js';
import { requireUser } from '../../auth/context.js';
import type { Tx } from '../../store/transaction.js';
import { detachIdentities } from '../identities/service.js';
import { checkBaseUrl } from './base-url.js';
import { SecretsKeyError } from './errors.js';
import { open, seal } from './secrets.js';

export const BACKEND_KINDS = ['LEARNING', 'CATALOG', 'MESSAGING', 'EMBED'] as const satisfies readonly BackendKind[];
export const LINK_RULES = ['KEY', 'EMAIL'] as const satisfies readonly LinkRule[];
export const SYNC_INTERVAL = { min: 30, max: 86_400, default: 300 } as const;
export const MAX_CREDENTIAL = 4096;

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f]/;

// Messages never quote the value: it is a secret.
const credential = z
  .string()
  .min(1, 'must not be empty')
  .max(MAX_CREDENTIAL, `must be at most ${MAX_CREDENTIAL} characters`)
  // It travels in an Authorization header, where a line break would start another header.
  .refine((v) => !CONTROL.test(v), 'must not contain control characters (line breaks included)')
  .refine((v) => v.trim() === v, 'must not start or end with spaces');

const syncIntervalSeconds = z
  .number()
  .int('must be a whole number of seconds')
  .min(SYNC_INTERVAL.min, `must be at least ${SYNC_INTERVAL.min} seconds`)
  .max(SYNC_INTERVAL.max, `must be at most ${SYNC_INTERVAL.max} seconds (a day)`);

const linkBy = z
  .array(z.enum(LINK_RULES))
  .min(1, 'must name at least one rule (KEY, EMAIL)')
  // Stored in one order whatever order was given: the rules are a set.
  .transform((rules) => LINK_RULES.filter((rule) => rules.includes(rule)));

const connectSchema = z.object({
  kind: z.enum(BACKEND_KINDS),
  baseUrl: z.string(),
  credential,
  syncIntervalSeconds: nullish(syncIntervalSeconds),
  linkBy: nullish(linkBy),
});
export type ConnectBackendInput = z.input<typeof connectSchema>;

const updateSchema = z.object({
  id: z.string(),
  baseUrl: nullish(z.string()),
  credential: nullish(credential),
  syncIntervalSeconds: nullish(syncIntervalSeconds),
  linkBy: nullish(linkBy),
});
export type UpdateBackendInput = z.input<typeof updateSchema>;

function configOf(ctx: RequestContext): Config {
  if (!ctx.config) throw new Error('the backends service needs the configuration in its context');
  return ctx.config;
}

function requirePartnerAdmin(ctx: RequestContext) {
  const principal = requireUser(ctx);
  if (!principal.partnerAdmin) throw new ForbiddenError('connected backends are managed by partner admins only');
  return principal;
}

function secretsKey(config: Config): Buffer {
  const key = config.backends.secretsKey;
  // The operator's setting, not the caller's mistake; said plainly so an admin can pass it on.
  if (!key)
    throw new ForbiddenError('connecting backends is turned off on this gateway: its operator has not set SECRETS_KEY');
  return key;
}

/** What a credential is bound to (additional authenticated data): its partner and kind. */
const sealContext = (backend: Pick<Backend, 'partnerId' | 'kind'>) => `backend:${backend.partnerId}:${backend.kind}`;

/** The backend's credential in clear, for the connectors that speak to it. Never log it. */
export function backendCredential(config: Config, backend: Pick<Backend, 'partnerId' | 'kind' | 'credential'>): string {
  const key = config.backends.secretsKey;
  if (!key) throw new SecretsKeyError('SECRETS_KEY is not set: the stored backend credentials cannot be opened');
  return open(key, backend.credential, sealContext(backend));
}

/** Throws one ValidationError naming every bad field (zod's issues and the baseUrl rules). */
function validate<T extends z.ZodType>(
  schema: T,
  raw: unknown,
  config: Config,
  baseUrl: (parsed: z.infer<T>) => string | undefined,
): { input: z.infer<T>; url?: string } {
  const issues: FieldIssue[] = [];
  const parsed = schema.safeParse(raw);
  if (!parsed.success)
    for (const issue of parsed.error.issues)
      issues.push({ field: ['input', ...issue.path.map(String)].join('.'), message: issue.message });
  const given = parsed.success ? baseUrl(parsed.data) : (raw as { baseUrl?: unknown } | null)?.baseUrl;
  let url: string | undefined;
  if (typeof given === 'string' && !issues.some((i) => i.field === 'input.baseUrl')) {
    const checked = checkBaseUrl(given, config);
    if ('problem' in checked) issues.push({ field: 'input.baseUrl', message: checked.problem });
    else url = checked.url;
  }
  if (issues.length) throw new ValidationError(issues);
  return { input: parsed.data as z.infer<T>, url };
}

export async function connectBackend(ctx: RequestContext, raw: ConnectBackendInput): Promise<Backend> {
  const principal = requirePartnerAdmin(ctx);
  const config = configOf(ctx);
  const { input, url } = validate(connectSchema, raw, config, (i) => i.baseUrl);
  const key = secretsKey(config);
  const place = { partnerId: principal.partnerId, kind: input.kind };
  const taken = () =>
    new ConflictError(`this partner already has a ${input.kind} backend: update or disconnect it`, 'kind');
  try {
    const backend = await audited(ctx, async (tx, audit) => {
      const existing = await tx.backend.findUnique({
        where: { partnerId_activeKind: { partnerId: place.partnerId, activeKind: place.kind } },
        select: { id: true },
      });
      if (existing) throw taken();
      const backend = await tx.backend.create({
        data: {
          ...place,
          activeKind: place.kind,
          baseUrl: url!,
          credential: seal(key, input.credential, sealContext(place)),
          syncIntervalSeconds: input.syncIntervalSeconds ?? SYNC_INTERVAL.default,
          linkBy: input.linkBy ?? [...LINK_RULES],
        },
      });
      audit({ action: 'backend.connect', subjectType: 'Backend', subjectId: backend.id, data: describe(backend) });
      return backend;
    });
    // Principals carry the kinds their partner has connected (the proxies' shortcut).
    ctx.invalidatePrincipals?.();
    return backend;
  } catch (error) {
    // A concurrent connect of the same kind won.
    if (uniqueViolation(error)) throw taken();
    throw error;
  }
}

export async function updateBackend(ctx: RequestContext, raw: UpdateBackendInput): Promise<Backend> {
  const principal = requirePartnerAdmin(ctx);
  const config = configOf(ctx);
  const { input, url } = validate(updateSchema, raw, config, (i) => i.baseUrl);
  const key = input.credential === undefined ? undefined : secretsKey(config);
  return audited(ctx, async (tx, audit) => {
    const before = await lockBackend(tx, principal.partnerId, input.id);
    // The stored credential was given for one origin: it never follows the URL elsewhere, or
    // whoever may edit the URL could have it sent to a server of theirs and read it there.
    if (url !== undefined && new URL(url).origin !== new URL(before.baseUrl).origin && input.credential === undefined) {
      throw new ValidationError(
        'is required when baseUrl moves to another origin: the stored credential is only sent where it was given for',
        'input.credential',
      );
    }
    const backend = await tx.backend.update({
      where: { id: before.id },
      data: {
        baseUrl: url,
        credential:
          key && input.credential !== undefined ? seal(key, input.credential, sealContext(before)) : undefined,
        syncIntervalSeconds: input.syncIntervalSeconds,
        linkBy: input.linkBy,
      },
    });
    const changed = (['baseUrl', 'syncIntervalSeconds', 'linkBy'] as const).filter(
      (f) => JSON.stringify(before[f]) !== JSON.stringify(backend[f]),
    );
    audit({
      action: 'backend.update',
      subjectType: 'Backend',
      subjectId: backend.id,
      // Which fields changed and their new values; of the credential only that it was replaced.
      data: { ...describe(backend), changed: [...changed, ...(input.credential !== undefined ? ['credential'] : [])] },
    });
    return backend;
  });
}

/**
 * Disconnects the backend; nothing is written to the backend itself. The row stays, softly
 * disconnected (no activeKind, so the kind can be connected again; the credential wiped;
 * PAUSED), so that the identities it brought stay on their users, DETACHED, and still name
 * their backend and kind (SPEC §10.2). Its runs waiting or running are CANCELLED; past runs stay.
 */
export async function disconnectBackend(ctx: RequestContext, id: string): Promise<string> {
  const principal = requirePartnerAdmin(ctx);
  const disconnected = await audited(ctx, async (tx, audit) => {
    const backend = await lockBackend(tx, principal.partnerId, id);
    const now = new Date();
    await tx.backend.update({
      where: { id: backend.id },
      data: { activeKind: null, disconnectedAt: now, credential: '', status: 'PAUSED' },
    });
    await detachIdentities(tx, backend.id);
    await tx.syncRun.updateMany({
      where: { backendId: backend.id, status: { in: ['QUEUED', 'RUNNING'] } },
      data: { status: 'CANCELLED', finishedAt: now },
    });
    audit({ action: 'backend.disconnect', subjectType: 'Backend', subjectId: backend.id, data: describe(backend) });
    return backend.id;
  });
  ctx.invalidatePrincipals?.();
  return disconnected;
}

/** The partner's backends in kind order (LEARNING, CATALOG, MESSAGING, EMBED). */
export async function listBackends(ctx: RequestContext, query: object = {}): Promise<Backend[]> {
  const principal = requirePartnerAdmin(ctx);
  return ctx.prisma.backend.findMany({
    ...query,
    where: { partnerId: principal.partnerId, disconnectedAt: null },
    orderBy: { kind: 'asc' },
  });
}

/** The partner's backend of `kind`, or null (the CLI names backends by kind). */
export async function backendOfKind(ctx: RequestContext, kind: BackendKind): Promise<Backend | null> {
  const principal = requirePartnerAdmin(ctx);
  return ctx.prisma.backend.findUnique({
    where: { partnerId_activeKind: { partnerId: principal.partnerId, activeKind: kind } },
  });
}

/**
 * The partner's connected backend `id`, locked for the rest of the transaction, so that
 * concurrent changes of one backend apply one after the other. Another partner's, or a
 * disconnected one, is not found.
 */
async function lockBackend(tx: Tx, partnerId: string, id: string): Promise<Backend> {
  const found = isUuid(id)
    ? await tx.$queryRaw<{ id: string }[]>`
        SELECT id FROM "Backend"
         WHERE id = ${id}::uuid AND "partnerId" = ${partnerId} AND "disconnectedAt" IS NULL FOR UPDATE`
    : [];
  const backend = found.length ? await tx.backend.findUnique({ where: { id } }) : null;
  if (!backend) throw new NotFoundError('Backend', id);
  return backend;
}

/** An audit event's data: what identifies the backend and its settings, never the credential. */
function describe(backend: Backend) {
  return {
    kind: backend.kind,
    baseUrl: backend.baseUrl,
    syncIntervalSeconds: backend.syncIntervalSeconds,
    linkBy: backend.linkBy,
  };
}

/**
 * Start-up check: when credentials are stored, SECRETS_KEY must be set and open them.
 * Opening one suffices: every credential is sealed with the one key the server runs with.
 * Throws a SecretsKeyError with a message for the operator; resolves to the number stored.
 */
export async function checkStoredCredentials(prisma: PrismaClient, config: Pick<Config, 'backends'>): Promise<number> {
  const [first, count] = await Promise.all([
    prisma.backend.findFirst({
      where: { disconnectedAt: null },
      select: { partnerId: true, kind: true, credential: true },
      orderBy: { id: 'asc' },
    }),
    prisma.backend.count({ where: { disconnectedAt: null } }),
  ]);
  if (!first) return 0;
  const key = config.backends.secretsKey;
  if (!key)
    throw new SecretsKeyError(
      `${count} backend credential(s) are stored but SECRETS_KEY is not set: set it to the key they were sealed with`,
    );
  open(key, first.credential, sealContext(first));
  return count;
}
