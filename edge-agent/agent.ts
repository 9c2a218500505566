/**
 * The edge agent: polls its devices, batches readings into telemetry messages, stores every
 * message in the on-disk queue first, and drains that queue in order to the broker (QoS 1, one
 * PUBACK at a time per window) whenever it is connected. Store-and-forward means a broker outage
 * only delays data; the queue bound is the only place data can be lost, and that is counted.
 *
 * Devices are the configured ones (`devices:`, static SNMP seeds) plus what discovery finds:
 * every configured source (`discovery.snmp`, `.onvif`, `.modbus`, `.http`; discovery/source.ts)
 * scans at start, every intervalSec and on the `rescan` command, keeps stable ids in dataDir and
 * reports devices gone after N missed scans. Each device is polled by its source's poller (SNMP and
 * Modbus/HTTP by profile, cameras with the health ladder); health rules that start or stop holding
 * become `event` messages. Credentials come from discovery.credentialsFile and stay on the gateway.
 */
import * as fs from 'node:fs';
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
  WILL_REASON,
  type CommandMessage,
  type DeviceDecision,
  type DiscoveredDevice,
  type Reading,
  type StatusMessage,
} from '../protocol/index.ts';
import { resolveMqttPassword, splitAddress, type AgentConfig } from './config.ts';
import { loadAgentProfiles } from './profiles.ts';
import { DiskQueue } from './queue/disk-queue.ts';
import { compileAddressPattern, CredentialStore, loadCredentialStore } from './credentials.ts';
import { DevicePoller, type HealthEvent, type PollTarget } from './snmp/profile-poller.ts';
import { formatAddress } from './snmp/targets.ts';
import type { SourcePoller } from './discovery/health-tracker.ts';
import { HttpSource } from './discovery/http-source.ts';
import { ModbusSource } from './discovery/modbus-source.ts';
import { OnvifSource } from './discovery/onvif-source.ts';
import { describeSnmp, SnmpSource } from './discovery/snmp-source.ts';
import type { DiscoverySource, SourceScan } from './discovery/source.ts';

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
  /** health events queued (rule started or stopped holding, offline) */
  events: number;
  scans: number;
  /** polls skipped because the centre retired or rejected the device */
  notPolled: number;
  /** devices found by discovery and currently polled */
  discovered: number;
  /** addresses discovery scans left unprobed because discovery.allow refuses them (SNMP, Modbus, HTTP) */
  notAllowed: number;
}

/** What one discovery scan changed; the `rescan` command answers with it. */
export interface ScanSummary {
  found: number;
  new: number;
  changed: number;
  gone: number;
}

export interface RunningAgent {
  stop(): Promise<void>;
  /** Polls every device now (every profile group) and queues the result; resolves with the number of readings. */
  pollNow(): Promise<number>;
  /** Runs a discovery scan of every configured source now (after any running one); rejects without discovery. */
  rescan(): Promise<ScanSummary>;
  stats(): AgentStats;
}

export interface StartAgentOptions {
  logger?: AgentLogger;
  /** Used by the `reload-config` command; without it that command is answered with an error. */
  reloadConfig?: () => AgentConfig;
}

/** The gateway's credential store; a broken one is logged (never its content) and none is used. */
function loadCredentials(config: AgentConfig, log: AgentLogger): CredentialStore {
  const file = config.discovery?.credentialsFile;
  if (file === undefined) return new CredentialStore();
  try {
    const store = loadCredentialStore(file);
    log.info(`credential store ${file}: ${store.size} entries`);
    return store;
  } catch (err) {
    log.error(`${(err as Error).message}: discovering without credentials`);
    return new CredentialStore();
  }
}

/** Where SNMP, ONVIF, Modbus and HTTP probes may go (discovery.allow; default loopback only). */
function allowFrom(config: AgentConfig): (host: string) => boolean {
  const matchers = (config.discovery?.allow ?? ['127.0.0.0/8', '::1']).map((p) => compileAddressPattern(p));
  return (host) => {
    const h = host.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
    return matchers.some((m) => m(h));
  };
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
    event: agentTopic(addr, 'event'),
    cmd: agentTopic(addr, 'cmd'),
    config: agentTopic(addr, 'config'),
    cmdAck: agentTopic(addr, 'cmd/ack'),
  };
  const queue = DiskQueue.open(path.join(config.dataDir, 'queue'), { maxMessages: config.queue.maxMessages, logger: log });
  const startedAt = Date.now();
  const s = { polls: 0, pollFailures: 0, readings: 0, skippedVarbinds: 0, invalidReadings: 0, messagesQueued: 0, messagesSent: 0, connects: 0, connectErrors: 0, badCommands: 0, events: 0, scans: 0, notPolled: 0, notAllowed: 0 };
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
  const will = (): mqtt.IClientOptions['will'] => ({ topic: topics.status, payload: status('offline', WILL_REASON), qos: 1, retain: true });

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
    client.subscribe([topics.cmd, topics.config], { qos: 1 }, (err) => {
      if (err) log.warn(`cannot subscribe to ${topics.cmd} and ${topics.config}: ${err.message}`);
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
    else if (topic === topics.config) applyCentreConfig(payload);
  });

  // ---- the centre's decisions: retired and rejected devices are not polled ----
  // Kept on disk too, so an agent that starts while the broker is unreachable already honours them.
  const decisionsFile = path.join(config.dataDir, 'centre-config.json');
  let decisions: Record<string, DeviceDecision> = readDecisions();
  function readDecisions(): Record<string, DeviceDecision> {
    try {
      const d = decodeMessage('config', fs.readFileSync(decisionsFile));
      return d.ok ? d.message.devices : {};
    } catch {
      return {};
    }
  }
  function applyCentreConfig(payload: Buffer): void {
    const d = decodeMessage('config', payload);
    if (!d.ok) {
      s.badCommands++;
      log.warn(`ignoring invalid config from the centre: ${d.detail}`);
      return;
    }
    decisions = d.message.devices;
    try {
      fs.writeFileSync(decisionsFile, payload);
    } catch (err) {
      log.warn(`cannot keep the centre's config on disk: ${(err as Error).message}`);
    }
    const off = Object.entries(decisions).filter(([, v]) => v !== 'enrolled').length;
    log.info(`centre config: ${Object.keys(decisions).length} decisions, ${off} device(s) not to poll`);
  }
  const notPolled = (id: string): boolean => decisions[id] === 'retired' || decisions[id] === 'rejected';

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

  // ---- device profiles, loaded once ----
  const profiles = loadAgentProfiles({ profilesDir: config.profilesDir, dataDir: config.dataDir });
  for (const e of profiles.errors) log.warn(`device profile refused: ${e}`);
  if (profiles.registry.size === 0) log.warn('no device profiles loaded: polling with the built-in IF-MIB poller');
  else log.info(`${profiles.registry.size} device profiles from ${profiles.dir} (${profiles.source})`);
  const registry = profiles.registry;

  // ---- the devices: configured seeds plus what discovery found ----
  /** What discovery sources and pollers consult at poll time; replaced in place by reload-config. */
  const contextFor = (c: AgentConfig) => ({
    credentials: loadCredentials(c, log),
    allow: allowFrom(c),
    allowRule: `discovery.allow [${(c.discovery?.allow ?? []).join(', ')}]`,
  });
  const sourceCtx = { registry, log, ...contextFor(config) };
  function makeSources(): DiscoverySource[] {
    const d = config.discovery;
    if (!d) return [];
    const out: DiscoverySource[] = [];
    if (d.snmp) out.push(new SnmpSource(sourceCtx, d.snmp, config.dataDir));
    if (d.onvif) out.push(new OnvifSource(sourceCtx, d.onvif, config.dataDir));
    if (d.modbus) out.push(new ModbusSource(sourceCtx, d.modbus, config.dataDir));
    if (d.http) out.push(new HttpSource(sourceCtx, d.http, config.dataDir));
    return out;
  }
  let sources = makeSources();
  type Tracked = { id: string; source: 'config'; target: PollTarget } | { id: string; source: DiscoverySource };
  function discoveredTargets(): Tracked[] {
    const seeds = new Set(config.devices.map((d) => d.id));
    const seen = new Set<string>();
    const out: Tracked[] = [];
    for (const src of sources) {
      for (const e of src.active()) {
        if (seeds.has(e.id) || seen.has(e.id)) continue;
        seen.add(e.id);
        out.push({ id: e.id, source: src });
      }
    }
    return out;
  }
  function targets(): Tracked[] {
    return [
      ...config.devices.map((d): Tracked => ({ id: d.id, source: 'config', target: { id: d.id, kind: d.kind, address: d.address, snmp: d.snmp, ...(d.profile ? { profile: d.profile } : {}) } })),
      ...discoveredTargets(),
    ];
  }
  const pollers = new Map<string, SourcePoller>();

  // ---- discovery messages: what each device says it is, sent when that changes ----
  function describe(t: Tracked): DiscoveredDevice | undefined {
    const p = pollers.get(t.id);
    if (t.source === 'config') return describeSnmp(t.target, 'config', p instanceof DevicePoller ? p : undefined, undefined, registry);
    return t.source.describe(t.id, p);
  }
  /**
   * The full list of devices with what each said about itself. Sent once before the first poll
   * too: the collector refuses readings of devices it has never been told about, and an
   * unreachable device's `reachable: false` readings must still count.
   */
  function announceDevices(gone: string[] = []): void {
    const devices = targets()
      .map(describe)
      .filter((d): d is DiscoveredDevice => d !== undefined);
    enqueue(topics.discovery, (seq) => encodeMessage('discovery', { v: SCHEMA_VERSION, seq, ts: Date.now(), full: true, devices, ...(gone.length > 0 ? { gone } : {}) }));
  }

  function queueEvent(device: string, e: HealthEvent): void {
    if (enqueue(topics.event, (seq) => encodeMessage('event', { v: SCHEMA_VERSION, seq, ts: Date.now(), device, type: e.type, severity: e.severity, message: e.message, data: e.data }))) s.events++;
  }

  // ---- polling ----
  const inFlight = new Map<string, Promise<number>>();
  function pollDevice(id: string, all: boolean): Promise<number> {
    // a slow device must not pile up overlapping polls
    const running = inFlight.get(id);
    if (running) return running;
    if (notPolled(id)) {
      s.notPolled++;
      return Promise.resolve(0);
    }
    const poller = pollers.get(id);
    if (!poller) return Promise.resolve(0);
    const p = (async () => {
      s.polls++;
      try {
        const r = await poller.poll({ all });
        s.skippedVarbinds += r.skipped;
        if (!r.reachable) s.pollFailures++;
        if (r.errors.length > 0) log.warn(`${id}: ${r.errors.join('; ')}`);
        // the device list goes out before readings of a device whose fingerprint is new
        if (r.fingerprintChanged && pollers.get(id) === poller) announceDevices();
        addReadings(r.readings);
        for (const e of r.events) queueEvent(id, e);
        return r.readings.length;
      } catch (err) {
        s.pollFailures++;
        log.error(`${id}: poll failed: ${(err as Error).message}`);
        return 0;
      } finally {
        inFlight.delete(id);
      }
    })();
    inFlight.set(id, p);
    return p;
  }
  const pollTimers = new Map<string, NodeJS.Timeout>();
  /** Starts polling devices that are new, stops those that went; `reset` restarts every timer. */
  function syncSchedule(reset = false): void {
    const list = targets();
    const ids = new Set(list.map((t) => t.id));
    for (const [id, timer] of pollTimers) {
      if (!reset && ids.has(id)) continue;
      clearInterval(timer);
      pollTimers.delete(id);
    }
    for (const id of pollers.keys()) if (!ids.has(id)) pollers.delete(id);
    for (const t of list) {
      const existing = pollers.get(t.id);
      if (t.source === 'config') {
        if (existing instanceof DevicePoller) existing.update(t.target);
        else pollers.set(t.id, new DevicePoller(t.target, registry, sourceCtx.credentials));
      } else if (existing) {
        t.source.updatePoller(t.id, existing);
      } else {
        const p = t.source.createPoller(t.id);
        if (!p) continue;
        pollers.set(t.id, p);
      }
      if (pollTimers.has(t.id)) continue;
      void pollDevice(t.id, false);
      pollTimers.set(t.id, setInterval(() => void pollDevice(t.id, false), config.pollIntervalSec * 1000));
    }
  }
  async function pollNow(): Promise<number> {
    const counts = await Promise.all(targets().map((t) => pollDevice(t.id, true)));
    flushBatch();
    return counts.reduce((a, b) => a + b, 0);
  }

  // ---- discovery: every source scans, stable ids, gone after N missed scans ----
  async function runScan(only?: DiscoverySource): Promise<ScanSummary> {
    if (sources.length === 0) throw new Error('discovery is not configured (discovery.snmp, .onvif, .modbus or .http)');
    const skip = new Set<string>();
    for (const d of config.devices) {
      try {
        const { host, port } = splitAddress(d.address);
        skip.add(formatAddress(host, port));
      } catch {
        // a configured address that does not split is polled (and reported) as it is
      }
    }
    const total: ScanSummary = { found: 0, new: 0, changed: 0, gone: 0 };
    const gone: string[] = [];
    for (const src of only ? [only] : sources) {
      // ids of configured devices and of every other source are never handed out again
      const reserved = new Set([...config.devices.map((d) => d.id), ...sources.filter((x) => x !== src).flatMap((x) => x.ids())]);
      let ch: SourceScan;
      try {
        ch = await src.scan(reserved, skip);
      } catch (err) {
        log.error(`discovery (${src.protocol}) scan failed: ${(err as Error).message}`);
        continue;
      }
      const p = src.protocol;
      for (const e of ch.added) log.info(`discovery (${p}): new device ${e.id} at ${e.address} (${e.what})`);
      for (const c of ch.changed) log.info(`discovery (${p}): ${c.id} changed (${c.what.join(', ')})${c.what.includes('address') ? `: now at ${c.address}, was ${c.previousAddress}` : ''}`);
      for (const e of ch.gone) log.info(`discovery (${p}): ${e.id} gone (missing from ${e.missedScans} scans)`);
      log.info(`discovery (${p}): ${ch.probed} addresses probed, ${ch.notAllowed > 0 ? `${ch.notAllowed} not allowed, ` : ''}${ch.found} answered, ${ch.added.length} new, ${ch.changed.length} changed, ${ch.gone.length} gone`);
      total.found += ch.found;
      s.notAllowed += ch.notAllowed;
      total.new += ch.added.length;
      total.changed += ch.changed.length;
      total.gone += ch.gone.length;
      gone.push(...ch.gone.map((g) => g.id));
    }
    s.scans++;
    syncSchedule(); // pollers of gone devices go, addresses of moved ones are updated before the announcement
    // after every scan: the whole list, and who is gone
    announceDevices(gone);
    return total;
  }
  let scanChain: Promise<unknown> = Promise.resolve();
  function rescan(only?: DiscoverySource): Promise<ScanSummary> {
    const run = (): Promise<ScanSummary> => runScan(only);
    const next = scanChain.then(run, run);
    scanChain = next.catch(() => undefined);
    return next;
  }
  const scanTimers: NodeJS.Timeout[] = [];
  function scheduleScans(): void {
    for (const t of scanTimers.splice(0)) clearInterval(t);
    if (sources.length === 0) return;
    // one start-up scan of everything; then each source on its own period
    void rescan().catch((err: Error) => log.error(`discovery scan failed: ${err.message}`));
    for (const src of sources) {
      scanTimers.push(setInterval(() => void rescan(src).catch((err: Error) => log.error(`discovery scan failed: ${err.message}`)), src.intervalSec * 1000));
    }
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
        case 'rescan': {
          const r = await rescan();
          result = { ...r, devices: targets().length };
          break;
        }
        case 'reload-config': {
          if (!options.reloadConfig) throw new Error('this agent was started without a config file');
          const next = options.reloadConfig();
          if (next.schoolCode !== config.schoolCode || next.agentId !== config.agentId || next.mqtt.url !== config.mqtt.url || next.dataDir !== config.dataDir) {
            throw new Error('identity, mqtt url or dataDir changed: restart the agent');
          }
          config = next;
          // allow and the credentials file are read again too; pollers are rebuilt so that none
          // keeps the old credentials or polls an address allow no longer admits
          Object.assign(sourceCtx, contextFor(config));
          pollers.clear();
          sources = makeSources();
          syncSchedule(true);
          announceDevices();
          scheduleScans();
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
  syncSchedule();
  scheduleScans();
  log.info(
    `agent ${agentUsername(addr)} started: ${config.devices.length} configured devices, ${discoveredTargets().length} known from discovery, ${queue.size} messages waiting on disk`,
  );

  let stopRequested = false;
  return {
    pollNow,
    rescan,
    stats: () => ({ ...s, dropped: queue.dropped, queueSize: queue.size, connected: client.connected, highWater: queue.highWater, discovered: discoveredTargets().length }),
    async stop() {
      if (stopping || stopRequested) return;
      stopRequested = true;
      for (const t of scanTimers.splice(0)) clearInterval(t);
      await scanChain;
      for (const t of pollTimers.values()) clearInterval(t);
      pollTimers.clear();
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
