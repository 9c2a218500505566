/** The enrollment inbox on both backends: accept, reject, merge with planned, retire, history. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STORE_BACKENDS } from '../../tests/setup/store-backends.ts';
import type { Db } from './db.ts';
import { Enrollment } from './enrollment.ts';
import { Inventory, InventoryError } from './inventory.ts';

const SCHOOL = '3715020001';
const cam = { schoolCode: SCHOOL, agentId: 'gw-1', deviceId: 'cam-gate' };
const sw = { schoolCode: SCHOOL, agentId: 'gw-1', deviceId: 'sw-1' };
const placementCam = { building: '门卫室', position: { lon: 115.98, lat: 36.45 }, camera: { headingDeg: 180, hfovDeg: 90, mountHeightM: 3.5 } };

describe.each(STORE_BACKENDS)('enrollment on $name', (backend) => {
  let db: Db;
  let inv: Inventory;
  let en: Enrollment;

  beforeEach(async () => {
    db = await backend.open();
    inv = new Inventory(db);
    en = new Enrollment(db);
    await inv.upsertRegion({ code: '371500', name: '聊城市', level: 'city' });
    await inv.upsertRegion({ code: '371502', name: '东昌府区', level: 'county', parentCode: '371500' });
    await inv.upsertSchool({ code: SCHOOL, name: '东昌府区实验小学', countyCode: '371502', type: 'primary', ownership: 'public', studentCount: 1500, staffCount: 100 });
    await inv.addAgent({ schoolCode: SCHOOL, agentId: 'gw-1' });
    await inv.upsertDiscoveredDevices(
      SCHOOL,
      'gw-1',
      [
        { device: 'cam-gate', kind: 'camera', protocol: 'onvif', address: '127.0.0.1:8000', attributes: { manufacturer: 'HIKVISION', model: 'DS-2CD2T47G2' } },
        { device: 'sw-1', kind: 'switch', protocol: 'snmp', address: '127.0.0.1:161', attributes: { sysObjectID: '1.3.6.1.4.1.2011.2.23.402' } },
        { device: 'mystery', kind: 'unknown', protocol: 'http', address: '127.0.0.1:80', attributes: { server: 'lighttpd' } },
      ],
      new Date(),
    );
  });
  afterEach(async () => backend.release(db));

  it('lists found devices in the inbox with their fingerprint; unknown ones as unknown', async () => {
    const inbox = await en.inbox(SCHOOL);
    expect(inbox.discovered.map((d) => d.deviceId)).toEqual(['cam-gate', 'mystery', 'sw-1']);
    const mystery = inbox.discovered.find((d) => d.deviceId === 'mystery')!;
    expect(mystery.kind).toBe('unknown');
    expect(mystery.attributes).toEqual({ server: 'lighttpd' });
    expect(inbox.counts).toMatchObject({ discovered: 3, planned: 0 });
  });

  it('accepts a camera with its placement, records who and when, and it leaves the inbox', async () => {
    const before = Date.now();
    const d = await en.accept(cam, placementCam, 'admin:zhang', '大门口');
    expect(d.state).toBe('enrolled');
    expect(d.placement).toEqual(placementCam);
    const h = await en.history(cam);
    expect(h).toHaveLength(1);
    expect(h[0]).toMatchObject({ fromState: 'discovered', toState: 'enrolled', actor: 'admin:zhang', note: '大门口' });
    expect(h[0]!.at.getTime()).toBeGreaterThanOrEqual(before - 5_000);
    expect((await en.inbox(SCHOOL)).discovered.map((d) => d.deviceId)).not.toContain('cam-gate');
  });

  it('refuses a camera without its view, and a placement with a wrong field, with a clear reason', async () => {
    await expect(en.accept(cam, { position: { lon: 115.98, lat: 36.45 } }, 'a')).rejects.toThrow(/camera needs placement.camera/);
    await expect(en.accept(cam, { position: { lon: 115.98, lat: 36.45 }, camera: { headingDeg: 90 } }, 'a')).rejects.toThrow(/hfovDeg, or focalLengthMm and sensorWidthMm/);
    await expect(en.accept(sw, { position: { lon: 200, lat: 36 } }, 'a')).rejects.toThrow(/placement\/position/);
    await expect(en.accept(sw, { position: { x: 1, y: 2 }, camera: { headingDeg: 1, hfovDeg: 60 } }, 'a')).rejects.toThrow(/only for cameras/);
    expect((await en.device(cam))!.state).toBe('discovered');
    expect(await en.history(cam)).toEqual([]);
  });

  it('rejects and retires only from the states that allow it', async () => {
    expect((await en.reject(sw, 'admin', 'not ours')).state).toBe('rejected');
    await expect(en.reject(sw, 'admin')).rejects.toBeInstanceOf(InventoryError);
    await en.accept(sw, { position: { x: 10, y: 20 }, building: '教学楼', room: '弱电间' }, 'admin');
    expect((await en.retire(sw, 'admin', 'replaced')).state).toBe('retired');
    await expect(en.accept(sw, { position: { x: 1, y: 1 } }, 'admin')).rejects.toThrow(/retired/);
    expect((await en.history(sw)).map((c) => c.toState)).toEqual(['rejected', 'enrolled', 'retired']);
    await expect(en.accept({ ...sw, deviceId: 'nope' }, { position: { x: 1, y: 1 } }, 'a')).rejects.toThrow(/not found|nope/);
  });

  it('imports planned devices all or nothing, shows planned vs found vs missing, and merges', async () => {
    const bad = await en.importPlannedCsv(
      SCHOOL,
      'name,kind,building,lon,lat,heading_deg,hfov_deg\n大门外枪机,camera,门卫室,115.98,36.45,180,90\n操场球机,camera,操场,115.98,36.45,,\n,switch,,1,2,,\n',
    );
    expect(bad.imported).toBe(0);
    expect(bad.errors.map((e) => e.line)).toEqual([3, 4, 4]);
    expect((await en.inbox(SCHOOL)).planned).toEqual([]);

    const ok = await en.importPlannedCsv(SCHOOL, 'name,kind,building,lon,lat,heading_deg,hfov_deg,mount_height_m\n大门外枪机,camera,门卫室,115.98,36.45,180,90,4\n教学楼交换机,switch,教学楼,115.981,36.451,,,\n');
    expect(ok).toEqual({ imported: 2, errors: [] });
    let inbox = await en.inbox(SCHOOL);
    expect(inbox.planned.map((p) => p.name).sort()).toEqual(['大门外枪机', '教学楼交换机']);

    const gatePlan = inbox.planned.find((p) => p.name === '大门外枪机')!;
    await expect(en.merge(sw, gatePlan.id, 'admin')).rejects.toThrow(/cannot be a switch/);
    const merged = await en.merge(cam, gatePlan.id, 'admin:li');
    expect(merged.state).toBe('enrolled');
    expect(merged.placement).toMatchObject({ building: '门卫室', camera: { headingDeg: 180, hfovDeg: 90, mountHeightM: 4 } });
    await expect(en.merge(cam, gatePlan.id, 'admin')).rejects.toThrow(/already merged/);
    inbox = await en.inbox(SCHOOL);
    expect(inbox.planned.map((p) => p.name)).toEqual(['教学楼交换机']);

    // an enrolled camera that discovery no longer finds is missing
    await inv.markDevicesGone(SCHOOL, 'gw-1', ['cam-gate'], new Date());
    expect((await en.inbox(SCHOOL)).missing.map((d) => d.deviceId)).toEqual(['cam-gate']);
  });
});
