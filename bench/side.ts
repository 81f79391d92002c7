// Issue #14's side-by-side benchmark: the read shapes of bench/shapes.ts against the gateway
// (as users get it), the gateway with COMPILED_READS=false (the executor) and PostGraphile
// v5 (bench/postgraphile.ts, PostgreSQL only), each target in its own process on the same
// data. First every target answers every shape once and the answers are compared (the
// gateway's against PostGraphile's and the executor's, as normalised JSON); then each shape
// is timed under 50 connections: rate, p50/p99, statements and server CPU per request (the
// target process's CPU time during the run ÷ answered requests; PostgreSQL's own CPU is in
// neither). With `cpuProfile`, the gateway targets are profiled during their timed runs
// (inspector, 0.5 ms sampling) and each profile is summarised (bench/cpuprofile.ts).
import fs from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { summarise, summaryMarkdown } from './cpuprofile.js';
import { load, startServer, type ServerHandle, type StoreLocation } from './http.js';
import type { TargetResult } from './report.js';
import { normalise, shapes, type Shape, type ShapeContext, type ShapeRequest } from './shapes.js';
import { wrk, wrkAvailable } from './wrk.js';

export type SideTarget = 'gateway' | 'executor' | 'postgraphile';
export const SIDE_TARGETS: SideTarget[] = ['gateway', 'executor', 'postgraphile'];

const TARGET_LABEL: Record<SideTarget, string> = {
  gateway: 'gateway',
  executor: 'gateway, COMPILED_READS=false',
  postgraphile: 'PostGraphile 5.1.5',
};

export interface ShapeMeasurement {
  shape: string;
  title: string;
  target: SideTarget;
  /** Right answers per second under 50 connections (wrk's rate when installed). */
  rps: number | null;
  p50: number | null;
  p99: number | null;
  tool: 'wrk' | 'autocannon';
  /** Statements sent to PostgreSQL per answered request. */
  statements: number | null;
  /** CPU time of the target's process per answered request, ms. */
  cpuMs: number | null;
  requests: number;
  ok: boolean;
  note?: string;
  /** With cpuProfile: the summary of the timed run's profile (markdown). */
  profile?: string;
}

export interface SideReport {
  store: 'pglite' | 'postgres';
  measurements: ShapeMeasurement[];
  /** Per shape: whether PostGraphile's / the executor's answer equals the gateway's. */
  comparisons: { shape: string; against: SideTarget; equal: boolean; note?: string }[];
  targets: TargetResult[];
  profiles: { shape: string; target: SideTarget; file: string; summary: string }[];
}

export interface SideOptions {
  store: 'pglite' | 'postgres';
  only?: string[];
  targets?: SideTarget[];
  /** Target seconds per timed run (the warm-up's rate sizes it). */
  duration: number;
  warmup: number;
  quick: boolean;
  /** A directory for .cpuprofile files: profile the gateway targets' timed runs. */
  cpuProfile?: string;
  log: (line: string) => void;
}

interface Answer {
  status: number;
  body: any;
  text: string;
}

async function ask(server: ServerHandle, request: ShapeRequest): Promise<Answer> {
  const response = await fetch(server.url + request.path, {
    method: request.method,
    headers: request.headers,
    body: request.body,
  });
  const text = await response.text();
  let body: any = null;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: response.status, body, text };
}

const envOf = (target: SideTarget): Record<string, string> =>
  target === 'executor' ? { BENCH_COMPILED_READS: 'false' } : {};
const serveTarget = (target: SideTarget) => (target === 'postgraphile' ? 'postgraphile' : 'gateway');

function requestOf(shape: Shape, target: SideTarget): ShapeRequest | undefined {
  if (target !== 'postgraphile') return shape.gateway;
  if (!shape.postgraphile) return undefined;
  return {
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': 'application/json' },
    body: shape.postgraphile.body,
  };
}

/** What a target's answer must look like before it is timed; null when right. */
function answerProblem(shape: Shape, target: SideTarget, a: Answer): string | null {
  if (a.status !== 200) return `status ${a.status}: ${a.text.slice(0, 200)}`;
  if (a.body?.errors) return `errors: ${JSON.stringify(a.body.errors).slice(0, 300)}`;
  if (target !== 'postgraphile' && shape.items(a.body) < shape.expectedItems)
    return `${shape.items(a.body)} items, expected at least ${shape.expectedItems}`;
  return null;
}

const dataOf = (shape: Shape, target: SideTarget, body: any) =>
  normalise(target === 'postgraphile' ? shape.postgraphile!.data(body) : shape.gatewayData(body));

/** The first place two JSON values differ, for the report. */
function firstDifference(a: unknown, b: unknown, at = ''): string {
  if (isDeepStrictEqual(a, b)) return '';
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      const d = firstDifference((a as any)[k], (b as any)[k], `${at}.${k}`);
      if (d) return d;
    }
  }
  return `${at || '(root)'}: ${JSON.stringify(a)?.slice(0, 120)} vs ${JSON.stringify(b)?.slice(0, 120)}`;
}

export async function sideBySide(location: StoreLocation, context: ShapeContext, o: SideOptions): Promise<SideReport> {
  const selected = shapes(context).filter((s) => !o.only?.length || o.only.includes(s.key));
  const targets = (o.targets ?? SIDE_TARGETS).filter(
    (t) => t !== 'postgraphile' || (o.store === 'postgres' && !o.cpuProfile),
  );
  const log = o.log;
  log(`  #14 shapes: ${selected.map((s) => s.key).join(', ')} on ${targets.map((t) => TARGET_LABEL[t]).join(' / ')}`);
  const measurements: ShapeMeasurement[] = [];
  const comparisons: SideReport['comparisons'] = [];
  const profiles: SideReport['profiles'] = [];
  const useWrk = await wrkAvailable();

  // 1. Every target answers every shape once; answers are checked and compared.
  const answers = new Map<string, { problem: string | null; data: unknown }>();
  await eachShape(location, context, targets, selected, async (_server, target, shape, a) => {
    const problem = answerProblem(shape, target, await a());
    answers.set(`${shape.key}/${target}`, { problem, data: problem ? null : dataOf(shape, target, (await a()).body) });
    if (problem) log(`  ${TARGET_LABEL[target]} ${shape.key}: WRONG ANSWER ${problem}`);
  });
  for (const shape of selected) {
    const mine = answers.get(`${shape.key}/gateway`);
    for (const against of targets.filter((t) => t !== 'gateway')) {
      const theirs = answers.get(`${shape.key}/${against}`);
      if (!mine || !theirs) continue;
      const equal = !mine.problem && !theirs.problem && isDeepStrictEqual(mine.data, theirs.data);
      const note = equal
        ? undefined
        : (mine.problem ?? theirs.problem ?? `differs at ${firstDifference(mine.data, theirs.data)}`);
      comparisons.push({ shape: shape.key, against, equal, note });
      log(`  ${shape.key}: gateway ${equal ? '=' : '≠'} ${TARGET_LABEL[against]}${note ? ` (${note})` : ''}`);
    }
  }

  // 2. Each shape timed on each target, one target process at a time.
  await eachShape(location, context, targets, selected, async (server, target, shape, _a, request) => {
    const answer = answers.get(`${shape.key}/${target}`);
    const comparison = comparisons.find((c) => c.shape === shape.key && c.against === target);
    const profileFile =
      o.cpuProfile && target !== 'postgraphile'
        ? path.join(o.cpuProfile, `${shape.key}-${target}.cpuprofile`)
        : undefined;
    const m = await timeShape(server, shape, target, request, o, useWrk, profileFile);
    if (answer?.problem) {
      m.ok = false;
      m.note = [answer.problem, m.note].filter(Boolean).join('; ');
    }
    if (comparison && !comparison.equal && !answer?.problem)
      m.note = [`answer ≠ gateway's: ${comparison.note}`, m.note].filter(Boolean).join('; ');
    if (profileFile) {
      const summary = summaryMarkdown(summarise(JSON.parse(await fs.readFile(profileFile, 'utf8'))), m.requests);
      m.profile = summary;
      profiles.push({ shape: shape.key, target, file: profileFile, summary });
    }
    measurements.push(m);
  });
  return { store: o.store, measurements, comparisons, profiles, targets: evaluateSide(measurements, comparisons) };
}

/** Runs `step` for every shape on every target, one target process at a time. */
async function eachShape(
  location: StoreLocation,
  context: ShapeContext,
  targets: SideTarget[],
  selected: Shape[],
  step: (
    server: ServerHandle,
    target: SideTarget,
    shape: Shape,
    answer: () => Promise<Answer>,
    request: ShapeRequest,
  ) => Promise<void>,
) {
  for (const target of targets) {
    const server = await startServer(serveTarget(target), location, context.partnerId, envOf(target));
    try {
      for (const shape of selected) {
        const request = requestOf(shape, target);
        if (!request) continue;
        let answer: Promise<Answer> | undefined;
        await step(server, target, shape, () => (answer ??= ask(server, request)), request);
      }
    } finally {
      await server.stop();
    }
  }
}

async function timeShape(
  server: ServerHandle,
  shape: Shape,
  target: SideTarget,
  request: ShapeRequest,
  o: SideOptions,
  useWrk: boolean,
  profileFile: string | undefined,
): Promise<ShapeMeasurement> {
  const connections = 50;
  const options = { path: request.path, method: request.method, headers: request.headers, body: request.body };
  const warm = await load(server.url, { ...options, connections, amount: connections * o.warmup });
  const amount = Math.max(o.quick ? connections : 2 * connections, Math.round(warm.rps * o.duration));
  let bad = 0;
  let firstBad = '';
  const onResponse = (status: number, text: string) => {
    if (status !== 200 || text.includes('"errors"')) if (!bad++) firstBad = `${status} ${text.slice(0, 160)}`;
  };
  if (profileFile) await server.startProfile();
  const before = await server.stats();
  const r = await load(server.url, { ...options, connections, amount, onResponse });
  const after = await server.stats();
  if (profileFile) await server.stopProfile(profileFile);
  const answered = Math.max(1, r.requests);
  let rate = { rps: (r.rps * (r.requests - bad)) / answered, p50: r.p50, p99: r.p99 };
  let cpuMs = (after.cpuMs - before.cpuMs) / answered;
  let tool: ShapeMeasurement['tool'] = 'autocannon';
  let note = bad ? `${bad} bad answers, first: ${firstBad}` : '';
  if (useWrk && !profileFile) {
    // wrk takes far less of the shared cores than autocannon: its rate is the one reported;
    // the server CPU is measured over its run too (statements come from the checked run).
    const w0 = await server.stats();
    const w = await wrk(server.url + request.path, { ...request, connections, seconds: o.quick ? 3 : o.duration });
    const w1 = await server.stats();
    rate = { rps: w.rps, p50: w.p50, p99: w.p99 };
    cpuMs = w.requests ? (w1.cpuMs - w0.cpuMs) / w.requests : cpuMs;
    tool = 'wrk';
    if (w.non2xx) note = [note, `wrk: ${w.non2xx} non-2xx`].filter(Boolean).join('; ');
  }
  const m: ShapeMeasurement = {
    shape: shape.key,
    title: shape.title,
    target,
    rps: Math.round(rate.rps * 10) / 10,
    p50: rate.p50,
    p99: rate.p99,
    tool,
    statements: Math.round(((after.statements - before.statements) / answered) * 100) / 100,
    cpuMs: Math.round(cpuMs * 100) / 100,
    requests: r.requests,
    ok: bad === 0 && r.errors === 0 && r.timeouts === 0,
    note: note || undefined,
  };
  o.log(
    `  ${TARGET_LABEL[target]} ${shape.key}: ${m.rps}/s (${tool}), ` +
      `p50 ${m.p50} ms, p99 ${m.p99} ms, ${m.statements} statements and ${m.cpuMs} ms CPU per request, ` +
      `${m.requests} requests${m.note ? ` (${m.note})` : ''}`,
  );
  return m;
}

const find = (ms: ShapeMeasurement[], shape: string, target: SideTarget) =>
  ms.find((m) => m.shape === shape && m.target === target);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

/** Issue #14's bars, judged on the gateway as users get it. */
export function evaluateSide(ms: ShapeMeasurement[], comparisons: SideReport['comparisons']): TargetResult[] {
  const out: TargetResult[] = [];
  for (const g of ms.filter((m) => m.target === 'gateway')) {
    const p = find(ms, g.shape, 'postgraphile');
    if (p?.rps && g.rps !== null) {
      const same = comparisons.find((c) => c.shape === g.shape && c.against === 'postgraphile');
      out.push({
        target: `#14 ${g.shape}: rate ≥ PostGraphile's (same answer: ${same?.equal ? 'yes' : 'NO'})`,
        bar: '≥ 1.0×',
        measured: `${ratio(g.rps, p.rps)} (${g.rps} vs ${p.rps}/s)`,
        pass: g.ok && Boolean(same?.equal) && g.rps >= p.rps,
      });
    }
  }
  const page = find(ms, 'page', 'gateway');
  for (const key of ['entities', 'nodes']) {
    const m = find(ms, key, 'gateway');
    if (!m?.rps || !page?.rps) continue;
    out.push({
      target: `#14 ${key} of 100: rate ≥ 0.8× the users page of 100`,
      bar: '≥ 0.8×',
      measured: `${ratio(m.rps, page.rps)} (${m.rps} vs ${page.rps}/s)`,
      pass: m.ok && m.rps >= 0.8 * page.rps,
    });
  }
  for (const g of ms.filter((m) => m.target === 'gateway' && m.cpuMs !== null)) {
    out.push({
      target: `#14 ${g.shape}: server CPU per request`,
      bar: '≤ 2 ms',
      measured: `${g.cpuMs} ms`,
      pass: g.cpuMs! <= 2,
    });
  }
  return out;
}

const cell = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits);

/** One row per shape and target, with the ratio to PostGraphile's rate. */
export function sideTable(r: SideReport): string {
  const lines = [
    '| shape | target | answers/s (50 conns) | p50 / p99 (ms) ' +
      '| SQL stmts / request | server CPU / request (ms) | ÷ PostGraphile | check |',
    '|---|---|--:|--:|--:|--:|--:|---|',
  ];
  const keys = [...new Set(r.measurements.map((m) => m.shape))];
  for (const key of keys) {
    const p = find(r.measurements, key, 'postgraphile');
    for (const m of r.measurements.filter((x) => x.shape === key)) {
      const cmp = r.comparisons.find((c) => c.shape === key && c.against === m.target);
      const check = [
        m.ok ? 'ok' : '**FAIL**',
        m.target === 'postgraphile' && cmp ? (cmp.equal ? "same JSON as the gateway's" : '**answer differs**') : '',
        m.target === 'executor' && cmp ? (cmp.equal ? 'same JSON as compiled' : '**answer differs**') : '',
        m.note ?? '',
      ]
        .filter(Boolean)
        .join('; ');
      lines.push(
        `| ${m.title} | ${TARGET_LABEL[m.target]} | ${cell(m.rps)} (${m.tool}) ` +
          `| ${cell(m.p50, 0)} / ${cell(m.p99, 0)} | ${cell(m.statements, 2)} | ${cell(m.cpuMs, 2)} ` +
          `| ${p?.rps && m.rps !== null ? ratio(m.rps, p.rps) : '–'} | ${check.replaceAll('|', '\\|')} |`,
      );
    }
  }
  return lines.join('\n');
}
