/**
 * The collector's HTTP API (fastify). Routes are schema-first: the TypeBox schemas validate input,
 * serialise output and make up `/api/openapi.json`. Reads are open on the bureau's intranet (wall
 * displays need no login); anything that changes the inventory or talks to agents needs a signed-in
 * user whose role and scope allow it, or the bureau's admin token (access.ts).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import type { Static } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import type { Db, Inventory } from '../store/index.ts';
import { InventoryError } from '../store/index.ts';
import type { Ingest } from '../ingest/ingest.ts';
import type { TelemetrySink } from '../telemetry/sink.ts';
import { ApiError } from './errors.ts';
import * as S from './schemas.ts';
import { registerEnrollmentRoutes } from './enrollment-routes.ts';
import { floorPlanRoutes } from './floorplan-routes.ts';
import { registerComplianceRoutes } from './compliance-routes.ts';
import { registerConsoleRoutes } from './console-routes.ts';
import { registerTopologyRoutes } from './topology-routes.ts';
import { registerExportRoutes } from './export-routes.ts';
import { registerTicketRoutes } from './ticket-routes.ts';
import type { MapTiles } from './map-tiles.ts';
import { Tickets } from '../tickets/store.ts';
import { EventBus } from './events.ts';
import { ComplianceService } from '../compliance/service.ts';
import type { InfluxConnection } from '../telemetry/influx-http.ts';
import { Sessions, type SessionOptions } from '../auth/sessions.ts';
import { Users, WeakPassword } from '../auth/users.ts';
import { Access } from './access.ts';
import { registerSessionRoutes } from './session-routes.ts';
import { AuditLog } from '../auth/audit-log.ts';
import { registerAuditRoutes } from './audit-routes.ts';
import type { NotifyStats } from '../notify/notifier.ts';
import { ExportQueue, type ExportLimits } from './export-queue.ts';

export interface ApiDeps {
  inventory: Inventory;
  db: Db;
  ingest: Ingest;
  sink: TelemetrySink;
  /** The bureau's admin token: every permission everywhere (CLI, services, the broker's auth calls). */
  apiToken: string;
  /** Session timeouts (and a clock for tests); defaults 30 min idle, 12 h in all. */
  sessions?: SessionOptions;
  /** Counters of an in-process broker (the demo), shown in /health. */
  brokerStats?: () => Record<string, number>;
  logger?: boolean | object;
  /** Called after an enrollment decision (the ingest refreshes what it knows, the agent is told). */
  onDevicesChanged?: (ref: { schoolCode: string; agentId: string; deviceId: string }) => void;
  /** Compliance engine and the event bus of SSE streams; made here (on-request only) when absent. */
  compliance?: ComplianceService;
  events?: EventBus;
  /** InfluxDB to read device time series from (the console's charts); absent = 503 TELEMETRY_UNAVAILABLE. */
  influx?: InfluxConnection;
  /** The built console to serve at `/` (default console/dist). */
  consoleDir?: string;
  /** Repair tickets (the collector passes its watcher's); made here when absent. */
  tickets?: Tickets;
  /** Compute every school's map summary at start rather than on the console's first request. */
  warmMapCache?: boolean;
  /** A tile server for the console's map background. */
  mapTiles?: MapTiles;
  /** Counters of the ticket notifications to group chats, shown in /health when configured. */
  notifications?: () => NotifyStats;
  /** Reverse proxies (addresses or CIDRs) whose X-Forwarded-For gives the client's address (audit log); none trusted when absent. */
  trustProxy?: string[];
  /** Delete audit log entries older than this many days, once a day; no deletion when absent. */
  auditKeepDays?: number;
  /** Excel exports built at once and waiting (defaults: 2 and 4; see export-queue.ts). */
  exports?: Partial<ExportLimits>;
}

/** A health probe that hangs counts as down: /health must answer even then. */
function withTimeout(p: Promise<boolean>, ms = 3_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([p.catch(() => false), timeout]).finally(() => clearTimeout(timer));
}

export async function buildApi(deps: ApiDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    bodyLimit: 10 * 1024 * 1024,
    // Fastify's default strips properties a schema does not allow; refuse them instead, so a
    // misspelt field (`timeoutMS`) is a 400 rather than silently ignored.
    ajv: { customOptions: { removeAdditional: false } },
    // req.ip (the audit log's address) believes X-Forwarded-For only from these proxies
    ...(deps.trustProxy?.length ? { trustProxy: deps.trustProxy } : {}),
  });
  const csvCounters = { accepted: 0, rejectedFiles: 0, rejectedRows: 0 };
  const exports = new ExportQueue(deps.exports);

  await app.register(swagger, {
    openapi: {
      info: { title: 'campus collector API', description: '校园物联与安防设备管理 — collector HTTP API', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  app.addSchema(S.ErrorBody);

  app.addContentTypeParser('text/csv', { parseAs: 'string' }, (_req, body, done) => done(null, body));

  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof ApiError) return reply.status(err.status).send({ code: err.code, message: err.message, details: err.extra });
    if (err instanceof WeakPassword) return reply.status(400).send({ code: 'WEAK_PASSWORD', message: err.message });
    if (err instanceof InventoryError) {
      const code = err.code === 'not-found' ? 'NOT_FOUND' : err.code === 'conflict' ? 'CONFLICT' : 'INVALID_INPUT';
      const e = new ApiError(code, err.message);
      return reply.status(e.status).send({ code, message: err.message });
    }
    if (err.validation) return reply.status(400).send({ code: 'INVALID_INPUT', message: err.message });
    if (err.statusCode && err.statusCode < 500) return reply.status(err.statusCode).send({ code: 'INVALID_INPUT', message: err.message });
    app.log.error(err);
    return reply.status(500).send({ code: 'INTERNAL', message: 'internal error' });
  });

  const sessions = new Sessions(deps.db, deps.sessions);
  const users = new Users(deps.db, sessions.now);
  const audit = new AuditLog(deps.db, sessions.now);
  const access = new Access({ apiToken: deps.apiToken, sessions, db: deps.db, audit });
  // every request with a bearer token is identified up front: a read with a session counts as activity
  app.addHook('onRequest', access.identify);
  // before the answer goes out (not onResponse), so that the entry exists when the client has its answer
  app.addHook('onSend', async (req, reply, payload) => {
    await access.auditAdminWrite(req, reply);
    return payload;
  });
  if (deps.auditKeepDays !== undefined) {
    const stopRetention = audit.startRetention(deps.auditKeepDays, app.log);
    app.addHook('onClose', async () => stopRetention());
  }
  const errors = { 400: { $ref: 'Error#' }, 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' }, 404: { $ref: 'Error#' } };
  registerSessionRoutes(app, { access, sessions, users });
  registerAuditRoutes(app, { access, audit, exports });

  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get('/api/v1/health', { schema: { summary: 'Reachability of InfluxDB, the inventory and the broker; ingest counters', response: { 200: S.Health, 503: S.Health } } }, async (_req, reply) => {
    const [influxOk, dbOk] = await Promise.all([withTimeout(deps.sink.ping()), withTimeout(deps.db.ping())]);
    const ingest = deps.ingest.status();
    const t = deps.sink.stats();
    const body: Static<typeof S.Health> = {
      status: influxOk && dbOk && ingest.connected ? 'ok' : 'degraded',
      checks: {
        telemetry: { ok: influxOk, detail: deps.sink.describe() },
        database: { ok: dbOk, detail: deps.db.kind },
        broker: { ok: ingest.connected },
      },
      telemetry: {
        destination: deps.sink.describe(),
        linesWritten: t.linesWritten,
        linesRejected: t.linesRejected,
        linesBuffered: t.linesBuffered,
        retries: t.retries,
        ...(t.lastError ? { lastError: t.lastError } : {}),
      },
      ingest: { ...ingest.counters, ...(ingest.lastMessageAt ? { lastMessageAt: new Date(ingest.lastMessageAt).toISOString() } : {}) },
      ...(deps.brokerStats ? { broker: deps.brokerStats() } : {}),
      csvImports: csvCounters,
      exports: exports.stats(),
      ...(deps.notifications ? { notifications: deps.notifications() } : {}),
    };
    return reply.status(body.status === 'ok' ? 200 : 503).send(body);
  });

  app.get('/api/v1/regions', { schema: { summary: 'City and counties (GB/T 2260)', response: { 200: Type.Array(S.Region) } } }, async () => deps.inventory.listRegions());

  app.get(
    '/api/v1/schools',
    { schema: { summary: 'Schools, optionally of one county', querystring: Type.Object({ county: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' })) }), response: { 200: Type.Array(S.School) } } },
    async (req) => deps.inventory.listSchools({ countyCode: (req.query as { county?: string }).county }),
  );

  const school = async (code: string) => {
    const s = await deps.inventory.getSchool(code);
    if (!s) throw new ApiError('NOT_FOUND', `school ${code}`);
    return s;
  };

  app.get('/api/v1/schools/:code', { schema: { params: S.SchoolCodeParams, response: { 200: S.School, ...errors } } }, async (req) =>
    school((req.params as Static<typeof S.SchoolCodeParams>).code),
  );

  app.get(
    '/api/v1/schools/:code/devices',
    { schema: { summary: "A school's devices: discovered, seen, enrolled, retired", params: S.SchoolCodeParams, response: { 200: Type.Array(S.Device), ...errors } } },
    async (req) => {
      const { code } = req.params as Static<typeof S.SchoolCodeParams>;
      await school(code);
      return deps.inventory.listDevices(code);
    },
  );

  app.get('/api/v1/schools/:code/agents', { schema: { params: S.SchoolCodeParams, response: { 200: Type.Array(S.Agent), ...errors } } }, async (req) => {
    const { code } = req.params as Static<typeof S.SchoolCodeParams>;
    await school(code);
    return deps.inventory.listAgents(code);
  });

  registerEnrollmentRoutes(app, {
    db: deps.db,
    access,
    users,
    schoolExists: async (code) => void (await school(code)),
    onChange: deps.onDevicesChanged,
  });
  await app.register(floorPlanRoutes, { db: deps.db, access, schoolExists: async (code) => void (await school(code)) });

  // one event bus and compliance engine for the compliance and console routes
  const events = deps.events ?? new EventBus();
  const compliance = deps.compliance ?? new ComplianceService({ db: deps.db, inventory: deps.inventory, sink: deps.sink, events, refreshIntervalMs: 0 });
  registerComplianceRoutes(app, { ...deps, events, compliance, access });
  await registerConsoleRoutes(app, { ...deps, events, compliance });
  registerTopologyRoutes(app, deps);
  registerExportRoutes(app, { exports });
  registerTicketRoutes(app, {
    tickets: deps.tickets ?? new Tickets(deps.db),
    events,
    access,
    users,
    defaultCity: async () => (await deps.inventory.listRegions({ level: 'city' }))[0]?.code,
  });

  // ---- administration (permission 'agents') ----

  app.post(
    '/api/v1/admin/agents',
    { preHandler: access.guard('agents', (req) => ({ school: (req.body as Static<typeof S.NewAgentBody>).schoolCode })), schema: { summary: 'Register an agent and issue its MQTT password (shown once)', security: [{ bearer: [] }], body: S.NewAgentBody, response: { 201: S.Credential, ...errors, 409: { $ref: 'Error#' } } } },
    async (req, reply) => {
      const body = req.body as Static<typeof S.NewAgentBody>;
      const cred = await deps.inventory.addAgent(body);
      deps.ingest.forgetAgent(body.schoolCode, body.agentId);
      return reply.status(201).send(cred);
    },
  );

  app.post(
    '/api/v1/admin/schools/import',
    {
      preHandler: access.guard('agents', () => 'city'),
      schema: {
        summary: 'Import schools from CSV (all or nothing; every bad row reported)',
        security: [{ bearer: [] }],
        consumes: ['text/csv'],
        response: { 200: S.ImportResult, 422: Type.Object({ code: Type.String(), message: Type.String(), details: S.ImportResult }), 401: { $ref: 'Error#' } },
      },
    },
    async (req, reply) => {
      if (typeof req.body !== 'string') throw new ApiError('INVALID_INPUT', 'send the CSV file as the body with Content-Type: text/csv');
      const result = await deps.inventory.importSchoolsCsv(req.body);
      if (result.errors.length > 0) {
        csvCounters.rejectedFiles++;
        csvCounters.rejectedRows += result.errors.length;
        throw new ApiError('CSV_REJECTED', String(result.errors.length), result as unknown as Record<string, unknown>);
      }
      csvCounters.accepted++;
      return reply.send(result);
    },
  );

  app.post(
    '/api/v1/agents/:school/:agent/commands',
    { preHandler: access.guard('agents', (req) => ({ school: (req.params as Static<typeof S.AgentParams>).school })), schema: { summary: 'Send a command to an agent and wait for its ack', security: [{ bearer: [] }], params: S.AgentParams, body: S.CommandBody, response: { 200: S.CommandAck, ...errors } } },
    async (req) => {
      const { school: code, agent } = req.params as Static<typeof S.AgentParams>;
      const body = req.body as Static<typeof S.CommandBody>;
      if (!(await deps.inventory.getAgent(code, agent))) throw new ApiError('NOT_FOUND', `agent ${code}/${agent}`);
      if (!deps.ingest.status().connected) throw new ApiError('BROKER_UNAVAILABLE');
      const timeout = body.timeoutMs ?? 10_000;
      const ack = await deps.ingest.sendCommand(code, agent, body.command, timeout);
      if (!ack) throw new ApiError('AGENT_TIMEOUT', String(timeout));
      return { id: ack.id, ok: ack.ok, ...(ack.result ? { result: ack.result } : {}), ...(ack.error ? { error: ack.error } : {}) };
    },
  );

  // The broker asks here who a client is (also usable by EMQX / mosquitto-go-auth HTTP backends).
  app.post(
    '/api/v1/mqtt/auth',
    { preHandler: (req) => access.requireAdminToken(req), schema: { summary: 'MQTT authentication for the broker (admin token only)', security: [{ bearer: [] }], body: S.MqttAuthBody, response: { 200: Type.Object({ result: Type.Literal('allow'), principal: S.Principal }), ...errors, 403: { $ref: 'Error#' } } } },
    async (req, reply) => {
      const { username, password } = req.body as Static<typeof S.MqttAuthBody>;
      const principal = await deps.inventory.verifyCredential(username, password);
      if (!principal) return reply.status(403).send({ code: 'UNAUTHORIZED', message: 'bad username or password' });
      // `result: allow` is what EMQX 5's HTTP authenticator reads; our broker reads `principal`.
      return { result: 'allow', principal };
    },
  );

  return app;
}
