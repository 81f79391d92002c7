// The one rule for acting on an account: an account the caller cannot see is not found (never
// forbidden, which would confirm it exists); one it sees but does not administer is forbidden.
// Its own module so that the users and clients services can use it without importing the
// accounts service (which imports theirs).
import type { Account } from '@prisma/client';
import type { RequestContext } from '../../auth/context.js';
import { administers, type UserPrincipal } from '../../auth/principal.js';
import { accountVisibility, within } from '../../auth/visibility.js';
import { ForbiddenError, NotFoundError } from '../../errors.js';
import type { Tx } from '../audit/service.js';

/** Account `id` if the caller administers it; `forbidden` says what the rights were needed for. */
export async function managedAccount(db: Tx | RequestContext['prisma'], principal: UserPrincipal, id: string, forbidden: string): Promise<Account> {
  const account = await db.account.findFirst({ where: within({ id }, accountVisibility(principal)) });
  if (!account) throw new NotFoundError('Account', id);
  if (!administers(principal, account.id)) throw new ForbiddenError(forbidden);
  return account;
}
