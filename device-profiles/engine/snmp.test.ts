import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import snmp, { type Session } from 'net-snmp';
import { Value } from '@sinclair/typebox/value';
import { Reading } from '../../protocol/index.ts';
import { startSimulatedSwitch, type SimulatedSwitch } from '../../simulator/snmp/simulated-switch.ts';
import { portCounters } from '../../simulator/snmp/traffic-model.ts';
import { startSnmpd, type RunningSnmpd } from '../../edge-agent/snmp/snmpd-for-tests.ts';
import { loadProfiles } from '../loader.ts';
import { decodeIndex, dueGroups, octetsText, pollSnmpProfile } from './snmp.ts';
import { RateState } from './rate.ts';
import { evaluateHealth, MissedPolls } from './health.ts';

const { registry } = loadProfiles();

function session(port: number, timeout = 2000): Session {
  const s = snmp.createSession('127.0.0.1', 'public', { port, version: snmp.Version2c, timeout, retries: 0 });
  s.on('error', () => {});
  return s;
}
const allValid = (readings: Reading[]): void => {
  for (const r of readings) expect(Value.Errors(Reading, r).First()?.message, JSON.stringify(r)).toBeUndefined();
};

describe('SNMP engine against the simulated Huawei switch', () => {
  let sw: SimulatedSwitch;
  // one clock for the simulator's counters and the engine's timestamps: rates become exact
  let clock = Date.now();
  const now = (): number => clock;
  beforeAll(async () => {
    sw = await startSimulatedSwitch({ sysName: 'core-sw', sysObjectID: '1.3.6.1.4.1.2011.2.23.402', interfaces: 6, uplinkMbps: 10_000, now });
  });
  afterAll(() => sw.stop());

  it('is recognised by sysObjectID and polled by its profile: interfaces, counters and rates', async () => {
    const profile = registry.matchSnmp({ sysObjectID: '1.3.6.1.4.1.2011.2.23.402' })!;
    expect(profile.id).toBe('huawei-s-series');
    const rates = new RateState();
    const s = session(sw.port);
    try {
      const t0 = clock;
      const a = await pollSnmpProfile(profile, s, { device: 'sw-1', rates, now });
      expect(a.reachable).toBe(true);
      allValid(a.readings);
      expect(a.readings[0]).toMatchObject({ measurement: 'device', metrics: { reachable: true } });
      expect(a.readings.find((r) => r.measurement === 'system')?.metrics).toMatchObject({ sysName: 'core-sw', sysObjectID: '1.3.6.1.4.1.2011.2.23.402' });
      const ifs = a.readings.filter((r) => r.measurement === 'interface');
      expect(ifs.map((r) => r.tags)).toEqual(sw.ports.map((p) => ({ ifIndex: String(p.ifIndex), ifName: p.ifName })));
      for (const p of sw.ports) {
        const m = ifs.find((r) => r.tags?.ifIndex === String(p.ifIndex))!.metrics;
        expect(m).toMatchObject({ operStatus: p.up ? 1 : 2, adminUp: true, speedMbps: p.speedMbps, inOctets: portCounters(p, t0).inOctets, outOctets: portCounters(p, t0).outOctets });
        expect(m.inBitsPerSec).toBeUndefined(); // first poll: no rate yet
      }
      // the simulator has no IP-MIB, ENTITY-MIB, LLDP-MIB or Huawei MIB: empty tables, not failures
      expect(a.readings.filter((r) => ['ipAddress', 'entity', 'lldp_neighbour', 'board'].includes(r.measurement))).toEqual([]);
      expect(a.errors.filter((e) => e.startsWith('neighbours'))).toEqual([]); // no LLDP-MIB: no rows, no error

      clock += 10_000;
      const b = await pollSnmpProfile(profile, s, { device: 'sw-1', rates, now, groups: ['interfaces'] });
      expect(b.readings.map((r) => r.measurement).filter((m) => m !== 'interface' && m !== 'device')).toEqual([]);
      for (const p of sw.ports) {
        const m = b.readings.find((r) => r.tags?.ifIndex === String(p.ifIndex))!.metrics;
        const c0 = portCounters(p, t0);
        const c1 = portCounters(p, t0 + 10_000);
        expect(m.inBitsPerSec).toBeCloseTo(((c1.inOctets - c0.inOctets) * 8) / 10, 2);
        expect(m.outBitsPerSec).toBeCloseTo(((c1.outOctets - c0.outOctets) * 8) / 10, 2);
        expect(m.inErrorsPerSec).toBeCloseTo((c1.inErrors - c0.inErrors) / 10, 6);
      }
      expect(b.readings.find((r) => r.tags?.ifName === sw.ports.at(-1)!.ifName)!.metrics.inBitsPerSec).toBeGreaterThan(0);
      allValid(b.readings);
    } finally {
      s.close();
    }
  });

  it('says unreachable, without throwing, when nobody answers', async () => {
    const port = sw.port;
    await sw.stop();
    const s = session(port, 200);
    try {
      const r = await pollSnmpProfile(registry.get('generic-snmp-switch')!, s, { device: 'gone' });
      expect(r.reachable).toBe(false);
      expect(r.readings).toEqual([{ device: 'gone', ts: expect.any(Number), measurement: 'device', metrics: { reachable: false } }]);
      expect(r.errors.length).toBeGreaterThan(0);
      const missed = new MissedPolls();
      const profile = registry.get('generic-snmp-switch')!;
      expect([1, 2, 3].map(() => missed.record(profile, 'gone', false).offline)).toEqual([false, false, true]);
      expect(evaluateHealth(profile, r.readings).map((f) => f.rule)).toEqual(['unreachable']);
    } finally {
      s.close();
    }
  });
});

describe('SNMP engine: LLDP neighbours from the simulated switch', () => {
  let sw: SimulatedSwitch;
  beforeAll(async () => {
    sw = await startSimulatedSwitch({
      sysName: 'acc-sw2',
      sysObjectID: '1.3.6.1.4.1.25506.11.1.100',
      interfaces: 8,
      uplinkMbps: 1000,
      neighbours: [
        { localPort: 8, remoteSysName: 'core-sw1', remotePortId: 'ge-0/0/3', remoteChassisId: '02:ca:00:11:22:33', remotePortDesc: 'to acc-sw2' },
        { localPort: 2, remoteSysName: 'ap-lobby', remotePortId: '02:ca:aa:bb:cc:dd', remoteChassisId: 'AP-SN-0042' },
        { localPort: 2, remoteSysName: 'phone-7', remotePortId: 'port 1', remoteChassisId: '02:ca:aa:bb:cc:ee' },
      ],
    });
  });
  afterAll(() => sw.stop());

  it('reads lldpRemTable as lldp_neighbour readings: localPort (named from lldpLocPortTable) and remoteSysName tags, ids as strings', async () => {
    const profile = registry.matchSnmp({ sysObjectID: '1.3.6.1.4.1.25506.11.1.100' })!;
    expect(profile.chain).toContain('generic-snmp-switch');
    const s = session(sw.port);
    try {
      const r = await pollSnmpProfile(profile, s, { device: 'acc-sw2', groups: ['neighbours'] });
      expect(r.errors).toEqual([]);
      allValid(r.readings);
      expect(r.readings.filter((x) => x.measurement === 'lldp_neighbour').map(({ tags, metrics }) => ({ tags, metrics }))).toEqual([
        { tags: { localPort: 'ge-0/0/2', remoteSysName: 'ap-lobby' }, metrics: { remoteChassisId: 'AP-SN-0042', remotePortId: '02:ca:aa:bb:cc:dd', remotePortDesc: '02:ca:aa:bb:cc:dd' } },
        { tags: { localPort: 'ge-0/0/2', remoteSysName: 'phone-7' }, metrics: { remoteChassisId: '02:ca:aa:bb:cc:ee', remotePortId: 'port 1', remotePortDesc: 'port 1' } },
        { tags: { localPort: 'uplink8', remoteSysName: 'core-sw1' }, metrics: { remoteChassisId: '02:ca:00:11:22:33', remotePortId: 'ge-0/0/3', remotePortDesc: 'to acc-sw2' } },
      ]);
    } finally {
      s.close();
    }
  });

  it('keeps the port number as localPort on a switch without lldpLocPortTable', async () => {
    const old = await startSimulatedSwitch({
      sysName: 'old-sw',
      sysObjectID: '1.3.6.1.4.1.25506.11.1.100',
      interfaces: 4,
      uplinkMbps: 100,
      neighbours: [{ localPort: 4, remoteSysName: 'core-sw1', remotePortId: 'ge-0/0/9', remoteChassisId: '02:ca:00:11:22:33' }],
      lldpLocalPortTable: false,
    });
    const s = session(old.port);
    try {
      const profile = registry.matchSnmp({ sysObjectID: '1.3.6.1.4.1.25506.11.1.100' })!;
      const r = await pollSnmpProfile(profile, s, { device: 'old-sw', groups: ['neighbours'] });
      expect(r.errors).toEqual([]);
      expect(r.readings.filter((x) => x.measurement === 'lldp_neighbour').map((x) => x.tags)).toEqual([{ localPort: '4', remoteSysName: 'core-sw1' }]);
    } finally {
      s.close();
      await old.stop();
    }
  });

  it('octets: printable text as text, six other octets as a MAC, the rest as hex', () => {
    expect(octetsText(Buffer.from('Gi1/0/24'))).toBe('Gi1/0/24');
    expect(octetsText(Buffer.from([0x3c, 0x8c, 0x40, 0x00, 0x01, 0xff]))).toBe('3c:8c:40:00:01:ff');
    expect(octetsText(Buffer.from([0xc0, 0xa8, 0x00, 0x01, 0x01]))).toBe('c0a8000101');
  });
});

describe('SNMP engine against Debian snmpd', () => {
  let snmpd: RunningSnmpd;
  beforeAll(async () => {
    snmpd = await startSnmpd();
  });
  afterAll(() => snmpd?.stop());

  it('is not recognised (net-snmp host), and the generic switch profile still reads lo and its addresses', async () => {
    const s = session(snmpd.port);
    try {
      const profile = registry.get('generic-snmp-switch')!;
      const rates = new RateState();
      const a = await pollSnmpProfile(profile, s, { device: 'host', rates });
      expect(a.reachable).toBe(true);
      allValid(a.readings);
      const sys = a.readings.find((r) => r.measurement === 'system')!.metrics;
      expect(sys.sysObjectID).toMatch(/^1\.3\.6\.1\.4\.1\.8072\./);
      expect(registry.matchSnmp({ sysObjectID: sys.sysObjectID as string, sysDescr: 'Linux gateway 6.1.0 #1 SMP x86_64' })).toBeUndefined();
      expect(sys.uptimeSec).toBeGreaterThanOrEqual(0);
      const lo = a.readings.find((r) => r.measurement === 'interface' && r.tags?.ifName === 'lo');
      expect(lo?.metrics).toMatchObject({ operStatus: 1, adminUp: true });
      expect(lo!.metrics.inOctets).toBeGreaterThan(0);
      // IP-MIB ipAddressTable: index <type>.<length>.<bytes> decoded into family + address
      const v4 = a.readings.find((r) => r.measurement === 'ipAddress' && r.tags?.address === '127.0.0.1');
      expect(v4?.tags).toEqual({ family: 'ipv4', address: '127.0.0.1' });
      expect(v4?.metrics.ifIndex).toBe(Number(lo!.tags!.ifIndex));
      const b = await pollSnmpProfile(profile, s, { device: 'host', rates, groups: ['interfaces'] });
      const lo2 = b.readings.find((r) => r.measurement === 'interface' && r.tags?.ifName === 'lo')!;
      expect(lo2.metrics.inBitsPerSec).toBeGreaterThanOrEqual(0); // our own SNMP traffic crosses lo
    } finally {
      s.close();
    }
  });
});

describe('SNMP engine against a device that answers nonsense', () => {
  let agent: ReturnType<typeof snmp.createAgent>;
  let port: number;
  beforeAll(async () => {
    // a real agent (net-snmp's) whose MIB holds wrong types and absurd values
    const sim = await startSimulatedSwitch({ sysName: 'x', sysObjectID: '1.3.6.1.4.1.99999', interfaces: 1, uplinkMbps: 1000 });
    port = sim.port;
    await sim.stop();
    agent = snmp.createAgent({ address: '127.0.0.1', port }, () => {});
    agent.getAuthorizer().addCommunity('public');
    const T = snmp.ObjectType;
    const RO = snmp.MaxAccess['read-only']!;
    agent.getMib().registerProviders([
      { name: 'sysUpTime', type: snmp.MibProviderType.Scalar, oid: '1.3.6.1.2.1.1.3', scalarType: T.OctetString, maxAccess: RO },
      {
        name: 'ifEntry',
        type: snmp.MibProviderType.Table,
        oid: '1.3.6.1.2.1.2.2.1',
        maxAccess: snmp.MaxAccess['not-accessible']!,
        tableColumns: [
          { number: 1, name: 'ifIndex', type: T.Integer, maxAccess: RO },
          { number: 7, name: 'ifAdminStatus', type: T.Integer, maxAccess: RO },
          { number: 8, name: 'ifOperStatus', type: T.Integer, maxAccess: RO },
        ],
        tableIndex: [{ columnName: 'ifIndex' }],
      },
    ]);
    agent.getMib().setScalarValue('sysUpTime', 'yesterday');
    agent.getMib().addTableRow('ifEntry', [1, 1, 1]);
    agent.getMib().addTableRow('ifEntry', [2, 9, 99]); // adminStatus not in the enum, operStatus absurd
  });
  afterAll(() => new Promise<void>((resolve) => agent.close(() => resolve())));

  it('skips and reports bad varbinds, keeps the good ones', async () => {
    const s = session(port);
    try {
      const r = await pollSnmpProfile(registry.get('generic-snmp-device')!, s, { device: 'broken', groups: ['system', 'interfaces'] });
      expect(r.reachable).toBe(true);
      allValid(r.readings);
      expect(r.readings.find((x) => x.measurement === 'system')).toBeUndefined();
      expect(r.readings.filter((x) => x.measurement === 'interface')).toEqual([
        { device: 'broken', ts: expect.any(Number), measurement: 'interface', tags: { ifIndex: '1' }, metrics: { operStatus: 1, adminUp: true } },
      ]);
      expect(r.errors).toEqual(
        expect.arrayContaining([
          expect.stringMatching(/^system\.uptimeSec: expected timeticks/),
          expect.stringMatching(/^interfaces\[2\]: operStatus: 99 above plausible maximum 7/),
          expect.stringMatching(/^interfaces\[2\]: adminUp: value 9 is not in the profile's enum/),
        ]),
      );
      // sysUpTime wrong type, sysName + sysObjectID missing, operStatus and adminStatus of row 2
      expect(r.skipped).toBe(5);
    } finally {
      s.close();
    }
  });
});

describe('pieces', () => {
  it('decodes table indexes: integers, IPv4/IPv6 InetAddress, MAC; refuses what does not fit', () => {
    const ip = registry.get('generic-snmp-device')!.poll.find((g) => g.name === 'addresses')!.index!;
    expect(decodeIndex('1.4.192.0.2.7', ip)).toEqual({ family: 'ipv4', address: '192.0.2.7' });
    expect(decodeIndex('2.16.32.1.13.184.0.0.0.0.0.0.0.0.0.0.0.1', ip)).toEqual({ family: 'ipv6', address: '2001:db8::1' });
    expect(decodeIndex('2.16.254.128.0.0.0.0.0.0.2.0.0.255.254.0.0.1', ip)).toEqual({ family: 'ipv6', address: 'fe80::200:ff:fe00:1' });
    expect(decodeIndex('1.4.192.0.2', ip)).toBeUndefined();
    expect(decodeIndex('1.4.192.0.2.7.9', ip)).toBeUndefined();
    expect(decodeIndex('1.4.300.0.2.7', ip)).toBeUndefined();
    expect(decodeIndex('0.12.52.86.120.154', [{ name: 'apMac', type: 'mac' }])).toEqual({ apMac: '00:0c:34:56:78:9a' });
    expect(decodeIndex('100.3.1', [{ name: 't', type: 'integer', skip: true }, { name: 'port', type: 'integer' }, { name: 'i', type: 'integer' }])).toEqual({ port: '3', i: '1' });
  });

  it('RateState: per-second rates, Counter32 wrap, resets give no rate', () => {
    const r = new RateState();
    expect(r.update('k', 1000n, 1_000)).toBeUndefined();
    expect(r.update('k', 3000n, 3_000)).toBe(1000);
    expect(r.update('w', 0xffff_ff00n, 0, 1n << 32n)).toBeUndefined();
    expect(r.update('w', 0x100n, 1_000, 1n << 32n)).toBe(0x200);
    expect(r.update('w', 0x10n, 2_000, 1n << 32n)).toBeUndefined(); // backwards by almost the whole range: a reset
    expect(r.update('k', 10n, 4_000)).toBeUndefined(); // no width known: a reset
    r.forgetBefore(2_500);
    expect(r.size).toBe(1);
  });

  it('dueGroups follows each group interval', () => {
    const p = registry.get('generic-snmp-switch')!;
    const t = 1_800_000_000_000;
    expect(dueGroups(p, new Map(), t)).toEqual(['system', 'interfaces', 'addresses', 'inventory', 'neighbours']);
    const last = new Map(p.poll.map((g) => [g.name, t]));
    expect(dueGroups(p, last, t + 60_000)).toEqual(['interfaces']);
    expect(dueGroups(p, last, t + 3_600_000)).toEqual(['system', 'interfaces', 'addresses', 'inventory', 'neighbours']);
  });
});
