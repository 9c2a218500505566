/**
 * Worker thread of `bench/ingest.ts`: the simulated agents, each a real mqtt.js client (MQTT 3.1.1,
 * its own username and fixed client id, QoS 1). Payloads are encoded before the clock starts, so
 * the measured time is the broker's and the collector's, not the JSON encoder's. A separate thread
 * because the agents are other machines in real life: their sockets should not share the
 * collector's event loop.
 *
 * Protocol with the main thread: workerData = AgentsWorkerInput; posts `{ type: 'ready' }`, waits
 * for 'go', posts `{ type: 'published', ... }` once every publish is acknowledged by the broker,
 * then waits for 'stop', ends its clients and posts `{ type: 'stopped' }`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import mqtt, { type MqttClient } from 'mqtt';
import { agentClientId, agentTopic, agentUsername, encodeMessage, SCHEMA_VERSION } from '../protocol/index.ts';
import { discoveredDevices, messageReadings, type BenchAgent, type LoadShape } from './ingest-load.ts';

export interface AgentsWorkerInput {
  mqttUrl: string;
  shape: LoadShape;
  agents: BenchAgent[];
}

export type AgentsWorkerMessage =
  | { type: 'ready'; payloadBytes: number; encodeMs: number }
  | { type: 'published'; t0: number; tDiscovered: number; tPublished: number; publishes: number }
  | { type: 'stopped' }
  | { type: 'error'; message: string };

const PUBLISH_TIMEOUT_MS = 60_000;
const now = () => performance.timeOrigin + performance.now();

const input = workerData as AgentsWorkerInput;
const port = parentPort!;
const post = (m: AgentsWorkerMessage) => port.postMessage(m);
const clients: MqttClient[] = [];

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no PUBACK after ${PUBLISH_TIMEOUT_MS} ms`)), PUBLISH_TIMEOUT_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function waitFor(type: 'go' | 'stop'): Promise<void> {
  return new Promise((resolve) => {
    const on = (m: unknown) => {
      if (m !== type) return;
      port.off('message', on);
      resolve();
    };
    port.on('message', on);
  });
}

async function main(): Promise<void> {
  const { shape, agents } = input;
  const t = performance.now();
  let payloadBytes = 0;
  const ts = Date.now();
  const discovery = agents.map(() => encodeMessage('discovery', { v: SCHEMA_VERSION, seq: 1, ts, full: true, devices: discoveredDevices(shape) }));
  const telemetry = agents.map((_, a) =>
    Array.from({ length: shape.messagesPerAgent }, (_, m) => {
      const buf = encodeMessage('telemetry', { v: SCHEMA_VERSION, seq: m + 2, ts, readings: messageReadings(shape, a, m) });
      payloadBytes += buf.length;
      return buf;
    }),
  );
  const encodeMs = performance.now() - t;

  for (const a of agents) {
    const client = mqtt.connect(input.mqttUrl, {
      protocolVersion: 4,
      clientId: agentClientId(a),
      username: agentUsername(a),
      password: a.password,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
    });
    clients.push(client);
  }
  await Promise.all(
    clients.map(
      (c, i) =>
        new Promise<void>((resolve, reject) => {
          c.once('connect', () => resolve());
          c.once('error', (err) => reject(new Error(`agent ${agentUsername(agents[i]!)} could not connect: ${err.message}`)));
          c.once('close', () => reject(new Error(`agent ${agentUsername(agents[i]!)}: connection closed before CONNACK`)));
        }),
    ),
  );
  for (const [i, c] of clients.entries()) c.on('close', () => closedEarly ?? (closedEarly = `agent ${agentUsername(agents[i]!)} lost its connection`));

  post({ type: 'ready', payloadBytes, encodeMs });
  await waitFor('go');

  const t0 = now();
  let discovered = 0;
  let tDiscovered = 0;
  let publishes = 0;
  await Promise.all(
    clients.map(async (c, i) => {
      const a = agents[i]!;
      // Devices first: the collector refuses readings of devices it was never told about.
      await withTimeout(c.publishAsync(agentTopic(a, 'discovery'), discovery[i]!, { qos: 1 }), 'discovery');
      publishes++;
      if (++discovered === clients.length) tDiscovered = now();
      const inflight = new Set<Promise<unknown>>();
      for (const [m, payload] of telemetry[i]!.entries()) {
        if (closedEarly) throw new Error(closedEarly);
        const p = withTimeout(c.publishAsync(agentTopic(a, 'telemetry'), payload, { qos: 1 }), `telemetry seq ${m + 2}`).then(() => {
          inflight.delete(p);
          publishes++;
        });
        inflight.add(p);
        if (inflight.size >= shape.inflightPerClient) await Promise.race(inflight);
      }
      await Promise.all(inflight);
    }),
  );
  post({ type: 'published', t0, tDiscovered, tPublished: now(), publishes });
  await waitFor('stop');
  await stopClients();
  post({ type: 'stopped' });
}

let closedEarly: string | undefined;

async function stopClients(): Promise<void> {
  closedEarly = 'stopping';
  await Promise.allSettled(clients.map((c) => c.endAsync(true)));
}

main().catch(async (err: unknown) => {
  post({ type: 'error', message: (err as Error).stack ?? String(err) });
  await stopClients();
});
