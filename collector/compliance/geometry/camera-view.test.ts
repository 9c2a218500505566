import { describe, expect, it } from 'vitest';
import type { Camera } from './types.ts';
import { PPM_LEVELS } from './types.ts';
import { MAX_ARC_STEP_DEG, arcAreaError, cameraHfovDeg, cameraView, dMax, groundRange, hfovFromLens, obstacleSegments, ppmAt } from './camera-view.ts';
import { signedArea } from './util.ts';

const cam = (over: Partial<Camera> = {}): Camera => ({ id: 'c', x: 0, y: 0, headingDeg: 0, hfovDeg: 90, horizontalPixels: 1920, online: true, healthy: true, ...over }) as Camera;
const areaOf = (rings: { x: number; y: number }[][]): number => rings.reduce((s, r) => s + signedArea(r), 0);

describe('REFERENCE.md formulas', () => {
  it('has the EN/IEC 62676-4 density table', () => {
    expect(PPM_LEVELS).toEqual({ monitor: 12.5, detect: 25, observe: 62.5, recognise: 125, identify: 250, inspect: 1000 });
  });

  it('HFOV = 2·atan(sensorWidth / 2f)', () => {
    expect(hfovFromLens(3.2, 6.4)).toBeCloseTo(90, 10); // w = 2f → 2·atan(1)
    expect(hfovFromLens(4, 5.37)).toBeCloseTo(67.74, 2); // 1/2.8" sensor behind a 4 mm lens
    const { hfovDeg: _h, ...noFov } = cam() as Camera & { hfovDeg: number };
    expect(cameraHfovDeg({ ...noFov, focalLengthMm: 2, sensorWidthMm: 4 * Math.tan(Math.PI / 6) })).toBeCloseTo(60, 10);
  });

  it('W(d) = 2·d·tan(HFOV/2), PPM = pixels / W, d_max = pixels / (2·tan(HFOV/2)·PPM)', () => {
    // 1920 px at 90°: 20 m wide at 10 m → 96 px/m.
    expect(ppmAt(1920, 90, 10)).toBeCloseTo(96, 10);
    expect(dMax(1920, 90, PPM_LEVELS.identify)).toBeCloseTo(3.84, 10);
    expect(dMax(1920, 90, PPM_LEVELS.monitor)).toBeCloseTo(76.8, 10);
    // 4K over 60°: 3840 / (2·tan 30°·62.5) = 53.2 m at Observe.
    expect(dMax(3840, 60, PPM_LEVELS.observe)).toBeCloseTo(3840 / (2 * Math.tan(Math.PI / 6) * 62.5), 10);
    expect(ppmAt(3840, 60, dMax(3840, 60, PPM_LEVELS.observe))).toBeCloseTo(62.5, 9);
  });

  it('polygonised sectors lose less than 0.1 % of the area', () => {
    expect(arcAreaError(MAX_ARC_STEP_DEG)).toBeLessThan(0.001);
    for (const fov of [10, 45, 90, 137, 200, 360]) {
      const c = cam({ hfovDeg: fov, horizontalPixels: 1920 });
      const r = dMax(1920, fov, PPM_LEVELS.monitor);
      const exact = (Math.PI * r * r * fov) / 360;
      const got = areaOf(cameraView(c, 'monitor'));
      expect(got).toBeLessThanOrEqual(exact * (1 + 1e-12));
      expect(got).toBeGreaterThan(exact * 0.999);
    }
  });
});

describe('camera view', () => {
  it('points the sector along the heading (0 = north, clockwise)', () => {
    const east = cameraView(cam({ headingDeg: 90, hfovDeg: 30 }), 'monitor')[0]!;
    const xs = east.map((p) => p.x), ys = east.map((p) => p.y);
    const r = dMax(1920, 30, PPM_LEVELS.monitor);
    expect(Math.max(...xs)).toBeCloseTo(r, 6);
    expect(Math.min(...xs)).toBe(0);
    expect(Math.max(...ys.map(Math.abs))).toBeCloseTo(r * Math.sin((15 * Math.PI) / 180), 6);
    expect(signedArea(east)).toBeGreaterThan(0); // counter-clockwise
  });

  it('mount height shortens the ground reach; height with tilt adds a blind zone under the camera', () => {
    const flat = groundRange(cam(), 'observe')!;
    expect(flat).toEqual({ near: 0, far: dMax(1920, 90, 62.5) });
    const high = groundRange(cam({ mountHeightM: 6 }), 'observe')!;
    expect(high.far).toBeCloseTo(Math.sqrt(dMax(1920, 90, 62.5) ** 2 - 36), 10);
    // 16:9 at 90° HFOV → VFOV = 2·atan(9/16) ≈ 58.7°; tilted 30° down from 4 m, the image bottom meets the ground at 4/tan(59.36°).
    const vfov = 2 * Math.atan(9 / 16);
    const tilted = groundRange(cam({ mountHeightM: 4, tiltDeg: 30 }), 'monitor')!;
    expect(tilted.near).toBeCloseTo(4 / Math.tan(Math.PI / 6 + vfov / 2), 10);
    const view = cameraView(cam({ mountHeightM: 4, tiltDeg: 30 }), 'monitor');
    const a = areaOf(view);
    const expected = (Math.PI / 4) * (tilted.far ** 2 - tilted.near ** 2);
    expect(a / expected).toBeGreaterThan(0.998);
    expect(a / expected).toBeLessThan(1.002);
    // Too high for the level: nothing.
    expect(groundRange(cam({ mountHeightM: 5 }), 'identify')).toBeNull();
    expect(cameraView(cam({ mountHeightM: 5 }), 'identify')).toEqual([]);
  });

  it('a wall cuts a wedge out of the sector', () => {
    // Wall across the whole sector at y = 10, wider than the view: only the triangle before it is seen.
    const segs = obstacleSegments([{ kind: 'wall', id: 'w', a: { x: -50, y: 10 }, b: { x: 50, y: 10 } }]);
    expect(areaOf(cameraView(cam(), 'monitor', segs))).toBeCloseTo(100, 6); // triangle base 20, height 10
    // A building (10 × 10) straight ahead at 20 m: its shadow is a wedge of a trapezoid.
    const bseg = obstacleSegments([{ kind: 'building', id: 'b', polygon: { outer: [{ x: -5, y: 20 }, { x: 5, y: 20 }, { x: 5, y: 30 }, { x: -5, y: 30 }], holes: [] } }]);
    const full = areaOf(cameraView(cam(), 'monitor'));
    const cut = areaOf(cameraView(cam(), 'monitor', bseg));
    const r = 76.8, half = Math.atan(5 / 20);
    // Hidden: the wedge of angle 2·atan(1/4) between radius 20 (the front face) and the arc, less nothing else.
    const hidden = half * r * r - 0.5 * 10 * 20;
    expect((full - cut) / hidden).toBeGreaterThan(0.999);
    expect((full - cut) / hidden).toBeLessThan(1.001);
  });

  it('a camera mounted on a wall is not blinded by it', () => {
    const segs = obstacleSegments([{ kind: 'wall', id: 'w', a: { x: -50, y: 0 }, b: { x: 50, y: 0 } }]);
    expect(areaOf(cameraView(cam(), 'monitor', segs))).toBeCloseTo(areaOf(cameraView(cam(), 'monitor')), 6);
  });

  it('a camera inside a building sees only the inside', () => {
    const room = obstacleSegments([{ kind: 'building', id: 'kitchen', polygon: { outer: [{ x: -10, y: -10 }, { x: 10, y: -10 }, { x: 10, y: 10 }, { x: -10, y: 10 }], holes: [] } }]);
    // 360° camera in the middle of a 20 × 20 room: exactly the room.
    expect(areaOf(cameraView(cam({ hfovDeg: 360, horizontalPixels: 4000 }), 'monitor', room))).toBeCloseTo(400, 6);
  });
});
