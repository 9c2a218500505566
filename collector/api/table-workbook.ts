/**
 * A table the console shows, as an Excel workbook (`POST /api/v1/export/table.xlsx`): the rows the
 * user sees after filtering and sorting, with typed columns, so that numbers stay numbers, shares
 * are percentages and times are dates in China time. Cells are always values, never formulas, so a
 * name starting with `=` cannot run anything. See docs/decisions/0010-table-export.md; the file is
 * streamed as it is built (`writeTableWorkbook`, docs/decisions/0012-streaming-export.md).
 */
import type { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import { styleHeaderRow, styleTitleRow, THIN_BORDER } from '../compliance/report.ts';

export const COLUMN_TYPES = ['text', 'integer', 'number', 'percent', 'date', 'datetime'] as const;
export type ColumnType = (typeof COLUMN_TYPES)[number];
export const NUMERIC_TYPES = ['integer', 'number', 'percent'] as const;
export type NumericType = (typeof NUMERIC_TYPES)[number];

/** What one export may hold: a whole city's schools (about 3,500 rows) fits with room to spare. */
export const TABLE_LIMITS = { rows: 20_000, columns: 50, cells: 100_000, cellChars: 2_000, titleChars: 100, headerChars: 100, filterChars: 500, decimals: 6 } as const;

export interface TableColumn {
  header: string;
  type: ColumnType;
  /** digits after the point for `number` (default 2) and `percent` (default 1) */
  decimals?: number;
}
/** A number with its own format, for a column whose rows differ in unit (a finding's value: a share in one row, Mbps in the next). */
export interface NumberCell { value: number | null; type: NumericType; decimals?: number }
export type TableCell = string | number | null | NumberCell;
export interface TableExport {
  title: string;
  /** what the table was filtered and sorted by, as the user chose it (a line under the title) */
  filter?: string;
  /** language of the words the server adds (the export time); the table's own text comes as sent */
  lang?: 'zh-CN' | 'en';
  columns: TableColumn[];
  /** checked cell by cell by `checkTable` (the request schema leaves cells to it) */
  rows: TableCell[][];
}

/** A table that cannot be exported as sent; the message names the row and column. */
export class TableRejected extends Error {}

const CHINA_OFFSET_MS = 8 * 3600_000;
/** Characters XML 1.0 (and so .xlsx) cannot hold; tab, line feed and carriage return are fine. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const XML_FORBIDDEN = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
/** Half of a surrogate pair on its own (JSON can carry one; XML cannot). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
/** Excel's calendar runs from 1900 to 9999. */
const EXCEL_MIN_MS = Date.UTC(1900, 0, 1), EXCEL_MAX_MS = Date.UTC(10000, 0, 1) - 1;

const badText = (s: string): string | undefined =>
  XML_FORBIDDEN.test(s) || LONE_SURROGATE.test(s) ? 'holds a control character or a broken character that Excel cannot store' : undefined;

function dateMs(s: string): number | undefined {
  const m = ISO_DATE.exec(s);
  if (!m) return undefined;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return new Date(ms).toISOString().slice(0, 10) === s ? ms : undefined; // 2026-02-30 does not round-trip
}

const isNumeric = (type: string): type is NumericType => (NUMERIC_TYPES as readonly string[]).includes(type);

/** Why `v` cannot go in a cell of type `type`, or undefined when it can. */
function cellProblem(v: unknown, type: ColumnType): string | undefined {
  if (v === null) return undefined;
  if (typeof v === 'object') {
    if (!isNumeric(type)) return `is a formatted number, but the column is ${type}`;
    const { value, type: own, decimals, ...rest } = v as Partial<NumberCell>;
    if (Object.keys(rest).length || !isNumeric(String(own)) || (decimals !== undefined && !(Number.isInteger(decimals) && decimals >= 0 && decimals <= TABLE_LIMITS.decimals)))
      return `must be {value, type: ${NUMERIC_TYPES.join('|')}, decimals?: 0–${TABLE_LIMITS.decimals}}, got ${JSON.stringify(v).slice(0, 80)}`;
    return cellProblem(value ?? null, own!);
  }
  if (typeof v === 'string' && v.length > TABLE_LIMITS.cellChars) return `has ${v.length} characters; at most ${TABLE_LIMITS.cellChars}`;
  switch (type) {
    case 'text':
      return typeof v === 'string' ? badText(v) : `is a ${typeof v}, but the column is text`;
    case 'integer':
      return typeof v === 'number' && Number.isSafeInteger(v) ? undefined : `must be a whole number, got ${JSON.stringify(v)}`;
    case 'number':
    case 'percent':
      return typeof v === 'number' && Number.isFinite(v) ? undefined : `must be a number${type === 'percent' ? ' (a share: 0.5 is 50%)' : ''}, got ${JSON.stringify(v)}`;
    case 'date': {
      const ms = typeof v === 'string' ? dateMs(v) : undefined;
      return ms !== undefined && ms >= EXCEL_MIN_MS && ms <= EXCEL_MAX_MS ? undefined : `must be a date written YYYY-MM-DD (1900–9999), got ${JSON.stringify(v)}`;
    }
    case 'datetime': {
      const ms = typeof v === 'string' && ISO_DATETIME.test(v) ? Date.parse(v) : NaN;
      return Number.isFinite(ms) && ms >= EXCEL_MIN_MS && ms <= EXCEL_MAX_MS ? undefined : `must be an ISO 8601 time with its zone (…Z or …+08:00), got ${JSON.stringify(v)}`;
    }
  }
}

/** Checks what the schema cannot: row lengths, the cell count, each cell against its column's type. */
export function checkTable(t: TableExport): void {
  const text = (what: string, s: string) => {
    const p = badText(s);
    if (p) throw new TableRejected(`${what} ${p}`);
  };
  text('the title', t.title);
  if (t.filter) text('the filter line', t.filter);
  t.columns.forEach((c, i) => text(`column ${i + 1}'s header`, c.header));
  const cells = t.rows.length * t.columns.length;
  if (cells > TABLE_LIMITS.cells) throw new TableRejected(`the table has ${cells} cells (${t.rows.length} rows × ${t.columns.length} columns); at most ${TABLE_LIMITS.cells} can be exported: filter it first`);
  t.rows.forEach((row, r) => {
    if (row.length !== t.columns.length) throw new TableRejected(`row ${r + 1} has ${row.length} cells, but the table has ${t.columns.length} columns`);
    row.forEach((v, c) => {
      const col = t.columns[c]!;
      const p = cellProblem(v, col.type);
      if (p) throw new TableRejected(`row ${r + 1}, column ${c + 1} (${col.header}) ${p}`);
    });
  });
}

/** A sheet name Excel accepts: at most 31 characters, none of []:*?/\, no apostrophe at either end, not "History". */
export function sheetName(title: string): string {
  let s = title.replace(/[[\]:*?/\\]/g, '_').trim().replace(/^'+|'+$/g, '');
  if (s.length > 31) s = s.slice(0, /[\uD800-\uDBFF]/.test(s[30]!) ? 30 : 31);
  s = s.trim();
  if (!s) return 'Sheet1';
  return s.toLowerCase() === 'history' ? `${s}_` : s;
}

/** A file name safe on Windows, macOS and Linux: `<title>_<date>.xlsx`. */
export function fileName(title: string, date: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are not allowed in file names
  let base = title.replace(/[<>:"/\\|?*\u0000-\u001F]/g, '_').replace(/\s+/g, ' ').replace(/^[\s.]+|[\s.]+$/g, '');
  if (base.length > 80) base = base.slice(0, /[\uD800-\uDBFF]/.test(base[79]!) ? 79 : 80);
  return `${base || 'table'}_${date}.xlsx`;
}

/** `Content-Disposition` with the UTF-8 name (RFC 6266 / RFC 5987 `filename*`) and an ASCII one for old clients. */
export function contentDisposition(name: string, asciiFallback: string): string {
  const plain = /^[\x20-\x7E]+$/.test(name) && !/["\\]/.test(name) ? name : asciiFallback;
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${plain}"; filename*=UTF-8''${encoded}`;
}

/** Now in China time: the date for the file name, the minute for the title. */
export function chinaNow(now = new Date()): { date: string; minute: string } {
  const iso = new Date(now.getTime() + CHINA_OFFSET_MS).toISOString();
  return { date: iso.slice(0, 10), minute: `${iso.slice(0, 10)} ${iso.slice(11, 16)}` };
}

function numFmtOf(type: ColumnType, decimals: number | undefined): string | undefined {
  const frac = (d: number) => (d > 0 ? `.${'0'.repeat(d)}` : '');
  switch (type) {
    case 'integer':
      return '#,##0';
    case 'number':
      return `#,##0${frac(decimals ?? 2)}`;
    case 'percent':
      return `0${frac(decimals ?? 1)}%`;
    case 'date':
      return 'yyyy-mm-dd';
    case 'datetime':
      return 'yyyy-mm-dd hh:mm:ss';
    case 'text':
      return undefined;
  }
}

/** Display width in Excel's units (the width of "0"): a Chinese character is about two. */
export function displayWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += /[\u1100-\u115F\u2E80-\uA4CF\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6]|[\u{20000}-\u{3FFFD}]/u.test(ch) ? 2 : 1;
  return w;
}

/** Width of a value as Excel will show it (roughly: digit groups, decimals, the % sign). */
function shownWidth(v: TableCell, type: ColumnType, decimals: number | undefined): number {
  if (v === null) return 0;
  if (typeof v === 'object') return shownWidth(v.value, v.type, v.decimals);
  if (typeof v === 'string') return type === 'date' ? 10 : type === 'datetime' ? 19 : Math.max(...v.split('\n').map(displayWidth));
  const d = type === 'integer' ? 0 : type === 'percent' ? (decimals ?? 1) : (decimals ?? 2);
  // counted, not formatted: toLocaleString costs ~0.1 ms a call, seconds for a city's table
  const digits = Math.abs(type === 'percent' ? v * 100 : v).toFixed(d);
  const whole = d > 0 ? digits.length - d - 1 : digits.length;
  return digits.length + Math.floor((whole - 1) / 3) + (v < 0 ? 1 : 0) + (type === 'percent' ? 1 : 0);
}

const HEADER_MAX_WIDTH = 16; // longer headers wrap onto a second line rather than widen the column
const MIN_WIDTH = 6, MAX_WIDTH = 60;

/** Where `layoutTable` puts a built row: in-memory sheets keep it, streaming sheets commit it. */
export type AfterRow = (row: ExcelJS.Row) => void | Promise<void>;

/**
 * The sheet: a title row saying what and when, the filter line, a frozen bold header with a filter,
 * then the rows. Works on an in-memory worksheet and on a streaming one alike; with a streaming
 * sheet, `afterRow` commits each row (and may wait for the reader), so the column widths, merges,
 * views and filter are all set before the first row is written, as the writer needs.
 */
export async function layoutTable(ws: ExcelJS.Worksheet, t: TableExport, now: Date, afterRow?: AfterRow): Promise<void> {
  const { minute } = chinaNow(now);
  const n = t.columns.length;
  const headerRowNo = headerRowOf(t);
  ws.pageSetup.printTitlesRow = `${headerRowNo}:${headerRowNo}`;

  const widths = t.columns.map((c, i) => {
    let w = Math.min(displayWidth(c.header), HEADER_MAX_WIDTH);
    for (const row of t.rows) w = Math.max(w, shownWidth(row[i]!, c.type, c.decimals));
    return Math.max(MIN_WIDTH, Math.min(MAX_WIDTH, w + 2));
  });
  ws.columns = widths.map((width) => ({ width }));
  const tableWidth = widths.reduce((a, b) => a + b, 0);
  // a merged row does not grow by itself: give a long title or filter line the lines it needs
  const linesFor = (s: string) => Math.max(1, Math.ceil(displayWidth(s) / Math.max(1, tableWidth - 2)));

  const exported = t.lang === 'en' ? `(exported ${minute} China time)` : `（导出时间：${minute}，北京时间）`;
  const titleText = `${t.title}${t.lang === 'en' ? ' ' : ''}${exported}`;
  const title = ws.addRow([titleText]);
  styleTitleRow(title);
  title.alignment = { horizontal: 'center', vertical: 'middle', wrapText: true };
  title.height = 22 * linesFor(titleText) * 1.1;
  const top = [title];
  if (t.filter) {
    const f = ws.addRow([t.filter]);
    f.font = { color: { argb: 'FF4B5563' } };
    f.alignment = { wrapText: true, vertical: 'top' };
    f.height = 15 * linesFor(t.filter) + 3;
    top.push(f);
  }
  // merged before the rows are committed: a streaming sheet writes each cell's merge with its row
  if (n > 1) for (let r = 1; r < headerRowNo; r++) ws.mergeCells(r, 1, r, n);

  const header = ws.addRow(t.columns.map((c) => c.header));
  styleHeaderRow(header);
  header.height = 15 * Math.max(...t.columns.map((c, i) => Math.ceil(displayWidth(c.header) / Math.max(1, widths[i]! - 1)))) + 4;
  header.eachCell((cell) => {
    cell.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFE5E7EB' } };
    cell.border = THIN_BORDER;
  });
  ws.autoFilter = { from: { row: headerRowNo, column: 1 }, to: { row: headerRowNo, column: n } };
  if (afterRow) for (const row of [...top, header]) await afterRow(row);

  for (const cells of t.rows) {
    const row = ws.addRow(
      cells.map((v, i) => {
        const type = t.columns[i]!.type;
        const raw = v !== null && typeof v === 'object' ? v.value : v;
        if (raw === null) return null;
        // Excel's dates have no zone: write the China wall-clock time (exceljs stores a Date as its UTC fields)
        if (type === 'date') return new Date(dateMs(raw as string)!);
        if (type === 'datetime') return new Date(Date.parse(raw as string) + CHINA_OFFSET_MS);
        return raw;
      }),
    );
    row.alignment = { vertical: 'top' };
    for (let i = 0; i < n; i++) {
      const cell = row.getCell(i + 1);
      cell.border = THIN_BORDER;
      const v = cells[i]!;
      const col = t.columns[i]!;
      cell.numFmt = v !== null && typeof v === 'object' ? numFmtOf(v.type, v.decimals)! : (numFmtOf(col.type, col.decimals) ?? '@');
      if (col.type === 'text' && typeof v === 'string' && v.includes('\n')) cell.alignment = { vertical: 'top', wrapText: true };
    }
    if (afterRow) {
      const wait = afterRow(row);
      if (wait) await wait; // most rows do not wait: no promise, no extra turn of the event loop
    }
  }
}

/** The header is row 2, or row 3 under a filter line. */
const headerRowOf = (t: TableExport): number => (t.filter ? 3 : 2);

/** What the sheet is set up with before any row is added (views and page setup are fixed when a streaming sheet is opened). */
export function sheetOptions(t: TableExport): Partial<ExcelJS.AddWorksheetOptions> {
  return {
    views: [{ state: 'frozen', ySplit: headerRowOf(t) }],
    pageSetup: { paperSize: 9, orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0 },
  };
}

/** The names that go in the reply's headers, known before a byte of the workbook is written. */
export function tableFileNames(t: TableExport, now: Date): { fileName: string; sheet: string; date: string } {
  const { date } = chinaNow(now);
  return { fileName: fileName(t.title, date), sheet: sheetName(t.title), date };
}

/** The reader stopped reading for too long, or went away: the export is abandoned. */
export class ExportAbandoned extends Error {}

/** How many rows are built between looks at the reader (a few hundred KB of XML at most). */
const ROWS_PER_LOOK = 200;

/**
 * Writes the workbook into `out` as it is built (exceljs' streaming writer: each row is committed
 * and zipped, then dropped), waiting whenever `out` has more than its buffer unread, so memory
 * stays bounded by a few hundred rows whatever the table's size and the reader's speed. Resolves
 * when the whole file is in `out`; rejects with `ExportAbandoned` if `out` is closed first or
 * does not drain within `stallMs`. Call `checkTable` first: nothing here checks the cells.
 */
export async function writeTableWorkbook(t: TableExport, out: Writable, opts: { now?: Date; stallMs?: number; useSharedStrings?: boolean } = {}): Promise<void> {
  const now = opts.now ?? new Date();
  const stallMs = opts.stallMs ?? 60_000;
  // shared strings as before (the bench compares inline strings: decision 0012)
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: out, useStyles: true, useSharedStrings: opts.useSharedStrings ?? true });
  wb.creator = wb.lastModifiedBy = 'campus';
  wb.created = now;
  wb.title = t.title;
  const ws = wb.addWorksheet(sheetName(t.title), sheetOptions(t));
  const gone = closedEarly(out);
  // the zip writer has no error listener until its last step: pass its errors on to `out`
  (wb as unknown as { zip: NodeJS.EventEmitter }).zip.on('error', (err: Error) => out.destroy(err));
  try {
    let sinceLook = 0;
    await layoutTable(ws, t, now, (row) => {
      row.commit();
      if (++sinceLook < ROWS_PER_LOOK) return undefined;
      sinceLook = 0;
      return readerCaughtUp(out, stallMs);
    });
    ws.commit();
    await Promise.race([wb.commit(), gone.promise]);
  } catch (err) {
    (wb as unknown as { zip: { abort(): void } }).zip.abort();
    if (!out.destroyed) out.destroy();
    throw err;
  } finally {
    gone.dispose();
  }
}

/** A promise that rejects when `out` is closed or fails before it has taken the whole file. */
function closedEarly(out: Writable): { promise: Promise<never>; dispose(): void } {
  let onClose: () => void = () => {};
  const promise = new Promise<never>((_, reject) => {
    onClose = () => {
      if (!out.writableFinished) reject(new ExportAbandoned('the client went away before the workbook was complete'));
    };
    out.on('close', onClose);
    out.on('error', onClose);
  });
  promise.catch(() => {}); // only raced; never left unhandled
  return { promise, dispose: () => (out.off('close', onClose), out.off('error', onClose)) };
}

/** Lets the zip writer run, then waits while `out` holds more than its buffer unread. */
async function readerCaughtUp(out: Writable, stallMs: number): Promise<void> {
  await new Promise((r) => setImmediate(r));
  while (out.writableNeedDrain && !out.destroyed) {
    let timer: NodeJS.Timeout | undefined;
    let done: () => void = () => {};
    const drained = await new Promise<boolean>((resolve) => {
      done = () => resolve(true);
      out.once('drain', done);
      out.once('close', done);
      timer = setTimeout(() => resolve(false), stallMs);
    }).finally(() => {
      clearTimeout(timer);
      out.off('drain', done);
      out.off('close', done);
    });
    if (!drained) throw new ExportAbandoned(`the client read nothing for ${Math.round(stallMs / 1000)} s`);
  }
  if (out.destroyed) throw new ExportAbandoned('the client went away before the workbook was complete');
}
