import { describe, expect, it } from 'vitest';
import { polygonFromGeoJson, polygonToGeoJson } from './geojson.ts';
import { LocalFrame } from './projection.ts';
import { GeometryError } from './validate.ts';
import { polygonArea, signedArea } from './util.ts';

describe('GeoJSON', () => {
  const sq = { outer: [{ x: 0, y: 0 }, { x: 0, y: 10 }, { x: 10, y: 10 }, { x: 10, y: 0 }], holes: [[{ x: 2, y: 2 }, { x: 4, y: 2 }, { x: 4, y: 4 }]] };

  it('writes closed RFC 7946 rings (outer counter-clockwise, holes clockwise) and reads them back', () => {
    const g = polygonToGeoJson(sq);
    expect(g.coordinates[0]![0]).toEqual(g.coordinates[0]![4]);
    const area = (r: number[][]): number => signedArea(r.slice(0, -1).map(([x, y]) => ({ x: x!, y: y! })));
    expect(area(g.coordinates[0]!)).toBe(100);
    expect(area(g.coordinates[1]!)).toBe(-2);
    expect(g.coordinates[0]!.slice(0, 4)).toEqual(expect.arrayContaining([[0, 0], [10, 0], [10, 10], [0, 10]]));
    expect(polygonArea(polygonFromGeoJson(g, 'key area "x"'))).toBeCloseTo(98, 12);
  });

  it('georeferences through a local frame', () => {
    const f = new LocalFrame({ lon: 115.985, lat: 36.457, rotationDeg: 30 });
    const g = polygonToGeoJson(sq, f);
    expect(g.coordinates[0]!.some(([lon, lat]) => Math.abs(lon! - 115.985) < 1e-9 && Math.abs(lat! - 36.457) < 1e-9)).toBe(true);
    expect(polygonArea(polygonFromGeoJson(g, 'x', f))).toBeCloseTo(98, 3);
  });

  it('refuses malformed input with the subject named', () => {
    expect(() => polygonFromGeoJson({ type: 'Point', coordinates: [1, 2] }, 'key area "gate"')).toThrow(GeometryError);
    expect(() => polygonFromGeoJson({ type: 'Polygon', coordinates: [[[0, 0], [1, 'a'], [1, 1], [0, 0]]] }, 'key area "gate"')).toThrow(/key area "gate": outer ring point 1 has a non-finite/);
  });
});
