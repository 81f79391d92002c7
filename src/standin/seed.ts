// The stand-in upstream's data: one partner with records in all four dialects, written through
// the same services as real requests. Several people are known to several backends, so that
// linking has work to do: the same key (learning external_user_id = embed identifier) or the
// same e-mail (catalog email_address = an embed user's metadata.email, in another case), on
// one hosted user or on separate ones, and one embed user matching two different people.
import type { RequestContext } from '../auth/context.js';
import { createAccount } from '../modules/accounts/service.js';
import { upsertClient } from '../modules/clients/service.js';
import type { UserPrincipal } from '../auth/principal.js';
import { createUser, createUserSchema, newUserRow } from '../modules/users/service.js';

const BULK_ROWS = 1000;

export interface StandInSeed {
  /** Messaging sub-accounts by name (the partner's root account is listed too, by the API). */
  subAccounts: string[];
  /** Catalog users' e-mail addresses. */
  catalogEmails: string[];
  /** Learning accounts' external_user_id. */
  learningKeys: string[];
  /** Embed clients' identifiers. */
  embedClients: string[];
  /** Embed users' identifiers. */
  embedUsers: string[];
}

export async function seedStandIn(ctx: RequestContext, options: { catalogUsers: number }): Promise<StandInSeed> {
  const seed: StandInSeed = { subAccounts: [], catalogEmails: [], learningKeys: [], embedClients: [], embedUsers: [] };
  const account = async (name: string, input: Omit<Parameters<typeof createAccount>[1], 'name'> = {}) => {
    seed.subAccounts.push(name);
    return createAccount(ctx, { name, ...input });
  };
  const europe = await account('Upstream Europe', { smsAccess: 'INTERNATIONAL', mmsAccess: 'DOMESTIC' });
  const americas = await account('Upstream Americas', { smsAccess: 'DOMESTIC', lrnAccess: true });
  await account('Upstream Paris', { parentId: europe.id });
  await account('Upstream Berlin', { parentId: europe.id, legacyAccess: true });
  const chicago = await account('Upstream Chicago', { parentId: americas.id });
  await account('Upstream Chicago Loop', { parentId: chicago.id, requireIpApiAccess: false });
  await account('Upstream Asia');

  for (const [identifier, metadata] of [
    ['acme-school', { name: 'Acme School', tier: 'gold' }],
    ['globex-academy', { name: 'Globex Academy' }],
    ['initech-institute', { name: 'Initech Institute', seats: 40 }],
  ] as const) {
    await upsertClient(ctx, { identifier, metadata: { ...metadata } });
    seed.embedClients.push(identifier);
  }

  const user = async (input: Parameters<typeof createUser>[1]) => {
    const created = await createUser(ctx, input);
    if (created.externalUserId) seed.learningKeys.push(created.externalUserId);
    if (created.email) seed.catalogEmails.push(created.email);
    if (created.identifier) seed.embedUsers.push(created.identifier);
    return created;
  };

  // Known to one backend only.
  for (let i = 1; i <= 6; i++)
    await user({ externalUserId: `learner-${String(i).padStart(4, '0')}`, accountId: i % 2 ? europe.id : undefined });
  for (const [first, last, zone] of [
    ['Alice', 'Martin', 'Europe/Paris'],
    ['Bob', 'Stone', 'America/Chicago'],
    ['Dana', 'Kim', 'Asia/Seoul'],
    ['Eve', 'Nakamura', 'Asia/Tokyo'],
    ['Ivan', 'Petrov', 'Europe/Berlin'],
    ['Judy', 'Hopps', 'America/New_York'],
    ['Ken', 'Adams', 'Europe/London'],
    ['Lena', 'Berg', 'Europe/Stockholm'],
  ] as const) {
    const lower = first.toLowerCase();
    await user({
      email: `${lower}@example.com`,
      userName: lower,
      firstName: first,
      lastName: last,
      timeZone: zone,
      accountId: zone.startsWith('America') ? americas.id : europe.id,
      customFields: { cohort: '2026-spring' },
    });
  }
  await user({
    identifier: 'emb-only-1',
    clientIdentifier: 'acme-school',
    metadata: { plan: 'trial' },
    name: 'Emb One',
    avatar: 'https://example.com/a.png',
  });
  await user({ identifier: 'emb-only-2', clientIdentifier: 'initech-institute', metadata: { plan: 'pro' } });

  // One hosted user known to all three user backends: same key in learning and embed, the
  // catalog e-mail in the embed metadata in another case.
  await user({
    externalUserId: 'p-carol',
    email: 'carol@example.com',
    userName: 'carol',
    firstName: 'Carol',
    identifier: 'p-carol',
    clientIdentifier: 'globex-academy',
    metadata: { email: 'Carol@Example.com' },
    name: 'Carol',
  });
  // Separate upstream records of one person: the same key (learning + embed) …
  await user({ externalUserId: 'p-erin' });
  await user({ identifier: 'p-erin', clientIdentifier: 'acme-school', metadata: { nickname: 'erin' } });
  // … the same e-mail (catalog + embed metadata, another case) …
  await user({
    email: 'frank@example.com',
    userName: 'frank',
    firstName: 'Frank',
    lastName: 'Ocean',
    accountId: americas.id,
  });
  await user({
    identifier: 'frank-embed',
    clientIdentifier: 'globex-academy',
    metadata: { email: 'FRANK@example.com' },
  });
  // … and one embed user whose key names one person and whose e-mail another (a link conflict).
  await user({ externalUserId: 'p-gina' });
  await user({ email: 'henry@example.com', userName: 'henry', firstName: 'Henry' });
  await user({ identifier: 'p-gina', clientIdentifier: 'initech-institute', metadata: { email: 'henry@example.com' } });

  // Many users (the benchmark's 50,000) go straight into the store, a thousand rows per
  // statement, as the services would write them (newUserRow) but without an audit event each:
  // through the services they would take minutes on the embedded store.
  const principal = ctx.principal as UserPrincipal;
  for (let done = 0; done < options.catalogUsers; done += BULK_ROWS) {
    const rows = Array.from({ length: Math.min(BULK_ROWS, options.catalogUsers - done) }, (_, i) => {
      const n = String(done + i + 1).padStart(6, '0');
      const input = createUserSchema.parse({
        email: `bulk-${n}@example.com`,
        userName: `bulk-${n}`,
        firstName: 'Bulk',
        lastName: n,
      });
      return newUserRow(principal.partnerId, principal.partnerId, input, null);
    });
    await ctx.prisma.user.createMany({ data: rows });
    for (const row of rows) seed.catalogEmails.push(row.email!);
  }
  return seed;
}
