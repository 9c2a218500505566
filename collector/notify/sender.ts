/**
 * One target's delivery: a bounded queue of ticket changes (the oldest dropped and counted when
 * full), gathered into one message when they come in a burst, sent no faster than the robot's
 * documented rate, each request with a timeout, tried again with back-off when the failure may
 * pass. It runs on its own: pushing never waits, and nothing it does can throw into the caller.
 */
import { chatText, noticeJson, type TicketNotice } from './message.ts';
import { dingtalkSignedUrl, outcomeOf, ROBOT_TEXT_MAX_BYTES, type SendOutcome, type TargetFormat } from './webhook.ts';

export interface SenderOptions {
  name: string;
  url: string;
  format: TargetFormat;
  secret?: string;
  headers?: Record<string, string>;
  consoleUrl?: string;
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
  /** ticket changes waiting */
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

export class TargetSender {
  private readonly queue: TicketNotice[] = [];
  private running = false;
  private stopped = false;
  private nextSendAt = 0;
  private readonly inflight = new AbortController();
  private wake: (() => void) | undefined;
  private readonly counters = { sent: 0, delivered: 0, failed: 0, dropped: 0, retries: 0 };
  private lastError: string | undefined;

  constructor(private readonly o: SenderOptions) {}

  push(n: TicketNotice): void {
    if (this.stopped) return;
    if (this.queue.length >= this.o.queueSize) {
      this.queue.shift();
      this.counters.dropped++;
    }
    this.queue.push(n);
    this.kick();
  }

  private kick(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    void this.run()
      .catch((err: Error) => {
        // a bug, not a failed request: drop what is queued rather than fail on it again and again
        this.counters.dropped += this.queue.splice(0).length;
        this.o.log?.warn({ target: this.o.name, err: err.message }, 'notification sender failed; its queue is dropped');
      })
      .finally(() => {
        this.running = false;
        // a change pushed while the loop was finishing
        if (this.queue.length) this.kick();
      });
  }

  stats(): TargetStats {
    return { name: this.o.name, format: this.o.format, queued: this.queue.length, ...this.counters, ...(this.lastError ? { lastError: this.lastError } : {}) };
  }

  /** Stops sending; what is still queued is not sent (counted in `queued`). */
  stop(): void {
    this.stopped = true;
    this.inflight.abort();
    this.wake?.();
  }

  private async run(): Promise<void> {
    await this.sleep(this.o.gatherMs ?? 2_000);
    while (this.queue.length && !this.stopped) {
      await this.sleep(this.nextSendAt - Date.now());
      if (this.stopped) return;
      const { body, taken } = this.nextMessage();
      // out of the queue while in flight: dropping the oldest must not drop what is being sent
      const batch = this.queue.splice(0, taken);
      const ok = await this.deliver(body);
      if (ok) {
        this.counters.sent++;
        this.counters.delivered += batch.length;
      } else {
        this.counters.failed++;
      }
    }
  }

  private nextMessage(): { body: string; taken: number } {
    if (this.o.format === 'json') {
      const batch = this.queue.slice(0, this.o.jsonBatch ?? 100);
      return { body: JSON.stringify({ source: 'campus', notifications: batch.map((n) => noticeJson(n, this.o.consoleUrl)) }), taken: batch.length };
    }
    const { text, taken } = chatText(this.queue, ROBOT_TEXT_MAX_BYTES, this.o.consoleUrl);
    return { body: JSON.stringify({ msgtype: 'text', text: { content: text } }), taken };
  }

  /** Sends one message, trying again while that may help; true when it arrived. */
  private async deliver(body: string): Promise<boolean> {
    let delay = this.o.retryBaseMs ?? 2_000;
    for (let attempt = 1; ; attempt++) {
      const r = await this.post(body);
      // the robot's rate counts every request, answered or not
      if (this.o.perMinute) this.nextSendAt = Date.now() + 60_000 / this.o.perMinute;
      if (r.ok) return true;
      this.lastError = r.error;
      this.o.log?.warn({ target: this.o.name, attempt, err: r.error }, 'notification not delivered');
      if (!r.retry || attempt >= this.o.attempts || this.stopped) return false;
      this.counters.retries++;
      const wait = r.retryAfterMs ?? (r.rateLimited ? Math.max(delay, this.o.rateLimitWaitMs ?? 60_000) : delay);
      // a retry is a message too: it keeps to the rate
      await this.sleep(Math.max(wait, this.nextSendAt - Date.now()));
      if (this.stopped) return false;
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

  /** A wait that stop() cuts short. */
  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }
}
