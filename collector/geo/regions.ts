/**
 * County boundaries in the DataV style of `shared/data/geo/*.json` (an array of GeoJSON Features
 * with `adcode`, `name`, `center`) → inventory regions. The files are public data whose codes lag
 * behind renames; those are corrected here from GB/T 2260 (REFERENCE.md).
 */
import type { RegionInput } from '../store/index.ts';

/** Cities (and districts) we ship boundaries for, with their GB/T 2260 names. */
export const KNOWN_CITIES: Record<string, string> = {
  '371500': '聊城市',
  '530500': '保山市',
  '440100': '广州市',
  '110108': '北京市海淀区',
  '310117': '上海市松江区',
};

/** Codes changed since the boundary data was published: old → [new code, new name]. */
export const RENAMED_COUNTIES: Record<string, [string, string]> = {
  '371523': ['371503', '茌平区'], // 茌平县 became 茌平区 in 2019
};

export class RegionFileError extends Error {}

export function countiesFromFeatures(data: unknown, cityCode: string): RegionInput[] {
  if (!Array.isArray(data)) throw new RegionFileError('expected a JSON array of GeoJSON Features');
  return data.map((f: unknown, i) => {
    const p = (f as { properties?: Record<string, unknown> } | null)?.properties;
    const adcode = p ? String(p.adcode ?? '') : '';
    const name = p && typeof p.name === 'string' ? p.name : '';
    if (!/^[0-9]{6}$/.test(adcode) || !name) throw new RegionFileError(`feature ${i}: needs properties.adcode (6 digits) and properties.name`);
    const center = Array.isArray(p!.center) ? (p!.center as unknown[]) : [];
    const [code, fixedName] = RENAMED_COUNTIES[adcode] ?? [adcode, name];
    const lon = typeof center[0] === 'number' ? center[0] : null;
    const lat = typeof center[1] === 'number' ? center[1] : null;
    // Centres stay in the file's frame (GCJ-02); the console converts when it draws on WGS84 tiles.
    return { code, name: fixedName, level: 'county' as const, parentCode: cityCode, centreLon: lon, centreLat: lat };
  });
}
