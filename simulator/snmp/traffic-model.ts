/**
 * Deterministic traffic of a simulated port: a function of (device, ifIndex, time) only, so a test
 * can compute what any counter must read at any moment, and two runs of the simulator agree.
 *
 * rate(t) = base · (1 + A·sin(2π(t − phase)/day)): a daily swell around a per-port base rate.
 * Counters are its integral since COUNTER_EPOCH, in closed form, so no state is kept.
 */
import { createHash } from 'node:crypto';

/** Counters start here (2025-01-01 UTC): keeps octet counts below 2^53 for years at gigabit rates. */
export const COUNTER_EPOCH_MS = Date.UTC(2025, 0, 1);
const DAY_S = 86_400;
const AMPLITUDE = 0.6;
/** peak at 10:00 China time (02:00 UTC); a sine peaks a quarter day after its zero */
const PHASE_S = 2 * 3600 - DAY_S / 4;

export interface PortModel {
  ifIndex: number;
  ifName: string;
  speedMbps: number;
  up: boolean;
  /** mean bytes per second in each direction */
  inBps: number;
  outBps: number;
  /** mean errors per hour */
  errorsPerHour: number;
}

/** A stable pseudo-random number in [0,1) from a string key. */
export function unitHash(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0) / 0x1_0000_0000;
}

/** Ports 1..n-1 are access ports at 1 Gbit/s (about one in six down); port n is the uplink. */
export function portModels(sysName: string, interfaces: number, uplinkMbps: number): PortModel[] {
  const ports: PortModel[] = [];
  for (let i = 1; i <= interfaces; i++) {
    const uplink = i === interfaces;
    const speedMbps = uplink ? uplinkMbps : 1000;
    const up = uplink || unitHash(`${sysName}/${i}/up`) > 1 / 6;
    // mean utilisation 2–30 % of line rate (uplinks 10–40 %), bytes per second
    const util = uplink ? 0.1 + 0.3 * unitHash(`${sysName}/${i}/u`) : 0.02 + 0.28 * unitHash(`${sysName}/${i}/u`);
    const lineBps = (speedMbps * 1_000_000) / 8;
    ports.push({
      ifIndex: i,
      ifName: uplink ? `uplink${i}` : `ge-0/0/${i}`,
      speedMbps,
      up,
      inBps: up ? lineBps * util : 0,
      outBps: up ? lineBps * util * (0.2 + 0.6 * unitHash(`${sysName}/${i}/o`)) : 0,
      errorsPerHour: up ? Math.floor(5 * unitHash(`${sysName}/${i}/e`)) : 0,
    });
  }
  return ports;
}

/** ∫ rate dt from COUNTER_EPOCH to tMs for a port whose mean rate is `meanPerSec`. */
export function integratedCount(meanPerSec: number, tMs: number): number {
  const t = Math.max(0, (tMs - COUNTER_EPOCH_MS) / 1000);
  const w = (2 * Math.PI) / DAY_S;
  const integral = t - (AMPLITUDE / w) * (Math.cos(w * (t - PHASE_S)) - Math.cos(w * -PHASE_S));
  return Math.floor(meanPerSec * integral);
}

export function portCounters(p: PortModel, tMs: number): { inOctets: number; outOctets: number; inErrors: number; outErrors: number } {
  const errs = integratedCount(p.errorsPerHour / 3600, tMs);
  return {
    inOctets: integratedCount(p.inBps, tMs),
    outOctets: integratedCount(p.outBps, tMs),
    // Counter32 wraps
    inErrors: errs % 0x1_0000_0000,
    outErrors: Math.floor(errs / 3) % 0x1_0000_0000,
  };
}
