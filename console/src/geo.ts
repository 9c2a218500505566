/** Small geodesy for drawing: plan metres → lon/lat, view sectors. (GCJ-02 boundaries come converted from the collector.) */

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
/**
 * How far a camera still gives `ppm` pixels per metre across its view (as the collector's `dMax`:
 * from 180° on, a fisheye's pixels per radian over the distance).
 */
export function rangeAtPpm(horizontalPixels: number, hfovDeg: number, ppm: number): number {
  if (hfovDeg >= 180) return horizontalPixels / (((hfovDeg * Math.PI) / 180) * ppm);
  return horizontalPixels / (2 * Math.tan(((hfovDeg / 2) * Math.PI) / 180) * ppm);
}
/** Bearing in whole degrees (0..359, clockwise from north) from one point to another (flat over a campus). */
export function bearingDeg(from: { lat: number; lng: number }, to: { lat: number; lng: number }): number {
  const east = (to.lng - from.lng) * Math.cos((from.lat * Math.PI) / 180), north = to.lat - from.lat;
  return Math.round(((Math.atan2(east, north) * 180) / Math.PI + 360) % 360) % 360;
}
/** The smaller angle between two bearings, degrees in [0, 180]. */
export function angleBetween(a: number, b: number): number {
  const d = Math.abs(a - b) % 360;
  return d > 180 ? 360 - d : d;
}
