/**
 * Repair tickets (报修工单) in the inventory: opening, the state machine equipment managers work
 * through, every change with who made it, and the counts the map and the reports read.
 *
 *   open ──start/assign──▶ in-progress ──resolve──▶ resolved ──close──▶ closed
 *     └──────────────resolve───────────────────────▲   ▲ reopen ◀───────┘
 *   close is allowed from any unfinished state (a false alarm); reopen from resolved or closed.
 *
 * Automatic tickets (source `auto`) are opened and resolved by the TicketWatcher; at most one is
 * unfinished per device (a partial unique index), so a flapping device cannot flood the list.
 */
import type { Db } from '../store/db.ts';
import { InventoryError } from '../store/inventory.ts';

export const TICKET_STATES = ['open', 'in-progress', 'resolved', 'closed'] as const;
export type TicketState = (typeof TICKET_STATES)[number];
export const ACTIVE_STATES: readonly TicketState[] = ['open', 'in-progress'];
export const TICKET_ACTIONS = ['assign', 'start', 'resolve', 'close', 'reopen', 'comment'] as const;
export type TicketAction = (typeof TICKET_ACTIONS)[number];

/** The states an action may start from, and where it leads (undefined: the state stays). */
const TRANSITIONS: Record<TicketAction, { from: readonly TicketState[]; to?: TicketState }> = {
  assign: { from: ['open', 'in-progress'], to: 'in-progress' },
  start: { from: ['open'], to: 'in-progress' },
  resolve: { from: ['open', 'in-progress'], to: 'resolved' },
  close: { from: ['open', 'in-progress', 'resolved'], to: 'closed' },
  reopen: { from: ['resolved', 'closed'], to: 'open' },
  comment: { from: TICKET_STATES },
};

export interface Ticket {
  id: number;
  schoolCode: string;
  schoolName: string;
  countyCode: string;
  agentId: string | null;
  deviceId: string | null;
  /** what failed: unreachable, auth, no-stream, degraded, gateway-offline, or `manual` */
  fault: string;
  title: string;
  detail: string | null;
  state: TicketState;
  source: 'auto' | 'manual';
  /** a user name; free text on tickets assigned before assignees were users */
  assignee: string | null;
  /** the assignee's display name when the assignee is a user (null for free text) */
  assigneeName: string | null;
  openedAt: string;
  faultSince: string;
  resolvedAt: string | null;
  closedAt: string | null;
  updatedAt: string;
}

export interface TicketEvent {
  action: 'open' | TicketAction;
  fromState: TicketState | null;
  toState: TicketState;
  actor: string;
  note: string | null;
  at: string;
}

export interface NewTicket {
  schoolCode: string;
  agentId?: string | null;
  deviceId?: string | null;
  fault: string;
  title: string;
  detail?: string | null;
}

export interface TicketQuery {
  schoolCode?: string;
  countyCode?: string;
  states?: readonly TicketState[];
  agentId?: string;
  deviceId?: string;
  /** assigned to this user name */
  assignee?: string;
  limit?: number;
  offset?: number;
}

/** Repair figures of one county over a period (tickets whose fault began in it). */
export interface RepairStats {
  countyCode: string;
  countyName: string;
  opened: number;
  resolved: number;
  /** unfinished now, whenever opened */
  openNow: number;
  /** hours from the fault to its resolution, over the resolved ones; null when none */
  medianRepairHours: number | null;
  meanRepairHours: number | null;
}

/** Tickets with their school, and the assignee's account when the assignee is a user. */
const FROM = `tickets t JOIN schools s ON s.code = t.school_code LEFT JOIN users au ON au.username = t.assignee`;
const COLS = `t.id::int AS id, t.school_code AS "schoolCode", s.name AS "schoolName", s.county_code AS "countyCode", t.agent_id AS "agentId",
  t.device_id AS "deviceId", t.fault, t.title, t.detail, t.state, t.source, t.assignee, au.display_name AS "assigneeName", t.opened_at AS "openedAt", t.fault_since AS "faultSince",
  t.resolved_at AS "resolvedAt", t.closed_at AS "closedAt", t.updated_at AS "updatedAt"`;

type Row = Omit<Ticket, 'openedAt' | 'faultSince' | 'resolvedAt' | 'closedAt' | 'updatedAt'> & Record<'openedAt' | 'faultSince' | 'updatedAt', Date> & Record<'resolvedAt' | 'closedAt', Date | null>;
const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);
const ticketOf = (r: Row): Ticket => ({ ...r, id: Number(r.id), openedAt: iso(r.openedAt)!, faultSince: iso(r.faultSince)!, resolvedAt: iso(r.resolvedAt), closedAt: iso(r.closedAt), updatedAt: iso(r.updatedAt)! });

export class Tickets {
  constructor(private readonly db: Db) {}

  async get(id: number): Promise<Ticket | null> {
    const [r] = await this.db.query<Row>(`SELECT ${COLS} FROM ${FROM} WHERE t.id = $1`, [id]);
    return r ? ticketOf(r) : null;
  }

  async events(id: number): Promise<TicketEvent[]> {
    const rows = await this.db.query<Omit<TicketEvent, 'at'> & { at: Date }>(
      `SELECT action, from_state AS "fromState", to_state AS "toState", actor, note, at FROM ticket_events WHERE ticket_id = $1 ORDER BY at, id`,
      [id],
    );
    return rows.map((r) => ({ ...r, at: iso(r.at)! }));
  }

  async list(q: TicketQuery = {}): Promise<{ total: number; tickets: Ticket[] }> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      params.push(v);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (q.schoolCode) add('t.school_code = ?', q.schoolCode);
    if (q.countyCode) add('s.county_code = ?', q.countyCode);
    if (q.states?.length) add('t.state = ANY(?::text[])', [...q.states]);
    if (q.agentId) add('t.agent_id = ?', q.agentId);
    if (q.deviceId) add('t.device_id = ?', q.deviceId);
    if (q.assignee) add('t.assignee = ?', q.assignee);
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const [n] = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${FROM} ${w}`, params);
    const rows = await this.db.query<Row>(
      `SELECT ${COLS} FROM ${FROM} ${w}
       ORDER BY (t.state IN ('open', 'in-progress')) DESC, t.opened_at DESC, t.id DESC LIMIT ${Math.min(q.limit ?? 100, 1000)} OFFSET ${Math.max(0, q.offset ?? 0)}`,
      params,
    );
    return { total: Number(n?.n ?? 0), tickets: rows.map(ticketOf) };
  }

  /** A ticket opened by a person. */
  async openManual(t: NewTicket, actor: string, at = new Date()): Promise<Ticket> {
    const [s] = await this.db.query(`SELECT 1 FROM schools WHERE code = $1`, [t.schoolCode]);
    if (!s) throw new InventoryError('not-found', `no school ${t.schoolCode}`);
    if (t.deviceId && !t.agentId) throw new InventoryError('invalid', 'a device is named by agentId and deviceId together');
    if (t.deviceId) {
      const [d] = await this.db.query(`SELECT 1 FROM devices WHERE school_code = $1 AND agent_id = $2 AND device_id = $3`, [t.schoolCode, t.agentId, t.deviceId]);
      if (!d) throw new InventoryError('not-found', `no device ${t.agentId}/${t.deviceId} at school ${t.schoolCode}`);
    }
    return this.db.transaction(async (tx) => (await this.insertOpen(tx, { ...t, fault: 'manual' }, 'manual', actor, at, at))!);
  }

  /**
   * An automatic ticket for a device (or gateway) that has been failing since `since`; null when
   * one is already unfinished for it. A ticket for the same device resolved less than
   * `reopenWithinMs` before this fault began is reopened instead of opening another (a flapping
   * device stays one ticket). Measured from the fault, not from now, so that a ticket opened late
   * (after a collector restart) decides the same way.
   */
  async openAuto(t: NewTicket, since: Date, opts: { reopenWithinMs: number; at?: Date }): Promise<{ ticket: Ticket; reopened: boolean } | null> {
    const at = opts.at ?? new Date();
    return this.db.transaction(async (tx) => {
      const [recent] = await tx.query<{ id: number }>(
        `SELECT id::int AS id FROM tickets WHERE school_code = $1 AND agent_id IS NOT DISTINCT FROM $2 AND device_id IS NOT DISTINCT FROM $3
           AND source = 'auto' AND state = 'resolved' AND resolved_at > $4 ORDER BY resolved_at DESC LIMIT 1`,
        [t.schoolCode, t.agentId ?? null, t.deviceId ?? null, new Date(since.getTime() - opts.reopenWithinMs)],
      );
      if (recent) {
        const active = await tx.query(
          `SELECT 1 FROM tickets WHERE school_code = $1 AND agent_id IS NOT DISTINCT FROM $2 AND device_id IS NOT DISTINCT FROM $3 AND source = 'auto' AND state IN ('open', 'in-progress')`,
          [t.schoolCode, t.agentId ?? null, t.deviceId ?? null],
        );
        if (active.length) return null;
        const ticket = await new Tickets(tx).act(recent.id, 'reopen', 'system', `再次故障：${t.detail ?? t.title}`, {}, at);
        return { ticket, reopened: true };
      }
      const ticket = await this.insertOpen(tx, t, 'auto', 'system', at, since);
      return ticket && { ticket, reopened: false };
    });
  }

  /**
   * Applies an action by `actor`; refuses one the ticket's state does not allow (409). Whether an
   * assignee may work the ticket is the caller's to check (the API takes users only).
   */
  async act(id: number, action: TicketAction, actor: string, note?: string | null, extra: { assignee?: string } = {}, at = new Date()): Promise<Ticket> {
    return this.db.transaction(async (tx) => {
      const [cur] = await tx.query<{ state: TicketState; source: string; schoolCode: string; agentId: string | null; deviceId: string | null }>(
        `SELECT state, source, school_code AS "schoolCode", agent_id AS "agentId", device_id AS "deviceId" FROM tickets WHERE id = $1 FOR UPDATE`,
        [id],
      );
      if (!cur) throw new InventoryError('not-found', `no ticket ${id}`);
      const rule = TRANSITIONS[action];
      if (!rule.from.includes(cur.state)) throw new InventoryError('conflict', `ticket ${id} is ${cur.state}; ${action} is allowed only from ${rule.from.join(', ')}`);
      if (action === 'assign' && !extra.assignee?.trim()) throw new InventoryError('invalid', 'assign needs an assignee');
      if (action === 'comment' && !note?.trim()) throw new InventoryError('invalid', 'a comment needs a note');
      const to = rule.to ?? cur.state;
      const sets = ['state = $2', 'updated_at = $3'];
      const params: unknown[] = [id, to, at];
      if (action === 'assign') {
        params.push(extra.assignee!.trim());
        sets.push(`assignee = $${params.length}`);
      }
      if (to === 'resolved') sets.push('resolved_at = $3');
      if (to === 'closed') sets.push('closed_at = $3', 'resolved_at = coalesce(resolved_at, $3)');
      if (action === 'reopen') {
        sets.push('resolved_at = NULL', 'closed_at = NULL', 'opened_at = $3');
        if (cur.source === 'auto') {
          const [other] = await tx.query(
            `SELECT 1 FROM tickets WHERE id <> $1 AND school_code = $2 AND agent_id IS NOT DISTINCT FROM $3 AND device_id IS NOT DISTINCT FROM $4 AND source = 'auto' AND state IN ('open', 'in-progress')`,
            [id, cur.schoolCode, cur.agentId, cur.deviceId],
          );
          if (other) throw new InventoryError('conflict', `another unfinished ticket exists for ${cur.agentId ?? ''}/${cur.deviceId ?? ''}`);
        }
      }
      await tx.query(`UPDATE tickets SET ${sets.join(', ')} WHERE id = $1`, params);
      await this.event(tx, id, action, cur.state, to, actor, note ?? (action === 'assign' ? `→ ${await this.assigneeLabel(tx, extra.assignee!.trim())}` : null), at);
      return (await new Tickets(tx).get(id))!;
    });
  }

  /** Unfinished automatic tickets (what the watcher may resolve). */
  async activeAuto(): Promise<Ticket[]> {
    const rows = await this.db.query<Row>(`SELECT ${COLS} FROM ${FROM} WHERE t.source = 'auto' AND t.state IN ('open', 'in-progress')`);
    return rows.map(ticketOf);
  }

  /** Unfinished tickets per school, of one county when given (schools without any are absent). */
  async openCounts(countyCode?: string): Promise<Map<string, number>> {
    const rows = await this.db.query<{ school: string; n: number }>(
      `SELECT t.school_code AS school, count(*)::int AS n FROM tickets t JOIN schools s ON s.code = t.school_code
        WHERE t.state IN ('open', 'in-progress') AND ($1::text IS NULL OR s.county_code = $1) GROUP BY t.school_code`,
      [countyCode ?? null],
    );
    return new Map(rows.map((r) => [r.school, Number(r.n)]));
  }

  /** Repair figures per county of a city for faults that began in [from, to). */
  async repairStats(cityCode: string, from: Date, to: Date): Promise<RepairStats[]> {
    const counties = await this.db.query<{ code: string; name: string }>(`SELECT code, name FROM regions WHERE parent_code = $1 AND level = 'county' ORDER BY code`, [cityCode]);
    const rows = await this.db.query<{ county: string; since: Date; resolved: Date | null; state: TicketState }>(
      `SELECT s.county_code AS county, t.fault_since AS since, t.resolved_at AS resolved, t.state
         FROM tickets t JOIN schools s ON s.code = t.school_code JOIN regions r ON r.code = s.county_code
        WHERE r.parent_code = $1 AND ((t.fault_since >= $2 AND t.fault_since < $3) OR t.state IN ('open', 'in-progress'))`,
      [cityCode, from, to],
    );
    return counties.map((c) => {
      const mine = rows.filter((r) => r.county === c.code);
      const inPeriod = mine.filter((r) => r.since >= from && r.since < to);
      const hours = inPeriod.filter((r) => r.resolved).map((r) => (r.resolved!.getTime() - r.since.getTime()) / 3_600_000).sort((a, b) => a - b);
      const round = (x: number) => Math.round(x * 100) / 100;
      const median = hours.length ? (hours.length % 2 ? hours[(hours.length - 1) / 2]! : (hours[hours.length / 2 - 1]! + hours[hours.length / 2]!) / 2) : null;
      return {
        countyCode: c.code,
        countyName: c.name,
        opened: inPeriod.length,
        resolved: hours.length,
        openNow: mine.filter((r) => ACTIVE_STATES.includes(r.state)).length,
        medianRepairHours: median === null ? null : round(median),
        meanRepairHours: hours.length ? round(hours.reduce((s, h) => s + h, 0) / hours.length) : null,
      };
    });
  }

  /**
   * Inserts an open ticket with its `open` event, inside `tx`. Null only for an automatic ticket
   * when one is already unfinished for the device (the partial unique index covers `auto` alone).
   */
  private async insertOpen(tx: Db, t: NewTicket, source: 'auto' | 'manual', actor: string, at: Date, since: Date): Promise<Ticket | null> {
    const [row] = await tx.query<{ id: number }>(
      `INSERT INTO tickets (school_code, agent_id, device_id, fault, title, detail, state, source, opened_at, fault_since, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9, $8)
       ON CONFLICT (school_code, coalesce(agent_id, ''), coalesce(device_id, '')) WHERE source = 'auto' AND state IN ('open', 'in-progress') DO NOTHING
       RETURNING id::int AS id`,
      [t.schoolCode, t.agentId ?? null, t.deviceId ?? null, t.fault, t.title, t.detail ?? null, source, at, since],
    );
    if (!row) return null;
    await this.event(tx, row.id, 'open', null, 'open', actor, t.detail ?? null, at);
    return new Tickets(tx).get(row.id);
  }

  /** The history's note of an assignment names the person as shown then (a user's display name, or the text given). */
  private async assigneeLabel(tx: Db, assignee: string): Promise<string> {
    const [u] = await tx.query<{ name: string }>(`SELECT display_name AS name FROM users WHERE username = $1`, [assignee]);
    return u?.name ?? assignee;
  }

  private async event(tx: Db, id: number, action: TicketEvent['action'], from: TicketState | null, to: TicketState, actor: string, note: string | null, at: Date): Promise<void> {
    await tx.query(`INSERT INTO ticket_events (ticket_id, action, from_state, to_state, actor, note, at) VALUES ($1, $2, $3, $4, $5, $6, $7)`, [id, action, from, to, actor.slice(0, 128), note?.slice(0, 1000) ?? null, at]);
  }
}
