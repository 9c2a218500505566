/**
 * The compliance service: for each school with a campus plan, its key-area coverage by its enrolled
 * cameras (kept as a `SchoolCoverage`, updated camera by camera), and every rule of its policy pack
 * judged against facts the agents measured (SNMP interface counters, device reachability, camera
 * health in InfluxDB; discovered attributes and profiles in the inventory). Roll-ups per county and
 * city. Changes are published on the event bus and recorded as `coverage` history in InfluxDB.
 * `preview()` answers what-if placements (a camera being placed or moved) on a fork of the cached
 * coverage, storing and publishing nothing.
 *
 * Camera status: online = its agent is online and its latest `camera_health` (within
 * `healthMaxAgeMs`) has the stream up (ladder step ≥ 3); healthy = step 4. No health data = neither.
 */
import { Enrollment, InventoryError, placementProblems, type Db, type InboxDevice, type Inventory, type School } from '../store/index.ts';
import type { TelemetrySink } from '../telemetry/sink.ts';
import { influxQuery } from '../telemetry/influx-query.ts';
import type { InfluxConnection } from '../telemetry/influx-http.ts';
import { pointToLine } from '../telemetry/line-protocol.ts';
import { loadProfiles } from '../../device-profiles/loader.ts';
import type { ProfileRegistry } from '../../device-profiles/registry.ts';
import type { EventBus } from '../api/events.ts';
import { GeometryError, KEY_AREA_TYPES, PPM_LEVELS, SchoolCoverage, ViewCache, polygonToGeoJson, sameCamera, type AreaCoverage, type Camera, type DensityLevel, type GeoJsonPolygon, type KeyArea, type LocalFrame, type SchoolCoverageResult } from './geometry/index.ts';
import { figuresOf, viewReaches, viewToGeoJson, type CoveragePreview, type PreviewCamera, type PreviewedCamera } from './preview.ts';
import { CampusStore, PACK_TYPE_OF, campusToGeoJson, localFrameOf, obstaclesOf, type CampusFeatureCollection, type CampusPlan, type PlanFrame, type PlanKeyArea, type SchoolSettings } from './campus.ts';
import { loadPacks, resolvePolicy, rulesFor, type Policy } from './policy/packs.ts';
import type { PolicyPack } from './policy/schema.ts';
import { evaluate, type Finding, type SchoolFacts } from './policy/rules.ts';
import { chooseUplink, isGlobalIpv6, latestCameraHealth, latestReachable, measureUplink, uplinkIpv6, type CameraHealthSample, type QueryFn, type UplinkIpv6, type UplinkMeasurement } from './telemetry-facts.ts';
import type { LatestReadings } from '../ingest/latest.ts';
import { camerasMonth, coverageMonth, type CamerasMonth, type CoverageMonth, type MonthPeriod } from './history.ts';

/**
 * Horizontal pixels assumed when neither the camera's health reading nor its discovered ONVIF
 * attributes say what it streams (device profiles carry no resolution): 1920, i.e. 1080p, the
 * usual main stream and what Shanghai DB31/329.6 asks outdoors (REFERENCE.md).
 */
export const DEFAULT_HORIZONTAL_PIXELS = 1920;
/**
 * Cameras' views kept for all schools together, least recently used dropped first and computed again
 * when needed (geometry/view-cache.ts). 64 MiB holds the views of about 500 schools of 80 cameras:
 * the ones being changed or previewed; the rest of a school's state is not bounded by it.
 */
export const DEFAULT_VIEW_CACHE_BYTES = 64 * 2 ** 20;
/** Level used for a key-area type the policy pack does not list. */
export const DEFAULT_REQUIRED_LEVEL: DensityLevel = 'observe';
/** Ladder steps (edge-agent onvif/health.ts): 3 = stream up but degraded, 4 = healthy. */
const STREAM_UP_STEP = 3;
const HEALTHY_STEP = 4;

export interface ComplianceOptions {
  db: Db;
  inventory: Inventory;
  sink?: TelemetrySink;
  influx?: InfluxConnection;
  /** Or any InfluxQL runner (tests); wins over `influx`. */
  query?: QueryFn;
  /** Ingest's latest readings: camera health and reachability without a query (and without InfluxDB). */
  latest?: LatestReadings;
  events?: EventBus;
  /** Bureau-wide policy pack (a county or school may override it). */
  defaultPolicy?: string;
  packsDir?: string;
  /** Health/reachability readings older than this count as no data (default 15 min). */
  healthMaxAgeMs?: number;
  /** Background re-check of every planned school (default 30 s; 0 = only on request). */
  refreshIntervalMs?: number;
  /** Bound of the cameras' views kept for all schools together (default DEFAULT_VIEW_CACHE_BYTES). */
  viewCacheBytes?: number;
  log?: { warn(obj: object, msg: string): void };
}

export interface CameraStatus {
  id: string;
  agentId: string;
  deviceId: string;
  online: boolean;
  healthy: boolean;
  step: number | null;
  horizontalPixels: number;
  resolutionFrom: 'camera_health' | 'onvif-attributes' | 'default';
  hfovDeg: number | null;
  /** plan metres; null when the camera could not be placed on this plan */
  position: { x: number; y: number } | null;
  problem?: string;
}

export interface AreaReport {
  id: string;
  name: string;
  type: string;
  typeName: string;
  obligation: 'required' | 'recommended';
  requiredLevel: DensityLevel;
  requiredPpm: number;
  areaM2: number;
  coveredShare: number;
  anyShare: number;
  ifAllHealthyShare: number;
  fullyCovered: boolean;
  blindSpotM2: number;
  /** uncovered at the required level (监管死角); WGS84 when the plan is georeferenced */
  blindSpots: GeoJsonPolygon[];
  cameraIds: string[];
}

export interface CoverageReport {
  school: { code: string; name: string; countyCode: string };
  frame: PlanFrame;
  policy: { id: string; version: string };
  computedAt: string;
  threshold: number;
  fullyCoveredShare: number;
  weightedCoverage: number;
  weightedAnyCoverage: number;
  weightedIfAllHealthy: number;
  areas: AreaReport[];
  cameras: CameraStatus[];
}

export interface FindingReport extends Finding {
  /** the sources as one line: document, clause (seed) */
  citation: string;
}

export interface SchoolCompliance {
  school: { code: string; name: string; countyCode: string; type: string; ownership: string };
  policy: { id: string; version: string; title: PolicyPack['title'] };
  computedAt: string;
  /**
   * Present for a past month: the figures with history (key-area coverage, uplink utilisation,
   * cameras online) are that month's; the rest (inventory, IPv6, displays) are the state now.
   */
  period?: { month: string; from: string; to: string; coverage: CoverageMonth | null; cameras: CamerasMonth };
  findings: FindingReport[];
  facts: {
    uplink: UplinkMeasurement | null;
    contractedUplinkMbps: number | null;
    ipv6: { devices: number; withGlobal: number; incapable: number; share: number | null };
    /** global IPv6 on the uplink interface (switch IP-MIB); null: no uplink or no address data */
    uplinkIpv6: UplinkIpv6 | null;
    classrooms: number | null;
    displays: { total: number; working: number };
    classBoards: number;
    aps: { total: number; online: number };
    cameras: { total: number; online: number; healthy: number };
    keyAreas: { total: number; fullyCovered: number; weightedCoverage: number | null; weightedIfAllHealthy: number | null };
  };
}

/**
 * What is kept per school between requests (for a whole city: keep it small, docs/operations.md
 * "Coverage cache"). The cameras' coverage inputs live in `coverage` only; what a refresh read
 * (the plan, devices, agents, camera health) is not kept: every request refreshes first.
 */
interface SchoolState {
  /** the plan's version and the policy the coverage was built for */
  key: string;
  frame: PlanFrame;
  policy: Policy;
  coverage: SchoolCoverage;
  cameras: Map<string, CameraStatus>;
  areaMeta: Map<string, { name: string; obligation: 'required' | 'recommended' }>;
}

/** What decides a camera's status: its agent online, its latest health reading. */
interface CameraFacts {
  devices: InboxDevice[];
  agentsOnline: Set<string>;
  health: Map<string, CameraHealthSample>;
}


const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

export function citationOf(sources: Finding['sources']): string {
  return sources.map((s) => [s.document, s.clause, s.seed ? `(seed ${s.seed})` : undefined].filter(Boolean).join(' ')).join('; ');
}

export class ComplianceService {
  readonly campus: CampusStore;
  readonly packs: Map<string, PolicyPack>;
  readonly defaultPolicy: string;
  private readonly query: QueryFn;
  private readonly states = new Map<string, SchoolState>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly policies = new Map<string, Policy>();
  private profiles: ProfileRegistry | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly maxAge: number;
  /** every school's cameras' views (bounded, shared) */
  readonly views: ViewCache;

  constructor(private readonly o: ComplianceOptions) {
    this.campus = new CampusStore(o.db);
    const loaded = loadPacks(o.packsDir);
    for (const e of loaded.errors) o.log?.warn({ file: e.file }, `policy pack refused: ${e.message}`);
    this.packs = loaded.packs;
    this.defaultPolicy = o.defaultPolicy ?? 'liaocheng-2023';
    if (!this.packs.has(this.defaultPolicy)) throw new Error(`default policy pack ${this.defaultPolicy} is not loaded (have: ${[...this.packs.keys()].join(', ')})`);
    const conn = o.influx;
    this.query = o.query ?? (conn ? (q) => influxQuery(conn, q) : async () => []);
    this.maxAge = o.healthMaxAgeMs ?? 15 * 60_000;
    this.views = new ViewCache(o.viewCacheBytes ?? DEFAULT_VIEW_CACHE_BYTES);
  }

  start(): void {
    const every = this.o.refreshIntervalMs ?? 30_000;
    if (every > 0 && !this.timer) {
      this.timer = setInterval(() => void this.refreshAll().catch((err: Error) => this.o.log?.warn({ err: err.message }, 'compliance refresh failed')), every);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  policy(id: string): Policy {
    let p = this.policies.get(id);
    if (!p) {
      p = resolvePolicy(this.packs, id);
      this.policies.set(id, p);
    }
    return p;
  }

  private registry(): ProfileRegistry {
    this.profiles ??= loadProfiles().registry;
    return this.profiles;
  }

  async policyFor(school: School, settings?: SchoolSettings): Promise<Policy> {
    const s = settings ?? (await this.campus.getSettings(school.code));
    const county = s.policyPack ? undefined : (await this.campus.countyPolicies()).get(school.countyCode);
    const id = s.policyPack ?? county ?? this.defaultPolicy;
    return this.policy(this.packs.has(id) ? id : this.defaultPolicy);
  }

  levelOf(policy: Policy, a: PlanKeyArea): DensityLevel {
    if (a.requiredLevel) return a.requiredLevel;
    const t = policy.keyAreaTypes.find((k) => k.type === (PACK_TYPE_OF[a.type] ?? a.type));
    return t?.requiredLevel ?? DEFAULT_REQUIRED_LEVEL;
  }

  obligationOf(policy: Policy, a: PlanKeyArea): 'required' | 'recommended' {
    const t = policy.keyAreaTypes.find((k) => k.type === (PACK_TYPE_OF[a.type] ?? a.type));
    if (t) return t.obligation;
    return KEY_AREA_TYPES[a.type].video === 'required' ? 'required' : 'recommended';
  }

  /** Serialises work per school (a refresh and a request must not update one SchoolCoverage at once). */
  private locked<T>(code: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(code) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.locks.set(
      code,
      next.catch(() => undefined),
    );
    return next;
  }

  private devices(code: string): Promise<InboxDevice[]> {
    return new Enrollment(this.o.db).devicesInStates(code, ['enrolled', 'discovered', 'seen']);
  }

  private async agentsOnline(code: string): Promise<Set<string>> {
    return new Set((await this.o.inventory.listAgents(code)).filter((a) => a.state === 'online').map((a) => a.agentId));
  }

  /** Enrolled cameras as coverage inputs, with their status, and the facts they were judged on. */
  private async cameraInputs(school: School, frame: PlanFrame): Promise<{ cameras: Camera[]; status: CameraStatus[]; seen: CameraFacts }> {
    const [devices, agentsOnline, health] = await Promise.all([this.devices(school.code), this.agentsOnline(school.code), latestCameraHealth(this.query, school.code, this.maxAge, this.o.latest)]);
    const seen: CameraFacts = { devices, agentsOnline, health };
    const lf = localFrameOf(frame);
    const cameras: Camera[] = [];
    const status: CameraStatus[] = [];
    for (const d of devices) {
      if (d.kind !== 'camera' || d.state !== 'enrolled') continue;
      const c = this.cameraOf(d, seen, lf);
      status.push(c.status);
      if (c.camera) cameras.push(c.camera);
    }
    return { cameras, status, seen };
  }

  /**
   * One camera device as a coverage input at its placement (none, with `status.problem` saying why,
   * when it cannot be placed on the plan), and its status from `seen`.
   */
  private cameraOf(d: InboxDevice, seen: CameraFacts, lf: LocalFrame | undefined): { camera?: Camera; status: CameraStatus } {
    const id = `${d.agentId}/${d.deviceId}`;
    const h = seen.health.get(id);
    const isOnline = seen.agentsOnline.has(d.agentId) && h !== undefined && h.step >= STREAM_UP_STEP;
    const healthy = isOnline && h!.step >= HEALTHY_STEP;
    let horizontalPixels = DEFAULT_HORIZONTAL_PIXELS;
    let resolutionFrom: CameraStatus['resolutionFrom'] = 'default';
    const attrW = Number(d.attributes.resolutionWidth ?? /^(\d+)x\d+$/.exec(String(d.attributes.resolution ?? ''))?.[1]);
    if (h?.resolutionWidth) {
      horizontalPixels = h.resolutionWidth;
      resolutionFrom = 'camera_health';
    } else if (Number.isFinite(attrW) && attrW > 0) {
      horizontalPixels = attrW;
      resolutionFrom = 'onvif-attributes';
    }
    const cam = d.placement?.camera;
    const pos = d.placement?.position;
    const st: CameraStatus = { id, agentId: d.agentId, deviceId: d.deviceId, online: isOnline, healthy, step: h?.step ?? null, horizontalPixels, resolutionFrom, hfovDeg: cam?.hfovDeg ?? null, position: null };
    if (!cam || !pos) {
      st.problem = 'no camera placement';
      return { status: st };
    }
    let xy: { x: number; y: number };
    if ('x' in pos) xy = { x: pos.x, y: pos.y };
    else if (lf) xy = lf.toLocal(pos);
    else {
      st.problem = 'placed by lon/lat but the campus plan is not georeferenced';
      return { status: st };
    }
    st.position = { x: round(xy.x, 3), y: round(xy.y, 3) };
    const optics = cam.hfovDeg !== undefined ? { hfovDeg: cam.hfovDeg } : cam.focalLengthMm !== undefined && cam.sensorWidthMm !== undefined ? { focalLengthMm: cam.focalLengthMm, sensorWidthMm: cam.sensorWidthMm } : null;
    if (!optics) {
      st.problem = 'no field of view (hfovDeg or lens)';
      return { status: st };
    }
    return {
      status: st,
      camera: {
        id,
        x: xy.x,
        y: xy.y,
        headingDeg: cam.headingDeg,
        horizontalPixels,
        ...(cam.mountHeightM !== undefined ? { mountHeightM: cam.mountHeightM } : {}),
        ...(cam.tiltDeg !== undefined ? { tiltDeg: cam.tiltDeg } : {}),
        online: isOnline,
        healthy,
        ...optics,
      },
    };
  }

  /**
   * Brings one school's coverage up to date: rebuilt when its plan or policy changed, otherwise
   * only the cameras whose placement or status changed are updated (`SchoolCoverage.updateCamera`).
   * Publishes and records what changed. Null when the school has no campus plan.
   */
  refreshSchool(code: string): Promise<SchoolState | null> {
    return this.locked(code, async () => (await this.refreshUnlocked(code))?.st ?? null);
  }

  /** The refreshed state, the plan it was refreshed from, and the facts its cameras were judged on. */
  private async refreshUnlocked(code: string): Promise<{ st: SchoolState; plan: CampusPlan; seen: CameraFacts } | null> {
    const school = await this.o.inventory.getSchool(code);
    const plan = school ? await this.campus.getPlan(code) : null;
    if (!school || !plan) {
      this.states.delete(code);
      return null;
    }
    const policy = await this.policyFor(school);
    const key = `${plan.updatedAt.getTime()}|${policy.id}`;
    const { cameras, status, seen: facts } = await this.cameraInputs(school, plan.frame);
    const now = new Date().toISOString();
    let st = this.states.get(code);
    let changedAreas: string[] = [];
    const statusChanges: CameraStatus[] = [];
    if (!st || st.key !== key) {
      const areas: KeyArea[] = plan.keyAreas.map((a) => ({ id: a.id, name: a.name, type: a.type, polygon: a.polygon, requiredLevel: this.levelOf(policy, a) }));
      const fullThreshold = Number(policy.rules.find((r) => r.kind === 'key-area-coverage')?.params.fullAreaShare ?? 0.999);
      const coverage = new SchoolCoverage({ areas, obstacles: obstaclesOf(plan), cameras }, { fullThreshold, views: this.views });
      st = {
        key,
        frame: plan.frame,
        policy,
        coverage,
        cameras: new Map(status.map((s) => [s.id, s])),
        areaMeta: new Map(plan.keyAreas.map((a) => [a.id, { name: a.name, obligation: this.obligationOf(policy, a) }])),
      };
      this.states.set(code, st);
      changedAreas = areas.map((a) => a.id);
    } else {
      const touched = new Set<string>();
      const seen = new Set<string>();
      for (const c of cameras) {
        seen.add(c.id);
        const held = st.coverage.camera(c.id);
        if (held && sameCamera(held, c)) continue;
        for (const a of st.coverage.updateCamera(c)) touched.add(a);
      }
      for (const id of st.coverage.cameraIds()) {
        if (seen.has(id)) continue;
        for (const a of st.coverage.removeCamera(id)) touched.add(a);
      }
      for (const s of status) {
        const before = st.cameras.get(s.id);
        if (before && (before.online !== s.online || before.healthy !== s.healthy || before.step !== s.step)) statusChanges.push(s);
      }
      st.cameras = new Map(status.map((s) => [s.id, s]));
      changedAreas = [...touched];
    }
    for (const s of statusChanges)
      this.o.events?.publish({ type: 'device-status', school: code, county: school.countyCode, agentId: s.agentId, deviceId: s.deviceId, kind: 'camera', online: s.online, healthy: s.healthy, ...(s.step !== null ? { step: s.step } : {}), at: now });
    if (changedAreas.length) {
      const r = st.coverage.result();
      this.o.events?.publish({ type: 'coverage-changed', school: code, county: school.countyCode, areas: changedAreas.sort(), fullyCoveredShare: r.fullyCoveredShare, weightedCoverage: r.weightedCoverage, at: now });
      await this.record(school, st, changedAreas);
    }
    return { st, plan, seen: facts };
  }

  /** Coverage history: one `coverage` point per changed key area and one for the school. */
  private async record(school: School, st: SchoolState, areaIds: string[]): Promise<void> {
    if (!this.o.sink) return;
    const ts = Date.now();
    const r = st.coverage.result();
    const lines = [
      pointToLine({
        measurement: 'coverage',
        tags: { scope: 'school', school: school.code, county: school.countyCode, policy: st.policy.id },
        fields: { fullyCoveredShare: r.fullyCoveredShare, weightedCoverage: r.weightedCoverage, weightedAnyCoverage: r.weightedAnyCoverage, weightedIfAllHealthy: r.weightedIfAllHealthy, keyAreas: r.areas.length },
        timestampMs: ts,
      }),
    ];
    for (const id of areaIds) {
      const a = st.coverage.areaResult(id);
      if (!a) continue;
      lines.push(
        pointToLine({
          measurement: 'coverage',
          tags: { scope: 'area', school: school.code, county: school.countyCode, area: a.areaId, type: a.type, level: a.requiredLevel },
          fields: { coveredShare: a.coveredShare, anyShare: a.anyShare, ifAllHealthyShare: a.ifAllHealthyShare, blindSpotM2: a.blindSpotM2, fullyCovered: a.fullyCovered },
          timestampMs: ts,
        }),
      );
    }
    try {
      await this.o.sink.write(lines);
    } catch (err) {
      this.o.log?.warn({ err: (err as Error).message, school: school.code }, 'could not record coverage history');
    }
  }

  async refreshAll(): Promise<void> {
    for (const code of await this.campus.schoolsWithPlans()) await this.refreshSchool(code);
  }

  async coverage(code: string): Promise<CoverageReport | null> {
    const st = await this.refreshSchool(code);
    if (!st) return null;
    const school = (await this.o.inventory.getSchool(code))!;
    return this.report(school, st, st.coverage.result(), [...st.cameras.values()]);
  }

  private report(school: School, st: SchoolState, r: SchoolCoverageResult, cameras: CameraStatus[]): CoverageReport {
    const lf = localFrameOf(st.frame);
    return {
      school: { code: school.code, name: school.name, countyCode: school.countyCode },
      frame: st.frame,
      policy: { id: st.policy.id, version: st.policy.version },
      computedAt: new Date().toISOString(),
      threshold: r.threshold,
      fullyCoveredShare: round(r.fullyCoveredShare),
      weightedCoverage: round(r.weightedCoverage),
      weightedAnyCoverage: round(r.weightedAnyCoverage),
      weightedIfAllHealthy: round(r.weightedIfAllHealthy),
      areas: r.areas.map((a) => this.areaReport(st, a, lf)),
      cameras,
    };
  }

  /**
   * What the coverage would be with these cameras at these placements: a camera still in the inbox
   * counts as enrolled, with its current health. Computed on a fork of the school's cached coverage
   * (only the key areas the moved cameras touch are recomputed), so nothing is stored, published or
   * recorded, and the cached state is left as it was. The answer is `coverage()`'s report plus the
   * stored figures at the same moment, the figures if the previewed cameras were healthy, and each
   * previewed camera's view at every required level of the plan (the sector at its true range).
   * Null when the school has no campus plan. Throws InventoryError: not-found (no such device at
   * the school), conflict (a rejected or retired device), invalid (not a camera, a bad placement).
   */
  preview(code: string, requests: readonly PreviewCamera[]): Promise<CoveragePreview | null> {
    return this.locked(code, async () => {
      const refreshed = await this.refreshUnlocked(code);
      if (!refreshed) return null;
      const { st, plan, seen } = refreshed;
      const school = (await this.o.inventory.getSchool(code))!;
      const lf = localFrameOf(st.frame);
      const inputs: { camera: Camera; status: CameraStatus; state: string }[] = [];
      for (const q of requests) {
        const id = `${q.agentId}/${q.deviceId}`;
        if (inputs.some((i) => i.status.id === id)) throw new InventoryError('invalid', `camera ${id} appears twice in the preview`);
        const d = seen.devices.find((x) => x.agentId === q.agentId && x.deviceId === q.deviceId);
        if (!d) {
          const other = await new Enrollment(this.o.db).device({ schoolCode: code, agentId: q.agentId, deviceId: q.deviceId });
          if (!other) throw new InventoryError('not-found', `device ${id} not found at school ${code}`);
          throw new InventoryError('conflict', `device ${id} is ${other.state}: only enrolled or discovered cameras can be placed`);
        }
        if (d.kind !== 'camera') throw new InventoryError('invalid', `device ${id} is a ${d.kind}, not a camera: only cameras have a view to preview`);
        const problems = placementProblems(q.placement, 'camera');
        if (problems.length) throw new InventoryError('invalid', `${id}: ${problems.join('; ')}`);
        const c = this.cameraOf({ ...d, placement: q.placement }, seen, lf);
        if (!c.camera) throw new InventoryError('invalid', `${id}: ${c.status.problem ?? 'cannot be placed on the campus plan'}`);
        inputs.push({ camera: c.camera, status: c.status, state: d.state });
      }
      const what = st.coverage.fork();
      try {
        for (const i of inputs) what.updateCamera(i.camera);
      } catch (err) {
        if (err instanceof GeometryError) throw new InventoryError('invalid', err.message);
        throw err;
      }
      let healthy = what;
      if (inputs.some((i) => !(i.camera.online && i.camera.healthy))) {
        healthy = st.coverage.fork();
        for (const i of inputs) healthy.updateCamera({ ...i.camera, online: true, healthy: true });
      }
      const r = what.result();
      const levels = [...new Set(plan.keyAreas.map((a) => this.levelOf(st.policy, a)))].sort((a, b) => PPM_LEVELS[a] - PPM_LEVELS[b]);
      const previewed = inputs.map(({ camera, status, state }): PreviewedCamera => ({
        ...status,
        state,
        views: levels.map((level) => {
          const rings = what.view(camera.id, level) ?? [];
          return {
            level,
            requiredPpm: PPM_LEVELS[level],
            keyAreas: plan.keyAreas.filter((a) => this.levelOf(st.policy, a) === level && viewReaches(rings, a.polygon)).map((a) => a.id),
            polygons: viewToGeoJson(rings, lf),
          };
        }),
      }));
      const moved = new Map(inputs.map((i) => [i.status.id, i.status]));
      const cameras = [...[...st.cameras.values()].map((c) => moved.get(c.id) ?? c), ...inputs.filter((i) => !st.cameras.has(i.status.id)).map((i) => i.status)];
      return {
        ...this.report(school, st, r, cameras),
        preview: true as const,
        current: figuresOf(st.coverage.result()),
        ifPreviewedHealthy: figuresOf(healthy.result()),
        previewed,
      };
    });
  }

  private areaReport(st: SchoolState, a: AreaCoverage, lf: ReturnType<typeof localFrameOf>): AreaReport {
    const meta = st.areaMeta.get(a.areaId);
    return {
      id: a.areaId,
      name: meta?.name ?? a.areaId,
      type: a.type,
      typeName: KEY_AREA_TYPES[a.type].zh,
      obligation: meta?.obligation ?? 'required',
      requiredLevel: a.requiredLevel,
      requiredPpm: PPM_LEVELS[a.requiredLevel],
      areaM2: round(a.areaM2, 2),
      coveredShare: round(a.coveredShare),
      anyShare: round(a.anyShare),
      ifAllHealthyShare: round(a.ifAllHealthyShare),
      fullyCovered: a.fullyCovered,
      blindSpotM2: round(a.blindSpotM2, 2),
      blindSpots: a.blindSpots.map((p) => polygonToGeoJson(p, lf)),
      cameraIds: a.cameraIds,
    };
  }

  /**
   * A camera's view at a density level (from the school's `SchoolCoverage`: cached, or computed
   * again if the shared view cache dropped it), as GeoJSON polygons: WGS84 when the plan is georeferenced, else plan metres. Undefined when the
   * school has no computed state, the camera is not placed, or the level is neither `monitor` nor a
   * key area's required level. Call after `coverage()` or `refreshSchool()`.
   */
  cameraView(code: string, cameraId: string, level: DensityLevel): GeoJsonPolygon[] | undefined {
    const st = this.states.get(code);
    const rings = st?.coverage.view(cameraId, level);
    if (!st || !rings) return undefined;
    const lf = localFrameOf(st.frame);
    return rings.map((outer) => polygonToGeoJson({ outer, holes: [] }, lf));
  }

  async campusGeoJson(code: string): Promise<CampusFeatureCollection | null> {
    const plan = await this.campus.getPlan(code);
    const school = await this.o.inventory.getSchool(code);
    if (!plan || !school) return null;
    const policy = await this.policyFor(school);
    return campusToGeoJson(plan, (a) => this.levelOf(policy, a));
  }

  /**
   * Every rule of the school's policy, judged: now, or for a past month (`period`, not the current
   * one) from the history in InfluxDB where there is one — the uplink over that month's window,
   * key-area coverage from the `coverage` history (time-weighted; the coverage rule judged on the
   * month's mean share of key areas fully covered), cameras online from `camera_health`. What has
   * no history (devices, displays, APs, IPv6) is the state now.
   */
  async compliance(code: string, period?: MonthPeriod): Promise<SchoolCompliance | null> {
    const past = period && !period.current ? period : undefined;
    const school = await this.o.inventory.getSchool(code);
    if (!school) return null;
    const settings = await this.campus.getSettings(code);
    const policy = await this.policyFor(school, settings);
    const st = await this.refreshSchool(code);
    const devices = await this.devices(code);
    const reach = await latestReachable(this.query, code, this.maxAge, this.o.latest);
    const online = await this.agentsOnline(code);
    const isUp = (d: InboxDevice) => online.has(d.agentId) && !d.goneAt && (reach.get(`${d.agentId}/${d.deviceId}`) ?? Date.now() - d.lastSeen.getTime() < this.maxAge);

    // uplink: from SNMP interface data
    const util = policy.rules.find((r) => r.kind === 'uplink-utilisation');
    const windowHours = Number(util?.params.windowHours ?? 168);
    const satShare = Number(util?.params.saturationShare ?? 0.95);
    const switches = devices.filter((d) => d.kind === 'switch').map((d) => ({ deviceId: d.deviceId, kind: d.kind, sysName: typeof d.attributes.sysName === 'string' ? d.attributes.sysName : undefined }));
    const window = past ? { from: past.from, to: past.to } : windowHours;
    const choice = await chooseUplink(this.query, code, settings.uplink, switches, window);
    const uplink = choice ? await measureUplink(this.query, code, choice, window, satShare) : null;
    const v6up = choice ? await uplinkIpv6(this.query, code, choice, windowHours) : null;

    // IPv6: discovered addresses; incapable by profile capability
    const live = devices.filter((d) => !d.goneAt);
    const reg = this.registry();
    let withGlobal = 0, incapable = 0;
    for (const d of live) {
      const addrs = String(d.attributes.ipv6 ?? '').split(/[,\s]+/).filter(Boolean);
      if (addrs.some(isGlobalIpv6)) withGlobal++;
      if (d.profile && reg.get(d.profile)?.capabilities.ipv6 === false) incapable++;
    }

    const enrolled = devices.filter((d) => d.state === 'enrolled');
    const displays = enrolled.filter((d) => d.kind === 'display');
    const boards = enrolled.filter((d) => d.kind === 'class-board');
    const aps = devices.filter((d) => d.kind === 'ap' && !d.goneAt);
    const cov = st?.coverage.result();
    const cams = st ? [...st.cameras.values()] : [];
    const facts: SchoolFacts = {
      uplink: {
        ...(uplink?.capacityMbps !== undefined ? { measuredCapacityMbps: uplink.capacityMbps } : {}),
        ...(school.contractedUplinkMbps !== null ? { contractedMbps: school.contractedUplinkMbps } : {}),
        ...(uplink?.p95Mbps !== undefined ? { p95Mbps: uplink.p95Mbps } : {}),
        ...(uplink?.peakMbps !== undefined ? { peakMbps: uplink.peakMbps } : {}),
        ...(uplink?.saturationMinutes !== undefined ? { saturationMinutes: uplink.saturationMinutes } : {}),
      },
      ...(live.length ? { ipv6: { devices: live.length, withGlobal, incapable } } : {}),
      ...(v6up ? { uplinkIpv6: v6up } : {}),
      ...(settings.classrooms !== null ? { classrooms: settings.classrooms } : {}),
      ...(displays.length ? { displays: { total: displays.length, working: displays.filter(isUp).length } } : {}),
      ...(boards.length ? { classBoards: boards.length } : {}),
      ...(aps.length ? { aps: { total: aps.length, online: aps.filter(isUp).length } } : {}),
      ...(cov && st
        ? { keyAreas: cov.areas.map((a) => ({ id: a.areaId, name: st.areaMeta.get(a.areaId)?.name ?? a.areaId, type: a.type, required: st.areaMeta.get(a.areaId)?.obligation === 'required', coveredShare: a.coveredShare })) }
        : {}),
    };
    const rules = rulesFor(policy, { countyCode: school.countyCode, type: school.type, ownership: school.ownership, people: school.studentCount + school.staffCount });
    let findings = evaluate(rules, facts).map((f) => ({ ...f, citation: citationOf(f.sources) }));
    let keyAreas = {
      total: cov?.areas.length ?? 0,
      fullyCovered: cov?.areas.filter((a) => a.fullyCovered).length ?? 0,
      weightedCoverage: cov && cov.areas.length ? round(cov.weightedCoverage) : null,
      weightedIfAllHealthy: cov && cov.areas.length ? round(cov.weightedIfAllHealthy) : null,
    };
    let cameras = { total: cams.length, online: cams.filter((c) => c.online).length, healthy: cams.filter((c) => c.healthy).length };
    let history: SchoolCompliance['period'];
    if (past) {
      const [cm, camM] = await Promise.all([coverageMonth(this.query, code, past), camerasMonth(this.query, code, past)]);
      history = { month: past.month, from: past.from.toISOString(), to: past.to.toISOString(), coverage: cm, cameras: camM };
      // key areas: the month's means (fully covered areas as a mean count)
      keyAreas = cm
        ? { total: cm.keyAreas, fullyCovered: round(cm.meanFullyCoveredShare * cm.keyAreas), weightedCoverage: cm.meanWeightedCoverage, weightedIfAllHealthy: cm.meanWeightedIfAllHealthy }
        : { total: 0, fullyCovered: 0, weightedCoverage: null, weightedIfAllHealthy: null };
      cameras = { total: camM.total, online: camM.meanOnline, healthy: camM.meanHealthy };
      findings = findings.map((f) => (f.kind === 'key-area-coverage' ? this.keyAreaMonth(f, rules.find((r) => r.id === f.ruleId)?.params, cm, past.month) : f));
    }
    return {
      school: { code, name: school.name, countyCode: school.countyCode, type: school.type, ownership: school.ownership },
      policy: { id: policy.id, version: policy.version, title: policy.title },
      computedAt: new Date().toISOString(),
      ...(history ? { period: history } : {}),
      findings,
      facts: {
        uplink,
        contractedUplinkMbps: school.contractedUplinkMbps,
        ipv6: { devices: live.length, withGlobal, incapable, share: live.length ? round(withGlobal / live.length) : null },
        uplinkIpv6: v6up,
        classrooms: settings.classrooms,
        displays: { total: displays.length, working: displays.filter(isUp).length },
        classBoards: boards.length,
        aps: { total: aps.length, online: aps.filter(isUp).length },
        cameras,
        keyAreas,
      },
    };
  }

  /**
   * The coverage rule for a past month: the month's time-weighted mean share of key areas fully
   * covered against `minShareOfAreas` (with 100 %, a school passes only when fully covered the whole
   * month it had a plan). The history holds the share over all areas of the plan, recommended ones
   * included, so `includeRecommended: false` cannot be honoured for history.
   */
  private keyAreaMonth(f: FindingReport, params: Record<string, unknown> | undefined, cm: CoverageMonth | null, month: string): FindingReport {
    const min = Number(params?.minShareOfAreas ?? f.threshold);
    const { uncovered: _uncovered, ...rest } = f;
    if (!cm) return { ...rest, verdict: 'unknown', measured: null, threshold: min, unit: 'share', detail: `no coverage history for ${month}` };
    const ok = cm.meanFullyCoveredShare >= min - 1e-9;
    return {
      ...rest,
      verdict: ok ? 'pass' : 'fail',
      measured: cm.meanFullyCoveredShare,
      threshold: min,
      unit: 'share',
      detail: `${month}: on average ${(cm.meanFullyCoveredShare * 100).toFixed(1)} % of ${cm.keyAreas} key areas fully covered, all of them ${(cm.fullyCoveredTimeShare * 100).toFixed(1)} % of the time (${cm.hoursWithData} h of coverage history); weighted coverage ${(cm.meanWeightedCoverage * 100).toFixed(1)} %`,
    };
  }
}
