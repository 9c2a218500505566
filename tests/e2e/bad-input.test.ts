/**
 * The collector's refusal of bad input, end to end: a real InfluxDB and PostgreSQL, our broker
 * (authenticating against the inventory), our collector, and agents speaking real MQTT 3.1.1
 * (mqtt.js, and Debian's mosquitto_pub for the spoofing cases).
 *
 * For every kind of bad input: it is refused with a reason, counted exactly once in
 * `GET /api/v1/health`, and good data from another agent (and from the same agent when its
 * connection survives) still reaches InfluxDB afterwards.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import {
  MAX_PAYLOAD_BYTES,
  SCHEMA_VERSION,
  agentClientId,
  agentTopic,
  agentUsername,
  encodeMessage,
  type AgentAddress,
  type AgentChannel,
  type DiscoveredDevice,
} from '../../protocol/index.ts';
import { startBroker, type RunningBroker } from '../../broker/server.ts';
import { openStore, startCollector, type RunningCollector } from '../../collector/collector.ts';
import { REJECT_REASONS, type RejectReasonCode } from '../../collector/ingest/counters.ts';
import type { Db, Inventory } from '../../collector/store/index.ts';
import { influxQuery } from '../../collector/telemetry/influx-query.ts';
import type { InfluxConnection } from '../../collector/telemetry/influx-http.ts';
import { createTestDatabase, dropTestDatabase } from '../setup/postgres.ts';
import { uniqueDbName } from '../setup/influx.ts';

const run = promisify(execFile);
const MOSQUITTO_PUB = '/usr/bin/mosquitto_pub';
const TOKEN = 'bad-input-admin-token';
const HOST = '127.0.0.1';
const CITY = '371500';
const COUNTY = '371502';
const SCHOOL_A = '3715020001';
const SCHOOL_B = '3715020002';
const A: AgentAddress = { schoolCode: SCHOOL_A, agentId: 'gw-a' };
const B: AgentAddress = { schoolCode: SCHOOL_B, agentId: 'gw-b' };
const CSV_HEADER = 'code,name,county_code,type,ownership,student_count,staff_count,contracted_uplink_mbps,lon,lat,address';

// ---- polling ----

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a truthy value; fails with `what` after a generous deadline. */
async function waitFor<T>(what: string, probe: () => Promise<T> | T, timeoutMs = 30_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await sleep(50);
  }
}

// ---- the shared inventory (one PostgreSQL database for the file) ----

let adminUrl: string;
let databaseUrl: string;
let dataDir: string;
let store: { db: Db; inventory: Inventory };
const passwords = new Map<string, string>();

beforeAll(async () => {
  adminUrl = inject('postgresUrl');
  databaseUrl = await createTestDatabase(adminUrl);
  dataDir = await mkdtemp(join(tmpdir(), 'campus-bad-input-'));
  store = await openStore({ databaseUrl, dataDir });
  const inv = store.inventory;
  await inv.upsertRegion({ code: CITY, name: '聊城市', level: 'city' });
  await inv.upsertRegion({ code: COUNTY, name: '东昌府区', level: 'county', parentCode: CITY });
  await inv.upsertSchool({ code: SCHOOL_A, name: '聊城第一中学', countyCode: COUNTY, type: 'senior', ownership: 'public', studentCount: 3000, staffCount: 240 });
  await inv.upsertSchool({ code: SCHOOL_B, name: '聊城第二中学', countyCode: COUNTY, type: 'junior', ownership: 'public', studentCount: 1500, staffCount: 120 });
  for (const addr of [A, B]) passwords.set(agentUsername(addr), (await inv.addAgent(addr)).password);
});
afterAll(async () => {
  await store?.db.close();
  if (databaseUrl) await dropTestDatabase(adminUrl, databaseUrl);
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

// ---- a fresh broker, collector and InfluxDB database for every test ----

interface LogLine {
  level: string;
  obj: Record<string, unknown>;
  msg?: string;
}

let broker: RunningBroker;
let collector: RunningCollector;
let influx: InfluxConnection;
let logs: LogLine[];
let mqttUrl: string;
const clients: MqttClient[] = [];

async function startStack(opts: { maxPublishesPerSecond?: number } = {}): Promise<void> {
  logs = [];
  const at = (level: string) => (obj: object, msg?: string) => logs.push({ level, obj: obj as Record<string, unknown>, msg });
  const logger = { info: at('info'), warn: at('warn'), error: at('error') };
  broker = await startBroker({
    host: HOST,
    mqttPort: 0,
    auth: { authenticate: (u, p) => store.inventory.verifyCredential(u, p) },
    maxPublishesPerSecond: opts.maxPublishesPerSecond,
  });
  mqttUrl = `mqtt://${HOST}:${broker.mqttPort}`;
  influx = { url: inject('influxUrl'), db: uniqueDbName('bad_input') };
  collector = await startCollector({
    host: HOST,
    httpPort: 0,
    mqttUrl,
    mqttUsername: 'collector',
    influxUrl: influx.url,
    influxDb: influx.db,
    dataDir,
    apiToken: TOKEN,
    logger,
    store,
    brokerStats: () => ({ ...broker.stats() }),
    holeTimeoutMs: 300,
  });
  expect(collector.ingest.status().connected).toBe(true);
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => {})));
  await collector?.close();
  await broker?.close();
  await fetch(`${influx.url}/query?q=${encodeURIComponent(`DROP DATABASE "${influx.db}"`)}`, { method: 'POST' }).catch(() => {});
});

// ---- health ----

interface Health {
  status: string;
  checks: { broker: { ok: boolean } };
  ingest: {
    messagesReceived: number;
    messagesAccepted: number;
    readingsAccepted: number;
    linesWritten: number;
    duplicates: number;
    seqGaps: number;
    seqResets: number;
    rejected: Record<RejectReasonCode, number>;
  };
  broker: Record<string, number>;
  csvImports: { accepted: number; rejectedFiles: number; rejectedRows: number };
}

async function health(): Promise<{ status: number; body: Health }> {
  const res = await fetch(`${collector.url}/api/v1/health`);
  return { status: res.status, body: (await res.json()) as Health };
}

/** The full rejection map: `only` as given, every other reason zero. */
function rejected(only: Partial<Record<RejectReasonCode, number>> = {}): Record<RejectReasonCode, number> {
  return Object.fromEntries(REJECT_REASONS.map((r) => [r, only[r] ?? 0])) as Record<RejectReasonCode, number>;
}

/** Waits until the collector has handled `n` messages in all (accepted or not). */
async function received(n: number): Promise<Health> {
  const h = await waitFor(`collector to have received ${n} messages`, async () => {
    const { body } = await health();
    return body.ingest.messagesReceived >= n ? body : undefined;
  });
  expect(h.ingest.messagesReceived, 'no unexpected messages reached the collector').toBe(n);
  return h;
}

/** The log line the collector wrote when it refused something for `reason`. */
function refusal(reason: RejectReasonCode): LogLine | undefined {
  return logs.find((l) => l.level === 'warn' && l.msg === 'refused' && l.obj.reason === reason);
}

// ---- InfluxDB ----

async function pointsOf(addr: AgentAddress, extra = ''): Promise<number> {
  const series = await influxQuery(influx, `SELECT count("value") FROM "probe" WHERE "school" = '${addr.schoolCode}' AND "agent" = '${addr.agentId}'${extra}`);
  return Number(series[0]?.values[0]?.[1] ?? 0);
}

async function waitForPoints(addr: AgentAddress, n: number): Promise<void> {
  await waitFor(`${n} point(s) of ${addr.schoolCode}/${addr.agentId} in InfluxDB`, async () => (await pointsOf(addr)) >= n);
  expect(await pointsOf(addr)).toBe(n);
}

// ---- agents ----

let tsClock = Date.now() - 3_600_000;
/** Distinct timestamps, so InfluxDB never merges two points. */
const nextTs = () => (tsClock += 1000);

class TestAgent {
  seq = 0;
  client!: MqttClient;
  constructor(readonly addr: AgentAddress) {}

  get username(): string {
    return agentUsername(this.addr);
  }
  get password(): string {
    return passwords.get(this.username)!;
  }

  /** Connects with the agent's real identity; picks up numbering where the collector stands. */
  async connect(): Promise<this> {
    this.seq = Math.max(this.seq, (await store.inventory.getAgent(this.addr.schoolCode, this.addr.agentId))!.lastSeq, 0);
    this.client = await new Promise<MqttClient>((resolve, reject) => {
      const c = mqtt.connect(mqttUrl, {
        protocolVersion: 4,
        username: this.username,
        password: this.password,
        clientId: agentClientId(this.addr),
        clean: true,
        reconnectPeriod: 0,
      });
      clients.push(c);
      c.once('connect', () => resolve(c));
      c.once('error', reject);
      c.once('close', () => reject(new Error(`${this.username} closed before CONNACK`)));
    });
    return this;
  }

  /** Resolves when the broker closes this agent's connection. */
  closed(): Promise<void> {
    if (!this.client.connected && this.client.disconnected) return Promise.resolve();
    return new Promise((resolve) => this.client.once('close', () => resolve()));
  }

  topic(channel: AgentChannel): string {
    return agentTopic(this.addr, channel);
  }

  async publishRaw(channel: AgentChannel, payload: string | Buffer): Promise<void> {
    await this.client.publishAsync(this.topic(channel), payload, { qos: 1 });
  }

  /** Announces devices (full list) with the next sequence number. */
  async announce(devices: string[]): Promise<void> {
    const list: DiscoveredDevice[] = devices.map((device) => ({ device, kind: 'switch', protocol: 'snmp', address: `10.0.0.${devices.indexOf(device) + 2}`, attributes: {} }));
    await this.publishRaw('discovery', encodeMessage('discovery', { v: SCHEMA_VERSION, seq: ++this.seq, ts: Date.now(), full: true, devices: list }));
  }

  /** A telemetry message with one `probe` reading per device, taking the next sequence number. */
  telemetry(devices: string[], seq = ++this.seq): Buffer {
    return encodeMessage('telemetry', {
      v: SCHEMA_VERSION,
      seq,
      ts: Date.now(),
      readings: devices.map((device) => ({ device, ts: nextTs(), measurement: 'probe', metrics: { value: seq } })),
    });
  }

  async sendTelemetry(devices: string[]): Promise<void> {
    await this.publishRaw('telemetry', this.telemetry(devices));
  }
}

/** Both agents connected, each with one announced device; the collector has applied both discoveries. */
async function twoAgents(): Promise<{ a: TestAgent; b: TestAgent }> {
  const a = await new TestAgent(A).connect();
  const b = await new TestAgent(B).connect();
  await a.announce(['sw-a']);
  await b.announce(['sw-b']);
  await received(2);
  return { a, b };
}

/** Good data from B, and from A when its connection is still up, reaches InfluxDB. */
async function othersStillServed(a: TestAgent | undefined, b: TestAgent): Promise<void> {
  const bBefore = await pointsOf(B);
  await b.sendTelemetry(['sw-b']);
  await waitForPoints(B, bBefore + 1);
  if (a) {
    const aBefore = await pointsOf(A);
    await a.sendTelemetry(['sw-a']);
    await waitForPoints(A, aBefore + 1);
  }
  const h = await health();
  expect(h.status).toBe(200);
  expect(h.body.status).toBe('ok');
}

/** mosquitto_pub with an explicit identity; resolves with its exit code and stderr. */
async function mosquittoPub(args: { username: string; password: string; clientId: string; topic: string; message: string }): Promise<{ code: number; stderr: string }> {
  try {
    const r = await run(
      MOSQUITTO_PUB,
      ['-V', 'mqttv311', '-h', HOST, '-p', String(broker.mqttPort), '-u', args.username, '-P', args.password, '-i', args.clientId, '-q', '1', '-t', args.topic, '-m', args.message],
      { timeout: 20_000 },
    );
    return { code: 0, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stderr?: string; killed?: boolean };
    if (e.killed) throw new Error(`mosquitto_pub did not exit: ${e.stderr ?? ''}`);
    return { code: typeof e.code === 'number' ? e.code : -1, stderr: e.stderr ?? '' };
  }
}

// ---- the acceptance list ----

describe('the collector refuses bad input, counts it, and keeps serving everyone else', () => {
  beforeEach(async () => {
    await startStack();
  });

  it('malformed JSON (and JSON that breaks the schema) is refused; the agent stays connected', async () => {
    const { a, b } = await twoAgents();
    await a.publishRaw('telemetry', '{"v":1,"seq":');
    await a.publishRaw('telemetry', '\u00ff\u00fe not json at all');
    // Valid JSON, wrong shape: no readings, and an unknown property.
    await a.publishRaw('telemetry', JSON.stringify({ v: 1, seq: a.seq + 1, ts: Date.now(), readings: [] }));
    await a.publishRaw('telemetry', JSON.stringify({ v: 1, seq: a.seq + 1, ts: Date.now(), readings: [{ device: 'sw-a', ts: Date.now(), measurement: 'probe', metrics: { value: 1 } }], extra: true }));
    let h = await received(6);
    expect(h.ingest.rejected).toEqual(rejected({ 'not-json': 2, schema: 2 }));
    expect(h.ingest.messagesAccepted).toBe(2);
    expect(refusal('not-json')?.obj.detail).toMatch(/^malformed JSON: /);
    expect(refusal('schema')?.obj.detail).toEqual(expect.any(String));
    expect(a.client.connected).toBe(true);

    await othersStillServed(a, b);
    h = await received(8);
    expect(h.ingest.rejected).toEqual(rejected({ 'not-json': 2, schema: 2 }));
    expect(h.ingest).toMatchObject({ messagesAccepted: 4, readingsAccepted: 2, linesWritten: 2, duplicates: 0, seqGaps: 0 });
  });

  it('a wrong schema version is refused as wrong-version; the agent stays connected', async () => {
    const { a, b } = await twoAgents();
    const base = JSON.parse(a.telemetry(['sw-a'], a.seq + 1).toString()) as Record<string, unknown>;
    await a.publishRaw('telemetry', JSON.stringify({ ...base, v: 2 }));
    await a.publishRaw('telemetry', JSON.stringify({ ...base, v: '1' }));
    await a.publishRaw('discovery', JSON.stringify({ v: 0, seq: a.seq + 1, ts: Date.now(), full: true, devices: [] }));
    let h = await received(5);
    expect(h.ingest.rejected).toEqual(rejected({ 'wrong-version': 3 }));
    expect(refusal('wrong-version')?.obj.detail).toMatch(/schema version 2 is not supported \(expected 1\)/);
    expect(a.client.connected).toBe(true);

    await othersStillServed(a, b);
    h = await received(7);
    expect(h.ingest.rejected).toEqual(rejected({ 'wrong-version': 3 }));
    // The refused discovery (full: true, no devices) did not mark sw-a gone.
    expect((await store.inventory.listDevices(SCHOOL_A)).find((d) => d.deviceId === 'sw-a')?.goneAt).toBeNull();
    expect(h.ingest).toMatchObject({ messagesAccepted: 4, seqGaps: 0 });
  });

  it("a payload for another school is stopped at the broker: nothing stored, broker.publishesRefused counts it", async () => {
    const { a, b } = await twoAgents();
    const spoofed = b.telemetry(['sw-b'], 1_000_000);

    // mqtt.js: agent A publishes on B's topic with its own, valid identity. MQTT 3.1.1 has no
    // negative PUBACK: the broker closes the connection (MQTT-3.3.5-2).
    const closed = a.closed();
    a.client.publish(agentTopic(B, 'telemetry'), spoofed, { qos: 1 });
    await closed;
    await waitFor('broker to count the refused publish', () => broker.stats().publishesRefused === 1);

    // mosquitto_pub: the same from another client implementation.
    const pub = await mosquittoPub({ username: a.username, password: a.password, clientId: agentClientId(A), topic: agentTopic(B, 'telemetry'), message: spoofed.toString() });
    expect(pub.code).not.toBe(0);
    await waitFor('broker to count the second refused publish', () => broker.stats().publishesRefused === 2);

    // Claiming to be B: with A's password, and with A's own credentials but B's client id.
    const asB = await mosquittoPub({ username: b.username, password: a.password, clientId: agentClientId(B), topic: agentTopic(B, 'telemetry'), message: spoofed.toString() });
    expect(asB.code).not.toBe(0);
    expect(asB.stderr).toMatch(/not authori[sz]ed|bad user ?name or password/i);
    const idOfB = await mosquittoPub({ username: a.username, password: a.password, clientId: agentClientId(B), topic: agentTopic(A, 'telemetry'), message: spoofed.toString() });
    expect(idOfB.code).not.toBe(0);
    expect(idOfB.stderr).toMatch(/identifier rejected/i);

    let h = await health();
    expect(h.body.broker).toMatchObject({ publishesRefused: 2, connectsRefused: 2, rateLimited: 0, oversized: 0 });
    // Nothing reached the collector.
    expect(h.body.ingest.messagesReceived).toBe(2);

    await othersStillServed(undefined, b);
    // A comes back with its own identity and is served again.
    await a.connect();
    await a.sendTelemetry(['sw-a']);
    await waitForPoints(A, 1);
    h = await health();
    expect(h.body.ingest.rejected).toEqual(rejected());
    expect(h.body.ingest.messagesReceived).toBe(4);
    expect(h.body.broker).toMatchObject({ publishesRefused: 2, connectsRefused: 2 });
    // The spoofed reading (seq 1_000_000) is not in B's data: B has exactly its own one point.
    expect(await pointsOf(B)).toBe(1);
    expect(await pointsOf(B, ' AND "value" = 1000000')).toBe(0);
  });

  it('an oversized message: the broker closes the connection over a too-big packet, the collector refuses one just over its limit', async () => {
    const { a, b } = await twoAgents();
    const publishesBefore = broker.stats().publishesIn;

    // 1 MiB: far over the broker's packet limit; it closes the connection at the fixed header.
    const closed = a.closed();
    a.client.publish(a.topic('telemetry'), Buffer.alloc(1024 * 1024, 0x20), { qos: 1 });
    await closed;
    await waitFor('broker to count the oversized packet', () => broker.stats().oversized === 1);
    expect(broker.stats().publishesIn).toBe(publishesBefore);

    // Just over the payload limit but within the packet limit: passes the broker, refused by the collector.
    await a.connect();
    const padded = Buffer.alloc(MAX_PAYLOAD_BYTES + 100, 0x20);
    const msg = a.telemetry(['sw-a'], a.seq + 1);
    msg.copy(padded);
    await a.publishRaw('telemetry', padded);
    let h = await received(3);
    expect(h.ingest.rejected).toEqual(rejected({ 'too-large': 1 }));
    expect(refusal('too-large')?.obj.detail).toBe(`payload of ${MAX_PAYLOAD_BYTES + 100} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
    expect(a.client.connected).toBe(true);

    await othersStillServed(a, b);
    h = await received(5);
    expect(h.ingest.rejected).toEqual(rejected({ 'too-large': 1 }));
    expect(h.broker).toMatchObject({ oversized: 1, publishesRefused: 0, rateLimited: 0 });
  });

  it('an unknown device id: its readings are refused one by one, announced devices in the same message survive', async () => {
    const a = await new TestAgent(A).connect();
    const b = await new TestAgent(B).connect();
    await a.announce(['sw-a', 'ap-a']);
    await b.announce(['sw-b']);
    await received(2);

    await a.sendTelemetry(['sw-a', 'ghost-1', 'ap-a', 'ghost-2']);
    // Every reading of an unknown device: the message is applied, nothing of it written.
    await a.sendTelemetry(['ghost-3']);
    let h = await received(4);
    expect(h.ingest.rejected).toEqual(rejected({ 'unknown-device': 3 }));
    expect(refusal('unknown-device')?.obj.detail).toMatch(/device ghost-\d was never announced on the discovery channel/);
    await waitForPoints(A, 2);
    const devices = await influxQuery(influx, `SHOW TAG VALUES FROM "probe" WITH KEY = "device"`);
    expect(devices[0]!.values.map((v) => v[1]).sort()).toEqual(['ap-a', 'sw-a']);
    // No inventory rows for ghosts either.
    expect((await store.inventory.listDevices(SCHOOL_A)).map((d) => d.deviceId).sort()).toEqual(['ap-a', 'sw-a']);

    await b.sendTelemetry(['sw-b']);
    await a.sendTelemetry(['ap-a']);
    await waitForPoints(B, 1);
    await waitForPoints(A, 3);
    h = await received(6);
    expect(h.ingest.rejected).toEqual(rejected({ 'unknown-device': 3 }));
    expect(h.ingest).toMatchObject({ messagesAccepted: 6, readingsAccepted: 4, linesWritten: 4, seqGaps: 0 });
    expect((await health()).status).toBe(200);
  });

  it('a duplicate sequence number (redelivery) is not written twice; a gap is counted', async () => {
    const { a, b } = await twoAgents();
    const before = (await store.inventory.getAgent(SCHOOL_A, 'gw-a'))!;
    await a.sendTelemetry(['sw-a']);
    const seq = a.seq;
    // The same sequence number again, with a different reading: were it written, InfluxDB would hold two points.
    await a.publishRaw('telemetry', a.telemetry(['sw-a'], seq));
    let h = await received(4);
    expect(h.ingest.duplicates).toBe(1);
    // Two numbers skipped.
    a.seq += 2;
    await a.sendTelemetry(['sw-a']);
    h = await received(5);
    expect(h.ingest).toMatchObject({ duplicates: 1, messagesAccepted: 4, readingsAccepted: 2 });
    // the two missing numbers count as lost once they stayed missing for the hole timeout
    h = await waitFor('the gap to be declared', async () => {
      const x = (await health()).body;
      return x.ingest.seqGaps === 2 ? x : undefined;
    });
    expect(h.ingest.rejected).toEqual(rejected());
    await waitForPoints(A, 2);

    // Persisted with the agent, too.
    await waitFor('agent progress to be saved', async () => {
      const ag = (await store.inventory.getAgent(SCHOOL_A, 'gw-a'))!;
      return ag.lastSeq === a.seq && ag.duplicates === before.duplicates + 1 && ag.seqGaps === before.seqGaps + 2;
    });

    await othersStillServed(a, b);
    h = await received(7);
    expect(h.ingest).toMatchObject({ duplicates: 1, seqGaps: 2 });
  });

  it('a CSV with broken rows: 422 with every bad line, nothing imported, counted; MQTT ingest carries on', async () => {
    const { a, b } = await twoAgents();
    const csv = [
      CSV_HEADER,
      `3715020010,第十中学,${COUNTY},primary,public,800,60,,,,`,
      `37150200X1,坏代码,${COUNTY},primary,public,800,60,,,,`,
      `3715020012,坏县,999999,primary,public,800,60,,,,`,
      `3715020013,少字段,${COUNTY},primary`,
      `3715020014,第十四中学,${COUNTY},小学,公办,500,40,100,116.0,36.4,"东昌路,14号"`,
      `3715020015,坏坐标,${COUNTY},primary,public,500,40,,36.4,116.0,`,
      `3715020010,重复代码,${COUNTY},primary,public,800,60,,,,`,
    ].join('\r\n');
    const post = (body: string, token = TOKEN) =>
      fetch(`${collector.url}/api/v1/admin/schools/import`, { method: 'POST', headers: { 'content-type': 'text/csv', authorization: `Bearer ${token}` }, body });

    const unauth = await post(csv, 'wrong');
    expect(unauth.status).toBe(401);

    const res = await post(csv);
    expect(res.status).toBe(422);
    const body = (await res.json()) as { code: string; message: string; details: { imported: number; errors: { line: number; column?: string; message: string }[] } };
    expect(body.code).toBe('CSV_REJECTED');
    expect(body.details.imported).toBe(0);
    const lines = [...new Set(body.details.errors.map((e) => e.line))];
    expect(lines).toEqual([3, 4, 5, 7, 8]);
    expect(body.message).toBe(`the file has ${body.details.errors.length} bad row(s); nothing was imported`);
    expect(body.details.errors.find((e) => e.line === 4)).toMatchObject({ column: 'county_code', message: expect.stringContaining('999999') });
    expect(body.details.errors.find((e) => e.line === 8)).toMatchObject({ column: 'code', message: expect.stringContaining('line 2') });
    // All or nothing: not even the good rows.
    for (const code of ['3715020010', '3715020014']) expect(await store.inventory.getSchool(code)).toBeNull();

    let h = await health();
    expect(h.body.csvImports).toEqual({ accepted: 0, rejectedFiles: 1, rejectedRows: body.details.errors.length });

    // The collector still takes MQTT traffic from everyone, and a corrected file.
    await othersStillServed(a, b);
    const fixed = await post([CSV_HEADER, `3715020010,第十中学,${COUNTY},primary,public,800,60,,,,`, `3715020014,第十四中学,${COUNTY},小学,公办,500,40,100,116.0,36.4,"东昌路,14号"`].join('\n'));
    expect(fixed.status).toBe(200);
    expect(await fixed.json()).toEqual({ imported: 2, errors: [] });
    expect(await store.inventory.getSchool('3715020014')).toMatchObject({ type: 'primary', address: '东昌路,14号' });
    h = await health();
    expect(h.body.csvImports).toEqual({ accepted: 1, rejectedFiles: 1, rejectedRows: body.details.errors.length });
    expect(h.body.ingest.rejected).toEqual(rejected());
  });
});

describe('a flood from one agent', () => {
  beforeEach(async () => {
    // A low limit so that a burst is easy to exceed: 10/s sustained, bursts of 20.
    await startStack({ maxPublishesPerSecond: 10 });
  });

  it('is cut off by the broker rate limit; what it let through is stored exactly once; others keep being served', async () => {
    const { a, b } = await twoAgents();
    const statsBefore = broker.stats();
    const h0 = await received(2);

    const closed = a.closed();
    const sent = 200;
    for (let i = 0; i < sent; i++) a.client.publish(a.topic('telemetry'), a.telemetry(['sw-a']), { qos: 0 });
    await closed;
    const stats = broker.stats();
    const let_through = stats.publishesIn - statsBefore.publishesIn;
    expect(stats.rateLimited).toBeGreaterThanOrEqual(1);
    expect(let_through).toBeGreaterThanOrEqual(1);
    expect(let_through + stats.rateLimited).toBeLessThanOrEqual(sent);
    expect(stats.publishesRefused).toBe(0);

    // Everything the broker let through, and nothing else, arrives and is stored.
    const h = await received(h0.ingest.messagesReceived + let_through);
    expect(h.ingest.rejected).toEqual(rejected());
    expect(h.ingest.duplicates).toBe(0);
    await waitForPoints(A, let_through);
    expect((await health()).body.broker).toMatchObject({ rateLimited: stats.rateLimited, publishesIn: stats.publishesIn });

    // B was never limited.
    await othersStillServed(undefined, b);
    expect(broker.stats().rateLimited).toBe(stats.rateLimited);
  });
});

describe('collector start-up', () => {
  it('returns from startCollector only once subscribed: an agent publishing at that moment loses nothing', async () => {
    logs = [];
    broker = await startBroker({ host: HOST, mqttPort: 0, auth: { authenticate: (u, p) => store.inventory.verifyCredential(u, p) } });
    mqttUrl = `mqtt://${HOST}:${broker.mqttPort}`;
    influx = { url: inject('influxUrl'), db: uniqueDbName('bad_input') };
    // The agent is connected before the collector exists, so its publish follows startCollector at once.
    const b = await new TestAgent(B).connect();
    collector = await startCollector({
      host: HOST,
      httpPort: 0,
      mqttUrl,
      mqttUsername: 'collector-startup',
      influxUrl: influx.url,
      influxDb: influx.db,
      dataDir,
      apiToken: TOKEN,
      logger: { info() {}, warn() {}, error() {} },
      store,
      brokerStats: () => ({ ...broker.stats() }),
    });
    await b.announce(['sw-b']);
    await received(1);
    await b.sendTelemetry(['sw-b']);
    await waitForPoints(B, 1);
  });
});
