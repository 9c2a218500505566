/**
 * A lighter console fixture for browser tests that need a school with a campus plan and cameras
 * but not the ONVIF discovery itself (console.test.ts covers that with a real agent and simulated
 * cameras). A real collector, broker, PostgreSQL and InfluxDB; the school's gateway is played by an
 * MQTT client that speaks the agent protocol with the agent's own credentials: it announces itself,
 * reports the plan's cameras as discovered and their health (the gate camera's stream down). All
 * cameras but the corridor's east one are then enrolled with their placements, so the corridor
 * camera waits in the inbox. Debian's Chromium is launched headless at the given viewport.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { agentClientId, agentTopic, type DiscoveredDevice, type DiscoveryMessage, type StatusMessage, type TelemetryMessage } from '../../protocol/index.ts';
import { campusPlanFor, type CampusPlanSpec } from '../../simulator/campus-plans.ts';
import { seedDemoCity } from '../../simulator/demo-city.ts';
import { uniqueDbName } from '../setup/influx.ts';
import { BROWSER_WAIT_TIMEOUT_MS, CHROMIUM_ARGS } from './serve-console.ts';
import type { MapTiles } from '../../collector/api/map-tiles.ts';
import { CITY, SCHOOL_A, startStack, waitFor, type Stack } from '../e2e/stack.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const DIST = join(ROOT, 'console', 'dist');
export const OUT = join(ROOT, 'tests', 'browser', 'output');
const AGENT = { schoolCode: SCHOOL_A, agentId: 'gw-1' };

export interface ConsoleFixture {
  stack: Stack;
  /** where the console is served (the collector itself) */
  base: string;
  ctx: BrowserContext;
  page: Page;
  spec: CampusPlanSpec;
  /** the camera left in the inbox */
  corridorEast: CampusPlanSpec['cameras'][number];
  /** the collector's API with the admin token */
  api<T>(path: string, init?: RequestInit): Promise<T>;
  /** a screenshot under tests/browser/output/ */
  shot(name: string): Promise<void>;
  /** sets the admin token (and a name for the history) in the console's settings box */
  signIn(): Promise<void>;
  /** adds a person's account through the users API (with the admin token) */
  addUser(u: NewUserInput): Promise<void>;
  /** signs in with a user name and password in the console's sign-in form (opening it unless open), and waits until the header names the user */
  signInAs(username: string, password: string): Promise<void>;
  /** signs out with the header's 退出登录, and waits for the 登录 button */
  signOut(): Promise<void>;
  /** the gateway reports a newly found device, a camera unless said (an incremental discovery) */
  announce(deviceId: string, kind?: 'camera' | 'ups' | 'switch' | 'class-board'): Promise<void>;
  /** the page position of a WGS84 point on the console's map */
  pointOf(lat: number, lon: number): Promise<{ x: number; y: number }>;
  close(): Promise<void>;
}

/** `POST /api/v1/users`: a school-admin needs `schoolCode`; the others a school, a county or neither (the city). */
export interface NewUserInput { username: string; displayName: string; role: 'admin' | 'school-admin' | 'security' | 'equipment'; schoolCode?: string; countyCode?: string; password: string }

export async function startConsoleFixture(opts: { pgAdminUrl: string; influxUrl: string; viewport?: { width: number; height: number }; locale?: string; ticketOpenAfterMs?: number; mapTiles?: MapTiles }): Promise<ConsoleFixture> {
  mkdirSync(OUT, { recursive: true });
  if (!existsSync(join(DIST, 'index.html'))) execFileSync('npx', ['vite', 'build', 'console', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
  const dir = await mkdtemp(join(tmpdir(), 'campus-browser-'));
  const stack = await startStack({ pgAdminUrl: opts.pgAdminUrl, influxUrl: opts.influxUrl, influxDb: uniqueDbName('console'), ticketOpenAfterMs: opts.ticketOpenAfterMs, ticketSweepMs: opts.ticketOpenAfterMs ? 300 : undefined, mapTiles: opts.mapTiles });
  const schools = await seedDemoCity(stack.inventory, CITY, 1);
  const spec = campusPlanFor(schools.find((s) => s.code === SCHOOL_A)!);
  const corridorEast = spec.cameras.find((c) => c.key === 'cam-corr-e')!;

  const api = async <T,>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${stack.collector.url}${path}`, { ...init, headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.collector.apiToken}` } });
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };

  // the gateway, over MQTT with its own credentials
  const cred = await stack.inventory.addAgent(AGENT);
  const gw = await mqtt.connectAsync(stack.mqttUrl, { username: cred.username, password: cred.password, clientId: agentClientId(AGENT), clean: false, reconnectPeriod: 0 });
  let seq = 0;
  const send = (channel: 'status' | 'discovery' | 'telemetry', body: Omit<StatusMessage, 'v' | 'seq' | 'ts'> | Omit<DiscoveryMessage, 'v' | 'seq' | 'ts'> | Omit<TelemetryMessage, 'v' | 'seq' | 'ts'>) =>
    gw.publishAsync(agentTopic(AGENT, channel), JSON.stringify({ v: 1, seq: ++seq, ts: Date.now(), ...body }), { qos: 1, retain: channel === 'status' });
  const startedAt = Date.now();
  await send('status', { state: 'online', agentVersion: '0.1.0', startedAt, queued: 0, dropped: 0 });
  await send('discovery', {
    full: true,
    devices: spec.cameras.map((c) => ({ device: c.deviceId, kind: 'camera' as const, protocol: 'onvif' as const, address: `127.0.0.1:${8000 + seq}`, attributes: { manufacturer: 'HIKVISION', model: 'DS-2CD3T47G2-LIU', resolution: '1920x1080' } })),
  });
  const health = () =>
    send('telemetry', {
      readings: spec.cameras.map((c) => {
        const metrics: Record<string, number | boolean> = c.deviceId === spec.gateCamera ? { step: 2, reachable: true, encoderOk: false } : { step: 4, reachable: true, encoderOk: true, resolutionWidth: 1920, resolutionHeight: 1080 };
        return { device: c.deviceId, ts: Date.now(), measurement: 'camera_health', metrics };
      }),
    });
  await health();
  await waitFor('the plan cameras discovered', async () => {
    const ids = new Set((await stack.inventory.listDevices(SCHOOL_A, { agentId: AGENT.agentId })).map((d) => d.deviceId));
    return spec.cameras.every((c) => ids.has(c.deviceId)) ? true : undefined;
  });
  for (const c of spec.cameras) if (c !== corridorEast) await api(`/api/v1/schools/${SCHOOL_A}/devices/gw-1/${c.deviceId}/accept`, { method: 'POST', body: JSON.stringify({ placement: c.placement }) });
  await api(`/api/v1/schools/${SCHOOL_A}/campus`, { method: 'PUT', body: JSON.stringify(spec.campus) });
  await api(`/api/v1/schools/${SCHOOL_A}/settings`, { method: 'PUT', body: JSON.stringify({ classrooms: spec.classrooms }) });
  // health again, now that the cameras are enrolled, so that the coverage sees them healthy
  await health();
  await waitFor('the enrolled cameras healthy in the coverage', async () => {
    const cov = await api<{ cameras: Array<{ healthy: boolean }> }>(`/api/v1/schools/${SCHOOL_A}/coverage`);
    return cov.cameras.filter((c) => c.healthy).length === spec.cameras.length - 2 ? true : undefined;
  });

  const ctx = await chromium.launchPersistentContext(join(dir, 'chromium'), {
    executablePath: '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
    viewport: opts.viewport ?? { width: 1366, height: 768 },
    locale: opts.locale ?? 'zh-CN',
    acceptDownloads: true,
  });
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  page.setDefaultTimeout(BROWSER_WAIT_TIMEOUT_MS);
  const base = stack.collector.url;

  return {
    stack,
    base,
    ctx,
    page,
    spec,
    corridorEast,
    api,
    shot: async (name) => void (await page.screenshot({ path: join(OUT, name) })),
    async signIn() {
      await page.locator('[data-testid=settings]').click();
      await page.locator('[data-testid=token]').fill(stack.collector.apiToken);
      await page.locator('[data-testid=actor]').fill('测试管理员');
      await page.locator('[data-testid=save-settings]').click();
    },
    async addUser(u) {
      await api('/api/v1/users', { method: 'POST', body: JSON.stringify(u) });
    },
    async signInAs(username, password) {
      // the form may be open already (a write found the session expired)
      if (!(await page.locator('[data-testid=sign-in-form]').isVisible())) await page.locator('[data-testid=settings]').click();
      await page.locator('[data-testid=username]').fill(username);
      await page.locator('[data-testid=password]').fill(password);
      await page.locator('[data-testid=sign-in-submit]').click();
      await page.locator(`[data-testid=user][data-username="${username}"]`).waitFor();
    },
    async signOut() {
      await page.locator('[data-testid=sign-out]').click();
      await page.locator('[data-testid=settings]').waitFor();
    },
    async announce(deviceId, kind = 'camera') {
      const device: DiscoveredDevice =
        kind === 'camera'
          ? { device: deviceId, kind, protocol: 'onvif' as const, address: '127.0.0.1:8099', attributes: { manufacturer: 'Dahua', model: 'IPC-HFW2441S', resolution: '2688x1520' } }
          : { device: deviceId, kind, protocol: kind === 'ups' ? ('modbus' as const) : kind === 'switch' ? ('snmp' as const) : ('http' as const), address: '127.0.0.1:8098', attributes: {} };
      await send('discovery', { full: false, devices: [device] });
    },
    pointOf: async (lat, lon) => {
      // not while the map is still zooming or panning (a refit after data reloads animates): the point would move
      await page.waitForFunction(() => {
        const m = (window as unknown as { __campusMap?: { _animatingZoom?: boolean; _panAnim?: { _inProgress?: boolean } } }).__campusMap;
        return m !== undefined && !m._animatingZoom && !m._panAnim?._inProgress;
      });
      return page.evaluate(([la, lo]) => {
        const m = (window as unknown as { __campusMap: { latLngToContainerPoint(ll: [number, number]): { x: number; y: number }; getContainer(): HTMLElement } }).__campusMap;
        const p = m.latLngToContainerPoint([la, lo]);
        const r = m.getContainer().getBoundingClientRect();
        return { x: r.left + p.x, y: r.top + p.y };
      }, [lat, lon] as const);
    },
    async close() {
      await ctx.close().catch(() => {});
      await gw.endAsync().catch(() => {});
      await stack.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
