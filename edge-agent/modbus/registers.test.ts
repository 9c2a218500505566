import { describe, expect, it } from 'vitest';
import { addressProblem, decode, encodeString, planBlocks } from './registers.ts';

describe('Modbus register decoding', () => {
  it('decodes 16-bit values, signed and unsigned, and bits of a status word', () => {
    expect(decode([0xffec], { address: 0, type: 'int16' })).toBe(-20);
    expect(decode([0xffec], { address: 0, type: 'uint16' })).toBe(0xffec);
    expect(decode([0x0005], { address: 0, type: 'bool', bit: 0 })).toBe(true);
    expect(decode([0x0005], { address: 0, type: 'bool', bit: 1 })).toBe(false);
    expect(decode([0x0005], { address: 0, type: 'bool', bit: 2 })).toBe(true);
    // BADC swaps the bytes of a 16-bit word too
    expect(decode([0x3412], { address: 0, type: 'uint16', byteOrder: 'BADC' })).toBe(0x1234);
  });

  it('decodes 32-bit values in every byte order', () => {
    const n = 0x12345678;
    expect(decode([0x1234, 0x5678], { address: 0, type: 'uint32' })).toBe(n);
    expect(decode([0x5678, 0x1234], { address: 0, type: 'uint32', byteOrder: 'CDAB' })).toBe(n);
    expect(decode([0x3412, 0x7856], { address: 0, type: 'uint32', byteOrder: 'BADC' })).toBe(n);
    expect(decode([0x7856, 0x3412], { address: 0, type: 'uint32', byteOrder: 'DCBA' })).toBe(n);
    expect(decode([0xffff, 0xfffe], { address: 0, type: 'int32' })).toBe(-2);
    const f = Buffer.alloc(4);
    f.writeFloatBE(49.75);
    expect(decode([f.readUInt16BE(0), f.readUInt16BE(2)], { address: 0, type: 'float32' })).toBe(49.75);
    expect(decode([f.readUInt16BE(2), f.readUInt16BE(0)], { address: 0, type: 'float32', byteOrder: 'CDAB' })).toBe(49.75);
  });

  it('refuses what cannot be a value: NaN floats, wrong word counts, unprintable strings, bits above 1', () => {
    expect(decode([0x7fc0, 0x0000], { address: 0, type: 'float32' })).toBeUndefined();
    expect(decode([0x7f80, 0x0000], { address: 0, type: 'float32' })).toBeUndefined();
    expect(decode([1], { address: 0, type: 'uint32' })).toBeUndefined();
    expect(decode([0x0102, 0x0304], { address: 0, type: 'string', count: 2 })).toBeUndefined();
    expect(decode([0x10000], { address: 0, type: 'uint16' })).toBeUndefined();
    expect(decode([2], { table: 'coil', address: 0, type: 'bool' })).toBeUndefined();
  });

  it('round-trips ASCII strings, NUL padding removed', () => {
    expect(decode(encodeString('UPS-3KVA', 4), { address: 0, type: 'string', count: 4 })).toBe('UPS-3KVA');
    expect(decode(encodeString('Sim', 4), { address: 0, type: 'string', count: 4 })).toBe('Sim');
  });

  it('finds bad addresses before anything is sent', () => {
    expect(addressProblem({ address: 70000, type: 'uint16' })).toMatch(/not 0\.\.65535/);
    expect(addressProblem({ address: 65535, type: 'uint32' })).toMatch(/runs past/);
    expect(addressProblem({ table: 'coil', address: 0, type: 'uint16' })).toMatch(/bool/);
    expect(addressProblem({ address: 0, type: 'string' })).toMatch(/count/);
    expect(addressProblem({ table: 'input', address: 5, type: 'bool', bit: 3 })).toBeUndefined();
  });
});

describe('read planning', () => {
  it('joins neighbours of one table into few requests, within the gap and the protocol limit', () => {
    const blocks = planBlocks([
      { table: 'input', address: 0, type: 'uint16' },
      { table: 'input', address: 5, type: 'bool', bit: 0 },
      { table: 'input', address: 5, type: 'bool', bit: 1 },
      { table: 'input', address: 8, type: 'float32' },
      { table: 'input', address: 100, type: 'uint16' },
      { table: 'holding', address: 0, type: 'string', count: 4 },
      { table: 'input', address: 200, type: 'uint16' },
      { table: 'input', address: 320, type: 'uint16' },
    ]);
    expect(blocks.map((b) => [b.table, b.address, b.count, b.members])).toEqual([
      ['holding', 0, 4, [5]],
      ['input', 0, 10, [0, 1, 2, 3]],
      ['input', 100, 1, [4]],
      ['input', 200, 1, [6]],
      ['input', 320, 1, [7]],
    ]);
    const wide = planBlocks(Array.from({ length: 130 }, (_, i) => ({ table: 'holding' as const, address: i, type: 'uint16' as const })));
    expect(wide.map((b) => b.count)).toEqual([125, 5]);
  });
});
