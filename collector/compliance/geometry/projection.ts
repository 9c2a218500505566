/**
 * WGS84 lon/lat ↔ local metres around an anchor (a school), and GCJ-02 ↔ WGS84.
 *
 * Why a transverse Mercator centred on the anchor and not an equirectangular tangent plane: the
 * equirectangular plane uses one cos φ₀ for every point, so 3 km north of the anchor at 37° N an
 * east offset of 3 km is off by about 3000·tan φ·Δφ ≈ 1 m. A transverse Mercator on the WGS84
 * ellipsoid with its central meridian through the anchor (k₀ = 1, origin at the anchor) is
 * conformal and its scale error is x²/2R² ≈ 1·10⁻⁷ at 3 km, i.e. well under a millimetre, and the
 * grid north equals true north at the anchor. Series: Snyder, "Map Projections — A Working Manual"
 * (USGS PP 1395, 1987), eqs. 8-9…8-18, accurate to well under a millimetre within a few degrees of
 * the central meridian.
 *
 * A campus plan drawn in its own frame can be georeferenced by the anchor (where the plan's origin
 * is) and `rotationDeg`: the bearing of the plan's +y axis, degrees clockwise from true north.
 */
import type { Point } from './types.ts';

const A = 6378137; // WGS84 semi-major axis, m
const F = 1 / 298.257223563;
const E2 = F * (2 - F);
const EP2 = E2 / (1 - E2);
const D2R = Math.PI / 180;
const M1 = 1 - E2 / 4 - (3 * E2 * E2) / 64 - (5 * E2 ** 3) / 256;

function meridianArc(phi: number): number {
  const e4 = E2 * E2, e6 = e4 * E2;
  return (
    A *
    (M1 * phi -
      ((3 * E2) / 8 + (3 * e4) / 32 + (45 * e6) / 1024) * Math.sin(2 * phi) +
      ((15 * e4) / 256 + (45 * e6) / 1024) * Math.sin(4 * phi) -
      ((35 * e6) / 3072) * Math.sin(6 * phi))
  );
}

export interface LonLat {
  lon: number;
  lat: number;
}

export interface Anchor extends LonLat {
  /** Bearing of the local +y axis, degrees clockwise from true north (0 = y points north). */
  rotationDeg?: number;
}

export class LocalFrame {
  private readonly lon0: number;
  private readonly M0: number;
  private readonly cosR: number;
  private readonly sinR: number;

  constructor(readonly anchor: Anchor) {
    if (!(Math.abs(anchor.lat) < 85 && Math.abs(anchor.lon) <= 180)) throw new RangeError(`anchor ${anchor.lon}, ${anchor.lat} out of range`);
    this.lon0 = anchor.lon * D2R;
    this.M0 = meridianArc(anchor.lat * D2R);
    const r = (anchor.rotationDeg ?? 0) * D2R;
    this.cosR = Math.cos(r);
    this.sinR = Math.sin(r);
  }

  /** WGS84 → local metres (x, y in the plan's frame). */
  toLocal(p: LonLat): Point {
    const phi = p.lat * D2R;
    const s = Math.sin(phi), c = Math.cos(phi), t = Math.tan(phi);
    const N = A / Math.sqrt(1 - E2 * s * s);
    const T = t * t, C = EP2 * c * c;
    let dl = p.lon * D2R - this.lon0;
    if (dl > Math.PI) dl -= 2 * Math.PI;
    if (dl < -Math.PI) dl += 2 * Math.PI;
    const Aa = dl * c;
    const e = N * (Aa + ((1 - T + C) * Aa ** 3) / 6 + ((5 - 18 * T + T * T + 72 * C - 58 * EP2) * Aa ** 5) / 120);
    const n =
      meridianArc(phi) -
      this.M0 +
      N * t * ((Aa * Aa) / 2 + ((5 - T + 9 * C + 4 * C * C) * Aa ** 4) / 24 + ((61 - 58 * T + T * T + 600 * C - 330 * EP2) * Aa ** 6) / 720);
    // east/north → plan axes
    return { x: e * this.cosR - n * this.sinR, y: e * this.sinR + n * this.cosR };
  }

  /** Local metres → WGS84. */
  toLonLat(p: Point): LonLat {
    const e = p.x * this.cosR + p.y * this.sinR;
    const n = -p.x * this.sinR + p.y * this.cosR;
    const mu = (this.M0 + n) / (A * M1);
    const se = Math.sqrt(1 - E2);
    const e1 = (1 - se) / (1 + se);
    const phi1 =
      mu +
      ((3 * e1) / 2 - (27 * e1 ** 3) / 32) * Math.sin(2 * mu) +
      ((21 * e1 * e1) / 16 - (55 * e1 ** 4) / 32) * Math.sin(4 * mu) +
      ((151 * e1 ** 3) / 96) * Math.sin(6 * mu) +
      ((1097 * e1 ** 4) / 512) * Math.sin(8 * mu);
    const s = Math.sin(phi1), c = Math.cos(phi1), t = Math.tan(phi1);
    const C1 = EP2 * c * c, T1 = t * t;
    const N1 = A / Math.sqrt(1 - E2 * s * s);
    const R1 = (A * (1 - E2)) / (1 - E2 * s * s) ** 1.5;
    const D = e / N1;
    const phi =
      phi1 -
      ((N1 * t) / R1) *
        ((D * D) / 2 -
          ((5 + 3 * T1 + 10 * C1 - 4 * C1 * C1 - 9 * EP2) * D ** 4) / 24 +
          ((61 + 90 * T1 + 298 * C1 + 45 * T1 * T1 - 252 * EP2 - 3 * C1 * C1) * D ** 6) / 720);
    const lam =
      this.lon0 + (D - ((1 + 2 * T1 + C1) * D ** 3) / 6 + ((5 - 2 * C1 + 28 * T1 - 3 * C1 * C1 + 8 * EP2 + 24 * T1 * T1) * D ** 5) / 120) / c;
    return { lon: lam / D2R, lat: phi / D2R };
  }
}

// ---- GCJ-02 (the public algorithm used by Chinese web maps; DataV boundaries are in it) ----

const GCJ_A = 6378245.0;
const GCJ_EE = 0.006693421622965943; // 0.00669342162296594323 in the reference code, as a double

/** GCJ-02 applies no offset outside this rough box around China (the reference implementations' test). */
export function outOfChina(p: LonLat): boolean {
  return p.lon < 72.004 || p.lon > 137.8347 || p.lat < 0.8293 || p.lat > 55.8271;
}

function tLat(x: number, y: number): number {
  let r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * Math.sqrt(Math.abs(x));
  r += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  r += ((20 * Math.sin(y * Math.PI) + 40 * Math.sin((y / 3) * Math.PI)) * 2) / 3;
  r += ((160 * Math.sin((y / 12) * Math.PI) + 320 * Math.sin((y * Math.PI) / 30)) * 2) / 3;
  return r;
}

function tLon(x: number, y: number): number {
  let r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * Math.sqrt(Math.abs(x));
  r += ((20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) * 2) / 3;
  r += ((20 * Math.sin(x * Math.PI) + 40 * Math.sin((x / 3) * Math.PI)) * 2) / 3;
  r += ((150 * Math.sin((x / 12) * Math.PI) + 300 * Math.sin((x / 30) * Math.PI)) * 2) / 3;
  return r;
}

export function wgs84ToGcj02(p: LonLat): LonLat {
  if (outOfChina(p)) return { ...p };
  let dLat = tLat(p.lon - 105, p.lat - 35);
  let dLon = tLon(p.lon - 105, p.lat - 35);
  const radLat = p.lat * D2R;
  const magic = 1 - GCJ_EE * Math.sin(radLat) ** 2;
  const sm = Math.sqrt(magic);
  dLat = (dLat * 180) / (((GCJ_A * (1 - GCJ_EE)) / (magic * sm)) * Math.PI);
  dLon = (dLon * 180) / ((GCJ_A / sm) * Math.cos(radLat) * Math.PI);
  return { lon: p.lon + dLon, lat: p.lat + dLat };
}

/** Inverse by fixed-point iteration (the offset varies slowly): converges to < 1e-10° in a few steps. */
export function gcj02ToWgs84(p: LonLat): LonLat {
  if (outOfChina(p)) return { ...p };
  let w: LonLat = { ...p };
  for (let i = 0; i < 30; i++) {
    const g = wgs84ToGcj02(w);
    const dLon = p.lon - g.lon, dLat = p.lat - g.lat;
    w = { lon: w.lon + dLon, lat: w.lat + dLat };
    if (Math.abs(dLon) < 1e-11 && Math.abs(dLat) < 1e-11) break;
  }
  return w;
}
