// Grant and revoke entitlements. Partner-wide rights (PARTNER_ADMIN, ALL) can only be
// granted or revoked by a partner admin: an account admin cannot escalate.
import { EntitlementKind, type User } from '@prisma/client';
import { z } from 'zod';
import type { RequestContext } from '../../auth/context.js';
import { isPartnerWide } from '../../auth/principal.js';
import { ForbiddenError } from '../../errors.js';
import { parse } from '../../validation.js';
import { audited } from '../audit/service.js';
import { requireUser } from '../../auth/context.js';
import { lockManagedUsers } from '../users/service.js';

const schema = z.object({
  userId: z.string(),
  kinds: z.array(z.enum(EntitlementKind)).min(1, 'give at least one kind').max(20),
});

export type EntitlementChange = z.input<typeof schema>;

async function change(ctx: RequestContext, raw: EntitlementChange, grant: boolean): Promise<User> {
  const principal = requireUser(ctx);
  const { userId, kinds } = parse(schema, raw);
  if (kinds.some(isPartnerWide) && !principal.partnerAdmin) {
    throw new ForbiddenError('only a partner admin may grant or revoke PARTNER_ADMIN or ALL');
  }
  const user = await audited(ctx, async (tx, audit) => {
    const [user] = await lockManagedUsers(tx, ctx, [userId]);
    if (grant) {
      const { count } = await tx.entitlement.createMany({
        data: kinds.map((kind) => ({ userId, kind, grantedById: principal.userId })),
        skipDuplicates: true,
      });
      audit({ action: 'entitlement.grant', subjectType: 'User', subjectId: userId, data: { kinds, added: count } });
    } else {
      const { count } = await tx.entitlement.deleteMany({ where: { userId, kind: { in: kinds } } });
      audit({ action: 'entitlement.revoke', subjectType: 'User', subjectId: userId, data: { kinds, removed: count } });
    }
    return user!;
  });
  ctx.invalidatePrincipals?.();
  return user;
}

export const grantEntitlements = (ctx: RequestContext, input: EntitlementChange) => change(ctx, input, true);
export const revokeEntitlements = (ctx: RequestContext, input: EntitlementChange) => change(ctx, input, false);

/** Lower-case names, as the learning dialect shows them ("create_learning_instance"). */
export const entitlementWireName = (kind: EntitlementKind) => kind.toLowerCase();
