// Three projects: store-independent unit tests, and the integration suite twice, on the
// embedded store (PGlite) and on PostgreSQL (required when CI=true; skipped with a notice
// when no server answers on a developer machine).
import { defineConfig } from 'vitest/config';

const integration = ['test/**/*.test.ts'];
const unit = ['test/unit/**/*.test.ts'];

export default defineConfig({
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
