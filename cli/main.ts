/**
 * `campus`: the one command-line entry for every part. Each subcommand's options come from flags,
 * then the YAML file named by --config, then environment variables (see options.ts).
 */
import { Command, Option } from 'commander';
import * as O from './options.ts';
import { makeLogger } from './logger.ts';

const program = new Command('campus')
  .description('校园物联与安防设备管理 — campus IoT and security-device management')
  .version('0.1.0')
  .showHelpAfterError();

function fail(err: unknown): never {
  console.error(`campus: ${(err as Error).message}`);
  process.exit(err instanceof O.OptionError ? 2 : 1);
}

function withOptions(cmd: Command, specs: O.OptionSpec[], run: (o: O.ResolvedOptions, cmd: Command) => Promise<void>): Command {
  O.addOptions(cmd, specs);
  cmd.action(async (...args: unknown[]) => {
    const self = args[args.length - 1] as Command;
    try {
      await run(O.resolveOptions(self, specs), self);
    } catch (err) {
      fail(err);
    }
  });
  return cmd;
}

function parseSchoolList(s: string): string[] {
  const codes = s.split(',').map((c) => c.trim()).filter(Boolean);
  const bad = codes.filter((c) => !/^[0-9]{10}$/.test(c));
  if (bad.length) throw new O.OptionError(`--schools: not 10-digit school codes: ${bad.join(', ')}`);
  return codes;
}
const str = (v: unknown): string | undefined => (v === undefined ? undefined : String(v));
const MAX_RATE: O.OptionSpec = { key: 'maxPublishesPerSecond', flag: '--max-publishes-per-second <n>', env: 'CAMPUS_MAX_PUBLISH_RATE', type: 'int', min: 1, default: 100, description: 'per-client publish rate before the broker refuses (flood control)' };
const REDIS_URL: O.OptionSpec = { key: 'redisUrl', flag: '--redis-url <url>', env: 'CAMPUS_REDIS_URL', type: 'string', description: 'keep sessions and queued messages in Redis so a broker restart loses nothing (memory when unset)' };
const REDIS_CLUSTER: O.OptionSpec = { key: 'redisCluster', flag: '--redis-cluster [on]', env: 'CAMPUS_REDIS_CLUSTER', type: 'bool', default: true, description: 'with --redis-url: route publishes through Redis too, so several brokers on the same Redis form one cluster (off: sessions in Redis, routing in this process only)' };
const BACKLOG_SPECS: O.OptionSpec[] = [
  { key: 'backlogHighWaterMb', flag: '--backlog-high-water-mb <MiB>', env: 'CAMPUS_BACKLOG_HIGH_WATER_MB', type: 'int', min: 1, max: 65_536, default: 8, description: "flow control: when this much of the agents' data waits for the collector's connection, the broker stops reading from agents that publish (their PUBACKs wait)" },
  { key: 'backlogLowWaterMb', flag: '--backlog-low-water-mb <MiB>', env: 'CAMPUS_BACKLOG_LOW_WATER_MB', type: 'int', min: 0, max: 65_535, description: 'flow control: paused agents are read again once the backlog is down to this (default a quarter of the high-water mark)' },
];
const SCHOOLS: O.OptionSpec = { key: 'schools', flag: '--schools <codes>', env: 'CAMPUS_SCHOOLS', type: 'string', description: 'comma-separated school codes this collector ingests (to split schools between collectors); all when unset' };
const TICKET_AFTER: O.OptionSpec = { key: 'ticketAfter', flag: '--ticket-after <seconds>', env: 'CAMPUS_TICKET_AFTER', type: 'int', min: 0, max: 7 * 86_400, default: 300, description: 'how long a device must stay failed before a repair ticket opens' };
const TILE_SPECS: O.OptionSpec[] = [
  { key: 'tileUrl', flag: '--tile-url <template>', env: 'CAMPUS_TILE_URL', type: 'string', description: 'tile server for the console map background, WGS84/CGCS2000 tiles, e.g. Tianditu or an intranet server: https://…/{z}/{x}/{y}.png (none: vectors on a plain background)' },
  { key: 'tileAttribution', flag: '--tile-attribution <text>', env: 'CAMPUS_TILE_ATTRIBUTION', type: 'string', description: 'attribution shown under the map (e.g. 审图号)' },
  { key: 'tileSubdomains', flag: '--tile-subdomains <chars>', env: 'CAMPUS_TILE_SUBDOMAINS', type: 'string', description: 'values of {s} in the tile URL, e.g. 01234567' },
  { key: 'tileMaxZoom', flag: '--tile-max-zoom <n>', env: 'CAMPUS_TILE_MAX_ZOOM', type: 'int', min: 1, max: 22, description: 'deepest zoom the tile server has (default 18)' },
];
/** The tile options as the collector takes them. */
const mapTilesOf = (o: Record<string, unknown>) => (o.tileUrl ? { url: String(o.tileUrl), attribution: str(o.tileAttribution), subdomains: str(o.tileSubdomains), maxNativeZoom: o.tileMaxZoom as number | undefined } : undefined);
const SESSION_SPECS: O.OptionSpec[] = [
  { key: 'sessionIdle', flag: '--session-idle <minutes>', env: 'CAMPUS_SESSION_IDLE', type: 'int', min: 1, max: 24 * 60, default: 30, description: "a user's session ends after this many minutes without a request" },
  { key: 'sessionMax', flag: '--session-max <minutes>', env: 'CAMPUS_SESSION_MAX', type: 'int', min: 1, max: 7 * 24 * 60, default: 720, description: "a user's session ends this many minutes after sign-in in any case (720 = 12 h)" },
];
const sessionOf = (o: Record<string, unknown>) => ({ sessionIdleMs: (o.sessionIdle as number) * 60_000, sessionMaxMs: (o.sessionMax as number) * 60_000 });
const AUDIT_SPECS: O.OptionSpec[] = [
  { key: 'trustProxy', flag: '--trust-proxy <proxies>', env: 'CAMPUS_TRUST_PROXY', type: 'string', description: 'comma-separated addresses or CIDRs of reverse proxies in front of the collector: only their X-Forwarded-For is believed for the client address (audit log); none when unset' },
  { key: 'auditKeepDays', flag: '--audit-keep-days <days>', env: 'CAMPUS_AUDIT_KEEP_DAYS', type: 'int', min: 1, max: 36_500, default: 180, description: 'audit log entries older than this are deleted once a day (网络安全法: at least 180; less only with a warning at start)' },
];
const auditOf = (o: Record<string, unknown>) => ({
  trustProxy: o.trustProxy ? String(o.trustProxy).split(',').map((s) => s.trim()).filter(Boolean) : undefined,
  auditKeepDays: o.auditKeepDays as number,
});
const VIEW_CACHE: O.OptionSpec = { key: 'viewCacheMb', flag: '--view-cache-mb <MiB>', env: 'CAMPUS_VIEW_CACHE_MB', type: 'int', min: 0, max: 65_536, default: 64, description: 'memory for cached camera view polygons, shared by all schools; views dropped from it are computed again when needed (0 = none kept)' };
const EXPORT_SPECS: O.OptionSpec[] = [
  { key: 'maxExports', flag: '--max-exports <n>', env: 'CAMPUS_MAX_EXPORTS', type: 'int', min: 1, max: 32, default: 2, description: 'Excel exports (tables, audit log) built at once; each large one takes a core for seconds' },
  { key: 'exportQueue', flag: '--export-queue <n>', env: 'CAMPUS_EXPORT_QUEUE', type: 'int', min: 0, max: 1000, default: 4, description: 'Excel exports that wait for a turn (up to 30 s); more are refused with 503 and Retry-After' },
];
const NOTIFY: O.OptionSpec = { key: 'notify', flag: '--notify <file>', env: 'CAMPUS_NOTIFY_FILE', type: 'string', description: 'YAML file of group chats (WeCom, DingTalk robots) and message gateways told about repair tickets; holds their keys, keep it mode 600 (see docs/operations.md)' };
const COLLECTOR_SPECS = [O.HOST, O.HTTP_PORT, O.MQTT_URL, O.MQTT_USERNAME, O.MQTT_PASSWORD, O.INFLUX_URL, O.INFLUX_DB, O.INFLUX_USER, O.INFLUX_PASSWORD, O.INFLUX_TOKEN, O.DATABASE_URL, O.DATA_DIR, O.API_TOKEN, SCHOOLS, TICKET_AFTER, NOTIFY, ...SESSION_SPECS, ...AUDIT_SPECS, ...EXPORT_SPECS, VIEW_CACHE, ...TILE_SPECS, O.LOG_LEVEL];

// ---- broker ----
withOptions(
  program.command('broker').description('MQTT broker (aedes) with per-agent authentication and ACL'),
  [
    O.HOST,
    O.MQTT_PORT,
    O.WS_PORT,
    { ...O.COLLECTOR_URL, description: 'collector that authenticates MQTT clients (POST /api/v1/mqtt/auth); or use --database-url' },
    { ...O.API_TOKEN, description: "bearer token for the collector's auth endpoint (read from the collector's api-token file in --data-dir when unset)" },
    { ...O.DATABASE_URL, description: 'PostgreSQL URL of the inventory, to check agent credentials without a collector' },
    { ...O.DATA_DIR, description: "the collector's data directory, for its api-token file" },
    MAX_RATE,
    REDIS_URL,
    REDIS_CLUSTER,
    ...BACKLOG_SPECS,
    O.LOG_LEVEL,
  ],
  async (o) => {
    const { runBroker } = await import('../broker/main.ts');
    const logger = makeLogger(String(o.logLevel), 'broker');
    let auth;
    if (o.collectorUrl) {
      const { httpAuthBackend } = await import('../broker/http-auth.ts');
      const { apiTokenFor } = await import('./admin.ts');
      auth = httpAuthBackend({ url: String(o.collectorUrl), token: apiTokenFor(o) });
    } else if (o.databaseUrl) {
      const { openStore } = await import('../collector/collector.ts');
      const store = await openStore({ databaseUrl: String(o.databaseUrl), dataDir: String(o.dataDir) });
      auth = { authenticate: (u: string, p: string) => store.inventory.verifyCredential(u, p) };
    } else {
      throw new O.OptionError('the broker needs --collector-url (ask the collector) or --database-url (read the inventory); the embedded store belongs to the collector process');
    }
    await runBroker({
      host: String(o.host),
      mqttPort: o.mqttPort as number,
      wsPort: o.wsPort as number | undefined,
      auth,
      logger,
      maxPublishesPerSecond: o.maxPublishesPerSecond as number,
      redisUrl: str(o.redisUrl),
      cluster: o.redisCluster as boolean,
      backlogHighWaterBytes: (o.backlogHighWaterMb as number) * 1024 * 1024,
      backlogLowWaterBytes: o.backlogLowWaterMb === undefined ? undefined : (o.backlogLowWaterMb as number) * 1024 * 1024,
    });
  },
);

// ---- collector ----
withOptions(program.command('collector').description('ingest (MQTT → InfluxDB + inventory) and the HTTP API'), COLLECTOR_SPECS, async (o) => {
  const { startCollector } = await import('../collector/collector.ts');
  const logger = makeLogger(String(o.logLevel), 'collector');
  // read and checked before anything starts: a bad file stops the collector with the reason
  const notify = o.notify ? (await import('../collector/notify/config.ts')).loadNotifyConfig(String(o.notify), (msg) => logger.warn({ component: 'notify' }, msg)) : undefined;
  const c = await startCollector({
    host: String(o.host),
    httpPort: o.httpPort as number,
    mqttUrl: String(o.mqttUrl),
    mqttUsername: String(o.mqttUsername),
    mqttPassword: str(o.mqttPassword),
    influxUrl: str(o.influxUrl),
    influxDb: String(o.influxDb),
    influxUser: str(o.influxUser),
    influxPassword: str(o.influxPassword),
    influxToken: str(o.influxToken),
    databaseUrl: str(o.databaseUrl),
    dataDir: String(o.dataDir),
    apiToken: str(o.apiToken),
    schools: o.schools ? parseSchoolList(String(o.schools)) : undefined,
    ticketOpenAfterMs: (o.ticketAfter as number) * 1000,
    mapTiles: mapTilesOf(o),
    ...sessionOf(o),
    ...auditOf(o),
    viewCacheBytes: (o.viewCacheMb as number) * 1024 * 1024,
    maxExports: o.maxExports as number,
    exportQueue: o.exportQueue as number,
    notify,
    logger,
  });
  const stop = () => void c.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
});

// ---- agent ----
program
  .command('agent')
  .description('edge agent for a school gateway: polls devices, reports over MQTT, queues on disk while offline')
  .addOption(new Option('-c, --config <file>', 'agent YAML (school, agent id, MQTT, devices; see docs/operations.md)').env('CAMPUS_AGENT_CONFIG').makeOptionMandatory())
  .action(async (opts: { config: string }) => {
    try {
      const { runAgent } = await import('../edge-agent/main.ts');
      await runAgent(opts.config);
    } catch (err) {
      fail(err);
    }
  });

// ---- sim ----
const sim = program.command('sim').description('simulated devices that speak the real protocols (loopback only)');
withOptions(
  sim.command('school').description('one simulated school on loopback: ONVIF cameras, class boards and displays (HTTP), Modbus UPS and sensors, SNMP switches and APs, a share faulty'),
  [
    { key: 'school', flag: '--school <code>', env: 'CAMPUS_SIM_SCHOOL', type: 'string', default: '3715020001', description: '10-digit school code' },
    { key: 'cameras', flag: '--cameras <n>', type: 'int', min: 0, max: 250, default: 40, description: 'number of ONVIF cameras' },
    { key: 'classrooms', flag: '--classrooms <n>', type: 'int', min: 0, max: 124, default: 24, description: 'classrooms (one class board and one display each)' },
    { key: 'switches', flag: '--switches <n>', type: 'int', min: 0, max: 200, default: 3, description: 'number of switches' },
    { key: 'aps', flag: '--aps <n>', type: 'int', min: 0, max: 200, default: 4, description: 'number of wireless APs' },
    { key: 'faultyShare', flag: '--faulty-share <x>', type: 'string', default: '0.1', description: 'share of cameras and classroom devices that are faulty' },
    { key: 'agentId', flag: '--agent-id <id>', type: 'string', default: 'gw-1', description: 'agent id for the written agent config' },
    { key: 'agentConfig', flag: '--agent-config <file>', type: 'string', description: 'write an agent YAML (discovery targets + a credentials file next to it, no device list)' },
    { ...O.MQTT_URL, description: 'broker URL to put in that agent config' },
    { key: 'agentPassword', flag: '--agent-password <password>', env: 'CAMPUS_AGENT_PASSWORD', type: 'string', secret: true, description: 'MQTT password to put in that agent config' },
  ],
  async (o) => {
    const { startSimulatedSchool } = await import('../simulator/school.ts');
    const faultyShare = Number(o.faultyShare);
    if (!(faultyShare >= 0 && faultyShare <= 1)) throw new O.OptionError(`--faulty-share: expected a number from 0 to 1, got ${String(o.faultyShare)}`);
    const school = await startSimulatedSchool({
      schoolCode: String(o.school),
      cameras: o.cameras as number,
      classrooms: o.classrooms as number,
      switches: o.switches as number,
      aps: o.aps as number,
      faultyShare,
      lateFaultsAfterMs: 120_000,
    });
    for (const d of school.devices) console.log(`${d.name}\t${d.kind}\t${d.protocol}\t${d.host}:${d.port}\t${d.expectProfile ?? '(no profile)'}${d.fault ? `\tfault: ${d.fault}` : ''}`);
    if (o.agentConfig) {
      const { dirname, join, resolve } = await import('node:path');
      const { writeFileSync } = await import('node:fs');
      const { stringify } = await import('yaml');
      const file = resolve(String(o.agentConfig));
      const credentialsFile = school.writeCredentials(join(dirname(file), `${o.agentId}-credentials.yaml`));
      const cfg = school.agentConfig({ agentId: String(o.agentId), mqttUrl: String(o.mqttUrl), password: str(o.agentPassword), dataDir: `./agent-data-${o.agentId}`, credentialsFile });
      writeFileSync(file, stringify(cfg), { mode: 0o600 });
      console.log(`agent config written to ${file} (credentials: ${credentialsFile})`);
    }
    const stop = () => void school.stop().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  },
);

// ---- demo ----
withOptions(
  program.command('demo').description('the demo city 聊城市 (371500): broker, collector, simulated schools and their agents in one process'),
  [
    O.HOST,
    { ...O.MQTT_PORT, default: 18830 },
    { ...O.WS_PORT, default: 18083 },
    O.HTTP_PORT,
    O.INFLUX_URL,
    O.INFLUX_DB,
    O.INFLUX_USER,
    O.INFLUX_PASSWORD,
    O.INFLUX_TOKEN,
    { ...O.DATA_DIR, default: './data/demo' },
    { key: 'schoolsPerCounty', flag: '--schools-per-county <n>', env: 'CAMPUS_DEMO_SCHOOLS_PER_COUNTY', type: 'int', min: 1, max: 100, default: 2, description: 'simulated schools in each county' },
    { key: 'pollInterval', flag: '--poll-interval <seconds>', env: 'CAMPUS_DEMO_POLL_INTERVAL', type: 'int', min: 1, max: 86_400, default: 10, description: 'how often the agents poll their devices' },
    ...TILE_SPECS,
    O.LOG_LEVEL,
  ],
  async (o) => {
    const { runDemoCity } = await import('../simulator/demo-city.ts');
    await runDemoCity({
      host: String(o.host),
      mqttPort: o.mqttPort as number,
      wsPort: o.wsPort as number | undefined,
      httpPort: o.httpPort as number,
      influxUrl: str(o.influxUrl),
      influxDb: String(o.influxDb),
      influxUser: str(o.influxUser),
      influxPassword: str(o.influxPassword),
      influxToken: str(o.influxToken),
      dataDir: String(o.dataDir),
      schoolsPerCounty: o.schoolsPerCounty as number,
      pollIntervalSec: o.pollInterval as number,
      mapTiles: mapTilesOf(o),
      logLevel: String(o.logLevel),
    });
  },
);

// ---- admin ----
const admin = program.command('admin').description('inventory administration (directly, or through a running collector with --collector-url)');
const ADMIN_SPECS = [O.DATABASE_URL, O.DATA_DIR, O.COLLECTOR_URL, O.API_TOKEN];
const agentCmd = admin.command('agent').description('edge agents');
withOptions(
  agentCmd
    .command('add')
    .description('register an agent and print its MQTT password (shown once; only its hash is kept)')
    .requiredOption('--school <code>', '10-digit school code')
    .requiredOption('--id <agentId>', 'agent id, e.g. gw-1'),
  ADMIN_SPECS,
  async (o, cmd) => {
    const { addAgent } = await import('./admin.ts');
    const { school, id } = cmd.opts() as { school: string; id: string };
    const cred = await addAgent(o, school, id);
    console.log(`username: ${cred.username}\npassword: ${cred.password}\n(store it in the agent's config now: it cannot be shown again)`);
  },
);
const userCmd = admin.command('user').description("people's accounts: school network administrators, security, equipment managers, bureau administrators");
const ROLE_HELP = 'admin (everything), school-admin (enroll and place devices, campus plan; needs --school), security (campus plans, key areas), equipment (repair tickets)';
const printOnce = (password: string) => `password: ${password}\n(give it to the user now: it cannot be shown again)`;
withOptions(
  userCmd
    .command('add')
    .description('add a user; prints a generated password once unless --password-stdin')
    .requiredOption('--username <name>', 'sign-in name: a lower-case letter, then lower-case letters, digits, _ . -')
    .requiredOption('--name <displayName>', 'the name shown in the console and histories, e.g. 王老师')
    .requiredOption('--role <role>', ROLE_HELP)
    .option('--school <code>', "10-digit school code: the user acts at this school only")
    .option('--county <code>', "6-digit county code: the user acts at this county's schools only (neither: the whole city)")
    .option('--password-stdin', 'read the password from standard input (at least 8 characters, 3 of: upper, lower, digits, other)'),
  ADMIN_SPECS,
  async (o, cmd) => {
    const { addUser, readPasswordFromStdin } = await import('./admin.ts');
    const { isRole } = await import('../collector/auth/permissions.ts');
    const f = cmd.opts() as { username: string; name: string; role: string; school?: string; county?: string; passwordStdin?: boolean };
    if (!isRole(f.role)) throw new O.OptionError(`--role: expected admin, school-admin, security or equipment, got ${JSON.stringify(f.role)}`);
    const password = f.passwordStdin ? await readPasswordFromStdin() : undefined;
    const r = await addUser(o, { username: f.username, displayName: f.name, role: f.role, schoolCode: f.school, countyCode: f.county, password });
    const scope = r.user.scope.level === 'city' ? 'the whole city' : `${r.user.scope.name} (${r.user.scope.code})`;
    console.log(`added ${r.user.username} (${r.user.displayName}), ${r.user.role} for ${scope}: ${r.user.permissions.join(', ')}`);
    if (r.password) console.log(printOnce(r.password));
  },
);
withOptions(userCmd.command('list').description('list users with role, scope and state'), ADMIN_SPECS, async (o) => {
  const { listUsers } = await import('./admin.ts');
  for (const u of await listUsers(o)) {
    const scope = u.scope.level === 'city' ? 'city' : `${u.scope.level} ${u.scope.code} ${u.scope.name}`;
    console.log([u.username, u.displayName, u.role, scope, u.disabled ? 'disabled' : 'active', `last sign-in ${u.lastLoginAt ?? 'never'}`].join('\t'));
  }
});
withOptions(
  userCmd
    .command('passwd')
    .description("set a user's password (a generated one, printed once, unless --password-stdin); ends the user's sessions")
    .argument('<username>', 'sign-in name')
    .option('--password-stdin', 'read the new password from standard input'),
  ADMIN_SPECS,
  async (o, cmd) => {
    const { setUserPassword, readPasswordFromStdin } = await import('./admin.ts');
    const username = cmd.args[0]!;
    const given = (cmd.opts() as { passwordStdin?: boolean }).passwordStdin ? await readPasswordFromStdin() : undefined;
    const r = await setUserPassword(o, username, given);
    console.log(`password of ${username} changed; their sessions have ended`);
    if (r.generated) console.log(printOnce(r.generated));
  },
);
withOptions(userCmd.command('disable').description('disable a user: no sign-in, sessions end (the histories keep their name)').argument('<username>', 'sign-in name'), ADMIN_SPECS, async (o, cmd) => {
  const { disableUser } = await import('./admin.ts');
  const u = await disableUser(o, cmd.args[0]!);
  console.log(`disabled ${u.username} (${u.displayName}); their sessions have ended`);
});
withOptions(admin.command('import-schools').description('load schools from a CSV file (all or nothing)').argument('<file>', 'CSV with header code,name,county_code,type,ownership,…'), ADMIN_SPECS, async (o, cmd) => {
  const { importSchools } = await import('./admin.ts');
  const r = await importSchools(o, cmd.args[0]!);
  if (r.errors.length) {
    for (const e of r.errors) console.error(`line ${e.line}${e.column ? ` (${e.column})` : ''}: ${e.message}`);
    console.error(`${new Set(r.errors.map((e) => e.line)).size} bad row(s): nothing was imported`);
    process.exitCode = 1;
  } else console.log(`imported ${r.imported} school(s)`);
});
withOptions(
  admin
    .command('import-regions')
    .description('load a city and its counties from a DataV-style boundary file (shared/data/geo/*.json)')
    .argument('<file>', 'JSON array of county Features')
    .requiredOption('--city <code>', 'GB/T 2260 code of the city, e.g. 371500')
    .option('--city-name <name>', 'city name when not one of the demo cities'),
  ADMIN_SPECS,
  async (o, cmd) => {
    const { importRegions } = await import('./admin.ts');
    const { city, cityName } = cmd.opts() as { city: string; cityName?: string };
    console.log(`imported ${await importRegions(o, cmd.args[0]!, city, cityName)} counties of ${city}`);
  },
);

program.parseAsync(process.argv).catch(fail);
