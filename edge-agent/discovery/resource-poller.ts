/**
 * Polls one Modbus or HTTP device by its profile: the groups that are due (all of them for
 * poll-now) become the poller's point/metric specs (`toModbusPoints`, `toHttpMetrics`), the
 * answers go through the existing pollers (modbus/poller.ts, http/poller.ts), and the profile's
 * health rules become events. A device no profile knows is only checked for life (a TCP connect):
 * `device {reachable}`.
 */
import * as net from 'node:net';
import type { Reading } from '../../protocol/index.ts';
import type { ResolvedProfile } from '../../device-profiles/loader.ts';
import type { PollGroup } from '../../device-profiles/schema.ts';
import { dueGroups } from '../../device-profiles/engine/snmp.ts';
import type { HttpMetricSpec } from '../http/poller.ts';
import type { ModbusPoint } from '../modbus/poller.ts';
import { HealthTracker, type DevicePollResult, type SourcePoller } from './health-tracker.ts';

export interface ResourceTarget {
  id: string;
  host: string;
  port: number;
}

type PollFn = (groups: PollGroup[], target: ResourceTarget) => Promise<{ reachable: boolean; readings: Reading[]; skipped: number; errors: string[] }>;

/** A profile's Modbus resources of these groups as the Modbus poller's points. */
export function toModbusPoints(groups: readonly PollGroup[]): ModbusPoint[] {
  const out: ModbusPoint[] = [];
  for (const g of groups) {
    for (const r of g.resources) {
      if (!r.modbus || r.tag) continue;
      out.push({ ...r.modbus, measurement: g.measurement, metric: r.metric, ...pick(r) });
    }
  }
  return out;
}

/** A profile's HTTP resources of these groups as the HTTP poller's metric specs. */
export function toHttpMetrics(groups: readonly PollGroup[]): HttpMetricSpec[] {
  const out: HttpMetricSpec[] = [];
  for (const g of groups) {
    for (const r of g.resources) {
      if (!r.http || r.tag) continue;
      out.push({ ...r.http, measurement: g.measurement, metric: r.metric, ...pick(r) });
    }
  }
  return out;
}

function pick(r: PollGroup['resources'][number]): Pick<ModbusPoint, 'scale' | 'offset' | 'enum' | 'min' | 'max'> {
  return {
    ...(r.scale !== undefined ? { scale: r.scale } : {}),
    ...(r.offset !== undefined ? { offset: r.offset } : {}),
    ...(r.enum !== undefined ? { enum: r.enum } : {}),
    ...(r.min !== undefined ? { min: r.min } : {}),
    ...(r.max !== undefined ? { max: r.max } : {}),
  };
}

/** TCP connect to host:port: does anything listen there. */
export function tcpAlive(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

export class ResourcePoller implements SourcePoller {
  private readonly health = new HealthTracker();
  private readonly lastPolled = new Map<string, number>();

  constructor(
    public target: ResourceTarget,
    public profile: ResolvedProfile | undefined,
    private readonly run: PollFn,
    private readonly opts: { timeoutMs: number; allow: (host: string) => boolean },
  ) {}

  /** The device moved, or another profile recognises it now. */
  follow(e: { host: string; port: number }, profile: ResolvedProfile | undefined): void {
    this.target = { id: this.target.id, host: e.host, port: e.port };
    this.profile = profile;
  }

  async poll(o: { all: boolean; now?: () => number }): Promise<DevicePollResult> {
    const now = o.now ?? Date.now;
    const id = this.target.id;
    const result: DevicePollResult = { reachable: false, readings: [], skipped: 0, errors: [], fingerprintChanged: false, events: [] };
    if (!this.opts.allow(this.target.host)) {
      result.errors.push(`${this.target.host} is not allowed by discovery.allow; nothing was sent`);
      result.readings.push({ device: id, ts: now(), measurement: 'device', metrics: { reachable: false } });
      return result;
    }
    const profile = this.profile;
    if (!profile) {
      result.reachable = await tcpAlive(this.target.host, this.target.port, this.opts.timeoutMs);
      result.readings.push({ device: id, ts: now(), measurement: 'device', metrics: { reachable: result.reachable } });
      return result;
    }
    const t0 = now();
    const names = new Set(o.all ? profile.poll.map((g) => g.name) : dueGroups(profile, this.lastPolled, t0));
    // nothing due: nothing to say, and nothing to count as a missed poll either
    if (names.size === 0) return { ...result, reachable: true };
    for (const g of names) this.lastPolled.set(g, t0);
    const groups = profile.poll.filter((g) => names.has(g.name));
    try {
      const r = await this.run(groups, this.target);
      Object.assign(result, { reachable: r.reachable, readings: r.readings, skipped: r.skipped, errors: r.errors });
    } catch (err) {
      result.errors.push(`poll failed: ${(err as Error).message}`);
      result.readings.push({ device: id, ts: now(), measurement: 'device', metrics: { reachable: false } });
    }
    const judged = new Set(['device']);
    if (result.reachable) for (const g of groups) judged.add(g.measurement);
    this.health.judge(profile, id, result, judged);
    return result;
  }
}
