/**
 * The collector's HTTP API through fastify's `inject()` (no socket): a real inventory (PGlite), a
 * real FileLineSink in a temporary directory, and an Ingest that is constructed but never started,
 * so the broker counts as not connected.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { agentUsername } from '../../protocol/index.ts';
import { freshPgliteDb } from '../../tests/setup/pglite.ts';
import { Ingest } from '../ingest/ingest.ts';
import { REJECT_REASONS } from '../ingest/counters.ts';
import { Inventory, type Db } from '../store/index.ts';
import { FileLineSink } from '../telemetry/file-sink.ts';
import { buildApi } from './app.ts';
import { API_ERRORS } from './errors.ts';
import { SESSION_EXPIRED, SIGN_IN_FIRST } from './access.ts';

const TOKEN = 'test-admin-token-0123456789';
const CITY = '371500';
const COUNTY = '371502';
const SCHOOL = '3715020001';
const OTHER_SCHOOL = '3715020002';
const silent = { info() {}, warn() {}, error() {} };
const auth = (token = TOKEN) => ({ authorization: `Bearer ${token}` });

let tmp: string;
let db: Db;
let inventory: Inventory;
let sink: FileLineSink;
let ingest: Ingest;
let app: FastifyInstance;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'campus-api-test-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

beforeEach(async () => {
  db = await freshPgliteDb();
  inventory = new Inventory(db);
  await inventory.upsertRegion({ code: CITY, name: '聊城市', level: 'city' });
  await inventory.upsertRegion({ code: COUNTY, name: '东昌府区', level: 'county', parentCode: CITY });
  await inventory.upsertSchool({ code: SCHOOL, name: '聊城第一中学', countyCode: COUNTY, type: 'senior', ownership: 'public', studentCount: 3000, staffCount: 240 });
  sink = new FileLineSink({ dir: await mkdtemp(join(tmp, 'telemetry-')) });
  // Never started: no broker connection, no timers. The URL is never dialled.
  ingest = new Ingest({ mqttUrl: 'mqtt://127.0.0.1:9', username: 'collector', password: 'unused', inventory, sink, logger: silent });
  app = await buildApi({ inventory, db, ingest, sink, apiToken: TOKEN });
  await app.ready();
});
afterEach(async () => {
  await app.close();
  await sink.close();
  await db.close();
});

describe('an Ingest that was never started', () => {
  it('reports not connected, all counters zero and no last message', () => {
    const s = ingest.status();
    expect(s.connected).toBe(false);
    expect(s.lastMessageAt).toBeUndefined();
    expect(s.counters).toEqual({
      messagesReceived: 0,
      messagesAccepted: 0,
      duplicates: 0,
      seqGaps: 0,
      seqResets: 0,
      readingsAccepted: 0,
      linesWritten: 0,
      rejected: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])),
    });
  });
});

// ---- OpenAPI ----

interface Operation {
  parameters?: { name: string; in: string; required?: boolean }[];
  responses?: Record<string, unknown>;
  security?: unknown[];
  requestBody?: { content?: Record<string, unknown> };
}
interface OpenApiDoc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Record<string, Operation>>;
  components?: Record<string, Record<string, unknown>>;
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/** Every `$ref` anywhere in `node`. */
function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const n of node) refs(n, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') out.push(v);
      else refs(v, out);
    }
  }
  return out;
}

/** Resolves a local JSON pointer (`#/components/schemas/x`) in `doc`; undefined when it does not exist. */
function resolvePointer(doc: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let cur: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!cur || typeof cur !== 'object' || !(key in cur)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** The routes fastify actually serves, as `METHOD /openapi/{style}` (HEAD twins of GET left out). */
function servedRoutes(a: FastifyInstance): string[] {
  const routes: string[] = [];
  // printRoutes({ commonPrefix: false }) prints one tree line per path segment group: "├── /x (GET, HEAD)"
  const stack: { depth: number; path: string }[] = [];
  for (const line of a.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^([│ ]*)[├└]── (\S+)(?: \(([^)]*)\))?/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    while (stack.length && stack[stack.length - 1]!.depth >= depth) stack.pop();
    const path = (stack[stack.length - 1]?.path ?? '') + m[2]!;
    stack.push({ depth, path });
    for (const method of (m[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
      if (method === 'HEAD') continue;
      routes.push(`${method} ${path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    }
  }
  return routes.sort();
}

describe('GET /api/openapi.json', () => {
  it('is a well-formed OpenAPI 3 document that lists every route the API serves', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const doc = res.json<OpenApiDoc>();

    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info.title).toEqual(expect.any(String));
    expect(doc.info.version).toEqual(expect.any(String));
    expect(doc.components?.securitySchemes?.bearer).toEqual({ type: 'http', scheme: 'bearer' });

    const documented: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      expect(path.startsWith('/')).toBe(true);
      expect(path, 'OpenAPI paths use {param}, not :param').not.toMatch(/:/);
      const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(item)) {
        expect(HTTP_METHODS).toContain(method);
        documented.push(`${method.toUpperCase()} ${path}`);
        // Every operation documents at least one response, keyed by a status code.
        expect(Object.keys(op.responses ?? {}).length, `${method} ${path} has responses`).toBeGreaterThan(0);
        for (const status of Object.keys(op.responses ?? {})) expect(status).toMatch(/^([1-5][0-9]{2}|[1-5]XX|default)$/);
        // Every {param} of the path is declared as a required path parameter, and nothing else is.
        const pathParams = (op.parameters ?? []).filter((p) => p.in === 'path');
        expect(pathParams.map((p) => p.name).sort(), `${method} ${path} path parameters`).toEqual([...templated].sort());
        for (const p of pathParams) expect(p.required).toBe(true);
        // Security requirements name schemes that exist.
        for (const req of op.security ?? []) for (const name of Object.keys(req as object)) expect(doc.components?.securitySchemes).toHaveProperty(name);
      }
    }
    // Every $ref resolves inside the document.
    for (const ref of refs(doc)) expect(resolvePointer(doc, ref), `unresolved $ref ${ref}`).toBeDefined();

    // Every route fastify serves is in the document, except the document itself.
    expect(documented.sort()).toEqual(servedRoutes(app).filter((r) => r !== 'GET /api/openapi.json'));
    expect(documented).toEqual(
      expect.arrayContaining([
        'GET /api/v1/health',
        'GET /api/v1/regions',
        'GET /api/v1/schools',
        'GET /api/v1/schools/{code}',
        'GET /api/v1/schools/{code}/devices',
        'GET /api/v1/schools/{code}/agents',
        'POST /api/v1/admin/agents',
        'POST /api/v1/admin/schools/import',
        'POST /api/v1/agents/{school}/{agent}/commands',
        'POST /api/v1/mqtt/auth',
      ]),
    );
    // Admin routes say they need the token.
    expect(doc.paths['/api/v1/admin/agents']!.post!.security).toEqual([{ bearer: [] }]);
    expect(doc.paths['/api/v1/admin/schools/import']!.post!.security).toEqual([{ bearer: [] }]);
  });
});

// ---- health ----

describe('GET /api/v1/health', () => {
  it('answers 503 "degraded" while the broker is not connected, with every counter at zero', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/v1/health' });
    expect(res.statusCode).toBe(503);
    const body = res.json();
    expect(body).toEqual({
      status: 'degraded',
      checks: {
        telemetry: { ok: true, detail: sink.describe() },
        database: { ok: true, detail: db.kind },
        broker: { ok: false },
      },
      telemetry: { destination: sink.describe(), linesWritten: 0, linesRejected: 0, linesBuffered: 0, retries: 0 },
      ingest: {
        messagesReceived: 0,
        messagesAccepted: 0,
        readingsAccepted: 0,
        linesWritten: 0,
        duplicates: 0,
        seqGaps: 0,
        seqResets: 0,
        rejected: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])),
      },
      csvImports: { accepted: 0, rejectedFiles: 0, rejectedRows: 0 },
      exports: { built: 0, refused: 0, abandoned: 0, running: 0, queued: 0 },
    });
    // No in-process broker was given: no broker section.
    expect(body).not.toHaveProperty('broker');
  });

  it('shows the counters of an in-process broker when one is given', async () => {
    const withBroker = await buildApi({ inventory, db, ingest, sink, apiToken: TOKEN, brokerStats: () => ({ clients: 2, publishesRefused: 3 }) });
    try {
      const res = await withBroker.inject({ method: 'GET', url: '/api/v1/health' });
      expect(res.statusCode).toBe(503);
      expect(res.json().broker).toEqual({ clients: 2, publishesRefused: 3 });
    } finally {
      await withBroker.close();
    }
  });

  it('reports the telemetry sink as down when it cannot write', async () => {
    // A directory below a regular file can never be created.
    const file = join(tmp, `not-a-dir-${Date.now()}`);
    await writeFile(file, '');
    const blocked = new FileLineSink({ dir: join(file, 'telemetry') });
    const api = await buildApi({ inventory, db, ingest, sink: blocked, apiToken: TOKEN });
    try {
      const res = await api.inject({ method: 'GET', url: '/api/v1/health' });
      expect(res.statusCode).toBe(503);
      expect(res.json().checks.telemetry.ok).toBe(false);
      expect(res.json().checks.database.ok).toBe(true);
    } finally {
      await api.close();
    }
  });
});

// ---- schools and devices ----

describe('GET /api/v1/schools/{code}/devices', () => {
  it('answers 404 NOT_FOUND for a school that does not exist', async () => {
    const res = await app.inject({ method: 'GET', url: `/api/v1/schools/${OTHER_SCHOOL}/devices` });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ code: 'NOT_FOUND', message: expect.stringContaining(OTHER_SCHOOL) });
  });

  it.each(['12345', '37150200011', 'abcdefghij', '3715-20001'])('answers 400 INVALID_INPUT for the malformed code %s', async (code) => {
    const res = await app.inject({ method: 'GET', url: `/api/v1/schools/${encodeURIComponent(code)}/devices` });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('INVALID_INPUT');
  });

  it('is empty for a school without devices, and lists them after discovery', async () => {
    const empty = await app.inject({ method: 'GET', url: `/api/v1/schools/${SCHOOL}/devices` });
    expect(empty.statusCode).toBe(200);
    expect(empty.json()).toEqual([]);

    await inventory.addAgent({ schoolCode: SCHOOL, agentId: 'gw-1' });
    const at = new Date('2025-03-01T08:00:00.000Z');
    await inventory.upsertDiscoveredDevices(
      SCHOOL,
      'gw-1',
      [
        { device: 'sw-core', kind: 'switch', protocol: 'snmp', address: '10.0.0.2', profile: 'generic-switch', attributes: { sysName: 'core', ports: 48, poe: true } },
        { device: 'cam-gate', kind: 'camera', protocol: 'onvif', address: '10.0.1.10:80', attributes: {} },
      ],
      at,
    );
    const res = await app.inject({ method: 'GET', url: `/api/v1/schools/${SCHOOL}/devices` });
    expect(res.statusCode).toBe(200);
    const devices = res.json<Record<string, unknown>[]>();
    expect(devices).toHaveLength(2);
    const byId = Object.fromEntries(devices.map((d) => [d.deviceId, d]));
    expect(byId['sw-core']).toEqual({
      agentId: 'gw-1',
      deviceId: 'sw-core',
      kind: 'switch',
      protocol: 'snmp',
      address: '10.0.0.2',
      profile: 'generic-switch',
      attributes: { sysName: 'core', ports: 48, poe: true },
      state: 'discovered',
      firstSeen: at.toISOString(),
      lastSeen: at.toISOString(),
      goneAt: null,
    });
    expect(byId['cam-gate']).toMatchObject({ kind: 'camera', protocol: 'onvif', address: '10.0.1.10:80', profile: null, attributes: {}, goneAt: null });
  });
});

// ---- administration ----

describe('admin routes', () => {
  const newAgent = { schoolCode: SCHOOL, agentId: 'gw-new' };

  it.each([
    ['no Authorization header', {}],
    ['a wrong token', auth('wrong-token')],
    ['a token that only shares a prefix', auth(TOKEN.slice(0, -1))],
    ['a longer token', auth(`${TOKEN}x`)],
    ['the token without the Bearer scheme', { authorization: TOKEN }],
    ['Basic instead of Bearer', { authorization: `Basic ${Buffer.from(`admin:${TOKEN}`).toString('base64')}` }],
  ])('refuse %s with 401 UNAUTHORIZED and change nothing', async (_what, headers) => {
    const add = await app.inject({ method: 'POST', url: '/api/v1/admin/agents', headers, payload: newAgent });
    expect(add.statusCode).toBe(401);
    expect(add.json()).toMatchObject({ code: 'UNAUTHORIZED', message: ('authorization' in headers && headers.authorization.startsWith('Bearer ')) ? SESSION_EXPIRED : SIGN_IN_FIRST });
    expect(await inventory.getAgent(SCHOOL, 'gw-new')).toBeNull();

    const csv = await app.inject({
      method: 'POST',
      url: '/api/v1/admin/schools/import',
      headers: { ...headers, 'content-type': 'text/csv' },
      payload: `code,name,county_code,type,ownership,student_count,staff_count,contracted_uplink_mbps,lon,lat,address\n${OTHER_SCHOOL},新学校,${COUNTY},primary,public,100,10,,,,\n`,
    });
    expect(csv.statusCode).toBe(401);
    expect(csv.json().code).toBe('UNAUTHORIZED');
    expect(await inventory.getSchool(OTHER_SCHOOL)).toBeNull();

    const cmd = await app.inject({ method: 'POST', url: `/api/v1/agents/${SCHOOL}/gw-1/commands`, headers, payload: { command: 'ping' } });
    expect(cmd.statusCode).toBe(401);
    expect(cmd.json().code).toBe('UNAUTHORIZED');

    const mqttAuth = await app.inject({ method: 'POST', url: '/api/v1/mqtt/auth', headers, payload: { username: 'x', password: 'y' } });
    expect(mqttAuth.statusCode).toBe(401);
    expect(mqttAuth.json().code).toBe('UNAUTHORIZED');
  });

  it('POST /api/v1/admin/agents registers an agent and returns its password once; re-adding is 409 CONFLICT', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/admin/agents', headers: auth(), payload: newAgent });
    expect(res.statusCode).toBe(201);
    const cred = res.json<{ username: string; password: string }>();
    expect(cred.username).toBe(agentUsername(newAgent));
    expect(cred.password.length).toBeGreaterThanOrEqual(16);
    expect(await inventory.verifyCredential(cred.username, cred.password)).toEqual({ kind: 'agent', ...newAgent });
    expect(await inventory.getAgent(SCHOOL, 'gw-new')).toMatchObject({ state: 'never-seen', lastSeq: -1 });

    // The password is never shown again: not in the agent listing.
    const list = await app.inject({ method: 'GET', url: `/api/v1/schools/${SCHOOL}/agents` });
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(cred.password);
    expect(list.json()).toEqual([expect.objectContaining({ agentId: 'gw-new', state: 'never-seen' })]);

    const again = await app.inject({ method: 'POST', url: '/api/v1/admin/agents', headers: auth(), payload: newAgent });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('CONFLICT');
    // The first password still works: re-adding did not replace it.
    expect(await inventory.verifyCredential(cred.username, cred.password)).not.toBeNull();
  });

  it('POST /api/v1/admin/agents: 404 for an unknown school, 400 for malformed input', async () => {
    const unknown = await app.inject({ method: 'POST', url: '/api/v1/admin/agents', headers: auth(), payload: { schoolCode: OTHER_SCHOOL, agentId: 'gw-1' } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('NOT_FOUND');
    for (const payload of [{ schoolCode: '123', agentId: 'gw-1' }, { schoolCode: SCHOOL, agentId: 'GW 1' }, { schoolCode: SCHOOL }, { ...newAgent, extra: 1 }]) {
      const bad = await app.inject({ method: 'POST', url: '/api/v1/admin/agents', headers: auth(), payload });
      expect(bad.statusCode, JSON.stringify(payload)).toBe(400);
      expect(bad.json().code).toBe('INVALID_INPUT');
    }
    const notJson = await app.inject({ method: 'POST', url: '/api/v1/admin/agents', headers: { ...auth(), 'content-type': 'application/json' }, payload: '{"schoolCode":' });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().code).toBe('INVALID_INPUT');
  });

  it('POST /api/v1/admin/schools/import takes a good CSV, and refuses a broken one with 422 CSV_REJECTED listing every bad line', async () => {
    const header = 'code,name,county_code,type,ownership,student_count,staff_count,contracted_uplink_mbps,lon,lat,address';
    const good = await app.inject({
      method: 'POST',
      url: '/api/v1/admin/schools/import',
      headers: { ...auth(), 'content-type': 'text/csv' },
      payload: `${header}\n${OTHER_SCHOOL},聊城第二中学,${COUNTY},高中,公办,2000,150,500,115.99,36.46,东昌路1号\n`,
    });
    expect(good.statusCode).toBe(200);
    expect(good.json()).toEqual({ imported: 1, errors: [] });
    expect(await inventory.getSchool(OTHER_SCHOOL)).toMatchObject({ type: 'senior', ownership: 'public' });

    const bad = await app.inject({
      method: 'POST',
      url: '/api/v1/admin/schools/import',
      headers: { ...auth(), 'content-type': 'text/csv' },
      payload: [header, `3715020003,好学校,${COUNTY},primary,public,100,10,,,,`, `37150X0004,坏代码,${COUNTY},primary,public,100,10,,,,`, `3715020005,少字段,${COUNTY}`].join('\n'),
    });
    expect(bad.statusCode).toBe(422);
    const body = bad.json<{ code: string; message: string; details: { imported: number; errors: { line: number }[] } }>();
    expect(body.code).toBe('CSV_REJECTED');
    expect(body.message).toBe('the file has 2 bad row(s); nothing was imported');
    expect(body.details.imported).toBe(0);
    expect(body.details.errors.map((e) => e.line)).toEqual([3, 4]);
    expect(await inventory.getSchool('3715020003')).toBeNull();

    const notCsv = await app.inject({ method: 'POST', url: '/api/v1/admin/schools/import', headers: auth(), payload: { code: OTHER_SCHOOL } });
    expect(notCsv.statusCode).toBe(400);
    expect(notCsv.json().code).toBe('INVALID_INPUT');

    const health = await app.inject({ method: 'GET', url: '/api/v1/health' });
    expect(health.json().csvImports).toEqual({ accepted: 1, rejectedFiles: 1, rejectedRows: 2 });
  });

  it('POST /api/v1/agents/{school}/{agent}/commands: 404 for an unknown agent, 503 BROKER_UNAVAILABLE while not connected', async () => {
    const unknown = await app.inject({ method: 'POST', url: `/api/v1/agents/${SCHOOL}/gw-none/commands`, headers: auth(), payload: { command: 'ping' } });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('NOT_FOUND');
    await inventory.addAgent({ schoolCode: SCHOOL, agentId: 'gw-1' });
    const down = await app.inject({ method: 'POST', url: `/api/v1/agents/${SCHOOL}/gw-1/commands`, headers: auth(), payload: { command: 'ping' } });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toMatchObject({ code: 'BROKER_UNAVAILABLE', message: API_ERRORS.BROKER_UNAVAILABLE.message });
    for (const payload of [{ command: 'format-disk' }, { command: 'ping', timeoutMS: 500 }, { command: 'ping', timeoutMs: 10 }]) {
      const bad = await app.inject({ method: 'POST', url: `/api/v1/agents/${SCHOOL}/gw-1/commands`, headers: auth(), payload });
      expect(bad.statusCode, JSON.stringify(payload)).toBe(400);
      expect(bad.json().code).toBe('INVALID_INPUT');
    }
  });
});

// ---- broker authentication callback ----

describe('POST /api/v1/mqtt/auth', () => {
  it('allows an agent with its password and names the principal', async () => {
    const cred = await inventory.addAgent({ schoolCode: SCHOOL, agentId: 'gw-1' });
    const res = await app.inject({ method: 'POST', url: '/api/v1/mqtt/auth', headers: auth(), payload: cred });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ result: 'allow', principal: { kind: 'agent', schoolCode: SCHOOL, agentId: 'gw-1' } });
  });

  it('ignores the other fields an HTTP auth backend sends along (mosquitto-go-auth: clientid)', async () => {
    const cred = await inventory.addAgent({ schoolCode: SCHOOL, agentId: 'gw-1' });
    const res = await app.inject({ method: 'POST', url: '/api/v1/mqtt/auth', headers: auth(), payload: { ...cred, clientid: 'agent-3715020001-gw-1' } });
    expect(res.statusCode).toBe(200);
    expect(res.json().principal).toEqual({ kind: 'agent', schoolCode: SCHOOL, agentId: 'gw-1' });
  });

  it('allows a service account', async () => {
    const cred = await inventory.addServiceAccount('collector');
    const res = await app.inject({ method: 'POST', url: '/api/v1/mqtt/auth', headers: auth(), payload: cred });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ result: 'allow', principal: { kind: 'service', name: 'collector' } });
  });

  it('refuses a wrong password, an unknown user and a revoked credential with 403', async () => {
    const cred = await inventory.addAgent({ schoolCode: SCHOOL, agentId: 'gw-1' });
    const wrong = await app.inject({ method: 'POST', url: '/api/v1/mqtt/auth', headers: auth(), payload: { username: cred.username, password: `${cred.password}x` } });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json()).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(wrong.json()).not.toHaveProperty('principal');

    const unknown = await app.inject({ method: 'POST', url: '/api/v1/mqtt/auth', headers: auth(), payload: { username: `${OTHER_SCHOOL}/gw-1`, password: cred.password } });
    expect(unknown.statusCode).toBe(403);

    await inventory.revokeCredential(cred.username);
    const revoked = await app.inject({ method: 'POST', url: '/api/v1/mqtt/auth', headers: auth(), payload: cred });
    expect(revoked.statusCode).toBe(403);
  });

  it('answers 400 for a body that is not a username and a password', async () => {
    const res = await app.inject({ method: 'POST', url: '/api/v1/mqtt/auth', headers: auth(), payload: { username: 'x' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('INVALID_INPUT');
  });
});
