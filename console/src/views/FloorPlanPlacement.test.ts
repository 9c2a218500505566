/** Placing a floor-plan image by its corners: first placement, move, turn and scale, the bottom-right handle, readouts. */
import { describe, expect, it } from 'vitest';
import { bottomRight, centreOf, defaultPlacement, dragBottomRight, measure, moveTo, sameAspect, toMetres, turnAndScale, withRotation, withWidth, type Corners } from './FloorPlanPlacement';

const SCHOOL = { lon: 115.985, lat: 36.456 };
const IMAGE = { width: 1600, height: 1200 };
const close = (a: number, b: number, tol = 0.01) => expect(Math.abs(a - b), `${a} vs ${b}`).toBeLessThan(tol);
const near = (a: { lon: number; lat: number }, b: { lon: number; lat: number }, tolM = 0.01) => {
  const d = toMetres(a, b);
  expect(Math.hypot(d.e, d.n), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`).toBeLessThan(tolM);
};

describe('floor-plan placement', () => {
  it('places a fresh image north up, 300 m wide, centred on the school, keeping its aspect ratio', () => {
    const c = defaultPlacement(IMAGE, { centre: SCHOOL });
    const m = measure(c);
    close(m.widthM, 300);
    close(m.heightM, 225);
    close(m.rotationDeg, 0);
    near(centreOf(c), SCHOOL);
    expect(c.topLeft.lat).toBeGreaterThan(c.bottomLeft.lat); // top is north
    expect(c.topRight.lon).toBeGreaterThan(c.topLeft.lon);
  });

  it('covers a known campus extent with a margin', () => {
    // a campus 120 m × 108 m; a 320 × 280 px image: the height decides (108/280 > 120/320)
    const m = measure(defaultPlacement({ width: 320, height: 280 }, { centre: SCHOOL, extentM: { e: 120, n: 108 } }));
    close(m.heightM, 108 * 1.1);
    close(m.widthM, (108 * 1.1 * 320) / 280);
  });

  it('turns and scales about the centre; width and rotation set separately', () => {
    const c = defaultPlacement(IMAGE, { centre: SCHOOL });
    const t = turnAndScale(c, 30, 2);
    const m = measure(t);
    close(m.widthM, 600, 0.05);
    close(m.heightM, 450, 0.05);
    close(m.rotationDeg, 30, 0.01);
    near(centreOf(t), SCHOOL);
    const w = withWidth(t, 150);
    close(measure(w).widthM, 150, 0.01);
    close(measure(w).heightM, 112.5, 0.01);
    close(measure(w).rotationDeg, 30, 0.01);
    close(measure(withRotation(w, -45)).rotationDeg, -45, 0.01);
    close(measure(withRotation(w, 180)).rotationDeg, 180, 0.01);
  });

  it('moves the whole image without changing its shape', () => {
    const c = turnAndScale(defaultPlacement(IMAGE, { centre: SCHOOL }), 12, 1);
    const to = { lon: 115.99, lat: 36.46 };
    const m = moveTo(c, to);
    near(centreOf(m), to);
    close(measure(m).widthM, measure(c).widthM, 0.05);
    close(measure(m).rotationDeg, 12, 0.05);
  });

  it('brings the bottom-right corner to where its handle is dropped, turning and scaling about the centre', () => {
    const c = defaultPlacement(IMAGE, { centre: SCHOOL });
    const target = { lon: bottomRight(c).lon + 0.0005, lat: bottomRight(c).lat - 0.0003 };
    const d: Corners = dragBottomRight(c, target);
    near(bottomRight(d), target);
    near(centreOf(d), centreOf(c));
    // still a rectangle with the image's aspect ratio
    close(measure(d).widthM / measure(d).heightM, 4 / 3, 1e-4);
  });

  it('knows when a replacement image has the same aspect ratio', () => {
    expect(sameAspect({ width: 1600, height: 1200 }, { width: 800, height: 601 })).toBe(true);
    expect(sameAspect({ width: 1600, height: 1200 }, { width: 1200, height: 1600 })).toBe(false);
  });
});
