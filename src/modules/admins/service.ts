// Account admins (AccountAdmin rows): who administers which account's subtree. Its own module
// because it joins two others: it depends on the accounts service (which account) and the
// users service (which user), and neither of those depends on it.
import type { Account } from '@prisma/client';
import type { RequestContext } from '../../auth/context.js';
import { ConflictError } from '../../errors.js';
import { audited } from '../audit/service.js';
import { requireUser } from '../../auth/context.js';
import { managedAccount } from '../accounts/service.js';
import { lockManagedUsers } from '../users/service.js';

/**
 * Makes a user an admin of an account's subtree (AccountAdmin). The caller must administer
 * the account itself, so an account admin can appoint admins below it but never above.
 */
export async function addAccountAdmin(ctx: RequestContext, accountId: string, userId: string): Promise<Account> {
  const principal = requireUser(ctx);
  const account = await audited(ctx, async (tx, audit) => {
    const account = await managedAccount(
      tx,
      principal,
      accountId,
      'appointing admins needs admin rights on the account',
    );
    const [user] = await lockManagedUsers(tx, ctx, [userId]);
    if (user!.status !== 'ACTIVE')
      throw new ConflictError(`user ${userId} is ${user!.status.toLowerCase()} and cannot administer`, 'userId');
    await tx.accountAdmin.upsert({
      where: { accountId_userId: { accountId, userId } },
      create: { accountId, userId },
      update: {},
    });
    audit({ action: 'account.admin.add', subjectType: 'Account', subjectId: accountId, data: { userId } });
    return account;
  });
  ctx.invalidatePrincipals?.([userId]);
  return account;
}

export async function removeAccountAdmin(ctx: RequestContext, accountId: string, userId: string): Promise<Account> {
  const principal = requireUser(ctx);
  const account = await audited(ctx, async (tx, audit) => {
    const account = await managedAccount(tx, principal, accountId, 'removing admins needs admin rights on the account');
    await lockManagedUsers(tx, ctx, [userId]);
    const { count } = await tx.accountAdmin.deleteMany({ where: { accountId, userId } });
    if (count)
      audit({ action: 'account.admin.remove', subjectType: 'Account', subjectId: accountId, data: { userId } });
    return account;
  });
  ctx.invalidatePrincipals?.([userId]);
  return account;
}
