// IP allow-lists: CIDR parsing and matching (ipaddr.js), IPv4-mapped IPv6 included.
import ipaddr from 'ipaddr.js';

/** Normalises "10.0.0.0/8", "2001:db8::/32" or a bare address (as a /32 or /128); null if invalid. */
export function normaliseCidr(value: string): string | null {
  try {
    if (value.includes('/')) {
      const [addr, bits] = ipaddr.parseCIDR(value);
      return `${addr.toString()}/${bits}`;
    }
    const addr = ipaddr.parse(value);
    return `${addr.toString()}/${addr.kind() === 'ipv4' ? 32 : 128}`;
  } catch {
    return null;
  }
}

function parseAddress(ip: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  try {
    const addr = ipaddr.parse(ip.trim());
    // "::ffff:10.1.2.3" is how Node reports IPv4 peers on a dual-stack socket.
    return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr;
  } catch {
    return null;
  }
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
