/**
 * GeoJSON (RFC 7946) ⇄ plan polygons. With a LocalFrame the GeoJSON side is WGS84 lon/lat and the
 * plan side local metres; without one, both sides are the plan's own metric frame (a floor plan
 * with no georeference). Rings are closed and oriented as RFC 7946 asks (outer counter-clockwise).
 */
import type { LocalFrame } from './projection.ts';
import type { Point, Polygon, Ring } from './types.ts';
import { signedArea } from './util.ts';
import { GeometryError, validatePolygon } from './validate.ts';

export interface GeoJsonPolygon {
  type: 'Polygon';
  coordinates: number[][][];
}

function ringOut(r: Ring, ccw: boolean, frame?: LocalFrame): number[][] {
  const oriented = signedArea(r) > 0 === ccw ? r : [...r].reverse();
  const pts = oriented.map((p) => {
    if (!frame) return [p.x, p.y];
    const g = frame.toLonLat(p);
    return [g.lon, g.lat];
  });
  return [...pts, pts[0] as number[]];
}

export function polygonToGeoJson(p: Polygon, frame?: LocalFrame): GeoJsonPolygon {
  return { type: 'Polygon', coordinates: [ringOut(p.outer, true, frame), ...p.holes.map((h) => ringOut(h, false, frame))] };
}

/** Reads a GeoJSON Polygon into the plan frame and validates it (errors name `subject`). */
export function polygonFromGeoJson(g: unknown, subject: string, frame?: LocalFrame): Polygon {
  const geo = g as Partial<GeoJsonPolygon> | null;
  if (!geo || geo.type !== 'Polygon' || !Array.isArray(geo.coordinates) || geo.coordinates.length === 0)
    throw new GeometryError(subject, 'too-few-points', 'expected a GeoJSON Polygon with at least one ring');
  const rings = geo.coordinates.map((ring, i) => {
    if (!Array.isArray(ring)) throw new GeometryError(subject, 'too-few-points', `ring ${i} is not an array of positions`);
    return ring.map((pos): Point => {
      const [a, b] = Array.isArray(pos) ? pos : [Number.NaN, Number.NaN];
      const x = Number(a), y = Number(b);
      return frame && Number.isFinite(x) && Number.isFinite(y) ? frame.toLocal({ lon: x, lat: y }) : { x, y };
    });
  });
  return validatePolygon({ outer: rings[0] as Ring, holes: rings.slice(1) }, subject);
}
