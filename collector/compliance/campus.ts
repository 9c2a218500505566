/**
 * A school's campus plan and compliance settings in the inventory (migration 003): the plan's frame,
 * key areas, buildings (obstacles), walls and outline as `campus_areas` rows, always stored in plan
 * metres; GeoJSON in and out through `geometry/geojson.ts` (WGS84 lon/lat when the plan is
 * georeferenced, plan metres otherwise). Every polygon is validated on the way in: a degenerate or
 * self-intersecting one is refused with the geometry error, nothing is written.
 */
import type { Db } from '../store/index.ts';
import { InventoryError } from '../store/index.ts';
import {
  DENSITY_LEVELS,
  GeometryError,
  KEY_AREA_TYPES,
  LocalFrame,
  polygonFromGeoJson,
  polygonToGeoJson,
  type DensityLevel,
  type KeyAreaType,
  type Obstacle,
  type Point,
  type Polygon,
} from './geometry/index.ts';

export type PlanFrame = { kind: 'wgs84'; anchor: { lon: number; lat: number }; rotationDeg: number } | { kind: 'plan' };

/**
 * Names the policy packs use for key-area types that the geometry model spells differently
 * (the pack follows the standard's wording, the model the drawing tool's).
 */
export const KEY_AREA_ALIASES: Record<string, KeyAreaType> = {
  playground: 'outdoor-gathering',
  'hazardous-store': 'hazardous-lab',
  'food-service': 'canteen-rooms',
};
/** Geometry-model type → the policy pack's type name. */
export const PACK_TYPE_OF: Partial<Record<KeyAreaType, string>> = Object.fromEntries(Object.entries(KEY_AREA_ALIASES).map(([k, v]) => [v, k]));

export interface PlanKeyArea {
  id: string;
  name: string;
  type: KeyAreaType;
  /** as drawn; absent = the policy pack's level for the type */
  requiredLevel?: DensityLevel;
  polygon: Polygon;
}
export interface PlanBuilding {
  id: string;
  name: string;
  polygon: Polygon;
}
export interface PlanWall {
  id: string;
  name: string;
  points: Point[];
  thicknessM?: number;
}

export interface CampusPlan {
  schoolCode: string;
  frame: PlanFrame;
  keyAreas: PlanKeyArea[];
  buildings: PlanBuilding[];
  walls: PlanWall[];
  outline: { id: string; name: string; polygon: Polygon } | null;
  updatedAt: Date;
}

export interface SchoolSettings {
  classrooms: number | null;
  uplink: { device: string; ifName: string } | null;
  policyPack: string | null;
}

export interface GeoFeature {
  type: 'Feature';
  id?: string | number;
  properties: Record<string, unknown> | null;
  geometry: { type: string; coordinates: unknown } | null;
}
export interface CampusFeatureCollection {
  type: 'FeatureCollection';
  /** foreign member (RFC 7946 §6.1): how coordinates are to be read */
  frame: { kind: 'wgs84'; anchor?: { lon: number; lat: number }; rotationDeg?: number } | { kind: 'plan' };
  features: GeoFeature[];
}

const FEATURE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const KINDS = ['key-area', 'building', 'wall', 'outline'] as const;
type Kind = (typeof KINDS)[number];

export function localFrameOf(frame: PlanFrame): LocalFrame | undefined {
  return frame.kind === 'wgs84' ? new LocalFrame({ lon: frame.anchor.lon, lat: frame.anchor.lat, rotationDeg: frame.rotationDeg }) : undefined;
}

export function keyAreaTypeOf(t: unknown): KeyAreaType | undefined {
  if (typeof t !== 'string') return undefined;
  if (t in KEY_AREA_TYPES) return t as KeyAreaType;
  return KEY_AREA_ALIASES[t];
}

/** Buildings and walls as the coverage geometry's obstacles (a wall polyline is one obstacle per segment). */
export function obstaclesOf(plan: Pick<CampusPlan, 'buildings' | 'walls'>): Obstacle[] {
  const out: Obstacle[] = plan.buildings.map((b) => ({ kind: 'building', id: b.id, polygon: b.polygon }));
  for (const w of plan.walls)
    for (let i = 0; i + 1 < w.points.length; i++)
      out.push({ kind: 'wall', id: `${w.id}#${i}`, a: w.points[i]!, b: w.points[i + 1]!, ...(w.thicknessM !== undefined ? { thicknessM: w.thicknessM } : {}) });
  return out;
}

/** Parses and validates a campus FeatureCollection into plan metres. Throws GeometryError / InventoryError('invalid'). */
export function parseCampus(schoolCode: string, fc: CampusFeatureCollection, school: { lon: number | null; lat: number | null }): Omit<CampusPlan, 'updatedAt'> {
  if (!fc || fc.type !== 'FeatureCollection' || !Array.isArray(fc.features)) throw new InventoryError('invalid', 'expected a GeoJSON FeatureCollection');
  let frame: PlanFrame;
  const f = fc.frame ?? { kind: 'plan' };
  if (f.kind === 'wgs84') {
    const anchor = f.anchor ?? (school.lon !== null && school.lat !== null ? { lon: school.lon, lat: school.lat } : undefined);
    if (!anchor) throw new InventoryError('invalid', 'frame.anchor is required: the school has no position to anchor the plan at');
    if (!(Math.abs(anchor.lat) < 85 && Math.abs(anchor.lon) <= 180)) throw new InventoryError('invalid', `frame.anchor ${anchor.lon}, ${anchor.lat} is out of range`);
    const rotationDeg = f.rotationDeg ?? 0;
    if (!(Number.isFinite(rotationDeg) && Math.abs(rotationDeg) < 360)) throw new InventoryError('invalid', 'frame.rotationDeg must be within (-360, 360)');
    frame = { kind: 'wgs84', anchor: { lon: anchor.lon, lat: anchor.lat }, rotationDeg };
  } else if (f.kind === 'plan') frame = { kind: 'plan' };
  else throw new InventoryError('invalid', 'frame.kind must be wgs84 or plan');
  const lf = localFrameOf(frame);

  const plan: Omit<CampusPlan, 'updatedAt'> = { schoolCode, frame, keyAreas: [], buildings: [], walls: [], outline: null };
  const ids = new Set<string>();
  fc.features.forEach((feat, i) => {
    const props = feat?.properties ?? {};
    const kind = props.kind as Kind;
    if (!KINDS.includes(kind)) throw new InventoryError('invalid', `feature ${i}: properties.kind must be one of ${KINDS.join(', ')}`);
    const id = feat.id !== undefined ? String(feat.id) : `${kind}-${i + 1}`;
    if (!FEATURE_ID.test(id)) throw new InventoryError('invalid', `feature ${i}: id ${JSON.stringify(id)} must match ${FEATURE_ID}`);
    if (ids.has(id)) throw new InventoryError('invalid', `feature id ${id} appears twice`);
    ids.add(id);
    const name = typeof props.name === 'string' && props.name.trim() ? props.name.trim().slice(0, 100) : id;
    const subject = `${kind} "${id}"`;
    if (kind === 'wall') {
      const g = feat.geometry;
      if (!g || g.type !== 'LineString' || !Array.isArray(g.coordinates) || g.coordinates.length < 2)
        throw new GeometryError(subject, 'too-few-points', 'a wall is a GeoJSON LineString of at least 2 positions');
      const points = (g.coordinates as unknown[]).map((pos, j): Point => {
        const [a, b] = Array.isArray(pos) ? (pos as unknown[]).map(Number) : [Number.NaN, Number.NaN];
        if (!Number.isFinite(a) || !Number.isFinite(b)) throw new GeometryError(subject, 'not-finite', `position ${j} is not a pair of finite numbers`);
        return lf ? lf.toLocal({ lon: a!, lat: b! }) : { x: a!, y: b! };
      });
      for (let j = 0; j + 1 < points.length; j++)
        if (points[j]!.x === points[j + 1]!.x && points[j]!.y === points[j + 1]!.y) throw new GeometryError(subject, 'too-few-points', `segment ${j} has zero length`);
      const t = props.thicknessM;
      if (t !== undefined && !(typeof t === 'number' && Number.isFinite(t) && t >= 0 && t <= 10)) throw new InventoryError('invalid', `${subject}: thicknessM must be a number of metres within [0, 10]`);
      plan.walls.push({ id, name, points, ...(typeof t === 'number' ? { thicknessM: t } : {}) });
      return;
    }
    const polygon = polygonFromGeoJson(feat.geometry, subject, lf);
    if (kind === 'key-area') {
      const type = keyAreaTypeOf(props.keyAreaType);
      if (!type) throw new GeometryError(subject, 'bad-key-area', `unknown keyAreaType ${JSON.stringify(props.keyAreaType)} (one of ${Object.keys(KEY_AREA_TYPES).join(', ')})`);
      const lvl = props.requiredLevel;
      if (lvl !== undefined && !DENSITY_LEVELS.includes(lvl as DensityLevel)) throw new GeometryError(subject, 'bad-key-area', `unknown requiredLevel ${JSON.stringify(lvl)} (one of ${DENSITY_LEVELS.join(', ')})`);
      plan.keyAreas.push({ id, name, type, polygon, ...(lvl !== undefined ? { requiredLevel: lvl as DensityLevel } : {}) });
    } else if (kind === 'building') plan.buildings.push({ id, name, polygon });
    else {
      if (plan.outline) throw new InventoryError('invalid', 'a campus has one outline');
      plan.outline = { id, name, polygon };
    }
  });
  return plan;
}

const ringToCoords = (pts: Point[]): number[][] => pts.map((p) => [p.x, p.y]);

/** The plan as a FeatureCollection: WGS84 when georeferenced, plan metres otherwise. */
export function campusToGeoJson(plan: Pick<CampusPlan, 'frame' | 'keyAreas' | 'buildings' | 'walls' | 'outline'>, levelOf?: (a: PlanKeyArea) => DensityLevel): CampusFeatureCollection {
  const lf = localFrameOf(plan.frame);
  const poly = (p: Polygon) => polygonToGeoJson(p, lf);
  const features: GeoFeature[] = [];
  if (plan.outline) features.push({ type: 'Feature', id: plan.outline.id, properties: { kind: 'outline', name: plan.outline.name }, geometry: poly(plan.outline.polygon) });
  for (const b of plan.buildings) features.push({ type: 'Feature', id: b.id, properties: { kind: 'building', name: b.name }, geometry: poly(b.polygon) });
  for (const w of plan.walls)
    features.push({
      type: 'Feature',
      id: w.id,
      properties: { kind: 'wall', name: w.name, ...(w.thicknessM !== undefined ? { thicknessM: w.thicknessM } : {}) },
      geometry: { type: 'LineString', coordinates: w.points.map((p) => (lf ? ((g) => [g.lon, g.lat])(lf.toLonLat(p)) : [p.x, p.y])) },
    });
  for (const k of plan.keyAreas) {
    const level = k.requiredLevel ?? levelOf?.(k);
    features.push({
      type: 'Feature',
      id: k.id,
      properties: { kind: 'key-area', name: k.name, keyAreaType: k.type, ...(level ? { requiredLevel: level } : {}), ...(k.requiredLevel ? {} : { levelFromPolicy: true }) },
      geometry: poly(k.polygon),
    });
  }
  const frame: CampusFeatureCollection['frame'] = plan.frame.kind === 'wgs84' ? { kind: 'wgs84', anchor: plan.frame.anchor, rotationDeg: plan.frame.rotationDeg } : { kind: 'plan' };
  return { type: 'FeatureCollection', frame, features };
}

interface AreaRow {
  featureId: string | null;
  id: number;
  name: string;
  kind: Kind;
  keyAreaType: string | null;
  requiredLevel: string | null;
  geometry: { type: string; coordinates: number[][][] | number[][] };
  properties: Record<string, unknown>;
}

const polyFromStored = (g: { coordinates: unknown }): Polygon => {
  const rings = (g.coordinates as number[][][]).map((r) => r.slice(0, -1).map(([x, y]) => ({ x: x!, y: y! })));
  return { outer: rings[0] ?? [], holes: rings.slice(1) };
};

export class CampusStore {
  constructor(private readonly db: Db) {}

  async getPlan(schoolCode: string): Promise<CampusPlan | null> {
    const [p] = await this.db.query<{ frame: 'wgs84' | 'plan'; lon: number | null; lat: number | null; rot: number; updatedAt: Date }>(
      `SELECT frame, anchor_lon AS lon, anchor_lat AS lat, rotation_deg AS rot, updated_at AS "updatedAt" FROM campus_plans WHERE school_code = $1`,
      [schoolCode],
    );
    if (!p) return null;
    const rows = await this.db.query<AreaRow>(
      `SELECT id, feature_id AS "featureId", name, kind, key_area_type AS "keyAreaType", required_level AS "requiredLevel", geometry, properties
       FROM campus_areas WHERE school_code = $1 ORDER BY id`,
      [schoolCode],
    );
    const plan: CampusPlan = {
      schoolCode,
      frame: p.frame === 'wgs84' ? { kind: 'wgs84', anchor: { lon: p.lon!, lat: p.lat! }, rotationDeg: p.rot } : { kind: 'plan' },
      keyAreas: [],
      buildings: [],
      walls: [],
      outline: null,
      updatedAt: p.updatedAt,
    };
    for (const r of rows) {
      const id = r.featureId ?? `area-${r.id}`;
      if (r.kind === 'wall') {
        const t = r.properties.thicknessM;
        plan.walls.push({ id, name: r.name, points: (r.geometry.coordinates as number[][]).map(([x, y]) => ({ x: x!, y: y! })), ...(typeof t === 'number' ? { thicknessM: t } : {}) });
      } else if (r.kind === 'building') plan.buildings.push({ id, name: r.name, polygon: polyFromStored(r.geometry) });
      else if (r.kind === 'outline') plan.outline = { id, name: r.name, polygon: polyFromStored(r.geometry) };
      else {
        const type = keyAreaTypeOf(r.keyAreaType) ?? 'other';
        plan.keyAreas.push({ id, name: r.name, type, polygon: polyFromStored(r.geometry), ...(r.requiredLevel ? { requiredLevel: r.requiredLevel as DensityLevel } : {}) });
      }
    }
    return plan;
  }

  /** Replaces the school's whole plan (frame and every area) in one transaction. */
  async putPlan(plan: Omit<CampusPlan, 'updatedAt'>): Promise<void> {
    await this.db.transaction(async (tx) => {
      const f = plan.frame;
      await tx.query(
        `INSERT INTO campus_plans (school_code, frame, anchor_lon, anchor_lat, rotation_deg) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (school_code) DO UPDATE SET frame = excluded.frame, anchor_lon = excluded.anchor_lon, anchor_lat = excluded.anchor_lat,
           rotation_deg = excluded.rotation_deg, updated_at = now()`,
        [plan.schoolCode, f.kind, f.kind === 'wgs84' ? f.anchor.lon : null, f.kind === 'wgs84' ? f.anchor.lat : null, f.kind === 'wgs84' ? f.rotationDeg : 0],
      );
      await tx.query(`DELETE FROM campus_areas WHERE school_code = $1`, [plan.schoolCode]);
      const insert = (id: string, name: string, kind: Kind, geometry: unknown, extra: { type?: string; level?: string; props?: Record<string, unknown> } = {}) =>
        tx.query(
          `INSERT INTO campus_areas (school_code, feature_id, name, kind, key_area_type, required_level, geometry, properties)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb)`,
          [plan.schoolCode, id, name, kind, extra.type ?? null, extra.level ?? null, JSON.stringify(geometry), JSON.stringify(extra.props ?? {})],
        );
      if (plan.outline) await insert(plan.outline.id, plan.outline.name, 'outline', polygonToGeoJson(plan.outline.polygon));
      for (const b of plan.buildings) await insert(b.id, b.name, 'building', polygonToGeoJson(b.polygon));
      for (const w of plan.walls)
        await insert(w.id, w.name, 'wall', { type: 'LineString', coordinates: ringToCoords(w.points) }, { props: w.thicknessM !== undefined ? { thicknessM: w.thicknessM } : {} });
      for (const k of plan.keyAreas) await insert(k.id, k.name, 'key-area', polygonToGeoJson(k.polygon), { type: k.type, level: k.requiredLevel });
    });
  }

  async schoolsWithPlans(): Promise<string[]> {
    return (await this.db.query<{ code: string }>(`SELECT school_code AS code FROM campus_plans ORDER BY school_code`)).map((r) => r.code);
  }

  async getSettings(schoolCode: string): Promise<SchoolSettings> {
    const [r] = await this.db.query<{ classrooms: number | null; device: string | null; ifName: string | null; pack: string | null }>(
      `SELECT classrooms, uplink_device AS device, uplink_if_name AS "ifName", policy_pack AS pack FROM school_settings WHERE school_code = $1`,
      [schoolCode],
    );
    return { classrooms: r?.classrooms ?? null, uplink: r?.device && r.ifName ? { device: r.device, ifName: r.ifName } : null, policyPack: r?.pack ?? null };
  }

  async allSettings(): Promise<Map<string, SchoolSettings>> {
    const rows = await this.db.query<{ code: string; classrooms: number | null; device: string | null; ifName: string | null; pack: string | null }>(
      `SELECT school_code AS code, classrooms, uplink_device AS device, uplink_if_name AS "ifName", policy_pack AS pack FROM school_settings`,
    );
    return new Map(rows.map((r) => [r.code, { classrooms: r.classrooms, uplink: r.device && r.ifName ? { device: r.device, ifName: r.ifName } : null, policyPack: r.pack }]));
  }

  /** Merges: fields absent from `s` keep their value; null clears. */
  async putSettings(schoolCode: string, s: Partial<SchoolSettings>): Promise<SchoolSettings> {
    const cur = await this.getSettings(schoolCode);
    const next: SchoolSettings = {
      classrooms: s.classrooms !== undefined ? s.classrooms : cur.classrooms,
      uplink: s.uplink !== undefined ? s.uplink : cur.uplink,
      policyPack: s.policyPack !== undefined ? s.policyPack : cur.policyPack,
    };
    await this.db.query(
      `INSERT INTO school_settings (school_code, classrooms, uplink_device, uplink_if_name, policy_pack) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (school_code) DO UPDATE SET classrooms = excluded.classrooms, uplink_device = excluded.uplink_device,
         uplink_if_name = excluded.uplink_if_name, policy_pack = excluded.policy_pack, updated_at = now()`,
      [schoolCode, next.classrooms, next.uplink?.device ?? null, next.uplink?.ifName ?? null, next.policyPack],
    );
    return next;
  }

  async countyPolicies(): Promise<Map<string, string>> {
    const rows = await this.db.query<{ code: string; pack: string }>(`SELECT county_code AS code, policy_pack AS pack FROM county_settings`);
    return new Map(rows.map((r) => [r.code, r.pack]));
  }

  async setCountyPolicy(countyCode: string, pack: string | null): Promise<void> {
    if (pack === null) await this.db.query(`DELETE FROM county_settings WHERE county_code = $1`, [countyCode]);
    else
      await this.db.query(
        `INSERT INTO county_settings (county_code, policy_pack) VALUES ($1, $2) ON CONFLICT (county_code) DO UPDATE SET policy_pack = excluded.policy_pack, updated_at = now()`,
        [countyCode, pack],
      );
  }
}
