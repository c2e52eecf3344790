/**
 * Which client a request comes from, for the rate limiter: pure functions over the peer address and
 * `X-Forwarded-For`.
 *
 * - The key is the TCP peer's address. `X-Forwarded-For` is read only when the peer is one of the
 *   configured trusted proxies: then the client is the rightmost address in the header that is not a
 *   trusted proxy itself (the leftmost entries are whatever the client sent and cannot be believed).
 * - An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`) is its IPv4 address.
 * - An IPv6 address is keyed by its prefix (/64 by default): one host gets a whole /64 from its provider,
 *   so keying single IPv6 addresses would give one client billions of budgets.
 */
import { BlockList, isIP } from 'node:net';

/** The trusted proxies, parsed once. */
export interface TrustedProxies {
  readonly list: BlockList;
  readonly empty: boolean;
}

/**
 * Checks one `trustedproxies` entry: an address (`10.0.0.1`, `fd00::1`) or a CIDR block (`10.0.0.0/8`,
 * `fd00::/8`). Returns an error message, or undefined when it is valid.
 */
export function checkProxyEntry(entry: string): string | undefined {
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return `${JSON.stringify(entry.slice(0, 100))} is not an IP address or CIDR block`;
  if (slash === -1) return undefined;
  const bits = entry.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `${JSON.stringify(entry.slice(0, 100))}: the prefix length must be 0 to ${max}`;
  return undefined;
}

/** Builds the trusted proxy list from entries checkProxyEntry accepted (throws on others). */
export function trustedProxies(entries: readonly string[]): TrustedProxies {
  const list = new BlockList();
  for (const entry of entries) {
    const problem = checkProxyEntry(entry);
    if (problem !== undefined) throw new RangeError(problem);
    const slash = entry.indexOf('/');
    const address = unmapIpv4(slash === -1 ? entry : entry.slice(0, slash));
    const family = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (slash === -1) list.addAddress(address, family);
    else list.addSubnet(address, Number(entry.slice(slash + 1)), family);
  }
  return { list, empty: entries.length === 0 };
}

/** `::ffff:192.0.2.1` → `192.0.2.1`; anything else unchanged. */
function unmapIpv4(address: string): string {
  return address.length > 7 && address.slice(0, 7).toLowerCase() === '::ffff:' && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

function isTrusted(address: string, proxies: TrustedProxies): boolean {
  const family = isIP(address);
  return family !== 0 && proxies.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The client address of a request: the peer, or with a trusted peer the rightmost untrusted address of
 * `forwardedFor` (the `X-Forwarded-For` header; Node joins repeated headers with ", "). Undefined when
 * the peer is unknown (the connection is gone).
 */
export function clientAddress(peer: string | undefined, forwardedFor: string | string[] | undefined, proxies: TrustedProxies): string | undefined {
  if (peer === undefined) return undefined;
  let client = unmapIpv4(peer);
  if (proxies.empty || forwardedFor === undefined || !isTrusted(client, proxies)) return client;
  const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = unmapIpv4(stripPort((hops[i] ?? '').trim()));
    if (isIP(hop) === 0) break; // not an address: keep the last hop we could read
    client = hop;
    if (!isTrusted(hop, proxies)) break;
  }
  return client;
}

/** `[2001:db8::1]:443` → `2001:db8::1`, `192.0.2.1:80` → `192.0.2.1` (some proxies add the port). */
function stripPort(hop: string): string {
  if (hop.startsWith('[')) {
    const end = hop.indexOf(']');
    return end === -1 ? hop : hop.slice(1, end);
  }
  const colon = hop.indexOf(':');
  return colon !== -1 && colon === hop.lastIndexOf(':') ? hop.slice(0, colon) : hop;
}

/**
 * The rate-limit key of an address: an IPv4 address as it is, an IPv6 address as its first
 * `ipv6PrefixBits` bits (`2001:db8:1:2::/64`); 128 keeps whole IPv6 addresses.
 */
export function addressKey(address: string, ipv6PrefixBits: number): string {
  // Addresses come from the socket or passed isIP in clientAddress: a colon means IPv6.
  if (ipv6PrefixBits >= 128 || address.indexOf(':') === -1) return address;
  const sliced = canonicalPrefix(address, ipv6PrefixBits);
  if (sliced !== undefined) return sliced;
  const needed = Math.ceil(ipv6PrefixBits / 16);
  const groups = leadingGroups(address, needed) ?? ipv6Groups(address);
  if (groups === undefined) return address;
  let key = '';
  let last = 0; // groups written, up to the last non-zero one: the zeros after it become "::"
  const parts: string[] = [];
  for (let i = 0; i < needed; i++) {
    const bits = Math.min(16, ipv6PrefixBits - i * 16);
    const group = (groups[i] ?? 0) & ((0xffff << (16 - bits)) & 0xffff);
    parts.push(group.toString(16));
    if (group !== 0) last = i + 1;
  }
  for (let i = 0; i < last; i++) key += i === 0 ? parts[i] : `:${parts[i] ?? '0'}`;
  return `${key}${last < 8 ? '::' : ''}/${ipv6PrefixBits}`;
}

/**
 * The hot path of addressKey: with a prefix of whole groups written canonically before any "::" (lowercase,
 * no leading zeros: how the socket reports a peer), the key is a slice of the address itself. Undefined
 * when the address needs the general path.
 */
function canonicalPrefix(address: string, bits: number): string | undefined {
  if (bits % 16 !== 0) return undefined;
  let pos = 0;
  let end = 0; // the end of the last non-zero group
  for (let g = 0; g < bits / 16; g++) {
    const start = pos;
    let c = address.charCodeAt(pos);
    while (pos < address.length && c !== 0x3a) {
      if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return undefined;
      c = address.charCodeAt(++pos);
    }
    const length = pos - start;
    if (pos >= address.length || length === 0 || length > 4) return undefined; // the end, "::", or too long
    if (address.charCodeAt(start) === 0x30) {
      if (length > 1) return undefined; // a leading zero
    } else {
      end = pos;
    }
    pos++;
  }
  return `${address.slice(0, end)}::/${bits}`;
}

/** The first `count` groups when they are all written out before any "::" (the usual case), else undefined. */
function leadingGroups(address: string, count: number): number[] | undefined {
  const groups: number[] = [];
  let pos = 0;
  while (groups.length < count) {
    const colon = address.indexOf(':', pos);
    if (colon === -1 || colon === pos || colon - pos > 4) return undefined; // "::", the end, or something odd
    const group = Number.parseInt(address.slice(pos, colon), 16);
    if (Number.isNaN(group)) return undefined;
    groups.push(group);
    pos = colon + 1;
  }
  return groups;
}

/** The eight 16-bit groups of an IPv6 address (a zone `%eth0` is dropped), or undefined. */
function ipv6Groups(address: string): number[] | undefined {
  let text = address;
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  // An embedded IPv4 tail (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) becomes two groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const octets = tail.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${(((octets[0] ?? 0) << 8) | (octets[1] ?? 0)).toString(16)}:${(((octets[2] ?? 0) << 8) | (octets[3] ?? 0)).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string | undefined): number[] => (part === undefined || part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const left = parse(halves[0]);
  const right = halves.length === 2 ? parse(halves[1]) : [];
  const fill = 8 - left.length - right.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) return undefined;
  const groups = [...left, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...right];
  return groups.some((g) => Number.isNaN(g)) ? undefined : groups;
}
