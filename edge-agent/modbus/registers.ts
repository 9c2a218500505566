/**
 * Modbus register maps: where a value lives (table, zero-based address as sent on the wire, type,
 * byte order, bit), how many registers it takes, how to decode the words a device returned, and
 * how to group many values into few requests. The field names follow the device-profile schema
 * (`device-profiles/schema.ts`, ModbusAddress) so a profile's resources can be passed through.
 */

export type ModbusTable = 'holding' | 'input' | 'coil' | 'discrete';
export type ModbusValueType = 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'bool' | 'string';
/**
 * Byte order of 32-bit values (A = most significant byte). ABCD = big-endian, high word first;
 * CDAB = low word first ("word swap", common on meters); BADC and DCBA swap the bytes in each word.
 * For 16-bit values only the byte swap matters (BADC/DCBA).
 */
export type ByteOrder = 'ABCD' | 'CDAB' | 'BADC' | 'DCBA';

export interface RegisterAddress {
  /** default holding */
  table?: ModbusTable;
  /** zero-based address as sent on the wire (0..65535) */
  address: number;
  type: ModbusValueType;
  /** registers, for type string (2 ASCII characters each) */
  count?: number;
  byteOrder?: ByteOrder;
  /** for bool on a register table: which bit (0 = least significant) */
  bit?: number;
}

/** Most registers one read request may ask for (spec: 125 for FC3/4) and most coils (2000). */
export const MAX_REGISTERS_PER_READ = 125;
export const MAX_BITS_PER_READ = 2000;

export const isBitTable = (t: ModbusTable): boolean => t === 'coil' || t === 'discrete';

/** How many registers (or coils) a value takes. */
export function width(a: RegisterAddress): number {
  if (isBitTable(a.table ?? 'holding')) return 1;
  switch (a.type) {
    case 'uint32':
    case 'int32':
    case 'float32':
      return 2;
    case 'string':
      return a.count ?? 1;
    default:
      return 1;
  }
}

/** A reason the address itself is unusable (checked before anything is sent), or undefined. */
export function addressProblem(a: RegisterAddress): string | undefined {
  const table = a.table ?? 'holding';
  if (!['holding', 'input', 'coil', 'discrete'].includes(table)) return `unknown table ${String(table)}`;
  if (!Number.isInteger(a.address) || a.address < 0 || a.address > 65535) return `address ${a.address} is not 0..65535`;
  if (!['uint16', 'int16', 'uint32', 'int32', 'float32', 'bool', 'string'].includes(a.type)) return `unknown type ${String(a.type)}`;
  if (isBitTable(table) && a.type !== 'bool') return `${table} values are bool, not ${a.type}`;
  if (a.type === 'string' && (!Number.isInteger(a.count) || a.count! < 1 || a.count! > 64)) return 'a string needs count 1..64';
  if (a.bit !== undefined && (!Number.isInteger(a.bit) || a.bit < 0 || a.bit > 15)) return `bit ${a.bit} is not 0..15`;
  if (a.address + width(a) - 1 > 65535) return `address ${a.address} + ${width(a)} registers runs past 65535`;
  return undefined;
}

const bytesOf = (words: readonly number[]): number[] => words.flatMap((w) => [(w >> 8) & 0xff, w & 0xff]);

function ordered(bytes: number[], order: ByteOrder): number[] {
  const [a, b, c, d] = bytes as [number, number, number, number];
  switch (order) {
    case 'ABCD':
      return [a, b, c, d];
    case 'CDAB':
      return [c, d, a, b];
    case 'BADC':
      return [b, a, d, c];
    case 'DCBA':
      return [d, c, b, a];
  }
}

/**
 * Decodes the words (or 0/1 bits) read for one value. Undefined: the words do not make a valid
 * value (wrong count, out-of-range word, NaN/Infinity float, unprintable string).
 */
export function decode(words: readonly number[], a: RegisterAddress): number | boolean | string | undefined {
  const table = a.table ?? 'holding';
  if (words.length !== width(a)) return undefined;
  if (!words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff)) return undefined;
  if (isBitTable(table)) return words[0]! > 1 ? undefined : words[0] === 1;
  const order = a.byteOrder ?? 'ABCD';
  const swap16 = order === 'BADC' || order === 'DCBA';
  const w16 = swap16 ? ((words[0]! & 0xff) << 8) | (words[0]! >> 8) : words[0]!;
  switch (a.type) {
    case 'uint16':
      return w16;
    case 'int16':
      return w16 >= 0x8000 ? w16 - 0x10000 : w16;
    case 'bool':
      return ((w16 >> (a.bit ?? 0)) & 1) === 1;
    case 'uint32':
    case 'int32':
    case 'float32': {
      const buf = Buffer.from(ordered(bytesOf(words), order));
      if (a.type === 'uint32') return buf.readUInt32BE(0);
      if (a.type === 'int32') return buf.readInt32BE(0);
      const f = buf.readFloatBE(0);
      return Number.isFinite(f) ? Number(f.toPrecision(7)) : undefined;
    }
    case 'string': {
      let bytes = bytesOf(words);
      if (swap16) bytes = words.flatMap((w) => [w & 0xff, (w >> 8) & 0xff]);
      const end = bytes.indexOf(0);
      const text = String.fromCharCode(...(end === -1 ? bytes : bytes.slice(0, end))).trim();
      // printable ASCII only: anything else means we are reading the wrong registers
      return /^[\x20-\x7e]*$/.test(text) ? text : undefined;
    }
  }
}

/** Encodes ASCII text into registers (2 characters each, high byte first, NUL-padded). For simulators and tests. */
export function encodeString(text: string, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(((text.charCodeAt(2 * i) || 0) << 8) | (text.charCodeAt(2 * i + 1) || 0));
  return out;
}

export interface Block {
  table: ModbusTable;
  address: number;
  count: number;
  /** indexes into the planned list of values this block covers */
  members: number[];
}

/**
 * Groups values into read requests: same table, ascending, joined across gaps of at most
 * `maxGap` registers, each request within the protocol limit. Values sharing registers (bits of
 * one status word) share a request.
 */
export function planBlocks(values: readonly RegisterAddress[], maxGap = 4): Block[] {
  const order = values.map((v, i) => ({ v, i, table: v.table ?? 'holding' })).sort((x, y) => (x.table === y.table ? x.v.address - y.v.address : x.table < y.table ? -1 : 1));
  const blocks: Block[] = [];
  let cur: Block | undefined;
  for (const { v, i, table } of order) {
    const start = v.address;
    const end = v.address + width(v); // exclusive
    const limit = isBitTable(table) ? MAX_BITS_PER_READ : MAX_REGISTERS_PER_READ;
    if (cur && cur.table === table && start <= cur.address + cur.count + maxGap && Math.max(end, cur.address + cur.count) - cur.address <= limit) {
      cur.count = Math.max(end, cur.address + cur.count) - cur.address;
      cur.members.push(i);
    } else {
      cur = { table, address: start, count: end - start, members: [i] };
      blocks.push(cur);
    }
  }
  return blocks;
}
