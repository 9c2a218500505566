/**
 * Polls one SNMP device as its profile says and returns protocol Readings. The caller opens the
 * session (v2c, its community, timeout, retries) and keeps a RateState across polls. Nothing here
 * throws on what the device answers: a wrong-typed or absurd varbind, an index that does not decode,
 * a table the device lacks — each is skipped, counted and described in `errors`, and the rest of
 * the poll goes on. A device whose every request fails is `device {reachable: false}`.
 */
import snmp, { type Session, type Varbind } from 'net-snmp';
import type { Reading } from '../../protocol/index.ts';
import type { ResolvedProfile } from '../loader.ts';
import type { IndexPart, PollGroup, Resource, SnmpValueType } from '../schema.ts';
import { convert, tidy } from './decode.ts';
import type { RateState } from './rate.ts';
import { ipv6FromGroups } from './ip.ts';

export interface SnmpPollOptions {
  /** agent-local device id, put on every reading */
  device: string;
  now?: () => number;
  /** counter state kept by the caller across polls; without it no rates are emitted */
  rates?: RateState;
  /** poll only these groups (see dueGroups); default all */
  groups?: readonly string[];
  /** GetBulk max-repetitions for table walks (default 20) */
  maxRepetitions?: number;
}

export interface SnmpPollResult {
  device: string;
  reachable: boolean;
  readings: Reading[];
  /** values skipped as invalid */
  skipped: number;
  /** one line per problem: "<group>: <what>" */
  errors: string[];
}

const T = snmp.ObjectType;
const MAX_U32 = 0xffff_ffff;
const WRAP32 = 1n << 32n;
const WRAP64 = 1n << 64n;
const DEFAULT_MAX_ROWS = 10_000;
const MAX_TAGS = 16;
const MAX_METRICS = 256;
/** Errors kept per poll: a hostile device must not turn one poll into megabytes of log. */
const MAX_ERRORS = 50;

/** Interval text (30s, 5m, 1h) in milliseconds. */
export function intervalMs(interval: string): number {
  const n = Number(interval.slice(0, -1));
  return n * ({ s: 1000, m: 60_000, h: 3_600_000 } as const)[interval.slice(-1) as 's' | 'm' | 'h'];
}

/** Groups whose interval has elapsed since `lastPolled` (group name → ms); never polled = due. */
export function dueGroups(profile: ResolvedProfile, lastPolled: ReadonlyMap<string, number>, now: number): string[] {
  return profile.poll.filter((g) => {
    const last = lastPolled.get(g.name);
    return last === undefined || now - last >= intervalMs(g.interval);
  }).map((g) => g.name);
}

// ---------------------------------------------------------------- values

type Raw = { value: number | string; counter?: bigint };

function octetText(value: Buffer): string {
  // eslint-disable-next-line no-control-regex
  return value.toString('utf8').replace(/[\u0000-\u001f\u007f\ufffd]/g, '').trim().slice(0, 1024);
}

/**
 * An identifier that may be text or binary (LLDP chassis/port ids): printable UTF-8 as text, six
 * other octets as a MAC address (aa:bb:cc:dd:ee:ff), anything else as hex.
 */
export function octetsText(value: Buffer): string {
  const b = value.subarray(0, 512);
  const text = b.toString('utf8');
  // eslint-disable-next-line no-control-regex
  if (b.length > 0 && !/[\u0000-\u001f\u007f\ufffd]/.test(text)) return text.trim().slice(0, 1024) || b.toString('hex');
  if (b.length === 6) return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
  return b.toString('hex');
}

function unsigned(vb: Varbind, type: number): number | undefined {
  return vb.type === type && typeof vb.value === 'number' && Number.isInteger(vb.value) && vb.value >= 0 && vb.value <= MAX_U32 ? vb.value : undefined;
}

/** Checks a varbind against the type the profile expects; a string says why it is refused. */
function rawValue(vb: Varbind, type: SnmpValueType): Raw | string {
  const want = (ok: boolean, v: () => Raw): Raw | string => (ok ? v() : `expected ${type}, got type ${vb.type}`);
  switch (type) {
    case 'integer':
      return want(vb.type === T.Integer && typeof vb.value === 'number' && Number.isInteger(vb.value), () => ({ value: vb.value as number }));
    case 'gauge32':
    case 'timeticks': {
      const v = unsigned(vb, type === 'gauge32' ? T.Gauge32 : T.TimeTicks);
      return want(v !== undefined, () => ({ value: v! }));
    }
    case 'counter32': {
      const v = unsigned(vb, T.Counter32);
      return want(v !== undefined, () => ({ value: v!, counter: BigInt(v!) }));
    }
    case 'counter64': {
      const b = vb.value;
      if (vb.type !== T.Counter64 || !Buffer.isBuffer(b) || b.length === 0 || b.length > 9) return `expected counter64, got type ${vb.type}`;
      const big = BigInt('0x' + b.toString('hex'));
      if (big >= WRAP64) return 'counter64 out of range';
      return { value: Number(big), counter: big };
    }
    case 'string':
      return want(vb.type === T.OctetString && Buffer.isBuffer(vb.value), () => ({ value: octetText(vb.value as Buffer) }));
    case 'hex':
      return want(vb.type === T.OctetString && Buffer.isBuffer(vb.value), () => ({ value: (vb.value as Buffer).subarray(0, 512).toString('hex') }));
    case 'mac':
      return want(vb.type === T.OctetString && Buffer.isBuffer(vb.value) && vb.value.length === 6, () => ({ value: [...(vb.value as Buffer)].map((x) => x.toString(16).padStart(2, '0')).join(':') }));
    case 'octets':
      return want(vb.type === T.OctetString && Buffer.isBuffer(vb.value), () => ({ value: octetsText(vb.value as Buffer) }));
    case 'oid':
      return want(vb.type === T.OID && typeof vb.value === 'string' && /^[0-9]+(\.[0-9]+)*$/.test(vb.value), () => ({ value: vb.value as string }));
    case 'ipaddress':
      return want(vb.type === T['IpAddress'] && typeof vb.value === 'string' && /^\d{1,3}(\.\d{1,3}){3}$/.test(vb.value), () => ({ value: vb.value as string }));
  }
}

// ---------------------------------------------------------------- index

function ipv6Text(bytes: number[]): string {
  return ipv6FromGroups(Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!));
}

/** Decodes a row index into tags; undefined when it does not fit the profile's index description. */
export function decodeIndex(suffix: string, parts: readonly IndexPart[]): Record<string, string> | undefined {
  const arcs = suffix.split('.').map(Number);
  if (arcs.some((a) => !Number.isInteger(a) || a < 0)) return undefined;
  const tags: Record<string, string> = {};
  let i = 0;
  const octets = (n: number): number[] | undefined => {
    if (n < 0 || n > 255 || i + n > arcs.length) return undefined;
    const b = arcs.slice(i, i + n);
    if (b.some((x) => x > 255)) return undefined;
    i += n;
    return b;
  };
  for (const part of parts) {
    let text: string | undefined;
    if (part.type === 'integer') {
      const v = arcs[i++];
      if (v === undefined || v > MAX_U32) return undefined;
      text = part.enum?.[String(v)] ?? String(v);
    } else if (part.type === 'mac') {
      const b = octets(6);
      if (!b) return undefined;
      text = b.map((x) => x.toString(16).padStart(2, '0')).join(':');
    } else {
      const len = arcs[i++];
      const b = len === undefined ? undefined : octets(len);
      if (!b) return undefined;
      if (part.type === 'string') text = Buffer.from(b).toString('utf8');
      else if (b.length === 4) text = b.join('.');
      else if (b.length === 16) text = ipv6Text(b);
      else text = Buffer.from(b).toString('hex'); // zoned (ipv4z/ipv6z) or odd lengths: keep raw
    }
    if (!part.skip) {
      if (!text) return undefined;
      tags[part.name] = text.slice(0, 256);
    }
  }
  return i === arcs.length ? tags : undefined;
}

// ---------------------------------------------------------------- requests

function getAsync(session: Session, oids: string[]): Promise<Varbind[]> {
  return new Promise((resolve, reject) => session.get(oids, (err, vbs) => (err ? reject(err) : resolve(vbs ?? []))));
}

function oidAfter(a: string, b: string): boolean {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! > y[i]!;
  return x.length > y.length;
}

/**
 * Walks one column: index suffix → varbind. Stops on an error varbind, an OID outside the column,
 * an OID that does not move forward, or past maxRows (net-snmp's subtree() would otherwise loop on
 * agents that repeat the requested OID; see docs/decisions/0003-simulated-snmp.md).
 */
function walkColumn(session: Session, column: string, maxRows: number, maxRepetitions: number): Promise<{ rows: Map<string, Varbind>; truncated: boolean }> {
  const rows = new Map<string, Varbind>();
  const prefix = column + '.';
  let last = column;
  let truncated = false;
  return new Promise((resolve, reject) => {
    session.subtree(
      column,
      maxRepetitions,
      (vbs) => {
        for (const vb of vbs) {
          if (snmp.isVarbindError(vb) || typeof vb.oid !== 'string' || !vb.oid.startsWith(prefix) || !oidAfter(vb.oid, last)) return true;
          if (rows.size >= maxRows) {
            truncated = true;
            return true;
          }
          last = vb.oid;
          rows.set(vb.oid.slice(prefix.length), vb);
        }
        return false;
      },
      (err) => (err ? reject(err) : resolve({ rows, truncated })),
    );
  });
}

// ---------------------------------------------------------------- poll

interface Ctx {
  device: string;
  rates?: RateState;
  result: SnmpPollResult;
  error(msg: string): void;
}

/** Applies one resource to a raw varbind: metric (+ rate), or tag. */
function apply(ctx: Ctx, group: PollGroup, rowKey: string, res: Resource, vb: Varbind, ts: number, metrics: Record<string, number | boolean | string>, tags: Record<string, string>): void {
  const where = `${group.name}${rowKey ? `[${rowKey}]` : ''}.${res.metric}`;
  if (snmp.isVarbindError(vb)) {
    ctx.result.skipped++;
    ctx.error(`${where}: ${snmp.varbindError(vb)}`);
    return;
  }
  const raw = rawValue(vb, res.snmp!.type);
  if (typeof raw === 'string') {
    ctx.result.skipped++;
    ctx.error(`${where}: ${raw}`);
    return;
  }
  if (res.tag) {
    const text = String(raw.value).slice(0, 256);
    if (text) tags[res.metric] = text;
    return;
  }
  const c = convert(res, raw.value);
  if (!c.ok) {
    ctx.result.skipped++;
    ctx.error(`${group.name}${rowKey ? `[${rowKey}]` : ''}: ${c.error}`);
    return;
  }
  metrics[res.metric] = c.value;
  if (res.rate && raw.counter !== undefined && ctx.rates) {
    const wrap = res.snmp!.type === 'counter32' ? WRAP32 : res.snmp!.type === 'counter64' ? WRAP64 : undefined;
    const perSec = ctx.rates.update(`${ctx.device}|${group.name}|${rowKey}|${res.metric}`, raw.counter, ts, wrap);
    if (perSec !== undefined) metrics[res.rate.metric] = tidy(perSec * (res.rate.scale ?? 1));
  }
}

async function pollScalars(ctx: Ctx, session: Session, group: PollGroup, now: () => number): Promise<Reading[]> {
  const metrics: Record<string, number | boolean | string> = {};
  const tags: Record<string, string> = {};
  let ts = now();
  for (let i = 0; i < group.resources.length; i += 32) {
    const chunk = group.resources.slice(i, i + 32);
    const vbs = await getAsync(session, chunk.map((r) => r.snmp!.oid!));
    ts = now();
    chunk.forEach((res, j) => {
      const vb = vbs[j];
      if (!vb || vb.oid !== res.snmp!.oid) {
        ctx.result.skipped++;
        ctx.error(`${group.name}.${res.metric}: no answer for ${res.snmp!.oid}`);
        return;
      }
      apply(ctx, group, '', res, vb, ts, metrics, tags);
    });
  }
  if (Object.keys(metrics).length === 0) return [];
  return [{ device: ctx.device, ts, measurement: group.measurement, ...(Object.keys(tags).length ? { tags } : {}), metrics }];
}

/**
 * For index parts with a `lookup`: number → text from the other table's column (one walk each per
 * poll). A device without that table, or an unreadable value, leaves the number as the tag.
 */
async function walkLookups(ctx: Ctx, session: Session, group: PollGroup, maxRepetitions: number): Promise<Map<string, Map<string, string>>> {
  const lookups = new Map<string, Map<string, string>>();
  for (const part of group.index ?? []) {
    if (!part.lookup || part.skip) continue;
    const texts = new Map<string, string>();
    try {
      const { rows } = await walkColumn(session, part.lookup.column, group.maxRows ?? DEFAULT_MAX_ROWS, maxRepetitions);
      for (const [suffix, vb] of rows) {
        const raw = snmp.isVarbindError(vb) ? 'error' : rawValue(vb, part.lookup.type);
        if (typeof raw === 'string') {
          ctx.error(`${group.name}: ${part.name} ${suffix} lookup: ${raw}`);
          continue;
        }
        const text = String(raw.value).slice(0, 256);
        if (text) texts.set(suffix, text);
      }
    } catch (err) {
      ctx.error(`${group.name}: ${part.name} lookup: ${(err as Error).message}`);
    }
    lookups.set(part.name, texts);
  }
  return lookups;
}

async function pollTable(ctx: Ctx, session: Session, group: PollGroup, now: () => number, maxRepetitions: number): Promise<{ readings: Reading[]; answered: boolean }> {
  const maxRows = group.maxRows ?? DEFAULT_MAX_ROWS;
  // each column keeps the time its walk ended: rates use it, not the end of the whole table
  const columns = new Map<Resource, { rows: Map<string, Varbind>; at: number }>();
  let answered = false;
  let lastError: Error | undefined;
  for (const res of group.resources) {
    try {
      const { rows, truncated } = await walkColumn(session, res.snmp!.column!, maxRows, maxRepetitions);
      answered = true;
      if (truncated) ctx.error(`${group.name}.${res.metric}: more than ${maxRows} rows, rest ignored`);
      columns.set(res, { rows, at: now() });
    } catch (err) {
      // one unreadable column must not lose the others
      lastError = err as Error;
      ctx.error(`${group.name}.${res.metric}: ${(err as Error).message}`);
    }
  }
  if (!answered && lastError) throw lastError;
  const lookups = await walkLookups(ctx, session, group, maxRepetitions);
  const ts = now();
  const keys = new Set<string>();
  for (const { rows } of columns.values()) for (const k of rows.keys()) keys.add(k);
  const readings: Reading[] = [];
  const rowMetrics: Array<Record<string, number | boolean | string>> = [];
  for (const key of [...keys].sort((a, b) => (oidAfter(a, b) ? 1 : -1))) {
    const indexTags = decodeIndex(key, group.index!);
    if (!indexTags) {
      ctx.result.skipped++;
      ctx.error(`${group.name}: row index ${key.slice(0, 80)} does not decode as ${group.index!.map((p) => p.type).join('.')}`);
      continue;
    }
    for (const [name, texts] of lookups) {
      const text = texts.get(indexTags[name] ?? '');
      if (text) indexTags[name] = text;
    }
    const metrics: Record<string, number | boolean | string> = {};
    const tags: Record<string, string> = { ...indexTags };
    for (const [res, { rows, at }] of columns) {
      const vb = rows.get(key);
      if (vb) apply(ctx, group, key, res, vb, at, metrics, tags);
    }
    rowMetrics.push(metrics);
    if (Object.keys(metrics).length === 0) continue;
    const tagEntries = Object.entries(tags).slice(0, MAX_TAGS);
    readings.push({ device: ctx.device, ts, measurement: group.measurement, tags: Object.fromEntries(tagEntries), metrics: Object.fromEntries(Object.entries(metrics).slice(0, MAX_METRICS)) });
  }
  if (group.summary) {
    const s: Record<string, number> = {};
    if (group.summary.rows) s[group.summary.rows] = rowMetrics.length;
    for (const [name, c] of Object.entries(group.summary.count ?? {})) s[name] = rowMetrics.filter((m) => m[c.metric] === c.equals).length;
    if (Object.keys(s).length > 0) readings.push({ device: ctx.device, ts, measurement: group.summary.measurement, metrics: s });
  }
  return { readings, answered };
}

export async function pollSnmpProfile(profile: ResolvedProfile, session: Session, opts: SnmpPollOptions): Promise<SnmpPollResult> {
  const now = opts.now ?? Date.now;
  const result: SnmpPollResult = { device: opts.device, reachable: false, readings: [], skipped: 0, errors: [] };
  const ctx: Ctx = {
    device: opts.device,
    rates: opts.rates,
    result,
    error: (msg) => {
      if (result.errors.length < MAX_ERRORS) result.errors.push(msg);
      else if (result.errors.length === MAX_ERRORS) result.errors.push('… more errors not shown');
    },
  };
  if (profile.protocol !== 'snmp') {
    result.errors.push(`profile ${profile.id} is ${profile.protocol}, not snmp`);
    return result;
  }
  const groups = profile.poll.filter((g) => !opts.groups || opts.groups.includes(g.name));
  let attempted = 0;
  let failed = 0;
  for (const group of groups) {
    attempted++;
    try {
      if (group.index) {
        const { readings } = await pollTable(ctx, session, group, now, opts.maxRepetitions ?? 20);
        result.readings.push(...readings);
      } else {
        result.readings.push(...(await pollScalars(ctx, session, group, now)));
      }
    } catch (err) {
      failed++;
      ctx.error(`${group.name}: ${(err as Error).message}`);
      // a timeout on the first group of a silent device would repeat for every group: stop early
      if (failed === attempted && /timed? ?out/i.test((err as Error).message)) break;
    }
  }
  if (attempted === 0) return result; // nothing was due: no verdict on reachability
  result.reachable = failed < attempted;
  result.readings.unshift({ device: opts.device, ts: now(), measurement: 'device', metrics: { reachable: result.reachable } });
  return result;
}
