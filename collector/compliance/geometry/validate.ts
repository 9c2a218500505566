/**
 * Input checks for the coverage geometry. A bad polygon is refused with an error that names the
 * area (or obstacle / camera) and the problem, never silently "repaired": a self-intersecting key
 * area would give a meaningless coverage figure.
 */
import type { Camera, KeyArea, Obstacle, Point, Polygon, Ring } from './types.ts';
import { DENSITY_LEVELS, KEY_AREA_TYPES } from './types.ts';
import { dedupeRing, pointInRing, segmentsIntersect, signedArea } from './util.ts';

export type GeometryProblem =
  | 'not-finite'
  | 'too-few-points'
  | 'zero-area'
  | 'self-intersecting'
  | 'hole-outside'
  | 'bad-camera'
  | 'bad-key-area';

export class GeometryError extends Error {
  constructor(
    /** What was refused, e.g. `key area "gate-1"`. */
    readonly subject: string,
    readonly problem: GeometryProblem,
    detail: string,
  ) {
    super(`${subject}: ${detail}`);
    this.name = 'GeometryError';
  }
}

/** Below this (m²) a ring counts as having no area: a millimetre-wide sliver of a 1 km line. */
export const MIN_RING_AREA_M2 = 1e-6;

const fmt = (p: Point): string => `(${+p.x.toFixed(3)}, ${+p.y.toFixed(3)})`;

/** Checks one ring; returns it without duplicate points. */
export function validateRing(ring: Ring, subject: string, which = 'outer ring'): Ring {
  if (!Array.isArray(ring)) throw new GeometryError(subject, 'too-few-points', `${which} is not an array of points`);
  ring.forEach((p, i) => {
    if (!p || !Number.isFinite(p.x) || !Number.isFinite(p.y))
      throw new GeometryError(subject, 'not-finite', `${which} point ${i} has a non-finite coordinate (${p?.x}, ${p?.y})`);
  });
  const r = dedupeRing(ring);
  if (r.length < 3) throw new GeometryError(subject, 'too-few-points', `${which} has ${r.length} distinct point(s), at least 3 are needed`);
  // All points on one line: zero area (reported as such, not as the overlap of its edges).
  const p0 = r[0] as Point;
  let far = p0, farD = 0;
  for (const q of r) {
    const d = Math.hypot(q.x - p0.x, q.y - p0.y);
    if (d > farD) {
      far = q;
      farD = d;
    }
  }
  const off = Math.max(...r.map((q) => Math.abs((far.x - p0.x) * (q.y - p0.y) - (far.y - p0.y) * (q.x - p0.x)) / farD));
  if (!(off > 1e-9)) throw new GeometryError(subject, 'zero-area', `${which} has zero area (all points on one line)`);
  const n = r.length;
  for (let i = 0; i < n; i++) {
    const a1 = r[i] as Point, a2 = r[(i + 1) % n] as Point;
    for (let j = i + 1; j < n; j++) {
      const b1 = r[j] as Point, b2 = r[(j + 1) % n] as Point;
      const adjacent = j === i + 1 || (i === 0 && j === n - 1);
      const hit = segmentsIntersect(a1, a2, b1, b2);
      if (!hit) continue;
      if (adjacent) {
        // Neighbours share one vertex; they may not fold back over each other.
        const shared = j === i + 1 ? a2 : a1;
        const other = j === i + 1 ? b2 : b1;
        const mine = j === i + 1 ? a1 : a2;
        const cr = (mine.x - shared.x) * (other.y - shared.y) - (mine.y - shared.y) * (other.x - shared.x);
        const dot = (mine.x - shared.x) * (other.x - shared.x) + (mine.y - shared.y) * (other.y - shared.y);
        if (cr === 0 && dot > 0)
          throw new GeometryError(subject, 'self-intersecting', `${which} folds back on itself at point ${fmt(shared)}`);
        continue;
      }
      throw new GeometryError(
        subject,
        'self-intersecting',
        `${which} is self-intersecting: edge ${i}–${(i + 1) % n} meets edge ${j}–${(j + 1) % n} at ${fmt(hit)}`,
      );
    }
  }
  if (!(Math.abs(signedArea(r)) > MIN_RING_AREA_M2)) throw new GeometryError(subject, 'zero-area', `${which} has zero area`);
  return r;
}

/** Checks a polygon (outer ring, holes inside it); returns a cleaned copy. */
export function validatePolygon(p: Polygon, subject: string): Polygon {
  if (!p || typeof p !== 'object') throw new GeometryError(subject, 'too-few-points', 'no polygon');
  const outer = validateRing(p.outer, subject);
  const holes = (p.holes ?? []).map((h, i) => {
    const r = validateRing(h, subject, `hole ${i}`);
    const out = r.find((q) => !pointInRing(q, outer));
    if (out) throw new GeometryError(subject, 'hole-outside', `hole ${i} reaches outside the outer ring at ${fmt(out)}`);
    return r;
  });
  return { outer, holes };
}

export function validateKeyArea(k: KeyArea): KeyArea {
  const subject = `key area "${k?.id}"`;
  if (!k || typeof k.id !== 'string' || !k.id) throw new GeometryError('key area', 'bad-key-area', 'needs an id');
  if (!(k.type in KEY_AREA_TYPES)) throw new GeometryError(subject, 'bad-key-area', `unknown type "${k.type}"`);
  if (!DENSITY_LEVELS.includes(k.requiredLevel)) throw new GeometryError(subject, 'bad-key-area', `unknown density level "${k.requiredLevel}"`);
  return { ...k, polygon: validatePolygon(k.polygon, subject) };
}

export function validateObstacle(o: Obstacle): Obstacle {
  const subject = `obstacle "${o?.id}"`;
  if (o.kind === 'building') return { ...o, polygon: validatePolygon(o.polygon, subject) };
  for (const [name, p] of [['a', o.a], ['b', o.b]] as const)
    if (!p || !Number.isFinite(p.x) || !Number.isFinite(p.y)) throw new GeometryError(subject, 'not-finite', `wall end ${name} is not a finite point`);
  if (o.a.x === o.b.x && o.a.y === o.b.y) throw new GeometryError(subject, 'too-few-points', 'wall has zero length');
  if (o.thicknessM !== undefined && !(Number.isFinite(o.thicknessM) && o.thicknessM >= 0))
    throw new GeometryError(subject, 'not-finite', `wall thickness ${o.thicknessM} is not a non-negative number`);
  return o;
}

export function validateCamera(c: Camera): Camera {
  const subject = `camera "${c?.id}"`;
  const bad = (d: string): never => {
    throw new GeometryError(subject, 'bad-camera', d);
  };
  for (const k of ['x', 'y', 'headingDeg', 'horizontalPixels'] as const) if (!Number.isFinite(c[k])) bad(`${k} is not a finite number`);
  if (!(c.horizontalPixels > 0)) bad('horizontalPixels must be positive');
  if ('hfovDeg' in c) {
    if (!(c.hfovDeg > 0 && c.hfovDeg <= 360)) bad(`hfovDeg ${c.hfovDeg} is outside (0, 360]`);
  } else if (!(c.focalLengthMm > 0 && c.sensorWidthMm > 0)) bad('focalLengthMm and sensorWidthMm must be positive');
  if (c.mountHeightM !== undefined && !(c.mountHeightM >= 0 && Number.isFinite(c.mountHeightM))) bad('mountHeightM must be ≥ 0');
  if (c.tiltDeg !== undefined && !(c.tiltDeg >= -90 && c.tiltDeg <= 90)) bad('tiltDeg must be within [-90, 90]');
  if (c.verticalPixels !== undefined && !(c.verticalPixels > 0)) bad('verticalPixels must be positive');
  return c;
}
