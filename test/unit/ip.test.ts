// Allow-list entries: normalised once when stored, matched against request addresses.
import { describe, expect, it } from 'vitest';
import { ipAllowed, normaliseCidr } from '../../src/auth/ip.js';

describe('normaliseCidr', () => {
  it('keeps blocks, widens bare addresses and refuses garbage', () => {
    expect(normaliseCidr('10.0.0.0/8')).toBe('10.0.0.0/8');
    expect(normaliseCidr('203.0.113.7')).toBe('203.0.113.7/32');
    expect(normaliseCidr('2001:db8::/32')).toBe('2001:db8::/32');
    expect(normaliseCidr('2001:db8::1')).toBe('2001:db8::1/128');
    for (const bad of ['', 'x', '10.0.0.0/33', '300.1.1.1', '::/129']) expect(normaliseCidr(bad), bad).toBeNull();
  });

  it('turns IPv4-mapped entries into the IPv4 blocks they mean', () => {
    expect(normaliseCidr('::ffff:10.0.0.1')).toBe('10.0.0.1/32');
    expect(normaliseCidr('::ffff:10.0.0.0/104')).toBe('10.0.0.0/8');
    expect(normaliseCidr('::ffff:0:0/96')).toBe('0.0.0.0/0');
  });
});

describe('ipAllowed', () => {
  it('matches IPv4 peers however the socket reports them, and nothing outside', () => {
    const list = [normaliseCidr('::ffff:10.0.0.0/104')!, normaliseCidr('2001:db8::/32')!];
    expect(ipAllowed('10.1.2.3', list)).toBe(true);
    expect(ipAllowed('::ffff:10.1.2.3', list)).toBe(true);
    expect(ipAllowed('2001:db8::5', list)).toBe(true);
    expect(ipAllowed('11.1.2.3', list)).toBe(false);
    expect(ipAllowed('2001:db9::5', list)).toBe(false);
    expect(ipAllowed('not an address', list)).toBe(false);
    expect(ipAllowed('10.1.2.3', [])).toBe(false);
  });
});
