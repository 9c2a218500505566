/**
 * SNMP discovery targets from the agent config: a host, an IPv4/IPv6 address, or a CIDR range,
 * each with an optional port or port range.
 *
 *   127.0.0.1              one address, port 161
 *   127.0.0.1:16100-16140  one address, 41 ports
 *   10.37.1.0/24           254 addresses (network and broadcast left out below /31), port 161
 *   10.37.1.0/24:1161      the same range on port 1161
 *   [::1]:16161  [fd00::/120]:161  ::1  switch-3.school.lan:161
 *
 * Network safety (DESIGN.md): targets come only from configuration, there is no default, and one
 * range may never cover more than MAX_RANGE_ADDRESSES addresses (IPv4 /22, IPv6 /118): a larger
 * one is refused when the config is read, and again by expandTarget before anything is sent. The
 * sweep then probes only the addresses discovery.allow admits (discovery.ts, allowed-address.ts).
 */
import * as net from 'node:net';
import { ipv6FromGroups } from '../../device-profiles/engine/ip.ts';

export const MAX_RANGE_ADDRESSES = 1024;
export const MAX_PORTS_PER_TARGET = 1024;
export const DEFAULT_SNMP_PORT = 161;

export interface SnmpTarget {
  /** the text as configured */
  spec: string;
  family: 4 | 6 | 'name';
  /** address (or hostname) of the range start; for a single host the host itself */
  host: string;
  /** CIDR prefix length; undefined for a single host or name */
  prefix?: number;
  portFrom: number;
  portTo: number;
}

export class TargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetError';
  }
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*$/;

function parsePorts(spec: string, text: string | undefined): { portFrom: number; portTo: number } {
  if (text === undefined) return { portFrom: DEFAULT_SNMP_PORT, portTo: DEFAULT_SNMP_PORT };
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) throw new TargetError(`target ${JSON.stringify(spec)}: bad port ${JSON.stringify(text)} (use 161 or 16100-16140)`);
  const portFrom = Number(m[1]);
  const portTo = m[2] !== undefined ? Number(m[2]) : portFrom;
  if (portFrom < 1 || portTo > 65535 || portTo < portFrom) throw new TargetError(`target ${JSON.stringify(spec)}: port range ${text} must be within 1-65535, low to high`);
  if (portTo - portFrom + 1 > MAX_PORTS_PER_TARGET) throw new TargetError(`target ${JSON.stringify(spec)}: ${portTo - portFrom + 1} ports; at most ${MAX_PORTS_PER_TARGET} per target`);
  return { portFrom, portTo };
}

function rangeSize(family: 4 | 6, prefix: number): bigint {
  return 1n << BigInt((family === 4 ? 32 : 128) - prefix);
}

function checkRange(spec: string, family: 4 | 6, prefix: number): void {
  const size = rangeSize(family, prefix);
  if (size > BigInt(MAX_RANGE_ADDRESSES)) {
    const smallest = family === 4 ? 22 : 118;
    throw new TargetError(
      `target ${JSON.stringify(spec)}: /${prefix} covers ${size} addresses; one range may cover at most ${MAX_RANGE_ADDRESSES} (/${smallest}): split it into smaller ranges`,
    );
  }
}

/** Parses one target; throws TargetError saying what is wrong. */
export function parseTarget(spec: string): SnmpTarget {
  const s = spec.trim();
  let hostPart: string;
  let portText: string | undefined;
  const bracket = /^\[([^\]]+)\](?::(.+))?$/.exec(s);
  if (bracket) {
    hostPart = bracket[1]!;
    portText = bracket[2];
  } else if (net.isIPv6(s.split('/')[0]!) && !s.includes(']')) {
    hostPart = s; // bare IPv6 (or IPv6 CIDR) without a port
  } else {
    const i = s.lastIndexOf(':');
    hostPart = i >= 0 ? s.slice(0, i) : s;
    portText = i >= 0 ? s.slice(i + 1) : undefined;
  }
  const { portFrom, portTo } = parsePorts(spec, portText);
  const [addr, prefixText, ...rest] = hostPart.split('/');
  if (rest.length > 0 || addr === undefined || addr === '') throw new TargetError(`target ${JSON.stringify(spec)}: not a host, address or CIDR range`);
  const family = net.isIPv4(addr) ? 4 : net.isIPv6(addr) ? 6 : undefined;
  if (prefixText !== undefined) {
    if (family === undefined) throw new TargetError(`target ${JSON.stringify(spec)}: a CIDR range needs an IP address, not ${JSON.stringify(addr)}`);
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > (family === 4 ? 32 : 128)) throw new TargetError(`target ${JSON.stringify(spec)}: bad prefix length /${prefixText}`);
    const prefix = Number(prefixText);
    checkRange(spec, family, prefix);
    return { spec, family, host: addr, prefix, portFrom, portTo };
  }
  if (family !== undefined) return { spec, family, host: addr, portFrom, portTo };
  if (!HOSTNAME.test(addr)) throw new TargetError(`target ${JSON.stringify(spec)}: ${JSON.stringify(addr)} is not an IP address or host name`);
  return { spec, family: 'name', host: addr, portFrom, portTo };
}

function v4ToInt(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}
function intToV4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function v6ToBig(a: string): bigint {
  let text = a;
  // an embedded IPv4 tail (::ffff:10.0.0.1) becomes two hex groups
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const n = v4ToInt(v4[1]!);
    text = text.slice(0, -v4[1]!.length) + `${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}
export function bigToV6(n: bigint): string {
  return ipv6FromGroups(Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(16 * (7 - i))) & 0xffffn)));
}

/** The host addresses of a target (safety check: never more than MAX_RANGE_ADDRESSES). */
export function expandHosts(t: SnmpTarget): string[] {
  if (t.prefix === undefined || t.family === 'name') return [t.host];
  checkRange(t.spec, t.family, t.prefix); // again: a target built by hand must not slip past the bound
  const size = Number(rangeSize(t.family, t.prefix));
  const out: string[] = [];
  if (t.family === 4) {
    const base = (v4ToInt(t.host) & (t.prefix === 0 ? 0 : (~0 << (32 - t.prefix)) >>> 0)) >>> 0;
    // below /31 the first and last address are the network and broadcast addresses
    const skipEnds = t.prefix < 31;
    for (let i = skipEnds ? 1 : 0; i < (skipEnds ? size - 1 : size); i++) out.push(intToV4(base + i));
  } else {
    const mask = ((1n << 128n) - 1n) ^ ((1n << BigInt(128 - t.prefix)) - 1n);
    const base = v6ToBig(t.host) & mask;
    for (let i = 0; i < size; i++) out.push(bigToV6(base + BigInt(i)));
  }
  if (out.length > MAX_RANGE_ADDRESSES) throw new TargetError(`target ${JSON.stringify(t.spec)} expands to ${out.length} addresses; refusing more than ${MAX_RANGE_ADDRESSES}`);
  return out;
}

/** host:port, with brackets around IPv6. */
export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Every host:port of a target, in order. */
export function* expandTarget(t: SnmpTarget): Generator<{ host: string; port: number }> {
  const hosts = expandHosts(t);
  for (const host of hosts) for (let port = t.portFrom; port <= t.portTo; port++) yield { host, port };
}
