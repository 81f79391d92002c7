// Each dialect's OpenAPI 3.1 document, generated from its route declarations, covers the
// routes it serves: every documented operation is registered (and answers with something other
// than the "no route" 404 or a 405), every registered route is documented, and the served
// documents pass `redocly lint` (@redocly/cli, offline) without an error or a warning.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../../src/dialects/index.js';
import { dialectRoutes } from '../../src/dialects/common.js';
import type { DialectDeps } from '../../src/http.js';
import { useHarness, type Partner } from '../helpers/app.js';
import { rest } from './helpers.js';

const h = useHarness();
let partner: Partner;

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

// Building a dialect only registers its routes; nothing here is called.
const inert = {
  prisma: null,
  logger: null,
  guards: { authenticator: null, rateLimiter: null },
} as unknown as DialectDeps;

beforeAll(async () => {
  if (!h.ready) return;
  partner = await h.newPartner('OpenAPI probe');
});

describe.each(Object.entries(DIALECTS))('%s', (prefix, dialect) => {
  let doc: any;

  beforeAll(async () => {
    if (!h.ready) return;
    expect((await rest(h, 'GET', `${prefix}/openapi.json`)).status).toBe(401);
    const res = await rest(h, 'GET', `${prefix}/openapi.json`, { authorization: `Bearer ${partner.key}` });
    expect(res.status).toBe(200);
    doc = res.body;
  });

  const operations = () =>
    Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
      Object.keys(item)
        .filter((m) => METHODS.includes(m))
        .map((method) => ({
          method: method.toUpperCase(),
          path,
          route: path.replace(/\{(\w+)\}/g, ':$1'),
          op: item[method],
        })),
    );

  it('is served without credentials as an OpenAPI 3.1 document for this prefix', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toMatch(/dialect/);
    expect(doc.servers).toEqual([{ url: prefix }]);
    expect(operations().length).toBeGreaterThan(0);
  });

  it('documents exactly the routes the dialect registers', () => {
    const documented = operations()
      .map((o) => `${o.method} ${o.route}`)
      .sort();
    const registered = dialectRoutes(dialect(inert))
      .filter((r) => r.path !== '/openapi.json')
      .map((r) => `${r.method} ${r.path}`)
      .sort();
    expect(documented).toEqual(registered);
  });

  it('gives every operation an id, its responses (401 included) and resolvable schema references', () => {
    const ids = operations().map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { op } of operations()) {
      expect(op.operationId).toBeTruthy();
      expect(Object.keys(op.responses)).toContain('401');
      expect(Object.keys(op.responses).some((s) => s.startsWith('2'))).toBe(true);
    }
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(0);
    for (const name of refs) expect(doc.components.schemas[name], name).toBeDefined();
  });

  it('answers every documented operation (not "no route", not 405)', async () => {
    for (const { method, path } of operations()) {
      const url = prefix + path.replace(/\{\w+\}/g, '1');
      const res = await rest(h, method, url, {
        token: partner.key,
        ...(method === 'GET' || method === 'DELETE' ? {} : { json: {} }),
      });
      expect(res.status, `${method} ${url}`).not.toBe(405);
      expect(res.text, `${method} ${url}`).not.toMatch(/no route/);
      expect(res.status, `${method} ${url}`).toBeLessThan(500);
    }
  });
});

describe('the served documents', () => {
  // info-license: the gateway's APIs are private, with no licence to name.
  it('pass redocly lint (recommended rules) with no error and no warning', async () => {
    if (!h.ready) return;
    const served = new Map<string, unknown>();
    for (const prefix of Object.keys(DIALECTS)) {
      const res = await rest(h, 'GET', `${prefix}/openapi.json`, { authorization: `Bearer ${partner.key}` });
      served.set(prefix, res.body);
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openapi-lint-'));
    try {
      const files = [...served].map(([prefix, doc]) => {
        const file = path.join(dir, `${prefix.split('/').at(-1)}.json`);
        fs.writeFileSync(file, JSON.stringify(doc));
        return file;
      });
      const bin = path.resolve('node_modules/.bin/redocly');
      const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' };
      // One run per document: with several files the JSON reports come concatenated.
      const reports = await Promise.all(
        files.map(async (file) => {
          const args = ['lint', file, '--format=json', '--skip-rule=info-license'];
          // The catalog's form sample is in bracket notation (custom_fields[favorite_color]), as
          // the source API sends it and fidelity.test.ts replays it; the rule reads such a key as
          // an undeclared property. fidelity.test.ts checks every sample against its schema.
          if (file.endsWith('catalog.json')) args.push('--skip-rule=no-invalid-media-type-examples');
          const { stdout } = await promisify(execFile)(bin, args, { env });
          return { file: path.basename(file), ...JSON.parse(stdout) };
        }),
      );
      for (const report of reports) {
        expect(report.problems, report.file).toEqual([]);
        expect(report.totals, report.file).toMatchObject({ errors: 0, warnings: 0 });
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
