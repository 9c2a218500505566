import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { influxQuery, InfluxQueryError } from './influx-query.ts';
import { InfluxWriter } from './influx-writer.ts';
import { freeLoopbackPort, influxForTests, uniqueDbName, type InfluxHandle } from '../../tests/setup/influx.ts';

describe('influxQuery', () => {
  let influx: InfluxHandle;
  beforeAll(async () => {
    influx = await influxForTests();
  });
  afterAll(async () => {
    await influx?.stop();
  });

  it('returns series with epoch-ms times, grouped by tag', async () => {
    const db = uniqueDbName('query');
    const w = new InfluxWriter({ url: influx.url, db, log: () => {} });
    await w.ensureDatabase();
    await w.write(['cpu,host=a v=1 1700000000000', 'cpu,host=b v=2 1700000000001']);
    await w.close();
    const series = await influxQuery({ url: influx.url, db }, 'SELECT v FROM cpu GROUP BY host');
    expect(series).toEqual([
      { name: 'cpu', tags: { host: 'a' }, columns: ['time', 'v'], values: [[1700000000000, 1]] },
      { name: 'cpu', tags: { host: 'b' }, columns: ['time', 'v'], values: [[1700000000001, 2]] },
    ]);
    expect(await influxQuery({ url: influx.url, db }, 'SELECT v FROM nothing_here')).toEqual([]);
  });

  it('surfaces errors: a bad statement, an error inside a 200 answer, an unreachable server', async () => {
    await expect(influxQuery({ url: influx.url, db: 'x' }, 'SELEC v')).rejects.toThrow(/error parsing query/);
    // influxd answers 200 with results[0].error for a statement that fails at run time.
    await expect(influxQuery({ url: influx.url, db: uniqueDbName('missing') }, 'SELECT v FROM cpu')).rejects.toThrow(/database not found/);
    const unreachable = `http://127.0.0.1:${await freeLoopbackPort()}`;
    await expect(influxQuery({ url: unreachable, db: 'x' }, 'SHOW DATABASES')).rejects.toThrow(/unreachable.*ECONNREFUSED/);
    await expect(influxQuery({ url: influx.url, db: 'x' }, 'SELEC v')).rejects.toBeInstanceOf(InfluxQueryError);
  });
});
