/**
 * The console API on a 3,500-school city (not asserted anywhere; recorded in bench/RESULTS.md,
 * ## Console API). An embedded inventory (PGlite) with 聊城市's counties and 438 simulated schools
 * each (3,504), campus plans with seven enrolled cameras for the first PLANS schools, no InfluxDB.
 * Each route is timed through fastify's `inject()` (no socket): the first call (cold: the map cache
 * is built, boundaries converted) and the median of the next REPEAT calls (warm).
 * Run: `npx tsx bench/console-api.ts` (PER_COUNTY, PLANS, REPEAT from the environment).
 */
import os from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApi } from '../collector/api/app.ts';
import { EventBus } from '../collector/api/events.ts';
import { parseCampus } from '../collector/compliance/campus.ts';
import { ComplianceService } from '../collector/compliance/service.ts';
import { Ingest } from '../collector/ingest/ingest.ts';
import { Enrollment, Inventory, migrate, openDb } from '../collector/store/index.ts';
import { FileLineSink } from '../collector/telemetry/file-sink.ts';
import { campusPlanFor } from '../simulator/campus-plans.ts';
import { seedDemoCity } from '../simulator/demo-city.ts';

const PER_COUNTY = Number(process.env.PER_COUNTY ?? 438);
const PLANS = Number(process.env.PLANS ?? 40);
const REPEAT = Number(process.env.REPEAT ?? 20);
const silent = { info() {}, warn() {}, error() {} };

const dir = await mkdtemp(join(tmpdir(), 'campus-console-api-bench-'));
const db = await openDb(); // in-memory PGlite
await migrate(db);
const inventory = new Inventory(db);
let t = performance.now();
const schools = await seedDemoCity(inventory, '371500', PER_COUNTY);
console.log(`seeded ${schools.length} schools in ${((performance.now() - t) / 1000).toFixed(1)} s`);

// campus plans + enrolled cameras for the first PLANS placed schools
t = performance.now();
const planned = schools.filter((s) => s.lon != null && s.lat != null).slice(0, PLANS);
const setup = new ComplianceService({ db, inventory, refreshIntervalMs: 0 });
const en = new Enrollment(db);
for (const s of planned) {
  const spec = campusPlanFor(s);
  await setup.campus.putPlan(parseCampus(s.code, spec.campus, { lon: s.lon ?? null, lat: s.lat ?? null }));
  await inventory.addAgent({ schoolCode: s.code, agentId: 'gw' });
  await inventory.setAgentState(s.code, 'gw', 'online', new Date());
  await inventory.upsertDiscoveredDevices(s.code, 'gw', spec.cameras.map((c, i) => ({ device: c.deviceId, kind: 'camera', protocol: 'onvif' as const, address: `127.0.0.1:${8000 + i}`, attributes: { resolutionWidth: c.resolutionWidth } })), new Date());
  for (const c of spec.cameras) await en.accept({ schoolCode: s.code, agentId: 'gw', deviceId: c.deviceId }, c.placement, 'bench');
}
console.log(`${planned.length} campus plans with 7 cameras each in ${((performance.now() - t) / 1000).toFixed(1)} s`);

const sink = new FileLineSink({ dir: join(dir, 'telemetry') });
const ingest = new Ingest({ mqttUrl: 'mqtt://127.0.0.1:9', username: 'collector', password: 'unused', inventory, sink, logger: silent });
const events = new EventBus();
const compliance = new ComplianceService({ db, inventory, sink, events, refreshIntervalMs: 0 });
const app = await buildApi({ inventory, db, ingest, sink, apiToken: 'bench-token-0123456789', compliance, events });
await app.ready();

const first = planned[0]!;
const county = first.countyCode;
const box = `${first.lon! - 0.03},${first.lat! - 0.03},${first.lon! + 0.03},${first.lat! + 0.03}`;
// the what-if preview while a camera is dragged: the first school's first camera turned by 30°
const cam = campusPlanFor(first).cameras[0]!;
const turned = { ...cam.placement, camera: { ...cam.placement.camera!, headingDeg: (cam.placement.camera!.headingDeg + 30) % 360 } };
const preview = { cameras: [{ agentId: 'gw', deviceId: cam.deviceId, placement: turned }] };
const routes: [string, string, unknown?][] = [
  ['city indicator (coverage)', '/api/v1/map/city?indicator=coverage'],
  ['city indicator (cameras-online)', '/api/v1/map/city?indicator=cameras-online'],
  ['clusters, zoom 8', '/api/v1/map/schools?zoom=8'],
  ['schools of one county, zoom 11', `/api/v1/map/schools?zoom=11&county=${county}`],
  ['schools in a 6 km box, zoom 14', `/api/v1/map/schools?zoom=14&bbox=${box}`],
  ['every school of the city, zoom 12, no bbox', '/api/v1/map/schools?zoom=12'],
  ['county boundaries (WGS84)', '/api/v1/geo/counties'],
  ['school map (plan, 7 sectors, devices)', `/api/v1/schools/${first.code}/map`],
  ['stored coverage of one school (GET …/coverage)', `/api/v1/schools/${first.code}/coverage`],
  ['what-if coverage, one camera turned (POST …/coverage/preview)', `/api/v1/schools/${first.code}/coverage/preview`, preview],
  ['open tickets per school of one county', `/api/v1/tickets/open-counts?county=${county}`],
];

const rows: string[] = [];
for (const [what, url, body] of routes) {
  const req = body === undefined ? { url } : { url, method: 'POST' as const, payload: body as object };
  let t0 = performance.now();
  const r = await app.inject(req);
  const cold = performance.now() - t0;
  if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${r.body.slice(0, 200)}`);
  const warm: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    t0 = performance.now();
    await app.inject(req);
    warm.push(performance.now() - t0);
  }
  warm.sort((a, b) => a - b);
  const row = `| ${what} | ${cold.toFixed(0)} | ${warm[Math.floor(warm.length / 2)]!.toFixed(1)} | ${warm.at(-1)!.toFixed(1)} | ${(r.rawPayload.length / 1024).toFixed(0)} |`;
  console.log(row);
  rows.push(row);
}
console.log(`\n${new Date().toISOString()} · ${os.cpus().length} CPUs · Node ${process.version} · load average ${os.loadavg()[0]!.toFixed(2)} · ${schools.length} schools, ${planned.length} with plans · RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MB`);
console.log('| route | first call ms | warm median ms | warm max ms | body KiB |\n|---|---:|---:|---:|---:|\n' + rows.join('\n'));

await app.close();
await sink.close();
await db.close();
await rm(dir, { recursive: true, force: true });
