/**
 * Changes the console shows live, as server-sent events on `GET /api/v1/events`: a small
 * in-process bus (the compliance service, ingest's discovery and the ticket watcher publish; every
 * open SSE stream receives). Optional
 * filters `?school=` and `?county=`. Each event carries an increasing id; a reconnecting client
 * sending `Last-Event-ID` gets what it missed from a short in-memory backlog.
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';

export type CampusEvent =
  | {
      type: 'coverage-changed';
      school: string;
      county: string;
      /** key areas whose coverage changed */
      areas: string[];
      fullyCoveredShare: number;
      weightedCoverage: number;
      at: string;
    }
  | {
      type: 'device-status';
      school: string;
      county: string;
      agentId: string;
      deviceId: string;
      kind: string;
      online: boolean;
      healthy: boolean;
      /** camera health-ladder step (0–4), when known */
      step?: number;
      at: string;
    }
  | {
      /** discovery found new devices at a school, or some vanished (the inbox changed) */
      type: 'devices-discovered';
      school: string;
      county: string;
      agentId: string;
      added: number;
      gone: number;
      at: string;
    }
  | {
      /** a repair ticket opened, changed state or was commented on */
      type: 'ticket';
      school: string;
      county: string;
      ticketId: number;
      state: string;
      fault: string;
      agentId: string | null;
      deviceId: string | null;
      title: string;
      at: string;
    };

export interface BusEvent {
  id: number;
  event: CampusEvent;
}

type Listener = (e: BusEvent) => void;

export class EventBus {
  private seq = 0;
  private readonly listeners = new Set<Listener>();
  private readonly backlog: BusEvent[] = [];

  constructor(private readonly backlogSize = 500) {}

  publish(event: CampusEvent): BusEvent {
    const e = { id: ++this.seq, event };
    this.backlog.push(e);
    if (this.backlog.length > this.backlogSize) this.backlog.shift();
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch {
        // one broken listener must not stop the others
      }
    }
    return e;
  }

  /** Returns the unsubscribe function. */
  subscribe(l: Listener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  since(id: number): BusEvent[] {
    return this.backlog.filter((e) => e.id > id);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }
}

const Query = Type.Object({
  school: Type.Optional(Type.String({ pattern: '^[0-9]{10}$' })),
  county: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' })),
});

/** One SSE frame. */
export function sseFrame(e: BusEvent): string {
  return `id: ${e.id}\nevent: ${e.event.type}\ndata: ${JSON.stringify(e.event)}\n\n`;
}

export function registerEventRoutes(app: FastifyInstance, bus: EventBus, opts: { heartbeatMs?: number } = {}): void {
  const open = new Set<{ end(): void }>();
  // Streams never end by themselves: end them before the server closes, or close() would wait.
  app.addHook('preClose', async () => {
    for (const r of open) r.end();
  });
  app.get(
    '/api/v1/events',
    { schema: { summary: 'Server-sent events: coverage-changed, device-status, devices-discovered, ticket (text/event-stream)', querystring: Query, produces: ['text/event-stream'] } },
    async (req, reply) => {
      const q = req.query as Static<typeof Query>;
      const match = (e: BusEvent) => (!q.school || e.event.school === q.school) && (!q.county || e.event.county === q.county);
      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      raw.write(': campus events\nretry: 3000\n\n');
      const last = Number(req.headers['last-event-id']);
      if (Number.isInteger(last) && last >= 0) for (const e of bus.since(last)) if (match(e)) raw.write(sseFrame(e));
      const unsubscribe = bus.subscribe((e) => {
        if (match(e)) raw.write(sseFrame(e));
      });
      const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), opts.heartbeatMs ?? 15_000);
      open.add(raw);
      const close = () => {
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(raw);
      };
      req.raw.once('close', close);
      raw.once('close', close);
    },
  );
}
