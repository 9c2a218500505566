// Correctness of the benchmark pieces (every point arrives), not their speed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { measureRawWrites } from './influx-raw.ts';
import { measureWriterWrites } from './influx-writer.ts';
import { influxQuery } from '../collector/telemetry/influx-query.ts';
import { influxForTests, uniqueDbName, type InfluxHandle } from '../tests/setup/influx.ts';

describe('influx write benchmarks', () => {
  let influx: InfluxHandle;
  beforeAll(async () => {
    influx = await influxForTests();
  });
  afterAll(async () => {
    await influx?.stop();
  });

  const total = async (db: string) => (await influxQuery({ url: influx.url, db }, 'SELECT count(inOctets) FROM ifTraffic'))[0]?.values[0]?.[1];

  it('raw and writer paths store every point', async () => {
    const raw = uniqueDbName('braw');
    const r = await measureRawWrites({ url: influx.url, db: raw, points: 12_345, batch: 5000, concurrency: 2 });
    expect(r.points).toBe(12_345);
    expect(r.pointsPerSecond).toBeGreaterThan(0);
    expect(await total(raw)).toBe(12_345);

    const ours = uniqueDbName('bwriter');
    const w = await measureWriterWrites({ url: influx.url, db: ours, points: 12_345, batch: 5000, concurrency: 2 });
    expect(w).toMatchObject({ points: 12_345, requests: 3, linesRejected: 0 });
    expect(await total(ours)).toBe(12_345);
  });

  it('refuses a non-loopback url', async () => {
    await expect(measureRawWrites({ url: 'http://192.0.2.1:8086', db: 'x', points: 1, batch: 1, concurrency: 1 })).rejects.toThrow(/loopback/);
  });
});
