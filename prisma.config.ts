// Prisma CLI configuration. The CLI's migrate commands run through the WebAssembly
// schema engine over a driver adapter (no native engine, no download).
import { defineConfig } from 'prisma/config';
import { PrismaPg } from '@prisma/adapter-pg';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  experimental: { adapter: true },
  engine: 'js',
  async adapter() {
    return new PrismaPg({ connectionString: process.env.DATABASE_URL ?? 'postgres://127.0.0.1:5432/postgres' });
  },
});
