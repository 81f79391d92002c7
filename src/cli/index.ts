// account-gateway: the command line for operators — migrations, partners, API keys, imports.
// It opens the same store as the server (DATABASE_URL, or the embedded store in DATA_DIR,
// which must not be in use by a running server).
import fs from 'node:fs';
import readline from 'node:readline';
import { Command, InvalidArgumentError } from 'commander';
import cliProgress from 'cli-progress';
import { ConfigError, loadConfig } from '../config.js';
import { openStore, type Store } from '../store/database.js';
import { applyMigrations, pendingMigrations } from '../store/migrate.js';
import { loadUserPrincipal } from '../auth/authenticate.js';
import type { RequestContext } from '../auth/context.js';
import { DomainError } from '../errors.js';
import { createApiKey, provisionPartner, revokeApiKey } from '../modules/partners/service.js';
import { MAX_BULK, createUsers } from '../modules/users/bulk.js';

const PLANS = ['CORE', 'AUTOMATE', 'ENTERPRISE'] as const;

async function withStore<T>(work: (store: Store) => Promise<T>, migrate = true): Promise<T> {
  const config = loadConfig();
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, migrate });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** Acts as the partner's earliest admin, as an API key of that admin would. */
async function adminContext(store: Store, partnerId: string): Promise<RequestContext> {
  const admin = await store.prisma.user.findFirst({
    where: { partnerId, status: 'ACTIVE', entitlements: { some: { kind: { in: ['PARTNER_ADMIN', 'ALL'] } } } },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
  });
  if (!admin) throw new Error(`partner ${partnerId} not found, or it has no active admin`);
  return { prisma: store.prisma, principal: await loadUserPrincipal(store.prisma, admin.id, 'api_key'), requestId: 'cli', ip: '127.0.0.1' };
}

const program = new Command('account-gateway').description('Operate an account-gateway store').showHelpAfterError();

const migrate = program.command('migrate').description('apply pending migrations');
migrate.action(() =>
  withStore(async (store) => {
    const applied = await applyMigrations(store.pool, (m) => console.log(m));
    console.log(applied.length ? `applied ${applied.length} migration(s)` : 'nothing to apply: the store is current');
  }, false),
);
migrate
  .command('status')
  .description('list migrations not yet applied')
  .action(() =>
    withStore(async (store) => {
      const pending = await pendingMigrations(store.pool);
      console.log(pending.length ? `pending:\n  ${pending.join('\n  ')}` : 'the store is current');
      if (pending.length) process.exitCode = 1;
    }, false),
  );

const partner = program.command('partner').description('partners (root accounts)');
partner
  .command('create')
  .description('create a partner, its first admin and an API key (shown once)')
  .requiredOption('--name <name>', 'partner name')
  .option('--plan <plan>', `one of ${PLANS.join(', ')}`, (v) => {
    const plan = v.toUpperCase();
    if (!(PLANS as readonly string[]).includes(plan)) throw new InvalidArgumentError(`expected one of ${PLANS.join(', ')}`);
    return plan as (typeof PLANS)[number];
  }, 'CORE' as (typeof PLANS)[number])
  .action((opts: { name: string; plan: (typeof PLANS)[number] }) =>
    withStore(async (store) => {
      const created = await store.prisma.$transaction((tx) => provisionPartner(tx, { name: opts.name, plan: opts.plan }));
      console.log(JSON.stringify({ partnerId: created.account.id, customerId: created.account.customerId, adminUserId: created.adminUser.id, apiKey: created.key }, null, 2));
      console.error('The API key is shown only once: store it now.');
    }),
  );
partner
  .command('list')
  .description('list partners')
  .action(() =>
    withStore(async (store) => {
      const rows = await store.prisma.account.findMany({ where: { parentId: null }, orderBy: { createdAt: 'asc' } });
      for (const r of rows) console.log(`${r.id}  ${String(r.customerId).padStart(6)}  ${r.plan ?? 'CORE'}  ${r.name}`);
      if (!rows.length) console.log('no partners');
    }),
  );

const apiKey = program.command('api-key').description('API keys');
apiKey
  .command('create')
  .description("create an API key acting as the partner's first admin")
  .requiredOption('--partner <ulid>', 'partner id')
  .requiredOption('--name <name>', 'a name to recognise the key')
  .action((opts: { partner: string; name: string }) =>
    withStore(async (store) => {
      const { apiKey: row, key } = await createApiKey(await adminContext(store, opts.partner), { name: opts.name });
      console.log(JSON.stringify({ id: row.id, name: row.name, apiKey: key }, null, 2));
      console.error('The API key is shown only once: store it now.');
    }),
  );
apiKey
  .command('revoke')
  .description('revoke an API key')
  .requiredOption('--partner <ulid>', 'partner id')
  .argument('<id>', 'API key id (uuid)')
  .action((id: string, opts: { partner: string }) =>
    withStore(async (store) => {
      const row = await revokeApiKey(await adminContext(store, opts.partner), id);
      console.log(`revoked ${row.id} (${row.name}) at ${row.revokedAt?.toISOString()}`);
    }),
  );

program
  .command('import')
  .description('import users from a JSON Lines file (one createUser input per line), 50 per transaction')
  .requiredOption('--partner <ulid>', 'partner id')
  .requiredOption('--file <path>', 'JSON Lines file; "-" reads standard input')
  .option('--errors <path>', 'write rejected lines (with the reason) to this JSON Lines file')
  .option('--no-progress', 'no progress bar (e.g. in CI logs)')
  .action((opts: { partner: string; file: string; errors?: string; progress: boolean }) =>
    withStore(async (store) => {
      const ctx = await adminContext(store, opts.partner);
      const input = opts.file === '-' ? process.stdin : fs.createReadStream(opts.file);
      const total = opts.file === '-' ? 0 : await countLines(opts.file);
      const bar = opts.progress && total ? new cliProgress.SingleBar({ format: 'importing |{bar}| {value}/{total} users, {created} created, {failed} rejected' }, cliProgress.Presets.shades_classic) : null;
      bar?.start(total, 0, { created: 0, failed: 0 });
      const rejected = opts.errors ? fs.createWriteStream(opts.errors) : null;
      let created = 0;
      let failed = 0;
      let lineNo = 0;
      let batch: { line: number; value: unknown }[] = [];
      const flush = async () => {
        if (!batch.length) return;
        const results = await createUsers(ctx, { users: batch.map((b) => b.value) });
        results.forEach((r, i) => {
          if (r.ok) created++;
          else {
            failed++;
            rejected?.write(`${JSON.stringify({ line: batch[i]!.line, error: r.error.message })}\n`);
          }
        });
        batch = [];
        bar?.update(created + failed, { created, failed });
      };
      for await (const line of readline.createInterface({ input, crlfDelay: Infinity })) {
        lineNo++;
        if (!line.trim()) continue;
        try {
          batch.push({ line: lineNo, value: JSON.parse(line) });
        } catch {
          failed++;
          rejected?.write(`${JSON.stringify({ line: lineNo, error: 'not valid JSON' })}\n`);
        }
        if (batch.length === MAX_BULK) await flush();
      }
      await flush();
      bar?.stop();
      rejected?.end();
      console.log(`imported ${created} user(s); ${failed} rejected${opts.errors && failed ? ` (see ${opts.errors})` : ''}`);
      if (failed) process.exitCode = 1;
    }),
  );

async function countLines(file: string): Promise<number> {
  let n = 0;
  for await (const line of readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })) if (line.trim()) n++;
  return n;
}

program.parseAsync().catch((error: unknown) => {
  if (error instanceof ConfigError || error instanceof DomainError) console.error(error.message);
  else console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
