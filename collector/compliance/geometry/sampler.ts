/**
 * Brute-force coverage estimate, independent of the polygon code: points drawn in a key area, each
 * tested against every camera (range for the level from the REFERENCE.md formulas, field-of-view
 * angle, line of sight against every obstacle edge). Used to check the polygon results and, in the
 * bench, as the naïve alternative. No clipping library, no visibility polygons.
 */
import type { Camera, DensityLevel, KeyArea, Obstacle, Point, Segment } from './types.ts';
import { ANY_LEVEL } from './types.ts';
import { MOUNT_TOLERANCE_M, cameraHfovDeg, groundRange, obstacleSegments } from './camera-view.ts';

/** Seeded PRNG (mulberry32): the same seed gives the same campus and the same samples. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function inRing(p: Point, ring: readonly Point[]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const a = ring[i] as Point, b = ring[j] as Point;
    if (a.y > p.y !== b.y > p.y && p.x < ((b.x - a.x) * (p.y - a.y)) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

function orient(a: Point, b: Point, c: Point): number {
  return Math.sign((b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x));
}

/** Does the sight line p→q cross segment s (touching counts as blocked)? */
function blocks(p: Point, q: Point, s: Segment): boolean {
  const o1 = orient(p, q, s.a), o2 = orient(p, q, s.b), o3 = orient(s.a, s.b, p), o4 = orient(s.a, s.b, q);
  return o1 !== o2 && o3 !== o4 && !(o1 === 0 && o2 === 0);
}

function distToSegment(p: Point, s: Segment): number {
  const dx = s.b.x - s.a.x, dy = s.b.y - s.a.y;
  const l2 = dx * dx + dy * dy;
  const t = l2 ? Math.max(0, Math.min(1, ((p.x - s.a.x) * dx + (p.y - s.a.y) * dy) / l2)) : 0;
  return Math.hypot(p.x - s.a.x - t * dx, p.y - s.a.y - t * dy);
}

interface PreparedCamera {
  c: Camera;
  halfFov: number;
  full: boolean;
  heading: number;
  ranges: Map<DensityLevel, { near: number; far: number } | null>;
  segs: Segment[];
}

function prepare(cameras: readonly Camera[], segments: Segment[], levels: DensityLevel[]): PreparedCamera[] {
  return cameras.map((c) => {
    const hfov = cameraHfovDeg(c);
    const ranges = new Map(levels.map((l) => [l, groundRange(c, l)] as const));
    const reach = Math.max(0, ...[...ranges.values()].map((r) => r?.far ?? 0));
    const segs = segments.filter((s) => {
      const d = distToSegment(c, s);
      return d > MOUNT_TOLERANCE_M && d <= reach;
    });
    return { c, halfFov: (Math.min(hfov, 360) * Math.PI) / 360, full: hfov >= 360, heading: (c.headingDeg * Math.PI) / 180, ranges, segs };
  });
}

function sees(pc: PreparedCamera, level: DensityLevel, p: Point): boolean {
  const r = pc.ranges.get(level);
  if (!r) return false;
  const d = Math.hypot(p.x - pc.c.x, p.y - pc.c.y);
  if (d > r.far || d < r.near) return false;
  if (!pc.full) {
    let diff = Math.abs(Math.atan2(p.x - pc.c.x, p.y - pc.c.y) - pc.heading) % (2 * Math.PI);
    if (diff > Math.PI) diff = 2 * Math.PI - diff;
    if (diff > pc.halfFov) return false;
  }
  for (const s of pc.segs) if (blocks(pc.c, p, s)) return false;
  return true;
}

export interface SampleOptions {
  /** Random points (iid) in the area; or, with `stratified`, cells of a jittered grid over its box. */
  samples: number;
  rng: () => number;
  /** Jittered-grid sampling: far less variance for the same count (error ~ n^-3/4 instead of n^-1/2). */
  stratified?: boolean;
}

export interface SampledCoverage {
  coveredShare: number;
  anyShare: number;
  ifAllHealthyShare: number;
  /** Points that fell inside the area. */
  points: number;
}

/** Estimates the three coverage shares of one key area. */
export function sampleAreaCoverage(
  area: KeyArea,
  cameras: readonly Camera[],
  obstacles: readonly Obstacle[],
  opts: SampleOptions,
): SampledCoverage {
  const segs = obstacleSegments(obstacles);
  const level = area.requiredLevel;
  const prepared = prepare(cameras, segs, [level, ANY_LEVEL]);
  const outer = area.polygon.outer;
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const p of outer) {
    minX = Math.min(minX, p.x);
    maxX = Math.max(maxX, p.x);
    minY = Math.min(minY, p.y);
    maxY = Math.max(maxY, p.y);
  }
  const inside = (p: Point): boolean => inRing(p, outer) && !area.polygon.holes.some((h) => inRing(p, h));
  let n = 0, cov = 0, any = 0, all = 0;
  const test = (p: Point): void => {
    if (!inside(p)) return;
    n++;
    let c1 = false, c2 = false, c3 = false;
    for (const pc of prepared) {
      const active = pc.c.online && pc.c.healthy;
      if ((!c3 || (!c1 && active)) && sees(pc, level, p)) {
        c3 = true;
        if (active) c1 = true;
      }
      if (!c2 && pc.c.online && sees(pc, ANY_LEVEL, p)) c2 = true;
      if (c1 && c2 && c3) break;
    }
    if (c1) cov++;
    if (c2) any++;
    if (c3) all++;
  };
  const w = maxX - minX, h = maxY - minY;
  if (opts.stratified) {
    const k = Math.max(1, Math.round(Math.sqrt(opts.samples)));
    for (let i = 0; i < k; i++)
      for (let j = 0; j < k; j++) test({ x: minX + ((i + opts.rng()) / k) * w, y: minY + ((j + opts.rng()) / k) * h });
  } else {
    let tries = 0;
    while (n < opts.samples && tries++ < opts.samples * 1000) test({ x: minX + opts.rng() * w, y: minY + opts.rng() * h });
  }
  return n ? { coveredShare: cov / n, anyShare: any / n, ifAllHealthyShare: all / n, points: n } : { coveredShare: 0, anyShare: 0, ifAllHealthyShare: 0, points: 0 };
}
