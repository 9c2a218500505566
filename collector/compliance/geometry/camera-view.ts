/**
 * What one camera sees on the ground plan: the circular sector of its horizontal field of view out
 * to the distance at which a pixel-density level still holds (REFERENCE.md, EN/IEC 62676-4), cut by
 * obstacles (visibility polygon by angular ray casting) and, where mount height and tilt are known,
 * without the blind zone under the camera.
 *
 * Views are returned as rings in Clipper2's convention (outer counter-clockwise, holes clockwise,
 * NonZero fill), ready to be unioned: `Ring[]`, empty when the camera sees nothing at that level.
 */
import { FillRule, differenceD } from 'clipper2-ts';
import type { Camera, DensityLevel, Obstacle, Point, Ring, Segment } from './types.ts';
import { PPM_LEVELS } from './types.ts';
import { DEG, atBearing, bearingOf, pointSegmentDistance, ringSegments, signedArea } from './util.ts';

/** Decimal places Clipper2 keeps: 3 = millimetres, plenty for a campus plan. */
export const CLIP_PRECISION = 3;

/**
 * Largest angle (degrees) between two arc vertices. An inscribed polygon over a chord of angle δ
 * loses 1 − sin δ/δ of the sector's area: 3° → 0.046 %, under the 0.1 % we allow.
 */
export const MAX_ARC_STEP_DEG = 3;

/** Relative area lost by polygonising an arc with chords of `stepDeg` degrees. */
export function arcAreaError(stepDeg: number): number {
  const d = stepDeg * DEG;
  return 1 - Math.sin(d) / d;
}

/**
 * A camera mounted on a wall sits on (or within a few centimetres of) that wall's line; the wall
 * must not hide everything from it. Obstacle edges closer than this to the camera are ignored for
 * that camera. Place façade cameras on the side they look at.
 */
export const MOUNT_TOLERANCE_M = 0.05;

/** Vertical/horizontal aspect assumed when the stream's vertical resolution is unknown (16:9). */
export const DEFAULT_ASPECT = 9 / 16;

/** HFOV in degrees from focal length and sensor width: 2·atan(w / 2f). */
export function hfovFromLens(focalLengthMm: number, sensorWidthMm: number): number {
  return (2 * Math.atan(sensorWidthMm / (2 * focalLengthMm))) / DEG;
}

export function cameraHfovDeg(c: Camera): number {
  return 'hfovDeg' in c ? c.hfovDeg : hfovFromLens(c.focalLengthMm, c.sensorWidthMm);
}

/** Vertical FOV from the horizontal one and the image aspect (rectilinear lens). */
export function cameraVfovDeg(c: Camera): number {
  const h = cameraHfovDeg(c);
  if (h >= 180) return 180;
  const aspect = c.verticalPixels ? c.verticalPixels / c.horizontalPixels : DEFAULT_ASPECT;
  return (2 * Math.atan(Math.tan((h * DEG) / 2) * aspect)) / DEG;
}

/** Pixel density (px/m) at distance d: horizontalPixels / (2·d·tan(HFOV/2)). */
export function ppmAt(horizontalPixels: number, hfovDeg: number, d: number): number {
  return horizontalPixels / (2 * d * Math.tan((hfovDeg * DEG) / 2));
}

/**
 * Furthest distance (metres, along the line of sight) at which `ppm` still holds:
 * horizontalPixels / (2·tan(HFOV/2)·ppm). For HFOV ≥ 180° (fisheye) the rectilinear formula has no
 * meaning; we use the equidistant-fisheye density, pixels per radian over the distance:
 * horizontalPixels / (HFOV_rad · d).
 */
export function dMax(horizontalPixels: number, hfovDeg: number, ppm: number): number {
  if (hfovDeg >= 180) return horizontalPixels / (hfovDeg * DEG * ppm);
  return horizontalPixels / (2 * Math.tan((hfovDeg * DEG) / 2) * ppm);
}

/**
 * Ground distances (from the point under the camera) between which a level holds.
 * - far: d_max for the level; with a mount height h it is measured along the slant, so on the
 *   ground √(d_max² − h²); with a tilt t the top of the image meets the ground at h/tan(t − VFOV/2).
 * - near: with height and tilt, the bottom of the image meets the ground at h/tan(t + VFOV/2):
 *   nearer than that is the blind zone under the camera.
 * A tilted camera's footprint is really a trapezoid; we keep the annular sector (conservative at
 * the near corners, slightly generous at the far ones). Returns null when nothing is in range.
 */
export function groundRange(c: Camera, level: DensityLevel): { near: number; far: number } | null {
  const hfov = cameraHfovDeg(c);
  const slant = dMax(c.horizontalPixels, hfov, PPM_LEVELS[level]);
  const h = c.mountHeightM ?? 0;
  let far = h > 0 ? Math.sqrt(Math.max(0, slant * slant - h * h)) : slant;
  let near = 0;
  if (h > 0 && c.tiltDeg !== undefined) {
    const half = cameraVfovDeg(c) / 2;
    const low = c.tiltDeg + half;
    const high = c.tiltDeg - half;
    if (low < 90) near = h / Math.tan(low * DEG);
    if (high > 0) far = Math.min(far, h / Math.tan(high * DEG));
  }
  return far > near && far > 0 ? { near, far } : null;
}

/** Blocking segments of the obstacles: building outlines (and courtyards), walls (thick ones as rectangles). */
export function obstacleSegments(obstacles: readonly Obstacle[]): Segment[] {
  const out: Segment[] = [];
  for (const o of obstacles) {
    if (o.kind === 'building') {
      out.push(...ringSegments(o.polygon.outer));
      for (const h of o.polygon.holes) out.push(...ringSegments(h));
      continue;
    }
    const t = o.thicknessM ?? 0;
    if (t <= 0) {
      out.push({ a: o.a, b: o.b });
      continue;
    }
    const len = Math.hypot(o.b.x - o.a.x, o.b.y - o.a.y);
    const nx = (-(o.b.y - o.a.y) / len) * (t / 2), ny = ((o.b.x - o.a.x) / len) * (t / 2);
    out.push(
      ...ringSegments([
        { x: o.a.x + nx, y: o.a.y + ny },
        { x: o.b.x + nx, y: o.b.y + ny },
        { x: o.b.x - nx, y: o.b.y - ny },
        { x: o.a.x - nx, y: o.a.y - ny },
      ]),
    );
  }
  return out;
}

const TAU = 2 * Math.PI;
/** Rays are cast this far (radians) either side of an obstacle vertex, to see past its corner. */
const EPS_ANGLE = 1e-6;

/** Distance along the ray from o at bearing th to the nearest segment, capped at r. */
function castRay(o: Point, th: number, r: number, segs: readonly Segment[]): number {
  const dx = Math.sin(th), dy = Math.cos(th);
  let best = r;
  for (const s of segs) {
    const ex = s.b.x - s.a.x, ey = s.b.y - s.a.y;
    const den = dx * ey - dy * ex;
    if (den === 0) continue; // parallel: a grazing edge does not block
    const wx = s.a.x - o.x, wy = s.a.y - o.y;
    const t = (wx * ey - wy * ex) / den;
    if (t <= 0 || t >= best) continue;
    const u = (wx * dy - wy * dx) / den;
    if (u >= -1e-12 && u <= 1 + 1e-12) best = t;
  }
  return best;
}

/**
 * The region seen from `o` within bearings [startRad, startRad + spanRad] (clockwise) and radius r,
 * among blocking segments: an exact visibility polygon, except that arcs are polygonised with at
 * most MAX_ARC_STEP_DEG between vertices. Returned counter-clockwise. spanRad ≥ 2π = all round.
 */
export function visibilityRing(o: Point, startRad: number, spanRad: number, r: number, segments: readonly Segment[]): Ring {
  const full = spanRad >= TAU - 1e-12;
  const span = full ? TAU : spanRad;
  const segs = segments.filter((s) => {
    const d = pointSegmentDistance(o, s.a, s.b);
    return d <= r && d > MOUNT_TOLERANCE_M;
  });
  const rel: number[] = [];
  const add = (bearing: number, around: boolean): void => {
    let a = (bearing - startRad) % TAU;
    if (a < 0) a += TAU;
    for (const x of around ? [a - EPS_ANGLE, a, a + EPS_ANGLE] : [a]) if (x > 0 && x < span) rel.push(x);
  };
  const n = Math.max(1, Math.ceil(span / (MAX_ARC_STEP_DEG * DEG)));
  for (let i = 0; i <= n; i++) rel.push((span * i) / n);
  for (const s of segs) {
    for (const p of [s.a, s.b]) if (Math.hypot(p.x - o.x, p.y - o.y) <= r) add(bearingOf(o, p), true);
    // Where the segment crosses the range circle the boundary switches between arc and segment.
    const ex = s.b.x - s.a.x, ey = s.b.y - s.a.y, fx = s.a.x - o.x, fy = s.a.y - o.y;
    const A = ex * ex + ey * ey, B = 2 * (fx * ex + fy * ey), C = fx * fx + fy * fy - r * r;
    const disc = B * B - 4 * A * C;
    if (disc > 0) {
      for (const t of [(-B - Math.sqrt(disc)) / (2 * A), (-B + Math.sqrt(disc)) / (2 * A)])
        if (t > 0 && t < 1) add(bearingOf(o, { x: s.a.x + t * ex, y: s.a.y + t * ey }), true);
    }
  }
  // Crossing obstacle edges change which one is nearest.
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i] as Segment;
    for (let j = i + 1; j < segs.length; j++) {
      const q = segs[j] as Segment;
      const ex = s.b.x - s.a.x, ey = s.b.y - s.a.y, gx = q.b.x - q.a.x, gy = q.b.y - q.a.y;
      const den = ex * gy - ey * gx;
      if (den === 0) continue;
      const wx = q.a.x - s.a.x, wy = q.a.y - s.a.y;
      const t = (wx * gy - wy * gx) / den, u = (wx * ey - wy * ex) / den;
      if (t > 1e-9 && t < 1 - 1e-9 && u > 1e-9 && u < 1 - 1e-9) {
        const p = { x: s.a.x + t * ex, y: s.a.y + t * ey };
        if (Math.hypot(p.x - o.x, p.y - o.y) < r) add(bearingOf(o, p), true);
      }
    }
  }
  rel.sort((a, b) => a - b);
  const pts: Ring = [];
  let last = -1;
  for (const a of rel) {
    if (a - last < 1e-12) continue;
    last = a;
    if (full && a >= TAU - 1e-12) continue;
    const th = startRad + a;
    pts.push(atBearing(o, th, castRay(o, th, r, segs)));
  }
  const ring = full ? pts : [o, ...pts];
  return signedArea(ring) < 0 ? ring.reverse() : ring;
}

/** A circle polygonised like the arcs (at most MAX_ARC_STEP_DEG per chord), counter-clockwise. */
export function circleRing(o: Point, r: number): Ring {
  const n = Math.ceil(360 / MAX_ARC_STEP_DEG);
  const out: Ring = [];
  for (let i = 0; i < n; i++) out.push(atBearing(o, TAU - (TAU * i) / n, r));
  return out;
}

/**
 * The ground region where camera `c` sees at `level`, cut by `segments` (from obstacleSegments).
 * Status (online/healthy) is not looked at here: coverage decides which cameras count.
 */
export function cameraView(c: Camera, level: DensityLevel, segments: readonly Segment[] = []): Ring[] {
  const range = groundRange(c, level);
  if (!range) return [];
  const fov = Math.min(360, cameraHfovDeg(c)) * DEG;
  const start = c.headingDeg * DEG - fov / 2;
  const vis = visibilityRing({ x: c.x, y: c.y }, start, fov, range.far, segments);
  if (range.near <= 0) return [vis];
  return differenceD([vis], [circleRing({ x: c.x, y: c.y }, range.near)], FillRule.NonZero, CLIP_PRECISION);
}

/** Bounding box of a view (all levels' views of one camera lie within the widest one's box). */
export function viewBBox(rings: readonly Ring[]): { minX: number; minY: number; maxX: number; maxY: number } | null {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const r of rings)
    for (const p of r) {
      if (p.x < minX) minX = p.x;
      if (p.y < minY) minY = p.y;
      if (p.x > maxX) maxX = p.x;
      if (p.y > maxY) maxY = p.y;
    }
  return minX <= maxX ? { minX, minY, maxX, maxY } : null;
}
