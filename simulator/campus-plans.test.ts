/**
 * The simulated campuses are what the demo and the end-to-end test show: every key area must be
 * fully covered at its level while all cameras are healthy, and the main entrance must lose its
 * Identify coverage when the gate camera breaks.
 */
import { describe, expect, it } from 'vitest';
import { LocalFrame, computeSchoolCoverage, type Camera } from '../collector/compliance/geometry/index.ts';
import { obstaclesOf, parseCampus } from '../collector/compliance/campus.ts';
import { loadPacks, resolvePolicy } from '../collector/compliance/policy/packs.ts';
import { ComplianceService } from '../collector/compliance/service.ts';
import { campusPlanFor } from './campus-plans.ts';

const school = { code: '3715020001', lon: 115.985, lat: 36.456, studentCount: 1200 };

function coverage(broken: string[] = []) {
  const spec = campusPlanFor(school);
  const plan = parseCampus(school.code, spec.campus, school);
  const policy = resolvePolicy(loadPacks().packs, 'liaocheng-2023');
  const svc = Object.create(ComplianceService.prototype) as ComplianceService;
  const frame = new LocalFrame({ lon: school.lon, lat: school.lat });
  const cameras: Camera[] = spec.cameras.map((c) => {
    const p = frame.toLocal(c.placement.position as { lon: number; lat: number });
    const ok = !broken.includes(c.deviceId);
    return { id: c.deviceId, x: p.x, y: p.y, headingDeg: c.placement.camera!.headingDeg, hfovDeg: c.placement.camera!.hfovDeg!, mountHeightM: c.placement.camera!.mountHeightM, horizontalPixels: c.resolutionWidth, online: ok, healthy: ok };
  });
  return computeSchoolCoverage({
    areas: plan.keyAreas.map((a) => ({ ...a, requiredLevel: svc.levelOf(policy, a) })),
    obstacles: obstaclesOf(plan),
    cameras,
  });
}

describe('simulated campus plans', () => {
  it('cover every key area at its level while all cameras are healthy', () => {
    const r = coverage();
    for (const a of r.areas) expect({ id: a.areaId, share: a.coveredShare }).toEqual({ id: a.areaId, share: expect.closeTo(1, 3) });
    expect(r.fullyCoveredShare).toBe(1);
    expect(r.areas.find((a) => a.areaId === 'main-entrance')!.requiredLevel).toBe('identify');
  });

  it('leave the main entrance uncovered at Identify when the gate camera breaks', () => {
    const r = coverage(['cam-gate']);
    const gate = r.areas.find((a) => a.areaId === 'main-entrance')!;
    expect(gate.fullyCovered).toBe(false);
    expect(gate.blindSpots.length).toBeGreaterThan(0);
    expect(gate.ifAllHealthyShare).toBeCloseTo(1, 3);
    expect(r.areas.filter((a) => a.areaId !== 'main-entrance').every((a) => a.fullyCovered)).toBe(true);
  });

  it('is deterministic', () => {
    expect(campusPlanFor(school)).toEqual(campusPlanFor(school));
  });
});
