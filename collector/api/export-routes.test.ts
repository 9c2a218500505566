/**
 * `POST /api/v1/export/table.xlsx` through fastify's `inject()` on the real API (PGlite inventory):
 * the workbook is read back with exceljs — sheet and file names, title, frozen bold header, number
 * formats, values, Chinese text — and bad tables are refused with the row and column named. Large
 * exports: a 20,000-row table streamed and read back whole; at most 2 built at once and 1 waiting,
 * the rest refused with 503 (turns held open by a test hook, no timing); a client that goes away
 * part-way gives its turn back (a real socket on loopback).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPgliteDb } from '../../tests/setup/pglite.ts';
import { waitFor } from '../../tests/setup/wait.ts';
import { Ingest } from '../ingest/ingest.ts';
import { Inventory, type Db } from '../store/index.ts';
import { FileLineSink } from '../telemetry/file-sink.ts';
import { buildApi } from './app.ts';
import { displayWidth, fileName, sheetName, TABLE_LIMITS, type TableExport } from './table-workbook.ts';

const URL = '/api/v1/export/table.xlsx';
const silent = { info() {}, warn() {}, error() {} };
/** Today in China, independently of the code under test. */
const chinaToday = () => new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Shanghai' }).format(new Date());

let tmp: string;
let db: Db;
let sink: FileLineSink;
let app: FastifyInstance;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'campus-export-test-'));
  db = await freshPgliteDb();
  const inventory = new Inventory(db);
  sink = new FileLineSink({ dir: tmp });
  // never started: no broker connection; the URL is never dialled
  const ingest = new Ingest({ mqttUrl: 'mqtt://127.0.0.1:9', username: 'collector', password: 'unused', inventory, sink, logger: silent });
  app = await buildApi({ inventory, db, ingest, sink, apiToken: 'test-admin-token-0123456789' });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await sink?.close();
  await db?.close();
  await rm(tmp, { recursive: true, force: true });
});

const LONG_NAME = '聊城市东昌府区古楼街道办事处第一实验小学';
/** A county's schools as the console sends them (after a filter, sorted by failing rules). */
const schools: TableExport = {
  title: '东昌府区学校合规',
  filter: '学校类型：全部；问题：关键区域未全覆盖；排序：不达标项（降序）；显示 3/30',
  columns: [
    { header: '名称', type: 'text' },
    { header: '学校标识码', type: 'text' },
    { header: '覆盖率', type: 'percent' },
    { header: '摄像机在线', type: 'integer' },
    { header: '出口带宽（Mbps）', type: 'number', decimals: 1 },
    { header: '不达标项', type: 'integer' },
    { header: '测量值', type: 'number' },
    { header: '计算时间', type: 'datetime' },
    { header: '建校日期', type: 'date' },
  ],
  rows: [
    [LONG_NAME, '3715020001', 0.8754, 5, 93.44, 2, { value: 0.25, type: 'percent' }, '2026-11-25T06:03:00Z', '1998-09-01'],
    ['=HYPERLINK("http://127.0.0.1/","x")', '3715020002', null, 0, null, 0, 1000, '2026-11-25T14:03:00+08:00', null],
    ['聊城第一中学', '3715020003', 1, 12, 1000, 0, null, null, '2001-02-28'],
  ],
};

async function post(body: unknown, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url: URL, payload: body as object, headers });
}
async function workbookOf(payload: Buffer): Promise<ExcelJS.Workbook> {
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(payload as unknown as ArrayBuffer);
  return wb;
}

describe('POST /api/v1/export/table.xlsx', () => {
  it('returns the table as a workbook: Chinese file and sheet names, a title with the export time, a frozen bold header, typed cells', async () => {
    const res = await post(schools);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    const date = chinaToday();
    const name = `东昌府区学校合规_${date}.xlsx`;
    // RFC 6266: an ASCII fallback first, then the UTF-8 name (RFC 5987), which browsers prefer
    expect(res.headers['content-disposition']).toBe(`attachment; filename="table_${date}.xlsx"; filename*=UTF-8''${encodeURIComponent(name)}`);
    expect(res.rawPayload.subarray(0, 2).toString('latin1')).toBe('PK');

    const wb = await workbookOf(res.rawPayload);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['东昌府区学校合规']);
    const ws = wb.worksheets[0]!;
    const title = String(ws.getCell('A1').value);
    expect(title).toMatch(new RegExp(`^东昌府区学校合规（导出时间：${date} \\d{2}:\\d{2}，北京时间）$`));
    expect(ws.getCell('A1').font?.bold).toBe(true);
    expect(ws.getCell('A2').value).toBe(schools.filter);
    expect(ws.model.merges).toEqual(expect.arrayContaining(['A1:I1', 'A2:I2']));

    // the header: row 3, bold, frozen below it, with Excel's filter buttons
    expect((ws.getRow(3).values as unknown[]).slice(1)).toEqual(schools.columns.map((c) => c.header));
    for (let c = 1; c <= schools.columns.length; c++) expect(ws.getRow(3).getCell(c).font?.bold).toBe(true);
    expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 3 });
    expect(ws.autoFilter).toBeTruthy();

    // a long Chinese name fits its column (a Chinese character is about two widths of "0")
    expect(ws.getColumn(1).width).toBeGreaterThanOrEqual(displayWidth(LONG_NAME));
    expect(displayWidth(LONG_NAME)).toBe(LONG_NAME.length * 2);

    const r4 = ws.getRow(4);
    expect(r4.getCell(1).value).toBe(LONG_NAME);
    // a school code stays text (not 3.7E+09)
    expect(r4.getCell(2).value).toBe('3715020001');
    expect(r4.getCell(2).numFmt).toBe('@');
    // shares are numbers with a percent format, not text
    expect(r4.getCell(3).value).toBe(0.8754);
    expect(r4.getCell(3).numFmt).toBe('0.0%');
    expect(r4.getCell(4).value).toBe(5);
    expect(r4.getCell(4).numFmt).toBe('#,##0');
    expect(r4.getCell(5).value).toBe(93.44);
    expect(r4.getCell(5).numFmt).toBe('#,##0.0');
    // a cell with its own format in a number column
    expect(r4.getCell(7).value).toBe(0.25);
    expect(r4.getCell(7).numFmt).toBe('0.0%');
    expect(ws.getRow(5).getCell(7).numFmt).toBe('#,##0.00');
    // times as dates in China time: 06:03 UTC is 14:03 in Beijing, whichever way it was written
    const t4 = r4.getCell(8).value as Date, t5 = ws.getRow(5).getCell(8).value as Date;
    expect(t4).toBeInstanceOf(Date);
    expect(t4.toISOString()).toBe('2026-11-25T14:03:00.000Z');
    expect(t5.toISOString()).toBe('2026-11-25T14:03:00.000Z');
    expect(r4.getCell(8).numFmt).toBe('yyyy-mm-dd hh:mm:ss');
    expect((r4.getCell(9).value as Date).toISOString()).toBe('1998-09-01T00:00:00.000Z');
    expect(r4.getCell(9).numFmt).toBe('yyyy-mm-dd');

    // a name that looks like a formula is stored as text, never as a formula
    const r5 = ws.getRow(5);
    expect(r5.getCell(1).type).toBe(ExcelJS.ValueType.String);
    expect(r5.getCell(1).value).toBe(schools.rows[1]![0]);
    // empty cells stay empty (not 0, not "—")
    expect(r5.getCell(3).value).toBeNull();
    expect(ws.getRow(6).getCell(5).value).toBe(1000);
    expect(ws.rowCount).toBe(6);
  });

  it('writes the export-time note in English when asked, and takes a table with no rows', async () => {
    const res = await post({ title: 'County ranking', lang: 'en', columns: [{ header: 'County', type: 'text' }], rows: [] });
    expect(res.statusCode).toBe(200);
    const ws = (await workbookOf(res.rawPayload)).worksheets[0]!;
    expect(String(ws.getCell('A1').value)).toMatch(/^County ranking \(exported \d{4}-\d{2}-\d{2} \d{2}:\d{2} China time\)$/);
    expect(ws.getCell('A2').value).toBe('County');
    expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 2 });
    expect(res.headers['content-disposition']).toContain(`filename="County ranking_${chinaToday()}.xlsx"`);
  });

  it("makes the title a valid sheet name and file name (≤ 31 characters, none of []:*?/\\)", async () => {
    const title = '东昌府区/高唐县:学校*合规?[2026]\\一二三四五六七八九十一二三四五六七八九十';
    const res = await post({ ...schools, title });
    expect(res.statusCode).toBe(200);
    const ws = (await workbookOf(res.rawPayload)).worksheets[0]!;
    expect(ws.name.length).toBeLessThanOrEqual(31);
    expect(ws.name).not.toMatch(/[[\]:*?/\\]/);
    expect(ws.name.startsWith('东昌府区_高唐县_学校_合规__2026__')).toBe(true);
    expect(decodeURIComponent(/filename\*=UTF-8''(.+)$/.exec(res.headers['content-disposition'] as string)![1]!)).toBe(`东昌府区_高唐县_学校_合规_[2026]_一二三四五六七八九十一二三四五六七八九十_${chinaToday()}.xlsx`); // brackets are fine in file names
    expect(sheetName('History')).toBe('History_');
    expect(sheetName("'引号'")).toBe('引号');
    expect(sheetName(' / ')).toBe('_');
    expect(sheetName('[]')).toBe('__');
    expect(fileName('..', '2026-11-25')).toBe('table_2026-11-25.xlsx');
  });

  it('refuses a bad table with the row and column named, and keeps serving good ones', async () => {
    const bad = async (body: unknown, message: RegExp) => {
      const res = await post(body);
      expect(res.statusCode, JSON.stringify(body).slice(0, 200)).toBe(400);
      expect(res.json()).toMatchObject({ code: 'INVALID_INPUT' });
      expect(res.json<{ message: string }>().message).toMatch(message);
    };
    const row = schools.rows[0]!;
    const withCell = (i: number, v: unknown) => ({ ...schools, rows: [row, row.map((x, j) => (j === i ? v : x))] });
    await bad(withCell(2, '87.5%'), /row 2, column 3 \(覆盖率\) must be a number \(a share: 0\.5 is 50%\), got "87\.5%"/);
    await bad(withCell(3, 2.5), /row 2, column 4 \(摄像机在线\) must be a whole number, got 2\.5/);
    await bad(withCell(0, 42), /row 2, column 1 \(名称\) is a number, but the column is text/);
    await bad(withCell(0, { value: 1, type: 'integer' }), /row 2, column 1 \(名称\) is a formatted number, but the column is text/);
    await bad(withCell(7, '2026-11-25 14:03'), /row 2, column 8 \(计算时间\) must be an ISO 8601 time with its zone/);
    await bad(withCell(8, '2026-02-30'), /row 2, column 9 \(建校日期\) must be a date written YYYY-MM-DD/);
    await bad(withCell(0, 'bell\u0007'), /row 2, column 1 \(名称\) holds a control character/);
    await bad(withCell(0, 'x'.repeat(TABLE_LIMITS.cellChars + 1)), /row 2, column 1 \(名称\) has 2001 characters; at most 2000/);
    await bad({ ...schools, rows: [row.slice(1)] }, /row 1 has 8 cells, but the table has 9 columns/);
    await bad({ ...schools, title: '\u0000' }, /the title holds a control character/);
    // shapes the schema refuses
    await bad({ ...schools, columns: [{ header: '名称', type: 'money' }] }, /type/);
    await bad({ ...schools, columns: [] }, /columns must NOT have fewer than 1 items/);
    await bad({ ...schools, sheet: 'x' }, /additional properties/);
    await bad({ ...schools, rows: Array.from({ length: TABLE_LIMITS.rows + 1 }, () => row) }, /rows must NOT have more than 20000 items/);
    const wide = Array.from({ length: 41 }, (_, i) => ({ header: `列${i + 1}`, type: 'integer' as const }));
    await bad({ title: '宽表', columns: wide, rows: Array.from({ length: 2500 }, () => wide.map(() => 1)) }, /102500 cells \(2500 rows × 41 columns\); at most 100000/);
    const csv = await post('名称\n一中', { 'content-type': 'text/csv' });
    expect(csv.statusCode).toBe(400);
    expect(csv.json()).toMatchObject({ code: 'INVALID_INPUT' });

    const good = await post(schools);
    expect(good.statusCode).toBe(200);
  });
});

/** A whole city's worth of schools: the most rows an export may have. */
function bigTable(rows = TABLE_LIMITS.rows): TableExport {
  return {
    title: '聊城市学校',
    filter: '全部学校',
    columns: [
      { header: '名称', type: 'text' },
      { header: '学校标识码', type: 'text' },
      { header: '覆盖率', type: 'percent' },
      { header: '摄像机在线', type: 'integer' },
      { header: '计算时间', type: 'datetime' },
    ],
    rows: Array.from({ length: rows }, (_, i) => [`第${i + 1}小学`, String(3715020001 + i), (i % 1000) / 1000, i % 40, new Date(Date.UTC(2026, 10, 25, 6, 3) - i * 60_000).toISOString()]),
  };
}

describe('large exports, streamed a few at a time', () => {
  it('streams a 20,000-row table that reads back whole: every row, typed cells, the last row', async () => {
    const big = bigTable();
    const res = await post(big);
    expect(res.statusCode).toBe(200);
    const ws = (await workbookOf(res.rawPayload)).worksheets[0]!;
    // title, filter line, header, then every row
    expect(ws.rowCount).toBe(3 + TABLE_LIMITS.rows);
    expect(ws.views[0]).toMatchObject({ state: 'frozen', ySplit: 3 });
    expect(ws.getRow(3).getCell(1).font?.bold).toBe(true);
    const first = ws.getRow(4);
    expect(first.getCell(1).value).toBe('第1小学');
    expect(first.getCell(2).value).toBe('3715020001');
    expect(first.getCell(2).numFmt).toBe('@');
    expect(first.getCell(3).value).toBe(0);
    expect(first.getCell(3).numFmt).toBe('0.0%');
    expect((first.getCell(5).value as Date).toISOString()).toBe('2026-11-25T14:03:00.000Z');
    const mid = ws.getRow(4 + 12_345);
    expect(mid.getCell(1).value).toBe('第12346小学');
    expect(mid.getCell(3).value).toBe(0.345);
    expect(mid.getCell(4).value).toBe(12_345 % 40);
    expect(mid.getCell(4).numFmt).toBe('#,##0');
    const last = ws.getRow(3 + TABLE_LIMITS.rows);
    expect((last.values as unknown[]).slice(1, 5)).toEqual(['第20000小学', String(3715020001 + 19_999), 0.999, 19_999 % 40]);
    expect((last.getCell(5).value as Date).toISOString()).toBe(new Date(Date.UTC(2026, 10, 25, 14, 3) - 19_999 * 60_000).toISOString());
    let n = 0;
    ws.eachRow(() => void n++);
    expect(n).toBe(3 + TABLE_LIMITS.rows); // no row lost or empty in between
  });

  describe('with turns held open', () => {
    let held: FastifyInstance;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));

    beforeAll(async () => {
      const inventory = new Inventory(db);
      const ingest = new Ingest({ mqttUrl: 'mqtt://127.0.0.1:9', username: 'collector', password: 'unused', inventory, sink, logger: silent });
      // every export waits at the start of its turn until the test lets them go
      held = await buildApi({ inventory, db, ingest, sink, apiToken: 'test-admin-token-0123456789', exports: { concurrent: 2, queue: 1, holdTurn: () => gate } });
      await held.ready();
    });
    afterAll(async () => {
      release();
      await held?.close();
    });
    const exportsNow = async () => (await held.inject({ method: 'GET', url: '/api/v1/health' })).json<{ exports: Record<string, number> }>().exports;
    const exportsAre = (want: Record<string, number>) => async () => {
      const e = await exportsNow();
      return Object.entries(want).every(([k, v]) => e[k] === v) ? e : undefined;
    };

    it('builds 2 at once, queues 1, refuses the next with 503 and Retry-After, and still checks tables first', async () => {
      const send = (body: unknown) => held.inject({ method: 'POST', url: URL, payload: body as object });
      const building = [send(schools), send(schools)];
      await waitFor('two exports in their turns', exportsAre({ running: 2, queued: 0 }));
      const waiting = send(schools);
      await waitFor('one export waiting', exportsAre({ running: 2, queued: 1 }));

      const refused = await send(schools);
      expect(refused.statusCode).toBe(503);
      expect(refused.headers['retry-after']).toBe('10');
      expect(refused.headers['content-type']).toMatch(/^application\/json/);
      expect(refused.json()).toMatchObject({ code: 'EXPORT_BUSY', details: { retryAfterSeconds: 10 } });
      expect(refused.json<{ message: string }>().message).toMatch(/^导出任务繁忙：已有 2 个表格正在生成、1 个在排队，请 10 秒后重试 \(too many exports at once: 2 being built and 1 waiting; try again in 10 s\)$/);
      // the audit log's export shares the same turns
      const audit = await held.inject({ method: 'GET', url: '/api/v1/audit.xlsx', headers: { authorization: 'Bearer test-admin-token-0123456789' } });
      expect(audit.statusCode).toBe(503);
      expect(audit.json()).toMatchObject({ code: 'EXPORT_BUSY' });

      // a bad table is refused for what it is, before any turn: 400, not 503, and no workbook bytes
      const bad = await send({ ...schools, rows: [schools.rows[0]!.map((x, j) => (j === 2 ? '87.5%' : x))] });
      expect(bad.statusCode).toBe(400);
      expect(bad.headers['content-type']).toMatch(/^application\/json/);
      expect(bad.json<{ code: string; message: string }>()).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/row 1, column 3 \(覆盖率\) must be a number/) });
      expect(await exportsNow()).toMatchObject({ running: 2, queued: 1, refused: 2, built: 0 });

      release();
      for (const res of await Promise.all([...building, waiting])) {
        expect(res.statusCode).toBe(200);
        const ws = (await workbookOf(res.rawPayload)).worksheets[0]!;
        expect(ws.getRow(4).getCell(1).value).toBe(LONG_NAME);
        expect(ws.rowCount).toBe(6);
      }
      await waitFor('every turn given back', exportsAre({ running: 0, queued: 0, built: 3, refused: 2 }));
      expect((await send(schools)).statusCode).toBe(200);
    });
  });

  it('gives the turn back when the client goes away part-way through a large export', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const inventory = new Inventory(db);
    const ingest = new Ingest({ mqttUrl: 'mqtt://127.0.0.1:9', username: 'collector', password: 'unused', inventory, sink, logger: silent });
    const server = await buildApi({ inventory, db, ingest, sink, apiToken: 'test-admin-token-0123456789', exports: { concurrent: 1, queue: 0, holdTurn: () => gate } });
    try {
      await server.listen({ host: '127.0.0.1', port: 0 });
      const { port } = server.server.address() as AddressInfo;
      const exportsNow = async () => (await server.inject({ method: 'GET', url: '/api/v1/health' })).json<{ exports: Record<string, number> }>().exports;
      const body = JSON.stringify(bigTable());
      const client = request({ host: '127.0.0.1', port, method: 'POST', path: URL, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
      client.on('error', () => {}); // destroyed on purpose below
      client.end(body);
      await waitFor('the export to hold its turn', async () => ((await exportsNow()).running === 1 ? true : undefined));
      client.destroy();
      release();
      // ~1.5 MB cannot wait in the reply's buffers for a reader that is gone: the export stops and frees its turn
      const e = await waitFor('the turn to be given back', async () => {
        const s = await exportsNow();
        return s.running === 0 ? s : undefined;
      });
      expect(e).toMatchObject({ abandoned: 1, built: 0 });
      const again = await server.inject({ method: 'POST', url: URL, payload: schools });
      expect(again.statusCode).toBe(200);
    } finally {
      release();
      await server.close();
    }
  });
});
