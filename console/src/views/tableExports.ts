/**
 * What each table of the console exports to Excel: typed columns and the rows as shown (filtered
 * and sorted as on screen). Cameras online/total and uplink/required are one column on screen but
 * two numbers in the workbook, so that Excel can sum and sort them.
 */
import type { CameraStatus, CityMap, CoverageReport, DeviceDetail, Finding, School, SchoolCompliance } from '../api';
import type { ExportColumn, ExportTable, NumberCell } from '../export';
import { fill } from '../export';
import { date, kindName, pct, type Lang, type MessageKey } from '../i18n/index';
import type { T } from '../App';

/** "label：value；label：value" in Chinese, "label: value; label: value" in English. */
function line(lang: Lang, parts: [string, string][]): string {
  return parts.map(([k, v]) => (lang === 'en' ? `${k}: ${v}` : `${k}：${v}`)).join(lang === 'en' ? '; ' : '；');
}
/** The translation of `key`, or `raw` when there is none (a value this console does not know). */
function label(t: T, key: string, raw: string): string {
  const v = t(key as MessageKey);
  return v === key ? raw : v;
}
const col = (header: string, type: ExportColumn['type'], decimals?: number): ExportColumn => ({ header, type, ...(decimals !== undefined ? { decimals } : {}) });

/** The city's county ranking for one indicator (a share, or a count of open findings). */
export function rankingTable(t: T, lang: Lang, m: CityMap, indicatorName: string): ExportTable {
  const schools = new Map(m.counties.map((c) => [c.code, c.schools]));
  return {
    title: fill(t('xlsx.rankingTitle'), { city: m.city.name, indicator: indicatorName }),
    filter: line(lang, [[t('indicator'), indicatorName], [t('xlsx.asOf'), date(m.computedAt)]]),
    lang,
    columns: [col(t('rank'), 'integer'), col(t('county'), 'text'), col(t('xlsx.schoolCount'), 'integer'), col(indicatorName, m.unit === 'share' ? 'percent' : 'integer')],
    rows: m.ranking.map((r) => [r.rank, r.name, schools.get(r.code) ?? null, r.value]),
  };
}

/** A row of the county's schools table (CountyView). */
export interface CountyRow { s: School; c: SchoolCompliance | null; coverage: number | null; online: number; total: number; uplink: number | null; required: number | null; ipv6: number | null; failing: number; tickets: number }

/** The county's schools as filtered and sorted on screen; `filters` are the chosen filter and sort, as labels. */
export function countySchoolsTable(t: T, lang: Lang, county: string, rows: CountyRow[], filters: { type: string; finding: string; sort: string; desc: boolean; of: number }, typeName: (ty: string) => string): ExportTable {
  return {
    title: fill(t('xlsx.countyTitle'), { county }),
    filter: line(lang, [
      [t('type'), filters.type],
      [t('finding'), filters.finding],
      [t('xlsx.sort'), lang === 'en' ? `${filters.sort} (${t(filters.desc ? 'xlsx.desc' : 'xlsx.asc')})` : `${filters.sort}（${t(filters.desc ? 'xlsx.desc' : 'xlsx.asc')}）`],
      [t('shownOf'), `${rows.length}/${filters.of}`],
    ]),
    lang,
    columns: [
      col(t('name'), 'text'),
      col(t('xlsx.schoolCode'), 'text'),
      col(t('type'), 'text'),
      col(t('coverage'), 'percent'),
      col(t('xlsx.camerasOnline'), 'integer'),
      col(t('xlsx.camerasTotal'), 'integer'),
      col(t('xlsx.uplinkMbps'), 'number', 1),
      col(t('xlsx.requiredMbps'), 'number', 1),
      col(t('ipv6'), 'percent'),
      col(t('failing'), 'integer'),
      col(t('openTickets'), 'integer'),
    ],
    // no compliance answer yet: empty cells, not zeros
    rows: rows.map((r) => [r.s.name, r.s.code, typeName(r.s.type), r.coverage, r.c ? r.online : null, r.c ? r.total : null, r.uplink, r.required, r.ipv6, r.c ? r.failing : null, r.tickets]),
  };
}

/** A finding's measured value or threshold: a share as a percentage, anything else a number in its unit. */
const valueCell = (v: number | null, unit: string): NumberCell => ({ value: v, type: unit === 'share' ? 'percent' : 'number' });

/** The school's compliance findings, every rule of its policy. */
export function findingsTable(t: T, lang: Lang, school: { code: string; name: string }, findings: Finding[]): ExportTable {
  return {
    title: fill(t('xlsx.findingsTitle'), { school: school.name }),
    filter: line(lang, [[t('xlsx.schoolCode'), school.code]]),
    lang,
    columns: [col(t('rule'), 'text'), col(t('xlsx.ruleId'), 'text'), col(t('verdict'), 'text'), col(t('value'), 'number'), col(t('threshold'), 'number'), col(t('xlsx.unit'), 'text'), col(t('source'), 'text'), col(t('xlsx.detail'), 'text')],
    rows: findings.map((f) => [
      lang === 'en' ? f.title.en : f.title.zh,
      f.ruleId,
      t(`verdict.${f.verdict}` as MessageKey),
      valueCell(f.measured, f.unit),
      valueCell(f.threshold, f.unit),
      f.unit === 'share' ? '' : f.unit,
      f.citation,
      f.detail,
    ]),
  };
}

/** The school's enrolled devices, as the devices table lists them, with the camera health where known. */
export function devicesTable(t: T, lang: Lang, school: { code: string; name: string }, devices: DeviceDetail[], cams: Map<string, CameraStatus>): ExportTable {
  return {
    title: fill(t('xlsx.devicesTitle'), { school: school.name }),
    filter: line(lang, [[t('xlsx.schoolCode'), school.code]]),
    lang,
    columns: [col(t('kind'), 'text'), col(t('xlsx.deviceId'), 'text'), col(t('xlsx.agent'), 'text'), col(t('address'), 'text'), col(t('state'), 'text'), col(t('lastSeen'), 'datetime')],
    rows: devices
      .filter((d) => d.state === 'enrolled')
      .map((d) => {
        const cs = cams.get(d.deviceId);
        const status = cs ? (cs.healthy ? t('healthy') : `${t('unhealthy')}${cs.problem ? `：${cs.problem}` : ''}`) : d.goneAt ? t('offline') : t('online');
        return [kindName(t, d.kind), d.deviceId, d.agentId, d.address ?? '', status, d.lastSeen];
      }),
  };
}

/** The school's key areas and how much of each the cameras cover. */
export function keyAreasTable(t: T, lang: Lang, school: { code: string; name: string }, cov: CoverageReport): ExportTable {
  return {
    title: fill(t('xlsx.areasTitle'), { school: school.name }),
    filter: line(lang, [[t('xlsx.schoolCode'), school.code], [t('weighted'), pct(cov.weightedCoverage)], [t('xlsx.asOf'), date(cov.computedAt)]]),
    lang,
    columns: [col(t('name'), 'text'), col(t('required'), 'text'), col(t('covered'), 'percent'), col(t('xlsx.blindSpotM2'), 'number', 0)],
    rows: cov.areas.map((a) => [a.name, label(t, `level.${a.requiredLevel}`, a.requiredLevel), a.coveredShare, a.blindSpotM2]),
  };
}
