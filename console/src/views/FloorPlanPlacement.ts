/**
 * The arithmetic of placing a floor-plan image by its three corners (top-left, top-right,
 * bottom-left, WGS84): a first placement, moving, turning and scaling about the centre, the
 * bottom-right handle, and the readouts (size in metres, rotation). Metres come from a local tangent
 * plane at the image's centre, the inverse of geo.ts `offset`: at campus size (< 5 km) that agrees
 * with the collector's transverse Mercator to centimetres.
 */
import type { FloorPlanGeoref, LonLat } from '../api';
import { offset } from '../geo';

export type Corners = FloorPlanGeoref;
export type CornerKey = keyof Corners;
interface EN { e: number; n: number }

const R = 6378137;
const D2R = Math.PI / 180;

/** Metres east/north of `ref` (inverse of geo.ts `offset`). */
export function toMetres(ref: LonLat, p: LonLat): EN {
  return { e: (p.lon - ref.lon) * D2R * R * Math.cos(ref.lat * D2R), n: (p.lat - ref.lat) * D2R * R };
}
const fromMetres = (ref: LonLat, m: EN): LonLat => {
  const [lat, lon] = offset(ref.lon, ref.lat, m.e, m.n);
  return { lon, lat };
};

export function bottomRight(c: Corners): LonLat {
  return { lon: c.topRight.lon + c.bottomLeft.lon - c.topLeft.lon, lat: c.topRight.lat + c.bottomLeft.lat - c.topLeft.lat };
}
export function centreOf(c: Corners): LonLat {
  return { lon: (c.topRight.lon + c.bottomLeft.lon) / 2, lat: (c.topRight.lat + c.bottomLeft.lat) / 2 };
}

/** Width and height in metres (top and left edges), and rotation: the top edge's bearing less 90°, clockwise, −180..180. */
export function measure(c: Corners): { widthM: number; heightM: number; rotationDeg: number } {
  const u = toMetres(c.topLeft, c.topRight), v = toMetres(c.topLeft, c.bottomLeft);
  const bearing = Math.atan2(u.e, u.n) / D2R;
  let rot = bearing - 90;
  if (rot <= -180) rot += 360;
  if (rot > 180) rot -= 360;
  return { widthM: Math.hypot(u.e, u.n), heightM: Math.hypot(v.e, v.n), rotationDeg: rot };
}

/** Maps every corner through `f` (metres about the centre). */
function about(c: Corners, f: (m: EN) => EN): Corners {
  const o = centreOf(c);
  const map = (p: LonLat) => fromMetres(o, f(toMetres(o, p)));
  return { topLeft: map(c.topLeft), topRight: map(c.topRight), bottomLeft: map(c.bottomLeft) };
}

/** Turns by `deg` clockwise and scales by `k` about the centre (shape kept). */
export function turnAndScale(c: Corners, deg: number, k: number): Corners {
  const t = deg * D2R, cos = Math.cos(t), sin = Math.sin(t);
  return about(c, ({ e, n }) => ({ e: k * (e * cos + n * sin), n: k * (-e * sin + n * cos) }));
}

/** Moves the whole image so that its centre is at `to`. */
export function moveTo(c: Corners, to: LonLat): Corners {
  const o = centreOf(c);
  const d = { lon: to.lon - o.lon, lat: to.lat - o.lat };
  const sh = (p: LonLat) => ({ lon: p.lon + d.lon, lat: p.lat + d.lat });
  return { topLeft: sh(c.topLeft), topRight: sh(c.topRight), bottomLeft: sh(c.bottomLeft) };
}

/** The bottom-right handle dragged to `to`: turns and scales `start` about its centre so that its bottom-right corner lands there. */
export function dragBottomRight(start: Corners, to: LonLat): Corners {
  const o = centreOf(start);
  const a = toMetres(o, bottomRight(start)), b = toMetres(o, to);
  const ra = Math.hypot(a.e, a.n), rb = Math.hypot(b.e, b.n);
  if (ra === 0 || rb === 0) return start;
  // bearings, clockwise from north
  const deg = (Math.atan2(b.e, b.n) - Math.atan2(a.e, a.n)) / D2R;
  return turnAndScale(start, deg, rb / ra);
}

/** Sets the width in metres, keeping the shape, centre and rotation. */
export const withWidth = (c: Corners, widthM: number): Corners => turnAndScale(c, 0, widthM / measure(c).widthM);
/** Sets the rotation (clockwise degrees of the top edge from east), keeping the size and centre. */
export const withRotation = (c: Corners, deg: number): Corners => turnAndScale(c, deg - measure(c).rotationDeg, 1);

/** What the first placement centres on and, when known, the extent (metres) the image should cover. */
export interface Around {
  centre: LonLat;
  extentM?: { e: number; n: number };
}
/** Width (metres) of an image placed where nothing says how big the campus is: a typical campus. */
export const DEFAULT_WIDTH_M = 300;

/**
 * A first placement: north up, the image's aspect ratio, centred on `around`; covering its extent
 * with a 10 % margin (the drawing usually shows the campus with some border), else 300 m wide.
 */
export function defaultPlacement(image: { width: number; height: number }, around: Around): Corners {
  const mpp = around.extentM && around.extentM.e > 0 && around.extentM.n > 0 ? Math.max(around.extentM.e / image.width, around.extentM.n / image.height) * 1.1 : DEFAULT_WIDTH_M / image.width;
  const w = image.width * mpp, h = image.height * mpp;
  const at = (e: number, n: number) => fromMetres(around.centre, { e, n });
  return { topLeft: at(-w / 2, h / 2), topRight: at(w / 2, h / 2), bottomLeft: at(-w / 2, -h / 2) };
}

/** Whether two images have the same aspect ratio within 2 % (then a replaced image may keep the old corners). */
export const sameAspect = (a: { width: number; height: number }, b: { width: number; height: number }) => Math.abs(a.width / a.height / (b.width / b.height) - 1) < 0.02;

/** Rounds corners to 1e-7° (about a centimetre), what is sent to the collector. */
export function rounded(c: Corners): Corners {
  const r = (p: LonLat) => ({ lon: Number(p.lon.toFixed(7)), lat: Number(p.lat.toFixed(7)) });
  return { topLeft: r(c.topLeft), topRight: r(c.topRight), bottomLeft: r(c.bottomLeft) };
}
