/**
 * Repair tickets and the live inbox in the console (Chromium): the fixture's gate camera has its
 * stream down, so the collector opens a ticket for it after the (shortened) grace period. The
 * school view lists it; an equipment manager assigns it to a colleague chosen from those who may
 * work it, and 只看我的 shows each of them their own; the county table and the city's 未结工单
 * indicator count it. A camera the gateway reports meanwhile shows up in the open inbox.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Ticket } from '../../collector/tickets/store.ts';
import { COUNTY, SCHOOL_A, waitFor } from '../e2e/stack.ts';
import { startConsoleFixture, type ConsoleFixture } from './fixture.ts';
import { BROWSER_TEST_TIMEOUT_MS } from './serve-console.ts';

const PASSWORD = 'Xiaoyuan#2024';

describe('repair tickets in the console', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  let f: ConsoleFixture;
  beforeAll(async () => {
    f = await startConsoleFixture({ pgAdminUrl: inject('postgresUrl'), influxUrl: inject('influxUrl'), ticketOpenAfterMs: 1_000 });
  }, 180_000);
  afterAll(async () => f?.close());

  it('lists the broken gate camera’s ticket at its school; an equipment manager assigns it to a colleague, and 只看我的 shows each their own', async () => {
    const ticket = await waitFor('the gate camera’s ticket', async () => (await f.api<{ tickets: Ticket[] }>(`/api/v1/tickets?school=${SCHOOL_A}&state=active`)).tickets.find((t) => t.deviceId === f.spec.gateCamera));
    const school = await f.api<{ name: string; countyCode: string }>(`/api/v1/schools/${SCHOOL_A}`);
    await f.addUser({ username: 'zhang', displayName: '张工', role: 'equipment', schoolCode: SCHOOL_A, password: PASSWORD });
    await f.addUser({ username: 'li', displayName: '李师傅', role: 'equipment', countyCode: school.countyCode, password: PASSWORD });
    await f.addUser({ username: 'wang', displayName: '王老师', role: 'school-admin', schoolCode: SCHOOL_A, password: PASSWORD }); // may not work tickets
    const { page } = f;
    await page.goto(`${f.base}/#/school/${SCHOOL_A}`);
    const row = page.locator(`[data-testid=tickets] tr[data-ticket="${ticket.id}"]`);
    await row.waitFor();
    expect(await row.getAttribute('data-state')).toBe('open');
    expect(await row.innerText()).toContain('视频流中断');
    expect(await row.innerText()).toContain('待处理');

    await f.signInAs('zhang', PASSWORD);
    await row.locator('[data-action=ticket-assign]').click();
    const select = page.locator('[data-testid=ticket-assignee]');
    await page.locator('[data-testid=ticket-assignee]:enabled').waitFor();
    expect(await select.inputValue()).toBe('zhang'); // the signed-in user, who may work it
    const options = await select.locator('option').allInnerTexts();
    expect(options).toContain(`张工 · 装备管理 · ${school.name}`);
    expect(options.some((o) => o.startsWith('李师傅 · 装备管理 · '))).toBe(true);
    expect(options.some((o) => o.startsWith('王老师'))).toBe(false);
    await select.selectOption('li');
    await f.shot('tickets-assign.png');
    await page.locator('[data-testid=ticket-note]').fill('明早到场检查');
    await page.locator('[data-testid=ticket-submit]').click();
    await page.locator(`[data-testid=tickets] tr[data-ticket="${ticket.id}"][data-state=in-progress]`).waitFor();
    expect(await row.innerText()).toContain('李师傅');
    await row.scrollIntoViewIfNeeded();
    await f.shot('tickets-school.png');
    const stored = await f.api<Ticket & { events: Array<{ action: string; actor: string; note: string | null }> }>(`/api/v1/tickets/${ticket.id}`);
    expect(stored).toMatchObject({ state: 'in-progress', assignee: 'li', assigneeName: '李师傅' });
    expect(stored.events.at(-1)).toMatchObject({ action: 'assign', actor: 'user/zhang', note: '明早到场检查' });

    // another ticket of the school, assigned to 张工 himself
    const own = await f.api<Ticket>('/api/v1/tickets', { method: 'POST', body: JSON.stringify({ schoolCode: SCHOOL_A, title: '班牌黑屏' }) });
    await f.api(`/api/v1/tickets/${own.id}/assign`, { method: 'POST', body: JSON.stringify({ assignee: 'zhang' }) });
    const ownRow = page.locator(`[data-testid=tickets] tr[data-ticket="${own.id}"]`);
    await page.reload();
    await ownRow.waitFor();
    await row.waitFor();
    await page.locator('[data-testid=tickets-mine]').check();
    await row.waitFor({ state: 'detached' });
    await ownRow.waitFor();
    expect(await page.locator('[data-testid=tickets] tr[data-ticket]').count()).toBe(1);
    expect(await ownRow.innerText()).toContain('张工');

    // 李师傅 sees his
    await f.signOut();
    await f.signInAs('li', PASSWORD);
    await page.locator('[data-testid=tickets-mine]').check();
    await row.waitFor();
    await ownRow.waitFor({ state: 'detached' });
    expect(await page.locator('[data-testid=tickets] tr[data-ticket]').count()).toBe(1);
    await f.shot('tickets-mine.png');
    await page.locator('[data-testid=tickets-mine]').uncheck();
    await f.signOut();
    // the gate camera's stays the school's only unfinished ticket (the counts below)
    await f.api(`/api/v1/tickets/${own.id}/close`, { method: 'POST', body: JSON.stringify({ note: '测试完毕' }) });
  });

  it('a camera the gateway has just found appears in the school’s inbox without a reload', async () => {
    const { page } = f;
    await page.goto(`${f.base}/#/school/${SCHOOL_A}`);
    await page.locator(`[data-testid=inbox] tr[data-device="${f.corridorEast.deviceId}"]`).waitFor();
    await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));
    await f.announce('cam-new-gate-2');
    const row = page.locator('[data-testid=inbox] tr[data-device="cam-new-gate-2"]');
    await row.waitFor({ timeout: 15_000 });
    expect(await row.innerText()).toContain('摄像机');
    // the same page: nothing reloaded it
    expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);
  });

  it('draws enrolled gear other than cameras on the campus plan, with its status', async () => {
    const { page } = f;
    await f.announce('ups-closet', 'ups');
    await waitFor('the UPS in the inventory', async () => ((await f.stack.inventory.listDevices(SCHOOL_A)).some((d) => d.deviceId === 'ups-closet') ? true : undefined));
    const school = await f.api<{ lon: number; lat: number }>(`/api/v1/schools/${SCHOOL_A}`);
    await f.api(`/api/v1/schools/${SCHOOL_A}/devices/gw-1/ups-closet/accept`, { method: 'POST', body: JSON.stringify({ placement: { building: '教学楼', room: '网络机房', position: { lon: school.lon + 0.0004, lat: school.lat + 0.0004 } } }) });
    await page.goto(`${f.base}/#/school/${SCHOOL_A}`);
    await page.reload(); // the same school view was open: load it afresh
    const icon = page.locator('.gear-icon.gear-ups');
    await icon.waitFor();
    expect(await icon.getAttribute('class')).toMatch(/\bup\b/); // its gateway is online and it was just seen
    expect(await icon.innerText()).toBe('电');
    await icon.click();
    await page.locator('[data-testid=device-detail][data-device=ups-closet]').waitFor();
    await f.shot('gear-icons.png');
  });

  it('counts open tickets in the county table and on the city map', async () => {
    const { page } = f;
    await page.goto(`${f.base}/#/county/${COUNTY}`);
    const cell = page.locator(`[data-testid=schools-table] tr[data-school="${SCHOOL_A}"] td[data-col=tickets]`);
    await cell.waitFor();
    await waitFor('one open ticket in the county table', async () => ((await cell.innerText()) === '1' ? true : undefined));
    // the county's tickets, each with its school
    const ticketRow = page.locator(`[data-testid=tickets] tr[data-device="${f.spec.gateCamera}"]`);
    await ticketRow.waitFor();
    const school = await f.api<{ name: string }>(`/api/v1/schools/${SCHOOL_A}`);
    expect(await ticketRow.innerText()).toContain(school.name);
    expect(await ticketRow.getAttribute('data-state')).toBe('in-progress');

    await page.goto(`${f.base}/#/city?ind=open-tickets`);
    await page.waitForFunction(() => Number(document.getElementById('map')?.dataset.counties) > 0);
    const ranking = await f.api<{ counties: Array<{ code: string; value: number | null }>; unit: string; better: string }>(`/api/v1/map/city?indicator=open-tickets`);
    expect(ranking).toMatchObject({ unit: 'count', better: 'lower' });
    expect(ranking.counties.find((c) => c.code === COUNTY)?.value).toBe(1);
    expect(await page.locator('[data-testid=indicator]').inputValue()).toBe('open-tickets');
    await f.shot('tickets-city.png');
  });
});
