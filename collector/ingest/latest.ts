/**
 * The latest reading of a few measurements per device, kept by ingest as they arrive: the
 * compliance service reads camera health and reachability from here first (no round trip, and it
 * works when telemetry goes to files instead of InfluxDB), and a change of a camera's health step
 * triggers the recomputation of that school's coverage. Bounded: only the listed measurements,
 * one entry per device.
 */
import type { Reading } from '../../protocol/index.ts';

export const TRACKED_MEASUREMENTS = ['camera_health', 'device'] as const;
export type TrackedMeasurement = (typeof TRACKED_MEASUREMENTS)[number];

export interface LatestSample {
  ts: number;
  metrics: Reading['metrics'];
}

export class LatestReadings {
  /** school → measurement → `agent/device` → sample */
  private readonly bySchool = new Map<string, Map<TrackedMeasurement, Map<string, LatestSample>>>();

  static tracks(measurement: string): measurement is TrackedMeasurement {
    return (TRACKED_MEASUREMENTS as readonly string[]).includes(measurement);
  }

  /** Keeps the reading if it is newer than what is held; returns what it replaced. */
  record(school: string, agent: string, r: Reading): LatestSample | undefined {
    if (!LatestReadings.tracks(r.measurement)) return undefined;
    let m = this.bySchool.get(school);
    if (!m) this.bySchool.set(school, (m = new Map()));
    let devices = m.get(r.measurement);
    if (!devices) m.set(r.measurement, (devices = new Map()));
    const key = `${agent}/${r.device}`;
    const prev = devices.get(key);
    if (prev && prev.ts > r.ts) return prev; // an older reading replayed from a queue
    devices.set(key, { ts: r.ts, metrics: r.metrics });
    return prev;
  }

  /** Samples of one school not older than `maxAgeMs`, keyed `agent/device`; undefined when none held. */
  latest(school: string, measurement: TrackedMeasurement, maxAgeMs: number, now = Date.now()): Map<string, LatestSample> | undefined {
    const devices = this.bySchool.get(school)?.get(measurement);
    if (!devices || devices.size === 0) return undefined;
    return new Map([...devices].filter(([, s]) => now - s.ts <= maxAgeMs));
  }
}
