/**
 * Sign-in and permissions in the console (Chromium), against the collector's accounts: a wrong
 * password and a locked name show the collector's words; a school network administrator accepts the
 * corridor camera at their school — through a session that expires under the open accept dialog, so
 * signing in again and 确定 once more stores what was typed before (the campus plan being edited
 * survives an expiry alike) — and sees another school read-only; signing out makes the console
 * read-only again; the other school's administrator finds 接收 disabled here; an equipment manager
 * works the gate camera's ticket but is offered no 接收; histories name people; a bureau admin adds
 * an account on 用户管理, its generated password signs in, and its owner changes it; on its 安全审计
 * tab the admin finds a school administrator's failed and successful sign-ins and exports them.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Ticket } from '../../collector/tickets/store.ts';
import { SCHOOL_A, waitFor } from '../e2e/stack.ts';
import { startConsoleFixture, type ConsoleFixture } from './fixture.ts';
import { BROWSER_TEST_TIMEOUT_MS } from './serve-console.ts';

const PASSWORD = 'Xiaoyuan#2024';
interface SchoolRow { code: string; name: string; countyCode: string }

describe('sign-in and permissions in the console', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  let f: ConsoleFixture;
  let schoolA: SchoolRow;
  let other: SchoolRow;
  const inboxRow = (deviceId: string) => f.page.locator(`[data-testid=inbox] tr[data-device="${deviceId}"]`);
  const openSchool = async (code: string) => {
    await f.page.goto(`${f.base}/#/school/${code}`);
    await f.page.locator(`[data-testid=school-view][data-school="${code}"] [data-testid=inbox]`).waitFor({ state: 'attached' }); // an empty inbox has no height
  };

  beforeAll(async () => {
    f = await startConsoleFixture({ pgAdminUrl: inject('postgresUrl'), influxUrl: inject('influxUrl'), ticketOpenAfterMs: 1_000 });
    const schools = await f.api<SchoolRow[]>('/api/v1/schools');
    schoolA = schools.find((s) => s.code === SCHOOL_A)!;
    other = schools.find((s) => s.countyCode !== schoolA.countyCode)!;
    await f.addUser({ username: 'wang', displayName: '王老师', role: 'school-admin', schoolCode: SCHOOL_A, password: PASSWORD });
    await f.addUser({ username: 'zhao', displayName: '赵老师', role: 'school-admin', schoolCode: other.code, password: PASSWORD });
    await f.addUser({ username: 'li', displayName: '李师傅', role: 'equipment', countyCode: schoolA.countyCode, password: PASSWORD });
    await f.addUser({ username: 'suo', displayName: '孙老师', role: 'school-admin', schoolCode: SCHOOL_A, password: PASSWORD });
    await f.addUser({ username: 'chen', displayName: '陈科长', role: 'admin', password: PASSWORD });
  }, 180_000);
  afterAll(async () => f?.close());

  it('a wrong password, and a locked name, are refused in the collector’s words', async () => {
    const { page } = f;
    await page.goto(`${f.base}/#/city`);
    await page.locator('[data-testid=settings]').click();
    await page.locator('[data-testid=username]').fill('wang');
    await page.locator('[data-testid=password]').fill('not-the-password');
    await page.locator('[data-testid=sign-in-submit]').click();
    const err = page.locator('[data-testid=sign-in-error]');
    await err.waitFor();
    expect(await err.innerText()).toContain('用户名或密码错误');
    expect(await page.locator('[data-testid=password]').inputValue()).toBe(''); // typed afresh
    expect(await page.locator('[data-testid=user]').count()).toBe(0);
    await f.shot('users-wrong-password.png');

    // five failures lock the name: the form says so, and until when
    for (let i = 0; i < 5; i++) await fetch(`${f.base}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'suo', password: 'wrong' }) });
    await page.locator('[data-testid=username]').fill('suo');
    await page.locator('[data-testid=password]').fill(PASSWORD);
    await page.locator('[data-testid=sign-in-submit]').click();
    await page.locator('[data-testid=sign-in-error]', { hasText: '锁定' }).waitFor();
    expect(await err.innerText()).toMatch(/\d\d:\d\d/);
    expect(await page.locator('[data-testid=user]').count()).toBe(0);
    await page.locator('[data-testid=sign-in-cancel]').click();
  });

  it('a school network administrator accepts the corridor camera at their school, through an expired session', async () => {
    const { page } = f;
    const cam = f.corridorEast;
    // signed in from the city view, a school's account lands on its school
    await page.goto(`${f.base}/#/city`);
    await f.signInAs('wang', PASSWORD);
    expect(await page.locator('[data-testid=user]').innerText()).toBe(`王老师 · 学校网管 · ${schoolA.name}`);
    await page.waitForFunction((code) => location.hash.startsWith(`#/school/${code}`), SCHOOL_A);
    await openSchool(SCHOOL_A);
    const accept = inboxRow(cam.deviceId).locator('[data-action=accept]');
    expect(await accept.isEnabled()).toBe(true);
    expect(await page.locator('[data-testid=readonly-note]').count()).toBe(0);
    await f.shot('users-school-admin.png');

    await accept.click();
    await page.locator('[data-testid=placement][data-mode=accept]').waitFor();
    const pos = cam.placement.position as { lon: number; lat: number };
    const pin = await f.pointOf(pos.lat, pos.lon);
    await page.mouse.click(pin.x, pin.y);
    await page.locator('[data-testid=placement-position]').filter({ hasText: /\d+\.\d+, \d+\.\d+/ }).waitFor();
    await page.locator('[data-testid=heading]').fill('263');
    await page.locator('[data-testid=hfov]').fill(String(cam.placement.camera!.hfovDeg));
    await page.locator('[data-testid=mount-height]').fill('3.5');
    const typedAt = await page.locator('[data-testid=placement-position]').innerText();

    // the session ends under the open dialog (as after 30 idle minutes): 确定 opens the sign-in form
    const token = await page.evaluate(() => sessionStorage.getItem('campus.token'));
    expect((await fetch(`${f.base}/api/v1/session`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } })).status).toBe(204);
    await page.locator('[data-testid=confirm-placement]').click();
    await page.locator('[data-testid=sign-in-reason][data-reason=expired]').waitFor();
    expect(await page.locator('[data-testid=sign-in-reason]').innerText()).toBe('登录已过期，请重新登录');
    expect(await page.locator('[data-testid=placement-error]').innerText()).toContain('登录已过期');
    expect(await page.locator('[data-testid=username]').inputValue()).toBe('wang');
    expect((await f.api<{ deviceId: string; state: string }[]>(`/api/v1/schools/${SCHOOL_A}/devices`)).find((d) => d.deviceId === cam.deviceId)?.state).toBe('discovered');
    await f.shot('users-session-expired.png');

    // signed in again, the dialog is as it was: 确定 stores what was typed before
    await f.signInAs('wang', PASSWORD);
    expect(await page.locator('[data-testid=heading]').inputValue()).toBe('263');
    expect(await page.locator('[data-testid=mount-height]').inputValue()).toBe('3.5');
    expect(await page.locator('[data-testid=placement-position]').innerText()).toBe(typedAt);
    await page.locator('[data-testid=confirm-placement]').click();
    await page.locator('[data-testid=placement]').waitFor({ state: 'detached' });
    await inboxRow(cam.deviceId).waitFor({ state: 'detached' });
    const map = await f.api<{ devices: Array<{ deviceId: string; camera?: { headingDeg: number; mountHeightM?: number } | null }> }>(`/api/v1/schools/${SCHOOL_A}/map`);
    expect(map.devices.find((d) => d.deviceId === cam.deviceId)?.camera).toMatchObject({ headingDeg: 263, mountHeightM: 3.5 });
    const history = await f.api<Array<{ toState: string; actor: string; actorName?: string }>>(`/api/v1/schools/${SCHOOL_A}/devices/gw-1/${cam.deviceId}/history`);
    expect(history.at(-1)).toMatchObject({ toState: 'enrolled', actor: 'user/wang', actorName: '王老师' });

    // the device's history in the console names the person
    await page.locator(`[data-testid=devices] tr[data-device="${cam.deviceId}"]`).click();
    await page.locator('[data-testid=device-history] tr[data-to=enrolled] [data-testid=history-actor]', { hasText: '王老师' }).waitFor();
  });

  it('the campus plan being edited survives an expired session: signed in again, 保存 stores it', async () => {
    const { page } = f;
    await page.locator('[data-testid=edit-plan]').click();
    await page.locator('[data-testid=plan-shapes] tr[data-feature=teaching-building]').click();
    const name = page.locator('[data-testid=selected-shape] [data-testid=shape-name]');
    await name.fill('一号教学楼');
    await page.locator('[data-testid=plan-shapes] tr[data-feature=teaching-building]', { hasText: '一号教学楼' }).waitFor();
    const token = await page.evaluate(() => sessionStorage.getItem('campus.token'));
    await fetch(`${f.base}/api/v1/session`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    await page.locator('[data-testid=save-plan]').click();
    await page.locator('[data-testid=sign-in-reason][data-reason=expired]').waitFor();
    expect(await page.locator('[data-testid=plan-error]').innerText()).toContain('登录已过期');
    await f.signInAs('wang', PASSWORD);
    expect(await page.locator('[data-testid=plan-shapes] tr[data-feature=teaching-building]').innerText()).toContain('一号教学楼');
    await page.locator('[data-testid=save-plan]').click();
    await page.locator('[data-testid=plan-saved]').waitFor();
    const campus = await f.api<{ features: Array<{ id: string; properties: { name?: string } }> }>(`/api/v1/schools/${SCHOOL_A}/campus`);
    expect(campus.features.find((x) => x.id === 'teaching-building')?.properties.name).toBe('一号教学楼');
  });

  it('another school’s page is read-only for them, with the reason', async () => {
    const { page } = f;
    await openSchool(other.code);
    const note = page.locator('[data-testid=readonly-note]');
    await note.waitFor();
    expect(await note.innerText()).toBe(`只读：您的账号只能修改${schoolA.name}`);
    expect(await page.locator('[data-testid=planned-csv]').isDisabled()).toBe(true);
    expect(await page.locator('label:has([data-testid=planned-csv])').getAttribute('title')).toBe(`只读：您的账号只能修改${schoolA.name}`);
    expect(await page.locator('[data-testid=floorplan-file]').isDisabled()).toBe(true);
    const edit = page.locator('[data-testid=edit-plan]');
    if (await edit.count()) expect(await edit.isDisabled()).toBe(true);
    await f.shot('users-readonly.png');
  });

  it('signing out makes the console read-only again, and the session is over at the collector', async () => {
    const { page } = f;
    await openSchool(SCHOOL_A);
    const token = await page.evaluate(() => sessionStorage.getItem('campus.token'));
    await f.signOut();
    expect(await page.evaluate(() => sessionStorage.getItem('campus.token'))).toBeNull();
    await waitFor('the session ended at the collector', async () => ((await fetch(`${f.base}/api/v1/session`, { headers: { authorization: `Bearer ${token}` } })).status === 401 ? true : undefined));
    expect(await page.locator('[data-testid=settings]').innerText()).toBe('登录');
    // still readable; what changes things waits for a sign-in
    const csv = page.locator('[data-testid=planned-csv]');
    expect(await csv.isDisabled()).toBe(true);
    expect(await page.locator('label:has([data-testid=planned-csv])').getAttribute('title')).toBe('登录后可修改');
    expect(await page.locator('[data-testid=readonly-note]').count()).toBe(0);
    await f.shot('users-signed-out.png');
  });

  it('the other school’s administrator finds 接收 here disabled, saying why', async () => {
    const { page } = f;
    await f.announce('cam-new-gate-2');
    await f.signInAs('zhao', PASSWORD);
    await openSchool(SCHOOL_A);
    const accept = inboxRow('cam-new-gate-2').locator('[data-action=accept]');
    await accept.waitFor();
    expect(await accept.isDisabled()).toBe(true);
    expect(await accept.getAttribute('title')).toBe(`只读：您的账号只能修改${other.name}`);
    expect(await page.locator('[data-testid=readonly-note]').innerText()).toBe(`只读：您的账号只能修改${other.name}`);
    // the collector says no as well, naming who may not do what
    const token = await page.evaluate(() => sessionStorage.getItem('campus.token'));
    const res = await fetch(`${f.base}/api/v1/schools/${SCHOOL_A}/devices/gw-1/cam-new-gate-2/reject`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(403);
    await f.signOut();
  });

  it('an equipment manager works the gate camera’s ticket and is offered no 接收', async () => {
    const { page } = f;
    const ticket = await waitFor('the gate camera’s ticket', async () => (await f.api<{ tickets: Ticket[] }>(`/api/v1/tickets?school=${SCHOOL_A}&state=active`)).tickets.find((t) => t.deviceId === f.spec.gateCamera));
    await f.signInAs('li', PASSWORD);
    expect(await page.locator('[data-testid=user]').innerText()).toContain('李师傅 · 装备管理');
    await openSchool(SCHOOL_A);
    await inboxRow('cam-new-gate-2').waitFor();
    expect(await page.locator('[data-testid=inbox] [data-action=accept]').count()).toBe(0);
    expect(await page.locator('[data-testid=planned-import]').count()).toBe(0);
    expect(await page.locator('[data-testid=edit-plan]').count()).toBe(0);
    expect(await page.locator('[data-testid=readonly-note]').count()).toBe(0);

    const row = page.locator(`[data-testid=tickets] tr[data-ticket="${ticket.id}"]`);
    await row.waitFor();
    const start = row.locator('[data-action=ticket-start]');
    expect(await start.isEnabled()).toBe(true);
    await start.click();
    await page.locator('[data-testid=ticket-note]').fill('已到场');
    await page.locator('[data-testid=ticket-submit]').click();
    await page.locator(`[data-testid=tickets] tr[data-ticket="${ticket.id}"][data-state=in-progress]`).waitFor();
    // its history names the person
    await row.locator('[data-action=ticket-history]').click();
    await page.locator(`tr[data-history="${ticket.id}"] tr[data-action=start] [data-testid=history-actor]`, { hasText: '李师傅' }).waitFor();
    await f.shot('users-equipment.png');
    const stored = await f.api<{ events: Array<{ action: string; actor: string; actorName?: string }> }>(`/api/v1/tickets/${ticket.id}`);
    expect(stored.events.at(-1)).toMatchObject({ action: 'start', actor: 'user/li', actorName: '李师傅' });
    await f.signOut();
  });

  it('a bureau admin adds an account on 用户管理; its generated password, shown once, signs in', async () => {
    const { page } = f;
    await f.signInAs('chen', PASSWORD);
    await page.locator('[data-testid=users-link]').click();
    const table = page.locator('[data-testid=users]');
    await table.locator('tr[data-user=wang]').waitFor();
    expect(await table.locator('tr[data-user=li]').innerText()).toContain('装备管理');

    await page.locator('[data-testid=new-username]').fill('zhou');
    await page.locator('[data-testid=new-display-name]').fill('周老师');
    await page.locator('[data-testid=new-role]').selectOption('school-admin');
    await page.locator('[data-testid=new-county]').selectOption(schoolA.countyCode);
    await page.locator(`[data-testid=new-school] option[value="${SCHOOL_A}"]`).waitFor({ state: 'attached' });
    await page.locator('[data-testid=new-school]').selectOption(SCHOOL_A);
    await page.locator('[data-testid=add-user-submit]').click();
    await page.locator('[data-testid=password-once][data-username=zhou]').waitFor();
    const generated = await page.locator('[data-testid=password-value]').innerText();
    expect(generated.length).toBeGreaterThanOrEqual(8);
    await table.locator('tr[data-user=zhou]').waitFor();
    expect(await table.locator('tr[data-user=zhou]').innerText()).toContain(schoolA.name);
    await f.shot('users-admin.png');

    await f.signOut();
    await f.signInAs('zhou', generated);
    expect(await page.locator('[data-testid=user]').innerText()).toBe(`周老师 · 学校网管 · ${schoolA.name}`);
    expect(await page.locator('[data-testid=users-link]').count()).toBe(0);

    // their own password: a weak one is refused in the collector's words, a good one signs in from now on
    await page.locator('[data-testid=user]').click();
    await page.locator('[data-testid=new-password-1]').fill('12345678');
    await page.locator('[data-testid=new-password-2]').fill('12345678');
    await page.locator('[data-testid=password-submit]').click();
    expect(await page.locator('[data-testid=password-error]').innerText()).toContain('密码字符种类不足');
    await page.locator('[data-testid=new-password-1]').fill('Xin-mima-2025');
    await page.locator('[data-testid=new-password-2]').fill('Xin-mima-2025');
    await page.locator('[data-testid=password-submit]').click();
    await page.locator('[data-testid=password-changed]').waitFor();
    await f.signOut();
    await f.signInAs('zhou', 'Xin-mima-2025');
    await f.signOut();
  });

  it('a bureau admin reads the school admin’s failed and successful sign-ins on 安全审计', async () => {
    const { page } = f;
    const signIn = (password: string) => fetch(`${f.base}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'wang', password }) });
    expect((await signIn('wrong-Password-1')).status).toBe(401);
    expect((await signIn(PASSWORD)).status).toBe(200);

    await f.signInAs('chen', PASSWORD);
    await page.locator('[data-testid=users-link]').click();
    await page.locator('[data-testid=users-tabs] [data-tab=audit]').click();
    await page.locator('[data-testid=audit-username]').fill('wang');
    await page.locator('[data-testid=audit-search]').click();
    const table = page.locator('[data-testid=audit]');
    const failed = table.locator('tr[data-event=sign-in-failed][data-username=wang]').first();
    await failed.waitFor();
    expect(await failed.innerText()).toMatch(/登录失败[\s\S]*王老师[\s\S]*127\.0\.0\.1[\s\S]*失败[\s\S]*原因: 密码错误/);
    expect(await failed.innerText()).not.toContain('wrong-Password-1');
    const ok = table.locator('tr[data-event=sign-in][data-username=wang]').first();
    expect(await ok.innerText()).toMatch(/登录成功[\s\S]*王老师[\s\S]*成功/);
    expect(await table.locator('tr[data-username]:not([data-username=wang])').count()).toBe(0);
    await f.shot('users-audit.png');

    // only failures of sign-in: the admin's own entries are not among them
    await page.locator('[data-testid=audit-username]').fill('');
    await page.locator('[data-testid=audit-event]').selectOption('sign-in-failed');
    await page.locator('[data-testid=audit-search]').click();
    await table.locator('tr[data-event]').first().waitFor();
    await waitFor('the audit table to show sign-in failures only', async () => ((await table.locator('tr[data-event]:not([data-event=sign-in-failed])').count()) === 0 ? true : undefined));
    expect(await table.locator('tr[data-event=sign-in-failed][data-username=wang]').count()).toBeGreaterThan(0);

    const download = page.waitForEvent('download');
    await page.locator('[data-testid=audit-export]').click();
    expect((await download).suggestedFilename()).toMatch(/^安全审计日志_\d{4}-\d{2}-\d{2}\.xlsx$/);
    await f.signOut();
  });
});
