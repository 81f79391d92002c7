// GraphiQL in a real browser (Debian's headless Chromium through playwright-core), against the
// app on a loopback HTTP listener: a fresh page shows the sign-in form, a wrong key gets a
// clear refusal, the right key loads the schema at once (the Docs explorer lists Query's
// fields with no further click, federation's _entities/_service not among them), queries run,
// and the page never requests another host. Skipped with a notice when /usr/bin/chromium is
// absent, except in CI (.ci/run installs it). Runs in the pglite project only.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { useHarness, type Partner } from './helpers/app.js';

const CHROMIUM = '/usr/bin/chromium';
// The page touches the store only to check the key: one run, on the embedded store, is enough.
const onThisProject = process.env.TEST_STORE !== 'postgres';
const haveChromium = onThisProject && fs.existsSync(CHROMIUM);
if (!onThisProject) {
  console.warn('[graphiql-browser] runs in the pglite project only');
} else if (!haveChromium) {
  if (process.env.CI === 'true')
    throw new Error(
      `${CHROMIUM} is required in CI (.ci/run installs it: apt-get install -y --no-install-recommends chromium)`,
    );
  console.warn(
    `[graphiql-browser] skipped: ${CHROMIUM} not found (apt-get install -y --no-install-recommends chromium)`,
  );
}

const h = useHarness();
let partner: Partner;
let server: ServerType | undefined;
let base = '';
let profile = '';
let context: BrowserContext | undefined;
const foreign: string[] = [];

beforeAll(async () => {
  if (!h.ready || !haveChromium) return;
  partner = await h.newPartner('Analysts');
  server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: h.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  profile = await fsp.mkdtemp(path.join(os.tmpdir(), 'graphiql-browser-'));
  // Flags as verified in ../shared/STACK.md; playwright refuses --user-data-dir in args.
  context = await chromium.launchPersistentContext(profile, {
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
  // A CSP violation is reported on the console, where openPage() collects it.
  await context.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) =>
      console.error(`Refused to (CSP ${e.violatedDirective}) ${e.blockedURI}`),
    ),
  );
  // Any request that leaves the origin fails (and is recorded): the page must work offline.
  await context.route('**/*', (route) => {
    const target = route.request().url();
    if (target.startsWith(base) || target.startsWith('data:') || target.startsWith('blob:')) return route.continue();
    foreign.push(target);
    return route.abort();
  });
}, 60_000); // Chromium's start

afterAll(async () => {
  await context?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  if (profile) await fsp.rm(profile, { recursive: true, force: true });
});

/** A fresh tab that records CSP violations and page errors. */
async function openPage(): Promise<{ page: Page; problems: string[] }> {
  const page = await context!.newPage();
  const problems: string[] = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`);
  });
  await page.goto(`${base}/graphql`, { waitUntil: 'load' });
  return { page, problems };
}

it.skipIf(!haveChromium)(
  'signs in with the key and the Docs explorer lists Query at once',
  async (ctx) => {
    if (!h.ready) return ctx.skip();
    const { page, problems } = await openPage();

    // Fresh page: the sign-in form, not GraphiQL introspecting without a key.
    const key = page.getByLabel('API key');
    await key.waitFor({ timeout: 30_000 });
    expect(await page.locator('.graphiql-container').count()).toBe(0);
    expect(await page.locator('#ag-origin').innerText()).toBe(`${base}/graphql`);

    // A refused key says so and leaves the form up.
    await key.fill('not-a-real-key');
    await key.press('Enter');
    await expect
      .poll(() => page.locator('#ag-message').innerText(), { timeout: 15_000 })
      .toMatch(/^The server refused this key: \S/);
    expect(await page.locator('.graphiql-container').count()).toBe(0);

    // The right key: GraphiQL mounts with the schema fetched using it, nothing else clicked.
    await key.fill(partner.key);
    await key.press('Enter');
    // The Docs explorer opens at Query by itself: its title is Query, with a way back to the root.
    const docs = page.locator('.graphiql-doc-explorer');
    await expect
      .poll(
        () =>
          docs
            .locator('.graphiql-doc-explorer-title')
            .first()
            .innerText()
            .catch(() => ''),
        { timeout: 30_000 },
      )
      .toBe('Query');
    expect(await docs.locator('.graphiql-doc-explorer-back').innerText()).toContain('Docs');
    for (const field of ['users', 'accounts', 'auditEvents', 'viewer']) {
      await docs
        .locator('.graphiql-doc-explorer-field-name', { hasText: new RegExp(`^${field}$`) })
        .first()
        .waitFor({ timeout: 15_000 });
    }
    const fields = await docs.locator('.graphiql-doc-explorer-field-name').allInnerTexts();
    expect(fields).not.toContain('_entities');
    expect(fields).not.toContain('_service');
    expect(await page.getByText('Error fetching schema').count()).toBe(0);

    // The first example tab runs as it is, with the signed-in key.
    await page.locator('.graphiql-execute-button').click();
    const response = page.locator('.graphiql-response');
    await response.getByText('"totalCount"').waitFor({ timeout: 30_000 });
    const text = (await response.innerText()).replace(/\s+/g, ' ');
    expect(text).not.toContain('"errors"');
    expect(text).toContain('"name": "Analysts');
    // Example operations for analysts are there as tabs.
    const tabs = await page.locator('.graphiql-tab').allInnerTexts();
    expect(tabs.join(' ')).toMatch(
      /UsersCreatedBetween[\s\S]*UsersByEntitlement[\s\S]*SearchUsers[\s\S]*AccountTree[\s\S]*AuditEvents/,
    );

    // The key is kept for the tab's session only, never in localStorage.
    const storage = await page.evaluate(() => ({
      session: JSON.stringify(sessionStorage),
      local: JSON.stringify(localStorage),
    }));
    expect(storage.session).toContain(partner.key);
    expect(storage.local).not.toContain(partner.key);
    const screenshot = process.env.GRAPHIQL_SCREENSHOT;
    if (screenshot) await page.screenshot({ path: screenshot });

    // Signing out brings the form back.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor({ timeout: 15_000 });
    expect(await page.evaluate(() => JSON.stringify(sessionStorage))).not.toContain(partner.key);

    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
    await page.close();
  },
  120_000,
);

it.skipIf(!haveChromium)(
  'a key revoked mid-session sends the analyst back to the sign-in form with the reason',
  async (ctx) => {
    if (!h.ready) return ctx.skip();
    const { page, problems } = await openPage();
    await page.evaluate(() => sessionStorage.setItem('account-gateway.graphiql.apiKey', 'revoked-key'));
    await page.reload({ waitUntil: 'load' });
    await expect
      .poll(() => page.locator('#ag-message').innerText(), { timeout: 30_000 })
      .toMatch(/^The server refused the API key: \S/);
    expect(await page.getByLabel('API key').isVisible()).toBe(true);
    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
    await page.close();
  },
  120_000,
);
