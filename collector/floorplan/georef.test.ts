/** validateGeoref: corners built in metres around a Liaocheng school, each refusal with its reason. */
import { describe, expect, it } from 'vitest';
import { LocalFrame } from '../compliance/geometry/index.ts';
import { GeorefProblem, validateGeoref, type Georef, type GeorefProblemKind } from './georef.ts';

const frame = new LocalFrame({ lon: 115.985, lat: 36.456 });
type XY = [number, number];
/** corners from plan metres (x east, y north) */
const at = (tl: XY, tr: XY, bl: XY): Georef => {
  const ll = ([x, y]: XY) => frame.toLonLat({ x, y });
  return { topLeft: ll(tl), topRight: ll(tr), bottomLeft: ll(bl) };
};
const IMAGE = { width: 1600, height: 1200 };

function problemOf(g: Georef, image = IMAGE): GeorefProblemKind | 'none' {
  try {
    validateGeoref(g, image);
    return 'none';
  } catch (err) {
    if (err instanceof GeorefProblem) return err.problem;
    throw err;
  }
}

describe('validateGeoref', () => {
  it('accepts a north-up campus image, a rotated one and a slightly skewed one', () => {
    expect(problemOf(at([-200, 150], [200, 150], [-200, -150]))).toBe('none');
    const r = (x: number, y: number): XY => [x * Math.cos(0.5) + y * Math.sin(0.5), -x * Math.sin(0.5) + y * Math.cos(0.5)];
    expect(problemOf(at(r(-200, 150), r(200, 150), r(-200, -150)))).toBe('none');
    expect(problemOf(at([-200, 150], [200, 160], [-190, -150]))).toBe('none');
  });

  it('refuses a corner off the earth or outside China (lon and lat swapped)', () => {
    const ok = at([-200, 150], [200, 150], [-200, -150]);
    expect(problemOf({ ...ok, topRight: { lon: 181, lat: 36.4 } })).toBe('out-of-range');
    expect(problemOf({ ...ok, bottomLeft: { lon: Number.NaN, lat: 36.4 } })).toBe('out-of-range');
    const swapped = { topLeft: { lon: ok.topLeft.lat, lat: ok.topLeft.lon }, topRight: { lon: ok.topRight.lat, lat: ok.topRight.lon }, bottomLeft: { lon: ok.bottomLeft.lat, lat: ok.bottomLeft.lon } };
    expect(problemOf(swapped)).toBe('out-of-range'); // lat 115.98
    expect(() => validateGeoref({ ...ok, topLeft: { lon: 2.35, lat: 48.85 } }, IMAGE)).toThrow(/top-left corner \(lon 2.35, lat 48.85\) is outside China: are longitude and latitude swapped\?/);
  });

  it('refuses corners in a line, and nearly so (under 10° between the edges)', () => {
    expect(problemOf(at([0, 0], [100, 0], [200, 0]))).toBe('collinear');
    expect(problemOf(at([0, 0], [100, 0], [100, -15]))).toBe('collinear'); // 8.5°
    expect(problemOf(at([0, 0], [100, 0], [100, -20]), { width: 1000, height: 1000 })).toBe('none'); // 11.3°
  });

  it('refuses a mirror image (top-right and bottom-left swapped)', () => {
    expect(problemOf(at([-200, 150], [-200, -150], [200, 150]), { width: 1200, height: 1600 })).toBe('mirrored');
  });

  it('refuses less than 5 m an edge and more than 5 km across, with the sizes', () => {
    expect(() => validateGeoref(at([0, 0], [4, 0], [0, -3]), { width: 400, height: 300 })).toThrow('the image would be 4.0 m × 3.0 m; each edge must be at least 5 m for a campus plan');
    expect(problemOf(at([0, 0], [6, 0], [0, -5.5]), { width: 600, height: 550 })).toBe('none');
    expect(() => validateGeoref(at([0, 0], [4000, 0], [0, -3500]), IMAGE)).toThrow('the image would span 5315 m; a campus plan spans at most 5000 m');
    expect(problemOf(at([0, 0], [3000, 0], [0, -2000]), IMAGE)).toBe('none'); // 3.6 km across
  });

  it('refuses pixels stretched more than 4:1', () => {
    // 400 m × 300 m is right for 1600 × 1200 px; for 1600 × 200 px it stretches 6:1
    expect(problemOf(at([-200, 150], [200, 150], [-200, -150]), { width: 1600, height: 200 })).toBe('stretched');
    expect(problemOf(at([-200, 150], [200, 150], [-200, -150]), { width: 1600, height: 400 })).toBe('none'); // 3:1
  });
});
