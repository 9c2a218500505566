/**
 * MQTT → InfluxDB + inventory. One persistent-session QoS 1 subscriber; messages are handled one
 * at a time in arrival order and acknowledged (PUBACK) only once handled, so a collector that dies
 * mid-way gets them again from the broker, and the per-agent sequence numbers drop what was
 * already applied. Nothing from the wire is trusted: topic, size, JSON, schema version, schema,
 * agent and device are all checked, and every refusal is counted by reason.
 */
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import {
  collectorSubscriptions,
  decodeMessage,
  encodeMessage,
  agentTopic,
  parseTopic,
  SCHEMA_VERSION,
  type CommandAckMessage,
  type CommandName,
  type DeviceDecision,
  type ParsedTopic,
  type Reading,
  type StatusMessage,
  WILL_REASON,
} from '../../protocol/index.ts';
import { LineProtocolError, readingToLine, pointToLine } from '../telemetry/line-protocol.ts';
import { SinkBufferFullError, type TelemetrySink } from '../telemetry/sink.ts';
import type { Inventory } from '../store/index.ts';
import { AgentTracker, type AgentState } from './agent-tracker.ts';
import { newCounters, type IngestCounters, type RejectReasonCode } from './counters.ts';
import { ThrottledLog, type Logger } from '../log.ts';
import { LatestReadings } from './latest.ts';

/**
 * When a status took effect. A last will carries the time its agent connected (it is composed then),
 * and the broker sends it when the connection is lost: the time it reaches us is the nearer one.
 * Taking the will's own time would date the outage to the connect and make the inventory ignore it
 * as older than the birth that followed that connect.
 */
export function statusTime(m: StatusMessage, now = Date.now()): number {
  return m.state === 'offline' && m.reason === WILL_REASON ? Math.max(m.ts, now) : m.ts;
}

export interface IngestOptions {
  mqttUrl: string;
  username: string;
  password: string;
  /** Fixed so that the broker keeps this collector's session (and queued messages) across restarts. */
  clientId?: string;
  /**
   * Only these schools (default: all). Several collectors split the schools among themselves
   * this way on brokers without shared subscriptions (aedes), each agent staying with one collector.
   */
  schools?: string[];
  inventory: Inventory;
  sink: TelemetrySink;
  logger: Logger;
  /** How often agent progress and device sightings are written to the inventory. */
  persistIntervalMs?: number;
  /** How long a missing sequence number may stay missing, once later ones arrived, before it counts as lost. */
  holeTimeoutMs?: number;
  /** Latest readings of a few measurements, kept for the compliance service. */
  latest?: LatestReadings;
  /** A camera's health step (or a device's reachability) changed. */
  onHealthChange?: (school: string, agent: string, device: string, measurement: string) => void;
  /** Sees every camera-health and reachability reading, and every agent status (the ticket watcher). */
  observer?: IngestObserver;
  /** A discovery message added devices or marked some gone. */
  onDiscoveryChange?: (change: DiscoveryChange) => void;
}

export interface IngestObserver {
  reading(school: string, agent: string, r: Reading): void;
  agentState(school: string, agent: string, online: boolean, at: number): void;
}

/** What a discovery message changed in a school's inventory (the console's inbox updates live). */
export interface DiscoveryChange {
  school: string;
  county: string | undefined;
  agent: string;
  /** devices seen for the first time */
  added: number;
  /** devices the agent no longer finds */
  gone: number;
}

export interface IngestStatus {
  connected: boolean;
  counters: IngestCounters;
  lastMessageAt?: number;
}

interface PendingCommand {
  resolve(ack: CommandAckMessage): void;
  timer: NodeJS.Timeout;
}

export class Ingest {
  private client: MqttClient | undefined;
  private readonly tracker: AgentTracker;
  private readonly counters = newCounters();
  private readonly log: ThrottledLog;
  private persistTimer: NodeJS.Timeout | undefined;
  private lastMessageAt: number | undefined;
  private stopping = false;
  private commandSeq = 0;
  private readonly pendingCommands = new Map<string, PendingCommand>();
  /** Set while start() waits: called once the subscriptions are in place. */
  private onSubscribed: (() => void) | undefined;

  constructor(private readonly opts: IngestOptions) {
    this.tracker = new AgentTracker(opts.inventory, opts.holeTimeoutMs);
    this.log = new ThrottledLog(opts.logger);
  }

  async start(): Promise<void> {
    const client = mqtt.connect(this.opts.mqttUrl, {
      protocolVersion: 4,
      clientId: this.opts.clientId ?? `campus-collector-${this.opts.username}`,
      username: this.opts.username,
      password: this.opts.password,
      clean: false,
      reconnectPeriod: 2_000,
      connectTimeout: 10_000,
      // handled messages are acknowledged from handleMessage; mqtt.js waits for it before the next
      resubscribe: true,
    });
    this.client = client;
    client.handleMessage = (packet: IPublishPacket, done: (err?: Error) => void) => {
      void this.handleWithRetry(packet).then((handled) => handled && done());
    };
    client.on('connect', (connack) => {
      this.opts.logger.info({ url: this.opts.mqttUrl, sessionPresent: connack.sessionPresent }, 'collector connected to broker');
      if (!connack.sessionPresent) {
        client.subscribe(
          (this.opts.schools?.length ? this.opts.schools.flatMap((c) => collectorSubscriptions(c)) : collectorSubscriptions()),
          { qos: 1 },
          (err, granted) => {
            if (err) this.opts.logger.error({ err: err.message }, 'subscribe failed');
            const refused = granted?.filter((g) => g.qos === 128) ?? [];
            if (refused.length) this.opts.logger.error({ topics: refused.map((g) => g.topic) }, 'broker refused subscriptions');
            this.onSubscribed?.();
          },
        );
      } else {
        this.onSubscribed?.();
      }
    });
    client.on('error', (err) => this.log.warn(`mqtt-error:${err.message}`, { err: err.message }, 'broker connection error'));
    client.on('offline', () => this.log.warn('mqtt-offline', {}, 'collector lost the broker; reconnecting'));
    this.persistTimer = setInterval(() => void this.persist(), this.opts.persistIntervalMs ?? 1_000);
    await new Promise<void>((resolve) => {
      // Resolve once subscribed (not merely connected: a message published between CONNACK and
      // SUBACK would not be queued for a fresh session and is lost), or after the connect
      // timeout: the collector serves its API (and reports the broker as down in /health) even
      // when the broker is not there yet.
      const done = () => {
        clearTimeout(t);
        this.onSubscribed = undefined;
        resolve();
      };
      const t = setTimeout(done, 10_000);
      this.onSubscribed = done;
    });
  }

  /**
   * A failure of our own (inventory unreachable, a bug) must not lose the message nor let later
   * messages of the same agent overtake it (they would make it look like a duplicate on
   * redelivery). So the pipeline stops on it and retries with back-off; the broker queues what
   * arrives meanwhile for our persistent session.
   */
  private async handleWithRetry(packet: IPublishPacket): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      try {
        if (attempt > 0) this.counters.messagesReceived--; // counted once, however often retried
        await this.handle(packet);
        return true;
      } catch (err) {
        this.counters.rejected['store-error']++;
        this.opts.logger.error({ err: (err as Error).message, topic: packet.topic, attempt }, 'ingest failed; retrying the same message');
        if (this.stopping) return false; // unacknowledged: the broker redelivers it to the next collector
        await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** Math.min(attempt, 6))));
      }
    }
  }

  status(): IngestStatus {
    return { connected: this.client?.connected ?? false, counters: structuredClone(this.counters), lastMessageAt: this.lastMessageAt };
  }

  private reject(reason: RejectReasonCode, where: string, detail: string, n = 1): void {
    this.counters.rejected[reason] += n;
    this.log.warn(`${reason}:${where}`, { reason, where, detail }, 'refused');
  }

  private async handle(packet: IPublishPacket): Promise<void> {
    this.counters.messagesReceived++;
    this.lastMessageAt = Date.now();
    const topic = parseTopic(packet.topic);
    if (!topic) return this.reject('bad-topic', packet.topic, 'not a campus/v1/{school}/{agent}/{channel} topic');
    if (topic.channel === 'cmd') return; // our own commands echo back through the wildcard; not ingest's business
    const payload = packet.payload as Buffer;
    const agent = await this.tracker.get(topic.schoolCode, topic.agentId);
    if (!agent) return this.reject('unknown-agent', packet.topic, `agent ${topic.agentId} is not registered for school ${topic.schoolCode}`);
    switch (topic.channel) {
      case 'status':
        return this.onStatus(topic, agent, payload);
      case 'telemetry':
        return this.onTelemetry(topic, agent, payload);
      case 'discovery':
        return this.onDiscovery(topic, agent, payload);
      case 'event':
        return this.onEvent(topic, agent, payload);
      case 'cmd/ack':
        return this.onCommandAck(topic, agent, payload);
    }
  }

  private decode<C extends ParsedTopic['channel']>(topic: ParsedTopic, channel: C, payload: Buffer) {
    const d = decodeMessage(channel, payload);
    if (!d.ok) this.reject(d.reason, `${topic.schoolCode}/${topic.agentId}/${channel}`, d.detail);
    return d.ok ? d.message : undefined;
  }

  /** Sequence bookkeeping shared by every sequenced channel; false = already applied. */
  private sequence(agent: AgentState, seq: number): boolean {
    if (AgentTracker.check(agent, seq) === 'new') return true;
    this.counters.duplicates++;
    agent.duplicatesDelta++;
    return false;
  }

  private applied(agent: AgentState, seq: number): void {
    this.counted(agent, AgentTracker.applied(agent, seq, new Date()));
    this.counters.messagesAccepted++;
  }

  private counted(agent: AgentState, lost: number): void {
    if (lost <= 0) return;
    this.counters.seqGaps += lost;
    this.log.warn(`gap:${agent.schoolCode}/${agent.agentId}`, { agent: `${agent.schoolCode}/${agent.agentId}`, missing: lost, upTo: agent.lastSeq }, 'sequence gap: messages lost between agent and collector');
  }

  private async onStatus(topic: ParsedTopic, agent: AgentState, payload: Buffer): Promise<void> {
    const m = this.decode(topic, 'status', payload);
    if (!m) return;
    if (m.state === 'online' && agent.lastSeq > 0 && m.seq < agent.lastSeq) {
      // The agent numbers lower than what we applied: it lost its data directory. Start over, or
      // everything it sends from now on would be dropped as a duplicate.
      this.counters.seqResets++;
      this.opts.logger.warn({ agent: `${topic.schoolCode}/${topic.agentId}`, agentSeq: m.seq, applied: agent.lastSeq }, 'agent sequence reset');
      await this.tracker.reset(agent);
    }
    const at = statusTime(m);
    await this.opts.inventory.setAgentState(topic.schoolCode, topic.agentId, m.state, new Date(at), m.agentVersion);
    this.opts.observer?.agentState(topic.schoolCode, topic.agentId, m.state === 'online', at);
    if (m.state === 'online') {
      // not awaited: publishing from inside the message handler would wait on our own PUBACK flow
      this.publishConfig(topic.schoolCode, topic.agentId).catch((err: Error) => this.log.warn(`config:${topic.agentId}`, { err: err.message }, 'could not publish agent config'));
    }
    await this.writeLines([
      pointToLine({
        measurement: 'agent_status',
        tags: { school: topic.schoolCode, agent: topic.agentId, ...(agent.countyCode ? { county: agent.countyCode } : {}) },
        fields: { online: m.state === 'online', queued: m.queued ?? 0, dropped: m.dropped ?? 0 },
        timestampMs: at,
      }),
    ]);
    this.counters.messagesAccepted++;
  }

  private async onTelemetry(topic: ParsedTopic, agent: AgentState, payload: Buffer): Promise<void> {
    const m = this.decode(topic, 'telemetry', payload);
    if (!m) return;
    if (!this.sequence(agent, m.seq)) return;
    const lines: string[] = [];
    const tags = { school: topic.schoolCode, agent: topic.agentId, ...(agent.countyCode ? { county: agent.countyCode } : {}) };
    const now = new Date();
    for (const r of m.readings) {
      const kind = agent.devices.get(r.device);
      if (kind === undefined) {
        this.reject('unknown-device', `${topic.schoolCode}/${topic.agentId}/${r.device}`, `device ${r.device} was never announced on the discovery channel`);
        continue;
      }
      try {
        lines.push(readingToLine(r, { ...tags, kind }));
        agent.sightings.set(r.device, now);
        this.noteLatest(topic, r);
      } catch (err) {
        if (!(err instanceof LineProtocolError)) throw err;
        this.reject('bad-reading', `${topic.schoolCode}/${topic.agentId}/${r.device}`, err.message);
      }
    }
    await this.writeLines(lines);
    this.counters.readingsAccepted += lines.length;
    this.applied(agent, m.seq);
  }

  private noteLatest(topic: ParsedTopic, r: Reading): void {
    const latest = this.opts.latest;
    if (!latest || !LatestReadings.tracks(r.measurement)) return;
    const prev = latest.record(topic.schoolCode, topic.agentId, r);
    this.opts.observer?.reading(topic.schoolCode, topic.agentId, r);
    const key = r.measurement === 'camera_health' ? 'step' : 'reachable';
    if (prev?.metrics[key] !== r.metrics[key] && prev !== undefined && prev.ts <= r.ts) {
      this.opts.onHealthChange?.(topic.schoolCode, topic.agentId, r.device, r.measurement);
    }
  }

  private async writeLines(lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    try {
      await this.opts.sink.write(lines);
      this.counters.linesWritten += lines.length;
    } catch (err) {
      if (!(err instanceof SinkBufferFullError)) throw err;
      // The sink waited its maximum for room. Counted and reported, never silent.
      this.reject('sink-full', 'telemetry', err.message, lines.length);
    }
  }

  private async onDiscovery(topic: ParsedTopic, agent: AgentState, payload: Buffer): Promise<void> {
    const m = this.decode(topic, 'discovery', payload);
    if (!m) return;
    if (!this.sequence(agent, m.seq)) return;
    const at = new Date(m.ts);
    const { inserted } = await this.opts.inventory.upsertDiscoveredDevices(topic.schoolCode, topic.agentId, m.devices, at);
    for (const d of m.devices) agent.devices.set(d.device, d.kind);
    let gone = 0;
    if (m.full) gone += await this.opts.inventory.markMissingDevicesGone(topic.schoolCode, topic.agentId, m.devices.map((d) => d.device), at);
    if (m.gone?.length) gone += await this.opts.inventory.markDevicesGone(topic.schoolCode, topic.agentId, m.gone, at);
    this.applied(agent, m.seq);
    if (inserted || gone) this.opts.onDiscoveryChange?.({ school: topic.schoolCode, county: agent.countyCode, agent: topic.agentId, added: inserted, gone });
  }

  private async onEvent(topic: ParsedTopic, agent: AgentState, payload: Buffer): Promise<void> {
    const m = this.decode(topic, 'event', payload);
    if (!m) return;
    if (!this.sequence(agent, m.seq)) return;
    try {
      await this.writeLines([
        pointToLine({
          measurement: 'agent_event',
          tags: { school: topic.schoolCode, agent: topic.agentId, type: m.type, severity: m.severity, ...(m.device ? { device: m.device } : {}) },
          fields: { message: m.message },
          timestampMs: m.ts,
        }),
      ]);
    } catch (err) {
      if (!(err instanceof LineProtocolError)) throw err;
      this.reject('bad-reading', `${topic.schoolCode}/${topic.agentId}/event`, err.message);
    }
    this.applied(agent, m.seq);
  }

  private async onCommandAck(topic: ParsedTopic, agent: AgentState, payload: Buffer): Promise<void> {
    const m = this.decode(topic, 'cmd/ack', payload);
    if (!m) return;
    if (!this.sequence(agent, m.seq)) return;
    const pending = this.pendingCommands.get(`${topic.schoolCode}/${topic.agentId}/${m.id}`);
    if (pending) {
      clearTimeout(pending.timer);
      this.pendingCommands.delete(`${topic.schoolCode}/${topic.agentId}/${m.id}`);
      pending.resolve(m);
    }
    this.applied(agent, m.seq);
  }

  /**
   * Publishes (retained) the administrators' decisions about an agent's devices, so it stops
   * polling retired and rejected ones. Called after every decision and when the agent comes online.
   */
  async publishConfig(schoolCode: string, agentId: string): Promise<void> {
    const client = this.client;
    if (!client?.connected) return; // sent again at the agent's next birth
    const devices: Record<string, DeviceDecision> = {};
    for (const d of await this.opts.inventory.listDevices(schoolCode, { agentId })) {
      if (d.state === 'enrolled' || d.state === 'retired' || d.state === 'rejected') devices[d.deviceId] = d.state;
    }
    const payload = encodeMessage('config', { v: SCHEMA_VERSION, seq: ++this.commandSeq, ts: Date.now(), devices });
    await client.publishAsync(agentTopic({ schoolCode, agentId }, 'config'), payload, { qos: 1, retain: true });
  }

  /** Sends a command to an agent and waits for its ack (or null after the timeout). */
  async sendCommand(schoolCode: string, agentId: string, command: CommandName, timeoutMs = 10_000): Promise<CommandAckMessage | null> {
    const client = this.client;
    if (!client?.connected) throw new Error('collector is not connected to the broker');
    const id = `c${Date.now().toString(36)}${(++this.commandSeq).toString(36)}`;
    const payload = encodeMessage('cmd', { v: SCHEMA_VERSION, seq: this.commandSeq, ts: Date.now(), id, command });
    const key = `${schoolCode}/${agentId}/${id}`;
    const result = new Promise<CommandAckMessage | null>((resolve) => {
      const timer = setTimeout(() => {
        this.pendingCommands.delete(key);
        resolve(null);
      }, timeoutMs);
      this.pendingCommands.set(key, { resolve, timer });
    });
    await client.publishAsync(agentTopic({ schoolCode, agentId }, 'cmd'), payload, { qos: 1 });
    return result;
  }

  private async persist(): Promise<void> {
    for (const { state, lost } of this.tracker.expireHoles()) this.counted(state, lost);
    try {
      await this.tracker.persist();
    } catch (err) {
      this.log.warn('persist', { err: (err as Error).message }, 'could not save agent progress; will retry');
    }
  }

  /** Reload what ingest knows of devices (kind, retired) after enrollment decisions. */
  refreshDevices(): void {
    void this.tracker.refreshDevices().catch((err: Error) => this.opts.logger.warn({ err: err.message }, 'could not refresh device lists'));
  }

  /** Forget cached state of an agent (after its registration changed). */
  forgetAgent(schoolCode: string, agentId: string): void {
    this.tracker.forget(schoolCode, agentId);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.persistTimer) clearInterval(this.persistTimer);
    for (const p of this.pendingCommands.values()) clearTimeout(p.timer);
    if (this.client) await this.client.endAsync().catch(() => {});
    await this.persist();
  }
}
