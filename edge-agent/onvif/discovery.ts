/**
 * ONVIF camera discovery: WS-Discovery Probe (multicast on a configured interface, unicast to
 * configured addresses and ranges, IPv4 and IPv6), then, for each camera that answered, device
 * information, network interfaces, profiles, video encoder configuration and stream URI, with
 * credentials from the gateway's credential store.
 *
 * Nothing is probed that the configuration does not name: there is no default target, multicast
 * needs an explicit interface, and an optional `allow` guard is checked before every datagram and
 * HTTP request (tests pass a loopback/namespace guard). A camera answering garbage yields an error
 * for that camera; discovery of the others goes on. Errors never contain credentials.
 */
import { randomUUID } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type { DiscoveredDevice } from '../../protocol/index.ts';
import type { CredentialStore } from '../credentials.ts';
import { OnvifClient, type VideoEncoderConfig } from './client.ts';
import { OnvifError, all, child, isNode, parseXml, path, text, type OnvifErrorKind } from './xml.ts';

export const WSD_PORT = 3702;
export const WSD_GROUP_V4 = '239.255.255.250';
export const WSD_GROUP_V6 = 'ff02::c';
/** Most addresses one discovery run probes by unicast (a /20). */
export const MAX_UNICAST_TARGETS = 4096;

export interface ProbeTarget {
  host: string;
  port: number;
}

export interface ProbeMatch {
  /** WS-Addressing endpoint reference (urn:uuid:…), if given */
  endpoint?: string;
  xaddrs: string[];
  scopes: string[];
  types?: string;
  /** where the ProbeMatch came from */
  from: ProbeTarget;
}

export interface DiscoveryError {
  /** host:port the problem is about */
  address: string;
  device?: string;
  stage: 'config' | 'probe' | 'describe';
  kind: OnvifErrorKind | 'config';
  message: string;
}

export interface OnvifDiscoveryOptions {
  /** unicast targets: `a.b.c.d`, `a.b.c.d:port`, `a.b.c.d-e.f.g.h`, `a.b.c.d-h`, `a.b.c.d/len` (≥ /20), `v6`, `[v6]:port` */
  unicast?: string[];
  /** multicast probe: IPv4 address of the local interface to send from, and/or IPv6 interface name */
  multicast?: { ipv4Interface?: string; ipv6Interface?: string };
  /** default 3702 */
  port?: number;
  /** how long to listen for ProbeMatches after the last probe, default 3000 ms */
  listenMs?: number;
  /** per SOAP request, default 5000 ms */
  soapTimeoutMs?: number;
  credentials?: CredentialStore;
  /** checked before any packet goes to an address; false = refused with a config error */
  allow?: (address: string) => boolean;
  /** cameras described at once, default 8 */
  concurrency?: number;
}

export interface OnvifDiscoveryResult {
  devices: DiscoveredDevice[];
  errors: DiscoveryError[];
  /** ProbeMatches as received (deduplicated) */
  matches: ProbeMatch[];
}

// ---- targets ----

function v4ToInt(s: string): number {
  return s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}
function intToV4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Expands unicast target specs to host/port pairs; throws OnvifError('bad-answer') with the spec on anything else. */
export function expandTargets(specs: readonly string[], defaultPort = WSD_PORT, max = MAX_UNICAST_TARGETS): ProbeTarget[] {
  const out: ProbeTarget[] = [];
  const push = (host: string, port: number): void => {
    if (out.length >= max) throw new Error(`more than ${max} unicast targets configured`);
    out.push({ host, port });
  };
  const portOf = (s: string | undefined, spec: string): number => {
    if (s === undefined) return defaultPort;
    const p = Number(s);
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new Error(`bad port in "${spec}"`);
    return p;
  };
  for (const raw of specs) {
    const spec = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^\[([0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?)\](?::(\d+))?$/.exec(spec))) {
      if (!net.isIPv6(m[1]!.replace(/%.*$/, ''))) throw new Error(`bad IPv6 address in "${spec}"`);
      push(m[1]!, portOf(m[2], spec));
    } else if (net.isIPv6(spec.replace(/%.*$/, ''))) {
      push(spec, defaultPort);
    } else if ((m = /^(\d+\.\d+\.\d+\.\d+)(?::(\d+))?$/.exec(spec)) && net.isIPv4(m[1]!)) {
      push(m[1]!, portOf(m[2], spec));
    } else if ((m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)(?::(\d+))?$/.exec(spec)) && net.isIPv4(m[1]!)) {
      const len = Number(m[2]);
      if (len < 20 || len > 32) throw new Error(`"${spec}": prefix must be /20 … /32`);
      const size = 2 ** (32 - len);
      const base = v4ToInt(m[1]!) - (v4ToInt(m[1]!) % size);
      const port = portOf(m[3], spec);
      // skip network and broadcast addresses of real subnets
      const [first, last] = size >= 4 ? [base + 1, base + size - 2] : [base, base + size - 1];
      for (let n = first; n <= last; n++) push(intToV4(n), port);
    } else if ((m = /^(\d+\.\d+\.\d+\.\d+)-(\d+(?:\.\d+\.\d+\.\d+)?)(?::(\d+))?$/.exec(spec)) && net.isIPv4(m[1]!)) {
      const start = v4ToInt(m[1]!);
      const endStr = m[2]!.includes('.') ? m[2]! : m[1]!.replace(/\d+$/, m[2]!);
      if (!net.isIPv4(endStr)) throw new Error(`bad range end in "${spec}"`);
      const end = v4ToInt(endStr);
      if (end < start) throw new Error(`"${spec}": range end before start`);
      if (end - start >= max) throw new Error(`"${spec}": range larger than ${max} addresses`);
      const port = portOf(m[3], spec);
      for (let n = start; n <= end; n++) push(intToV4(n), port);
    } else {
      throw new Error(`unicast target "${spec}" is not an IP address, range or /20+ subnet`);
    }
  }
  return out;
}

// ---- WS-Discovery ----

export function probeXml(messageId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>` +
    `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" ` +
    `xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header>` +
    `<a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action>` +
    `<a:MessageID>${messageId}</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo>` +
    `<a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header>` +
    `<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>`
  );
}

/** Parses a ProbeMatches datagram; throws OnvifError for garbage or a message that is not a ProbeMatches. */
export function parseProbeMatches(xml: string, from: ProbeTarget): ProbeMatch[] {
  if (xml.length > 64 * 1024) throw new OnvifError('bad-answer', 'ProbeMatches datagram larger than 64 KiB');
  const doc = parseXml(xml);
  const body = path(doc, 'Envelope', 'Body');
  const pm = child(body, 'ProbeMatches');
  if (!pm) throw new OnvifError('bad-answer', 'datagram is not a WS-Discovery ProbeMatches');
  const out: ProbeMatch[] = [];
  for (const m of all(pm, 'ProbeMatch').slice(0, 16)) {
    if (!isNode(m)) continue;
    const words = (v: unknown): string[] => (text(v, 8192) ?? '').split(/\s+/).filter((w) => w.length > 0 && w.length <= 512).slice(0, 32);
    const xaddrs = words(m['XAddrs']).filter((x) => /^https?:\/\//i.test(x));
    out.push({ endpoint: text(path(m, 'EndpointReference', 'Address'), 256), xaddrs, scopes: words(m['Scopes']), types: text(m['Types'], 256), from });
  }
  if (out.length === 0) throw new OnvifError('bad-answer', 'ProbeMatches without a ProbeMatch');
  return out;
}

function fmt(host: string, port: number): string {
  return net.isIPv6(host.replace(/%.*$/, '')) ? `[${host}]:${port}` : `${host}:${port}`;
}

function bindSocket(type: 'udp4' | 'udp6', address: string): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type });
    s.once('error', reject);
    s.bind({ port: 0, address }, () => {
      s.off('error', reject);
      s.on('error', () => {});
      resolve(s);
    });
  });
}

/** Sends the probes and collects ProbeMatches; per-responder garbage becomes an error, not a throw. */
export async function probeOnvif(opts: OnvifDiscoveryOptions): Promise<{ matches: ProbeMatch[]; errors: DiscoveryError[] }> {
  const errors: DiscoveryError[] = [];
  const port = opts.port ?? WSD_PORT;
  const allow = opts.allow ?? (() => true);
  let targets: ProbeTarget[] = [];
  try {
    targets = expandTargets(opts.unicast ?? [], port);
  } catch (err) {
    errors.push({ address: '-', stage: 'config', kind: 'config', message: (err as Error).message });
  }
  targets = targets.filter((t) => {
    if (allow(t.host)) return true;
    errors.push({ address: fmt(t.host, t.port), stage: 'config', kind: 'config', message: `probing ${t.host} is not allowed here` });
    return false;
  });
  const mc = { ...(opts.multicast ?? {}) };
  if (mc.ipv4Interface !== undefined && (!net.isIPv4(mc.ipv4Interface) || !allow(mc.ipv4Interface))) {
    errors.push({ address: mc.ipv4Interface, stage: 'config', kind: 'config', message: 'multicast ipv4Interface must be an allowed local IPv4 address' });
    mc.ipv4Interface = undefined;
  }
  if (mc.ipv6Interface !== undefined && !/^[A-Za-z0-9_.-]{1,15}$/.test(mc.ipv6Interface)) {
    errors.push({ address: mc.ipv6Interface, stage: 'config', kind: 'config', message: 'multicast ipv6Interface must be an interface name' });
    mc.ipv6Interface = undefined;
  }

  const sockets: dgram.Socket[] = [];
  const found = new Map<string, ProbeMatch>();
  const onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    const from = { host: rinfo.address, port: rinfo.port };
    try {
      for (const m of parseProbeMatches(msg.toString('utf8'), from)) {
        const key = m.endpoint ?? (m.xaddrs.join(' ') || fmt(from.host, from.port));
        if (!found.has(key)) found.set(key, m);
      }
    } catch (err) {
      const e = err instanceof OnvifError ? err : new OnvifError('bad-xml', String(err));
      errors.push({ address: fmt(from.host, from.port), stage: 'probe', kind: e.kind, message: `WS-Discovery answer: ${e.message}` });
    }
  };
  const sendTo = (s: dgram.Socket, host: string, p: number): Promise<void> =>
    new Promise((resolve) => {
      s.send(probeXml(`urn:uuid:${randomUUID()}`), p, host, (err) => {
        if (err) errors.push({ address: fmt(host, p), stage: 'probe', kind: 'unreachable', message: `cannot send probe: ${err.message}` });
        resolve();
      });
    });
  try {
    const v4 = targets.filter((t) => net.isIPv4(t.host));
    const v6 = targets.filter((t) => !net.isIPv4(t.host));
    if (v4.length > 0) {
      const s = await bindSocket('udp4', '0.0.0.0');
      sockets.push(s);
      s.on('message', onMessage);
      for (const t of v4) await sendTo(s, t.host, t.port);
    }
    if (v6.length > 0) {
      const s = await bindSocket('udp6', '::');
      sockets.push(s);
      s.on('message', onMessage);
      for (const t of v6) await sendTo(s, t.host, t.port);
    }
    if (mc.ipv4Interface) {
      // bound to the interface's own address, multicast interface set explicitly: the probe can
      // leave through that interface only
      const s = await bindSocket('udp4', mc.ipv4Interface);
      sockets.push(s);
      s.setMulticastInterface(mc.ipv4Interface);
      s.setMulticastTTL(1);
      s.setMulticastLoopback(false);
      s.on('message', onMessage);
      await sendTo(s, WSD_GROUP_V4, port);
    }
    if (mc.ipv6Interface) {
      const s = await bindSocket('udp6', '::');
      sockets.push(s);
      s.setMulticastInterface(`::%${mc.ipv6Interface}`);
      s.setMulticastTTL(1);
      s.setMulticastLoopback(false);
      s.on('message', onMessage);
      await sendTo(s, `${WSD_GROUP_V6}%${mc.ipv6Interface}`, port);
    }
    if (sockets.length > 0) await new Promise((r) => setTimeout(r, opts.listenMs ?? 3000));
  } catch (err) {
    errors.push({ address: '-', stage: 'probe', kind: 'unreachable', message: `probe socket: ${(err as Error).message}` });
  } finally {
    for (const s of sockets) s.close();
  }
  return { matches: [...found.values()], errors };
}

// ---- describing one camera ----

/** The XAddr to use for a match: one on the responder's own address, else the first one pinned to it. */
export function chooseXaddr(m: ProbeMatch): URL | undefined {
  const parsed = m.xaddrs
    .map((x) => {
      try {
        return new URL(x);
      } catch {
        return undefined;
      }
    })
    .filter((u): u is URL => u !== undefined && (u.protocol === 'http:' || u.protocol === 'https:'));
  const fromHost = m.from.host.replace(/%.*$/, '');
  const same = parsed.find((u) => u.hostname.replace(/^\[|\]$/g, '') === fromHost);
  if (same) return same;
  const first = parsed[0];
  if (!first) return undefined;
  first.hostname = net.isIPv6(fromHost) ? `[${fromHost}]` : fromHost;
  return first;
}

function deviceIdFor(endpoint: string | undefined, url: URL): string {
  const base = endpoint ? endpoint.replace(/^(urn:)?uuid:/i, '') : `${url.hostname}-${url.port || '80'}`;
  const id = `onvif-${base}`.replace(/[^A-Za-z0-9_.:-]/g, '-').slice(0, 128);
  return id;
}

function scopeValue(scopes: readonly string[], kind: string): string | undefined {
  const prefix = `onvif://www.onvif.org/${kind}/`;
  const s = scopes.find((x) => x.toLowerCase().startsWith(prefix));
  if (!s) return undefined;
  try {
    return decodeURIComponent(s.slice(prefix.length)).slice(0, 256) || undefined;
  } catch {
    return s.slice(prefix.length).slice(0, 256) || undefined;
  }
}

export interface DescribeResult {
  device: DiscoveredDevice;
  /** the failure that stopped the description, if any (the device is still reported) */
  error?: DiscoveryError;
  /** steps that failed without stopping it (e.g. no GetNetworkInterfaces) */
  warnings: string[];
}

/** Reads what the agent needs from one camera. Never throws for anything the camera says. */
export async function describeOnvifDevice(match: ProbeMatch, opts: Pick<OnvifDiscoveryOptions, 'credentials' | 'soapTimeoutMs' | 'allow'> = {}): Promise<DescribeResult | undefined> {
  const url = chooseXaddr(match);
  if (!url) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const address = url.host;
  const id = deviceIdFor(match.endpoint, url);
  const attributes: Record<string, string | number | boolean> = { xaddr: url.toString() };
  if (match.endpoint) attributes.endpoint = match.endpoint;
  if (match.scopes.length > 0) attributes.scopes = match.scopes.join(' ').slice(0, 1024);
  const hw = scopeValue(match.scopes, 'hardware');
  const name = scopeValue(match.scopes, 'name');
  if (hw) attributes.scopeHardware = hw;
  if (name) attributes.scopeName = name;
  const device: DiscoveredDevice = { device: id, kind: 'camera', protocol: 'onvif', address, attributes };
  const warnings: string[] = [];
  const fail = (err: unknown): DescribeResult => {
    const e = err instanceof OnvifError ? err : new OnvifError('bad-answer', (err as Error).message);
    attributes.error = `${e.kind}: ${e.message}`.slice(0, 1024);
    return { device, warnings, error: { address, device: id, stage: 'describe', kind: e.kind, message: e.message } };
  };
  if (opts.allow && !opts.allow(host)) {
    return fail(new OnvifError('refused', `talking to ${host} is not allowed here`));
  }
  const creds = opts.credentials?.lookup(host, 'onvif');
  const client = new OnvifClient(url, { credentials: creds, timeoutMs: opts.soapTimeoutMs });
  try {
    await client.getSystemDateAndTime();
  } catch (err) {
    const e = err as OnvifError;
    if (e.kind === 'refused' || e.kind === 'unreachable' || e.kind === 'timeout') return fail(e);
    warnings.push(`GetSystemDateAndTime: ${e.message}`);
  }
  try {
    const info = await client.getDeviceInformation();
    if (info.manufacturer) attributes.manufacturer = info.manufacturer;
    if (info.model) attributes.model = info.model;
    if (info.firmware) attributes.firmware = info.firmware;
    if (info.serial) attributes.serial = info.serial;
    if (info.hardwareId) attributes.hardwareId = info.hardwareId;
  } catch (err) {
    return fail(err);
  }
  const optional = async (what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      warnings.push(`${what}: ${(err as Error).message}`);
    }
  };
  await optional('GetCapabilities', async () => {
    await client.getCapabilities();
  });
  await optional('GetNetworkInterfaces', async () => {
    const nics = (await client.getNetworkInterfaces()).filter((n) => n.enabled);
    const v4 = [...new Set(nics.flatMap((n) => n.ipv4))];
    const v6 = [...new Set(nics.flatMap((n) => n.ipv6))];
    if (v4.length > 0) attributes.ipv4 = v4.join(',').slice(0, 1024);
    if (v6.length > 0) attributes.ipv6 = v6.join(',').slice(0, 1024);
    const mac = nics.find((n) => n.mac)?.mac;
    if (mac) attributes.mac = mac;
  });
  let profileToken: string | undefined;
  let encoderToken: string | undefined;
  await optional('GetProfiles', async () => {
    const profiles = await client.getProfiles();
    const p = profiles.find((x) => x.videoEncoderToken) ?? profiles[0];
    profileToken = p?.token;
    encoderToken = p?.videoEncoderToken;
    if (profileToken) attributes.profileToken = profileToken;
    attributes.profiles = profiles.length;
  });
  await optional('GetVideoEncoderConfigurations', async () => {
    const encoders = await client.getVideoEncoderConfigurations();
    const enc: VideoEncoderConfig | undefined = encoders.find((e) => e.token === encoderToken) ?? encoders[0];
    if (!enc) return;
    if (enc.width !== undefined && enc.height !== undefined) {
      attributes.resolution = `${enc.width}x${enc.height}`;
      attributes.resolutionWidth = enc.width;
      attributes.resolutionHeight = enc.height;
    }
    if (enc.fps !== undefined) attributes.fps = enc.fps;
    if (enc.bitrate !== undefined) attributes.bitrate = enc.bitrate;
    if (enc.encoding) attributes.encoding = enc.encoding;
  });
  if (profileToken) {
    const token = profileToken;
    await optional('GetStreamUri', async () => {
      const uri = await client.getStreamUri(token);
      if (uri) attributes.streamUri = uri;
    });
  }
  if (warnings.length > 0) attributes.warnings = warnings.length;
  return { device, warnings };
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}

/** Probe, then describe every camera that answered. */
export async function discoverOnvif(opts: OnvifDiscoveryOptions): Promise<OnvifDiscoveryResult> {
  const { matches, errors } = await probeOnvif(opts);
  const devices: DiscoveredDevice[] = [];
  const results = await mapLimit(matches, opts.concurrency ?? 8, async (m) => {
    try {
      return await describeOnvifDevice(m, opts);
    } catch (err) {
      // a bug of ours must not lose the other cameras
      errors.push({ address: fmt(m.from.host, m.from.port), stage: 'describe', kind: 'bad-answer', message: (err as Error).message });
      return undefined;
    }
  });
  for (const [i, r] of results.entries()) {
    if (!r) {
      const m = matches[i];
      if (m && m.xaddrs.length === 0) errors.push({ address: fmt(m.from.host, m.from.port), stage: 'probe', kind: 'bad-answer', message: 'ProbeMatch without an HTTP XAddr' });
      continue;
    }
    devices.push(r.device);
    if (r.error) errors.push(r.error);
  }
  return { devices, errors, matches };
}
