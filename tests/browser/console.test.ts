/**
 * The map console in a real browser: Debian's Chromium (headless, driven by playwright-core; never a
 * downloaded browser) against a collector with the built console, a simulated demo city (one school
 * per county of 聊城市) and, at the first school, a campus plan whose seven cameras are real
 * simulated ONVIF cameras discovered and health-checked by a real edge agent. The gate camera's
 * stream is down; the teaching corridor's east camera is discovered but not yet enrolled. Flows:
 * city view → county → school, the gate's blind spot, accepting and placing the corridor camera and
 * seeing coverage change. Screenshots go to tests/browser/output/.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
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
import { CHROMIUM_ARGS, serveConsole } from './serve-console.ts';
import { CITY, COUNTY, SCHOOL_A, startStack, waitFor, type Stack } from '../e2e/stack.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const DIST = join(ROOT, 'console', 'dist');
const OUT = join(ROOT, 'tests', 'browser', 'output');
const quiet = { info() {}, warn() {}, error() {} };
describe('map console in Chromium', () => {
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
    stack = await startStack({ pgAdminUrl: inject('postgresUrl'), influxUrl: inject('influxUrl'), influxDb: uniqueDbName('console') });
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
});
