import { describe, expect, it } from 'vitest';
import type { KeyArea, Point } from './types.ts';
import { GeometryError, validateCamera, validateKeyArea, validateObstacle } from './validate.ts';
import { computeSchoolCoverage } from './coverage.ts';

const ka = (outer: Point[], holes: Point[][] = []): KeyArea => ({ id: 'gate-1', type: 'main-entrance', requiredLevel: 'identify', polygon: { outer, holes } });
const P = (x: number, y: number): Point => ({ x, y });

function refusal(f: () => unknown): GeometryError {
  try {
    f();
  } catch (e) {
    if (e instanceof GeometryError) return e;
    throw e;
  }
  throw new Error('was accepted');
}

describe('polygon validation', () => {
  it('accepts a plain square (either orientation, closing point repeated or not)', () => {
    expect(validateKeyArea(ka([P(0, 0), P(1, 0), P(1, 1), P(0, 1)])).polygon.outer).toHaveLength(4);
    expect(validateKeyArea(ka([P(0, 0), P(0, 1), P(1, 1), P(1, 0), P(0, 0)])).polygon.outer).toHaveLength(4);
  });

  it('refuses fewer than 3 distinct points, naming the area', () => {
    const e = refusal(() => validateKeyArea(ka([P(0, 0), P(1, 1), P(1, 1), P(0, 0)])));
    expect(e.problem).toBe('too-few-points');
    expect(e.message).toBe('key area "gate-1": outer ring has 2 distinct point(s), at least 3 are needed');
  });

  it('refuses a zero-area ring', () => {
    const e = refusal(() => validateKeyArea(ka([P(0, 0), P(1, 1), P(2, 2), P(3, 3)])));
    expect(e.problem).toBe('zero-area');
    expect(e.message).toMatch(/^key area "gate-1": outer ring has zero area/);
  });

  it('refuses non-finite coordinates', () => {
    const e = refusal(() => validateKeyArea(ka([P(0, 0), P(Number.NaN, 0), P(1, 1)])));
    expect(e.problem).toBe('not-finite');
    expect(e.message).toMatch(/gate-1.*point 1 has a non-finite coordinate/);
    expect(refusal(() => validateKeyArea(ka([P(0, 0), P(Infinity, 0), P(1, 1)]))).problem).toBe('not-finite');
  });

  it('refuses a self-intersecting ring (bow tie) and says where', () => {
    const e = refusal(() => validateKeyArea(ka([P(0, 0), P(10, 10), P(10, 0), P(0, 10)])));
    expect(e.problem).toBe('self-intersecting');
    expect(e.message).toBe('key area "gate-1": outer ring is self-intersecting: edge 0–1 meets edge 2–3 at (5, 5)');
  });

  it('refuses a ring that touches itself or folds back', () => {
    // Figure-8 touching at a vertex.
    expect(refusal(() => validateKeyArea(ka([P(0, 0), P(2, 0), P(1, 1), P(2, 2), P(0, 2), P(1, 1)]))).problem).toBe('self-intersecting');
    // Spike going back along its own edge.
    expect(refusal(() => validateKeyArea(ka([P(0, 0), P(4, 0), P(2, 0), P(2, 3)]))).problem).toBe('self-intersecting');
  });

  it('checks holes: valid, and inside the outer ring', () => {
    const outer = [P(0, 0), P(10, 0), P(10, 10), P(0, 10)];
    expect(validateKeyArea(ka(outer, [[P(2, 2), P(4, 2), P(4, 4)]])).polygon.holes).toHaveLength(1);
    expect(refusal(() => validateKeyArea(ka(outer, [[P(2, 2), P(14, 2), P(4, 4)]]))).message).toMatch(/gate-1.*hole 0 reaches outside/);
    expect(refusal(() => validateKeyArea(ka(outer, [[P(2, 2), P(4, 4), P(4, 2), P(2, 4)]]))).message).toMatch(/hole 0 is self-intersecting/);
  });

  it('the coverage computation refuses a bad area before computing anything', () => {
    expect(() => computeSchoolCoverage({ areas: [ka([P(0, 0), P(10, 10), P(10, 0), P(0, 10)])] })).toThrow(/key area "gate-1": outer ring is self-intersecting/);
  });

  it('checks obstacles and cameras', () => {
    expect(refusal(() => validateObstacle({ kind: 'wall', id: 'w1', a: P(1, 1), b: P(1, 1) })).message).toBe('obstacle "w1": wall has zero length');
    expect(refusal(() => validateObstacle({ kind: 'building', id: 'b1', polygon: { outer: [P(0, 0), P(1, 0)], holes: [] } })).message).toMatch(/^obstacle "b1"/);
    const base = { id: 'cam-7', x: 0, y: 0, headingDeg: 0, horizontalPixels: 1920, online: true, healthy: true };
    expect(refusal(() => validateCamera({ ...base, hfovDeg: 0 })).message).toMatch(/camera "cam-7": hfovDeg 0/);
    expect(refusal(() => validateCamera({ ...base, focalLengthMm: -4, sensorWidthMm: 5 })).problem).toBe('bad-camera');
    expect(refusal(() => validateCamera({ ...base, x: Number.NaN, hfovDeg: 90 })).message).toMatch(/x is not a finite number/);
  });
});
