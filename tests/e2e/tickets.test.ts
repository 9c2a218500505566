/**
 * The alarm-to-ticket loop on real components: simulated ONVIF cameras found and health-checked
 * by the real edge agent over the real broker. An enrolled camera's stream goes down and stays
 * down past the grace period: a repair ticket opens (and the SSE stream says so), the school's
 * and county's open-ticket figures count it; the stream comes back: the ticket resolves itself.
 * An equipment manager works a manual ticket over HTTP; a wrong step and a missing token are refused.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../edge-agent/agent.ts';
import { parseAgentConfig } from '../../edge-agent/config.ts';
import { campusCameraSpecs, campusPlanFor, type CampusPlanSpec } from '../../simulator/campus-plans.ts';
import { startSimulatedSchool, type SimulatedSchool } from '../../simulator/school.ts';
import { seedDemoCity } from '../../simulator/demo-city.ts';
import ExcelJS from 'exceljs';
import type { Ticket } from '../../collector/tickets/store.ts';
import { REPAIR_COLUMNS, REPAIR_SHEET } from '../../collector/compliance/report.ts';
import { uniqueDbName } from '../setup/influx.ts';
import { CITY, COUNTY, SCHOOL_A, startStack, waitFor, type Stack } from './stack.ts';

const quiet = { info() {}, warn() {}, error() {} };

describe('repair tickets from device failures', () => {
  let stack: Stack;
  let agent: RunningAgent;
  let cams: SimulatedSchool;
  let spec: CampusPlanSpec;
  let dir: string;

  const call = (path: string, init: RequestInit & { token?: boolean } = {}) =>
    fetch(`${stack.collector.url}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', 'x-campus-actor': encodeURIComponent('王工'), ...(init.token === false ? {} : { authorization: `Bearer ${stack.collector.apiToken}` }) },
    });
  const api = async <T,>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await call(path, init);
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'campus-tickets-'));
    stack = await startStack({ pgAdminUrl: inject('postgresUrl'), influxUrl: inject('influxUrl'), influxDb: uniqueDbName('tickets'), ticketOpenAfterMs: 1_500, ticketSweepMs: 300 });
    const schools = await seedDemoCity(stack.inventory, CITY, 1);
    spec = campusPlanFor(schools.find((s) => s.code === SCHOOL_A)!);
    const subnet: [number, number] = [64 + Math.floor(Math.random() * 180), Math.floor(Math.random() * 63) * 4];
    cams = await startSimulatedSchool({ schoolCode: SCHOOL_A, cameras: campusCameraSpecs(spec).slice(0, 2), classrooms: 0, switches: 0, aps: 0, ups: 0, sensors: 0, subnet });
    const cred = await stack.inventory.addAgent({ schoolCode: SCHOOL_A, agentId: 'gw-1' });
    const cfg = cams.agentConfig({ agentId: 'gw-1', mqttUrl: stack.mqttUrl, password: cred.password, dataDir: join(dir, 'agent'), credentialsFile: cams.writeCredentials(join(dir, 'credentials.yaml')), pollIntervalSec: 1 });
    agent = await startAgent(parseAgentConfig(cfg), { logger: quiet });
    await waitFor('two cameras discovered', async () => ((await stack.inventory.listDevices(SCHOOL_A, { agentId: 'gw-1' })).filter((d) => d.kind === 'camera').length >= 2 ? true : undefined), 90_000);
    for (const c of spec.cameras.slice(0, 2)) await api(`/api/v1/schools/${SCHOOL_A}/devices/gw-1/${c.deviceId}/accept`, { method: 'POST', body: JSON.stringify({ placement: c.placement }) });
  }, 180_000);

  afterAll(async () => {
    await agent?.stop();
    await cams?.stop();
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('opens a ticket when an enrolled camera stays broken, and resolves it when the camera works again', async () => {
    const broken = spec.cameras[0]!;
    const sse = new AbortController();
    const events: string[] = [];
    const res = await fetch(`${stack.collector.url}/api/v1/events?school=${SCHOOL_A}`, { signal: sse.signal });
    void (async () => {
      const dec = new TextDecoder();
      try {
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) events.push(dec.decode(chunk));
      } catch {
        // aborted at the end
      }
    })();

    // healthy for a while: no tickets
    await agent.pollNow();
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await api<{ total: number }>(`/api/v1/tickets?school=${SCHOOL_A}`)).total).toBe(0);

    await cams.setCameraFault(broken.serial, 'stream-down');
    const ticket = await waitFor('a ticket for the broken camera', async () => {
      const r = await api<{ tickets: Ticket[] }>(`/api/v1/tickets?school=${SCHOOL_A}&state=active`);
      return r.tickets.find((t) => t.deviceId === broken.deviceId);
    }, 30_000);
    expect(ticket).toMatchObject({ schoolCode: SCHOOL_A, countyCode: COUNTY, agentId: 'gw-1', fault: 'no-stream', source: 'auto', state: 'open' });
    expect(ticket.title).toContain('视频流中断');
    expect((await api<{ tickets: Ticket[] }>(`/api/v1/tickets?school=${SCHOOL_A}`)).tickets.map((t) => t.deviceId)).toEqual([broken.deviceId]); // the healthy one has none
    await waitFor('the ticket on the live channel', () => (events.join('').includes('"type":"ticket"') ? true : undefined));

    // the school's and county's open tickets count it
    const schools = await api<{ schools: Array<{ code: string; openTickets?: number }> }>(`/api/v1/map/schools?zoom=14&county=${COUNTY}`);
    expect(schools.schools.find((s) => s.code === SCHOOL_A)?.openTickets).toBe(1);
    const city = await api<{ counties: Array<{ code: string; value: number | null }> }>(`/api/v1/map/city?indicator=open-tickets`);
    expect(city.counties.find((c) => c.code === COUNTY)?.value).toBe(1);

    await cams.setCameraFault(broken.serial, undefined);
    const done = await waitFor('the ticket resolved by itself', async () => {
      const t = await api<Ticket & { events: Array<{ action: string; actor: string }> }>(`/api/v1/tickets/${ticket.id}`);
      return t.state === 'resolved' ? t : undefined;
    }, 30_000);
    expect(done.events.map((e) => `${e.action}:${e.actor}`)).toEqual(['open:system', 'resolve:system']);
    expect(Date.parse(done.resolvedAt!)).toBeGreaterThan(Date.parse(done.faultSince));
    sse.abort();
  });

  it('an equipment manager opens and works a ticket by hand; wrong steps and a missing token are refused', async () => {
    const device = spec.cameras[1]!.deviceId;
    expect((await call('/api/v1/tickets', { method: 'POST', token: false, body: JSON.stringify({ schoolCode: SCHOOL_A, title: 'x' }) })).status).toBe(401);
    const bad = await call('/api/v1/tickets', { method: 'POST', body: JSON.stringify({ schoolCode: SCHOOL_A, title: '', colour: 'red' }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe('INVALID_INPUT');
    expect((await call('/api/v1/tickets', { method: 'POST', body: JSON.stringify({ schoolCode: SCHOOL_A, agentId: 'gw-1', deviceId: 'no-such-device', title: '镜头起雾' }) })).status).toBe(404);

    const t = await api<Ticket>('/api/v1/tickets', { method: 'POST', body: JSON.stringify({ schoolCode: SCHOOL_A, agentId: 'gw-1', deviceId: device, title: '镜头起雾', detail: '雨后画面模糊' }) });
    expect(t).toMatchObject({ state: 'open', source: 'manual', fault: 'manual', deviceId: device });
    const wrong = await call(`/api/v1/tickets/${t.id}/reopen`, { method: 'POST', body: '{}' });
    expect(wrong.status).toBe(409);
    expect(((await wrong.json()) as { message: string }).message).toMatch(/is open; reopen is allowed only from resolved, closed/);
    // assigned to a person who may work tickets at the school (an account)
    await api('/api/v1/users', { method: 'POST', body: JSON.stringify({ username: 'li', displayName: '李师傅', role: 'equipment', password: 'Xiaoyuan#2024' }) });
    await api(`/api/v1/tickets/${t.id}/assign`, { method: 'POST', body: JSON.stringify({ assignee: 'li' }) });
    await api(`/api/v1/tickets/${t.id}/resolve`, { method: 'POST', body: JSON.stringify({ note: '已清洁镜头罩' }) });
    const full = await api<Ticket & { events: Array<{ action: string; actor: string; note: string | null }> }>(`/api/v1/tickets/${t.id}`);
    expect(full).toMatchObject({ state: 'resolved', assignee: 'li', assigneeName: '李师傅' });
    expect(full.events.map((e) => [e.action, e.actor])).toEqual([
      ['open', 'admin-token/王工'],
      ['assign', 'admin-token/王工'],
      ['resolve', 'admin-token/王工'],
    ]);
    expect((await call(`/api/v1/tickets?state=broken`)).status).toBe(400);

    const stats = await api<{ counties: Array<{ countyCode: string; countyName: string; opened: number; resolved: number; medianRepairHours: number | null }> }>(`/api/v1/tickets/stats?city=${CITY}`);
    const mine = stats.counties.find((c) => c.countyCode === COUNTY)!;
    expect(mine).toMatchObject({ opened: 2, resolved: 2 });
    expect(mine.medianRepairHours).not.toBeNull(); // seconds here: rounds to 0 h

    // the monthly report carries the same figures on its second sheet
    const res = await call(`/api/v1/reports/compliance.xlsx?city=${CITY}`);
    expect(res.status).toBe(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(await res.arrayBuffer());
    const ws = wb.getWorksheet(REPAIR_SHEET)!;
    expect((ws.getRow(2).values as unknown[]).slice(1)).toEqual(REPAIR_COLUMNS.map((c) => c.header));
    const rowOf = (name: string) => {
      let found: unknown[] | undefined;
      ws.eachRow((r) => {
        if (r.getCell(1).value === name) found = (r.values as unknown[]).slice(1);
      });
      return found;
    };
    expect(rowOf(mine.countyName)?.slice(0, 4)).toEqual([mine.countyName, 2, 2, 0]);
    expect(rowOf('合计')?.slice(0, 4)).toEqual(['合计', 2, 2, 0]);
  });
});
