// Demo data for `npm start` on an empty store: one partner with a small account tree and
// users of every identity kind, written through the same services as real requests.
import type { Store } from '../store/database.js';
import { loadUserPrincipal } from '../auth/authenticate.js';
import type { RequestContext } from '../auth/context.js';
import { provisionPartner } from '../modules/partners/service.js';
import { createAccount } from '../modules/accounts/service.js';
import { addAccountAdmin } from '../modules/admins/service.js';
import { upsertClient } from '../modules/clients/service.js';
import { createUser, disableUser } from '../modules/users/service.js';
import { createUsers } from '../modules/users/bulk.js';
import { mergeUsers } from '../modules/users/merge.js';
import { grantEntitlements } from '../modules/entitlements/service.js';
import { createCourse, enrollUser, recordOrder } from '../modules/courses/service.js';

export interface DemoSeed {
  partnerName: string;
  apiKey: string;
  adminUserId: string;
}

/** Seeds the demo partner if the store holds no account at all; returns its credentials. */
export async function seedDemo(store: Store): Promise<DemoSeed | null> {
  if ((await store.prisma.account.count()) > 0) return null;
  const partner = await store.prisma.$transaction((tx) =>
    provisionPartner(tx, { name: 'Demo Learning Co', plan: 'AUTOMATE' }),
  );
  const ctx: RequestContext = {
    prisma: store.prisma,
    principal: await loadUserPrincipal(store.prisma, partner.adminUser.id, 'api_key', partner.apiKey.id),
    requestId: 'seed',
    ip: '127.0.0.1',
  };
  const europe = await createAccount(ctx, { name: 'Demo Europe', smsAccess: 'INTERNATIONAL', mmsAccess: 'DOMESTIC' });
  const americas = await createAccount(ctx, { name: 'Demo Americas', smsAccess: 'DOMESTIC', lrnAccess: true });
  await createAccount(ctx, { parentId: americas.id, name: 'Demo Chicago', legacyAccess: true });
  await upsertClient(ctx, { identifier: 'acme-school', metadata: { name: 'Acme School', tier: 'gold' } });
  await upsertClient(ctx, { identifier: 'globex-academy', metadata: { name: 'Globex Academy' } });

  const learners = await createUsers(ctx, {
    users: Array.from({ length: 8 }, (_, i) => ({
      externalUserId: `learner-${String(i + 1).padStart(4, '0')}`,
      accountId: i % 2 ? europe.id : undefined,
    })),
  });
  const alice = await createUser(ctx, {
    email: 'alice@example.com',
    userName: 'alice',
    firstName: 'Alice',
    lastName: 'Martin',
    timeZone: 'Europe/Paris',
    locale: 'fr-FR',
    accountId: europe.id,
  });
  const bob = await createUser(ctx, {
    email: 'bob@example.com',
    userName: 'bob',
    firstName: 'Bob',
    lastName: 'Stone',
    timeZone: 'America/Chicago',
    accountId: americas.id,
    customFields: { cohort: '2026-spring' },
  });
  const embedded = await createUser(ctx, {
    identifier: 'emb-user-1',
    clientIdentifier: 'acme-school',
    metadata: { plan: 'trial' },
    name: 'Emb One',
    avatar: 'https://example.com/a.png',
  });
  const everything = await createUser(ctx, {
    externalUserId: 'learner-all-three',
    email: 'carol@example.com',
    userName: 'carol',
    firstName: 'Carol',
    identifier: 'emb-carol',
    clientIdentifier: 'globex-academy',
    name: 'Carol',
  });
  const usAdmin = await createUser(ctx, {
    email: 'us-admin@example.com',
    userName: 'us-admin',
    firstName: 'Uma',
    accountId: americas.id,
  });
  await addAccountAdmin(ctx, americas.id, usAdmin.id);

  await grantEntitlements(ctx, { userId: alice.id, kinds: ['CREATE_LEARNING_INSTANCE'] });
  await grantEntitlements(ctx, { userId: everything.id, kinds: ['KNERD', 'PARTNER_GRAPH_VALIDATE'] });
  const course = await createCourse(ctx, { ownerId: alice.id, title: 'Intro to Fractions' });
  const second = await createCourse(ctx, { ownerId: everything.id, title: 'Graph Theory for Teachers' });
  await createCourse(ctx, { ownerId: embedded.id, title: 'Embedded Course' });
  await enrollUser(ctx, bob.id, course.id);
  await enrollUser(ctx, everything.id, course.id);
  await recordOrder(ctx, { userId: bob.id, courseId: course.id, amountCents: 4900 });
  await recordOrder(ctx, { userId: everything.id, courseId: second.id, amountCents: 9900 });

  const [first, second2] = learners.flatMap((r) => (r.ok ? [r.user] : []));
  if (first) await disableUser(ctx, first.id);
  if (second2) await mergeUsers(ctx, second2.id, bob.id);
  return { partnerName: partner.account.name, apiKey: partner.key, adminUserId: partner.adminUser.id };
}
