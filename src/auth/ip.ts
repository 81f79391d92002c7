// IP allow-lists: CIDR parsing and matching (ipaddr.js), IPv4-mapped IPv6 included.
import ipaddr from 'ipaddr.js';

/**
 * Normalises "10.0.0.0/8", "2001:db8::/32" or a bare address (as a /32 or /128); null if
 * invalid. An IPv4-mapped block ("::ffff:10.0.0.0/104") becomes the IPv4 block it means,
 * since request addresses are compared in that form.
 */
export function normaliseCidr(value: string): string | null {
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
