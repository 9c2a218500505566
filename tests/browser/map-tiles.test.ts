/**
 * A tile server from configuration (CAMPUS_TILE_URL): a tile server of our own on loopback stands in
 * for Tianditu or an intranet server. The console asks the collector for its settings, draws the
 * tiles under the vector boundaries and shows the attribution. (Without it, every other browser
 * test runs with no tiles at all.)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { encodePng } from '../fixtures/floorplan/png.ts';
import { startConsoleFixture, type ConsoleFixture } from './fixture.ts';
import { BROWSER_TEST_TIMEOUT_MS } from './serve-console.ts';

describe('console with a configured tile server', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  let f: ConsoleFixture;
  let tiles: http.Server;
  const requested: string[] = [];
  // one light-green 256×256 tile for every request
  const tile = encodePng(256, 256, new Uint8Array(256 * 256 * 4).map((_, i) => [200, 230, 200, 255][i % 4]!));

  beforeAll(async () => {
    tiles = http.createServer((req, res) => {
      requested.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'image/png', 'access-control-allow-origin': '*' }).end(tile);
    });
    await new Promise<void>((r) => tiles.listen(0, '127.0.0.1', r));
    const port = (tiles.address() as AddressInfo).port;
    f = await startConsoleFixture({ pgAdminUrl: inject('postgresUrl'), influxUrl: inject('influxUrl'), mapTiles: { url: `http://127.0.0.1:${port}/{z}/{x}/{y}.png`, attribution: '测试底图 审图号：GS(2026)0000号', maxNativeZoom: 18 } });
  }, 180_000);
  afterAll(async () => {
    await f?.close();
    await new Promise((r) => tiles?.close(r));
  });

  it('draws the tiles under the county boundaries and shows their attribution', async () => {
    const cfg = await f.api<{ tileUrl?: string; tileAttribution?: string }>('/api/v1/console-config');
    expect(cfg.tileUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\{z\}\/\{x\}\/\{y\}\.png$/);
    const { page } = f;
    await page.goto(`${f.base}/#/city`);
    await page.waitForFunction(() => Number(document.getElementById('map')?.dataset.counties) > 0);
    await page.waitForFunction(() => document.querySelectorAll('.base-tiles img.leaflet-tile-loaded').length > 0);
    expect(requested.some((u) => /^\/\d+\/\d+\/\d+\.png$/.test(u))).toBe(true);
    expect(await page.locator('.leaflet-control-attribution').innerText()).toContain('审图号');
    await f.shot('tiles-city.png');
  });
});
