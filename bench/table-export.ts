/**
 * A 20,000-row table export (recorded in bench/RESULTS.md, ## Table export; asserted nowhere): the
 * old way — exceljs' in-memory `Workbook` + `writeBuffer`, built here as the peer — against the
 * streaming writer the route now uses (`writeTableWorkbook`, shared strings on and off). Both lay
 * out the same sheet (`layoutTable`: same styles, widths, merges, formats).
 *
 * Each export runs in a fresh child process, so that its peak RSS (the kernel's high-water mark,
 * `resourceUsage().maxRSS`, which also catches peaks inside synchronous work that a sampler would
 * miss) is its own. Reported: wall time of the export, peak RSS of the process, and peak RSS minus
 * the RSS just before the export (the table itself already in memory: what the export adds), the
 * file size. Modes alternate, ROUNDS times each; the medians and new ÷ old ratios are printed.
 *
 * Run: npx tsx bench/table-export.ts   (ROWS, ROUNDS from the environment; default 20000, 3)
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import ExcelJS from 'exceljs';
import { layoutTable, sheetName, sheetOptions, writeTableWorkbook, type TableExport } from '../collector/api/table-workbook.ts';

const ROWS = Number(process.env.ROWS ?? 20_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const MODES = ['old', 'stream', 'stream-inline-strings'] as const;
type Mode = (typeof MODES)[number];
interface Result { mode: Mode; ms: number; peakMiB: number; addedMiB: number; bytes: number }

/** A city's schools as the console sends them: 10 typed columns, Chinese names, codes as text. */
function cityTable(rows: number): TableExport {
  const counties = ['东昌府区', '茌平区', '阳谷县', '莘县', '东阿县', '冠县', '高唐县', '临清市'];
  const kinds = ['小学', '中学', '实验学校', '幼儿园'];
  return {
    title: '聊城市学校合规',
    filter: '学校类型：全部；排序：不达标项（降序）',
    columns: [
      { header: '名称', type: 'text' },
      { header: '区县', type: 'text' },
      { header: '学校标识码', type: 'text' },
      { header: '覆盖率', type: 'percent' },
      { header: '摄像机在线', type: 'integer' },
      { header: '出口带宽（Mbps）', type: 'number', decimals: 1 },
      { header: '不达标项', type: 'integer' },
      { header: '测量值', type: 'number' },
      { header: '计算时间', type: 'datetime' },
      { header: '建校日期', type: 'date' },
    ],
    rows: Array.from({ length: rows }, (_, i) => {
      const county = counties[i % counties.length]!;
      return [
        `${county}第${i + 1}${kinds[i % kinds.length]}`,
        county,
        String(3715020001 + i),
        (i % 1000) / 1000,
        i % 40,
        50 + (i % 950) / 10,
        i % 7,
        i % 3 === 0 ? { value: (i % 100) / 100, type: 'percent' } : i * 1.5,
        new Date(Date.UTC(2026, 10, 25, 6, 3) - i * 60_000).toISOString(),
        `${1950 + (i % 70)}-09-01`,
      ];
    }),
  };
}

/** A client that reads as fast as it can; counts the bytes. */
const counter = () => {
  let bytes = 0;
  const w = new Writable({ write: (chunk: Buffer, _enc, cb) => ((bytes += chunk.length), cb()) });
  return { w, bytes: () => bytes };
};

async function runOne(mode: Mode): Promise<Result> {
  const table = cityTable(ROWS);
  const now = new Date();
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  let bytes: number;
  if (mode === 'old') {
    // the route before this change: the whole workbook in memory, then one buffer
    const wb = new ExcelJS.Workbook();
    wb.creator = 'campus';
    wb.created = now;
    wb.title = table.title;
    await layoutTable(wb.addWorksheet(sheetName(table.title), sheetOptions(table)), table, now);
    bytes = Buffer.from(await wb.xlsx.writeBuffer()).length;
  } else {
    const c = counter();
    await writeTableWorkbook(table, c.w, { now, useSharedStrings: mode === 'stream' });
    bytes = c.bytes();
  }
  const ms = performance.now() - t0;
  const peak = process.resourceUsage().maxRSS * 1024;
  return { mode, ms, peakMiB: peak / 2 ** 20, addedMiB: (peak - rssBefore) / 2 ** 20, bytes };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

if (process.argv[2] === '--one') {
  const r = await runOne(process.argv[3] as Mode);
  process.stdout.write(JSON.stringify(r));
} else {
  const self = fileURLToPath(import.meta.url);
  const results: Result[] = [];
  for (let round = 0; round < ROUNDS; round++)
    for (const mode of MODES) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--one', mode], { encoding: 'utf8', maxBuffer: 1 << 20 });
      const r = JSON.parse(out) as Result;
      results.push(r);
      console.error(`round ${round + 1} ${mode}: ${r.ms.toFixed(0)} ms, peak ${r.peakMiB.toFixed(0)} MiB (+${r.addedMiB.toFixed(0)}), ${(r.bytes / 1024).toFixed(0)} KiB`);
    }
  console.log(`${ROWS} rows × 10 columns, ${ROUNDS} rounds, ${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(1)}, ${new Date().toISOString()}`);
  console.log('| writer | time ms (median) | peak RSS MiB | added by the export MiB | file KiB |');
  console.log('|---|---:|---:|---:|---:|');
  const med: Record<string, Result> = {};
  for (const mode of MODES) {
    const rs = results.filter((r) => r.mode === mode);
    const m = (med[mode] = { mode, ms: median(rs.map((r) => r.ms)), peakMiB: median(rs.map((r) => r.peakMiB)), addedMiB: median(rs.map((r) => r.addedMiB)), bytes: median(rs.map((r) => r.bytes)) });
    console.log(`| ${mode} | ${m.ms.toFixed(0)} | ${m.peakMiB.toFixed(0)} | ${m.addedMiB.toFixed(0)} | ${(m.bytes / 1024).toFixed(0)} |`);
  }
  for (const mode of MODES.filter((x) => x !== 'old')) {
    const a = med[mode]!, b = med.old!;
    console.log(`${mode} ÷ old: time ${(a.ms / b.ms).toFixed(2)}, peak RSS ${(a.peakMiB / b.peakMiB).toFixed(2)}, added ${(a.addedMiB / b.addedMiB).toFixed(2)}`);
  }
}
