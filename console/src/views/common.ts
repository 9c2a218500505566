import { maybe, type FeatureCollection, type GeoFeature, type Verdict } from '../api';
import { gcj02ToWgs84, mapCoords } from '../geo';

export interface CountyFeature extends GeoFeature { properties: { code: string; name: string } }

/**
 * County boundaries in WGS84: from the collector (`/api/v1/geo/counties`) when it has the route,
 * else the demo cities' DataV boundaries bundled with the console (GCJ-02, converted here).
 */
export function loadCounties(city: string): Promise<CountyFeature[]> {
  let p = countiesCache.get(city);
  if (!p) {
    p = fetchCounties(city);
    countiesCache.set(city, p);
    p.catch(() => countiesCache.delete(city)); // a failure is not kept: the next view asks again
  }
  return p;
}
/** Boundaries per city, fetched once per page (they do not change while the console is open). */
const countiesCache = new Map<string, Promise<CountyFeature[]>>();

async function fetchCounties(city: string): Promise<CountyFeature[]> {
  const fromServer = await maybe<FeatureCollection>(`/api/v1/geo/counties?city=${city}`).catch(() => null);
  if (fromServer?.features?.length) {
    return fromServer.features.map((f) => {
      const p = f.properties ?? {};
      return { ...f, properties: { code: String(p.code ?? p.adcode ?? f.id), name: String(p.name ?? '') } };
    });
  }
  const bundled: Record<string, () => Promise<{ default: unknown }>> = {
    '371500': () => import('../../../simulator/data/geo/371500.json'),
  };
  const load = bundled[city];
  if (!load) return [];
  const raw = (await load()).default as Array<{ properties: { adcode: number; name: string }; geometry: { type: string; coordinates: unknown } }>;
  const renamed: Record<string, string> = { '371523': '371503' };
  return raw.map((f) => {
    const code = String(f.properties.adcode);
    return {
      type: 'Feature',
      id: renamed[code] ?? code,
      properties: { code: renamed[code] ?? code, name: f.properties.name },
      geometry: { type: f.geometry.type, coordinates: mapCoords(f.geometry.coordinates, gcj02ToWgs84) },
    };
  });
}

/** Colour of a school by its worst finding. */
export function worstColour(w: Verdict | 'none'): string {
  return w === 'fail' ? '#dc2626' : w === 'unknown' ? '#f59e0b' : w === 'pass' ? '#16a34a' : '#6b7280';
}

/** Shading from a 0..1 value where 1 is good (red → amber → green). */
export function shade(v: number | null): string {
  if (v == null) return '#cbd5e1';
  const x = Math.max(0, Math.min(1, v));
  const hue = Math.round(x * 120);
  return `hsl(${hue} 70% 50%)`;
}
