/**
 * Probe targets: host and port ranges from configuration, expanded with a bound, and the
 * allow-list check every probe must pass before it sends anything (DESIGN.md "Network safety").
 * There is no default target and no default allow-list: the caller says both.
 */
import * as net from 'node:net';

/** Decides whether a probe may send a packet to `host` (an IP literal or a name from config). */
export type AllowHost = (host: string) => boolean;

export class TargetSpecError extends Error {
  override name = 'TargetSpecError';
}

/** The default bound on one expansion: a /20 worth of addresses × ports. */
export const DEFAULT_MAX_TARGETS = 4096;

function ipv4ToInt(ip: string): number {
  const parts = ip.split('.').map(Number);
  return (((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!) >>> 0;
}

function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

/**
 * True only for IP literals on the loopback: 127.0.0.0/8, ::1, and ::ffff:127.x.x.x. Names
 * (even `localhost`) are refused: what a name resolves to is not ours to trust here.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (!net.isIPv6(h)) return false;
  const lower = h.toLowerCase();
  const mapped = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (mapped) return net.isIPv4(mapped[1]!) && mapped[1]!.startsWith('127.');
  // ::1 in any spelling: every group zero except a final 1
  const blocks = new net.BlockList();
  blocks.addAddress('::1', 'ipv6');
  return blocks.check(lower, 'ipv6');
}

/**
 * Expands one host spec: an IPv4 or IPv6 literal, a name, an IPv4 range (`10.0.0.1-10.0.0.20`
 * or `10.0.0.1-20`) or an IPv4 CIDR block (`10.0.0.0/28`: network and broadcast left out below /31).
 */
export function expandHosts(spec: string, max = DEFAULT_MAX_TARGETS): string[] {
  const s = spec.trim();
  if (s === '') throw new TargetSpecError('empty host');
  const cidr = /^(\d+\.\d+\.\d+\.\d+)\/(\d{1,2})$/.exec(s);
  if (cidr) {
    const [, base, bitsText] = cidr;
    const bits = Number(bitsText);
    if (!net.isIPv4(base!) || bits < 8 || bits > 32) throw new TargetSpecError(`bad CIDR block "${spec}" (IPv4, /8 to /32)`);
    const size = 2 ** (32 - bits);
    const first = (ipv4ToInt(base!) & (bits === 0 ? 0 : (0xffff_ffff << (32 - bits)) >>> 0)) >>> 0;
    const skipEdges = bits < 31;
    const count = skipEdges ? size - 2 : size;
    if (count > max) throw new TargetSpecError(`"${spec}" holds ${count} addresses, more than the limit of ${max}`);
    const out: string[] = [];
    for (let i = skipEdges ? 1 : 0; i < (skipEdges ? size - 1 : size); i++) out.push(intToIpv4(first + i));
    return out;
  }
  const range = /^(\d+\.\d+\.\d+\.\d+)-(\d+(?:\.\d+\.\d+\.\d+)?)$/.exec(s);
  if (range) {
    const [, from, toText] = range;
    const to = toText!.includes('.') ? toText! : from!.split('.').slice(0, 3).concat(toText!).join('.');
    if (!net.isIPv4(from!) || !net.isIPv4(to)) throw new TargetSpecError(`bad IPv4 range "${spec}"`);
    const a = ipv4ToInt(from!);
    const b = ipv4ToInt(to);
    if (b < a) throw new TargetSpecError(`IPv4 range "${spec}" ends before it starts`);
    if (b - a + 1 > max) throw new TargetSpecError(`"${spec}" holds ${b - a + 1} addresses, more than the limit of ${max}`);
    const out: string[] = [];
    for (let n = a; n <= b; n++) out.push(intToIpv4(n));
    return out;
  }
  const bare = s.startsWith('[') && s.endsWith(']') ? s.slice(1, -1) : s;
  if (net.isIP(bare)) return [bare];
  if (/^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/.test(bare) && !/^[\d.]+$/.test(bare)) return [bare];
  throw new TargetSpecError(`"${spec}" is not an address, a name, an IPv4 range or a CIDR block`);
}

/** Expands a port or a port range (`8080`, `"8080-8089"`). */
export function expandPorts(spec: number | string, max = DEFAULT_MAX_TARGETS): number[] {
  const valid = (p: number): boolean => Number.isInteger(p) && p >= 1 && p <= 65535;
  if (typeof spec === 'number') {
    if (!valid(spec)) throw new TargetSpecError(`bad port ${spec}`);
    return [spec];
  }
  const m = /^\s*(\d{1,5})(?:\s*-\s*(\d{1,5}))?\s*$/.exec(spec);
  if (!m) throw new TargetSpecError(`bad port range "${spec}"`);
  const a = Number(m[1]);
  const b = m[2] === undefined ? a : Number(m[2]);
  if (!valid(a) || !valid(b) || b < a) throw new TargetSpecError(`bad port range "${spec}"`);
  if (b - a + 1 > max) throw new TargetSpecError(`port range "${spec}" holds ${b - a + 1} ports, more than the limit of ${max}`);
  const out: number[] = [];
  for (let p = a; p <= b; p++) out.push(p);
  return out;
}

export interface HostPort {
  host: string;
  port: number;
}

/** Every host × every port, de-duplicated, in order; throws TargetSpecError past `max`. */
export function expandTargets(hosts: readonly string[], ports: readonly (number | string)[], max = DEFAULT_MAX_TARGETS): HostPort[] {
  const hs = [...new Set(hosts.flatMap((h) => expandHosts(h, max)))];
  const ps = [...new Set(ports.flatMap((p) => expandPorts(p, max)))];
  if (hs.length * ps.length > max) throw new TargetSpecError(`${hs.length} hosts × ${ps.length} ports is more than the limit of ${max} targets`);
  return hs.flatMap((host) => ps.map((port) => ({ host, port })));
}

/** `host:port`, with brackets around IPv6 literals. */
export function formatHostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Runs `fn` over `items` with at most `limit` at a time; results keep the input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  };
  const n = Math.max(1, Math.min(Math.floor(limit) || 1, items.length));
  await Promise.all(Array.from({ length: n }, worker));
  return results;
}

/** A DeviceId (protocol/messages.ts) for a device found at host:port (and unit). */
export function discoveredDeviceId(protocol: string, host: string, port: number, unitId?: number): string {
  const h = host.replace(/[^A-Za-z0-9.:-]/g, '_');
  return `${protocol}-${h}-${port}${unitId === undefined ? '' : `-u${unitId}`}`.slice(0, 128);
}
