/**
 * ClusterThrottle's bookkeeping on its own: which brokers count as throttled, when an announcement
 * stops counting, and what it sends. The brokers' behaviour together is in cluster.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../tests/setup/wait.ts';
import { ClusterThrottle, FLOW_TOPIC_PREFIX } from './cluster-throttle.ts';

const say = (throttled: boolean) => JSON.stringify({ throttled });

function throttle(expireMs = 5_000, repeatMs = 1_000) {
  const sent: Array<{ topic: string; payload: string }> = [];
  const counts: number[] = [];
  const warnings: string[] = [];
  const t = new ClusterThrottle({
    brokerId: 'me',
    announce: (topic, payload) => sent.push({ topic, payload }),
    onElsewhereChange: (n) => counts.push(n),
    log: { warn: (_o, msg) => warnings.push(msg) },
    expireMs,
    repeatMs,
  });
  return { t, sent, counts, warnings };
}

describe('ClusterThrottle', () => {
  it('counts the other brokers that say they are throttled, ignores its own word, and forgets one that goes quiet', () => {
    const { t, counts } = throttle();
    t.received(`${FLOW_TOPIC_PREFIX}a`, say(true), 0);
    t.received(`${FLOW_TOPIC_PREFIX}b`, say(true), 100);
    t.received(`${FLOW_TOPIC_PREFIX}me`, say(true), 200);
    t.received(`${FLOW_TOPIC_PREFIX}a`, say(true), 4_000); // a repeats; b does not
    expect(counts).toEqual([1, 2]);
    t.received(`${FLOW_TOPIC_PREFIX}c`, say(false), 6_000); // b's word from 100 ran out at 5,100
    expect(counts).toEqual([1, 2, 1]);
    t.received(`${FLOW_TOPIC_PREFIX}a`, say(false), 6_100);
    expect(counts).toEqual([1, 2, 1, 0]);
    t.close();
  });

  it('lets a throttled broker that stops announcing go after expireMs, by its own timer', async () => {
    const { t, counts } = throttle(50);
    t.received(`${FLOW_TOPIC_PREFIX}gone`, say(true));
    expect(counts).toEqual([1]);
    await waitFor('the silent broker forgotten', () => (counts.at(-1) === 0 ? true : undefined), 10_000, 20);
    t.close();
  });

  it('ignores an announcement it does not understand, and says so once', () => {
    const { t, counts, warnings } = throttle();
    t.received(`${FLOW_TOPIC_PREFIX}x`, 'not json');
    t.received(`${FLOW_TOPIC_PREFIX}x`, JSON.stringify({ throttled: 'yes' }));
    expect(counts).toEqual([]);
    expect(warnings).toHaveLength(1);
    t.close();
  });

  it('announces its own state at once, repeats it while throttled, and says it is free when it closes', async () => {
    const { t, sent } = throttle(5_000, 10);
    t.localChanged(true);
    expect(sent[0]).toEqual({ topic: `${FLOW_TOPIC_PREFIX}me`, payload: say(true) });
    await waitFor('the announcement repeated', () => (sent.length >= 3 ? true : undefined), 10_000, 10);
    expect(new Set(sent.map((m) => m.payload))).toEqual(new Set([say(true)]));
    t.localChanged(false);
    expect(sent.at(-1)).toEqual({ topic: `${FLOW_TOPIC_PREFIX}me`, payload: say(false) });
    t.localChanged(true);
    t.close();
    expect(sent.at(-1)?.payload).toBe(say(false));
  });
});
