// Offline GraphiQL check (not part of `npm test`): starts the server on an empty temporary
// DATA_DIR (so it seeds the demo partner), opens /graphql in Debian's headless Chromium
// through playwright-core, signs in with the demo API key, runs the first example tab,
// checks the result and saves screenshots to tmp/graphiql-signin.png and tmp/graphiql.png.
// test/graphiql-browser.test.ts checks the same (and more) as part of `npm test`.
//   apt-get install -y --no-install-recommends chromium   (once; never `npx playwright install`)
//   npx tsx scripts/graphiql-screenshot.ts
// Any request the page makes to another host fails the check: the page must work offline.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const root = path.resolve(import.meta.dirname, '..');
const output = path.join(root, 'tmp', 'graphiql.png');
const signInOutput = path.join(root, 'tmp', 'graphiql-signin.png');

async function main() {
  await fs.access(CHROMIUM).catch(() => {
    throw new Error(`${CHROMIUM} not found: apt-get install -y --no-install-recommends chromium`);
  });
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'graphiql-check-'));
  const dataDir = path.join(work, 'data');
  const server = spawn(path.join(root, 'node_modules', '.bin', 'tsx'), ['src/server.ts'], {
    cwd: root,
    env: {
      ...process.env,
      DATA_DIR: dataDir,
      DATABASE_URL: '',
      PORT: '0',
      HOST: '127.0.0.1',
      SEED_DEMO: 'true',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const base = await listeningUrl(server);
    // The demo key of a fresh embedded store is kept here (mode 0600) by the server.
    const { apiKey } = JSON.parse(await fs.readFile(path.join(dataDir, 'demo-credentials.json'), 'utf8')) as {
      apiKey: string;
    };
    await screenshot(`${base}/graphql`, apiKey, path.join(work, 'profile'));
    console.log(
      'GraphiQL signed in and ran the query offline; ' +
        `screenshots: ${path.relative(process.cwd(), signInOutput)}, ${path.relative(process.cwd(), output)}`,
    );
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    await fs.rm(work, { recursive: true, force: true });
  }
}

/** The base URL the server prints once it listens. */
function listeningUrl(server: ReturnType<typeof spawn>): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`server did not start within 60s:\n${seen}`)), 60_000);
    server.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /account-gateway is up: (http:\/\/\S+)\/graphql/.exec(seen);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    server.once('exit', (code) => reject(new Error(`server exited (${code}) before listening:\n${seen}`)));
  });
}

async function screenshot(url: string, apiKey: string, profile: string) {
  // Flags as verified in ../shared/STACK.md; playwright refuses --user-data-dir in args.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1400, height: 900 },
  });
  try {
    const origin = new URL(url).origin;
    const foreign: string[] = [];
    // Fail any request that leaves the server: a CDN asset would hang the page offline.
    await context.route('**/*', (route) => {
      const target = route.request().url();
      if (target.startsWith(origin) || target.startsWith('data:') || target.startsWith('blob:'))
        return route.continue();
      foreign.push(target);
      return route.abort();
    });
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(url, { waitUntil: 'load' });

    // A fresh page asks for the key; signing in fetches the schema with it at once.
    const key = page.getByLabel('API key');
    await key.waitFor({ timeout: 30_000 });
    await fs.mkdir(path.dirname(output), { recursive: true });
    await page.screenshot({ path: signInOutput });
    await key.fill(apiKey);
    await key.press('Enter');
    await page.locator('.graphiql-query-editor').first().waitFor({ timeout: 30_000 });
    await page
      .locator('.graphiql-doc-explorer')
      .getByText('Query', { exact: true })
      .first()
      .waitFor({ timeout: 30_000 });

    // Run the default query (viewer + the first users) and wait for its answer.
    await page.locator('.graphiql-execute-button').click();
    const response = page.locator('.graphiql-response');
    await response.getByText('"totalCount"').waitFor({ timeout: 30_000 });
    // Monaco renders spaces as no-break spaces: normalise before looking.
    const text = (await response.innerText()).replace(/\s+/g, ' ');
    if (!text.includes('"isAdmin": true') || text.includes('"errors"'))
      throw new Error(`unexpected response in GraphiQL:\n${text}`);
    await page.screenshot({ path: output });
    if (foreign.length > 0)
      throw new Error(`the page requested other hosts (it would not work offline):\n${foreign.join('\n')}`);
  } finally {
    await context.close();
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
