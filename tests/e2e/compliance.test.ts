/**
 * Compliance end to end on real components: a demo-city school with a georeferenced campus, key
 * areas and enrolled cameras — simulated ONVIF cameras discovered and health-checked by the real
 * edge agent (`camera_health` on every poll) — and network gear simulated over SNMP, polled by the
 * same agent. The gate camera breaks (stream down, step 2): the main entrance loses its
 * Identify coverage with the blind spot as a polygon, the school fails the coverage rule citing its
 * source, the county and city roll-ups change, the console's event stream says so, and coverage
 * history lands in InfluxDB. Uplink and IPv6 come from what the agent collected. The Excel report
 * opens and lists every county of the demo city.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../edge-agent/agent.ts';
import { parseAgentConfig } from '../../edge-agent/config.ts';
import { agentConfigFor, startSimulatedSchoolGear, type SimulatedSchoolGear } from '../../simulator/snmp/school-gear.ts';
import { campusCameraSpecs, campusPlanFor, type CampusPlanSpec } from '../../simulator/campus-plans.ts';
import { startSimulatedSchool, type SimulatedSchool } from '../../simulator/school.ts';
import { seedDemoCity } from '../../simulator/demo-city.ts';
import type { CoverageReport, SchoolCompliance } from '../../collector/compliance/service.ts';
import type { CityRollup, CountyRollup } from '../../collector/compliance/rollup.ts';
import { REPORT_COLUMNS, REPORT_SHEET } from '../../collector/compliance/report.ts';
import { uniqueDbName } from '../setup/influx.ts';
import { CITY, COUNTY, rows, SCHOOL_A, startStack, waitFor, type Stack } from './stack.ts';
import { currentMonth } from '../../collector/compliance/history.ts';

const quiet = { info() {}, warn() {}, error() {} };

describe('compliance of a school whose gate camera breaks', () => {
  let stack: Stack;
  let gear: SimulatedSchoolGear;
  let agent: RunningAgent;
  let cams: SimulatedSchool;
  let spec: CampusPlanSpec;
  let dir: string;
  const events: { type: string; data: Record<string, unknown> }[] = [];
  let sse: AbortController;

  const api = async <T,>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${stack.collector.url}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.collector.apiToken}`, ...(init.headers ?? {}) },
    });
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'campus-compliance-'));
    stack = await startStack({ pgAdminUrl: inject('postgresUrl'), influxUrl: inject('influxUrl'), influxDb: uniqueDbName('compliance') });
    // the demo city: every county of 聊城市 with one school each; SCHOOL_A becomes the demo's first school
    const schools = await seedDemoCity(stack.inventory, CITY, 1);
    const a = schools.find((s) => s.code === SCHOOL_A)!;
    spec = campusPlanFor(a);

    // the campus plan's cameras as simulated ONVIF cameras (and the few other devices a simulated
    // school always has, which the agent is not told to look for), on a random /22 of loopback
    const subnet: [number, number] = [64 + Math.floor(Math.random() * 180), Math.floor(Math.random() * 63) * 4];
    cams = await startSimulatedSchool({ schoolCode: SCHOOL_A, cameras: campusCameraSpecs(spec), classrooms: 0, switches: 0, aps: 0, ups: 1, sensors: 0, subnet });
    // network gear over SNMP
    gear = await startSimulatedSchoolGear({ schoolCode: SCHOOL_A, switches: 2, aps: 1, host: '127.0.0.1' });
    // one real agent: the SNMP gear configured, the cameras found by ONVIF discovery with the credentials file
    const cred = await stack.inventory.addAgent({ schoolCode: SCHOOL_A, agentId: 'gw-1' });
    const found = cams.discovery({ credentialsFile: cams.writeCredentials(join(dir, 'credentials.yaml')), intervalSec: 3600 });
    const raw = { ...agentConfigFor(gear, { agentId: 'gw-1', mqttUrl: stack.mqttUrl, password: cred.password, dataDir: join(dir, 'agent'), pollIntervalSec: 3600 }), discovery: { credentialsFile: found.credentialsFile, allow: found.allow, onvif: found.onvif } };
    agent = await startAgent(parseAgentConfig(raw), { logger: quiet });

    sse = new AbortController();
    const res = await fetch(`${stack.collector.url}/api/v1/events?school=${SCHOOL_A}`, { signal: sse.signal });
    void (async () => {
      const dec = new TextDecoder();
      let buf = '';
      try {
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          buf += dec.decode(chunk, { stream: true });
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const frame = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const type = /^event: (.+)$/m.exec(frame)?.[1];
            const data = /^data: (.+)$/m.exec(frame)?.[1];
            if (type && data) events.push({ type, data: JSON.parse(data) as Record<string, unknown> });
          }
        }
      } catch {
        // aborted at the end
      }
    })();
  });
  afterAll(async () => {
    sse?.abort();
    await cams?.stop();
    await agent?.stop();
    await gear?.stop();
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('computes coverage, rules, roll-ups and the report from what the agents reported, and reacts to the broken gate camera', async () => {
    // ---- SNMP: three polls a little apart give the counters' rates
    for (let i = 0; i < 3; i++) {
      await agent.pollNow();
      await new Promise((r) => setTimeout(r, 1100));
    }
    await waitFor('uplink counters in InfluxDB', async () => {
      const r = rows(await stack.query(`SELECT count("inOctets") FROM "interface" WHERE "school" = '${SCHOOL_A}' AND "device" = 'sw-1' AND "ifName" = 'uplink24'`));
      return (r[0]?.count as number) >= 3 ? true : undefined;
    });

    // ---- enrollment of the cameras the agent discovered (under the ids the plan predicts), the campus plan, the classrooms
    const camIds = await waitFor('cameras in the inbox', async () => {
      const ids = (await stack.inventory.listDevices(SCHOOL_A, { agentId: 'gw-1' })).filter((d) => d.kind === 'camera').map((d) => d.deviceId);
      return ids.length >= spec.cameras.length ? ids.sort() : undefined;
    });
    expect(camIds).toEqual(spec.cameras.map((c) => c.deviceId).sort());
    for (const c of spec.cameras) await api(`/api/v1/schools/${SCHOOL_A}/devices/gw-1/${c.deviceId}/accept`, { method: 'POST', body: JSON.stringify({ placement: c.placement }) });
    // a self-intersecting key area is refused with the geometry error, nothing stored
    const bow = structuredClone(spec.campus);
    const gateFeature = bow.features.find((f) => f.id === 'main-entrance')!;
    const ring = (gateFeature.geometry!.coordinates as number[][][])[0]!;
    [ring[1], ring[2]] = [ring[2]!, ring[1]!];
    const refused = await fetch(`${stack.collector.url}/api/v1/schools/${SCHOOL_A}/campus`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.collector.apiToken}` }, body: JSON.stringify(bow) });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ code: 'INVALID_GEOMETRY', message: expect.stringMatching(/main-entrance.*self-intersecting/), details: { problem: 'self-intersecting' } });

    await api(`/api/v1/schools/${SCHOOL_A}/campus`, { method: 'PUT', body: JSON.stringify(spec.campus) });
    await api(`/api/v1/schools/${SCHOOL_A}/settings`, { method: 'PUT', body: JSON.stringify({ classrooms: spec.classrooms }) });

    // ---- all cameras healthy
    await agent.pollNow();
    const healthy = await waitFor('every key area covered', async () => {
      const c = await api<CoverageReport>(`/api/v1/schools/${SCHOOL_A}/coverage`);
      return c.fullyCoveredShare === 1 ? c : undefined;
    });
    expect(healthy.cameras).toHaveLength(spec.cameras.length);
    expect(healthy.cameras.every((c) => c.healthy && c.horizontalPixels > 1920 && c.resolutionFrom === 'camera_health')).toBe(true);

    const before = await api<SchoolCompliance>(`/api/v1/schools/${SCHOOL_A}/compliance`);
    expect(before.findings.find((f) => f.kind === 'key-area-coverage')!.verdict).toBe('pass');
    const countyBefore = await api<CountyRollup>(`/api/v1/counties/${COUNTY}/compliance`);
    const cityBefore = await api<CityRollup>(`/api/v1/city/compliance`);
    expect(countyBefore.keyAreas.schoolsPassing).toBe(1);

    // ---- uplink and IPv6 from what the agent collected over SNMP and discovery
    const sw = gear.devices.find((d) => d.id === 'sw-1')!.device;
    const uplinkPort = sw.ports.find((p) => /uplink/i.test(p.ifName))!;
    const up = before.findings.find((f) => f.kind === 'uplink-bandwidth')!;
    expect(up).toMatchObject({ verdict: 'pass', measured: uplinkPort.speedMbps, threshold: 200, unit: 'Mbit/s' });
    expect(up.detail).toMatch(/SNMP/);
    expect(before.facts.uplink).toMatchObject({ device: 'sw-1', ifName: uplinkPort.ifName, how: 'core-switch-uplink', capacityMbps: uplinkPort.speedMbps });
    // the model's mean rate of the busier direction, with its daily swell (±60 %), in Mbit/s
    const meanMbps = (Math.max(uplinkPort.inBps, uplinkPort.outBps) * 8) / 1e6;
    expect(before.facts.uplink!.p95Mbps).toBeGreaterThan(meanMbps * 0.35);
    expect(before.facts.uplink!.p95Mbps).toBeLessThan(meanMbps * 1.65);
    const util = before.findings.find((f) => f.kind === 'uplink-utilisation')!;
    expect(util.verdict).toBe('pass');
    const inventoryDevices = (await stack.inventory.listDevices(SCHOOL_A)).filter((d) => !d.goneAt);
    const withGlobal = inventoryDevices.filter((d) => String(d.attributes.ipv6 ?? '').split(',').some((x) => x && !/^fe80:|^::1$/i.test(x))).length;
    expect(withGlobal).toBe(spec.cameras.length); // cameras report 2001:db8:…; the SNMP gear reports none
    expect(before.facts.ipv6).toMatchObject({ devices: inventoryDevices.length, withGlobal });
    expect(before.facts.aps).toEqual({ total: 1, online: 1 });

    // ---- the gate camera's stream goes down
    const eventsBefore = events.length;
    await cams.setCameraFault(spec.cameras.find((c) => c.deviceId === spec.gateCamera)!.serial, 'stream-down');
    await agent.pollNow();
    const broken = await waitFor('the main entrance uncovered', async () => {
      const c = await api<CoverageReport>(`/api/v1/schools/${SCHOOL_A}/coverage`);
      return c.areas.find((a) => a.id === spec.gateArea)?.fullyCovered === false ? c : undefined;
    });
    const gate = broken.areas.find((a) => a.id === spec.gateArea)!;
    expect(gate).toMatchObject({ type: 'main-entrance', requiredLevel: 'identify', requiredPpm: 250, fullyCovered: false });
    expect(gate.coveredShare).toBeLessThan(0.999);
    expect(gate.ifAllHealthyShare).toBeCloseTo(1, 3); // broken, not missing
    expect(gate.blindSpotM2).toBeGreaterThan(1);
    expect(gate.blindSpots.length).toBeGreaterThan(0);
    const spot = gate.blindSpots[0]!;
    expect(spot.type).toBe('Polygon');
    // WGS84, right at the school (the plan is georeferenced)
    const school = (await stack.inventory.getSchool(SCHOOL_A))!;
    for (const [lon, lat] of spot.coordinates[0]!) {
      expect(Math.abs(lon! - school.lon!)).toBeLessThan(0.001);
      expect(Math.abs(lat! - school.lat!)).toBeLessThan(0.001);
    }
    expect(broken.cameras.find((c) => c.deviceId === spec.gateCamera)).toMatchObject({ online: false, healthy: false, step: 2 });
    expect(broken.areas.filter((a) => a.id !== spec.gateArea).every((a) => a.fullyCovered)).toBe(true);

    const after = await api<SchoolCompliance>(`/api/v1/schools/${SCHOOL_A}/compliance`);
    const cov = after.findings.find((f) => f.kind === 'key-area-coverage')!;
    expect(cov.verdict).toBe('fail');
    expect(cov.uncovered).toEqual([spec.gateArea]);
    expect(cov.sources[0]!.document).toMatch(/GB\/T 29315-2022/);
    expect(cov.citation).toMatch(/GB\/T 29315-2022.*§四\(四\)5/);

    // ---- roll-ups follow
    const countyAfter = await api<CountyRollup>(`/api/v1/counties/${COUNTY}/compliance`);
    expect(countyAfter.keyAreas.schoolsPassing).toBe(0);
    expect(countyAfter.keyAreas.fullyCovered).toBe(countyBefore.keyAreas.fullyCovered - 1);
    expect(countyAfter.cameras.online).toBe(countyBefore.cameras.online - 1);
    expect(countyAfter.rules.find((r) => r.kind === 'key-area-coverage')).toMatchObject({ pass: 0, fail: 1 });
    expect(countyAfter.ranking.find((s) => s.code === SCHOOL_A)!.failed).toBe(countyBefore.ranking.find((s) => s.code === SCHOOL_A)!.failed + 1);
    const cityAfter = await api<CityRollup>(`/api/v1/city/compliance`);
    expect(cityAfter.keyAreas.schoolsPassing).toBe(cityBefore.keyAreas.schoolsPassing - 1);
    expect(cityAfter.counties.find((c) => c.code === COUNTY)!.keyAreas.schoolsPassing).toBe(0);
    expect(cityAfter.openIssues).toBe(cityBefore.openIssues + 1);

    // ---- the console heard it, and the history is in InfluxDB
    await waitFor('coverage-changed and device-status events', () => {
      const mine = events.slice(eventsBefore);
      return mine.some((e) => e.type === 'device-status' && e.data.deviceId === spec.gateCamera && e.data.healthy === false) &&
        mine.some((e) => e.type === 'coverage-changed' && (e.data.areas as string[]).includes(spec.gateArea))
        ? true
        : undefined;
    });
    const history = await waitFor('coverage history of the main entrance', async () => {
      const r = rows(await stack.query(`SELECT "coveredShare" FROM "coverage" WHERE "school" = '${SCHOOL_A}' AND "area" = '${spec.gateArea}'`));
      return r.some((x) => (x.coveredShare as number) < 0.999) && r.some((x) => (x.coveredShare as number) >= 0.999) ? r : undefined;
    });
    expect(history.length).toBeGreaterThanOrEqual(2);

    // ---- the Excel report opens and shows every county of the demo city
    // this month's report is today's figures (past months come from history: compliance-history.test.ts)
    const month = currentMonth();
    const res = await fetch(`${stack.collector.url}/api/v1/reports/compliance.xlsx?month=${month}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/spreadsheetml/);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(Buffer.from(await res.arrayBuffer()) as unknown as ArrayBuffer);
    const ws = wb.getWorksheet(REPORT_SHEET)!;
    expect(ws).toBeDefined();
    expect(String(ws.getRow(1).getCell(1).value)).toContain(`聊城市`);
    expect(String(ws.getRow(1).getCell(1).value)).toContain(`${month.slice(0, 4)}年${Number(month.slice(5))}月`);
    expect((ws.getRow(2).values as unknown[]).slice(1)).toEqual(REPORT_COLUMNS.map((c) => c.header));
    const counties = await stack.inventory.listRegions({ level: 'county', parentCode: CITY });
    const names: string[] = [];
    for (let r = 3; r <= ws.rowCount; r++) names.push(String(ws.getRow(r).getCell(1).value));
    expect(names.slice(0, -1).sort()).toEqual(counties.map((c) => c.name).sort());
    expect(names.slice(0, 3)).toEqual(['东昌府区', '临清市', '冠县']);
    expect(names.at(-1)).toBe('合计');
    const city = await api<CityRollup>(`/api/v1/city/compliance`);
    const rowOf = (name: string) => (ws.getRow(names.indexOf(name) + 3).values as unknown[]).slice(1);
    expect(rowOf('合计')).toEqual(REPORT_COLUMNS.map((c, i) => (i === 0 ? '合计' : c.value(city))).map((v) => v ?? undefined));
    const dcf = city.counties.find((c) => c.code === COUNTY)!;
    expect(rowOf(dcf.name)).toEqual(REPORT_COLUMNS.map((c) => c.value(dcf)).map((v) => v ?? undefined));
    expect(rowOf(dcf.name)[REPORT_COLUMNS.findIndex((c) => c.header === '关键区域全覆盖学校数')]).toBe(0);
  });

  it("lists the core switch's LLDP neighbours with its own port names, linked to the school's devices", async () => {
    const core = gear.devices.find((d) => d.id === 'sw-1')!;
    const access = gear.devices.find((d) => d.id === 'sw-2')!;
    expect(core.sysName).toMatch(/core/);
    const { neighbours } = await waitFor('the core switch\'s neighbours', async () => {
      const r = await api<{ neighbours: Array<Record<string, unknown>> }>(`/api/v1/schools/${SCHOOL_A}/devices/gw-1/sw-1/neighbours`);
      return r.neighbours.length > 0 ? r : undefined;
    });
    const expected = core.neighbours.map((n) => ({
      localPort: core.device.ports.find((p) => p.ifIndex === n.localPort)!.ifName,
      remoteSysName: n.remoteSysName,
      remotePortId: n.remotePortId,
    }));
    expect(expected.length).toBeGreaterThan(0);
    expect(neighbours.map((n) => ({ localPort: n.localPort, remoteSysName: n.remoteSysName, remotePortId: n.remotePortId }))).toEqual(expected);
    // the access switch is one of the school's devices: the console can open it from here
    expect(neighbours.find((n) => n.remoteSysName === access.sysName)).toMatchObject({ device: { agentId: 'gw-1', deviceId: 'sw-2', kind: 'switch' } });
    for (const n of neighbours) expect(Date.parse(String(n.seenAt))).toBeGreaterThan(Date.now() - 3600_000);

    const none = await fetch(`${stack.collector.url}/api/v1/schools/9999999999/devices/gw-1/sw-1/neighbours`);
    expect(none.status).toBe(404);
  });
});
