// The test run's child servers start from one bundle of src/server.ts, built once per run by
// the global setup (test/helpers/templates.ts), instead of through tsx: a child then compiles
// nothing, and no loader thread of tsx's resolves its imports. Measured: a start imports the
// app in 1.9 s and 1.8 s of CPU instead of 3.0 s and 3.3 s, and a run starts about fifteen
// child servers. The bundle is the same sources compiled by the same esbuild as tsx's; the
// packages stay outside it (loaded from node_modules as ever), which is why it is written
// inside the checkout; and `npm start` itself (test/demo-upstream.test.ts) and the CLI's
// entry (bin/account-gateway.mjs) are still run as users run them.
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * A module that finds a file beside itself (the migrations, GraphiQL's sign-in script) keeps
 * finding it there: its `import.meta.url` is its own source file's, not the bundle's.
 */
const sourceLocations: Plugin = {
  name: 'source-import-meta-url',
  setup(esbuild) {
    esbuild.onLoad({ filter: /\/src\/.*\.ts$/ }, async (args) => {
      const source = await fs.readFile(args.path, 'utf8');
      return {
        contents: source.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)),
        loader: 'ts',
      };
    });
  },
};

/** Builds the bundle into a directory of its own under node_modules/.cache; its path and removal. */
export async function buildServerBundle(): Promise<{ file: string; remove(): Promise<void> }> {
  const cache = path.join(ROOT, 'node_modules', '.cache', 'account-gateway');
  await fs.mkdir(cache, { recursive: true });
  const dir = await fs.mkdtemp(path.join(cache, 'server-'));
  const file = path.join(dir, 'server.mjs');
  await build({
    entryPoints: [path.join(ROOT, 'src', 'server.ts')],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
    plugins: [sourceLocations],
  });
  return { file, remove: () => fs.rm(dir, { recursive: true, force: true }) };
}
