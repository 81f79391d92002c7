// What the pass-through proxies (SPEC §10.4, src/dialects/proxy.ts) need of the store: which
// backend a partner admin's request goes to, the transport that reaches it, and the effect of a
// relayed call recorded at once, so the graph sees what an existing integration did without
// waiting for a sync. Records the backend answered are stored exactly as a sync page would store
// them (identitySink.upsertPage, then linkPending: a new account or user is linked by the
// backend's linkBy rules, a known one's change is projected onto its owner); a delete the backend
// confirmed makes the identity GONE, as the next full pass would; a learning DELETE (which
// disables the account there) disables the user holding it.
import type { Backend, BackendKind } from '@prisma/client';
import type { RequestContext } from '../../auth/context.js';
import { isUser } from '../../auth/principal.js';
import { BackendUnavailableError } from './errors.js';
import { uuidv7 } from '../../store/ids.js';
import { backendTransport, connectorOptions, type Transport } from '../../connectors/index.js';
import { audited } from '../audit/service.js';
import { identitySink } from '../identities/sink.js';
import { linkPending } from '../identities/linking.js';
import type { SourceRecord, StreamName } from './contract.js';
import { backendCredential } from './service.js';

/** A relayed call's effect on the store. */
export type ProxyEffect =
  /**
   * Records the backend answered a create or change with (a created account, a registered or
   * changed user, a client).
   */
  | { type: 'records'; records: SourceRecord[] }
  /** Records the backend deleted; `cascade`: an embed client's delete also removes its users. */
  | { type: 'gone'; stream: StreamName; nativeIds: string[]; cascade?: 'embed.client-users' }
  /** A learning account the backend disabled. */
  | { type: 'disabled'; nativeId: string };

/** Seconds a caller is told to wait when the backend gave no Retry-After and no circuit time. */
const DEFAULT_RETRY_AFTER = 5;

/**
 * The caller's partner's connected backend of `kind`, when the caller is a partner admin (the
 * stored credential speaks for the whole partner, so only a caller with the same reach may use
 * it); null otherwise: the dialect serves the request itself, with the caller's own rights.
 */
export async function proxiedBackend(ctx: RequestContext, kind: BackendKind): Promise<Backend | null> {
  if (!isUser(ctx.principal) || !ctx.principal.partnerAdmin || !ctx.config) return null;
  // A hosted kind (the principal knows which are connected) costs no lookup.
  if (!ctx.principal.connectedKinds.has(kind)) return null;
  return ctx.prisma.backend.findUnique({
    where: { partnerId_activeKind: { partnerId: ctx.principal.partnerId, activeKind: kind } },
  });
}

/** The backend's shared transport (its circuit, bulkhead and gate), with the credential opened. */
export function proxyTransport(ctx: RequestContext, backend: Backend): Transport {
  let credential: string;
  try {
    credential = backendCredential(ctx.config!, backend);
  } catch {
    throw new BackendUnavailableError(
      backend,
      null,
      `the ${backend.kind.toLowerCase()} backend's stored credential ` +
        "cannot be opened with this gateway's SECRETS_KEY; nothing was sent",
    );
  }
  return backendTransport(
    { id: backend.id, kind: backend.kind, baseUrl: backend.baseUrl, credential },
    connectorOptions(ctx.config!, { logger: undefined }),
  );
}

/** A connector failure of a relayed call as the dialects' 503: always with a Retry-After. */
export function proxyUnavailable(backend: Backend, message: string, until: Date | null): BackendUnavailableError {
  const seconds = until ? Math.max(1, Math.ceil((until.getTime() - Date.now()) / 1000)) : DEFAULT_RETRY_AFTER;
  return new BackendUnavailableError(backend, seconds, message);
}

/** Records a relayed call's effect in the store (see the head comment). */
export async function recordProxied(ctx: RequestContext, backend: Backend, effect: ProxyEffect): Promise<void> {
  const ref = { id: backend.id, partnerId: backend.partnerId, kind: backend.kind, linkBy: backend.linkBy };
  const sink = identitySink(ctx.prisma);
  if (effect.type === 'records') {
    if (!effect.records.length) return;
    // Not a sync run: an id of its own marks what the proxy saw (markUnseenGone compares run ids).
    await sink.upsertPage(ref, effect.records, uuidv7());
    await linkPending(ctx, ref);
    return;
  }
  if (effect.type === 'gone') {
    for (const nativeId of effect.nativeIds) await sink.markGone(ref, effect.stream, nativeId);
    if (effect.cascade === 'embed.client-users') {
      await ctx.prisma.identity.updateMany({
        where: {
          backendId: backend.id,
          stream: 'embed.users',
          status: { in: ['LINKED', 'PENDING'] },
          OR: effect.nativeIds.map((id) => ({ data: { path: ['clientIdentifier'], equals: id } })),
        },
        data: { status: 'GONE' },
      });
    }
    return;
  }
  const disabled = await audited(ctx, async (tx, audit) => {
    const identity = await tx.identity.findUnique({
      where: { backendId_entity_nativeId: { backendId: backend.id, entity: 'USER', nativeId: effect.nativeId } },
      select: { userId: true },
    });
    if (!identity?.userId) return false;
    const { count } = await tx.user.updateMany({
      where: { id: identity.userId, status: 'ACTIVE' },
      data: { status: 'DISABLED', disabledAt: new Date() },
    });
    if (count)
      audit({
        action: 'user.disable',
        subjectType: 'User',
        subjectId: identity.userId,
        data: { before: 'ACTIVE', after: 'DISABLED', via: 'learning proxy' },
      });
    return count > 0;
  });
  // A disabled user's credentials are refused from now on.
  if (disabled) ctx.invalidatePrincipals?.();
}
