/**
 * What the agents measured, read back from InfluxDB with InfluxQL: the uplink interface's speed and
 * utilisation (SNMP `interface` counters), each camera's latest health-ladder step (`camera_health`)
 * and each device's latest reachability (`device {reachable}`).
 *
 * Which interface is the uplink: the school setting `{device, ifName}` (PUT …/settings) when set;
 * otherwise the core switch's interface whose ifName matches /uplink/i, where "core switch" is the
 * switch whose sysName or id says `core`, else the switch whose uplink-named interface is fastest
 * (a core switch carries the school's uplink; access switches' uplinks point at the core).
 */
import type { Series } from '../telemetry/influx-query.ts';
import type { LatestReadings } from '../ingest/latest.ts';

export type QueryFn = (q: string) => Promise<Series[]>;

/** InfluxQL string literal. */
export function lit(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A window: the last `hours`, or [from, to) (a past month). */
export type Window = number | { from: Date; to: Date };

/** InfluxQL time condition of a window. */
export function timeCond(w: Window): string {
  return typeof w === 'number' ? `time > now() - ${Math.round(w)}h` : `time >= ${lit(w.from.toISOString())} AND time < ${lit(w.to.toISOString())}`;
}

function rowsOf(series: Series[]): Record<string, unknown>[] {
  return series.flatMap((s) => s.values.map((v) => ({ ...s.tags, ...Object.fromEntries(s.columns.map((c, i) => [c, v[i]])) })));
}

export interface UplinkChoice {
  device: string;
  ifName: string;
  how: 'setting' | 'core-switch-uplink';
}

export interface UplinkMeasurement extends UplinkChoice {
  capacityMbps?: number;
  p95Mbps?: number;
  peakMbps?: number;
  saturationMinutes?: number;
  samples: number;
}

export interface SwitchInfo {
  deviceId: string;
  kind: string;
  sysName?: string;
}

/** Picks the uplink interface from what the switches reported (see the file comment). */
export async function chooseUplink(query: QueryFn, school: string, setting: { device: string; ifName: string } | null, devices: SwitchInfo[], window: Window): Promise<UplinkChoice | null> {
  if (setting) return { ...setting, how: 'setting' };
  const r = rowsOf(
    await query(`SELECT last("speedMbps") AS speed FROM "interface" WHERE "school" = ${lit(school)} AND "ifName" =~ /(?i)uplink/ AND ${timeCond(window)} GROUP BY "device", "ifName", "kind"`),
  );
  const kinds = new Map(devices.map((d) => [d.deviceId, d]));
  const cands = r
    .map((x) => ({ device: String(x.device), ifName: String(x.ifName), speed: Number(x.speed) || 0, kind: kinds.get(String(x.device))?.kind ?? String(x.kind ?? '') }))
    .filter((x) => x.kind === 'switch');
  if (!cands.length) return null;
  const isCore = (d: string) => /core/i.test(d) || /core/i.test(kinds.get(d)?.sysName ?? '');
  cands.sort((a, b) => Number(isCore(b.device)) - Number(isCore(a.device)) || b.speed - a.speed || a.device.localeCompare(b.device) || a.ifName.localeCompare(b.ifName));
  return { device: cands[0]!.device, ifName: cands[0]!.ifName, how: 'core-switch-uplink' };
}

/** Nearest-rank percentile of an unsorted list. */
export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)]!;
}

/**
 * Speed and utilisation of the uplink over the window. Rates come from the counters
 * (`non_negative_derivative` of in/outOctets per second × 8 / 10⁶ = Mbit/s, between consecutive
 * polls); a full-duplex link is as busy as its busier direction, so each sample is max(in, out).
 * Saturation minutes: the time between polls whose rate was at or above `saturationShare` of the
 * capacity.
 */
export async function measureUplink(query: QueryFn, school: string, choice: UplinkChoice, window: Window, saturationShare: number): Promise<UplinkMeasurement> {
  const where = `"school" = ${lit(school)} AND "device" = ${lit(choice.device)} AND "ifName" = ${lit(choice.ifName)} AND ${timeCond(window)}`;
  const series = await query(
    [
      `SELECT last("speedMbps") AS speed FROM "interface" WHERE ${where}`,
      `SELECT non_negative_derivative("inOctets", 1s) AS rin FROM "interface" WHERE ${where}`,
      `SELECT non_negative_derivative("outOctets", 1s) AS rout FROM "interface" WHERE ${where}`,
    ].join('; '),
  );
  const out: UplinkMeasurement = { ...choice, samples: 0 };
  const byTime = new Map<number, number>();
  for (const s of series) {
    const col = s.columns.includes('speed') ? 'speed' : s.columns.includes('rin') ? 'rin' : 'rout';
    const ci = s.columns.indexOf(col);
    for (const v of s.values) {
      const val = Number(v[ci]);
      if (!Number.isFinite(val)) continue;
      if (col === 'speed') out.capacityMbps = val;
      else {
        const t = Number(v[0]);
        const mbps = (val * 8) / 1e6;
        byTime.set(t, Math.max(byTime.get(t) ?? 0, mbps));
      }
    }
  }
  const samples = [...byTime.entries()].sort((a, b) => a[0] - b[0]);
  out.samples = samples.length;
  if (samples.length) {
    const rates = samples.map(([, r]) => r);
    out.p95Mbps = percentile(rates, 95);
    out.peakMbps = Math.max(...rates);
    if (out.capacityMbps) {
      const limit = saturationShare * out.capacityMbps;
      let ms = 0;
      for (let i = 1; i < samples.length; i++) if (samples[i]![1] >= limit) ms += samples[i]![0] - samples[i - 1]![0];
      out.saturationMinutes = Math.round(ms / 6_000) / 10;
    }
  }
  return out;
}

export interface CameraHealthSample {
  step: number;
  resolutionWidth?: number;
}

/**
 * Latest `camera_health` per device of a school within `maxAgeMs` (older = no data): from ingest's
 * in-memory latest readings when it holds that school, else from InfluxDB (e.g. after a restart).
 */
export async function latestCameraHealth(query: QueryFn, school: string, maxAgeMs: number, latest?: LatestReadings): Promise<Map<string, CameraHealthSample>> {
  const held = latest?.latest(school, 'camera_health', maxAgeMs);
  if (held && held.size > 0) {
    const out = new Map<string, CameraHealthSample>();
    for (const [key, s] of held) {
      const step = Number(s.metrics.step);
      const w = Number(s.metrics.resolutionWidth);
      if (Number.isFinite(step)) out.set(key, { step, ...(Number.isFinite(w) && w > 0 ? { resolutionWidth: w } : {}) });
    }
    return out;
  }
  const r = rowsOf(
    await query(`SELECT last("step") AS step, last("resolutionWidth") AS width FROM "camera_health" WHERE "school" = ${lit(school)} AND time > now() - ${Math.max(1, Math.round(maxAgeMs / 1000))}s GROUP BY "agent", "device"`),
  );
  const out = new Map<string, CameraHealthSample>();
  for (const x of r) {
    const step = Number(x.step);
    if (!Number.isFinite(step)) continue;
    const w = Number(x.width);
    out.set(`${String(x.agent)}/${String(x.device)}`, { step, ...(Number.isFinite(w) && w > 0 ? { resolutionWidth: w } : {}) });
  }
  return out;
}

/** Latest `device {reachable}` per device of a school within `maxAgeMs`, keyed agent/device. */
export async function latestReachable(query: QueryFn, school: string, maxAgeMs: number, latest?: LatestReadings): Promise<Map<string, boolean>> {
  const held = latest?.latest(school, 'device', maxAgeMs);
  if (held && held.size > 0) return new Map([...held].map(([key, s]) => [key, s.metrics.reachable === true]));
  const r = rowsOf(await query(`SELECT last("reachable") AS ok FROM "device" WHERE "school" = ${lit(school)} AND time > now() - ${Math.max(1, Math.round(maxAgeMs / 1000))}s GROUP BY "agent", "device"`));
  return new Map(r.map((x) => [`${String(x.agent)}/${String(x.device)}`, x.ok === true]));
}

/** A global IPv6 address: not link-local (fe80::/10), not loopback (::1), not unspecified (::). */
export function isGlobalIpv6(addr: string): boolean {
  const a = addr.trim().toLowerCase().replace(/%.*$/, '').replace(/\/\d+$/, '');
  if (!a.includes(':')) return false;
  if (a === '::1' || a === '::') return false;
  const first = parseInt(a.split(':')[0] || '0', 16);
  if ((first & 0xffc0) === 0xfe80) return false;
  return true;
}

export interface UplinkIpv6 {
  device: string;
  ifName: string;
  /** the uplink's ifIndex, from the `interface` readings; null when they are missing */
  ifIndex: number | null;
  /** global unicast/anycast IPv6 addresses on that interface, from the switch's latest address poll */
  globalAddresses: string[];
}

/**
 * IPv6 on the uplink interface: the switch's IP-MIB ipAddressTable as the agent read it (`ipAddress`
 * readings: tags family, address; field ifIndex, addressType), joined on ifIndex with the
 * `interface` readings (tags ifIndex, ifName). Only the switch's latest address poll counts (one
 * timestamp per poll), so an address removed since is gone. Null when the switch reported no
 * addresses within the window (e.g. it has no ipAddressTable): the rule is then unknown.
 */
export async function uplinkIpv6(query: QueryFn, school: string, choice: UplinkChoice, windowHours: number): Promise<UplinkIpv6 | null> {
  const since = `time > now() - ${Math.round(windowHours)}h`;
  const dev = `"school" = ${lit(school)} AND "device" = ${lit(choice.device)}`;
  const series = await query(
    [
      `SELECT last("speedMbps") AS speed FROM "interface" WHERE ${dev} AND "ifName" = ${lit(choice.ifName)} AND ${since} GROUP BY "ifIndex"`,
      `SELECT last("ifIndex") AS ifx, last("addressType") AS atype FROM "ipAddress" WHERE ${dev} AND ${since} GROUP BY "family", "address"`,
    ].join('; '),
  );
  const ifRows = rowsOf(series.filter((s) => s.columns.includes('speed')));
  const addrRows = rowsOf(series.filter((s) => s.columns.includes('ifx')));
  if (!addrRows.length) return null;
  const ifIndexes = ifRows.map((r) => Number(r.ifIndex)).filter((n) => Number.isInteger(n));
  const ifIndex = ifIndexes.length ? ifIndexes[0]! : null;
  const latest = Math.max(...addrRows.map((r) => Number(r.time)));
  const globalAddresses = addrRows
    .filter((r) => Number(r.time) === latest && r.family === 'ipv6' && ifIndex !== null && Number(r.ifx) === ifIndex && r.atype !== 'broadcast')
    .map((r) => String(r.address))
    .filter(isGlobalIpv6)
    .sort();
  return { device: choice.device, ifName: choice.ifName, ifIndex, globalAddresses };
}
