// Allow-list entries: normalised once when stored, matched against request addresses.
import { describe, expect, it } from 'vitest';
import { canonicalAddress, ipAllowed, normaliseCidr } from '../../src/auth/ip.js';

describe('normaliseCidr', () => {
  it('keeps blocks, widens bare addresses and refuses garbage', () => {
    expect(normaliseCidr('10.0.0.0/8')).toBe('10.0.0.0/8');
    expect(normaliseCidr('203.0.113.7')).toBe('203.0.113.7/32');
    expect(normaliseCidr('2001:db8::/32')).toBe('2001:db8::/32');
    expect(normaliseCidr('2001:db8::1')).toBe('2001:db8::1/128');
    for (const bad of ['', 'x', '10.0.0.0/33', '300.1.1.1', '::/129']) expect(normaliseCidr(bad), bad).toBeNull();
    // Shorthands that would silently mean another block.
    for (const bad of ['10.5', '10.5/8', '167772165', '0x0a.0.0.0/8', '010.0.0.0/8', '::ffff:10.5/104'])
      expect(normaliseCidr(bad), bad).toBeNull();
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

describe('canonicalAddress', () => {
  it('takes dotted-quad IPv4 and IPv6, IPv4-mapped ones as IPv4', () => {
    expect(canonicalAddress('203.0.113.7')).toBe('203.0.113.7');
    expect(canonicalAddress(' 203.0.113.7 ')).toBe('203.0.113.7');
    expect(canonicalAddress('0.0.0.0')).toBe('0.0.0.0');
    expect(canonicalAddress('255.255.255.255')).toBe('255.255.255.255');
    expect(canonicalAddress('2001:DB8:0:0::1')).toBe('2001:db8::1');
    expect(canonicalAddress('::1')).toBe('::1');
    expect(canonicalAddress('::ffff:10.0.0.5')).toBe('10.0.0.5');
    expect(canonicalAddress('::ffff:a00:5')).toBe('10.0.0.5');
  });

  it('refuses what inet_aton would read some other way, ports, brackets and garbage', () => {
    const bad = [
      '10.5',
      '10.0.5',
      '167772165',
      '0x0a.0.0.1',
      '0x0a000001',
      '010.0.0.1',
      '10.0.0.01',
      '1.2.3.4.5',
      '256.1.1.1',
      '1.2.3.4:80',
      '[::1]',
      '[::1]:443',
      '::ffff:10.5',
      '::ffff:010.0.0.5',
      '1::2::3',
      '',
      ' ',
      'unknown',
      '10.0.0.1/32',
    ];
    for (const value of bad) expect(canonicalAddress(value), value).toBeNull();
  });

  it('makes ipAllowed refuse shorthand addresses that would fall inside a list', () => {
    expect(ipAllowed('10.0.0.5', ['10.0.0.0/24'])).toBe(true);
    expect(ipAllowed('10.5', ['10.0.0.0/24'])).toBe(false);
    expect(ipAllowed('167772165', ['10.0.0.0/24'])).toBe(false);
  });
});
