/**
 * The edge agent: polls its devices, batches readings into telemetry messages, stores every
 * message in the on-disk queue first, and drains that queue in order to the broker (QoS 1, one
 * PUBACK at a time per window) whenever it is connected. Store-and-forward means a broker outage
 * only delays data; the queue bound is the only place data can be lost, and that is counted.
 */
import * as path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import {
  agentClientId,
  agentTopic,
  agentUsername,
  decodeMessage,
  encodeMessage,
  MAX_READINGS_PER_MESSAGE,
  SCHEMA_VERSION,
  type CommandMessage,
  type DiscoveredDevice,
  type Reading,
  type StatusMessage,
} from '../protocol/index.ts';
import { resolveMqttPassword, type AgentConfig, type DeviceConfig } from './config.ts';
import { DiskQueue } from './queue/disk-queue.ts';
import { pollSnmpDevice, type SystemInfo } from './snmp/poller.ts';

/** Not exported by protocol/: the value type of metrics, attributes and command results. */
type MetricValue = number | boolean | string;

export const AGENT_VERSION = '0.1.0';
/** Messages published before waiting for their PUBACKs; order on one connection is kept by TCP. */
const SEND_WINDOW = 16;

export interface AgentLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface AgentStats {
  polls: number;
  pollFailures: number;
  readings: number;
  skippedVarbinds: number;
  invalidReadings: number;
  messagesQueued: number;
  messagesSent: number;
  dropped: number;
  queueSize: number;
  connected: boolean;
  connects: number;
  connectErrors: number;
  badCommands: number;
  highWater: number;
}

export interface RunningAgent {
  stop(): Promise<void>;
  /** Polls every device now and queues the result; resolves with the number of readings. */
  pollNow(): Promise<number>;
  stats(): AgentStats;
}

export interface StartAgentOptions {
  logger?: AgentLogger;
  /** Used by the `reload-config` command; without it that command is answered with an error. */
  reloadConfig?: () => AgentConfig;
}

const consoleLogger: AgentLogger = {
  info: (m) => console.log(`[agent] ${m}`),
  warn: (m) => console.warn(`[agent] ${m}`),
  error: (m) => console.error(`[agent] ${m}`),
};

function publishQos1(client: MqttClient, topic: string, payload: Buffer, retain: boolean, timeoutMs: number): Promise<void> {
  // mqtt.js leaves the callback pending when the connection drops, so 'close' and a timer settle it too
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onClose = (): void => finish(new Error('connection closed before PUBACK'));
    const timer = setTimeout(() => finish(new Error(`no PUBACK within ${timeoutMs} ms`)), timeoutMs);
    client.on('close', onClose);
    client.publish(topic, payload, { qos: 1, retain }, (err) => finish(err ?? undefined));
  });
}

export async function startAgent(initialConfig: AgentConfig, options: StartAgentOptions = {}): Promise<RunningAgent> {
  let config = initialConfig;
  const log = options.logger ?? consoleLogger;
  const addr = { schoolCode: config.schoolCode, agentId: config.agentId };
  const topics = {
    status: agentTopic(addr, 'status'),
    telemetry: agentTopic(addr, 'telemetry'),
    discovery: agentTopic(addr, 'discovery'),
    cmd: agentTopic(addr, 'cmd'),
    cmdAck: agentTopic(addr, 'cmd/ack'),
  };
  const queue = DiskQueue.open(path.join(config.dataDir, 'queue'), { maxMessages: config.queue.maxMessages, logger: log });
  const startedAt = Date.now();
  const s = { polls: 0, pollFailures: 0, readings: 0, skippedVarbinds: 0, invalidReadings: 0, messagesQueued: 0, messagesSent: 0, connects: 0, connectErrors: 0, badCommands: 0 };
  let stopping = false;

  const status = (state: 'online' | 'offline', reason?: string): Buffer =>
    encodeMessage('status', {
      v: SCHEMA_VERSION,
      seq: queue.highWater,
      ts: Date.now(),
      state,
      ...(reason ? { reason } : {}),
      agentVersion: AGENT_VERSION,
      startedAt,
      queued: queue.size,
      dropped: queue.dropped,
    } satisfies StatusMessage);
  const will = (): mqtt.IClientOptions['will'] => ({ topic: topics.status, payload: status('offline', 'connection-lost'), qos: 1, retain: true });

  // ---- MQTT connection with our own back-off (mqtt.js only knows a fixed reconnect period) ----
  const client = mqtt.connect(config.mqtt.url, {
    protocolVersion: 4,
    clean: false,
    clientId: agentClientId(addr),
    username: agentUsername(addr),
    password: resolveMqttPassword(config),
    keepalive: config.mqtt.keepaliveSec,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    will: will(),
  });
  client.setMaxListeners(SEND_WINDOW + 20);
  let attempts = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  client.on('connect', () => {
    attempts = 0;
    s.connects++;
    log.info(`connected to ${config.mqtt.url} as ${agentUsername(addr)}`);
    client.subscribe(topics.cmd, { qos: 1 }, (err) => {
      if (err) log.warn(`cannot subscribe to ${topics.cmd}: ${err.message}`);
    });
    publishQos1(client, topics.status, status('online'), true, config.mqtt.publishTimeoutMs).catch((err: Error) => log.warn(`birth message not acknowledged: ${err.message}`));
    void drain();
  });
  client.on('error', (err: Error & { code?: number | string }) => {
    s.connectErrors++;
    // connack refusals (bad credentials, not authorised) come here: log, back off, retry
    log.error(`mqtt: ${err.message}${err.code !== undefined ? ` (code ${err.code})` : ''}`);
  });
  client.on('close', () => {
    if (stopping || reconnectTimer) return;
    const base = Math.min(config.mqtt.reconnectMaxMs, config.mqtt.reconnectMinMs * 2 ** Math.min(attempts, 20));
    const delay = Math.round(base * (0.8 + 0.4 * Math.random()));
    attempts++;
    log.warn(`mqtt connection closed; reconnecting in ${delay} ms`);
    reconnectTimer = setTimeout(() => {
      reconnectTimer = undefined;
      if (stopping) return;
      // the will carries the high-water mark, so refresh it for the next session
      client.options.will = will();
      client.reconnect();
    }, delay);
  });
  client.on('message', (topic, payload) => {
    if (topic === topics.cmd) void handleCommand(payload);
  });

  // ---- sender: the only place that publishes queued messages, strictly in queue order ----
  let draining: Promise<void> | undefined;
  let retryTimer: NodeJS.Timeout | undefined;
  function drain(): Promise<void> {
    if (!draining) draining = drainLoop().finally(() => (draining = undefined));
    return draining;
  }
  async function drainLoop(): Promise<void> {
    while (client.connected && queue.size > 0) {
      const started = Date.now();
      const batch = queue.peek(SEND_WINDOW);
      try {
        await Promise.all(batch.map((m) => publishQos1(client, m.topic, m.payload, false, config.mqtt.publishTimeoutMs)));
      } catch (err) {
        log.warn(`sending paused: ${(err as Error).message}; ${queue.size} messages wait on disk`);
        if (!stopping && !retryTimer) retryTimer = setTimeout(() => ((retryTimer = undefined), void drain()), config.mqtt.reconnectMinMs);
        return;
      }
      s.messagesSent += queue.ack(batch[batch.length - 1]!.seq);
      // Replaying a backlog must not trip the broker's flood control (it disconnects the client).
      const minMs = (batch.length * 1000) / config.mqtt.maxPublishesPerSecond;
      const spent = Date.now() - started;
      if (queue.size > 0 && spent < minMs) await new Promise((r) => setTimeout(r, minMs - spent));
    }
  }

  function enqueue(topic: string, build: (seq: number) => Buffer): boolean {
    try {
      queue.append(topic, build);
      s.messagesQueued++;
      void drain();
      return true;
    } catch (err) {
      log.error(`cannot queue message for ${topic}: ${(err as Error).message}`);
      return false;
    }
  }

  // ---- batching readings into telemetry messages ----
  let pending: Reading[] = [];
  let batchTimer: NodeJS.Timeout | undefined;
  const maxPerMessage = (): number => Math.min(config.batch.maxReadings, MAX_READINGS_PER_MESSAGE);
  function queueTelemetry(readings: Reading[]): void {
    try {
      queue.append(topics.telemetry, (seq) => encodeMessage('telemetry', { v: SCHEMA_VERSION, seq, ts: Date.now(), readings }));
      s.messagesQueued++;
      void drain();
    } catch (err) {
      // one bad reading (or an oversized message) must not take the good ones with it: bisect
      if (readings.length > 1) {
        const mid = readings.length >> 1;
        queueTelemetry(readings.slice(0, mid));
        queueTelemetry(readings.slice(mid));
      } else {
        s.invalidReadings++;
        log.warn(`dropping invalid reading of ${readings[0]?.device}: ${(err as Error).message}`);
      }
    }
  }
  function flushBatch(): void {
    if (batchTimer) clearTimeout(batchTimer);
    batchTimer = undefined;
    while (pending.length > 0) queueTelemetry(pending.splice(0, maxPerMessage()));
  }
  function addReadings(readings: Reading[]): void {
    pending.push(...readings);
    s.readings += readings.length;
    if (pending.length >= maxPerMessage()) flushBatch();
    else if (pending.length > 0 && !batchTimer) batchTimer = setTimeout(flushBatch, config.batch.maxDelayMs);
  }

  // ---- discovery: what each device says it is, sent when that changes ----
  const known = new Map<string, SystemInfo>();
  function noteSystem(device: DeviceConfig, info: SystemInfo): void {
    const prev = known.get(device.id);
    if (prev && prev.sysObjectID === info.sysObjectID && prev.sysName === info.sysName && prev.sysDescr === info.sysDescr) return;
    known.set(device.id, info);
    announceDevices();
  }
  /**
   * The full list of configured devices with what each said about itself. Sent once before the
   * first poll too: the collector refuses readings of devices it has never been told about, and an
   * unreachable device's `reachable: false` readings must still count.
   */
  function announceDevices(): void {
    const devices: DiscoveredDevice[] = config.devices.map((d) => {
      const k = known.get(d.id);
      const attributes: Record<string, MetricValue> = {};
      if (k?.sysObjectID) attributes.sysObjectID = k.sysObjectID;
      if (k?.sysName) attributes.sysName = k.sysName.slice(0, 1024);
      if (k?.sysDescr) attributes.sysDescr = k.sysDescr.slice(0, 1024);
      return { device: d.id, kind: d.kind, protocol: d.protocol, address: d.address, attributes };
    });
    enqueue(topics.discovery, (seq) => encodeMessage('discovery', { v: SCHEMA_VERSION, seq, ts: Date.now(), full: true, devices }));
  }

  // ---- polling ----
  const inFlight = new Map<string, Promise<number>>();
  function pollDevice(device: DeviceConfig): Promise<number> {
    // a slow device must not pile up overlapping polls
    const running = inFlight.get(device.id);
    if (running) return running;
    const p = (async () => {
      s.polls++;
      try {
        const r = await pollSnmpDevice(device);
        s.skippedVarbinds += r.skipped;
        if (!r.reachable) s.pollFailures++;
        if (r.errors.length > 0) log.warn(`${device.id}: ${r.errors.join('; ')}`);
        if (r.reachable) noteSystem(device, r.system);
        addReadings(r.readings);
        return r.readings.length;
      } catch (err) {
        s.pollFailures++;
        log.error(`${device.id}: poll failed: ${(err as Error).message}`);
        return 0;
      } finally {
        inFlight.delete(device.id);
      }
    })();
    inFlight.set(device.id, p);
    return p;
  }
  let pollTimers: NodeJS.Timeout[] = [];
  function schedulePolls(): void {
    for (const t of pollTimers) clearInterval(t);
    pollTimers = config.devices.map((d) => {
      void pollDevice(d);
      return setInterval(() => void pollDevice(d), config.pollIntervalSec * 1000);
    });
  }
  async function pollNow(): Promise<number> {
    const counts = await Promise.all(config.devices.map((d) => pollDevice(d)));
    flushBatch();
    return counts.reduce((a, b) => a + b, 0);
  }

  // ---- commands from the centre ----
  async function handleCommand(payload: Buffer): Promise<void> {
    const decoded = decodeMessage('cmd', payload);
    if (!decoded.ok) {
      s.badCommands++;
      log.warn(`ignoring bad command (${decoded.reason}): ${decoded.detail}`);
      return;
    }
    const cmd: CommandMessage = decoded.message;
    let ok = true;
    let result: Record<string, MetricValue> | undefined;
    let error: string | undefined;
    try {
      switch (cmd.command) {
        case 'ping':
          result = { pong: true, queued: queue.size, highWater: queue.highWater };
          break;
        case 'poll-now':
          result = { readings: await pollNow() };
          break;
        case 'reload-config': {
          if (!options.reloadConfig) throw new Error('this agent was started without a config file');
          const next = options.reloadConfig();
          if (next.schoolCode !== config.schoolCode || next.agentId !== config.agentId || next.mqtt.url !== config.mqtt.url || next.dataDir !== config.dataDir) {
            throw new Error('identity, mqtt url or dataDir changed: restart the agent');
          }
          config = next;
          announceDevices();
          schedulePolls();
          result = { devices: config.devices.length };
          break;
        }
        default:
          throw new Error(`command ${cmd.command} is not supported by this agent`);
      }
    } catch (err) {
      ok = false;
      error = (err as Error).message.slice(0, 1000);
    }
    enqueue(topics.cmdAck, (seq) =>
      encodeMessage('cmd/ack', { v: SCHEMA_VERSION, seq, ts: Date.now(), id: cmd.id, ok, ...(result ? { result } : {}), ...(error ? { error } : {}) }),
    );
  }

  announceDevices();
  schedulePolls();
  log.info(`agent ${agentUsername(addr)} started: ${config.devices.length} devices, ${queue.size} messages waiting on disk`);

  return {
    pollNow,
    stats: () => ({ ...s, dropped: queue.dropped, queueSize: queue.size, connected: client.connected, highWater: queue.highWater }),
    async stop() {
      if (stopping) return;
      for (const t of pollTimers) clearInterval(t);
      await Promise.allSettled([...inFlight.values()]);
      flushBatch();
      if (client.connected) await drain();
      stopping = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      if (retryTimer) clearTimeout(retryTimer);
      if (client.connected) {
        try {
          await publishQos1(client, topics.status, status('offline', 'shutdown'), true, config.mqtt.publishTimeoutMs);
        } catch (err) {
          log.warn(`offline status not acknowledged: ${(err as Error).message}`);
        }
        await client.endAsync();
      } else {
        await client.endAsync(true);
      }
      await draining;
      queue.close();
      pending = [];
      log.info('agent stopped');
    },
  };
}
