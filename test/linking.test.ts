// Linking (SPEC §10.2, §10.7): which identities are one person. KEY and EMAIL rules, one /
// none / several candidates, case-insensitive e-mail, hosted users as candidates, and
// determinism: the same records in any order, or twice, give the same users.
import crypto from 'node:crypto';
import type { LinkRule } from '@prisma/client';
import { describe, expect, it } from 'vitest';
import { useHarness } from './helpers/app.js';
import { catalog, embedUser, learning, makeBackend, partition, runId, shuffled } from './helpers/records.js';
import type { SourceRecord } from '../src/modules/backends/contract.js';
import { identitySink } from '../src/modules/identities/service.js';

const h = useHarness();
const sink = () => identitySink(h.store.prisma);

type Feed = { learning?: SourceRecord[]; catalog?: SourceRecord[]; embed?: SourceRecord[] };

/** A fresh partner with the three user backends, the records stored and then linked. */
async function linkAll(feed: Feed, linkBy: Partial<Record<keyof Feed, LinkRule[]>> = {}) {
  const p = await h.newPartner();
  const backends = {
    learning: await makeBackend(h.store.prisma, p.accountId, 'LEARNING', linkBy.learning),
    catalog: await makeBackend(h.store.prisma, p.accountId, 'CATALOG', linkBy.catalog),
    embed: await makeBackend(h.store.prisma, p.accountId, 'EMBED', linkBy.embed),
  };
  for (const kind of ['learning', 'catalog', 'embed'] as const)
    if (feed[kind]?.length) await sink().upsertPage(backends[kind], feed[kind]!, runId());
  const counts = await sink().linkPending(backends.learning);
  return { p, backends, counts, groups: await partition(h.store.prisma, p.accountId) };
}

const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe('rules', () => {
  it('KEY: a learning external_user_id and an embed identifier of the same value are one person', async () => {
    const { groups, counts } = await linkAll({
      learning: [learning(uuid(1), 'person-1')],
      embed: [embedUser('person-1')],
    });
    expect(groups).toEqual([['EMBED:person-1', `LEARNING:${uuid(1)}`]]);
    expect(counts).toEqual({ linked: 1, newUsers: 1, conflicts: 0 });
  });

  it('EMAIL: a catalog email_address and an embed metadata.email, case-insensitive', async () => {
    const { groups, p } = await linkAll({
      catalog: [catalog(1, 'Ann.Lee@Example.org')],
      embed: [embedUser('ann', { email: 'ann.lee@EXAMPLE.org' })],
    });
    expect(groups).toEqual([['CATALOG:1', 'EMBED:ann']]);
    const user = await h.store.prisma.user.findFirstOrThrow({ where: { partnerId: p.accountId, identifier: 'ann' } });
    expect(user).toMatchObject({
      email: 'ann.lee@example.org',
      inCatalog: true,
      metadata: { email: 'ann.lee@EXAMPLE.org' },
    });
  });

  it('KEY only: equal e-mails are not linked', async () => {
    const { groups } = await linkAll(
      { catalog: [catalog(1, 'bo@example.org')], embed: [embedUser('bo', { email: 'bo@example.org' })] },
      { catalog: ['KEY'], embed: ['KEY'] },
    );
    expect(groups).toEqual([['CATALOG:1'], ['EMBED:bo']]);
  });

  it('EMAIL only: equal keys are not linked (a learning record then has no rule at all)', async () => {
    const { groups } = await linkAll(
      { learning: [learning(uuid(2), 'same-key')], embed: [embedUser('same-key')] },
      { learning: ['EMAIL'], embed: ['EMAIL'] },
    );
    // Two users (externalUserId and identifier are different columns: both keep their value).
    expect(groups).toEqual([['EMBED:same-key'], [`LEARNING:${uuid(2)}`]]);
  });

  it('none: a new user, in the partner root; one: linked to it, hosted users included', async () => {
    const p = await h.newPartner();
    const created = await h.gql(
      `mutation { createUser(input: { externalUserId: "hosted-1" }) { ... on CreateUserSuccess { user { uuid } } } }`,
      {},
      { token: p.key },
    );
    const hostedId = created.data.createUser.user.uuid;
    const backend = await makeBackend(h.store.prisma, p.accountId, 'LEARNING');
    await sink().upsertPage(backend, [learning(uuid(3), 'hosted-1'), learning(uuid(4), 'fresh-1')], runId());
    expect(await sink().linkPending(backend)).toEqual({ linked: 1, newUsers: 1, conflicts: 0 });
    const rows = await h.store.prisma.identity.findMany({
      where: { backendId: backend.id },
      include: { user: true },
      orderBy: { nativeId: 'asc' },
    });
    expect(rows[0]!.userId).toBe(hostedId);
    expect(rows[1]!.user).toMatchObject({ externalUserId: 'fresh-1', accountId: p.accountId, status: 'ACTIVE' });
    // Linking again finds nothing pending.
    expect(await sink().linkPending(backend)).toEqual({ linked: 0, newUsers: 0, conflicts: 0 });
  });

  it('several: its own new user, and an OPEN conflict naming the candidates', async () => {
    // An embed user whose identifier is one person's learning key and whose e-mail another's catalog address.
    const p = await h.newPartner();
    const lrn = await makeBackend(h.store.prisma, p.accountId, 'LEARNING');
    const cat = await makeBackend(h.store.prisma, p.accountId, 'CATALOG');
    const emb = await makeBackend(h.store.prisma, p.accountId, 'EMBED');
    await sink().upsertPage(lrn, [learning(uuid(5), 'kay')], runId());
    await sink().upsertPage(cat, [catalog(1, 'cee@example.org')], runId());
    await sink().linkPending(lrn);
    await sink().upsertPage(emb, [embedUser('kay', { email: 'CEE@example.org' })], runId());
    expect(await sink().linkPending(emb)).toEqual({ linked: 0, newUsers: 1, conflicts: 1 });
    const embed = await h.store.prisma.identity.findFirstOrThrow({
      where: { backendId: emb.id },
      include: { conflicts: true },
    });
    const candidates = await h.store.prisma.identity.findMany({
      where: { backendId: { in: [lrn.id, cat.id] } },
      select: { userId: true },
    });
    expect(embed.conflicts).toHaveLength(1);
    expect(embed.conflicts[0]).toMatchObject({ reason: 'MATCH', status: 'OPEN' });
    expect(embed.conflicts[0]!.candidateIds.sort()).toEqual(candidates.map((c) => c.userId!).sort());
    expect(candidates.map((c) => c.userId)).not.toContain(embed.userId);
    expect(embed.status).toBe('LINKED');
  });

  it('a candidate that already has this kind takes no second one: a new user and a conflict', async () => {
    const { groups, counts } = await linkAll({
      catalog: [catalog(1, 'shared@example.org')],
      embed: [embedUser('e-a', { email: 'shared@example.org' }), embedUser('e-b', { email: 'shared@example.org' })],
    });
    // Embed users go first: e-a makes a user; e-b matches it by e-mail but that user has an
    // embed identity already (a conflict); the catalog record then matches both (another).
    expect(groups).toEqual([['CATALOG:1'], ['EMBED:e-a'], ['EMBED:e-b']]);
    expect(counts).toEqual({ linked: 0, newUsers: 3, conflicts: 2 });
  });

  it('merged and deleted users are no candidates', async () => {
    const p = await h.newPartner();
    const make = async (externalUserId: string) =>
      (
        await h.gql(
          'mutation ($e: String!) { createUser(input: { externalUserId: $e }) ' +
            '{ ... on CreateUserSuccess { user { id uuid } } } }',
          { e: externalUserId },
          { token: p.key },
        )
      ).data.createUser.user;
    const gone = await make('deleted-key');
    await h.gql(
      `mutation ($id: ID!) { deleteUser(input: { id: $id, action: DELETE }) { __typename } }`,
      { id: gone.id },
      { token: p.key },
    );
    const backend = await makeBackend(h.store.prisma, p.accountId, 'LEARNING');
    await sink().upsertPage(backend, [learning(uuid(6), 'deleted-key')], runId());
    await sink().linkPending(backend);
    const row = await h.store.prisma.identity.findFirstOrThrow({
      where: { backendId: backend.id },
      include: { user: true, conflicts: true },
    });
    // Its own user; the key stays burned on the tombstone, so not projected, and said so.
    expect(row.userId).not.toBe(gone.uuid);
    expect(row.user!.externalUserId).toBeNull();
    expect(row.conflicts.map((c) => c.reason)).toEqual(['PROJECTION']);
  });
});

describe('new users', () => {
  it("take the record's columns whatever characters they hold; a column not named keeps its default", async () => {
    const odd = 'Ann "the" \\ Lee, {x} NULL ü 😀';
    const { p } = await linkAll({
      catalog: [
        catalog(1, 'odd@example.org', {
          first_name: odd,
          last_name: 'NULL',
          time_zone: null,
          custom_fields: { note: odd, n: 1, nested: { list: [1, '"', null] } },
        }),
      ],
      learning: [learning(uuid(2), 'key-2')],
    });
    const users = await h.store.prisma.user.findMany({
      where: { partnerId: p.accountId, OR: [{ email: 'odd@example.org' }, { externalUserId: 'key-2' }] },
      orderBy: { externalUserId: { sort: 'asc', nulls: 'first' } },
    });
    expect(users).toHaveLength(2);
    expect(users[0]).toMatchObject({
      email: 'odd@example.org',
      firstName: odd,
      lastName: 'NULL',
      timeZone: null,
      userName: 'odd@example.org',
      inCatalog: true,
      termsOfUse: false,
      customFields: { note: odd, n: 1, nested: { list: [1, '"', null] } },
      status: 'ACTIVE',
    });
    // Only the key: the Boolean columns false, the others NULL.
    expect(users[1]).toMatchObject({
      externalUserId: 'key-2',
      email: null,
      firstName: null,
      inCatalog: false,
      termsOfUse: false,
      customFields: null,
      metadata: null,
      clientId: null,
    });
  });
});

describe('determinism', () => {
  // People known to several backends, some by key, some by e-mail in another case, one bridging two.
  const people = (): Feed => ({
    learning: [
      learning(uuid(11), 'p-1'),
      learning(uuid(12), 'p-2'),
      learning(uuid(13), 'p-3'),
      learning(uuid(14), 'p-9'),
    ],
    catalog: [
      catalog(21, 'one@example.org'),
      catalog(22, 'TWO@example.org'),
      catalog(23, 'three@example.org'),
      catalog(24, 'solo@example.org'),
    ],
    embed: [
      embedUser('p-1', { email: 'One@Example.org' }),
      embedUser('p-2'),
      embedUser('p-4', { email: 'two@example.org' }),
      embedUser('p-3', { email: 'three@example.org' }),
      embedUser('p-5', { email: 'three@example.org' }),
    ],
  });

  it('the same records in shuffled orders and pages give the same users; a second pass changes nothing', async () => {
    const reference = await linkAll(people());
    expect(reference.groups).toEqual([
      ['CATALOG:21', 'EMBED:p-1', `LEARNING:${uuid(11)}`],
      ['CATALOG:22', 'EMBED:p-4'],
      // p-3 and p-5 share an e-mail: the catalog record of it matches both, so stays alone.
      ['CATALOG:23'],
      ['CATALOG:24'],
      ['EMBED:p-2', `LEARNING:${uuid(12)}`],
      ['EMBED:p-3', `LEARNING:${uuid(13)}`],
      ['EMBED:p-5'],
      [`LEARNING:${uuid(14)}`],
    ]);
    for (const seed of [1, 2, 3]) {
      const feed = people();
      const shuffledFeed: Feed = {
        learning: shuffled(feed.learning!, seed),
        catalog: shuffled(feed.catalog!, seed + 10),
        embed: shuffled(feed.embed!, seed + 20),
      };
      const p = await h.newPartner();
      const backends = {
        learning: await makeBackend(h.store.prisma, p.accountId, 'LEARNING'),
        catalog: await makeBackend(h.store.prisma, p.accountId, 'CATALOG'),
        embed: await makeBackend(h.store.prisma, p.accountId, 'EMBED'),
      };
      // In pages of two, backends interleaved in reverse, each page stored twice.
      for (let i = 0; i < 5; i++) {
        for (const kind of ['embed', 'catalog', 'learning'] as const) {
          const page = shuffledFeed[kind]!.slice(i * 2, i * 2 + 2);
          if (!page.length) continue;
          const run = runId();
          await sink().upsertPage(backends[kind], page, run);
          await sink().upsertPage(backends[kind], page, run);
        }
      }
      await sink().linkPending(backends.catalog);
      expect(await sink().linkPending(backends.embed)).toEqual({ linked: 0, newUsers: 0, conflicts: 0 });
      expect(await partition(h.store.prisma, p.accountId)).toEqual(reference.groups);
      // The same users' columns too.
      const columns = async (partnerId: string) =>
        (
          await h.store.prisma.user.findMany({
            where: {
              partnerId,
              OR: [{ identifier: { not: null } }, { externalUserId: { not: null } }, { email: { not: null } }],
              NOT: { id: p.adminUserId },
            },
            select: { externalUserId: true, identifier: true, email: true },
          })
        )
          .filter((u) => u.externalUserId || u.identifier || u.email)
          .map((u) => JSON.stringify(u))
          .sort();
      const ours = (await columns(p.accountId)).filter((u) => !u.includes('"email":"admin'));
      const theirs = (await columns(reference.p.accountId)).filter((u) => !u.includes('"email":"admin'));
      expect(ours).toEqual(theirs);
    }
  });

  it("two linkPending calls at once (two backends' runs finishing together) link each identity once", async () => {
    const p = await h.newPartner();
    const backends = {
      learning: await makeBackend(h.store.prisma, p.accountId, 'LEARNING'),
      catalog: await makeBackend(h.store.prisma, p.accountId, 'CATALOG'),
      embed: await makeBackend(h.store.prisma, p.accountId, 'EMBED'),
    };
    const feed = people();
    for (const kind of ['learning', 'catalog', 'embed'] as const)
      await sink().upsertPage(backends[kind], feed[kind]!, runId());
    const [a, b] = await Promise.all([sink().linkPending(backends.catalog), sink().linkPending(backends.embed)]);
    const reference = await linkAll(people());
    expect(a.newUsers + b.newUsers).toBe(reference.counts.newUsers);
    expect(a.conflicts + b.conflicts).toBe(reference.counts.conflicts);
    expect(await partition(h.store.prisma, p.accountId)).toEqual(reference.groups);
  });

  it('the same upstream synced twice (a second run of the same records) keeps every assignment', async () => {
    const { p, backends } = await linkAll(people());
    const before = await h.store.prisma.identity.findMany({
      where: { partnerId: p.accountId },
      select: { id: true, userId: true },
      orderBy: { id: 'asc' },
    });
    const feed = people();
    for (const kind of ['learning', 'catalog', 'embed'] as const)
      expect(await sink().upsertPage(backends[kind], feed[kind]!, runId())).toEqual({ created: 0, updated: 0 });
    expect(await sink().linkPending(backends.learning)).toEqual({ linked: 0, newUsers: 0, conflicts: 0 });
    expect(
      await h.store.prisma.identity.findMany({
        where: { partnerId: p.accountId },
        select: { id: true, userId: true },
        orderBy: { id: 'asc' },
      }),
    ).toEqual(before);
    void crypto;
  });
});
