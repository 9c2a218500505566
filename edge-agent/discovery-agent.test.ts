/**
 * The agent discovering and polling SNMP gear by itself, over a real (in-process aedes) broker:
 * zero-config start, profile ids in discovery, profile-driven readings, the `rescan` command
 * answered with counts, a device gone after N scans, a moved device kept under its id, ids stable
 * across a restart; and a new switch vendor added as one profile file.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage, SCHEMA_VERSION, type ChannelMessages, type CommandAckMessage, type DiscoveryMessage, type EventMessage, type Reading } from '../protocol/index.ts';
import { startSimulatedSwitch, type SimulatedSwitch } from '../simulator/snmp/simulated-switch.ts';
import { startAgent, type AgentLogger, type RunningAgent } from './agent.ts';
import { loadAgentConfig } from './config.ts';
import { RANGE_DEVICES, SNMPD_OFFSET, startRangeGear, type RangeGear } from './snmp/range-gear-for-tests.ts';
import { waitFor } from '../tests/setup/wait.ts';

const SCHOOL = '3715020001';
const quiet: AgentLogger = { info: () => {}, warn: () => {}, error: () => {} };

async function startBroker(): Promise<{ url: string; stop(): Promise<void> }> {
  const broker = await Aedes.createBroker();
  const server = net.createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return {
    url: `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    },
  };
}

const until = <T>(what: string, fn: () => T | undefined, ms = 30_000): Promise<T> => waitFor(what, fn, ms, 25);

/** Everything one agent publishes, decoded, and a way to send it commands. */
class Watcher {
  discovery: DiscoveryMessage[] = [];
  readings: Reading[] = [];
  events: EventMessage[] = [];
  acks: CommandAckMessage[] = [];
  private cmdSeq = 0;
  private constructor(
    private readonly client: MqttClient,
    private readonly agentId: string,
  ) {}
  static async start(url: string, agentId: string): Promise<Watcher> {
    const client = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: `watch-${agentId}`, reconnectPeriod: 0 });
    const w = new Watcher(client, agentId);
    client.on('message', (topic, payload) => {
      const channel = topic.split('/').slice(4).join('/') as keyof ChannelMessages;
      if (channel === 'status' || channel === 'cmd') return;
      const d = decodeMessage(channel, payload);
      if (!d.ok) throw new Error(`bad ${channel}: ${d.detail}`);
      if (channel === 'discovery') w.discovery.push(d.message as DiscoveryMessage);
      else if (channel === 'telemetry') w.readings.push(...(d.message as ChannelMessages['telemetry']).readings);
      else if (channel === 'event') w.events.push(d.message as EventMessage);
      else if (channel === 'cmd/ack') w.acks.push(d.message as CommandAckMessage);
    });
    await client.subscribeAsync(`campus/v1/${SCHOOL}/${agentId}/#`, { qos: 1 });
    return w;
  }
  lastDiscovery(): DiscoveryMessage | undefined {
    return this.discovery.at(-1);
  }
  async command(command: 'rescan' | 'ping' | 'reload-config'): Promise<CommandAckMessage> {
    const id = `c${++this.cmdSeq}-${Date.now()}`;
    await this.client.publishAsync(`campus/v1/${SCHOOL}/${this.agentId}/cmd`, encodeMessage('cmd', { v: SCHEMA_VERSION, seq: this.cmdSeq, ts: Date.now(), id, command }), { qos: 1 });
    return until(`ack of ${command}`, () => this.acks.find((a) => a.id === id), 60_000);
  }
  stop(): Promise<void> {
    return this.client.endAsync();
  }
}

describe('agent with SNMP discovery (zero config beyond the targets)', () => {
  let broker: Awaited<ReturnType<typeof startBroker>>;
  let gear: RangeGear;
  let dir: string;
  let configFile: string;
  beforeAll(async () => {
    broker = await startBroker();
    gear = await startRangeGear();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-disc-agent-'));
    configFile = path.join(dir, 'agent.yaml');
    // only school, agent id, MQTT and the targets: everything else is a default
    fs.writeFileSync(configFile, [`schoolCode: "${SCHOOL}"`, 'agentId: gw-9', 'mqtt:', `  url: ${broker.url}`, 'discovery:', '  snmp:', `    targets: ['${gear.target}']`, ''].join('\n'));
  }, 60_000);
  afterAll(async () => {
    await gear?.stop();
    await broker?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('finds and polls the gear; rescan answers with counts; gone after 2 scans; moves and restarts keep ids', async () => {
    const config = loadAgentConfig(configFile);
    expect(config.dataDir).toBe(path.join(dir, 'agent-data'));
    const watcher = await Watcher.start(broker.url, 'gw-9');
    let agent: RunningAgent | undefined = await startAgent(config, { logger: quiet });
    try {
      // the start-up scan finds all six devices and reports them with their profiles
      const first = await until('discovery with the scanned gear', () => watcher.discovery.find((m) => m.devices.length === RANGE_DEVICES.length + 1));
      expect(first.full).toBe(true);
      const byName = new Map(first.devices.map((d) => [d.attributes.sysName, d]));
      for (const d of RANGE_DEVICES) {
        const found = byName.get(d.sysName)!;
        expect(found).toMatchObject({ device: d.sysName, protocol: 'snmp', address: `127.0.0.1:${gear.from + d.offset}`, attributes: { sysObjectID: d.sysObjectID, source: 'snmp-discovery' } });
        expect(found.profile).toBe(d.expectProfile);
      }
      expect(byName.get('core-sw1')!.kind).toBe('switch');
      expect(byName.get('ap-lobby')!.kind).toBe('ap');
      expect(byName.get('mystery-box')).toMatchObject({ kind: 'unknown', attributes: { sysDescr: 'Mystery appliance 1.0' } });
      expect(byName.get('mystery-box')!.profile).toBeUndefined();
      const snmpd = first.devices.find((d) => d.address === `127.0.0.1:${gear.from + SNMPD_OFFSET}`)!;
      expect(snmpd).toMatchObject({ kind: 'unknown', attributes: { sysObjectID: expect.stringMatching(/^1\.3\.6\.1\.4\.1\.8072\./), sysDescr: expect.any(String) } });
      expect(snmpd.profile).toBeUndefined();

      // every discovered device is polled by its profile: interface rows in the usual shape
      await agent.pollNow();
      const ids = first.devices.map((d) => d.device);
      await until('interface readings of every device', () => (ids.every((id) => watcher.readings.some((r) => r.device === id && r.measurement === 'interface')) ? true : undefined));
      const core = watcher.readings.find((r) => r.device === 'core-sw1' && r.measurement === 'interface')!;
      expect(core.tags).toMatchObject({ ifIndex: expect.any(String), ifName: expect.any(String) });
      expect(core.metrics).toMatchObject({ inOctets: expect.any(Number), outOctets: expect.any(Number), operStatus: expect.any(Number), speedMbps: expect.any(Number) });
      expect(watcher.readings.some((r) => r.device === 'core-sw1' && r.measurement === 'system' && typeof r.metrics.uptimeSec === 'number')).toBe(true);
      expect(watcher.readings.some((r) => r.device === snmpd.device && r.measurement === 'ipAddress')).toBe(true); // generic-snmp-device reads IP-MIB on the real snmpd
      const pollProfile = await until('unknown devices say what polls them', () => watcher.lastDiscovery()?.devices.find((d) => d.device === 'mystery-box')?.attributes.pollProfile);
      expect(pollProfile).toBe('generic-snmp-device');

      // rescan over MQTT: nothing new
      let ack = await agent_rescan(watcher);
      expect(ack).toMatchObject({ ok: true, result: { found: 6, new: 0, gone: 0 } });

      // a device stops answering: still listed after one scan, gone after the second
      await gear.stopDevice('acc-sw2');
      ack = await agent_rescan(watcher);
      expect(ack.result).toMatchObject({ found: 5, new: 0, gone: 0 });
      expect(watcher.lastDiscovery()!.devices.map((d) => d.device)).toContain('acc-sw2');
      ack = await agent_rescan(watcher);
      expect(ack.result).toMatchObject({ found: 5, new: 0, gone: 1 });
      const goneMsg = watcher.lastDiscovery()!;
      expect(goneMsg).toMatchObject({ full: true, gone: ['acc-sw2'] });
      expect(goneMsg.devices.map((d) => d.device)).not.toContain('acc-sw2');

      // it comes back on another port: the same id, with its new address and the old one
      await gear.restartDevice('acc-sw2', 7);
      ack = await agent_rescan(watcher);
      expect(ack.result).toMatchObject({ found: 6, new: 0, changed: 1, gone: 0 });
      expect(watcher.lastDiscovery()!.devices.find((d) => d.device === 'acc-sw2')).toMatchObject({
        address: `127.0.0.1:${gear.from + 7}`,
        profile: 'h3c-s-series',
        attributes: { previousAddress: `127.0.0.1:${gear.from + 2}` },
      });
      const before = watcher.lastDiscovery()!.devices.map((d) => [d.device, d.address]).sort();

      // restart: the ids come from the mapping file in dataDir, before and after the first scan
      await agent.stop();
      agent = undefined;
      const seen = watcher.discovery.length;
      agent = await startAgent(loadAgentConfig(configFile), { logger: quiet });
      await until('discovery after the restart scan', () => (watcher.discovery.length >= seen + 2 ? true : undefined));
      expect(watcher.discovery[seen]!.devices.map((d) => [d.device, d.address]).sort()).toEqual(before);
      expect(watcher.lastDiscovery()!.devices.map((d) => [d.device, d.address]).sort()).toEqual(before);
      expect(fs.existsSync(path.join(dir, 'agent-data', 'snmp-discovered.json'))).toBe(true);
    } finally {
      await agent?.stop();
      await watcher.stop();
    }

    async function agent_rescan(w: Watcher): Promise<CommandAckMessage> {
      const n = w.discovery.length;
      const a = await w.command('rescan');
      await until('discovery after the rescan', () => (w.discovery.length > n ? true : undefined));
      return a;
    }
  }, 120_000);

  it('reload-config reads discovery.allow again: a narrowed allow stops probing and polling without a restart', async () => {
    const file = path.join(dir, 'reload.yaml');
    const write = (allow: string) =>
      fs.writeFileSync(file, [`schoolCode: "${SCHOOL}"`, 'agentId: gw-7', 'mqtt:', `  url: ${broker.url}`, 'dataDir: reload-data', 'discovery:', `  allow: [${allow}]`, '  snmp:', `    targets: ['${gear.target}']`, ''].join('\n'));
    write('127.0.0.1');
    const watcher = await Watcher.start(broker.url, 'gw-7');
    const agent = await startAgent(loadAgentConfig(file), { logger: quiet, reloadConfig: () => loadAgentConfig(file) });
    try {
      const found = await until('discovery with the scanned gear', () => watcher.discovery.find((m) => m.devices.length === RANGE_DEVICES.length + 1));
      const ids = found.devices.map((d) => d.device);
      await agent.pollNow();
      await until('interface readings while allowed', () => (watcher.readings.some((r) => r.measurement === 'interface') ? true : undefined));

      write('127.0.0.2'); // the gear is all on 127.0.0.1
      expect(await watcher.command('reload-config')).toMatchObject({ ok: true });
      const refusedBefore = agent.stats().notAllowed;
      // the reload's own scan and this one find nothing: every device is gone after its second missed scan
      const scan = await watcher.command('rescan');
      expect(scan).toMatchObject({ ok: true, result: { found: 0, new: 0, devices: 0 } });
      expect(agent.stats().notAllowed).toBeGreaterThan(refusedBefore);
      await until('every device gone from the device list', () => (watcher.lastDiscovery()?.devices.length === 0 ? true : undefined));
      expect([...(watcher.lastDiscovery()!.gone ?? [])].sort()).toEqual([...ids].sort());
      // and nothing is polled any more
      const from = watcher.readings.length;
      expect(await agent.pollNow()).toBe(0);
      expect(watcher.readings.slice(from).filter((r) => ids.includes(r.device))).toEqual([]);
    } finally {
      await agent.stop();
      await watcher.stop();
    }
  });

  it('rescan without discovery configured is refused with the reason', async () => {
    const file = path.join(dir, 'plain.yaml');
    fs.writeFileSync(file, [`schoolCode: "${SCHOOL}"`, 'agentId: gw-8', 'mqtt:', `  url: ${broker.url}`, 'dataDir: plain-data', ''].join('\n'));
    const watcher = await Watcher.start(broker.url, 'gw-8');
    const agent = await startAgent(loadAgentConfig(file), { logger: quiet });
    try {
      // its (empty) device list arrives after it subscribed to its commands on the same connection
      await until('the agent connected', () => watcher.lastDiscovery());
      const ack = await watcher.command('rescan');
      expect(ack).toMatchObject({ ok: false, error: expect.stringMatching(/discovery is not configured/) });
    } finally {
      await agent.stop();
      await watcher.stop();
    }
  });
});

describe('a new switch vendor is one profile file (no agent code)', () => {
  let broker: Awaited<ReturnType<typeof startBroker>>;
  let sw: SimulatedSwitch;
  let dir: string;
  beforeAll(async () => {
    broker = await startBroker();
    sw = await startSimulatedSwitch({ host: '127.0.0.1', sysName: 'acme-1', sysObjectID: '1.3.6.1.4.1.99999.1.42', sysDescr: 'Acme GS-2400 switch', interfaces: 6, uplinkMbps: 1000 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-newvendor-'));
  });
  afterAll(async () => {
    await sw?.stop();
    await broker?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reports the new profile id and polls its resources; its health rule is an event once', async () => {
    const profilesDir = path.join(dir, 'profiles');
    fs.cpSync(path.join(import.meta.dirname, '..', 'device-profiles', 'profiles'), profilesDir, { recursive: true });
    fs.writeFileSync(
      path.join(profilesDir, 'snmp', 'acme-gs-series.yaml'),
      [
        'id: acme-gs-series',
        'vendor: Acme',
        'family: GS series access switches',
        'kind: switch',
        'protocol: snmp',
        'extends: generic-snmp-switch',
        'description: { zh-CN: Acme GS 系列接入交换机, en: Acme GS series access switch }',
        'match:',
        '  snmp:',
        '    sysObjectID: [1.3.6.1.4.1.99999.1]',
        'poll:',
        '  - name: chassis',
        '    interval: 5m',
        '    measurement: acmeChassis',
        '    resources:',
        '      - metric: portCount',
        '        snmp: { oid: 1.3.6.1.2.1.2.1.0, type: integer }',
        'health:',
        '  rules:',
        '    - id: acme-few-ports',
        '      when: acmeChassis.portCount < 8',
        '      severity: warning',
        '      message: { key: health.acme.fewPorts, zh-CN: 端口少于 8 个, en: Fewer than 8 ports }',
        '',
      ].join('\n'),
    );
    const file = path.join(dir, 'agent.yaml');
    fs.writeFileSync(
      file,
      [
        `schoolCode: "${SCHOOL}"`,
        'agentId: gw-7',
        'mqtt:',
        `  url: ${broker.url}`,
        'profilesDir: profiles',
        'pollIntervalSec: 3600',
        'devices:',
        `  - { id: acme-1, kind: switch, protocol: snmp, address: "127.0.0.1:${sw.port}" }`,
        '',
      ].join('\n'),
    );
    const watcher = await Watcher.start(broker.url, 'gw-7');
    const agent = await startAgent(loadAgentConfig(file), { logger: quiet });
    try {
      const d = await until('discovery with the profile', () => watcher.discovery.map((m) => m.devices[0]).find((x) => x?.profile));
      expect(d).toMatchObject({ device: 'acme-1', kind: 'switch', profile: 'acme-gs-series', attributes: { sysObjectID: '1.3.6.1.4.1.99999.1.42' } });
      await agent.pollNow();
      await agent.pollNow();
      await until('the profile group read', () => watcher.readings.find((r) => r.device === 'acme-1' && r.measurement === 'acmeChassis'));
      expect(watcher.readings.find((r) => r.measurement === 'acmeChassis')!.metrics).toEqual({ portCount: 6 });
      // inherited groups too
      expect(watcher.readings.some((r) => r.device === 'acme-1' && r.measurement === 'interface')).toBe(true);
      await until('the health event', () => watcher.events.find((e) => e.type === 'acme-few-ports'));
      await watcher.command('ping'); // everything queued before the ack has arrived by now
      expect(watcher.events.filter((e) => e.type === 'acme-few-ports')).toEqual([
        expect.objectContaining({ device: 'acme-1', severity: 'warning', message: 'Fewer than 8 ports', data: expect.objectContaining({ state: 'active', messageKey: 'health.acme.fewPorts' }) }),
      ]);
    } finally {
      await agent.stop();
      await watcher.stop();
    }
  });
});
