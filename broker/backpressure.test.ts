/**
 * Flow control against real mqtt.js clients: a subscriber that stops reading (its message handler
 * holds, like a collector waiting for InfluxDB) must pause the publishing agents instead of
 * piling their messages up in the broker, and everything must arrive once it reads again.
 * Without flow control the broker acknowledges all 3 × 400 messages (150 MB) and holds them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { agentClientId, agentTopic, agentUsername, type AgentAddress } from '../protocol/index.ts';
import { memoryAuthBackend } from './memory-auth.ts';
import { startBroker, type BrokerStats, type RunningBroker } from './server.ts';

const AGENTS: AgentAddress[] = ['gw-1', 'gw-2', 'gw-3'].map((agentId, i) => ({ schoolCode: `371502000${i + 1}`, agentId }));
const COLLECTOR = { username: 'collector', password: 'collector-secret' };
const OPERATOR = { username: 'operator', password: 'operator-secret' };
const users = [
  ...AGENTS.map((a) => ({ username: agentUsername(a), password: `pw-${a.agentId}`, principal: { kind: 'agent' as const, ...a } })),
  { ...COLLECTOR, principal: { kind: 'service' as const, name: 'collector' } },
  { ...OPERATOR, principal: { kind: 'service' as const, name: 'operator' } },
];

/**
 * Below what two agents hold in the backlog once the subscriber's socket is full (aedes reads on
 * from a connection only once its earlier publishes are routed, so each agent then has at least
 * one publish in it): the mark is crossed whatever the kernel's socket buffers took first.
 */
const HIGH_WATER = 192 * 1024;
/** Larger than one socket read (64 KiB), like the bench's telemetry messages. */
const MESSAGE_BYTES = 128 * 1024;
/** Payload and topic: what the broker counts per message. */
const COUNTED_BYTES = MESSAGE_BYTES + 64;
/** Unacknowledged publishes per agent, like the edge agent's send window. */
const WINDOW = 4;
/** Messages per agent at most: far more than the kernel's socket buffers and the mark take. */
const BUDGET = 400;
/** Several waits of up to 45 s each in a row, on a loaded CI machine. */
const TEST_TIMEOUT_MS = 150_000;

const clients: MqttClient[] = [];
const brokers: RunningBroker[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => {})));
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});

/** Waits for `cond`, calling `poke` before each look; fails naming what it waited for. */
async function waitFor(what: string, cond: () => boolean, poke?: () => void): Promise<void> {
  const deadline = Date.now() + 45_000;
  for (;;) {
    poke?.();
    if (cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function connect(url: string, opts: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    // No reconnects and no keepalive: a dropped connection must fail the test, not be papered over.
    const c = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, keepalive: 0, clean: true, ...opts });
    clients.push(c);
    c.once('connect', () => resolve(c));
    c.once('error', reject);
    c.once('close', () => reject(new Error('closed before CONNACK')));
  });
}

async function start(): Promise<{ broker: RunningBroker; url: string }> {
  const broker = await startBroker({
    mqttPort: 0,
    auth: memoryAuthBackend(users),
    maxPublishesPerSecond: 100_000,
    backlogHighWaterBytes: HIGH_WATER,
    // The test holds the subscriber for as long as it needs: the broker must not drop it meanwhile.
    drainTimeoutMs: 600_000,
  });
  brokers.push(broker);
  return { broker, url: `mqtt://127.0.0.1:${broker.mqttPort}` };
}

interface Seen {
  agent: string;
  seq: number;
}

/**
 * The collector's way of reading: mqtt.js hands over one message at a time and reads no further
 * until the handler is done. Until `read()`, the handler does not finish, so the subscriber stops
 * reading its socket.
 */
async function slowSubscriber(url: string) {
  const c = await connect(url, { ...COLLECTOR, clientId: 'campus-collector-test', clean: false });
  const got: Seen[] = [];
  const waiting: Array<() => void> = [];
  let hold = true;
  c.handleMessage = (packet: IPublishPacket, done: (err?: Error) => void) => {
    got.push(JSON.parse((packet.payload as Buffer).subarray(0, 64).toString().split(' ')[0]!) as Seen);
    if (hold) waiting.push(() => done());
    else done();
  };
  await c.subscribeAsync('campus/v1/+/+/telemetry', { qos: 1 });
  return {
    got,
    read() {
      hold = false;
      for (const d of waiting.splice(0)) d();
    },
  };
}

/**
 * An agent publishing numbered telemetry with WINDOW publishes unacknowledged: each PUBACK sends
 * the next one at once (in the same turn), so a full window means the broker has read no more.
 */
async function publisher(url: string, addr: AgentAddress) {
  const c = await connect(url, { username: agentUsername(addr), password: `pw-${addr.agentId}`, clientId: agentClientId(addr) });
  const commands: string[] = [];
  c.on('message', (_t, payload) => commands.push(payload.toString()));
  await c.subscribeAsync(agentTopic(addr, 'cmd'), { qos: 1 });
  const topic = agentTopic(addr, 'telemetry');
  const state = { client: c, commands, sent: 0, acked: 0, stopped: false, failed: undefined as Error | undefined };
  const pump = (): void => {
    while (!state.stopped && state.sent < BUDGET && state.sent - state.acked < WINDOW) {
      const payload = Buffer.alloc(MESSAGE_BYTES, 0x2e);
      payload.write(`${JSON.stringify({ agent: addr.agentId, seq: state.sent++ })} `);
      c.publish(topic, payload, { qos: 1 }, (err) => {
        if (err) state.failed ??= err;
        else state.acked++;
        pump();
      });
    }
  };
  pump();
  return {
    state,
    windowFull: () => state.sent - state.acked === WINDOW,
    /** Sends nothing new; what is in flight still completes. */
    stop: () => void (state.stopped = true),
  };
}

function expectInOrderOnce(got: Seen[], agent: string, count: number): void {
  expect(got.filter((m) => m.agent === agent).map((m) => m.seq)).toEqual(Array.from({ length: count }, (_, i) => i));
}

describe('broker flow control', () => {
  it('pauses publishing agents while a subscriber does not read, keeps the backlog near the mark, and loses nothing', async () => {
    const { broker, url } = await start();
    const sub = await slowSubscriber(url);
    const pubs = await Promise.all(AGENTS.map((a) => publisher(url, a)));

    // The kernel's socket buffers take what they can first (while they still grow, a pause may
    // end and begin again); then the backlog stays above the mark, every agent is paused, and its
    // window fills with publishes the broker does not read: the PUBACKs have stopped.
    let atPause: BrokerStats | undefined;
    await waitFor('every agent paused with its window full', () => {
      const s = broker.stats();
      if (s.publishersPaused === AGENTS.length && pubs.every((p) => p.windowFull())) atPause = s;
      return atPause !== undefined;
    });
    expect(atPause!.pauses).toBeGreaterThanOrEqual(AGENTS.length);
    expect(atPause!.backlogBytes).toBeGreaterThan(HIGH_WATER / 4); // above the low-water mark
    // Without flow control all BUDGET messages of every agent would have been acknowledged.
    for (const p of pubs) expect(p.state.sent).toBeLessThan(BUDGET);

    // A service is never paused: an operator's command is acknowledged (a paused service would
    // wait for the subscriber), and a paused agent, whose socket is only not read, receives it.
    const operator = await connect(url, { ...OPERATOR, clientId: 'operator-1' });
    await operator.publishAsync(agentTopic(AGENTS[0]!, 'cmd'), 'reboot', { qos: 1 });
    await waitFor('the command at the paused agent', () => pubs[0]!.state.commands.length > 0);
    expect(pubs[0]!.state.commands).toEqual(['reboot']);

    pubs.forEach((p) => p.stop());
    sub.read();
    await waitFor('every publish acknowledged', () => pubs.every((p) => p.state.acked === p.state.sent));
    const total = pubs.reduce((n, p) => n + p.state.sent, 0);
    await waitFor(`all ${total} messages at the subscriber`, () => sub.got.length >= total);
    AGENTS.forEach((a, i) => expectInOrderOnce(sub.got, a.agentId, pubs[i]!.state.sent));
    expect(sub.got).toHaveLength(total);

    const after = broker.stats();
    expect(after.publishersPaused).toBe(0);
    expect(after.backlogBytes).toBe(0);
    expect(after.clients).toBe(AGENTS.length + 2); // nobody was dropped on the way
    for (const p of pubs) expect(p.state.failed).toBeUndefined();
    // Over the whole run (without flow control it reaches 150 MB): after its pause an agent adds
    // at most what it had already sent, its window.
    expect(after.backlogPeakBytes).toBeGreaterThan(HIGH_WATER);
    expect(after.backlogPeakBytes).toBeLessThanOrEqual(HIGH_WATER + COUNTED_BYTES + AGENTS.length * WINDOW * COUNTED_BYTES);
  }, TEST_TIMEOUT_MS);

  it('forgets an agent that is lost while paused and delivers what it had sent', async () => {
    const { broker, url } = await start();
    const sub = await slowSubscriber(url);
    const [lost, stays] = await Promise.all(AGENTS.slice(0, 2).map((a) => publisher(url, a)));
    await waitFor('both agents paused with their windows full', () => broker.stats().publishersPaused === 2 && lost!.windowFull() && stays!.windowFull());

    const operator = await connect(url, { ...OPERATOR, clientId: 'operator-2' });
    const clientsBefore = broker.stats().clients;
    const ackedBeforeLoss = lost!.state.acked;
    lost!.stop();
    lost!.state.client.stream.destroy(); // no DISCONNECT, like a gateway losing power
    // The broker reads nothing from a paused agent, so it may only learn of the loss when it next
    // writes to it (or resumes reading, or at the keepalive): here, commands.
    await waitFor('the lost agent dropped and forgotten', () => broker.stats().clients === clientsBefore - 1 && broker.stats().publishersPaused === 1, () => {
      operator.publish(agentTopic(AGENTS[0]!, 'cmd'), 'are-you-there', { qos: 0 });
    });

    stays!.stop();
    sub.read();
    await waitFor('every publish of the other agent acknowledged', () => stays!.state.acked === stays!.state.sent);
    await waitFor('the backlog drained', () => broker.stats().backlogBytes === 0 && sub.got.filter((m) => m.agent === AGENTS[1]!.agentId).length >= stays!.state.sent);
    expectInOrderOnce(sub.got, AGENTS[1]!.agentId, stays!.state.sent);
    // Everything the lost agent had acknowledged reached the subscriber, once and in order.
    const fromLost = sub.got.filter((m) => m.agent === AGENTS[0]!.agentId).map((m) => m.seq);
    expect(fromLost.length).toBeGreaterThanOrEqual(ackedBeforeLoss);
    expect(fromLost).toEqual(Array.from({ length: fromLost.length }, (_, i) => i));
    expect(broker.stats().publishersPaused).toBe(0);
  }, TEST_TIMEOUT_MS);
});
