// Who is calling. Every request resolves to at most one principal; services take it as
// the first word on what may be read or changed.
import type { BackendKind, EntitlementKind, Plan } from '@prisma/client';

/** The entitlements that make a user an admin of its whole partner tree (SPEC §4). */
export const PARTNER_WIDE_KINDS: readonly EntitlementKind[] = ['PARTNER_ADMIN', 'ALL'];

/** Whether a set of entitlements includes a partner-wide one. */
export const isPartnerWide = (kind: EntitlementKind): boolean => PARTNER_WIDE_KINDS.includes(kind);

export type Credential = 'api_key' | 'jwt';

export interface OperatorPrincipal {
  readonly kind: 'operator';
}

export interface UserPrincipal {
  readonly kind: 'user';
  readonly userId: string;
  readonly partnerId: string;
  /** The account the user is registered in. */
  readonly accountId: string;
  readonly plan: Plan;
  readonly credential: Credential;
  readonly apiKeyId?: string;
  /** Holds one of PARTNER_WIDE_KINDS: admin of the whole partner tree. */
  readonly partnerAdmin: boolean;
  /** Every account inside a subtree the user administers through AccountAdmin rows. */
  readonly adminAccountIds: ReadonlySet<string>;
  /**
   * The kinds the partner had a connected backend of when the principal was loaded: as fresh as
   * the principal cache (PRINCIPAL_CACHE_SECONDS; connecting and disconnecting invalidate this
   * replica's). The pass-through proxies look a backend up only for these kinds.
   */
  readonly connectedKinds: ReadonlySet<BackendKind>;
  /**
   * IP allow-lists that apply to this caller: one CIDR list per account on its path to the
   * partner that requires one. A request must match every list of its surface.
   */
  readonly allowLists: {
    readonly graphql: readonly (readonly string[])[];
    readonly rest: readonly (readonly string[])[];
  };
}

export type Principal = OperatorPrincipal | UserPrincipal;

export const isUser = (p: Principal | null | undefined): p is UserPrincipal => p?.kind === 'user';

/** Admin of the partner, or of at least one account subtree. */
export const isAdmin = (p: Principal | null | undefined): p is UserPrincipal =>
  isUser(p) && (p.partnerAdmin || p.adminAccountIds.size > 0);

/** May this principal administer the given account (and so its users)? */
export function administers(p: Principal | null | undefined, accountId: string): p is UserPrincipal {
  return isUser(p) && (p.partnerAdmin || p.adminAccountIds.has(accountId));
}

const PLAN_RANK: Record<Plan, number> = { CORE: 1, AUTOMATE: 2, ENTERPRISE: 3 };

/** Plan tiers are ordered: "Automate and above" includes Enterprise. */
export function planAtLeast(plan: Plan, minimum: Plan): boolean {
  return PLAN_RANK[plan] >= PLAN_RANK[minimum];
}
