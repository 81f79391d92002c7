// OUTBOX_LEASE_SECONDS (src/config.ts): how long an outbox attempt holds its entry before
// another worker may take it over. Seconds, 2–3600, longer than one backend request; a bad
// value stops the process with a message naming the variable.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

const lease = (env: Record<string, string>) => loadConfig({ SEED_DEMO: 'false', ...env }).outbox.leaseMs;
const refusal = (env: Record<string, string>) => {
  try {
    loadConfig({ SEED_DEMO: 'false', ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(env)}`);
};

describe('OUTBOX_LEASE_SECONDS', () => {
  it('defaults to 120 s and takes whole seconds in milliseconds', () => {
    expect(lease({})).toBe(120_000);
    expect(lease({ OUTBOX_LEASE_SECONDS: '' })).toBe(120_000);
    expect(lease({ OUTBOX_LEASE_SECONDS: '3', BACKEND_TIMEOUT_MS: '2000' })).toBe(3000);
    expect(lease({ OUTBOX_LEASE_SECONDS: '3600' })).toBe(3_600_000);
  });

  it('refuses what is not a whole number of seconds in 2–3600, naming the variable', () => {
    for (const bad of ['abc', '1', '0', '-5', '2.5', '3601']) {
      expect(refusal({ OUTBOX_LEASE_SECONDS: bad, BACKEND_TIMEOUT_MS: '1000' })).toMatch(
        /^ {2}OUTBOX_LEASE_SECONDS: /m,
      );
    }
  });

  it('refuses a lease no longer than one backend request: a live attempt would lose its claim', () => {
    // The default request deadline is 10 s.
    const message = refusal({ OUTBOX_LEASE_SECONDS: '10' });
    expect(message).toContain('OUTBOX_LEASE_SECONDS: must be longer than one backend request');
    expect(message).toContain('BACKEND_TIMEOUT_MS is 10000 ms');
    expect(lease({ OUTBOX_LEASE_SECONDS: '11' })).toBe(11_000);
    expect(refusal({ OUTBOX_LEASE_SECONDS: '5', BACKEND_TIMEOUT_MS: '5000' })).toContain(
      'BACKEND_TIMEOUT_MS is 5000 ms',
    );
  });
});

describe('BACKEND_RETRIES and BACKEND_BACKOFF_MS', () => {
  const backends = (env: Record<string, string>) => loadConfig({ SEED_DEMO: 'false', ...env }).backends;

  it('default to 5 retries after a first wait of 200 ms, and take whole numbers in range', () => {
    expect(backends({})).toMatchObject({ retries: 5, backoffMs: 200 });
    expect(backends({ BACKEND_RETRIES: '0', BACKEND_BACKOFF_MS: '10000' })).toMatchObject({
      retries: 0,
      backoffMs: 10_000,
    });
  });

  it.each([
    ['BACKEND_RETRIES', '11'],
    ['BACKEND_RETRIES', '-1'],
    ['BACKEND_RETRIES', '1.5'],
    ['BACKEND_BACKOFF_MS', '0'],
    ['BACKEND_BACKOFF_MS', '10001'],
    ['BACKEND_BACKOFF_MS', 'soon'],
  ])('refuses %s=%s, naming it', (name, value) => {
    expect(refusal({ [name]: value })).toContain(name);
  });
});
