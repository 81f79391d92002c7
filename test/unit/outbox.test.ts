// The outbox's retry schedule (src/modules/outbox/service.ts retryDelay): exponential with full
// jitter between half and all of the ceiling, the ceiling doubling per attempt up to the
// maximum, and never earlier than the backend's Retry-After.
import { describe, expect, it } from 'vitest';
import { DEFAULT_DELIVERY, describe as describeCall, retryDelay } from '../../src/modules/outbox/service.js';

const options = { ...DEFAULT_DELIVERY, baseDelayMs: 1000, maxDelayMs: 8000 };

describe('outbox retry delay', () => {
  it('doubles per attempt up to the maximum, jittered between half and all of it', () => {
    expect([1, 2, 3, 4, 5, 9].map((n) => retryDelay(options, n, null, () => 1))).toEqual([
      1000, 2000, 4000, 8000, 8000, 8000,
    ]);
    expect([1, 2, 3, 4].map((n) => retryDelay(options, n, null, () => 0))).toEqual([500, 1000, 2000, 4000]);
  });

  it("never comes before the backend's Retry-After", () => {
    const delay = retryDelay(options, 1, new Date(Date.now() + 60_000), () => 0);
    expect(delay).toBeGreaterThan(59_000);
    expect(delay).toBeLessThanOrEqual(60_000);
    // A Retry-After already past does not hold it back.
    expect(retryDelay(options, 1, new Date(Date.now() - 5000), () => 0)).toBe(500);
  });

  it('names each call as its source API does, for lastError and the audit', () => {
    expect(describeCall({ op: 'catalog.deleteUser', nativeId: '42' })).toBe('DELETE /api/v1/users/42');
    expect(describeCall({ op: 'embed.deleteUser', identifier: 'u-1', action: 'reallocate', reallocateTo: 'u-2' })).toBe(
      'DELETE /v1/headless/user/u-1?action=reallocate&reallocateTo=u-2',
    );
    expect(describeCall({ op: 'learning.disableAccount', nativeId: 'abc' })).toBe('DELETE /accounts/abc');
  });
});
