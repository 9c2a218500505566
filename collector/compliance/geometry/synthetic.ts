/**
 * Seeded random campuses for the sampler comparison and the bench: buildings (some rotated, some
 * with a courtyard), walls, key areas of GB/T 29315 types with required levels, cameras with mixed
 * optics, resolutions, mounting and status. Pure: everything comes from the rng passed in.
 */
import type { Camera, DensityLevel, KeyArea, KeyAreaType, Obstacle, Point, Ring } from './types.ts';

export interface SyntheticCampus {
  width: number;
  height: number;
  obstacles: Obstacle[];
  areas: KeyArea[];
  cameras: Camera[];
}

export interface SyntheticOptions {
  cameras?: number;
  areas?: number;
  buildings?: number;
  walls?: number;
  width?: number;
  height?: number;
  /** Share of cameras that are offline / online but unhealthy. */
  offline?: number;
  unhealthy?: number;
}

const TYPES: [KeyAreaType, DensityLevel][] = [
  ['gate-outside', 'recognise'],
  ['main-entrance', 'identify'],
  ['gatehouse', 'observe'],
  ['outdoor-gathering', 'detect'],
  ['outdoor-gathering', 'monitor'],
  ['teaching-corridor', 'observe'],
  ['dormitory-entrance', 'recognise'],
  ['kitchen', 'observe'],
  ['hazardous-lab', 'observe'],
  ['perimeter', 'detect'],
  ['finance-room', 'recognise'],
  ['library', 'detect'],
];

function rect(cx: number, cy: number, w: number, h: number, rotRad: number): Ring {
  const c = Math.cos(rotRad), s = Math.sin(rotRad);
  return [
    [-w / 2, -h / 2],
    [w / 2, -h / 2],
    [w / 2, h / 2],
    [-w / 2, h / 2],
  ].map(([x, y]) => ({ x: cx + (x as number) * c - (y as number) * s, y: cy + (x as number) * s + (y as number) * c }));
}

export function syntheticCampus(rng: () => number, o: SyntheticOptions = {}): SyntheticCampus {
  const W = o.width ?? 300, H = o.height ?? 250;
  const between = (a: number, b: number): number => a + rng() * (b - a);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;
  const obstacles: Obstacle[] = [];
  const nb = o.buildings ?? 6;
  for (let i = 0; i < nb; i++) {
    const cx = between(20, W - 20), cy = between(20, H - 20), w = between(12, 50), h = between(10, 35);
    const rot = rng() < 0.5 ? 0 : between(0, Math.PI);
    const holes = w > 35 && h > 25 && rng() < 0.5 ? [rect(cx, cy, w / 3, h / 3, rot).reverse()] : [];
    obstacles.push({ kind: 'building', id: `b${i}`, polygon: { outer: rect(cx, cy, w, h, rot), holes } });
  }
  for (let i = 0; i < (o.walls ?? 3); i++) {
    const a: Point = { x: between(0, W), y: between(0, H) };
    const ang = between(0, 2 * Math.PI), len = between(10, 60);
    obstacles.push({ kind: 'wall', id: `w${i}`, a, b: { x: a.x + len * Math.cos(ang), y: a.y + len * Math.sin(ang) }, thicknessM: rng() < 0.5 ? 0 : between(0.2, 0.5) });
  }
  const areas: KeyArea[] = [];
  for (let i = 0; i < (o.areas ?? 10); i++) {
    const [type, requiredLevel] = pick(TYPES);
    const big = requiredLevel === 'monitor' || requiredLevel === 'detect';
    const w = big ? between(20, 70) : between(3, 15), h = big ? between(15, 50) : between(3, 12);
    const cx = between(w / 2, W - w / 2), cy = between(h / 2, H - h / 2), rot = rng() < 0.6 ? 0 : between(0, Math.PI);
    const holes = big && rng() < 0.3 ? [rect(cx, cy, w / 4, h / 4, rot)] : [];
    areas.push({ id: `a${i}`, type, requiredLevel, polygon: { outer: rect(cx, cy, w, h, rot), holes } });
  }
  const cameras: Camera[] = [];
  const nc = o.cameras ?? 10;
  for (let i = 0; i < nc; i++) {
    // Half the cameras look at a key area from a few metres away, the rest are placed at random.
    let x: number, y: number, heading: number;
    const target = areas.length && rng() < 0.5 ? pick(areas) : null;
    if (target) {
      const t = target.polygon.outer.reduce((s, p) => ({ x: s.x + p.x / 4, y: s.y + p.y / 4 }), { x: 0, y: 0 });
      const ang = between(0, 2 * Math.PI), d = between(3, 25);
      x = t.x + d * Math.sin(ang);
      y = t.y + d * Math.cos(ang);
      heading = ((Math.atan2(t.x - x, t.y - y) * 180) / Math.PI + between(-15, 15) + 360) % 360;
    } else {
      x = between(0, W);
      y = between(0, H);
      heading = between(0, 360);
    }
    const optics = rng() < 0.5 ? { hfovDeg: between(30, 110) } : { focalLengthMm: pick([2.8, 4, 6, 8, 12]), sensorWidthMm: pick([4.8, 5.37, 6.4]) };
    const mounted = rng() < 0.4 ? { mountHeightM: between(2.5, 6), tiltDeg: between(5, 40) } : {};
    const u = rng();
    cameras.push({
      id: `c${i}`,
      x,
      y,
      headingDeg: heading,
      horizontalPixels: pick([1280, 1920, 2560, 3840]),
      ...optics,
      ...mounted,
      online: u >= (o.offline ?? 0.1),
      healthy: u < (o.offline ?? 0.1) || rng() >= (o.unhealthy ?? 0.1),
    });
  }
  return { width: W, height: H, obstacles, areas, cameras };
}
