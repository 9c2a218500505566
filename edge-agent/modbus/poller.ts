/**
 * Polls one Modbus TCP unit by a register map and turns the answers into protocol Readings.
 * Values are read in as few requests as the map allows; when a block is refused with an exception
 * (one unmapped register inside it), its values are read one by one so the rest still come in.
 * Every value is decoded by its type, then converted as every profile value is (`convert` in
 * device-profiles/engine/decode.ts: enum on the raw value, else scale/offset; then bounds); a bad
 * one is skipped and counted, never thrown. A unit that does not answer yields
 * `device {reachable: false}` so the centre can tell "offline" from "silent register".
 */
import type { Reading } from '../../protocol/index.ts';
import { convert } from '../../device-profiles/engine/decode.ts';
import { ModbusConnection, ModbusError } from './client.ts';
import { addressProblem, decode, planBlocks, width, type RegisterAddress } from './registers.ts';
import type { AllowHost } from '../http/targets.ts';

export interface ModbusPoint extends RegisterAddress {
  measurement: string;
  metric: string;
  /** numbers without an enum: value = raw × scale + offset */
  scale?: number;
  offset?: number;
  /** raw value (as text) → emitted value, sent as written; a raw value not listed is skipped */
  enum?: Record<string, number | boolean | string>;
  /** plausibility bounds of the value sent (after scaling) */
  min?: number;
  max?: number;
}

export interface ModbusPollTarget {
  /** agent-local device id */
  id: string;
  host: string;
  port: number;
  unitId: number;
  points: ModbusPoint[];
  /** per request (default 2000) */
  timeoutMs?: number;
  /** join reads across gaps of up to this many registers (default 4) */
  maxGap?: number;
}

export interface ModbusPollResult {
  device: string;
  reachable: boolean;
  readings: Reading[];
  /** values skipped as invalid (exception, undecodable, out of bounds, not in the enum) */
  skipped: number;
  errors: string[];
}

export async function pollModbusDevice(target: ModbusPollTarget, opts: { isAllowed?: AllowHost; now?: () => number } = {}): Promise<ModbusPollResult> {
  const now = opts.now ?? Date.now;
  const result: ModbusPollResult = { device: target.id, reachable: false, readings: [], skipped: 0, errors: [] };
  const unreachable = (why: string): ModbusPollResult => {
    result.errors.push(why);
    result.readings.unshift({ device: target.id, ts: now(), measurement: 'device', metrics: { reachable: false } });
    return result;
  };
  if (opts.isAllowed && !opts.isAllowed(target.host)) return unreachable(`${target.host} is not allowed by the allow-list; nothing was sent`);

  // a point whose address makes no sense is skipped before anything is sent
  const points: ModbusPoint[] = [];
  for (const p of target.points) {
    const problem = addressProblem(p);
    if (problem) {
      result.skipped++;
      result.errors.push(`${p.metric}: ${problem}`);
    } else points.push(p);
  }

  const timeoutMs = target.timeoutMs ?? 2000;
  let conn: ModbusConnection;
  try {
    conn = await ModbusConnection.open(target.host, target.port, timeoutMs);
  } catch (err) {
    return unreachable((err as Error).message);
  }
  const words = new Map<number, number[]>(); // point index → its words
  let silent = false;
  try {
    const readOne = async (i: number): Promise<void> => {
      const p = points[i]!;
      try {
        words.set(i, await conn.read(target.unitId, p.table ?? 'holding', p.address, width(p)));
        result.reachable = true;
      } catch (err) {
        if (!(err instanceof ModbusError)) throw err;
        if (err.kind === 'timeout' || err.kind === 'io') {
          silent = true;
          result.errors.push(err.message);
          return;
        }
        if (err.kind === 'exception') result.reachable = true;
        result.errors.push(`${p.metric}: ${err.message}`);
      }
    };
    for (const block of planBlocks(points, target.maxGap ?? 4)) {
      if (silent) break;
      try {
        const data = await conn.read(target.unitId, block.table, block.address, block.count);
        result.reachable = true;
        for (const i of block.members) {
          const p = points[i]!;
          const from = p.address - block.address;
          words.set(i, data.slice(from, from + width(p)));
        }
      } catch (err) {
        if (!(err instanceof ModbusError)) throw err;
        if (err.kind === 'timeout' || err.kind === 'io') {
          // a unit that stopped answering will not answer the next request either
          silent = true;
          result.errors.push(err.message);
          break;
        }
        if (err.kind === 'exception') result.reachable = true;
        if (block.members.length === 1) {
          result.errors.push(`${points[block.members[0]!]!.metric}: ${err.message}`);
          continue;
        }
        // one bad register must not lose the block: read its values one at a time
        for (const i of block.members) {
          if (silent) break;
          await readOne(i);
        }
      }
    }
  } finally {
    await conn.close();
  }

  const ts = now();
  const byMeasurement = new Map<string, Record<string, number | boolean | string>>();
  points.forEach((p, i) => {
    const w = words.get(i);
    if (w === undefined) {
      // refused with an exception, or never asked because the unit went silent
      result.skipped++;
      return;
    }
    const raw = decode(w, p);
    if (raw === undefined) {
      result.skipped++;
      result.errors.push(`${p.metric}: ${p.table ?? 'holding'} ${p.address} does not hold a valid ${p.type} (${w.map((x) => `0x${x.toString(16).padStart(4, '0')}`).join(' ')})`);
      return;
    }
    const c = convert(p, raw, `${p.table ?? 'holding'} ${p.address} (${p.metric})`);
    if (!c.ok) {
      result.skipped++;
      result.errors.push(c.error);
      return;
    }
    const m = byMeasurement.get(p.measurement) ?? {};
    m[p.metric] = c.value;
    byMeasurement.set(p.measurement, m);
  });
  result.readings.push({ device: target.id, ts, measurement: 'device', metrics: { reachable: result.reachable } });
  for (const [measurement, metrics] of byMeasurement) result.readings.push({ device: target.id, ts, measurement, metrics });
  return result;
}
