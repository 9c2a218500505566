/**
 * Ticket notifications against a real event bus, a real inventory (both backends) and loopback
 * HTTP servers that record what arrives and answer as WeCom, DingTalk or a message gateway would —
 * or fail: the vendors' error codes in a 200 body, 429, 500, no answer at all.
 */
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STORE_BACKENDS } from '../../tests/setup/store-backends.ts';
import { waitFor } from '../../tests/setup/wait.ts';
import { EventBus, type CampusEvent } from '../api/events.ts';
import type { Db } from '../store/db.ts';
import { Inventory } from '../store/inventory.ts';
import { Tickets, type Ticket } from '../tickets/store.ts';
import { ticketEvent } from '../tickets/watcher.ts';
import { loadNotifyConfig, parseNotifyConfig, type NotifyFile } from './config.ts';
import { TicketNotifier } from './notifier.ts';
import { startRecordingServer, WECOM_OK, type RecordingServer } from './recording-server.ts';

const SCHOOL = '3715020001';
const OTHER = '3715210001';
/** 2026-11-25 14:03 in China */
const SINCE = new Date('2026-11-25T06:03:00Z');
const CONSOLE = 'https://campus.example.edu.cn/';
const FAST = { gatherMs: 20, retryBaseMs: 20, rateLimitWaitMs: 20 };

const content = (r: { body: string }) => (JSON.parse(r.body) as { text: { content: string } }).text.content;

describe.each(STORE_BACKENDS)('ticket notifications on $name', (backend) => {
  let db: Db;
  let tickets: Tickets;
  let events: EventBus;
  let servers: RecordingServer[];
  let notifier: TicketNotifier | undefined;
  const warnings: string[] = [];
  const infos: string[] = [];

  const server = async () => {
    const s = await startRecordingServer();
    servers.push(s);
    return s;
  };
  const start = (cfg: unknown, tuning: { timeoutMs?: number } = {}, onDb = db) => {
    const log = { warn: (obj: object, msg: string) => warnings.push(`${msg} ${JSON.stringify(obj)}`), info: (obj: object, msg: string) => infos.push(`${msg} ${JSON.stringify(obj)}`) };
    notifier = new TicketNotifier({ db: onDb, events, config: parseNotifyConfig(cfg), log, tuning: { ...FAST, ...tuning } });
    notifier.start();
    return notifier;
  };
  const openAuto = async (device: string, fault = 'unreachable', school = SCHOOL) => (await tickets.openAuto({ schoolCode: school, agentId: 'gw-1', deviceId: device, fault, title: `t ${device}` }, SINCE, { reopenWithinMs: 0 }))!.ticket;
  const publish = (t: Ticket) => events.publish(ticketEvent(t));

  beforeEach(async () => {
    db = await backend.open();
    const inv = new Inventory(db);
    tickets = new Tickets(db);
    events = new EventBus();
    servers = [];
    warnings.length = 0;
    infos.length = 0;
    await inv.upsertRegion({ code: '371500', name: '聊城市', level: 'city' });
    await inv.upsertRegion({ code: '371502', name: '东昌府区', level: 'county', parentCode: '371500' });
    await inv.upsertRegion({ code: '371521', name: '阳谷县', level: 'county', parentCode: '371500' });
    await inv.upsertSchool({ code: SCHOOL, name: '东昌府区实验小学', countyCode: '371502', type: 'primary', ownership: 'public', studentCount: 1500, staffCount: 100 });
    await inv.upsertSchool({ code: OTHER, name: '阳谷县第一中学', countyCode: '371521', type: 'junior', ownership: 'public', studentCount: 900, staffCount: 80 });
    for (const school of [SCHOOL, OTHER]) {
      await inv.addAgent({ schoolCode: school, agentId: 'gw-1' });
      const devices = [
        { device: 'cam-gate', kind: 'camera', protocol: 'onvif' as const, address: '127.0.0.1:8000', attributes: {} },
        { device: 'sw-1', kind: 'switch', protocol: 'snmp' as const, address: '127.0.0.1:161', attributes: {} },
        ...Array.from({ length: 30 }, (_, i) => ({ device: `cam-${String(i + 1).padStart(2, '0')}`, kind: 'camera', protocol: 'onvif' as const, address: `127.0.0.1:${9000 + i}`, attributes: {} })),
      ];
      await inv.upsertDiscoveredDevices(school, 'gw-1', devices, new Date());
    }
  });
  afterEach(async () => {
    await notifier?.stop();
    notifier = undefined;
    for (const s of servers) await s.close();
    await backend.release(db);
  });

  it('posts a WeCom text message in Chinese: school, device, fault, China time, ticket number, console link', async () => {
    const wecom = await server();
    const n = start({ consoleUrl: CONSOLE, targets: [{ name: '装备群', url: `${wecom.url}/cgi-bin/webhook/send?key=k1`, format: 'wecom' }] });
    publish(await openAuto('cam-gate'));
    const [req] = await waitFor('the WeCom message', () => (wecom.requests.length ? wecom.requests : undefined));
    expect(req!.url.pathname + req!.url.search).toBe('/cgi-bin/webhook/send?key=k1');
    expect(req!.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(req!.body) as Record<string, unknown>;
    // exactly the documented text message, nothing else
    expect(Object.keys(body).sort()).toEqual(['msgtype', 'text']);
    expect(body.msgtype).toBe('text');
    expect(Object.keys(body.text as object)).toEqual(['content']);
    const id = (await tickets.list()).tickets[0]!.id;
    expect(content(req!)).toBe(
      [`【报修工单】新工单 #${id}`, `学校：东昌府区实验小学（${SCHOOL}）`, '设备：摄像机 cam-gate', '故障：设备离线（无法连接）', '故障开始：2026-11-25 14:03', `查看：${CONSOLE}#/school/${SCHOOL}?sel=cam-gate`].join('\n'),
    );
    await waitFor('the message counted as sent', () => (n.stats().sent === 1 ? true : undefined));
    expect(n.stats()).toMatchObject({ sent: 1, failed: 0, dropped: 0, queued: 0 });
  });

  it('tells of resolve and reopen by default, not of comments or closing', async () => {
    const wecom = await server();
    start({ targets: [{ url: wecom.url, format: 'wecom' }] });
    const t = await openAuto('sw-1');
    publish(t);
    await waitFor('the opening', () => (wecom.requests.length === 1 ? true : undefined));
    publish(await tickets.act(t.id, 'comment', 'admin', '已通知厂家'));
    publish(await tickets.act(t.id, 'resolve', 'system', '设备已恢复正常，工单自动解决'));
    publish(await tickets.act(t.id, 'close', 'admin', '核实'));
    publish(await tickets.act(t.id, 'reopen', 'admin', '又坏了'));
    // the reopen is the last published: once it is in, nothing else can follow
    const all = await waitFor('the reopen', () => (wecom.requests.some((r) => content(r).includes('工单重开')) ? wecom.requests : undefined));
    const text = all.map(content).join('\n---\n');
    expect(text).toContain('已解决（自动）');
    expect(text).toContain('交换机 sw-1');
    expect(text).not.toContain('已通知厂家');
    expect(text).not.toContain('已关闭');
    expect(text).toContain('工单重开（admin）');
  });

  it('signs DingTalk requests as DingTalk documents (recomputed here)', async () => {
    const ding = await server();
    const secret = 'SECtest0123456789abcdef';
    start({ targets: [{ url: `${ding.url}/robot/send?access_token=tok`, format: 'dingtalk', secret }] });
    publish(await openAuto('cam-gate', 'auth'));
    const [req] = await waitFor('the DingTalk message', () => (ding.requests.length ? ding.requests : undefined));
    expect(req!.url.searchParams.get('access_token')).toBe('tok');
    const timestamp = req!.url.searchParams.get('timestamp')!;
    expect(timestamp).toMatch(/^\d{13}$/);
    const expected = createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64');
    expect(req!.url.searchParams.get('sign')).toBe(expected);
    // the raw query carries it URL-encoded (base64's + / = escaped)
    expect(req!.url.search).toContain(`sign=${encodeURIComponent(expected)}`);
    const body = JSON.parse(req!.body) as { msgtype: string; text: { content: string } };
    expect(Object.keys(body).sort()).toEqual(['msgtype', 'text']);
    expect(body.msgtype).toBe('text');
    expect(body.text.content).toContain('摄像机认证失败（密码错误或被修改）');
  });

  it('posts our JSON to a message gateway, with its headers', async () => {
    const gw = await server();
    start({ consoleUrl: CONSOLE, targets: [{ url: `${gw.url}/notify`, format: 'json', headers: { 'X-Token': 'abc' } }] });
    const t = await openAuto('cam-gate');
    publish(t);
    const [req] = await waitFor('the gateway message', () => (gw.requests.length ? gw.requests : undefined));
    expect(req!.headers['x-token']).toBe('abc');
    const body = JSON.parse(req!.body) as { source: string; notifications: Array<Record<string, unknown>> };
    expect(body.source).toBe('campus');
    expect(body.notifications).toEqual([
      {
        action: 'open',
        actionName: '新工单',
        ticketId: t.id,
        state: 'open',
        school: { code: SCHOOL, name: '东昌府区实验小学' },
        countyCode: '371502',
        agentId: 'gw-1',
        deviceId: 'cam-gate',
        deviceKind: 'camera',
        device: '摄像机 cam-gate',
        fault: 'unreachable',
        faultName: '设备离线（无法连接）',
        title: 't cam-gate',
        faultSince: SINCE.toISOString(),
        at: t.updatedAt,
        actor: 'system',
        note: null,
        link: `${CONSOLE}#/school/${SCHOOL}?sel=cam-gate`,
      },
    ]);
  });

  it("gives each county's team only its schools", async () => {
    const all = await server();
    const dongchangfu = await server();
    const yanggu = await server();
    const n = start({
      targets: [
        { name: 'all', url: all.url, format: 'json' },
        { name: 'dcf', url: dongchangfu.url, format: 'json', scope: { counties: ['371502'] } },
        { name: 'yg', url: yanggu.url, format: 'json', scope: { schools: [OTHER] } },
      ],
    });
    publish(await openAuto('cam-gate', 'unreachable', SCHOOL));
    publish(await openAuto('cam-gate', 'unreachable', OTHER));
    const schoolsIn = (s: RecordingServer) => s.requests.flatMap((r) => (JSON.parse(r.body) as { notifications: Array<{ school: { code: string } }> }).notifications.map((x) => x.school.code));
    await waitFor('both tickets at the city-wide target', () => (schoolsIn(all).length === 2 ? true : undefined));
    // both changes were handed to every target together: the scoped ones have nothing else coming
    await waitFor('the scoped targets done', () => (n.stats().queued === 0 && n.stats().targets.every((t) => t.sent >= 1) ? true : undefined));
    expect(schoolsIn(dongchangfu)).toEqual([SCHOOL]);
    expect(schoolsIn(yanggu)).toEqual([OTHER]);
  });

  it('gathers a burst of 30 openings into a few messages that list them all, each within 2048 bytes', async () => {
    const wecom = await server();
    const n = start({ consoleUrl: CONSOLE, targets: [{ url: wecom.url, format: 'wecom', perMinute: 600 }] });
    const opened: Ticket[] = [];
    for (let i = 1; i <= 30; i++) opened.push(await openAuto(`cam-${String(i).padStart(2, '0')}`));
    for (const t of opened) publish(t);
    await waitFor('all 30 delivered', () => (n.stats().targets[0]!.delivered === 30 ? true : undefined));
    const texts = wecom.requests.map(content);
    expect(texts.length).toBeGreaterThan(1);
    expect(texts.length).toBeLessThanOrEqual(4);
    for (const t of texts) expect(Buffer.byteLength(t)).toBeLessThanOrEqual(2048);
    expect(texts[0]).toMatch(/^【报修工单】30 条变化：新工单 30/);
    expect(texts[0]).toMatch(/……等 30 条，其余 \d+ 条见下一条消息$/);
    const listed = texts.join('\n').match(/#\d+/g)!.map((s) => Number(s.slice(1)));
    expect(new Set(listed)).toEqual(new Set(opened.map((t) => t.id)));
  });

  it('tries again after 500, 429, a WeCom busy code and no answer, then delivers once', async () => {
    const wecom = await server();
    wecom.answers.push(
      { status: 500, body: 'oops' },
      { status: 429, headers: { 'retry-after': '0' } },
      { status: 200, headers: { 'content-type': 'application/json' }, body: '{"errcode":-1,"errmsg":"system busy"}' },
      'hang',
      WECOM_OK,
    );
    const n = start({ attempts: 6, targets: [{ url: wecom.url, format: 'wecom', perMinute: 600 }] }, { timeoutMs: 1000 });
    publish(await openAuto('cam-gate'));
    await waitFor('the message delivered', () => (n.stats().sent === 1 ? true : undefined)).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(n.stats())} ${wecom.requests.length} requests; ${warnings.join('; ')}`);
    });
    expect(wecom.requests).toHaveLength(5);
    expect(new Set(wecom.requests.map((r) => r.body)).size).toBe(1);
    expect(n.stats().targets[0]).toMatchObject({ sent: 1, delivered: 1, failed: 0, retries: 4 });
    expect(warnings.join('\n')).toContain('system busy');
    expect(warnings.join('\n')).toContain('no answer within 1000 ms');
  });

  it('counts a message the robot refuses (errcode in a 200 body) as failed, with its errmsg, and does not retry a wrong key', async () => {
    const wecom = await server();
    wecom.fallback = { status: 200, headers: { 'content-type': 'application/json' }, body: '{"errcode":93000,"errmsg":"invalid webhook url"}' };
    const n = start({ targets: [{ name: '坏的机器人', url: wecom.url, format: 'wecom' }] });
    publish(await openAuto('cam-gate'));
    await waitFor('the failure counted', () => (n.stats().failed === 1 ? true : undefined));
    expect(wecom.requests).toHaveLength(1);
    expect(n.stats().targets[0]).toMatchObject({ name: '坏的机器人', sent: 0, failed: 1, retries: 0, lastError: 'errcode 93000: invalid webhook url' });
    expect(warnings.join('\n')).toContain('invalid webhook url');
  });

  it('keeps at most queueSize changes waiting, dropping the oldest and counting them', async () => {
    const gw = await server();
    gw.answers.push('hang');
    const n = start({ queueSize: 3, targets: [{ url: gw.url, format: 'json' }] }, { timeoutMs: 60_000 });
    const first = await openAuto('cam-01');
    publish(first);
    await waitFor('the first message in flight', () => (gw.requests.length === 1 ? true : undefined));
    const later: Ticket[] = [];
    for (let i = 2; i <= 11; i++) later.push(await openAuto(`cam-${String(i).padStart(2, '0')}`));
    for (const t of later) publish(t);
    await waitFor('ten changes queued or dropped at the target', () => (n.stats().targets[0]!.queued + n.stats().targets[0]!.dropped === 10 ? true : undefined));
    expect(n.stats()).toMatchObject({ queued: 3, dropped: 7 });
    gw.release();
    await waitFor('the rest delivered', () => (n.stats().targets[0]!.delivered === 4 ? true : undefined));
    const ids = gw.requests.flatMap((r) => (JSON.parse(r.body) as { notifications: Array<{ ticketId: number }> }).notifications.map((x) => x.ticketId));
    expect(ids).toEqual([first.id, ...later.slice(-3).map((t) => t.id)]);
  });

  it('never throws into the bus or holds it up: an unreachable target, an unknown ticket', async () => {
    const gone = await server();
    const deadUrl = gone.url;
    await gone.close();
    servers.splice(servers.indexOf(gone), 1);
    const n = start({ attempts: 2, targets: [{ url: deadUrl, format: 'wecom', perMinute: 600 }] });
    const seen: number[] = [];
    events.subscribe((e) => seen.push(e.id));
    const t = await openAuto('cam-gate');
    expect(() => publish(t)).not.toThrow();
    expect(() => events.publish({ ...(ticketEvent(t) as Extract<CampusEvent, { type: 'ticket' }>), ticketId: 999_999 })).not.toThrow();
    // the other listener heard both at once: nothing waited for the notifier
    expect(seen).toHaveLength(2);
    await waitFor('the unreachable target given up', () => (n.stats().failed === 1 ? true : undefined));
    expect(n.stats()).toMatchObject({ sent: 0, failed: 1, queued: 0 });
    expect(n.stats().targets[0]!.lastError).toMatch(/ECONNREFUSED/);
  });

  // ---- the outbox: what is queued survives a restart ----

  type OutboxRow = { target: string; ticketId: number; action: string; state: string; attempts: number; lastError: string | null };
  const outboxRows = () =>
    db.query<OutboxRow>(`SELECT target, (notice->>'ticketId')::int AS "ticketId", notice->>'action' AS action, state, attempts, last_error AS "lastError" FROM notify_outbox ORDER BY id`);
  const deadUrl = async () => {
    const gone = await server();
    await gone.close();
    servers.splice(servers.indexOf(gone), 1);
    return gone.url;
  };
  const jsonIds = (s: RecordingServer) => s.requests.flatMap((r) => (JSON.parse(r.body) as { notifications: Array<{ ticketId: number }> }).notifications.map((x) => x.ticketId));

  it('sends after a restart what was queued while the target was unreachable', async () => {
    const first = start({ attempts: 20, targets: [{ name: '装备群', url: await deadUrl(), format: 'json' }] });
    const opened = [await openAuto('cam-01'), await openAuto('cam-02'), await openAuto('cam-03')];
    for (const t of opened) publish(t);
    const refused = await waitFor('all three refused at least once', async () => {
      const rows = await outboxRows();
      return rows.length === 3 && rows.every((r) => r.attempts >= 1) ? rows : undefined;
    });
    expect(refused.map((r) => [r.target, r.state])).toEqual(Array(3).fill(['装备群', 'queued']));
    expect(refused[0]!.lastError).toMatch(/ECONNREFUSED/);
    await first.stop();
    expect(first.stats().sent).toBe(0);

    // a new collector on the same database; the target (same name) is reachable again
    const gw = await server();
    const second = start({ attempts: 20, targets: [{ name: '装备群', url: gw.url, format: 'json' }] });
    await waitFor('the three changes delivered', () => (second.stats().targets[0]!.delivered === 3 ? true : undefined));
    expect(jsonIds(gw)).toEqual(opened.map((t) => t.id));
    expect((await outboxRows()).map((r) => r.state)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(infos.join('\n')).toMatch(/resuming ticket notifications left from before.*"queued":3/);
    expect(second.stats()).toMatchObject({ sent: 1, failed: 0, queued: 0 });
  });

  it('sends nothing twice after a restart: what was delivered before stays delivered', async () => {
    const gw = await server();
    const cfg = { targets: [{ name: 'gw', url: gw.url, format: 'json' }] };
    const first = start(cfg);
    const a = await openAuto('cam-01');
    publish(a);
    await waitFor('the first change delivered', () => (first.stats().targets[0]!.delivered === 1 ? true : undefined));
    await first.stop();

    const second = start(cfg);
    const b = await openAuto('cam-02');
    publish(b);
    await waitFor('the second change delivered', () => (second.stats().targets[0]!.delivered === 1 ? true : undefined));
    // the oldest is sent first: had the first change been queued again, it would have come before
    expect(jsonIds(gw)).toEqual([a.id, b.id]);
    expect((await outboxRows()).map((r) => [r.ticketId, r.state, r.attempts])).toEqual([
      [a.id, 'delivered', 1],
      [b.id, 'delivered', 1],
    ]);
  });

  it('writes a burst of hundreds of changes to the outbox in one statement', async () => {
    const gw = await server();
    let inserts = 0;
    const counting: Db = {
      kind: db.kind,
      query: (sql, params) => {
        if (/INSERT INTO notify_outbox/.test(sql)) inserts++;
        return db.query(sql, params);
      },
      exec: (sql) => db.exec(sql),
      transaction: (fn) => db.transaction(fn),
      ping: () => db.ping(),
      close: () => db.close(),
    };
    start({ targets: [{ name: 'gw', url: `${gw.url}/json`, format: 'json' }, { name: 'robot', url: `${gw.url}/robot`, format: 'wecom', perMinute: 600 }] }, {}, counting);
    const changes: Ticket[] = [];
    for (const school of [SCHOOL, OTHER]) {
      for (let i = 1; i <= 30; i++) {
        const t = await openAuto(`cam-${String(i).padStart(2, '0')}`, 'unreachable', school);
        changes.push(t, await tickets.act(t.id, 'resolve', 'system', '设备已恢复正常，工单自动解决'));
      }
    }
    for (const t of changes) publish(t);
    const rows = await waitFor('240 rows in the outbox', async () => {
      const r = await outboxRows();
      return r.length === 240 ? r : undefined;
    });
    expect(inserts).toBe(1);
    expect(rows.filter((r) => r.target === 'gw')).toHaveLength(120);
    expect(rows.filter((r) => r.target === 'robot')).toHaveLength(120);
    expect(new Set(rows.map((r) => r.action))).toEqual(new Set(['open', 'resolve']));
  });

  it('takes over a change leased by a collector that crashed mid-send once the lease runs out, its attempts counted', async () => {
    const t = await openAuto('cam-01');
    const notice = { action: 'open', ticketId: t.id, state: 'open', schoolCode: SCHOOL, schoolName: '东昌府区实验小学', countyCode: '371502', agentId: 'gw-1', deviceId: 'cam-01', deviceKind: 'camera', fault: 'unreachable', title: 't cam-01', faultSince: SINCE.toISOString(), at: t.updatedAt, actor: 'system', note: null };
    // as the crashed collector left it: two attempts made, leased for another second
    await db.query(`INSERT INTO notify_outbox (target, notice, created_at, next_attempt_at, attempts, last_error) VALUES ('gw', $1::jsonb, now(), now() + interval '1 second', 2, 'ECONNREFUSED')`, [JSON.stringify(notice)]);
    const gw = await server();
    const n = start({ attempts: 3, targets: [{ name: 'gw', url: gw.url, format: 'json' }] });
    await waitFor('the leased change delivered', () => (n.stats().targets[0]!.delivered === 1 ? true : undefined));
    expect(jsonIds(gw)).toEqual([t.id]);
    expect((await outboxRows()).map((r) => [r.state, r.attempts])).toEqual([['delivered', 3]]);
  });

  it('keeps the waiting changes of a renamed target and says so; deletes done rows after keepDays', async () => {
    const old = start({ attempts: 20, targets: [{ name: '旧群', url: await deadUrl(), format: 'json' }] });
    publish(await openAuto('cam-01'));
    await waitFor('the change in the outbox', async () => ((await outboxRows()).length === 1 ? true : undefined));
    await old.stop();
    // a delivered row from long ago, for the retention sweep
    await db.query(`INSERT INTO notify_outbox (target, notice, created_at, next_attempt_at, state, done_at, attempts) VALUES ('新群', '{}', now() - interval '9 days', now() - interval '9 days', 'delivered', now() - interval '8 days', 1)`);

    const gw = await server();
    start({ keepDays: 7, targets: [{ name: '新群', url: gw.url, format: 'json' }] });
    await waitFor('the old delivered row deleted', async () => ((await outboxRows()).length === 1 ? true : undefined));
    expect(warnings.join('\n')).toMatch(/target "旧群", which the notify file no longer names.*"queued":1/);
    expect((await outboxRows()).map((r) => [r.target, r.state])).toEqual([['旧群', 'queued']]);
    expect(gw.requests).toHaveLength(0);
  });
});

describe('the notification file', () => {
  const ok: NotifyFile = { targets: [{ url: 'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x', format: 'wecom' }] };
  it('takes a good file and refuses a bad one with the place and the reason', () => {
    expect(parseNotifyConfig(ok)).toEqual(ok);
    expect(() => parseNotifyConfig({ targets: [] })).toThrow(/\/targets/);
    expect(() => parseNotifyConfig({ targets: [{ url: 'ftp://x', format: 'wecom' }] })).toThrow(/\/targets\/0\/url/);
    expect(() => parseNotifyConfig({ targets: [{ url: 'http://x', format: 'slack' }] })).toThrow(/\/targets\/0\/format/);
    expect(() => parseNotifyConfig({ targets: [{ url: 'http://x', format: 'wecom', secret: 's' }] })).toThrow(/secret is DingTalk's/);
    expect(() => parseNotifyConfig({ targets: [{ url: 'http://x', format: 'json', scope: { counties: ['3715'] } }] })).toThrow(/scope\/counties\/0/);
    expect(() => parseNotifyConfig({ on: ['comment'], targets: ok.targets })).toThrow(/\/on\/0/);
    expect(() => parseNotifyConfig({ ...ok, webhook: 'x' })).toThrow(/webhook|additional/i);
    const robot = { url: 'http://x', format: 'wecom' };
    expect(() => parseNotifyConfig({ targets: [{ ...robot, name: '装备群' }, { ...robot, name: '装备群' }] })).toThrow(/\/targets\/1\/name: "装备群" is another target's name/);
    // an unnamed second wecom target is wecom-2
    expect(() => parseNotifyConfig({ targets: [{ ...robot, name: 'wecom-2' }, robot] })).toThrow(/\/targets\/1\/name: "wecom-2"/);
  });

  it('warns when the file (it holds webhook keys) is readable by everyone; names a missing file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'campus-notify-'));
    try {
      const file = join(dir, 'notify.yaml');
      writeFileSync(file, 'targets:\n  - url: http://127.0.0.1:9/x\n    format: json\n');
      const warned: string[] = [];
      chmodSync(file, 0o600);
      loadNotifyConfig(file, (m) => warned.push(m));
      expect(warned).toEqual([]);
      chmodSync(file, 0o644);
      loadNotifyConfig(file, (m) => warned.push(m));
      expect(warned).toEqual([expect.stringMatching(/readable by every user.*chmod 600/)]);
      expect(() => loadNotifyConfig(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml: not found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stops `campus collector` at start with the reason when the file is bad', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'campus-notify-'));
    try {
      const file = join(dir, 'notify.yaml');
      writeFileSync(file, 'targets:\n  - url: http://127.0.0.1:9/x\n    format: slack\n', { mode: 0o600 });
      const bin = fileURLToPath(new URL('../../bin/campus.js', import.meta.url));
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CAMPUS_|INFLUX_|DATABASE_URL$|PG)/.test(k)));
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        execFile(process.execPath, [bin, 'collector', '--data-dir', dir, '--http-port', '0'], { env: { ...env, CAMPUS_NOTIFY_FILE: file }, timeout: 120_000 }, (err, _out, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stderr }),
        );
      });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`campus: notification file ${file}: /targets/0/format`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
