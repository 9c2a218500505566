/**
 * The console at the sizes the bureau uses, in Debian's Chromium: a 1366×768 office laptop, a 4K
 * monitor at 100% (3840×2160), and the monitoring room's wall display (大屏, `display=wall`) at
 * 3840×2160 and at 1920×1080 with a device scale of 2. In the city, county and school views: the
 * page never scrolls sideways, the map fills most of the window, the side panel scrolls on its own
 * and its tables fit it; on the wall, type and markers are larger than at the desk, editing controls
 * are gone, the wall display survives navigation, and the city view follows live changes. Screenshots
 * go to tests/browser/output/display-*.png.
 */
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { COUNTY, SCHOOL_A, waitFor } from '../e2e/stack.ts';
import { OUT, startConsoleFixture, type ConsoleFixture } from './fixture.ts';
import { BROWSER_TEST_TIMEOUT_MS, BROWSER_WAIT_TIMEOUT_MS, CHROMIUM_ARGS } from './serve-console.ts';

const DESK = { width: 1366, height: 768 };
const UHD = { width: 3840, height: 2160 };

interface Layout {
  page: { scrollWidth: number; clientWidth: number; scrollHeight: number; clientHeight: number };
  /** the map's share of the window, and its box */
  mapShare: number;
  map: { left: number; top: number; right: number; bottom: number; width: number };
  aside: { left: number; width: number; scrollWidth: number; clientWidth: number; scrollHeight: number; clientHeight: number; overflowY: string };
  /** header controls that end beyond the window's right edge */
  headerCut: string[];
  window: { width: number; height: number };
}

function layout(page: Page): Promise<Layout> {
  return page.evaluate(() => {
    const se = document.scrollingElement!;
    const m = document.getElementById('map')!.getBoundingClientRect();
    const a = document.querySelector('aside')!;
    const ar = a.getBoundingClientRect();
    return {
      page: { scrollWidth: se.scrollWidth, clientWidth: se.clientWidth, scrollHeight: se.scrollHeight, clientHeight: se.clientHeight },
      mapShare: (m.width * m.height) / (innerWidth * innerHeight),
      map: { left: m.left, top: m.top, right: m.right, bottom: m.bottom, width: m.width },
      aside: { left: ar.left, width: ar.width, scrollWidth: a.scrollWidth, clientWidth: a.clientWidth, scrollHeight: a.scrollHeight, clientHeight: a.clientHeight, overflowY: getComputedStyle(a).overflowY },
      window: { width: innerWidth, height: innerHeight },
      headerCut: [...document.querySelectorAll('header > *')].filter((e) => e.getBoundingClientRect().right > innerWidth + 0.5).map((e) => e.outerHTML.slice(0, 60)),
    };
  });
}

/** The page does not scroll either way, the map fills most of the window down to its bottom, the panel holds its content without sideways scrolling. */
async function expectFits(page: Page, where: string): Promise<Layout> {
  const l = await layout(page);
  const size = l.window;
  expect(l.page.scrollWidth, `${where}: no horizontal page scroll`).toBeLessThanOrEqual(l.page.clientWidth);
  expect(l.page.scrollHeight, `${where}: no vertical page scroll (the panel scrolls instead)`).toBeLessThanOrEqual(l.page.clientHeight);
  expect(l.mapShare, `${where}: the map fills most of the window`).toBeGreaterThan(0.55);
  expect(l.map.left).toBe(0);
  expect(Math.round(l.map.bottom), `${where}: the map reaches the bottom`).toBe(size.height);
  expect(Math.round(l.map.right + l.aside.width), `${where}: map and panel share the width`).toBe(size.width);
  expect(l.aside.overflowY).toBe('auto');
  expect(l.aside.scrollWidth, `${where}: nothing in the panel is cut off at the side`).toBeLessThanOrEqual(l.aside.clientWidth);
  expect(l.headerCut, `${where}: the header fits`).toEqual([]);
  return l;
}

/** Scrolls `selector` into view inside the side panel and checks that it is then inside both the panel and the window. */
async function expectReachable(page: Page, selector: string): Promise<void> {
  const el = page.locator(selector).first();
  await el.waitFor();
  await el.scrollIntoViewIfNeeded();
  const box = await el.evaluate((e) => {
    const r = e.getBoundingClientRect(), a = document.querySelector('aside')!.getBoundingClientRect();
    return { inPanel: r.left >= a.left - 0.5 && r.right <= a.right + 0.5 && r.top < a.bottom && r.bottom > a.top, inWindow: r.top >= 0 && r.top < innerHeight && r.right <= innerWidth + 0.5, top: r.top };
  });
  expect(box, selector).toMatchObject({ inPanel: true, inWindow: true });
  expect(await page.evaluate(() => document.scrollingElement!.scrollTop), 'the page itself did not scroll').toBe(0);
}

/** Type as drawn: the computed font size times the CSS zoom it is shown at. */
function drawnFontPx(page: Page, selector: string): Promise<number> {
  return page.locator(selector).first().evaluate((e) => parseFloat(getComputedStyle(e).fontSize) * ((e as HTMLElement & { currentCSSZoom?: number }).currentCSSZoom ?? 1));
}
/** Computed font size (no zoom involved: the map's labels and tooltips). */
function computedFontPx(page: Page, selector: string): Promise<number> {
  return page.locator(selector).first().evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
}
interface LeafletMap { setZoom(z: number): void; getZoom(): number; eachLayer(fn: (l: unknown) => void): void }
/**
 * The map's county clusters at zoom 9 (the same map zoom at every size, so that like is compared
 * with like): the label's computed font size and the largest circle's radius (canvas markers, read
 * from Leaflet).
 */
async function clusterSizes(page: Page): Promise<{ label: number; marker: number }> {
  await page.evaluate(() => (window as unknown as { __campusMap: LeafletMap }).__campusMap.setZoom(9));
  await page.waitForFunction(() => document.getElementById('map')?.dataset.markerMode === 'clusters' && document.querySelector('.cluster-label') !== null);
  const label = await computedFontPx(page, '.cluster-label');
  const marker = await page.evaluate(() => {
    let r = 0;
    (window as unknown as { __campusMap: LeafletMap }).__campusMap.eachLayer((l) => {
      const m = l as { getRadius?: () => number };
      if (m.getRadius) r = Math.max(r, m.getRadius());
    });
    return r;
  });
  return { label, marker };
}

/** Opens the city view as a fresh page load (a deep link typed or bookmarked), not a hash change of the page already open. */
async function openCity(page: Page, base: string, query = ''): Promise<void> {
  await page.goto('about:blank');
  await page.goto(`${base}/#/city?ind=coverage${query}`);
  await page.waitForFunction(() => Number(document.getElementById('map')?.dataset.counties) > 0 && Number(document.getElementById('map')?.dataset.markers) > 0, null, { timeout: 45_000 });
  await page.locator('[data-testid=ranking] li').first().waitFor();
}
async function openCounty(page: Page): Promise<void> {
  await page.locator(`[data-testid=ranking] [data-county="${COUNTY}"]`).click();
  await page.locator(`[data-testid=schools-table] tr[data-school="${SCHOOL_A}"]`).waitFor();
}
async function openSchool(page: Page): Promise<void> {
  await page.locator(`[data-testid=schools-table] tr[data-school="${SCHOOL_A}"]`).click();
  await page.locator('[data-testid=compliance] tr[data-rule]').first().waitFor();
  await page.locator('[data-testid=devices] tr[data-device]').first().waitFor();
  await page.waitForFunction(() => document.getElementById('map')?.dataset.campus === '1');
}

describe('console at 1366×768, on a 4K monitor and on the wall display', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  let f: ConsoleFixture;
  const desk = { h2: 0, rank: 0, label: 0, marker: 0 };

  beforeAll(async () => {
    f = await startConsoleFixture({ pgAdminUrl: inject('postgresUrl'), influxUrl: inject('influxUrl'), viewport: DESK });
  }, 240_000);
  afterAll(async () => {
    await f?.close();
  });

  it('1366×768: city, county and school views fit, the side panel scrolls on its own, every table is within reach', async () => {
    const { page, base } = f;
    await openCity(page, base);
    await expectFits(page, 'desk city');
    await expectReachable(page, '[data-testid=ranking]');
    await expectReachable(page, '[data-testid=export-ranking]');
    expect(await page.locator('[data-testid=settings]').isVisible()).toBe(true);
    desk.h2 = await drawnFontPx(page, 'aside h2');
    desk.rank = await drawnFontPx(page, '[data-testid=ranking] button');
    await f.shot('display-1366-city.png');
    Object.assign(desk, await clusterSizes(page));

    await openCounty(page);
    await expectFits(page, 'desk county');
    await expectReachable(page, '[data-testid=schools-table]');
    await expectReachable(page, `[data-testid=schools-table] tr[data-school="${SCHOOL_A}"] td:last-child`);
    await f.shot('display-1366-county.png');

    await openSchool(page);
    const l = await expectFits(page, 'desk school');
    // the school's panel is taller than the window: it scrolls, the page does not
    expect(l.aside.scrollHeight).toBeGreaterThan(l.aside.clientHeight);
    await expectReachable(page, '[data-testid=compliance]');
    await expectReachable(page, '[data-testid=export-findings]');
    await expectReachable(page, '[data-testid=devices] tr[data-device]');
    await expectReachable(page, '[data-testid=export-devices]');
    await page.locator('aside').evaluate((a) => a.scrollTo(0, 0));
    await f.shot('display-1366-school.png');

    // English words are longer: still nothing cut off
    await page.locator('[data-testid=lang]').click();
    await page.locator('h2', { hasText: 'Compliance' }).waitFor();
    await expectFits(page, 'desk school in English');
    await page.locator('[data-testid=school-view] a[href="#/city"]').click();
    await page.locator('h2', { hasText: 'County ranking' }).waitFor();
    await expectFits(page, 'desk city in English');
    await f.shot('display-1366-city-en.png');
    await page.locator('[data-testid=lang]').click();
    await page.locator('h2', { hasText: '区县排名' }).waitFor();
  });

  it('4K monitor at 100%: the same layout, drawn larger', async () => {
    const { page, base } = f;
    await page.setViewportSize(UHD);
    await openCity(page, base);
    const l = await expectFits(page, '4K city');
    expect(l.aside.width, 'the panel is not a narrow strip').toBeGreaterThan(UHD.width * 0.18);
    expect(await drawnFontPx(page, 'aside h2')).toBeGreaterThan(desk.h2 * 1.5);
    await f.shot('display-4k-city.png');
    await openCounty(page);
    await expectFits(page, '4K county');
    await openSchool(page);
    await expectFits(page, '4K school');
    await expectReachable(page, '[data-testid=devices] tr[data-device]');
  });

  it('wall display at 3840×2160: large type and markers, no editing controls, stays on the wall through navigation', async () => {
    const { page, base } = f;
    await page.setViewportSize(UHD);
    await openCity(page, base, '&display=wall');
    expect(await page.locator('.app').getAttribute('data-display')).toBe('wall');
    const l = await expectFits(page, 'wall city');
    expect(l.aside.width, 'the panel is not a narrow strip').toBeGreaterThan(UHD.width * 0.2);
    await expectReachable(page, '[data-testid=ranking]');
    // type: the panel's headings and ranking (zoomed), the map's labels (computed) — well above the desk's
    expect(await drawnFontPx(page, 'aside h2')).toBeGreaterThan(desk.h2 * 2);
    expect(await drawnFontPx(page, '[data-testid=ranking] button')).toBeGreaterThan(desk.rank * 2);
    expect(await drawnFontPx(page, 'header h1')).toBeGreaterThan(30);
    // nothing that edits, signs in or downloads; the clock and the live state are there
    for (const sel of ['[data-testid=settings]', '[data-testid=export-ranking]', '[data-testid=export-report]', '[data-testid=wall-link]']) expect(await page.locator(sel).isVisible(), sel).toBe(false);
    for (const sel of ['[data-testid=clock]', '[data-testid=live]', '[data-testid=exit-wall]']) expect(await page.locator(sel).isVisible(), sel).toBe(true);
    await f.shot('display-wall-city.png');
    const wall = await clusterSizes(page);
    expect(wall.label).toBeGreaterThan(desk.label * 2);
    expect(wall.marker).toBeGreaterThan(desk.marker * 2);

    await openCounty(page);
    expect(page.url()).toContain('display=wall');
    await expectFits(page, 'wall county');
    await expectReachable(page, `[data-testid=schools-table] tr[data-school="${SCHOOL_A}"] td:last-child`);
    expect(await page.locator('[data-testid=export-table]').isVisible()).toBe(false);
    await f.shot('display-wall-county.png');

    await openSchool(page);
    expect(page.url()).toContain('display=wall');
    await expectFits(page, 'wall school');
    await expectReachable(page, '[data-testid=compliance]');
    await expectReachable(page, '[data-testid=devices] tr[data-device]');
    // the corridor camera waits in the inbox: at the desk it has accept/reject buttons, on the wall the inbox is not shown
    for (const sel of ['[data-testid=inbox]', '[data-action=accept]', '[data-testid=edit-plan]', '[data-testid=planned-import]', '[data-testid=export-findings]', '[data-testid=export-devices]']) {
      expect(await page.locator(sel).count(), `${sel} exists`).toBeGreaterThan(0);
      expect(await page.locator(sel).first().isVisible(), `${sel} hidden`).toBe(false);
    }
    await page.locator('aside').evaluate((a) => a.scrollTo(0, 0));
    await f.shot('display-wall-school.png');

    // a plain link (the school's breadcrumb "#/city") keeps the wall display; "leave" goes back to the desk
    await page.locator('[data-testid=school-view] a[href="#/city"]').click();
    await page.locator('[data-testid=city-view]').waitFor();
    await page.waitForFunction(() => location.hash.includes('display=wall'));
    await page.locator('[data-testid=exit-wall]').click();
    await page.waitForFunction(() => !location.hash.includes('display=wall'));
    // the hash changes first, the page follows on its next render
    await page.locator('.app[data-display=desk]').waitFor();
    expect(await page.locator('[data-testid=settings]').isVisible()).toBe(true);
  });

  it('wall display at 1920×1080 with a device scale of 2: fits, type larger than at the desk; the city view follows live changes', async () => {
    // a browser context of its own: the device scale is fixed when a context is made
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    try {
      const ctx = await browser.newContext({ viewport: { width: 1920, height: 1080 }, deviceScaleFactor: 2, locale: 'zh-CN' });
      const page = await ctx.newPage();
      page.setDefaultTimeout(BROWSER_WAIT_TIMEOUT_MS);
      await openCity(page, f.base, '&display=wall');
      expect(await page.evaluate(() => [innerWidth, innerHeight, devicePixelRatio])).toEqual([1920, 1080, 2]);
      const l = await expectFits(page, 'wall 1080p@2x city');
      expect(l.aside.width).toBeGreaterThan(1920 * 0.2);
      expect(await drawnFontPx(page, 'aside h2')).toBeGreaterThan(desk.h2 * 1.2);
      await page.screenshot({ path: join(OUT, 'display-wall-1080p-2x-city.png') });

      // live: the corridor camera is enrolled (over the API, as another operator would); the county's
      // coverage in the ranking changes without a reload
      const value = page.locator(`[data-testid=ranking] [data-county="${COUNTY}"] span`).last();
      const before = await value.innerText();
      await f.api(`/api/v1/schools/${SCHOOL_A}/devices/gw-1/${f.corridorEast.deviceId}/accept`, { method: 'POST', body: JSON.stringify({ placement: f.corridorEast.placement }) });
      const after = await waitFor('the ranking to follow the live change', async () => {
        const v = await value.innerText();
        return v !== before ? v : undefined;
      }, 90_000);
      expect(parseFloat(after)).toBeGreaterThan(parseFloat(before));
      expect(page.url()).toContain('display=wall');
      await page.screenshot({ path: join(OUT, 'display-wall-1080p-2x-city-live.png') });
    } finally {
      await browser.close();
    }
  });
});
