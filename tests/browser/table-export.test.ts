/**
 * The console's table exports in Chromium, in Chinese: the city's county ranking and a school's key
 * areas, compliance findings and devices each download an .xlsx from the collector under a Chinese
 * file name with today's date (China time); read back with exceljs, the cells hold what the API
 * says, as numbers with their formats (shares as percentages, times in China time).
 */
import { readFile } from 'node:fs/promises';
import ExcelJS from 'exceljs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CITY, COUNTY, SCHOOL_A } from '../e2e/stack.ts';
import { startConsoleFixture, type ConsoleFixture } from './fixture.ts';
import { BROWSER_TEST_TIMEOUT_MS } from './serve-console.ts';

const today = () => new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai' }).format(new Date());

/** Clicks an export button and reads the downloaded workbook. */
async function download(page: Page, testId: string): Promise<{ name: string; ws: ExcelJS.Worksheet }> {
  const [d] = await Promise.all([page.waitForEvent('download'), page.locator(`[data-testid=${testId}]`).click()]);
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load((await readFile((await d.path())!)) as unknown as ArrayBuffer);
  expect(wb.worksheets).toHaveLength(1);
  return { name: d.suggestedFilename(), ws: wb.worksheets[0]! };
}
const headers = (ws: ExcelJS.Worksheet) => (ws.getRow(3).values as unknown[]).slice(1);
/** Data rows (below the title, filter line and header). */
const dataRows = (ws: ExcelJS.Worksheet) => Array.from({ length: ws.rowCount - 3 }, (_, i) => ws.getRow(i + 4));

describe('table exports to Excel', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  let f: ConsoleFixture;
  beforeAll(async () => {
    f = await startConsoleFixture({ pgAdminUrl: inject('postgresUrl'), influxUrl: inject('influxUrl') });
  }, 240_000);
  afterAll(async () => {
    await f?.close();
  });

  it("the city's county ranking: Chinese file and sheet names, the indicator as percentages", async () => {
    const { page, base } = f;
    await page.goto(`${base}/#/city?ind=coverage`);
    await page.locator('[data-testid=ranking] li').first().waitFor();
    const api = await f.api<{ city: { name: string }; counties: { code: string; name: string; value: number | null; schools: number }[]; ranking: { rank: number; code: string; name: string; value: number | null }[] }>(`/api/v1/map/city?city=${CITY}&indicator=coverage`);

    const { name, ws } = await download(page, 'export-ranking');
    expect(name).toBe(`${api.city.name}区县排名（重点区域覆盖率）_${today()}.xlsx`);
    expect(ws.name).toBe(`${api.city.name}区县排名（重点区域覆盖率）`);
    expect(String(ws.getCell('A1').value)).toMatch(/（导出时间：\d{4}-\d{2}-\d{2} \d{2}:\d{2}，北京时间）$/);
    expect(String(ws.getCell('A2').value)).toMatch(/^指标：重点区域覆盖率；数据时间：/);
    expect(headers(ws)).toEqual(['排名', '区县', '学校数', '重点区域覆盖率']);
    expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 3 });
    const rows = dataRows(ws);
    expect(rows.map((r) => r.getCell(2).value)).toEqual(api.ranking.map((r) => r.name));
    expect(rows.map((r) => r.getCell(1).value)).toEqual(api.ranking.map((r) => r.rank));
    const mine = rows.find((r) => r.getCell(2).value === api.counties.find((c) => c.code === COUNTY)!.name)!;
    expect(mine.getCell(3).value).toBe(api.counties.find((c) => c.code === COUNTY)!.schools);
    expect(mine.getCell(4).value).toBe(api.counties.find((c) => c.code === COUNTY)!.value);
    expect(mine.getCell(4).numFmt).toBe('0.0%');
    // a county with nothing to measure is an empty cell, not "—"
    const none = api.ranking.find((r) => r.value === null);
    if (none) expect(rows.find((r) => r.getCell(2).value === none.name)!.getCell(4).value).toBeNull();
  });

  it("a school's key areas, findings and devices: numbers with their formats, times in China time", async () => {
    const { page, base } = f;
    await page.goto(`${base}/#/school/${SCHOOL_A}`);
    await page.locator('[data-testid=compliance] tr[data-rule]').first().waitFor();
    await page.locator('[data-testid=devices] tr[data-device]').first().waitFor();
    const school = await f.api<{ name: string }>(`/api/v1/schools/${SCHOOL_A}`);

    const cov = await f.api<{ areas: { name: string; coveredShare: number; blindSpotM2: number }[] }>(`/api/v1/schools/${SCHOOL_A}/coverage`);
    const areas = await download(page, 'export-areas');
    expect(areas.name).toBe(`${school.name}重点区域覆盖_${today()}.xlsx`);
    expect(headers(areas.ws)).toEqual(['名称', '要求等级', '已覆盖', '监管死角面积（m²）']);
    expect(dataRows(areas.ws).map((r) => r.getCell(2).value)).toEqual(await page.locator('[data-testid=areas] tbody tr td:nth-child(2)').allInnerTexts());
    expect(dataRows(areas.ws).map((r) => [r.getCell(1).value, r.getCell(3).value, r.getCell(4).value])).toEqual(cov.areas.map((a) => [a.name, a.coveredShare, a.blindSpotM2]));
    expect(areas.ws.getRow(4).getCell(3).numFmt).toBe('0.0%');
    expect(areas.ws.getRow(4).getCell(4).numFmt).toBe('#,##0');

    const comp = await f.api<{ findings: { ruleId: string; kind: string; verdict: string; measured: number | null; threshold: number; unit: string }[] }>(`/api/v1/schools/${SCHOOL_A}/compliance`);
    const findings = await download(page, 'export-findings');
    expect(findings.name).toBe(`${school.name}合规检查_${today()}.xlsx`);
    expect(headers(findings.ws)).toEqual(['规则', '规则编号', '结论', '测量值', '阈值', '单位', '依据', '说明']);
    const byRule = new Map(dataRows(findings.ws).map((r) => [r.getCell(2).value, r]));
    expect([...byRule.keys()]).toEqual(comp.findings.map((x) => x.ruleId));
    // key-area coverage is a share: a percentage; the uplink is in Mbit/s: a number with its unit beside it
    const share = comp.findings.find((x) => x.kind === 'key-area-coverage')!;
    const row = byRule.get(share.ruleId)!;
    expect([row.getCell(3).value, row.getCell(4).value, row.getCell(5).value]).toEqual(['不达标', share.measured, share.threshold]);
    expect([row.getCell(4).numFmt, row.getCell(5).numFmt]).toEqual(['0.0%', '0.0%']);
    const mbps = comp.findings.find((x) => x.unit !== 'share')!;
    expect(byRule.get(mbps.ruleId)!.getCell(5).value).toBe(mbps.threshold);
    expect(byRule.get(mbps.ruleId)!.getCell(5).numFmt).toBe('#,##0.00');
    expect(byRule.get(mbps.ruleId)!.getCell(6).value).toBe(mbps.unit);

    const devices = (await f.api<{ deviceId: string; agentId: string; state: string; lastSeen: string }[]>(`/api/v1/schools/${SCHOOL_A}/devices`)).filter((d) => d.state === 'enrolled');
    const dev = await download(page, 'export-devices');
    expect(dev.name).toBe(`${school.name}设备清单_${today()}.xlsx`);
    expect(headers(dev.ws)).toEqual(['类型', '设备编号', '网关', '地址', '状态', '最近一次']);
    const devRows = new Map(dataRows(dev.ws).map((r) => [r.getCell(2).value, r]));
    expect([...devRows.keys()].sort()).toEqual(devices.map((d) => d.deviceId).sort());
    expect(devRows.has(f.corridorEast.deviceId)).toBe(false); // still in the inbox, not in the devices table
    expect(String(devRows.get(f.spec.gateCamera)!.getCell(5).value)).toMatch(/^故障/);
    const d0 = devices[0]!;
    const seen = devRows.get(d0.deviceId)!.getCell(6);
    // Excel has no zones: the cell holds the China wall-clock time
    expect((seen.value as Date).getTime()).toBe(new Date(d0.lastSeen).getTime() + 8 * 3600_000);
    expect(seen.numFmt).toBe('yyyy-mm-dd hh:mm:ss');
  });
});
