/**
 * Opens repair tickets when an enrolled device (or a school's gateway) stays failed, and resolves
 * them when it is seen working again: the alarm-to-ticket loop.
 *
 * Ingest shows the watcher every camera-health and reachability reading and every agent status
 * (IngestObserver); the watcher keeps what is failing now in memory, and a copy in the database
 * (watch-state.ts) written by each sweep for the devices whose failing state changed since the last
 * one, so that after a collector restart a fault keeps its original time. A sweep every few
 * seconds opens a ticket for a fault older than the grace period (a camera that reboots must not
 * become a ticket), and resolves unfinished automatic tickets whose device has since reported
 * working. Devices behind an offline gateway get no tickets of their own: the gateway's ticket
 * stands for them.
 */
import type { Reading } from '../../protocol/index.ts';
import type { CampusEvent, EventBus } from '../api/events.ts';
import type { IngestObserver } from '../ingest/ingest.ts';
import type { Db } from '../store/db.ts';
import { FAULT_TITLE, faultOf, worse, type Fault } from './faults.ts';
import { Tickets, type Ticket } from './store.ts';
import { deviceKey, emptyWatchState, loadWatchState, saveWatchState, splitKey, type WatchState } from './watch-state.ts';

export interface TicketWatcherOptions {
  db: Db;
  events?: EventBus;
  /** how long a fault must last before a ticket opens; default 5 min */
  openAfterMs?: number;
  /** a ticket resolved less than this before the device failed again is reopened rather than a new one opened; default 1 h */
  reopenWithinMs?: number;
  /** default 15 s */
  sweepMs?: number;
  /** a failing device not heard of for this long is not ticketed (its agent stopped polling it); default 15 min */
  staleMs?: number;
  /** the schools this collector ingests (when the collectors split them): load only their saved state */
  schools?: readonly string[];
  log?: { warn(obj: object, msg: string): void };
  now?: () => number;
}

/** The live-channel event for a ticket that opened or changed (the watcher's and people's changes alike). */
export const ticketEvent = (t: Ticket): CampusEvent => ({ type: 'ticket', school: t.schoolCode, county: t.countyCode, ticketId: t.id, state: t.state, fault: t.fault, agentId: t.agentId, deviceId: t.deviceId, title: t.title, at: t.updatedAt });

export class TicketWatcher implements IngestObserver {
  readonly tickets: Tickets;
  private state: WatchState = emptyWatchState();
  /** devices (and gateways) whose failing state changed since it was last saved */
  private readonly unsaved = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> | undefined;
  private readonly openAfterMs: number;
  private readonly now: () => number;

  constructor(private readonly o: TicketWatcherOptions) {
    this.tickets = new Tickets(o.db);
    this.openAfterMs = o.openAfterMs ?? 5 * 60_000;
    this.now = o.now ?? Date.now;
  }

  /** Takes up what was failing when the collector stopped. Call before the first reading. */
  async load(): Promise<void> {
    this.state = await loadWatchState(this.o.db, this.o.schools);
  }

  start(): void {
    this.timer = setInterval(() => void this.sweep().catch((err: Error) => this.o.log?.warn({ err: err.message }, 'ticket sweep failed')), this.o.sweepMs ?? 15_000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
    await this.save();
  }

  reading(school: string, agent: string, r: Reading): void {
    const { failing, recovered } = this.state;
    const key = deviceKey(school, agent, r.device);
    const f = faultOf(r);
    let byMeasurement = failing.get(key);
    if (f) {
      if (!byMeasurement) failing.set(key, (byMeasurement = new Map()));
      const prev = byMeasurement.get(r.measurement);
      byMeasurement.set(r.measurement, { ...f, since: prev?.since ?? r.ts, last: Math.max(prev?.last ?? 0, r.ts) });
      recovered.delete(key);
      // a newer `last` alone is not saved: thousands of readings a second must not each be a write
      if (prev?.fault !== f.fault) this.unsaved.add(key);
      return;
    }
    if (byMeasurement?.delete(r.measurement)) {
      this.unsaved.add(key);
      if (byMeasurement.size > 0) return;
      failing.delete(key);
    } else if (byMeasurement) return;
    recovered.set(key, r.ts);
  }

  agentState(school: string, agent: string, online: boolean, at: number): void {
    const { offline, recovered } = this.state;
    const key = deviceKey(school, agent, null);
    if (online) {
      if (offline.delete(key)) this.unsaved.add(key);
      recovered.set(key, at);
    } else if (!offline.has(key)) {
      offline.set(key, at);
      recovered.delete(key);
      this.unsaved.add(key);
    }
  }

  /** One pass: opens what has failed long enough, resolves what recovered. Never runs twice at once. */
  async sweep(): Promise<{ opened: Ticket[]; resolved: Ticket[] }> {
    while (this.sweeping) await this.sweeping;
    const run = this.sweepOnce();
    this.sweeping = run;
    try {
      return await run;
    } finally {
      this.sweeping = undefined;
    }
  }

  private async sweepOnce(): Promise<{ opened: Ticket[]; resolved: Ticket[] }> {
    try {
      return await this.openAndResolve();
    } finally {
      await this.save();
    }
  }

  /** Saves the failing state of the devices that changed; on failure they stay unsaved for the next try. */
  private async save(): Promise<void> {
    if (this.unsaved.size === 0) return;
    const keys = [...this.unsaved];
    this.unsaved.clear();
    try {
      await saveWatchState(this.o.db, this.state, keys);
    } catch (err) {
      for (const k of keys) this.unsaved.add(k);
      this.o.log?.warn({ devices: keys.length, err: (err as Error).message }, 'could not save the failing state; will retry');
    }
  }

  private async openAndResolve(): Promise<{ opened: Ticket[]; resolved: Ticket[] }> {
    const { failing, offline, recovered } = this.state;
    const now = this.now();
    const opened: Ticket[] = [];
    const resolved: Ticket[] = [];
    const active = new Map((await this.tickets.activeAuto()).map((t) => [deviceKey(t.schoolCode, t.agentId ?? '', t.deviceId), t]));

    // resolve: a device (or gateway) seen working since its ticket opened; a device no longer enrolled
    const gone = await this.notEnrolled([...active.values()].filter((t) => t.deviceId));
    for (const [key, t] of active) {
      const at = recovered.get(key);
      const retired = gone.has(t.id);
      if (!retired && (at === undefined || at < Date.parse(t.faultSince))) continue;
      const done = await this.settle(t, retired ? 'close' : 'resolve', retired ? '设备已不在册（退役或移除），工单关闭' : '设备已恢复正常，工单自动解决');
      if (done) resolved.push(done);
      active.delete(key);
      if (recovered.delete(key)) this.unsaved.add(key);
    }

    // open: gateways offline long enough
    for (const [key, since] of offline) {
      if (now - since < this.openAfterMs || active.has(key)) continue;
      const { school, agent } = splitKey(key);
      const t = await this.open({ schoolCode: school, agentId: agent, deviceId: null, fault: 'gateway-offline', title: `${FAULT_TITLE['gateway-offline']} · ${agent}`, detail: '网关停止上报，校内设备状态未知' }, since);
      if (t) opened.push(t);
    }

    // open: devices failing long enough, recently heard of, enrolled, their gateway online
    const due: Array<{ key: string; school: string; agent: string; device: string; fault: Fault; detail: string; since: number }> = [];
    for (const [key, byM] of failing) {
      if (active.has(key)) continue;
      const { school, agent, device } = splitKey(key);
      if (offline.has(deviceKey(school, agent, null))) continue;
      let fault: Fault | undefined, detail = '', since = Infinity, last = 0;
      for (const f of byM.values()) {
        if (!fault || worse(f.fault, fault) === f.fault) [fault, detail] = [f.fault, f.detail];
        since = Math.min(since, f.since);
        last = Math.max(last, f.last);
      }
      if (!fault || now - since < this.openAfterMs || now - last > (this.o.staleMs ?? 15 * 60_000)) continue;
      due.push({ key, school, agent, device, fault, detail, since });
    }
    const enrolled = await this.enrolled(due);
    for (const d of due) {
      if (!enrolled.has(d.key)) continue;
      const title = `${FAULT_TITLE[d.fault]} · ${enrolled.get(d.key)}`;
      const t = await this.open({ schoolCode: d.school, agentId: d.agent, deviceId: d.device, fault: d.fault, title, detail: d.detail }, d.since);
      if (t) opened.push(t);
    }
    return { opened, resolved };
  }

  private async open(t: Parameters<Tickets['openAuto']>[0], since: number): Promise<Ticket | null> {
    const r = await this.tickets.openAuto(t, new Date(since), { reopenWithinMs: this.o.reopenWithinMs ?? 60 * 60_000, at: new Date(this.now()) });
    if (r) this.publish(r.ticket);
    return r?.ticket ?? null;
  }

  private async settle(t: Ticket, action: 'resolve' | 'close', note: string): Promise<Ticket | null> {
    try {
      const done = await this.tickets.act(t.id, action, 'system', note, {}, new Date(this.now()));
      this.publish(done);
      return done;
    } catch (err) {
      // a person finished it meanwhile: nothing to do
      this.o.log?.warn({ ticket: t.id, err: (err as Error).message }, 'could not settle ticket');
      return null;
    }
  }

  /** Of these device keys, the enrolled ones, with a name for the title (kind and id). */
  private async enrolled(due: Array<{ key: string; school: string; agent: string; device: string }>): Promise<Map<string, string>> {
    if (due.length === 0) return new Map();
    const rows = await this.o.db.query<{ school: string; agent: string; device: string; kind: string }>(
      `SELECT d.school_code AS school, d.agent_id AS agent, d.device_id AS device, d.kind FROM devices d
        JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(s, a, dv) ON d.school_code = k.s AND d.agent_id = k.a AND d.device_id = k.dv
       WHERE d.state = 'enrolled'`,
      [due.map((d) => d.school), due.map((d) => d.agent), due.map((d) => d.device)],
    );
    return new Map(rows.map((r) => [deviceKey(r.school, r.agent, r.device), `${KIND_ZH[r.kind] ?? r.kind} ${r.device}`]));
  }

  /** Ids of these tickets whose device is no longer enrolled. */
  private async notEnrolled(ts: Ticket[]): Promise<Set<number>> {
    if (ts.length === 0) return new Set();
    const rows = await this.o.db.query<{ id: number }>(
      `SELECT t.id::int AS id FROM tickets t LEFT JOIN devices d ON d.school_code = t.school_code AND d.agent_id = t.agent_id AND d.device_id = t.device_id
        WHERE t.id = ANY($1::bigint[]) AND (d.state IS DISTINCT FROM 'enrolled')`,
      [ts.map((t) => t.id)],
    );
    return new Set(rows.map((r) => Number(r.id)));
  }

  private publish(t: Ticket): void {
    this.o.events?.publish(ticketEvent(t));
  }
}

export const KIND_ZH: Record<string, string> = { camera: '摄像机', nvr: '录像机', switch: '交换机', router: '路由器', ap: '无线AP', 'ap-controller': '无线控制器', ups: 'UPS', sensor: '传感器', 'class-board': '电子班牌', display: '显示屏', unknown: '设备' };
