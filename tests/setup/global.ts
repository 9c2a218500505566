/**
 * Vitest global setup: starts the shared real servers once for the whole run — a private
 * PostgreSQL cluster and an InfluxDB, each on a free loopback port with its own temporary data —
 * and hands their URLs to the tests through `inject()`. Tests that need to stop or restart a
 * server start their own instance instead.
 */
import type { TestProject } from 'vitest/node';
import { startInflux } from './influx.ts';
import { startPostgres } from './postgres.ts';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [pg, influx] = await Promise.all([startPostgres(), startInflux()]);
  project.provide('postgresUrl', pg.url);
  project.provide('influxUrl', influx.url);
  return async () => {
    await Promise.allSettled([pg.stop(), influx.stop()]);
  };
}
