/**
 * Batched, bounded, retrying writer of line protocol to InfluxDB's v1 `POST /write`.
 *
 * - `write()` resolves once the lines are buffered; while the buffer is full it waits (the MQTT
 *   ingest delays its PUBACKs on this) and rejects after `maxWaitMs`, so nothing is dropped silently.
 * - A batch goes out at `batchLines` or every `flushIntervalMs`, `concurrency` requests at a time.
 * - 5xx, 429 and network errors: retried with exponential back-off and jitter (forever by default:
 *   the buffer bound turns an outage into back-pressure, not loss).
 * - 400: influxd writes the good points of a batch and reports the others ("partial write … dropped=N",
 *   "unable to parse …"): those are counted as rejected, the reason logged once per kind.
 *   (influxd 1.6 names only the write error when a batch has both a type conflict and unparseable
 *   lines, so those lines are then counted as written: lines from `pointToLine` always parse.)
 *   When it refuses a whole batch without a partial write (a field-type conflict *inside* one batch
 *   on a new field does that), the batch is split in halves until the bad lines are isolated.
 * - 401/403/404 (bad credentials, missing database): a configuration error. Logged loudly, the batch
 *   stays buffered and is retried every `configRetryMs` until the operator fixes it.
 */
import { SinkBufferFullError, SinkClosedError, type TelemetrySink, type TelemetrySinkStats } from './sink.ts';
import { influxAuthHeaders, influxEndpoint, influxErrorText, quoteIdentifier, type InfluxConnection } from './influx-http.ts';

export type InfluxWriterLog = (level: 'info' | 'warn' | 'error', message: string) => void;

export interface InfluxWriterOptions extends InfluxConnection {
  retentionPolicy?: string;
  /** Lines per request (influxd's own batching guidance is 5,000). */
  batchLines?: number;
  /** Longest a partial batch waits before it is sent. */
  flushIntervalMs?: number;
  /** Bound on lines held (queued + in flight); `write()` waits beyond it. */
  maxBufferedLines?: number;
  /** Longest `write()` waits for buffer space before rejecting with SinkBufferFullError. */
  maxWaitMs?: number;
  /** Retries of a batch after 5xx/429/network errors before its lines are counted as rejected. */
  maxRetries?: number;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Retry period after 401/403/404 (configuration errors). */
  configRetryMs?: number;
  requestTimeoutMs?: number;
  /** Requests in flight at once. */
  concurrency?: number;
  /** How long `close()` keeps trying to deliver before counting what is left as rejected. */
  closeTimeoutMs?: number;
  log?: InfluxWriterLog;
}

export interface InfluxWriterStats extends TelemetrySinkStats {
  /** HTTP requests made to /write, retries and split halves included. */
  requests: number;
  /** 401/403/404 answers. */
  configErrors: number;
  /** `write()` calls that gave up waiting for buffer space. */
  writesTimedOut: number;
  /** Rejected lines by reason ("field type conflict", "unable to parse", "gave up after retries", …). */
  rejectedByKind: Record<string, number>;
}

const defaultLog: InfluxWriterLog = (level, message) => {
  const out = level === 'info' ? console.info : level === 'warn' ? console.warn : console.error;
  out(`[influx-writer] ${message}`);
};

interface SpaceWaiter {
  lines: string[];
  resolve(): void;
  reject(e: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

type Outcome =
  | { kind: 'ok' }
  | { kind: 'partial'; rejected: number; reason: string }
  | { kind: 'refused'; reason: string } // the whole body was refused: bisect
  | { kind: 'config'; reason: string }
  | { kind: 'transient'; reason: string; retryAfterMs?: number };

/** Short stable label for a rejection reason, so each kind is logged once. */
function rejectionKind(reason: string): string {
  const known = ['field type conflict', 'unable to parse', 'invalid field name', 'points beyond retention policy', 'max-values-per-tag limit exceeded', 'max series per database exceeded', 'request entity too large'];
  return known.find((k) => reason.includes(k)) ?? reason.replace(/^partial write:\s*/, '').slice(0, 60);
}

function countParseErrors(reason: string): number {
  return reason.split("unable to parse '").length - 1;
}

export class InfluxWriter implements TelemetrySink {
  private readonly opts: Required<Omit<InfluxWriterOptions, 'user' | 'password' | 'token' | 'retentionPolicy'>> & InfluxWriterOptions;
  private queue: string[] = [];
  private head = 0;
  /** Lines ever accepted; line n has sequence n. Used by flush() to know what "so far" is. */
  private accepted = 0;
  private readonly inflight = new Map<number, number>(); // batch id → sequence of its first line
  private nextBatchId = 0;
  private buffered = 0;
  private readonly spaceWaiters: SpaceWaiter[] = [];
  private flushWaiters: { target: number; resolve(): void }[] = [];
  private closed = false;
  private abandoned = false;
  private readonly abandon = new AbortController();
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly loggedKinds = new Set<string>();
  private lastConfigLog = { message: '', at: 0 };
  private readonly s: InfluxWriterStats = {
    linesWritten: 0,
    linesRejected: 0,
    linesBuffered: 0,
    batchesWritten: 0,
    retries: 0,
    requests: 0,
    configErrors: 0,
    writesTimedOut: 0,
    rejectedByKind: {},
  };

  constructor(options: InfluxWriterOptions) {
    this.opts = {
      batchLines: 5000,
      flushIntervalMs: 1000,
      maxBufferedLines: 200_000,
      maxWaitMs: 30_000,
      maxRetries: Infinity,
      retryBaseMs: 200,
      retryMaxMs: 30_000,
      configRetryMs: 30_000,
      requestTimeoutMs: 30_000,
      concurrency: 1,
      closeTimeoutMs: 30_000,
      log: defaultLog,
      // An option passed as `undefined` (from config plumbing) keeps its default.
      ...(Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as InfluxWriterOptions),
    };
    for (const k of ['batchLines', 'maxBufferedLines', 'concurrency'] as const) {
      if (!(Number.isInteger(this.opts[k]) && this.opts[k] > 0)) throw new RangeError(`InfluxWriter: ${k} must be a positive integer`);
    }
    this.timer = setInterval(() => this.pump(true), this.opts.flushIntervalMs);
    this.timer.unref();
  }

  describe(): string {
    const rp = this.opts.retentionPolicy ? `, retention policy "${this.opts.retentionPolicy}"` : '';
    return `InfluxDB ${this.opts.url} (v1 /write), database "${this.opts.db}"${rp}`;
  }

  stats(): InfluxWriterStats {
    return { ...this.s, linesBuffered: this.buffered, rejectedByKind: { ...this.s.rejectedByKind } };
  }

  write(lines: string[]): Promise<void> {
    if (this.closed) return Promise.reject(new SinkClosedError('InfluxWriter is closed'));
    if (lines.length === 0) return Promise.resolve();
    if (this.spaceWaiters.length === 0 && this.fits(lines.length)) {
      this.accept(lines);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: SpaceWaiter = {
        lines,
        resolve,
        reject,
        timer: setTimeout(() => {
          const i = this.spaceWaiters.indexOf(waiter);
          if (i >= 0) this.spaceWaiters.splice(i, 1);
          this.s.writesTimedOut++;
          reject(new SinkBufferFullError(`InfluxDB write buffer full (${this.buffered} lines) for ${this.opts.maxWaitMs} ms; ${this.s.lastError ?? ''}`.trim()));
          this.releaseSpace(); // the next waiter may fit now that this one is gone
        }, this.opts.maxWaitMs),
      };
      this.spaceWaiters.push(waiter);
    });
  }

  flush(): Promise<void> {
    const target = this.accepted;
    if (this.settledUpTo() >= target) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.flushWaiters.push({ target, resolve }));
    this.pump(true);
    return done;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.spaceWaiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new SinkClosedError('InfluxWriter closed while waiting for buffer space'));
    }
    const giveUp = setTimeout(() => {
      this.abandoned = true;
      this.abandon.abort();
      this.pump(true);
    }, this.opts.closeTimeoutMs);
    try {
      await this.flush();
    } finally {
      clearTimeout(giveUp);
      clearInterval(this.timer);
    }
  }

  async ping(): Promise<boolean> {
    try {
      const res = await fetch(influxEndpoint(this.opts, '/ping'), { headers: influxAuthHeaders(this.opts), signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      return res.status === 204;
    } catch {
      return false;
    }
  }

  /** `CREATE DATABASE` (a no-op when it exists; needs admin rights when auth is on). */
  async ensureDatabase(): Promise<void> {
    const res = await fetch(influxEndpoint(this.opts, '/query'), {
      method: 'POST',
      headers: { ...influxAuthHeaders(this.opts), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ q: `CREATE DATABASE ${quoteIdentifier(this.opts.db)}` }),
      signal: AbortSignal.timeout(this.opts.requestTimeoutMs),
    });
    const text = await res.text();
    const error = res.ok ? (JSON.parse(text) as { results?: { error?: string }[] }).results?.find((r) => r.error)?.error : influxErrorText(text);
    if (error) throw new Error(`InfluxDB ${this.opts.url}: CREATE DATABASE "${this.opts.db}" failed (${res.status}): ${error}`);
  }

  // ---- buffer ----

  private fits(n: number): boolean {
    // An oversized write into an empty buffer is let through, or it could never be accepted.
    return this.buffered + n <= this.opts.maxBufferedLines || this.buffered === 0;
  }

  private accept(lines: string[]): void {
    for (const line of lines) this.queue.push(line);
    this.accepted += lines.length;
    this.buffered += lines.length;
    this.pump(false);
  }

  private releaseSpace(): void {
    while (this.spaceWaiters.length > 0 && this.fits(this.spaceWaiters[0]!.lines.length)) {
      const w = this.spaceWaiters.shift()!;
      clearTimeout(w.timer);
      this.accept(w.lines);
      w.resolve();
    }
  }

  private queued(): number {
    return this.queue.length - this.head;
  }

  private settledUpTo(): number {
    let low = this.accepted - this.queued();
    for (const start of this.inflight.values()) low = Math.min(low, start);
    return low;
  }

  private pump(partialOk: boolean): void {
    const sendPartial = partialOk || this.flushWaiters.length > 0 || this.closed;
    while (this.inflight.size < this.opts.concurrency && this.queued() > 0 && (sendPartial || this.queued() >= this.opts.batchLines)) {
      const start = this.accepted - this.queued();
      const end = Math.min(this.queue.length, this.head + this.opts.batchLines);
      const batch = this.queue.slice(this.head, end);
      this.head = end;
      if (this.head > 65_536 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      const id = this.nextBatchId++;
      this.inflight.set(id, start);
      void this.deliver(batch).finally(() => {
        this.inflight.delete(id);
        this.buffered -= batch.length;
        this.releaseSpace();
        this.settleFlushWaiters();
        this.pump(false);
      });
    }
  }

  private settleFlushWaiters(): void {
    const upTo = this.settledUpTo();
    const ready = this.flushWaiters.filter((w) => w.target <= upTo);
    if (ready.length === 0) return;
    this.flushWaiters = this.flushWaiters.filter((w) => w.target > upTo);
    for (const w of ready) w.resolve();
  }

  // ---- delivery ----

  private reject(count: number, reason: string): void {
    if (count <= 0) return;
    const kind = rejectionKind(reason);
    this.s.linesRejected += count;
    this.s.rejectedByKind[kind] = (this.s.rejectedByKind[kind] ?? 0) + count;
    this.s.lastError = reason;
    if (!this.loggedKinds.has(kind)) {
      this.loggedKinds.add(kind);
      this.opts.log('warn', `InfluxDB rejected lines (${kind}; logged once per kind, counted in stats): ${reason}`);
    }
  }

  /** Delivers one batch: resolves when every line is written or definitively rejected. Never throws. */
  private async deliver(lines: string[]): Promise<void> {
    let failures = 0;
    for (;;) {
      if (this.abandoned) return this.reject(lines.length, `abandoned at close: ${this.s.lastError ?? 'InfluxDB unreachable'}`);
      const outcome = await this.post(lines);
      switch (outcome.kind) {
        case 'ok':
          this.s.linesWritten += lines.length;
          this.s.batchesWritten++;
          this.s.lastWriteAt = Date.now();
          return;
        case 'partial': {
          const rejected = Math.min(lines.length, outcome.rejected);
          this.s.linesWritten += lines.length - rejected;
          this.s.batchesWritten++;
          this.s.lastWriteAt = Date.now();
          return this.reject(rejected, outcome.reason);
        }
        case 'refused': {
          if (lines.length === 1) return this.reject(1, outcome.reason);
          const mid = lines.length >> 1;
          await this.deliver(lines.slice(0, mid));
          await this.deliver(lines.slice(mid));
          return;
        }
        case 'config': {
          this.s.configErrors++;
          this.s.lastError = outcome.reason;
          const now = Date.now();
          if (outcome.reason !== this.lastConfigLog.message || now - this.lastConfigLog.at > 60_000) {
            this.lastConfigLog = { message: outcome.reason, at: now };
            this.opts.log('error', `CONFIGURATION ERROR writing to ${this.describe()}: ${outcome.reason}. ${this.buffered} lines held; retrying every ${this.opts.configRetryMs} ms.`);
          }
          this.s.retries++;
          await this.sleep(this.opts.configRetryMs);
          continue;
        }
        case 'transient': {
          this.s.lastError = outcome.reason;
          failures++;
          if (failures > this.opts.maxRetries) return this.reject(lines.length, `gave up after ${this.opts.maxRetries} retries: ${outcome.reason}`);
          this.s.retries++;
          // Exponential back-off with jitter, so many collectors do not retry in step.
          const backoff = Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** Math.min(failures - 1, 30));
          const wait = Math.max(backoff * (0.5 + Math.random() / 2), Math.min(outcome.retryAfterMs ?? 0, this.opts.retryMaxMs));
          await this.sleep(wait);
          continue;
        }
      }
    }
  }

  private async post(lines: string[]): Promise<Outcome> {
    this.s.requests++;
    const url = influxEndpoint(this.opts, '/write', { db: this.opts.db, rp: this.opts.retentionPolicy, precision: 'ms' });
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { ...influxAuthHeaders(this.opts), 'content-type': 'text/plain; charset=utf-8' },
        body: lines.join('\n'),
        signal: AbortSignal.timeout(this.opts.requestTimeoutMs),
      });
      text = await res.text();
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      return { kind: 'transient', reason: `network error: ${err.message}${err.cause ? ` (${err.cause.code ?? err.cause.message})` : ''}` };
    }
    if (res.status === 204 || res.status === 200) return { kind: 'ok' };
    const reason = `${res.status} ${influxErrorText(text)}`;
    if (res.status === 400) {
      if (!reason.includes('partial write')) return { kind: 'refused', reason };
      const dropped = Number(/dropped=(\d+)/.exec(reason)?.[1] ?? 0);
      return { kind: 'partial', rejected: dropped + countParseErrors(reason), reason };
    }
    if (res.status === 413) return { kind: 'refused', reason };
    if (res.status === 401 || res.status === 403 || res.status === 404) return { kind: 'config', reason };
    const retryAfter = Number(res.headers.get('retry-after'));
    return { kind: 'transient', reason, retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined };
  }

  private sleep(ms: number): Promise<void> {
    if (this.abandon.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.abandon.signal.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.abandon.signal.addEventListener('abort', done);
    });
  }
}
