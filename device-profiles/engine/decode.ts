/**
 * Small shared decoders: Modbus register words → values (used by Modbus matching and polling),
 * enum/scale/offset/bounds (`convert`: the SNMP engine and the Modbus and HTTP pollers all use it).
 */
import type { Resource } from '../schema.ts';

export type ModbusType = 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'bool' | 'string';
export type ByteOrder = 'ABCD' | 'CDAB' | 'BADC' | 'DCBA';

/** How many registers (or coils) a value of this type occupies. */
export function registerCount(type: ModbusType, count?: number): number {
  if (type === 'string') return count ?? 1;
  return type === 'uint32' || type === 'int32' || type === 'float32' ? 2 : 1;
}

/** Bytes of two registers in wire order (A B C D = first register hi, lo, second hi, lo), reordered. */
function orderedBytes(words: number[], order: ByteOrder): Buffer {
  const wire = Buffer.alloc(4);
  wire.writeUInt16BE(words[0]! & 0xffff, 0);
  wire.writeUInt16BE(words[1]! & 0xffff, 2);
  const [a, b, c, d] = [wire[0]!, wire[1]!, wire[2]!, wire[3]!];
  // the device sends the value's bytes in `order`; put them back into ABCD (big-endian)
  const map: Record<ByteOrder, number[]> = { ABCD: [a, b, c, d], CDAB: [c, d, a, b], BADC: [b, a, d, c], DCBA: [d, c, b, a] };
  return Buffer.from(map[order]);
}

/**
 * Decodes register words (0..65535 each; coils/discrete inputs as 0/1) into a value.
 * Returns undefined when there are too few words or a word is not a 16-bit integer.
 */
export function decodeRegisters(words: readonly number[], type: ModbusType, opts: { byteOrder?: ByteOrder; bit?: number; count?: number } = {}): number | boolean | string | undefined {
  const need = registerCount(type, opts.count);
  if (words.length < need) return undefined;
  const w = words.slice(0, need);
  if (w.some((x) => !Number.isInteger(x) || x < 0 || x > 0xffff)) return undefined;
  switch (type) {
    case 'uint16':
      return w[0]!;
    case 'int16':
      return w[0]! >= 0x8000 ? w[0]! - 0x10000 : w[0]!;
    case 'bool':
      return opts.bit === undefined ? w[0]! !== 0 : ((w[0]! >> opts.bit) & 1) === 1;
    case 'uint32':
      return orderedBytes(w, opts.byteOrder ?? 'ABCD').readUInt32BE(0);
    case 'int32':
      return orderedBytes(w, opts.byteOrder ?? 'ABCD').readInt32BE(0);
    case 'float32': {
      const f = orderedBytes(w, opts.byteOrder ?? 'ABCD').readFloatBE(0);
      return Number.isFinite(f) ? f : undefined;
    }
    case 'string': {
      const buf = Buffer.alloc(need * 2);
      w.forEach((x, i) => buf.writeUInt16BE(x, i * 2));
      // eslint-disable-next-line no-control-regex
      return buf.toString('latin1').replace(/[\u0000-\u001f\u007f-\u00ff]/g, '').trim();
    }
  }
}

/** Rounds away float noise from scaling (0.1 × 235 = 23.500000000000004). */
export function tidy(n: number): number {
  return Number.isInteger(n) ? n : Number(n.toPrecision(12));
}

export type Converted = { ok: true; value: number | boolean | string } | { ok: false; error: string };

/** What convert() reads of a resource: a profile resource, a Modbus point and an HTTP metric spec all have it. */
export type Conversion = Pick<Resource, 'metric' | 'scale' | 'offset' | 'enum' | 'min' | 'max'>;

/**
 * A raw device value → the value sent, the same for every protocol:
 *   1. `enum`, keyed by the raw value (a MIB enumeration, a register code, a JSON text: what the
 *      device sends, as the profile author reads it in the manual): the listed value is sent as
 *      written, never scaled; a raw value not listed is refused;
 *   2. otherwise a number becomes raw × scale + offset;
 *   3. `min`/`max` bound the number that would be sent (so in the scaled units).
 * `where` starts the error text (default: the metric).
 */
export function convert(resource: Conversion, raw: number | boolean | string, where: string = resource.metric): Converted {
  let value: number | boolean | string = raw;
  if (typeof raw === 'number' && !Number.isFinite(raw)) return { ok: false, error: `${where}: not a finite number` };
  if (resource.enum) {
    const key = String(raw);
    // own keys only: a raw "constructor" or "toString" must not find Object.prototype's
    if (!Object.hasOwn(resource.enum, key)) return { ok: false, error: `${where}: value ${JSON.stringify(raw)} is not in the profile's enum (${Object.keys(resource.enum).slice(0, 16).join(', ')})` };
    value = resource.enum[key]!;
  } else if (typeof value === 'number' && (resource.scale !== undefined || resource.offset !== undefined)) {
    value = tidy(value * (resource.scale ?? 1) + (resource.offset ?? 0));
  }
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return { ok: false, error: `${where}: not a finite number` };
    if (resource.min !== undefined && value < resource.min) return { ok: false, error: `${where}: ${value} below plausible minimum ${resource.min}` };
    if (resource.max !== undefined && value > resource.max) return { ok: false, error: `${where}: ${value} above plausible maximum ${resource.max}` };
  }
  if (typeof value === 'string' && value.length > 1024) value = value.slice(0, 1024);
  return { ok: true, value };
}
