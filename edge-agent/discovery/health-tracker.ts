/**
 * Health rules and missed polls of one device, turned into events: a rule that starts holding is
 * an event once, and once more ("cleared", info) when it stops; a rule is only judged on polls that
 * read its measurement (a silent device does not "clear" a port-down). Shared by every poller:
 * SNMP, Modbus, HTTP and cameras.
 */
import type { Reading } from '../../protocol/index.ts';
import type { ResolvedProfile } from '../../device-profiles/loader.ts';
import { evaluateHealth, MissedPolls, type HealthFinding } from '../../device-profiles/engine/health.ts';

/** Health events one device may raise in one poll (a 48-port switch with every port down: 48). */
const MAX_EVENTS_PER_POLL = 100;

export interface HealthEvent {
  type: string;
  severity: 'info' | 'warning' | 'critical';
  message: string;
  data: Record<string, string | number | boolean>;
}

/** What every device poller answers with, whatever the protocol. */
export interface DevicePollResult {
  reachable: boolean;
  readings: Reading[];
  skipped: number;
  errors: string[];
  /** the device said something new about itself (first answer, other fingerprint) */
  fingerprintChanged: boolean;
  events: HealthEvent[];
}

/** A poller of one device; never throws for anything the device does. */
export interface SourcePoller {
  poll(opts: { all: boolean; now?: () => number }): Promise<DevicePollResult>;
}

const findingKey = (f: { rule: string; measurement: string; tags?: Record<string, string> }): string =>
  `${f.rule}|${f.measurement}|${Object.entries(f.tags ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join(',')}`;

function eventOf(f: HealthFinding, cleared: boolean): HealthEvent {
  const where = Object.entries(f.tags ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  const data: Record<string, string | number | boolean> = {
    state: cleared ? 'cleared' : 'active',
    rule: f.rule,
    messageKey: f.messageKey,
    'message.zh-CN': f.message['zh-CN'],
    measurement: f.measurement,
    ticket: f.ticket,
  };
  if (cleared) data.severityWhenActive = f.severity;
  for (const [k, v] of Object.entries(f.tags ?? {}).slice(0, 16)) data[`tag.${k}`.slice(0, 64)] = v;
  return {
    type: f.rule,
    severity: cleared ? 'info' : f.severity,
    message: `${f.message.en}${where ? ` (${where})` : ''}${cleared ? ': cleared' : ''}`.slice(0, 1000),
    data,
  };
}

export class HealthTracker {
  private readonly missed = new MissedPolls();
  private readonly active = new Map<string, HealthFinding>();
  private offline = false;

  /** Turns rule findings and missed polls into start/clear events, set on `result.events`. */
  judge(profile: ResolvedProfile, device: string, result: Pick<DevicePollResult, 'reachable' | 'readings' | 'errors' | 'events'>, judged: ReadonlySet<string>): void {
    const events: HealthEvent[] = [];
    const holding = new Map<string, HealthFinding>();
    for (const f of evaluateHealth(profile, result.readings)) holding.set(findingKey(f), f);
    for (const [k, f] of this.active) {
      if (holding.has(k) || !judged.has(f.measurement)) continue;
      this.active.delete(k);
      events.push(eventOf(f, true));
    }
    let held = 0;
    for (const [k, f] of holding) {
      if (this.active.has(k)) continue;
      // past the cap a finding is not recorded as active either: it is reported on a later poll
      if (events.length >= MAX_EVENTS_PER_POLL) {
        held++;
        continue;
      }
      this.active.set(k, f);
      events.push(eventOf(f, false));
    }
    if (held > 0) result.errors.push(`${held} more health findings held back for the next polls`);
    const { missed, offline } = this.missed.record(profile, device, result.reachable);
    if (offline !== this.offline) {
      this.offline = offline;
      const n = profile.health.offlineAfterMissedPolls;
      events.push({
        type: 'offline',
        severity: offline ? 'critical' : 'info',
        message: offline ? `No answer to ${missed} polls in a row (offline after ${n})` : 'Answers again: cleared',
        data: { state: offline ? 'active' : 'cleared', rule: 'offline', missedPolls: missed, offlineAfterMissedPolls: n },
      });
    }
    result.events.push(...events);
  }
}
