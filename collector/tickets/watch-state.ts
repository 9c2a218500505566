/**
 * The ticket watcher's picture of what is failing now, and its copy in the inventory database
 * (table `ticket_watch`, migration 007) so that a collector restart keeps the fault times.
 *
 * The watcher changes the picture in memory on every reading and marks the devices whose failing
 * state changed; `saveWatchState` writes just those, in one transaction, from the picture as it
 * is then (so quick flaps between two saves cost nothing and the last state wins).
 */
import type { Db } from '../store/db.ts';
import { FAULTS, type Fault } from './faults.ts';

export interface Failing {
  fault: Fault;
  detail: string;
  since: number;
  last: number;
}

export interface WatchState {
  /** `school/agent/device` → measurement → what is failing */
  failing: Map<string, Map<string, Failing>>;
  /** `school/agent/` → offline since */
  offline: Map<string, number>;
  /** devices (and gateways) seen working, with when: the sweep resolves their tickets */
  recovered: Map<string, number>;
}

export const emptyWatchState = (): WatchState => ({ failing: new Map(), offline: new Map(), recovered: new Map() });

/** A device's key; `device` null (stored as '') is the gateway. School codes, agent and device ids never contain '/'. */
export const deviceKey = (school: string, agent: string, device: string | null) => `${school}/${agent}/${device ?? ''}`;

export function splitKey(key: string): { school: string; agent: string; device: string } {
  const [school = '', agent = '', device = ''] = key.split('/');
  return { school, agent, device };
}

type Kind = 'failing' | 'offline' | 'recovered';
interface Row {
  school: string;
  agent: string;
  device: string;
  kind: Kind;
  measurement: string;
  fault: string | null;
  detail: string | null;
  since: Date;
  last: Date | null;
}

/** The saved picture, of these schools only when given (collectors that split the schools load their own). */
export async function loadWatchState(db: Db, schools?: readonly string[]): Promise<WatchState> {
  const rows = await db.query<Row>(
    `SELECT school_code AS school, agent_id AS agent, device_id AS device, kind, measurement, fault, detail, since, last_seen AS last
       FROM ticket_watch WHERE $1::text[] IS NULL OR school_code = ANY($1::text[])`,
    [schools?.length ? [...schools] : null],
  );
  const s = emptyWatchState();
  for (const r of rows) {
    const key = deviceKey(r.school, r.agent, r.device || null);
    const since = new Date(r.since).getTime();
    if (r.kind === 'offline') s.offline.set(key, since);
    else if (r.kind === 'recovered') s.recovered.set(key, since);
    else if (isFault(r.fault)) {
      let byM = s.failing.get(key);
      if (!byM) s.failing.set(key, (byM = new Map()));
      byM.set(r.measurement, { fault: r.fault, detail: r.detail ?? '', since, last: new Date(r.last ?? r.since).getTime() });
    }
    // a fault this version no longer knows: dropped; the next reading says what it is now
  }
  return s;
}

/**
 * Replaces the saved state of these devices (and gateways) with what `s` holds for them now. The
 * rows are taken from `s` before the first await, so changes made meanwhile wait for the next save.
 * Rows of agents no longer in the inventory are skipped, not an error.
 */
export function saveWatchState(db: Db, s: WatchState, keys: readonly string[]): Promise<void> {
  const rows: Row[] = [];
  for (const key of keys) {
    const { school, agent, device } = splitKey(key);
    const base = { school, agent, device, measurement: '', fault: null, detail: null, last: null };
    for (const [measurement, f] of s.failing.get(key) ?? []) rows.push({ ...base, kind: 'failing', measurement, fault: f.fault, detail: f.detail.slice(0, 2000), since: new Date(f.since), last: new Date(f.last) });
    const offline = s.offline.get(key);
    if (offline !== undefined) rows.push({ ...base, kind: 'offline', since: new Date(offline) });
    const recovered = s.recovered.get(key);
    if (recovered !== undefined) rows.push({ ...base, kind: 'recovered', since: new Date(recovered) });
  }
  const col = <K extends keyof Row>(k: K) => rows.map((r) => r[k]);
  const iso = (ds: Array<Date | null>) => ds.map((d) => d?.toISOString() ?? null);
  return db.transaction(async (tx) => {
    const parts = keys.map(splitKey);
    await tx.query(
      `DELETE FROM ticket_watch w USING unnest($1::text[], $2::text[], $3::text[]) AS k(s, a, d)
        WHERE w.school_code = k.s AND w.agent_id = k.a AND w.device_id = k.d`,
      [parts.map((p) => p.school), parts.map((p) => p.agent), parts.map((p) => p.device)],
    );
    if (rows.length === 0) return;
    await tx.query(
      `INSERT INTO ticket_watch (school_code, agent_id, device_id, kind, measurement, fault, detail, since, last_seen)
       SELECT r.s, r.a, r.d, r.k, r.m, r.f, r.dt, r.since, r.last
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::timestamptz[]) AS r(s, a, d, k, m, f, dt, since, last)
         JOIN agents g ON g.school_code = r.s AND g.agent_id = r.a`,
      [col('school'), col('agent'), col('device'), col('kind'), col('measurement'), col('fault'), col('detail'), iso(col('since')), iso(col('last'))],
    );
  });
}

const isFault = (f: string | null): f is Fault => (FAULTS as readonly string[]).includes(f ?? '');
