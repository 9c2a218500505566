/**
 * The floor-plan routes through fastify's `inject()`, on both inventory backends (a fresh database
 * on the test PostgreSQL server, and PGlite): real image files (PNGs built with node:zlib, a JPEG and
 * a WebP that Chromium encoded), bad files refused with their reason while the stored image stays,
 * ETag and 304, the placement's checks, the token, deletion.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { STORE_BACKENDS } from '../../tests/setup/store-backends.ts';
import { campusPlanPng, encodePng, pngHeaderOnly } from '../../tests/fixtures/floorplan/png.ts';
import { LocalFrame } from '../compliance/geometry/index.ts';
import { Ingest } from '../ingest/ingest.ts';
import { Inventory, type Db } from '../store/index.ts';
import { FileLineSink } from '../telemetry/file-sink.ts';
import { buildApi } from './app.ts';

const TOKEN = 'test-admin-token-0123456789';
const SCHOOL = '3715020001';
const NO_SUCH_SCHOOL = '3715029999';
const URL_ = `/api/v1/schools/${SCHOOL}/floorplan`;
const silent = { info() {}, warn() {}, error() {} };
const auth = { authorization: `Bearer ${TOKEN}`, 'x-campus-actor': encodeURIComponent('张老师') };
const fixture = (name: string) => readFileSync(new URL(`../../tests/fixtures/floorplan/${name}`, import.meta.url));

const plan = campusPlanPng();
const JPEG = fixture('plan-96x64.jpg');
const WEBP = fixture('plan-96x64-lossy.webp');
const frame = new LocalFrame({ lon: 115.985, lat: 36.456 });
const ll = (p: { x: number; y: number }) => frame.toLonLat(p);
/** the campus image where it belongs */
const GOOD = { topLeft: ll(plan.corners.topLeft), topRight: ll(plan.corners.topRight), bottomLeft: ll(plan.corners.bottomLeft) };

interface Meta {
  width: number;
  height: number;
  contentType: string;
  bytes: number;
  sha256: string;
  uploadedAt: string;
  uploadedBy: string;
  georef: typeof GOOD | null;
  georefAt: string | null;
  georefBy: string | null;
}

describe.each(STORE_BACKENDS)('floor-plan routes on $name', (backend) => {
  let tmp: string;
  let db: Db;
  let sink: FileLineSink;
  let app: FastifyInstance;

  const upload = (body: Buffer, type = 'image/png', headers: Record<string, string> = auth) => app.inject({ method: 'PUT', url: URL_, headers: { ...headers, 'content-type': type }, payload: body });
  const meta = () => app.inject({ url: `${URL_}/meta` });

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'campus-floorplan-'));
    db = await backend.open();
    const inventory = new Inventory(db);
    await inventory.upsertRegion({ code: '371500', name: '聊城市', level: 'city' });
    await inventory.upsertRegion({ code: '371502', name: '东昌府区', level: 'county', parentCode: '371500' });
    await inventory.upsertSchool({ code: SCHOOL, name: '聊城第一中学', countyCode: '371502', type: 'senior', ownership: 'public', studentCount: 3000, staffCount: 240, lon: 115.985, lat: 36.456 });
    sink = new FileLineSink({ dir: tmp });
    // never started: no broker connection; the URL is never dialled
    const ingest = new Ingest({ mqttUrl: 'mqtt://127.0.0.1:9', username: 'collector', password: 'unused', inventory, sink, logger: silent });
    app = await buildApi({ inventory, db, ingest, sink, apiToken: TOKEN, consoleDir: join(tmp, 'no-console') });
    await app.ready();
  });
  afterAll(async () => {
    await app?.close();
    await sink?.close();
    if (db) await backend.release(db);
    await rm(tmp, { recursive: true, force: true });
  });
  beforeEach(async () => {
    await db.query('DELETE FROM floor_plans');
  });

  it('stores a PNG with its size from the file, who uploaded it and when, not yet placed', async () => {
    const before = Date.now();
    const res = await upload(plan.png);
    expect(res.statusCode, res.body).toBe(200);
    const m = res.json<Meta>();
    expect(m).toMatchObject({ width: plan.width, height: plan.height, contentType: 'image/png', bytes: plan.png.length, uploadedBy: 'admin-token/张老师', georef: null, georefAt: null, georefBy: null });
    expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Date.parse(m.uploadedAt)).toBeGreaterThanOrEqual(before - 1000);
    expect((await meta()).json()).toEqual(m);
  });

  it('serves the image byte for byte with its type, an ETag, and 304 for If-None-Match', async () => {
    const m = (await upload(plan.png)).json<Meta>();
    const res = await app.inject({ url: `${URL_}?v=${m.sha256}` });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('image/png');
    expect(res.rawPayload.equals(plan.png)).toBe(true);
    expect(res.headers.etag).toBe(`"${m.sha256}"`);
    expect(res.headers['cache-control']).toBe('private, no-cache');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    const again = await app.inject({ url: URL_, headers: { 'if-none-match': `W/"other", "${m.sha256}"` } });
    expect(again.statusCode).toBe(304);
    expect(again.rawPayload.length).toBe(0);
    const stale = await app.inject({ url: URL_, headers: { 'if-none-match': '"0000"' } });
    expect(stale.statusCode).toBe(200);
  });

  it('takes the type from the content: a JPEG sent as image/png is stored and served as a JPEG, replacing the PNG', async () => {
    const first = (await upload(plan.png)).json<Meta>();
    const res = await upload(JPEG, 'image/png');
    expect(res.statusCode, res.body).toBe(200);
    const m = res.json<Meta>();
    expect(m).toMatchObject({ contentType: 'image/jpeg', width: 96, height: 64, bytes: JPEG.length });
    expect(m.sha256).not.toBe(first.sha256);
    const img = await app.inject({ url: URL_ });
    expect(img.headers['content-type']).toBe('image/jpeg');
    expect(img.rawPayload.equals(JPEG)).toBe(true);
    // the old ETag no longer matches
    expect((await app.inject({ url: URL_, headers: { 'if-none-match': `"${first.sha256}"` } })).statusCode).toBe(200);
  });

  it('stores a WebP', async () => {
    const res = await upload(WEBP, 'image/webp');
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json<Meta>()).toMatchObject({ contentType: 'image/webp', width: 96, height: 64 });
  });

  it.each([
    ['a text file called .png', Buffer.from('这不是图片：平面图.png 其实是文本'), 'image/png', 415, 'FLOORPLAN_NOT_IMAGE', 'not-an-image', /not a PNG, JPEG or WebP image/],
    ['an empty body', Buffer.alloc(0), 'image/png', 415, 'FLOORPLAN_NOT_IMAGE', 'not-an-image', /empty/],
    ['a PNG cut short', plan.png.subarray(0, Math.floor(plan.png.length * 0.6)), 'image/png', 400, 'FLOORPLAN_DAMAGED', 'truncated', /ends/],
    ['a JPEG cut short', JPEG.subarray(0, JPEG.length - 300), 'image/jpeg', 400, 'FLOORPLAN_DAMAGED', 'truncated', /JPEG ends/],
    ['a PNG 25000 px wide', pngHeaderOnly(25_000, 400), 'image/png', 400, 'FLOORPLAN_BAD_DIMENSIONS', 'dimensions', /25000 × 400 px; each side must be 1–20000 px/],
    ['a PNG 0 px high', pngHeaderOnly(400, 0), 'image/png', 400, 'FLOORPLAN_BAD_DIMENSIONS', 'dimensions', /400 × 0 px/],
    ['a PNG whose chunks are whole but whose pixel data is one row of 300', pngHeaderOnly(400, 300), 'image/png', 400, 'FLOORPLAN_DAMAGED', 'corrupt', /image data inflates to only 5 of the 480300 bytes its header calls for \(400 × 300 px, 8-bit RGBA\)/],
    ['a good PNG sent as text/plain', plan.png, 'text/plain', 415, 'FLOORPLAN_NOT_IMAGE', 'content-type', /Content-Type image\/png, image\/jpeg or image\/webp \(got text\/plain\)/],
    ['a good PNG sent as JSON', Buffer.from('{"x":1}'), 'application/json', 415, 'FLOORPLAN_NOT_IMAGE', 'content-type', /got application\/json/],
  ])('refuses %s with the reason, and keeps the stored image', async (_what, body, type, status, code, problem, message) => {
    const kept = (await upload(plan.png)).json<Meta>();
    const res = await upload(body, type);
    expect(res.statusCode, res.body).toBe(status);
    const e = res.json<{ code: string; message: string; details: { problem: string } }>();
    expect(e.code).toBe(code);
    expect(e.details.problem).toBe(problem);
    expect(e.message).toMatch(message);
    expect((await meta()).json()).toEqual(kept);
  });

  it('refuses a file over 20 MB with FLOORPLAN_TOO_LARGE (413) before storing anything', async () => {
    const big = Buffer.concat([plan.png, Buffer.alloc(20 * 1024 * 1024)]);
    const res = await upload(big);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: 'FLOORPLAN_TOO_LARGE', message: expect.stringContaining('larger than 20 MB') });
    expect((await meta()).statusCode).toBe(404);
    // the JSON routes keep the API's own limit and answer
    expect((await upload(encodePng(2, 2, new Uint8Array(16)))).statusCode).toBe(200);
  });

  it('needs the token for every write; reads are open', async () => {
    const noToken = await upload(plan.png, 'image/png', {});
    expect(noToken.statusCode).toBe(401);
    expect(noToken.json().code).toBe('UNAUTHORIZED');
    expect((await upload(plan.png, 'image/png', { authorization: 'Bearer wrong' })).statusCode).toBe(401);
    expect((await meta()).json().code).toBe('NO_FLOORPLAN');
    await upload(plan.png);
    expect((await app.inject({ method: 'PUT', url: `${URL_}/georef`, payload: GOOD })).statusCode).toBe(401);
    expect((await app.inject({ method: 'DELETE', url: URL_ })).statusCode).toBe(401);
    expect((await app.inject({ url: URL_ })).statusCode).toBe(200);
    expect((await meta()).statusCode).toBe(200);
  });

  it('answers NO_FLOORPLAN (404) for a school without one, NOT_FOUND for no such school', async () => {
    for (const r of [await app.inject({ url: URL_ }), await meta(), await app.inject({ method: 'PUT', url: `${URL_}/georef`, headers: auth, payload: GOOD }), await app.inject({ method: 'DELETE', url: URL_, headers: auth })]) {
      expect(r.statusCode).toBe(404);
      expect(r.json()).toMatchObject({ code: 'NO_FLOORPLAN', message: `school ${SCHOOL} has no floor-plan image` });
    }
    const other = await app.inject({ method: 'PUT', url: `/api/v1/schools/${NO_SUCH_SCHOOL}/floorplan`, headers: { ...auth, 'content-type': 'image/png' }, payload: plan.png });
    expect(other.statusCode).toBe(404);
    expect(other.json().code).toBe('NOT_FOUND');
  });

  it('places the image by three corners, keeps who placed it; a new upload clears the placement', async () => {
    await upload(plan.png);
    const res = await app.inject({ method: 'PUT', url: `${URL_}/georef`, headers: auth, payload: GOOD });
    expect(res.statusCode, res.body).toBe(200);
    const m = res.json<Meta>();
    expect(m.georef).toEqual(GOOD);
    expect(m.georefBy).toBe('admin-token/张老师');
    expect(m.georefAt).toEqual(expect.any(String));
    expect((await meta()).json<Meta>().georef).toEqual(GOOD);
    await upload(JPEG, 'image/jpeg');
    expect((await meta()).json<Meta>()).toMatchObject({ georef: null, georefBy: null, georefAt: null });
  });

  it.each([
    ['lon and lat swapped (lat 115.98)', { ...GOOD, topLeft: { lon: GOOD.topLeft.lat, lat: GOOD.topLeft.lon } }, 'INVALID_INPUT', null],
    ['a corner in Paris', { ...GOOD, topRight: { lon: 2.35, lat: 48.85 } }, 'INVALID_GEOREF', 'outside-china'],
    ['three corners in a line', { topLeft: ll({ x: 0, y: 0 }), topRight: ll({ x: 100, y: 0 }), bottomLeft: ll({ x: 200, y: 0 }) }, 'INVALID_GEOREF', 'collinear'],
    ['a mirror image', { ...GOOD, topRight: GOOD.bottomLeft, bottomLeft: GOOD.topRight }, 'INVALID_GEOREF', 'mirrored'],
    ['a 3 m campus', { topLeft: ll({ x: 0, y: 0 }), topRight: ll({ x: 3, y: 0 }), bottomLeft: ll({ x: 0, y: -2.6 }) }, 'INVALID_GEOREF', 'too-small'],
    ['a 10 km campus', { topLeft: ll({ x: 0, y: 0 }), topRight: ll({ x: 8000, y: 0 }), bottomLeft: ll({ x: 0, y: -7000 }) }, 'INVALID_GEOREF', 'too-large'],
    ['pixels stretched 8:1', { topLeft: ll({ x: 0, y: 0 }), topRight: ll({ x: 160, y: 0 }), bottomLeft: ll({ x: 0, y: -1120 }) }, 'INVALID_GEOREF', 'stretched'],
    ['a missing corner', { topLeft: GOOD.topLeft, topRight: GOOD.topRight }, 'INVALID_INPUT', null],
    ['an extra field', { ...GOOD, bottomRight: GOOD.topLeft }, 'INVALID_INPUT', null],
    ['a corner as words', { ...GOOD, topLeft: { lon: 'east', lat: 36.4 } }, 'INVALID_INPUT', null],
  ])('refuses a placement with %s (400, the reason), keeping the one before', async (_what, body, code, problem) => {
    await upload(plan.png);
    await app.inject({ method: 'PUT', url: `${URL_}/georef`, headers: auth, payload: GOOD });
    const res = await app.inject({ method: 'PUT', url: `${URL_}/georef`, headers: auth, payload: body });
    expect(res.statusCode, res.body).toBe(400);
    const e = res.json<{ code: string; message: string; details?: { problem: string } }>();
    expect(e.code).toBe(code);
    if (problem) expect(e.details?.problem).toBe(problem);
    expect(e.message.length).toBeGreaterThan(10);
    expect((await meta()).json<Meta>().georef).toEqual(GOOD);
  });

  it('deletes the image and its placement', async () => {
    await upload(plan.png);
    const res = await app.inject({ method: 'DELETE', url: URL_, headers: auth });
    expect(res.statusCode).toBe(204);
    expect((await app.inject({ url: URL_ })).json().code).toBe('NO_FLOORPLAN');
    expect((await app.inject({ method: 'DELETE', url: URL_, headers: auth })).statusCode).toBe(404);
  });

  it('documents the routes in the OpenAPI document, writes with the bearer scheme', async () => {
    const doc = (await app.inject({ url: '/api/openapi.json' })).json<{ paths: Record<string, Record<string, { security?: unknown[] }>> }>();
    const p = doc.paths['/api/v1/schools/{code}/floorplan']!;
    expect(Object.keys(p).sort()).toEqual(['delete', 'get', 'put']);
    expect(p.put!.security).toEqual([{ bearer: [] }]);
    expect(p.delete!.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/api/v1/schools/{code}/floorplan/georef']!.put!.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/api/v1/schools/{code}/floorplan/meta']!.get).toBeDefined();
  });
});
