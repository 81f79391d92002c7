// GraphQL-over-HTTP conformance: the `graphql-http` package's server audits against our
// /graphql, in-process, each as its own test. Every request carries a valid API key (the
// audits know nothing of authentication; without one every request is a 401 by design).
// Every audit has to pass: MUST, SHOULD and MAY.
import { beforeAll, describe, expect, it } from 'vitest';
import { serverAudits } from 'graphql-http';
import { useHarness } from './helpers/app.js';

const h = useHarness();
let key = '';

beforeAll(async () => {
  if (!h.ready) return;
  key = (await h.newPartner('Conformance')).key;
});

const audits = serverAudits({
  url: 'http://gateway.test/graphql',
  fetchFn: async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    request.headers.set('authorization', `Bearer ${key}`);
    return h.app.fetch(request, { ip: '127.0.0.1' });
  },
});

describe('GraphQL over HTTP (graphql-http server audits)', () => {
  it('covers every requirement level', () => {
    const levels = new Set(audits.map((a) => a.name.split(' ')[0]));
    expect([...levels].sort()).toEqual(['MAY', 'MUST', 'SHOULD']);
    expect(audits.length).toBeGreaterThan(50);
  });

  for (const audit of audits) {
    it(`${audit.id} ${audit.name}`, async () => {
      const result = await audit.fn();
      const reason = result.status === 'ok' ? '' : `${result.reason} (HTTP ${result.response.status})`;
      expect(result.status, reason).toBe('ok');
    });
  }
});

describe('beyond the audits (documented in the README)', () => {
  it('refuses a request without credentials with 401 UNAUTHENTICATED', async () => {
    const response = await h.request('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(response.status).toBe(401);
    expect(((await response.json()) as any).errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it('refuses a mutation over GET with 405', async () => {
    const response = await h.request(`/graphql?query=${encodeURIComponent('mutation { __typename }')}`, {
      token: key,
      headers: { accept: 'application/graphql-response+json' },
    });
    expect(response.status).toBe(405);
  });
});
