/**
 * The security audit log through a real fastify app on both store backends: every event written
 * with who, from where and what, never a password; the client address behind a trusted proxy only;
 * retention; the API's filters, paging and Excel export; and who may read it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { STORE_BACKENDS } from '../../tests/setup/store-backends.ts';
import { waitFor } from '../../tests/setup/wait.ts';
import { AuditLog, type AuditEntry } from '../auth/audit-log.ts';
import { Users } from '../auth/users.ts';
import { Ingest } from '../ingest/ingest.ts';
import { Inventory, type Db } from '../store/index.ts';
import { FileLineSink } from '../telemetry/file-sink.ts';
import { buildApi, type ApiDeps } from './app.ts';

const TOKEN = 'test-admin-token-0123456789';
const SCHOOL = '3715020001';
const PASSWORD = 'Campus#2025';
const WRONG = 'Wrong#Secret77';
const MIN = 60_000;
const DAY = 86_400_000;
const silent = { info() {}, warn() {}, error() {} };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'campus-audit-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe.each(STORE_BACKENDS)('audit log on $name', (backend) => {
  let db: Db;
  let inventory: Inventory;
  let sink: FileLineSink;
  let ingest: Ingest;
  let app: FastifyInstance;
  let now: number;
  const apps: FastifyInstance[] = [];

  const build = async (extra: Partial<ApiDeps> = {}) => {
    const a = await buildApi({ inventory, db, ingest, sink, apiToken: TOKEN, sessions: { now: () => now }, ...extra });
    await a.ready();
    apps.push(a);
    return a;
  };
  const login = (username: string, password: string, headers: Record<string, string> = {}) => app.inject({ method: 'POST', url: '/api/v1/session', payload: { username, password }, headers });
  async function signIn(username: string, password = PASSWORD): Promise<string> {
    const r = await login(username, password);
    expect(r.statusCode, r.body).toBe(200);
    return r.json<{ token: string }>().token;
  }
  /** Every entry, oldest first, read straight from the table. */
  const entries = async (): Promise<AuditEntry[]> => (await new AuditLog(db).list({ limit: 10_000 })).entries.reverse();

  beforeEach(async () => {
    db = await backend.open();
    inventory = new Inventory(db);
    await inventory.upsertRegion({ code: '371500', name: '聊城市', level: 'city' });
    await inventory.upsertRegion({ code: '371502', name: '东昌府区', level: 'county', parentCode: '371500' });
    await inventory.upsertSchool({ code: SCHOOL, name: '东昌府区实验小学', countyCode: '371502', type: 'primary', ownership: 'public', studentCount: 1500, staffCount: 100 });
    await inventory.upsertSchool({ code: '3715020002', name: '东昌府区第二小学', countyCode: '371502', type: 'primary', ownership: 'public', studentCount: 900, staffCount: 60 });
    const users = new Users(db);
    await users.add({ username: 'admin', displayName: '教育局管理员', role: 'admin', password: PASSWORD });
    await users.add({ username: 'xiaoxue', displayName: '王老师', role: 'school-admin', schoolCode: SCHOOL, password: PASSWORD });
    sink = new FileLineSink({ dir: await mkdtemp(join(tmp, 'telemetry-')) });
    ingest = new Ingest({ mqttUrl: 'mqtt://127.0.0.1:9', username: 'collector', password: 'unused', inventory, sink, logger: silent });
    now = Date.parse('2026-03-02T08:00:00Z');
    app = await build();
  });
  afterEach(async () => {
    for (const a of apps.splice(0)) await a.close();
    await sink.close();
    await backend.release(db);
  });

  it('records sign-ins, failures with the name tried but never the password, the lockout and refusals while locked', async () => {
    const longAgent = 'Mozilla/5.0 '.repeat(40);
    await signIn('admin');
    expect((await login('xiaoxue', WRONG, { 'user-agent': longAgent })).statusCode).toBe(401);
    expect((await login('  NoBody ', WRONG)).statusCode).toBe(401);
    for (let i = 0; i < 4; i++) await login('xiaoxue', WRONG);
    expect((await login('xiaoxue', PASSWORD)).statusCode).toBe(429);

    const all = await entries();
    expect(all.map((e) => [e.event, e.username, e.outcome, e.detail])).toEqual([
      ['sign-in', 'admin', 'success', {}],
      ['sign-in-failed', 'xiaoxue', 'failure', { reason: 'wrong-password' }],
      ['sign-in-failed', 'nobody', 'failure', { reason: 'unknown-user' }],
      ['sign-in-failed', 'xiaoxue', 'failure', { reason: 'wrong-password' }],
      ['sign-in-failed', 'xiaoxue', 'failure', { reason: 'wrong-password' }],
      ['sign-in-failed', 'xiaoxue', 'failure', { reason: 'wrong-password' }],
      ['sign-in-failed', 'xiaoxue', 'failure', { reason: 'wrong-password' }], // the fifth failure …
      ['lockout', 'xiaoxue', 'failure', { retryAt: new Date(now + 15 * MIN).toISOString() }], // … locks the name
      ['sign-in-locked', 'xiaoxue', 'failure', { retryAt: new Date(now + 15 * MIN).toISOString() }],
    ]);
    expect(all[0]).toMatchObject({ displayName: '教育局管理员', clientIp: '127.0.0.1', at: new Date(now).toISOString() });
    expect(all[1]!.displayName).toBe('王老师');
    expect(all[1]!.userAgent).toBe(longAgent.trim().slice(0, 256));
    expect(all[2]!.displayName).toBeNull();
    const stored = JSON.stringify(await db.query(`SELECT * FROM audit_log`));
    expect(stored).not.toContain(WRONG);
    expect(stored).not.toContain(PASSWORD);
  });

  it('believes X-Forwarded-For only from a proxy --trust-proxy names', async () => {
    await login('admin', PASSWORD, { 'x-forwarded-for': '10.9.8.7' });
    const proxied = await build({ trustProxy: ['127.0.0.1'] });
    await proxied.inject({ method: 'POST', url: '/api/v1/session', payload: { username: 'admin', password: PASSWORD }, headers: { 'x-forwarded-for': '203.0.113.5, 10.9.8.7' } });
    const elsewhere = await build({ trustProxy: ['10.0.0.0/8'] });
    await elsewhere.inject({ method: 'POST', url: '/api/v1/session', payload: { username: 'admin', password: PASSWORD }, headers: { 'x-forwarded-for': '10.9.8.7' } });
    expect((await entries()).map((e) => e.clientIp)).toEqual(['127.0.0.1', '10.9.8.7', '127.0.0.1']);
  });

  it('records a sign-out, and an expired session once when a request comes with it', async () => {
    const a = await signIn('xiaoxue');
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/session', headers: bearer(a) })).statusCode).toBe(204);
    const b = await signIn('xiaoxue');
    now += 31 * MIN;
    await signIn('admin'); // another sign-in tidies old sessions: b's must still be told as expired
    for (let i = 0; i < 3; i++) expect((await app.inject({ method: 'GET', url: '/api/v1/session', headers: bearer(b) })).statusCode).toBe(401);
    expect((await app.inject({ method: 'PUT', url: `/api/v1/schools/${SCHOOL}/settings`, headers: bearer(b), payload: { classrooms: 30 } })).statusCode).toBe(401);
    const all = await entries();
    expect(all.map((e) => [e.event, e.username])).toEqual([
      ['sign-in', 'xiaoxue'],
      ['sign-out', 'xiaoxue'],
      ['sign-in', 'xiaoxue'],
      ['sign-in', 'admin'],
      ['session-expired', 'xiaoxue'],
    ]);
    expect(all[4]).toMatchObject({ detail: { reason: 'idle' }, displayName: '王老师', at: new Date(now).toISOString() });
  });

  it('records account changes old → new, password changes by whom, and who did them', async () => {
    const admin = await signIn('admin');
    const put = (username: string, payload: object) => app.inject({ method: 'PUT', url: `/api/v1/users/${username}`, headers: bearer(admin), payload });
    expect((await app.inject({ method: 'POST', url: '/api/v1/users', headers: bearer(admin), payload: { username: 'anbao', displayName: '安保科', role: 'security', countyCode: '371502' } })).statusCode).toBe(201);
    expect((await put('anbao', { role: 'equipment', countyCode: null, schoolCode: SCHOOL })).statusCode).toBe(200);
    expect((await put('anbao', { disabled: true })).statusCode).toBe(200);
    expect((await put('anbao', { disabled: false })).statusCode).toBe(200);
    expect((await put('anbao', { displayName: '安保科' })).statusCode).toBe(200); // nothing changed: nothing recorded
    const setPw = (token: string, username: string) => app.inject({ method: 'POST', url: `/api/v1/users/${username}/password`, headers: bearer(token), payload: { password: 'New#Pass2026' } });
    expect((await setPw(admin, 'xiaoxue')).statusCode).toBe(204);
    const xiaoxue = await signIn('xiaoxue', 'New#Pass2026');
    expect((await setPw(xiaoxue, 'xiaoxue')).statusCode).toBe(204);

    const all = (await entries()).filter((e) => !e.event.startsWith('sign-in'));
    expect(all.map((e) => [e.event, e.username, e.target, e.detail])).toEqual([
      ['user-created', 'admin', 'anbao', { displayName: '安保科', role: 'security', scope: 'county 371502', passwordGenerated: true }],
      ['user-changed', 'admin', 'anbao', { changes: { role: { from: 'security', to: 'equipment' }, scope: { from: 'county 371502', to: `school ${SCHOOL}` } } }],
      ['user-disabled', 'admin', 'anbao', {}],
      ['user-enabled', 'admin', 'anbao', {}],
      ['password-changed', 'admin', 'xiaoxue', { by: 'admin' }],
      ['password-changed', 'xiaoxue', 'xiaoxue', { by: 'self' }],
    ]);
    expect(JSON.stringify(await db.query(`SELECT * FROM audit_log`))).not.toContain('New#Pass2026');
  });

  it('records each write made with the admin token, with its X-Campus-Actor name, and not its reads', async () => {
    const headers = { ...bearer(TOKEN), 'x-campus-actor': encodeURIComponent('张科长') };
    expect((await app.inject({ method: 'GET', url: '/api/v1/users', headers })).statusCode).toBe(200);
    expect((await app.inject({ method: 'PUT', url: `/api/v1/schools/${SCHOOL}/settings`, headers, payload: { classrooms: 30 } })).statusCode).toBeLessThan(300);
    expect((await app.inject({ method: 'PUT', url: '/api/v1/users/nobody', headers: bearer(TOKEN), payload: { disabled: true } })).statusCode).toBe(404);
    const all = await entries();
    expect(all.map((e) => [e.event, e.username, e.displayName, e.target, e.outcome, e.detail])).toEqual([
      ['admin-token-write', 'admin-token', '张科长', `PUT /api/v1/schools/${SCHOOL}/settings`, 'success', { method: 'PUT', route: '/api/v1/schools/:code/settings', status: 200, actorNamed: true }],
      ['admin-token-write', 'admin-token', '管理令牌', 'PUT /api/v1/users/nobody', 'failure', { method: 'PUT', route: '/api/v1/users/:username', status: 404, actorNamed: false }],
    ]);
    expect(JSON.stringify(all)).not.toContain(TOKEN);
  });

  it('refuses the log to non-admins with 403, and audits the refusal with who, what and where', async () => {
    const xiaoxue = await signIn('xiaoxue');
    expect((await app.inject({ method: 'GET', url: '/api/v1/audit' })).statusCode).toBe(401);
    const r = await app.inject({ method: 'GET', url: '/api/v1/audit', headers: bearer(xiaoxue) });
    expect(r.statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/api/v1/audit.xlsx', headers: bearer(xiaoxue) })).statusCode).toBe(403);
    const other = await app.inject({ method: 'PUT', url: '/api/v1/schools/3715020002/settings', headers: bearer(xiaoxue), payload: { classrooms: 30 } });
    expect(other.statusCode).toBe(403);
    const denied = (await entries()).filter((e) => e.event === 'permission-denied');
    expect(denied.map((e) => [e.username, e.displayName, e.target, e.outcome, e.detail])).toEqual([
      ['xiaoxue', '王老师', 'city', 'failure', { permission: 'users', role: 'school-admin', request: 'GET /api/v1/audit' }],
      ['xiaoxue', '王老师', 'city', 'failure', { permission: 'users', role: 'school-admin', request: 'GET /api/v1/audit.xlsx' }],
      ['xiaoxue', '王老师', '3715020002', 'failure', { permission: 'plan', role: 'school-admin', request: 'PUT /api/v1/schools/3715020002/settings' }],
    ]);
  });

  it('filters by event, user and China dates, pages newest first with the total, and exports the same as Excel', async () => {
    await signIn('admin'); // 2026-03-02 16:00 China time
    now += DAY;
    await login('xiaoxue', WRONG); // 03-03
    await signIn('xiaoxue');
    now += DAY;
    await login('nobody', WRONG); // 03-04
    const admin = await signIn('admin');
    const get = async (query: string) => {
      const r = await app.inject({ method: 'GET', url: `/api/v1/audit?${query}`, headers: bearer(admin) });
      expect(r.statusCode, r.body).toBe(200);
      const body = r.json<{ total: number; entries: AuditEntry[] }>();
      return { total: body.total, rows: body.entries.map((e) => `${e.event}:${e.username}`) };
    };
    expect(await get('')).toEqual({ total: 5, rows: ['sign-in:admin', 'sign-in-failed:nobody', 'sign-in:xiaoxue', 'sign-in-failed:xiaoxue', 'sign-in:admin'] });
    expect(await get('limit=2&offset=1')).toEqual({ total: 5, rows: ['sign-in-failed:nobody', 'sign-in:xiaoxue'] });
    expect(await get('event=sign-in-failed')).toEqual({ total: 2, rows: ['sign-in-failed:nobody', 'sign-in-failed:xiaoxue'] });
    expect(await get('username=XiaoXue')).toEqual({ total: 2, rows: ['sign-in:xiaoxue', 'sign-in-failed:xiaoxue'] });
    expect(await get('from=2026-03-03&to=2026-03-03')).toEqual({ total: 2, rows: ['sign-in:xiaoxue', 'sign-in-failed:xiaoxue'] });
    expect(await get('to=2026-03-02T08:00:00.001Z')).toEqual({ total: 1, rows: ['sign-in:admin'] });
    expect((await app.inject({ method: 'GET', url: '/api/v1/audit?from=2026-02-30', headers: bearer(admin) })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/api/v1/audit?event=reboot', headers: bearer(admin) })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/api/v1/audit?limit=501', headers: bearer(admin) })).statusCode).toBe(400);

    const x = await app.inject({ method: 'GET', url: '/api/v1/audit.xlsx?event=sign-in-failed', headers: bearer(TOKEN) });
    expect(x.statusCode).toBe(200);
    expect(x.headers['content-type']).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(x.headers['content-disposition']).toContain(encodeURIComponent('安全审计日志'));
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(x.rawPayload as unknown as ArrayBuffer);
    const ws = wb.worksheets[0]!;
    expect(ws.name).toBe('安全审计日志');
    expect(String(ws.getRow(2).getCell(1).value)).toBe('事件：登录失败');
    expect((ws.getRow(3).values as unknown[]).slice(1, 8)).toEqual(['时间', '事件', '用户名', '姓名', '来源地址', '对象', '结果']);
    const row = (n: number) => (ws.getRow(n).values as unknown[]).slice(1, 8);
    // China wall-clock time as the cell's date: 2026-03-04 16:00
    expect(row(4)).toEqual([new Date('2026-03-04T16:00:00Z'), '登录失败', 'nobody', undefined, '127.0.0.1', undefined, '失败']);
    expect(row(5)).toEqual([new Date('2026-03-03T16:00:00Z'), '登录失败', 'xiaoxue', '王老师', '127.0.0.1', undefined, '失败']);
    expect(ws.rowCount).toBe(5);
  });

  it('keeps entries for the retention time, deletes only older ones, and never lets one be changed', async () => {
    const log = (at: number) => new AuditLog(db, () => at);
    await log(now - 200 * DAY).record({ event: 'sign-in', outcome: 'success', username: 'old' });
    await log(now - 181 * DAY).record({ event: 'sign-in', outcome: 'success', username: 'older-than-keep' });
    await log(now - 179 * DAY).record({ event: 'sign-in', outcome: 'success', username: 'kept' });
    await log(now).record({ event: 'sign-in', outcome: 'success', username: 'today' });
    expect(await log(now).purge(180)).toBe(2);
    expect((await entries()).map((e) => e.username)).toEqual(['kept', 'today']);
    expect(await log(now).purge(180)).toBe(0);
    await expect(db.query(`UPDATE audit_log SET username = 'someone-else'`)).rejects.toThrow(/append-only/);

    // the app purges at start when told how long to keep
    await log(now - 10 * DAY).record({ event: 'sign-in', outcome: 'success', username: 'ten-days' });
    await build({ auditKeepDays: 5 });
    await waitFor('the entries older than 5 days to be deleted at start', async () => ((await entries()).some((e) => e.username === 'ten-days' || e.username === 'kept') ? undefined : true));
    expect((await entries()).map((e) => e.username)).toEqual(['today']);
  });
});
