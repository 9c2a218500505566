/**
 * The enrollment inbox over HTTP: what discovery found at a school, planned vs found vs missing,
 * and the administrator's decisions (accept with placement, move an enrolled device, reject, merge,
 * retire). Decisions need permission 'enroll' at the school (or the admin token); who decided is
 * recorded with every change, and the history answers with the person's name.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { Enrollment, Placement, type Db, type DeviceRef } from '../store/index.ts';
import type { Users } from '../auth/users.ts';
import type { Access } from './access.ts';
import { withActorNames } from './actor-names.ts';
import { ApiError } from './errors.ts';
import * as S from './schemas.ts';

const DeviceParams = Type.Object({
  code: Type.String({ pattern: '^[0-9]{10}$' }),
  agent: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' }),
  device: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$' }),
});
type DeviceParams = Static<typeof DeviceParams>;

const Note = Type.Optional(Type.String({ maxLength: 1000 }));
const AcceptBody = Type.Object({ placement: Placement, note: Note }, { additionalProperties: false });
const DecisionBody = Type.Object({ note: Note }, { additionalProperties: false });
const MergeBody = Type.Object({ plannedId: Type.Integer({ minimum: 1 }) }, { additionalProperties: false });

const InboxDevice = Type.Object({
  agentId: Type.String(),
  deviceId: Type.String(),
  kind: Type.String(),
  protocol: Type.Union([Type.String(), Type.Null()]),
  address: Type.Union([Type.String(), Type.Null()]),
  profile: Type.Union([Type.String(), Type.Null()], { description: 'device profile that recognised it; null = unknown' }),
  attributes: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]), { description: 'what it said about itself (raw fingerprint)' }),
  state: Type.String(),
  placement: Type.Union([Placement, Type.Null()]),
  firstSeen: Type.String({ format: 'date-time' }),
  lastSeen: Type.String({ format: 'date-time' }),
  goneAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
const PlannedDevice = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  kind: Type.String(),
  expectedIp: Type.Union([Type.String(), Type.Null()]),
  expectedModel: Type.Union([Type.String(), Type.Null()]),
  placement: Placement,
});
const Inbox = Type.Object({
  discovered: Type.Array(InboxDevice),
  planned: Type.Array(PlannedDevice),
  missing: Type.Array(InboxDevice),
  counts: Type.Record(Type.String(), Type.Integer()),
});
const History = Type.Array(
  Type.Object({
    fromState: Type.String(),
    toState: Type.String(),
    actor: Type.String({ description: 'user/<username>, admin-token[/<X-Campus-Actor>], or system' }),
    actorName: Type.String({ description: "the person's display name (the admin token's: X-Campus-Actor, or 管理令牌)" }),
    note: Type.Union([Type.String(), Type.Null()]),
    at: Type.String({ format: 'date-time' }),
  }),
);

export function registerEnrollmentRoutes(
  app: FastifyInstance,
  deps: { db: Db; access: Access; users: Users; schoolExists: (code: string) => Promise<void>; onChange?: (ref: DeviceRef) => void },
): void {
  const en = new Enrollment(deps.db);
  const errors = { 400: { $ref: 'Error#' }, 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' } };
  const ref = (p: DeviceParams) => ({ schoolCode: p.code, agentId: p.agent, deviceId: p.device });
  const write = { preHandler: deps.access.guard('enroll', (req) => ({ school: (req.params as { code: string }).code })) };
  const actorOf = deps.access.actorOf.bind(deps.access);

  app.get(
    '/api/v1/schools/:code/inbox',
    { schema: { summary: 'Enrollment inbox: discovered, planned (not found), missing (enrolled, no longer found)', params: S.SchoolCodeParams, response: { 200: Inbox, ...errors } } },
    async (req) => {
      const { code } = req.params as { code: string };
      await deps.schoolExists(code);
      return en.inbox(code);
    },
  );

  app.get('/api/v1/schools/:code/devices/:agent/:device/history', { schema: { summary: 'Every state change of a device, with who and when', params: DeviceParams, response: { 200: History, ...errors } } }, async (req) => {
    const p = req.params as DeviceParams;
    if (!(await en.device(ref(p)))) throw new ApiError('NOT_FOUND', `device ${p.agent}/${p.device}`);
    return withActorNames(deps.users, await en.history(ref(p)));
  });

  app.post(
    '/api/v1/schools/:code/devices/:agent/:device/accept',
    { ...write, schema: { summary: 'Accept a found device (→ enrolled) at its placement', security: [{ bearer: [] }], params: DeviceParams, body: AcceptBody, response: { 200: InboxDevice, ...errors } } },
    async (req) => {
      const body = req.body as Static<typeof AcceptBody>;
      const d = await en.accept(ref(req.params as DeviceParams), body.placement, await actorOf(req), body.note);
      deps.onChange?.(ref(req.params as DeviceParams));
      return d;
    },
  );

  app.put(
    '/api/v1/schools/:code/devices/:agent/:device/placement',
    {
      ...write,
      schema: {
        summary: 'Move an enrolled device: a new placement (position; for a camera heading and field of view), recorded in its history with who and what changed; the school’s coverage is recomputed',
        security: [{ bearer: [] }],
        params: DeviceParams,
        body: AcceptBody,
        response: { 200: InboxDevice, ...errors },
      },
    },
    async (req) => {
      const body = req.body as Static<typeof AcceptBody>;
      const d = await en.place(ref(req.params as DeviceParams), body.placement, await actorOf(req), body.note);
      deps.onChange?.(ref(req.params as DeviceParams));
      return d;
    },
  );

  for (const action of ['reject', 'retire'] as const) {
    app.post(
      `/api/v1/schools/:code/devices/:agent/:device/${action}`,
      { ...write, schema: { summary: action === 'reject' ? 'Reject a found device (not ours, duplicate)' : 'Retire a device: no longer polled nor counted', security: [{ bearer: [] }], params: DeviceParams, body: DecisionBody, response: { 200: InboxDevice, ...errors } } },
      async (req) => {
        const body = (req.body ?? {}) as Static<typeof DecisionBody>;
        const d = await en[action](ref(req.params as DeviceParams), await actorOf(req), body.note);
        deps.onChange?.(ref(req.params as DeviceParams));
        return d;
      },
    );
  }

  app.post(
    '/api/v1/schools/:code/devices/:agent/:device/merge',
    { ...write, schema: { summary: 'Accept a found device as a planned one (takes its placement)', security: [{ bearer: [] }], params: DeviceParams, body: MergeBody, response: { 200: InboxDevice, ...errors } } },
    async (req) => {
      const d = await en.merge(ref(req.params as DeviceParams), (req.body as Static<typeof MergeBody>).plannedId, await actorOf(req));
      deps.onChange?.(ref(req.params as DeviceParams));
      return d;
    },
  );

  app.post(
    '/api/v1/schools/:code/planned',
    {
      ...write,
      schema: {
        summary: 'Import planned devices from CSV (name,kind,building,room,expected_ip,expected_model,lon,lat,heading_deg,hfov_deg,mount_height_m); all or nothing',
        security: [{ bearer: [] }],
        consumes: ['text/csv'],
        params: S.SchoolCodeParams,
        response: { 200: S.ImportResult, 422: Type.Object({ code: Type.String(), message: Type.String(), details: S.ImportResult }), ...errors },
      },
    },
    async (req) => {
      if (typeof req.body !== 'string') throw new ApiError('INVALID_INPUT', 'send the CSV file as the body with Content-Type: text/csv');
      const { code } = req.params as { code: string };
      await deps.schoolExists(code);
      const result = await en.importPlannedCsv(code, req.body);
      if (result.errors.length) throw new ApiError('CSV_REJECTED', String(new Set(result.errors.map((e) => e.line)).size), result as unknown as Record<string, unknown>);
      return result;
    },
  );
}
