import { describe, expect, it } from 'vitest';
import type { GeoFeature } from '../api';
import { latLngsOf, propertiesFor, refusedShape, shapeAt, thicknessOf, withLatLngs, withoutVertex, withProps, type LatLng, type ShapeProps } from './PlanFeatures';

const square = (id: string, kind: string, x0: number, y0: number, s: number, props: Record<string, unknown> = {}): GeoFeature => ({
  type: 'Feature',
  id,
  properties: { kind, name: id, ...props },
  geometry: { type: 'Polygon', coordinates: [[[x0, y0], [x0 + s, y0], [x0 + s, y0 + s], [x0, y0 + s], [x0, y0]]] },
});
const wall: GeoFeature = { type: 'Feature', id: 'w', properties: { kind: 'wall', name: 'w', thicknessM: 0.3 }, geometry: { type: 'LineString', coordinates: [[0, 0], [1, 0], [1, 1]] } };
/** screen = lon/lat × 100, y down */
const project = ([lat, lon]: LatLng) => ({ x: lon * 100, y: -lat * 100 });

describe('plan features', () => {
  it('reads GeoJSON as Leaflet rings and writes them back closed', () => {
    const f = square('a', 'key-area', 115, 36, 0.001);
    const ll = latLngsOf(f);
    expect(ll).toEqual([[[36, 115], [36, 115.001], [36.001, 115.001], [36.001, 115]]]);
    expect(withLatLngs(f, ll).geometry).toEqual(f.geometry);
    expect(latLngsOf(wall)).toEqual([[0, 0], [0, 1], [1, 1]]);
    expect(withLatLngs(wall, [[0, 0], [2, 2]]).geometry).toEqual({ type: 'LineString', coordinates: [[0, 0], [2, 2]] });
  });

  it('removes a vertex, never below three for a polygon or two for a wall', () => {
    const f = square('a', 'building', 0, 0, 1);
    const three = withoutVertex(f, [0, 1])!;
    expect(latLngsOf(three)).toEqual([[[0, 0], [1, 1], [1, 0]]]);
    expect(withoutVertex(three, [0, 0])).toBeNull();
    const two = withoutVertex(wall, [2])!;
    expect(latLngsOf(two)).toEqual([[0, 0], [0, 1]]);
    expect(withoutVertex(two, [0])).toBeNull();
    expect(withoutVertex(f, [0, 9])).toBeNull();
  });

  it('picks the smallest shape around a click, a wall or the outline only near its line', () => {
    const fs = [square('outline', 'outline', 0, 0, 10), square('big', 'building', 1, 1, 6), square('small', 'key-area', 2, 2, 1), { ...wall, geometry: { type: 'LineString', coordinates: [[8, 1], [8, 9]] } }];
    const at = (lon: number, lat: number) => shapeAt(fs, project([lat, lon]), project, 8)?.id ?? null;
    expect(at(2.5, 2.5)).toBe('small');
    expect(at(5, 5)).toBe('big');
    expect(at(8.05, 5)).toBe('w');
    expect(at(9, 5)).toBeNull(); // inside the campus but not on its outline
    expect(at(9.95, 5)).toBe('outline');
  });

  it('edits one property at a time; a new type brings back the policy level, a chosen level is kept', () => {
    const lab = square('lab', 'key-area', 0, 0, 1, { keyAreaType: 'hazardous-lab', requiredLevel: 'recognise', levelFromPolicy: true });
    expect(withProps(lab, { name: '化学实验室' }).properties).toEqual({ ...lab.properties, name: '化学实验室' });
    const chosen = withProps(lab, { level: 'identify' }).properties!;
    expect(chosen).toMatchObject({ requiredLevel: 'identify', keyAreaType: 'hazardous-lab' });
    expect(chosen.levelFromPolicy).toBeUndefined();
    const retyped = withProps(lab, { type: 'kitchen', level: 'observe' }).properties!;
    expect(retyped).toMatchObject({ keyAreaType: 'kitchen', requiredLevel: 'observe', levelFromPolicy: true });
    expect(withProps(lab, { kind: 'building' }).properties).toEqual({ kind: 'building', name: 'lab' });
    expect(withProps(wall, { thickness: '0.5' }).properties!.thicknessM).toBe(0.5);
    expect(withProps(wall, { thickness: '' }).properties!.thicknessM).toBeUndefined();
    expect(withProps(wall, { thickness: '11' }).properties!.thicknessM).toBe(0.3); // refused: kept
  });

  it('makes the properties of a drawn shape', () => {
    const v: ShapeProps = { kind: 'key-area', name: '', type: 'hazardous-store', level: 'recognise', thickness: '' };
    expect(propertiesFor(v, '实验室')).toEqual({ kind: 'key-area', name: '实验室', keyAreaType: 'hazardous-store', requiredLevel: 'recognise', levelFromPolicy: true });
    expect(propertiesFor({ ...v, level: 'inspect' }, 'x')).toEqual({ kind: 'key-area', name: 'x', keyAreaType: 'hazardous-store', requiredLevel: 'inspect' });
    expect(propertiesFor({ ...v, kind: 'wall', name: '隔墙', thickness: '0.24' }, '围墙')).toEqual({ kind: 'wall', name: '隔墙', thicknessM: 0.24 });
    expect(thicknessOf('x')).toBeNaN();
    expect(thicknessOf(' ')).toBeUndefined();
  });

  it("finds the shape an INVALID_GEOMETRY refusal names", () => {
    expect(refusedShape({ subject: 'building "drawn-1x"', problem: 'self-intersecting' })).toEqual({ id: 'drawn-1x', problem: 'self-intersecting' });
    expect(refusedShape({ subject: 'key area' })).toBeNull();
    expect(refusedShape(undefined)).toBeNull();
  });
});
