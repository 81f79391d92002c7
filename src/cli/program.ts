// account-gateway's commands: migrations, partners, API keys, imports, backends, sync. They
// open the same store as the server (DATABASE_URL, or the embedded store in DATA_DIR, which
// must not be in use by a running server). runCli takes its arguments, environment and
// streams as parameters, so the tests run it in their own process; index.ts is the entry.
import fs from 'node:fs';
import readline from 'node:readline';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { coerceInputValue, isInputObjectType, type GraphQLInputObjectType } from 'graphql';
import cliProgress from 'cli-progress';
import { loadConfig, type Config } from '../config.js';
import { openStore, type Store } from '../store/database.js';
import { applyMigrations, pendingMigrations } from '../store/migrate.js';
import { loadUserPrincipal } from '../auth/authenticate.js';
import type { RequestContext } from '../auth/context.js';
import { PARTNER_WIDE_KINDS } from '../auth/principal.js';
import { DomainError, ValidationError } from '../errors.js';
import { nativeId } from '../graphql/ids.js';
import { createApiKey, provisionPartner, revokeApiKey } from '../modules/partners/service.js';
import { MAX_BULK, createUsers } from '../modules/users/bulk.js';
import {
  BACKEND_KINDS,
  LINK_RULES,
  MAX_CREDENTIAL,
  backendOfKind,
  checkStoredCredentials,
  connectBackend,
  disconnectBackend,
  listBackends,
} from '../modules/backends/service.js';
import { runSyncCommand } from './sync.js';
import { cliIo, type CliIo, type CliStreams } from './io.js';

const PLANS = ['CORE', 'AUTOMATE', 'ENTERPRISE'] as const;

async function withStore<T>(io: CliIo, work: (store: Store, config: Config) => Promise<T>, migrate = true): Promise<T> {
  const config = loadConfig(io.env);
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir, migrate });
  try {
    return await work(store, config);
  } finally {
    await store.close();
  }
}

/** Acts as the partner's earliest admin, as an API key of that admin would. */
async function adminContext(store: Store, partnerId: string): Promise<RequestContext> {
  const admin = await store.prisma.user.findFirst({
    where: { partnerId, status: 'ACTIVE', entitlements: { some: { kind: { in: [...PARTNER_WIDE_KINDS] } } } },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
  });
  if (!admin) throw new Error(`partner ${partnerId} not found, or it has no active admin`);
  return {
    prisma: store.prisma,
    principal: await loadUserPrincipal(store.prisma, admin.id, 'api_key'),
    requestId: 'cli',
    ip: '127.0.0.1',
  };
}

/** The program, writing to `io`; a command that fails sets `result.code`. */
function buildProgram(io: CliIo, result: { code: number }): Command {
  const program = new Command('account-gateway')
    .description('Operate an account-gateway store')
    .showHelpAfterError()
    // Commander's own messages (help, a bad flag) go to the streams given, and end the run
    // with its exit code instead of ending the process; subcommands inherit both.
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) });

  const migrate = program.command('migrate').description('apply pending migrations');
  migrate.action(() =>
    withStore(
      io,
      async (store) => {
        const applied = await applyMigrations(store.pool, (m) => io.out(m));
        io.out(applied.length ? `applied ${applied.length} migration(s)` : 'nothing to apply: the store is current');
      },
      false,
    ),
  );
  migrate
    .command('status')
    .description('list migrations not yet applied')
    .action(() =>
      withStore(
        io,
        async (store) => {
          const pending = await pendingMigrations(store.pool);
          io.out(pending.length ? `pending:\n  ${pending.join('\n  ')}` : 'the store is current');
          if (pending.length) result.code = 1;
        },
        false,
      ),
    );

  const partner = program.command('partner').description('partners (root accounts)');
  partner
    .command('create')
    .description('create a partner, its first admin and an API key (shown once)')
    .requiredOption('--name <name>', 'partner name')
    .option(
      '--plan <plan>',
      `one of ${PLANS.join(', ')}`,
      (v) => {
        const plan = v.toUpperCase();
        if (!(PLANS as readonly string[]).includes(plan))
          throw new InvalidArgumentError(`expected one of ${PLANS.join(', ')}`);
        return plan as (typeof PLANS)[number];
      },
      'CORE' as (typeof PLANS)[number],
    )
    .action((opts: { name: string; plan: (typeof PLANS)[number] }) =>
      withStore(io, async (store) => {
        const created = await store.prisma.$transaction((tx) =>
          provisionPartner(tx, { name: opts.name, plan: opts.plan }),
        );
        io.out(
          JSON.stringify(
            {
              partnerId: created.account.id,
              customerId: created.account.customerId,
              adminUserId: created.adminUser.id,
              apiKey: created.key,
            },
            null,
            2,
          ),
        );
        io.err('The API key is shown only once: store it now.');
      }),
    );
  partner
    .command('list')
    .description('list partners')
    .action(() =>
      withStore(io, async (store) => {
        const rows = await store.prisma.account.findMany({ where: { parentId: null }, orderBy: { createdAt: 'asc' } });
        if (!rows.length) return io.out('no partners');
        printTable(
          io,
          ['ID', 'CUSTOMER ID', 'PLAN', 'STATUS', 'CREATED', 'NAME'],
          rows.map((r) => [
            r.id,
            String(r.customerId),
            r.plan ?? 'CORE',
            r.status,
            r.createdAt.toISOString().slice(0, 10),
            r.name,
          ]),
          { right: [1] },
        );
      }),
    );

  const apiKey = program.command('api-key').description('API keys');
  apiKey
    .command('create')
    .description("create an API key acting as the partner's first admin")
    .requiredOption('--partner <ulid>', 'partner id')
    .requiredOption('--name <name>', 'a name to recognise the key')
    .action((opts: { partner: string; name: string }) =>
      withStore(io, async (store) => {
        const { apiKey: row, key } = await createApiKey(await adminContext(store, opts.partner), { name: opts.name });
        io.out(JSON.stringify({ id: row.id, name: row.name, apiKey: key }, null, 2));
        io.err('The API key is shown only once: store it now.');
      }),
    );
  apiKey
    .command('revoke')
    .description('revoke an API key')
    .requiredOption('--partner <ulid>', 'partner id')
    .argument('<id>', 'API key id (uuid)')
    .action((id: string, opts: { partner: string }) =>
      withStore(io, async (store) => {
        const row = await revokeApiKey(await adminContext(store, opts.partner), id);
        io.out(`revoked ${row.id} (${row.name}) at ${row.revokedAt?.toISOString()}`);
      }),
    );

  program
    .command('import')
    .description('import users from a JSON Lines file (one createUser input per line), 50 per transaction')
    .requiredOption('--partner <ulid>', 'partner id')
    .requiredOption('--file <path>', 'JSON Lines file; "-" reads standard input')
    .option('--errors <path>', 'write each rejected line (line number, reason, original text) to this JSON Lines file')
    .option('--no-progress', 'no progress bar (on a terminal) or progress lines (otherwise)')
    .action(async (opts: { partner: string; file: string; errors?: string; progress: boolean }) => {
      // Both files are opened before the store, so a typo costs nothing and says what is wrong.
      const source = opts.file === '-' ? null : await openFile(opts.file, 'r');
      const errorsFile = opts.errors ? await openFile(opts.errors, 'w') : null;
      await withStore(io, async (store) => {
        const ctx = await adminContext(store, opts.partner);
        const inputType = await createUserInputType();
        const total = source ? await countLines(opts.file) : 0;
        const input = source ? source.createReadStream({ start: 0 }) : io.stdin;
        const rejected = errorsFile?.createWriteStream();
        const progress = opts.progress ? progressReporter(io, total) : null;
        let created = 0;
        let failed = 0;
        let shown = 0;
        const held: string[] = [];
        const reject = (line: number, text: string, reason: string) => {
          failed++;
          rejected?.write(`${JSON.stringify({ line, error: reason, input: text })}\n`);
          if (!rejected && shown < SHOWN_REJECTIONS) {
            shown++;
            // A terminal's bar would overwrite them: they follow it.
            if (progress?.bar) held.push(`line ${line}: ${reason}`);
            else io.err(`line ${line}: ${reason}`);
          }
        };
        let batch: { line: number; text: string; value: Record<string, unknown> }[] = [];
        const flush = async () => {
          if (!batch.length) return;
          // Items are named by their line in the file (see reason()).
          const results = await createUsers(ctx, { users: batch.map((b) => b.value) }, (index) => batch[index]!.line);
          results.forEach((r, i) => {
            if (r.ok) created++;
            else reject(batch[i]!.line, batch[i]!.text, reason(r.error, batch[i]!.line));
          });
          batch = [];
          progress?.update(created + failed, created, failed);
        };
        let lineNo = 0;
        for await (const text of readline.createInterface({ input, crlfDelay: Infinity })) {
          lineNo++;
          if (!text.trim()) continue;
          const parsed = readUserLine(inputType, text);
          if (parsed.ok) batch.push({ line: lineNo, text, value: parsed.value });
          else reject(lineNo, text, parsed.reason);
          if (batch.length === MAX_BULK) await flush();
        }
        await flush();
        progress?.stop(created + failed, created, failed);
        for (const message of held) io.err(message);
        if (rejected)
          await new Promise<void>((resolve, reject) =>
            rejected.end((error?: Error | null) => (error ? reject(error) : resolve())),
          );
        const more =
          !rejected && failed > shown
            ? ` (${failed - shown} not shown: pass --errors FILE to keep every rejected line with its reason)`
            : '';
        io.out(
          `imported ${created} user(s); ${failed} rejected${opts.errors && failed ? ` (see ${opts.errors})` : more}`,
        );
        if (failed) result.code = 1;
      });
    });

  const backend = program.command('backend').description("a partner's connected backends (SPEC §10)");
  const kindOption = (v: string) => {
    const kind = v.toUpperCase();
    if (!(BACKEND_KINDS as readonly string[]).includes(kind))
      throw new InvalidArgumentError(`expected one of ${BACKEND_KINDS.join(', ')}`);
    return kind as (typeof BACKEND_KINDS)[number];
  };
  backend
    .command('connect')
    .description(
      'connect a backend; the credential is read from --credential-file or standard input, never from the command line',
    )
    .requiredOption('--partner <ulid>', 'partner id')
    .requiredOption('--kind <kind>', `one of ${BACKEND_KINDS.join(', ')}`, kindOption)
    .requiredOption('--base-url <url>', 'http(s) URL of its API')
    .option(
      '--credential-file <path>',
      'file holding the credential (one trailing newline is dropped); "-" or left out: standard input',
    )
    .option('--sync-interval <seconds>', 'seconds between incremental syncs (default 300)', (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError('expected a whole number of seconds');
      return Number(v);
    })
    .option('--link-by <rules>', `comma list of ${LINK_RULES.join(', ')} (default both)`, (v) => {
      const rules = v
        .split(',')
        .map((r) => r.trim().toUpperCase())
        .filter(Boolean);
      const unknown = rules.filter((r) => !(LINK_RULES as readonly string[]).includes(r));
      if (unknown.length || !rules.length)
        throw new InvalidArgumentError(`expected a comma list of ${LINK_RULES.join(', ')}`);
      return rules as (typeof LINK_RULES)[number][];
    })
    // Accepted only to be refused with the reason; hidden from the help.
    .addOption(new Option('--credential [value]').hideHelp())
    .action(
      async (opts: {
        partner: string;
        kind: (typeof BACKEND_KINDS)[number];
        baseUrl: string;
        credentialFile?: string;
        syncInterval?: number;
        linkBy?: (typeof LINK_RULES)[number][];
        credential?: unknown;
      }) => {
        if (opts.credential !== undefined) {
          throw new CliError(
            'the credential is never taken from the command line, where shell history and ' +
              'the process list would keep it: use --credential-file FILE or standard input',
          );
        }
        const credential = await readCredential(io, opts.credentialFile);
        await withStore(io, async (store, config) => {
          // Sealing with a key other than the stored credentials' would leave a store no key opens.
          await checkStoredCredentials(store.prisma, config);
          const ctx = { ...(await adminContext(store, opts.partner)), config };
          const row = await connectBackend(ctx, {
            kind: opts.kind,
            baseUrl: opts.baseUrl,
            credential,
            syncIntervalSeconds: opts.syncInterval,
            linkBy: opts.linkBy,
          }).catch(flagged);
          io.out(
            JSON.stringify(
              {
                id: row.id,
                kind: row.kind,
                baseUrl: row.baseUrl,
                syncIntervalSeconds: row.syncIntervalSeconds,
                linkBy: row.linkBy,
                status: row.status,
              },
              null,
              2,
            ),
          );
        });
      },
    );
  backend
    .command('list')
    .description("list a partner's backends")
    .requiredOption('--partner <ulid>', 'partner id')
    .action((opts: { partner: string }) =>
      withStore(io, async (store, config) => {
        const rows = await listBackends({ ...(await adminContext(store, opts.partner)), config });
        if (!rows.length) return io.out('no backends');
        printTable(
          io,
          ['KIND', 'STATUS', 'INTERVAL', 'LINK BY', 'LAST SYNC', 'ID', 'BASE URL'],
          rows.map((r) => [
            r.kind,
            r.status,
            `${r.syncIntervalSeconds}s`,
            r.linkBy.join(','),
            r.lastSyncAt?.toISOString() ?? 'never',
            r.id,
            r.baseUrl,
          ]),
          { right: [2] },
        );
      }),
    );
  backend
    .command('disconnect')
    .description('disconnect a backend (nothing is written to the backend)')
    .requiredOption('--partner <ulid>', 'partner id')
    .requiredOption('--kind <kind>', `one of ${BACKEND_KINDS.join(', ')}`, kindOption)
    .action((opts: { partner: string; kind: (typeof BACKEND_KINDS)[number] }) =>
      withStore(io, async (store, config) => {
        const ctx = { ...(await adminContext(store, opts.partner)), config };
        const row = await backendOfKind(ctx, opts.kind);
        if (!row) throw new CliError(`partner ${opts.partner} has no ${opts.kind} backend`);
        await disconnectBackend(ctx, row.id);
        io.out(`disconnected the ${row.kind} backend ${row.id} (${row.baseUrl})`);
      }),
    );

  program
    .command('sync')
    .description(
      "sync a partner's backends now, in this process (progress bars " +
        'on a terminal, JSON lines otherwise); exits 1 when a run failed',
    )
    .requiredOption('--partner <ulid>', 'partner id')
    .option('--kind <kind>', `only this backend: one of ${BACKEND_KINDS.join(', ')}`, kindOption)
    .option('--full', 'read every record (and mark what is gone) instead of the changes since the last successful run')
    .action((opts: { partner: string; kind?: (typeof BACKEND_KINDS)[number]; full?: boolean }) =>
      withStore(io, async (store, config) => {
        await checkStoredCredentials(store.prisma, config);
        const ctx = { ...(await adminContext(store, opts.partner)), config };
        const outcome = await runSyncCommand(io, store, config, ctx, { kind: opts.kind, full: opts.full }).catch(
          (error: unknown) => {
            throw error instanceof DomainError
              ? error
              : new CliError(error instanceof Error ? error.message : String(error));
          },
        );
        for (const { kind, run, lastError } of outcome.runs) {
          if (run?.status !== 'SUCCEEDED')
            io.err(`${kind} sync ${run?.status ?? 'did not run'}: ${lastError ?? 'no reason recorded'}`);
        }
        if (outcome.failed) result.code = 1;
      }),
    );
  return program;
}

/** The credential from a file, or from standard input when none is named (or "-"). */
async function readCredential(io: CliIo, file: string | undefined): Promise<string> {
  const fromStdin = file === undefined || file === '-';
  if (fromStdin && io.stdin.isTTY)
    throw new CliError('give the credential with --credential-file FILE, or pipe it on standard input');
  const limit = MAX_CREDENTIAL * 4;
  let text = '';
  const input = fromStdin ? io.stdin : (await openFile(file, 'r')).createReadStream();
  for await (const chunk of input) {
    text += String(chunk);
    if (text.length > limit) throw new CliError(`the credential is longer than ${MAX_CREDENTIAL} characters`);
  }
  // A file written by an editor or `echo` ends in a newline that is not part of the secret.
  return text.replace(/\r?\n$/, '');
}

// The service's field names, as the flags that carry them.
const BACKEND_FLAGS: Record<string, string> = {
  'input.kind': '--kind',
  'input.baseUrl': '--base-url',
  'input.credential': 'the credential',
  'input.syncIntervalSeconds': '--sync-interval',
  'input.linkBy': '--link-by',
};

/** A service's ValidationError, its fields named by the flags that gave them. */
function flagged(error: unknown): never {
  if (!(error instanceof ValidationError)) throw error;
  throw new CliError(error.issues.map((i) => `${BACKEND_FLAGS[i.field] ?? i.field}: ${i.message}`).join('\n'));
}

/** Without --errors, the first rejections are printed with their reason. */
const SHOWN_REJECTIONS = 20;

/** The graph's CreateUserInput; building the schema costs a second, so only import loads it. */
async function createUserInputType(): Promise<GraphQLInputObjectType> {
  const { schema } = await import('../schema.js');
  const type = schema.getType('CreateUserInput');
  if (!isInputObjectType(type)) throw new Error('the schema has no CreateUserInput');
  return type;
}

/**
 * One line as the graph would take it in createUser's `input`: a JSON object whose fields
 * CreateUserInput defines (unknown fields are refused, not dropped), coerced as GraphQL
 * coerces variables, with accountId mapped as the createUsers mutation maps it.
 */
function readUserLine(
  type: GraphQLInputObjectType,
  text: string,
): { ok: true; value: Record<string, unknown> } | { ok: false; reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not valid JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return { ok: false, reason: 'expected a JSON object (one createUser input)' };
  const problems: string[] = [];
  const value = coerceInputValue(json, type, (path, _invalid, error) =>
    problems.push(path.length ? `${path.join('.')}: ${error.message}` : error.message),
  ) as Record<string, unknown>;
  if (problems.length) return { ok: false, reason: problems.join('; ') };
  // An item whose accountId is malformed becomes that item's NOT_FOUND, as in createUsers.
  return {
    ok: true,
    value: {
      ...value,
      accountId: value.accountId == null ? undefined : (nativeId('Account', String(value.accountId)) ?? '-'),
    },
  };
}

/** A rejected item's reason, its fields named within the line rather than within the batch. */
function reason(error: Error, line: number): string {
  if (!(error instanceof ValidationError)) return error.message;
  const item = `input.users.${line}`;
  return error.issues
    .map((issue) => {
      const field =
        issue.field === item
          ? ''
          : issue.field.startsWith(`${item}.`)
            ? issue.field.slice(item.length + 1)
            : issue.field;
      return field ? `${field}: ${issue.message}` : issue.message;
    })
    .join('; ');
}

interface ProgressReporter {
  /** A bar redrawn in place on a terminal, rather than lines. */
  bar: boolean;
  update(done: number, created: number, failed: number): void;
  stop(done: number, created: number, failed: number): void;
}

/**
 * A bar on a terminal; elsewhere (CI logs, a redirected stderr) a line at every tenth of the
 * file, or every 1,000 lines of standard input, and at least every 10 seconds.
 */
function progressReporter(io: CliIo, total: number): ProgressReporter {
  if (io.stderr.isTTY && total) {
    const bar = new cliProgress.SingleBar(
      {
        format: 'importing |{bar}| {value}/{total} lines, {created} created, {failed} rejected',
        stream: io.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { created: 0, failed: 0 });
    return {
      bar: true,
      update: (done, created, failed) => bar.update(done, { created, failed }),
      stop: (done, created, failed) => {
        bar.update(done, { created, failed });
        bar.stop();
      },
    };
  }
  const step = total ? Math.max(1, Math.ceil(total / 10)) : 1000;
  let next = step;
  let last = Date.now();
  let printed = 0;
  const line = (done: number, created: number, failed: number) => {
    printed = done;
    const of = total ? `/${total} lines (${Math.floor((100 * done) / total)}%)` : ' lines';
    io.err(`progress: ${done}${of}, ${created} created, ${failed} rejected`);
    last = Date.now();
  };
  return {
    bar: false,
    update(done, created, failed) {
      if (done < next && Date.now() - last < 10_000) return;
      while (next <= done) next += step;
      line(done, created, failed);
    },
    stop(done, created, failed) {
      if (done !== printed) line(done, created, failed);
    },
  };
}

async function openFile(file: string, flags: 'r' | 'w'): Promise<fs.promises.FileHandle> {
  try {
    const handle = await fs.promises.open(file, flags);
    // Linux opens a directory for reading; its first read would fail with a stack instead.
    if ((await handle.stat()).isDirectory()) {
      await handle.close();
      throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    }
    return handle;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      {
        ENOENT: 'no such file or directory',
        EACCES: 'permission denied',
        EISDIR: 'is a directory',
        ENOTDIR: 'a parent is not a directory',
      }[code ?? ''] ?? (error as Error).message;
    throw new CliError(`cannot ${flags === 'r' ? 'read' : 'write'} ${file}: ${why}`);
  }
}

async function countLines(file: string): Promise<number> {
  let n = 0;
  for await (const line of readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity }))
    if (line.trim()) n++;
  return n;
}

/** Columns padded to their widest cell; the last one is not padded (names may be long). */
function printTable(io: CliIo, header: string[], rows: string[][], { right = [] as number[] } = {}): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const format = (cells: string[]) =>
    cells
      .map((cell, i) =>
        i === cells.length - 1 ? cell : right.includes(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!),
      )
      .join('  ');
  for (const cells of [header, ...rows]) io.out(format(cells));
}

/** A mistake of the operator's, told in one line without a stack. */
class CliError extends Error {}

/** Runs the command line `argv` (without node and the script) on `streams`; resolves to the exit code. */
export async function runCli(argv: string[], streams: CliStreams): Promise<number> {
  const io = cliIo(streams);
  const result = { code: 0 };
  try {
    await buildProgram(io, result).parseAsync(argv, { from: 'user' });
    return result.code;
  } catch (error) {
    // Commander has already said what was wrong (or shown the help).
    if (error instanceof CommanderError) return error.exitCode;
    // Configuration, domain, secrets-key and operator mistakes alike: the message, no stack.
    io.err(error instanceof Error ? error.message : String(error));
    return 1;
  }
}
