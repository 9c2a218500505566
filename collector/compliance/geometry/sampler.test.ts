import { describe, expect, it } from 'vitest';
import { SchoolCoverage, computeSchoolCoverage } from './coverage.ts';
import { mulberry32, sampleAreaCoverage } from './sampler.ts';
import { syntheticCampus } from './synthetic.ts';

describe('polygon coverage against the brute-force sampler', () => {
  it('agrees within 0.5 percentage points on 24 random campuses', () => {
    let compared = 0, worst = 0, nonTrivial = 0;
    for (let seed = 1; seed <= 24; seed++) {
      const campus = syntheticCampus(mulberry32(seed), { cameras: 12, areas: 8, buildings: 6, walls: 4, offline: 0.15, unhealthy: 0.15 });
      const r = computeSchoolCoverage(campus);
      const rng = mulberry32(1000 + seed);
      for (const a of campus.areas) {
        const got = r.areas.find((x) => x.areaId === a.id)!;
        // Jittered grid: 160 × 160 cells over the area's box.
        const s = sampleAreaCoverage(a, campus.cameras, campus.obstacles, { samples: 25_600, rng, stratified: true });
        for (const k of ['coveredShare', 'anyShare', 'ifAllHealthyShare'] as const) {
          const d = Math.abs(got[k] - s[k]);
          worst = Math.max(worst, d);
          expect(d, `campus ${seed} area ${a.id} ${k}: polygons ${got[k]} vs sampler ${s[k]}`).toBeLessThanOrEqual(0.005);
          compared++;
          if (got[k] > 0.02 && got[k] < 0.98) nonTrivial++;
        }
      }
    }
    expect(compared).toBe(24 * 8 * 3);
    // The campuses must exercise partial coverage, not only 0 % and 100 %.
    expect(nonTrivial).toBeGreaterThan(60);
    expect(worst).toBeLessThanOrEqual(0.005);
  });

  it('incremental updates give the same result as recomputing from scratch', () => {
    const rng = mulberry32(77);
    const campus = syntheticCampus(rng, { cameras: 20, areas: 12 });
    const sc = new SchoolCoverage(campus);
    const cams = [...campus.cameras];
    for (let step = 0; step < 30; step++) {
      const i = Math.floor(rng() * cams.length);
      const c = cams[i]!;
      const move = rng() < 0.3;
      cams[i] = move ? { ...c, x: c.x + (rng() - 0.5) * 40, headingDeg: (c.headingDeg + 90) % 360 } : { ...c, online: rng() < 0.5, healthy: rng() < 0.7 };
      sc.updateCamera(cams[i]!);
    }
    const inc = sc.result();
    const full = computeSchoolCoverage({ ...campus, cameras: cams });
    for (const a of full.areas) {
      const b = inc.areas.find((x) => x.areaId === a.areaId)!;
      expect(b.coveredShare).toBeCloseTo(a.coveredShare, 9);
      expect(b.anyShare).toBeCloseTo(a.anyShare, 9);
      expect(b.ifAllHealthyShare).toBeCloseTo(a.ifAllHealthyShare, 9);
    }
  });
});
