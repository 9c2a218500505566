/**
 * A persistent session coming back while agents publish gets its CONNACK first (MQTT-3.2.0-1),
 * never a PUBLISH before it: mqtt.js would hang on such a publish until its connect timeout
 * (broker/connack-first.ts). With the Redis persistence, as a cluster runs, the window between
 * aedes restoring the subscriptions and writing the CONNACK is a few Redis round trips wide.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { agentClientId, agentTopic, agentUsername, type AgentAddress } from '../protocol/index.ts';
import { startRedis, type RunningRedis } from '../tests/setup/redis.ts';
import { memoryAuthBackend } from './memory-auth.ts';
import { mqttTestClients } from './mqtt-test-clients.ts';
import { startBroker, type RunningBroker } from './server.ts';

const A: AgentAddress = { schoolCode: '3715020001', agentId: 'gw-a' };
const users = [
  { username: agentUsername(A), password: 'pw-a', principal: { kind: 'agent' as const, ...A } },
  { username: 'collector', password: 'pw-c', principal: { kind: 'service' as const, name: 'collector' } },
];
const COLLECTOR: IClientOptions = { username: 'collector', password: 'pw-c', clientId: 'campus-collector-connack', clean: false };
const RECONNECTS = 40;

/** The command of the first packet the broker sends on a new connection of `opts`. */
function firstPacketOf(url: string, opts: IClientOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const c: MqttClient = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, ...opts });
    c.once('packetreceive', (packet) => {
      resolve(packet.cmd);
      c.end(true);
    });
    c.once('error', (err) => {
      reject(err);
      c.end(true);
    });
  });
}

describe('CONNACK before anything else', () => {
  let redis: RunningRedis;
  let broker: RunningBroker;
  let url: string;
  const clients = mqttTestClients();
  beforeAll(async () => {
    redis = await startRedis();
    broker = await startBroker({ mqttPort: 0, auth: memoryAuthBackend(users), redisUrl: redis.url, cluster: false, maxPublishesPerSecond: 100_000 });
    url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  });
  afterAll(async () => {
    await broker?.close();
    await redis?.stop();
  });

  it('sends a returning persistent session its CONNACK first while an agent publishes to it', async () => {
    const session = await clients.connect(url, COLLECTOR);
    await session.subscribeAsync('campus/v1/+/+/telemetry', { qos: 1 });
    await session.endAsync();

    const agent = await clients.connect(url, { username: agentUsername(A), password: 'pw-a', clientId: agentClientId(A) });
    let publishing = true;
    let published = 0;
    const publisher = (async () => {
      while (publishing) {
        await agent.publishAsync(agentTopic(A, 'telemetry'), String(published++), { qos: 1 });
      }
    })();

    const firsts: string[] = [];
    try {
      for (let i = 0; i < RECONNECTS; i++) firsts.push(await firstPacketOf(url, COLLECTOR));
    } finally {
      publishing = false;
      await publisher;
    }
    // Publishes were flowing the whole time: each reconnect had a window to get one early.
    expect(published).toBeGreaterThan(RECONNECTS);
    expect(firsts).toEqual(Array.from({ length: RECONNECTS }, () => 'connack'));
  }, 120_000);
});
