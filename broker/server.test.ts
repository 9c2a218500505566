/**
 * The broker against real clients: mqtt.js 5 and Debian's mosquitto_pub / mosquitto_sub.
 */
import { execFile, spawn } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IClientOptions, MqttClient } from 'mqtt';
import { MAX_PAYLOAD_BYTES, agentClientId, agentTopic, agentUsername, type AgentAddress } from '../protocol/index.ts';
import { memoryAuthBackend } from './memory-auth.ts';
import { startBroker, type RunningBroker } from './server.ts';
import { captureLogger, mqttTestClients } from './mqtt-test-clients.ts';

const A: AgentAddress = { schoolCode: '3715020001', agentId: 'gw-a' };
const B: AgentAddress = { schoolCode: '3715020002', agentId: 'gw-b' };
const SERVICE = { username: 'collector', password: 'collector-secret' };
const users = [
  { username: agentUsername(A), password: 'pw-a', principal: { kind: 'agent' as const, ...A } },
  { username: agentUsername(B), password: 'pw-b', principal: { kind: 'agent' as const, ...B } },
  { ...SERVICE, principal: { kind: 'service' as const, name: 'collector' } },
];
const agentCreds = (addr: AgentAddress, password: string) => ({ username: agentUsername(addr), password, clientId: agentClientId(addr) });
const credsA = agentCreds(A, 'pw-a');
const credsB = agentCreds(B, 'pw-b');

// ---- mqtt.js helpers ----
const clients = mqttTestClients();
const connect = clients.connect;

/** Connects expecting a refusal; resolves with the CONNACK return code. */
async function refusalCode(url: string, opts: IClientOptions): Promise<number> {
  try {
    await connect(url, opts);
  } catch (err) {
    return (err as { code: number }).code;
  }
  throw new Error('connection was accepted');
}

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}
/** Records every message a client receives; `next` waits for one matching a predicate. */
function inbox(c: MqttClient) {
  const got: Received[] = [];
  const waiters: Array<{ pred: (m: Received) => boolean; resolve: (m: Received) => void }> = [];
  c.on('message', (topic, payload, packet) => {
    const m = { topic, payload: payload.toString(), retain: packet.retain };
    got.push(m);
    for (const w of waiters.splice(0)) {
      if (w.pred(m)) w.resolve(m);
      else waiters.push(w);
    }
  });
  return {
    got,
    next(pred: (m: Received) => boolean): Promise<Received> {
      const seen = got.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => waiters.push({ pred, resolve }));
    },
  };
}

/** SUBACK return codes; mqtt.js rejects when any is 0x80, so read them from the error too. */
async function subackCodes(c: MqttClient, filters: string[]): Promise<number[]> {
  try {
    return (await c.subscribeAsync(filters, { qos: 1 })).map((g) => g.qos);
  } catch (err) {
    const granted = (err as { packet?: { granted?: number[] } }).packet?.granted;
    if (!granted) throw err;
    return granted;
  }
}

/** Waits until `cond` holds, re-checking on each turn of the event loop (no clock involved). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setImmediate(r));
}

const closed = (c: MqttClient) => new Promise<void>((resolve) => (c.connected ? c.once('close', () => resolve()) : resolve()));

// ---- mosquitto helpers ----
interface Exit {
  code: number;
  stdout: string;
  stderr: string;
}
function run(bin: string, args: string[]): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(bin, args, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
function mosquittoArgs(port: number, creds: { username: string; password: string; clientId: string }): string[] {
  return ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv311', '-u', creds.username, '-P', creds.password, '-i', creds.clientId];
}

describe('broker', () => {
  let broker: RunningBroker;
  let url: string;
  const logger = captureLogger();

  beforeAll(async () => {
    broker = await startBroker({ mqttPort: 0, wsPort: 0, auth: memoryAuthBackend(users), logger });
    url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  });
  afterAll(async () => {
    await broker?.close();
  });

  async function serviceInbox(filter = 'campus/v1/#') {
    const sub = await connect(url, { ...SERVICE, clientId: `svc-${clients.count}` });
    const box = inbox(sub); // before subscribing: retained messages can arrive ahead of the SUBACK
    await sub.subscribeAsync(filter, { qos: 1 });
    return box;
  }

  it('refuses a wrong password (4), an unknown user (4) and an anonymous client (5)', async () => {
    const before = broker.stats().connectsRefused;
    expect(await refusalCode(url, { ...credsA, password: 'wrong' })).toBe(4);
    expect(await refusalCode(url, { username: 'nobody', password: 'x', clientId: 'x' })).toBe(4);
    expect(await refusalCode(url, { clientId: 'anon' })).toBe(5);
    const cli = await run('/usr/bin/mosquitto_pub', [...mosquittoArgs(broker.mqttPort, { ...credsA, password: 'wrong' }), '-t', agentTopic(A, 'event'), '-m', 'x']);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toMatch(/bad user name or password/i);
    expect(broker.stats().connectsRefused).toBe(before + 4);
    expect(logger.lines.some((l) => l.msg === 'connect refused' && l.obj.username === 'nobody')).toBe(true);
  });

  it('refuses an agent that uses another client id (2), from mqtt.js and mosquitto_pub', async () => {
    expect(await refusalCode(url, { ...credsA, clientId: 'gw-a' })).toBe(2);
    expect(await refusalCode(url, { ...credsA, clientId: credsB.clientId })).toBe(2);
    const cli = await run('/usr/bin/mosquitto_pub', [...mosquittoArgs(broker.mqttPort, { ...credsA, clientId: 'hijack' }), '-t', agentTopic(A, 'event'), '-m', 'x']);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toMatch(/identifier rejected/i);
  });

  it("never delivers agent A's publish on school B's topic to a service subscriber (mosquitto_sub/pub)", async () => {
    const refusedBefore = broker.stats().publishesRefused;
    // mosquitto_sub as the service, printing "topic payload" per message (-v), SUBACK in its debug output (-d).
    // stdbuf -oL: piped stdout is block-buffered and would only show up at exit (stdbuf execs, so the pid is mosquitto_sub's).
    const sub = spawn('/usr/bin/stdbuf', ['-oL', '/usr/bin/mosquitto_sub', ...mosquittoArgs(broker.mqttPort, { ...SERVICE, clientId: 'svc-mosquitto' }), '-d', '-v', '-q', '1', '-t', 'campus/v1/#']);
    let out = '';
    sub.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<void>((resolve) => sub.once('exit', () => resolve()));
    try {
      await until(() => out.includes('SUBACK'));
      // QoS 0 so mosquitto_pub does not sit in a reconnect loop waiting for a PUBACK that never comes.
      const forged = await run('/usr/bin/mosquitto_pub', [...mosquittoArgs(broker.mqttPort, credsA), '-t', agentTopic(B, 'telemetry'), '-m', 'forged']);
      expect(forged.code).toBe(0);
      // Once refused in authorizePublish it is never handed to the router.
      await until(() => broker.stats().publishesRefused === refusedBefore + 1);
      const own = await run('/usr/bin/mosquitto_pub', [...mosquittoArgs(broker.mqttPort, credsA), '-q', '1', '-t', agentTopic(A, 'telemetry'), '-m', 'genuine']);
      expect(own.code).toBe(0);
      await until(() => out.includes('genuine'));
    } finally {
      sub.kill('SIGTERM');
      await exited;
    }
    const messages = out.split('\n').filter((l) => l.startsWith('campus/'));
    expect(messages).toEqual([`${agentTopic(A, 'telemetry')} genuine`]);
    expect(logger.lines.some((l) => l.msg === 'publish refused' && l.obj.topic === agentTopic(B, 'telemetry'))).toBe(true);
  });

  it('refuses agent subscriptions other than its own cmd topic; commands from the service arrive', async () => {
    const before = broker.stats().subscribesRefused;
    const agent = await connect(url, credsA);
    expect(await subackCodes(agent, ['campus/v1/#', agentTopic(B, 'cmd'), agentTopic(A, 'cmd')])).toEqual([128, 128, 1]);
    expect(broker.stats().subscribesRefused).toBe(before + 2);

    const agentInbox = inbox(agent);
    const service = await connect(url, { ...SERVICE, clientId: 'svc-cmd' });
    await service.publishAsync(agentTopic(A, 'cmd'), 'ping', { qos: 1 });
    expect((await agentInbox.next(() => true)).topic).toBe(agentTopic(A, 'cmd'));

    // A service publishing telemetry is refused and disconnected (MQTT-3.3.5-2).
    const refusedBefore = broker.stats().publishesRefused;
    service.publish(agentTopic(A, 'telemetry'), 'forged', { qos: 1 });
    await closed(service);
    expect(broker.stats().publishesRefused).toBe(refusedBefore + 1);
  });

  it('closes the connection of a client sending an oversized packet; a maximal one passes', async () => {
    const subscriber = await serviceInbox(agentTopic(A, 'telemetry'));
    const before = broker.stats().oversized;
    const agent = await connect(url, credsA);
    agent.publish(agentTopic(A, 'telemetry'), Buffer.alloc(MAX_PAYLOAD_BYTES + 4096, 0x61), { qos: 0 });
    await closed(agent);
    expect(broker.stats().oversized).toBe(before + 1);

    const again = await connect(url, credsA);
    await again.publishAsync(agentTopic(A, 'telemetry'), Buffer.alloc(MAX_PAYLOAD_BYTES, 0x62), { qos: 1 });
    const m = await subscriber.next(() => true);
    expect(m.payload.length).toBe(MAX_PAYLOAD_BYTES);
    expect(m.payload[0]).toBe('b'); // the oversized one never arrived
    expect(subscriber.got).toHaveLength(1);
  });

  it('accepts MQTT over WebSocket with the same ACL', async () => {
    const subscriber = await serviceInbox();
    const wsUrl = `ws://127.0.0.1:${broker.wsPort}/mqtt`;
    expect(await refusalCode(wsUrl, { ...credsA, password: 'wrong' })).toBe(4);
    const agent = await connect(wsUrl, credsA);
    await agent.publishAsync(agentTopic(A, 'event'), 'over-ws', { qos: 1 });
    expect((await subscriber.next((m) => m.payload === 'over-ws')).topic).toBe(agentTopic(A, 'event'));
    expect(await subackCodes(agent, ['campus/v1/#'])).toEqual([128]);
  });

  it('delivers the retained status and, when the socket dies, the last will', async () => {
    const statusTopic = agentTopic(B, 'status');
    const agent = await connect(url, {
      ...credsB,
      clean: false,
      will: { topic: statusTopic, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    await agent.publishAsync(statusTopic, 'online', { qos: 1, retain: true });

    const late = await serviceInbox(statusTopic);
    expect(await late.next(() => true)).toEqual({ topic: statusTopic, payload: 'online', retain: true });

    agent.stream.destroy(); // no DISCONNECT: the broker must publish the will
    expect((await late.next((m) => m.payload === 'offline')).topic).toBe(statusTopic);

    // The will was retained: a subscriber arriving now learns the agent is offline.
    const later = await serviceInbox(statusTopic);
    expect(await later.next(() => true)).toEqual({ topic: statusTopic, payload: 'offline', retain: true });
  });

  it('refuses a will outside the own status topic (5)', async () => {
    expect(await refusalCode(url, { ...credsA, will: { topic: agentTopic(B, 'status'), payload: Buffer.from('x'), qos: 0, retain: false } })).toBe(5);
  });

  it('counts connections and accepted publishes', () => {
    const s = broker.stats();
    expect(s.connectsAccepted).toBeGreaterThan(5);
    expect(s.publishesIn).toBeGreaterThan(3);
    expect(s.clients).toBeGreaterThanOrEqual(0);
  });
});

describe('broker flood control', () => {
  it('rate-limits a flooding client, logs once, and keeps delivering another agent', async () => {
    const logger = captureLogger();
    // 1 publish/s with a burst of 2: 50 back-to-back publishes cannot all fit.
    const broker = await startBroker({ mqttPort: 0, auth: memoryAuthBackend(users), logger, maxPublishesPerSecond: 1 });
    try {
      const url = `mqtt://127.0.0.1:${broker.mqttPort}`;
      const sub = await connect(url, { ...SERVICE, clientId: 'svc-flood' });
      await sub.subscribeAsync('campus/v1/#', { qos: 1 });
      const box = inbox(sub);

      const flooder = await connect(url, credsA);
      for (let i = 0; i < 50; i++) flooder.publish(agentTopic(A, 'telemetry'), `flood-${i}`, { qos: 0 });
      await closed(flooder);
      expect(broker.stats().rateLimited).toBeGreaterThanOrEqual(1);
      const limitLogs = logger.lines.filter((l) => l.msg?.startsWith('publish rate limit exceeded'));
      expect(limitLogs).toHaveLength(1);
      expect(limitLogs[0]?.obj.clientId).toBe(credsA.clientId);

      const other = await connect(url, credsB);
      await other.publishAsync(agentTopic(B, 'telemetry'), 'b-1', { qos: 1 });
      await other.publishAsync(agentTopic(B, 'telemetry'), 'b-2', { qos: 1 });
      await box.next((m) => m.payload === 'b-2');
      expect(box.got.filter((m) => m.topic === agentTopic(B, 'telemetry')).map((m) => m.payload)).toEqual(['b-1', 'b-2']);
      expect(box.got.filter((m) => m.topic === agentTopic(A, 'telemetry')).length).toBeLessThanOrEqual(2);
      expect(other.connected).toBe(true);
    } finally {
      await broker.close();
    }
  });
});

describe('broker close', () => {
  it('closes promptly with connected clients and half-open sockets, and the port can be reused', async () => {
    const broker = await startBroker({ mqttPort: 0, auth: memoryAuthBackend(users) });
    const c = await connect(`mqtt://127.0.0.1:${broker.mqttPort}`, credsA);
    const raw = net.connect(broker.mqttPort, '127.0.0.1'); // never sends CONNECT
    await new Promise((r) => raw.once('connect', r));
    const rawClosed = new Promise((r) => raw.once('close', r));
    await broker.close();
    await Promise.all([closed(c), rawClosed]);
    const again = await startBroker({ mqttPort: broker.mqttPort, auth: memoryAuthBackend(users) });
    expect(again.mqttPort).toBe(broker.mqttPort);
    await again.close();
  });
});
