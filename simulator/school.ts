/**
 * A simulated school with every kind of device the agent discovers, all on loopback:
 *
 *   127.A.B.1-N       ONVIF cameras (Hikvision / Dahua / Uniview mix), SOAP + WS-Discovery on :3702
 *   127.A.B+1.1-M     one class board and one interactive display per classroom, HTTP :8080,
 *                     then one HTTP server no profile knows
 *   127.A.B+2.1-K     Modbus TCP :5020 unit 1: UPS (the first one on battery), temperature/humidity sensors
 *   127.A.B+3.0/P     SNMP :16161: core switch (Huawei), access switches (H3C), APs (Ruijie), and
 *                     one box with an enterprise OID no profile knows
 *
 * A share of the devices is faulty on purpose. Cameras: `wrong-password` and `stream-down` from
 * the start; `off` (powered off) and `degraded` (encoder below its configured resolution) happen
 * after installation — `applyLateFaults()`, or `lateFaultsAfterMs` — so the agent has seen them
 * healthy first, as on a real site. Class boards and displays: screen off, app offline, touch
 * fault, OPS offline (their status API still answers, their health rules fire).
 *
 * Cameras can instead be given exactly (`cameras: CameraSpec[]`: model, resolution, fault each, no
 * random faults among them), and a camera's fault changed while it runs (`setCameraFault`). Their
 * serials, and so the device ids the agent gives them, are predictable: `cameraSerial` and
 * `cameraDeviceId` below are the one place that rule lives.
 *
 * `agentConfig()` gives an edge agent config with only discovery targets and a credentials file
 * (written by `writeCredentials`): no device list.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { stringify as toYaml } from 'yaml';
import type { DeviceKind } from '../protocol/index.ts';
import { startSimulatedCamera, type CameraFault, type SimulatedCamera, type SimulatedCameraOptions } from './onvif/camera.ts';
import type { HttpAuthDemand } from './onvif/http-auth.ts';
import { startSimulatedHttpDevice, type SimulatedHttpDevice } from './http-devices/simulated-http-device.ts';
import { startSimulatedModbusDevice, type SimulatedModbusDevice } from './modbus/simulated-device.ts';
import { startSimulatedSwitch, type SimulatedSwitch } from './snmp/simulated-switch.ts';
import { VENDOR_OIDS } from './snmp/school-gear.ts';
import { rng } from './demo-schools.ts';
import { idFromText } from '../edge-agent/discovery/book.ts';
import * as http from 'node:http';

export const PORTS = { wsDiscovery: 3702, http: 8080, modbus: 5020, snmp: 16161 } as const;
export const UNKNOWN_SNMP_OID = '1.3.6.1.4.1.99998.7';

/** One camera of a school, when the caller says exactly which cameras it runs. */
export interface CameraSpec {
  /** which simulated model (default HIKVISION) */
  manufacturer?: CameraManufacturer;
  /** the encoder's configured resolution (default the model's) */
  resolution?: { width: number; height: number };
  /** `wrong-password`, `stream-down`, `garbage-xml` from the start; `off`, `degraded` after installation (late faults) */
  fault?: CameraFault;
  /** the addresses it reports in GetNetworkInterfaces (default: a link-local one derived from its serial) */
  ipv6?: string[];
}

export interface SchoolOptions {
  schoolCode: string;
  /** how many cameras (random models, `faultyShare` of them faulty), or exactly these, in this order */
  cameras?: number | CameraSpec[];
  classrooms?: number;
  switches?: number;
  aps?: number;
  /** 1..3 */
  ups?: number;
  sensors?: number;
  /** share of cameras, class boards and displays that are faulty (0..1) */
  faultyShare?: number;
  seed?: number;
  /** second and third octet of the first of four /24s on 127/8 (default from the school code) */
  subnet?: [number, number];
  /** turn powered-off and degraded cameras bad this long after start (default: only on applyLateFaults) */
  lateFaultsAfterMs?: number;
}

export type SchoolFault = CameraFault | 'screen-off' | 'app-offline' | 'touch-fault' | 'ops-offline' | 'on-battery';

export interface SchoolDevice {
  name: string;
  kind: DeviceKind;
  protocol: 'onvif' | 'http' | 'modbus' | 'snmp';
  host: string;
  port: number;
  /** the profile the agent should recognise it by; undefined: no profile knows it */
  expectProfile?: string;
  fault?: SchoolFault;
  serial?: string;
}

export interface SimulatedSchool {
  schoolCode: string;
  devices: SchoolDevice[];
  /** the `discovery` section of an agent config: targets only (plus credentialsFile when given) */
  discovery(opts?: { credentialsFile?: string; intervalSec?: number }): Record<string, unknown>;
  /** writes the gateway credential store (mode 0600) and returns its path */
  writeCredentials(file: string): string;
  agentConfig(opts: { agentId: string; mqttUrl: string; password?: string; dataDir: string; credentialsFile: string; pollIntervalSec?: number; scanIntervalSec?: number }): Record<string, unknown>;
  /** powered-off cameras go dark, degraded ones restart with a halved encoder */
  applyLateFaults(): Promise<void>;
  /**
   * Changes a running camera's fault (by device name `cam-N` or serial): `off` stops it, anything
   * else restarts it on the same address and port with that fault; undefined makes it healthy.
   */
  setCameraFault(camera: string, fault: CameraFault | undefined): Promise<void>;
  stop(): Promise<void>;
}

/** `count` indices out of `n`, chosen by `rand`. */
function pickIndices(n: number, count: number, rand: () => number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx.slice(0, count).sort((a, b) => a - b);
}

const CAMERA_MODELS = [
  { manufacturer: 'HIKVISION', model: 'DS-2CD2T47G2-L', firmware: 'V5.7.3 build 220112', profile: 'hikvision-ipc', resolution: { width: 2688, height: 1520 } },
  { manufacturer: 'Dahua', model: 'IPC-HFW2431S-S-S2', firmware: '2.800.0000000.16.R', profile: 'dahua-ipc', resolution: { width: 2688, height: 1520 } },
  { manufacturer: 'Uniview', model: 'IPC2124LB-SF28KM-G', firmware: 'IPC_G6103-B5007P03D1907', profile: 'uniview-ipc', resolution: { width: 2592, height: 1520 } },
] as const;
/**
 * Cameras that answer ONVIF only behind HTTP Digest, as many do in the field (which firmwares do
 * varies; here the simulated Uniview model), so that the demo and the end-to-end tests go through
 * the agent's Digest path as well as plain WS-Security.
 */
const HTTP_AUTH_BY_MAKER: Partial<Record<string, HttpAuthDemand>> = { Uniview: { scheme: 'digest', algorithm: 'MD5', realm: 'IP Camera' } };
const CAMERA_FAULTS: CameraFault[] = ['off', 'wrong-password', 'stream-down', 'degraded'];
export type CameraManufacturer = (typeof CAMERA_MODELS)[number]['manufacturer'];

/**
 * The serial of a school's `n`-th camera (1-based, its position in the school's camera list):
 * the maker's first two letters, the school code, the number in three digits — `HI3715020001001`.
 */
export function cameraSerial(schoolCode: string, n: number, manufacturer: string): string {
  return `${manufacturer.slice(0, 2).toUpperCase()}${schoolCode}${String(n).padStart(3, '0')}`;
}

/**
 * The device id the edge agent gives a camera that reports its serial (every simulated one does):
 * `cam-<serial>`, made id-safe the way the agent does it (edge-agent/discovery/onvif-source.ts).
 */
export function cameraDeviceId(serial: string): string {
  const id = idFromText(`cam-${serial}`);
  if (!id) throw new Error(`no device id for camera serial ${JSON.stringify(serial)}`);
  return id;
}

function defaultSubnet(code: string): [number, number] {
  let h = 0;
  for (const c of code) h = (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0;
  return [64 + (h % 180), (h >>> 8) % 63 * 4];
}

interface CameraSlot {
  base: SimulatedCameraOptions;
  port: number;
  /** undefined while powered off */
  cam: SimulatedCamera | undefined;
}

/** Stops the camera and, unless the fault is `off`, starts it again on its address and port with that fault. */
async function restartCamera(slot: CameraSlot, fault: CameraFault | undefined): Promise<void> {
  await slot.cam?.stop();
  slot.cam = undefined;
  if (fault !== 'off') slot.cam = await startSimulatedCamera({ ...slot.base, port: slot.port, ...(fault ? { fault } : {}) });
}

export async function startSimulatedSchool(opts: SchoolOptions): Promise<SimulatedSchool> {
  const specs = Array.isArray(opts.cameras) ? opts.cameras : undefined;
  const n = {
    cameras: Array.isArray(opts.cameras) ? opts.cameras.length : (opts.cameras ?? 40),
    classrooms: opts.classrooms ?? 24,
    switches: opts.switches ?? 3,
    aps: opts.aps ?? 4,
    ups: Math.min(3, Math.max(1, opts.ups ?? 1)),
    sensors: opts.sensors ?? 2,
  };
  if (n.cameras > 250 || 2 * n.classrooms + 1 > 250 || n.switches + n.aps + 1 > 250 || n.ups + n.sensors > 250) throw new Error('at most 250 devices of one protocol per simulated school');
  const share = Math.min(1, Math.max(0, opts.faultyShare ?? 0.1));
  const rand = rng(opts.seed ?? 1);
  const [a, b] = opts.subnet ?? defaultSubnet(opts.schoolCode);
  if (a < 0 || a > 255 || b < 0 || b + 3 > 255) throw new Error(`bad subnet 127.${a}.${b}`);
  const net = (k: number, host: number): string => `127.${a}.${b + k}.${host}`;
  const code = opts.schoolCode;
  const password = randomBytes(9).toString('base64url');

  const devices: SchoolDevice[] = [];
  const cameras: CameraSlot[] = [];
  const stops: Array<() => Promise<void>> = [];
  const late: Array<() => Promise<void>> = [];
  const stopAll = async (): Promise<void> => {
    await Promise.allSettled(stops.map((s) => s()));
  };

  try {
    // ---- cameras ----
    const faultyCams = specs
      ? new Map(specs.flatMap((c, i) => (c.fault ? [[i, c.fault] as const] : [])))
      : new Map(pickIndices(n.cameras, Math.round(n.cameras * share), rand).map((i, k) => [i, CAMERA_FAULTS[k % CAMERA_FAULTS.length]!]));
    for (let i = 0; i < n.cameras; i++) {
      const spec = specs?.[i];
      const m = spec ? (CAMERA_MODELS.find((x) => x.manufacturer === (spec.manufacturer ?? 'HIKVISION')) ?? CAMERA_MODELS[0]) : CAMERA_MODELS[Math.floor(rand() * CAMERA_MODELS.length)]!;
      const fault = faultyCams.get(i);
      const serial = cameraSerial(code, i + 1, m.manufacturer);
      const host = net(0, i + 1);
      const base: SimulatedCameraOptions = {
        host,
        manufacturer: m.manufacturer,
        model: m.model,
        firmware: m.firmware,
        serial,
        username: 'admin',
        password,
        resolution: spec?.resolution ?? m.resolution,
        fps: 25,
        discoveryPort: PORTS.wsDiscovery,
        location: code,
        ...(spec?.ipv6 ? { ipv6: spec.ipv6 } : {}),
        ...(HTTP_AUTH_BY_MAKER[m.manufacturer] ? { httpAuth: HTTP_AUTH_BY_MAKER[m.manufacturer] } : {}),
      };
      // off and degraded happen after installation: start healthy
      const early = fault === 'off' || fault === 'degraded' ? undefined : fault;
      const slot: CameraSlot = { base, port: 0, cam: await startSimulatedCamera({ ...base, ...(early ? { fault: early } : {}) }) };
      slot.port = slot.cam!.port;
      cameras.push(slot);
      stops.push(async () => {
        await slot.cam?.stop();
        slot.cam = undefined;
      });
      if (fault === 'off' || fault === 'degraded') late.push(() => restartCamera(slot, fault));
      devices.push({ name: `cam-${i + 1}`, kind: 'camera', protocol: 'onvif', host, port: slot.port, expectProfile: m.profile, serial, ...(fault ? { fault } : {}) });
    }

    // ---- class boards and displays, one each per classroom ----
    const faultyRooms = new Set(pickIndices(n.classrooms, Math.round(n.classrooms * share), rand));
    for (let r = 0; r < n.classrooms; r++) {
      const classroom = `${Math.floor(r / 8) + 1}${String((r % 8) + 1).padStart(2, '0')}`;
      for (const kind of ['class-board', 'display'] as const) {
        const host = net(1, 2 * r + (kind === 'class-board' ? 1 : 2));
        const serial = `${kind === 'class-board' ? 'CB' : 'IFP'}${code}${classroom}`;
        const dev: SimulatedHttpDevice = await startSimulatedHttpDevice({ kind, host, port: PORTS.http, serial, classroom });
        stops.push(() => dev.stop());
        let fault: SchoolFault | undefined;
        if (faultyRooms.has(r)) {
          if (kind === 'class-board') {
            fault = r % 2 === 0 ? 'screen-off' : 'app-offline';
            if (fault === 'screen-off') dev.state.screenOn = false;
            else dev.state.appOnline = false;
          } else {
            fault = r % 2 === 0 ? 'touch-fault' : 'ops-offline';
            if (fault === 'touch-fault') dev.state.touchOk = false;
            else dev.state.opsOnline = false;
          }
        }
        devices.push({ name: `${kind}-${classroom}`, kind, protocol: 'http', host, port: PORTS.http, serial, expectProfile: kind === 'class-board' ? 'campus-class-board' : 'campus-interactive-display', ...(fault ? { fault } : {}) });
      }
    }
    // an HTTP server no profile knows (a NAS's web console)
    {
      const host = net(1, 2 * n.classrooms + 1);
      const server = http.createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', server: 'nas-httpd/7.1' });
        res.end(JSON.stringify({ product: 'DiskStation', status: 'ok' }));
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(PORTS.http, host, () => resolve());
      });
      stops.push(
        () =>
          new Promise<void>((resolve) => {
            server.closeAllConnections();
            server.close(() => resolve());
          }),
      );
      devices.push({ name: 'nas-1', kind: 'unknown', protocol: 'http', host, port: PORTS.http });
    }

    // ---- Modbus: UPS (the first on battery) and temperature/humidity sensors ----
    for (let i = 0; i < n.ups + n.sensors; i++) {
      const ups = i < n.ups;
      const host = net(2, i + 1);
      const fault = ups && i === 0 ? ('on-battery' as const) : undefined;
      const serial = ups ? `UPS${code}${i + 1}` : undefined;
      const dev: SimulatedModbusDevice = await startSimulatedModbusDevice({ host, port: PORTS.modbus, unitId: 1, kind: ups ? 'ups' : 'th-sensor', ...(fault ? { fault } : {}), ...(serial ? { serial } : {}) });
      stops.push(() => dev.stop());
      devices.push({ name: ups ? `ups-${i + 1}` : `th-sensor-${i - n.ups + 1}`, kind: ups ? 'ups' : 'sensor', protocol: 'modbus', host, port: PORTS.modbus, expectProfile: ups ? 'generic-modbus-ups' : 'renke-th-sensor', ...(fault ? { fault } : {}), ...(serial ? { serial } : {}) });
    }

    // ---- SNMP: switches, APs, and a box no profile knows ----
    const snmpGear: Array<{ name: string; kind: DeviceKind; oid: string; descr?: string; ifs: number; up: number; profile?: string }> = [];
    for (let i = 1; i <= n.switches; i++) {
      const core = i === 1;
      snmpGear.push({ name: `${code}-${core ? 'core' : 'acc'}-sw${i}`, kind: 'switch', oid: core ? VENDOR_OIDS.huaweiSwitch : VENDOR_OIDS.h3cSwitch, ifs: core ? 24 : 48, up: core ? 10_000 : 1000, profile: core ? 'huawei-s-series' : 'h3c-s-series' });
    }
    for (let i = 1; i <= n.aps; i++) snmpGear.push({ name: `${code}-ap${i}`, kind: 'ap', oid: VENDOR_OIDS.ruijieAp, descr: `Ruijie AP (simulated) ${code}-ap${i}`, ifs: 2, up: 1000, profile: 'ruijie-ap' });
    snmpGear.push({ name: `${code}-mystery`, kind: 'unknown', oid: UNKNOWN_SNMP_OID, descr: 'Mystery appliance 1.0', ifs: 2, up: 1000 });
    for (const [i, g] of snmpGear.entries()) {
      const host = net(3, i + 1);
      const sw: SimulatedSwitch = await startSimulatedSwitch({ host, port: PORTS.snmp, sysName: g.name, sysObjectID: g.oid, ...(g.descr ? { sysDescr: g.descr } : {}), interfaces: g.ifs, uplinkMbps: g.up });
      stops.push(() => sw.stop());
      devices.push({ name: g.name, kind: g.kind, protocol: 'snmp', host, port: PORTS.snmp, ...(g.profile ? { expectProfile: g.profile } : {}) });
    }
  } catch (err) {
    await stopAll();
    throw err;
  }

  let lateDone = false;
  const applyLateFaults = async (): Promise<void> => {
    if (lateDone) return;
    lateDone = true;
    await Promise.all(late.map((f) => f()));
  };
  const setCameraFault = async (camera: string, fault: CameraFault | undefined): Promise<void> => {
    const i = devices.findIndex((d) => d.kind === 'camera' && (d.name === camera || d.serial === camera));
    if (i < 0) throw new Error(`no camera ${JSON.stringify(camera)} in simulated school ${code}`);
    await restartCamera(cameras[i]!, fault);
    const d = devices[i]!;
    if (fault) d.fault = fault;
    else delete d.fault;
  };
  const lateTimer = opts.lateFaultsAfterMs !== undefined ? setTimeout(() => void applyLateFaults(), opts.lateFaultsAfterMs) : undefined;
  lateTimer?.unref();

  const snmpCount = n.switches + n.aps + 1;
  const prefix = 32 - Math.ceil(Math.log2(snmpCount + 2));
  const discovery = (o: { credentialsFile?: string; intervalSec?: number } = {}): Record<string, unknown> => {
    const every = o.intervalSec !== undefined ? { intervalSec: o.intervalSec } : {};
    return {
      ...(o.credentialsFile ? { credentialsFile: o.credentialsFile } : {}),
      allow: ['127.0.0.0/8'],
      onvif: { unicast: [`${net(0, 1)}-${n.cameras}`], ...every },
      http: { targets: [{ hosts: [`${net(1, 1)}-${2 * n.classrooms + 1}`], ports: [PORTS.http] }], ...every },
      modbus: { targets: [{ hosts: [`${net(2, 1)}-${n.ups + n.sensors}`], ports: [PORTS.modbus], unitIds: [1] }], ...every },
      snmp: { targets: [`${net(3, 0)}/${Math.min(30, prefix)}:${PORTS.snmp}`], communities: ['public'], ...every },
    };
  };

  return {
    schoolCode: code,
    devices,
    discovery,
    writeCredentials(file) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const doc = { credentials: [{ match: `127.${a}.${b}.0/24`, protocol: 'onvif', username: 'admin', password }] };
      fs.writeFileSync(file, toYaml(doc), { mode: 0o600 });
      return file;
    },
    agentConfig(o) {
      return {
        schoolCode: code,
        agentId: o.agentId,
        mqtt: { url: o.mqttUrl, ...(o.password !== undefined ? { password: o.password } : {}) },
        dataDir: o.dataDir,
        pollIntervalSec: o.pollIntervalSec ?? 10,
        discovery: discovery({ credentialsFile: o.credentialsFile, ...(o.scanIntervalSec !== undefined ? { intervalSec: o.scanIntervalSec } : {}) }),
      };
    },
    applyLateFaults,
    setCameraFault,
    async stop() {
      if (lateTimer) clearTimeout(lateTimer);
      await stopAll();
    },
  };
}
