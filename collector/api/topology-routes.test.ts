/**
 * The school's network topology: `buildTopology` on its own (merging both ends, unknown neighbours,
 * stale rows, levels), and `GET /api/v1/schools/{code}/topology` through fastify's `inject()` with a
 * real inventory (PGlite) and the real InfluxDB holding the `lldp_neighbour` rows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPgliteDb } from '../../tests/setup/pglite.ts';
import { influxForTests, uniqueDbName, type InfluxHandle } from '../../tests/setup/influx.ts';
import { Ingest } from '../ingest/ingest.ts';
import { Enrollment, Inventory, type Db } from '../store/index.ts';
import { FileLineSink } from '../telemetry/file-sink.ts';
import { buildApi } from './app.ts';
import { buildTopology, type LldpRow, type Topology } from './topology-routes.ts';

const NOW = Date.parse('2026-05-12T08:00:00Z');
const MIN = 60_000;
const dev = (deviceId: string, kind: string, sysName?: string, state = 'enrolled', agentId = 'gw') => ({ agentId, deviceId, kind, state, attributes: (sysName ? { sysName } : {}) as Record<string, string> });
const row = (device: string, localPort: string, remoteSysName: string, remotePortId: string | null, ageMin = 5, remotePortDesc: string | null = null, agent = 'gw'): LldpRow => ({ agent, device, localPort, remoteSysName, remotePortId, remotePortDesc, seenAt: NOW - ageMin * MIN });

const INVENTORY = [
  dev('core', 'switch', 'core-sw'),
  dev('acc-1', 'switch', 'acc-1'),
  dev('acc-2', 'switch', 'ACC-2', 'discovered'),
  dev('ap-101', 'ap', 'ap-101'),
  dev('lonely', 'switch', 'lonely-sw'),
  dev('cam-1', 'camera'),
  dev('old', 'switch', 'old-sw', 'retired'),
];
const ROWS: LldpRow[] = [
  // acc-1's own row first: the merged link still reads from the core down
  row('acc-1', 'uplink48', 'core-sw', 'ge-0/0/1'),
  row('core', 'ge-0/0/1', 'acc-1', 'uplink48', 10),
  // acc-2 names the core's port by MAC, the core names acc-2's port by description: the lone pair merges
  row('core', 'ge-0/0/2', 'acc-2', 'Gi0/48', 5, 'uplink'),
  row('acc-2', 'GigabitEthernet0/48', 'core-sw', '0c:1a:2b:3c:4d:5e'),
  row('acc-1', 'ge1/0/5', 'ap-101', 'eth0'),
  row('acc-1', 'ge1/0/9', 'PRINTER-3F', 'port 1'),
  row('core', 'ge-0/0/24', 'ap-101', 'eth0', 25 * 60), // stale: a day and an hour ago
  row('old', 'ge1', 'core-sw', 'ge-0/0/3'), // a retired switch
];

const byId = (t: Topology, id: string) => t.nodes.find((n) => n.id === id)!;

describe('buildTopology', () => {
  it('merges a link seen from both ends into one, read from the upper end', () => {
    const t = buildTopology(INVENTORY, ROWS, NOW);
    const core = t.links.filter((l) => l.localDevice === 'gw/core');
    expect(core).toEqual([
      expect.objectContaining({ localPort: 'ge-0/0/1', remoteDevice: 'gw/acc-1', remoteNode: 'gw/acc-1', remotePort: 'uplink48', bothEnds: true, seenAt: new Date(NOW - 5 * MIN).toISOString() }),
      expect.objectContaining({ localPort: 'ge-0/0/2', remoteDevice: 'gw/acc-2', remoteSysName: 'acc-2', remotePort: 'GigabitEthernet0/48', bothEnds: true }),
    ]);
    expect(t.links).toHaveLength(4);
    expect(t.links.filter((l) => l.localDevice === 'gw/acc-1' && l.remoteNode === 'gw/core')).toEqual([]);
  });

  it('draws a neighbour the inventory does not know as its own node, and leaves out stale rows and retired devices', () => {
    const t = buildTopology(INVENTORY, ROWS, NOW);
    expect(byId(t, '?printer-3f')).toMatchObject({ kind: 'unknown', state: null, label: 'PRINTER-3F', level: 2, parent: 'gw/acc-1' });
    expect(t.links.find((l) => l.remoteNode === '?printer-3f')).toMatchObject({ localDevice: 'gw/acc-1', localPort: 'ge1/0/9', remoteDevice: null, remoteSysName: 'PRINTER-3F', remotePort: 'port 1', bothEnds: false });
    expect(t.links.find((l) => l.remoteNode === 'gw/ap-101')).toMatchObject({ localDevice: 'gw/acc-1', localPort: 'ge1/0/5', bothEnds: false });
    expect(t.links.some((l) => l.localPort === 'ge-0/0/24')).toBe(false);
    expect(t.ignoredRows).toBe(2);
    expect(t.nodes.some((n) => n.deviceId === 'old' || n.deviceId === 'cam-1')).toBe(false);
  });

  it('layers the core above the access switches above the APs; a switch nobody lists stands apart, unaccounted for', () => {
    const t = buildTopology(INVENTORY, ROWS, NOW);
    expect(t.nodes.map((n) => [n.id, n.level, n.parent])).toEqual([
      ['gw/core', 0, null],
      ['gw/acc-1', 1, 'gw/core'],
      ['gw/acc-2', 1, 'gw/core'],
      ['gw/ap-101', 2, 'gw/acc-1'],
      ['?printer-3f', 2, 'gw/acc-1'],
      ['gw/lonely', null, null],
    ]);
    expect(t.nodes.filter((n) => n.unseen).map((n) => n.id)).toEqual(['gw/lonely']);
  });

  it('hangs a switch below the one it lists on its uplink port, and a chain of equals below the best-connected', () => {
    const inv = [dev('a', 'switch', 'a'), dev('b', 'switch', 'b'), dev('c', 'switch', 'c')];
    // only b reports, and names its port to a "uplink": a is above even though b is better connected
    const t = buildTopology(inv, [row('b', 'Uplink1', 'a', 'x'), row('b', 'ge2', 'c', 'y')], NOW);
    expect(t.nodes.map((n) => [n.id, n.level, n.parent])).toEqual([
      ['gw/a', 0, null],
      ['gw/b', 1, 'gw/a'],
      ['gw/c', 2, 'gw/b'],
    ]);
    // without port hints: b, seeing two switches, is the root
    const plain = buildTopology(inv, [row('b', 'ge1', 'a', 'x'), row('b', 'ge2', 'c', 'y')], NOW);
    expect(plain.nodes.map((n) => [n.id, n.level])).toEqual([['gw/b', 0], ['gw/a', 1], ['gw/c', 1]]);
    expect(plain.nodes.find((n) => n.id === 'gw/b')!.unseen).toBe(true); // nobody reports it
  });

  it('gives nothing but unlinked gear without LLDP rows', () => {
    const t = buildTopology(INVENTORY, [], NOW);
    expect(t.links).toEqual([]);
    expect(t.nodes.every((n) => n.level === null)).toBe(true);
  });
});

describe('GET /api/v1/schools/{code}/topology', () => {
  const SCHOOL = '3715020001';
  const TOKEN = 'test-admin-token-0123456789';
  let influx: InfluxHandle;
  let tmp: string;
  let db: Db;
  let sink: FileLineSink;
  let inventory: Inventory;
  let ingest: Ingest;
  const apps: FastifyInstance[] = [];
  const makeApp = async (influxConn?: { url: string; db: string }) => {
    const a = await buildApi({ logger: false, inventory, db, ingest, sink, apiToken: TOKEN, consoleDir: join(tmp, 'no-console'), ...(influxConn ? { influx: influxConn } : {}) });
    await a.ready();
    apps.push(a);
    return a;
  };

  beforeAll(async () => {
    influx = await influxForTests();
    tmp = await mkdtemp(join(tmpdir(), 'campus-topology-'));
    db = await freshPgliteDb();
    inventory = new Inventory(db);
    await inventory.upsertRegion({ code: '371500', name: '聊城市', level: 'city' });
    await inventory.upsertRegion({ code: '371502', name: '东昌府区', level: 'county', parentCode: '371500' });
    await inventory.upsertSchool({ code: SCHOOL, name: '东昌府实验小学', countyCode: '371502', type: 'primary', ownership: 'public', studentCount: 1200, staffCount: 90 });
    sink = new FileLineSink({ dir: await mkdtemp(join(tmp, 'telemetry-')) });
    ingest = new Ingest({ mqttUrl: 'mqtt://127.0.0.1:9', username: 'collector', password: 'unused', inventory, sink, logger: { info() {}, warn() {}, error() {} } });
    await inventory.addAgent({ schoolCode: SCHOOL, agentId: 'gw' });
    await inventory.upsertDiscoveredDevices(
      SCHOOL,
      'gw',
      [
        { device: 'core', kind: 'switch', protocol: 'snmp' as const, address: '127.0.0.1:1161', attributes: { sysName: 'core-sw' } },
        { device: 'acc-1', kind: 'switch', protocol: 'snmp' as const, address: '127.0.0.1:1162', attributes: { sysName: 'acc-1' } },
        { device: 'ap-101', kind: 'ap', protocol: 'snmp' as const, address: '127.0.0.1:1163', attributes: { sysName: 'ap-101' } },
      ],
      new Date(),
    );
    const en = new Enrollment(db);
    for (const d of ['core', 'acc-1']) await en.accept({ schoolCode: SCHOOL, agentId: 'gw', deviceId: d }, { building: '网络中心', position: { lon: 115.985, lat: 36.456 } }, 'test');
  });
  afterAll(async () => {
    for (const a of apps) await a.close();
    await sink?.close();
    await db?.close();
    await influx?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('answers 404 for an unknown school, 503 without InfluxDB, 502 when the query fails', async () => {
    const none = await makeApp();
    expect((await none.inject({ url: '/api/v1/schools/3715029999/topology' })).statusCode).toBe(404);
    const r = await none.inject({ url: `/api/v1/schools/${SCHOOL}/topology` });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ code: 'TELEMETRY_UNAVAILABLE' });
    const missingDb = await makeApp({ url: influx.url, db: uniqueDbName('absent') }); // never created: InfluxDB says "database not found"
    const bad = await missingDb.inject({ url: `/api/v1/schools/${SCHOOL}/topology` });
    expect(bad.statusCode, bad.body).toBe(502);
    expect(bad.json()).toMatchObject({ code: 'TELEMETRY_QUERY_FAILED' });
    expect(bad.json().message).toContain('database not found');
  });

  it('reads the newest LLDP rows of the whole school and merges both ends', async () => {
    const dbName = uniqueDbName('topology');
    expect((await fetch(`${influx.url}/query`, { method: 'POST', body: new URLSearchParams({ q: `CREATE DATABASE "${dbName}"` }) })).status).toBe(200);
    const now = Date.now();
    const line = (device: string, port: string, remote: string, portId: string, at: number, school = SCHOOL) =>
      `lldp_neighbour,school=${school},agent=gw,device=${device},localPort=${port.replace(/ /g, '\\ ')},remoteSysName=${remote} remotePortId="${portId}",remotePortDesc="${portId}",remoteChassisId="02:00:00:00:00:01" ${at}`;
    const lines = [
      // an older row of the same series first: the newest one counts
      line('core', 'ge-0/0/1', 'acc-1', 'old-port', now - 60 * MIN),
      line('core', 'ge-0/0/1', 'acc-1', 'uplink48', now - 5 * MIN),
      line('acc-1', 'uplink48', 'core-sw', 'ge-0/0/1', now - 4 * MIN),
      line('acc-1', 'ge1/0/5', 'ap-101', 'eth0', now - 4 * MIN),
      line('acc-1', 'ge1/0/9', 'printer-3f', 'port 1', now - 4 * MIN),
      line('core', 'ge-0/0/24', 'ap-101', 'eth0', now - 25 * 60 * MIN), // older than a day
      line('core', 'ge-0/0/3', 'elsewhere', 'x', now - 4 * MIN, '3715020002'), // another school
    ];
    expect((await fetch(`${influx.url}/write?db=${dbName}&precision=ms`, { method: 'POST', body: lines.join('\n') })).status).toBe(204);
    const a = await makeApp({ url: influx.url, db: dbName });
    const r = await a.inject({ url: `/api/v1/schools/${SCHOOL}/topology` });
    expect(r.statusCode, r.body).toBe(200);
    const t = r.json<Topology>();
    expect(t.links.map((l) => [l.localDevice, l.localPort, l.remoteNode, l.remotePort, l.bothEnds])).toEqual([
      ['gw/acc-1', 'ge1/0/5', 'gw/ap-101', 'eth0', false],
      ['gw/acc-1', 'ge1/0/9', '?printer-3f', 'port 1', false],
      ['gw/core', 'ge-0/0/1', 'gw/acc-1', 'uplink48', true],
    ]);
    expect(t.links.find((l) => l.bothEnds)!.seenAt).toBe(new Date(now - 4 * MIN).toISOString());
    expect(t.nodes.map((n) => [n.id, n.state, n.level])).toEqual([
      ['gw/core', 'enrolled', 0],
      ['gw/acc-1', 'enrolled', 1],
      ['gw/ap-101', 'discovered', 2],
      ['?printer-3f', null, 2],
    ]);
  });
});
