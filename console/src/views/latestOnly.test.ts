import { describe, expect, it } from 'vitest';
import { LatestOnly } from './latestOnly';

/** A request that settles when the test says so. */
function controlled() {
  const sent: { q: number; resolve: (r: string) => void; reject: (e: Error) => void }[] = [];
  let inFlight = 0, maxInFlight = 0;
  const send = (q: number) =>
    new Promise<string>((resolve, reject) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const done = <T,>(f: (x: T) => void) => (x: T) => {
        inFlight--;
        f(x);
      };
      sent.push({ q, resolve: done(resolve), reject: done(reject) });
    });
  return { sent, send, max: () => maxInFlight };
}
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('LatestOnly', () => {
  it('sends the first state at once, then only the latest of those pushed meanwhile, one at a time', async () => {
    const c = controlled();
    const results: [string, number, boolean][] = [];
    const busy: boolean[] = [];
    const l = new LatestOnly<number, string>({ send: c.send, onResult: (r, q, stale) => results.push([r, q, stale]), onError: () => {}, onBusy: (b) => busy.push(b) });
    for (let i = 1; i <= 50; i++) l.push(i); // a drag: fifty mouse moves while the first request runs
    expect(c.sent.map((s) => s.q)).toEqual([1]);
    c.sent[0]!.resolve('r1');
    await tick();
    expect(results).toEqual([['r1', 1, true]]); // an answer for an old state, a newer one waiting
    expect(c.sent.map((s) => s.q)).toEqual([1, 50]);
    l.push(51);
    l.push(52);
    c.sent[1]!.resolve('r50');
    await tick();
    c.sent[2]!.resolve('r52');
    await tick();
    expect(c.sent.map((s) => s.q)).toEqual([1, 50, 52]);
    expect(results.at(-1)).toEqual(['r52', 52, false]);
    expect(c.max()).toBe(1);
    expect(busy).toEqual([true, false]);
  });

  it('goes on after a failed request, and stops calling back once stopped', async () => {
    const c = controlled();
    const errors: number[] = [];
    const results: string[] = [];
    const l = new LatestOnly<number, string>({ send: c.send, onResult: (r) => results.push(r), onError: (_e, q) => errors.push(q) });
    l.push(1);
    l.push(2);
    c.sent[0]!.reject(new Error('400'));
    await tick();
    expect(errors).toEqual([1]);
    expect(c.sent.map((s) => s.q)).toEqual([1, 2]);
    l.stop();
    c.sent[1]!.resolve('late');
    l.push(3);
    await tick();
    expect(results).toEqual([]);
    expect(c.sent).toHaveLength(2);
  });
});
