// Three projects: store-independent unit tests, and the integration suite twice, on the
// embedded store (PGlite) and on PostgreSQL (required when CI=true; skipped with a notice
// when no server answers on a developer machine).
import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const integration = ['test/**/*.test.ts'];
const unit = ['test/unit/**/*.test.ts'];

export default defineConfig({
  // graphql ships CJS (main) and ESM (module) builds. Node, and so the server and every
  // dependency, loads the CJS one; vite would hand our sources the ESM one, and graphql's
  // instanceof checks fail across the two. One instance, as in production:
  resolve: { alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }] },
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'unit', include: unit } },
      { extends: true, test: { name: 'pglite', include: integration, exclude: unit, env: { TEST_STORE: 'pglite' } } },
      { extends: true, test: { name: 'postgres', include: integration, exclude: unit, env: { TEST_STORE: 'postgres' } } },
    ],
  },
});
