/**
 * Roll-ups of school compliance to a county and to the city: per rule the share of schools passing,
 * key-area coverage, cameras online, IPv6 share, and rankings. Pure: built from SchoolCompliance.
 */
import type { SchoolCompliance } from './service.ts';

export interface RuleRollup {
  ruleId: string;
  kind: string;
  title: { zh: string; en: string };
  pass: number;
  fail: number;
  unknown: number;
  /** passing schools / schools the rule applies to (unknown counts as not passing) */
  passShare: number | null;
}

export interface UnitSummary {
  code: string;
  name: string;
  schools: number;
  /** schools with no failing rule */
  schoolsAllPassing: number;
  rules: RuleRollup[];
  keyAreas: { schoolsPassing: number; total: number; fullyCovered: number; share: number | null; weightedCoverage: number | null; weightedIfAllHealthy: number | null };
  cameras: { total: number; online: number; healthy: number };
  uplink: { schoolsPassing: number };
  ipv6: { devices: number; withGlobal: number; share: number | null };
  display: { schoolsPassing: number };
  /** failing findings across the schools: what still has to be put right */
  openIssues: number;
}

export interface RankedSchool {
  rank: number;
  code: string;
  name: string;
  passed: number;
  failed: number;
  unknown: number;
  keyAreaShare: number | null;
  weightedCoverage: number | null;
}

export interface CountyRollup extends UnitSummary {
  ranking: RankedSchool[];
}

export interface CityRollup extends UnitSummary {
  counties: UnitSummary[];
  ranking: (UnitSummary & { rank: number })[];
}

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;
const passes = (s: SchoolCompliance, kind: string) => s.findings.some((f) => f.kind === kind && f.verdict === 'pass');

export function summarise(code: string, name: string, schools: SchoolCompliance[]): UnitSummary {
  const rules = new Map<string, RuleRollup>();
  let areas = 0, full = 0, cTot = 0, cOn = 0, cHealthy = 0, v6d = 0, v6g = 0, open = 0;
  const weighted: number[] = [], ifAll: number[] = [];
  for (const s of schools) {
    for (const f of s.findings) {
      let r = rules.get(f.ruleId);
      if (!r) rules.set(f.ruleId, (r = { ruleId: f.ruleId, kind: f.kind, title: f.title, pass: 0, fail: 0, unknown: 0, passShare: null }));
      r[f.verdict]++;
      if (f.verdict === 'fail') open++;
    }
    areas += s.facts.keyAreas.total;
    full += s.facts.keyAreas.fullyCovered;
    if (s.facts.keyAreas.weightedCoverage !== null) weighted.push(s.facts.keyAreas.weightedCoverage);
    if (s.facts.keyAreas.weightedIfAllHealthy !== null) ifAll.push(s.facts.keyAreas.weightedIfAllHealthy);
    cTot += s.facts.cameras.total;
    cOn += s.facts.cameras.online;
    cHealthy += s.facts.cameras.healthy;
    v6d += s.facts.ipv6.devices;
    v6g += s.facts.ipv6.withGlobal;
  }
  for (const r of rules.values()) {
    const n = r.pass + r.fail + r.unknown;
    r.passShare = n ? r4(r.pass / n) : null;
  }
  const mean = (xs: number[]) => (xs.length ? r4(xs.reduce((a, b) => a + b, 0) / xs.length) : null);
  return {
    code,
    name,
    schools: schools.length,
    schoolsAllPassing: schools.filter((s) => !s.findings.some((f) => f.verdict === 'fail')).length,
    rules: [...rules.values()].sort((a, b) => a.ruleId.localeCompare(b.ruleId)),
    // a past month's figures are means (fractional counts): rounded against float noise
    keyAreas: { schoolsPassing: schools.filter((s) => passes(s, 'key-area-coverage')).length, total: areas, fullyCovered: r4(full), share: areas ? r4(full / areas) : null, weightedCoverage: mean(weighted), weightedIfAllHealthy: mean(ifAll) },
    cameras: { total: cTot, online: r4(cOn), healthy: r4(cHealthy) },
    uplink: { schoolsPassing: schools.filter((s) => passes(s, 'uplink-bandwidth')).length },
    ipv6: { devices: v6d, withGlobal: v6g, share: v6d ? r4(v6g / v6d) : null },
    display: { schoolsPassing: schools.filter((s) => passes(s, 'display-per-classroom')).length },
    openIssues: open,
  };
}

const cmpNullable = (a: number | null, b: number | null) => (b ?? -1) - (a ?? -1);

export function countyRollup(code: string, name: string, schools: SchoolCompliance[]): CountyRollup {
  const ranked = schools
    .map((s) => ({
      code: s.school.code,
      name: s.school.name,
      passed: s.findings.filter((f) => f.verdict === 'pass').length,
      failed: s.findings.filter((f) => f.verdict === 'fail').length,
      unknown: s.findings.filter((f) => f.verdict === 'unknown').length,
      keyAreaShare: s.facts.keyAreas.total ? r4(s.facts.keyAreas.fullyCovered / s.facts.keyAreas.total) : null,
      weightedCoverage: s.facts.keyAreas.weightedCoverage,
    }))
    .sort((a, b) => a.failed - b.failed || b.passed - a.passed || cmpNullable(a.weightedCoverage, b.weightedCoverage) || a.code.localeCompare(b.code))
    .map((s, i) => ({ rank: i + 1, ...s }));
  return { ...summarise(code, name, schools), ranking: ranked };
}

export function cityRollup(code: string, name: string, counties: { code: string; name: string; schools: SchoolCompliance[] }[]): CityRollup {
  const summaries = counties.map((c) => summarise(c.code, c.name, c.schools));
  const share = (u: UnitSummary) => (u.schools ? u.schoolsAllPassing / u.schools : -1);
  const ranking = [...summaries]
    .sort((a, b) => share(b) - share(a) || cmpNullable(a.keyAreas.weightedCoverage, b.keyAreas.weightedCoverage) || a.code.localeCompare(b.code))
    .map((u, i) => ({ rank: i + 1, ...u }));
  return { ...summarise(code, name, counties.flatMap((c) => c.schools)), counties: summaries, ranking };
}
