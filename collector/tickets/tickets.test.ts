/**
 * Repair tickets on both store backends: the state machine, the watcher's alarm-to-ticket loop
 * (grace period, one ticket per device, reopen when it flaps, resolve on recovery, no tickets for
 * devices behind an offline gateway, close when the device is retired), the failing state kept
 * across a collector restart, and the repair figures.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STORE_BACKENDS } from '../../tests/setup/store-backends.ts';
import type { Db } from '../store/db.ts';
import { Enrollment } from '../store/enrollment.ts';
import { Inventory, InventoryError } from '../store/inventory.ts';
import { EventBus } from '../api/events.ts';
import { faultOf } from './faults.ts';
import { Tickets } from './store.ts';
import { TicketWatcher } from './watcher.ts';

const SCHOOL = '3715020001';
const MIN = 60_000;

describe('faultOf', () => {
  it('reads the camera health ladder and reachability', () => {
    expect(faultOf({ measurement: 'camera_health', metrics: { step: 4 } })).toBeNull();
    expect(faultOf({ measurement: 'camera_health', metrics: { step: 3 } })?.fault).toBe('degraded');
    expect(faultOf({ measurement: 'camera_health', metrics: { step: 2, failure: 'rtsp-404' } })).toMatchObject({ fault: 'no-stream', detail: expect.stringContaining('rtsp-404') });
    expect(faultOf({ measurement: 'camera_health', metrics: { step: 1 } })?.fault).toBe('auth');
    expect(faultOf({ measurement: 'camera_health', metrics: { step: 0 } })?.fault).toBe('unreachable');
    expect(faultOf({ measurement: 'camera_health', metrics: { reachable: true } })).toBeNull(); // no step: says nothing
    expect(faultOf({ measurement: 'device', metrics: { reachable: false } })?.fault).toBe('unreachable');
    expect(faultOf({ measurement: 'device', metrics: { reachable: true, statusOk: false, httpStatus: 500 } })?.fault).toBe('degraded');
    expect(faultOf({ measurement: 'device', metrics: { reachable: true } })).toBeNull();
    expect(faultOf({ measurement: 'interface', metrics: { operStatus: 2 } })).toBeNull();
  });
});

describe.each(STORE_BACKENDS)('tickets on $name', (backend) => {
  let db: Db;
  let tickets: Tickets;
  let en: Enrollment;
  let now: number;
  let watcher: TicketWatcher;
  let events: EventBus;
  const cam = (step: number, ts = now) => ({ device: 'cam-gate', ts, measurement: 'camera_health', metrics: { step } });
  const sw = (reachable: boolean, ts = now) => ({ device: 'sw-1', ts, measurement: 'device', metrics: { reachable } });
  const makeWatcher = () => new TicketWatcher({ db, events, openAfterMs: 5 * MIN, reopenWithinMs: 60 * MIN, now: () => now });
  /** The collector stops and starts again on the same database; a crash keeps only what the last sweep saved. */
  const restart = async (how: 'stop' | 'crash' = 'stop') => {
    if (how === 'stop') await watcher.stop();
    watcher = makeWatcher();
    await watcher.load();
  };

  beforeEach(async () => {
    db = await backend.open();
    const inv = new Inventory(db);
    en = new Enrollment(db);
    tickets = new Tickets(db);
    await inv.upsertRegion({ code: '371500', name: '聊城市', level: 'city' });
    await inv.upsertRegion({ code: '371502', name: '东昌府区', level: 'county', parentCode: '371500' });
    await inv.upsertRegion({ code: '371521', name: '阳谷县', level: 'county', parentCode: '371500' });
    await inv.upsertSchool({ code: SCHOOL, name: '东昌府区实验小学', countyCode: '371502', type: 'primary', ownership: 'public', studentCount: 1500, staffCount: 100 });
    await inv.addAgent({ schoolCode: SCHOOL, agentId: 'gw-1' });
    await inv.upsertDiscoveredDevices(
      SCHOOL,
      'gw-1',
      [
        { device: 'cam-gate', kind: 'camera', protocol: 'onvif', address: '127.0.0.1:8000', attributes: {} },
        { device: 'sw-1', kind: 'switch', protocol: 'snmp', address: '127.0.0.1:161', attributes: {} },
        { device: 'cam-new', kind: 'camera', protocol: 'onvif', address: '127.0.0.1:8001', attributes: {} },
      ],
      new Date(),
    );
    const position = { lon: 115.98, lat: 36.45 };
    await en.accept({ schoolCode: SCHOOL, agentId: 'gw-1', deviceId: 'cam-gate' }, { position, camera: { headingDeg: 180, hfovDeg: 90 } }, 'test');
    await en.accept({ schoolCode: SCHOOL, agentId: 'gw-1', deviceId: 'sw-1' }, { position }, 'test');
    now = Date.parse('2026-11-02T08:00:00Z');
    events = new EventBus();
    watcher = makeWatcher();
  });
  afterEach(async () => backend.release(db));

  it('opens a ticket only after the grace period, one per device, and resolves it when the device works again', async () => {
    const seen: string[] = [];
    events.subscribe((e) => seen.push(e.event.type === 'ticket' ? `${e.event.deviceId}:${e.event.state}` : e.event.type));
    watcher.reading(SCHOOL, 'gw-1', cam(2));
    now += 4 * MIN;
    watcher.reading(SCHOOL, 'gw-1', cam(2));
    expect((await watcher.sweep()).opened).toEqual([]); // a reboot is not a ticket
    now += 2 * MIN;
    watcher.reading(SCHOOL, 'gw-1', cam(2));
    const { opened } = await watcher.sweep();
    expect(opened).toHaveLength(1);
    expect(opened[0]).toMatchObject({ deviceId: 'cam-gate', fault: 'no-stream', state: 'open', source: 'auto', title: expect.stringContaining('摄像机 cam-gate'), countyCode: '371502' });
    expect(Date.parse(opened[0]!.faultSince)).toBe(now - 6 * MIN);
    // still failing, and worse: no second ticket
    watcher.reading(SCHOOL, 'gw-1', cam(0));
    now += MIN;
    expect((await watcher.sweep()).opened).toEqual([]);
    expect((await tickets.list({ schoolCode: SCHOOL })).total).toBe(1);

    watcher.reading(SCHOOL, 'gw-1', cam(4));
    const { resolved } = await watcher.sweep();
    expect(resolved).toHaveLength(1);
    expect(resolved[0]).toMatchObject({ id: opened[0]!.id, state: 'resolved' });
    expect(seen).toEqual(['cam-gate:open', 'cam-gate:resolved']);
    const history = await tickets.events(opened[0]!.id);
    expect(history.map((h) => `${h.action}:${h.actor}`)).toEqual(['open:system', 'resolve:system']);
  });

  it('reopens the same ticket when the device fails again soon after, not a new one', async () => {
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    now += 6 * MIN;
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    const first = (await watcher.sweep()).opened[0]!;
    watcher.reading(SCHOOL, 'gw-1', sw(true));
    await watcher.sweep();
    now += 10 * MIN;
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    now += 6 * MIN;
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    const again = (await watcher.sweep()).opened;
    expect(again.map((t) => [t.id, t.state])).toEqual([[first.id, 'open']]);
    expect((await tickets.list()).total).toBe(1);
    // much later, a new fault is a new ticket
    watcher.reading(SCHOOL, 'gw-1', sw(true));
    await watcher.sweep();
    now += 3 * 60 * MIN;
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    now += 6 * MIN;
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    const third = (await watcher.sweep()).opened;
    expect(third).toHaveLength(1);
    expect(third[0]!.id).not.toBe(first.id);
  });

  it('tickets the gateway, not the devices behind it, when the gateway goes offline', async () => {
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    watcher.agentState(SCHOOL, 'gw-1', false, now);
    now += 6 * MIN;
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    const { opened } = await watcher.sweep();
    expect(opened.map((t) => [t.agentId, t.deviceId, t.fault])).toEqual([['gw-1', null, 'gateway-offline']]);
    watcher.agentState(SCHOOL, 'gw-1', true, now);
    expect((await watcher.sweep()).resolved.map((t) => t.fault)).toEqual(['gateway-offline']);
  });

  it('tickets only enrolled devices, and closes a ticket whose device was retired', async () => {
    watcher.reading(SCHOOL, 'gw-1', { device: 'cam-new', ts: now, measurement: 'camera_health', metrics: { step: 0 } });
    watcher.reading(SCHOOL, 'gw-1', cam(0));
    now += 6 * MIN;
    watcher.reading(SCHOOL, 'gw-1', cam(0));
    const { opened } = await watcher.sweep();
    expect(opened.map((t) => t.deviceId)).toEqual(['cam-gate']);
    await en.retire({ schoolCode: SCHOOL, agentId: 'gw-1', deviceId: 'cam-gate' }, 'test');
    const { resolved } = await watcher.sweep();
    expect(resolved.map((t) => [t.deviceId, t.state])).toEqual([['cam-gate', 'closed']]);
  });

  it('a fault keeps its time across a collector restart: ticketed on time, with the original fault time', async () => {
    const t0 = now;
    watcher.reading(SCHOOL, 'gw-1', cam(2));
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    watcher.reading(SCHOOL, 'gw-removed', { device: 'x-1', ts: now, measurement: 'device', metrics: { reachable: false } }); // an agent no longer in the inventory: not saved, and no obstacle
    now += 2 * MIN;
    watcher.reading(SCHOOL, 'gw-1', cam(2));
    expect((await watcher.sweep()).opened).toEqual([]);
    await restart('crash');
    now += 3 * MIN;
    watcher.reading(SCHOOL, 'gw-1', cam(2));
    watcher.reading(SCHOOL, 'gw-1', sw(true)); // the switch recovered while the collector was down
    const { opened } = await watcher.sweep();
    expect(opened.map((t) => [t.deviceId, t.fault, Date.parse(t.faultSince)])).toEqual([['cam-gate', 'no-stream', t0]]);

    // the switch's old fault is gone for good: failing again is a new grace period from then
    await restart();
    now += MIN;
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    now += 4 * MIN;
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    expect((await watcher.sweep()).opened).toEqual([]);
    now += 2 * MIN;
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    expect((await watcher.sweep()).opened.map((t) => [t.deviceId, Date.parse(t.faultSince)])).toEqual([['sw-1', now - 6 * MIN]]);
  });

  it('after a long restart a saved fault is ticketed once a reading confirms it, with its original time', async () => {
    const t0 = now;
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    await restart();
    now += 60 * MIN;
    expect((await watcher.sweep()).opened).toEqual([]); // not heard of for an hour: no ticket on old news
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    expect((await watcher.sweep()).opened.map((t) => [t.deviceId, Date.parse(t.faultSince)])).toEqual([['sw-1', t0]]);
  });

  it('a gateway offline before a restart is ticketed from when it went offline, and resolved by a return saved before the next restart', async () => {
    const t0 = now;
    watcher.agentState(SCHOOL, 'gw-1', false, now);
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    now += 2 * MIN;
    await restart();
    now += 3 * MIN;
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    const { opened } = await watcher.sweep();
    expect(opened.map((t) => [t.agentId, t.deviceId, t.fault, Date.parse(t.faultSince)])).toEqual([['gw-1', null, 'gateway-offline', t0]]);
    watcher.agentState(SCHOOL, 'gw-1', true, now);
    await restart(); // before a sweep saw the gateway back
    expect((await watcher.sweep()).resolved.map((t) => [t.id, t.state])).toEqual([[opened[0]!.id, 'resolved']]);
  });

  it('reopens the same ticket across restarts: a recovery saved before one, a new fault before another', async () => {
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    now += 6 * MIN;
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    const first = (await watcher.sweep()).opened[0]!;
    now += MIN;
    watcher.reading(SCHOOL, 'gw-1', sw(true));
    await restart(); // before a sweep resolved it
    expect((await watcher.sweep()).resolved.map((t) => t.id)).toEqual([first.id]);
    now += 10 * MIN;
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    await restart();
    now += 55 * MIN; // down for most of an hour: the fault began 10 min after the resolution all the same
    watcher.reading(SCHOOL, 'gw-1', sw(false));
    expect((await watcher.sweep()).opened.map((t) => [t.id, t.state])).toEqual([[first.id, 'open']]);
    expect((await tickets.list()).total).toBe(1);
    expect((await tickets.events(first.id)).map((e) => e.action)).toEqual(['open', 'resolve', 'reopen']);
  });

  it('saves the failing state when it changes, not on every reading', async () => {
    // counted by the database itself: a statement-level trigger on the saved state's table
    await db.exec(`CREATE TABLE watch_writes (at timestamptz);
      CREATE FUNCTION count_watch_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO watch_writes VALUES (now()); RETURN NULL; END $$;
      CREATE TRIGGER count_watch_write AFTER INSERT OR UPDATE OR DELETE ON ticket_watch FOR EACH STATEMENT EXECUTE FUNCTION count_watch_write();`);
    const writes = async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM watch_writes`))[0]!.n;
    const pass = async (failingCam: boolean) => {
      for (let i = 0; i < 100; i++) {
        watcher.reading(SCHOOL, 'gw-1', sw(false));
        watcher.reading(SCHOOL, 'gw-1', cam(failingCam ? 2 : 4));
        now += 1_000;
      }
      await watcher.sweep();
      return writes();
    };
    const first = await pass(false);
    expect(first).toBeGreaterThan(0); // the switch began failing
    expect(await pass(false)).toBe(first); // still failing, camera still fine: nothing to write
    const second = await pass(true);
    expect(second).toBeGreaterThan(first); // the camera began failing
    expect(await pass(true)).toBe(second);
  });

  it('a person works a ticket through its states; a wrong step is refused', async () => {
    const t = await tickets.openManual({ schoolCode: SCHOOL, agentId: 'gw-1', deviceId: 'sw-1', fault: 'manual', title: '交换机风扇异响' }, 'admin-token/王工');
    expect(t).toMatchObject({ state: 'open', source: 'manual', fault: 'manual' });
    await expect(tickets.act(t.id, 'reopen', 'x')).rejects.toThrow(InventoryError);
    await expect(tickets.act(t.id, 'assign', 'x')).rejects.toThrow(/assignee/);
    expect(await tickets.act(t.id, 'assign', 'admin-token/李科长', null, { assignee: '王工' })).toMatchObject({ state: 'in-progress', assignee: '王工' });
    expect(await tickets.act(t.id, 'resolve', 'admin-token/王工', '更换风扇')).toMatchObject({ state: 'resolved', resolvedAt: expect.any(String) });
    expect(await tickets.act(t.id, 'close', 'admin-token/李科长')).toMatchObject({ state: 'closed', closedAt: expect.any(String) });
    expect(await tickets.act(t.id, 'reopen', 'admin-token/李科长', '又响了')).toMatchObject({ state: 'open', resolvedAt: null, closedAt: null });
    expect((await tickets.events(t.id)).map((e) => e.action)).toEqual(['open', 'assign', 'resolve', 'close', 'reopen']);
    await expect(tickets.openManual({ schoolCode: SCHOOL, agentId: 'gw-1', deviceId: 'nope', fault: 'manual', title: 'x' }, 'a')).rejects.toThrow(/^no (device|ticket) /);
    await expect(tickets.act(999_999, 'start', 'a')).rejects.toThrow(/^no (device|ticket) /);
  });

  it('repair figures per county: opened, resolved, unfinished, median and mean hours', async () => {
    const base = Date.parse('2026-11-02T00:00:00Z');
    for (const [hours, resolvedToo] of [[2, true], [4, true], [9, true], [0, false]] as const) {
      const t = await tickets.openManual({ schoolCode: SCHOOL, fault: 'manual', title: `故障 ${hours}` }, 'a', new Date(base));
      await db.query(`UPDATE tickets SET fault_since = $2 WHERE id = $1`, [t.id, new Date(base)]);
      if (resolvedToo) await tickets.act(t.id, 'resolve', 'a', null, {}, new Date(base + hours * 3_600_000));
    }
    const stats = await tickets.repairStats('371500', new Date('2026-10-31T16:00:00Z'), new Date('2026-11-30T16:00:00Z'));
    expect(stats).toEqual([
      { countyCode: '371502', countyName: '东昌府区', opened: 4, resolved: 3, openNow: 1, medianRepairHours: 4, meanRepairHours: 5 },
      { countyCode: '371521', countyName: '阳谷县', opened: 0, resolved: 0, openNow: 0, medianRepairHours: null, meanRepairHours: null },
    ]);
    expect(await tickets.openCounts()).toEqual(new Map([[SCHOOL, 1]]));
  });
});
