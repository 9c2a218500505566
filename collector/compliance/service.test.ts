/**
 * The compliance API through fastify's `inject()` on a real inventory (PGlite): campus plans in and
 * out as GeoJSON (georeferenced and floor-plan frames), geometry refused with its error, settings,
 * incremental recomputation when one camera's health changes (with events published and history
 * written), rule verdicts citing their source, roll-ups, and the Excel report read back. Camera
 * health comes from a stand-in for InfluxDB here; tests/e2e/compliance.test.ts runs the real one.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freshPgliteDb } from '../../tests/setup/pglite.ts';
import { Ingest } from '../ingest/ingest.ts';
import { Enrollment, Inventory, type Db } from '../store/index.ts';
import { FileLineSink } from '../telemetry/file-sink.ts';
import type { TelemetrySink } from '../telemetry/sink.ts';
import type { Series } from '../telemetry/influx-query.ts';
import { buildApi } from '../api/app.ts';
import { EventBus, type BusEvent } from '../api/events.ts';
import { campusPlanFor } from '../../simulator/campus-plans.ts';
import { ComplianceService, type CoverageReport, type SchoolCompliance } from './service.ts';
import type { CoveragePreview } from './preview.ts';
import type { CityRollup, CountyRollup } from './rollup.ts';
import { REPORT_COLUMNS, REPORT_SHEET } from './report.ts';
import { currentMonth } from './history.ts';

const TOKEN = 'test-admin-token-0123456789';
const CITY = '371500';
const COUNTY = '371502';
const COUNTY2 = '371581';
const SCHOOL = '3715020001';
const silent = { info() {}, warn() {}, error() {} };
const auth = { authorization: `Bearer ${TOKEN}` };
const school = { code: SCHOOL, lon: 115.985, lat: 36.456, studentCount: 1200 };
const spec = campusPlanFor(school);

let tmp: string;
let db: Db;
let inventory: Inventory;
let sink: FileLineSink;
let app: FastifyInstance;
let svc: ComplianceService;
let bus: EventBus;
let published: BusEvent[];
let written: string[];
/** agent/device → health step, as the stand-in InfluxDB answers for camera_health */
let steps: Map<string, number>;

/** Answers the service's camera_health query from `steps`; every other query: no data. */
async function fakeInflux(q: string): Promise<Series[]> {
  if (!q.includes('"camera_health"')) return [];
  return [...steps].map(([id, step]) => {
    const [agent, device] = id.split('/') as [string, string];
    const width = spec.cameras.find((c) => c.deviceId === device)!.resolutionWidth;
    return { name: 'camera_health', tags: { agent, device }, columns: ['time', 'step', 'width'], values: [[0, step, width]] };
  });
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'campus-compliance-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

beforeEach(async () => {
  db = await freshPgliteDb();
  inventory = new Inventory(db);
  await inventory.upsertRegion({ code: CITY, name: '聊城市', level: 'city' });
  await inventory.upsertRegion({ code: COUNTY, name: '东昌府区', level: 'county', parentCode: CITY });
  await inventory.upsertRegion({ code: COUNTY2, name: '临清市', level: 'county', parentCode: CITY });
  await inventory.upsertSchool({ code: SCHOOL, name: '东昌府实验小学', countyCode: COUNTY, type: 'primary', ownership: 'public', studentCount: 1200, staffCount: 90, lon: school.lon, lat: school.lat });
  await inventory.upsertSchool({ code: '3715810001', name: '临清实验小学', countyCode: COUNTY2, type: 'primary', ownership: 'public', studentCount: 800, staffCount: 60 });
  sink = new FileLineSink({ dir: await mkdtemp(join(tmp, 'telemetry-')) });
  const ingest = new Ingest({ mqttUrl: 'mqtt://127.0.0.1:9', username: 'collector', password: 'unused', inventory, sink, logger: silent });
  bus = new EventBus();
  published = [];
  bus.subscribe((e) => published.push(e));
  steps = new Map(spec.cameras.map((c) => [`cam-gw/${c.deviceId}`, 4]));
  written = [];
  const history: TelemetrySink = { ...sink, write: async (l) => void written.push(...l), flush: async () => {}, close: async () => {}, stats: () => sink.stats(), ping: async () => true, describe: () => 'test' };
  svc = new ComplianceService({ db, inventory, sink: history, events: bus, query: fakeInflux, refreshIntervalMs: 0 });
  app = await buildApi({ inventory, db, ingest, sink, apiToken: TOKEN, compliance: svc, events: bus });
  await app.ready();
});
afterEach(async () => {
  await app.close();
  await sink.close();
  await db.close();
});

async function enrollCameras(): Promise<void> {
  await inventory.addAgent({ schoolCode: SCHOOL, agentId: 'cam-gw' });
  await inventory.setAgentState(SCHOOL, 'cam-gw', 'online', new Date());
  await inventory.upsertDiscoveredDevices(
    SCHOOL,
    'cam-gw',
    spec.cameras.map((c, i) => ({ device: c.deviceId, kind: 'camera', protocol: 'onvif', address: `127.0.0.1:${8000 + i}`, attributes: { resolutionWidth: c.resolutionWidth } })),
    new Date(),
  );
  const en = new Enrollment(db);
  for (const c of spec.cameras) await en.accept({ schoolCode: SCHOOL, agentId: 'cam-gw', deviceId: c.deviceId }, c.placement, 'test');
}

const put = (url: string, body: unknown, headers: Record<string, string> = auth) => app.inject({ method: 'PUT', url, headers, payload: body as object });
const get = async <T,>(url: string): Promise<T> => {
  const r = await app.inject({ url });
  expect(r.statusCode, r.body).toBe(200);
  return r.json<T>();
};

describe('campus plans over the API', () => {
  it('stores a georeferenced plan and gives it back in WGS84, with levels from the policy pack', async () => {
    expect((await put(`/api/v1/schools/${SCHOOL}/campus`, spec.campus, {})).statusCode).toBe(401);
    const r = await put(`/api/v1/schools/${SCHOOL}/campus`, spec.campus);
    expect(r.statusCode, r.body).toBe(200);
    const back = await get<typeof spec.campus>(`/api/v1/schools/${SCHOOL}/campus`);
    expect(back.frame).toEqual({ kind: 'wgs84', anchor: { lon: school.lon, lat: school.lat }, rotationDeg: 0 });
    expect(back.features.map((f) => f.id).sort()).toEqual(spec.campus.features.map((f) => f.id).sort());
    const gate = back.features.find((f) => f.id === 'main-entrance')!;
    expect(gate.properties).toMatchObject({ kind: 'key-area', keyAreaType: 'main-entrance', requiredLevel: 'identify', levelFromPolicy: true });
    const orig = spec.campus.features.find((f) => f.id === 'main-entrance')!.geometry!.coordinates as number[][][];
    const got = gate.geometry!.coordinates as number[][][];
    // same ring (closed, counter-clockwise), within a millimetre
    expect(got[0]!.length).toBe(orig[0]!.length);
    for (const p of got[0]!) expect(orig[0]!.some((q) => Math.abs(q[0]! - p[0]!) < 1e-8 && Math.abs(q[1]! - p[1]!) < 1e-8)).toBe(true);
    const wall = back.features.find((f) => f.id === 'south-wall-w')!;
    expect(wall).toMatchObject({ properties: { kind: 'wall', thicknessM: 0.3 }, geometry: { type: 'LineString' } });
  });

  it('stores a floor-plan frame in metres as drawn', async () => {
    const plan = {
      type: 'FeatureCollection',
      frame: { kind: 'plan' },
      features: [
        { type: 'Feature', id: 'hall', properties: { kind: 'building', name: '礼堂' }, geometry: { type: 'Polygon', coordinates: [[[0, 0], [10, 0], [10, 10], [0, 10], [0, 0]]] } },
        { type: 'Feature', id: 'lab', properties: { kind: 'key-area', keyAreaType: 'hazardous-store', requiredLevel: 'recognise' }, geometry: { type: 'Polygon', coordinates: [[[20, 0], [30, 0], [30, 5], [20, 5], [20, 0]]] } },
      ],
    };
    expect((await put(`/api/v1/schools/${SCHOOL}/campus`, plan)).statusCode).toBe(200);
    const back = await get<typeof spec.campus>(`/api/v1/schools/${SCHOOL}/campus`);
    expect(back.frame).toEqual({ kind: 'plan' });
    expect(back.features.find((f) => f.id === 'lab')).toMatchObject({ properties: { keyAreaType: 'hazardous-lab', requiredLevel: 'recognise' }, geometry: { coordinates: [[[20, 0], [30, 0], [30, 5], [20, 5], [20, 0]]] } });
  });

  it('refuses degenerate and self-intersecting polygons with the geometry error, keeping the old plan', async () => {
    await put(`/api/v1/schools/${SCHOOL}/campus`, spec.campus);
    const area = (coords: number[][]) => ({ type: 'FeatureCollection', frame: { kind: 'plan' }, features: [{ type: 'Feature', id: 'x', properties: { kind: 'key-area', keyAreaType: 'playground' }, geometry: { type: 'Polygon', coordinates: [coords] } }] });
    const bow = await put(`/api/v1/schools/${SCHOOL}/campus`, area([[0, 0], [10, 10], [10, 0], [0, 10], [0, 0]]));
    expect(bow.statusCode).toBe(400);
    expect(bow.json()).toMatchObject({ code: 'INVALID_GEOMETRY', message: expect.stringMatching(/key-area "x".*self-intersecting/), details: { subject: 'key-area "x"', problem: 'self-intersecting' } });
    const flat = await put(`/api/v1/schools/${SCHOOL}/campus`, area([[0, 0], [5, 0], [10, 0], [0, 0]]));
    expect(flat.json()).toMatchObject({ code: 'INVALID_GEOMETRY', details: { problem: 'zero-area' } });
    const badType = await put(`/api/v1/schools/${SCHOOL}/campus`, { ...area([[0, 0], [5, 0], [5, 5], [0, 0]]), features: [{ type: 'Feature', properties: { kind: 'key-area', keyAreaType: 'moat' }, geometry: { type: 'Polygon', coordinates: [[[0, 0], [5, 0], [5, 5], [0, 0]]] } }] });
    expect(badType.json()).toMatchObject({ code: 'INVALID_GEOMETRY', details: { problem: 'bad-key-area' } });
    expect((await get<typeof spec.campus>(`/api/v1/schools/${SCHOOL}/campus`)).features).toHaveLength(spec.campus.features.length);
  });

  it('answers NO_CAMPUS_PLAN for a school without one, NOT_FOUND for no school', async () => {
    expect((await app.inject({ url: `/api/v1/schools/${SCHOOL}/coverage` })).json()).toMatchObject({ code: 'NO_CAMPUS_PLAN' });
    expect((await app.inject({ url: `/api/v1/schools/3715029999/coverage` })).statusCode).toBe(404);
  });
});

describe('settings', () => {
  it('merges classrooms, uplink and policy pack; refuses an unknown pack', async () => {
    const r = await put(`/api/v1/schools/${SCHOOL}/settings`, { classrooms: 24, uplink: { device: 'sw-1', ifName: 'GigabitEthernet0/0/24' } });
    expect(r.json()).toEqual({ classrooms: 24, uplink: { device: 'sw-1', ifName: 'GigabitEthernet0/0/24' }, policyPack: null, effectivePolicy: 'liaocheng-2023' });
    expect((await put(`/api/v1/schools/${SCHOOL}/settings`, { policyPack: 'songjiang-2018' })).json()).toMatchObject({ classrooms: 24, policyPack: 'songjiang-2018', effectivePolicy: 'songjiang-2018' });
    expect((await put(`/api/v1/schools/${SCHOOL}/settings`, { policyPack: 'atlantis-2030' })).json()).toMatchObject({ code: 'UNKNOWN_POLICY_PACK' });
    expect((await put(`/api/v1/counties/${COUNTY}/settings`, { policyPack: 'guangzhou-2017' })).statusCode).toBe(200);
    expect((await put(`/api/v1/schools/${SCHOOL}/settings`, { policyPack: null })).json()).toMatchObject({ policyPack: null, effectivePolicy: 'guangzhou-2017' });
  });
});

describe('coverage and compliance', () => {
  beforeEach(async () => {
    await enrollCameras();
    await put(`/api/v1/schools/${SCHOOL}/campus`, spec.campus);
    await put(`/api/v1/schools/${SCHOOL}/settings`, { classrooms: spec.classrooms });
  });

  it('recomputes only what a broken camera touches, publishes it, records history, and fails the rule citing its source', async () => {
    const ok = await get<CoverageReport>(`/api/v1/schools/${SCHOOL}/coverage`);
    expect(ok.fullyCoveredShare).toBe(1);
    expect(ok.cameras.every((c) => c.healthy && c.resolutionFrom === 'camera_health')).toBe(true);
    const pass = await get<SchoolCompliance>(`/api/v1/schools/${SCHOOL}/compliance`);
    expect(pass.findings.find((f) => f.kind === 'key-area-coverage')!.verdict).toBe('pass');
    // no SNMP data: the uplink is judged on the contracted figure or not at all, never passed by default
    expect(pass.findings.find((f) => f.kind === 'uplink-utilisation')!.verdict).toBe('unknown');

    const st = (svc as unknown as { states: Map<string, { coverage: { recomputations: number } }> }).states.get(SCHOOL)!;
    const before = st.coverage.recomputations;
    published.length = 0;
    steps.set(`cam-gw/${spec.gateCamera}`, 2);
    const broken = await get<CoverageReport>(`/api/v1/schools/${SCHOOL}/coverage`);
    // the gate camera's views reach the main entrance, outside the gate and the kitchen; not the playground or corridor
    expect(st.coverage.recomputations - before).toBeLessThan(spec.campus.features.filter((f) => f.properties?.kind === 'key-area').length);
    const gate = broken.areas.find((a) => a.id === 'main-entrance')!;
    expect(gate).toMatchObject({ requiredLevel: 'identify', fullyCovered: false });
    expect(gate.ifAllHealthyShare).toBeCloseTo(1, 3);
    expect(gate.blindSpots[0]!.type).toBe('Polygon');
    expect(published.map((e) => e.event.type).sort()).toEqual(['coverage-changed', 'device-status']);
    expect(published.find((e) => e.event.type === 'device-status')!.event).toMatchObject({ deviceId: spec.gateCamera, online: false, healthy: false, step: 2, county: COUNTY });

    const fail = await get<SchoolCompliance>(`/api/v1/schools/${SCHOOL}/compliance`);
    const f = fail.findings.find((x) => x.kind === 'key-area-coverage')!;
    expect(f).toMatchObject({ verdict: 'fail', uncovered: ['main-entrance'], unit: 'share', threshold: 1 });
    expect(f.measured).toBeCloseTo(0.8, 5);
    expect(f.citation).toMatch(/GB\/T 29315-2022/);
    const display = fail.findings.find((x) => x.kind === 'display-per-classroom')!;
    expect(display).toMatchObject({ verdict: 'unknown', detail: 'no devices of that kind enrolled' });

    // history: the school and the changed areas as `coverage` points
    const lines = written.join('\n');
    expect(lines).toMatch(/^coverage,area=main-entrance,county=371502,level=identify,school=3715020001,scope=area,type=main-entrance coveredShare=0\.\d+,.*fullyCovered=false/m);
    expect(lines).toMatch(/^coverage,county=371502,policy=liaocheng-2023,school=3715020001,scope=school fullyCoveredShare=0\.8,/m);
  });

  it('rolls up to the county and city, and the report has one row per county with totals matching the roll-up', async () => {
    steps.set(`cam-gw/${spec.gateCamera}`, 0);
    const county = await get<CountyRollup>(`/api/v1/counties/${COUNTY}/compliance`);
    expect(county).toMatchObject({ code: COUNTY, schools: 1, keyAreas: { schoolsPassing: 0, total: 5, fullyCovered: 4 }, cameras: { total: 7, online: 6 } });
    expect(county.ranking[0]).toMatchObject({ rank: 1, code: SCHOOL });
    const city = await get<CityRollup>(`/api/v1/city/compliance`);
    expect(city.counties.map((c) => c.code)).toEqual([COUNTY, COUNTY2]);
    expect(city.schools).toBe(2);
    expect(city.ranking.map((c) => c.rank)).toEqual([1, 2]);
    expect((await app.inject({ url: '/api/v1/counties/371500/compliance' })).statusCode).toBe(404);

    // the current month is the state now (a past month comes from history: tests/e2e/compliance-history.test.ts)
    const month = currentMonth();
    const r = await app.inject({ url: `/api/v1/reports/compliance.xlsx?month=${month}` });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-disposition']).toContain(`compliance-371500-${month}.xlsx`);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(r.rawPayload as unknown as ArrayBuffer);
    const ws = wb.getWorksheet(REPORT_SHEET)!;
    expect((ws.getRow(2).values as unknown[]).slice(1)).toEqual(REPORT_COLUMNS.map((c) => c.header));
    expect([3, 4, 5].map((n) => ws.getRow(n).getCell(1).value)).toEqual(['东昌府区', '临清市', '合计']);
    expect(ws.rowCount).toBe(5);
    expect((ws.getRow(5).values as unknown[]).slice(2)).toEqual(REPORT_COLUMNS.slice(1).map((c) => c.value(city) ?? undefined));
    expect(ws.getRow(3).getCell(6).value).toBe(80); // 4 of 5 key areas fully covered

    const one = await app.inject({ url: `/api/v1/reports/compliance.xlsx?month=${month}&county=${COUNTY2}` });
    const wb2 = new ExcelJS.Workbook();
    await wb2.xlsx.load(one.rawPayload as unknown as ArrayBuffer);
    expect(wb2.getWorksheet(REPORT_SHEET)!.rowCount).toBe(4);
    const bad = await app.inject({ url: '/api/v1/reports/compliance.xlsx?month=2025-13' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'INVALID_MONTH' });
  });
});

describe('the coverage cache', () => {
  it('gives exactly what a fresh computation gives, with views kept or none kept, through breakdowns and moves', async () => {
    await enrollCameras();
    await put(`/api/v1/schools/${SCHOOL}/campus`, spec.campus);
    const options = { db, inventory, query: fakeInflux, refreshIntervalMs: 0 };
    const noViews = new ComplianceService({ ...options, viewCacheBytes: 0 });
    const strip = <T extends { computedAt: string }>(r: T | null) => ({ ...r!, computedAt: '' });
    const same = async (after: string) => {
      const fresh = strip(await new ComplianceService(options).coverage(SCHOOL));
      expect(strip(await svc.coverage(SCHOOL)), after).toEqual(fresh);
      expect(strip(await noViews.coverage(SCHOOL)), after).toEqual(fresh);
    };
    await same('the first computation');
    steps.set(`cam-gw/${spec.gateCamera}`, 2);
    await same('the gate camera broke');
    const kitchen = spec.cameras.find((c) => c.key === 'cam-kitchen')!;
    const turned = { ...kitchen.placement, camera: { ...kitchen.placement.camera!, headingDeg: 200 } };
    expect((await put(`/api/v1/schools/${SCHOOL}/devices/cam-gw/${kitchen.deviceId}/placement`, { placement: turned })).statusCode).toBe(200);
    await same('the kitchen camera turned');
    steps.delete(`cam-gw/${spec.cameras[0]!.deviceId}`);
    steps.set(`cam-gw/${spec.gateCamera}`, 4);
    await same('one camera went silent, the gate camera came back');
    // a preview from the cached views equals one from views computed anew
    const back = [{ agentId: 'cam-gw', deviceId: kitchen.deviceId, placement: kitchen.placement }];
    expect(strip(await noViews.preview(SCHOOL, back))).toEqual(strip(await svc.preview(SCHOOL, back)));
    // nothing kept by the service without room for views, something by the default one
    expect(noViews.views.views).toBe(0);
    expect(noViews.views.dropped).toBeGreaterThan(0);
    expect(svc.views.views).toBeGreaterThan(0);
  });
});

describe('coverage preview (what-if placements) and moving a camera', () => {
  const corridor = spec.cameras.find((c) => c.key === 'cam-corr-e')!;
  const kitchen = spec.cameras.find((c) => c.key === 'cam-kitchen')!;
  const url = `/api/v1/schools/${SCHOOL}/coverage/preview`;
  const preview = (cameras: unknown, headers: Record<string, string> = {}) => app.inject({ method: 'POST', url, headers, payload: { cameras } as object });
  const at = (c: typeof corridor, camera: Partial<NonNullable<typeof c.placement.camera>> = {}) => ({ agentId: 'cam-gw', deviceId: c.deviceId, placement: { ...c.placement, camera: { ...c.placement.camera!, ...camera } } });
  const areaOf = (r: { areas: { id: string; coveredShare: number }[] }, id: string) => r.areas.find((a) => a.id === id)!.coveredShare;
  const stateOf = () => (svc as unknown as { states: Map<string, { coverage: { recomputations: number } }> }).states.get(SCHOOL)!;

  beforeEach(async () => {
    // every plan camera enrolled but the corridor's east one, which waits in the inbox
    await enrollCameras();
    await db.query(`UPDATE devices SET state = 'discovered', placement = NULL WHERE device_id = $1`, [corridor.deviceId]);
    await put(`/api/v1/schools/${SCHOOL}/campus`, spec.campus);
  });

  it('previews a camera from the inbox at a placement without storing, publishing or recording anything', async () => {
    const stored = await get<CoverageReport>(`/api/v1/schools/${SCHOOL}/coverage`);
    expect(areaOf(stored, 'teaching-corridor')).toBeLessThan(0.99);
    const recomputations = stateOf().coverage.recomputations;
    published.length = 0;
    written.length = 0;

    const r = await preview([at(corridor)]); // no token: it changes nothing
    expect(r.statusCode, r.body).toBe(200);
    const p = r.json<CoveragePreview>();
    expect(p.preview).toBe(true);
    expect(areaOf(p, 'teaching-corridor')).toBeGreaterThan(0.999);
    expect(p.weightedCoverage).toBeGreaterThan(stored.weightedCoverage);
    // the stored figures at the same moment, to compare with
    expect(p.current.weightedCoverage).toBe(stored.weightedCoverage);
    expect(areaOf(p.current, 'teaching-corridor')).toBe(areaOf(stored, 'teaching-corridor'));
    // other areas untouched
    for (const id of ['main-entrance', 'playground', 'kitchen']) expect(areaOf(p, id)).toBe(areaOf(stored, id));
    // the previewed camera: counted as enrolled with its health, in the camera list, its view per required level
    const cam = p.previewed[0]!;
    expect(cam).toMatchObject({ deviceId: corridor.deviceId, state: 'discovered', healthy: true, horizontalPixels: corridor.resolutionWidth });
    expect(p.cameras.find((c) => c.deviceId === corridor.deviceId)).toMatchObject({ healthy: true, position: { x: expect.closeTo(52, 2), y: expect.closeTo(32.5, 2) } });
    expect(p.cameras).toHaveLength(spec.cameras.length);
    expect(cam.views.map((v) => v.level)).toEqual(['observe', 'recognise', 'identify']);
    const reached = cam.views.filter((v) => v.keyAreas.includes('teaching-corridor'));
    expect(reached.map((v) => v.level)).toEqual([stored.areas.find((a) => a.id === 'teaching-corridor')!.requiredLevel]); // recognise, from the pack
    const ring = reached[0]!.polygons[0]!.coordinates[0]!;
    expect(ring[0]![0]).toBeCloseTo(school.lon, 2); // WGS84: the plan is georeferenced
    // a farther level reaches farther
    const far = (v: (typeof cam.views)[number]) => Math.max(...v.polygons[0]!.coordinates[0]!.map(([lon]) => Math.abs(lon! - ring[0]![0]!)));
    expect(far(cam.views[0]!)).toBeGreaterThan(far(cam.views[2]!));

    // nothing stored or announced: same coverage, no events, no history, still in the inbox, cached state untouched
    expect(stateOf().coverage.recomputations).toBe(recomputations);
    const again = await get<CoverageReport>(`/api/v1/schools/${SCHOOL}/coverage`);
    expect(again.weightedCoverage).toBe(stored.weightedCoverage);
    expect(again.areas.map((a) => a.coveredShare)).toEqual(stored.areas.map((a) => a.coveredShare));
    expect(again.cameras.some((c) => c.deviceId === corridor.deviceId)).toBe(false);
    expect(published).toEqual([]);
    expect(written).toEqual([]);
    expect((await new Enrollment(db).device({ schoolCode: SCHOOL, agentId: 'cam-gw', deviceId: corridor.deviceId }))!.state).toBe('discovered');

    // accepted at that placement, the stored coverage is what the preview said
    expect((await app.inject({ method: 'POST', url: `/api/v1/schools/${SCHOOL}/devices/cam-gw/${corridor.deviceId}/accept`, headers: auth, payload: { placement: corridor.placement } })).statusCode).toBe(200);
    const accepted = await get<CoverageReport>(`/api/v1/schools/${SCHOOL}/coverage`);
    expect(accepted.weightedCoverage).toBe(p.weightedCoverage);
    expect(accepted.areas.map((a) => [a.id, a.coveredShare, a.blindSpotM2])).toEqual(p.areas.map((a) => [a.id, a.coveredShare, a.blindSpotM2]));
  });

  it('previews an enrolled camera turned away (coverage drops) and says what a camera with no stream would give if healthy', async () => {
    const stored = await get<CoverageReport>(`/api/v1/schools/${SCHOOL}/coverage`);
    const away = (await preview([at(kitchen, { headingDeg: 270 })])).json<CoveragePreview>();
    expect(areaOf(away, 'kitchen')).toBeLessThan(areaOf(stored, 'kitchen') - 0.5);
    expect(away.weightedCoverage).toBeLessThan(stored.weightedCoverage);
    expect(away.previewed[0]!.views.every((v) => !v.keyAreas.includes('kitchen'))).toBe(true);
    expect(away.ifPreviewedHealthy.weightedCoverage).toBe(away.weightedCoverage); // it is healthy already
    expect(away.cameras.filter((c) => c.deviceId === kitchen.deviceId)).toHaveLength(1);

    // the corridor camera's stream down: placing it gains nothing now, all of it once healthy
    steps.set(`cam-gw/${corridor.deviceId}`, 2);
    const down = (await preview([at(corridor)])).json<CoveragePreview>();
    expect(down.previewed[0]).toMatchObject({ online: false, healthy: false, step: 2 });
    expect(areaOf(down, 'teaching-corridor')).toBe(areaOf(down.current, 'teaching-corridor'));
    expect(areaOf(down.ifPreviewedHealthy, 'teaching-corridor')).toBeGreaterThan(0.999);
    // two cameras at once
    const both = (await preview([at(kitchen, { headingDeg: 270 }), at(corridor)])).json<CoveragePreview>();
    expect(both.previewed.map((c) => c.deviceId)).toEqual([kitchen.deviceId, corridor.deviceId]);
    expect(areaOf(both, 'kitchen')).toBe(areaOf(away, 'kitchen'));
  });

  it('refuses unknown devices, other kinds, retired ones, bad numbers and oversized bodies with the reason', async () => {
    const fail = async (cameras: unknown, status: number, code: string, message: RegExp) => {
      const r = await preview(cameras);
      expect(r.statusCode, r.body).toBe(status);
      expect(r.json()).toMatchObject({ code, message: expect.stringMatching(message) });
    };
    await fail([{ ...at(corridor), deviceId: 'cam-nope' }], 404, 'NOT_FOUND', /cam-gw\/cam-nope not found at school 3715020001/);
    await fail([{ ...at(corridor), agentId: 'gw-x' }], 404, 'NOT_FOUND', /gw-x\//);
    await fail([at(corridor, { headingDeg: 400 })], 400, 'INVALID_INPUT', /headingDeg/);
    await fail([at(corridor, { hfovDeg: -5 })], 400, 'INVALID_INPUT', /hfovDeg/);
    await fail([{ ...at(corridor), placement: { position: corridor.placement.position } }], 400, 'INVALID_INPUT', /needs placement\.camera/);
    await fail([{ ...at(corridor), placement: { ...corridor.placement, camera: { headingDeg: 10 } } }], 400, 'INVALID_INPUT', /hfovDeg, or focalLengthMm and sensorWidthMm/);
    await fail([at(corridor), at(corridor)], 400, 'INVALID_INPUT', /appears twice/);
    await fail([], 400, 'INVALID_INPUT', /cameras/);
    await fail([{ ...at(corridor), extra: 1 }], 400, 'INVALID_INPUT', /additional/);
    // a switch has no view
    await inventory.upsertDiscoveredDevices(SCHOOL, 'cam-gw', [{ device: 'sw-1', kind: 'switch', protocol: 'snmp', address: '127.0.0.1:161', attributes: {} }], new Date());
    await fail([{ ...at(corridor), deviceId: 'sw-1' }], 400, 'INVALID_INPUT', /is a switch, not a camera/);
    // a retired camera cannot be placed
    await new Enrollment(db).retire({ schoolCode: SCHOOL, agentId: 'cam-gw', deviceId: kitchen.deviceId }, 'test');
    await fail([at(kitchen)], 409, 'CONFLICT', /is retired/);
    // a body far beyond a few placements
    const big = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ cameras: [at(corridor)], pad: 'x'.repeat(100_000) }) });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ code: 'INVALID_INPUT' });
    // a school without a plan, and none at all
    expect((await app.inject({ method: 'POST', url: `/api/v1/schools/3715810001/coverage/preview`, payload: { cameras: [at(corridor)] } })).json()).toMatchObject({ code: 'NO_CAMPUS_PLAN' });
    expect((await app.inject({ method: 'POST', url: `/api/v1/schools/3715029999/coverage/preview`, payload: { cameras: [at(corridor)] } })).statusCode).toBe(404);
    // the stored coverage went on as before
    expect((await get<CoverageReport>(`/api/v1/schools/${SCHOOL}/coverage`)).cameras).toHaveLength(spec.cameras.length - 2);
  });

  it('moves an enrolled camera with the token, recorded in its history with who and what changed', async () => {
    const placementUrl = `/api/v1/schools/${SCHOOL}/devices/cam-gw/${kitchen.deviceId}/placement`;
    const turned = { ...kitchen.placement, camera: { ...kitchen.placement.camera!, headingDeg: 270, hfovDeg: 40 } };
    expect((await put(placementUrl, { placement: turned }, {})).statusCode).toBe(401);
    const before = await get<CoverageReport>(`/api/v1/schools/${SCHOOL}/coverage`);
    const previewed = (await preview([at(kitchen, { headingDeg: 270, hfovDeg: 40 })])).json<CoveragePreview>();
    const r = await put(placementUrl, { placement: turned, note: '施工调整' }, { ...auth, 'x-campus-actor': encodeURIComponent('王老师') });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ state: 'enrolled', placement: { camera: { headingDeg: 270, hfovDeg: 40 } } });
    const history = await get<{ fromState: string; toState: string; actor: string; note: string }[]>(`/api/v1/schools/${SCHOOL}/devices/cam-gw/${kitchen.deviceId}/history`);
    expect(history.at(-1)).toMatchObject({ fromState: 'enrolled', toState: 'enrolled', actor: 'admin-token/王老师', note: '施工调整 (moved: heading 90° → 270°; field of view 50° → 40°)' });
    // the stored coverage follows, and is what the preview said
    const after = await get<CoverageReport>(`/api/v1/schools/${SCHOOL}/coverage`);
    expect(after.weightedCoverage).toBeLessThan(before.weightedCoverage);
    expect(after.weightedCoverage).toBe(previewed.weightedCoverage);
    expect(published.some((e) => e.event.type === 'coverage-changed')).toBe(true);
    // only enrolled devices move; bad placements are refused with the reason
    const corr = await put(`/api/v1/schools/${SCHOOL}/devices/cam-gw/${corridor.deviceId}/placement`, { placement: corridor.placement });
    expect(corr.statusCode).toBe(409);
    expect(corr.json()).toMatchObject({ code: 'CONFLICT', message: 'cannot place a device that is discovered' });
    expect((await put(placementUrl, { placement: { position: kitchen.placement.position } })).json()).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/needs placement\.camera/) });
    expect((await put(`/api/v1/schools/${SCHOOL}/devices/cam-gw/cam-nope/placement`, { placement: turned })).statusCode).toBe(404);
  });
});
