/**
 * The monthly report is that month's report. A past month's history is written into InfluxDB as
 * the collector writes it (its own line encoder; `coverage` as the compliance service records it,
 * `interface` and `camera_health` as ingest stores the agent's readings), and the present differs
 * (no campus plans, no cameras, a quiet 10 Gbit/s uplink). The month's JSON roll-up and Excel
 * report show the month's figures, computed here by hand; the current month shows the present; a
 * malformed or future month is refused with its own error code.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { startAgent, type RunningAgent } from '../../edge-agent/agent.ts';
import { parseAgentConfig } from '../../edge-agent/config.ts';
import { startSimulatedSwitch, type SimulatedSwitch } from '../../simulator/snmp/simulated-switch.ts';
import type { SchoolCompliance } from '../../collector/compliance/service.ts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pointToLine, type Point } from '../../collector/telemetry/line-protocol.ts';
import { currentMonth, monthPeriod } from '../../collector/compliance/history.ts';
import type { CityRollup, CountyRollup } from '../../collector/compliance/rollup.ts';
import { REPORT_COLUMNS, REPORT_SHEET } from '../../collector/compliance/report.ts';
import { uniqueDbName } from '../setup/influx.ts';
import { COUNTY, rows as rowsOf, SCHOOL_A, SCHOOL_B, startStack, waitFor, type Stack } from './stack.ts';

const DAY = 86_400_000;
const MIN = 60_000;

/** YYYY-MM `n` months before the current (China) month. */
function monthsAgo(n: number): string {
  const [y, m] = currentMonth().split('-').map(Number) as [number, number];
  const d = new Date(Date.UTC(y, m - 1 - n, 1));
  return d.toISOString().slice(0, 7);
}

describe('the monthly compliance report of a past month, from history', () => {
  let stack: Stack;
  const influxUrl = inject('influxUrl');
  const influxDb = uniqueDbName('compliance_history');
  const month = monthsAgo(2);
  const period = monthPeriod(month);
  const start = period.from.getTime();
  const D = (period.to.getTime() - start) / DAY; // days in the month
  const at = (day: number, hour = 0) => start + (day - 1) * DAY + hour * 3600_000; // China calendar day of the month

  const write = async (points: Point[]) => {
    const res = await fetch(`${influxUrl}/write?db=${encodeURIComponent(influxDb)}&precision=ms`, { method: 'POST', body: points.map(pointToLine).join('\n') });
    expect(res.status, await res.text()).toBe(204);
  };
  const get = (path: string) => fetch(`${stack.collector.url}${path}`);
  const json = async <T,>(path: string): Promise<T> => {
    const res = await get(path);
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  };
  const sheet = async (path: string) => {
    const res = await get(path);
    expect(res.status).toBe(200);
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(Buffer.from(await res.arrayBuffer()) as unknown as ArrayBuffer);
    const ws = wb.getWorksheet(REPORT_SHEET)!;
    const rows: unknown[][] = [];
    for (let r = 1; r <= ws.rowCount; r++) rows.push((ws.getRow(r).values as unknown[]).slice(1));
    return rows;
  };

  beforeAll(async () => {
    stack = await startStack({ pgAdminUrl: inject('postgresUrl'), influxUrl, influxDb });
    const school = (code: string) => ({ school: code, county: COUNTY });
    const cov = (code: string, t: number, f: number, w: number, k: number): Point => ({
      measurement: 'coverage',
      tags: { scope: 'school', ...school(code), policy: 'liaocheng-2023' },
      fields: { fullyCoveredShare: f, weightedCoverage: w, weightedAnyCoverage: w, weightedIfAllHealthy: 1, keyAreas: k },
      timestampMs: t,
    });
    // ---- coverage history (recorded on change: each value holds until the next)
    await write([
      cov(SCHOOL_A, start - 10 * DAY, 1, 1, 4), // in force when the month begins
      cov(SCHOOL_A, at(10), 0.75, 0.9, 4), // day 10: one of four key areas loses its camera …
      cov(SCHOOL_A, at(15), 1, 1, 4), // … day 15: repaired
      cov(SCHOOL_A, period.to.getTime() + DAY, 0, 0, 4), // next month: not this month's
      cov(SCHOOL_B, start - 40 * DAY, 1, 1, 2), // school B fully covered throughout
    ]);
    // ---- the uplink of school A over SNMP in that month: 1 Gbit/s, one busy burst (minute rates 100, 200, 300, 960 Mbit/s in, 10 out)
    const ifTags = { ...school(SCHOOL_A), agent: 'gw-1', kind: 'switch', device: 'sw-1', ifIndex: '24', ifName: 'uplink24' };
    const counters = (t0: number, speedMbps: number, inMbps: number[], outMbps: number): Point[] => {
      let inO = 5e9, outO = 7e9;
      const pts: Point[] = [{ measurement: 'interface', tags: ifTags, fields: { speedMbps, inOctets: inO, outOctets: outO, operStatus: 1 }, timestampMs: t0 }];
      inMbps.forEach((r, i) => {
        inO += (r * 1e6 * 60) / 8;
        outO += (outMbps * 1e6 * 60) / 8;
        pts.push({ measurement: 'interface', tags: ifTags, fields: { speedMbps, inOctets: inO, outOctets: outO, operStatus: 1 }, timestampMs: t0 + (i + 1) * MIN });
      });
      return pts;
    };
    await write(counters(at(5, 12), 1000, [100, 200, 300, 960], 10));
    // … and now: a quiet 10 Gbit/s uplink (10, 20, 30, 40 Mbit/s)
    await write(counters(Date.now() - 30 * MIN, 10_000, [10, 20, 30, 40], 5));
    // ---- camera health that month: cam-1 healthy on every poll; cam-2 steps 4, 2, 2, 3 (stream up on two of four)
    const health = (device: string, steps: number[]): Point[] =>
      steps.map((step, i) => ({ measurement: 'camera_health', tags: { ...school(SCHOOL_A), agent: 'gw-1', kind: 'camera', device }, fields: { step, resolutionWidth: 2560 }, timestampMs: at(3 + i) }));
    await write([...health('cam-1', [4, 4, 4, 4]), ...health('cam-2', [4, 2, 2, 3])]);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("gives that month's figures, not the current ones, in JSON and in the Excel report", async () => {
    // hand-computed: school A fully covered days 1–9 and 15–end, 3 of 4 areas days 10–14
    const meanFullA = (9 * 1 + 5 * 0.75 + (D - 14) * 1) / D;
    const meanWeightedA = (9 * 1 + 5 * 0.9 + (D - 14) * 1) / D;
    const r4 = (x: number) => Math.round(x * 1e4) / 1e4;

    const a = (await stack.collector.compliance.compliance(SCHOOL_A, period))!;
    expect(a.period).toMatchObject({ month, coverage: { keyAreas: 4, hoursWithData: D * 24, meanFullyCoveredShare: r4(meanFullA), meanWeightedCoverage: r4(meanWeightedA), fullyCoveredTimeShare: r4((D - 5) / D) }, cameras: { total: 2, meanOnline: 1.5, meanHealthy: 1.25 } });
    expect(a.facts.uplink).toMatchObject({ device: 'sw-1', ifName: 'uplink24', capacityMbps: 1000, p95Mbps: 960, peakMbps: 960, saturationMinutes: 1, samples: 4 });
    expect(a.facts.keyAreas).toEqual({ total: 4, fullyCovered: r4(r4(meanFullA) * 4), weightedCoverage: r4(meanWeightedA), weightedIfAllHealthy: 1 });
    expect(a.facts.cameras).toEqual({ total: 2, online: 1.5, healthy: 1.25 });
    const verdict = (kind: string) => a.findings.find((f) => f.kind === kind)!;
    expect(verdict('key-area-coverage')).toMatchObject({ verdict: 'fail', measured: r4(meanFullA), threshold: 1 });
    expect(verdict('uplink-utilisation')).toMatchObject({ verdict: 'fail', measured: 0.96, threshold: 0.8 });
    expect(verdict('uplink-bandwidth')).toMatchObject({ verdict: 'pass', measured: 1000 });

    const now = (await stack.collector.compliance.compliance(SCHOOL_A))!;
    expect(now.period).toBeUndefined();
    expect(now.facts.uplink).toMatchObject({ capacityMbps: 10_000, p95Mbps: 40, peakMbps: 40 });
    expect(now.facts.keyAreas.total).toBe(0);
    expect(now.findings.find((f) => f.kind === 'uplink-utilisation')!.verdict).toBe('pass');

    // ---- the county roll-up of the month vs now
    const past = await json<CountyRollup & { period?: { month: string } }>(`/api/v1/counties/${COUNTY}/compliance?month=${month}`);
    const current = await json<CountyRollup & { period?: unknown }>(`/api/v1/counties/${COUNTY}/compliance`);
    expect(past.period).toMatchObject({ month });
    expect(current.period).toBeUndefined();
    const fullyCovered = r4(r4(r4(meanFullA) * 4) + 2);
    expect(past.keyAreas).toEqual({ schoolsPassing: 1, total: 6, fullyCovered, share: r4(fullyCovered / 6), weightedCoverage: r4((r4(meanWeightedA) + 1) / 2), weightedIfAllHealthy: 1 });
    expect(current.keyAreas).toMatchObject({ schoolsPassing: 0, total: 0, fullyCovered: 0, share: null });
    expect(past.cameras).toEqual({ total: 2, online: 1.5, healthy: 1.25 });
    expect(current.cameras).toEqual({ total: 0, online: 0, healthy: 0 });
    expect(past.rules.find((r) => r.kind === 'key-area-coverage')).toMatchObject({ pass: 1, fail: 1, unknown: 0 });
    expect(past.rules.find((r) => r.kind === 'uplink-utilisation')).toMatchObject({ pass: 0, fail: 1, unknown: 1 });
    expect(past.openIssues).toBe(2);
    expect(current.openIssues).toBe(0);
    expect((await json<CityRollup>(`/api/v1/city/compliance?month=${month}`)).keyAreas).toEqual(past.keyAreas);

    // ---- the Excel report: same layout (title, header, one row per county, 合计), the month's figures, then the note rows
    const rows = await sheet(`/api/v1/reports/compliance.xlsx?month=${month}`);
    const [y, m] = month.split('-');
    expect(String(rows[0]![0])).toMatch(new RegExp(`${y}年${Number(m)}月`));
    expect(rows[1]).toEqual(REPORT_COLUMNS.map((c) => c.header));
    const col = (header: string) => REPORT_COLUMNS.findIndex((c) => c.header === header);
    const county = rows[2]!;
    expect(county[0]).toBe('东昌府区');
    expect(county[col('学校数')]).toBe(2);
    expect(county[col('关键区域全覆盖学校数')]).toBe(1);
    expect(county[col('关键区域数')]).toBe(6);
    expect(county[col('全覆盖关键区域数')]).toBe(fullyCovered);
    expect(county[col('关键区域覆盖率(%)')]).toBe(Math.round(r4(fullyCovered / 6) * 1000) / 10);
    expect(county[col('摄像机在线数')]).toBe(1.5);
    expect(county[col('摄像机总数')]).toBe(2);
    expect(county[col('出口带宽达标学校数')]).toBe(2); // A measured 1000 Mbit/s that month, B by contract
    expect(county[col('未整改问题数')]).toBe(2);
    expect(rows[3]![0]).toBe('合计');
    expect(rows[3]!.slice(1)).toEqual(county.slice(1));
    const notes = rows.slice(4).map((r) => String(r[0]));
    expect(notes).toHaveLength(2);
    expect(notes[0]).toMatch(/历史记录/);
    expect(notes[1]).toMatch(/导出时.*状态/);

    // the current month: the state now, no note rows
    const nowRows = await sheet(`/api/v1/reports/compliance.xlsx?month=${currentMonth()}`);
    expect(nowRows).toHaveLength(4);
    expect(nowRows[2]![col('关键区域数')]).toBe(0);
    expect(nowRows[2]![col('摄像机在线数')]).toBe(0);
    expect(nowRows[2]![col('未整改问题数')]).toBe(0);
    expect(nowRows[3]![0]).toBe('合计');
    expect((await sheet('/api/v1/reports/compliance.xlsx')).slice(1)).toEqual(nowRows.slice(1));
  });

  it('refuses a malformed month or one that has not begun', async () => {
    for (const bad of ['2025-13', '2025-1', 'last-month', '1999-12']) {
      for (const path of [`/api/v1/reports/compliance.xlsx?month=${bad}`, `/api/v1/city/compliance?month=${bad}`, `/api/v1/counties/${COUNTY}/compliance?month=${bad}`]) {
        const res = await get(path);
        expect(res.status, path).toBe(400);
        expect(await res.json()).toMatchObject({ code: 'INVALID_MONTH', message: expect.stringMatching(/YYYY-MM/) });
      }
    }
    const next = monthsAgo(-1);
    const res = await get(`/api/v1/reports/compliance.xlsx?month=${next}`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ code: 'MONTH_IN_FUTURE', message: `month ${next} has not begun yet` });
    expect((await get(`/api/v1/city/compliance?month=${next}`)).status).toBe(400);
  });
});

describe('IPv6 on the school uplink, from what the agent read over SNMP', () => {
  let stack: Stack;
  let dir: string;
  const switches: SimulatedSwitch[] = [];
  const agents: RunningAgent[] = [];
  const quiet = { info() {}, warn() {}, error() {} };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'campus-uplink-v6-'));
    stack = await startStack({ pgAdminUrl: inject('postgresUrl'), influxUrl: inject('influxUrl'), influxDb: uniqueDbName('uplink_v6') });
    // school A's core switch has a global IPv6 on its uplink; school B's uplink only IPv4 (and a global IPv6 on an access port)
    const gear = [
      { school: SCHOOL_A, sw: { uplinkIpv6: '2001:db8:3715:1::2', ipAddresses: [{ ifIndex: 8, address: '10.15.1.2' }] } },
      { school: SCHOOL_B, sw: { ipAddresses: [{ ifIndex: 8, address: '10.15.2.2' }, { ifIndex: 1, address: '2001:db8:3715:2::1' }] } },
    ];
    for (const [i, g] of gear.entries()) {
      const sw = await startSimulatedSwitch({ sysName: `core-sw-${i + 1}`, sysObjectID: '1.3.6.1.4.1.2011.2.23.402', interfaces: 8, uplinkMbps: 1000, ...g.sw });
      switches.push(sw);
      const cred = await stack.inventory.addAgent({ schoolCode: g.school, agentId: 'gw-1' });
      const raw = {
        schoolCode: g.school,
        agentId: 'gw-1',
        mqtt: { url: stack.mqttUrl, password: cred.password },
        dataDir: join(dir, `agent-${i}`),
        pollIntervalSec: 3600,
        devices: [{ id: 'sw-1', kind: 'switch', protocol: 'snmp', address: `127.0.0.1:${sw.port}`, snmp: { version: '2c', community: 'public', timeoutMs: 2000, retries: 1 } }],
      };
      agents.push(await startAgent(parseAgentConfig(raw), { logger: quiet }));
      // the Songjiang pack (IPv6 for all terminals) carries the uplink-ipv6 rule
      const res = await fetch(`${stack.collector.url}/api/v1/schools/${g.school}/settings`, { method: 'PUT', headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.collector.apiToken}` }, body: JSON.stringify({ policyPack: 'songjiang-2018' }) });
      expect(res.status).toBe(200);
    }
  });
  afterAll(async () => {
    for (const a of agents) await a.stop();
    for (const s of switches) await s.stop();
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('passes the school whose uplink has a global IPv6 address and fails the one whose uplink has none', async () => {
    for (const [i, school] of [SCHOOL_A, SCHOOL_B].entries()) {
      await waitFor(`${school}: interfaces and addresses in InfluxDB`, async () => {
        await agents[i]!.pollNow();
        const a = rowsOf(await stack.query(`SELECT count("ifIndex") AS n FROM "ipAddress" WHERE "school" = '${school}'`));
        const f = rowsOf(await stack.query(`SELECT count("speedMbps") AS n FROM "interface" WHERE "school" = '${school}' AND "ifName" = 'uplink8'`));
        return (a[0]?.n as number) > 0 && (f[0]?.n as number) > 0 ? true : undefined;
      });
    }
    const api = async (code: string) => (await (await fetch(`${stack.collector.url}/api/v1/schools/${code}/compliance`)).json()) as SchoolCompliance;
    const a = await api(SCHOOL_A);
    const b = await api(SCHOOL_B);
    expect(a.policy.id).toBe('songjiang-2018');
    expect(a.facts.uplinkIpv6).toEqual({ device: 'sw-1', ifName: 'uplink8', ifIndex: 8, globalAddresses: ['2001:db8:3715:1::2'] });
    expect(a.findings.find((f) => f.kind === 'uplink-ipv6')).toMatchObject({ verdict: 'pass', measured: 1, citation: expect.stringMatching(/松江区.*四\(一\)3/) });
    expect(b.facts.uplinkIpv6).toEqual({ device: 'sw-1', ifName: 'uplink8', ifIndex: 8, globalAddresses: [] });
    expect(b.findings.find((f) => f.kind === 'uplink-ipv6')).toMatchObject({ verdict: 'fail', measured: 0, detail: expect.stringMatching(/no global IPv6/) });
    // the switches' own addresses reach the inventory too (discovery attributes): B's access-port IPv6 counts for the device share, not the uplink
    const swB = (await stack.inventory.listDevices(SCHOOL_B)).find((d) => d.deviceId === 'sw-1')!;
    expect(String(swB.attributes.ipv6)).toMatch(/2001:db8:3715:2::1/);
  });
});
