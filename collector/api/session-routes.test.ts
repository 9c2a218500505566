/**
 * Sign-in, sign-out and the users API through fastify's `inject()` on a real inventory (PGlite):
 * the answers of the contract the console builds on (shapes, status codes, messages), the lockout
 * over HTTP, session expiry with a clock the test moves, and who may manage accounts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freshPgliteDb } from '../../tests/setup/pglite.ts';
import { Users } from '../auth/users.ts';
import { Ingest } from '../ingest/ingest.ts';
import { Inventory, type Db } from '../store/index.ts';
import { FileLineSink } from '../telemetry/file-sink.ts';
import { SESSION_EXPIRED, SIGN_IN_FIRST } from './access.ts';
import { buildApi } from './app.ts';

const TOKEN = 'test-admin-token-0123456789';
const SCHOOL = '3715020001';
const PASSWORD = 'Campus#2025';
const MIN = 60_000;
const silent = { info() {}, warn() {}, error() {} };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let tmp: string;
let db: Db;
let sink: FileLineSink;
let app: FastifyInstance;
let now: number;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'campus-session-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

beforeEach(async () => {
  db = await freshPgliteDb();
  const inventory = new Inventory(db);
  await inventory.upsertRegion({ code: '371500', name: '聊城市', level: 'city' });
  await inventory.upsertRegion({ code: '371502', name: '东昌府区', level: 'county', parentCode: '371500' });
  await inventory.upsertSchool({ code: SCHOOL, name: '东昌府区实验小学', countyCode: '371502', type: 'primary', ownership: 'public', studentCount: 1500, staffCount: 100 });
  const users = new Users(db);
  await users.add({ username: 'admin', displayName: '教育局管理员', role: 'admin', password: PASSWORD });
  await users.add({ username: 'xiaoxue', displayName: '王老师', role: 'school-admin', schoolCode: SCHOOL, password: PASSWORD });
  sink = new FileLineSink({ dir: await mkdtemp(join(tmp, 'telemetry-')) });
  const ingest = new Ingest({ mqttUrl: 'mqtt://127.0.0.1:9', username: 'collector', password: 'unused', inventory, sink, logger: silent });
  now = Date.parse('2026-03-02T08:00:00Z');
  app = await buildApi({ inventory, db, ingest, sink, apiToken: TOKEN, sessions: { now: () => now } });
  await app.ready();
});
afterEach(async () => {
  await app.close();
  await sink.close();
  await db.close();
});

const login = (username: string, password: string) => app.inject({ method: 'POST', url: '/api/v1/session', payload: { username, password } });
async function signIn(username: string, password = PASSWORD): Promise<string> {
  const r = await login(username, password);
  expect(r.statusCode, r.body).toBe(200);
  return r.json<{ token: string }>().token;
}

describe('POST/GET/DELETE /api/v1/session', () => {
  it('signs in, says who the token is, and signs out', async () => {
    const r = await login('xiaoxue', PASSWORD);
    expect(r.statusCode).toBe(200);
    const user = { username: 'xiaoxue', displayName: '王老师', role: 'school-admin', scope: { level: 'school', code: SCHOOL, name: '东昌府区实验小学' }, permissions: ['enroll', 'plan', 'comment'] };
    expect(r.json()).toEqual({ token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), expiresAt: new Date(now + 30 * MIN).toISOString(), user });
    const token = r.json<{ token: string }>().token;

    now += 10 * MIN;
    const me = await app.inject({ method: 'GET', url: '/api/v1/session', headers: bearer(token) });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toEqual({ user, expiresAt: new Date(now + 30 * MIN).toISOString() });

    const out = await app.inject({ method: 'DELETE', url: '/api/v1/session', headers: bearer(token) });
    expect(out.statusCode).toBe(204);
    const after = await app.inject({ method: 'GET', url: '/api/v1/session', headers: bearer(token) });
    expect(after.statusCode).toBe(401);
    expect(after.json()).toEqual({ code: 'UNAUTHORIZED', message: SESSION_EXPIRED });
    expect((await app.inject({ method: 'DELETE', url: '/api/v1/session', headers: bearer(token) })).statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: '/api/v1/session' })).json()).toEqual({ code: 'UNAUTHORIZED', message: SESSION_EXPIRED });
  });

  it('answers the admin token as the pseudo-user admin-token with every permission, named by X-Campus-Actor', async () => {
    const r = await app.inject({ method: 'GET', url: '/api/v1/session', headers: { ...bearer(TOKEN), 'x-campus-actor': encodeURIComponent('测试管理员') } });
    expect(r.json()).toEqual({
      user: { username: 'admin-token', displayName: '测试管理员', role: 'admin', scope: { level: 'city' }, permissions: ['enroll', 'plan', 'tickets', 'comment', 'agents', 'users'] },
      expiresAt: null,
    });
    expect((await app.inject({ method: 'GET', url: '/api/v1/session', headers: bearer(TOKEN) })).json().user.displayName).toBe('管理令牌');
  });

  it('refuses a wrong password and an unknown name alike, and locks the name after 5 failures with the time to retry', async () => {
    const wrong = { code: 'UNAUTHORIZED', message: '用户名或密码错误 (wrong user name or password)' };
    expect((await login('nobody', PASSWORD)).json()).toEqual(wrong);
    for (let i = 0; i < 4; i++) {
      const r = await login('xiaoxue', 'Wrong#2025');
      expect(r.statusCode).toBe(401);
      expect(r.json()).toEqual(wrong);
    }
    now += MIN;
    const locked = await login('xiaoxue', 'Wrong#2025');
    expect(locked.statusCode).toBe(429);
    const retryAt = new Date(now + 15 * MIN);
    expect(locked.json()).toEqual({ code: 'TOO_MANY_ATTEMPTS', message: expect.stringContaining('16:16'), details: { retryAt: retryAt.toISOString() } }); // 08:16Z = 16:16 China time
    expect(locked.json().message).toContain(retryAt.toISOString());
    expect(locked.headers['retry-after']).toBe(String(15 * 60));
    const right = await login('xiaoxue', PASSWORD);
    expect(right.statusCode).toBe(429);
    now = retryAt.getTime();
    expect((await login('xiaoxue', PASSWORD)).statusCode).toBe(200);
  });

  it('ends a session after 30 idle minutes; reads count as activity but never fail for a stale token', async () => {
    const token = await signIn('xiaoxue');
    now += 25 * MIN;
    expect((await app.inject({ method: 'GET', url: `/api/v1/schools/${SCHOOL}`, headers: bearer(token) })).statusCode).toBe(200);
    now += 25 * MIN; // 50 minutes after sign-in, 25 after the read
    expect((await app.inject({ method: 'GET', url: '/api/v1/session', headers: bearer(token) })).statusCode).toBe(200);
    now += 30 * MIN;
    expect((await app.inject({ method: 'GET', url: `/api/v1/schools/${SCHOOL}`, headers: bearer(token) })).statusCode).toBe(200); // open read
    const write = await app.inject({ method: 'PUT', url: `/api/v1/schools/${SCHOOL}/settings`, headers: bearer(token), payload: { classrooms: 30 } });
    expect(write.statusCode).toBe(401);
    expect(write.json()).toEqual({ code: 'UNAUTHORIZED', message: SESSION_EXPIRED });
    const anon = await app.inject({ method: 'PUT', url: `/api/v1/schools/${SCHOOL}/settings`, payload: { classrooms: 30 } });
    expect(anon.json()).toEqual({ code: 'UNAUTHORIZED', message: SIGN_IN_FIRST });
  });
});

describe('/api/v1/users', () => {
  it('lists, adds (with a generated password), changes and disables users for someone with permission users', async () => {
    const admin = await signIn('admin');
    const list = await app.inject({ method: 'GET', url: '/api/v1/users', headers: bearer(admin) });
    expect(list.statusCode).toBe(200);
    expect(list.json().users.map((u: { username: string }) => u.username)).toEqual(['admin', 'xiaoxue']);
    expect(list.json().users[0]).toEqual({
      username: 'admin',
      displayName: '教育局管理员',
      role: 'admin',
      scope: { level: 'city' },
      permissions: ['enroll', 'plan', 'tickets', 'comment', 'agents', 'users'],
      disabled: false,
      createdAt: expect.any(String),
      lastLoginAt: new Date(now).toISOString(),
    });

    const add = await app.inject({ method: 'POST', url: '/api/v1/users', headers: bearer(admin), payload: { username: 'zhuangbei', displayName: '装备科张工', role: 'equipment', countyCode: '371502' } });
    expect(add.statusCode).toBe(201);
    const { user, password } = add.json<{ user: { scope: unknown; permissions: string[] }; password: string }>();
    expect(user).toMatchObject({ scope: { level: 'county', code: '371502', name: '东昌府区' }, permissions: ['tickets', 'comment'], disabled: false, lastLoginAt: null });
    const zhuangbei = await signIn('zhuangbei', password);
    const given = await app.inject({ method: 'POST', url: '/api/v1/users', headers: bearer(admin), payload: { username: 'anbao', displayName: '安保科', role: 'security', password: PASSWORD } });
    expect(given.statusCode).toBe(201);
    expect(given.json()).not.toHaveProperty('password');

    const weak = await app.inject({ method: 'POST', url: '/api/v1/users', headers: bearer(admin), payload: { username: 'weak', displayName: '弱', role: 'security', password: 'abcdefgh' } });
    expect(weak.statusCode).toBe(400);
    expect(weak.json()).toMatchObject({ code: 'WEAK_PASSWORD', message: expect.stringMatching(/^密码.*\(a password needs at least 8 characters/) });
    expect((await app.inject({ method: 'POST', url: '/api/v1/users', headers: bearer(admin), payload: { username: 'anbao', displayName: '又一个', role: 'security' } })).statusCode).toBe(409);
    const noSchool = await app.inject({ method: 'POST', url: '/api/v1/users', headers: bearer(admin), payload: { username: 'nosch', displayName: '无校', role: 'school-admin' } });
    expect(noSchool.statusCode).toBe(400);

    const put = await app.inject({ method: 'PUT', url: '/api/v1/users/zhuangbei', headers: bearer(admin), payload: { displayName: '张工', countyCode: null } });
    expect(put.statusCode).toBe(200);
    expect(put.json().user).toMatchObject({ displayName: '张工', scope: { level: 'city' } });
    const disable = await app.inject({ method: 'PUT', url: '/api/v1/users/zhuangbei', headers: bearer(admin), payload: { disabled: true } });
    expect(disable.json().user.disabled).toBe(true);
    expect((await app.inject({ method: 'GET', url: '/api/v1/session', headers: bearer(zhuangbei) })).statusCode).toBe(401);
    expect((await login('zhuangbei', password)).statusCode).toBe(401);
    const self = await app.inject({ method: 'PUT', url: '/api/v1/users/admin', headers: bearer(admin), payload: { disabled: true } });
    expect(self.statusCode).toBe(400);
    expect((await app.inject({ method: 'PUT', url: '/api/v1/users/nobody', headers: bearer(admin), payload: { disabled: true } })).statusCode).toBe(404);
  });

  it('refuses account management without permission users, naming who and what', async () => {
    const xiaoxue = await signIn('xiaoxue');
    const r = await app.inject({ method: 'GET', url: '/api/v1/users', headers: bearer(xiaoxue) });
    expect(r.statusCode).toBe(403);
    expect(r.json()).toEqual({ code: 'FORBIDDEN', message: '王老师 (school-admin, 3715020001) may not manage users for the whole city', details: { permission: 'users', username: 'xiaoxue' } });
    expect((await app.inject({ method: 'POST', url: '/api/v1/users', headers: bearer(xiaoxue), payload: { username: 'x2', displayName: 'x', role: 'admin' } })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url: '/api/v1/users' })).statusCode).toBe(401);
    expect((await app.inject({ method: 'GET', url: '/api/v1/users', headers: bearer(TOKEN) })).statusCode).toBe(200);
  });

  it('lets users set their own password (keeping that session, ending the others) and an admin reset anyone’s', async () => {
    const a = await signIn('xiaoxue');
    const b = await signIn('xiaoxue');
    const set = (token: string, username: string, password: string) => app.inject({ method: 'POST', url: `/api/v1/users/${username}/password`, headers: bearer(token), payload: { password } });
    expect((await set(a, 'xiaoxue', 'short')).json().code).toBe('WEAK_PASSWORD');
    expect((await set(a, 'admin', 'Other#Pass99')).statusCode).toBe(403);
    expect((await set(a, 'xiaoxue', 'Other#Pass99')).statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: '/api/v1/session', headers: bearer(a) })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/api/v1/session', headers: bearer(b) })).statusCode).toBe(401);
    expect((await login('xiaoxue', 'Other#Pass99')).statusCode).toBe(200);

    expect((await set(TOKEN, 'xiaoxue', 'Reset#Pass99')).statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: '/api/v1/session', headers: bearer(a) })).statusCode).toBe(401);
    expect((await set(TOKEN, 'nobody', 'Reset#Pass99')).statusCode).toBe(404);
    expect((await app.inject({ method: 'POST', url: '/api/v1/users/xiaoxue/password', payload: { password: 'Reset#Pass99' } })).statusCode).toBe(401);
  });
});
