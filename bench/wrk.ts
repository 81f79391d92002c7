// A second, lighter load generator: wrk (C, from Debian's `wrk` package) when installed.
// autocannon runs in the bench's own Node process and takes CPU from the 2 cores the target
// also needs; wrk takes little, so its rate is the one to hold against published figures
// (PostGraphile's). Answers are checked in the autocannon run; wrk counts non-2xx only.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
}

export async function wrkAvailable(): Promise<boolean> {
  return run('wrk', ['--version']).then(
    () => true,
    (error: { stdout?: string; code?: string }) => error.code !== 'ENOENT' && Boolean(error.stdout?.includes('wrk')),
  );
}

export async function wrk(
  url: string,
  options: {
    method: 'GET' | 'POST';
    headers?: Record<string, string>;
    body?: string;
    connections: number;
    seconds: number;
  },
): Promise<WrkResult> {
  const lua = [
    `wrk.method = ${JSON.stringify(options.method)}`,
    ...Object.entries(options.headers ?? {}).map(
      ([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`,
    ),
    ...(options.body ? [`wrk.body = ${luaString(options.body)}`] : []),
  ].join('\n');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-wrk-'));
  const script = path.join(dir, 'request.lua');
  await fs.writeFile(script, lua);
  try {
    const { stdout } = await run(
      'wrk',
      ['-t1', `-c${options.connections}`, `-d${options.seconds}s`, '--latency', '-s', script, url],
      { timeout: (options.seconds + 30) * 1000 },
    );
    const number = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? NaN);
    const ms = (re: RegExp) => {
      const m = re.exec(stdout);
      if (!m) return NaN;
      const value = Number(m[1]);
      return m[2] === 's' ? value * 1000 : m[2] === 'us' ? value / 1000 : value;
    };
    return {
      rps: number(/Requests\/sec:\s+([\d.]+)/),
      p50: ms(/ 50%\s+([\d.]+)(us|ms|s)/),
      p99: ms(/ 99%\s+([\d.]+)(us|ms|s)/),
      requests: number(/(\d+) requests in/),
      non2xx: number(/Non-2xx or 3xx responses: (\d+)/) || 0,
    };
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** A Lua long string that cannot be closed by the body's own text. */
function luaString(text: string): string {
  let level = '';
  while (text.includes(`]${level}]`)) level += '=';
  return `[${level}[${text}]${level}]`;
}
