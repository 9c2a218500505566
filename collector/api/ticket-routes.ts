/**
 * Repair tickets over HTTP: the list (by school, county, state), one ticket with its history,
 * opening one by hand, working it (assign, start, resolve, close, reopen, comment), and repair
 * times per county for a month. Reading is open like the rest of the console's data; opening and
 * working a ticket needs permission 'tickets' at its school, commenting 'comment' (or the admin
 * token), and records who did it. A ticket is assigned to a user who may work it (its assignees);
 * `assignee=me` lists the signed-in user's.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { TICKET_ACTIONS, TICKET_STATES, type Tickets, type Ticket, type TicketAction, type TicketState } from '../tickets/store.ts';
import { ticketEvent } from '../tickets/watcher.ts';
import type { EventBus } from './events.ts';
import type { Users } from '../auth/users.ts';
import { Access } from './access.ts';
import { withActorNames } from './actor-names.ts';
import { periodOf } from './compliance-routes.ts';
import { ApiError } from './errors.ts';

const Id = Type.Object({ id: Type.Integer({ minimum: 1 }) });
const ActionParams = Type.Object({ id: Type.Integer({ minimum: 1 }), action: Type.Union(TICKET_ACTIONS.map((a) => Type.Literal(a))) });
const ListQuery = Type.Object(
  {
    school: Type.Optional(Type.String({ pattern: '^[0-9]{10}$' })),
    county: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' })),
    state: Type.Optional(Type.String({ maxLength: 64, description: 'comma-separated: open, in-progress, resolved, closed; `active` = open,in-progress' })),
    agent: Type.Optional(Type.String({ maxLength: 63 })),
    device: Type.Optional(Type.String({ maxLength: 128 })),
    assignee: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'a user name, or `me`: the signed-in user' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
    offset: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { additionalProperties: false },
);
const NewBody = Type.Object(
  {
    schoolCode: Type.String({ pattern: '^[0-9]{10}$' }),
    agentId: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$' })),
    deviceId: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$' })),
    title: Type.String({ minLength: 1, maxLength: 200 }),
    detail: Type.Optional(Type.String({ maxLength: 2000 })),
  },
  { additionalProperties: false },
);
const ActionBody = Type.Object(
  { note: Type.Optional(Type.String({ maxLength: 1000 })), assignee: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'assign: the user name of someone who may work the ticket (GET …/assignees)' })) },
  { additionalProperties: false },
);
const CountsQuery = Type.Object({ county: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' })) }, { additionalProperties: false });
const StatsQuery = Type.Object({ city: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' })), month: Type.Optional(Type.String({ maxLength: 32 })) }, { additionalProperties: false });

const TicketOut = Type.Object({
  id: Type.Integer(),
  schoolCode: Type.String(),
  schoolName: Type.String(),
  countyCode: Type.String(),
  agentId: Type.Union([Type.String(), Type.Null()]),
  deviceId: Type.Union([Type.String(), Type.Null()]),
  fault: Type.String({ description: 'unreachable, auth, no-stream, degraded, gateway-offline, manual' }),
  title: Type.String(),
  detail: Type.Union([Type.String(), Type.Null()]),
  state: Type.Union(TICKET_STATES.map((s) => Type.Literal(s))),
  source: Type.Union([Type.Literal('auto'), Type.Literal('manual')]),
  assignee: Type.Union([Type.String(), Type.Null()], { description: 'a user name (free text on tickets assigned before assignees were users)' }),
  assigneeName: Type.Union([Type.String(), Type.Null()], { description: "the assignee's display name; null when the assignee is not a user" }),
  openedAt: Type.String({ format: 'date-time' }),
  faultSince: Type.String({ format: 'date-time' }),
  resolvedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  closedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  updatedAt: Type.String({ format: 'date-time' }),
});

const ScopeOut = Type.Union([
  Type.Object({ level: Type.Literal('city') }),
  Type.Object({ level: Type.Literal('county'), code: Type.String(), name: Type.String() }),
  Type.Object({ level: Type.Literal('school'), code: Type.String(), name: Type.String() }),
]);
const AssigneesOut = Type.Object({
  assignees: Type.Array(Type.Object({ username: Type.String(), displayName: Type.String(), role: Type.String(), scope: ScopeOut })),
});

/** `state=` as given: names, or `active`. */
function statesOf(s: string | undefined): TicketState[] | undefined {
  if (!s) return undefined;
  const out = new Set<TicketState>();
  for (const part of s.split(',').map((x) => x.trim()).filter(Boolean)) {
    if (part === 'active') ['open', 'in-progress'].forEach((x) => out.add(x as TicketState));
    else if ((TICKET_STATES as readonly string[]).includes(part)) out.add(part as TicketState);
    else throw new ApiError('INVALID_INPUT', `state ${part} is not one of ${TICKET_STATES.join(', ')}, active`);
  }
  return [...out];
}

export function registerTicketRoutes(
  app: FastifyInstance,
  deps: { tickets: Tickets; events: EventBus; access: Access; users: Users; defaultCity: () => Promise<string | undefined> },
): void {
  const { access } = deps;
  const errors = { 400: { $ref: 'Error#' }, 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' } };
  /** `assignee=me`: the signed-in user's name; the admin token is nobody's. */
  const me = async (req: FastifyRequest): Promise<string> => {
    const p = await access.signedIn(req);
    if (p.kind === 'admin-token') throw new ApiError('INVALID_INPUT', 'assignee=me needs a user signed in: the admin token is no one tickets are assigned to');
    return Access.info(p).username;
  };
  const changed = (t: Ticket): Ticket => {
    deps.events.publish(ticketEvent(t));
    return t;
  };

  app.get(
    '/api/v1/tickets',
    { schema: { summary: 'Repair tickets, unfinished first then newest (filters: school, county, state, agent, device)', querystring: ListQuery, response: { 200: Type.Object({ total: Type.Integer(), tickets: Type.Array(TicketOut) }), ...errors } } },
    async (req) => {
      const q = req.query as Static<typeof ListQuery>;
      const assignee = q.assignee === 'me' ? await me(req) : q.assignee;
      return deps.tickets.list({ schoolCode: q.school, countyCode: q.county, states: statesOf(q.state), agentId: q.agent, deviceId: q.device, assignee, limit: q.limit, offset: q.offset });
    },
  );

  app.get(
    '/api/v1/tickets/stats',
    { schema: { summary: 'Repair figures per county for a month (China time): opened, resolved, unfinished now, median and mean hours from fault to resolution', querystring: StatsQuery, response: { ...errors } } },
    async (req) => {
      const q = req.query as Static<typeof StatsQuery>;
      const period = periodOf(q.month);
      const city = q.city ?? (await deps.defaultCity());
      if (!city) throw new ApiError('NOT_FOUND', 'city');
      return { city, month: period.month, counties: await deps.tickets.repairStats(city, period.from, period.to) };
    },
  );

  app.get(
    '/api/v1/tickets/open-counts',
    { schema: { summary: 'Unfinished tickets per school (of a county when given); schools without any are absent', querystring: CountsQuery, response: { 200: Type.Object({ counts: Type.Record(Type.String(), Type.Integer()) }), ...errors } } },
    async (req) => ({ counts: Object.fromEntries(await deps.tickets.openCounts((req.query as Static<typeof CountsQuery>).county)) }),
  );

  app.get('/api/v1/tickets/:id', { schema: { summary: 'One ticket with every change, who (actor, and actorName: the person) and when', params: Id, response: { ...errors } } }, async (req) => {
    const { id } = req.params as Static<typeof Id>;
    const t = await deps.tickets.get(id);
    if (!t) throw new ApiError('NOT_FOUND', `ticket ${id}`);
    return { ...t, events: await withActorNames(deps.users, await deps.tickets.events(id)) };
  });

  app.get(
    '/api/v1/tickets/:id/assignees',
    {
      preHandler: async (req) => void (await access.signedIn(req)),
      schema: {
        summary: "Who a ticket may be assigned to: enabled users with permission 'tickets' whose scope covers its school, the school's own first, then the county's, then the city's (needs 'tickets' there)",
        security: [{ bearer: [] }],
        params: Id,
        response: { 200: AssigneesOut, ...errors },
      },
    },
    async (req) => {
      const { id } = req.params as Static<typeof Id>;
      const t = await deps.tickets.get(id);
      if (!t) throw new ApiError('NOT_FOUND', `ticket ${id}`);
      await access.require(req, 'tickets', { school: t.schoolCode });
      return { assignees: await deps.users.eligibleAt('tickets', { school: t.schoolCode, county: t.countyCode }) };
    },
  );

  app.post(
    '/api/v1/tickets',
    {
      preHandler: access.guard('tickets', (req) => ({ school: (req.body as Static<typeof NewBody>).schoolCode })),
      schema: { summary: 'Open a ticket by hand (a device, a gateway, or the school)', security: [{ bearer: [] }], body: NewBody, response: { 201: TicketOut, ...errors } },
    },
    async (req, reply) => {
      const b = req.body as Static<typeof NewBody>;
      const t = await deps.tickets.openManual({ schoolCode: b.schoolCode, agentId: b.agentId ?? null, deviceId: b.deviceId ?? null, fault: 'manual', title: b.title, detail: b.detail ?? null }, await access.actorOf(req));
      return reply.status(201).send(changed(t));
    },
  );

  app.post(
    '/api/v1/tickets/:id/:action',
    {
      // signed in before anything else; the permission needs the ticket's school, read in the handler
      preHandler: async (req) => void (await access.signedIn(req)),
      schema: { summary: "Work a ticket: assign (needs assignee: a user who may work it, see …/assignees), start, resolve, close, reopen (permission 'tickets'), comment (needs note; permission 'comment')", security: [{ bearer: [] }], params: ActionParams, body: ActionBody, response: { 200: TicketOut, ...errors } },
    },
    async (req) => {
      const { id, action } = req.params as Static<typeof ActionParams>;
      const b = (req.body ?? {}) as Static<typeof ActionBody>;
      const t = await deps.tickets.get(id);
      if (!t) throw new ApiError('NOT_FOUND', `ticket ${id}`);
      await access.require(req, action === 'comment' ? 'comment' : 'tickets', { school: t.schoolCode });
      if (action === 'assign') {
        if (!b.assignee) throw new ApiError('INVALID_INPUT', 'assign needs an assignee: the user name of someone who may work the ticket');
        const why = await deps.users.whyIneligible(b.assignee, 'tickets', { school: t.schoolCode, county: t.countyCode });
        if (why) throw new ApiError('INVALID_INPUT', `cannot assign ticket ${id} to ${b.assignee}: ${why}`);
      }
      return changed(await deps.tickets.act(id, action as TicketAction, await access.actorOf(req), b.note ?? null, { assignee: b.assignee }));
    },
  );
}
