/**
 * Which address sits on which interface: the simulated switch serves IP-MIB ipAddressTable rows
 * (a global IPv6 on its uplink), and the generic profile's `addresses` group reads them as
 * `ipAddress` readings tagged family + address with the interface in `ifIndex`, which the
 * compliance engine's uplink-IPv6 rule joins with the `interface` readings (ifIndex → ifName).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import snmp, { type Session } from 'net-snmp';
import { startSimulatedSwitch, inetAddressBytes, type SimulatedSwitch } from '../../simulator/snmp/simulated-switch.ts';
import { loadProfiles } from '../loader.ts';
import { pollSnmpProfile } from './snmp.ts';
import { RateState } from './rate.ts';

const { registry } = loadProfiles();

function session(port: number): Session {
  const s = snmp.createSession('127.0.0.1', 'public', { port, version: snmp.Version2c, timeout: 2000, retries: 0 });
  s.on('error', () => {});
  return s;
}

describe('IP-MIB ipAddressTable per interface, simulated switch → profile engine', () => {
  let sw: SimulatedSwitch;
  let plain: SimulatedSwitch;
  beforeAll(async () => {
    sw = await startSimulatedSwitch({
      sysName: 'core-v6',
      sysObjectID: '1.3.6.1.4.1.2011.2.23.402',
      interfaces: 4,
      uplinkMbps: 10_000,
      uplinkIpv6: '2001:db8:15:1::2',
      ipAddresses: [
        { ifIndex: 1, address: '10.15.1.1' },
        { ifIndex: 1, address: '10.15.1.255', type: 'broadcast' },
        { ifIndex: 2, address: '2001:db8:15:2::1' },
      ],
    });
    plain = await startSimulatedSwitch({ sysName: 'core-v4', sysObjectID: '1.3.6.1.4.1.2011.2.23.402', interfaces: 4, uplinkMbps: 10_000 });
  });
  afterAll(async () => {
    await sw?.stop();
    await plain?.stop();
  });

  it('encodes addresses as the 4 or 16 bytes of InetAddress', () => {
    expect([...inetAddressBytes('10.15.1.1')]).toEqual([10, 15, 1, 1]);
    expect(inetAddressBytes('2001:db8::2').toString('hex')).toBe('20010db8000000000000000000000002');
    expect(inetAddressBytes('fe80::ca:4').toString('hex')).toBe('fe800000000000000000000000ca0004');
    expect(() => inetAddressBytes('::ffff:1.2.3.4')).toThrow(/plain IPv6/);
  });

  it('reads every address with the interface it sits on; the uplink has its global IPv6', async () => {
    const profile = registry.get('generic-snmp-switch')!;
    const s = session(sw.port);
    try {
      const r = await pollSnmpProfile(profile, s, { device: 'sw-1', rates: new RateState(), groups: ['interfaces', 'addresses'] });
      expect(r.reachable).toBe(true);
      const addrs = r.readings.filter((x) => x.measurement === 'ipAddress').map((x) => ({ ...x.tags, ...x.metrics }));
      const uplink = sw.ports.at(-1)!;
      expect(uplink.ifName).toMatch(/uplink/);
      expect(addrs).toEqual(
        expect.arrayContaining([
          { family: 'ipv4', address: '10.15.1.1', ifIndex: 1, addressType: 'unicast' },
          { family: 'ipv4', address: '10.15.1.255', ifIndex: 1, addressType: 'broadcast' },
          { family: 'ipv6', address: '2001:db8:15:2::1', ifIndex: 2, addressType: 'unicast' },
          { family: 'ipv6', address: '2001:db8:15:1::2', ifIndex: uplink.ifIndex, addressType: 'unicast' },
          { family: 'ipv6', address: `fe80::ca:${uplink.ifIndex}`, ifIndex: uplink.ifIndex, addressType: 'unicast' },
        ]),
      );
      expect(addrs).toHaveLength(5);
      // the interface readings carry the same ifIndex as a tag, beside ifName: the join key
      const ifs = r.readings.filter((x) => x.measurement === 'interface');
      expect(ifs.find((x) => x.tags?.ifName === uplink.ifName)?.tags?.ifIndex).toBe(String(uplink.ifIndex));
    } finally {
      s.close();
    }
  });

  it('a switch without addresses offers no ipAddressTable: no rows, no error', async () => {
    const s = session(plain.port);
    try {
      const r = await pollSnmpProfile(registry.get('generic-snmp-switch')!, s, { device: 'sw-2', rates: new RateState(), groups: ['addresses'] });
      expect(r.reachable).toBe(true);
      expect(r.readings.filter((x) => x.measurement === 'ipAddress')).toEqual([]);
    } finally {
      s.close();
    }
  });
});
