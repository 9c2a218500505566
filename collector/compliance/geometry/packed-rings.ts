/**
 * Rings and polygons packed into one Float64Array, the form in which `SchoolCoverage` keeps
 * cameras' views and key areas' blind spots: as arrays of `{x, y}` objects they cost about 90 bytes
 * a point (two boxed doubles, an object, an array slot), packed 16. The numbers are copied, not
 * rounded: unpacking gives back exactly what was packed, so the clipper sees the same coordinates
 * and the coverage figures are the same to the last bit. Only x and y are kept (Clipper's results
 * carry a z of 0, which nothing here reads).
 *
 * Rings: [ring count, point count of each ring…, x0, y0, x1, y1, … of every ring in order].
 * Polygons: [polygon count, hole count of each polygon…, then their rings packed as above, each
 * outer ring followed by its holes].
 */
import type { Polygon, Ring } from './types.ts';
import type { BBox } from './util.ts';

export type PackedRings = Float64Array & { readonly __packedRings: unique symbol };

/** No rings (a camera that sees nothing at a level): one shared instance. */
export const NO_RINGS = new Float64Array([0]) as PackedRings;

export function packRings(rings: readonly Ring[]): PackedRings {
  if (!rings.length) return NO_RINGS;
  let points = 0;
  for (const r of rings) points += r.length;
  const out = new Float64Array(1 + rings.length + 2 * points);
  out[0] = rings.length;
  let i = 1 + rings.length;
  rings.forEach((r, k) => {
    out[1 + k] = r.length;
    for (const p of r) {
      out[i++] = p.x;
      out[i++] = p.y;
    }
  });
  return out as PackedRings;
}

export function unpackRings(packed: PackedRings | Float64Array): Ring[] {
  const n = packed[0]!;
  const rings: Ring[] = [];
  let i = 1 + n;
  for (let k = 0; k < n; k++) {
    const len = packed[1 + k]!;
    const ring: Ring = [];
    for (let j = 0; j < len; j++, i += 2) ring.push({ x: packed[i]!, y: packed[i + 1]! });
    rings.push(ring);
  }
  return rings;
}

/** Bounding box of every point, without unpacking; null when there are no rings. */
export function packedBBox(packed: PackedRings): BBox | null {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (let i = 1 + packed[0]!; i < packed.length; i += 2) {
    const x = packed[i]!, y = packed[i + 1]!;
    if (x < minX) minX = x;
    if (y < minY) minY = y;
    if (x > maxX) maxX = x;
    if (y > maxY) maxY = y;
  }
  return minX <= maxX ? { minX, minY, maxX, maxY } : null;
}

export type PackedPolygons = Float64Array & { readonly __packedPolygons: unique symbol };

export function packPolygons(polygons: readonly Polygon[]): PackedPolygons {
  const rings = packRings(polygons.flatMap((p) => [p.outer, ...p.holes]));
  const out = new Float64Array(1 + polygons.length + rings.length);
  out[0] = polygons.length;
  polygons.forEach((p, k) => (out[1 + k] = p.holes.length));
  out.set(rings, 1 + polygons.length);
  return out as PackedPolygons;
}

export function unpackPolygons(packed: PackedPolygons): Polygon[] {
  const n = packed[0]!;
  const rings = unpackRings(packed.subarray(1 + n));
  const out: Polygon[] = [];
  let r = 0;
  for (let k = 0; k < n; k++) {
    const holes = packed[1 + k]!;
    out.push({ outer: rings[r]!, holes: rings.slice(r + 1, r + 1 + holes) });
    r += 1 + holes;
  }
  return out;
}
