/**
 * The monthly compliance report as an Excel workbook, laid out like Liaocheng's county monthly
 * report (seed 002, 附件3): a title row, one header row in Chinese, one row per county of the city
 * in the seed's order (then any other county by code), and 合计 (totals) at the bottom. Built
 * from the same roll-up the JSON API returns, so both always agree. See docs/decisions/0007-xlsx.md.
 */
import ExcelJS from 'exceljs';
import type { CityRollup, UnitSummary } from './rollup.ts';
import type { RepairStats } from '../tickets/store.ts';

/** Row order of seed 002 附件3 (the three zones last). */
export const SEED_COUNTY_ORDER = ['东昌府区', '临清市', '冠县', '莘县', '阳谷县', '东阿县', '茌平区', '高唐县', '开发区', '高新区', '度假区'];

export const REPORT_SHEET = '月度通报明细表';
/** The second sheet: repair tickets per county for the month (equipment managers' figures). */
export const REPAIR_SHEET = '报修工单统计';
export const REPAIR_COLUMNS: { header: string; width: number; value: (r: RepairStats) => string | number | null }[] = [
  { header: '区县', width: 14, value: (r) => r.countyName },
  { header: '当月新增工单数', width: 12, value: (r) => r.opened },
  { header: '当月已解决数', width: 11, value: (r) => r.resolved },
  { header: '未结工单数（导出时）', width: 14, value: (r) => r.openNow },
  { header: '修复时长中位数（小时）', width: 14, value: (r) => r.medianRepairHours },
  { header: '平均修复时长（小时）', width: 14, value: (r) => r.meanRepairHours },
];

/** Columns: header text and the value of a county (or the totals) row. Percentages are 0–100. */
export const REPORT_COLUMNS: { header: string; width: number; value: (u: UnitSummary) => string | number | null }[] = [
  { header: '区县', width: 14, value: (u) => u.name },
  { header: '学校数', width: 9, value: (u) => u.schools },
  { header: '关键区域全覆盖学校数', width: 13, value: (u) => u.keyAreas.schoolsPassing },
  { header: '关键区域数', width: 10, value: (u) => u.keyAreas.total },
  { header: '全覆盖关键区域数', width: 12, value: (u) => u.keyAreas.fullyCovered },
  { header: '关键区域覆盖率(%)', width: 12, value: (u) => (u.keyAreas.share === null ? null : pct(u.keyAreas.share)) },
  { header: '摄像机在线数', width: 11, value: (u) => u.cameras.online },
  { header: '摄像机总数', width: 10, value: (u) => u.cameras.total },
  { header: '出口带宽达标学校数', width: 13, value: (u) => u.uplink.schoolsPassing },
  { header: 'IPv6地址终端占比(%)', width: 13, value: (u) => (u.ipv6.share === null ? null : pct(u.ipv6.share)) },
  { header: '每班大屏达标学校数', width: 13, value: (u) => u.display.schoolsPassing },
  { header: '未整改问题数', width: 11, value: (u) => u.openIssues },
];

const pct = (x: number) => Math.round(x * 1000) / 10;

/** Styling shared with the table export (collector/api/table-workbook.ts), so the collector's workbooks look alike. */
export const THIN_BORDER: Partial<ExcelJS.Borders> = { top: { style: 'thin' }, left: { style: 'thin' }, bottom: { style: 'thin' }, right: { style: 'thin' } };
/** A title row: bold 14 pt, centred (the caller merges it across the table). */
export function styleTitleRow(row: ExcelJS.Row): void {
  row.font = { bold: true, size: 14 };
  row.alignment = { horizontal: 'center' };
}
/** A header row: bold, centred, wrapped (long Chinese headings take two lines rather than a wide column). */
export function styleHeaderRow(row: ExcelJS.Row): void {
  row.font = { bold: true };
  row.alignment = { horizontal: 'center', vertical: 'middle', wrapText: true };
}

export function orderCounties<T extends { name: string; code: string }>(units: T[]): T[] {
  const idx = (n: string) => {
    const i = SEED_COUNTY_ORDER.indexOf(n);
    return i < 0 ? SEED_COUNTY_ORDER.length : i;
  };
  return [...units].sort((a, b) => idx(a.name) - idx(b.name) || a.code.localeCompare(b.code));
}

/**
 * The explanatory rows a past month's report carries below 合计: which figures are that month's
 * (from history) and which are the state at export (no history kept).
 */
export function historyNotes(month: string, exportedAt: Date): string[] {
  const [y, m] = month.split('-');
  const at = new Date(exportedAt.getTime() + 8 * 3600_000).toISOString().slice(0, 16).replace('T', ' ');
  return [
    `注1：${y}年${Number(m)}月数据取自当月历史记录：关键区域覆盖按时间加权（全覆盖关键区域数为月均值，关键区域全覆盖学校数为当月始终全覆盖的学校数），出口带宽利用率为当月95百分位，摄像机在线数为当月平均在线数。`,
    `注2：学校数、IPv6地址终端占比、每班大屏达标学校数，以及未整改问题数中无历史记录的规则（设备在线、IPv6、大屏等），无历史记录，为导出时（${at}，北京时间）的状态；出口带宽达标按当月最后一次接口速率读数。`,
  ];
}

/** Totals of the repair sheet: counts summed, hours over every resolved ticket (a weighted mean; the median needs the tickets, so none). */
function repairTotals(rows: RepairStats[]): RepairStats {
  const resolved = rows.reduce((s, r) => s + r.resolved, 0);
  const hours = rows.reduce((s, r) => s + (r.meanRepairHours ?? 0) * r.resolved, 0);
  return { countyCode: '', countyName: '合计', opened: rows.reduce((s, r) => s + r.opened, 0), resolved, openNow: rows.reduce((s, r) => s + r.openNow, 0), medianRepairHours: null, meanRepairHours: resolved ? Math.round((hours / resolved) * 100) / 100 : null };
}

function addRepairSheet(wb: ExcelJS.Workbook, title: string, rows: RepairStats[]): void {
  const ws = wb.addWorksheet(REPAIR_SHEET, { views: [{ state: 'frozen', ySplit: 2 }] });
  ws.columns = REPAIR_COLUMNS.map((c) => ({ width: c.width }));
  styleTitleRow(ws.addRow([title]));
  ws.mergeCells(1, 1, 1, REPAIR_COLUMNS.length);
  styleHeaderRow(ws.addRow(REPAIR_COLUMNS.map((c) => c.header)));
  const ordered = orderCounties(rows.map((r) => ({ ...r, name: r.countyName, code: r.countyCode })));
  for (const r of ordered) ws.addRow(REPAIR_COLUMNS.map((c) => c.value(r)));
  if (ordered.length > 1) ws.addRow(REPAIR_COLUMNS.map((c) => c.value(repairTotals(ordered)))).font = { bold: true };
  ws.eachRow((row, n) => {
    if (n < 2) return;
    row.eachCell({ includeEmpty: true }, (cell) => {
      cell.border = THIN_BORDER;
    });
  });
}

export async function complianceWorkbook(city: CityRollup, opts: { month: string; countyCode?: string; notes?: string[]; repairs?: RepairStats[] }): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  wb.creator = 'campus';
  wb.created = new Date();
  const ws = wb.addWorksheet(REPORT_SHEET, { views: [{ state: 'frozen', ySplit: 2 }] });
  ws.columns = REPORT_COLUMNS.map((c) => ({ width: c.width }));
  const [y, m] = opts.month.split('-');
  const title = ws.addRow([`${city.name}校园安防与网络达标月度通报明细表（${y}年${Number(m)}月）`]);
  ws.mergeCells(1, 1, 1, REPORT_COLUMNS.length);
  styleTitleRow(title);
  styleHeaderRow(ws.addRow(REPORT_COLUMNS.map((c) => c.header)));
  const counties = orderCounties(opts.countyCode ? city.counties.filter((c) => c.code === opts.countyCode) : city.counties);
  for (const c of counties) ws.addRow(REPORT_COLUMNS.map((col) => col.value(c)));
  const totals = opts.countyCode ? counties[0] : city;
  if (totals) {
    const row = ws.addRow(REPORT_COLUMNS.map((col, i) => (i === 0 ? '合计' : col.value(totals))));
    row.font = { bold: true };
  }
  const lastTableRow = ws.rowCount;
  for (const note of opts.notes ?? []) {
    const row = ws.addRow([note]);
    ws.mergeCells(row.number, 1, row.number, REPORT_COLUMNS.length);
    row.alignment = { wrapText: true, vertical: 'top' };
    row.height = 30;
  }
  ws.eachRow((row, n) => {
    if (n < 2 || n > lastTableRow) return;
    row.eachCell({ includeEmpty: true }, (cell) => {
      cell.border = THIN_BORDER;
    });
  });
  if (opts.repairs) {
    const repairs = opts.countyCode ? opts.repairs.filter((r) => r.countyCode === opts.countyCode) : opts.repairs;
    addRepairSheet(wb, `${city.name}报修工单统计（${y}年${Number(m)}月，按故障开始时间）`, repairs);
  }
  return Buffer.from(await wb.xlsx.writeBuffer());
}
