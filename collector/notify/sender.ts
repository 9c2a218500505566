/**
 * One target's delivery, from the notification outbox (outbox.ts): the oldest waiting changes,
 * gathered into one message when they come in a burst, sent no faster than the robot's documented
 * rate, each request with a timeout, tried again with back-off when the failure may pass. Each
 * outcome is written back to the rows (delivered, given up, or the attempt and when to try again),
 * so a restarted collector resumes where this one stopped. At most `queueSize` changes wait; the
 * oldest beyond are dropped and counted. It runs on its own: nothing it does can throw into the
 * caller, and a database that does not answer only delays it (the rows wait).
 */
import { chatText, noticeJson, type TicketNotice } from './message.ts';
import type { Outbox, OutboxRow } from './outbox.ts';
import { dingtalkSignedUrl, outcomeOf, ROBOT_TEXT_MAX_BYTES, type SendOutcome, type TargetFormat } from './webhook.ts';

export interface SenderOptions {
  /** the target's identity in the outbox, across restarts */
  name: string;
  url: string;
  format: TargetFormat;
  secret?: string;
  headers?: Record<string, string>;
  consoleUrl?: string;
  outbox: Outbox;
  /** messages a minute at most; none = no limit */
  perMinute?: number;
  timeoutMs: number;
  queueSize: number;
  attempts: number;
  /** how long the first change of a burst waits for the others; default 2 s */
  gatherMs?: number;
  /** first retry delay, doubled each time up to 60 s; default 2 s */
  retryBaseMs?: number;
  /** wait after a rate-limit answer that names no time; default 60 s */
  rateLimitWaitMs?: number;
  /** changes in one json message at most; default 100 */
  jsonBatch?: number;
  log?: { warn(obj: object, msg: string): void };
}

export interface TargetStats {
  name: string;
  format: TargetFormat;
  /** ticket changes waiting in the outbox (not those in flight) */
  queued: number;
  /** messages delivered */
  sent: number;
  /** ticket changes in them */
  delivered: number;
  /** messages given up (after the last try, or refused for good) */
  failed: number;
  /** ticket changes dropped from a full queue */
  dropped: number;
  retries: number;
  lastError?: string;
}

/** Rows read to compose a chat message: its summary line counts them ("30 条变化"). */
const CHAT_WINDOW = 500;
/** A row in flight is held this much longer than its request may take or its back-off lasts. */
const LEASE_MARGIN_MS = 30_000;

export class TargetSender {
  private running: Promise<void> | undefined;
  private stopped = false;
  /** rows were added (or a start asked) since the loop last looked */
  private kicked = false;
  private nextSendAt = 0;
  private readonly inflight = new AbortController();
  private wake: (() => void) | undefined;
  private wakeIdle: (() => void) | undefined;
  private readonly counters = { sent: 0, delivered: 0, failed: 0, dropped: 0, retries: 0 };
  /** rows waiting (not in flight), as last read from the outbox */
  private waiting = 0;
  private lastError: string | undefined;

  constructor(private readonly o: SenderOptions) {}

  get name(): string {
    return this.o.name;
  }

  /** Sends what the outbox holds for this target, also what a previous run left there. */
  start(): void {
    this.kick();
  }

  /** Rows were written to the outbox for this target: keeps the queue bound, then sends. */
  async added(): Promise<void> {
    try {
      const { dropped, waiting } = await this.o.outbox.trim(this.o.name, this.o.queueSize);
      this.counters.dropped += dropped;
      this.waiting = waiting;
    } finally {
      this.kick();
    }
  }

  private kick(): void {
    this.kicked = true;
    this.wakeIdle?.();
    if (this.running || this.stopped) return;
    this.running = this.run()
      .catch((err: Error) => {
        // a bug, not a failed request: the rows stay in the outbox for the next change or restart
        this.kicked = false;
        this.o.log?.warn({ target: this.o.name, err: err.message }, 'notification sender failed');
      })
      .finally(() => {
        this.running = undefined;
        // rows added while the loop was finishing
        if (this.kicked) this.kick();
      });
  }

  stats(): TargetStats {
    return { name: this.o.name, format: this.o.format, queued: this.waiting, ...this.counters, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  /** Stops sending: a request under way is cut short and its rows given back to the outbox. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.inflight.abort();
    this.wake?.();
    await this.running;
  }

  private async run(): Promise<void> {
    await this.sleep(this.o.gatherMs ?? 2_000);
    const base = this.o.retryBaseMs ?? 2_000;
    let pause = base;
    while (!this.stopped) {
      let more: boolean;
      try {
        more = await this.step();
        pause = base;
      } catch (err) {
        // the database, not the target: the rows wait in the outbox
        this.o.log?.warn({ target: this.o.name, err: (err as Error).message }, 'notification outbox not reachable; trying again');
        await this.sleep(pause);
        pause = Math.min(pause * 2, 60_000);
        continue;
      }
      if (!more) return;
    }
  }

  /** Sends the next message (or settles rows that cannot be sent); false when nothing is left. */
  private async step(): Promise<boolean> {
    await this.sleep(this.nextSendAt - Date.now());
    if (this.stopped) return false;
    this.kicked = false;
    const rows = await this.o.outbox.ready(this.o.name, this.o.format === 'json' ? (this.o.jsonBatch ?? 100) : CHAT_WINDOW);
    const bad = rows.filter((r) => 'bad' in r).map((r) => r.id);
    const good = rows.filter((r): r is OutboxRow => !('bad' in r));
    // spent: a previous run made the last try and stopped before it could record the outcome
    const spent = good.filter((r) => r.attempts >= this.o.attempts).map((r) => r.id);
    if (bad.length) await this.giveUp(bad, 0, 'not a ticket notice (outbox row changed by hand?)');
    if (spent.length) await this.giveUp(spent, this.o.attempts, 'no attempts left (the last one was cut short by a stop or crash)');
    const fresh = good.filter((r) => r.attempts < this.o.attempts);
    if (!fresh.length) {
      if (rows.length) return true;
      this.waiting = 0;
      // nothing ready: rows still leased by a collector that stopped mid-send (or shares the database)
      const wait = await this.o.outbox.msUntilNextAttempt(this.o.name);
      if (wait === undefined) return false;
      await this.sleep(Math.max(wait, 10), true);
      return !this.stopped;
    }
    const { body, taken } = this.nextMessage(fresh.map((r) => r.notice));
    const batch = fresh.slice(0, taken);
    const ids = batch.map((r) => r.id);
    const got = await this.o.outbox.lease(ids, this.leaseMs());
    if (got.size < ids.length) {
      // dropped meanwhile, or taken by another collector: compose again from what is left
      await this.o.outbox.release([...got]);
      return true;
    }
    this.waiting = await this.o.outbox.waiting(this.o.name);
    await this.deliver(ids, Math.max(...batch.map((r) => r.attempts)) + 1, body);
    return true;
  }

  private leaseMs(): number {
    return this.o.timeoutMs + LEASE_MARGIN_MS;
  }

  private async giveUp(ids: number[], attempts: number, why: string): Promise<void> {
    await this.o.outbox.failed(ids, attempts, why, 'give-up');
    this.counters.failed++;
    this.o.log?.warn({ target: this.o.name, changes: ids.length, err: why }, 'notification given up');
  }

  private nextMessage(pending: TicketNotice[]): { body: string; taken: number } {
    if (this.o.format === 'json') {
      const batch = pending.slice(0, this.o.jsonBatch ?? 100);
      return { body: JSON.stringify({ source: 'campus', notifications: batch.map((n) => noticeJson(n, this.o.consoleUrl)) }), taken: batch.length };
    }
    const { text, taken } = chatText(pending, ROBOT_TEXT_MAX_BYTES, this.o.consoleUrl);
    return { body: JSON.stringify({ msgtype: 'text', text: { content: text } }), taken };
  }

  /**
   * Sends one message for these leased rows, trying again while that may help (the rows' attempts
   * so far count), and records the outcome on them.
   */
  private async deliver(ids: number[], firstAttempt: number, body: string): Promise<void> {
    let delay = this.o.retryBaseMs ?? 2_000;
    for (let attempt = firstAttempt; ; attempt++) {
      const r = await this.post(body);
      // the robot's rate counts every request, answered or not
      if (this.o.perMinute) this.nextSendAt = Date.now() + 60_000 / this.o.perMinute;
      if (r.ok) {
        await this.o.outbox.delivered(ids, attempt);
        this.counters.sent++;
        this.counters.delivered += ids.length;
        return;
      }
      // cut short by stop(): not an attempt; the next run sends them
      if (this.stopped) return this.o.outbox.release(ids);
      this.lastError = r.error;
      this.o.log?.warn({ target: this.o.name, attempt, err: r.error }, 'notification not delivered');
      if (!r.retry || attempt >= this.o.attempts) {
        await this.o.outbox.failed(ids, attempt, r.error, 'give-up');
        this.counters.failed++;
        return;
      }
      this.counters.retries++;
      const wait = r.retryAfterMs ?? (r.rateLimited ? Math.max(delay, this.o.rateLimitWaitMs ?? 60_000) : delay);
      // a retry is a message too: it keeps to the rate
      const pause = Math.max(wait, this.nextSendAt - Date.now());
      await this.o.outbox.failed(ids, attempt, r.error, { retryInMs: pause + this.leaseMs() });
      await this.sleep(pause);
      if (this.stopped) return this.o.outbox.release(ids);
      delay = Math.min(delay * 2, 60_000);
    }
  }

  private async post(body: string): Promise<SendOutcome> {
    const url = this.o.format === 'dingtalk' && this.o.secret ? dingtalkSignedUrl(this.o.url, this.o.secret) : this.o.url;
    // an own timer rather than AbortSignal.timeout inside AbortSignal.any: Node 20 can collect
    // that combination's timeout signal before it fires, and the request then waits for ever
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, this.o.timeoutMs);
    const onStop = () => abort.abort();
    this.inflight.signal.addEventListener('abort', onStop);
    if (this.inflight.signal.aborted) abort.abort();
    try {
      const res = await fetch(url, { method: 'POST', headers: { ...this.o.headers, 'content-type': 'application/json; charset=utf-8' }, body, signal: abort.signal, redirect: 'error' });
      return await outcomeOf(this.o.format, res);
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      const why = timedOut ? `no answer within ${this.o.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
      return { ok: false, retry: true, rateLimited: false, error: why };
    } finally {
      clearTimeout(timer);
      this.inflight.signal.removeEventListener('abort', onStop);
    }
  }

  /** A wait that stop() cuts short; an idle one (nothing ready to send) also ends when rows are added. */
  private sleep(ms: number, idle = false): Promise<void> {
    if (ms <= 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.wake = undefined;
        if (idle) this.wakeIdle = undefined;
        resolve();
      };
      const t = setTimeout(done, ms);
      this.wake = done;
      if (idle) this.wakeIdle = done;
    });
  }
}
