import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileLineSink } from './file-sink.ts';
import { InfluxWriter } from './influx-writer.ts';
import { influxQuery } from './influx-query.ts';
import { readingToLine } from './line-protocol.ts';
import { SinkClosedError } from './sink.ts';
import { influxForTests, uniqueDbName, type InfluxHandle } from '../../tests/setup/influx.ts';

const TS = 1_700_000_000_000;

describe('FileLineSink', () => {
  let influx: InfluxHandle;
  let dir: string;
  beforeAll(async () => {
    influx = await influxForTests();
    dir = await mkdtemp(join(tmpdir(), 'campus-filesink-'));
  });
  afterAll(async () => {
    await influx?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('writes one file per UTC day with an import header, and influxd accepts its lines', async () => {
    let now = new Date('2024-03-01T23:59:59.000Z');
    const sink = new FileLineSink({ dir: join(dir, 'lp'), db: 'campus', now: () => now });
    expect(await sink.ping()).toBe(true);
    expect(sink.describe()).toContain(join(dir, 'lp'));
    const tags = { school: '3301020001', agent: 'gw-1', county: '西湖区' };
    const day1 = [0, 1, 2].map((i) => readingToLine({ device: 'ups-1', ts: TS + i, measurement: 'ups', metrics: { load: 40 + i, onBattery: false, model: 'APC "Smart"' } }, tags));
    await sink.write(day1);
    now = new Date('2024-03-02T00:00:01.000Z');
    const day2 = [readingToLine({ device: 'ups-1', ts: TS + 3, measurement: 'ups', metrics: { load: 50 } }, tags)];
    await sink.write(day2);
    await sink.close();
    await expect(sink.write(day2)).rejects.toBeInstanceOf(SinkClosedError);
    expect(sink.stats()).toMatchObject({ linesWritten: 4, linesRejected: 0, linesBuffered: 0, batchesWritten: 2 });

    expect((await readdir(join(dir, 'lp'))).sort()).toEqual(['telemetry-2024-03-01.lp', 'telemetry-2024-03-02.lp']);
    const text1 = await readFile(join(dir, 'lp', 'telemetry-2024-03-01.lp'), 'utf8');
    expect(text1).toBe(`# DML\n# CONTEXT-DATABASE: campus\n${day1.join('\n')}\n`);

    // What `influx -import` does with the file: skip the header comments, post the rest.
    const db = uniqueDbName('file');
    const writer = new InfluxWriter({ url: influx.url, db, log: () => {} });
    await writer.ensureDatabase();
    for (const name of ['telemetry-2024-03-01.lp', 'telemetry-2024-03-02.lp']) {
      const body = (await readFile(join(dir, 'lp', name), 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'));
      await writer.write(body);
    }
    await writer.close();
    expect(writer.stats()).toMatchObject({ linesWritten: 4, linesRejected: 0 });
    const [series] = await influxQuery({ url: influx.url, db }, 'SELECT load, model FROM ups');
    expect(series?.values).toEqual([
      [TS, 40, 'APC "Smart"'],
      [TS + 1, 41, 'APC "Smart"'],
      [TS + 2, 42, 'APC "Smart"'],
      [TS + 3, 50, null],
    ]);
  });

  it('rejects and counts lines it cannot store, and keeps going', async () => {
    const blocker = join(dir, 'not-a-dir');
    await writeFile(blocker, 'x');
    const sink = new FileLineSink({ dir: blocker });
    expect(await sink.ping()).toBe(false);
    await expect(sink.write(['m v=1'])).rejects.toThrow(/cannot append telemetry/);
    expect(sink.stats()).toMatchObject({ linesRejected: 1, linesWritten: 0, linesBuffered: 0 });
  });
});
