import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeKey, escapeMeasurement, LineProtocolError, pointToLine, readingToLine, type Point } from './line-protocol.ts';
import { InfluxWriter } from './influx-writer.ts';
import { influxQuery } from './influx-query.ts';
import { influxForTests, uniqueDbName, type InfluxHandle } from '../../tests/setup/influx.ts';

const TS = 1_700_000_000_000;

describe('line protocol encoding', () => {
  it('escapes each part the way influxd 1.x parses it', () => {
    expect(pointToLine({ measurement: 'a b,c=d', tags: { 'k y': 'v,1=2' }, fields: { 'f=x': 'say "hi" \\o/' }, timestampMs: TS })).toBe(
      'a\\ b\\,c=d,k\\ y=v\\,1\\=2 f\\=x="say \\"hi\\" \\\\o/" 1700000000000',
    );
  });

  it('writes numbers as floats, bigints as integers, booleans as booleans', () => {
    expect(pointToLine({ measurement: 'm', fields: { a: 3, b: 3.5, c: 42n, d: true, e: false, f: -1e21 } })).toBe('m a=3,b=3.5,c=42i,d=true,e=false,f=-1e+21');
  });

  it('sorts tags and leaves out empty tag values', () => {
    expect(pointToLine({ measurement: 'm', tags: { z: '1', a: '2', m: '', u: undefined }, fields: { v: 1 } })).toBe('m,a=2,z=1 v=1');
  });

  it.each<[string, Point]>([
    ['no fields', { measurement: 'm', fields: {} }],
    ['NaN', { measurement: 'm', fields: { v: NaN } }],
    ['Infinity', { measurement: 'm', fields: { v: Infinity } }],
    ['newline in a tag value', { measurement: 'm', tags: { t: 'a\nb' }, fields: { v: 1 } }],
    ['trailing backslash in a tag value', { measurement: 'm', tags: { t: 'a\\' }, fields: { v: 1 } }],
    ['backslash before a comma', { measurement: 'm', tags: { t: 'a\\,b' }, fields: { v: 1 } }],
    ['empty measurement', { measurement: '', fields: { v: 1 } }],
    ['field called time', { measurement: 'm', fields: { time: 1 } }],
    ['tag called time', { measurement: 'm', tags: { time: 'x' }, fields: { v: 1 } }],
    ['fractional timestamp', { measurement: 'm', fields: { v: 1 }, timestampMs: 1.5 }],
    ['int64 overflow', { measurement: 'm', fields: { v: 2n ** 63n } }],
  ])('refuses %s with a LineProtocolError', (_name, point) => {
    expect(() => pointToLine(point)).toThrow(LineProtocolError);
  });

  it('keeps a backslash in the middle of a name as is', () => {
    expect(escapeKey('a\\b')).toBe('a\\b');
    expect(escapeMeasurement('C:\\temp')).toBe('C:\\temp');
  });

  it('maps a Reading: topic tags win over the reading own tags, metrics become fields', () => {
    const line = readingToLine(
      { device: 'sw-1', ts: TS, measurement: 'ifTraffic', tags: { school: 'spoofed', ifName: 'Gi0/1' }, metrics: { inOctets: 12, up: true, descr: 'uplink' } },
      { school: '3301020001', agent: 'gw-1', county: '西湖区' },
    );
    expect(line).toBe('ifTraffic,agent=gw-1,county=西湖区,device=sw-1,ifName=Gi0/1,school=3301020001 inOctets=12,up=true,descr="uplink" 1700000000000');
  });
});

describe('line protocol round trip through influxd', () => {
  let influx: InfluxHandle;
  beforeAll(async () => {
    influx = await influxForTests();
  });
  afterAll(async () => {
    await influx?.stop();
  });

  it('reads back tricky names and values identically', async () => {
    const db = uniqueDbName('lp');
    const writer = new InfluxWriter({ url: influx.url, db, log: () => {} });
    await writer.ensureDatabase();
    const measurement = '摄像头 状态,cam=1';
    const tags = { '学校 名称': '杭州市 第一中学,高中部', 'k=v': 'a=b "q" c\\d', device: 'cam-01' };
    const fields = { '温度 °C': 23.5, 'note,x=y': 'say "你好"\\ with\nnewline, comma=equals', online: true, count: 7n, whole: 3 };
    await writer.write([pointToLine({ measurement, tags, fields, timestampMs: TS })]);
    await writer.close();
    expect(writer.stats()).toMatchObject({ linesWritten: 1, linesRejected: 0, linesBuffered: 0 });

    const [series, ...rest] = await influxQuery({ url: influx.url, db }, `SELECT * FROM "${measurement}" GROUP BY *`);
    expect(rest).toEqual([]);
    expect(series?.name).toBe(measurement);
    expect(series?.tags).toEqual(tags);
    const row = Object.fromEntries(series!.columns.map((c, i) => [c, series!.values[0]![i]]));
    expect(row).toEqual({ time: TS, '温度 °C': 23.5, 'note,x=y': fields['note,x=y'], online: true, count: 7, whole: 3 });
    const [keys] = await influxQuery({ url: influx.url, db }, `SHOW FIELD KEYS FROM "${measurement}"`);
    expect(Object.fromEntries(keys!.values as [string, string][])).toEqual({ '温度 °C': 'float', 'note,x=y': 'string', online: 'boolean', count: 'integer', whole: 'float' });
  });
});
