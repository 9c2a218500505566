/**
 * `campus demo`: the demo city 聊城市 (371500) in one process — the broker, the collector with its
 * embedded inventory, and for every county a few simulated schools (simulator/school.ts: a small
 * mix of cameras, class boards, displays, UPS, sensor, switches and APs on loopback), each
 * discovered and polled by its own edge agent — configured with targets and credentials only —
 * over MQTT with real credentials. Every school's cameras are the seven of its campus plan
 * (simulator/campus-plans.ts), enrolled with their placements once its agent has discovered them;
 * the first school's gate camera has its stream down, so its main entrance is uncovered.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeLogger } from '../cli/logger.ts';
import { startBroker, type RunningBroker } from '../broker/server.ts';
import { openStore, startCollector, type RunningCollector } from '../collector/collector.ts';
import type { MapTiles } from '../collector/api/map-tiles.ts';
import { countiesFromFeatures, KNOWN_CITIES } from '../collector/geo/regions.ts';
import type { Inventory, SchoolInput } from '../collector/store/index.ts';
import { startAgent, type RunningAgent } from '../edge-agent/agent.ts';
import { parseAgentConfig } from '../edge-agent/config.ts';
import { startSimulatedSchool, type SimulatedSchool } from './school.ts';
import { demoSchools } from './demo-schools.ts';
import { demoCampusCameras, startDemoCampus } from './campus-plans.ts';
import { Users } from '../collector/auth/users.ts';
import { generateUserPassword } from '../collector/auth/password-policy.ts';
import type { Role } from '../collector/auth/permissions.ts';
import type { Db } from '../collector/store/index.ts';

export interface DemoOptions {
  host: string;
  mqttPort: number;
  wsPort?: number;
  httpPort: number;
  influxUrl?: string;
  influxDb: string;
  influxUser?: string;
  influxPassword?: string;
  influxToken?: string;
  dataDir: string;
  schoolsPerCounty: number;
  pollIntervalSec: number;
  logLevel: string;
  cityCode?: string;
  /** a tile server for the console's map background (none: vectors only) */
  mapTiles?: MapTiles;
}

export interface RunningDemo {
  collector: RunningCollector;
  broker: RunningBroker;
  schools: SchoolInput[];
  agents: RunningAgent[];
  /** The demo's people, with this start's passwords. */
  users: DemoUser[];
  stop(): Promise<void>;
}

export interface DemoUser {
  username: string;
  displayName: string;
  role: Role;
  schoolCode?: string;
  password: string;
}

/**
 * One user per role: a bureau administrator, the first school's network administrator, the security
 * team and the equipment managers. Like the agents' passwords, theirs are generated afresh at every
 * start and printed once: a fixed, published demo password would sign anyone in to a demo that was
 * started with --host on a reachable address.
 */
export async function ensureDemoUsers(db: Db, firstSchool: string): Promise<DemoUser[]> {
  const users = new Users(db);
  const wanted: Omit<DemoUser, 'password'>[] = [
    { username: 'admin', displayName: '教育局管理员', role: 'admin' },
    { username: 'xiaoxue', displayName: '王老师', role: 'school-admin', schoolCode: firstSchool },
    { username: 'anbao', displayName: '安保科李科长', role: 'security' },
    { username: 'zhuangbei', displayName: '装备科张工', role: 'equipment' },
  ];
  const out: DemoUser[] = [];
  for (const u of wanted) {
    const password = generateUserPassword();
    if (await users.get(u.username)) {
      await users.update(u.username, { displayName: u.displayName, role: u.role, schoolCode: u.schoolCode ?? null, countyCode: null, disabled: false });
      await users.setPassword(u.username, password);
    } else {
      await users.add({ ...u, password });
    }
    out.push({ ...u, password });
  }
  return out;
}

const GEO_DIR = join(dirname(fileURLToPath(import.meta.url)), 'data', 'geo');

/** Loads the city and its counties, and the simulated schools, into the inventory. */
export async function seedDemoCity(inventory: Inventory, cityCode: string, schoolsPerCounty: number): Promise<SchoolInput[]> {
  const features = JSON.parse(readFileSync(join(GEO_DIR, `${cityCode}.json`), 'utf8')) as unknown;
  const counties = countiesFromFeatures(features, cityCode);
  await inventory.upsertRegion({ code: cityCode, name: KNOWN_CITIES[cityCode] ?? cityCode, level: 'city' });
  for (const c of counties) await inventory.upsertRegion(c);
  const schools = demoSchools(counties, schoolsPerCounty);
  for (const s of schools) await inventory.upsertSchool(s);
  return schools;
}

export async function startDemoCity(opts: DemoOptions): Promise<RunningDemo> {
  const log = makeLogger(opts.logLevel, 'demo');
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const store = await openStore({ dataDir });
  const cityCode = opts.cityCode ?? '371500';
  const schools = await seedDemoCity(store.inventory, cityCode, opts.schoolsPerCounty);
  const users = await ensureDemoUsers(store.db, schools[0]!.code);

  const broker = await startBroker({
    host: opts.host,
    mqttPort: opts.mqttPort,
    wsPort: opts.wsPort,
    auth: { authenticate: (u, p) => store.inventory.verifyCredential(u, p) },
    logger: makeLogger(opts.logLevel, 'broker'),
  });
  const collector = await startCollector({
    host: opts.host,
    httpPort: opts.httpPort,
    mqttUrl: `mqtt://${opts.host}:${broker.mqttPort}`,
    mqttUsername: 'collector',
    influxUrl: opts.influxUrl,
    influxDb: opts.influxDb,
    influxUser: opts.influxUser,
    influxPassword: opts.influxPassword,
    influxToken: opts.influxToken,
    dataDir,
    logger: makeLogger(opts.logLevel, 'collector'),
    store,
    brokerStats: () => ({ ...broker.stats() }),
    // the demo's broken gate camera becomes a repair ticket within a minute rather than five
    ticketOpenAfterMs: 60_000,
    mapTiles: opts.mapTiles,
  });

  const gears: SimulatedSchool[] = [];
  const agents: RunningAgent[] = [];
  const agentLog = makeLogger(opts.logLevel, 'agent');
  const campusCameras = demoCampusCameras(schools);
  for (const [i, s] of schools.entries()) {
    // kept light: 16 schools run on 2 cores. Each school its own /22 on loopback.
    const gear = await startSimulatedSchool({
      schoolCode: s.code,
      // the campus plan's seven cameras (healthy but one); other kinds keep their random faults
      cameras: campusCameras.cameras.get(s.code) ?? 7,
      classrooms: 4,
      switches: 2,
      aps: 2,
      ups: 1,
      sensors: 1,
      faultyShare: 0.25,
      seed: i + 1,
      subnet: [200 + Math.floor(i / 63), (i % 63) * 4],
      lateFaultsAfterMs: 120_000,
    });
    gears.push(gear);
    const addr = { schoolCode: s.code, agentId: 'gw-1' };
    // The demo issues fresh passwords at every start: it holds both ends, and only hashes are stored.
    const cred = (await store.inventory.getAgent(addr.schoolCode, addr.agentId))
      ? await store.inventory.rotateAgentPassword(addr)
      : await store.inventory.addAgent(addr);
    const agentDir = join(dataDir, 'agents', `${s.code}-${addr.agentId}`);
    const config = parseAgentConfig(
      gear.agentConfig({
        agentId: addr.agentId,
        mqttUrl: `mqtt://${opts.host}:${broker.mqttPort}`,
        password: cred.password,
        dataDir: agentDir,
        credentialsFile: gear.writeCredentials(join(agentDir, 'credentials.yaml')),
        pollIntervalSec: opts.pollIntervalSec,
      }),
    );
    agents.push(
      await startAgent(config, {
        logger: {
          info: (m: string) => agentLog.info({ agent: `${s.code}/gw-1` }, m),
          warn: (m: string) => agentLog.warn({ agent: `${s.code}/gw-1` }, m),
          error: (m: string) => agentLog.error({ agent: `${s.code}/gw-1` }, m),
        },
      }),
    );
  }

  // campus plans now; the cameras are enrolled as soon as each school's agent has reported them
  const campus = await startDemoCampus({ db: store.db, inventory: store.inventory, schools, agentId: 'gw-1' });
  void campus.ready.then((r) => {
    const missing = Object.entries(r.missing);
    if (missing.length) log.warn({ missing: Object.fromEntries(missing) }, 'campus cameras not enrolled at some schools');
    log.info({ schools: r.enrolled.length, brokenGateCamera: campusCameras.brokenSchool }, 'campus cameras enrolled');
  });

  const stop = async (): Promise<void> => {
    await campus.stop();
    await Promise.allSettled(agents.map((a) => a.stop()));
    await Promise.allSettled(gears.map((g) => g.stop()));
    await collector.close();
    await broker.close();
    await store.db.close();
  };
  log.info({ schools: schools.length, agents: agents.length }, 'demo city running');
  return { collector, broker, schools, agents, users, stop };
}

/** CLI entry: starts the demo, prints where everything is, stops on Ctrl-C. */
export async function runDemoCity(opts: DemoOptions): Promise<void> {
  const demo = await startDemoCity(opts);
  const c = demo.collector;
  const lines = [
    '',
    `聊城市 demo city is running — ${demo.schools.length} simulated schools in ${new Set(demo.schools.map((s) => s.countyCode)).size} counties, ${demo.agents.length} edge agents`,
    `  API:        ${c.url}/api/v1/health   (OpenAPI: ${c.url}/api/openapi.json)`,
    `  MQTT:       mqtt://${opts.host}:${demo.broker.mqttPort}${demo.broker.wsPort ? `   WebSocket: ws://${opts.host}:${demo.broker.wsPort}` : ''}`,
    `  Inventory:  embedded PostgreSQL (PGlite) in ${resolve(opts.dataDir, 'inventory')}`,
    `  Telemetry:  ${c.sink.describe()}`,
    opts.influxUrl ? '' : '              (no INFLUX_URL set: set INFLUX_URL=http://host:8086 to write to InfluxDB instead)',
    `  Admin token: ${join(resolve(opts.dataDir), 'api-token')}`,
    `  Sign in at ${c.url}/ (passwords are new at every start of the demo; shown only here):`,
    ...demo.users.map((u) => `    ${u.username.padEnd(10)} ${u.password}   ${u.role}${u.schoolCode ? ` of ${u.schoolCode}` : ', whole city'} (${u.displayName})`),
    '  Ctrl-C stops everything.',
    '',
  ];
  console.log(lines.filter((l) => l !== '').join('\n'));
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    console.log('stopping the demo…');
    demo.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
