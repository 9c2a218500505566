/**
 * The campus plan's shapes as the plan editor handles them: their kind, their vertices in Leaflet's
 * [lat, lon] order and back to GeoJSON, new shapes, property edits, which shape a click is on, and
 * which shape the server named when it refused the plan. No Leaflet at run time, so it is tested in
 * Node (PlanFeatures.test.ts).
 */
import type { GeoFeature } from '../api';
import { keyAreaTypeDef, PACK_KEY_AREA_TYPES, type DensityLevel } from '../keyAreaTypes';

export type ShapeKind = 'outline' | 'building' | 'wall' | 'key-area';
export type LatLng = [number, number];
/** A wall's points, or a polygon's rings (open: the first vertex is not repeated; the first ring is the outer one). */
export type ShapeLatLngs = LatLng[] | LatLng[][];
/** A vertex: [ring, index] in a polygon, [index] in a wall (geoman's `indexPath`). */
export type VertexPath = number[];

export const DEFAULT_TYPE = PACK_KEY_AREA_TYPES[0]!;
/** The list's order: the outline, then what blocks views, then what is to be covered. */
export const KIND_ORDER: readonly ShapeKind[] = ['outline', 'building', 'wall', 'key-area'];

export const kindOf = (f: GeoFeature): ShapeKind | null => {
  const k = f.properties?.kind;
  return k === 'outline' || k === 'building' || k === 'wall' || k === 'key-area' ? k : null;
};
export const isWall = (f: GeoFeature): boolean => kindOf(f) === 'wall';
/** Fewest vertices a shape keeps when one is removed (what the server accepts). */
export const minVertices = (f: GeoFeature): number => (isWall(f) ? 2 : 3);

/** ~1 cm: what the editor keeps of a vertex (the server's plan is in metres). */
const round = (x: number) => Number(x.toFixed(7));
const toLatLng = (p: unknown): LatLng => {
  const [lon, lat] = p as number[];
  return [Number(lat), Number(lon)];
};
const toPosition = ([lat, lon]: LatLng): number[] => [round(lon), round(lat)];

/** A shape's vertices for Leaflet. */
export function latLngsOf(f: GeoFeature): ShapeLatLngs {
  const g = f.geometry;
  if (!g || !Array.isArray(g.coordinates)) return [];
  if (g.type === 'LineString') return (g.coordinates as unknown[]).map(toLatLng);
  if (g.type === 'Polygon') return (g.coordinates as unknown[][]).map((ring) => ring.slice(0, -1).map(toLatLng));
  return [];
}
export const isRings = (ll: ShapeLatLngs): ll is LatLng[][] => Array.isArray(ll[0]?.[0]);
/** The outer ring of a polygon, the points of a wall. */
export const outerOf = (ll: ShapeLatLngs): LatLng[] => (isRings(ll) ? (ll[0] ?? []) : (ll as LatLng[]));

/** The shape with new vertices (rings closed again for GeoJSON). */
export function withLatLngs(f: GeoFeature, ll: ShapeLatLngs): GeoFeature {
  const geometry = isWall(f)
    ? { type: 'LineString', coordinates: outerOf(ll).map(toPosition) }
    : { type: 'Polygon', coordinates: (isRings(ll) ? ll : [ll as LatLng[]]).map((r) => [...r.map(toPosition), toPosition(r[0]!)]) };
  return { ...f, geometry };
}

export function sameLatLngs(a: ShapeLatLngs, b: ShapeLatLngs): boolean {
  const fa = (a as unknown[]).flat(1) as LatLng[], fb = (b as unknown[]).flat(1) as LatLng[];
  return isRings(a) === isRings(b) && fa.length === fb.length && fa.every((p, i) => Math.abs(p[0] - fb[i]![0]) < 1e-8 && Math.abs(p[1] - fb[i]![1]) < 1e-8);
}

/** Without the vertex at `path`, or null when the shape would drop below its fewest vertices. */
export function withoutVertex(f: GeoFeature, path: VertexPath): GeoFeature | null {
  const ll = latLngsOf(f);
  if (isRings(ll)) {
    const [r = 0, i = -1] = path.length > 1 ? path : [0, path[0]!];
    const ring = ll[r];
    if (!ring || i < 0 || i >= ring.length || ring.length - 1 < minVertices(f)) return null;
    return withLatLngs(f, ll.map((x, k) => (k === r ? x.filter((_, j) => j !== i) : x)));
  }
  const i = path[path.length - 1] ?? -1;
  if (i < 0 || i >= ll.length || ll.length - 1 < minVertices(f)) return null;
  return withLatLngs(f, (ll as LatLng[]).filter((_, j) => j !== i));
}

/** A new id the server accepts (`[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}`), unique within the plan. */
export function newId(features: GeoFeature[]): string {
  const ids = new Set(features.map((f) => String(f.id)));
  for (;;) {
    const id = `drawn-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
    if (!ids.has(id)) return id;
  }
}

/** What the property form edits; `thickness` as typed (metres, empty = none). */
export interface ShapeProps { kind: ShapeKind; name: string; type: string; level: DensityLevel; thickness: string }

export function propsOf(f: GeoFeature): ShapeProps {
  const p = f.properties ?? {};
  const def = keyAreaTypeDef(p.keyAreaType) ?? DEFAULT_TYPE;
  return {
    kind: kindOf(f) ?? 'key-area',
    name: typeof p.name === 'string' ? p.name : '',
    type: def.type,
    level: typeof p.requiredLevel === 'string' ? (p.requiredLevel as DensityLevel) : def.requiredLevel,
    thickness: typeof p.thicknessM === 'number' ? String(p.thicknessM) : '',
  };
}

/** A wall's thickness as the server takes it (0–10 m), undefined for none, NaN when it is not one. */
export function thicknessOf(s: string): number | undefined {
  if (s.trim() === '') return undefined;
  const n = Number(s);
  return Number.isFinite(n) && n >= 0 && n <= 10 ? n : Number.NaN;
}

/**
 * Properties for a drawn shape's form values. A key area's level counts as the policy's
 * (`levelFromPolicy`, not sent) when it is the pack's level for its type, as the collector marks it.
 */
export function propertiesFor(v: ShapeProps, defaultName: string): Record<string, unknown> {
  const name = v.name.trim() || defaultName;
  if (v.kind === 'key-area') {
    const def = keyAreaTypeDef(v.type) ?? DEFAULT_TYPE;
    return { kind: 'key-area', name, keyAreaType: def.type, requiredLevel: v.level, ...(v.level === def.requiredLevel ? { levelFromPolicy: true } : {}) };
  }
  if (v.kind === 'wall') {
    const th = thicknessOf(v.thickness);
    return { kind: 'wall', name, ...(th !== undefined && !Number.isNaN(th) ? { thicknessM: th } : {}) };
  }
  return { kind: v.kind, name };
}

/** One field of an existing shape changed in its form: only that field is rewritten. */
export function withProps(f: GeoFeature, patch: Partial<ShapeProps>): GeoFeature {
  const cur = propsOf(f);
  const p: Record<string, unknown> = { ...(f.properties ?? {}) };
  if (patch.kind && patch.kind !== cur.kind) {
    const next = { ...cur, kind: patch.kind, type: cur.type, level: (keyAreaTypeDef(cur.type) ?? DEFAULT_TYPE).requiredLevel };
    return { ...f, properties: propertiesFor(next, cur.name) };
  }
  if (patch.name !== undefined) p.name = patch.name;
  let level = cur.level;
  if (patch.type !== undefined && patch.type !== cur.type) {
    // another type: its level is the policy's again
    const def = keyAreaTypeDef(patch.type) ?? DEFAULT_TYPE;
    Object.assign(p, { keyAreaType: def.type, requiredLevel: def.requiredLevel, levelFromPolicy: true });
    level = def.requiredLevel;
  }
  if (patch.level !== undefined && patch.level !== level) {
    p.requiredLevel = patch.level;
    delete p.levelFromPolicy;
  }
  if (patch.thickness !== undefined) {
    const th = thicknessOf(patch.thickness);
    if (th === undefined) delete p.thicknessM;
    else if (!Number.isNaN(th)) p.thicknessM = th;
  }
  return { ...f, properties: p };
}

// ---- which shape a click is on (in screen pixels, so that a wall can be hit within a few pixels) ----

export interface XY { x: number; y: number }

function segmentDistance(p: XY, a: XY, b: XY): number {
  const dx = b.x - a.x, dy = b.y - a.y;
  const len2 = dx * dx + dy * dy;
  const t = len2 === 0 ? 0 : Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / len2));
  return Math.hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}
function inRing(p: XY, ring: XY[]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const a = ring[i]!, b = ring[j]!;
    if (a.y > p.y !== b.y > p.y && p.x < ((b.x - a.x) * (p.y - a.y)) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}
const ringArea = (r: XY[]) => Math.abs(r.reduce((s, p, i) => s + p.x * r[(i + 1) % r.length]!.y - r[(i + 1) % r.length]!.x * p.y, 0)) / 2;

/**
 * The shape under a click: a wall or the outline's edge within `tolPx` (the outline is a boundary, a
 * click inside the campus is not on it), else the smallest building or key area around the point.
 */
export function shapeAt(features: GeoFeature[], click: XY, project: (ll: LatLng) => XY, tolPx: number): GeoFeature | null {
  let best: { f: GeoFeature; d: number } | null = null;
  for (const f of features) {
    const k = kindOf(f);
    if (k !== 'wall' && k !== 'outline') continue;
    const pts = outerOf(latLngsOf(f)).map(project);
    if (k === 'outline' && pts.length) pts.push(pts[0]!);
    for (let i = 0; i + 1 < pts.length; i++) {
      const d = segmentDistance(click, pts[i]!, pts[i + 1]!);
      if (d <= tolPx && (!best || d < best.d)) best = { f, d };
    }
  }
  if (best) return best.f;
  let inside: { f: GeoFeature; area: number } | null = null;
  for (const f of features) {
    const k = kindOf(f);
    if (k !== 'building' && k !== 'key-area') continue;
    const ll = latLngsOf(f);
    if (!isRings(ll) || !ll[0]) continue;
    const [outer, ...holes] = ll.map((r) => r.map(project));
    if (!inRing(click, outer!) || holes.some((h) => inRing(click, h))) continue;
    const area = ringArea(outer!);
    if (!inside || area < inside.area) inside = { f, area };
  }
  return inside?.f ?? null;
}

/** The shape id in an INVALID_GEOMETRY refusal (`details.subject` is `key-area "gate-1"`), and the problem. */
export function refusedShape(details: unknown): { id: string; problem: string } | null {
  const d = details as { subject?: unknown; problem?: unknown } | null | undefined;
  const m = typeof d?.subject === 'string' ? /"(.+)"\s*$/.exec(d.subject) : null;
  return m ? { id: m[1]!, problem: typeof d?.problem === 'string' ? d.problem : '' } : null;
}
