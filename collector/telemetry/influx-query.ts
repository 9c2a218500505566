/** InfluxQL queries over the v1 HTTP API (`GET /query`, times as epoch ms). */
import { influxAuthHeaders, influxEndpoint, influxErrorText, type InfluxConnection } from './influx-http.ts';

export interface Series {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

export class InfluxQueryError extends Error {
  override name = 'InfluxQueryError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

interface QueryResponse {
  results?: { statement_id?: number; error?: string; series?: Series[] }[];
  error?: string;
}

/**
 * Runs `q` (one or more `;`-separated statements) and returns the series of all statements.
 * InfluxDB reports a failing statement as 200 with `results[i].error`: that is thrown too.
 */
export async function influxQuery(conn: InfluxConnection, q: string, opts: { timeoutMs?: number } = {}): Promise<Series[]> {
  const url = influxEndpoint(conn, '/query', { db: conn.db, q, epoch: 'ms' });
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, { headers: influxAuthHeaders(conn), signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000) });
    text = await res.text();
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause;
    throw new InfluxQueryError(`InfluxDB ${conn.url} unreachable: ${(e as Error).message}${cause?.code ? ` (${cause.code})` : ''}`);
  }
  if (!res.ok) throw new InfluxQueryError(`InfluxDB query failed (${res.status}): ${influxErrorText(text)}`, res.status);
  let body: QueryResponse;
  try {
    body = JSON.parse(text) as QueryResponse;
  } catch {
    throw new InfluxQueryError(`InfluxDB query answered with non-JSON: ${text.slice(0, 200)}`, res.status);
  }
  if (body.error) throw new InfluxQueryError(`InfluxDB query failed: ${body.error}`, res.status);
  const series: Series[] = [];
  for (const r of body.results ?? []) {
    if (r.error) throw new InfluxQueryError(`InfluxDB statement ${r.statement_id ?? '?'} failed: ${r.error}`, res.status);
    if (r.series) series.push(...r.series);
  }
  return series;
}
