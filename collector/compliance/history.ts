/**
 * The monthly report as that month's report: the month's window (China time, UTC+8, as the bureau
 * counts months) and what InfluxDB kept of it — `coverage` history (the service records a school
 * point whenever its coverage changes, so the value holds until the next point: time-weighted
 * means), and `camera_health` (one sample per agent poll: the share of samples with the stream up).
 * The uplink's p95/peak/saturation come from measureUplink over the same window.
 */
import { lit, timeCond, type QueryFn } from './telemetry-facts.ts';

/** The bureau's months are China months (UTC+8, no daylight saving). */
const CHINA_OFFSET_MS = 8 * 3600_000;

export interface MonthPeriod {
  /** YYYY-MM */
  month: string;
  from: Date;
  /** start of the next month (exclusive) */
  to: Date;
  /** the month now running: the report is the current snapshot */
  current: boolean;
}

export class MonthError extends Error {
  constructor(
    readonly problem: 'malformed' | 'future',
    readonly month: string,
  ) {
    super(problem === 'malformed' ? `month must be YYYY-MM (e.g. 2025-11), not ${JSON.stringify(month)}` : `month ${month} has not begun yet`);
  }
}

export function currentMonth(nowMs = Date.now()): string {
  return new Date(nowMs + CHINA_OFFSET_MS).toISOString().slice(0, 7);
}

/** The window of `month` (default: the current month); malformed or future months are refused. */
export function monthPeriod(month: string | undefined, nowMs = Date.now()): MonthPeriod {
  const m = month ?? currentMonth(nowMs);
  const match = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(m);
  if (!match) throw new MonthError('malformed', m);
  const y = Number(match[1]);
  const mo = Number(match[2]);
  if (y < 2000) throw new MonthError('malformed', m);
  const from = new Date(Date.UTC(y, mo - 1, 1) - CHINA_OFFSET_MS);
  const to = new Date(Date.UTC(y, mo, 1) - CHINA_OFFSET_MS);
  if (from.getTime() > nowMs) throw new MonthError('future', m);
  return { month: m, from, to, current: m === currentMonth(nowMs) };
}

export interface CoverageMonth {
  /** hours of the month for which a coverage value was known */
  hoursWithData: number;
  /** time-weighted mean of the school's weighted key-area coverage */
  meanWeightedCoverage: number;
  meanWeightedIfAllHealthy: number | null;
  /** time-weighted mean of the share of key areas fully covered */
  meanFullyCoveredShare: number;
  /** share of that time during which every key area was fully covered */
  fullyCoveredTimeShare: number;
  /** key areas on the plan (the last value of the month) */
  keyAreas: number;
}

const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

/**
 * A school's key-area coverage over a window from its `coverage` history: the value in force at
 * the start (the last point before it) and every point inside, each holding until the next.
 * Null when nothing is known for any of the window.
 */
export async function coverageMonth(query: QueryFn, school: string, period: { from: Date; to: Date }, nowMs = Date.now()): Promise<CoverageMonth | null> {
  const where = `"scope" = 'school' AND "school" = ${lit(school)}`;
  const series = await query(
    [
      `SELECT last("fullyCoveredShare") AS f0, last("weightedCoverage") AS w0, last("weightedIfAllHealthy") AS h0, last("keyAreas") AS k0 FROM "coverage" WHERE ${where} AND time < ${lit(period.from.toISOString())}`,
      `SELECT "fullyCoveredShare" AS f, "weightedCoverage" AS w, "weightedIfAllHealthy" AS h, "keyAreas" AS k FROM "coverage" WHERE ${where} AND ${timeCond(period)}`,
    ].join('; '),
  );
  const start = period.from.getTime();
  const end = Math.min(period.to.getTime(), nowMs);
  const pts: { t: number; f: number; w: number; h: number | null; k: number }[] = [];
  for (const s of series) {
    const carry = s.columns.includes('f0');
    const col = (name: string) => s.columns.indexOf(carry ? `${name}0` : name);
    for (const v of s.values) {
      const f = Number(v[col('f')]);
      const w = Number(v[col('w')]);
      if (!Number.isFinite(f) || !Number.isFinite(w)) continue;
      const h = v[col('h')] === null ? null : Number(v[col('h')]);
      pts.push({ t: carry ? start : Number(v[0]), f, w, h: h !== null && Number.isFinite(h) ? h : null, k: Number(v[col('k')]) || 0 });
    }
  }
  pts.sort((a, b) => a.t - b.t);
  let data = 0, sf = 0, sw = 0, sh = 0, hMs = 0, full = 0;
  for (let i = 0; i < pts.length; i++) {
    const p = pts[i]!;
    const len = Math.max(0, Math.min(end, pts[i + 1]?.t ?? end) - Math.max(start, p.t));
    data += len;
    sf += p.f * len;
    sw += p.w * len;
    if (p.h !== null) {
      sh += p.h * len;
      hMs += len;
    }
    if (p.f >= 1 - 1e-9) full += len;
  }
  if (data <= 0) return null;
  return {
    hoursWithData: Math.round((data / 3600_000) * 10) / 10,
    meanWeightedCoverage: r4(sw / data),
    meanWeightedIfAllHealthy: hMs ? r4(sh / hMs) : null,
    meanFullyCoveredShare: r4(sf / data),
    fullyCoveredTimeShare: r4(full / data),
    keyAreas: pts.at(-1)!.k,
  };
}

export interface CamerasMonth {
  /** cameras with health samples in the window */
  total: number;
  /** mean number online: per camera the share of its samples with the stream up, summed */
  meanOnline: number;
  /** the same for healthy (step 4) */
  meanHealthy: number;
}

/** Cameras online over a window from `camera_health` samples (step ≥ 3 = stream up, 4 = healthy). */
export async function camerasMonth(query: QueryFn, school: string, period: { from: Date; to: Date }): Promise<CamerasMonth> {
  const where = `"school" = ${lit(school)} AND ${timeCond(period)}`;
  const series = await query(
    [
      `SELECT count("step") AS n FROM "camera_health" WHERE ${where} GROUP BY "agent", "device"`,
      `SELECT count("step") AS up FROM "camera_health" WHERE ${where} AND "step" >= 3 GROUP BY "agent", "device"`,
      `SELECT count("step") AS ok FROM "camera_health" WHERE ${where} AND "step" >= 4 GROUP BY "agent", "device"`,
    ].join('; '),
  );
  const per = new Map<string, { n: number; up: number; ok: number }>();
  for (const s of series) {
    const key = `${s.tags?.agent}/${s.tags?.device}`;
    const e = per.get(key) ?? { n: 0, up: 0, ok: 0 };
    for (const name of ['n', 'up', 'ok'] as const) {
      const i = s.columns.indexOf(name);
      if (i >= 0) for (const v of s.values) e[name] += Number(v[i]) || 0;
    }
    per.set(key, e);
  }
  let total = 0, on = 0, ok = 0;
  for (const e of per.values()) {
    if (!e.n) continue;
    total++;
    on += e.up / e.n;
    ok += e.ok / e.n;
  }
  return { total, meanOnline: r4(on), meanHealthy: r4(ok) };
}
