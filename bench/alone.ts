// What the bench's separately runnable parts (`--only sync`, `--only writes`) share: the files
// they write laid out as the tree's formatter wants (npm run lint checks BENCHMARKS.md and the
// JSON too), and running as a script of its own with the exit code its targets give.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { TargetResult } from './report.js';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Formats the written files (paths from the repository's root) with Biome. */
export function formatWritten(files: string[], log: (line: string) => void): void {
  const formatted = spawnSync('npx', ['biome', 'format', '--write', ...files], { cwd: root, stdio: 'ignore' });
  if (formatted.status !== 0) log('biome format did not run: format BENCHMARKS.md before committing it');
}

/** Runs `run` when `moduleUrl` is the script node was started with: exit 0 when no target failed. */
export function runWhenMain(moduleUrl: string, run: (argv: string[]) => Promise<{ targets: TargetResult[] }>): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(path.resolve(process.argv[1])).href) return;
  run(process.argv.slice(2)).then(
    (report) => process.exit(report.targets.every((t) => t.pass !== false) ? 0 : 1),
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}

/**
 * The migrated PGlite dump (BENCH_STANDIN_DUMP, a file) the stand-in upstreams start from
 * instead of migrating an empty store: test/bench-smoke.test.ts hands them the test run's
 * template. Unset (npm run bench), they migrate their own.
 */
export async function standInDump(): Promise<Blob | undefined> {
  const file = process.env.BENCH_STANDIN_DUMP;
  return file ? new Blob([await fs.readFile(file)]) : undefined;
}
