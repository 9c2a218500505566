/**
 * Coverage bench: full recomputation for a synthetic city (3,500 schools × 80 cameras × 12 key
 * areas), one camera's status/placement change in one school (incremental), and the brute-force
 * sampler at equal accuracy. Run: npx tsx bench/coverage.ts [--schools N] [--sampler-schools N]
 * By default the whole city is computed (about a minute per core); --schools N measures a subset and
 * extrapolates linearly (schools are independent). The first KEEP schools stay in memory for the
 * incremental part.
 */
import os from 'node:os';
import { SchoolCoverage } from '../collector/compliance/geometry/coverage.ts';
import { mulberry32, sampleAreaCoverage } from '../collector/compliance/geometry/sampler.ts';
import { syntheticCampus } from '../collector/compliance/geometry/synthetic.ts';
import type { SyntheticCampus } from '../collector/compliance/geometry/synthetic.ts';

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const CITY = 3500;
const SCHOOLS = arg('schools', CITY);
const KEEP = Math.min(SCHOOLS, 300);
const SAMPLER_SCHOOLS = arg('sampler-schools', 5);
const CAMERAS = 80, AREAS = 12;

function school(i: number): SyntheticCampus {
  return syntheticCampus(mulberry32(0x5c4001 + i), { cameras: CAMERAS, areas: AREAS, buildings: 14, walls: 8, width: 450, height: 350, offline: 0.05, unhealthy: 0.05 });
}
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};
const ms = (x: number): string => x.toFixed(2);

// Warm up the JIT on other schools.
for (let i = 0; i < 10; i++) new SchoolCoverage(school(100_000 + i)).result();

// ---- full recomputation (campuses generated outside the timed part) ----
const perSchool: number[] = [];
const t0 = performance.now();
let fully = 0, weighted = 0, genMs = 0;
for (let i = 0; i < SCHOOLS; i++) {
  const g = performance.now();
  const c = school(i);
  genMs += performance.now() - g;
  const t = performance.now();
  const r = new SchoolCoverage(c).result();
  perSchool.push(performance.now() - t);
  fully += r.fullyCoveredShare;
  weighted += r.weightedCoverage;
}
const fullMs = performance.now() - t0 - genMs;
const meanMs = fullMs / SCHOOLS;

// ---- memory of the cached per-school objects (what the collector keeps for incremental updates) ----
const campuses = Array.from({ length: KEEP }, (_, i) => school(i));
global.gc?.();
// heapUsed + arrayBuffers: the views are packed in typed arrays, whose buffers live outside the JS heap
const heldBytes = (): number => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
const heap0 = heldBytes();
const kept = campuses.map((c) => new SchoolCoverage(c));
global.gc?.();
const heapPerSchool = (heldBytes() - heap0) / KEEP;

// ---- incremental: one camera's status change, and one camera moved ----
const rng = mulberry32(42);
const statusMs: number[] = [], moveMs: number[] = [], touched: number[] = [];
for (let k = 0; k < 2000; k++) {
  const si = Math.floor(rng() * KEEP);
  const sc = kept[si] as SchoolCoverage;
  const cams = (campuses[si] as SyntheticCampus).cameras;
  const ci = Math.floor(rng() * cams.length);
  const c = cams[ci]!;
  const move = k % 4 === 3;
  const next = move ? { ...c, headingDeg: (c.headingDeg + 30) % 360 } : { ...c, online: !c.online };
  const t = performance.now();
  touched.push(sc.updateCamera(next).length);
  (move ? moveMs : statusMs).push(performance.now() - t);
  cams[ci] = next;
}

// ---- brute-force sampler at equal accuracy ----
// iid points: the 95 % interval of a share is ±1.96·√(p(1−p)/n) ≤ ±0.5 pp for every p when n = 38,416.
// Jittered grid: 25,600 cells per area kept every comparison within 0.27 pp in sampler.test.ts.
const IID_N = 38_416, GRID_N = 25_600;
let iidMs = 0, gridMs = 0;
for (let i = 0; i < SAMPLER_SCHOOLS; i++) {
  const c = campuses[i] as SyntheticCampus;
  const r = mulberry32(i);
  let t = performance.now();
  for (const a of c.areas) sampleAreaCoverage(a, c.cameras, c.obstacles, { samples: IID_N, rng: r });
  iidMs += performance.now() - t;
  t = performance.now();
  for (const a of c.areas) sampleAreaCoverage(a, c.cameras, c.obstacles, { samples: GRID_N, rng: r, stratified: true });
  gridMs += performance.now() - t;
}
const iidPer = iidMs / SAMPLER_SCHOOLS, gridPer = gridMs / SAMPLER_SCHOOLS;

const out = {
  machine: `${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}, Node ${process.version}`,
  city: `${CITY} schools × ${CAMERAS} cameras × ${AREAS} key areas`,
  measuredSchools: SCHOOLS,
  fullMeasuredS: +(fullMs / 1000).toFixed(2),
  perSchoolMs: { mean: ms(meanMs), p50: ms(pct(perSchool, 50)), p95: ms(pct(perSchool, 95)), max: ms(pct(perSchool, 100)) },
  cityFullS_oneCore: +((meanMs * CITY) / 1000).toFixed(1),
  cityFullExtrapolated: SCHOOLS < CITY,
  // Schools are independent: two worker processes would halve it (not run here).
  cityFullS_twoWorkers_estimate: +((meanMs * CITY) / 2000).toFixed(1),
  loadAverage1m: +os.loadavg()[0]!.toFixed(2),
  keptSchools: KEEP,
  heapPerSchoolKB: +(heapPerSchool / 1024).toFixed(0),
  statusChangeMs: { p50: ms(pct(statusMs, 50)), p95: ms(pct(statusMs, 95)), max: ms(pct(statusMs, 100)), n: statusMs.length },
  moveMs: { p50: ms(pct(moveMs, 50)), p95: ms(pct(moveMs, 95)), n: moveMs.length },
  areasRecomputedPerChange: { mean: +(touched.reduce((s, x) => s + x, 0) / touched.length).toFixed(2), max: Math.max(...touched) },
  samplerSchools: SAMPLER_SCHOOLS,
  samplerIidPerSchoolMs: ms(iidPer),
  samplerGridPerSchoolMs: ms(gridPer),
  ratioIidToPolygon: +(iidPer / meanMs).toFixed(0),
  ratioGridToPolygon: +(gridPer / meanMs).toFixed(0),
  meanFullyCoveredShare: +(fully / SCHOOLS).toFixed(3),
  meanWeightedCoverage: +(weighted / SCHOOLS).toFixed(3),
};
console.log(JSON.stringify(out, null, 2));
