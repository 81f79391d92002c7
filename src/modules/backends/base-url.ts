// Where a backend may live. The gateway sends a partner's stored credential to this URL and
// reads what comes back into the store, so a baseUrl must not turn it into a tool against
// itself or its host: not the gateway's own listener, not link-local or cloud-metadata
// addresses, and (when the operator says so) only the hosts of BACKEND_ALLOWED_HOSTS.
// Loopback and private networks stay allowed: partners' systems and test stand-ins live there.
// Host names are checked as written; the address a name resolves to is the connectors' to
// check when they connect (a name can resolve elsewhere later).
import os from 'node:os';
import ipaddr from 'ipaddr.js';
import type { Config } from '../../config.js';

export const MAX_BASE_URL = 2048;

// Link-local (169.254.0.0/16 carries the cloud metadata services), "this network" and the
// unspecified addresses, broadcast and multicast; fd00::/8 carries IPv6 metadata services
// (fd00:ec2::254).
const REFUSED_RANGES = [
  '169.254.0.0/16',
  '0.0.0.0/8',
  '255.255.255.255/32',
  '224.0.0.0/4',
  'fe80::/10',
  'fd00::/8',
  '::/128',
  'ff00::/8',
].map((cidr) => ipaddr.parseCIDR(cidr));
// Metadata services also answer by name inside their clouds.
const REFUSED_NAMES = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
]);

/** The normalised URL (no trailing slash), or why it is refused; never echoes the URL itself. */
export function checkBaseUrl(
  raw: string,
  config: Pick<Config, 'host' | 'port' | 'backends'>,
): { url: string } | { problem: string } {
  if (raw.length > MAX_BASE_URL) return { problem: `must be at most ${MAX_BASE_URL} characters` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { problem: 'must be an absolute http:// or https:// URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { problem: 'must use http or https' };
  // The credential has its own write-only field; in a URL it would be stored and shown in clear.
  if (url.username || url.password)
    return { problem: 'must not carry credentials (user:password@); give the credential in its own field' };
  if (url.search || url.hash || raw.includes('#')) return { problem: 'must not have a query or a fragment' };
  const host = bareHost(url.hostname);
  if (!host) return { problem: 'must name a host' };
  const allowed = config.backends.allowedHosts;
  if (allowed.length && !allowed.includes(host))
    return { problem: `host ${host} is not among the hosts this gateway may reach (BACKEND_ALLOWED_HOSTS)` };
  if (REFUSED_NAMES.has(host)) return { problem: 'must not point at a cloud metadata service' };
  const address = ipAddress(host);
  if (address && REFUSED_RANGES.some((range) => address.kind() === range[0].kind() && address.match(range))) {
    return { problem: 'must not point at a link-local, metadata, unspecified, broadcast or multicast address' };
  }
  if (isSelf(host, effectivePort(url), config)) return { problem: 'must not point at this gateway itself' };
  const path = url.pathname.replace(/\/+$/, '');
  return { url: `${url.origin}${path}` };
}

/**
 * Is this resolved address one a backend must not be reached at (link-local, metadata,
 * unspecified, broadcast, multicast)? The connectors ask it of every address a host name
 * resolves to as they connect, since a name can resolve elsewhere than it did when checked.
 */
export function isRefusedAddress(raw: string): boolean {
  const address = ipAddress(bareHost(raw));
  return address !== null && REFUSED_RANGES.some((range) => address.kind() === range[0].kind() && address.match(range));
}

/** Lower case, without IPv6 brackets or a final dot (`example.com.` is `example.com`). */
function bareHost(hostname: string): string {
  return hostname
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '')
    .toLowerCase();
}

/** An IP literal (IPv4-mapped IPv6 as the IPv4 address it means), else null. */
function ipAddress(host: string): ipaddr.IPv4 | ipaddr.IPv6 | null {
  return ipaddr.isValid(host) ? ipaddr.process(host) : null;
}

function effectivePort(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

const isLocalName = (host: string) => host === 'localhost' || host.endsWith('.localhost');

/**
 * Does host:port reach this gateway's own listener (HOST:PORT)? A gateway syncing from itself
 * would read its own replica as a backend's truth, and proxy its writes to itself in a loop.
 */
function isSelf(host: string, port: number, config: Pick<Config, 'host' | 'port'>): boolean {
  if (port !== config.port) return false;
  const own = bareHost(config.host);
  if (host === own) return true;
  const ownAddress = ipAddress(own);
  const address = ipAddress(host);
  const loopback = isLocalName(host) || address?.range() === 'loopback';
  // A listener on the unspecified address answers on every interface of the machine.
  if (ownAddress?.range() === 'unspecified')
    return loopback || (address !== null && localAddresses().has(address.toString()));
  const ownLoopback = isLocalName(own) || ownAddress?.range() === 'loopback';
  return ownLoopback && loopback;
}

function localAddresses(): Set<string> {
  const found = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) {
    for (const entry of list ?? [])
      if (ipaddr.isValid(entry.address)) found.add(ipaddr.process(entry.address).toString());
  }
  return found;
}
