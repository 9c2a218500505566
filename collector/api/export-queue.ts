/**
 * At most `concurrent` Excel exports are built at once; a few more wait their turn in a short
 * queue, and the rest are refused at once with 503 and Retry-After, so that a burst of exports
 * costs bounded memory and CPU instead of taking the collector down. See
 * docs/decisions/0012-streaming-export.md.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PassThrough } from 'node:stream';
import { ApiError } from './errors.ts';
import { contentDisposition, ExportAbandoned, tableFileNames, writeTableWorkbook, type TableExport } from './table-workbook.ts';

export interface ExportLimits {
  /** exports built at once (`--max-exports`, default 2) */
  concurrent: number;
  /** exports waiting for a turn; more are refused with 503 (`--export-queue`, default 4) */
  queue: number;
  /** a waiting export is refused after this long (default 30 s) */
  maxWaitMs: number;
  /** an export whose client reads nothing for this long is abandoned, freeing its turn (default 60 s) */
  stallMs: number;
  /** Tests only: awaited inside a turn before the workbook is built, to hold turns open. */
  holdTurn?: () => Promise<void>;
}
export const DEFAULT_EXPORT_LIMITS: ExportLimits = { concurrent: 2, queue: 4, maxWaitMs: 30_000, stallMs: 60_000 };
/** What a refused client is told to wait: about one large export's time (bench/RESULTS.md). */
export const RETRY_AFTER_S = 10;

export interface ExportStats {
  /** exports sent whole */
  built: number;
  /** refused with 503 EXPORT_BUSY: queue full or waited too long */
  refused: number;
  /** stopped part-way: the client went away or stopped reading, or building failed */
  abandoned: number;
  running: number;
  queued: number;
}

/** Why a turn was not given. */
class NoTurn extends Error {
  constructor(readonly reason: 'full' | 'timeout' | 'gone') {
    super(reason);
  }
}

export class ExportQueue {
  readonly limits: ExportLimits;
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private readonly counts = { built: 0, refused: 0, abandoned: 0 };

  constructor(limits: Partial<ExportLimits> = {}) {
    this.limits = { ...DEFAULT_EXPORT_LIMITS, ...limits };
    if (!(this.limits.concurrent >= 1)) throw new Error(`exports at once must be at least 1, got ${this.limits.concurrent}`);
  }

  stats(): ExportStats {
    return { ...this.counts, running: this.running, queued: this.waiting.length };
  }

  /**
   * Waits for a turn (or refuses with 503), gets the table (`tableOf` runs inside the turn: a
   * large query counts as part of the export), then streams it into the reply as a workbook.
   * Checks nothing: validate before calling, so that a bad request gets its 400 without a turn.
   */
  async send(req: FastifyRequest, reply: FastifyReply, tableOf: () => TableExport | Promise<TableExport>, asciiName: (date: string) => string): Promise<FastifyReply> {
    const gone = new AbortController();
    const onClose = () => gone.abort();
    reply.raw.once('close', onClose);
    try {
      await this.turn(gone.signal);
    } catch (err) {
      if (!(err instanceof NoTurn)) throw err;
      // nobody is left to read the answer: not a refusal
      if (err.reason === 'gone') throw new ApiError('EXPORT_BUSY', 'the client went away while waiting for a turn');
      this.counts.refused++;
      req.log.warn({ reason: err.reason, ...this.stats() }, 'export refused: too many at once');
      reply.header('retry-after', String(RETRY_AFTER_S));
      const { concurrent, queue } = this.limits;
      throw new ApiError(
        'EXPORT_BUSY',
        err.reason === 'full'
          ? `导出任务繁忙：已有 ${concurrent} 个表格正在生成、${queue} 个在排队，请 ${RETRY_AFTER_S} 秒后重试 (too many exports at once: ${concurrent} being built and ${queue} waiting; try again in ${RETRY_AFTER_S} s)`
          : `导出任务繁忙：排队超过 ${Math.round(this.limits.maxWaitMs / 1000)} 秒，请 ${RETRY_AFTER_S} 秒后重试 (waited ${Math.round(this.limits.maxWaitMs / 1000)} s for a turn; try again in ${RETRY_AFTER_S} s)`,
        { retryAfterSeconds: RETRY_AFTER_S },
      );
    } finally {
      reply.raw.off('close', onClose);
    }

    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.next();
    };
    let table: TableExport;
    try {
      await this.limits.holdTurn?.();
      table = await tableOf();
    } catch (err) {
      release();
      throw err;
    }
    const now = new Date();
    const { fileName, date } = tableFileNames(table, now);
    const out = new PassThrough({ highWaterMark: 64 * 1024 });
    writeTableWorkbook(table, out, { now, stallMs: this.limits.stallMs })
      .then(
        () => void this.counts.built++,
        (err: Error) => {
          this.counts.abandoned++;
          if (err instanceof ExportAbandoned) req.log.warn({ reason: err.message }, 'export abandoned');
          else req.log.error({ err }, 'export failed part-way');
        },
      )
      .finally(release);
    return reply
      .header('content-type', XLSX)
      .header('content-disposition', contentDisposition(fileName, asciiName(date)))
      .header('cache-control', 'no-store')
      .send(out);
  }

  /** Resolves when this request may build; rejects with NoTurn when refused or the client left. */
  private turn(gone: AbortSignal): Promise<void> {
    if (this.running < this.limits.concurrent) {
      this.running++;
      return Promise.resolve();
    }
    if (this.waiting.length >= this.limits.queue) return Promise.reject(new NoTurn('full'));
    return new Promise<void>((resolve, reject) => {
      const leave = (reason: 'timeout' | 'gone') => {
        const i = this.waiting.indexOf(wake);
        if (i >= 0) this.waiting.splice(i, 1);
        clearTimeout(timer);
        reject(new NoTurn(reason));
      };
      const onGone = () => leave('gone');
      const timer = setTimeout(() => leave('timeout'), this.limits.maxWaitMs);
      // `running` is handed over, not decremented and re-incremented, so no newcomer can slip in between
      const wake = () => {
        clearTimeout(timer);
        gone.removeEventListener('abort', onGone);
        resolve();
      };
      gone.addEventListener('abort', onGone, { once: true });
      this.waiting.push(wake);
    });
  }

  /** A turn ended: give it to the first waiting request, or free it. */
  private next(): void {
    const wake = this.waiting.shift();
    if (wake) wake();
    else this.running--;
  }
}

export const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
