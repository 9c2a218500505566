/**
 * People signing in to a real collector (PostgreSQL inventory, broker, InfluxDB) and acting within
 * their role and scope: a school's network administrator enrolls devices at their school only
 * (history names them) and cannot work tickets; an equipment manager works tickets but cannot
 * enroll; a county-scoped user acts in their county only; signing out ends the token; five wrong
 * passwords lock the name; the admin token and `campus admin user` through the collector keep working.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { addUser } from '../../cli/admin.ts';
import { Users } from '../../collector/auth/users.ts';
import { uniqueDbName } from '../setup/influx.ts';
import { CITY, COUNTY, SCHOOL_A, SCHOOL_B, startStack, type Stack } from './stack.ts';

const OTHER_COUNTY = '371521';
const SCHOOL_C = '3715210001';
const PASSWORD = 'Campus#2025';
const placement = { placement: { building: '教学楼', position: { lon: 115.98, lat: 36.45 } } };

interface Answer {
  status: number;
  body: { code?: string; message?: string; [k: string]: unknown };
}

describe('users, sessions and permissions against a real collector', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ pgAdminUrl: inject('postgresUrl'), influxUrl: inject('influxUrl'), influxDb: uniqueDbName('users') });
    const inv = stack.inventory;
    await inv.upsertRegion({ code: OTHER_COUNTY, name: '阳谷县', level: 'county', parentCode: CITY });
    await inv.upsertSchool({ code: SCHOOL_C, name: '阳谷县第一中学', countyCode: OTHER_COUNTY, type: 'junior', ownership: 'public', studentCount: 900, staffCount: 80 });
    // what each school's gateway found (the discovery path itself is tested in enrollment.test.ts)
    for (const school of [SCHOOL_A, SCHOOL_B, SCHOOL_C]) {
      await inv.addAgent({ schoolCode: school, agentId: 'gw-1' });
      await inv.upsertDiscoveredDevices(
        school,
        'gw-1',
        [
          { device: 'sw-1', kind: 'switch', protocol: 'snmp', address: '127.0.0.1:161', attributes: {} },
          { device: 'ap-1', kind: 'ap', protocol: 'snmp', address: '127.0.0.1:1161', attributes: {} },
          { device: 'cam-1', kind: 'camera', protocol: 'onvif', address: '127.0.0.1:8000', attributes: {} },
        ],
        new Date(),
      );
    }
    const users = new Users(stack.db);
    await users.add({ username: 'xiaoxue', displayName: '王老师', role: 'school-admin', schoolCode: SCHOOL_A, password: PASSWORD });
    await users.add({ username: 'zhuangbei', displayName: '装备科张工', role: 'equipment', password: PASSWORD });
    await users.add({ username: 'quxian', displayName: '东昌府区装备李工', role: 'equipment', countyCode: COUNTY, password: PASSWORD });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  async function call(path: string, opts: { method?: string; token?: string; body?: unknown; actor?: string } = {}): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.actor) headers['x-campus-actor'] = encodeURIComponent(opts.actor);
    const res = await fetch(`${stack.collector.url}${path}`, { method: opts.method ?? 'GET', headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Answer['body']) : {} };
  }
  async function signIn(username: string, password = PASSWORD): Promise<string> {
    const r = await call('/api/v1/session', { method: 'POST', body: { username, password } });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.token as string;
  }
  const device = (school: string, id: string) => `/api/v1/schools/${school}/devices/gw-1/${id}`;
  const stateOf = async (school: string, id: string) => ((await call(`/api/v1/schools/${school}/devices`)).body as unknown as { deviceId: string; state: string }[]).find((d) => d.deviceId === id)?.state;

  it('a school network administrator enrolls at their school, named in the history, and is refused elsewhere with the reason', async () => {
    const token = await signIn('xiaoxue');
    const me = await call('/api/v1/session', { token });
    expect(me.body.user).toEqual({ username: 'xiaoxue', displayName: '王老师', role: 'school-admin', scope: { level: 'school', code: SCHOOL_A, name: '东昌府区实验小学' }, permissions: ['enroll', 'plan', 'comment'] });

    const ok = await call(`${device(SCHOOL_A, 'sw-1')}/accept`, { method: 'POST', token, body: placement });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    expect(ok.body.state).toBe('enrolled');
    const history = (await call(`${device(SCHOOL_A, 'sw-1')}/history`)).body as unknown as { toState: string; actor: string; actorName: string }[];
    expect(history).toEqual([expect.objectContaining({ toState: 'enrolled', actor: 'user/xiaoxue', actorName: '王老师' })]);

    const other = await call(`${device(SCHOOL_B, 'sw-1')}/accept`, { method: 'POST', token, body: placement });
    expect(other.status).toBe(403);
    expect(other.body).toMatchObject({ code: 'FORBIDDEN', message: `王老师 (school-admin, ${SCHOOL_A}) may not enroll devices at ${SCHOOL_B}` });
    expect(await stateOf(SCHOOL_B, 'sw-1')).toBe('discovered');
    // the campus settings of their own school, yes; the policy pack (the bureau's choice), no
    expect((await call(`/api/v1/schools/${SCHOOL_A}/settings`, { method: 'PUT', token, body: { classrooms: 24 } })).status).toBe(200);
    const pack = await call(`/api/v1/schools/${SCHOOL_A}/settings`, { method: 'PUT', token, body: { policyPack: 'guangzhou-2017' } });
    expect(pack).toMatchObject({ status: 403, body: { message: `王老师 (school-admin, ${SCHOOL_A}) may not administer agents and schools at ${SCHOOL_A}` } });

    // tickets: may comment, may not open or work them
    const opened = await call('/api/v1/tickets', { method: 'POST', token, body: { schoolCode: SCHOOL_A, title: '交换机风扇异响' } });
    expect(opened).toMatchObject({ status: 403, body: { code: 'FORBIDDEN', message: `王老师 (school-admin, ${SCHOOL_A}) may not work repair tickets at ${SCHOOL_A}` } });
    const ticket = await call('/api/v1/tickets', { method: 'POST', token: stack.collector.apiToken, actor: '李科长', body: { schoolCode: SCHOOL_A, agentId: 'gw-1', deviceId: 'sw-1', title: '交换机风扇异响' } });
    expect(ticket.status).toBe(201);
    const id = ticket.body.id as number;
    expect((await call(`/api/v1/tickets/${id}/start`, { method: 'POST', token, body: {} })).status).toBe(403);
    expect((await call(`/api/v1/tickets/${id}/comment`, { method: 'POST', token, body: { note: '机房门已打开' } })).status).toBe(200);
    const events = ((await call(`/api/v1/tickets/${id}`)).body.events as { action: string; actor: string; actorName: string }[]).map((e) => [e.action, e.actor, e.actorName]);
    expect(events).toEqual([
      ['open', 'admin-token/李科长', '李科长'],
      ['comment', 'user/xiaoxue', '王老师'],
    ]);
  });

  it('an equipment manager works a ticket but cannot enroll', async () => {
    const token = await signIn('zhuangbei');
    const t = await call('/api/v1/tickets', { method: 'POST', token, body: { schoolCode: SCHOOL_B, agentId: 'gw-1', deviceId: 'cam-1', title: '镜头起雾' } });
    expect(t.status, JSON.stringify(t.body)).toBe(201);
    const id = t.body.id as number;
    expect((await call(`/api/v1/tickets/${id}/assign`, { method: 'POST', token, body: { assignee: 'zhuangbei' } })).body.state).toBe('in-progress');
    expect((await call(`/api/v1/tickets/${id}/resolve`, { method: 'POST', token, body: { note: '已清洁镜头' } })).body.state).toBe('resolved');
    const events = (await call(`/api/v1/tickets/${id}`)).body.events as { actor: string; actorName: string }[];
    expect(events.map((e) => e.actor)).toEqual(['user/zhuangbei', 'user/zhuangbei', 'user/zhuangbei']);
    expect(events[0]!.actorName).toBe('装备科张工');

    const accept = await call(`${device(SCHOOL_B, 'ap-1')}/accept`, { method: 'POST', token, body: placement });
    expect(accept).toMatchObject({ status: 403, body: { code: 'FORBIDDEN', message: `装备科张工 (equipment, city) may not enroll devices at ${SCHOOL_B}` } });
    expect(await stateOf(SCHOOL_B, 'ap-1')).toBe('discovered');
    expect((await call('/api/v1/admin/agents', { method: 'POST', token, body: { schoolCode: SCHOOL_B, agentId: 'gw-2' } })).status).toBe(403);
  });

  it('a county-scoped user acts at the schools of their county only', async () => {
    const token = await signIn('quxian');
    expect((await call('/api/v1/session', { token })).body.user).toMatchObject({ scope: { level: 'county', code: COUNTY, name: '东昌府区' } });
    expect((await call('/api/v1/tickets', { method: 'POST', token, body: { schoolCode: SCHOOL_B, title: '机房空调漏水' } })).status).toBe(201);
    const away = await call('/api/v1/tickets', { method: 'POST', token, body: { schoolCode: SCHOOL_C, title: '机房空调漏水' } });
    expect(away).toMatchObject({ status: 403, body: { message: `东昌府区装备李工 (equipment, ${COUNTY}) may not work repair tickets at ${SCHOOL_C}` } });
    expect((await call(`/api/v1/tickets?school=${SCHOOL_C}`)).body.total).toBe(0);
  });

  it('signing out ends the token; reads stay open without one', async () => {
    const token = await signIn('xiaoxue');
    expect((await call('/api/v1/session', { method: 'DELETE', token })).status).toBe(204);
    expect(await call('/api/v1/session', { token })).toEqual({ status: 401, body: { code: 'UNAUTHORIZED', message: '登录已过期，请重新登录 (session expired)' } });
    const write = await call(`${device(SCHOOL_A, 'ap-1')}/accept`, { method: 'POST', token, body: placement });
    expect(write).toMatchObject({ status: 401, body: { code: 'UNAUTHORIZED' } });
    expect(await stateOf(SCHOOL_A, 'ap-1')).toBe('discovered');
    expect((await call(`/api/v1/schools/${SCHOOL_A}/inbox`, { token })).status).toBe(200);
    expect((await call(`/api/v1/schools/${SCHOOL_A}/inbox`)).status).toBe(200);
  });

  it('five wrong passwords lock the name, also for the right password; others are not affected', async () => {
    for (let i = 1; i <= 4; i++) {
      const r = await call('/api/v1/session', { method: 'POST', body: { username: 'quxian', password: `Wrong#${i}pass` } });
      expect(r, `attempt ${i}`).toEqual({ status: 401, body: { code: 'UNAUTHORIZED', message: '用户名或密码错误 (wrong user name or password)' } });
    }
    const fifth = await call('/api/v1/session', { method: 'POST', body: { username: 'quxian', password: 'Wrong#5pass' } });
    expect(fifth.status).toBe(429);
    expect(fifth.body).toMatchObject({ code: 'TOO_MANY_ATTEMPTS', message: expect.stringMatching(/请于 \d\d:\d\d（北京时间）后重试/), details: { retryAt: expect.any(String) } });
    const right = await call('/api/v1/session', { method: 'POST', body: { username: 'quxian', password: PASSWORD } });
    expect(right.status).toBe(429);
    expect(Date.parse((right.body.details as { retryAt: string }).retryAt)).toBeGreaterThan(Date.now() + 10 * 60_000);
    await signIn('zhuangbei');
  });

  it('the admin token works everywhere as before, and `campus admin user add` through the collector', async () => {
    const admin = stack.collector.apiToken;
    const r = await call(`${device(SCHOOL_C, 'sw-1')}/accept`, { method: 'POST', token: admin, actor: '测试管理员', body: placement });
    expect(r.status).toBe(200);
    const history = (await call(`${device(SCHOOL_C, 'sw-1')}/history`)).body as unknown as { actor: string; actorName: string }[];
    expect(history.at(-1)).toMatchObject({ actor: 'admin-token/测试管理员', actorName: '测试管理员' });
    expect((await call('/api/v1/session', { token: admin })).body).toMatchObject({ user: { username: 'admin-token', role: 'admin' }, expiresAt: null });

    const added = await addUser({ collectorUrl: stack.collector.url, apiToken: admin }, { username: 'anbao', displayName: '安保科', role: 'security' });
    expect(added.password).toBeDefined();
    const token = await signIn('anbao', added.password);
    expect((await call(`/api/v1/schools/${SCHOOL_C}/settings`, { method: 'PUT', token, body: { classrooms: 18 } })).status).toBe(200);
    // a user's token is no way to the users API without permission 'users'
    await expect(addUser({ collectorUrl: stack.collector.url, apiToken: token }, { username: 'x2', displayName: 'x', role: 'admin' })).rejects.toThrow(/安保科 \(security, city\) may not manage users for the whole city/);
  });
});
