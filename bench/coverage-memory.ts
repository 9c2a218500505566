/**
 * Memory of the collector's coverage cache, and what it costs in latency (not asserted anywhere;
 * recorded in bench/RESULTS.md, ## Coverage cache memory). Three measurements, one process:
 *
 * 1. Geometry: `SchoolCoverage` of GEOMETRY synthetic schools as in bench/coverage.ts (80 cameras,
 *    12 key areas, 14 buildings, 8 walls on 450 × 350 m): bytes held per school right after the
 *    full computation and again after 2,000 camera changes, the full computation's time, one
 *    status change's time. A checksum of every figure shows that the numbers did not change.
 * 2. The collector: a `ComplianceService` over an embedded inventory (in-memory PGlite) with PLANS
 *    schools carrying simulator/campus-plans.ts's plan and seven enrolled cameras, and BIG schools
 *    carrying a synthetic 80-camera plan (plan metres, cameras enrolled with their placements);
 *    camera health from a stub InfluxQL runner. Bytes held per school of each kind, with the
 *    default bound of the shared view cache (not reached by this sample) and with a bound of 0 (no
 *    views kept: what a school costs beyond the bound, i.e. what grows with the city).
 * 3. Latency through the HTTP API (fastify `inject()`, no socket) on one school of each kind:
 *    GET …/coverage, POST …/coverage/preview (one camera turned 30°), GET …/map (every camera's
 *    sectors): first call, then median and p95 of REPEAT calls; with both bounds (0: every view
 *    computed anew, as for a school whose views were dropped).
 *
 * Bytes held = heapUsed + arrayBuffers (typed arrays' backing stores live outside the JS heap)
 * after two full GCs, before and after building the cache, divided by the schools.
 * Run: npx tsx --expose-gc bench/coverage-memory.ts [--out run.json] [--before base.json]
 * (GEOMETRY, PLANS, BIG, REPEAT from the environment). With --before, a run of this file at an
 * earlier commit is compared: the table gives after ÷ before.
 */
import os from 'node:os';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApi } from '../collector/api/app.ts';
import { EventBus } from '../collector/api/events.ts';
import { CampusStore, parseCampus, type CampusFeatureCollection, type GeoFeature } from '../collector/compliance/campus.ts';
import { SchoolCoverage } from '../collector/compliance/geometry/coverage.ts';
import { mulberry32 } from '../collector/compliance/geometry/sampler.ts';
import { syntheticCampus, type SyntheticCampus } from '../collector/compliance/geometry/synthetic.ts';
import type { Point, Polygon } from '../collector/compliance/geometry/types.ts';
// a namespace import: the bench also runs on a copy of an earlier commit, which has no view bound
import * as service from '../collector/compliance/service.ts';
import { Ingest } from '../collector/ingest/ingest.ts';
import { Enrollment, Inventory, migrate, openDb, type Placement } from '../collector/store/index.ts';
import { FileLineSink } from '../collector/telemetry/file-sink.ts';
import type { Series } from '../collector/telemetry/influx-query.ts';
import { campusPlanFor } from '../simulator/campus-plans.ts';
import { seedDemoCity } from '../simulator/demo-city.ts';

const GEOMETRY = Number(process.env.GEOMETRY ?? 300);
const PLANS = Number(process.env.PLANS ?? 200);
const BIG = Number(process.env.BIG ?? 30);
const REPEAT = Number(process.env.REPEAT ?? 30);
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const gc = globalThis.gc;
if (!gc) throw new Error('run with --expose-gc (npx tsx --expose-gc bench/coverage-memory.ts)');
const held = (): number => {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const kb = (bytes: number): number => Math.round(bytes / 1024);
const silent = { info() {}, warn() {}, error() {} };

// ---- 1. geometry ----
const synthetic = (seed: number): SyntheticCampus =>
  syntheticCampus(mulberry32(seed), { cameras: 80, areas: 12, buildings: 14, walls: 8, width: 450, height: 350, offline: 0.05, unhealthy: 0.05 });
for (let i = 0; i < 10; i++) new SchoolCoverage(synthetic(0x5c4001 + 100_000 + i)).result(); // JIT warm-up
const campuses = Array.from({ length: GEOMETRY }, (_, i) => synthetic(0x5c4001 + i));
const m0 = held();
let t = performance.now();
const kept = campuses.map((c) => new SchoolCoverage(c));
const fullMsPerSchool = (performance.now() - t) / GEOMETRY;
const geometryBytes = (held() - m0) / GEOMETRY;
const rng = mulberry32(42);
const statusMs: number[] = [];
for (let k = 0; k < 2000; k++) {
  const si = Math.floor(rng() * GEOMETRY);
  const cams = campuses[si]!.cameras;
  const ci = Math.floor(rng() * cams.length);
  const c = cams[ci]!;
  const move = k % 4 === 3;
  const next = move ? { ...c, headingDeg: (c.headingDeg + 30) % 360 } : { ...c, online: !c.online };
  t = performance.now();
  kept[si]!.updateCamera(next);
  if (!move) statusMs.push(performance.now() - t);
  cams[ci] = next;
}
const geometryBytesAfterChanges = (held() - m0) / GEOMETRY;
// every figure of every school, to compare runs: equal checksums = equal numbers
let checksum = 0;
for (const k of kept) {
  const r = k.result();
  checksum = (checksum * 31 + r.weightedCoverage * 1e9 + r.weightedAnyCoverage * 1e7 + r.weightedIfAllHealthy * 1e5 + r.fullyCoveredShare) % 1e12;
  for (const a of r.areas) checksum = (checksum * 7 + a.coveredShare * 1e9 + a.anyShare * 1e7 + a.ifAllHealthyShare * 1e5 + a.blindSpotM2) % 1e12;
}
kept.length = 0;
console.log(`geometry: ${GEOMETRY} schools, ${kb(geometryBytes)} KiB per school, ${kb(geometryBytesAfterChanges)} KiB after 2,000 changes, full ${fullMsPerSchool.toFixed(1)} ms per school`);

// ---- 2. the collector ----
const dir = await mkdtemp(join(tmpdir(), 'campus-coverage-memory-bench-'));
const db = await openDb(); // in-memory PGlite
await migrate(db);
const inventory = new Inventory(db);
const perCounty = Math.ceil((PLANS + BIG) / 8) + 2;
const schools = (await seedDemoCity(inventory, '371500', perCounty)).filter((s) => s.lon != null && s.lat != null);
if (schools.length < PLANS + BIG) throw new Error(`only ${schools.length} placed schools for ${PLANS} + ${BIG}`);
const small = schools.slice(0, PLANS), big = schools.slice(PLANS, PLANS + BIG);
const en = new Enrollment(db);
const campusStore = new CampusStore(db);
/** school → `agent/device` → health step (4 healthy, 3 stream up but degraded); absent = no reading */
const steps = new Map<string, Map<string, number>>();
t = performance.now();
for (const s of small) {
  const spec = campusPlanFor(s);
  await campusStore.putPlan(parseCampus(s.code, spec.campus, { lon: s.lon ?? null, lat: s.lat ?? null }));
  await inventory.addAgent({ schoolCode: s.code, agentId: 'gw' });
  await inventory.setAgentState(s.code, 'gw', 'online', new Date());
  await inventory.upsertDiscoveredDevices(s.code, 'gw', spec.cameras.map((c, i) => ({ device: c.deviceId, kind: 'camera', protocol: 'onvif' as const, address: `127.0.0.1:${8000 + i}`, attributes: { resolutionWidth: c.resolutionWidth } })), new Date());
  for (const c of spec.cameras) await en.accept({ schoolCode: s.code, agentId: 'gw', deviceId: c.deviceId }, c.placement, 'bench');
  steps.set(s.code, new Map(spec.cameras.map((c) => [`gw/${c.deviceId}`, 4])));
}
const ring = (r: Point[]): number[][] => [...r, r[0]!].map((p) => [p.x, p.y]);
const poly = (p: Polygon) => ({ type: 'Polygon', coordinates: [ring(p.outer), ...p.holes.map(ring)] });
const bigCampus = big.map((s, i) => synthetic(0xb16 + i));
for (const [i, s] of big.entries()) {
  const c = bigCampus[i]!;
  const features: GeoFeature[] = [
    ...c.obstacles.map((o): GeoFeature =>
      o.kind === 'building'
        ? { type: 'Feature', id: o.id, properties: { kind: 'building', name: o.id }, geometry: poly(o.polygon) }
        : { type: 'Feature', id: o.id, properties: { kind: 'wall', name: o.id, ...(o.thicknessM ? { thicknessM: o.thicknessM } : {}) }, geometry: { type: 'LineString', coordinates: [[o.a.x, o.a.y], [o.b.x, o.b.y]] } },
    ),
    ...c.areas.map((a): GeoFeature => ({ type: 'Feature', id: a.id, properties: { kind: 'key-area', name: a.id, keyAreaType: a.type, requiredLevel: a.requiredLevel }, geometry: poly(a.polygon) })),
  ];
  const fc: CampusFeatureCollection = { type: 'FeatureCollection', frame: { kind: 'plan' }, features };
  await campusStore.putPlan(parseCampus(s.code, fc, { lon: null, lat: null }));
  await inventory.addAgent({ schoolCode: s.code, agentId: 'gw' });
  await inventory.setAgentState(s.code, 'gw', 'online', new Date());
  await inventory.upsertDiscoveredDevices(s.code, 'gw', c.cameras.map((cam, j) => ({ device: `cam-${cam.id}`, kind: 'camera', protocol: 'onvif' as const, address: `127.0.0.1:${9000 + j}`, attributes: { resolutionWidth: cam.horizontalPixels } })), new Date());
  const st = new Map<string, number>();
  for (const cam of c.cameras) {
    const placement: Placement = {
      position: { x: cam.x, y: cam.y },
      camera: {
        headingDeg: cam.headingDeg,
        ...('hfovDeg' in cam ? { hfovDeg: cam.hfovDeg } : { focalLengthMm: cam.focalLengthMm, sensorWidthMm: cam.sensorWidthMm }),
        ...(cam.mountHeightM !== undefined ? { mountHeightM: cam.mountHeightM } : {}),
        ...(cam.tiltDeg !== undefined ? { tiltDeg: cam.tiltDeg } : {}),
      },
    };
    await en.accept({ schoolCode: s.code, agentId: 'gw', deviceId: `cam-${cam.id}` }, placement, 'bench');
    if (cam.online) st.set(`gw/cam-${cam.id}`, cam.healthy ? 4 : 3);
  }
  steps.set(s.code, st);
}
console.log(`inventory: ${small.length} campus-plans schools (7 cameras), ${big.length} synthetic schools (80 cameras) in ${((performance.now() - t) / 1000).toFixed(1)} s`);

/** camera_health as InfluxDB would answer `latestCameraHealth`'s query; nothing else has data */
const query = async (q: string): Promise<Series[]> => {
  const code = /FROM "camera_health" WHERE "school" = '([^']+)'/.exec(q)?.[1];
  if (!code) return [];
  return [...(steps.get(code) ?? [])].map(([key, step]) => {
    const [agent, device] = key.split('/');
    return { name: 'camera_health', tags: { agent: agent!, device: device! }, columns: ['time', 'step', 'width'], values: [[new Date().toISOString(), step, null]] };
  });
};

// warm PGlite's memory and the JIT with a throw-away service, so the measured ones add only their cache
await new service.ComplianceService({ db, inventory, query, refreshIntervalMs: 0 }).refreshAll();

/**
 * Bytes per school of a service's cache, each kind of school apart. `viewCacheBytes` undefined: the
 * default bound, which this sample does not reach (so every view computed stays); 0: no views kept,
 * i.e. what each school costs apart from the bounded, shared views (a commit without the bound
 * ignores the option and keeps everything).
 */
async function measureService(viewCacheBytes: number | undefined) {
  let svc: service.ComplianceService | undefined = new service.ComplianceService({ db, inventory, query, refreshIntervalMs: 0, ...(viewCacheBytes !== undefined ? { viewCacheBytes } : {}) });
  const m0 = held();
  for (const s of small) await svc.refreshSchool(s.code);
  const m1 = held();
  const bigMs: number[] = [];
  for (const s of big) {
    const t0 = performance.now();
    await svc.refreshSchool(s.code);
    bigMs.push(performance.now() - t0);
  }
  const m2 = held();
  const smallReport = await svc.coverage(small[0]!.code);
  const bigReport = await svc.coverage(big[0]!.code);
  svc = undefined;
  const m3 = held();
  const r = {
    bytesPerCampusPlansSchool: Math.round((m1 - m0) / small.length),
    bytesPerBigSchool: Math.round((m2 - m1) / big.length),
    releasedWhenDropped: Math.round(m2 - m3),
    bigRefreshMs: { p50: +pct(bigMs, 50).toFixed(1), max: +pct(bigMs, 100).toFixed(1) },
    figures: { small: smallReport?.weightedCoverage, big: bigReport?.weightedCoverage, bigAreas: bigReport?.areas.map((a) => a.coveredShare) },
  };
  console.log(`collector (view cache ${viewCacheBytes ?? 'default'}): ${kb(r.bytesPerCampusPlansSchool)} KiB per campus-plans school, ${kb(r.bytesPerBigSchool)} KiB per 80-camera school (released when dropped: ${kb(m2 - m3)} KiB of ${kb(m2 - m0)})`);
  return r;
}
const collectorDefault = await measureService(undefined);
const collectorNoViews = await measureService(0);

// ---- 3. latency through the API ----
const sink = new FileLineSink({ dir: join(dir, 'telemetry') });
const ingest = new Ingest({ mqttUrl: 'mqtt://127.0.0.1:9', username: 'collector', password: 'unused', inventory, sink, logger: silent });
const turned = (p: Placement): Placement => ({ ...p, camera: { ...p.camera!, headingDeg: (p.camera!.headingDeg + 30) % 360 } });
const smallCam = campusPlanFor(small[0]!).cameras[0]!;
const bigCam = bigCampus[0]!.cameras[0]!;
const bigPlacement: Placement = { position: { x: bigCam.x, y: bigCam.y }, camera: { headingDeg: bigCam.headingDeg, ...('hfovDeg' in bigCam ? { hfovDeg: bigCam.hfovDeg } : { focalLengthMm: bigCam.focalLengthMm, sensorWidthMm: bigCam.sensorWidthMm }) } };
const routes: [string, string, string, object?][] = [
  ['coverage7', 'GET …/coverage, 7 cameras', `/api/v1/schools/${small[0]!.code}/coverage`],
  ['preview7', 'POST …/coverage/preview, 7 cameras', `/api/v1/schools/${small[0]!.code}/coverage/preview`, { cameras: [{ agentId: 'gw', deviceId: smallCam.deviceId, placement: turned(smallCam.placement) }] }],
  ['map7', 'GET …/map, 7 cameras', `/api/v1/schools/${small[0]!.code}/map`],
  ['coverage80', 'GET …/coverage, 80 cameras', `/api/v1/schools/${big[0]!.code}/coverage`],
  ['preview80', 'POST …/coverage/preview, 80 cameras', `/api/v1/schools/${big[0]!.code}/coverage/preview`, { cameras: [{ agentId: 'gw', deviceId: `cam-${bigCam.id}`, placement: turned(bigPlacement) }] }],
  ['map80', 'GET …/map, 80 cameras', `/api/v1/schools/${big[0]!.code}/map`],
];
type Latency = Record<string, { what: string; firstMs: number; medianMs: number; p95Ms: number }>;
/** Each route's first call and REPEAT more, through a service with the given view cache bound. */
async function measureLatency(viewCacheBytes: number | undefined): Promise<Latency> {
  const events = new EventBus();
  const compliance = new service.ComplianceService({ db, inventory, sink, events, query, refreshIntervalMs: 0, ...(viewCacheBytes !== undefined ? { viewCacheBytes } : {}) });
  const app = await buildApi({ inventory, db, ingest, sink, apiToken: 'bench-token-0123456789', compliance, events });
  await app.ready();
  const latency: Latency = {};
  for (const [key, what, url, body] of routes) {
    const req = body === undefined ? { url } : { url, method: 'POST' as const, payload: body };
    let t0 = performance.now();
    const r = await app.inject(req);
    const firstMs = performance.now() - t0;
    if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${r.body.slice(0, 300)}`);
    const warm: number[] = [];
    for (let i = 0; i < REPEAT; i++) {
      t0 = performance.now();
      await app.inject(req);
      warm.push(performance.now() - t0);
    }
    latency[key] = { what, firstMs: +firstMs.toFixed(1), medianMs: +pct(warm, 50).toFixed(2), p95Ms: +pct(warm, 95).toFixed(2) };
  }
  await app.close();
  return latency;
}
const latency = await measureLatency(undefined);
const latencyNoViews = await measureLatency(0);
await sink.close();
await db.close();
await rm(dir, { recursive: true, force: true });

/** BENCH_COMMIT names a copy of an earlier commit (`git archive`), which is not a checkout. */
function commitOf(): string {
  if (process.env.BENCH_COMMIT) return process.env.BENCH_COMMIT;
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    return execFileSync('git', ['status', '--porcelain', '--', 'collector/compliance'], { encoding: 'utf8' }).trim() ? `${head} + uncommitted changes` : head;
  } catch {
    return '?'; // not a git checkout
  }
}
const commit = commitOf();
const run = {
  at: new Date().toISOString(),
  commit,
  machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}, load average ${os.loadavg()[0]!.toFixed(2)} at the end`,
  geometry: {
    schools: GEOMETRY,
    bytesPerSchool: Math.round(geometryBytes),
    bytesPerSchoolAfterChanges: Math.round(geometryBytesAfterChanges),
    fullMsPerSchool: +fullMsPerSchool.toFixed(2),
    statusChangeMs: { p50: +pct(statusMs, 50).toFixed(3), p95: +pct(statusMs, 95).toFixed(3) },
    checksum,
  },
  collector: { campusPlansSchools: small.length, bigSchools: big.length, defaultViewCache: collectorDefault, noViewsKept: collectorNoViews },
  latency,
  latencyNoViewsKept: latencyNoViews,
};
console.log(JSON.stringify(run, null, 2));
const out = arg('out');
if (out) await writeFile(out, JSON.stringify(run, null, 2));

const beforeFile = arg('before');
if (beforeFile) {
  const b = JSON.parse(await readFile(beforeFile, 'utf8')) as typeof run;
  const cell = (x: number, unit: string, digits: number) => `${x.toFixed(digits)} ${unit}`;
  const row = (what: string, x: number, y: number, unit: string, digits = 0, z?: number) =>
    `| ${what} | ${cell(x, unit, digits)} | ${cell(y, unit, digits)} | ${(y / x).toFixed(2)} |${z === undefined ? '' : ` ${cell(z, unit, digits)} | ${(z / x).toFixed(2)} |`}`;
  const same = (x: unknown, y: unknown) => (JSON.stringify(x) === JSON.stringify(y) ? 'equal' : 'DIFFERENT');
  const bc = b.collector.defaultViewCache, ac = run.collector.defaultViewCache, an = run.collector.noViewsKept;
  const city = (perSchool: number, shared = 0) => (3500 * perSchool + shared) / 2 ** 30;
  const lines = [
    `before: ${b.commit} (${b.at}, ${b.machine}); after: ${run.commit} (${run.at}, ${run.machine})`,
    `figures: geometry checksum ${b.geometry.checksum === run.geometry.checksum ? 'equal' : 'DIFFERENT'}; collector ${same(bc.figures, ac.figures)}, with no views kept ${same(bc.figures, an.figures)}`,
    '',
    '| what | before | after | after ÷ before | after, no views kept | ÷ before |',
    '|---|---:|---:|---:|---:|---:|',
    row('`SchoolCoverage`, 80 cameras × 12 areas, per school (unbounded)', kb(b.geometry.bytesPerSchool), kb(run.geometry.bytesPerSchool), 'KiB'),
    row('… after 2,000 camera changes', kb(b.geometry.bytesPerSchoolAfterChanges), kb(run.geometry.bytesPerSchoolAfterChanges), 'KiB'),
    row('collector, per school with the campus-plans plan (7 cameras)', kb(bc.bytesPerCampusPlansSchool), kb(ac.bytesPerCampusPlansSchool), 'KiB', 0, kb(an.bytesPerCampusPlansSchool)),
    row('collector, per school with a synthetic plan (80 cameras)', kb(bc.bytesPerBigSchool), kb(ac.bytesPerBigSchool), 'KiB', 0, kb(an.bytesPerBigSchool)),
    row(`3,500 schools of 80 cameras (after: + the ${service.DEFAULT_VIEW_CACHE_BYTES / 2 ** 20} MiB view bound)`, city(bc.bytesPerBigSchool), city(an.bytesPerBigSchool, service.DEFAULT_VIEW_CACHE_BYTES), 'GiB', 2),
    row('full computation per 80-camera school (geometry)', b.geometry.fullMsPerSchool, run.geometry.fullMsPerSchool, 'ms', 1),
    row('refresh of an 80-camera school through the collector, p50', bc.bigRefreshMs.p50, ac.bigRefreshMs.p50, 'ms', 1, an.bigRefreshMs.p50),
    row('one camera status change (geometry), p50', b.geometry.statusChangeMs.p50, run.geometry.statusChangeMs.p50, 'ms', 2),
    row('one camera status change (geometry), p95', b.geometry.statusChangeMs.p95, run.geometry.statusChangeMs.p95, 'ms', 2),
    ...Object.entries(run.latency).map(([k, v]) => row(`${v.what}, median`, b.latency[k]!.medianMs, v.medianMs, 'ms', 1, run.latencyNoViewsKept[k]!.medianMs)),
    ...Object.entries(run.latency).map(([k, v]) => row(`${v.what}, p95`, b.latency[k]!.p95Ms, v.p95Ms, 'ms', 1, run.latencyNoViewsKept[k]!.p95Ms)),
  ];
  console.log(lines.join('\n'));
}
