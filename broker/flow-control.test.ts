/**
 * FlowControl's bookkeeping on its own: hysteresis between the marks, who gets paused, and that a
 * closed connection is neither kept nor resumed. The broker-level behaviour with real clients is in
 * backpressure.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { FlowControl, type Holdable } from './flow-control.ts';

/** A connection that records whether its input is held. */
function conn(): Holdable & { held: boolean; holds: number } {
  return {
    held: false,
    holds: 0,
    holdInput() {
      this.held = true;
      this.holds++;
    },
    releaseInput() {
      this.held = false;
    },
  };
}

describe('FlowControl', () => {
  it('pauses above the high-water mark and resumes only at the low-water mark', () => {
    const flow = new FlowControl({ highWaterBytes: 100, lowWaterBytes: 20 });
    const a = conn();
    const first = flow.admit(60, a);
    expect(a.held).toBe(false);
    const second = flow.admit(60, a); // 120 > 100
    expect(a.held).toBe(true);
    first(); // 60: below the high mark, above the low one
    expect(a.held).toBe(true);
    expect(flow.stats()).toMatchObject({ backlogBytes: 60, publishersPaused: 1, pauses: 1, throttleEpisodes: 1 });
    second(); // 0
    expect(a.held).toBe(false);
    expect(flow.stats()).toMatchObject({ backlogBytes: 0, backlogPeakBytes: 120, publishersPaused: 0 });
  });

  it('pauses every connection with a publish in the backlog, and any that publishes while throttled', () => {
    const flow = new FlowControl({ highWaterBytes: 100, lowWaterBytes: 0 });
    const [a, b, c, idle] = [conn(), conn(), conn(), conn()];
    const doneA = flow.admit(50, a);
    const doneB = flow.admit(40, b);
    const doneC = flow.admit(30, c); // crosses the mark
    expect([a.held, b.held, c.held, idle.held]).toEqual([true, true, true, false]);
    doneA();
    const doneIdle = flow.admit(10, idle); // still throttled (70 > 0)
    expect(idle.held).toBe(true);
    doneB();
    doneC();
    expect(idle.held).toBe(true);
    doneIdle();
    expect([a.held, b.held, c.held, idle.held]).toEqual([false, false, false, false]);
    expect(flow.stats().pauses).toBe(4);
  });

  it('counts each publish once however often it is reported done', () => {
    const flow = new FlowControl({ highWaterBytes: 100, lowWaterBytes: 20 });
    const done = flow.admit(30, undefined);
    done();
    done();
    expect(flow.stats().backlogBytes).toBe(0);
  });

  it('forgets a closed connection: not counted as paused, not resumed, its publishes still drain', () => {
    const flow = new FlowControl({ highWaterBytes: 100, lowWaterBytes: 20 });
    const [gone, stays] = [conn(), conn()];
    const doneGone = flow.admit(80, gone);
    const doneStays = flow.admit(80, stays);
    expect(flow.stats().publishersPaused).toBe(2);
    flow.forget(gone);
    expect(flow.stats().publishersPaused).toBe(1);
    doneGone(); // what it published before it went is delivered and leaves the backlog
    doneStays();
    expect(gone.held).toBe(true); // never resumed: it is closed
    expect(stays.held).toBe(false);
    expect(flow.stats()).toMatchObject({ backlogBytes: 0, publishersPaused: 0 });
    // A new episode does not pick the forgotten connection up again.
    const next = flow.admit(150, stays);
    expect(gone.holds).toBe(1);
    next();
  });

  it('refuses marks that cannot work', () => {
    expect(() => new FlowControl({ highWaterBytes: 0, lowWaterBytes: 0 })).toThrow(/highWaterBytes/);
    expect(() => new FlowControl({ highWaterBytes: 100, lowWaterBytes: 100 })).toThrow(/lowWaterBytes/);
    expect(() => new FlowControl({ highWaterBytes: 100, lowWaterBytes: -1 })).toThrow(/lowWaterBytes/);
    expect(() => new FlowControl({ highWaterBytes: 1.5, lowWaterBytes: 0 })).toThrow(/highWaterBytes/);
  });
});

describe('FlowControl in a cluster', () => {
  it('pauses agents while another broker is throttled, and resumes them only when neither it nor this one is', () => {
    const flow = new FlowControl({ highWaterBytes: 100, lowWaterBytes: 20 });
    const [a, b] = [conn(), conn()];
    const doneA = flow.admit(10, a);
    flow.setThrottledElsewhere(1);
    expect(a.held).toBe(true); // a publish of it is in the backlog
    const doneB = flow.admit(10, b);
    expect(b.held).toBe(true); // published while the other broker is throttled
    doneA();
    doneB();
    expect([a.held, b.held]).toEqual([true, true]); // this broker's backlog is empty, the other is still throttled
    flow.setThrottledElsewhere(2);
    flow.setThrottledElsewhere(0);
    expect([a.held, b.held]).toEqual([false, false]);
    expect(flow.stats()).toMatchObject({ otherBrokersThrottled: 0, throttleEpisodes: 0, publishersPaused: 0 });
  });

  it("keeps agents paused while this broker is above its own mark, though the other broker is free again", () => {
    const changes: boolean[] = [];
    const flow = new FlowControl({ highWaterBytes: 100, lowWaterBytes: 20, onThrottleChange: (t) => changes.push(t) });
    const a = conn();
    const done = flow.admit(150, a);
    expect(changes).toEqual([true]);
    flow.setThrottledElsewhere(1);
    flow.setThrottledElsewhere(0);
    expect(a.held).toBe(true);
    done();
    expect(a.held).toBe(false);
    expect(changes).toEqual([true, false]);
  });
});
