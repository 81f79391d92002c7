// The sync runner's read-ahead (src/modules/sync/runner.ts readAhead): the next page is asked
// for while the current one is stored, in the same order and one request at a time; a failing
// page surfaces after the page before it was handed over; stopping early ends the read.
import { describe, expect, it } from 'vitest';
import { readAhead } from '../../src/modules/sync/runner.js';

/** A source of `n` pages that logs each request and each hand-over; `failAt` rejects that page. */
function source(n: number, log: string[], failAt?: number) {
  let returned = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  async function* pages() {
    try {
      for (let i = 1; i <= n; i++) {
        log.push(`request ${i}`);
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((resolve) => setImmediate(resolve));
        inFlight--;
        if (i === failAt) throw new Error(`page ${i} failed`);
        yield i;
      }
    } finally {
      returned++;
    }
  }
  return { pages: pages(), stats: () => ({ returned, maxInFlight }) };
}

describe('readAhead', () => {
  it('asks for the next page before the current one is stored, in order, one request at a time', async () => {
    const log: string[] = [];
    const { pages, stats } = source(4, log);
    const seen: number[] = [];
    for await (const page of readAhead(pages)) {
      // The caller "stores" the page: by now the next one has been asked for.
      await new Promise((resolve) => setImmediate(resolve));
      log.push(`store ${page}`);
      seen.push(page);
    }
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(log).toEqual([
      'request 1',
      'request 2',
      'store 1',
      'request 3',
      'store 2',
      'request 4',
      'store 3',
      'store 4',
    ]);
    expect(log.filter((l) => l.startsWith('request'))).toHaveLength(4);
    expect(stats()).toEqual({ returned: 1, maxInFlight: 1 });
  });

  it('hands over the page before a failing one, then throws the failure', async () => {
    const log: string[] = [];
    const { pages } = source(5, log, 3);
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const page of readAhead(pages)) seen.push(page);
      })(),
    ).rejects.toThrow('page 3 failed');
    expect(seen).toEqual([1, 2]);
    expect(log.filter((l) => l.startsWith('request'))).toHaveLength(3);
  });

  it('ends the read when the caller stops early, with at most the one page read ahead', async () => {
    const log: string[] = [];
    const { pages, stats } = source(10, log);
    for await (const page of readAhead(pages)) {
      if (page === 2) break;
    }
    // Pages 1 and 2 handed over, page 3 read ahead, nothing after it.
    expect(log).toEqual(['request 1', 'request 2', 'request 3']);
    expect(stats().returned).toBe(1);
  });
});
