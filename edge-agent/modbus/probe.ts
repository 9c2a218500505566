/**
 * Modbus TCP discovery: for every configured host:port and unit id, read the identification
 * registers the device profiles name (and FC43/14 Read Device Identification where the device
 * offers it), and return a fingerprint — or a clear error for that unit (the exception code by
 * number and name, a timeout) — going on with the rest.
 *
 * Hosts, ports and unit ids come only from the caller's configuration, and nothing is sent to a
 * host the caller's allow-list refuses (DESIGN.md "Network safety").
 */
import type { DiscoveredDevice } from '../../protocol/index.ts';
import { DEFAULT_MAX_TARGETS, discoveredDeviceId, expandTargets, formatHostPort, mapLimit, type AllowHost } from '../http/targets.ts';
import { ModbusConnection, ModbusError, type ModbusErrorKind } from './client.ts';
import { addressProblem, decode, planBlocks, width, type ModbusTable, type RegisterAddress } from './registers.ts';

/** An identification read; `as` names a string that holds the vendor, model, serial or firmware. */
export interface IdentRead extends RegisterAddress {
  as?: 'vendor' | 'model' | 'serial' | 'firmware';
}

export interface ModbusProbeTargets {
  /** addresses, IPv4 ranges (a.b.c.d-e) or CIDR blocks */
  hosts: string[];
  /** ports or ranges; Modbus TCP is usually 502 */
  ports: Array<number | string>;
  /** unit ids to try at each host:port (1..247, or 0/255 for "the gateway itself") */
  unitIds: number[];
}

export interface ModbusProbeOptions {
  targets: ModbusProbeTargets[];
  /** required: no packet goes to a host this refuses */
  isAllowed: AllowHost;
  /** registers to read from every unit (the union of the profiles' identification registers) */
  identify: IdentRead[];
  /** also try FC43/14 Read Device Identification (default true) */
  readDeviceId?: boolean;
  /** per request (default 2000) */
  timeoutMs?: number;
  /** host:port connections at once (default 8) */
  concurrency?: number;
  /** bound on hosts × ports (default 4096) */
  maxTargets?: number;
}

export interface ModbusFingerprint {
  unitId: number;
  vendor?: string;
  model?: string;
  serial?: string;
  firmware?: string;
  /** FC43/14 objects by name (vendorName, productCode, revision, productName, modelName, …) */
  deviceId?: Record<string, string>;
  /** raw words (coils/discrete inputs as 0/1) by table and zero-based address */
  registers: Partial<Record<ModbusTable, Record<number, number>>>;
  /** identification reads the unit refused, with the reason (when others succeeded) */
  errors: string[];
}

interface Base {
  host: string;
  port: number;
  unitId: number;
  address: string;
}
export type ModbusProbeResult =
  | (Base & { status: 'found'; fingerprint: ModbusFingerprint })
  | (Base & { status: 'error'; reason: ModbusErrorKind; error: string; exceptionCode?: number })
  | (Base & { status: 'not-allowed'; error: string });

export interface ModbusProbeReport {
  /** one entry per host:port:unit, except where nothing listened on the port */
  results: ModbusProbeResult[];
  /** host:port targets that refused the TCP connection (nothing listening) */
  absent: number;
  scanned: number;
}

const VALID_UNIT = (u: number): boolean => Number.isInteger(u) && u >= 0 && u <= 255;

async function probeUnit(conn: ModbusConnection, unitId: number, reads: IdentRead[], readDeviceId: boolean): Promise<{ fp?: ModbusFingerprint; error?: ModbusError }> {
  const fp: ModbusFingerprint = { unitId, registers: {}, errors: [] };
  let answered = false;
  let firstFailure: ModbusError | undefined;
  const store = (table: ModbusTable, address: number, words: number[]): void => {
    const t = (fp.registers[table] ??= {});
    words.forEach((w, k) => (t[address + k] = w));
  };
  const note = (err: ModbusError): void => {
    firstFailure ??= err;
    fp.errors.push(err.message);
  };

  for (const block of planBlocks(reads, 4)) {
    try {
      store(block.table, block.address, await conn.read(unitId, block.table, block.address, block.count));
      answered = true;
    } catch (err) {
      if (!(err instanceof ModbusError)) throw err;
      // silence: this unit is not there (or hung); asking it more only costs time
      if (err.kind === 'timeout' || err.kind === 'io') return { error: err };
      if (err.kind === 'exception') answered = true;
      if (block.members.length === 1) {
        note(err);
        continue;
      }
      for (const i of block.members) {
        const r = reads[i]!;
        try {
          store(r.table ?? 'holding', r.address, await conn.read(unitId, r.table ?? 'holding', r.address, width(r)));
        } catch (e) {
          if (!(e instanceof ModbusError)) throw e;
          if (e.kind === 'timeout' || e.kind === 'io') return { error: e };
          note(e);
        }
      }
    }
  }
  // a register answered is what identifies a unit; an exception alone only says someone is there
  const gotRegisters = Object.keys(fp.registers).length > 0;
  for (const r of reads) {
    if (!r.as) continue;
    const words = fp.registers[r.table ?? 'holding'];
    if (!words) continue;
    const w = Array.from({ length: width(r) }, (_, k) => words[r.address + k]);
    if (w.some((x) => x === undefined)) continue;
    const v = decode(w as number[], r);
    if (v !== undefined && v !== '') fp[r.as] = String(v);
  }

  if (readDeviceId) {
    try {
      const id = await conn.deviceIdentification(unitId);
      if (Object.keys(id).length > 0) {
        fp.deviceId = id;
        fp.vendor ??= id.vendorName;
        fp.model ??= id.modelName ?? id.productCode ?? id.productName;
        fp.firmware ??= id.revision;
      }
      answered = true;
    } catch (err) {
      if (!(err instanceof ModbusError)) throw err;
      if (err.kind === 'exception') {
        answered = true;
        // Illegal Function: the device simply does not offer FC43, which is common and fine
        if (err.exceptionCode !== 1) note(err);
      } else if (reads.length === 0) {
        // FC43 was the only question and nobody answered it
        return { error: err };
      }
      // else: many devices drop FC43 silently; the register reads already said whether it is there
    }
  }
  if (gotRegisters || fp.deviceId) return { fp };
  if (firstFailure) return { error: firstFailure };
  if (!answered) return { error: new ModbusError('timeout', `unit ${unitId}: no answer`) };
  // nothing asked (no identify reads) and no FC43: it answered, but with nothing to show
  return { fp };
}

export async function probeModbus(opts: ModbusProbeOptions): Promise<ModbusProbeReport> {
  if (typeof opts.isAllowed !== 'function') throw new Error('probeModbus needs an isAllowed check');
  for (const r of opts.identify) {
    const problem = addressProblem(r);
    if (problem) throw new Error(`identification register ${r.table ?? 'holding'} ${r.address}: ${problem}`);
  }
  const readDeviceId = opts.readDeviceId ?? true;
  if (opts.identify.length === 0 && !readDeviceId) throw new Error('probeModbus needs identification registers or readDeviceId');
  const timeoutMs = opts.timeoutMs ?? 2000;
  const max = opts.maxTargets ?? DEFAULT_MAX_TARGETS;

  // host:port → unit ids, in configuration order
  const jobs = new Map<string, { host: string; port: number; unitIds: number[] }>();
  let count = 0;
  for (const t of opts.targets) {
    const bad = t.unitIds.find((u) => !VALID_UNIT(u));
    if (bad !== undefined) throw new Error(`unit id ${bad} is not 0..255`);
    if (t.unitIds.length === 0) throw new Error('every probe target needs at least one unit id');
    for (const { host, port } of expandTargets(t.hosts, t.ports, max)) {
      const key = formatHostPort(host, port);
      const job = jobs.get(key) ?? { host, port, unitIds: [] };
      if (!jobs.has(key) && ++count > max) throw new Error(`more than ${max} host:port targets`);
      for (const u of t.unitIds) if (!job.unitIds.includes(u)) job.unitIds.push(u);
      jobs.set(key, job);
    }
  }

  const perJob = await mapLimit([...jobs.values()], opts.concurrency ?? 8, async ({ host, port, unitIds }): Promise<ModbusProbeResult[] | 'absent'> => {
    const address = formatHostPort(host, port);
    if (!opts.isAllowed(host)) {
      return unitIds.map((unitId) => ({ host, port, unitId, address, status: 'not-allowed' as const, error: `${host} is not allowed by the probe allow-list; nothing was sent` }));
    }
    const failAll = (err: ModbusError): ModbusProbeResult[] =>
      unitIds.map((unitId) => ({ host, port, unitId, address, status: 'error' as const, reason: err.kind, error: `${address}: ${err.message}` }));
    let conn: ModbusConnection;
    try {
      conn = await ModbusConnection.open(host, port, timeoutMs);
    } catch (err) {
      if (err instanceof ModbusError && err.kind === 'refused') return 'absent';
      return failAll(err instanceof ModbusError ? err : new ModbusError('io', (err as Error).message));
    }
    const out: ModbusProbeResult[] = [];
    try {
      for (const unitId of unitIds) {
        try {
          const { fp, error } = await probeUnit(conn, unitId, opts.identify, readDeviceId);
          if (fp) out.push({ host, port, unitId, address, status: 'found', fingerprint: fp });
          else if (error) {
            out.push({
              host,
              port,
              unitId,
              address,
              status: 'error',
              reason: error.kind,
              error: `${address}: ${error.message}`,
              ...(error.exceptionCode !== undefined ? { exceptionCode: error.exceptionCode } : {}),
            });
          }
        } catch (err) {
          out.push({ host, port, unitId, address, status: 'error', reason: 'io', error: `${address} unit ${unitId}: ${(err as Error).message}` });
        }
      }
    } finally {
      await conn.close();
    }
    return out;
  });
  const results = perJob.flatMap((r) => (r === 'absent' ? [] : r));
  return { results, absent: perJob.filter((r) => r === 'absent').length, scanned: jobs.size };
}

/** The discovery-channel record for a found unit (errors are the caller's to log). */
export function modbusResultToDiscovered(r: ModbusProbeResult, kind: DiscoveredDevice['kind'] = 'unknown', profile?: string): DiscoveredDevice | undefined {
  if (r.status !== 'found') return undefined;
  const fp = r.fingerprint;
  const attributes: DiscoveredDevice['attributes'] = { unitId: fp.unitId };
  for (const k of ['vendor', 'model', 'serial', 'firmware'] as const) if (fp[k]) attributes[k] = fp[k]!.slice(0, 256);
  return { device: discoveredDeviceId('modbus', r.host, r.port, r.unitId), kind, protocol: 'modbus', address: r.address, ...(profile ? { profile } : {}), attributes };
}
