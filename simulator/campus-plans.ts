/**
 * A small georeferenced campus for each simulated school, and the cameras that watch it: outline,
 * three buildings, perimeter walls with a gate opening, five GB/T 29315 key areas (outside the
 * gate, the main entrance at Identify, the playground, the teaching-building corridor, the kitchen)
 * and seven cameras placed so that every key area is fully covered at its level while all are
 * healthy (campus-plans.test.ts checks it). Deterministic: the same school gives the same plan.
 *
 * The cameras are real simulated ONVIF cameras: `campusCameraSpecs` says what simulator/school.ts
 * runs (as its first cameras, in plan order), the school's edge agent discovers and health-checks
 * them, and each plan camera carries the device id the agent gives it (school.ts `cameraDeviceId`).
 * `startDemoCampus` gives the demo's schools their plans and, once the agent's discovery has reached
 * the inventory, enrolls the cameras with their placements; `demoCampusCameras` breaks the first
 * school's gate camera (stream down).
 */
import { LocalFrame } from '../collector/compliance/geometry/index.ts';
import { CampusStore, parseCampus, type CampusFeatureCollection, type GeoFeature } from '../collector/compliance/campus.ts';
import { Enrollment, type Db, type Inventory, type Placement, type SchoolInput } from '../collector/store/index.ts';
import type { CameraFault } from './onvif/camera.ts';
import { cameraDeviceId, cameraSerial, type CameraSpec } from './school.ts';

type XY = [number, number];

export interface CampusCamera {
  /** its place in the plan: cam-gate, cam-play-sw, … */
  key: string;
  /** the id the edge agent gives it (`cam-<serial>`) */
  deviceId: string;
  serial: string;
  name: string;
  /** key areas this camera is placed to cover */
  covers: string[];
  /** the encoder's configured resolution */
  resolutionWidth: number;
  resolutionHeight: number;
  /** what simulator/school.ts runs for it (healthy; `campusCameraSpecs` adds faults) */
  camera: CameraSpec & { resolution: { width: number; height: number } };
  placement: Placement;
}

export interface CampusPlanSpec {
  /** GeoJSON in WGS84, anchored at the school's position */
  campus: CampusFeatureCollection;
  cameras: CampusCamera[];
  classrooms: number;
  /** device id of the camera that watches the main entrance (主出入口) */
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

const CAMERA_MAKER = 'HIKVISION';

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
  const cameras = LAYOUT.cameras.map(([key, name, covers, x, y, headingDeg, hfovDeg, width, mountHeightM], i): CampusCamera => {
    const [lon, lat] = ll([x, y]) as [number, number];
    const resolution = { width, height: Math.round((width * 9) / 16) };
    const serial = cameraSerial(school.code, i + 1, CAMERA_MAKER);
    return {
      key,
      deviceId: cameraDeviceId(serial),
      serial,
      name,
      covers,
      resolutionWidth: resolution.width,
      resolutionHeight: resolution.height,
      // a documentation-prefix global IPv6 address besides the link-local one, as a dual-stack campus network gives
      camera: { manufacturer: CAMERA_MAKER, resolution, ipv6: [`fe80::2a57:beff:fe65:${(0x7d00 + i).toString(16)}`, `2001:db8:${i + 1}::15`] },
      placement: { building: '室外', position: { lon, lat }, camera: { headingDeg, hfovDeg, mountHeightM } },
    };
  });
  return {
    campus: { type: 'FeatureCollection', frame: { kind: 'wgs84', anchor, rotationDeg: 0 }, features },
    cameras,
    classrooms: Math.max(6, Math.round(school.studentCount / 45)),
    gateCamera: cameras.find((c) => c.key === 'cam-gate')!.deviceId,
    gateArea: 'main-entrance',
  };
}

/**
 * What simulator/school.ts runs for a plan's cameras (`cameras:` of its options, in this order, so
 * their serials and device ids are the plan's), with faults by device id.
 */
export function campusCameraSpecs(spec: CampusPlanSpec, faults: Record<string, CameraFault> = {}): CameraSpec[] {
  return spec.cameras.map((c) => {
    const fault = faults[c.deviceId];
    return fault ? { ...c.camera, fault } : { ...c.camera };
  });
}

/**
 * The demo's campus cameras per school (schools without a position get no plan, and none): all
 * healthy, but the first school's gate camera has its stream down from the start.
 */
export function demoCampusCameras(schools: Array<Pick<SchoolInput, 'code' | 'lon' | 'lat' | 'studentCount'>>): { brokenSchool: string | undefined; cameras: Map<string, CameraSpec[]> } {
  const placed = schools.filter((s) => s.lon != null && s.lat != null);
  const brokenSchool = placed[0]?.code;
  const cameras = new Map<string, CameraSpec[]>();
  for (const s of placed) {
    const spec = campusPlanFor(s);
    cameras.set(s.code, campusCameraSpecs(spec, s.code === brokenSchool ? { [spec.gateCamera]: 'stream-down' } : {}));
  }
  return { brokenSchool, cameras };
}

/** Kinds of gear the demo enrolls with a place on the plan (APs stay in the inbox for the administrator to try). */
const PLACED_GEAR = new Set(['class-board', 'display', 'switch', 'router', 'ups', 'sensor', 'nvr', 'ap-controller']);

/**
 * Where the demo puts a school's other gear: classroom devices in a grid over the teaching building
 * (one classroom per 5 m), network and power gear in its north-east corner (the network closet).
 */
export function gearPlacement(school: Pick<SchoolInput, 'code' | 'lon' | 'lat'>, kind: string, index: number): Placement {
  const frame = new LocalFrame({ lon: school.lon!, lat: school.lat! });
  const [x, y] =
    kind === 'class-board' || kind === 'display'
      ? [12.5 + (index % 8) * 5 + (kind === 'display' ? 1.5 : 0), 37.5 + (Math.floor(index / 8) % 4) * 5]
      : [47 - (index % 4) * 1.5, 52.5 - Math.floor(index / 4) * 1.5];
  const g = frame.toLonLat({ x, y });
  return { building: '教学楼', ...(kind === 'class-board' || kind === 'display' ? { room: `${101 + index}` } : { room: '网络机房' }), position: { lon: Number(g.lon.toFixed(9)), lat: Number(g.lat.toFixed(9)) } };
}

/** Enrolls the school's found gear of PLACED_GEAR kinds, each at its demo place (actor `demo`). */
export async function enrollDemoGear(db: Db, school: Pick<SchoolInput, 'code' | 'lon' | 'lat'>, agentId: string): Promise<number> {
  const en = new Enrollment(db);
  const found = (await en.devicesInStates(school.code, ['discovered', 'seen'])).filter((d) => d.agentId === agentId && PLACED_GEAR.has(d.kind));
  const perKind = new Map<string, number>();
  for (const d of found) {
    const i = perKind.get(d.kind) ?? 0;
    perKind.set(d.kind, i + 1);
    await en.accept({ schoolCode: school.code, agentId, deviceId: d.deviceId }, gearPlacement(school, d.kind, i), 'demo');
  }
  return found.length;
}

/** Enrolls a plan's cameras, discovered by `agentId`, with their placements (actor `demo`). */
export async function enrollCampusCameras(db: Db, schoolCode: string, spec: CampusPlanSpec, agentId: string): Promise<void> {
  const en = new Enrollment(db);
  for (const c of spec.cameras) await en.accept({ schoolCode, agentId, deviceId: c.deviceId }, c.placement, 'demo', `${c.name}: covers ${c.covers.join(', ')}`);
}

export interface DemoCampusResult {
  /** schools whose cameras were all enrolled */
  enrolled: string[];
  /** schools whose cameras the agent had not all reported by the deadline (or whose enrollment failed): code → why */
  missing: Record<string, string>;
}

export interface DemoCampus {
  /** settles when every school's cameras are enrolled, or the deadline passed, or stop() was called */
  ready: Promise<DemoCampusResult>;
  stop(): Promise<void>;
}

/**
 * Gives every demo school with a position its campus plan and classrooms, then — once the school's
 * agent (`agentId`) has reported the plan's cameras to the inventory, within `deadlineMs` — enrolls
 * them with their placements. Plans are stored before this returns; enrollment goes on in `ready`.
 */
export async function startDemoCampus(o: { db: Db; inventory: Inventory; schools: SchoolInput[]; agentId: string; deadlineMs?: number; checkEveryMs?: number }): Promise<DemoCampus> {
  const store = new CampusStore(o.db);
  const plans: Array<{ code: string; spec: CampusPlanSpec }> = [];
  for (const s of o.schools) {
    if (s.lon == null || s.lat == null) continue;
    const spec = campusPlanFor(s);
    await store.putPlan(parseCampus(s.code, spec.campus, { lon: s.lon, lat: s.lat }));
    await store.putSettings(s.code, { classrooms: spec.classrooms });
    plans.push({ code: s.code, spec });
  }
  let stopped = false;
  const deadline = Date.now() + (o.deadlineMs ?? 120_000);
  const every = o.checkEveryMs ?? 500;
  const result: DemoCampusResult = { enrolled: [], missing: {} };
  const enrollOne = async ({ code, spec }: { code: string; spec: CampusPlanSpec }): Promise<void> => {
    const want = new Set(spec.cameras.map((c) => c.deviceId));
    for (;;) {
      const have = new Set((await o.inventory.listDevices(code, { agentId: o.agentId })).filter((d) => !d.goneAt).map((d) => d.deviceId));
      const absent = [...want].filter((id) => !have.has(id));
      if (absent.length === 0) break;
      if (stopped || Date.now() >= deadline) {
        result.missing[code] = `${stopped ? 'stopped' : 'deadline passed'} before the agent reported ${absent.join(', ')}`;
        return;
      }
      await new Promise((r) => setTimeout(r, every));
    }
    try {
      await enrollCampusCameras(o.db, code, spec, o.agentId);
      // the rest of the gear the agent has found by now (discovery ran alongside the cameras')
      const school = o.schools.find((s) => s.code === code)!;
      await enrollDemoGear(o.db, school, o.agentId);
      result.enrolled.push(code);
    } catch (err) {
      result.missing[code] = `enrollment failed: ${(err as Error).message}`;
    }
  };
  const ready = Promise.all(plans.map(enrollOne)).then(() => result);
  return {
    ready,
    async stop() {
      stopped = true;
      await ready;
    },
  };
}
