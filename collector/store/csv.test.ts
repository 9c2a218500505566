import { describe, expect, it } from 'vitest';
import { parseCsv } from './csv.ts';

describe('parseCsv', () => {
  it('reads plain records with LF and CRLF line ends and skips blank lines', () => {
    const r = parseCsv('a,b,c\r\n1,2,3\n\n4,,6\n');
    expect(r.errors).toEqual([]);
    expect(r.records).toEqual([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['1', '2', '3'] },
      { line: 4, fields: ['4', '', '6'] },
    ]);
  });

  it('strips a UTF-8 BOM and keeps Chinese text', () => {
    const r = parseCsv('\uFEFFcode,name\n1,聊城市第一中学');
    expect(r.records[0]!.fields[0]).toBe('code');
    expect(r.records[1]!.fields[1]).toBe('聊城市第一中学');
  });

  it('handles quoted commas, doubled quotes and line breaks inside quotes, counting lines', () => {
    const r = parseCsv('x,y\n"a, b","say ""hi"""\n"line1\nline2",z\nlast,one');
    expect(r.errors).toEqual([]);
    expect(r.records).toEqual([
      { line: 1, fields: ['x', 'y'] },
      { line: 2, fields: ['a, b', 'say "hi"'] },
      { line: 3, fields: ['line1\nline2', 'z'] },
      { line: 5, fields: ['last', 'one'] },
    ]);
  });

  it('keeps a record of one quoted empty field and trailing empty fields', () => {
    const r = parseCsv('""\na,\n');
    expect(r.records).toEqual([
      { line: 1, fields: [''] },
      { line: 2, fields: ['a', ''] },
    ]);
  });

  it('reports a stray quote and text after a closing quote, and keeps the rows around them', () => {
    const r = parseCsv('a,b\nx"y,1\n"q"z,2\nok,3\n');
    expect(r.errors.map((e) => e.line)).toEqual([2, 3]);
    expect(r.errors[0]!.message).toMatch(/quote inside an unquoted field/);
    expect(r.errors[1]!.message).toMatch(/after a closing quote/);
    expect(r.records).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 4, fields: ['ok', '3'] },
    ]);
  });

  it('reports a quote that is never closed with the line it opened on', () => {
    const r = parseCsv('a,b\n1,"never\nclosed,2\n');
    expect(r.errors).toEqual([{ line: 2, message: 'quoted field opened on line 2 is never closed' }]);
    expect(r.records).toEqual([{ line: 1, fields: ['a', 'b'] }]);
  });
});
