import { describe, expect, it } from 'vitest';
import { LatestReadings } from './latest.ts';

const r = (device: string, ts: number, step: number) => ({ device, ts, measurement: 'camera_health', metrics: { step } });

describe('LatestReadings', () => {
  it('keeps the newest sample per device of tracked measurements only, and ages them out', () => {
    const l = new LatestReadings();
    const t = Date.UTC(2026, 10, 25, 8);
    expect(l.record('3715020001', 'gw-1', r('cam-1', t, 4))).toBeUndefined();
    expect(l.record('3715020001', 'gw-1', r('cam-1', t + 1000, 2))?.metrics.step).toBe(4);
    // an older reading replayed from the agent's queue does not replace a newer one
    l.record('3715020001', 'gw-1', r('cam-1', t - 5000, 4));
    expect(l.latest('3715020001', 'camera_health', 60_000, t + 2000)!.get('gw-1/cam-1')!.metrics.step).toBe(2);
    expect(l.latest('3715020001', 'camera_health', 500, t + 2000)!.size).toBe(0);
    expect(l.record('3715020001', 'gw-1', { device: 'sw-1', ts: t, measurement: 'interface', metrics: { inOctets: 1 } })).toBeUndefined();
    expect(l.latest('3715020002', 'camera_health', 60_000, t)).toBeUndefined();
  });
});
