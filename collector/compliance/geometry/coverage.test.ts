import { describe, expect, it } from 'vitest';
import type { Camera, KeyArea, Obstacle, Polygon } from './types.ts';
import { SchoolCoverage, computeSchoolCoverage } from './coverage.ts';
import { polygonArea, pointInPolygon } from './util.ts';

const square = (x0: number, y0: number, x1: number, y1: number): Polygon => ({
  outer: [
    { x: x0, y: y0 },
    { x: x1, y: y0 },
    { x: x1, y: y1 },
    { x: x0, y: y1 },
  ],
  holes: [],
});
// 1920 px over a 90° HFOV: d_max(monitor) = 1920 / (2·1·12.5) = 76.8 m, d_max(identify) = 3.84 m.
const cam = (over: Partial<Camera> = {}): Camera => ({ id: 'c1', x: 0, y: 0, headingDeg: 0, hfovDeg: 90, horizontalPixels: 1920, online: true, healthy: true, ...over }) as Camera;
const area = (polygon: Polygon, over: Partial<KeyArea> = {}): KeyArea => ({ id: 'gate', type: 'main-entrance', requiredLevel: 'monitor', polygon, ...over });

describe('coverage: hand-checked cases', () => {
  it('a square fully inside one sector is 100 % covered, no blind spot', () => {
    const r = computeSchoolCoverage({ areas: [area(square(-5, 20, 5, 30))], cameras: [cam()] });
    const a = r.areas[0]!;
    expect(a.coveredShare).toBeGreaterThan(0.99999);
    expect(a.anyShare).toBeGreaterThan(0.99999);
    expect(a.fullyCovered).toBe(true);
    expect(a.blindSpotM2).toBeLessThan(1e-3);
    expect(r.fullyCoveredShare).toBe(1);
  });

  it('a sector edge through the middle of the square covers exactly half', () => {
    // Heading 45°, HFOV 90°: the sector is the quadrant x ≥ 0, y ≥ 0; the square spans x ∈ [-10, 10].
    const r = computeSchoolCoverage({ areas: [area(square(-10, 5, 10, 25))], cameras: [cam({ headingDeg: 45 })] });
    const a = r.areas[0]!;
    expect(a.coveredShare).toBeCloseTo(0.5, 5);
    expect(a.fullyCovered).toBe(false);
    // The blind spot is the left half, in the same frame.
    expect(a.blindSpots).toHaveLength(1);
    expect(a.blindSpotM2).toBeCloseTo(200, 2);
    expect(pointInPolygon({ x: -5, y: 15 }, a.blindSpots[0]!)).toBe(true);
    expect(pointInPolygon({ x: 5, y: 15 }, a.blindSpots[0]!)).toBe(false);
  });

  it('two overlapping cameras are not counted twice', () => {
    // A covers x ≥ 0 (half), B at (-30, 15) covers y ≥ 15 (half); the union misses only x < 0, y < 15: 75 %.
    const a1 = cam({ id: 'A', headingDeg: 45 });
    const b1 = cam({ id: 'B', x: -30, y: 15, headingDeg: 45 });
    const r = computeSchoolCoverage({ areas: [area(square(-10, 5, 10, 25))], cameras: [a1, b1] });
    expect(r.areas[0]!.coveredShare).toBeCloseTo(0.75, 5);
    expect(r.areas[0]!.cameraIds).toEqual(['A', 'B']);
    // Two cameras both seeing the whole square: 100 %, not 200 %.
    const both = computeSchoolCoverage({ areas: [area(square(-5, 20, 5, 30))], cameras: [cam({ id: 'A' }), cam({ id: 'B', x: 1 })] });
    expect(both.areas[0]!.coveredShare).toBeLessThanOrEqual(1);
    expect(both.areas[0]!.coveredShare).toBeGreaterThan(0.99999);
  });

  it('a wall hides half of an area', () => {
    // The wall from (0,10) to (20,10) shadows bearings 0°…63.4° from the camera: all of x > 0 beyond it.
    const wall: Obstacle = { kind: 'wall', id: 'w', a: { x: 0, y: 10 }, b: { x: 20, y: 10 } };
    const r = computeSchoolCoverage({ areas: [area(square(-10, 20, 10, 40))], cameras: [cam()], obstacles: [wall] });
    expect(r.areas[0]!.coveredShare).toBeCloseTo(0.5, 5);
    expect(pointInPolygon({ x: 5, y: 30 }, r.areas[0]!.blindSpots[0]!)).toBe(true);
    // A building in the same place does the same; a thick wall too.
    const building: Obstacle = { kind: 'building', id: 'b', polygon: square(0, 10, 20, 15) };
    expect(computeSchoolCoverage({ areas: [area(square(-10, 20, 10, 40))], cameras: [cam()], obstacles: [building] }).areas[0]!.coveredShare).toBeCloseTo(0.5, 5);
  });

  it('an offline camera is removed, an unhealthy one counts only as "seen" and "if all healthy"', () => {
    const sq = area(square(-5, 20, 5, 30));
    const off = computeSchoolCoverage({ areas: [sq], cameras: [cam({ online: false })] }).areas[0]!;
    expect(off.coveredShare).toBe(0);
    expect(off.anyShare).toBe(0);
    expect(off.ifAllHealthyShare).toBeGreaterThan(0.99999); // broken, not missing
    expect(off.blindSpotM2).toBeCloseTo(100, 6);
    const sick = computeSchoolCoverage({ areas: [sq], cameras: [cam({ healthy: false })] }).areas[0]!;
    expect(sick.coveredShare).toBe(0);
    expect(sick.anyShare).toBeGreaterThan(0.99999);
    // Missing camera: nothing even if all were healthy.
    const none = computeSchoolCoverage({ areas: [sq], cameras: [cam({ headingDeg: 180 })] }).areas[0]!;
    expect(none.ifAllHealthyShare).toBe(0);
  });

  it('required level matters: Identify (3.84 m) does not reach a gate 20 m away that Monitor covers', () => {
    const r = computeSchoolCoverage({ areas: [area(square(-5, 20, 5, 30), { requiredLevel: 'identify' })], cameras: [cam()] }).areas[0]!;
    expect(r.coveredShare).toBe(0);
    expect(r.anyShare).toBeGreaterThan(0.99999);
    // A square within 3.84 m straight ahead: covered at identify.
    const near = computeSchoolCoverage({ areas: [area(square(-0.5, 1, 0.5, 2), { requiredLevel: 'identify' })], cameras: [cam()] }).areas[0]!;
    expect(near.coveredShare).toBeGreaterThan(0.99999);
  });

  it('a hole in a key area is not part of it', () => {
    const p = square(-10, 20, 10, 40);
    p.holes.push(square(-2, 28, 2, 32).outer);
    const r = computeSchoolCoverage({ areas: [area(p)], cameras: [cam({ headingDeg: 45 })] }).areas[0]!;
    expect(r.areaM2).toBeCloseTo(400 - 16, 9);
    expect(r.coveredShare).toBeCloseTo(0.5, 5);
  });

  it('school roll-up: fully covered share with a threshold, area-weighted coverage', () => {
    // 'full' (100 m²) north of the camera fully seen; 'half' (400 m²) south, seen in its x ≤ 0 half by B (heading 225°).
    const areas = [area(square(-5, 20, 5, 30), { id: 'full' }), area(square(-10, -25, 10, -5), { id: 'half' })];
    const r = computeSchoolCoverage({ areas, cameras: [cam({ id: 'A' }), cam({ id: 'B', headingDeg: 225 })] });
    expect(r.areas.map((a) => a.fullyCovered)).toEqual([true, false]);
    expect(r.areas[1]!.coveredShare).toBeCloseTo(0.5, 5);
    expect(r.fullyCoveredShare).toBe(0.5);
    expect(r.weightedCoverage).toBeCloseTo((100 * 1 + 400 * 0.5) / 500, 5);
    // With the threshold at 0.4, the half-covered area counts as fully covered.
    const lax = computeSchoolCoverage({ areas, cameras: [cam({ id: 'A' }), cam({ id: 'B', headingDeg: 225 })] }, { fullThreshold: 0.4 });
    expect(lax.fullyCoveredShare).toBe(1);
  });
});

describe('SchoolCoverage: incremental updates', () => {
  const areas = [area(square(-5, 20, 5, 30), { id: 'near' }), area(square(500, 500, 510, 510), { id: 'far' })];

  it('a status change recomputes only the areas the camera touches, and matches a full recomputation', () => {
    const farCam = cam({ id: 'c9', x: 505, y: 480 });
    const sc = new SchoolCoverage({ areas, cameras: [cam(), farCam] });
    expect(sc.areaResult('near')!.coveredShare).toBeGreaterThan(0.99999);
    const before = sc.recomputations;
    const touched = sc.updateCamera(cam({ online: false }));
    expect(touched).toEqual(['near']);
    expect(sc.recomputations - before).toBe(1);
    expect(sc.areaResult('near')!.coveredShare).toBe(0);
    expect(sc.areaResult('near')!.blindSpotM2).toBeCloseTo(100, 6);
    expect(sc.areaResult('far')!.coveredShare).toBeGreaterThan(0.99999);
    const full = computeSchoolCoverage({ areas, cameras: [cam({ online: false }), farCam] });
    expect(sc.result().weightedCoverage).toBeCloseTo(full.weightedCoverage, 12);
  });

  it('moving a camera recomputes the areas of its old and new views', () => {
    const sc = new SchoolCoverage({ areas, cameras: [cam()] });
    expect(sc.updateCamera(cam({ x: 505, y: 480 })).sort()).toEqual(['far', 'near']);
    expect(sc.areaResult('near')!.coveredShare).toBe(0);
    expect(sc.areaResult('far')!.coveredShare).toBeGreaterThan(0.99999);
    expect(sc.removeCamera('c1')).toEqual(['far']);
    expect(sc.areaResult('far')!.coveredShare).toBe(0);
  });

  it('a fork takes what-if moves without touching the original, and matches a full recomputation', () => {
    const sc = new SchoolCoverage({ areas, cameras: [cam()] });
    const before = sc.result();
    const what = sc.fork();
    expect(what.updateCamera(cam({ x: 505, y: 480 })).sort()).toEqual(['far', 'near']);
    expect(what.recomputations).toBe(2);
    expect(what.areaResult('far')!.coveredShare).toBeGreaterThan(0.99999);
    expect(what.result().weightedCoverage).toBeCloseTo(computeSchoolCoverage({ areas, cameras: [cam({ x: 505, y: 480 })] }).weightedCoverage, 12);
    // the original: same results, same camera, its cached view unchanged
    expect(sc.result()).toEqual(before);
    expect(sc.areaResult('far')!.coveredShare).toBe(0);
    expect(sc.view('c1', 'monitor')![0]!.every((p) => p.x < 100)).toBe(true);
    // a camera added on the fork only
    what.updateCamera(cam({ id: 'extra' }));
    expect(what.view('extra', 'monitor')).toBeDefined();
    expect(sc.view('extra', 'monitor')).toBeUndefined();
  });

  it('blind-spot polygons add up with the covered share', () => {
    const sc = new SchoolCoverage({ areas: [area(square(-10, 5, 10, 25))], cameras: [cam({ headingDeg: 45 })] });
    const r = sc.areaResult('gate')!;
    const blind = r.blindSpots.reduce((s, p) => s + polygonArea(p), 0);
    expect(1 - blind / r.areaM2).toBeCloseTo(r.coveredShare, 9);
  });
});
