/**
 * The floor-plan image in Chromium, against the light fixture (a real collector, broker, PostgreSQL
 * and InfluxDB; school 3715020001 with the simulated campus plan, no map tiles). In the school view's
 * "平面图底图": a text file called .png is refused with the server's reason; a PNG of the campus
 * drawn at 2 px/m (tests/fixtures/floorplan/png.ts) is uploaded, shown at a first placement over the
 * campus in 配准 mode; its three corner handles are dragged to where the drawing belongs and the
 * placement saved; after a reload the image is drawn at the stored corners (which the API gives
 * back); a damaged file is refused while the placed image stays; width typed, turned by its handle
 * and cancelled (in English); deleted.
 * Screenshots: tests/browser/output/floorplan-*.png.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LocalFrame } from '../../collector/compliance/geometry/index.ts';
import { campusPlanPng } from '../fixtures/floorplan/png.ts';
import { SCHOOL_A } from '../e2e/stack.ts';
import { startConsoleFixture, type ConsoleFixture } from './fixture.ts';
import { BROWSER_TEST_TIMEOUT_MS } from './serve-console.ts';

interface LonLat { lon: number; lat: number }
interface Georef { topLeft: LonLat; topRight: LonLat; bottomLeft: LonLat }
interface Meta { width: number; height: number; contentType: string; uploadedBy: string; georef: Georef | null; georefBy: string | null }
type Corner = keyof Georef;
const HANDLE: Record<Corner, string> = { topLeft: '.fp-tl', topRight: '.fp-tr', bottomLeft: '.fp-bl' };

describe('floor-plan image in Chromium', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  let f: ConsoleFixture;
  let frame: LocalFrame;
  const plan = campusPlanPng(); // 320 × 280 px, 2 px/m, the campus with a 20 m margin
  /** where the drawing's corners belong (WGS84), from its plan-metre corners */
  let target: Georef;

  const panel = () => f.page.locator('[data-testid=floorplan]');
  const waitState = (state: string) => f.page.locator(`[data-testid=floorplan][data-state=${state}]`).waitFor();
  const meta = async (): Promise<Meta | null> => {
    const res = await fetch(`${f.base}/api/v1/schools/${SCHOOL_A}/floorplan/meta`);
    return res.status === 404 ? null : ((await res.json()) as Meta);
  };
  const imageShown = () =>
    f.page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('img.floorplan-image');
      return !!img && img.complete && img.naturalWidth > 0;
    });
  /** metres between a stored corner and where it belongs */
  const offBy = (a: LonLat, b: LonLat) => {
    const p = frame.toLocal(a), q = frame.toLocal(b);
    return Math.hypot(p.x - q.x, p.y - q.y);
  };
  const upload = (name: string, buffer: Buffer, mimeType = 'image/png') => f.page.locator('[data-testid=floorplan-file]').setInputFiles({ name, mimeType, buffer });

  beforeAll(async () => {
    f = await startConsoleFixture({ pgAdminUrl: inject('postgresUrl'), influxUrl: inject('influxUrl') });
    const fr = f.spec.campus.frame as { anchor: LonLat };
    frame = new LocalFrame(fr.anchor);
    target = { topLeft: frame.toLonLat(plan.corners.topLeft), topRight: frame.toLonLat(plan.corners.topRight), bottomLeft: frame.toLonLat(plan.corners.bottomLeft) };
    await f.page.goto(`${f.base}/#/school/${SCHOOL_A}`);
    await f.signIn();
    await f.page.locator('[data-testid=areas] tr[data-area=playground]').waitFor();
    await waitState('none');
  });
  afterAll(async () => {
    await f?.close();
  });

  it('refuses a text file called .png with the server’s reason, and stores nothing', async () => {
    await upload('总平面图.png', Buffer.from('这不是图片，只是把文本文件改成了 .png 扩展名'));
    const err = f.page.locator('[data-testid=floorplan-error]');
    await err.waitFor();
    const text = await err.textContent();
    expect(text).toContain('服务器拒绝了该文件：文件内容不是 PNG、JPEG 或 WebP 图片');
    expect(text).toContain('not a PNG, JPEG or WebP image'); // the collector's own words
    expect(await meta()).toBeNull();
    expect(await panel().getAttribute('data-state')).toBe('none');
    await f.shot('floorplan-refused.png');
  });

  it('uploads a PNG: shown over the campus at its aspect ratio, in 配准 mode, not yet placed on the server', async () => {
    await upload('plan.png', plan.png);
    await waitState('editing');
    await imageShown();
    expect(await f.page.locator('[data-testid=floorplan-error]').count()).toBe(0);
    const m = await meta();
    expect(m).toMatchObject({ width: plan.width, height: plan.height, contentType: 'image/png', uploadedBy: 'admin-token/测试管理员', georef: null });
    // the first placement covers the campus plan: its centre lies over the playground's centre region, north up, 320:280
    const box = (await f.page.locator('img.floorplan-image').boundingBox())!;
    const centre = await f.pointOf(frame.toLonLat({ x: 0, y: 46 }).lat, frame.toLonLat({ x: 0, y: 46 }).lon);
    expect(Math.abs(box.x + box.width / 2 - centre.x)).toBeLessThan(3);
    expect(Math.abs(box.y + box.height / 2 - centre.y)).toBeLessThan(3);
    expect(box.width / box.height).toBeCloseTo(320 / 280, 1);
    await f.shot('floorplan-upload.png');
  });

  it('drags the three corners to where the drawing belongs and saves the placement', async () => {
    for (const corner of ['topLeft', 'topRight', 'bottomLeft'] as Corner[]) {
      const h = (await f.page.locator(`.leaflet-marker-pane ${HANDLE[corner]}`).boundingBox())!;
      const to = await f.pointOf(target[corner].lat, target[corner].lon);
      await f.page.mouse.move(h.x + h.width / 2, h.y + h.height / 2);
      await f.page.mouse.down();
      await f.page.mouse.move(to.x, to.y, { steps: 10 });
      await f.page.mouse.up();
    }
    await f.page.locator('[data-testid=floorplan-save]').click();
    await f.page.locator('[data-testid=floorplan-notice]', { hasText: '配准已保存' }).waitFor();
    await waitState('placed');
    const m = (await meta())!;
    expect(m.georefBy).toBe('admin-token/测试管理员');
    // within a metre of where each corner belongs (the map shows about 0.25 m a pixel here)
    for (const corner of ['topLeft', 'topRight', 'bottomLeft'] as Corner[]) expect(offBy(m.georef![corner], target[corner]), corner).toBeLessThan(1);
  });

  it('after a reload draws the image at the stored corners, lined up with the campus plan', async () => {
    const stored = (await meta())!.georef!;
    await f.page.reload();
    await f.page.locator('[data-testid=areas] tr[data-area=playground]').waitFor();
    await waitState('placed');
    await imageShown();
    // a north-up placement: the image's box is the rectangle of its stored corners
    const box = (await f.page.locator('img.floorplan-image').boundingBox())!;
    const tl = await f.pointOf(stored.topLeft.lat, stored.topLeft.lon);
    const tr = await f.pointOf(stored.topRight.lat, stored.topRight.lon);
    const bl = await f.pointOf(stored.bottomLeft.lat, stored.bottomLeft.lon);
    expect(Math.abs(box.x - tl.x)).toBeLessThan(2);
    expect(Math.abs(box.y - tl.y)).toBeLessThan(2);
    expect(Math.abs(box.x + box.width - tr.x)).toBeLessThan(2);
    expect(Math.abs(box.y + box.height - bl.y)).toBeLessThan(2);
    // the teaching building drawn in the image sits on the plan's teaching building: sample the
    // image's pixel under the building's centre (plan 30, 45) through the page
    const b = frame.toLonLat({ x: 30, y: 45 });
    const p = await f.pointOf(b.lat, b.lon);
    const px = await f.page.evaluate(([x, y]) => {
      const img = document.querySelector<HTMLImageElement>('img.floorplan-image')!;
      const r = img.getBoundingClientRect();
      const c = document.createElement('canvas');
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const g = c.getContext('2d')!;
      g.drawImage(img, 0, 0);
      return Array.from(g.getImageData(Math.floor(((x - r.left) / r.width) * img.naturalWidth), Math.floor(((y - r.top) / r.height) * img.naturalHeight), 1, 1).data);
    }, [p.x, p.y] as const);
    expect(px.slice(0, 3)).toEqual([148, 163, 184]); // the building grey of png.ts
    await f.shot('floorplan-georef.png');
  });

  it('refuses a damaged file with the reason and keeps the placed image', async () => {
    await upload('plan-copy.png', plan.png.subarray(0, Math.floor(plan.png.length / 2)));
    const err = f.page.locator('[data-testid=floorplan-error]');
    await err.waitFor();
    expect(await err.textContent()).toContain('图片文件不完整或已损坏');
    expect(await panel().getAttribute('data-state')).toBe('placed');
    expect((await meta())!.georef).not.toBeNull();
    expect(await f.page.locator('img.floorplan-image').count()).toBe(1);
  });

  it('sets the width by typing it and turns it by the orange handle (in English); cancel leaves the stored placement', async () => {
    const stored = (await meta())!.georef!;
    await f.page.locator('[data-testid=lang]').click();
    await f.page.locator('[data-testid=floorplan-georef-start]', { hasText: 'Georeference' }).click();
    await waitState('editing');
    await f.shot('floorplan-georef-en.png');
    expect(Number(await f.page.locator('[data-testid=floorplan-width]').inputValue())).toBeCloseTo(160, 0);
    const before = (await f.page.locator('img.floorplan-image').boundingBox())!;
    await f.page.locator('[data-testid=floorplan-width]').fill('80');
    await f.page.locator('[data-testid=floorplan-width]').press('Enter');
    await f.page.waitForFunction((w) => (document.querySelector('img.floorplan-image')?.getBoundingClientRect().width ?? w) < w * 0.6, before.width);
    // the orange handle turns it about the centre: dragged 30° clockwise round the centre dot
    const centreOf = async (sel: string) => {
      const b = (await f.page.locator(`.leaflet-marker-pane ${sel}`).boundingBox())!;
      return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
    };
    const c = await centreOf('.fp-move'), br = await centreOf('.fp-br');
    const t = (30 * Math.PI) / 180, dx = br.x - c.x, dy = br.y - c.y;
    await f.page.mouse.move(br.x, br.y);
    await f.page.mouse.down();
    await f.page.mouse.move(c.x + dx * Math.cos(t) - dy * Math.sin(t), c.y + dx * Math.sin(t) + dy * Math.cos(t), { steps: 10 });
    await f.page.mouse.up();
    expect(Number(await f.page.locator('[data-testid=floorplan-rotation]').inputValue())).toBeCloseTo(30, 0);
    // the turned image is drawn where its handles are: its box is the box of the four corners
    const corners = await Promise.all(['.fp-tl', '.fp-tr', '.fp-bl', '.fp-br'].map(centreOf));
    const img = (await f.page.locator('img.floorplan-image').boundingBox())!;
    expect(Math.abs(img.x - Math.min(...corners.map((p) => p.x)))).toBeLessThan(2);
    expect(Math.abs(img.y - Math.min(...corners.map((p) => p.y)))).toBeLessThan(2);
    expect(Math.abs(img.x + img.width - Math.max(...corners.map((p) => p.x)))).toBeLessThan(2);
    expect(Math.abs(img.y + img.height - Math.max(...corners.map((p) => p.y)))).toBeLessThan(2);
    await f.shot('floorplan-turned.png');
    await f.page.locator('[data-testid=floorplan-cancel]').click();
    await waitState('placed');
    const after = (await f.page.locator('img.floorplan-image').boundingBox())!;
    expect(Math.abs(after.width - before.width)).toBeLessThan(1);
    expect((await meta())!.georef).toEqual(stored);
    await f.page.locator('[data-testid=lang]').click();
  });

  it('deletes the floor plan after a confirmation', async () => {
    await f.page.locator('[data-testid=floorplan-delete]').click();
    await f.page.locator('[data-testid=floorplan-delete-confirm]').click();
    await waitState('none');
    expect(await meta()).toBeNull();
    expect(await f.page.locator('img.floorplan-image').count()).toBe(0);
  });
});
