/**
 * The offline queue of a persistent session (the collector's) with the Redis persistence, against a
 * real redis-server: what agents publish while the collector is away is held there, outside flow
 * control (no subscriber connection to wait for), and all of it arrives when the collector is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { agentClientId, agentTopic, agentUsername, type AgentAddress } from '../protocol/index.ts';
import { startRedis, type RunningRedis } from '../tests/setup/redis.ts';
import { memoryAuthBackend } from './memory-auth.ts';
import { startBroker, type RunningBroker } from './server.ts';

const A: AgentAddress = { schoolCode: '3715020001', agentId: 'gw-q' };
const users = [
  { username: agentUsername(A), password: 'pw-a', principal: { kind: 'agent' as const, ...A } },
  { username: 'collector', password: 'pw-c', principal: { kind: 'service' as const, name: 'collector' } },
];
const COLLECTOR: IClientOptions = { username: 'collector', password: 'pw-c', clientId: 'campus-collector-offline', clean: false };
/** More than aedes-persistence-redis sends at one CONNECT by default (1001). */
const QUEUED = 1300;

async function connect(url: string, opts: IClientOptions): Promise<MqttClient> {
  const c = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, ...opts });
  await new Promise<void>((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
  return c;
}

async function waitFor(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 45_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('offline queue in Redis', () => {
  let redis: RunningRedis;
  let broker: RunningBroker;
  let url: string;
  beforeAll(async () => {
    redis = await startRedis();
    broker = await startBroker({ mqttPort: 0, auth: memoryAuthBackend(users), redisUrl: redis.url, maxPublishesPerSecond: 100_000 });
    url = `mqtt://127.0.0.1:${broker.mqttPort}`;
  });
  afterAll(async () => {
    await broker?.close();
    await redis?.stop();
  });

  it('sends the collector everything queued while it was away at one reconnect, in order', async () => {
    const first = await connect(url, COLLECTOR);
    await first.subscribeAsync('campus/v1/+/+/telemetry', { qos: 1 });
    await first.endAsync();

    const agent = await connect(url, { username: agentUsername(A), password: 'pw-a', clientId: agentClientId(A), clean: true });
    await Promise.all(Array.from({ length: QUEUED }, (_, i) => agent.publishAsync(agentTopic(A, 'telemetry'), String(i), { qos: 1 })));
    await agent.endAsync();
    // A PUBACK comes before routing; the backlog counts a publish until it is queued in Redis.
    // With no subscriber connection to wait for, it empties without ever pausing the agent.
    await waitFor('every publish queued in Redis', () => broker.stats().backlogBytes === 0);
    expect(broker.stats()).toMatchObject({ publishersPaused: 0, throttleEpisodes: 0 });

    const got: number[] = [];
    const back = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, ...COLLECTOR });
    back.on('message', (_t, payload) => got.push(Number(payload.toString())));
    try {
      await waitFor(`all ${QUEUED} queued messages at the collector (${got.length} so far)`, () => got.length >= QUEUED);
      expect(got).toEqual(Array.from({ length: QUEUED }, (_, i) => i));
    } finally {
      await back.endAsync();
    }
  }, 120_000);
});
