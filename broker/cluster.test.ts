/**
 * Two brokers sharing one real redis-server (DESIGN.md decision 4, docs/decisions/0011): publishes
 * cross between them, retained messages and persistent sessions are shared, a client id moves from
 * one broker to the other, and authentication, the ACL and flow control still work per broker.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { agentClientId, agentTopic, agentUsername, collectorSubscriptions, type AgentAddress } from '../protocol/index.ts';
import { startRedis, type RunningRedis } from '../tests/setup/redis.ts';
import { memoryAuthBackend } from './memory-auth.ts';
import { startBroker, type BrokerOptions, type RunningBroker } from './server.ts';
import { captureLogger, mqttTestClients } from './mqtt-test-clients.ts';
import { waitFor as poll } from '../tests/setup/wait.ts';

const A: AgentAddress = { schoolCode: '3715020001', agentId: 'gw-a' };
const B: AgentAddress = { schoolCode: '3715020002', agentId: 'gw-b' };
const users = [
  { username: agentUsername(A), password: 'pw-a', principal: { kind: 'agent' as const, ...A } },
  { username: agentUsername(B), password: 'pw-b', principal: { kind: 'agent' as const, ...B } },
  { username: 'collector', password: 'pw-c', principal: { kind: 'service' as const, name: 'collector' } },
];
const agent = (addr: AgentAddress, password: string): IClientOptions => ({ username: agentUsername(addr), password, clientId: agentClientId(addr) });
const AGENT_A = agent(A, 'pw-a');
const AGENT_B = agent(B, 'pw-b');
const service = (clientId: string, clean = true): IClientOptions => ({ username: 'collector', password: 'pw-c', clientId, clean });
const TELEMETRY = 'campus/v1/+/+/telemetry';
/** Several waits in a row of up to 45 s each, on a loaded CI machine. */
const TEST_TIMEOUT_MS = 150_000;

const clients = mqttTestClients();
const connect = clients.connect;

/** Payloads a client receives, as strings, in arrival order. */
function inbox(c: MqttClient): string[] {
  const got: string[] = [];
  c.on('message', (_t, payload) => got.push(payload.toString()));
  return got;
}

async function waitFor(what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 45_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const closed = (c: MqttClient) => new Promise<void>((resolve) => (c.connected ? c.once('close', () => resolve()) : resolve()));
const numbers = (n: number, from = 0) => Array.from({ length: n }, (_, i) => String(from + i));

/**
 * Publishes `count` numbered messages with QoS 1, then a marker. What a subscriber has once the
 * marker is in (same publisher, same path: in order) is everything it will get: counts, not time.
 */
async function publishNumbered(c: MqttClient, topic: string, count: number, from = 0): Promise<string> {
  await Promise.all(numbers(count, from).map((p) => c.publishAsync(topic, p, { qos: 1 })));
  const marker = `end-${from}`;
  await c.publishAsync(topic, marker, { qos: 1 });
  return marker;
}

describe('two brokers on one Redis', () => {
  let redis: RunningRedis;
  let brokerA: RunningBroker;
  let brokerB: RunningBroker;
  let urlA: string;
  let urlB: string;
  beforeAll(async () => {
    redis = await startRedis();
    const opts: BrokerOptions = { mqttPort: 0, auth: memoryAuthBackend(users), redisUrl: redis.url, maxPublishesPerSecond: 100_000 };
    brokerA = await startBroker(opts);
    brokerB = await startBroker(opts);
    urlA = `mqtt://127.0.0.1:${brokerA.mqttPort}`;
    urlB = `mqtt://127.0.0.1:${brokerB.mqttPort}`;
  });
  afterAll(async () => {
    await brokerA?.close();
    await brokerB?.close();
    await redis?.stop();
  });

  it("delivers an agent's QoS 1 publishes on A to subscribers on both brokers, each once and in order", async () => {
    const onB = await connect(urlB, service('svc-on-b'));
    const onA = await connect(urlA, service('svc-on-a'));
    await onB.subscribeAsync(TELEMETRY, { qos: 1 });
    await onA.subscribeAsync(TELEMETRY, { qos: 1 });
    const gotB = inbox(onB);
    const gotA = inbox(onA);

    const pub = await connect(urlA, AGENT_A);
    const marker = await publishNumbered(pub, agentTopic(A, 'telemetry'), 300);
    await waitFor(`the marker on B (${gotB.length} so far)`, () => gotB.includes(marker));
    await waitFor(`the marker on A (${gotA.length} so far)`, () => gotA.includes(marker));
    expect(gotB).toEqual([...numbers(300), marker]);
    expect(gotA).toEqual([...numbers(300), marker]);
  }, TEST_TIMEOUT_MS);

  it('shows a status retained on A to a new subscriber on B', async () => {
    const pub = await connect(urlA, AGENT_A);
    await pub.publishAsync(agentTopic(A, 'status'), 'online-retained', { qos: 1, retain: true });
    const sub = await connect(urlB, service('svc-retained'));
    const retained: Array<{ payload: string; retain: boolean }> = [];
    sub.on('message', (_t, payload, packet) => retained.push({ payload: payload.toString(), retain: packet.retain }));
    await sub.subscribeAsync('campus/v1/+/+/status', { qos: 1 });
    await waitFor('the retained status on B', () => retained.length > 0);
    expect(retained).toEqual([{ payload: 'online-retained', retain: true }]);
  }, TEST_TIMEOUT_MS);

  it('keeps a persistent session subscribed on B and hands what A queued to it when it comes back on A', async () => {
    const first = await connect(urlB, service('campus-collector-cluster', false));
    await first.subscribeAsync(TELEMETRY, { qos: 1 });
    await first.endAsync();
    // B answered the SUBSCRIBE when it had the subscription back from Redis; A learns of it from
    // the same announcement, on its own connection, a moment later.
    const topic = agentTopic(A, 'telemetry');
    await poll('A to know the session', async () => (await brokerA.sessionsSubscribedTo(topic)).includes('campus-collector-cluster') || undefined);

    const pub = await connect(urlA, AGENT_A);
    const marker = await publishNumbered(pub, topic, 500, 1000);
    const expected = [...numbers(500, 1000), marker];

    const back = mqtt.connect(urlA, { protocolVersion: 4, reconnectPeriod: 0, ...service('campus-collector-cluster', false) });
    clients.track(back);
    const got = inbox(back);
    // Queued messages and those still being routed when it reconnects arrive interleaved: all of
    // them, in no particular order (ingest does not rely on it, DESIGN.md), at least once (QoS 1).
    await waitFor(`the queued messages at the collector on A (${new Set(got).size} of ${expected.length} so far)`, () => expected.every((m) => got.includes(m)));
    expect(new Set(got)).toEqual(new Set(expected));
  }, TEST_TIMEOUT_MS);

  it("answers a persistent session's SUBSCRIBE of several filters at once, as the collector sends it", async () => {
    const c = await connect(urlB, service('campus-collector-filters', false));
    // aedes 1.2 with an emitter that answers later (Redis) never sent this SUBACK (redis-state.ts).
    const granted = await Promise.race([
      c.subscribeAsync(collectorSubscriptions(), { qos: 1 }),
      waitFor('the SUBACK', () => false).then(() => []),
    ]);
    expect(granted.map((g) => g.qos)).toEqual(collectorSubscriptions().map(() => 1));
    const got: string[] = [];
    c.on('message', (topic, payload) => topic === agentTopic(A, 'event') && got.push(payload.toString()));
    const pub = await connect(urlA, AGENT_A);
    const marker = await publishNumbered(pub, agentTopic(A, 'event'), 3, 4000);
    await waitFor('the marker at the collector on B', () => got.includes(marker));
    expect(got).toEqual([...numbers(3, 4000), marker]);
  }, TEST_TIMEOUT_MS);

  it('moves a client id to the other broker: the connection on A is closed when the agent connects to B', async () => {
    const onA = await connect(urlA, AGENT_A);
    const clientsA = brokerA.stats().clients;
    const onB = await connect(urlB, AGENT_A);
    // aedes' `$SYS/<broker>/new/clients`, through Redis, makes A close its connection of that id.
    await waitFor('the connection on A closed by the takeover', () => !onA.connected);
    await waitFor('the agent gone from A', () => brokerA.stats().clients === clientsA - 1);

    const sub = await connect(urlA, service('svc-takeover'));
    await sub.subscribeAsync(TELEMETRY, { qos: 1 });
    const got = inbox(sub);
    const marker = await publishNumbered(onB, agentTopic(A, 'telemetry'), 20, 2000);
    await waitFor('the marker from the agent on B', () => got.includes(marker));
    expect(got).toEqual([...numbers(20, 2000), marker]);
    expect(onB.connected).toBe(true);
  }, TEST_TIMEOUT_MS);

  it("refuses an agent's publish to another school on either broker, and nothing of it crosses", async () => {
    const subA = await connect(urlA, service('svc-acl-a'));
    const subB = await connect(urlB, service('svc-acl-b'));
    await subA.subscribeAsync(TELEMETRY, { qos: 1 });
    await subB.subscribeAsync(TELEMETRY, { qos: 1 });
    const gotA = inbox(subA);
    const gotB = inbox(subB);

    for (const [broker, url] of [
      [brokerA, urlA],
      [brokerB, urlB],
    ] as const) {
      const refusedBefore = broker.stats().publishesRefused;
      const intruder = await connect(url, AGENT_A);
      const gone = closed(intruder);
      intruder.publish(agentTopic(B, 'telemetry'), 'forged', { qos: 1 });
      await gone; // 3.1.1 has no negative PUBACK: the broker closes the connection (MQTT-3.3.5-2)
      expect(broker.stats().publishesRefused).toBe(refusedBefore + 1);
    }
    // School B's own agent still publishes; once its marker is at both subscribers, so would be anything forged.
    const pub = await connect(urlB, AGENT_B);
    const marker = await publishNumbered(pub, agentTopic(B, 'telemetry'), 1, 3000);
    await waitFor('the marker on A and B', () => gotA.includes(marker) && gotB.includes(marker));
    expect(gotA).toEqual(['3000', marker]);
    expect(gotB).toEqual(['3000', marker]);
  }, TEST_TIMEOUT_MS);
});

describe('flow control on a broker of a cluster', () => {
  const MESSAGE_BYTES = 32 * 1024;
  const WINDOW = 4;
  /**
   * 64 messages: far above what the two agents have on their way into Redis (their windows, and
   * what aedes reads on after its early PUBACKs: 16 messages here), so only what waits for the
   * local subscriber crosses it — the part this test is about.
   */
  const HIGH_WATER = 2 * 1024 * 1024;
  /** Messages per agent at most (32 MiB): far more than the kernel's socket buffers and the mark take. */
  const BUDGET = 1000;

  let redis: RunningRedis;
  const brokers: RunningBroker[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(brokers.map((b) => b.close()));
    await redis?.stop();
  });

  const cluster = async (): Promise<[RunningBroker, RunningBroker]> => {
    const opts: BrokerOptions = {
      mqttPort: 0,
      auth: memoryAuthBackend(users),
      redisUrl: redis.url,
      maxPublishesPerSecond: 100_000,
      backlogHighWaterBytes: HIGH_WATER,
      drainTimeoutMs: 600_000,
    };
    const pair: [RunningBroker, RunningBroker] = [await startBroker(opts), await startBroker(opts)];
    brokers.push(...pair);
    return pair;
  };
  const urlOf = (b: RunningBroker) => `mqtt://127.0.0.1:${b.mqttPort}`;

  /** The collector's way of reading (see backpressure.test.ts): one message at a time, held until `release`. */
  async function slowSubscriber(broker: RunningBroker, clientId: string) {
    const sub = await connect(urlOf(broker), { ...service(clientId, false), keepalive: 0 });
    const got: string[] = [];
    const held: Array<() => void> = [];
    let hold = true;
    sub.handleMessage = (packet: IPublishPacket, done: (err?: Error) => void) => {
      got.push((packet.payload as Buffer).subarray(0, 16).toString().split(' ')[0]!);
      if (hold) held.push(() => done());
      else done();
    };
    await sub.subscribeAsync(TELEMETRY, { qos: 1 });
    return {
      got,
      release() {
        hold = false;
        for (const d of held.splice(0)) d();
      },
    };
  }

  /** Agents A and B on `broker`, each publishing up to BUDGET messages with WINDOW unacknowledged. */
  async function publishingAgents(broker: RunningBroker) {
    return Promise.all(
      [AGENT_A, AGENT_B].map(async (creds, n) => {
        const c = await connect(urlOf(broker), { ...creds, keepalive: 0 });
        const topic = agentTopic(n === 0 ? A : B, 'telemetry');
        const state = { sent: 0, acked: 0, stopped: false, failed: undefined as Error | undefined };
        const pump = (): void => {
          while (!state.stopped && state.sent < BUDGET && state.sent - state.acked < WINDOW) {
            const payload = Buffer.alloc(MESSAGE_BYTES, 0x2e);
            payload.write(`${n}:${state.sent++} `);
            c.publish(topic, payload, { qos: 1 }, (err) => {
              if (err) state.failed ??= err;
              else state.acked++;
              pump();
            });
          }
        };
        pump();
        return state;
      }),
    );
  }

  type Agents = Awaited<ReturnType<typeof publishingAgents>>;
  /** Stops the agents, lets the subscriber read, and checks that every message arrived once, in order per agent. */
  async function drainAndCheck(pubs: Agents, sub: Awaited<ReturnType<typeof slowSubscriber>>, ...all: RunningBroker[]) {
    for (const p of pubs) p.stopped = true;
    sub.release();
    await waitFor('every publish acknowledged', () => pubs.every((p) => p.acked === p.sent));
    const total = pubs[0]!.sent + pubs[1]!.sent;
    await waitFor(`all ${total} messages at the subscriber (${sub.got.length} so far)`, () => sub.got.length >= total);
    pubs.forEach((p, n) => expect(sub.got.filter((m) => m.startsWith(`${n}:`))).toEqual(Array.from({ length: p.sent }, (_, i) => `${n}:${i}`)));
    expect(sub.got).toHaveLength(total);
    await waitFor('the backlogs drained and the agents resumed', () => all.every((b) => b.stats().backlogBytes === 0 && b.stats().publishersPaused === 0));
    for (const p of pubs) expect(p.failed).toBeUndefined();
  }

  it('pauses the agents of a broker whose subscriber does not read, though routing goes through Redis, and loses nothing', async () => {
    const [here] = await cluster();
    const sub = await slowSubscriber(here, 'campus-collector-flow');
    const pubs = await publishingAgents(here);

    await waitFor('both agents paused with their windows full', () => here.stats().publishersPaused === 2 && pubs.every((p) => p.sent - p.acked === WINDOW));
    expect(here.stats().backlogBytes).toBeGreaterThan(HIGH_WATER / 4); // above the low-water mark: still paused
    // Without flow control every message of both agents would have been acknowledged.
    for (const p of pubs) expect(p.sent).toBeLessThan(BUDGET);
    await drainAndCheck(pubs, sub, here);
  }, TEST_TIMEOUT_MS);

  it('pauses the agents on the other broker while the subscriber here does not read, and resumes them when it does', async () => {
    const [here, there] = await cluster();
    const sub = await slowSubscriber(here, 'campus-collector-flow-far');
    const pubs = await publishingAgents(there);

    // The backlog is here (what the subscriber has not taken); the agents are there.
    await waitFor('both agents on the other broker paused with their windows full', () => there.stats().publishersPaused === 2 && pubs.every((p) => p.sent - p.acked === WINDOW));
    expect(here.stats().throttleEpisodes).toBeGreaterThan(0);
    expect(there.stats()).toMatchObject({ otherBrokersThrottled: 1, throttleEpisodes: 0 });
    for (const p of pubs) expect(p.sent).toBeLessThan(BUDGET);
    await drainAndCheck(pubs, sub, here, there);
    expect(there.stats().otherBrokersThrottled).toBe(0);
  }, TEST_TIMEOUT_MS);
});

describe('Redis going away', () => {
  it('is logged once, does not end the process, and the broker still closes', async () => {
    const redis = await startRedis();
    const log = captureLogger();
    const broker = await startBroker({ mqttPort: 0, auth: memoryAuthBackend(users), redisUrl: redis.url, logger: log });
    try {
      await redis.stop();
      await waitFor('the outage in the log', () => log.lines.some((l) => l.level === 'error' && l.msg?.startsWith('redis unreachable')));
      // One line per connection (persistence, emitter subscriber, emitter publisher), not per retry.
      const outage = log.lines.filter((l) => l.msg?.startsWith('redis unreachable'));
      expect(new Set(outage.map((l) => l.obj.connection)).size).toBe(outage.length);
      expect(outage.every((l) => l.obj.redis === redis.url.replace(/\/?$/, ''))).toBe(true);
    } finally {
      await broker.close();
    }
  }, TEST_TIMEOUT_MS);
});
