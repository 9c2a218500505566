/**
 * The console's optional tile layer. The console draws boundaries and campus plans as vectors and
 * needs no tiles; a bureau with a tile server (Tianditu with its key, or an intranet server) names
 * it here and the console draws it underneath. Tiles must be in WGS84/CGCS2000 (Tianditu is):
 * the vectors are WGS84, and GCJ-02 tiles (Amap, Tencent) would sit a few hundred metres off.
 */
export interface MapTiles {
  /** URL template with {z}, {x}, {y} (and {s} when `subdomains` are given) */
  url: string;
  attribution?: string;
  /** e.g. "01234567" for Tianditu's t0–t7 */
  subdomains?: string;
  /** deepest zoom the server has; the console scales its tiles beyond it (campus plans go deeper) */
  maxNativeZoom?: number;
}

/** Why a tile configuration is unusable, or null when it is fine. */
export function mapTilesProblem(t: MapTiles): string | null {
  let u: URL;
  try {
    u = new URL(t.url.replace(/\{[a-z]\}/g, '0'));
  } catch {
    return `tile URL ${t.url} is not a URL`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `tile URL ${t.url} must be http or https`;
  for (const p of ['{z}', '{x}', '{y}']) if (!t.url.includes(p)) return `tile URL ${t.url} lacks ${p}`;
  if (t.url.includes('{s}') && !t.subdomains) return `tile URL ${t.url} has {s} but no subdomains are given`;
  if (t.maxNativeZoom !== undefined && !(Number.isInteger(t.maxNativeZoom) && t.maxNativeZoom >= 1 && t.maxNativeZoom <= 22)) return 'tile maxNativeZoom must be an integer 1–22';
  return null;
}
