/**
 * The map console in a real browser: Debian's Chromium (headless, driven by playwright-core; never a
 * downloaded browser) against a collector with the built console, a simulated demo city (one school
 * per county of 聊城市) and, at the first school, a campus plan whose seven cameras are real
 * simulated ONVIF cameras discovered and health-checked by a real edge agent. The gate camera's
 * stream is down; the teaching corridor's east camera is discovered but not yet enrolled. Flows:
 * city view → county → school, the gate's blind spot, accepting and placing the corridor camera and
 * seeing coverage change; in English, the county's finding filter (deep-linked) and the table and
 * monthly-report exports; device detail (a camera's health ladder, a UPS's battery chart) and the
 * planned-devices CSV import with a bad row; editing the campus plan (drawing a key area, a refused
 * self-intersecting one). Screenshots go to tests/browser/output/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../edge-agent/agent.ts';
import { parseAgentConfig } from '../../edge-agent/config.ts';
import { campusCameraSpecs, campusPlanFor, type CampusPlanSpec } from '../../simulator/campus-plans.ts';
import { startSimulatedSchool, type SimulatedSchool } from '../../simulator/school.ts';
import { seedDemoCity } from '../../simulator/demo-city.ts';
import { uniqueDbName } from '../setup/influx.ts';
import { BROWSER_TEST_TIMEOUT_MS, BROWSER_WAIT_TIMEOUT_MS, CHROMIUM_ARGS, serveConsole } from './serve-console.ts';
import { CITY, COUNTY, SCHOOL_A, startStack, waitFor, type Stack } from '../e2e/stack.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const DIST = join(ROOT, 'console', 'dist');
const OUT = join(ROOT, 'tests', 'browser', 'output');
const quiet = { info() {}, warn() {}, error() {} };
describe('map console in Chromium', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  let stack: Stack;
  let cams: SimulatedSchool;
  let agent: RunningAgent;
  let spec: CampusPlanSpec;
  let dir: string;
  let web: { url: string; close(): Promise<void> } | undefined;
  let base: string;
  let ctx: BrowserContext;
  let page: Page;
  let corridorEast: CampusPlanSpec['cameras'][number];
  const influxDb = uniqueDbName('console');

  const api = async <T,>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${stack.collector.url}${path}`, { ...init, headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.collector.apiToken}` } });
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  const shot = (name: string) => page.screenshot({ path: join(OUT, name) });
  const attr = (sel: string, name: string) => page.locator(sel).first().getAttribute(name);

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    if (!existsSync(join(DIST, 'index.html'))) execFileSync('npx', ['vite', 'build', 'console', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
    dir = await mkdtemp(join(tmpdir(), 'campus-browser-'));
    stack = await startStack({ pgAdminUrl: inject('postgresUrl'), influxUrl: inject('influxUrl'), influxDb });
    const schools = await seedDemoCity(stack.inventory, CITY, 1);
    spec = campusPlanFor(schools.find((s) => s.code === SCHOOL_A)!);
    corridorEast = spec.cameras.find((c) => c.key === 'cam-corr-e')!;
    const subnet: [number, number] = [64 + Math.floor(Math.random() * 180), Math.floor(Math.random() * 63) * 4];
    cams = await startSimulatedSchool({ schoolCode: SCHOOL_A, cameras: campusCameraSpecs(spec, { [spec.gateCamera]: 'stream-down' }), classrooms: 0, switches: 0, aps: 0, ups: 0, sensors: 0, subnet });
    const cred = await stack.inventory.addAgent({ schoolCode: SCHOOL_A, agentId: 'gw-1' });
    const cfg = cams.agentConfig({ agentId: 'gw-1', mqttUrl: stack.mqttUrl, password: cred.password, dataDir: join(dir, 'agent'), credentialsFile: cams.writeCredentials(join(dir, 'credentials.yaml')), pollIntervalSec: 3 });
    agent = await startAgent(parseAgentConfig(cfg), { logger: quiet });
    await waitFor('the plan cameras discovered', async () => {
      const ids = new Set((await stack.inventory.listDevices(SCHOOL_A, { agentId: 'gw-1' })).map((d) => d.deviceId));
      return spec.cameras.every((c) => ids.has(c.deviceId)) ? true : undefined;
    }, 90_000);
    for (const c of spec.cameras) if (c !== corridorEast) await api(`/api/v1/schools/${SCHOOL_A}/devices/gw-1/${c.deviceId}/accept`, { method: 'POST', body: JSON.stringify({ placement: c.placement }) });
    await api(`/api/v1/schools/${SCHOOL_A}/campus`, { method: 'PUT', body: JSON.stringify(spec.campus) });
    await api(`/api/v1/schools/${SCHOOL_A}/settings`, { method: 'PUT', body: JSON.stringify({ classrooms: spec.classrooms }) });

    // the collector serves the console itself once console-routes.ts does; until then, a local file server with /api passed through
    const own = await fetch(`${stack.collector.url}/`).then(async (r) => r.ok && (await r.text()).includes('id="root"')).catch(() => false);
    if (!own) web = await serveConsole(stack.collector.url, DIST);
    base = own ? stack.collector.url : web!.url;

    ctx = await chromium.launchPersistentContext(join(dir, 'chromium'), {
      executablePath: '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
      viewport: { width: 1366, height: 768 },
      locale: 'zh-CN',
    });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.setDefaultTimeout(BROWSER_WAIT_TIMEOUT_MS);
  }, 240_000);

  afterAll(async () => {
    await ctx?.close();
    await web?.close();
    await agent?.stop();
    await cams?.stop();
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('city view: county boundaries, school markers, ranking, live channel, in Chinese', async () => {
    await page.goto(`${base}/#/city?ind=coverage`);
    await page.waitForFunction(() => Number(document.getElementById('map')?.dataset.counties) > 0 && Number(document.getElementById('map')?.dataset.markers) > 0, null, { timeout: 60_000 });
    const counties = Number(await attr('#map', 'data-counties'));
    expect(counties).toBeGreaterThanOrEqual(8);
    // vector boundaries drawn on the canvas renderer, no tile layer
    expect(await page.locator('.leaflet-tile-pane img').count()).toBe(0);
    await page.locator(`[data-testid=ranking] [data-county="${COUNTY}"]`).waitFor();
    expect(await page.locator('[data-testid=ranking] li').count()).toBe(counties);
    // every county has its seeded school(s), including those added after the collector started
    const rankingText = await page.locator('[data-testid=ranking]').innerText();
    expect(rankingText).not.toMatch(/[（(]\s*0\s*[)）]/);
    await page.locator('[data-testid=live][data-up=true]').waitFor();
    expect(await page.locator('[data-testid=live]').textContent()).toBe('实时连接中');
    expect(await page.locator('html').getAttribute('lang')).toBe('zh-CN');
    await shot('city.png');
  });

  it('drills into a county and a school, and finds the blind spot of the broken gate camera', async () => {
    await page.locator(`[data-testid=ranking] [data-county="${COUNTY}"]`).click();
    await page.locator(`[data-testid=schools-table] tr[data-school="${SCHOOL_A}"]`).waitFor();
    expect(page.url()).toContain(`#/county/${COUNTY}`);
    await shot('county.png');
    await page.locator(`[data-testid=schools-table] tr[data-school="${SCHOOL_A}"]`).click();
    await page.locator(`[data-testid=school-view][data-school="${SCHOOL_A}"]`).waitFor();
    expect(page.url()).toContain(`#/school/${SCHOOL_A}`);
    // the gate camera's health reaches the collector through the agent's polls: wait for the entrance to lose coverage
    await waitFor('the main entrance uncovered, with its blind spot drawn', async () => {
      if ((await page.locator('tr[data-area="main-entrance"][data-full="false"]').count()) && (await page.locator('path.blind-spot-main-entrance').count())) return true;
      await page.reload();
      await page.locator('[data-testid=areas]').waitFor({ timeout: 20_000 });
      return undefined;
    }, 90_000);
    expect(await page.locator('path.blind-spot-main-entrance').first().getAttribute('fill')).toBe('url(#campus-hatch)');
    expect(await page.locator(`path.camera-${spec.gateCamera}`).count()).toBe(1);
    expect(await page.locator('[data-testid=compliance] tr[data-rule]').count()).toBeGreaterThan(0);
    expect(await page.locator('[data-testid=compliance] tr[data-verdict=fail]').count()).toBeGreaterThan(0);
    await shot('school-blind-spot.png');
  });

  it('accepts the discovered corridor camera, places it on the map, and coverage changes', async () => {
    const before = Number(await attr('[data-testid=weighted-coverage]', 'data-value'));
    // the admin token, typed once into the settings box
    await page.locator('[data-testid=settings]').click();
    await page.locator('[data-testid=token]').fill(stack.collector.apiToken);
    await page.locator('[data-testid=actor]').fill('测试管理员');
    await page.locator('[data-testid=save-settings]').click();

    const row = page.locator(`[data-testid=inbox] tr[data-device="${corridorEast.deviceId}"]`);
    await row.locator('[data-action=accept]').click();
    await page.locator('[data-testid=placement]').waitFor();
    const pos = corridorEast.placement.position as { lon: number; lat: number };
    const pt = await page.evaluate(([lat, lon]) => {
      const m = (window as unknown as { __campusMap: { latLngToContainerPoint(ll: [number, number]): { x: number; y: number }; getContainer(): HTMLElement } }).__campusMap;
      const p = m.latLngToContainerPoint([lat, lon]);
      const r = m.getContainer().getBoundingClientRect();
      return { x: r.left + p.x, y: r.top + p.y };
    }, [pos.lat, pos.lon] as const);
    await page.mouse.click(pt.x, pt.y);
    await page.locator('[data-testid=placement-position]').filter({ hasText: /\d+\.\d+, \d+\.\d+/ }).waitFor();
    await page.locator('[data-testid=heading]').fill(String(corridorEast.placement.camera!.headingDeg));
    await page.locator('[data-testid=hfov]').fill(String(corridorEast.placement.camera!.hfovDeg));
    await page.locator('path.placing-sector').waitFor();
    await shot('placing.png');
    await page.locator('[data-testid=confirm-placement]').click();
    await row.waitFor({ state: 'detached' });
    expect(await page.locator('[data-testid=error]').count()).toBe(0);

    const after = await waitFor('coverage to change after the acceptance', async () => {
      const v = Number(await attr('[data-testid=weighted-coverage]', 'data-value'));
      return v !== before ? v : undefined;
    }, 90_000);
    expect(after).toBeGreaterThan(before);
    await page.locator(`path.sector-${corridorEast.deviceId}`).waitFor();
    const device = await stack.inventory.listDevices(SCHOOL_A, { agentId: 'gw-1' }).then((ds) => ds.find((d) => d.deviceId === corridorEast.deviceId));
    expect(device?.state).toBe('enrolled');
    await shot('school-accepted.png');
  });

  it('in English: filters the county by finding (deep link), exports the table and downloads the monthly report', async () => {
    await page.goto(`${base}/#/city?ind=coverage`);
    await page.locator('[data-testid=lang]').click();
    await page.locator('h2', { hasText: 'County ranking' }).waitFor();
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    expect(await page.locator('[data-testid=export-ranking]').textContent()).toBe('Export table');

    await page.locator(`[data-testid=ranking] [data-county="${COUNTY}"]`).click();
    const rowA = page.locator(`[data-testid=schools-table] tr[data-school="${SCHOOL_A}"]`);
    await rowA.waitFor();
    const headers = await page.locator('[data-testid=schools-table] th').allInnerTexts();
    expect(headers.map((h) => h.replace(/[▲▼\u200b]/g, '').trim())).toEqual(['Name', 'Coverage', 'Cameras online/total', 'Uplink/required', 'IPv6 share', 'Failing', 'Open tickets']);
    const labels = await page.locator('[data-testid=county-view]').innerText();
    expect(labels).toContain('School type');
    expect(labels).toContain('Finding');
    expect(labels).toContain('Monthly report');

    // the school fails key-area coverage (the gate camera's stream is down); a finding group it does not fail empties the table
    const comp = await api<{ findings: { kind: string; verdict: string }[] }>(`/api/v1/schools/${SCHOOL_A}/compliance`);
    const failing = new Set(comp.findings.filter((f) => f.verdict === 'fail').map((f) => f.kind));
    expect(failing.has('key-area-coverage')).toBe(true);
    const groups: Record<string, string[]> = { uplink: ['uplink-bandwidth', 'uplink-utilisation'], ipv6: ['ipv6-share', 'uplink-ipv6'], display: ['display-per-classroom', 'class-board-per-classroom'], network: ['ap-online-share'] };
    const passed = Object.keys(groups).find((g) => !groups[g]!.some((k) => failing.has(k)));
    expect(passed).toBeDefined();
    await page.locator('[data-testid=finding-filter]').selectOption(passed!);
    await page.waitForFunction(() => location.hash.includes('finding='));
    expect(page.url()).toContain(`#/county/${COUNTY}?finding=${passed}`);
    await rowA.waitFor({ state: 'detached' });
    expect(await page.locator('[data-testid=schools-table] tbody tr').count()).toBe(0);
    await page.locator('[data-testid=finding-filter]').selectOption('coverage');
    await rowA.waitFor();
    expect(page.url()).toContain(`#/county/${COUNTY}?finding=coverage`);
    // the deep link holds after a reload
    await page.reload();
    await rowA.waitFor();
    expect(await page.locator('[data-testid=finding-filter]').inputValue()).toBe('coverage');
    expect(await page.locator('[data-testid=schools-table] tbody tr').count()).toBe(1);

    const schoolName = await rowA.locator('td').first().innerText();
    expect(schoolName).toMatch(/[\u4e00-\u9fff]/);
    // the table as shown (the finding filter applied), as an Excel workbook from the collector, read back
    const { default: ExcelJS } = await import('exceljs');
    const [table] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid=export-table]').click()]);
    const today = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai' }).format(new Date());
    expect(table.suggestedFilename()).toMatch(new RegExp(`^[\u4e00-\u9fff]+ school compliance_${today}\\.xlsx$`));
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load((await readFile((await table.path())!)) as unknown as ArrayBuffer);
    const ws = wb.worksheets[0]!;
    expect(String(ws.getCell('A1').value)).toMatch(/ school compliance \(exported \d{4}-\d{2}-\d{2} \d{2}:\d{2} China time\)$/);
    expect(String(ws.getCell('A2').value)).toContain('Finding: Key areas not fully covered');
    expect((ws.getRow(3).values as unknown[]).slice(1)).toEqual(['Name', 'School code', 'School type', 'Coverage', 'Cameras online', 'Cameras total', 'Uplink (Mbps)', 'Required (Mbps)', 'IPv6 share', 'Failing', 'Open tickets']);
    expect(ws.getRow(3).getCell(1).font?.bold).toBe(true);
    expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 3 });
    expect(ws.rowCount).toBe(4); // title, filter, header and the one school the filter leaves
    const xrow = ws.getRow(4);
    expect(xrow.getCell(1).value).toBe(schoolName);
    expect(xrow.getCell(2).value).toBe(SCHOOL_A);
    // numbers are numbers: the coverage a share with a percent format, cameras and failing rules counts
    const { facts } = await api<{ facts: { cameras: { online: number; total: number }; keyAreas: { weightedCoverage: number } } }>(`/api/v1/schools/${SCHOOL_A}/compliance`);
    expect(xrow.getCell(4).value).toBe(facts.keyAreas.weightedCoverage);
    expect(xrow.getCell(4).numFmt).toBe('0.0%');
    expect([xrow.getCell(5).value, xrow.getCell(6).value]).toEqual([facts.cameras.online, facts.cameras.total]);
    expect(xrow.getCell(10).value).toBe(comp.findings.filter((f) => f.verdict === 'fail').length);
    expect(xrow.getCell(10).numFmt).toBe('#,##0');
    expect(xrow.getCell(11).value).toBe(0); // no repair tickets here (the heavy fixture's collector waits the default 5 min)

    // the server's monthly report (.xlsx) for the county, this month by default
    const month = await page.locator('[data-testid=report-month]').inputValue();
    expect(month).toMatch(/^\d{4}-\d{2}$/);
    expect(await page.locator('[data-testid=export-report]').getAttribute('href')).toBe(`/api/v1/reports/compliance.xlsx?county=${COUNTY}&month=${month}`);
    const [xlsx] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid=export-report]').click()]);
    expect(xlsx.suggestedFilename()).toBe(`compliance-${COUNTY}-${month}.xlsx`);
    const xlsxBytes = await readFile((await xlsx.path())!);
    expect(xlsxBytes.subarray(0, 2).toString('latin1')).toBe('PK');
    // an earlier month from the list (not a native month input, which the browser draws in its own locale)
    const earlier = (await page.locator('[data-testid=report-month] option').nth(1).getAttribute('value'))!;
    expect(earlier < month).toBe(true);
    await page.locator('[data-testid=report-month]').selectOption(earlier);
    expect(await page.locator('[data-testid=export-report]').getAttribute('href')).toBe(`/api/v1/reports/compliance.xlsx?county=${COUNTY}&month=${earlier}`);
    await shot('county-en-finding-filter.png');

    // back to Chinese for whoever runs next in this browser profile; months read 2026年11月 there
    await page.locator('[data-testid=lang]').click();
    await page.locator('[data-testid=finding-filter] option', { hasText: '关键区域未全覆盖' }).waitFor({ state: 'attached' });
    expect(await page.locator('[data-testid=report-month] option').first().textContent()).toBe(`${month.slice(0, 4)}年${Number(month.slice(5))}月`);
  });

  it('device detail: a camera shows its health-ladder step, a UPS its battery chart; a CSV of planned devices with a bad row shows the row', async () => {
    // a UPS behind a second gateway, enrolled, with a battery series in InfluxDB (the simulated school has no UPS)
    await stack.inventory.addAgent({ schoolCode: SCHOOL_A, agentId: 'gw-2' });
    await stack.inventory.upsertDiscoveredDevices(SCHOOL_A, 'gw-2', [{ device: 'ups-1', kind: 'ups', protocol: 'modbus' as const, address: '127.0.0.1:1502', attributes: { model: 'SIM-UPS 3kVA', vendor: '模拟' } }], new Date());
    const school = (await stack.inventory.getSchool(SCHOOL_A))!;
    await api(`/api/v1/schools/${SCHOOL_A}/devices/gw-2/ups-1/accept`, { method: 'POST', body: JSON.stringify({ placement: { building: '配电室', position: { lon: (school.lon ?? 115.98) + 0.0001, lat: (school.lat ?? 36.45) + 0.0001 } } }) });
    const influxUrl = inject('influxUrl');
    await fetch(`${influxUrl}/query?q=${encodeURIComponent(`CREATE DATABASE "${influxDb}"`)}`, { method: 'POST' });
    const start = Date.now() - 50 * 60_000;
    const lines = Array.from({ length: 40 }, (_, i) => `ups,school=${SCHOOL_A},agent=gw-2,device=ups-1 batteryPercent=${100 - i * 0.5 - (i % 5)} ${start + i * 60_000}`);
    const w = await fetch(`${influxUrl}/write?db=${influxDb}&precision=ms`, { method: 'POST', body: lines.join('\n') });
    expect(w.status).toBe(204);

    // the broken gate camera: a row click opens its detail, the ladder highlights its step (stream down: below 码流可用)
    await page.goto(`${base}/#/school/${SCHOOL_A}`);
    const gateRow = page.locator(`[data-testid=devices] tr[data-device="${spec.gateCamera}"]`);
    await gateRow.click();
    const detail = page.locator(`[data-testid=device-detail][data-device="${spec.gateCamera}"]`);
    await detail.waitFor();
    expect(page.url()).toContain(`sel=${spec.gateCamera}`);
    const cov = await api<{ cameras: { deviceId: string; step: number | null }[] }>(`/api/v1/schools/${SCHOOL_A}/coverage`);
    const step = cov.cameras.find((c) => c.deviceId === spec.gateCamera)!.step;
    expect(step).not.toBeNull();
    expect(step!).toBeLessThan(3);
    const current = detail.locator('[data-testid=ladder] li[data-current=true]');
    expect(await current.getAttribute('data-step')).toBe(String(step));
    expect(await detail.locator('[data-testid=ladder] li').allInnerTexts()).toEqual(['不可达', '可达未认证', 'ONVIF认证通过', '码流可用', '编码正常']);
    expect(await detail.locator('[data-testid=telemetry]').count()).toBe(0);
    await detail.scrollIntoViewIfNeeded();
    await shot('device-camera-ladder.png');

    // a healthy camera, by its icon on the map: its detail opens with a current step
    const healthy = spec.cameras.find((c) => c !== corridorEast && c.deviceId !== spec.gateCamera)!;
    await page.locator(`path.camera-${healthy.deviceId}`).click();
    await page.locator(`[data-testid=device-detail][data-device="${healthy.deviceId}"] [data-testid=ladder] li[data-current=true]`).waitFor();

    // the UPS: the battery chart, drawn as SVG from the series route, over a chosen range
    await page.locator('[data-testid=devices] tr[data-device="ups-1"]').click();
    const ups = page.locator('[data-testid=device-detail][data-device="ups-1"]');
    await ups.locator('[data-testid=telemetry]:not([data-state=loading])').waitFor();
    const state = await ups.locator('[data-testid=telemetry]').getAttribute('data-state');
    if (state === 'no-influx') expect(await ups.locator('[data-testid=no-influx]').innerText()).toContain('InfluxDB');
    else {
      expect(state).toBe('ok');
      await ups.locator('[data-testid=chart] .chart-line').waitFor();
      await ups.locator('[data-range="1h"]').click();
      await ups.locator('[data-range="1h"][aria-pressed=true]').waitFor();
      await ups.locator('[data-testid=telemetry][data-state=ok] [data-testid=chart] .chart-line').waitFor();
    }
    expect(await ups.locator('[data-testid=attributes]').innerText()).toContain('SIM-UPS 3kVA');
    await shot('device-ups-chart.png');


    // planned devices by CSV: a bad kind on line 3 is shown with its line and column, and nothing is imported
    const header = 'name,kind,building,room,expected_ip,expected_model,lon,lat,heading_deg,hfov_deg,mount_height_m';
    const csv = (rows: string[]) => ({ name: 'planned.csv', mimeType: 'text/csv', buffer: Buffer.from([header, ...rows].join('\n') + '\n') });
    const at = `${(school.lon ?? 115.98) + 0.0002},${(school.lat ?? 36.45) + 0.0002},90,60,3`;
    await page.locator('[data-testid=planned-csv]').setInputFiles(csv([`操场摄像机1,camera,操场,,,,${at}`, `操场摄像机2,Camera!,操场,,,,${at}`]));
    const bad = page.locator('[data-testid=import-errors] tr[data-line="3"][data-column="kind"]');
    await bad.waitFor();
    expect(await bad.innerText()).toContain('Camera!');
    expect(await page.locator('[data-testid=import-errors] tbody tr:not([data-line="3"])').count()).toBe(0);
    expect(await page.locator('[data-testid=import-rejected]').innerText()).toBe('文件有错误，未导入任何设备');
    await bad.scrollIntoViewIfNeeded();
    await shot('planned-csv-errors.png');
    // fixed, the same file imports, and the planned devices appear in the inbox
    await page.locator('[data-testid=planned-csv]').setInputFiles(csv([`操场摄像机1,camera,操场,,,,${at}`, `操场摄像机2,camera,操场,,,,${at}`]));
    await page.locator('[data-testid=import-ok][data-imported="2"]').waitFor();
    await page.locator('[data-testid=inbox] td', { hasText: '操场摄像机2' }).waitFor();

    // two switches behind gw-2: the core's LLDP neighbours name its port and open the access switch
    const switches = [
      { device: 'core-sw', sysName: `${SCHOOL_A}-core-sw1` },
      { device: 'acc-sw', sysName: `${SCHOOL_A}-acc-sw2` },
    ];
    await stack.inventory.upsertDiscoveredDevices(SCHOOL_A, 'gw-2', switches.map((x, i) => ({ device: x.device, kind: 'switch', protocol: 'snmp' as const, address: `127.0.0.1:${16100 + i}`, attributes: { sysName: x.sysName } })), new Date());
    for (const [i, x] of switches.entries()) {
      await api(`/api/v1/schools/${SCHOOL_A}/devices/gw-2/${x.device}/accept`, { method: 'POST', body: JSON.stringify({ placement: { building: '网络中心', position: { lon: (school.lon ?? 115.98) - 0.0001 * (i + 1), lat: (school.lat ?? 36.45) + 0.0001 } } }) });
    }
    const seen = Date.now() - 5 * 60_000;
    const lldp = [
      `lldp_neighbour,school=${SCHOOL_A},agent=gw-2,device=core-sw,localPort=ge-0/0/1,remoteSysName=${switches[1]!.sysName} remotePortId="uplink48",remotePortDesc="uplink48",remoteChassisId="02:ca:11:22:33:44" ${seen}`,
      `lldp_neighbour,school=${SCHOOL_A},agent=gw-2,device=core-sw,localPort=ge-0/0/7,remoteSysName=printer-3f remotePortId="port 1",remoteChassisId="02:ca:11:22:33:55" ${seen}`,
    ];
    expect((await fetch(`${influxUrl}/write?db=${influxDb}&precision=ms`, { method: 'POST', body: lldp.join('\n') })).status).toBe(204);
    await page.reload(); // enrolled through the API behind the page's back (the admin token stays in the tab)
    await page.locator('[data-testid=devices] tr[data-device="core-sw"]').click();
    const core = page.locator('[data-testid=device-detail][data-device="core-sw"]');
    const rows = core.locator('[data-testid=neighbours] tbody tr');
    await rows.first().waitFor();
    expect(await rows.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-port'), tr.getAttribute('data-remote')]))).toEqual([
      ['ge-0/0/1', switches[1]!.sysName],
      ['ge-0/0/7', 'printer-3f'],
    ]);
    expect(await core.locator('[data-testid=neighbours] thead').innerText()).toContain('本端端口');
    await core.locator('[data-testid=neighbours]').scrollIntoViewIfNeeded();
    await shot('device-switch-neighbours.png');
    // the printer is not one of the school's devices: no link; the access switch is, and opens
    expect(await core.locator('tr[data-remote="printer-3f"] [data-testid=neighbour-device]').count()).toBe(0);
    await core.locator('[data-testid=neighbour-device][data-device="acc-sw"]').click();
    await page.locator('[data-testid=device-detail][data-device="acc-sw"]').waitFor();
    expect(page.url()).toContain('sel=acc-sw');
  });

  it('edits the plan: draws a laboratory key area and saves it, its coverage shows; a self-intersecting one is refused with the reason', async () => {
    await page.goto(`${base}/#/school/${SCHOOL_A}`);
    await page.locator('[data-testid=areas] tr[data-area]').first().waitFor();
    const outline = spec.campus.features.find((f) => f.properties?.kind === 'outline')!.geometry!.coordinates as number[][][];
    const lons = outline[0]!.map((p) => p[0]!), lats = outline[0]!.map((p) => p[1]!);
    const [w, e, s, n] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
    // a point of the campus by its share of the outline's extent, in page coordinates
    const at = (fx: number, fy: number) =>
      page.evaluate(([lat, lon]) => {
        const m = (window as unknown as { __campusMap: { latLngToContainerPoint(ll: [number, number]): { x: number; y: number }; getContainer(): HTMLElement } }).__campusMap;
        const p = m.latLngToContainerPoint([lat, lon]);
        const r = m.getContainer().getBoundingClientRect();
        return { x: r.left + p.x, y: r.top + p.y };
      }, [s + fy * (n - s), w + fx * (e - w)] as const);
    const areasBefore = await page.locator('[data-testid=areas] tr[data-area]').count();

    // a triangle, closed by a double-click on its third vertex: a laboratory (危险品储存室、实验室), level from the pack
    await page.locator('[data-testid=edit-plan]').click();
    await page.locator('[data-testid=draw-shape]').click();
    for (const [fx, fy] of [[0.4, 0.4], [0.6, 0.4]] as const) {
      const p = await at(fx, fy);
      await page.mouse.click(p.x, p.y);
    }
    const third = await at(0.5, 0.6);
    await page.mouse.dblclick(third.x, third.y);
    await page.locator('[data-testid=shape-form]').waitFor();
    expect(await page.locator('path.drawing-vertex').count()).toBe(3);
    await page.locator('[data-testid=shape-type]').selectOption('hazardous-store');
    expect(await page.locator('[data-testid=shape-level]').inputValue()).toBe('recognise');
    await page.locator('[data-testid=shape-name]').fill('化学实验室');
    await page.locator('[data-testid=add-shape]').click();
    await page.locator('[data-testid=plan-shapes] tr', { hasText: '化学实验室' }).waitFor();
    await page.locator('[data-testid=save-plan]').click();
    await page.locator('[data-testid=plan-saved]').waitFor();
    const lab = page.locator('[data-testid=areas] tr[data-area]', { hasText: '化学实验室' });
    await lab.waitFor();
    expect(await page.locator('[data-testid=areas] tr[data-area]').count()).toBe(areasBefore + 1);
    expect(await lab.locator('td').nth(1).innerText()).toBe('识别'); // the level, localized (data-level keeps the id)
    expect(await lab.locator('td').nth(1).getAttribute('data-level')).toBe('recognise');
    const covered = Number(await lab.getAttribute('data-covered'));
    expect(covered).toBeGreaterThanOrEqual(0);
    expect(covered).toBeLessThanOrEqual(1);
    expect(await lab.locator('td').nth(2).innerText()).toMatch(/%$/);
    await page.locator(`path.key-area-${await lab.getAttribute('data-area')}`).waitFor();
    const stored = await api<{ features: { properties: Record<string, unknown> }[] }>(`/api/v1/schools/${SCHOOL_A}/campus`);
    expect(stored.features.find((f) => f.properties.name === '化学实验室')?.properties).toMatchObject({ kind: 'key-area', keyAreaType: 'hazardous-lab', requiredLevel: 'recognise', levelFromPolicy: true });
    await lab.scrollIntoViewIfNeeded();
    await shot('plan-edit-saved.png');

    // a bow-tie, closed by 完成: the server refuses it and says why; nothing is stored
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.locator('[data-testid=edit-plan]').click();
    await page.locator('[data-testid=draw-shape]').click();
    for (const [fx, fy] of [[0.3, 0.3], [0.45, 0.45], [0.45, 0.3], [0.3, 0.45]] as const) {
      const p = await at(fx, fy);
      await page.mouse.click(p.x, p.y);
    }
    await page.locator('[data-testid=draw-hint]', { hasText: '4' }).waitFor();
    await page.locator('[data-testid=finish-shape]').click();
    await page.locator('[data-testid=shape-kind]').selectOption('building');
    await page.locator('[data-testid=shape-name]').fill('错误楼');
    await page.locator('[data-testid=add-shape]').click();
    await page.locator('[data-testid=save-plan]').click();
    const refused = page.locator('[data-testid=plan-error]');
    await refused.waitFor();
    expect(await refused.innerText()).toMatch(/服务器拒绝了平面图.*self-intersecting/);
    await shot('plan-edit-refused.png');
    const after = await api<{ features: { properties: Record<string, unknown> }[] }>(`/api/v1/schools/${SCHOOL_A}/campus`);
    expect(after.features.some((f) => f.properties.name === '错误楼')).toBe(false);
    // deleting the bad one leaves the editor with what is stored
    await page.locator('[data-testid=plan-shapes] tr', { hasText: '错误楼' }).locator('[data-action=delete-shape]').click();
    expect(await page.locator('[data-testid=plan-shapes] tr', { hasText: '错误楼' }).count()).toBe(0);
    await page.locator('[data-testid=exit-edit]').click();
    await page.locator('[data-testid=edit-plan]').waitFor();
  });
});
