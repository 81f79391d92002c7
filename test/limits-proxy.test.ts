// With TRUST_PROXY the caller's address is the last X-Forwarded-For entry, the one the
// trusted proxy appended; what the caller put before it is not believed.
import { beforeAll, expect, it } from 'vitest';
import { useHarness, type Partner } from './helpers/app.js';
import { mutate } from './helpers/fixtures.js';

const h = useHarness({ TRUST_PROXY: 'true' });
let partner: Partner;

beforeAll(async () => {
  if (!h.ready) return;
  partner = await h.newPartner('Proxy');
  await mutate(h, partner.key, 'updateAccount', {
    id: partner.accountGlobalId,
    requireIpGqlAccess: true,
    allowedIps: ['203.0.113.0/24'],
  });
});

it('believes X-Forwarded-For behind a trusted proxy', async () => {
  const via = (xff?: string) =>
    h.gql(
      `{ viewer { isAdmin } }`,
      {},
      { token: partner.key, ip: '10.0.0.1', headers: xff ? { 'x-forwarded-for': xff } : {} },
    );
  expect((await via('203.0.113.7')).status).toBe(200);
  expect((await via('198.51.100.9, 203.0.113.7')).status).toBe(200);
  expect((await via('198.51.100.1')).status).toBe(403);
  // A caller outside the list that writes an allowed address itself: the proxy appends the real one.
  expect((await via('203.0.113.7, 198.51.100.1')).status).toBe(403);
  expect((await via()).status).toBe(403);
});
