// A summary of a V8 CPU profile (.cpuprofile, as written by `node --cpu-prof` or the
// inspector's Profiler.stop): where a process's CPU went, by self time of function and of
// module, and by inclusive time of the project's own functions, per answered request.
//
//   npx tsx bench/cpuprofile.ts <file.cpuprofile> [requests]
//
// Self time of a sample is the time until the next sample (timeDeltas), charged to the
// function on top of the stack; inclusive time charges it to every function on the stack
// (once per sample, so recursion does not count twice). "(idle)" is time the process waited.
import fs from 'node:fs/promises';
import path from 'node:path';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Row {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  /** Wall time the profile covers, ms. */
  wallMs: number;
  /** Sampled time that was not "(idle)", ms. */
  busyMs: number;
  idleMs: number;
  functions: Row[];
  modules: Row[];
  /** The project's own functions (src/, bench/) by inclusive time. */
  ownInclusive: Row[];
  /** Inclusive time by module (a module counted once per sample). */
  modulesInclusive: Row[];
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** The module a frame belongs to: an npm package, a file of the project, node's own code. */
export function moduleOf(frame: CallFrame, root = process.cwd()): string {
  const { url, functionName } = frame;
  if (SPECIAL.has(functionName)) return functionName;
  if (!url) return '(native)';
  if (url.startsWith('node:')) return 'node (built-in)';
  if (url.startsWith('wasm:'))
    return "wasm (Prisma's query compiler, engineType client; with PGlite also the database)";
  const file = url.startsWith('file://') ? decodeURIComponent(new URL(url).pathname) : url;
  const nm = file.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = file.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const relative = path.relative(root, file);
  return relative.startsWith('..') ? file : relative;
}

function frameName(frame: CallFrame, root: string): string {
  if (SPECIAL.has(frame.functionName)) return frame.functionName;
  const where = moduleOf(frame, root);
  // tsx's transpiled files keep few line breaks: the column tells functions of line 1 apart.
  const at = frame.lineNumber === 0 ? `1:${frame.columnNumber + 1}` : `${frame.lineNumber + 1}`;
  return `${frame.functionName || '(anonymous)'} ${where}:${at}`;
}

const isOwn = (module: string) => module.startsWith('src/') || module.startsWith('bench/');

export function summarise(profile: CpuProfile, root = process.cwd(), top = 25): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<string, number>();
  const selfModule = new Map<string, number>();
  const inclusiveOwn = new Map<string, number>();
  const inclusiveModule = new Map<string, number>();
  const names = new Map<number, { name: string; module: string }>();
  const describe = (id: number) => {
    let d = names.get(id);
    if (!d) {
      const frame = byId.get(id)!.callFrame;
      d = { name: frameName(frame, root), module: moduleOf(frame, root) };
      names.set(id, d);
    }
    return d;
  };
  const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
  let idle = 0;
  let busy = 0;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    // The delta before sample i+1 is the time sample i stood for.
    const us = timeDeltas[i + 1] ?? 0;
    const id = samples[i]!;
    const top = describe(id);
    if (top.name === '(idle)') {
      idle += us;
      continue;
    }
    busy += us;
    add(self, top.name, us);
    add(selfModule, top.module, us);
    const seenFn = new Set<string>();
    const seenModule = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const d = describe(at);
      if (d.name === '(root)') break;
      if (!seenModule.has(d.module)) {
        seenModule.add(d.module);
        add(inclusiveModule, d.module, us);
      }
      if (isOwn(d.module) && !seenFn.has(d.name)) {
        seenFn.add(d.name);
        add(inclusiveOwn, d.name, us);
      }
    }
  }
  const rows = (map: Map<string, number>, n = top): Row[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: us / 1000, share: busy ? us / busy : 0 }));
  return {
    wallMs: (profile.endTime - profile.startTime) / 1000,
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    functions: rows(self),
    modules: rows(selfModule, 20),
    ownInclusive: rows(inclusiveOwn, 20),
    modulesInclusive: rows(inclusiveModule, 15),
  };
}

/** Markdown tables of a summary; times per request when `requests` is given. */
export function summaryMarkdown(s: ProfileSummary, requests?: number): string {
  const per = (ms: number) => (requests ? (ms / requests).toFixed(2) : '–');
  const table = (title: string, rows: Row[]) => [
    `| ${title} | ms / request | share of busy CPU |`,
    '|---|--:|--:|',
    ...rows.map((r) => `| \`${r.name.replaceAll('|', '\\|')}\` | ${per(r.ms)} | ${(r.share * 100).toFixed(1)} % |`),
  ];
  return [
    `Profile: ${(s.wallMs / 1000).toFixed(1)} s of wall time, ` +
      `${(s.busyMs / 1000).toFixed(2)} s busy (${per(s.busyMs)} ms per request over ${requests ?? '?'} requests), ` +
      `${(s.idleMs / 1000).toFixed(2)} s idle.`,
    '',
    ...table('module (self time)', s.modules),
    '',
    ...table('module (inclusive: on the stack)', s.modulesInclusive),
    '',
    ...table('function (self time)', s.functions),
    '',
    ...table("the project's functions (inclusive)", s.ownInclusive),
  ].join('\n');
}

export async function summariseFile(file: string, requests?: number, root = process.cwd()): Promise<string> {
  const profile = JSON.parse(await fs.readFile(file, 'utf8')) as CpuProfile;
  return summaryMarkdown(summarise(profile, root), requests);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, requests] = process.argv.slice(2);
  if (!file) {
    console.error('usage: tsx bench/cpuprofile.ts <file.cpuprofile> [requests]');
    process.exit(2);
  }
  console.log(await summariseFile(file, requests ? Number(requests) : undefined));
}
