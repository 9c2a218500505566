/**
 * Where a floor-plan image lies on the earth: the WGS84 lon/lat of its top-left, top-right and
 * bottom-left corners. Three points fix an affine placement (move, rotate, scale, skew); pixel
 * (px, py) of a W × H image lies at TL + px/W·(TR − TL) + py/H·(BL − TL), interpolated in a local
 * metric frame (at campus size lon/lat, Web Mercator and local metres agree to centimetres).
 *
 * Checked before it is stored, each with a reason a person can act on: coordinates valid and in
 * China (a swapped lon/lat lands elsewhere), corners not (nearly) in a line, not mirrored, a campus
 * size (every edge ≥ 5 m, no extent over 5 km), and pixels not stretched more than 4:1.
 */
import { LocalFrame, outOfChina, type LonLat } from '../compliance/geometry/index.ts';

export interface Georef {
  topLeft: LonLat;
  topRight: LonLat;
  bottomLeft: LonLat;
}

export const MIN_EDGE_M = 5;
export const MAX_EXTENT_M = 5_000;
/** sin of the smallest angle allowed between the image's top and left edges (10°) */
const MIN_SIN_ANGLE = Math.sin((10 * Math.PI) / 180);
/** most a pixel may be stretched one way against the other (metres per pixel across vs down) */
const MAX_STRETCH = 4;

export type GeorefProblemKind = 'out-of-range' | 'outside-china' | 'collinear' | 'mirrored' | 'too-small' | 'too-large' | 'stretched';

export class GeorefProblem extends Error {
  constructor(
    readonly problem: GeorefProblemKind,
    message: string,
  ) {
    super(message);
  }
}

const CORNERS = [
  ['topLeft', 'top-left'],
  ['topRight', 'top-right'],
  ['bottomLeft', 'bottom-left'],
] as const;

const fmt = (m: number) => (m >= 100 ? Math.round(m).toString() : m.toFixed(1));

/** Throws a GeorefProblem when `g` cannot be the placement of a `width` × `height` px campus image. */
export function validateGeoref(g: Georef, image: { width: number; height: number }): void {
  for (const [key, name] of CORNERS) {
    const p = g[key];
    if (!Number.isFinite(p.lon) || !Number.isFinite(p.lat) || Math.abs(p.lon) > 180 || Math.abs(p.lat) >= 85) {
      throw new GeorefProblem('out-of-range', `the ${name} corner (${p.lon}, ${p.lat}) is not a valid longitude, latitude`);
    }
    if (outOfChina(p)) throw new GeorefProblem('outside-china', `the ${name} corner (lon ${p.lon}, lat ${p.lat}) is outside China: are longitude and latitude swapped?`);
  }
  const frame = new LocalFrame(g.topLeft);
  const u = frame.toLocal(g.topRight); // along the image's top edge (x east, y north)
  const v = frame.toLocal(g.bottomLeft); // down its left edge
  const wM = Math.hypot(u.x, u.y), hM = Math.hypot(v.x, v.y);
  if (Math.min(wM, hM) < MIN_EDGE_M) {
    throw new GeorefProblem('too-small', `the image would be ${fmt(wM)} m × ${fmt(hM)} m; each edge must be at least ${MIN_EDGE_M} m for a campus plan`);
  }
  const extent = Math.max(wM, hM, Math.hypot(u.x + v.x, u.y + v.y), Math.hypot(u.x - v.x, u.y - v.y));
  if (extent > MAX_EXTENT_M) {
    throw new GeorefProblem('too-large', `the image would span ${fmt(extent)} m; a campus plan spans at most ${MAX_EXTENT_M} m`);
  }
  const cross = u.x * v.y - u.y * v.x;
  if (Math.abs(cross) / (wM * hM) < MIN_SIN_ANGLE) {
    throw new GeorefProblem('collinear', 'the three corners are (nearly) in a line, which would squash the image into a strip');
  }
  // unmirrored, the left edge runs clockwise of the top edge (x east, y down the image = south)
  if (cross > 0) throw new GeorefProblem('mirrored', 'the corners give a mirror image of the plan (top-right and bottom-left swapped?)');
  const across = wM / image.width, down = hM / image.height;
  const stretch = Math.max(across, down) / Math.min(across, down);
  if (stretch > MAX_STRETCH) {
    throw new GeorefProblem('stretched', `the image would be stretched ${stretch.toFixed(1)}:1 (${fmt(wM)} m × ${fmt(hM)} m for ${image.width} × ${image.height} px); at most ${MAX_STRETCH}:1`);
  }
}
