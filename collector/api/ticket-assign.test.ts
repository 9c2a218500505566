/**
 * Assigning repair tickets to people, through fastify's `inject()` on both store backends: who a
 * ticket may be assigned to (enabled users with 'tickets' whose scope covers its school, the
 * school's own first), the reasons an assignee is refused, the display name in ticket answers
 * (free-text assignees of old tickets shown as they are), and `assignee=me`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { STORE_BACKENDS } from '../../tests/setup/store-backends.ts';
import { Users } from '../auth/users.ts';
import { Ingest } from '../ingest/ingest.ts';
import { Inventory, type Db } from '../store/index.ts';
import { FileLineSink } from '../telemetry/file-sink.ts';
import { Tickets, type Ticket } from '../tickets/store.ts';
import { buildApi } from './app.ts';

const TOKEN = 'test-admin-token-0123456789';
const SCHOOL = '3715020001';
const NEIGHBOUR = '3715020002'; // same county
const FAR = '3715210001'; // another county
const PASSWORD = 'Campus#2025';
const silent = { info() {}, warn() {}, error() {} };
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'campus-ticket-assign-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe.each(STORE_BACKENDS)('ticket assignees on $name', (backend) => {
  let db: Db;
  let sink: FileLineSink;
  let app: FastifyInstance;
  let users: Users;
  let tickets: Tickets;
  let ticket: Ticket;

  beforeEach(async () => {
    db = await backend.open();
    const inventory = new Inventory(db);
    await inventory.upsertRegion({ code: '371500', name: '聊城市', level: 'city' });
    await inventory.upsertRegion({ code: '371502', name: '东昌府区', level: 'county', parentCode: '371500' });
    await inventory.upsertRegion({ code: '371521', name: '阳谷县', level: 'county', parentCode: '371500' });
    const school = { type: 'primary', ownership: 'public', studentCount: 1500, staffCount: 100 } as const;
    await inventory.upsertSchool({ code: SCHOOL, name: '东昌府区实验小学', countyCode: '371502', ...school });
    await inventory.upsertSchool({ code: NEIGHBOUR, name: '东昌府区第二小学', countyCode: '371502', ...school });
    await inventory.upsertSchool({ code: FAR, name: '阳谷县实验小学', countyCode: '371521', ...school });
    users = new Users(db);
    const add = (username: string, displayName: string, role: 'admin' | 'school-admin' | 'security' | 'equipment', where: { schoolCode?: string; countyCode?: string } = {}) =>
      users.add({ username, displayName, role, ...where, password: PASSWORD });
    await add('chen', '陈科长', 'admin');
    await add('zhou', '周工', 'equipment');
    await add('an', '安工', 'equipment');
    await add('li', '李师傅', 'equipment', { countyCode: '371502' });
    await add('zhang', '张工', 'equipment', { schoolCode: SCHOOL });
    await add('wu', '吴工', 'equipment', { schoolCode: NEIGHBOUR }); // another school of the county
    await add('ma', '马工', 'equipment', { countyCode: '371521' }); // another county
    await add('wang', '王老师', 'school-admin', { schoolCode: SCHOOL }); // may not work tickets
    await add('sun', '孙科员', 'security'); // may not work tickets
    await add('old', '退休的刘工', 'equipment', { schoolCode: SCHOOL });
    await users.update('old', { disabled: true });
    sink = new FileLineSink({ dir: await mkdtemp(join(tmp, 'telemetry-')) });
    const ingest = new Ingest({ mqttUrl: 'mqtt://127.0.0.1:9', username: 'collector', password: 'unused', inventory, sink, logger: silent });
    tickets = new Tickets(db);
    app = await buildApi({ inventory, db, ingest, sink, apiToken: TOKEN, tickets });
    await app.ready();
    ticket = await tickets.openManual({ schoolCode: SCHOOL, fault: 'manual', title: '镜头起雾' }, 'admin-token');
  });
  afterEach(async () => {
    await app.close();
    await sink.close();
    await backend.release(db);
  });

  async function signIn(username: string): Promise<string> {
    const r = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { username, password: PASSWORD } });
    expect(r.statusCode, r.body).toBe(200);
    return r.json<{ token: string }>().token;
  }
  const assign = (id: number, assignee: string, token = TOKEN) => app.inject({ method: 'POST', url: `/api/v1/tickets/${id}/assign`, headers: bearer(token), payload: { assignee } });

  it('lists who may work the ticket: its school’s people, then the county’s, then the city’s', async () => {
    const token = await signIn('li');
    const r = await app.inject({ method: 'GET', url: `/api/v1/tickets/${ticket.id}/assignees`, headers: bearer(token) });
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toEqual({
      assignees: [
        { username: 'zhang', displayName: '张工', role: 'equipment', scope: { level: 'school', code: SCHOOL, name: '东昌府区实验小学' } },
        { username: 'li', displayName: '李师傅', role: 'equipment', scope: { level: 'county', code: '371502', name: '东昌府区' } },
        // the city's, in pinyin order of their names: 安, 陈, 周
        { username: 'an', displayName: '安工', role: 'equipment', scope: { level: 'city' } },
        { username: 'chen', displayName: '陈科长', role: 'admin', scope: { level: 'city' } },
        { username: 'zhou', displayName: '周工', role: 'equipment', scope: { level: 'city' } },
      ],
    });
  });

  it('shows the list only to those who may work the ticket', async () => {
    const url = `/api/v1/tickets/${ticket.id}/assignees`;
    expect((await app.inject({ method: 'GET', url })).statusCode).toBe(401);
    const wang = await app.inject({ method: 'GET', url, headers: bearer(await signIn('wang')) });
    expect(wang.statusCode).toBe(403);
    expect(wang.json<{ message: string }>().message).toBe(`王老师 (school-admin, ${SCHOOL}) may not work repair tickets at ${SCHOOL}`);
    expect((await app.inject({ method: 'GET', url, headers: bearer(await signIn('wu')) })).statusCode).toBe(403);
    expect((await app.inject({ method: 'GET', url, headers: bearer(await signIn('zhang')) })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url, headers: bearer(TOKEN) })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/api/v1/tickets/999999/assignees', headers: bearer(TOKEN) })).statusCode).toBe(404);
  });

  it('refuses an assignee who does not exist, is disabled or may not work tickets at the school, saying why', async () => {
    const token = await signIn('zhang');
    const refused = async (assignee: string, why: string) => {
      const r = await assign(ticket.id, assignee, token);
      expect(r.statusCode, r.body).toBe(400);
      expect(r.json()).toMatchObject({ code: 'INVALID_INPUT', message: `cannot assign ticket ${ticket.id} to ${assignee}: ${why}` });
    };
    await refused('nobody', 'user nobody does not exist');
    await refused('old', 'user old (退休的刘工) is disabled');
    await refused('wang', `王老师 (school-admin, ${SCHOOL}) may not work repair tickets at ${SCHOOL}`);
    await refused('sun', `孙科员 (security, city) may not work repair tickets at ${SCHOOL}`);
    await refused('wu', `吴工 (equipment, ${NEIGHBOUR}) may not work repair tickets at ${SCHOOL}`);
    await refused('ma', `马工 (equipment, 371521) may not work repair tickets at ${SCHOOL}`);
    await refused('王工', 'user 王工 does not exist'); // free text is no longer taken
    expect((await app.inject({ method: 'POST', url: `/api/v1/tickets/${ticket.id}/assign`, headers: bearer(token), payload: {} })).statusCode).toBe(400);
    // nothing changed
    expect(await tickets.get(ticket.id)).toMatchObject({ state: 'open', assignee: null, assigneeName: null });
    expect((await tickets.events(ticket.id)).map((e) => e.action)).toEqual(['open']);
  });

  it('stores the user name and answers with the display name; an old free-text assignee reads as it was', async () => {
    const r = await assign(ticket.id, 'li', await signIn('zhang'));
    expect(r.statusCode, r.body).toBe(200);
    expect(r.json()).toMatchObject({ id: ticket.id, state: 'in-progress', assignee: 'li', assigneeName: '李师傅' });
    const full = (await app.inject({ method: 'GET', url: `/api/v1/tickets/${ticket.id}` })).json<Ticket & { events: Array<{ action: string; actor: string; note: string | null }> }>();
    expect(full).toMatchObject({ assignee: 'li', assigneeName: '李师傅' });
    expect(full.events.at(-1)).toEqual(expect.objectContaining({ action: 'assign', actor: 'user/zhang', note: '→ 李师傅' }));

    // a ticket assigned in free text before assignees were users
    const legacy = await tickets.openManual({ schoolCode: SCHOOL, fault: 'manual', title: '交换机风扇异响' }, 'admin-token');
    await tickets.act(legacy.id, 'assign', 'admin-token', null, { assignee: '王工' });
    const list = (await app.inject({ method: 'GET', url: `/api/v1/tickets?school=${SCHOOL}` })).json<{ tickets: Ticket[] }>().tickets;
    expect(list.find((t) => t.id === legacy.id)).toMatchObject({ assignee: '王工', assigneeName: null });
    expect(list.find((t) => t.id === ticket.id)).toMatchObject({ assignee: 'li', assigneeName: '李师傅' });
  });

  it('lists the signed-in user’s tickets with assignee=me', async () => {
    const other = await tickets.openManual({ schoolCode: SCHOOL, fault: 'manual', title: '交换机风扇异响' }, 'admin-token');
    const far = await tickets.openManual({ schoolCode: FAR, fault: 'manual', title: '班牌黑屏' }, 'admin-token');
    expect((await assign(ticket.id, 'li')).statusCode).toBe(200);
    expect((await assign(other.id, 'zhang')).statusCode).toBe(200);
    expect((await assign(far.id, 'ma')).statusCode).toBe(200);

    const mine = async (username: string) => {
      const r = await app.inject({ method: 'GET', url: '/api/v1/tickets?assignee=me&state=active', headers: bearer(await signIn(username)) });
      expect(r.statusCode, r.body).toBe(200);
      return r.json<{ total: number; tickets: Ticket[] }>();
    };
    expect(await mine('li')).toMatchObject({ total: 1, tickets: [{ id: ticket.id, assignee: 'li' }] });
    expect(await mine('zhang')).toMatchObject({ total: 1, tickets: [{ id: other.id, assignee: 'zhang' }] });
    expect(await mine('zhou')).toEqual({ total: 0, tickets: [] });
    // with the other filters
    expect((await app.inject({ method: 'GET', url: `/api/v1/tickets?assignee=me&school=${FAR}`, headers: bearer(await signIn('li')) })).json()).toEqual({ total: 0, tickets: [] });

    expect((await app.inject({ method: 'GET', url: '/api/v1/tickets?assignee=me' })).statusCode).toBe(401);
    const token = await app.inject({ method: 'GET', url: '/api/v1/tickets?assignee=me', headers: bearer(TOKEN) });
    expect(token.statusCode).toBe(400);
    expect(token.json<{ message: string }>().message).toMatch(/assignee=me needs a user signed in/);
  });
});
