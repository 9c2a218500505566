/**
 * What a valid school record is, checked in one place for both `upsertSchool` and the CSV import,
 * and the conversion of one CSV row (strings, optional Chinese labels) into a school record.
 */
import { isSchoolCode } from '../../protocol/topics.ts';

export const SCHOOL_TYPES = ['kindergarten', 'primary', 'junior', 'senior', 'nine-year', 'twelve-year', 'complete', 'vocational', 'special'] as const;
export type SchoolType = (typeof SCHOOL_TYPES)[number];
export const OWNERSHIPS = ['public', 'private'] as const;
export type Ownership = (typeof OWNERSHIPS)[number];

/** Spreadsheets from schools use the Chinese terms; both spellings are accepted on import. */
const TYPE_ALIASES: Record<string, SchoolType> = {
  幼儿园: 'kindergarten',
  小学: 'primary',
  初中: 'junior',
  初级中学: 'junior',
  高中: 'senior',
  高级中学: 'senior',
  普通高中: 'senior',
  九年一贯制学校: 'nine-year',
  九年一贯制: 'nine-year',
  十二年一贯制学校: 'twelve-year',
  十二年一贯制: 'twelve-year',
  完全中学: 'complete',
  中等职业学校: 'vocational',
  职业学校: 'vocational',
  中职: 'vocational',
  特殊教育学校: 'special',
};
const OWNERSHIP_ALIASES: Record<string, Ownership> = { 公办: 'public', 民办: 'private' };

export const SCHOOL_CSV_COLUMNS = [
  'code',
  'name',
  'county_code',
  'type',
  'ownership',
  'student_count',
  'staff_count',
  'contracted_uplink_mbps',
  'lon',
  'lat',
  'address',
] as const;
export type SchoolCsvColumn = (typeof SCHOOL_CSV_COLUMNS)[number];

export interface SchoolInput {
  code: string;
  name: string;
  countyCode: string;
  type: SchoolType;
  ownership: Ownership;
  studentCount: number;
  staffCount: number;
  contractedUplinkMbps?: number | null;
  lon?: number | null;
  lat?: number | null;
  address?: string | null;
}

export interface FieldError {
  column: SchoolCsvColumn;
  message: string;
}

/** Bounding box of China's territory, generous by a degree: catches swapped lon/lat and zeros. */
export const CHINA_LON = [73, 136] as const;
export const CHINA_LAT = [3, 54] as const;

function intInRange(v: unknown, lo: number, hi: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
}

/** Checks everything that does not need the database (the county's existence does). */
export function validateSchool(s: SchoolInput): FieldError[] {
  const errors: FieldError[] = [];
  if (typeof s.code !== 'string' || !isSchoolCode(s.code)) errors.push({ column: 'code', message: `school code must be 10 digits (学校标识码), got ${JSON.stringify(s.code)}` });
  if (typeof s.name !== 'string' || s.name.trim().length === 0) errors.push({ column: 'name', message: 'name is empty' });
  else if ([...s.name].length > 100) errors.push({ column: 'name', message: 'name is longer than 100 characters' });
  if (typeof s.countyCode !== 'string' || !/^[0-9]{6}$/.test(s.countyCode)) errors.push({ column: 'county_code', message: `county code must be 6 digits (GB/T 2260), got ${JSON.stringify(s.countyCode)}` });
  if (!(SCHOOL_TYPES as readonly string[]).includes(s.type)) errors.push({ column: 'type', message: `type ${JSON.stringify(s.type)} is not one of ${SCHOOL_TYPES.join(', ')}` });
  if (!(OWNERSHIPS as readonly string[]).includes(s.ownership)) errors.push({ column: 'ownership', message: `ownership ${JSON.stringify(s.ownership)} is not public or private (公办/民办)` });
  if (!intInRange(s.studentCount, 0, 100_000)) errors.push({ column: 'student_count', message: 'student_count must be a whole number from 0 to 100000' });
  if (!intInRange(s.staffCount, 0, 20_000)) errors.push({ column: 'staff_count', message: 'staff_count must be a whole number from 0 to 20000' });
  if (s.contractedUplinkMbps != null && !intInRange(s.contractedUplinkMbps, 1, 1_000_000)) errors.push({ column: 'contracted_uplink_mbps', message: 'contracted_uplink_mbps must be a whole number from 1 to 1000000' });
  const hasLon = s.lon != null;
  const hasLat = s.lat != null;
  if (hasLon !== hasLat) errors.push({ column: hasLon ? 'lat' : 'lon', message: 'lon and lat must be given together or both left empty' });
  if (hasLon && !(typeof s.lon === 'number' && s.lon >= CHINA_LON[0] && s.lon <= CHINA_LON[1])) errors.push({ column: 'lon', message: `lon ${s.lon} is not a longitude in China (${CHINA_LON[0]}–${CHINA_LON[1]})` });
  if (hasLat && !(typeof s.lat === 'number' && s.lat >= CHINA_LAT[0] && s.lat <= CHINA_LAT[1])) errors.push({ column: 'lat', message: `lat ${s.lat} is not a latitude in China (${CHINA_LAT[0]}–${CHINA_LAT[1]})` });
  if (s.address != null && (typeof s.address !== 'string' || [...s.address].length > 300)) errors.push({ column: 'address', message: 'address is longer than 300 characters' });
  return errors;
}

/** Converts one CSV row to a school; a value that cannot even be parsed is reported instead. */
export function schoolFromCsvRow(row: Record<SchoolCsvColumn, string>): { school: SchoolInput; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const int = (col: SchoolCsvColumn, optional: boolean): number | null => {
    const v = row[col];
    if (v === '') {
      if (!optional) errors.push({ column: col, message: `${col} is empty` });
      return null;
    }
    if (!/^[0-9]+$/.test(v)) {
      errors.push({ column: col, message: `${col} ${JSON.stringify(v)} is not a whole number` });
      return null;
    }
    return Number(v);
  };
  const dec = (col: SchoolCsvColumn): number | null => {
    const v = row[col];
    if (v === '') return null;
    if (!/^-?[0-9]+(\.[0-9]+)?$/.test(v)) {
      errors.push({ column: col, message: `${col} ${JSON.stringify(v)} is not a decimal number` });
      return null;
    }
    return Number(v);
  };
  const school: SchoolInput = {
    code: row.code,
    name: row.name,
    countyCode: row.county_code,
    type: (TYPE_ALIASES[row.type] ?? row.type) as SchoolType,
    ownership: (OWNERSHIP_ALIASES[row.ownership] ?? row.ownership) as Ownership,
    studentCount: int('student_count', false) ?? 0,
    staffCount: int('staff_count', false) ?? 0,
    contractedUplinkMbps: int('contracted_uplink_mbps', true),
    lon: dec('lon'),
    lat: dec('lat'),
    address: row.address === '' ? null : row.address,
  };
  // Fields that failed to parse are already reported; don't report them twice.
  const parsed = new Set(errors.map((e) => e.column));
  for (const e of validateSchool(school)) if (!parsed.has(e.column)) errors.push(e);
  return { school, errors };
}
