// The syncing gateway's writes per page (SPEC §10.6, issue #15): storing a page of records is a
// constant number of statements, whatever the page's size and however many of its records
// changed — new identities in one insert, changed ones in one update, their users' projection
// in a constant few (the holders of their unique values, one update, the PROJECTION
// conflicts). A value one record of the page frees and a later one takes behaves as one by one.
import { describe, expect, it } from 'vitest';
import { useHarness } from './helpers/app.js';
import { catalog, embedClient, embedUser, makeBackend, messaging, runId, ulid } from './helpers/records.js';
import { identitySink } from '../src/modules/identities/service.js';
import type { BackendRef, SourceRecord } from '../src/modules/backends/contract.js';

const h = useHarness();
const sink = () => identitySink(h.store.prisma);

// Each test its own e-mail domain: a catalog record's canvas_user_uuid (global) derives from its id and e-mail.
const page = (tag: string, from: number, n: number, extra: (i: number) => Record<string, unknown> = () => ({})) =>
  Array.from({ length: n }, (_, k) => catalog(from + k, `user${from + k}@${tag}.example.com`, extra(from + k)));

/** Statements of one upsertPage (its transaction's BEGIN/COMMIT included). */
const statements = (backend: BackendRef, records: SourceRecord[]) =>
  h.countStatements(() => sink().upsertPage(backend, records, runId()));

/** A partner with a catalog backend whose `n` users (ids from 1) are synced and linked. */
async function linkedCatalog(tag: string, n: number) {
  const p = await h.newPartner();
  const backend = await makeBackend(h.store.prisma, p.accountId, 'CATALOG');
  await sink().upsertPage(backend, page(tag, 1, n), runId());
  expect(await sink().linkPending(backend)).toMatchObject({ newUsers: n });
  return { p, backend };
}

describe('statements per synced page', () => {
  it('are the same for a new page of 10 and of 100 records', async () => {
    const p = await h.newPartner();
    const backend = await makeBackend(h.store.prisma, p.accountId, 'CATALOG');
    const small = await statements(backend, page('new', 1, 10));
    const large = await statements(backend, page('new', 1000, 100));
    expect(large).toBe(small);
    expect(await h.store.prisma.identity.count({ where: { backendId: backend.id } })).toBe(110);
  });

  it(`are the same whether 1, 10 or 100 linked records of a page changed, \
and each change reaches its user`, async () => {
    const { backend } = await linkedCatalog('changed', 100);
    const unchanged = await statements(backend, page('changed', 1, 100));
    const one = await statements(
      backend,
      page('changed', 1, 100, (i) => (i === 1 ? { last_name: 'One' } : {})),
    );
    const ten = await statements(
      backend,
      page('changed', 1, 100, (i) => (i <= 10 ? { last_name: 'Ten' } : {})),
    );
    const all = await statements(
      backend,
      page('changed', 1, 100, (i) => ({
        last_name: `All${i}`,
        custom_fields: JSON.parse(`{"n": ${i}, "__proto__": "kept"}`),
      })),
    );
    expect(ten).toBe(one);
    expect(all).toBe(one);
    // The unchanged page touches no user: fewer statements, and still a constant.
    expect(unchanged).toBeLessThan(one);
    const users = await h.store.prisma.user.findMany({
      where: { identities: { some: { backendId: backend.id } } },
      select: { lastName: true, customFields: true, email: true },
    });
    expect(users).toHaveLength(100);
    expect(new Set(users.map((u) => u.lastName))).toEqual(
      new Set(Array.from({ length: 100 }, (_, i) => `All${i + 1}`)),
    );
    const raw = await h.store.prisma.$queryRaw<{ text: string }[]>`
      SELECT u."customFields"::text AS text FROM "User" u JOIN "Identity" i ON i."userId" = u.id
      WHERE i."backendId" = ${backend.id}::uuid AND i."nativeId" = '7'`;
    expect(JSON.parse(raw[0]!.text)).toEqual(JSON.parse('{"n": 7, "__proto__": "kept"}'));
    const { updated } = await sink().upsertPage(backend, page('changed', 1, 100), runId());
    expect(updated).toBe(100);
  });

  it('are the same with 1 or 50 held unique values: the columns stay, one PROJECTION conflict each', async () => {
    const { p, backend } = await linkedCatalog('held', 100);
    // Users 1..100 try to take e-mails users 101..200 of the same partner hold.
    await sink().upsertPage(backend, page('held', 101, 100), runId());
    await sink().linkPending(backend);
    const one = await statements(
      backend,
      page('held', 1, 100, (i) => (i === 1 ? { email_address: 'user101@held.example.com' } : {})),
    );
    const fifty = await statements(
      backend,
      page('held', 1, 100, (i) => (i <= 50 ? { email_address: `user${100 + i}@held.example.com` } : {})),
    );
    expect(fifty).toBe(one);
    const conflicts = await h.store.prisma.linkConflict.findMany({
      where: { partnerId: p.accountId, reason: 'PROJECTION', status: 'OPEN' },
    });
    expect(conflicts).toHaveLength(50);
    const holder = await h.store.prisma.user.findFirstOrThrow({
      where: { partnerId: p.accountId, email: 'user150@held.example.com' },
      select: { id: true },
    });
    const taker = await h.store.prisma.identity.findFirstOrThrow({
      where: { backendId: backend.id, nativeId: '50' },
      include: { user: true },
    });
    expect(taker.user?.email).toBe('user50@held.example.com');
    expect(conflicts.find((c) => c.identityId === taker.id)?.candidateIds).toEqual([holder.id]);
    // The same page again opens no second conflict.
    await sink().upsertPage(
      backend,
      page('held', 1, 100, (i) =>
        i <= 50 ? { email_address: `user${100 + i}@held.example.com`, last_name: 'Again' } : {},
      ),
      runId(),
    );
    expect(await h.store.prisma.linkConflict.count({ where: { partnerId: p.accountId, reason: 'PROJECTION' } })).toBe(
      50,
    );
  });

  it('a value one record frees is free for a later record of the same page, as one by one', async () => {
    const { p, backend } = await linkedCatalog('swap', 2);
    // 1 moves to a new e-mail, then 2 takes the one 1 left (one statement could not order the two).
    await sink().upsertPage(
      backend,
      [
        catalog(1, 'user1@swap.example.com', { email_address: 'moved@swap.example.com' }),
        catalog(2, 'user2@swap.example.com', { email_address: 'user1@swap.example.com' }),
      ],
      runId(),
    );
    const emails = await h.store.prisma.identity.findMany({
      where: { backendId: backend.id },
      orderBy: { nativeId: 'asc' },
      select: { user: { select: { email: true } } },
    });
    expect(emails.map((e) => e.user?.email)).toEqual(['moved@swap.example.com', 'user1@swap.example.com']);
    expect(await h.store.prisma.linkConflict.count({ where: { partnerId: p.accountId } })).toBe(0);
  });

  it("another partner's users are neither written nor in the way (e-mails are unique per partner)", async () => {
    const a = await linkedCatalog('cross', 10);
    const b = await linkedCatalog('cross', 10);
    const before = await h.store.prisma.user.findMany({
      where: { partnerId: b.p.accountId },
      orderBy: { id: 'asc' },
    });
    // A's users take e-mails B's users hold: no conflict, A's columns written, B's untouched.
    await sink().upsertPage(
      a.backend,
      page('cross', 1, 10, (i) => ({ last_name: 'A', email_address: `user${i}@cross.example.com` })),
      runId(),
    );
    expect(await h.store.prisma.linkConflict.count({ where: { partnerId: a.p.accountId } })).toBe(0);
    expect(await h.store.prisma.user.count({ where: { partnerId: a.p.accountId, lastName: 'A' } })).toBe(10);
    const after = await h.store.prisma.user.findMany({ where: { partnerId: b.p.accountId }, orderBy: { id: 'asc' } });
    expect(after).toEqual(before);
  });

  it('embed users: the client of a changed record is resolved for the whole page in one read', async () => {
    const p = await h.newPartner();
    const backend = await makeBackend(h.store.prisma, p.accountId, 'EMBED');
    const users = (n: number, client: string | null) =>
      Array.from({ length: n }, (_, i) => embedUser(`e-${i}`, { name: `n${i}` }, client));
    await sink().upsertPage(backend, users(20, null), runId());
    await sink().linkPending(backend);
    const client = await h.store.prisma.client.create({
      data: { partnerId: p.accountId, accountId: p.accountId, identifier: 'c-1', metadata: {} },
    });
    const one = await statements(backend, [...users(1, 'c-1'), ...users(20, null).slice(1)]);
    const all = await statements(
      backend,
      users(20, 'c-1').map((u) => ({ ...u, data: { ...u.data, metadata: { v: 2 } } })),
    );
    expect(all).toBe(one);
    expect(await h.store.prisma.user.count({ where: { partnerId: p.accountId, clientId: client.id } })).toBe(20);
    const withMeta = await h.store.prisma.user.findMany({ where: { clientId: client.id }, select: { metadata: true } });
    expect(withMeta.every((u) => (u.metadata as { v: number }).v === 2)).toBe(true);
  });
});

describe('statements per synced page of accounts and clients', () => {
  it(`are the same whether 1 or 50 linked embed clients of a page changed, \
and each change reaches its client`, async () => {
    const p = await h.newPartner();
    const backend = await makeBackend(h.store.prisma, p.accountId, 'EMBED');
    const clients = (tag: (i: number) => string) =>
      Array.from({ length: 50 }, (_, i) => embedClient(`k-${i}`, { tag: tag(i) }));
    await sink().upsertPage(
      backend,
      clients(() => 'first'),
      runId(),
    );
    await sink().linkPending(backend);
    const one = await statements(
      backend,
      clients((i) => (i === 0 ? 'one' : 'first')),
    );
    const all = await statements(
      backend,
      clients((i) => `all-${i}`),
    );
    expect(all).toBe(one);
    const stored = await h.store.prisma.client.findMany({
      where: { partnerId: p.accountId },
      select: { identifier: true, metadata: true },
    });
    expect(stored).toHaveLength(50);
    for (const c of stored) expect(c.metadata).toEqual({ tag: `all-${c.identifier.slice(2)}` });
  });
});

describe('statements of linking', () => {
  /** Statements of one linkPending (its chunks' transactions and the audit's included). */
  const linking = (backend: BackendRef) => h.countStatements(() => sink().linkPending(backend));

  it('are the same for 10 and for 100 new users, and for 10 and 100 matched users', async () => {
    const counts: number[] = [];
    for (const n of [10, 100]) {
      const p = await h.newPartner();
      const backend = await makeBackend(h.store.prisma, p.accountId, 'CATALOG');
      await sink().upsertPage(backend, page(`link-new-${n}`, 1, n), runId());
      counts.push(await linking(backend));
      expect(await h.store.prisma.user.count({ where: { partnerId: p.accountId, inCatalog: true } })).toBe(n);
    }
    expect(counts[1]).toBe(counts[0]);
    const matched: number[] = [];
    for (const n of [10, 100]) {
      const p = await h.newPartner();
      // Hosted users with the e-mails the catalog records carry: each record links to one.
      await h.store.prisma.user.createMany({
        data: Array.from({ length: n }, (_, k) => ({
          partnerId: p.accountId,
          accountId: p.accountId,
          email: `user${k + 1}@link-match-${n}.example.com`,
        })),
      });
      const backend = await makeBackend(h.store.prisma, p.accountId, 'CATALOG');
      await sink().upsertPage(
        backend,
        page(`link-match-${n}`, 1, n, () => ({ last_name: 'Matched' })),
        runId(),
      );
      matched.push(await linking(backend));
      expect(await h.store.prisma.user.count({ where: { partnerId: p.accountId } })).toBe(n + 1);
      expect(
        await h.store.prisma.user.count({ where: { partnerId: p.accountId, inCatalog: true, lastName: 'Matched' } }),
      ).toBe(n);
    }
    expect(matched[1]).toBe(matched[0]);
  });

  it("are the same for 10 and for 100 new embed clients, each client with its record's metadata", async () => {
    const counts: number[] = [];
    for (const n of [10, 100]) {
      const p = await h.newPartner();
      const backend = await makeBackend(h.store.prisma, p.accountId, 'EMBED');
      // The page's clients in reverse order; one hosted client of the same identifier is linked, not created.
      const hosted = await h.store.prisma.client.create({
        data: { partnerId: p.accountId, accountId: p.accountId, identifier: 'c-0', metadata: {} },
      });
      await sink().upsertPage(
        backend,
        Array.from({ length: n }, (_, i) => embedClient(`c-${n - 1 - i}`, { i: n - 1 - i })),
        runId(),
      );
      counts.push(await linking(backend));
      const clients = await h.store.prisma.client.findMany({
        where: { partnerId: p.accountId },
        select: {
          id: true,
          identifier: true,
          accountId: true,
          metadata: true,
          identities: { select: { status: true } },
        },
      });
      expect(clients).toHaveLength(n);
      expect(clients.find((c) => c.identifier === 'c-0')!.id).toBe(hosted.id);
      for (const c of clients) {
        expect(c.accountId).toBe(p.accountId);
        expect(c.metadata).toEqual({ i: Number(c.identifier.slice(2)) });
        expect(c.identities).toEqual([{ status: 'LINKED' }]);
      }
    }
    expect(counts[1]).toBe(counts[0]);
  });

  it("another partner's client of the same identifier is neither linked nor written", async () => {
    const a = await h.newPartner();
    const b = await h.newPartner();
    const theirs = await h.store.prisma.client.create({
      data: { partnerId: b.accountId, accountId: b.accountId, identifier: 'shared', metadata: { owner: 'B' } },
    });
    const backend = await makeBackend(h.store.prisma, a.accountId, 'EMBED');
    await sink().upsertPage(backend, [embedClient('shared', { owner: 'A' })], runId());
    expect(await sink().linkPending(backend)).toMatchObject({ linked: 0 });
    const identity = await h.store.prisma.identity.findFirstOrThrow({
      where: { backendId: backend.id },
      include: { client: true },
    });
    expect(identity.client).toMatchObject({ partnerId: a.accountId, identifier: 'shared', metadata: { owner: 'A' } });
    expect(identity.clientId).not.toBe(theirs.id);
    expect(await h.store.prisma.client.findUniqueOrThrow({ where: { id: theirs.id } })).toEqual(theirs);
  });

  it('are the same for 10 and for 100 new accounts on two levels, and for a chain of five levels', async () => {
    /** The backend's root, n/2 - 1 accounts under it and n/2 under those (children first in the page). */
    const twoLevels = (n: number) => {
      const parents = Array.from({ length: n / 2 - 1 }, (_, k) => messaging(ulid(2 + k), `P${k}`, 2 + k, ulid(1)));
      const children = Array.from({ length: n / 2 }, (_, k) =>
        messaging(ulid(1000 + k), `C${k}`, 1000 + k, ulid(2 + (k % (n / 2 - 1)))),
      );
      return [...children, ...parents, messaging(ulid(1), 'Root', 1, null)];
    };
    const chain = [5, 4, 3, 2, 1].map((k) => messaging(ulid(k), `L${k}`, k, k === 1 ? null : ulid(k - 1)));
    const counts: number[] = [];
    for (const records of [twoLevels(10), twoLevels(100), chain]) {
      const p = await h.newPartner();
      const backend = await makeBackend(h.store.prisma, p.accountId, 'MESSAGING');
      await sink().upsertPage(backend, records, runId());
      counts.push(await linking(backend));
      const rows = await h.store.prisma.identity.findMany({
        where: { backendId: backend.id },
        select: { nativeId: true, status: true, data: true, account: true },
      });
      expect(rows).toHaveLength(records.length);
      const byNative = new Map(rows.map((r) => [r.nativeId, r]));
      for (const r of rows) {
        expect(r.status).toBe('LINKED');
        const data = r.data as { name: string; parent_id: string | null };
        expect(r.account).toMatchObject({ name: data.name, legacyAccess: true, smsAccess: 'DOMESTIC' });
        if (data.parent_id === null) {
          expect(r.account!.id).toBe(p.accountId);
          continue;
        }
        const parent = byNative.get(data.parent_id)!.account!;
        expect(r.account).toMatchObject({
          partnerId: p.accountId,
          parentId: parent.id,
          ancestorIds: [...parent.ancestorIds, parent.id],
        });
      }
    }
    expect(counts[1]).toBe(counts[0]);
    expect(counts[2]).toBe(counts[0]);
  });
});
