/**
 * 网络拓扑 in the school view (Chromium): a real collector (PostgreSQL, InfluxDB) serving the built
 * console; a school with a core switch, two access switches and an AP, enrolled, and their LLDP
 * neighbours written to InfluxDB as the SNMP profile stores them — one link seen from both ends, one
 * from the core only, an AP below an access switch and a printer the inventory does not know. The
 * topology draws the tree with port names at both ends of each link, the printer dashed as 未登记,
 * and a click on a switch opens its device panel. A school without LLDP data explains why it is empty.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { seedDemoCity } from '../../simulator/demo-city.ts';
import { uniqueDbName } from '../setup/influx.ts';
import { BROWSER_TEST_TIMEOUT_MS, BROWSER_WAIT_TIMEOUT_MS, CHROMIUM_ARGS } from './serve-console.ts';
import { CITY, SCHOOL_A, SCHOOL_B, startStack, type Stack } from '../e2e/stack.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const DIST = join(ROOT, 'console', 'dist');
const OUT = join(ROOT, 'tests', 'browser', 'output');
const AGENT = 'gw-1';

describe('network topology in the school view', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  let stack: Stack;
  let dir: string;
  let ctx: BrowserContext;
  let page: Page;
  const influxUrl = inject('influxUrl');
  const influxDb = uniqueDbName('topology');

  const api = async <T,>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${stack.collector.url}${path}`, { ...init, headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.collector.apiToken}` } });
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };

  beforeAll(async () => {
    mkdirSync(OUT, { recursive: true });
    if (!existsSync(join(DIST, 'index.html'))) execFileSync('npx', ['vite', 'build', 'console', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
    dir = await mkdtemp(join(tmpdir(), 'campus-browser-topology-'));
    stack = await startStack({ pgAdminUrl: inject('postgresUrl'), influxUrl, influxDb });
    await seedDemoCity(stack.inventory, CITY, 1);
    const school = await api<{ lon: number | null; lat: number | null }>(`/api/v1/schools/${SCHOOL_A}`);

    // the gear, as SNMP discovery reports it (sysName from the MIB-II system group), all enrolled
    await stack.inventory.addAgent({ schoolCode: SCHOOL_A, agentId: AGENT });
    await stack.inventory.setAgentState(SCHOOL_A, AGENT, 'online', new Date());
    const gear = [
      { device: 'core-sw', kind: 'switch', sysName: 'core-sw1' },
      { device: 'acc-a', kind: 'switch', sysName: 'acc-a' },
      { device: 'acc-b', kind: 'switch', sysName: 'acc-b' },
      { device: 'ap-101', kind: 'ap', sysName: 'ap-101' },
    ];
    await stack.inventory.upsertDiscoveredDevices(SCHOOL_A, AGENT, gear.map((g, i) => ({ device: g.device, kind: g.kind, protocol: 'snmp' as const, address: `127.0.0.1:${16100 + i}`, attributes: { sysName: g.sysName } })), new Date());
    for (const [i, g] of gear.entries()) {
      const position = { lon: (school.lon ?? 115.98) - 0.0001 * (i + 1), lat: (school.lat ?? 36.45) + 0.0001 };
      await api(`/api/v1/schools/${SCHOOL_A}/devices/${AGENT}/${g.device}/accept`, { method: 'POST', body: JSON.stringify({ placement: { building: '网络中心', position } }) });
    }

    // their LLDP neighbours, as the generic-snmp-switch profile's `neighbours` group stores them
    const seen = Date.now() - 5 * 60_000;
    const lldp = (device: string, localPort: string, remoteSysName: string, remotePortId: string) =>
      `lldp_neighbour,school=${SCHOOL_A},agent=${AGENT},device=${device},localPort=${localPort.replace(/ /g, '\\ ')},remoteSysName=${remoteSysName} remotePortId="${remotePortId}",remotePortDesc="${remotePortId}",remoteChassisId="02:ca:11:22:33:44" ${seen}`;
    const lines = [
      lldp('core-sw', 'ge-0/0/1', 'acc-a', 'uplink48'),
      lldp('acc-a', 'uplink48', 'core-sw1', 'ge-0/0/1'),
      lldp('core-sw', 'ge-0/0/2', 'acc-b', 'Gi0/24'),
      lldp('acc-a', 'ge1/0/5', 'ap-101', 'eth0'),
      lldp('acc-b', 'ge1/0/7', 'printer-3f', 'port 1'),
    ];
    const w = await fetch(`${influxUrl}/write?db=${influxDb}&precision=ms`, { method: 'POST', body: lines.join('\n') });
    expect(w.status, await w.text()).toBe(204);

    ctx = await chromium.launchPersistentContext(join(dir, 'chromium'), { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.setDefaultTimeout(BROWSER_WAIT_TIMEOUT_MS);
  }, 180_000);

  afterAll(async () => {
    await ctx?.close().catch(() => {});
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('draws the school’s wiring with port names, the unknown printer dashed, and opens a switch’s panel on click', async () => {
    await page.goto(`${stack.collector.url}/#/school/${SCHOOL_A}`);
    const section = page.locator('[data-testid=topology][data-state=ok]');
    await section.waitFor();
    expect(await section.locator('h2').innerText()).toBe('网络拓扑');
    // unaccounted for, listed in the side panel: the printer nobody registered
    expect(await section.locator('[data-testid=topology-unaccounted] li[data-node="?printer-3f"]').innerText()).toContain('未登记');

    await page.locator('[data-testid=topology-open]').click();
    const svg = page.locator('[data-testid=topology-overlay] [data-testid=topology-svg]');
    await svg.waitFor();
    const links = await svg.locator('g.topology-link').evaluateAll((gs) =>
      gs.map((g) => [g.getAttribute('data-local'), g.getAttribute('data-local-port'), g.getAttribute('data-remote'), g.getAttribute('data-remote-port'), g.getAttribute('data-both-ends')]),
    );
    expect(links.sort()).toEqual([
      [`${AGENT}/acc-a`, 'ge1/0/5', `${AGENT}/ap-101`, 'eth0', 'false'],
      [`${AGENT}/acc-b`, 'ge1/0/7', '?printer-3f', 'port 1', 'false'],
      [`${AGENT}/core-sw`, 'ge-0/0/1', `${AGENT}/acc-a`, 'uplink48', 'true'],
      [`${AGENT}/core-sw`, 'ge-0/0/2', `${AGENT}/acc-b`, 'Gi0/24', 'false'],
    ]);
    // the port labels at both ends of the core's link to acc-a
    const coreLink = svg.locator(`g.topology-link[data-local="${AGENT}/core-sw"][data-remote="${AGENT}/acc-a"]`);
    expect(await coreLink.locator(`text[data-port-of="${AGENT}/core-sw"]`).textContent()).toBe('ge-0/0/1');
    expect(await coreLink.locator(`text[data-port-of="${AGENT}/acc-a"]`).textContent()).toBe('uplink48');
    // layers: core on top, access switches, then the AP and the printer
    const level = (id: string) => svg.locator(`g.topology-node[data-node="${id}"]`).getAttribute('data-level');
    expect(await Promise.all([`${AGENT}/core-sw`, `${AGENT}/acc-a`, `${AGENT}/acc-b`, `${AGENT}/ap-101`, '?printer-3f'].map(level))).toEqual(['0', '1', '1', '2', '2']);
    const box = async (id: string) => (await svg.locator(`g.topology-node[data-node="${id}"] rect`).boundingBox())!;
    expect((await box(`${AGENT}/core-sw`)).y).toBeLessThan((await box(`${AGENT}/acc-a`)).y);
    expect((await box(`${AGENT}/acc-a`)).y).toBeLessThan((await box(`${AGENT}/ap-101`)).y);
    // the printer: dashed, 未登记, not clickable; the enrolled gear online as the school view knows it
    const printer = svg.locator('g.topology-node[data-node="?printer-3f"]');
    expect(await printer.getAttribute('data-unknown')).toBe('true');
    expect(await printer.locator('rect').getAttribute('stroke-dasharray')).toBeTruthy();
    expect(await printer.locator('text.sub').textContent()).toBe('未登记');
    expect(await svg.locator(`g.topology-node[data-node="${AGENT}/core-sw"]`).getAttribute('data-online')).toBe('true');
    // the whole tree fits the map's area at 1366×768
    const overlay = (await page.locator('[data-testid=topology-overlay]').boundingBox())!;
    const svgBox = (await svg.boundingBox())!;
    expect(svgBox.width).toBeLessThanOrEqual(overlay.width);

    // a click on an access switch opens its panel beside the drawing
    await svg.locator(`g.topology-node[data-node="${AGENT}/acc-a"]`).click();
    const panel = page.locator('[data-testid=device-detail][data-device="acc-a"]');
    await panel.waitFor();
    expect(page.url()).toContain('sel=acc-a');
    const shown = (await panel.boundingBox())!;
    expect(shown.y).toBeLessThan(768); // scrolled into view in the side panel
    expect(shown.y + 20).toBeGreaterThan(0);
    await svg.locator(`g.topology-node.selected[data-node="${AGENT}/acc-a"]`).waitFor();
    await page.screenshot({ path: join(OUT, 'topology.png') });
  });

  it('explains an empty topology at a school without LLDP data', async () => {
    await page.goto(`${stack.collector.url}/#/school/${SCHOOL_B}`);
    const empty = page.locator('[data-testid=topology][data-state=ok] [data-testid=topology-empty]');
    await empty.waitFor();
    expect(await empty.innerText()).toContain('LLDP');
    expect(await page.locator('[data-testid=topology-open]').count()).toBe(0);
  });
});
