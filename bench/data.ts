// The benchmark's data set: deterministic (seeded PRNG, fixed clock), written straight into
// the store with createMany in batches, because going through the API would take minutes for
// 10,000 users and the benchmark measures reads of the data, not how it got there.
// Only the API keys are random (a key is a credential, not data): they are returned.
import type { Prisma, EntitlementKind } from '@prisma/client';
import type { Store } from '../src/store/database.js';
import { generateApiKey } from '../src/auth/keys.js';

export interface DataSize {
  partners: number;
  /** All accounts, partners (root accounts) included. */
  accounts: number;
  users: number;
  clientsPerPartner: number;
}

export const FULL: DataSize = { partners: 3, accounts: 20, users: 10_000, clientsPerPartner: 10 };
export const QUICK: DataSize = { partners: 1, accounts: 4, users: 500, clientsPerPartner: 5 };

export interface BenchPartner {
  id: string;
  name: string;
  /** Admin API key (bearer token) acting as the partner's first admin. */
  key: string;
  adminUserId: string;
  /** Clients of this partner (identifier), for ensure/create scenarios. */
  clientIdentifiers: string[];
}

export interface BenchData {
  size: DataSize;
  seed: number;
  partners: BenchPartner[];
  counts: Record<string, number>;
}

/** Names of every bench partner start with this: how a store holding only bench data is recognised. */
export const BENCH_PREFIX = 'Bench partner';

// mulberry32: small, fast, good enough to pick fixtures reproducibly.
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    chance: (p: number) => next() < p,
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    hex: (n: number) => Array.from({ length: n }, () => Math.floor(next() * 16).toString(16)).join(''),
  };
}

type Rng = ReturnType<typeof prng>;

const BASE = Date.UTC(2024, 0, 1);
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A UUID v7 at `ms`, random bits from the PRNG: ids sort in creation order, as the app's do. */
function uuid7(rng: Rng, ms: number): string {
  const t = ms.toString(16).padStart(12, '0');
  const variant = '89ab'[rng.int(4)]!;
  return `${t.slice(0, 8)}-${t.slice(8)}-7${rng.hex(3)}-${variant}${rng.hex(3)}-${rng.hex(12)}`;
}

function ulid(rng: Rng, ms: number): string {
  let time = '';
  for (let i = 0, v = ms; i < 10; i++, v = Math.floor(v / 32)) time = CROCKFORD[v % 32]! + time;
  return time + Array.from({ length: 16 }, () => CROCKFORD[rng.int(32)]).join('');
}

const EXTRA_KINDS: EntitlementKind[] = [
  'KNERD',
  'CREATE_LEARNING_INSTANCE',
  'PARTNER_INVENTORY_ACCESS',
  'PARTNER_GRAPH_UPDATE',
  'PARTNER_GRAPH_INGEST',
  'PARTNER_GRAPH_VALIDATE',
];

async function inBatches<T>(rows: T[], insert: (batch: T[]) => Promise<unknown>, size = 1000) {
  for (let i = 0; i < rows.length; i += size) await insert(rows.slice(i, i + size));
}

/**
 * Writes the data set into an empty, migrated store. Users are spread over the partners
 * 5:3:2 (the first partner, whose admin key the scenarios use, holds half of them).
 */
export async function generate(
  store: Store,
  size: DataSize,
  seed = 42,
  log: (line: string) => void = () => {},
): Promise<BenchData> {
  const rng = prng(seed);
  const prisma = store.prisma;
  const started = performance.now();

  // --- partners and their account trees
  const accounts: Prisma.AccountCreateManyInput[] = [];
  const treeOf: string[][] = [];
  const partners: BenchPartner[] = [];
  const apiKeys: Prisma.ApiKeyCreateManyInput[] = [];
  const admins: Prisma.UserCreateManyInput[] = [];
  const adminGrants: Prisma.EntitlementCreateManyInput[] = [];
  const plans = ['AUTOMATE', 'ENTERPRISE', 'CORE'] as const;
  for (let p = 0; p < size.partners; p++) {
    const at = new Date(BASE - (size.partners - p) * 86_400_000);
    const id = ulid(rng, at.getTime());
    const name = `${BENCH_PREFIX} ${p + 1}`;
    accounts.push({
      id,
      partnerId: id,
      name,
      plan: plans[p % 3],
      ancestorIds: [],
      canvasUuid: rng.hex(40),
      createdAt: at,
      updatedAt: at,
    });
    treeOf.push([id]);
    const adminUserId = uuid7(rng, at.getTime());
    admins.push({ id: adminUserId, partnerId: id, accountId: id, userName: 'admin', createdAt: at, updatedAt: at });
    adminGrants.push({ id: uuid7(rng, at.getTime()), userId: adminUserId, kind: 'PARTNER_ADMIN', grantedAt: at });
    const { key, hash, prefix } = generateApiKey();
    apiKeys.push({
      id: uuid7(rng, at.getTime()),
      partnerId: id,
      principalId: adminUserId,
      name: 'bench',
      prefix,
      hash,
      createdAt: at,
    });
    partners.push({ id, name, key, adminUserId, clientIdentifiers: [] });
  }
  // Sub-accounts round-robin over the partners; every third one nests under the previous.
  for (let a = 0; a < size.accounts - size.partners; a++) {
    const p = a % size.partners;
    const tree = treeOf[p]!;
    const root = tree[0]!;
    const parent = a % 3 === 2 && tree.length > 1 ? tree[tree.length - 1]! : root;
    const parentRow = accounts.find((x) => x.id === parent)!;
    const at = new Date(BASE - 3_600_000 + a * 60_000);
    const id = ulid(rng, at.getTime());
    accounts.push({
      id,
      partnerId: root,
      parentId: parent,
      ancestorIds: [...(parentRow.ancestorIds as string[]), parent],
      name: `Sub-account ${a + 1}`,
      canvasUuid: rng.hex(40),
      smsAccess: rng.pick(['NONE', 'DOMESTIC', 'INTERNATIONAL'] as const),
      createdAt: at,
      updatedAt: at,
    });
    tree.push(id);
  }

  // --- embed clients
  const clients: Prisma.ClientCreateManyInput[] = [];
  const clientsOf: string[][] = partners.map(() => []);
  partners.forEach((partner, p) => {
    for (let c = 0; c < size.clientsPerPartner; c++) {
      const at = new Date(BASE - 1_800_000 + c * 1000);
      const id = uuid7(rng, at.getTime());
      const identifier = `client-${p + 1}-${c + 1}`;
      clients.push({
        id,
        partnerId: partner.id,
        accountId: rng.pick(treeOf[p]!),
        identifier,
        metadata: { name: `Client ${c + 1}`, tier: c % 2 ? 'gold' : 'silver' },
        createdAt: at,
        updatedAt: at,
      });
      clientsOf[p]!.push(id);
      partner.clientIdentifiers.push(identifier);
    }
  });

  // --- users, every identity kind and status
  const users: Prisma.UserCreateManyInput[] = [...admins];
  const activeOf: string[][] = partners.map((x) => [x.adminUserId]);
  const usersOf: { id: string; deleted: boolean }[][] = partners.map(() => []);
  for (let i = 0; i < size.users; i++) {
    const p = size.partners === 1 ? 0 : i % 10 < 5 ? 0 : i % 10 < 8 ? 1 : 2 % size.partners;
    const root = treeOf[p]![0]!;
    const at = new Date(BASE + i * 60_000);
    const id = uuid7(rng, at.getTime());
    let learning = rng.chance(0.6);
    const catalog = rng.chance(0.5);
    const embed = rng.chance(0.4);
    if (!learning && !catalog && !embed) learning = true;
    const roll = rng.next();
    const status = roll < 0.01 ? 'MERGED' : roll < 0.03 ? 'DISABLED' : roll < 0.035 ? 'DELETED' : 'ACTIVE';
    const mergedIntoId = status === 'MERGED' && activeOf[p]!.length > 1 ? rng.pick(activeOf[p]!.slice(1)) : null;
    const deleted = status === 'DELETED';
    users.push({
      id,
      partnerId: root,
      accountId: rng.chance(0.6) ? root : rng.pick(treeOf[p]!),
      status: mergedIntoId || status !== 'MERGED' ? status : 'ACTIVE',
      mergedIntoId,
      externalUserId: learning ? `ext-${i}` : null,
      inCatalog: catalog,
      canvasUserId: catalog && rng.chance(0.3) ? 100_000 + i : null,
      userName: catalog ? `user${i}` : null,
      firstName: catalog && !deleted ? rng.pick(['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald']) : null,
      lastName: catalog && !deleted ? `Learner${i}` : null,
      email: catalog ? `user${i}@bench.example` : null,
      customFields:
        catalog && !deleted && rng.chance(0.5)
          ? { department: rng.pick(['sales', 'support', 'r&d']), seat: i }
          : undefined,
      timeZone: catalog ? rng.pick(['UTC', 'Europe/Paris', 'America/New_York']) : null,
      locale: catalog ? rng.pick(['en', 'fr-FR', 'de']) : null,
      termsOfUse: catalog,
      identifier: embed ? `emb-${i}` : null,
      clientId: embed ? rng.pick(clientsOf[p]!) : null,
      metadata:
        embed && !deleted
          ? { name: `Embedded ${i}`, ...(rng.chance(0.3) ? { avatar: `https://cdn.bench.example/a/${i}.png` } : {}) }
          : undefined,
      createdAt: at,
      updatedAt: at,
      disabledAt: status === 'DISABLED' ? at : null,
      deletedAt: deleted ? at : null,
    });
    if (status === 'ACTIVE') activeOf[p]!.push(id);
    usersOf[p]!.push({ id, deleted });
  }

  // --- entitlements, courses, enrollments, orders
  const entitlements: Prisma.EntitlementCreateManyInput[] = [...adminGrants];
  const courses: Prisma.CourseCreateManyInput[] = [];
  const coursesOf: string[][] = partners.map(() => []);
  usersOf.forEach((list, p) => {
    for (const { id, deleted } of list) {
      if (deleted) continue;
      if (rng.chance(0.15)) {
        const kinds = new Set(Array.from({ length: 1 + rng.int(3) }, () => rng.pick(EXTRA_KINDS)));
        for (const kind of kinds)
          entitlements.push({ id: uuid7(rng, BASE), userId: id, kind, grantedAt: new Date(BASE + 86_400_000) });
      }
      if (rng.chance(0.2)) {
        for (let c = 1 + rng.int(3); c > 0; c--) {
          const cid = uuid7(rng, BASE + courses.length * 1000);
          courses.push({
            id: cid,
            partnerId: partners[p]!.id,
            ownerId: id,
            title: `Course ${courses.length + 1}`,
            createdAt: new Date(BASE),
            updatedAt: new Date(BASE),
          });
          coursesOf[p]!.push(cid);
        }
      }
    }
  });
  const enrollments: Prisma.EnrollmentCreateManyInput[] = [];
  const orders: Prisma.OrderCreateManyInput[] = [];
  usersOf.forEach((list, p) => {
    const pool = coursesOf[p]!;
    if (!pool.length) return;
    for (const { id, deleted } of list) {
      if (deleted) continue;
      if (rng.chance(0.4)) {
        const picked = new Set(Array.from({ length: 1 + rng.int(3) }, () => rng.pick(pool)));
        for (const courseId of picked)
          enrollments.push({ id: uuid7(rng, BASE + 2 * 86_400_000), partnerId: partners[p]!.id, userId: id, courseId });
      }
      if (rng.chance(0.2)) {
        for (let o = 1 + rng.int(2); o > 0; o--) {
          orders.push({
            id: uuid7(rng, BASE + 3 * 86_400_000),
            partnerId: partners[p]!.id,
            userId: id,
            courseId: rng.pick(pool),
            amountCents: 500 + rng.int(20_000),
          });
        }
      }
    }
  });

  // Parents before children, merge targets before sources: one statement per batch.
  await inBatches(accounts, (data) => prisma.account.createMany({ data }));
  await inBatches(clients, (data) => prisma.client.createMany({ data }));
  await inBatches(users, (data) => prisma.user.createMany({ data }));
  await inBatches(entitlements, (data) => prisma.entitlement.createMany({ data }));
  await inBatches(courses, (data) => prisma.course.createMany({ data }));
  await inBatches(enrollments, (data) => prisma.enrollment.createMany({ data }));
  await inBatches(orders, (data) => prisma.order.createMany({ data }));
  await inBatches(apiKeys, (data) => prisma.apiKey.createMany({ data }));
  // Fresh statistics and visibility maps, as autovacuum keeps them on a database in use.
  await store.pool.query('VACUUM ANALYZE');

  const counts = {
    accounts: accounts.length,
    clients: clients.length,
    users: users.length,
    merged: users.filter((u) => u.status === 'MERGED').length,
    entitlements: entitlements.length,
    courses: courses.length,
    enrollments: enrollments.length,
    orders: orders.length,
  };
  log(
    `data: ${Object.entries(counts)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ')} in ${((performance.now() - started) / 1000).toFixed(1)}s`,
  );
  return { size, seed, partners, counts };
}
