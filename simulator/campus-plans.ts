/**
 * A small georeferenced campus for each simulated school, and the cameras that watch it: outline,
 * three buildings, perimeter walls with a gate opening, five GB/T 29315 key areas (outside the
 * gate, the main entrance at Identify, the playground, the teaching-building corridor, the kitchen)
 * and seven cameras placed so that every key area is fully covered at its level while all are
 * healthy (campus-plans.test.ts checks it). Deterministic: the same school gives the same plan.
 *
 * Cameras are reported the way an agent reports them: a camera gateway (agent `cam-gw`) announces
 * them on the discovery channel with their ONVIF attributes and publishes `camera_health` (the
 * health ladder's `step`, 4 = healthy) on every poll. `startDemoCampus` gives the demo's schools
 * their plans and enrolled cameras, with one school's gate camera broken (stream down).
 */
import mqtt, { type MqttClient } from 'mqtt';
import { agentClientId, agentTopic, encodeMessage, SCHEMA_VERSION } from '../protocol/index.ts';
import { LocalFrame } from '../collector/compliance/geometry/index.ts';
import { CampusStore, parseCampus, type CampusFeatureCollection, type GeoFeature } from '../collector/compliance/campus.ts';
import { Enrollment, type Db, type Inventory, type Placement, type SchoolInput } from '../collector/store/index.ts';

type XY = [number, number];

export interface CampusCamera {
  deviceId: string;
  name: string;
  /** key areas this camera is placed to cover */
  covers: string[];
  /** what it streams (announced as ONVIF attributes resolution/resolutionWidth) */
  resolutionWidth: number;
  resolutionHeight: number;
  placement: Placement;
}

export interface CampusPlanSpec {
  /** GeoJSON in WGS84, anchored at the school's position */
  campus: CampusFeatureCollection;
  cameras: CampusCamera[];
  classrooms: number;
  /** the camera that watches the main entrance (主出入口) */
  gateCamera: string;
  gateArea: string;
}

const rect = (x0: number, y0: number, x1: number, y1: number): XY[] => [
  [x0, y0],
  [x1, y0],
  [x1, y1],
  [x0, y1],
];

/** Plan layout in metres: x east, y north, the gate on the south side at x = 0. */
const LAYOUT = {
  outline: rect(-60, 0, 60, 100),
  buildings: [
    { id: 'teaching-building', name: '教学楼', ring: rect(10, 35, 50, 55) },
    { id: 'dormitory', name: '学生宿舍楼', ring: rect(10, 65, 50, 85) },
    { id: 'canteen', name: '食堂', ring: rect(-55, 20, -20, 35) },
  ],
  walls: [
    { id: 'south-wall-w', name: '南围墙（西段）', line: [[-60, 0], [-10, 0]] as XY[] },
    { id: 'south-wall-e', name: '南围墙（东段）', line: [[10, 0], [60, 0]] as XY[] },
  ],
  areas: [
    { id: 'gate-outside', name: '学校大门外', type: 'gate-outside', ring: rect(-8, -8, 8, 0) },
    { id: 'main-entrance', name: '主出入口', type: 'main-entrance', ring: rect(-4, 0, 4, 6) },
    { id: 'playground', name: '操场', type: 'outdoor-gathering', ring: rect(-42, 50, -18, 80) },
    { id: 'teaching-corridor', name: '教学楼主通道', type: 'teaching-corridor', ring: rect(10, 30, 50, 35) },
    { id: 'kitchen', name: '食堂操作间出入口', type: 'kitchen', ring: rect(-50, 12, -25, 18) },
  ],
  // [id, name, covers, x, y, heading, hfov, width, mount height]
  cameras: [
    ['cam-gate', '大门人脸抓拍', ['main-entrance'], 0, 18, 180, 40, 3840, 3],
    ['cam-gate-out', '大门外全景', ['gate-outside'], 0, 14, 180, 60, 3840, 4],
    ['cam-play-sw', '操场西南', ['playground'], -43, 49, 45, 90, 3840, 4],
    ['cam-play-ne', '操场东北', ['playground'], -17, 81, 225, 90, 3840, 4],
    ['cam-corr-w', '教学楼通道西', ['teaching-corridor'], 8, 32.5, 90, 30, 3840, 3],
    ['cam-corr-e', '教学楼通道东', ['teaching-corridor'], 52, 32.5, 270, 30, 3840, 3],
    ['cam-kitchen', '食堂出入口', ['kitchen'], -57, 15, 90, 50, 2560, 3],
  ] as [string, string, string[], number, number, number, number, number, number][],
};

export function campusPlanFor(school: Pick<SchoolInput, 'code' | 'lon' | 'lat' | 'studentCount'>): CampusPlanSpec {
  if (school.lon == null || school.lat == null) throw new Error(`school ${school.code} has no position to anchor its campus at`);
  const anchor = { lon: school.lon, lat: school.lat };
  const frame = new LocalFrame(anchor);
  const ll = ([x, y]: XY): number[] => {
    const g = frame.toLonLat({ x, y });
    return [Number(g.lon.toFixed(9)), Number(g.lat.toFixed(9))];
  };
  const ring = (r: XY[]) => [[...r, r[0]!].map(ll)];
  const features: GeoFeature[] = [
    { type: 'Feature', id: 'outline', properties: { kind: 'outline', name: '校园边界' }, geometry: { type: 'Polygon', coordinates: ring(LAYOUT.outline) } },
    ...LAYOUT.buildings.map((b): GeoFeature => ({ type: 'Feature', id: b.id, properties: { kind: 'building', name: b.name }, geometry: { type: 'Polygon', coordinates: ring(b.ring) } })),
    ...LAYOUT.walls.map((w): GeoFeature => ({ type: 'Feature', id: w.id, properties: { kind: 'wall', name: w.name, thicknessM: 0.3 }, geometry: { type: 'LineString', coordinates: w.line.map(ll) } })),
    ...LAYOUT.areas.map((a): GeoFeature => ({ type: 'Feature', id: a.id, properties: { kind: 'key-area', name: a.name, keyAreaType: a.type }, geometry: { type: 'Polygon', coordinates: ring(a.ring) } })),
  ];
  const cameras = LAYOUT.cameras.map(([deviceId, name, covers, x, y, headingDeg, hfovDeg, width, mountHeightM]): CampusCamera => {
    const [lon, lat] = ll([x, y]) as [number, number];
    return { deviceId, name, covers, resolutionWidth: width, resolutionHeight: Math.round((width * 9) / 16), placement: { building: '室外', position: { lon, lat }, camera: { headingDeg, hfovDeg, mountHeightM } } };
  });
  return {
    campus: { type: 'FeatureCollection', frame: { kind: 'wgs84', anchor, rotationDeg: 0 }, features },
    cameras,
    classrooms: Math.max(6, Math.round(school.studentCount / 45)),
    gateCamera: 'cam-gate',
    gateArea: 'main-entrance',
  };
}

/** The discovery entry an agent sends for one of these cameras. */
export function discoveredCamera(c: CampusCamera, index: number) {
  return {
    device: c.deviceId,
    kind: 'camera' as const,
    protocol: 'onvif' as const,
    address: `127.0.0.1:${8000 + index}`,
    profile: 'hikvision-ipc',
    attributes: {
      manufacturer: 'HIKVISION',
      model: 'DS-2CD3T86FWDV2 (simulated)',
      resolution: `${c.resolutionWidth}x${c.resolutionHeight}`,
      resolutionWidth: c.resolutionWidth,
      resolutionHeight: c.resolutionHeight,
      ipv6: `fe80::2a57:beff:fe65:${(0x7d00 + index).toString(16)},2001:db8:${index + 1}::15`,
    },
  };
}

/**
 * A camera gateway speaking the agent protocol for one school's campus cameras: status online,
 * one full discovery list, then a `camera_health` reading per camera on every `poll()`.
 */
export class CameraGateway {
  private client: MqttClient | undefined;
  private seq = 0;
  private readonly steps = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly schoolCode: string,
    readonly cameras: CampusCamera[],
    private readonly opts: { mqttUrl: string; password: string; agentId?: string },
  ) {
    for (const c of cameras) this.steps.set(c.deviceId, 4);
  }

  get agentId(): string {
    return this.opts.agentId ?? 'cam-gw';
  }

  private topic(ch: 'status' | 'discovery' | 'telemetry') {
    return agentTopic({ schoolCode: this.schoolCode, agentId: this.agentId }, ch);
  }

  async start(): Promise<void> {
    const addr = { schoolCode: this.schoolCode, agentId: this.agentId };
    this.client = await mqtt.connectAsync(this.opts.mqttUrl, {
      protocolVersion: 4,
      clientId: agentClientId(addr),
      username: `${this.schoolCode}/${this.agentId}`,
      password: this.opts.password,
      reconnectPeriod: 1000,
      will: { topic: this.topic('status'), payload: encodeMessage('status', { v: SCHEMA_VERSION, seq: 0, ts: Date.now(), state: 'offline', reason: 'connection-lost' }), qos: 1, retain: true },
    });
    await this.client.publishAsync(this.topic('status'), encodeMessage('status', { v: SCHEMA_VERSION, seq: 0, ts: Date.now(), state: 'online', agentVersion: 'camera-gateway-sim' }), { qos: 1, retain: true });
    await this.client.publishAsync(
      this.topic('discovery'),
      encodeMessage('discovery', { v: SCHEMA_VERSION, seq: ++this.seq, ts: Date.now(), full: true, devices: this.cameras.map((c, i) => discoveredCamera(c, i)) }),
      { qos: 1 },
    );
  }

  /** Sets a camera's health-ladder step (0 unreachable … 2 stream down, 3 degraded, 4 healthy). */
  setStep(deviceId: string, step: number): void {
    this.steps.set(deviceId, step);
  }

  async poll(): Promise<void> {
    if (!this.client) throw new Error('camera gateway not started');
    const ts = Date.now();
    const readings = this.cameras.map((c) => {
      const step = this.steps.get(c.deviceId) ?? 4;
      return {
        device: c.deviceId,
        ts,
        measurement: 'camera_health',
        metrics: { step, reachable: step > 0, encoderOk: step >= 4, ...(step >= 3 ? { resolutionWidth: c.resolutionWidth, resolutionHeight: c.resolutionHeight } : {}) },
      };
    });
    await this.client.publishAsync(this.topic('telemetry'), encodeMessage('telemetry', { v: SCHEMA_VERSION, seq: ++this.seq, ts, readings }), { qos: 1 });
  }

  /** Polls every `intervalSec` until stopped. */
  every(intervalSec: number): void {
    this.timer = setInterval(() => void this.poll().catch(() => {}), intervalSec * 1000);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.client) {
      await this.client.publishAsync(this.topic('status'), encodeMessage('status', { v: SCHEMA_VERSION, seq: 0, ts: Date.now(), state: 'offline', reason: 'shutdown' }), { qos: 1, retain: true }).catch(() => {});
      await this.client.endAsync().catch(() => {});
    }
  }
}

/** Enrolls the campus cameras (once the gateway's discovery has reached the inventory). */
export async function enrollCampusCameras(db: Db, schoolCode: string, spec: CampusPlanSpec, agentId = 'cam-gw'): Promise<void> {
  const en = new Enrollment(db);
  for (const c of spec.cameras) await en.accept({ schoolCode, agentId, deviceId: c.deviceId }, c.placement, 'demo', `covers ${c.covers.join(', ')}`);
}

export interface DemoCampus {
  /** the school whose gate camera is broken */
  brokenSchool: string | undefined;
  gateways: CameraGateway[];
  stop(): Promise<void>;
}

/**
 * Gives every demo school its campus plan, classrooms and enrolled cameras, reported by a camera
 * gateway; the first school's gate camera has its stream down (step 2).
 */
export async function startDemoCampus(o: { db: Db; inventory: Inventory; schools: SchoolInput[]; mqttUrl: string; pollIntervalSec: number }): Promise<DemoCampus> {
  const store = new CampusStore(o.db);
  const gateways: CameraGateway[] = [];
  const brokenSchool = o.schools.find((s) => s.lon != null)?.code;
  for (const s of o.schools) {
    if (s.lon == null || s.lat == null) continue;
    const spec = campusPlanFor(s);
    await store.putPlan(parseCampus(s.code, spec.campus, { lon: s.lon, lat: s.lat }));
    await store.putSettings(s.code, { classrooms: spec.classrooms });
    const addr = { schoolCode: s.code, agentId: 'cam-gw' };
    const cred = (await o.inventory.getAgent(addr.schoolCode, addr.agentId)) ? await o.inventory.rotateAgentPassword(addr) : await o.inventory.addAgent(addr);
    const gw = new CameraGateway(s.code, spec.cameras, { mqttUrl: o.mqttUrl, password: cred.password });
    if (s.code === brokenSchool) gw.setStep(spec.gateCamera, 2);
    await gw.start();
    gateways.push(gw);
    // the discovery list reaches the inventory through the collector; then the cameras can be enrolled
    for (let i = 0; i < 100; i++) {
      const found = (await o.inventory.listDevices(s.code, { agentId: 'cam-gw' })).length;
      if (found >= spec.cameras.length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await enrollCampusCameras(o.db, s.code, spec).catch(() => {});
    await gw.poll().catch(() => {});
    gw.every(o.pollIntervalSec);
  }
  return {
    brokenSchool,
    gateways,
    async stop() {
      await Promise.allSettled(gateways.map((g) => g.stop()));
    },
  };
}
