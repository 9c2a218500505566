/**
 * The centre of the system for end-to-end tests: inventory on the shared private PostgreSQL (a new
 * database per stack), our broker, our collector writing to the shared InfluxDB (a new database
 * per stack). Every piece is the real one; only ports and data directories are private.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBroker, type RunningBroker } from '../../broker/server.ts';
import { openStore, startCollector, type RunningCollector } from '../../collector/collector.ts';
import type { Db, Inventory } from '../../collector/store/index.ts';
import { influxQuery, type Series } from '../../collector/telemetry/influx-query.ts';
import { createTestDatabase, dropTestDatabase } from '../setup/postgres.ts';
import type { MapTiles } from '../../collector/api/map-tiles.ts';
import type { NotifyFile } from '../../collector/notify/config.ts';

export const CITY = '371500';
export const COUNTY = '371502';
export const SCHOOL_A = '3715020001';
export const SCHOOL_B = '3715020002';

export interface StackOptions {
  pgAdminUrl: string;
  influxUrl: string;
  influxDb: string;
  redisUrl?: string;
  maxPublishesPerSecond?: number;
  /** repair tickets: grace period and sweep interval (the collector's defaults when unset) */
  ticketOpenAfterMs?: number;
  ticketSweepMs?: number;
  /** a tile server for the console */
  mapTiles?: MapTiles;
  /** ticket notifications (collector/notify) */
  notify?: NotifyFile;
}

export interface Stack {
  db: Db;
  inventory: Inventory;
  broker: RunningBroker;
  collector: RunningCollector;
  mqttUrl: string;
  /** Stops the broker (clients see the connection drop). */
  stopBroker(): Promise<void>;
  /** Starts a broker again on the same port. */
  startBrokerAgain(): Promise<void>;
  /** Another broker on the same Redis (needs redisUrl), a cluster with the first; stopped by stop(). */
  startPeerBroker(): Promise<RunningBroker>;
  query(q: string): Promise<Series[]>;
  stop(): Promise<void>;
}

const quiet = { info() {}, warn() {}, error() {} };

export async function startStack(opts: StackOptions): Promise<Stack> {
  const dataDir = await mkdtemp(join(tmpdir(), 'campus-e2e-'));
  const dbUrl = await createTestDatabase(opts.pgAdminUrl);
  const store = await openStore({ databaseUrl: dbUrl, dataDir });
  const inv = store.inventory;
  await inv.upsertRegion({ code: CITY, name: '聊城市', level: 'city' });
  await inv.upsertRegion({ code: COUNTY, name: '东昌府区', level: 'county', parentCode: CITY });
  for (const [code, name] of [
    [SCHOOL_A, '东昌府区实验小学'],
    [SCHOOL_B, '东昌府区第一初级中学'],
  ] as const) {
    await inv.upsertSchool({ code, name, countyCode: COUNTY, type: 'primary', ownership: 'public', studentCount: 1200, staffCount: 90, contractedUplinkMbps: 1000 });
  }
  const brokerOpts = {
    mqttPort: 0,
    auth: { authenticate: (u: string, p: string) => inv.verifyCredential(u, p) },
    logger: quiet,
    redisUrl: opts.redisUrl,
    maxPublishesPerSecond: opts.maxPublishesPerSecond,
  };
  let broker = await startBroker(brokerOpts);
  const port = broker.mqttPort;
  const mqttUrl = `mqtt://127.0.0.1:${port}`;
  const collector = await startCollector({
    host: '127.0.0.1',
    httpPort: 0,
    mqttUrl,
    mqttUsername: 'collector',
    influxUrl: opts.influxUrl,
    influxDb: opts.influxDb,
    dataDir,
    logger: quiet,
    store,
    brokerStats: () => ({ ...broker.stats() }),
    ticketOpenAfterMs: opts.ticketOpenAfterMs,
    ticketSweepMs: opts.ticketSweepMs,
    mapTiles: opts.mapTiles,
    notify: opts.notify,
  });
  const conn = { url: opts.influxUrl, db: opts.influxDb };
  const peers: RunningBroker[] = [];
  const stack: Stack = {
    db: store.db,
    inventory: inv,
    get broker() {
      return broker;
    },
    collector,
    mqttUrl,
    async stopBroker() {
      await broker.close();
    },
    async startBrokerAgain() {
      broker = await startBroker({ ...brokerOpts, mqttPort: port });
    },
    async startPeerBroker() {
      if (!opts.redisUrl) throw new Error('a peer broker needs the stack started with redisUrl');
      const peer = await startBroker(brokerOpts);
      peers.push(peer);
      return peer;
    },
    query: (q) => influxQuery(conn, q),
    async stop() {
      await Promise.all(peers.map((p) => p.close().catch(() => {})));
      await collector.close();
      await broker.close().catch(() => {});
      await store.db.close();
      await dropTestDatabase(opts.pgAdminUrl, dbUrl).catch(() => {});
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return stack;
}

export { waitFor } from '../setup/wait.ts';

/** Rows of the first series as objects keyed by column. */
export function rows(series: Series[]): Record<string, unknown>[] {
  return series.flatMap((s) => s.values.map((v) => Object.fromEntries(s.columns.map((c, i) => [c, v[i]]))).map((r, _i) => ({ ...s.tags, ...r })));
}
