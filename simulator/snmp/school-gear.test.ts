import snmp from 'net-snmp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProfiles } from '../../device-profiles/loader.ts';
import { pollSnmpProfile } from '../../device-profiles/engine/snmp.ts';
import { chassisMacFor } from './simulated-switch.ts';
import { schoolLldpWiring, startSimulatedSchoolGear, type SimulatedSchoolGear } from './school-gear.ts';

const { registry } = loadProfiles();

describe('simulated school gear: LLDP wiring', () => {
  let gear: SimulatedSchoolGear;
  beforeAll(async () => {
    gear = await startSimulatedSchoolGear({ schoolCode: 'S1', switches: 3, aps: 2 });
  });
  afterAll(() => gear?.stop());

  it('access switches see the core on their uplink, the core sees them, APs hang off access ports', async () => {
    const byName = async (sysName: string): Promise<Array<{ tags: Record<string, string> | undefined; metrics: Record<string, unknown> }>> => {
      const d = gear.devices.find((x) => x.sysName === sysName)!;
      const s = snmp.createSession(d.host, 'public', { port: d.port, version: snmp.Version2c, timeout: 2000, retries: 0 });
      s.on('error', () => {});
      try {
        const r = await pollSnmpProfile(registry.matchSnmp({ sysObjectID: d.sysObjectID })!, s, { device: d.id, groups: ['neighbours'] });
        expect(r.errors).toEqual([]);
        return r.readings.filter((x) => x.measurement === 'lldp_neighbour').map(({ tags, metrics }) => ({ tags, metrics }));
      } finally {
        s.close();
      }
    };
    expect(await byName('S1-acc-sw2')).toEqual([
      { tags: { localPort: 'ge-0/0/1', remoteSysName: 'S1-ap1' }, metrics: { remoteChassisId: chassisMacFor('S1-ap1'), remotePortId: 'uplink2', remotePortDesc: 'uplink2' } },
      { tags: { localPort: 'uplink48', remoteSysName: 'S1-core-sw1' }, metrics: { remoteChassisId: chassisMacFor('S1-core-sw1'), remotePortId: 'ge-0/0/1', remotePortDesc: 'ge-0/0/1' } },
    ]);
    expect((await byName('S1-core-sw1')).map((n) => [n.tags?.localPort, n.tags?.remoteSysName, n.metrics.remotePortId])).toEqual([
      ['ge-0/0/1', 'S1-acc-sw2', 'uplink48'],
      ['ge-0/0/2', 'S1-acc-sw3', 'uplink48'],
    ]);
    // the APs' profile reads no LLDP, and an AP offers none
    expect(gear.devices.find((d) => d.sysName === 'S1-ap1')!.neighbours).toEqual([]);
  });

  it('wraps access switches past the core ports and gives a lone core no neighbours', () => {
    const w = schoolLldpWiring('S2', 26, 0);
    expect(w.get('S2-acc-sw24')![0]).toMatchObject({ localPort: 48, remotePortId: 'ge-0/0/23' });
    expect(w.get('S2-acc-sw25')![0]).toMatchObject({ remotePortId: 'ge-0/0/1' });
    expect(w.get('S2-core-sw1')!.filter((n) => n.localPort === 1).map((n) => n.remoteSysName)).toEqual(['S2-acc-sw2', 'S2-acc-sw25']);
    expect(schoolLldpWiring('S3', 1, 4).get('S3-core-sw1')).toEqual([]);
  });
});
