/**
 * Time to interactive of the console's city view with a 3,500-school city, in Debian's headless
 * Chromium (not asserted anywhere; recorded in bench/RESULTS.md, ## Console). An embedded inventory
 * (PGlite) with 聊城市's counties and 438 simulated schools each (3,504), a collector without InfluxDB, the
 * built console. Measured from navigation start: county boundaries and school markers drawn (the
 * map is usable), the county ranking shown (needs the city compliance roll-up), and frame gaps
 * while panning. Run: `npm run build:console && npx tsx bench/console-city.ts`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { openStore, startCollector } from '../collector/collector.ts';
import { seedDemoCity } from '../simulator/demo-city.ts';
import { CHROMIUM_ARGS, serveConsole } from '../tests/browser/serve-console.ts';

// 聊城市 has 8 counties in the boundary file: 8 × 438 = 3,504 schools
const PER_COUNTY = Number(process.env.PER_COUNTY ?? 438);
const quiet = { info() {}, warn() {}, error() {}, debug() {}, trace() {}, fatal() {}, child: () => quiet, level: 'silent' };

const dir = await mkdtemp(join(tmpdir(), 'campus-console-bench-'));
const store = await openStore({ dataDir: dir });
const t0 = Date.now();
const schools = await seedDemoCity(store.inventory, '371500', PER_COUNTY);
console.log(`seeded ${schools.length} schools in ${Date.now() - t0} ms`);
const collector = await startCollector({ host: '127.0.0.1', httpPort: 0, mqttUrl: 'mqtt://127.0.0.1:1', mqttUsername: 'collector', influxDb: 'bench', dataDir: dir, logger: quiet as never, store });
const web = await serveConsole(collector.url, resolve(import.meta.dirname, '../console/dist'));
const ctx = await chromium.launchPersistentContext(join(dir, 'chromium'), { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1366, height: 768 } });
try {
  for (let run = 1; run <= 3; run++) {
    const page = await ctx.newPage();
    await page.goto(`${web.url}/#/city?ind=coverage`);
    await page.waitForFunction(() => Number(document.getElementById('map')?.dataset.counties) > 0 && Number(document.getElementById('map')?.dataset.markers) > 0, null, { timeout: 120_000 });
    const interactive = await page.evaluate(() => performance.now());
    await page.locator('[data-testid=ranking] li').first().waitFor({ timeout: 600_000 });
    const ranked = await page.evaluate(() => performance.now());
    // zoom in so that every school is its own marker, then pan and record frame gaps
    await page.evaluate(() => (window as unknown as { __campusMap: { setZoom(z: number, o: object): void } }).__campusMap.setZoom(12, { animate: false }));
    await page.waitForFunction(() => document.getElementById('map')?.dataset.markerMode === 'schools');
    const gaps = await page.evaluate(async () => {
      const m = (window as unknown as { __campusMap: { panBy(p: [number, number], o: object): void } }).__campusMap;
      const out: number[] = [];
      let last = performance.now();
      for (let i = 0; i < 40; i++) {
        m.panBy([i % 2 ? -80 : 80, 40], { animate: false });
        await new Promise((r) => requestAnimationFrame(r));
        const now = performance.now();
        out.push(now - last);
        last = now;
      }
      return out.sort((a, b) => a - b);
    });
    const p = (q: number) => gaps[Math.min(gaps.length - 1, Math.floor(q * gaps.length))]!.toFixed(1);
    console.log(`run ${run}: boundaries+markers ${interactive.toFixed(0)} ms, ranking ${ranked.toFixed(0)} ms, pan frame p50 ${p(0.5)} ms p95 ${p(0.95)} ms max ${p(1)} ms`);
    await page.close();
  }
} finally {
  await ctx.close();
  await web.close();
  await collector.close();
  await store.db.close();
  await rm(dir, { recursive: true, force: true });
}
