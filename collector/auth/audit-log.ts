/**
 * The security audit trail (安全审计, 等保 2.0): who signed in or failed to, from where, who changed
 * which account, who was refused what, and what the admin token wrote. Entries are only added;
 * the one deletion is retention, which keeps at least `MIN_AUDIT_KEEP_DAYS` unless an operator
 * explicitly asks for less (网络安全法 第二十一条: logs kept ≥ 6 months).
 *
 * Passwords and tokens never reach this module: callers pass names, addresses and what changed.
 */
import type { Db } from '../store/db.ts';

export const AUDIT_EVENTS = [
  'sign-in',
  'sign-in-failed',
  'lockout',
  'sign-in-locked',
  'sign-out',
  'session-expired',
  'password-changed',
  'user-created',
  'user-changed',
  'user-disabled',
  'user-enabled',
  'permission-denied',
  'admin-token-write',
] as const;
export type AuditEvent = (typeof AUDIT_EVENTS)[number];
export type AuditOutcome = 'success' | 'failure';

export const DEFAULT_AUDIT_KEEP_DAYS = 180;
/** Six months: shorter only when the operator says so explicitly (and is warned). */
export const MIN_AUDIT_KEEP_DAYS = 180;
const DAY_MS = 86_400_000;

/** Where a request came from, as the API saw it. */
export interface AuditClient {
  ip?: string | null;
  userAgent?: string | null;
}

export interface AuditRecord extends AuditClient {
  event: AuditEvent;
  outcome: AuditOutcome;
  username?: string | null;
  displayName?: string | null;
  target?: string | null;
  detail?: Record<string, unknown>;
}

export interface AuditEntry {
  id: number;
  at: string;
  event: AuditEvent;
  username: string | null;
  displayName: string | null;
  clientIp: string | null;
  userAgent: string | null;
  target: string | null;
  outcome: AuditOutcome;
  detail: Record<string, unknown>;
}

export interface AuditFilter {
  from?: Date;
  to?: Date;
  event?: AuditEvent;
  username?: string;
  limit?: number;
  offset?: number;
}

// eslint-disable-next-line no-control-regex -- control characters are what is removed
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/g;

/** Text from the wire, made safe to keep: no control characters, at most `max` characters. */
export function auditText(s: string | null | undefined, max: number): string | null {
  if (s == null) return null;
  const t = s.replace(CONTROL, ' ').trim();
  return t ? [...t].slice(0, max).join('') : null;
}

export function isAuditEvent(s: unknown): s is AuditEvent {
  return typeof s === 'string' && (AUDIT_EVENTS as readonly string[]).includes(s);
}

export class AuditLog {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  async record(r: AuditRecord): Promise<void> {
    await this.db.query(
      `INSERT INTO audit_log (at, event, username, display_name, client_ip, user_agent, target, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb)`,
      [
        new Date(this.now()),
        r.event,
        auditText(r.username, 128),
        auditText(r.displayName, 100),
        auditText(r.ip, 64),
        auditText(r.userAgent, 256),
        auditText(r.target, 256),
        r.outcome,
        JSON.stringify(r.detail ?? {}),
      ],
    );
  }

  /** Newest first, with the number of entries the filter matches. */
  async list(f: AuditFilter = {}): Promise<{ total: number; entries: AuditEntry[] }> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => `$${args.push(v)}`;
    if (f.from) where.push(`at >= ${arg(f.from)}`);
    if (f.to) where.push(`at < ${arg(f.to)}`);
    if (f.event) where.push(`event = ${arg(f.event)}`);
    if (f.username) where.push(`username = ${arg(f.username)}`);
    const cond = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const [count] = await this.db.query<{ n: string | number }>(`SELECT count(*) AS n FROM audit_log ${cond}`, args);
    const rows = await this.db.query<Omit<AuditEntry, 'at'> & { at: Date; id: string | number }>(
      `SELECT id, at, event, username, display_name AS "displayName", client_ip AS "clientIp", user_agent AS "userAgent", target, outcome, detail
         FROM audit_log ${cond} ORDER BY at DESC, id DESC LIMIT ${arg(f.limit ?? 100)} OFFSET ${arg(f.offset ?? 0)}`,
      args,
    );
    return { total: Number(count?.n ?? 0), entries: rows.map((r) => ({ ...r, id: Number(r.id), at: r.at.toISOString() })) };
  }

  /** Retention: deletes the entries older than `keepDays`; answers how many went. */
  async purge(keepDays: number): Promise<number> {
    const [r] = await this.db.query<{ n: string | number }>(`WITH gone AS (DELETE FROM audit_log WHERE at < $1 RETURNING 1) SELECT count(*) AS n FROM gone`, [new Date(this.now() - keepDays * DAY_MS)]);
    return Number(r?.n ?? 0);
  }

  /** Purges now and then once a day; the answer stops it. A failed purge is logged and tried again the next day. */
  startRetention(keepDays: number, log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void }): () => void {
    const run = () =>
      void this.purge(keepDays).then(
        (n) => n && log.info({ deleted: n, keepDays }, 'audit log: old entries deleted'),
        (err: Error) => log.warn({ err: err.message }, 'audit log: could not delete old entries'),
      );
    run();
    const timer = setInterval(run, DAY_MS);
    timer.unref();
    return () => clearInterval(timer);
  }
}
