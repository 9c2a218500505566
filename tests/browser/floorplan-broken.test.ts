/**
 * A stored floor-plan image whose header is fine but whose pixels Chromium cannot decode, against
 * the light fixture (a real collector, broker, PostgreSQL and InfluxDB; school 3715020001). The
 * collector accepts such a JPEG or WebP (it walks their structure but carries no decoder, see
 * collector/floorplan/image.ts); Chromium then fires `load` and resolves `img.decode()` yet draws
 * nothing. The school view must say so — 「平面图图片无法显示…」 beside the floor-plan controls —
 * rather than show an empty map. An intact JPEG, placed the same way, is drawn with no message.
 *
 * What Chromium refuses: a JPEG whose DC Huffman table holds an impossible symbol (the table the
 * entropy-coded data is read with), and a lossless WebP whose bitstream after its header is garbage.
 * Garbage in a JPEG's entropy-coded data itself is not among them: libjpeg-turbo conceals it (grey
 * or garbled blocks, a warning) and the browser reports success, so no page can tell.
 * Screenshot: tests/browser/output/floorplan-broken.png.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LocalFrame } from '../../collector/compliance/geometry/index.ts';
import { SCHOOL_A } from '../e2e/stack.ts';
import { startConsoleFixture, type ConsoleFixture } from './fixture.ts';
import { BROWSER_TEST_TIMEOUT_MS } from './serve-console.ts';

interface LonLat { lon: number; lat: number }
const fixture = (name: string) => readFileSync(new URL(`../fixtures/floorplan/${name}`, import.meta.url));
const JPEG = fixture('plan-96x64.jpg');
const WEBP_LOSSLESS = fixture('plan-96x64-lossless.webp');

/** The JPEG with the first symbol of its DC Huffman table set to 0x20: a DC difference category is at most 15 (T.81 F.1.2.1). */
function jpegWithBadHuffmanTable(jpeg: Buffer): Buffer {
  const out = Buffer.from(jpeg);
  for (let off = 2; out[off] === 0xff && out[off + 1] !== 0xda; off += 2 + out.readUInt16BE(off + 2)) {
    if (out[off + 1] === 0xc4 && out[off + 4]! >> 4 === 0) {
      // Tc/Th, 16 code-length counts, then the symbols: segment lengths and markers stay as they were
      out[off + 5 + 16] = 0x20;
      return out;
    }
  }
  throw new Error('the fixture JPEG has no DC Huffman table');
}

/** The lossless WebP with its VP8L bitstream after the 5-byte header (signature, size) replaced by a fixed garbage pattern. */
function webpWithGarbageBitstream(webp: Buffer): Buffer {
  const out = Buffer.from(webp);
  const at = out.indexOf('VP8L', 12, 'latin1');
  const len = out.readUInt32LE(at + 4);
  for (let i = 5; i < len; i++) out[at + 8 + i] = (i * 151 + 89) & 0xff;
  return out;
}

describe('a floor-plan image the browser cannot decode', { timeout: BROWSER_TEST_TIMEOUT_MS }, () => {
  let f: ConsoleFixture;
  let placement: { topLeft: LonLat; topRight: LonLat; bottomLeft: LonLat };
  const message = () => f.page.locator('[data-testid=floorplan-undecodable]');
  const drawn = (decoded: 'yes' | 'no') => f.page.locator(`img.floorplan-image[data-decoded=${decoded}]`).waitFor({ state: 'attached' });

  /** stores the file and its placement through the API, as another administrator or a script would */
  const store = async (file: Buffer, type: string) => {
    const url = `${f.base}/api/v1/schools/${SCHOOL_A}/floorplan`;
    const headers = { authorization: `Bearer ${f.stack.collector.apiToken}` };
    const res = await fetch(url, { method: 'PUT', headers: { ...headers, 'content-type': type }, body: new Uint8Array(file) });
    expect(res.status, await res.clone().text()).toBe(200); // whole in structure: the collector accepts it
    const placed = await fetch(`${url}/georef`, { method: 'PUT', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(placement) });
    expect(placed.status, await placed.clone().text()).toBe(200);
  };
  const openSchool = async () => {
    await f.page.goto(`${f.base}/#/school/${SCHOOL_A}`);
    await f.page.reload(); // the same hash after another file was stored: load the school afresh
    await f.page.locator('[data-testid=areas] tr[data-area=playground]').waitFor();
    await f.page.locator('[data-testid=floorplan][data-state=placed]').waitFor();
  };

  beforeAll(async () => {
    f = await startConsoleFixture({ pgAdminUrl: inject('postgresUrl'), influxUrl: inject('influxUrl') });
    const frame = new LocalFrame((f.spec.campus.frame as { anchor: LonLat }).anchor);
    // 96 × 64 px over the campus: 120 m × 80 m, north up
    placement = { topLeft: frame.toLonLat({ x: -60, y: 90 }), topRight: frame.toLonLat({ x: 60, y: 90 }), bottomLeft: frame.toLonLat({ x: -60, y: 10 }) };
  });
  afterAll(async () => {
    await f?.close();
  });

  it('draws an intact JPEG placed the same way, with no message', async () => {
    await store(JPEG, 'image/jpeg');
    await openSchool();
    await drawn('yes');
    expect(await message().count()).toBe(0);
    expect(await f.page.locator('[data-testid=floorplan-broken]').count()).toBe(0);
  });

  it('says a JPEG it cannot decode may be damaged and should be imported again (Chinese, then English)', async () => {
    await store(jpegWithBadHuffmanTable(JPEG), 'image/jpeg');
    await openSchool();
    await message().waitFor();
    expect(await message().textContent()).toContain('平面图图片无法显示：文件可能已损坏，请重新导入');
    await drawn('no');
    // beside the floor-plan controls, not a page-wide banner; the fetch itself worked
    expect(await f.page.locator('[data-testid=floorplan] [data-testid=floorplan-undecodable]').count()).toBe(1);
    expect(await f.page.locator('[data-testid=floorplan-broken]').count()).toBe(0);
    await f.shot('floorplan-broken.png');
    await f.page.locator('[data-testid=lang]').click();
    await message().filter({ hasText: 'The floor-plan image cannot be shown: the file may be damaged' }).waitFor();
    await f.page.locator('[data-testid=lang]').click();
  });

  it('says the same of a lossless WebP whose compressed bitstream is garbage', async () => {
    await store(webpWithGarbageBitstream(WEBP_LOSSLESS), 'image/webp');
    await openSchool();
    await message().waitFor();
    expect(await message().textContent()).toContain('平面图图片无法显示');
    await drawn('no');
  });
});
