/**
 * httpAuthBackend against a real HTTP server implementing POST /api/v1/mqtt/auth, and the broker
 * refusing with CONNACK 3 when that server is down.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import { agentClientId, agentUsername } from '../protocol/index.ts';
import type { Principal } from './auth.ts';
import { AUTH_PATH, AuthBackendError, httpAuthBackend } from './http-auth.ts';
import { startBroker } from './server.ts';

const TOKEN = 'broker-token';
const A = { schoolCode: '3715020001', agentId: 'gw-a' };
const principalA: Principal = { kind: 'agent', ...A };

/** A stand-in collector endpoint: real HTTP, fixed user table, counts the requests it serves. */
function startCollector(): Promise<{ url: string; requests: Array<{ auth?: string; body: unknown }>; close(): Promise<void> }> {
  const requests: Array<{ auth?: string; body: unknown }> = [];
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as { username: string; password: string };
      requests.push({ auth: req.headers.authorization, body });
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      if (req.method !== 'POST' || req.url !== AUTH_PATH) return send(404, {});
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(401, { error: 'broker token' });
      if (body.username === agentUsername(A) && body.password === 'pw-a') return send(200, { principal: principalA });
      if (body.username === 'broken') return send(200, { principal: { kind: 'agent', schoolCode: 'not-a-code', agentId: 'x' } });
      if (body.username === 'crash') return send(500, { error: 'boom' });
      send(403, { error: 'no' });
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        requests,
        close: () => new Promise((r) => server.close(() => r())),
      }),
    ),
  );
}

describe('httpAuthBackend', () => {
  let collector: Awaited<ReturnType<typeof startCollector>>;
  beforeAll(async () => {
    collector = await startCollector();
  });
  afterAll(async () => {
    await collector?.close();
  });

  it('returns the principal, sends the bearer token, and caches positive answers per password', async () => {
    let now = 0;
    const auth = httpAuthBackend({ url: collector.url, token: TOKEN, cacheTtlMs: 1000, now: () => now });
    const start = collector.requests.length;
    expect(await auth.authenticate(agentUsername(A), 'pw-a')).toEqual(principalA);
    expect(collector.requests[start]).toEqual({ auth: `Bearer ${TOKEN}`, body: { username: agentUsername(A), password: 'pw-a' } });
    expect(await auth.authenticate(agentUsername(A), 'pw-a')).toEqual(principalA);
    expect(collector.requests.length).toBe(start + 1); // served from the cache
    expect(await auth.authenticate(agentUsername(A), 'other')).toBeNull(); // a different password is asked again
    expect(collector.requests.length).toBe(start + 2);
    now += 1001; // expired
    expect(await auth.authenticate(agentUsername(A), 'pw-a')).toEqual(principalA);
    expect(collector.requests.length).toBe(start + 3);
  });

  it('shares one request among concurrent identical logins', async () => {
    const auth = httpAuthBackend({ url: collector.url, token: TOKEN });
    const start = collector.requests.length;
    const answers = await Promise.all(Array.from({ length: 20 }, () => auth.authenticate(agentUsername(A), 'pw-a')));
    expect(answers.every((p) => p?.kind === 'agent')).toBe(true);
    expect(collector.requests.length).toBe(start + 1);
  });

  it('does not cache refusals', async () => {
    const auth = httpAuthBackend({ url: collector.url, token: TOKEN });
    const start = collector.requests.length;
    expect(await auth.authenticate('nobody', 'x')).toBeNull();
    expect(await auth.authenticate('nobody', 'x')).toBeNull();
    expect(collector.requests.length).toBe(start + 2);
  });

  it('treats a missing token as refused (401)', async () => {
    expect(await httpAuthBackend({ url: collector.url }).authenticate(agentUsername(A), 'pw-a')).toBeNull();
  });

  it('throws AuthBackendError on a 500, an invalid principal, or an unreachable collector', async () => {
    const auth = httpAuthBackend({ url: collector.url, token: TOKEN });
    await expect(auth.authenticate('crash', 'x')).rejects.toThrow(/HTTP 500/);
    await expect(auth.authenticate('broken', 'x')).rejects.toThrow(/valid principal/);
    const down = await startCollector();
    await down.close(); // a port that was just free: nothing listens there now
    await expect(httpAuthBackend({ url: down.url }).authenticate('a', 'b')).rejects.toBeInstanceOf(AuthBackendError);
  });

  it('lets the broker accept through the collector, and refuse with CONNACK 3 when it is down', async () => {
    const broker = await startBroker({ mqttPort: 0, auth: httpAuthBackend({ url: collector.url, token: TOKEN }) });
    const down = await startCollector();
    await down.close();
    const brokerDown = await startBroker({ mqttPort: 0, auth: httpAuthBackend({ url: down.url, token: TOKEN }) });
    try {
      const opts = { protocolVersion: 4 as const, reconnectPeriod: 0, username: agentUsername(A), password: 'pw-a', clientId: agentClientId(A) };
      const ok = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.mqttPort}`, opts);
      await ok.endAsync();
      const code = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerDown.mqttPort}`, opts).then(
        async (c) => {
          await c.endAsync(true);
          return 0;
        },
        (err: { code: number }) => err.code,
      );
      expect(code).toBe(3);
      expect(brokerDown.stats().connectsRefused).toBe(1);
    } finally {
      await Promise.all([broker.close(), brokerDown.close()]);
    }
  });
});
