// The pass-through proxy's Link/Location rewriting (src/dialects/proxy.ts): targets under the
// backend's baseUrl point at the same place below the gateway's prefix; everything else stays.
import { describe, expect, it } from 'vitest';
import { rewriteTargets } from '../../src/dialects/proxy.js';

const upstream = new URL('http://backend.test:8080/api/catalog/api/v1/users?page=1&per_page=2');
const base = new URL('http://backend.test:8080/api/catalog');
const gateway = new URL('https://gateway.test/rest/catalog/api/v1/users?page=1');
const rewrite = (value: string) => rewriteTargets(value, upstream, base, gateway, '/rest/catalog');

describe('rewriteTargets', () => {
  it('rewrites every absolute target under the baseUrl, keeping query, rel and order', () => {
    expect(
      rewrite(
        '<http://backend.test:8080/api/catalog/api/v1/users?page=2&per_page=2>; rel="next", ' +
          '<http://backend.test:8080/api/catalog/api/v1/users?page=9&per_page=2>; rel="last"',
      ),
    ).toBe(
      '<https://gateway.test/rest/catalog/api/v1/users?page=2&per_page=2>; rel="next", ' +
        '<https://gateway.test/rest/catalog/api/v1/users?page=9&per_page=2>; rel="last"',
    );
  });

  it('keeps a path-absolute reference path-absolute, and resolves a relative one against the request', () => {
    expect(rewrite('</api/catalog/accounts>; rel="alternate"')).toBe('</rest/catalog/accounts>; rel="alternate"');
    expect(rewrite('<users?page=3>; rel="next"')).toBe('</rest/catalog/api/v1/users?page=3>; rel="next"');
  });

  it(`leaves targets elsewhere alone: another origin, another port, a path outside the baseUrl, \
a prefix look-alike`, () => {
    for (const value of [
      '<https://docs.example.com/api>; rel="help"',
      '<http://backend.test:9090/api/catalog/x>; rel="next"',
      '<http://backend.test:8080/other/x>; rel="next"',
      '<http://backend.test:8080/api/catalogue/x>; rel="next"',
    ])
      expect(rewrite(value)).toBe(value);
  });

  it('rewrites a bare Location value', () => {
    expect(rewrite('http://backend.test:8080/api/catalog/api/v1/users/7')).toBe(
      'https://gateway.test/rest/catalog/api/v1/users/7',
    );
  });
});
