import { maybe, type FeatureCollection, type GeoFeature, type Verdict } from '../api';

export interface CountyFeature extends GeoFeature { properties: { code: string; name: string } }

/** County boundaries in WGS84, from the collector (`/api/v1/geo/counties`). */
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
  // The collector converts GCJ-02 → WGS84 and corrects renamed codes (collector/api/console-routes.ts).
  const fromServer = await maybe<FeatureCollection>(`/api/v1/geo/counties?city=${city}`).catch(() => null);
  return (fromServer?.features ?? []).map((f) => {
    const p = f.properties ?? {};
    return { ...f, properties: { code: String(p.code ?? f.id), name: String(p.name ?? '') } };
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
