/**
 * Coverage that follows a camera while it is placed or moved, in Chromium with the light fixture:
 * the corridor's east camera accepted from the inbox, clicked onto the plan and turned by dragging
 * its heading handle with the mouse — the corridor's previewed coverage changes during the drag,
 * one preview request at a time, and nothing is stored until 确认, after which the stored coverage
 * is the last preview's. Then the kitchen's enrolled camera is dragged away: the preview drops
 * (the kitchen recoloured, its blind spot hatched), and 取消 restores the stored view; moved again
 * from its detail panel, its view widened by dragging the field-of-view handle and turned, it is saved
 * with the actor and what changed in its history.
 * Screenshots: preview-dragging.png, preview-confirmed.png, preview-moving.png, preview-cancelled.png.
 */
import type { Request } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { SCHOOL_A, waitFor } from '../e2e/stack.ts';
import { startConsoleFixture, type ConsoleFixture } from './fixture.ts';
import { BROWSER_TEST_TIMEOUT_MS } from './serve-console.ts';

interface Coverage { weightedCoverage: number; areas: { id: string; coveredShare: number; fullyCovered: boolean }[] }
const covered = (c: Coverage, id: string) => c.areas.find((a) => a.id === id)!.coveredShare;

describe('coverage preview while placing and moving cameras', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  let f: ConsoleFixture;
  /** preview requests: how many sent, and the most ever in flight at once */
  const previews = { sent: 0, inFlight: 0, maxInFlight: 0 };
  /** uncaught script errors in the page: none expected */
  const pageErrors: string[] = [];

  beforeAll(async () => {
    f = await startConsoleFixture({ pgAdminUrl: inject('postgresUrl'), influxUrl: inject('influxUrl') });
    const isPreview = (url: string) => url.includes('/coverage/preview');
    f.page.on('request', (r) => {
      if (!isPreview(r.url())) return;
      previews.sent++;
      previews.maxInFlight = Math.max(previews.maxInFlight, ++previews.inFlight);
    });
    const done = (r: Request) => void (isPreview(r.url()) && previews.inFlight--);
    f.page.on('requestfinished', done);
    f.page.on('requestfailed', done);
    f.page.on('pageerror', (err) => pageErrors.push(`${err.message}\n${err.stack ?? ''}`));
  }, 240_000);
  afterAll(async () => {
    await f?.close();
  });
  afterEach(() => {
    expect(pageErrors).toEqual([]);
  });

  const attr = async (sel: string, name: string) => Number(await f.page.locator(sel).first().getAttribute(name));
  const settled = () => f.page.locator('[data-testid=preview-coverage][data-settled=true]').waitFor();

  it('accepting the corridor camera: placed by a click, turned by dragging its handle, the preview follows; 确认 stores what it showed', async () => {
    const { page } = f;
    const cam = f.corridorEast;
    await page.goto(`${f.base}/#/school/${SCHOOL_A}`);
    const corridorStored = page.locator('[data-testid=areas] tr[data-area=teaching-corridor]');
    await corridorStored.waitFor();
    // the required level in words (识别 = recognise), the id kept as data
    expect(await corridorStored.locator('td').nth(1).innerText()).toBe('识别');
    expect(await corridorStored.locator('td').nth(1).getAttribute('data-level')).toBe('recognise');
    const stored = await f.api<Coverage>(`/api/v1/schools/${SCHOOL_A}/coverage`);
    await f.signIn();

    const row = page.locator(`[data-testid=inbox] tr[data-device="${cam.deviceId}"]`);
    await row.locator('[data-action=accept]').click();
    await page.locator('[data-testid=placement][data-mode=accept]').waitFor();
    const pos = cam.placement.position as { lon: number; lat: number };
    const pin = await f.pointOf(pos.lat, pos.lon);
    await page.mouse.click(pin.x, pin.y);
    await page.locator('[data-testid=hfov]').fill(String(cam.placement.camera!.hfovDeg));
    // facing north (the default heading) it sees none of the corridor to its west
    await settled();
    const preview = page.locator('[data-testid=preview-areas] tr[data-area=teaching-corridor]');
    const facingNorth = await attr('[data-testid=preview-areas] tr[data-area=teaching-corridor]', 'data-covered');
    expect(facingNorth).toBe(covered(stored, 'teaching-corridor'));
    expect(await attr('[data-testid=preview-coverage]', 'data-current')).toBe(stored.weightedCoverage);
    const sentBeforeDrag = previews.sent;

    // drag the heading handle round to the west along an arc about the pin, the mouse held down
    const handle = (await page.locator('.leaflet-marker-icon.heading-handle').boundingBox())!;
    const hx = handle.x + handle.width / 2, hy = handle.y + handle.height / 2;
    const r = Math.hypot(hx - pin.x, hy - pin.y);
    expect(r).toBeGreaterThan(40);
    await page.mouse.move(hx, hy);
    await page.mouse.down();
    const steps = 30;
    for (let i = 1; i <= steps; i++) {
      const a = (-Math.PI / 2) * (i / steps); // from north (0) to west (−90°), clockwise angles on screen
      await page.mouse.move(pin.x + r * Math.sin(a), pin.y - r * Math.cos(a));
    }
    // still dragging: the corridor's previewed coverage has risen, drawn on the map, nothing confirmed
    await page.waitForFunction((before) => Number(document.querySelector('[data-testid=preview-areas] tr[data-area=teaching-corridor]')?.getAttribute('data-covered')) > before, facingNorth);
    await page.locator('#map[data-previewing="1"]').waitFor({ state: 'attached' });
    await page.locator('path.preview-view.reaches').first().waitFor();
    await f.shot('preview-dragging.png');
    await page.mouse.up();
    await settled();

    const heading = Number(await page.locator('[data-testid=heading]').inputValue());
    expect(Math.abs(heading - 270)).toBeLessThanOrEqual(3);
    // the pin stayed where it was clicked (the drag's release is not a click on the map)
    expect(await page.locator('[data-testid=placement-position]').innerText()).toMatch(/^\d+\.\d+, \d+\.\d+$/);
    const pinNow = (await page.locator('.leaflet-marker-icon.placing-pos').boundingBox())!;
    expect(Math.hypot(pinNow.x + pinNow.width / 2 - pin.x, pinNow.y + pinNow.height / 2 - pin.y)).toBeLessThan(2);
    const last = await attr('[data-testid=preview-coverage]', 'data-value');
    const corridorPreviewed = Number(await preview.getAttribute('data-covered'));
    expect(corridorPreviewed).toBeGreaterThan(facingNorth);
    expect(last).toBeGreaterThan(stored.weightedCoverage);
    // previews went out during the drag, never two at once
    expect(previews.sent).toBeGreaterThan(sentBeforeDrag + 1);
    expect(previews.maxInFlight).toBe(1);
    // nothing stored: the camera is still in the inbox, the stored coverage as it was
    const devices = await f.api<{ deviceId: string; state: string }[]>(`/api/v1/schools/${SCHOOL_A}/devices`);
    expect(devices.find((d) => d.deviceId === cam.deviceId)?.state).toBe('discovered');
    expect((await f.api<Coverage>(`/api/v1/schools/${SCHOOL_A}/coverage`)).weightedCoverage).toBe(stored.weightedCoverage);

    // 确认: accepted at that placement; the stored coverage is the last preview's
    await page.locator('[data-testid=confirm-placement]').click();
    await page.locator('[data-testid=placement]').waitFor({ state: 'detached' });
    await row.waitFor({ state: 'detached' });
    expect(await page.locator('[data-testid=error]').count()).toBe(0);
    const after = await f.api<Coverage>(`/api/v1/schools/${SCHOOL_A}/coverage`);
    expect(after.weightedCoverage).toBe(last);
    expect(covered(after, 'teaching-corridor')).toBe(corridorPreviewed);
    await page.locator(`[data-testid=weighted-coverage][data-value="${last}"]`).waitFor();
    await page.locator(`path.sector-${cam.deviceId}`).waitFor();
    const history = await f.api<{ fromState: string; toState: string; actor: string }[]>(`/api/v1/schools/${SCHOOL_A}/devices/gw-1/${cam.deviceId}/history`);
    expect(history.at(-1)).toMatchObject({ fromState: 'discovered', toState: 'enrolled', actor: 'admin-token/测试管理员' });
    await f.shot('preview-confirmed.png');
  });

  it('moving the kitchen camera away: the preview drops, the kitchen recoloured and hatched; 取消 restores the stored view', async () => {
    const { page } = f;
    const cam = f.spec.cameras.find((c) => c.key === 'cam-kitchen')!;
    const stored = await f.api<Coverage>(`/api/v1/schools/${SCHOOL_A}/coverage`);
    expect(covered(stored, 'kitchen')).toBeGreaterThan(0.999);
    const kitchenArea = page.locator('path.key-area-kitchen');
    const storedFill = await kitchenArea.getAttribute('fill');
    expect(await page.locator('path.blind-spot-kitchen').count()).toBe(0);

    // 调整位置 from the device list: the placer starts where the camera is, the preview equals the stored coverage
    await page.locator(`[data-testid=devices] tr[data-device="${cam.deviceId}"] [data-action=move]`).click();
    await page.locator('[data-testid=placement][data-mode=move]').waitFor();
    await settled();
    expect(await attr('[data-testid=preview-coverage]', 'data-value')).toBe(stored.weightedCoverage);
    expect(await page.locator('[data-testid=heading]').inputValue()).toBe(String(cam.placement.camera!.headingDeg));

    // drag the pin 150 px north-east, out of sight of the kitchen
    const pin = (await page.locator('.leaflet-marker-icon.placing-pos').boundingBox())!;
    const px = pin.x + pin.width / 2, py = pin.y + pin.height / 2;
    await page.mouse.move(px, py);
    await page.mouse.down();
    for (let i = 1; i <= 15; i++) await page.mouse.move(px + 10 * i, py - 10 * i);
    await page.mouse.up();
    await settled();
    const moved = await attr('[data-testid=preview-coverage]', 'data-value');
    expect(moved).toBeLessThan(stored.weightedCoverage);
    expect(await attr('[data-testid=preview-areas] tr[data-area=kitchen]', 'data-covered')).toBeLessThan(covered(stored, 'kitchen'));
    expect(await page.locator('[data-testid=preview-coverage]').innerText()).toMatch(/^预计加权覆盖率 \d+(\.\d)?%（当前 \d+(\.\d)?%）/);
    // the map shows the previewed kitchen: another colour, its blind spot hatched; the stored place faint
    await page.waitForFunction((fill) => document.querySelector('path.key-area-kitchen')?.getAttribute('fill') !== fill, storedFill);
    expect(await page.locator('path.blind-spot-kitchen.previewed').count()).toBeGreaterThan(0);
    expect(await page.locator('path.blind-spot-kitchen.previewed').first().getAttribute('fill')).toBe('url(#campus-hatch)');
    expect(await page.locator(`path.camera-${cam.deviceId}.moving-from`).count()).toBe(1);
    await f.shot('preview-moving.png');

    // 取消: nothing stored, the stored view back
    await page.locator('[data-testid=cancel-placement]').click();
    await page.locator('[data-testid=placement]').waitFor({ state: 'detached' });
    await page.locator('#map[data-previewing=""]').waitFor({ state: 'attached' });
    await page.waitForFunction((fill) => document.querySelector('path.key-area-kitchen')?.getAttribute('fill') === fill, storedFill);
    expect(await page.locator('path.blind-spot-kitchen').count()).toBe(0);
    expect(await page.locator(`path.camera-${cam.deviceId}.moving-from`).count()).toBe(0);
    expect(await page.locator('.leaflet-marker-icon.placing-pos').count()).toBe(0);
    const now = await f.api<Coverage>(`/api/v1/schools/${SCHOOL_A}/coverage`);
    expect(now.weightedCoverage).toBe(stored.weightedCoverage);
    const history = await f.api<{ fromState: string; toState: string }[]>(`/api/v1/schools/${SCHOOL_A}/devices/gw-1/${cam.deviceId}/history`);
    expect(history.filter((h) => h.fromState === 'enrolled' && h.toState === 'enrolled')).toHaveLength(0);
    expect(previews.maxInFlight).toBe(1);
    await f.shot('preview-cancelled.png');

    // saved this time, from the detail panel's 调整位置: the view widened by dragging its purple handle, then turned
    await page.locator(`[data-testid=devices] tr[data-device="${cam.deviceId}"]`).click();
    await page.locator(`[data-testid=device-detail][data-device="${cam.deviceId}"] [data-testid=move-device]`).click();
    await page.locator('[data-testid=placement][data-mode=move]').waitFor();
    await settled();
    const at = (await page.locator('.leaflet-marker-icon.placing-pos').boundingBox())!;
    const o = { x: at.x + at.width / 2, y: at.y + at.height / 2 };
    const fov = (await page.locator('.leaflet-marker-icon.fov-handle').boundingBox())!;
    const fx = fov.x + fov.width / 2, fy = fov.y + fov.height / 2;
    const fr = Math.hypot(fx - o.x, fy - o.y);
    const from = Math.atan2(fx - o.x, o.y - fy); // screen bearing of the handle: heading 90° + half of 50°
    expect((from * 180) / Math.PI).toBeCloseTo(115, -1);
    await page.mouse.move(fx, fy);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++) {
      const a = from + ((20 * Math.PI) / 180) * (i / 10); // 20° further round: a 90° view
      await page.mouse.move(o.x + fr * Math.sin(a), o.y - fr * Math.cos(a));
    }
    await page.mouse.up();
    await settled();
    expect(Math.abs(Number(await page.locator('[data-testid=hfov]').inputValue()) - 90)).toBeLessThanOrEqual(3);
    await page.locator('[data-testid=heading]').fill('270');
    await settled();
    const turned = await attr('[data-testid=preview-coverage]', 'data-value');
    expect(turned).toBeLessThan(stored.weightedCoverage);
    await page.locator('[data-testid=confirm-placement]').click();
    await page.locator('[data-testid=placement]').waitFor({ state: 'detached' });
    await waitFor('the move stored', async () => ((await f.api<Coverage>(`/api/v1/schools/${SCHOOL_A}/coverage`)).weightedCoverage === turned ? true : undefined));
    const moves = (await f.api<{ fromState: string; toState: string; actor: string; note: string }[]>(`/api/v1/schools/${SCHOOL_A}/devices/gw-1/${cam.deviceId}/history`)).filter((h) => h.fromState === 'enrolled' && h.toState === 'enrolled');
    expect(moves).toHaveLength(1);
    expect(moves[0]).toMatchObject({ actor: 'admin-token/测试管理员', note: expect.stringMatching(/^moved: heading 90° → 270°; field of view 50° → (8[7-9]|9[0-3])°$/) });
  });
});
