/**
 * Telemetry to files when there is no InfluxDB (the demo): the same line protocol, appended to
 * `<dir>/telemetry-YYYY-MM-DD.lp`, one file per UTC day. Each file starts with the `influx -import`
 * header, so `influx -import -path=FILE -precision=ms` loads it into InfluxDB later.
 */
import { access, appendFile, constants, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SinkClosedError, type TelemetrySink, type TelemetrySinkStats } from './sink.ts';

export interface FileLineSinkOptions {
  dir: string;
  /** Database named in the import header. */
  db?: string;
  /** Clock for the file's day (tests). */
  now?: () => Date;
}

export class FileLineSink implements TelemetrySink {
  readonly dir: string;
  private readonly db: string;
  private readonly now: () => Date;
  private tail: Promise<void> = Promise.resolve();
  private readonly started = new Set<string>();
  private closed = false;
  private readonly s: TelemetrySinkStats = { linesWritten: 0, linesRejected: 0, linesBuffered: 0, batchesWritten: 0, retries: 0 };

  constructor(opts: FileLineSinkOptions) {
    this.dir = resolve(opts.dir);
    this.db = opts.db ?? 'campus';
    this.now = opts.now ?? (() => new Date());
  }

  /** Path of the file that lines written on `day` go to. */
  fileFor(day: Date = this.now()): string {
    return join(this.dir, `telemetry-${day.toISOString().slice(0, 10)}.lp`);
  }

  describe(): string {
    return `line-protocol files in ${this.dir}/telemetry-YYYY-MM-DD.lp (one per UTC day; load with: influx -import -path=FILE -precision=ms)`;
  }

  write(lines: string[]): Promise<void> {
    if (this.closed) return Promise.reject(new SinkClosedError('FileLineSink is closed'));
    if (lines.length === 0) return Promise.resolve();
    this.s.linesBuffered += lines.length;
    // Appends are chained so lines land in the order they were written.
    const done = this.tail.then(() => this.append(lines));
    this.tail = done.catch(() => {});
    return done;
  }

  private async append(lines: string[]): Promise<void> {
    const file = this.fileFor();
    try {
      let text = '';
      if (!this.started.has(file)) {
        await mkdir(this.dir, { recursive: true });
        // The header is harmless when the file already has one: `influx -import` accepts repeated context lines.
        text = `# DML\n# CONTEXT-DATABASE: ${this.db}\n`;
        this.started.add(file);
      }
      await appendFile(file, `${text}${lines.join('\n')}\n`);
      this.s.linesWritten += lines.length;
      this.s.batchesWritten++;
      this.s.lastWriteAt = Date.now();
    } catch (e) {
      this.s.linesRejected += lines.length;
      this.s.lastError = `${file}: ${(e as Error).message}`;
      throw new Error(`cannot append telemetry to ${file}: ${(e as Error).message}`, { cause: e });
    } finally {
      this.s.linesBuffered -= lines.length;
    }
  }

  async flush(): Promise<void> {
    await this.tail;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.tail;
  }

  stats(): TelemetrySinkStats {
    return { ...this.s };
  }

  async ping(): Promise<boolean> {
    try {
      await mkdir(this.dir, { recursive: true });
      await access(this.dir, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  }
}
