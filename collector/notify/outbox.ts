/**
 * The notification outbox (`notify_outbox`, migration 010): ticket changes handed to a target stay
 * in the database until they are delivered, given up or dropped, so a collector restart or crash
 * loses none. Every statement here takes a whole batch: a burst of hundreds of changes is one
 * INSERT, a message of a hundred changes one UPDATE.
 *
 * A row being sent is leased: its `next_attempt_at` lies in the future (the request's timeout or
 * back-off plus a margin), and only rows whose time has come are taken. So a row in flight is
 * neither sent by a second collector on the same database nor counted or dropped as waiting.
 */
import type { Db } from '../store/db.ts';
import { NOTIFY_ACTIONS } from './config.ts';
import type { TicketNotice } from './message.ts';

export interface OutboxRow {
  id: number;
  notice: TicketNotice;
  attempts: number;
}

/** What to do with rows after a failed request. */
export type AfterFailure = { retryInMs: number } | 'give-up';

const ERROR_MAX = 500;
const ms = (p: string) => `(now() + ${p}::float8 * interval '1 millisecond')`;

/** Does a stored notice look like one we wrote? (A row edited by hand must not break the sender.) */
export function isTicketNotice(v: unknown): v is TicketNotice {
  const n = v as Partial<TicketNotice> | null;
  return (
    typeof n === 'object' &&
    n !== null &&
    (NOTIFY_ACTIONS as readonly unknown[]).includes(n.action) &&
    typeof n.ticketId === 'number' &&
    typeof n.schoolCode === 'string' &&
    typeof n.schoolName === 'string' &&
    typeof n.fault === 'string' &&
    typeof n.faultSince === 'string' &&
    typeof n.at === 'string'
  );
}

export class Outbox {
  constructor(private readonly db: Db) {}

  /** Queues every (target, notice) pair in one statement, in the order given. */
  async add(items: ReadonlyArray<{ target: string; notice: TicketNotice }>): Promise<void> {
    if (!items.length) return;
    await this.db.query(
      `INSERT INTO notify_outbox (target, notice, created_at, next_attempt_at)
         SELECT x.e->>'target', x.e->'notice', now(), now()
           FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, n)
          ORDER BY x.n`,
      [JSON.stringify(items)],
    );
  }

  /**
   * Keeps at most `keep` rows of the target waiting (rows in flight are not waiting): the oldest
   * beyond are marked dropped. Answers how many were dropped and how many wait now.
   */
  async trim(target: string, keep: number): Promise<{ dropped: number; waiting: number }> {
    const [r] = await this.db.query<{ dropped: number; waiting: number }>(
      `WITH w AS (
         SELECT id, row_number() OVER (ORDER BY id DESC) AS r FROM notify_outbox
          WHERE target = $1 AND state = 'queued' AND next_attempt_at <= now()
       ), d AS (
         UPDATE notify_outbox o SET state = 'dropped', done_at = now(), last_error = 'dropped: more than queueSize changes waiting'
           FROM w WHERE o.id = w.id AND w.r > $2 AND o.state = 'queued' RETURNING o.id
       )
       SELECT (SELECT count(*) FROM d)::int AS dropped, ((SELECT count(*) FROM w) - (SELECT count(*) FROM d))::int AS waiting`,
      [target, keep],
    );
    return { dropped: Number(r?.dropped ?? 0), waiting: Number(r?.waiting ?? 0) };
  }

  /** Rows of the target waiting and not in flight. */
  async waiting(target: string): Promise<number> {
    const [r] = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM notify_outbox WHERE target = $1 AND state = 'queued' AND next_attempt_at <= now()`, [target]);
    return Number(r?.n ?? 0);
  }

  /** The oldest rows whose time has come, at most `limit`. */
  async ready(target: string, limit: number): Promise<Array<OutboxRow | { id: number; bad: true }>> {
    const rows = await this.db.query<{ id: number; notice: unknown; attempts: number }>(
      `SELECT id, notice, attempts FROM notify_outbox WHERE target = $1 AND state = 'queued' AND next_attempt_at <= now() ORDER BY id LIMIT $2`,
      [target, limit],
    );
    return rows.map((r) => (isTicketNotice(r.notice) ? { id: Number(r.id), notice: r.notice, attempts: r.attempts } : { id: Number(r.id), bad: true as const }));
  }

  /**
   * Milliseconds until the target's earliest queued row (leased elsewhere) may be taken; undefined
   * when none is queued. Measured by the database's clock, which all the leases use.
   */
  async msUntilNextAttempt(target: string): Promise<number | undefined> {
    const [r] = await this.db.query<{ ms: number | null }>(
      `SELECT (extract(epoch FROM min(next_attempt_at) - now()) * 1000)::float8 AS ms FROM notify_outbox WHERE target = $1 AND state = 'queued'`,
      [target],
    );
    return r?.ms ?? undefined;
  }

  /** Leases these rows for `leaseMs`; answers the ids it got (another collector may have taken some). */
  async lease(ids: readonly number[], leaseMs: number): Promise<Set<number>> {
    const rows = await this.db.query<{ id: number }>(
      `UPDATE notify_outbox SET next_attempt_at = ${ms('$2')} WHERE id = ANY($1::bigint[]) AND state = 'queued' AND next_attempt_at <= now() RETURNING id`,
      [ids, leaseMs],
    );
    return new Set(rows.map((r) => Number(r.id)));
  }

  /** Gives leased rows back without counting an attempt (the sender stops, or they did not fit). */
  async release(ids: readonly number[]): Promise<void> {
    if (!ids.length) return;
    await this.db.query(`UPDATE notify_outbox SET next_attempt_at = now() WHERE id = ANY($1::bigint[]) AND state = 'queued'`, [ids]);
  }

  async delivered(ids: readonly number[], attempts: number): Promise<void> {
    await this.db.query(`UPDATE notify_outbox SET state = 'delivered', done_at = now(), attempts = $2 WHERE id = ANY($1::bigint[]) AND state = 'queued'`, [ids, attempts]);
  }

  /** Records a failed request: tried again after `retryInMs` (the rows stay leased until then) or given up. */
  async failed(ids: readonly number[], attempts: number, error: string, then: AfterFailure): Promise<void> {
    const err = error.slice(0, ERROR_MAX);
    if (then === 'give-up') {
      await this.db.query(`UPDATE notify_outbox SET state = 'failed', done_at = now(), attempts = $2, last_error = $3 WHERE id = ANY($1::bigint[]) AND state = 'queued'`, [ids, attempts, err]);
    } else {
      await this.db.query(`UPDATE notify_outbox SET attempts = $2, last_error = $3, next_attempt_at = ${ms('$4')} WHERE id = ANY($1::bigint[]) AND state = 'queued'`, [ids, attempts, err, then.retryInMs]);
    }
  }

  /** Queued rows per target (for names no longer configured). */
  async queuedByTarget(): Promise<Map<string, number>> {
    const rows = await this.db.query<{ target: string; n: number }>(`SELECT target, count(*)::int AS n FROM notify_outbox WHERE state = 'queued' GROUP BY target`);
    return new Map(rows.map((r) => [r.target, Number(r.n)]));
  }

  /** Retention: deletes rows delivered, given up or dropped more than `keepDays` ago; answers how many. */
  async purge(keepDays: number): Promise<number> {
    const [r] = await this.db.query<{ n: number }>(
      `WITH gone AS (DELETE FROM notify_outbox WHERE state <> 'queued' AND done_at < now() - $1::float8 * interval '1 day' RETURNING 1) SELECT count(*)::int AS n FROM gone`,
      [keepDays],
    );
    return Number(r?.n ?? 0);
  }
}
