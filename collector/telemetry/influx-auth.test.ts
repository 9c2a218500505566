import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InfluxWriter } from './influx-writer.ts';
import { influxQuery } from './influx-query.ts';
import { influxAuthHeaders } from './influx-http.ts';
import { startInfluxProcess, type ManagedInflux } from '../../tests/setup/influx.ts';

describe('InfluxDB with authentication on', () => {
  let influx: ManagedInflux;
  beforeAll(async () => {
    influx = await startInfluxProcess({ authEnabled: true });
    const res = await fetch(`${influx.url}/query`, { method: 'POST', body: new URLSearchParams({ q: `CREATE USER "admin" WITH PASSWORD 'sëcret:1' WITH ALL PRIVILEGES` }) });
    expect(res.status).toBe(200);
  });
  afterAll(async () => {
    await influx?.stop();
  });

  it('writes with Basic credentials', async () => {
    const conn = { url: influx.url, db: 'authdb', user: 'admin', password: 'sëcret:1' };
    const w = new InfluxWriter({ ...conn, log: () => {} });
    await w.ensureDatabase();
    await w.write(['m v=1 1700000000000']);
    await w.close();
    expect(w.stats()).toMatchObject({ linesWritten: 1, linesRejected: 0 });
    expect((await influxQuery(conn, 'SELECT v FROM m'))[0]?.values).toEqual([[1700000000000, 1]]);
  });

  it('treats a wrong password as a configuration error and keeps the lines', async () => {
    const logs: string[] = [];
    const w = new InfluxWriter({ url: influx.url, db: 'authdb', user: 'admin', password: 'wrong', configRetryMs: 50, closeTimeoutMs: 200, log: (_l, m) => logs.push(m) });
    await w.write(['m v=2 1700000000001']);
    void w.flush();
    while (w.stats().configErrors < 2) await new Promise((r) => setTimeout(r, 20));
    expect(w.stats()).toMatchObject({ linesBuffered: 1, linesWritten: 0, linesRejected: 0 });
    await w.close(); // gives up after closeTimeoutMs: what is left is counted, not lost silently
    expect(w.stats()).toMatchObject({ linesBuffered: 0, linesWritten: 0, linesRejected: 1 });
    expect(logs.some((m) => m.includes('CONFIGURATION ERROR') && m.includes('401'))).toBe(true);
    await expect(influxQuery({ url: influx.url, db: 'authdb', user: 'admin', password: 'wrong' }, 'SHOW DATABASES')).rejects.toThrow(/401/);
  });

  it('sends a token as "Authorization: Token" (2.x/3.x v1 compatibility), winning over user/password', () => {
    expect(influxAuthHeaders({ token: 'abc', user: 'u', password: 'p' })).toEqual({ authorization: 'Token abc' });
    expect(influxAuthHeaders({ user: 'u', password: 'p' })).toEqual({ authorization: `Basic ${Buffer.from('u:p').toString('base64')}` });
    expect(influxAuthHeaders({})).toEqual({});
  });
});
