/**
 * The store's contract suite, run once on a real PostgreSQL server and once on PGlite: the same
 * SQL and migrations must behave the same on both.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { createTestDatabase, dropTestDatabase, startPostgres, type RunningPostgres } from '../../tests/setup/postgres.ts';
import { freshPgliteDb } from '../../tests/setup/pglite.ts';
import { openDb, type Db } from './db.ts';
import { Inventory, InventoryError } from './inventory.ts';
import { loadMigrations, migrate } from './migrate.ts';

const HEADER = 'code,name,county_code,type,ownership,student_count,staff_count,contracted_uplink_mbps,lon,lat,address';
const CITY = '371500';
const COUNTY = '371502';
const SCHOOL = '3715020001';

interface Backend {
  name: 'postgres' | 'pglite';
  open(): Promise<Db>;
  release(db: Db): Promise<void>;
}

let server: RunningPostgres | undefined;
let adminUrl: string | undefined;
const urls = new WeakMap<Db, string>();

const backends: Backend[] = [
  {
    name: 'postgres',
    async open() {
      const url = await createTestDatabase(adminUrl!);
      const db = await openDb({ databaseUrl: url });
      urls.set(db, url);
      await migrate(db);
      return db;
    },
    async release(db) {
      await db.close();
      await dropTestDatabase(adminUrl!, urls.get(db)!);
    },
  },
  { name: 'pglite', open: () => freshPgliteDb(), release: (db) => db.close() },
];

beforeAll(async () => {
  // The global setup provides a shared server; until it does, start a private one here.
  adminUrl = inject('postgresUrl') as string | undefined;
  if (!adminUrl) {
    server = await startPostgres();
    adminUrl = server.url;
  }
});
afterAll(async () => {
  await server?.stop();
});

async function seedRegions(inv: Inventory): Promise<void> {
  await inv.upsertRegion({ code: CITY, name: '聊城市', level: 'city', centreLon: 115.98, centreLat: 36.45 });
  await inv.upsertRegion({ code: COUNTY, name: '东昌府区', level: 'county', parentCode: CITY, centreLon: 115.98, centreLat: 36.45 });
  await inv.upsertRegion({ code: '371521', name: '阳谷县', level: 'county', parentCode: CITY });
}

async function seedSchool(inv: Inventory, code = SCHOOL): Promise<void> {
  await inv.upsertSchool({ code, name: '聊城第一中学', countyCode: COUNTY, type: 'senior', ownership: 'public', studentCount: 3000, staffCount: 240, contractedUplinkMbps: 1000, lon: 115.98, lat: 36.45 });
}

describe.each(backends)('inventory store on $name', (backend) => {
  let db: Db;
  let inv: Inventory;

  beforeEach(async () => {
    db = await backend.open();
    inv = new Inventory(db);
    await seedRegions(inv);
  });
  afterEach(async () => {
    await backend.release(db);
  });

  describe('db and migrations', () => {
    it('reports its kind, answers ping, returns counts as numbers and timestamps as Dates', async () => {
      expect(db.kind).toBe(backend.name);
      expect(await db.ping()).toBe(true);
      const [row] = await db.query<{ n: unknown; big: unknown; at: unknown; num: unknown }>(
        `SELECT count(*) AS n, 9007199254740991::bigint AS big, now() AS at, 1.5::numeric AS num FROM regions`,
      );
      expect(row).toMatchObject({ n: 3, big: 9007199254740991, num: 1.5 });
      expect(row!.at).toBeInstanceOf(Date);
      await expect(db.query(`SELECT 9007199254740993::bigint AS x`)).rejects.toThrow(/does not fit/);
    });

    it('rolls back a failed transaction and a failed nested one only to its savepoint', async () => {
      await expect(
        db.transaction(async (tx) => {
          await tx.query(`INSERT INTO regions (code, name, level) VALUES ('110000', '北京市', 'city')`);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(await inv.getRegion('110000')).toBeNull();
      await db.transaction(async (tx) => {
        await tx.query(`INSERT INTO regions (code, name, level) VALUES ('110000', '北京市', 'city')`);
        await expect(tx.transaction((inner) => inner.query(`INSERT INTO regions (code, name, level) VALUES ('bad', 'x', 'city')`))).rejects.toThrow();
      });
      expect((await inv.getRegion('110000'))?.name).toBe('北京市');
    });

    it('re-running migrations applies nothing and records each migration once', async () => {
      expect(await migrate(db)).toEqual([]);
      const rows = await db.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual((await loadMigrations()).map((m) => m.version));
    });

    it('refuses a migration that was edited after it was applied', async () => {
      const edited = (await loadMigrations()).map((m, i) => (i === 0 ? { ...m, checksum: 'different' } : m));
      await expect(migrate(db, edited)).rejects.toThrow(/changed after it was applied/);
    });

    it('concurrent migrators on an empty database apply everything exactly once', async () => {
      const fresh = backend.name === 'postgres' ? await createTestDatabase(adminUrl!) : undefined;
      const a = fresh ? await openDb({ databaseUrl: fresh }) : db;
      const b = fresh ? await openDb({ databaseUrl: fresh }) : db;
      try {
        const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
        const all = (await loadMigrations()).map((m) => m.version);
        if (fresh) expect([...ra, ...rb].sort((x, y) => x - y)).toEqual(all);
        const rows = await a.query<{ n: number }>('SELECT count(*) AS n FROM schema_migrations');
        expect(rows[0]!.n).toBe(all.length);
      } finally {
        if (fresh) {
          await a.close();
          await b.close();
          await dropTestDatabase(adminUrl!, fresh);
        }
      }
    });
  });

  describe('regions and schools', () => {
    it('round-trips Chinese names and lists by county', async () => {
      await seedSchool(inv);
      await inv.upsertSchool({ code: '3715210002', name: '阳谷县实验小学（东校区）', countyCode: '371521', type: 'primary', ownership: 'public', studentCount: 1200, staffCount: 80, address: '阳谷县狮子楼路 18 号' });
      expect((await inv.listRegions({ level: 'county' })).map((r) => r.name)).toEqual(['东昌府区', '阳谷县']);
      const s = await inv.getSchool('3715210002');
      expect(s).toMatchObject({ name: '阳谷县实验小学（东校区）', address: '阳谷县狮子楼路 18 号', lon: null, contractedUplinkMbps: null });
      expect(s!.createdAt).toBeInstanceOf(Date);
      expect((await inv.listSchools({ countyCode: COUNTY })).map((x) => x.code)).toEqual([SCHOOL]);
    });

    it('rejects an invalid school and a school in an unknown county with clear errors', async () => {
      const base = { code: SCHOOL, name: '学校', countyCode: COUNTY, type: 'primary' as const, ownership: 'public' as const, studentCount: 1, staffCount: 1 };
      await expect(inv.upsertSchool({ ...base, code: '12345' })).rejects.toThrow(/code: school code must be 10 digits/);
      await expect(inv.upsertSchool({ ...base, countyCode: '999999' })).rejects.toThrow(InventoryError);
      await expect(inv.upsertSchool({ ...base, countyCode: CITY })).rejects.toThrow(/not a county/);
      expect(await inv.listSchools()).toEqual([]);
    });
  });

  describe('CSV import', () => {
    it('imports a good file with BOM, CRLF, quoted commas, quotes, line breaks and Chinese labels', async () => {
      const csv =
        '\uFEFF' +
        [
          HEADER,
          `${SCHOOL},聊城第一中学,${COUNTY},senior,public,3000,240,1000,115.98,36.45,"东昌府区, 建设路 1 号"`,
          `3715020002,"聊城""实验""小学",${COUNTY},小学,民办,800,60,,,,"一号楼\r\n二号楼"`,
          `3715210003,阳谷县第二中学,371521,complete,public,1500,110,500,115.78,36.11,`,
        ].join('\r\n') +
        '\r\n';
      const r = await inv.importSchoolsCsv(csv);
      expect(r).toEqual({ imported: 3, errors: [] });
      expect(await inv.getSchool(SCHOOL)).toMatchObject({ address: '东昌府区, 建设路 1 号', contractedUplinkMbps: 1000, lat: 36.45 });
      expect(await inv.getSchool('3715020002')).toMatchObject({ name: '聊城"实验"小学', type: 'primary', ownership: 'private', lon: null, address: '一号楼\r\n二号楼' });
    });

    it('imports nothing when some rows are bad, and reports each bad row with its line', async () => {
      const csv = [
        HEADER,
        `${SCHOOL},好学校,${COUNTY},senior,public,3000,240,1000,115.98,36.45,`, // 2: fine
        `37150200,短代码,${COUNTY},senior,public,3000,240,1000,115.98,36.45,`, // 3: code
        `3715020002,未知区县,999999,primary,public,300,20,,,,`, // 4: county
        `3715020003,负数,${COUNTY},primary,public,-5,20,,,,`, // 5: student_count
        `3715020004,"多行\n名称",${COUNTY},primary,public,300,20,,36.45,115.98,`, // 6-7: swapped lon/lat
        `${SCHOOL},重复,${COUNTY},senior,public,3000,240,1000,115.98,36.45,`, // 8: duplicate
        `3715020005,少字段,${COUNTY},primary`, // 9: field count
        `3715020006,类型,${COUNTY},university,public,1,1,,,,`, // 10: type
      ].join('\n');
      const r = await inv.importSchoolsCsv(csv);
      expect(r.imported).toBe(0);
      expect(r.errors.map((e) => [e.line, e.column])).toEqual([
        [3, 'code'],
        [4, 'county_code'],
        [5, 'student_count'],
        [6, 'lon'],
        [6, 'lat'],
        [8, 'code'],
        [9, undefined],
        [10, 'type'],
      ]);
      expect(r.errors.find((e) => e.line === 8)!.message).toMatch(/already appears on line 2/);
      expect(r.errors.find((e) => e.line === 4)!.message).toMatch(/999999/);
      expect(await inv.listSchools()).toEqual([]);
    });

    it('reports a bad header and an empty file', async () => {
      const r = await inv.importSchoolsCsv('code,name,county,type\n');
      expect(r.imported).toBe(0);
      expect(r.errors.some((e) => e.line === 1 && /unknown column "county"/.test(e.message))).toBe(true);
      expect(r.errors.some((e) => /missing column\(s\): county_code, ownership/.test(e.message))).toBe(true);
      expect((await inv.importSchoolsCsv('')).errors[0]!.message).toMatch(/no header/);
    });

    it('re-import updates existing schools', async () => {
      await seedSchool(inv);
      const r = await inv.importSchoolsCsv(`${HEADER}\n${SCHOOL},聊城一中（新校区）,${COUNTY},senior,public,3500,250,2000,115.99,36.46,新地址\n`);
      expect(r).toEqual({ imported: 1, errors: [] });
      expect(await inv.getSchool(SCHOOL)).toMatchObject({ name: '聊城一中（新校区）', studentCount: 3500, contractedUplinkMbps: 2000 });
      expect(await inv.listSchools()).toHaveLength(1);
    });
  });

  describe('credentials', () => {
    beforeEach(() => seedSchool(inv));

    it('an issued agent password verifies; a wrong one, a revoked one and an unknown user do not', async () => {
      const { username, password } = await inv.addAgent({ schoolCode: SCHOOL, agentId: 'gw-1' });
      expect(username).toBe(`${SCHOOL}/gw-1`);
      expect(await inv.verifyCredential(username, password)).toEqual({ kind: 'agent', schoolCode: SCHOOL, agentId: 'gw-1' });
      expect(await inv.verifyCredential(username, password + 'x')).toBeNull();
      expect(await inv.verifyCredential('3715029999/gw-1', password)).toBeNull();
      const [row] = await db.query<{ password_hash: string }>('SELECT password_hash FROM mqtt_credentials WHERE username = $1', [username]);
      expect(row!.password_hash).toMatch(/^scrypt\$/);
      expect(row!.password_hash).not.toContain(password);
      expect(await inv.revokeCredential(username)).toBe(true);
      expect(await inv.revokeCredential(username)).toBe(false);
      expect(await inv.verifyCredential(username, password)).toBeNull();
    });

    it('re-adding an agent is a conflict; rotation replaces the password and re-enables it', async () => {
      const first = await inv.addAgent({ schoolCode: SCHOOL, agentId: 'gw-1' });
      await expect(inv.addAgent({ schoolCode: SCHOOL, agentId: 'gw-1' })).rejects.toMatchObject({ code: 'conflict' });
      await inv.revokeCredential(first.username);
      const second = await inv.rotateAgentPassword({ schoolCode: SCHOOL, agentId: 'gw-1' });
      expect(second.password).not.toBe(first.password);
      expect(await inv.verifyCredential(first.username, first.password)).toBeNull();
      expect(await inv.verifyCredential(second.username, second.password)).not.toBeNull();
      await expect(inv.rotateAgentPassword({ schoolCode: SCHOOL, agentId: 'gw-9' })).rejects.toMatchObject({ code: 'not-found' });
    });

    it('refuses agents of unknown schools and malformed ids', async () => {
      await expect(inv.addAgent({ schoolCode: '3715029999', agentId: 'gw-1' })).rejects.toMatchObject({ code: 'not-found' });
      await expect(inv.addAgent({ schoolCode: SCHOOL, agentId: 'GW 1' })).rejects.toMatchObject({ code: 'invalid' });
      expect(await inv.listAgents()).toEqual([]);
    });

    it('service accounts: re-adding replaces the password', async () => {
      const a = await inv.addServiceAccount('collector');
      expect(await inv.verifyCredential('collector', a.password)).toEqual({ kind: 'service', name: 'collector' });
      const b = await inv.addServiceAccount('collector');
      expect(await inv.verifyCredential('collector', a.password)).toBeNull();
      expect(await inv.verifyCredential('collector', b.password)).toEqual({ kind: 'service', name: 'collector' });
      await expect(inv.addServiceAccount('Bad Name')).rejects.toMatchObject({ code: 'invalid' });
    });
  });

  describe('agent progress', () => {
    beforeEach(async () => {
      await seedSchool(inv);
      await inv.addAgent({ schoolCode: SCHOOL, agentId: 'gw-1' });
      await inv.addAgent({ schoolCode: SCHOOL, agentId: 'gw-2' });
    });

    it('round-trips progress: merged per agent, seq never goes back, deltas add, unknown agents ignored', async () => {
      expect(await inv.loadAgentProgress()).toEqual(new Map([[`${SCHOOL}/gw-1`, { lastSeq: -1 }], [`${SCHOOL}/gw-2`, { lastSeq: -1 }]]));
      const t1 = new Date('2026-03-01T08:00:00Z');
      const t2 = new Date('2026-03-01T08:00:05Z');
      const n = await inv.saveAgentProgress([
        { schoolCode: SCHOOL, agentId: 'gw-1', lastSeq: 10, seqGapsDelta: 2, duplicatesDelta: 1, lastSeen: t2 },
        { schoolCode: SCHOOL, agentId: 'gw-1', lastSeq: 7, seqGapsDelta: 1, duplicatesDelta: 0, lastSeen: t1 },
        { schoolCode: SCHOOL, agentId: 'gw-2', lastSeq: 3_000_000_000, seqGapsDelta: 0, duplicatesDelta: 0, lastSeen: t1 },
        { schoolCode: '3715029999', agentId: 'ghost', lastSeq: 1, seqGapsDelta: 0, duplicatesDelta: 0, lastSeen: t1 },
      ]);
      expect(n).toBe(2);
      await inv.saveAgentProgress([{ schoolCode: SCHOOL, agentId: 'gw-1', lastSeq: 4, seqGapsDelta: 0, duplicatesDelta: 3, lastSeen: t1 }]);
      expect(await inv.getAgent(SCHOOL, 'gw-1')).toMatchObject({ lastSeq: 10, seqGaps: 3, duplicates: 4, lastSeen: t2 });
      expect((await inv.loadAgentProgress()).get(`${SCHOOL}/gw-2`)).toEqual({ lastSeq: 3_000_000_000 });
      await expect(inv.saveAgentProgress([{ schoolCode: SCHOOL, agentId: 'gw-1', lastSeq: 1.5, seqGapsDelta: 0, duplicatesDelta: 0, lastSeen: t1 }])).rejects.toThrow(InventoryError);
    });

    it('records state changes and ignores a status older than the current state', async () => {
      const t1 = new Date('2026-03-01T08:00:00Z');
      const t0 = new Date('2026-03-01T07:00:00Z');
      expect((await inv.getAgent(SCHOOL, 'gw-1'))!.state).toBe('never-seen');
      expect(await inv.setAgentState(SCHOOL, 'gw-1', 'online', t1, '1.2.0')).toBe(true);
      expect(await inv.setAgentState(SCHOOL, 'gw-1', 'offline', t0)).toBe(false);
      expect(await inv.getAgent(SCHOOL, 'gw-1')).toMatchObject({ state: 'online', stateSince: t1, lastSeen: t1, agentVersion: '1.2.0' });
      expect((await inv.listAgents(SCHOOL)).map((a) => a.agentId)).toEqual(['gw-1', 'gw-2']);
    });
  });

  describe('devices', () => {
    const t = (s: number) => new Date(Date.UTC(2026, 2, 1, 8, 0, s));
    beforeEach(async () => {
      await seedSchool(inv);
      await inv.addAgent({ schoolCode: SCHOOL, agentId: 'gw-1' });
    });

    it('touch inserts unknown devices as seen, updates known ones, skips bad rows, in one batch of hundreds', async () => {
      const rows = Array.from({ length: 300 }, (_, i) => ({ schoolCode: SCHOOL, agentId: 'gw-1', deviceId: `dev-${i}`, seenAt: t(1) }));
      rows.push({ schoolCode: SCHOOL, agentId: 'gw-1', deviceId: 'dev-0', seenAt: t(3) }); // merged with dev-0
      rows.push({ schoolCode: SCHOOL, agentId: 'gw-1', deviceId: 'bad id', seenAt: t(1) });
      rows.push({ schoolCode: SCHOOL, agentId: 'ghost', deviceId: 'dev-0', seenAt: t(1) });
      expect(await inv.touchDevices(rows)).toEqual({ inserted: 300, updated: 0, skipped: 2 });
      expect(await inv.touchDevices([{ schoolCode: SCHOOL, agentId: 'gw-1', deviceId: 'dev-1', seenAt: t(5) }, { schoolCode: SCHOOL, agentId: 'gw-1', deviceId: 'dev-2', seenAt: t(0) }])).toEqual({ inserted: 0, updated: 2, skipped: 0 });
      const devices = await inv.listDevices(SCHOOL);
      expect(devices).toHaveLength(300);
      const byId = new Map(devices.map((d) => [d.deviceId, d]));
      expect(byId.get('dev-0')).toMatchObject({ state: 'seen', kind: 'unknown', firstSeen: t(3), lastSeen: t(3) });
      expect(byId.get('dev-1')!.lastSeen).toEqual(t(5));
      expect(byId.get('dev-2')!.lastSeen).toEqual(t(1)); // an older sighting does not move it back
    });

    it('discovery adds and updates devices, gone marks them, and a later sighting brings them back', async () => {
      await inv.touchDevices([{ schoolCode: SCHOOL, agentId: 'gw-1', deviceId: 'cam-1', seenAt: t(1) }]);
      const found = await inv.upsertDiscoveredDevices(
        SCHOOL,
        'gw-1',
        [
          { device: 'cam-1', kind: 'camera', protocol: 'onvif', address: '127.0.0.1:8080', profile: 'hikvision-ipc', attributes: { model: 'DS-2CD', 位置: '东门' } },
          { device: 'sw-1', kind: 'switch', protocol: 'snmp', address: '127.0.0.1:1161', attributes: { ports: 24, poe: true } },
        ],
        t(2),
      );
      expect(found).toEqual({ inserted: 1, updated: 1 });
      let byId = new Map((await inv.listDevices(SCHOOL)).map((d) => [d.deviceId, d]));
      expect(byId.get('cam-1')).toMatchObject({ state: 'discovered', kind: 'camera', profile: 'hikvision-ipc', attributes: { model: 'DS-2CD', 位置: '东门' }, firstSeen: t(1) });
      expect(byId.get('sw-1')).toMatchObject({ state: 'discovered', protocol: 'snmp', attributes: { ports: 24, poe: true }, goneAt: null });

      await db.query(`UPDATE devices SET state = 'enrolled' WHERE device_id = 'sw-1'`);
      expect(await inv.markDevicesGone(SCHOOL, 'gw-1', ['sw-1', 'nope'], t(4))).toBe(1);
      expect(await inv.markMissingDevicesGone(SCHOOL, 'gw-1', ['sw-1'], t(4))).toBe(1); // cam-1
      byId = new Map((await inv.listDevices(SCHOOL)).map((d) => [d.deviceId, d]));
      expect(byId.get('sw-1')!.goneAt).toEqual(t(4));
      expect(byId.get('cam-1')!.goneAt).toEqual(t(4));

      await inv.touchDevices([{ schoolCode: SCHOOL, agentId: 'gw-1', deviceId: 'cam-1', seenAt: t(6) }]);
      await inv.upsertDiscoveredDevices(SCHOOL, 'gw-1', [{ device: 'sw-1', kind: 'switch', protocol: 'snmp', address: '127.0.0.1:1162', attributes: {} }], t(7));
      byId = new Map((await inv.listDevices(SCHOOL)).map((d) => [d.deviceId, d]));
      expect(byId.get('cam-1')!.goneAt).toBeNull();
      expect(byId.get('sw-1')).toMatchObject({ goneAt: null, state: 'enrolled', address: '127.0.0.1:1162', attributes: {} });
    });

    it('refuses discovery for an unknown agent and a malformed device id', async () => {
      await expect(inv.upsertDiscoveredDevices(SCHOOL, 'gw-9', [], t(1))).rejects.toMatchObject({ code: 'not-found' });
      await expect(
        inv.upsertDiscoveredDevices(SCHOOL, 'gw-1', [{ device: '../x', kind: 'camera', protocol: 'onvif', address: 'a', attributes: {} }], t(1)),
      ).rejects.toMatchObject({ code: 'invalid' });
    });
  });

  describe('campus areas and users', () => {
    beforeEach(() => seedSchool(inv));

    it('stores campus areas with GeoJSON and Chinese names, and refuses bad geometry', async () => {
      const geometry = { type: 'Polygon', coordinates: [[[0, 0], [10, 0], [10, 10], [0, 0]]] };
      const a = await inv.addCampusArea({ schoolCode: SCHOOL, name: '校门口', kind: 'key-area', keyAreaType: '出入口', requiredLevel: '人脸识别', geometry });
      expect(a.id).toEqual(expect.any(Number));
      expect(await inv.listCampusAreas(SCHOOL)).toEqual([a]);
      expect(a).toMatchObject({ name: '校门口', keyAreaType: '出入口', geometry });
      await expect(inv.addCampusArea({ schoolCode: SCHOOL, name: 'x', kind: 'building', geometry: { type: 'Circle' } })).rejects.toMatchObject({ code: 'invalid' });
      await expect(inv.addCampusArea({ schoolCode: SCHOOL, name: 'x', kind: 'building', keyAreaType: '出入口', geometry })).rejects.toMatchObject({ code: 'invalid' });
    });
  });
});
