/**
 * For discovery tests: simulated switches of several vendors and Debian's real snmpd, each on a
 * fixed port inside one loopback port range (with ports left empty in between, which must not
 * answer). The range start is picked at random and tried again if a port is taken.
 */
import { VENDOR_OIDS } from '../../simulator/snmp/school-gear.ts';
import { startSimulatedSwitch, type SimulatedSwitch } from '../../simulator/snmp/simulated-switch.ts';
import { startSnmpd, type RunningSnmpd } from './snmpd-for-tests.ts';

export interface RangeDevice {
  sysName: string;
  sysObjectID: string;
  sysDescr?: string;
  interfaces: number;
  /** offset of its port in the range */
  offset: number;
  /** the profile discovery must recognise it by (undefined: unknown) */
  expectProfile: string | undefined;
}

/** The mix: three vendors the profiles know, a Cisco (sysObjectID + sysDescr), and an unknown box. */
export const RANGE_DEVICES: RangeDevice[] = [
  { sysName: 'core-sw1', sysObjectID: VENDOR_OIDS.huaweiSwitch, interfaces: 8, offset: 0, expectProfile: 'huawei-s-series' },
  { sysName: 'acc-sw2', sysObjectID: VENDOR_OIDS.h3cSwitch, interfaces: 12, offset: 2, expectProfile: 'h3c-s-series' },
  { sysName: 'ap-lobby', sysObjectID: VENDOR_OIDS.ruijieAp, sysDescr: 'Ruijie AP (simulated) ap-lobby', interfaces: 2, offset: 3, expectProfile: 'ruijie-ap' },
  { sysName: 'lab-sw4', sysObjectID: '1.3.6.1.4.1.9.1.2134', sysDescr: 'Cisco IOS Software, C2960X Software (simulated)', interfaces: 4, offset: 5, expectProfile: 'cisco-catalyst' },
  { sysName: 'mystery-box', sysObjectID: '1.3.6.1.4.1.99998.7', sysDescr: 'Mystery appliance 1.0', interfaces: 2, offset: 6, expectProfile: undefined },
];
/** snmpd (net-snmp's own sysObjectID 1.3.6.1.4.1.8072.3.2.10: no profile) */
export const SNMPD_OFFSET = 8;
export const RANGE_SPAN = 10;

export interface RangeGear {
  from: number;
  to: number;
  /** '127.0.0.1:from-to' */
  target: string;
  switches: Map<string, SimulatedSwitch>;
  snmpd: RunningSnmpd;
  /** stops one simulated device (by sysName) */
  stopDevice(sysName: string): Promise<void>;
  /** starts a device again on another port of the range (same sysName and sysObjectID) */
  restartDevice(sysName: string, offset: number): Promise<void>;
  stop(): Promise<void>;
}

function startDevice(d: RangeDevice, port: number): Promise<SimulatedSwitch> {
  return startSimulatedSwitch({ host: '127.0.0.1', port, sysName: d.sysName, sysObjectID: d.sysObjectID, sysDescr: d.sysDescr, interfaces: d.interfaces, uplinkMbps: 1000 });
}

export async function startRangeGear(): Promise<RangeGear> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    const from = 20_000 + Math.floor(Math.random() * 40_000);
    const switches = new Map<string, SimulatedSwitch>();
    let snmpd: RunningSnmpd | undefined;
    try {
      for (const d of RANGE_DEVICES) switches.set(d.sysName, await startDevice(d, from + d.offset));
      snmpd = await startSnmpd('public', { port: from + SNMPD_OFFSET });
      const s = snmpd;
      return {
        from,
        to: from + RANGE_SPAN - 1,
        target: `127.0.0.1:${from}-${from + RANGE_SPAN - 1}`,
        switches,
        snmpd: s,
        async stopDevice(sysName) {
          await switches.get(sysName)?.stop();
          switches.delete(sysName);
        },
        async restartDevice(sysName, offset) {
          const d = RANGE_DEVICES.find((x) => x.sysName === sysName)!;
          switches.set(sysName, await startDevice(d, from + offset));
        },
        async stop() {
          await Promise.all([...switches.values()].map((x) => x.stop()));
          await s.stop();
        },
      };
    } catch (err) {
      lastError = err;
      await Promise.all([...switches.values()].map((x) => x.stop()));
      await snmpd?.stop();
    }
  }
  throw new Error(`no free loopback port range for the discovery gear: ${(lastError as Error)?.message}`);
}
