import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import snmp from 'net-snmp';
import * as dgram from 'node:dgram';
import { Value } from '@sinclair/typebox/value';
import { Reading } from '../../protocol/index.ts';
import type { DeviceConfig } from '../config.ts';
import { startSimulatedSwitch, type SimulatedSwitch } from '../../simulator/snmp/simulated-switch.ts';
import { portCounters } from '../../simulator/snmp/traffic-model.ts';
import { pollSnmpDevice } from './poller.ts';
import { startSnmpd, type RunningSnmpd } from './snmpd-for-tests.ts';

const device = (port: number, id = 'sw-1'): DeviceConfig => ({
  id,
  kind: 'switch',
  protocol: 'snmp',
  address: `127.0.0.1:${port}`,
  snmp: { version: '2c', community: 'public', timeoutMs: 1000, retries: 0 },
});

describe('SNMP poller against the simulated switch', () => {
  let sw: SimulatedSwitch;
  beforeAll(async () => {
    sw = await startSimulatedSwitch({ sysName: 'core-sw', sysObjectID: '1.3.6.1.4.1.2011.2.23.402', interfaces: 6, uplinkMbps: 10_000 });
  });
  afterAll(() => sw.stop());

  it('reads system and every interface row, with counters the traffic model predicts', async () => {
    const before = Date.now();
    const r = await pollSnmpDevice(device(sw.port));
    const after = Date.now();
    expect(r.reachable).toBe(true);
    expect(r.errors).toEqual([]);
    expect(r.skipped).toBe(0);
    expect(r.system).toMatchObject({ sysName: 'core-sw', sysObjectID: '1.3.6.1.4.1.2011.2.23.402' });
    for (const reading of r.readings) expect(Value.Check(Reading, reading)).toBe(true);
    expect(r.readings.find((x) => x.measurement === 'device')?.metrics).toEqual({ reachable: true });
    expect(r.readings.find((x) => x.measurement === 'system')?.metrics.uptimeSec).toBeGreaterThanOrEqual(0);
    const ifs = r.readings.filter((x) => x.measurement === 'interface');
    expect(ifs.map((x) => x.tags)).toEqual(sw.ports.map((p) => ({ ifIndex: String(p.ifIndex), ifName: p.ifName })));
    for (const p of sw.ports) {
      const m = ifs.find((x) => x.tags?.ifIndex === String(p.ifIndex))!.metrics;
      expect(m.operStatus).toBe(p.up ? 1 : 2);
      expect(m.speedMbps).toBe(p.speedMbps);
      // the counter was read somewhere between `before` and `after`
      const lo = portCounters(p, before);
      const hi = portCounters(p, after);
      expect(m.inOctets).toBeGreaterThanOrEqual(lo.inOctets);
      expect(m.inOctets).toBeLessThanOrEqual(hi.inOctets);
      expect(m.outOctets).toBeGreaterThanOrEqual(lo.outOctets);
      expect(m.outOctets).toBeLessThanOrEqual(hi.outOctets);
      expect(m.inErrors).toBeGreaterThanOrEqual(lo.inErrors);
    }
    expect(sw.ports.at(-1)!.speedMbps).toBe(10_000);
  });

  it('sees counters move between two polls', async () => {
    const a = await pollSnmpDevice(device(sw.port));
    await new Promise((r) => setTimeout(r, 50));
    const b = await pollSnmpDevice(device(sw.port));
    const uplink = (x: typeof a): number => x.readings.find((r) => r.tags?.ifName === 'uplink6')!.metrics.inOctets as number;
    expect(uplink(b)).toBeGreaterThan(uplink(a));
  });

  it('reports an unreachable device as reachable:false instead of failing', async () => {
    // a free loopback port with nobody behind it
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    const port = s.address().port;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    const r = await pollSnmpDevice({ ...device(port, 'gone'), snmp: { version: '2c', community: 'public', timeoutMs: 200, retries: 0 } });
    expect(r.reachable).toBe(false);
    expect(r.readings).toEqual([{ device: 'gone', ts: expect.any(Number), measurement: 'device', metrics: { reachable: false } }]);
    expect(r.errors.length).toBe(1);
  });
});

describe('SNMP poller against a device that answers nonsense', () => {
  // a real SNMP agent (net-snmp's) whose MIB holds wrong types and absurd values
  let agent: ReturnType<typeof snmp.createAgent>;
  let port: number;
  beforeAll(async () => {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    port = s.address().port;
    await new Promise<void>((resolve) => s.close(() => resolve()));
    agent = snmp.createAgent({ address: '127.0.0.1', port }, () => {});
    agent.getAuthorizer().addCommunity('public');
    const T = snmp.ObjectType;
    const RO = snmp.MaxAccess['read-only']!;
    const mib = agent.getMib();
    mib.registerProviders([
      { name: 'sysDescr', type: snmp.MibProviderType.Scalar, oid: '1.3.6.1.2.1.1.1', scalarType: T.OctetString, maxAccess: RO },
      // sysUpTime as a string: wrong type
      { name: 'sysUpTime', type: snmp.MibProviderType.Scalar, oid: '1.3.6.1.2.1.1.3', scalarType: T.OctetString, maxAccess: RO },
      {
        name: 'ifEntry',
        type: snmp.MibProviderType.Table,
        oid: '1.3.6.1.2.1.2.2.1',
        maxAccess: snmp.MaxAccess['not-accessible']!,
        tableColumns: [
          { number: 1, name: 'ifIndex', type: T.Integer, maxAccess: RO },
          { number: 2, name: 'ifDescr', type: T.OctetString, maxAccess: RO },
          { number: 8, name: 'ifOperStatus', type: T.Integer, maxAccess: RO },
          { number: 14, name: 'ifInErrors', type: T.Integer, maxAccess: RO },
        ],
        tableIndex: [{ columnName: 'ifIndex' }],
      },
    ]);
    mib.setScalarValue('sysDescr', 'broken box');
    mib.setScalarValue('sysUpTime', 'yesterday');
    mib.addTableRow('ifEntry', [1, 'eth0', 1, 5]); // ifInErrors as Integer: wrong type
    mib.addTableRow('ifEntry', [2, 'eth1', 99, 0]); // operStatus 99: absurd, and wrong-typed errors again
  });
  afterAll(() => new Promise<void>((resolve) => agent.close(() => resolve())));

  it('skips and counts bad varbinds and keeps the good ones', async () => {
    const r = await pollSnmpDevice(device(port, 'broken'));
    expect(r.reachable).toBe(true);
    expect(r.system.sysDescr).toBe('broken box');
    expect(r.system.uptimeSec).toBeUndefined();
    // sysObjectID + sysName are noSuchObject, sysUpTime wrong type, 2× ifInErrors wrong type, operStatus 99
    expect(r.skipped).toBe(6);
    expect(r.readings.find((x) => x.measurement === 'system')).toBeUndefined();
    const ifs = r.readings.filter((x) => x.measurement === 'interface');
    expect(ifs).toEqual([{ device: 'broken', ts: expect.any(Number), measurement: 'interface', tags: { ifIndex: '1', ifName: 'eth0' }, metrics: { operStatus: 1 } }]);
    for (const reading of r.readings) expect(Value.Check(Reading, reading)).toBe(true);
  });
});

describe('SNMP poller against Debian snmpd', () => {
  let snmpd: RunningSnmpd;
  beforeAll(async () => {
    snmpd = await startSnmpd();
  });
  afterAll(() => snmpd?.stop());

  it('reads the host interfaces, including lo, with 64-bit counters', async () => {
    const r = await pollSnmpDevice(device(snmpd.port, 'host'));
    expect(r.reachable).toBe(true);
    expect(r.system.sysObjectID).toMatch(/^1\.3\.6\.1\.4\.1\.8072\./); // net-snmp's enterprise
    expect(r.system.uptimeSec).toBeGreaterThanOrEqual(0);
    const lo = r.readings.find((x) => x.measurement === 'interface' && x.tags?.ifName === 'lo');
    expect(lo).toBeDefined();
    expect(lo!.metrics.operStatus).toBe(1);
    expect(typeof lo!.metrics.inOctets).toBe('number');
    expect(lo!.metrics.inOctets).toBeGreaterThan(0);
    for (const reading of r.readings) expect(Value.Check(Reading, reading)).toBe(true);
  });
});
