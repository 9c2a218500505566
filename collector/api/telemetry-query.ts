/** InfluxDB reads behind the console's routes (device series, LLDP neighbours, topology). */
import type { InfluxConnection } from '../telemetry/influx-http.ts';
import { influxQuery, InfluxQueryError } from '../telemetry/influx-query.ts';
import { ApiError } from './errors.ts';

/** An InfluxQL query for a console route: a failing InfluxDB answers 502 with its reason. */
export async function telemetryQuery(influx: InfluxConnection, stmt: string) {
  try {
    return await influxQuery(influx, stmt, { timeoutMs: 15_000 });
  } catch (err) {
    if (err instanceof InfluxQueryError) throw new ApiError('TELEMETRY_QUERY_FAILED', err.message);
    throw err;
  }
}
