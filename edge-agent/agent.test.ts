import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, type StatusMessage } from '../protocol/index.ts';
import { startSimulatedSchoolGear, agentConfigFor, type SimulatedSchoolGear } from '../simulator/snmp/school-gear.ts';
import { startAgent, type AgentLogger } from './agent.ts';
import { parseAgentConfig } from './config.ts';

const SCHOOL = '3715020001';

interface TestBroker {
  port: number;
  /** agents are refused (as with a bad password) until this is set */
  admitAgents: boolean;
  refused: number;
  dropClient(clientId: string): void;
  stop(): Promise<void>;
}

async function startBroker(port = 0, admitAgents = true): Promise<TestBroker> {
  const broker = await Aedes.createBroker();
  const handle: Partial<TestBroker> = { admitAgents, refused: 0 };
  broker.authenticate = (client, _user, _pass, done) => {
    const ok = !client.id.startsWith('agent-') || handle.admitAgents === true;
    if (!ok) handle.refused!++;
    done(null, ok);
  };
  const server = net.createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return Object.assign(handle, {
    port: (server.address() as net.AddressInfo).port,
    dropClient: (clientId: string) => {
      (broker as unknown as { clients: Record<string, { conn: net.Socket }> }).clients[clientId]?.conn.destroy();
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  }) as TestBroker;
}

async function until(cond: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const quiet: AgentLogger = { info: () => {}, warn: () => {}, error: () => {} };

describe('edge agent end to end (aedes broker, simulated SNMP gear)', () => {
  let gear: SimulatedSchoolGear;
  let dir: string;
  beforeAll(async () => {
    gear = await startSimulatedSchoolGear({ schoolCode: SCHOOL, switches: 2, aps: 1 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-agent-'));
  });
  afterAll(async () => {
    await gear?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('delivers every message in order across a broker outage, with birth and will on status', async () => {
    let broker = await startBroker();
    const port = broker.port;
    const url = `mqtt://127.0.0.1:${port}`;

    // records every sequenced message (telemetry, discovery and health events share the agent's counter) and status
    const seqs: number[] = [];
    const statuses: StatusMessage[] = [];
    const watcher = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 100, clientId: 'watcher' });
    let subscribed = false;
    watcher.on('connect', () => {
      subscribed = false;
      watcher.subscribe(['campus/v1/+/+/telemetry', 'campus/v1/+/+/discovery', 'campus/v1/+/+/event', 'campus/v1/+/+/status'], { qos: 1 }, () => (subscribed = true));
    });
    watcher.on('error', () => {});
    watcher.on('message', (topic, payload) => {
      const channel = topic.split('/').slice(4).join('/') as 'telemetry' | 'discovery' | 'event' | 'status';
      const d = decodeMessage(channel, payload);
      if (!d.ok) throw new Error(`bad ${channel} message: ${d.detail}`);
      if (channel === 'status') statuses.push(d.message as StatusMessage);
      else seqs.push(d.message.seq);
    });
    await until(() => subscribed, 'watcher');

    const config = parseAgentConfig({
      ...agentConfigFor(gear, { agentId: 'gw-1', mqttUrl: url, dataDir: path.join(dir, 'data'), pollIntervalSec: 3600 }),
      batch: { maxReadings: 500, maxDelayMs: 0 },
      mqtt: { url, reconnectMinMs: 100, reconnectMaxMs: 400, publishTimeoutMs: 2000 },
    });
    const agent = await startAgent(config, { logger: quiet });
    try {
      await until(() => statuses.some((s) => s.state === 'online'), 'birth');
      await until(() => agent.stats().queueSize === 0 && seqs.length >= 2, 'first telemetry and discovery');
      expect(agent.stats().readings).toBeGreaterThan(0);

      // connection lost without DISCONNECT: the broker publishes the agent's will
      broker.dropClient('agent-3715020001-gw-1');
      await until(() => statuses.some((s) => s.state === 'offline' && s.reason === 'connection-lost'), 'last will');
      await until(() => statuses.at(-1)?.state === 'online', 'birth after reconnect');

      // outage: polls keep producing messages, which pile up on disk
      await broker.stop();
      await until(() => !agent.stats().connected, 'disconnect');
      for (let i = 0; i < 5; i++) await agent.pollNow();
      expect(agent.stats().queueSize).toBeGreaterThanOrEqual(5);

      // a new broker on the same port; it refuses the agent (like a bad password) until the watcher
      // is subscribed again, so nothing is published to nobody
      broker = await startBroker(port, false);
      await until(() => broker.refused >= 1, 'agent refused');
      expect(agent.stats().queueSize).toBeGreaterThanOrEqual(5);
      await until(() => subscribed, 'watcher resubscribed');
      broker.admitAgents = true;
      await until(() => agent.stats().queueSize === 0 && agent.stats().connected, 'drain after reconnect');
      const high = agent.stats().highWater;
      await until(() => new Set(seqs).size >= high, 'watcher receives everything');

      // every seq from 1 to the high-water mark arrived, first arrivals in increasing order
      const firstArrivals = [...new Set(seqs)];
      expect(firstArrivals).toEqual(Array.from({ length: high }, (_, i) => i + 1));
      const stats = agent.stats();
      expect(stats.dropped).toBe(0);
      expect(stats.messagesSent).toBe(stats.messagesQueued);
      expect(stats.connectErrors).toBeGreaterThanOrEqual(1);
    } finally {
      await agent.stop();
    }
    // graceful stop leaves a retained offline status: a new subscriber still sees it
    const late = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
    const retained = new Promise<StatusMessage>((resolve) =>
      late.on('message', (_t, payload, packet) => {
        const d = decodeMessage('status', payload);
        if (d.ok && packet.retain) resolve(d.message);
      }),
    );
    await late.subscribeAsync('campus/v1/3715020001/gw-1/status', { qos: 1 });
    const last = await retained;
    expect(last).toMatchObject({ state: 'offline', reason: 'shutdown', seq: expect.any(Number) });
    await late.endAsync();
    watcher.end(true);
    await broker.stop();
  }, 150_000); // several 30 s waits in a row when the machine is loaded (CI runs browser tests alongside); each names what it waited for
});
