import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxWriter, type InfluxWriterOptions } from './influx-writer.ts';
import { influxQuery } from './influx-query.ts';
import { SinkBufferFullError, SinkClosedError } from './sink.ts';
import { freeLoopbackPort, influxForTests, startInfluxProcess, uniqueDbName, type InfluxHandle } from '../../tests/setup/influx.ts';

const TS = 1_700_000_000_000;
const lines = (n: number, from = 0, measurement = 'm') => Array.from({ length: n }, (_, i) => `${measurement},s=a v=${from + i} ${TS + from + i}`);

async function count(url: string, db: string, measurement = 'm'): Promise<number> {
  const [s] = await influxQuery({ url, db }, `SELECT count(v) FROM "${measurement}"`);
  return (s?.values[0]?.[1] as number | undefined) ?? 0;
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
}

function quietWriter(opts: InfluxWriterOptions, logs: string[] = []): InfluxWriter {
  return new InfluxWriter({ log: (level, m) => logs.push(`${level}: ${m}`), ...opts });
}

describe('InfluxWriter against a shared influxd', () => {
  let influx: InfluxHandle;
  beforeAll(async () => {
    influx = await influxForTests();
  });
  afterAll(async () => {
    await influx?.stop();
  });

  it('batches many lines into few requests', async () => {
    const db = uniqueDbName('batch');
    const w = quietWriter({ url: influx.url, db, batchLines: 5000, flushIntervalMs: 600_000 });
    await w.ensureDatabase();
    await w.ensureDatabase(); // fine when it exists
    for (let i = 0; i < 120; i++) await w.write(lines(100, i * 100));
    await w.flush();
    expect(w.stats()).toMatchObject({ linesWritten: 12_000, batchesWritten: 3, requests: 3, linesRejected: 0, linesBuffered: 0, retries: 0 });
    expect(await count(influx.url, db)).toBe(12_000);
    await w.close();
  });

  it('sends a partial batch on flush() and on the interval', async () => {
    const db = uniqueDbName('interval');
    const w = quietWriter({ url: influx.url, db, flushIntervalMs: 50 });
    await w.ensureDatabase();
    await w.write(lines(3));
    await until(() => w.stats().linesWritten === 3); // no flush(): only the interval timer can send it
    expect(w.stats().batchesWritten).toBe(1);
    await w.close();
    await expect(w.write(lines(1))).rejects.toBeInstanceOf(SinkClosedError);
  });

  it('keeps the good lines of a batch with a field-type conflict and a bad line, counting the rejected ones', async () => {
    const db = uniqueDbName('partial');
    const logs: string[] = [];
    const w = quietWriter({ url: influx.url, db }, logs);
    await w.ensureDatabase();
    await w.write(lines(2));
    await w.flush();
    // Separate batches: influxd 1.6 reports only the type conflict when one batch has both kinds.
    await w.write([...lines(3, 10), 'm,s=a v="text" 1700000000099', ...lines(3, 20), 'm,s=a v=true 1700000000098']);
    await w.flush();
    await w.write(['this is not line protocol', ...lines(1, 30)]);
    await w.flush();
    expect(w.stats()).toMatchObject({ linesWritten: 9, linesRejected: 3 });
    expect(w.stats().rejectedByKind).toEqual({ 'field type conflict': 2, 'unable to parse': 1 });
    expect(await count(influx.url, db)).toBe(9);
    expect(logs.filter((l) => l.includes('field type conflict'))).toHaveLength(1); // once per kind
    await w.close();
  });

  it('splits a batch influxd refuses whole (type conflict on a new field inside one batch) and keeps the good lines', async () => {
    const db = uniqueDbName('split');
    const w = quietWriter({ url: influx.url, db });
    await w.ensureDatabase();
    await w.write([...lines(50, 0, 'n'), 'n,s=a v="text" 1700000001000', ...lines(50, 100, 'n')]);
    await w.flush();
    // One of the two conflicting kinds wins per shard; whichever it is, exactly one line is refused.
    const stats = w.stats();
    expect(stats.linesWritten + stats.linesRejected).toBe(101);
    expect(stats.linesRejected).toBe(1);
    expect(await count(influx.url, db, 'n')).toBe(100);
    await w.close();
  });

  it('holds lines while the database is missing (configuration error) and writes them once it exists', async () => {
    const db = uniqueDbName('nodb');
    const logs: string[] = [];
    const w = quietWriter({ url: influx.url, db, configRetryMs: 50 }, logs);
    await w.write(lines(5));
    const flushed = w.flush();
    await until(() => w.stats().configErrors >= 2);
    expect(w.stats()).toMatchObject({ linesBuffered: 5, linesWritten: 0, linesRejected: 0 });
    expect(w.stats().lastError).toContain('database not found');
    expect(logs.some((l) => l.startsWith('error: CONFIGURATION ERROR'))).toBe(true);
    await w.ensureDatabase();
    await flushed;
    expect(w.stats()).toMatchObject({ linesBuffered: 0, linesWritten: 5, linesRejected: 0 });
    expect(await count(influx.url, db)).toBe(5);
    await w.close();
  });

  it('keeps defaults for options passed as undefined and refuses nonsense sizes', () => {
    expect(() => quietWriter({ url: influx.url, db: 'x', batchLines: undefined, maxBufferedLines: undefined }).close()).not.toThrow();
    expect(() => quietWriter({ url: influx.url, db: 'x', batchLines: 0 })).toThrow(RangeError);
  });

  it('pings', async () => {
    expect(await quietWriter({ url: influx.url, db: 'x' }).ping()).toBe(true);
    expect(await quietWriter({ url: `http://127.0.0.1:${await freeLoopbackPort()}`, db: 'x' }).ping()).toBe(false);
  });
});

describe('InfluxWriter when influxd goes away', () => {
  it('retries while influxd is down and delivers the buffered lines once it is back on the same port', async () => {
    const server = await startInfluxProcess();
    try {
      const db = uniqueDbName('restart');
      const w = quietWriter({ url: server.url, db, retryBaseMs: 20, retryMaxMs: 200 });
      await w.ensureDatabase();
      await w.write(lines(100));
      await w.flush();
      await server.stopProcess();
      await w.write(lines(200, 100));
      const flushed = w.flush();
      await until(() => w.stats().retries >= 2);
      expect(w.stats()).toMatchObject({ linesWritten: 100, linesBuffered: 200 });
      expect(w.stats().lastError).toMatch(/network error/);
      await server.startProcess();
      await flushed;
      expect(w.stats()).toMatchObject({ linesWritten: 300, linesRejected: 0, linesBuffered: 0 });
      expect(await count(server.url, db)).toBe(300);
      await w.close();
    } finally {
      await server.stop();
    }
  });

  it('applies back-pressure when the buffer is full and releases it when influxd returns', async () => {
    const server = await startInfluxProcess();
    try {
      const db = uniqueDbName('bp');
      const w = quietWriter({ url: server.url, db, batchLines: 10, maxBufferedLines: 20, retryBaseMs: 20, retryMaxMs: 100, maxWaitMs: 600_000 });
      await w.ensureDatabase();
      await server.stopProcess();
      await w.write(lines(20)); // fills the buffer
      let released = false;
      const waiting = w.write(lines(5, 20)).then(() => (released = true));
      await until(() => w.stats().retries >= 3);
      expect(released).toBe(false);
      expect(w.stats().linesBuffered).toBe(20);
      await server.startProcess();
      await waiting;
      await w.flush();
      expect(w.stats()).toMatchObject({ linesWritten: 25, linesRejected: 0, linesBuffered: 0 });
      expect(await count(server.url, db)).toBe(25);
      await w.close();
    } finally {
      await server.stop();
    }
  });

  it('rejects a write that waits too long for space, and counts what close() has to give up', async () => {
    const url = `http://127.0.0.1:${await freeLoopbackPort()}`; // nothing listens there
    const w = quietWriter({ url, db: 'x', batchLines: 10, maxBufferedLines: 10, retryBaseMs: 10, retryMaxMs: 50, maxWaitMs: 100, closeTimeoutMs: 100 });
    await w.write(lines(10));
    await expect(w.write(lines(1))).rejects.toBeInstanceOf(SinkBufferFullError);
    expect(w.stats().writesTimedOut).toBe(1);
    await w.close();
    expect(w.stats()).toMatchObject({ linesWritten: 0, linesRejected: 10, linesBuffered: 0 });
  });

  it('gives up on a batch after maxRetries and counts it as rejected', async () => {
    const url = `http://127.0.0.1:${await freeLoopbackPort()}`;
    const w = quietWriter({ url, db: 'x', maxRetries: 2, retryBaseMs: 5 });
    await w.write(lines(7));
    await w.flush();
    expect(w.stats()).toMatchObject({ linesRejected: 7, retries: 2, requests: 3, linesBuffered: 0 });
    expect(Object.keys(w.stats().rejectedByKind)[0]).toMatch(/^gave up after 2 retries/);
    await w.close();
  });
});
