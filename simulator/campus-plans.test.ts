/**
 * The simulated campuses are what the demo and the end-to-end test show: every key area must be
 * fully covered at its level while all cameras are healthy, and the main entrance must lose its
 * Identify coverage when the gate camera breaks.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { LocalFrame, computeSchoolCoverage, type Camera } from '../collector/compliance/geometry/index.ts';
import { obstaclesOf, parseCampus } from '../collector/compliance/campus.ts';
import { loadPacks, resolvePolicy } from '../collector/compliance/policy/packs.ts';
import { ComplianceService } from '../collector/compliance/service.ts';
import { campusCameraSpecs, campusPlanFor, demoCampusCameras } from './campus-plans.ts';
import { cameraDeviceId, startSimulatedSchool, type SimulatedSchool } from './school.ts';

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
    const r = coverage([campusPlanFor(school).gateCamera]);
    const gate = r.areas.find((a) => a.areaId === 'main-entrance')!;
    expect(gate.fullyCovered).toBe(false);
    expect(gate.blindSpots.length).toBeGreaterThan(0);
    expect(gate.ifAllHealthyShare).toBeCloseTo(1, 3);
    expect(r.areas.filter((a) => a.areaId !== 'main-entrance').every((a) => a.fullyCovered)).toBe(true);
  });

  it('is deterministic', () => {
    expect(campusPlanFor(school)).toEqual(campusPlanFor(school));
  });

  it('names its cameras by the ids the agent gives them', () => {
    const spec = campusPlanFor(school);
    expect(spec.cameras.map((c) => c.deviceId)).toEqual(Array.from({ length: 7 }, (_, i) => `cam-HI${school.code}00${i + 1}`));
    expect(spec.gateCamera).toBe(spec.cameras.find((c) => c.key === 'cam-gate')!.deviceId);
    const ids = new Set(spec.cameras.map((c) => c.deviceId));
    expect(campusPlanFor({ ...school, code: '3715020002' }).cameras.filter((c) => ids.has(c.deviceId))).toEqual([]);
  });

  it('breaks only the first demo school\'s gate camera', () => {
    const other = { ...school, code: '3715020002', lon: 116.0 };
    const { brokenSchool, cameras } = demoCampusCameras([{ ...school, lon: null, code: '3715020009' }, school, other]);
    expect(brokenSchool).toBe(school.code);
    expect([...cameras.keys()]).toEqual([school.code, other.code]);
    const gate = campusPlanFor(school).cameras.findIndex((c) => c.key === 'cam-gate');
    expect(cameras.get(school.code)!.map((c) => c.fault)).toEqual(cameras.get(school.code)!.map((_, i) => (i === gate ? 'stream-down' : undefined)));
    expect(cameras.get(other.code)!.every((c) => c.fault === undefined)).toBe(true);
  });
});

describe('a simulated school running the campus cameras', () => {
  let sim: SimulatedSchool | undefined;
  afterAll(async () => {
    await sim?.stop();
  });

  it('runs them in plan order with the plan\'s serials and resolutions, and changes a fault on demand', async () => {
    const spec = campusPlanFor(school);
    const subnet: [number, number] = [64 + Math.floor(Math.random() * 180), Math.floor(Math.random() * 63) * 4];
    sim = await startSimulatedSchool({ schoolCode: school.code, cameras: campusCameraSpecs(spec, { [spec.gateCamera]: 'stream-down' }), classrooms: 0, switches: 0, aps: 0, ups: 1, sensors: 0, subnet });
    const cams = sim.devices.filter((d) => d.kind === 'camera');
    expect(cams.map((d) => cameraDeviceId(d.serial!))).toEqual(spec.cameras.map((c) => c.deviceId));
    expect(cams.map((d) => d.expectProfile)).toEqual(spec.cameras.map(() => 'hikvision-ipc'));
    const gate = spec.cameras.find((c) => c.deviceId === spec.gateCamera)!;
    expect(cams.filter((d) => d.fault)).toEqual([expect.objectContaining({ serial: gate.serial, fault: 'stream-down' })]);
    await sim.setCameraFault(gate.serial, undefined);
    await sim.setCameraFault('cam-3', 'degraded');
    expect(sim.devices.filter((d) => d.fault).map((d) => [d.name, d.fault])).toEqual([['cam-3', 'degraded'], ['ups-1', 'on-battery']]);
    await expect(sim.setCameraFault('nope', 'off')).rejects.toThrow(/no camera/);
  });
});
