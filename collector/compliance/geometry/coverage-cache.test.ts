/**
 * The coverage cache against a computation from scratch: views packed, computed when a key area
 * first needs them, dropped by a bounded `ViewCache` and computed again must give exactly the same
 * figures and blind spots (equal numbers, not close ones) through status changes, moves, removals,
 * additions and forks. Plus the packing and the cache's bound and order on their own.
 */
import { describe, expect, it } from 'vitest';
import { SchoolCoverage, computeSchoolCoverage } from './coverage.ts';
import { cameraView, obstacleSegments, viewBBox } from './camera-view.ts';
import { NO_RINGS, packPolygons, packRings, packedBBox, unpackPolygons, unpackRings, type PackedRings } from './packed-rings.ts';
import { mulberry32 } from './sampler.ts';
import { syntheticCampus, type SyntheticCampus } from './synthetic.ts';
import type { Camera, Polygon, Ring } from './types.ts';
import { DENSITY_LEVELS } from './types.ts';
import { signedArea } from './util.ts';
import { VIEW_OVERHEAD_BYTES, ViewCache, type ViewSlots } from './view-cache.ts';

const campus = (seed: number): SyntheticCampus =>
  syntheticCampus(mulberry32(seed), { cameras: 24, areas: 8, buildings: 8, walls: 4, width: 300, height: 250, offline: 0.1, unhealthy: 0.1 });

interface School {
  c: SyntheticCampus;
  rng: () => number;
  sc: SchoolCoverage;
  /** its cameras in the cache's order (a replaced camera keeps its place, a new one goes last) */
  cams: Camera[];
  added: number;
}

/** Applies `changes` random camera changes to the school, comparing its cached result with one computed from scratch after each. */
function changeAndCompare(s: School, changes: number): void {
  const { c, rng, sc, cams } = s;
  for (let k = 0; k < changes; k++) {
    const i = Math.floor(rng() * cams.length);
    const cam = cams[i]!;
    const what = rng();
    if (what < 0.4) {
      cams[i] = { ...cam, online: !cam.online };
      sc.updateCamera(cams[i]!);
    } else if (what < 0.7) {
      cams[i] = { ...cam, headingDeg: (cam.headingDeg + 40) % 360, x: cam.x + 5 };
      sc.updateCamera(cams[i]!);
    } else if (what < 0.85 && cams.length > 4) {
      cams.splice(i, 1);
      sc.removeCamera(cam.id);
    } else {
      const extra: Camera = { ...cam, id: `new-${s.added++}`, headingDeg: (cam.headingDeg + 180) % 360, healthy: true, online: true };
      cams.push(extra);
      sc.updateCamera(extra);
    }
    expect(sc.result(), `after change ${k}`).toEqual(computeSchoolCoverage({ areas: c.areas, obstacles: c.obstacles, cameras: cams }));
  }
}

describe('coverage through the cache equals coverage from scratch, exactly', () => {
  const bounds: [string, number][] = [
    ['every view kept', Infinity],
    ['a bound that drops views (64 KiB for three schools)', 64 * 1024],
    ['no view kept', 0],
  ];
  for (const [label, bound] of bounds) {
    it(`with ${label}, through 40 camera changes in each of three schools`, () => {
      const views = new ViewCache(bound);
      const schools = [11, 12, 13].map((seed): School => {
        const c = campus(seed);
        return { c, rng: mulberry32(seed * 7), sc: new SchoolCoverage(c, { views }), cams: [...c.cameras], added: 0 };
      });
      for (const s of schools) expect(s.sc.result()).toEqual(computeSchoolCoverage(s.c));
      // the schools take turns, so that one school's views push out another's
      for (let round = 0; round < 4; round++) for (const s of schools) changeAndCompare(s, 10);
      if (bound !== Infinity) {
        expect(views.bytes).toBeLessThanOrEqual(bound);
        expect(views.dropped).toBeGreaterThan(0);
      }
    });
  }

  it('a fork sharing a bounded cache previews exactly and leaves the original as it was', () => {
    const c = campus(21);
    const views = new ViewCache(16 * 1024);
    const sc = new SchoolCoverage(c, { views });
    const before = sc.result();
    const what = sc.fork();
    const moved = { ...c.cameras[3]!, headingDeg: (c.cameras[3]!.headingDeg + 90) % 360 };
    what.updateCamera(moved);
    const cams = c.cameras.map((x) => (x.id === moved.id ? moved : x));
    expect(what.result()).toEqual(computeSchoolCoverage({ ...c, cameras: cams }));
    expect(sc.result()).toEqual(before);
    expect(sc.result()).toEqual(computeSchoolCoverage(c));
    expect(views.dropped).toBeGreaterThan(0);
  });

  it('draws exactly the views computed directly, whether they were kept, dropped or never needed', () => {
    const c = campus(31);
    const segments = obstacleSegments(c.obstacles);
    // counter-clockwise as the cache keeps them; x and y only (Clipper's results carry a z of 0, never read)
    const ccw = (r: Ring): Ring => (signedArea(r) < 0 ? [...r].reverse() : r).map(({ x, y }) => ({ x, y }));
    const kept = new SchoolCoverage(c);
    const none = new SchoolCoverage(c, { views: new ViewCache(0) });
    const levels = [...new Set(['monitor' as const, ...c.areas.map((a) => a.requiredLevel)])];
    for (const cam of c.cameras)
      for (const level of levels) {
        const direct = cameraView(cam, level, segments).map(ccw);
        expect(kept.view(cam.id, level)).toEqual(direct);
        expect(none.view(cam.id, level)).toEqual(direct);
      }
    const unused = DENSITY_LEVELS.find((l) => !levels.includes(l))!;
    expect(none.view(c.cameras[0]!.id, unused)).toBeUndefined();
    expect(none.view('no-such-camera', 'monitor')).toBeUndefined();
  });
});

describe('packed rings and polygons', () => {
  const ring = (...xy: number[]): Ring => Array.from({ length: xy.length / 2 }, (_, i) => ({ x: xy[2 * i]!, y: xy[2 * i + 1]! }));
  // doubles that a rounding or a narrower type would change
  const awkward = ring(0.1 + 0.2, -0, 1e-300, 123456.789012345, -9876.54321, 1 / 3, 2 ** 40 + 0.5, -1e-9);

  it('gives back exactly the rings packed, 16 bytes a point', () => {
    const rings = [awkward, ring(0, 0, 1, 0, 1, 1)];
    const packed = packRings(rings);
    expect(unpackRings(packed)).toEqual(rings);
    expect(Object.is(unpackRings(packed)[0]![0]!.y, -0)).toBe(true);
    expect(packed.byteLength).toBe(8 * (1 + 2 + 2 * (4 + 3)));
    expect(packedBBox(packed)).toEqual(viewBBox(rings));
    expect(packRings([])).toBe(NO_RINGS);
    expect(unpackRings(NO_RINGS)).toEqual([]);
    expect(packedBBox(NO_RINGS)).toBeNull();
  });

  it('gives back exactly the polygons packed, holes with their outer ring', () => {
    const polys: Polygon[] = [
      { outer: awkward, holes: [ring(1, 1, 2, 1, 2, 2), ring(3, 3, 4, 3, 4, 4)] },
      { outer: ring(10, 10, 20, 10, 20, 20), holes: [] },
      { outer: ring(30, 30, 40, 30, 40, 40), holes: [ring(31, 31, 32, 31, 32, 32)] },
    ];
    expect(unpackPolygons(packPolygons(polys))).toEqual(polys);
    expect(unpackPolygons(packPolygons([]))).toEqual([]);
  });
});

describe('ViewCache', () => {
  const view = (points: number): PackedRings => packRings([Array.from({ length: points }, (_, i) => ({ x: i, y: -i }))]);
  const size = (v: PackedRings) => v.byteLength + VIEW_OVERHEAD_BYTES;

  it('drops the least recently used views beyond its bound and empties their slots', () => {
    const a = view(10), b = view(10), c = view(10);
    const cache = new ViewCache(size(a) + size(b));
    const slots: ViewSlots = new Array(3);
    cache.put(slots, 0, a);
    cache.put(slots, 1, b);
    expect(cache.get(slots, 0)).toBe(a); // a used: b is now the least recent
    cache.put(slots, 2, c);
    expect(slots).toEqual([a, undefined, c]);
    expect(cache.bytes).toBe(size(a) + size(c));
    expect(cache.views).toBe(2);
    expect(cache.dropped).toBe(1);
  });

  it('keeps nothing with a bound of 0 and everything without one; empty views cost nothing', () => {
    const none = new ViewCache(0), all = new ViewCache();
    const s0: ViewSlots = [], s1: ViewSlots = [];
    none.put(s0, 0, view(5));
    none.put(s0, 1, NO_RINGS);
    expect(s0).toEqual([undefined, NO_RINGS]);
    expect(none.bytes).toBe(0);
    for (let i = 0; i < 100; i++) all.put(s1, i, view(50));
    expect(s1.filter(Boolean)).toHaveLength(100);
    expect(all.dropped).toBe(0);
    expect(() => new ViewCache(-1)).toThrow(RangeError);
    expect(() => new ViewCache(Number.NaN)).toThrow(RangeError);
  });
});
