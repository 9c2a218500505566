/**
 * Recognising a device: each `match*` returns the most specific profile whose fingerprint fits, or
 * undefined (the agent then reports the device as `unknown` with its raw fingerprint, see
 * `unknownDevice`). Specificity: more criteria matched beats fewer; then the longer sysObjectID
 * prefix; then the deeper `extends` chain (a vendor profile over the generic one it extends); then
 * the id, so the answer never depends on file order. Probes that fail or answer garbage mean "no
 * match" for the profiles that needed them: matching never throws.
 */
import type { DiscoveredDevice } from '../protocol/index.ts';
import type { ResolvedProfile } from './loader.ts';
import type { ProfileProtocol } from './schema.ts';
import { decodeRegisters, registerCount } from './engine/decode.ts';

export interface SnmpFingerprint {
  sysObjectID?: string;
  sysDescr?: string;
}
export interface OnvifFingerprint {
  manufacturer?: string;
  model?: string;
}
/** Reads `count` words from one Modbus table of the device being probed (coils/discrete: 0/1). */
export type ReadRegisters = (req: { table: 'holding' | 'input' | 'coil' | 'discrete'; address: number; count: number }) => Promise<readonly number[]>;
export interface HttpAnswer {
  status: number;
  /** header names in any case */
  headers: Record<string, string>;
  body: string;
}
/** GET `path` on the device being probed (the caller bounds time and size). */
export type HttpProbe = (path: string) => Promise<HttpAnswer>;

const regexCache = new Map<string, RegExp>();
function re(pattern: string): RegExp {
  let r = regexCache.get(pattern);
  if (!r) {
    r = new RegExp(pattern, 'i');
    regexCache.set(pattern, r);
  }
  return r;
}
const anyMatches = (patterns: readonly string[], text: string | undefined): boolean => text !== undefined && patterns.some((p) => re(p).test(text));

function oidPrefixArcs(prefixes: readonly string[], oid: string | undefined): number {
  if (!oid) return -1;
  const clean = oid.replace(/^\./, '');
  let best = -1;
  for (const p of prefixes) if (clean === p || clean.startsWith(p + '.')) best = Math.max(best, p.split('.').length);
  return best;
}

function jsonPointer(doc: unknown, pointer: string): unknown {
  if (pointer === '') return doc;
  let cur: unknown = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur) && /^[0-9]+$/.test(key)) cur = cur[Number(key)];
    else if (cur !== null && typeof cur === 'object' && Object.prototype.hasOwnProperty.call(cur, key)) cur = (cur as Record<string, unknown>)[key];
    else return undefined;
  }
  return cur;
}
export { jsonPointer };

const score = (criteria: number, detail: number, p: ResolvedProfile): number => criteria * 1_000_000 + detail * 1000 + p.chain.length;

function best(candidates: Array<{ p: ResolvedProfile; s: number }>): ResolvedProfile | undefined {
  candidates.sort((a, b) => b.s - a.s || (a.p.id < b.p.id ? -1 : 1));
  return candidates[0]?.p;
}

export class ProfileRegistry {
  private readonly byId: Map<string, ResolvedProfile>;

  constructor(profiles: ResolvedProfile[]) {
    this.byId = new Map(profiles.map((p) => [p.id, p]));
  }

  get size(): number {
    return this.byId.size;
  }
  get(id: string): ResolvedProfile | undefined {
    return this.byId.get(id);
  }
  all(protocol?: ProfileProtocol): ResolvedProfile[] {
    return [...this.byId.values()].filter((p) => protocol === undefined || p.protocol === protocol);
  }

  matchSnmp(fp: SnmpFingerprint): ResolvedProfile | undefined {
    const out: Array<{ p: ResolvedProfile; s: number }> = [];
    for (const p of this.all('snmp')) {
      const m = p.match?.snmp;
      if (!m) continue;
      let criteria = 0;
      let arcs = 0;
      if (m.sysObjectID) {
        arcs = oidPrefixArcs(m.sysObjectID, fp.sysObjectID);
        if (arcs < 0) continue;
        criteria++;
      }
      if (m.sysDescr) {
        if (!anyMatches(m.sysDescr, fp.sysDescr)) continue;
        criteria++;
      }
      if (criteria > 0) out.push({ p, s: score(criteria, arcs, p) });
    }
    return best(out);
  }

  matchOnvif(fp: OnvifFingerprint): ResolvedProfile | undefined {
    const out: Array<{ p: ResolvedProfile; s: number }> = [];
    for (const p of this.all('onvif')) {
      const m = p.match?.onvif;
      if (!m || !anyMatches(m.manufacturer, fp.manufacturer ?? '')) continue;
      if (m.model && !anyMatches(m.model, fp.model ?? '')) continue;
      out.push({ p, s: score(m.model ? 2 : 1, 0, p) });
    }
    return best(out);
  }

  /** Reads each identification register a Modbus profile names (each read at most once per call). */
  async matchModbus(read: ReadRegisters): Promise<ResolvedProfile | undefined> {
    const cache = new Map<string, Promise<readonly number[] | undefined>>();
    const words = (table: 'holding' | 'input' | 'coil' | 'discrete', address: number, count: number): Promise<readonly number[] | undefined> => {
      const key = `${table}:${address}:${count}`;
      let pending = cache.get(key);
      if (!pending) {
        pending = (async () => {
          try {
            return await read({ table, address, count });
          } catch {
            return undefined;
          }
        })();
        cache.set(key, pending);
      }
      return pending;
    };
    const out: Array<{ p: ResolvedProfile; s: number }> = [];
    for (const p of this.all('modbus')) {
      const m = p.match?.modbus;
      if (!m) continue;
      let ok = true;
      for (const r of m.registers) {
        const w = await words(r.table ?? 'holding', r.address, registerCount(r.type, r.count));
        const v = w && decodeRegisters(w, r.type, { byteOrder: r.byteOrder, bit: r.bit, count: r.count });
        if (v === undefined || !registerHolds(r, v)) {
          ok = false;
          break;
        }
      }
      if (ok) out.push({ p, s: score(m.registers.length, 0, p) });
    }
    return best(out);
  }

  /** GETs each fingerprint path once and checks status, headers, body and JSON values. */
  async matchHttp(probe: HttpProbe): Promise<ResolvedProfile | undefined> {
    const cache = new Map<string, Promise<HttpAnswer | undefined>>();
    const get = (path: string): Promise<HttpAnswer | undefined> => {
      let pending = cache.get(path);
      if (!pending) {
        pending = (async () => {
          try {
            const a = await probe(path);
            return a && typeof a.status === 'number' && typeof a.body === 'string' ? a : undefined;
          } catch {
            return undefined;
          }
        })();
        cache.set(path, pending);
      }
      return pending;
    };
    const out: Array<{ p: ResolvedProfile; s: number }> = [];
    for (const p of this.all('http')) {
      const m = p.match?.http;
      if (!m) continue;
      const a = await get(m.path);
      if (!a || a.status !== (m.status ?? 200)) continue;
      let criteria = 1;
      const headers = new Map(Object.entries(a.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]));
      if (!Object.entries(m.headers ?? {}).every(([k, pattern]) => anyMatches([pattern], headers.get(k.toLowerCase())))) continue;
      criteria += Object.keys(m.headers ?? {}).length;
      if (m.body !== undefined) {
        if (!re(m.body).test(a.body)) continue;
        criteria++;
      }
      if (m.json) {
        let doc: unknown;
        try {
          doc = JSON.parse(a.body);
        } catch {
          continue;
        }
        const fits = Object.entries(m.json).every(([ptr, pattern]) => {
          const v = jsonPointer(doc, ptr);
          return (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') && re(pattern).test(String(v));
        });
        if (!fits) continue;
        criteria += Object.keys(m.json).length;
      }
      out.push({ p, s: score(criteria, 0, p) });
    }
    return best(out);
  }
}

function registerHolds(r: { equals?: number | string | boolean; pattern?: string; range?: [number, number] }, v: number | boolean | string): boolean {
  if (r.equals !== undefined && v !== r.equals) return false;
  if (r.pattern !== undefined && !(typeof v === 'string' && re(r.pattern).test(v))) return false;
  if (r.range !== undefined && !(typeof v === 'number' && v >= r.range[0] && v <= r.range[1])) return false;
  return true;
}

/**
 * What discovery reports for a device no profile recognised: kind `unknown` and the raw fingerprint
 * as attributes (bounded to what the protocol message accepts), so it is never dropped.
 */
export function unknownDevice(
  base: Pick<DiscoveredDevice, 'device' | 'protocol' | 'address'>,
  fingerprint: Record<string, string | number | boolean | undefined>,
): DiscoveredDevice {
  const attributes: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(fingerprint).slice(0, 64)) {
    if (v === undefined) continue;
    attributes[k.slice(0, 64)] = typeof v === 'string' ? v.slice(0, 1024) : v;
  }
  return { ...base, kind: 'unknown', attributes };
}
