/** Small geodesy for drawing: GCJ-02 → WGS84 (DataV boundaries), plan metres → lon/lat, view sectors. */

const A = 6378245.0;
const EE = 0.006693421622965943;
const outOfChina = (lon: number, lat: number) => lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
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
export function wgs84ToGcj02(lon: number, lat: number): [number, number] {
  if (outOfChina(lon, lat)) return [lon, lat];
  let dLat = tLat(lon - 105, lat - 35);
  let dLon = tLon(lon - 105, lat - 35);
  const radLat = (lat / 180) * Math.PI;
  const magic = 1 - EE * Math.sin(radLat) ** 2;
  const sm = Math.sqrt(magic);
  dLat = (dLat * 180) / (((A * (1 - EE)) / (magic * sm)) * Math.PI);
  dLon = (dLon * 180) / ((A / sm) * Math.cos(radLat) * Math.PI);
  return [lon + dLon, lat + dLat];
}
/** Inverse by fixed-point iteration (sub-centimetre after a few steps). */
export function gcj02ToWgs84(lon: number, lat: number): [number, number] {
  let w: [number, number] = [lon, lat];
  for (let i = 0; i < 4; i++) {
    const g = wgs84ToGcj02(w[0], w[1]);
    w = [w[0] - (g[0] - lon), w[1] - (g[1] - lat)];
  }
  return w;
}

/** Maps every [lon, lat] pair in GeoJSON coordinates through `f`. */
export function mapCoords(c: unknown, f: (lon: number, lat: number) => [number, number]): unknown {
  if (Array.isArray(c) && typeof c[0] === 'number') return f(c[0] as number, c[1] as number);
  return Array.isArray(c) ? c.map((x) => mapCoords(x, f)) : c;
}

const R = 6378137;
/** A point `east`/`north` metres from an anchor, as [lat, lon] for Leaflet. */
export function offset(lon: number, lat: number, east: number, north: number): [number, number] {
  const dLat = (north / R) * (180 / Math.PI);
  const dLon = (east / (R * Math.cos((lat * Math.PI) / 180))) * (180 / Math.PI);
  return [lat + dLat, lon + dLon];
}
/** Plan metres (x along the plan's +x, y along +y whose bearing is `rotationDeg`) → [lat, lon]. */
export function planToLatLng(anchor: { lon: number; lat: number }, rotationDeg: number, p: { x: number; y: number }): [number, number] {
  const t = (rotationDeg * Math.PI) / 180;
  const east = p.x * Math.cos(t) + p.y * Math.sin(t);
  const north = -p.x * Math.sin(t) + p.y * Math.cos(t);
  return offset(anchor.lon, anchor.lat, east, north);
}
/** A camera's view sector as a [lat, lon] ring: apex, arc from heading − fov/2 to heading + fov/2. */
export function sector(lon: number, lat: number, headingDeg: number, hfovDeg: number, rangeM: number): [number, number][] {
  const pts: [number, number][] = [[lat, lon]];
  const steps = Math.max(4, Math.ceil(hfovDeg / 5));
  for (let i = 0; i <= steps; i++) {
    const b = ((headingDeg - hfovDeg / 2 + (hfovDeg * i) / steps) * Math.PI) / 180;
    pts.push(offset(lon, lat, rangeM * Math.sin(b), rangeM * Math.cos(b)));
  }
  return pts;
}
/** How far a camera still gives `ppm` pixels per metre across its view. */
export function rangeAtPpm(horizontalPixels: number, hfovDeg: number, ppm: number): number {
  return horizontalPixels / (2 * Math.tan(((hfovDeg / 2) * Math.PI) / 180) * ppm);
}
