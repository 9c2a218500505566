/** Small planar helpers shared by the geometry modules (no polygon clipping here). */
import type { Point, Polygon, Ring, Segment } from './types.ts';

export interface BBox {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

/** Shoelace area; positive for counter-clockwise rings (x east, y north). */
export function signedArea(ring: Ring): number {
  let s = 0;
  const n = ring.length;
  for (let i = 0; i < n; i++) {
    const p = ring[i] as Point;
    const q = ring[(i + 1) % n] as Point;
    s += p.x * q.y - q.x * p.y;
  }
  return s / 2;
}

/** Area of a polygon: outer minus holes. */
export function polygonArea(p: Polygon): number {
  return Math.abs(signedArea(p.outer)) - p.holes.reduce((s, h) => s + Math.abs(signedArea(h)), 0);
}

/** Even-odd point-in-ring test (a point exactly on the boundary may go either way). */
export function pointInRing(pt: Point, ring: Ring): boolean {
  let inside = false;
  const n = ring.length;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const a = ring[i] as Point;
    const b = ring[j] as Point;
    if (a.y > pt.y !== b.y > pt.y && pt.x < ((b.x - a.x) * (pt.y - a.y)) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

export function pointInPolygon(pt: Point, p: Polygon): boolean {
  return pointInRing(pt, p.outer) && !p.holes.some((h) => pointInRing(pt, h));
}

export function ringBBox(ring: Ring): BBox {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const p of ring) {
    if (p.x < minX) minX = p.x;
    if (p.y < minY) minY = p.y;
    if (p.x > maxX) maxX = p.x;
    if (p.y > maxY) maxY = p.y;
  }
  return { minX, minY, maxX, maxY };
}

export function bboxOverlap(a: BBox, b: BBox): boolean {
  return a.minX <= b.maxX && b.minX <= a.maxX && a.minY <= b.maxY && b.minY <= a.maxY;
}

export function cross(o: Point, a: Point, b: Point): number {
  return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

/** Distance from p to the segment ab. */
export function pointSegmentDistance(p: Point, a: Point, b: Point): number {
  const dx = b.x - a.x, dy = b.y - a.y;
  const l2 = dx * dx + dy * dy;
  const t = l2 === 0 ? 0 : Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / l2));
  return Math.hypot(p.x - (a.x + t * dx), p.y - (a.y + t * dy));
}

/**
 * Whether the closed segments p1p2 and p3p4 share a point (crossing, touching or overlapping).
 * Returns the shared point (one of them) or null.
 */
export function segmentsIntersect(p1: Point, p2: Point, p3: Point, p4: Point): Point | null {
  const d1 = cross(p3, p4, p1), d2 = cross(p3, p4, p2), d3 = cross(p1, p2, p3), d4 = cross(p1, p2, p4);
  if (((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))) {
    const t = d1 / (d1 - d2);
    return { x: p1.x + t * (p2.x - p1.x), y: p1.y + t * (p2.y - p1.y) };
  }
  const on = (a: Point, b: Point, c: Point): boolean =>
    Math.min(a.x, b.x) <= c.x && c.x <= Math.max(a.x, b.x) && Math.min(a.y, b.y) <= c.y && c.y <= Math.max(a.y, b.y);
  if (d1 === 0 && on(p3, p4, p1)) return p1;
  if (d2 === 0 && on(p3, p4, p2)) return p2;
  if (d3 === 0 && on(p1, p2, p3)) return p3;
  if (d4 === 0 && on(p1, p2, p4)) return p4;
  return null;
}

/** The blocking segments of a ring (closing edge included). */
export function ringSegments(ring: Ring): Segment[] {
  const out: Segment[] = [];
  for (let i = 0; i < ring.length; i++) out.push({ a: ring[i] as Point, b: ring[(i + 1) % ring.length] as Point });
  return out;
}

/** A copy with consecutive duplicates and a repeated closing point removed. */
export function dedupeRing(ring: Ring): Ring {
  const out: Ring = [];
  for (const p of ring) {
    const last = out[out.length - 1];
    if (!last || last.x !== p.x || last.y !== p.y) out.push(p);
  }
  while (out.length > 1) {
    const first = out[0] as Point, last = out[out.length - 1] as Point;
    if (first.x === last.x && first.y === last.y) out.pop();
    else break;
  }
  return out;
}

export const DEG = Math.PI / 180;

/** Point at a bearing (radians, 0 = north, clockwise) and distance from an origin. */
export function atBearing(o: Point, bearingRad: number, dist: number): Point {
  return { x: o.x + dist * Math.sin(bearingRad), y: o.y + dist * Math.cos(bearingRad) };
}

/** Bearing of b seen from a, radians in [0, 2π), 0 = north, clockwise. */
export function bearingOf(a: Point, b: Point): number {
  const t = Math.atan2(b.x - a.x, b.y - a.y);
  return t < 0 ? t + 2 * Math.PI : t;
}

/** Smallest absolute difference of two angles, radians, in [0, π]. */
export function angleDiff(a: number, b: number): number {
  const d = Math.abs(a - b) % (2 * Math.PI);
  return d > Math.PI ? 2 * Math.PI - d : d;
}
