/**
 * The map console's API through fastify's `inject()`: a real inventory (PGlite), a real
 * FileLineSink, the compliance engine with camera health from a stand-in for InfluxDB (one camera
 * broken), the shipped Liaocheng boundaries; the series route once against the real InfluxDB.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freshPgliteDb } from '../../tests/setup/pglite.ts';
import { influxForTests, uniqueDbName, type InfluxHandle } from '../../tests/setup/influx.ts';
import { campusPlanFor } from '../../simulator/campus-plans.ts';
import { parseCampus } from '../compliance/campus.ts';
import { ComplianceService } from '../compliance/service.ts';
import { wgs84ToGcj02 } from '../compliance/geometry/index.ts';
import { countiesFromFeatures } from '../geo/regions.ts';
import { readBoundaryFeatures } from '../geo/boundaries.ts';
import { Ingest } from '../ingest/ingest.ts';
import { Enrollment, Inventory, type Db } from '../store/index.ts';
import { FileLineSink } from '../telemetry/file-sink.ts';
import { InfluxWriter } from '../telemetry/influx-writer.ts';
import type { Series } from '../telemetry/influx-query.ts';
import { buildApi } from './app.ts';
import { EventBus } from './events.ts';

const TOKEN = 'test-admin-token-0123456789';
const CITY = '371500';
const COUNTY = '371502';
const COUNTY2 = '371581';
const SCHOOL = '3715020001';
const silent = { info() {}, warn() {}, error() {} };
const school = { code: SCHOOL, lon: 115.985, lat: 36.456, studentCount: 1200 };
const spec = campusPlanFor(school);
const GATE = spec.gateCamera;

interface Feature {
  id: string;
  properties: { code: string; name: string; centroid: number[] | null };
  geometry: { type: string; coordinates: unknown };
}
interface FC {
  type: string;
  frame?: string;
  features: Feature[];
}

let tmp: string;
let consoleDir: string;
let db: Db;
let inventory: Inventory;
let sink: FileLineSink;
let ingest: Ingest;
let app: FastifyInstance;

/** camera_health from the stand-in: every plan camera healthy but the gate camera (stream down). */
async function fakeInflux(q: string): Promise<Series[]> {
  if (!q.includes('"camera_health"')) return [];
  return spec.cameras.map((c) => ({ name: 'camera_health', tags: { agent: 'gw', device: c.deviceId }, columns: ['time', 'step', 'width'], values: [[Date.now(), c.deviceId === GATE ? 0 : 4, c.resolutionWidth]] }));
}

async function makeApp(opts: { consoleDir?: string; influx?: { url: string; db: string } } = {}): Promise<FastifyInstance> {
  const events = new EventBus();
  const compliance = new ComplianceService({ db, inventory, sink, events, query: fakeInflux, refreshIntervalMs: 0 });
  const a = await buildApi({ logger: process.env.DEBUG_CONSOLE_API ? true : false, inventory, db, ingest, sink, apiToken: TOKEN, compliance, events, consoleDir: opts.consoleDir ?? join(tmp, 'no-console'), ...(opts.influx ? { influx: opts.influx } : {}) });
  await a.ready();
  return a;
}

const get = async <T,>(url: string, a = app): Promise<T> => {
  const r = await a.inject({ url });
  expect(r.statusCode, r.body).toBe(200);
  return r.json<T>();
};

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'campus-console-api-'));
  consoleDir = join(tmp, 'dist');
  await mkdir(join(consoleDir, 'assets'), { recursive: true });
  await writeFile(join(consoleDir, 'index.html'), '<!doctype html><title>校园</title><div id="root"></div>');
  await writeFile(join(consoleDir, 'assets', 'index-3f9a1c.js'), 'console.log(1)');
  await writeFile(join(tmp, 'secret.txt'), 'outside');
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

beforeEach(async () => {
  db = await freshPgliteDb();
  inventory = new Inventory(db);
  await inventory.upsertRegion({ code: CITY, name: '聊城市', level: 'city' });
  for (const c of countiesFromFeatures(readBoundaryFeatures(CITY), CITY)) await inventory.upsertRegion(c);
  const s = (code: string, county: string, name: string, lon: number | null, lat: number | null) =>
    inventory.upsertSchool({ code, name, countyCode: county, type: 'primary', ownership: 'public', studentCount: 1200, staffCount: 90, ...(lon !== null && lat !== null ? { lon, lat } : {}) });
  await s(SCHOOL, COUNTY, '东昌府实验小学', school.lon, school.lat);
  await s('3715020002', COUNTY, '东昌府第二小学', 116.01, 36.47);
  await s('3715020003', COUNTY, '东昌府第三小学', null, null);
  await s('3715810001', COUNTY2, '临清实验小学', 115.71, 36.84);
  sink = new FileLineSink({ dir: await mkdtemp(join(tmp, 'telemetry-')) });
  ingest = new Ingest({ mqttUrl: 'mqtt://127.0.0.1:9', username: 'collector', password: 'unused', inventory, sink, logger: silent });

  // the campus plan, its cameras and a switch and a UPS, enrolled by agent gw (online)
  const svc = new ComplianceService({ db, inventory, refreshIntervalMs: 0 });
  await svc.campus.putPlan(parseCampus(SCHOOL, spec.campus, school));
  await inventory.addAgent({ schoolCode: SCHOOL, agentId: 'gw' });
  await inventory.setAgentState(SCHOOL, 'gw', 'online', new Date());
  await inventory.upsertDiscoveredDevices(
    SCHOOL,
    'gw',
    [
      ...spec.cameras.map((c, i) => ({ device: c.deviceId, kind: 'camera', protocol: 'onvif' as const, address: `127.0.0.1:${8000 + i}`, attributes: { resolutionWidth: c.resolutionWidth } })),
      { device: 'sw-core', kind: 'switch', protocol: 'snmp' as const, address: '127.0.0.1:1161', attributes: { sysName: 'core' } },
      { device: 'ups-1', kind: 'ups', protocol: 'modbus' as const, address: '127.0.0.1:1502', attributes: {} },
    ],
    new Date(),
  );
  const en = new Enrollment(db);
  for (const c of spec.cameras) await en.accept({ schoolCode: SCHOOL, agentId: 'gw', deviceId: c.deviceId }, c.placement, 'test');
  await en.accept({ schoolCode: SCHOOL, agentId: 'gw', deviceId: 'sw-core' }, { building: '教学楼', position: { x: 20, y: 40 } }, 'test');
  await en.accept({ schoolCode: SCHOOL, agentId: 'gw', deviceId: 'ups-1' }, { position: { lon: school.lon + 0.0001, lat: school.lat + 0.0003 } }, 'test');

  app = await makeApp({ consoleDir });
});
afterEach(async () => {
  await app.close();
  await sink.close();
  await db.close();
});

describe('GET /api/v1/geo/counties', () => {
  it('gives the boundaries in WGS84, shifted back by the GCJ-02 offset, with corrected codes', async () => {
    const raw = readBoundaryFeatures(CITY) as { properties: { adcode: number }; geometry: { coordinates: number[][][][] } }[];
    const fc = await get<FC>(`/api/v1/geo/counties?city=${CITY}`);
    expect(fc.type).toBe('FeatureCollection');
    expect(fc.frame).toBe('wgs84');
    expect(fc.features).toHaveLength(raw.length);
    const codes = fc.features.map((f) => f.properties.code);
    expect(codes).toContain('371503');
    expect(codes).not.toContain('371523');
    expect(fc.features.find((f) => f.properties.code === '371503')!.properties.name).toBe('茌平区');

    // a known vertex: WGS84 is west of the GCJ-02 one by ~500 m here, and maps back onto it
    const iRaw = raw.findIndex((f) => String(f.properties.adcode) === COUNTY);
    const gcj = raw[iRaw]!.geometry.coordinates[0]![0]![0]!;
    const f = fc.features.find((x) => x.properties.code === COUNTY)!;
    expect(f.geometry.type).toBe('MultiPolygon');
    const wgs = (f.geometry.coordinates as number[][][][])[0]![0]![0]!;
    const dx = (gcj[0]! - wgs[0]!) * 111_320 * Math.cos((gcj[1]! * Math.PI) / 180);
    const dy = (gcj[1]! - wgs[1]!) * 110_950;
    expect(Math.hypot(dx, dy)).toBeGreaterThan(200);
    expect(Math.hypot(dx, dy)).toBeLessThan(800);
    expect(dx).toBeGreaterThan(0); // GCJ-02 is shifted east of WGS84 in Shandong
    const back = wgs84ToGcj02({ lon: wgs[0]!, lat: wgs[1]! });
    expect(back.lon).toBeCloseTo(gcj[0]!, 5);
    expect(back.lat).toBeCloseTo(gcj[1]!, 5);

    // frame=gcj02: as shipped; the default city is the inventory's
    const g = await get<FC>('/api/v1/geo/counties?frame=gcj02');
    expect(g.frame).toBe('gcj02');
    expect((g.features.find((x) => x.properties.code === COUNTY)!.geometry.coordinates as number[][][][])[0]![0]![0]).toEqual(gcj);
    // cached: the same answer again
    expect(await get<FC>(`/api/v1/geo/counties?city=${CITY}`)).toEqual(fc);
  });

  it('answers 404 for a city without shipped boundaries and 400 for a bad code', async () => {
    const r = await app.inject({ url: '/api/v1/geo/counties?city=999999' });
    expect(r.statusCode).toBe(404);
    expect(r.json()).toMatchObject({ code: 'NOT_FOUND' });
    expect((await app.inject({ url: '/api/v1/geo/counties?city=../../x' })).statusCode).toBe(400);
  });
});

interface CityMap {
  indicator: string;
  unit: string;
  total: { value: number | null; schools: number };
  counties: { code: string; value: number | null; schools: number; centroid: number[] | null }[];
  ranking: { rank: number; code: string; value: number | null }[];
}

describe('GET /api/v1/map/city', () => {
  it('gives each county its indicator, school count and rank', async () => {
    const m = await get<CityMap>('/api/v1/map/city?indicator=cameras-online');
    expect(m.unit).toBe('share');
    expect(m.counties).toHaveLength(8);
    const dc = m.counties.find((c) => c.code === COUNTY)!;
    expect(dc.schools).toBe(3);
    expect(dc.value).toBeCloseTo(6 / 7, 3);
    expect(dc.centroid![0]).toBeGreaterThan(115.5);
    expect(m.counties.find((c) => c.code === COUNTY2)).toMatchObject({ schools: 1, value: null });
    expect(m.ranking[0]).toMatchObject({ rank: 1, code: COUNTY });
    expect(m.ranking.at(-1)!.value).toBeNull();
    expect(m.total.schools).toBe(4);

    const cov = await get<CityMap>('/api/v1/map/city?indicator=coverage');
    const v = cov.counties.find((c) => c.code === COUNTY)!.value!;
    expect(v).toBeGreaterThan(0.5);
    expect(v).toBeLessThan(1); // the gate camera is down
    const open = await get<CityMap>('/api/v1/map/city?indicator=open-findings');
    expect(open.unit).toBe('count');
    expect(open.counties.find((c) => c.code === COUNTY)!.value).toBeGreaterThan(0);
    expect((await app.inject({ url: '/api/v1/map/city?indicator=nope' })).statusCode).toBe(400);
  });
});

interface Cluster {
  county: string;
  lon: number;
  lat: number;
  count: number;
  unplaced: number;
  worst: string;
  counts: Record<string, number>;
}
interface Marker {
  code: string;
  lon: number;
  lat: number;
  worst: string;
  coverage: number | null;
  cameras: { online: number; total: number };
}

describe('GET /api/v1/map/schools', () => {
  it('clusters per county at low zoom and lists schools at higher zoom, filtered by bbox and county', async () => {
    const low = await get<{ mode: string; clusters: Cluster[] }>('/api/v1/map/schools?zoom=8');
    expect(low.mode).toBe('clusters');
    expect(low.clusters.map((c) => c.county).sort()).toEqual([COUNTY, COUNTY2]);
    const dc = low.clusters.find((c) => c.county === COUNTY)!;
    expect(dc).toMatchObject({ count: 3, unplaced: 1, worst: 'fail' });
    expect(dc.counts.fail).toBeGreaterThanOrEqual(1);
    expect(dc.lon).toBeCloseTo((school.lon + 116.01) / 2, 5);

    const high = await get<{ mode: string; schools: Marker[]; unplaced: number }>('/api/v1/map/schools?zoom=14');
    expect(high.mode).toBe('schools');
    expect(high.schools.map((s) => s.code)).toEqual([SCHOOL, '3715020002', '3715810001']);
    expect(high.unplaced).toBe(1);
    const mine = high.schools[0]!;
    expect(mine).toMatchObject({ lon: school.lon, lat: school.lat, worst: 'fail', cameras: { online: 6, total: 7 } });
    expect(mine.coverage).toBeGreaterThan(0.5);
    expect(high.schools[1]!.coverage).toBeNull();

    const boxed = await get<{ schools: Marker[] }>(`/api/v1/map/schools?zoom=15&bbox=${school.lon - 0.01},${school.lat - 0.01},${school.lon + 0.01},${school.lat + 0.01}`);
    expect(boxed.schools.map((s) => s.code)).toEqual([SCHOOL]);
    const county2 = await get<{ schools: Marker[] }>(`/api/v1/map/schools?zoom=12&county=${COUNTY2}`);
    expect(county2.schools.map((s) => s.code)).toEqual(['3715810001']);
    const lowBoxed = await get<{ clusters: Cluster[] }>('/api/v1/map/schools?zoom=9&bbox=115.6,36.7,115.8,36.9');
    expect(lowBoxed.clusters.map((c) => c.county)).toEqual([COUNTY2]);

    expect((await app.inject({ url: '/api/v1/map/schools?zoom=14&bbox=1,2,3' })).statusCode).toBe(400);
    expect((await app.inject({ url: '/api/v1/map/schools?zoom=14&bbox=3,2,1,4' })).statusCode).toBe(400);
    expect((await app.inject({ url: '/api/v1/map/schools?county=110108' })).statusCode).toBe(404);
  });
});

interface SchoolMap {
  school: { code: string };
  campus: FC | null;
  keyAreas: { id: string; requiredLevel: string; coveredShare: number; fullyCovered: boolean }[];
  sectors: { type: string; features: { properties: { camera: string; level: string; online: boolean; keyAreas: string[] }; geometry: { type: string; coordinates: number[][][] } }[] };
  blindSpots: { features: { properties: { area: string }; geometry: { type: string } }[] };
  devices: { id: string; kind: string; state: string; position: { lon: number; lat: number } | null; planXY: unknown; online: boolean; step: number | null }[];
}

describe('GET /api/v1/schools/{code}/map', () => {
  it('draws the campus plan, key areas, camera sectors at the required level, blind spots and devices', async () => {
    const m = await get<SchoolMap>(`/api/v1/schools/${SCHOOL}/map`);
    expect(m.campus!.type).toBe('FeatureCollection');
    expect(m.campus!.features.length).toBe(spec.campus.features.length);
    expect(m.keyAreas.map((a) => a.id).sort()).toEqual(['gate-outside', 'kitchen', 'main-entrance', 'playground', 'teaching-corridor']);
    const gate = m.keyAreas.find((a) => a.id === 'main-entrance')!;
    expect(gate).toMatchObject({ requiredLevel: 'identify', fullyCovered: false });

    const cams = new Set(m.sectors.features.map((f) => f.properties.camera));
    expect(cams.size).toBe(7);
    // the gate camera reaches the entrance (Identify) and the area outside the gate (Recognise): one sector each
    const gateSectors = m.sectors.features.filter((f) => f.properties.camera === `gw/${GATE}`);
    expect(gateSectors.map((f) => f.properties.level).sort()).toEqual(['identify', 'recognise']);
    const gateSector = gateSectors.find((f) => f.properties.level === 'identify')!;
    expect(gateSector.properties).toMatchObject({ online: false, keyAreas: ['main-entrance'] });
    expect(gateSector.geometry.type).toBe('Polygon');
    for (const [lon, lat] of gateSector.geometry.coordinates[0]!) {
      expect(Math.abs(lon! - school.lon)).toBeLessThan(0.005);
      expect(Math.abs(lat! - school.lat)).toBeLessThan(0.005);
    }
    expect(m.blindSpots.features.some((f) => f.properties.area === 'main-entrance' && f.geometry.type === 'Polygon')).toBe(true);

    expect(m.devices).toHaveLength(9);
    const gateDev = m.devices.find((d) => d.id === `gw/${GATE}`)!;
    expect(gateDev).toMatchObject({ kind: 'camera', state: 'enrolled', online: false, step: 0 });
    expect(m.devices.find((d) => d.kind === 'camera' && d.id !== `gw/${GATE}`)).toMatchObject({ online: true, step: 4 });
    const sw = m.devices.find((d) => d.kind === 'switch')!;
    expect(sw).toMatchObject({ online: true, planXY: { x: 20, y: 40 } });
    expect(sw.position!.lat).toBeGreaterThan(school.lat); // 40 m north of the anchor
    expect(m.devices.find((d) => d.kind === 'ups')!.position).toEqual({ lon: school.lon + 0.0001, lat: school.lat + 0.0003 });
  });

  it('lists devices without a plan, and 404s an unknown school', async () => {
    const m = await get<SchoolMap>('/api/v1/schools/3715020002/map');
    expect(m).toMatchObject({ campus: null, keyAreas: [], sectors: { features: [] }, devices: [] });
    expect((await app.inject({ url: '/api/v1/schools/3715029999/map' })).statusCode).toBe(404);
  });
});

describe('GET /api/v1/schools/{code}/devices/{agent}/{device}/series', () => {
  it('is 503 TELEMETRY_UNAVAILABLE without InfluxDB', async () => {
    const r = await app.inject({ url: `/api/v1/schools/${SCHOOL}/devices/gw/sw-core/series?measurement=interface&field=inOctets&range=1h` });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ code: 'TELEMETRY_UNAVAILABLE' });
    expect((await app.inject({ url: `/api/v1/schools/${SCHOOL}/devices/gw/sw-core/series?measurement=x%22;DROP&field=a` })).statusCode).toBe(400);
  });

  describe('against a real InfluxDB', () => {
    let influx: InfluxHandle;
    beforeAll(async () => {
      influx = await influxForTests();
    });
    afterAll(async () => {
      await influx?.stop();
    });

    it('turns interface octet counters into Mbit/s per minute and averages a gauge', async () => {
      const dbName = uniqueDbName('console');
      const w = new InfluxWriter({ url: influx.url, db: dbName, flushIntervalMs: 50 });
      await w.ensureDatabase();
      const start = Math.floor(Date.now() / 60_000) * 60_000 - 20 * 60_000;
      const lines: string[] = [];
      for (let i = 0; i < 10; i++) {
        const t = start + i * 60_000; // the writer sends precision=ms
        // 7,500,000 octets a minute = 1 Mbit/s
        lines.push(`interface,school=${SCHOOL},agent=gw,device=sw-core,ifName=uplink,ifIndex=1 inOctets=${i * 7_500_000}i ${t}`);
        lines.push(`interface,school=${SCHOOL},agent=gw,device=sw-core,ifName=ge1,ifIndex=2 inOctets=${i * 750_000}i ${t}`);
        lines.push(`ups,school=${SCHOOL},agent=gw,device=ups-1 batteryPct=${90 + i} ${t}`);
      }
      await w.write(lines);
      await w.close();
      const a = await makeApp({ influx: { url: influx.url, db: dbName } });
      try {
        type Body = { unit: string; transform: string; interval: string; series: { tags: Record<string, string>; points: [number, number | null][] }[] };
        const one = await get<Body>(`/api/v1/schools/${SCHOOL}/devices/gw/sw-core/series?measurement=interface&field=inOctets&range=1h&ifName=uplink`, a);
        expect(one).toMatchObject({ unit: 'Mbit/s', transform: 'mbps', interval: '1m' });
        expect(one.series).toHaveLength(1);
        expect(one.series[0]!.points).toHaveLength(9);
        for (const [, v] of one.series[0]!.points) expect(v).toBeCloseTo(1, 6);

        const both = await get<Body>(`/api/v1/schools/${SCHOOL}/devices/gw/sw-core/series?measurement=interface&field=inOctets&range=6h`, a);
        expect(both.series.map((s) => s.tags.ifName).sort()).toEqual(['ge1', 'uplink']);

        const ups = await get<Body>(`/api/v1/schools/${SCHOOL}/devices/gw/ups-1/series?measurement=ups&field=batteryPct&range=1h`, a);
        expect(ups.transform).toBe('none');
        expect(ups.series[0]!.points.map((p) => p[1])).toEqual(Array.from({ length: 10 }, (_, i) => 90 + i));
      } finally {
        await a.close();
      }
    });
  });
});

describe('serving the console', () => {
  it('serves console/dist with an SPA fallback and long caching for hashed assets', async () => {
    const index = await app.inject({ url: '/' });
    expect(index.statusCode).toBe(200);
    expect(index.body).toContain('id="root"');
    expect(index.headers['cache-control']).toBe('no-cache');
    const asset = await app.inject({ url: '/assets/index-3f9a1c.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const deep = await app.inject({ url: '/county/371502?indicator=coverage', headers: { accept: 'text/html' } });
    expect(deep.statusCode).toBe(200);
    expect(deep.body).toContain('id="root"');
    expect((await app.inject({ url: '/assets/missing.js' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/%2e%2e/secret.txt' })).body).not.toContain('outside');
    const api = await app.inject({ url: '/api/v1/nothing-here' });
    expect(api.statusCode).toBe(404);
    expect(api.json()).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('says how to build the console when it is not built', async () => {
    const a = await makeApp();
    try {
      const r = await a.inject({ url: '/' });
      expect(r.statusCode).toBe(200);
      expect(r.headers['content-type']).toContain('text/html');
      expect(r.body).toContain('npm run build:console');
      expect(r.body).toContain('控制台尚未构建');
    } finally {
      await a.close();
    }
  });
});
