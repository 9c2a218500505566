/**
 * Tells the equipment managers' group chats about repair tickets: listens to the event bus for
 * ticket events (the watcher's and people's changes alike), looks up what the event does not
 * carry — which change it was, the school's name, the device's kind, since when — and hands each
 * change to the targets whose scope and choice of changes take it.
 *
 * The bus listener only appends to a bounded list: ticket handling never waits for a chat. The
 * look-up is one query for all changes waiting, and what it finds is written to the notification
 * outbox (outbox.ts) in one statement, so a burst costs two round trips. The targets' senders take
 * their work from the outbox; on start they resume what a previous run left there.
 */
import type { BusEvent, EventBus } from '../api/events.ts';
import type { Db } from '../store/db.ts';
import { DEFAULT_ACTIONS, NOTIFY_ACTIONS, targetName, type NotifyAction, type NotifyFile } from './config.ts';
import type { TicketNotice } from './message.ts';
import { Outbox } from './outbox.ts';
import { TargetSender, type SenderOptions, type TargetStats } from './sender.ts';

export interface NotifierOptions {
  db: Db;
  events: EventBus;
  config: NotifyFile;
  log?: { warn(obj: object, msg: string): void; info?(obj: object, msg: string): void };
  /** tests shorten the waits; see SenderOptions */
  tuning?: Partial<Pick<SenderOptions, 'gatherMs' | 'retryBaseMs' | 'rateLimitWaitMs' | 'timeoutMs'>>;
}

export interface NotifyStats {
  /** messages delivered, given up, and ticket changes dropped (all targets) */
  sent: number;
  failed: number;
  dropped: number;
  queued: number;
  targets: TargetStats[];
}

interface Target {
  sender: TargetSender;
  on: ReadonlySet<NotifyAction>;
  counties?: ReadonlySet<string>;
  schools?: ReadonlySet<string>;
}

type TicketBusEvent = Extract<BusEvent['event'], { type: 'ticket' }>;

/** Changes waiting for their look-up, at most; beyond it the oldest are dropped (and counted). */
const PENDING_MAX = 10_000;
/** Changes looked up in one query. */
const LOOKUP_BATCH = 500;
const DAY_MS = 86_400_000;
export const DEFAULT_OUTBOX_KEEP_DAYS = 7;

export class TicketNotifier {
  private readonly targets: Target[];
  private pending: TicketBusEvent[] = [];
  private looking: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  /** changes the bus announced that never reached the outbox (too many waiting, or no database) */
  private droppedBeforeOutbox = 0;
  private stopped = false;
  private readonly outbox: Outbox;
  private resuming: Promise<void> | undefined;
  private retention: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly o: NotifierOptions) {
    const c = o.config;
    this.outbox = new Outbox(o.db);
    this.targets = c.targets.map((t, i) => {
      const robot = t.format !== 'json';
      return {
        sender: new TargetSender({
          name: targetName(t, i),
          url: t.url,
          format: t.format,
          outbox: this.outbox,
          secret: t.secret,
          headers: t.headers,
          consoleUrl: c.consoleUrl,
          // the robots' documented limit: 20 messages a minute each
          perMinute: t.perMinute ?? (robot ? 20 : undefined),
          timeoutMs: o.tuning?.timeoutMs ?? (c.timeoutSeconds ?? 10) * 1000,
          queueSize: c.queueSize ?? 1000,
          attempts: c.attempts ?? 5,
          gatherMs: o.tuning?.gatherMs,
          retryBaseMs: o.tuning?.retryBaseMs,
          rateLimitWaitMs: o.tuning?.rateLimitWaitMs,
          log: o.log,
        }),
        on: new Set(t.on ?? c.on ?? DEFAULT_ACTIONS),
        counties: t.scope?.counties?.length ? new Set(t.scope.counties) : undefined,
        schools: t.scope?.schools?.length ? new Set(t.scope.schools) : undefined,
      };
    });
  }

  start(): void {
    this.unsubscribe = this.o.events.subscribe((e) => {
      if (e.event.type !== 'ticket' || this.stopped) return;
      this.pending.push(e.event);
      if (this.pending.length > PENDING_MAX) {
        this.pending.shift();
        this.droppedBeforeOutbox++;
      }
      // after the publisher's turn: a burst published together is looked up together
      if (!this.looking) this.looking = new Promise<void>((resolve) => setImmediate(resolve)).then(() => this.lookUpAll());
    });
    this.resuming = this.resume();
  }

  /**
   * Stops listening and sending. Changes already heard are still written to the outbox, and what
   * the outbox holds is sent by the next notifier on this database (see `queued`).
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    clearInterval(this.retention);
    await this.resuming;
    await Promise.all([this.looking, ...this.targets.map((t) => t.sender.stop())]);
  }

  stats(): NotifyStats {
    const targets = this.targets.map((t) => t.sender.stats());
    const sum = (k: 'sent' | 'failed' | 'dropped' | 'queued') => targets.reduce((s, t) => s + t[k], 0);
    return { sent: sum('sent'), failed: sum('failed'), dropped: sum('dropped') + this.droppedBeforeOutbox, queued: sum('queued') + this.pending.length, targets };
  }

  /**
   * What a previous run left in the outbox: resumed for the targets configured now; rows of a
   * name no longer configured are kept (and logged), never deleted unseen. Then the retention
   * sweep, now and once a day.
   */
  private async resume(): Promise<void> {
    const names = new Set(this.targets.map((t) => t.sender.name));
    try {
      for (const [target, n] of await this.outbox.queuedByTarget()) {
        if (names.has(target)) this.o.log?.info?.({ target, queued: n }, 'resuming ticket notifications left from before');
        else this.o.log?.warn({ target, queued: n }, `ticket notifications queued for target "${target}", which the notify file no longer names: they are kept but not sent (rename the target back to send them)`);
      }
    } catch (err) {
      this.o.log?.warn({ err: (err as Error).message }, 'could not read the notification outbox');
    }
    if (this.stopped) return;
    for (const t of this.targets) t.sender.start();
    const keepDays = this.o.config.keepDays ?? DEFAULT_OUTBOX_KEEP_DAYS;
    const purge = () =>
      void this.outbox.purge(keepDays).then(
        (n) => n && this.o.log?.info?.({ deleted: n, keepDays }, 'notification outbox: old rows deleted'),
        (err: Error) => this.o.log?.warn({ err: err.message }, 'notification outbox: could not delete old rows'),
      );
    purge();
    this.retention = setInterval(purge, DAY_MS);
    this.retention.unref();
  }

  private async lookUpAll(): Promise<void> {
    try {
      // also after stop(): what was heard is written, so the next run sends it
      while (this.pending.length) {
        const batch = this.pending.splice(0, LOOKUP_BATCH);
        await this.write(await this.noticesFor(batch));
      }
    } catch (err) {
      this.o.log?.warn({ err: (err as Error).message }, 'ticket notifications failed');
    } finally {
      this.looking = undefined;
    }
  }

  /** Hands the notices to the targets whose scope and choice of changes take them: one INSERT for all. */
  private async write(notices: TicketNotice[]): Promise<void> {
    const items: Array<{ target: string; notice: TicketNotice }> = [];
    const reached = new Set<Target>();
    for (const n of notices) {
      for (const t of this.targets) {
        if (!t.on.has(n.action)) continue;
        if ((t.counties || t.schools) && !t.counties?.has(n.countyCode) && !t.schools?.has(n.schoolCode)) continue;
        items.push({ target: t.sender.name, notice: n });
        reached.add(t);
      }
    }
    if (!items.length) return;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.outbox.add(items);
        break;
      } catch (err) {
        this.o.log?.warn({ attempt, changes: items.length, err: (err as Error).message }, 'could not write ticket notifications to the outbox');
        if (attempt === 3) {
          this.droppedBeforeOutbox += items.length;
          return;
        }
        await new Promise((r) => setTimeout(r, 1000 * attempt));
      }
    }
    for (const t of reached) {
      await t.sender.added().catch((err: Error) => this.o.log?.warn({ target: t.sender.name, err: err.message }, 'could not bound the notification queue'));
    }
  }

  /**
   * The notices for these bus events: which change each was (the latest ticket event at or before
   * the bus event's time) and the ticket's school, device kind and fault time. When the database
   * cannot answer, the bus event alone still makes a notice (less detailed, but not lost).
   */
  private async noticesFor(events: TicketBusEvent[]): Promise<TicketNotice[]> {
    type Row = {
      n: number;
      schoolName: string;
      deviceKind: string | null;
      faultSince: Date;
      action: string;
      actor: string | null;
      actorName: string | null;
      note: string | null;
    };
    let rows: Row[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        rows = await this.o.db.query<Row>(
          `SELECT k.n::int AS n, s.name AS "schoolName", d.kind AS "deviceKind", t.fault_since AS "faultSince", e.action, e.actor, u.display_name AS "actorName", e.note
             FROM unnest($1::bigint[], $2::timestamptz[]) WITH ORDINALITY AS k(id, at, n)
             JOIN tickets t ON t.id = k.id
             JOIN schools s ON s.code = t.school_code
             LEFT JOIN devices d ON d.school_code = t.school_code AND d.agent_id = t.agent_id AND d.device_id = t.device_id
             JOIN LATERAL (SELECT action, actor, note FROM ticket_events e WHERE e.ticket_id = k.id AND e.at <= k.at ORDER BY e.at DESC, e.id DESC LIMIT 1) e ON true
             LEFT JOIN users u ON u.username = e.actor`,
          [events.map((e) => e.ticketId), events.map((e) => e.at)],
        );
        break;
      } catch (err) {
        this.o.log?.warn({ attempt, err: (err as Error).message }, 'could not look up tickets to notify about');
        if (attempt === 3) return events.flatMap((e) => fallbackNotice(e) ?? []);
        await new Promise((r) => setTimeout(r, 1000 * attempt));
      }
    }
    const byN = new Map(rows.map((r) => [Number(r.n), r]));
    return events.flatMap((e, i): TicketNotice[] => {
      const r = byN.get(i + 1);
      if (!r) return [];
      if (!(NOTIFY_ACTIONS as readonly string[]).includes(r.action)) return []; // a comment
      return [
        {
          action: r.action as NotifyAction,
          ticketId: e.ticketId,
          state: e.state,
          schoolCode: e.school,
          schoolName: r.schoolName,
          countyCode: e.county,
          agentId: e.agentId,
          deviceId: e.deviceId,
          deviceKind: r.deviceKind,
          fault: e.fault,
          title: e.title,
          faultSince: new Date(r.faultSince).toISOString(),
          at: e.at,
          actor: r.actorName ?? r.actor,
          note: r.note,
        },
      ];
    });
  }
}

/** A notice from the bus event alone, the change guessed from the state. */
function fallbackNotice(e: TicketBusEvent): TicketNotice | null {
  const action: NotifyAction | undefined = ({ open: 'open', resolved: 'resolve', closed: 'close' } as Record<string, NotifyAction>)[e.state];
  if (!action) return null;
  return { action, ticketId: e.ticketId, state: e.state, schoolCode: e.school, schoolName: e.school, countyCode: e.county, agentId: e.agentId, deviceId: e.deviceId, deviceKind: null, fault: e.fault, title: e.title, faultSince: e.at, at: e.at, actor: null, note: null };
}
