// IP allow-lists: CIDR parsing and matching (ipaddr.js), IPv4-mapped IPv6 included.
import ipaddr from 'ipaddr.js';

/**
 * Normalises "10.0.0.0/8", "2001:db8::/32" or a bare address (as a /32 or /128); null if
 * invalid. An IPv4-mapped block ("::ffff:10.0.0.0/104") becomes the IPv4 block it means,
 * since request addresses are compared in that form.
 */
export function normaliseCidr(value: string): string | null {
  // "10.5/8" or "167772165" would be read as 10.0.0.5: only plainly written addresses.
  if (!canonicalAddress(value.split('/')[0]!)) return null;
  try {
    let [addr, bits] = value.includes('/') ? ipaddr.parseCIDR(value) : [ipaddr.parse(value), -1];
    if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && (bits < 0 || bits >= 96)) {
      addr = (addr as ipaddr.IPv6).toIPv4Address();
      if (bits >= 0) bits -= 96;
    }
    if (bits < 0) bits = addr.kind() === 'ipv4' ? 32 : 128;
    return `${addr.toString()}/${bits}`;
  } catch {
    return null;
  }
}

/**
 * An address as a proxy writes one, in its plain form: a dotted-quad IPv4 address (four
 * decimal parts, no leading zeros) or an IPv6 address (an embedded IPv4 part dotted-quad
 * too; IPv4-mapped ones become the IPv4 address). Null for anything else, notably the
 * shorthands that inet_aton and ipaddr.parse read as IPv4 ("10.5", "167772165", "0x0a.0.0.1",
 * "010.0.0.1"), a port ("1.2.3.4:80") or brackets.
 */
export function canonicalAddress(value: string): string | null {
  const v = value.trim();
  if (ipaddr.IPv4.isValidFourPartDecimal(v)) return v;
  if (!ipaddr.IPv6.isValid(v)) return null;
  const tail = v.split('%')[0]!.split(':').at(-1)!;
  if (tail.includes('.') && !ipaddr.IPv4.isValidFourPartDecimal(tail)) return null;
  const addr = ipaddr.IPv6.parse(v);
  return addr.isIPv4MappedAddress() ? addr.toIPv4Address().toString() : addr.toString();
}

function parseAddress(ip: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  // "::ffff:10.1.2.3" (how Node reports IPv4 peers on a dual-stack socket) comes back as IPv4.
  const canonical = canonicalAddress(ip);
  return canonical ? ipaddr.parse(canonical) : null;
}

export function ipAllowed(ip: string, cidrs: readonly string[]): boolean {
  const addr = parseAddress(ip);
  if (!addr) return false;
  return cidrs.some((cidr) => {
    try {
      const [range, bits] = ipaddr.parseCIDR(cidr);
      return addr.kind() === range.kind() && addr.match(range, bits);
    } catch {
      return false;
    }
  });
}
