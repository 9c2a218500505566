/** The same points as bench/influx-raw.ts, through our InfluxWriter (buffering, batching, accounting). */
import { InfluxWriter } from '../collector/telemetry/influx-writer.ts';
import { assertLoopback, benchLine, ensureBenchDatabase, type WriteBenchOptions, type WriteBenchResult } from './influx-raw.ts';

export interface WriterBenchResult extends WriteBenchResult {
  requests: number;
  linesRejected: number;
}

/** `chunk`: lines per `write()` call, like one MQTT telemetry message (default 200). */
export async function measureWriterWrites(opts: WriteBenchOptions & { chunk?: number; maxBufferedLines?: number }): Promise<WriterBenchResult> {
  assertLoopback(opts.url);
  await ensureBenchDatabase(opts.url, opts.db);
  const chunk = opts.chunk ?? 200;
  // Lines are built before timing, as for the raw bench: this measures the writer, not the encoder.
  const chunks: string[][] = [];
  for (let start = 0; start < opts.points; start += chunk) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(opts.points, start + chunk); i++) lines.push(benchLine(i));
    chunks.push(lines);
  }
  const writer = new InfluxWriter({ url: opts.url, db: opts.db, batchLines: opts.batch, concurrency: opts.concurrency, maxBufferedLines: opts.maxBufferedLines });
  const t0 = process.hrtime.bigint();
  for (const lines of chunks) await writer.write(lines);
  await writer.close();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const s = writer.stats();
  if (s.linesWritten !== opts.points) throw new Error(`writer bench: ${s.linesWritten}/${opts.points} written (${s.lastError ?? 'no error'})`);
  return { points: opts.points, seconds, pointsPerSecond: opts.points / seconds, requests: s.requests, linesRejected: s.linesRejected };
}
