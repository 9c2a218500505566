/**
 * The ceiling for our ingest path: pre-built line-protocol bodies posted straight to InfluxDB's
 * v1 `/write`, `concurrency` requests at a time. Loopback only.
 */
import { influxEndpoint, quoteIdentifier } from '../collector/telemetry/influx-http.ts';

export interface WriteBenchOptions {
  url: string;
  db: string;
  points: number;
  /** Lines per request. */
  batch: number;
  concurrency: number;
  /** Line number i of the load (default `benchLine`). Built before the clock starts. */
  line?: (i: number) => string;
}

export interface WriteBenchResult {
  points: number;
  seconds: number;
  pointsPerSecond: number;
}

const BASE_TS = 1_700_000_000_000;

/**
 * Synthetic telemetry shaped like ours (school/agent/device tags, a few fields): 3,000 series and
 * one timestamp per point, so no point overwrites another.
 */
export function benchLine(i: number): string {
  const school = 3301020000 + (i % 500);
  const device = `sw-${i % 40}`;
  return `ifTraffic,agent=gw-${school},device=${device},ifName=Gi0/${i % 24},school=${school} inOctets=${i * 1500},outOctets=${i * 700},operUp=true,errors=${i % 7} ${BASE_TS + i}`;
}

export async function ensureBenchDatabase(url: string, db: string): Promise<void> {
  const res = await fetch(influxEndpoint({ url }, '/query'), { method: 'POST', body: new URLSearchParams({ q: `CREATE DATABASE ${quoteIdentifier(db)}` }) });
  if (!res.ok) throw new Error(`CREATE DATABASE ${db}: ${res.status} ${await res.text()}`);
  await res.arrayBuffer().catch(() => {});
}

export function assertLoopback(url: string): void {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (!(host === 'localhost' || host === '::1' || /^127\./.test(host))) throw new Error(`benchmarks only talk to loopback, not ${host}`);
}

export async function measureRawWrites(opts: WriteBenchOptions): Promise<WriteBenchResult> {
  assertLoopback(opts.url);
  await ensureBenchDatabase(opts.url, opts.db);
  const line = opts.line ?? benchLine;
  const bodies: string[] = [];
  for (let start = 0; start < opts.points; start += opts.batch) {
    const lines: string[] = [];
    for (let i = start; i < Math.min(opts.points, start + opts.batch); i++) lines.push(line(i));
    bodies.push(lines.join('\n'));
  }
  const url = influxEndpoint(opts, '/write', { db: opts.db, precision: 'ms' });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const res = await fetch(url, { method: 'POST', body });
      if (res.status !== 204) throw new Error(`raw write failed: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { points: opts.points, seconds, pointsPerSecond: opts.points / seconds };
}
