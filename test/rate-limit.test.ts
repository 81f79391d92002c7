// Rate limits per credential: in memory, and shared by replicas through Redis.
import { beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { useHarness, type Partner } from './helpers/app.js';
import { viewerBatch } from './helpers/fixtures.js';
import { createRateLimiter } from '../src/auth/limits.js';
import { loadConfig } from '../src/config.js';

const h = useHarness({ RATE_LIMIT_PER_MINUTE: '5' });
let a: Partner;
let b: Partner;

beforeAll(async () => {
  if (!h.ready) return;
  a = await h.newPartner('Rate A');
  b = await h.newPartner('Rate B');
});

describe('per credential', () => {
  it('answers 429 with Retry-After past the limit, for that credential only', async () => {
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await h.gql(`{ viewer { isAdmin } }`, {}, { token: a.key })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const limited = await h.gql(`{ viewer { isAdmin } }`, {}, { token: a.key });
    expect(limited.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await h.gql(`{ viewer { isAdmin } }`, {}, { token: b.key })).status).toBe(200);
  });

  it('counts every operation of a batch, so batching does not multiply the budget', async () => {
    const c = await h.newPartner('Rate C');
    const batch = (n: number) => viewerBatch(h, c.key, n);
    expect((await batch(4)).status).toBe(200); // 4 of 5
    const over = await batch(2); // the request is the 5th, its second operation the 6th
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(JSON.stringify(await over.json())).toMatch(/RATE_LIMITED/);
    expect((await h.gql(`{ viewer { isAdmin } }`, {}, { token: c.key })).status).toBe(429);
  });

  it('limits guessing without a valid credential by address', async () => {
    const statuses = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await h.gql(`{ viewer { isAdmin } }`, {}, { token: `agk_guess${i}`, ip: '198.51.100.9' })).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
  });
});

describe('shared through Redis', () => {
  it('two replicas count against one budget', async (context) => {
    const url = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 1000 });
    const up = await probe.connect().then(
      () => true,
      () => false,
    );
    probe.disconnect();
    if (!up) {
      if (process.env.CI === 'true') throw new Error(`Redis is required in CI but ${url} does not answer`);
      console.warn(`[tests] Redis at ${url} does not answer: skipping the shared rate-limit test`);
      return context.skip();
    }
    const config = loadConfig({ REDIS_URL: url, RATE_LIMIT_PER_MINUTE: '4' });
    const [one, two] = [createRateLimiter(config), createRateLimiter(config)];
    const key = `test:${Date.now()}:${Math.random()}`;
    const results: string[] = [];
    for (const limiter of [one, two, one, two, one]) {
      results.push(
        await limiter.consume(key).then(
          () => 'ok',
          (e) => e.name,
        ),
      );
    }
    expect(results).toEqual(['ok', 'ok', 'ok', 'ok', 'RateLimitedError']);
    await one.close();
    await two.close();
  });
});
