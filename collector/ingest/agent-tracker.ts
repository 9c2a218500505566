/**
 * Per-agent ingest state kept in memory on the hot path and written to the inventory in batches:
 * the highest applied sequence number (which makes QoS 1 redelivery and queue replays exactly
 * once), gap and duplicate counts, last-seen time, the devices each agent has announced, and the
 * county of its school (a tag on every line).
 */
import type { Inventory } from '../store/index.ts';

export interface AgentState {
  schoolCode: string;
  agentId: string;
  countyCode: string | undefined;
  lastSeq: number;
  /** device id → kind, of the devices the agent announced (retired ones left out). */
  devices: Map<string, string>;
  // not yet persisted:
  gapsDelta: number;
  duplicatesDelta: number;
  lastSeen: Date | undefined;
  sightings: Map<string, Date>;
}

export type SeqVerdict = { kind: 'new'; gap: number } | { kind: 'duplicate' };

const NEGATIVE_CACHE_MS = 5_000;

export class AgentTracker {
  private readonly agents = new Map<string, AgentState>();
  /** Recently looked-up unknown agents, so a flood from an unregistered id costs no queries. */
  private readonly unknown = new Map<string, number>();

  constructor(private readonly inventory: Inventory) {}

  private static key(school: string, agent: string): string {
    return `${school}/${agent}`;
  }

  /** The agent's state, loading it from the inventory on first sight; null when not registered. */
  async get(schoolCode: string, agentId: string): Promise<AgentState | null> {
    const key = AgentTracker.key(schoolCode, agentId);
    const hit = this.agents.get(key);
    if (hit) return hit;
    const missAt = this.unknown.get(key);
    if (missAt !== undefined && Date.now() - missAt < NEGATIVE_CACHE_MS) return null;
    const agent = await this.inventory.getAgent(schoolCode, agentId);
    if (!agent) {
      this.unknown.set(key, Date.now());
      if (this.unknown.size > 10_000) this.unknown.clear();
      return null;
    }
    this.unknown.delete(key);
    const [school, devices] = await Promise.all([this.inventory.getSchool(schoolCode), this.inventory.listDevices(schoolCode, { agentId })]);
    const state: AgentState = {
      schoolCode,
      agentId,
      countyCode: school?.countyCode ?? undefined,
      lastSeq: agent.lastSeq,
      devices: new Map(devices.filter((d) => d.state !== 'retired').map((d) => [d.deviceId, d.kind])),
      gapsDelta: 0,
      duplicatesDelta: 0,
      lastSeen: undefined,
      sightings: new Map(),
    };
    this.agents.set(key, state);
    return state;
  }

  /** Classifies a sequenced message against what has been applied. Does not apply it. */
  static check(state: AgentState, seq: number): SeqVerdict {
    if (seq <= state.lastSeq) return { kind: 'duplicate' };
    return { kind: 'new', gap: state.lastSeq < 0 ? 0 : seq - state.lastSeq - 1 };
  }

  static applied(state: AgentState, seq: number, gap: number, at: Date): void {
    state.lastSeq = seq;
    state.gapsDelta += gap;
    state.lastSeen = at;
  }

  /** Writes what changed since the last call; on failure the deltas stay and are retried next time. */
  async persist(): Promise<void> {
    const rows = [];
    const sightings = [];
    const taken: AgentState[] = [];
    for (const s of this.agents.values()) {
      if (s.lastSeen === undefined && s.gapsDelta === 0 && s.duplicatesDelta === 0 && s.sightings.size === 0) continue;
      taken.push(s);
      if (s.lastSeen !== undefined || s.gapsDelta !== 0 || s.duplicatesDelta !== 0) {
        rows.push({
          schoolCode: s.schoolCode,
          agentId: s.agentId,
          lastSeq: s.lastSeq,
          seqGapsDelta: s.gapsDelta,
          duplicatesDelta: s.duplicatesDelta,
          lastSeen: s.lastSeen ?? new Date(0),
        });
      }
      for (const [deviceId, seenAt] of s.sightings) sightings.push({ schoolCode: s.schoolCode, agentId: s.agentId, deviceId, seenAt });
    }
    if (taken.length === 0) return;
    const snapshot = taken.map((s) => ({ s, gaps: s.gapsDelta, dups: s.duplicatesDelta, seen: s.lastSeen, sightings: new Map(s.sightings) }));
    if (rows.length) await this.inventory.saveAgentProgress(rows);
    if (sightings.length) await this.inventory.touchDevices(sightings);
    for (const { s, gaps, dups, seen, sightings: done } of snapshot) {
      s.gapsDelta -= gaps;
      s.duplicatesDelta -= dups;
      if (s.lastSeen === seen) s.lastSeen = undefined;
      for (const [id, at] of done) if (s.sightings.get(id) === at) s.sightings.delete(id);
    }
  }

  /** The agent was reset (wiped data dir): accept its numbering from the start again. */
  async reset(state: AgentState): Promise<void> {
    await this.inventory.resetAgentSequence(state.schoolCode, state.agentId, 0);
    state.lastSeq = 0;
  }

  forget(schoolCode: string, agentId: string): void {
    this.agents.delete(AgentTracker.key(schoolCode, agentId));
  }

  /**
   * Drop cached device lists (after enrollment decisions) so they are reloaded; sequence state is
   * kept, it is only ever moved by ingest itself.
   */
  async refreshDevices(): Promise<void> {
    for (const s of this.agents.values()) {
      const devices = await this.inventory.listDevices(s.schoolCode, { agentId: s.agentId });
      s.devices = new Map(devices.filter((d) => d.state !== 'retired').map((d) => [d.deviceId, d.kind]));
    }
  }
}
