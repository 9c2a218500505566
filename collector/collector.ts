/**
 * Wires the collector together: inventory store (PostgreSQL or embedded PGlite), telemetry sink
 * (InfluxDB, or line-protocol files when there is none), MQTT ingest, HTTP API.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { openDb, migrate, Inventory, type Db } from './store/index.ts';
import { InfluxWriter } from './telemetry/influx-writer.ts';
import { FileLineSink } from './telemetry/file-sink.ts';
import type { TelemetrySink } from './telemetry/sink.ts';
import type { InfluxConnection } from './telemetry/influx-http.ts';
import { Ingest } from './ingest/ingest.ts';
import { LatestReadings } from './ingest/latest.ts';
import { buildApi } from './api/app.ts';
import { EventBus } from './api/events.ts';
import { ComplianceService } from './compliance/service.ts';
import { TicketWatcher } from './tickets/watcher.ts';
import { TicketNotifier } from './notify/notifier.ts';
import type { NotifyFile } from './notify/config.ts';
import { mapTilesProblem, type MapTiles } from './api/map-tiles.ts';
import type { Logger } from './log.ts';
import { DEFAULT_AUDIT_KEEP_DAYS, MIN_AUDIT_KEEP_DAYS } from './auth/audit-log.ts';

export interface CollectorConfig {
  host: string;
  httpPort: number;
  mqttUrl: string;
  mqttUsername: string;
  /** When absent, the collector (re)issues its own service account's password in the inventory. */
  mqttPassword?: string;
  influxUrl?: string;
  influxDb: string;
  influxUser?: string;
  influxPassword?: string;
  influxToken?: string;
  databaseUrl?: string;
  dataDir: string;
  apiToken?: string;
  /** Ingest only these schools' topics (partitioning between collectors); all when absent. */
  schools?: string[];
  /** See IngestOptions.holeTimeoutMs (tests shorten it). */
  holeTimeoutMs?: number;
  logger: Logger;
  /** An already open inventory (the demo shares one PGlite between broker and collector). */
  store?: { db: Db; inventory: Inventory };
  brokerStats?: () => Record<string, number>;
  /** Writer concurrency: two requests in flight measured best on two cores (bench/RESULTS.md). */
  influxConcurrency?: number;
  /** Bureau-wide compliance policy pack (default liaocheng-2023); counties and schools may override. */
  policyPack?: string;
  /** How often every school's coverage is re-checked against camera health (default 30 s). */
  complianceRefreshMs?: number;
  /** How long a device must stay failed before a repair ticket opens (default 5 min). */
  ticketOpenAfterMs?: number;
  /** How often the ticket watcher looks (default 15 s). */
  ticketSweepMs?: number;
  /** A tile server for the console's map background (WGS84/CGCS2000 tiles); none = vectors only. */
  mapTiles?: MapTiles;
  /** A user's session ends after this long without a request (default 30 min) … */
  sessionIdleMs?: number;
  /** … and this long after sign-in in any case (default 12 h). */
  sessionMaxMs?: number;
  /** Memory for cached camera view polygons, shared by all schools (default 64 MiB). */
  viewCacheBytes?: number;
  /** Group chats and message gateways told about repair tickets (the checked --notify file). */
  notify?: NotifyFile;
  /** Reverse proxies whose X-Forwarded-For names the client (addresses or CIDRs); none when absent. */
  trustProxy?: string[];
  /** Audit log entries are kept this many days (default 180; less is allowed, with a warning). */
  auditKeepDays?: number;
  /** Excel exports built at once (default 2) and waiting for a turn (default 4); more get 503. */
  maxExports?: number;
  exportQueue?: number;
}

export interface RunningCollector {
  url: string;
  httpPort: number;
  apiToken: string;
  inventory: Inventory;
  ingest: Ingest;
  sink: TelemetrySink;
  app: FastifyInstance;
  compliance: ComplianceService;
  events: EventBus;
  tickets: TicketWatcher;
  close(): Promise<void>;
}

/** The admin token: given, or kept in `<dataDir>/api-token` (created on first start, mode 0600). */
export function resolveApiToken(dataDir: string, given?: string): string {
  if (given) return given;
  const file = join(dataDir, 'api-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

export async function openStore(cfg: { databaseUrl?: string; dataDir: string }): Promise<{ db: Db; inventory: Inventory }> {
  const dataDir = resolve(cfg.dataDir);
  if (!cfg.databaseUrl) mkdirSync(join(dataDir, 'inventory'), { recursive: true });
  const db = await openDb(cfg.databaseUrl ? { databaseUrl: cfg.databaseUrl } : { dataDir: join(dataDir, 'inventory') });
  await migrate(db);
  return { db, inventory: new Inventory(db) };
}

/** The InfluxDB to query, when one is configured (else telemetry goes to files). */
function influxConnection(cfg: Pick<CollectorConfig, 'influxUrl' | 'influxDb' | 'influxUser' | 'influxPassword' | 'influxToken'>): InfluxConnection | undefined {
  return cfg.influxUrl ? { url: cfg.influxUrl, db: cfg.influxDb, user: cfg.influxUser, password: cfg.influxPassword, token: cfg.influxToken } : undefined;
}

export function openSink(cfg: Pick<CollectorConfig, 'influxUrl' | 'influxDb' | 'influxUser' | 'influxPassword' | 'influxToken' | 'dataDir' | 'logger' | 'influxConcurrency'>): TelemetrySink {
  if (!cfg.influxUrl) return new FileLineSink({ dir: join(resolve(cfg.dataDir), 'telemetry'), db: cfg.influxDb });
  return new InfluxWriter({
    url: cfg.influxUrl,
    db: cfg.influxDb,
    user: cfg.influxUser,
    password: cfg.influxPassword,
    token: cfg.influxToken,
    concurrency: cfg.influxConcurrency ?? 2,
    log: (level, message) => cfg.logger[level]({ component: 'influx' }, message),
  });
}

export async function startCollector(cfg: CollectorConfig): Promise<RunningCollector> {
  const tileProblem = cfg.mapTiles && mapTilesProblem(cfg.mapTiles);
  if (tileProblem) throw new Error(tileProblem);
  const store = cfg.store ?? (await openStore(cfg));
  const ownsStore = !cfg.store;
  const sink = openSink(cfg);
  if (sink instanceof InfluxWriter) {
    await sink.ensureDatabase().catch((err: Error) => cfg.logger.warn({ err: err.message }, 'could not create the InfluxDB database now; writes will retry'));
  }
  const password = cfg.mqttPassword ?? (await store.inventory.addServiceAccount(cfg.mqttUsername)).password;
  const latest = new LatestReadings();
  // A camera's health step changed: recompute that school's coverage (at most once per second).
  const pending = new Map<string, NodeJS.Timeout>();
  const recompute = (school: string): void => {
    if (pending.has(school)) return;
    pending.set(
      school,
      setTimeout(() => {
        pending.delete(school);
        void compliance.refreshSchool(school).catch((err: Error) => cfg.logger.warn({ err: err.message }, 'could not recompute coverage'));
      }, 1_000),
    );
  };
  const events = new EventBus();
  const tickets = new TicketWatcher({
    db: store.db,
    events,
    openAfterMs: cfg.ticketOpenAfterMs,
    sweepMs: cfg.ticketSweepMs,
    schools: cfg.schools,
    log: { warn: (obj, msg) => cfg.logger.warn({ component: 'tickets', ...obj }, msg) },
  });
  // what was failing before a restart, before the first reading can change it
  await tickets.load();
  const notifier = cfg.notify && new TicketNotifier({ db: store.db, events, config: cfg.notify, log: { warn: (obj, msg) => cfg.logger.warn({ component: 'notify', ...obj }, msg), info: (obj, msg) => cfg.logger.info({ component: 'notify', ...obj }, msg) } });
  notifier?.start();
  const ingest = new Ingest({
    mqttUrl: cfg.mqttUrl,
    username: cfg.mqttUsername,
    password,
    schools: cfg.schools,
    holeTimeoutMs: cfg.holeTimeoutMs,
    inventory: store.inventory,
    sink,
    logger: cfg.logger,
    latest,
    observer: tickets,
    // new or vanished devices: the school's inbox in the console updates without a reload
    onDiscoveryChange: (c) => events.publish({ type: 'devices-discovered', school: c.school, county: c.county ?? '', agentId: c.agent, added: c.added, gone: c.gone, at: new Date().toISOString() }),
    onHealthChange: (school, _agent, _device, measurement) => {
      if (measurement === 'camera_health') recompute(school);
    },
  });
  const apiToken = resolveApiToken(cfg.dataDir, cfg.apiToken);
  const compliance = new ComplianceService({
    db: store.db,
    inventory: store.inventory,
    sink,
    events,
    latest,
    influx: influxConnection(cfg),
    defaultPolicy: cfg.policyPack,
    refreshIntervalMs: cfg.complianceRefreshMs,
    viewCacheBytes: cfg.viewCacheBytes,
    log: { warn: (obj, msg) => cfg.logger.warn({ component: 'compliance', ...obj }, msg) },
  });
  const auditKeepDays = cfg.auditKeepDays ?? DEFAULT_AUDIT_KEEP_DAYS;
  if (auditKeepDays < MIN_AUDIT_KEEP_DAYS) cfg.logger.warn({ auditKeepDays }, `audit log kept only ${auditKeepDays} days: 网络安全法 第二十一条 asks for at least 6 months (${MIN_AUDIT_KEEP_DAYS} days)`);
  const app = await buildApi({ trustProxy: cfg.trustProxy, auditKeepDays, exports: { ...(cfg.maxExports ? { concurrent: cfg.maxExports } : {}), ...(cfg.exportQueue !== undefined ? { queue: cfg.exportQueue } : {}) }, inventory: store.inventory, db: store.db, ingest, sink, apiToken, brokerStats: cfg.brokerStats, compliance, events, tickets: tickets.tickets, influx: influxConnection(cfg), warmMapCache: true, mapTiles: cfg.mapTiles, sessions: { idleMs: cfg.sessionIdleMs, maxMs: cfg.sessionMaxMs }, notifications: notifier ? () => notifier.stats() : undefined, onDevicesChanged: (ref) => {
      ingest.refreshDevices();
      ingest.publishConfig(ref.schoolCode, ref.agentId).catch((err: Error) => cfg.logger.warn({ err: err.message }, 'could not publish agent config'));
      // a camera placed, moved or retired: recompute that school's coverage
      void compliance.refreshSchool(ref.schoolCode).catch((err: Error) => cfg.logger.warn({ err: err.message }, 'could not recompute coverage'));
    },
  });
  await app.listen({ host: cfg.host, port: cfg.httpPort });
  const addr = app.server.address();
  const httpPort = typeof addr === 'object' && addr ? addr.port : cfg.httpPort;
  // The API is up before the broker connection: /health then reports the broker as unreachable.
  await ingest.start();
  compliance.start();
  tickets.start();
  cfg.logger.info({ http: `http://${cfg.host}:${httpPort}`, telemetry: sink.describe(), inventory: store.db.kind }, 'collector running');
  return {
    url: `http://${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${httpPort}`,
    httpPort,
    apiToken,
    inventory: store.inventory,
    ingest,
    sink,
    app,
    compliance,
    events,
    tickets,
    async close() {
      for (const t of pending.values()) clearTimeout(t);
      compliance.stop();
      await ingest.stop();
      await tickets.stop();
      await notifier?.stop();
      await app.close();
      await sink.close();
      if (ownsStore) await store.db.close();
    },
  };
}
