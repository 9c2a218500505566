/**
 * Where the shipped county boundaries are (`simulator/data/geo/<city>.json`, a copy of the team's
 * `shared/data/geo/`, DataV style, GCJ-02) and reading one city's file. Shared by the demo and the
 * console API.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The directory of the shipped boundary files; `CAMPUS_GEO_DIR` points elsewhere. */
export const GEO_DIR = process.env.CAMPUS_GEO_DIR
  ? resolve(process.env.CAMPUS_GEO_DIR)
  : join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'simulator', 'data', 'geo');

/** The boundary file of a city, or null when none is shipped. Only 6-digit codes are looked up. */
export function boundaryFile(cityCode: string, dir = GEO_DIR): string | null {
  if (!/^[0-9]{6}$/.test(cityCode)) return null;
  const file = join(dir, `${cityCode}.json`);
  return existsSync(file) ? file : null;
}

/** The parsed file (an array of GeoJSON Features), or null when none is shipped. */
export function readBoundaryFeatures(cityCode: string, dir = GEO_DIR): unknown {
  const file = boundaryFile(cityCode, dir);
  return file ? (JSON.parse(readFileSync(file, 'utf8')) as unknown) : null;
}
