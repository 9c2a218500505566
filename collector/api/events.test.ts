/**
 * The event bus and its SSE stream on a real socket (loopback): frames in order, filtered by
 * school, resumed with Last-Event-ID, and the stream ends when the server closes.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus, registerEventRoutes, sseFrame, type CampusEvent } from './events.ts';

const ev = (school: string, n: number): CampusEvent => ({ type: 'coverage-changed', school, county: school.slice(0, 6), areas: [`a${n}`], fullyCoveredShare: 1, weightedCoverage: 1, at: new Date(0).toISOString() });

describe('EventBus', () => {
  it('delivers to every listener in order, survives a throwing one, and keeps a backlog', () => {
    const bus = new EventBus(2);
    const got: number[] = [];
    bus.subscribe(() => {
      throw new Error('broken listener');
    });
    const off = bus.subscribe((e) => got.push(e.id));
    bus.publish(ev('3715020001', 1));
    bus.publish(ev('3715020001', 2));
    off();
    bus.publish(ev('3715020001', 3));
    expect(got).toEqual([1, 2]);
    expect(bus.since(0).map((e) => e.id)).toEqual([2, 3]);
    expect(bus.listenerCount).toBe(1);
    expect(sseFrame(bus.since(2)[0]!)).toBe(`id: 3\nevent: coverage-changed\ndata: ${JSON.stringify(ev('3715020001', 3))}\n\n`);
  });
});

describe('GET /api/v1/events', () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
  });

  async function read(res: Response, frames: number): Promise<string[]> {
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let buf = '';
    const out: string[] = [];
    while (out.length < frames) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const f = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (f.startsWith('id:')) out.push(f);
      }
    }
    reader.releaseLock();
    return out;
  }

  it('streams the events of one school as they are published, and resumes after Last-Event-ID', async () => {
    const bus = new EventBus();
    app = Fastify();
    registerEventRoutes(app, bus);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    bus.publish(ev('3715020001', 0)); // id 1: before anyone listens
    const res = await fetch(`${url}/api/v1/events?school=3715020001`);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const frames = read(res, 2);
    while (bus.listenerCount === 0) await new Promise((r) => setTimeout(r, 10));
    bus.publish(ev('3715810001', 1)); // another school: filtered out
    bus.publish(ev('3715020001', 2));
    bus.publish(ev('3715020001', 3));
    const got = await frames;
    expect(got.map((f) => /^id: (\d+)/.exec(f)![1])).toEqual(['3', '4']);
    expect(JSON.parse(/^data: (.*)$/m.exec(got[0]!)![1]!)).toMatchObject({ type: 'coverage-changed', school: '3715020001', areas: ['a2'] });

    const resumed = await fetch(`${url}/api/v1/events`, { headers: { 'last-event-id': '2' } });
    expect((await read(resumed, 2)).map((f) => /^id: (\d+)/.exec(f)![1])).toEqual(['3', '4']);
    await app.close(); // ends open streams instead of waiting for them
    app = undefined;
    expect(bus.listenerCount).toBe(0);
  });
});
