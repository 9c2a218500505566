/**
 * Judges readings against a profile's health rules, and counts missed polls for "offline after N".
 * Pure functions over Readings: the agent turns findings into protocol events (and the collector
 * into tickets where `ticket` is set).
 */
import type { Reading } from '../../protocol/index.ts';
import type { ResolvedProfile } from '../loader.ts';
import { conditionsHold } from '../expr.ts';

export interface HealthFinding {
  rule: string;
  device: string;
  severity: 'info' | 'warning' | 'critical';
  messageKey: string;
  message: { 'zh-CN': string; en: string };
  measurement: string;
  tags?: Record<string, string>;
  ticket: boolean;
}

/** Every rule that holds on some reading (table rules: once per matching row). */
export function evaluateHealth(profile: ResolvedProfile, readings: readonly Reading[]): HealthFinding[] {
  const out: HealthFinding[] = [];
  for (const rule of profile.health.rules) {
    for (const r of readings) {
      if (r.measurement !== rule.measurement || conditionsHold(rule.conditions, r.metrics) !== true) continue;
      out.push({
        rule: rule.id,
        device: r.device,
        severity: rule.severity,
        messageKey: rule.message.key,
        message: { 'zh-CN': rule.message['zh-CN'], en: rule.message.en },
        measurement: r.measurement,
        ...(r.tags ? { tags: r.tags } : {}),
        ticket: rule.ticket ?? false,
      });
    }
  }
  return out;
}

/** Missed polls in a row per device; offline once the profile's offlineAfterMissedPolls is reached. */
export class MissedPolls {
  private readonly missed = new Map<string, number>();

  record(profile: ResolvedProfile, device: string, answered: boolean): { missed: number; offline: boolean } {
    const n = answered ? 0 : (this.missed.get(device) ?? 0) + 1;
    this.missed.set(device, n);
    return { missed: n, offline: n >= profile.health.offlineAfterMissedPolls };
  }

  forget(device: string): void {
    this.missed.delete(device);
  }
}
