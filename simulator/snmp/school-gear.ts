/**
 * The network gear of one simulated school (switches and wireless APs, each on its own loopback
 * UDP port), and the agent config that polls it. The switches are wired as a star and say so over
 * LLDP: each access switch's uplink port sees the core switch, the core sees every access switch on
 * one of its ports, and each access switch sees the APs hanging off its access ports.
 */
import * as fs from 'node:fs';
import { stringify as toYaml } from 'yaml';
import { chassisMacFor, startSimulatedSwitch, type SimulatedNeighbour, type SimulatedSwitch } from './simulated-switch.ts';

/** Vendor enterprise numbers under 1.3.6.1.4.1 that Chinese schools commonly run. */
export const VENDOR_OIDS = {
  h3cSwitch: '1.3.6.1.4.1.25506.11.1.100',
  huaweiSwitch: '1.3.6.1.4.1.2011.2.23.402',
  ruijieAp: '1.3.6.1.4.1.4881.1.1.10.1.128',
} as const;

export interface SimulatedDevice {
  id: string;
  kind: 'switch' | 'ap';
  sysName: string;
  sysObjectID: string;
  host: string;
  port: number;
  device: SimulatedSwitch;
  /** the lldpRemTable rows it offers */
  neighbours: SimulatedNeighbour[];
}

const CORE_PORTS = 24;
const ACCESS_PORTS = 48;
const AP_PORTS = 2;

/** Who sees whom over LLDP, by sysName (see the module comment). */
export function schoolLldpWiring(schoolCode: string, switches: number, aps: number): Map<string, SimulatedNeighbour[]> {
  const core = `${schoolCode}-core-sw1`;
  const access = Array.from({ length: Math.max(0, switches - 1) }, (_, k) => `${schoolCode}-acc-sw${k + 2}`);
  const out = new Map<string, SimulatedNeighbour[]>([[core, []], ...access.map((a): [string, SimulatedNeighbour[]] => [a, []])]);
  if (switches < 1) return out;
  access.forEach((name, k) => {
    // core downlink ports 1..23 (24 is the core's own uplink), wrapping past 23 access switches
    const corePort = (k % (CORE_PORTS - 1)) + 1;
    out.get(name)!.push({ localPort: ACCESS_PORTS, remoteSysName: core, remotePortId: `ge-0/0/${corePort}`, remoteChassisId: chassisMacFor(core) });
    out.get(core)!.push({ localPort: corePort, remoteSysName: name, remotePortId: `uplink${ACCESS_PORTS}`, remoteChassisId: chassisMacFor(name) });
  });
  if (access.length > 0) {
    for (let j = 1; j <= aps; j++) {
      const k = (j - 1) % access.length;
      const port = Math.floor((j - 1) / access.length) + 1;
      if (port >= ACCESS_PORTS) break;
      const ap = `${schoolCode}-ap${j}`;
      out.get(access[k]!)!.push({ localPort: port, remoteSysName: ap, remotePortId: `uplink${AP_PORTS}`, remoteChassisId: chassisMacFor(ap) });
    }
  }
  return out;
}

export interface SimulatedSchoolGear {
  schoolCode: string;
  devices: SimulatedDevice[];
  stop(): Promise<void>;
}

export async function startSimulatedSchoolGear(opts: { schoolCode: string; switches: number; aps: number; host?: string }): Promise<SimulatedSchoolGear> {
  const devices: SimulatedDevice[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(devices.map((d) => d.device.stop()));
  };
  const wiring = schoolLldpWiring(opts.schoolCode, opts.switches, opts.aps);
  try {
    for (let i = 1; i <= opts.switches; i++) {
      // the first switch is the core (10G uplink to the county network), the rest access switches
      const core = i === 1;
      const sysName = `${opts.schoolCode}-${core ? 'core' : 'acc'}-sw${i}`;
      const sysObjectID = core ? VENDOR_OIDS.huaweiSwitch : VENDOR_OIDS.h3cSwitch;
      const neighbours = wiring.get(sysName) ?? [];
      const device = await startSimulatedSwitch({ host: opts.host, sysName, sysObjectID, interfaces: core ? CORE_PORTS : ACCESS_PORTS, uplinkMbps: core ? 10_000 : 1000, neighbours });
      devices.push({ id: `sw-${i}`, kind: 'switch', sysName, sysObjectID, host: device.host, port: device.port, device, neighbours });
    }
    for (let i = 1; i <= opts.aps; i++) {
      const sysName = `${opts.schoolCode}-ap${i}`;
      const device = await startSimulatedSwitch({ host: opts.host, sysName, sysObjectID: VENDOR_OIDS.ruijieAp, sysDescr: `Ruijie AP (simulated) ${sysName}`, interfaces: AP_PORTS, uplinkMbps: 1000 });
      devices.push({ id: `ap-${i}`, kind: 'ap', sysName, sysObjectID: VENDOR_OIDS.ruijieAp, host: device.host, port: device.port, device, neighbours: [] });
    }
  } catch (err) {
    await stopAll();
    throw err;
  }
  return { schoolCode: opts.schoolCode, devices, stop: stopAll };
}

/** A plain object in the shape of edge-agent/config.ts, polling every simulated device. */
export function agentConfigFor(
  gear: SimulatedSchoolGear,
  opts: { agentId: string; mqttUrl: string; password?: string; dataDir: string; pollIntervalSec?: number },
): Record<string, unknown> {
  return {
    schoolCode: gear.schoolCode,
    agentId: opts.agentId,
    mqtt: { url: opts.mqttUrl, ...(opts.password !== undefined ? { password: opts.password } : {}) },
    dataDir: opts.dataDir,
    pollIntervalSec: opts.pollIntervalSec ?? 10,
    devices: gear.devices.map((d) => ({
      id: d.id,
      kind: d.kind,
      protocol: 'snmp',
      address: d.host.includes(':') ? `[${d.host}]:${d.port}` : `${d.host}:${d.port}`,
      snmp: { version: '2c', community: 'public', timeoutMs: 2000, retries: 1 },
    })),
  };
}

/** Writes that config as YAML (mode 0600: it holds the MQTT password). */
export function writeAgentConfig(file: string, gear: SimulatedSchoolGear, opts: Parameters<typeof agentConfigFor>[1]): void {
  fs.writeFileSync(file, toYaml(agentConfigFor(gear, opts)), { mode: 0o600 });
}
