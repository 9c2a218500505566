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
  /** Every sequence number up to here is applied (or declared lost): what is persisted. */
  lastSeq: number;
  /**
   * Applied numbers above `lastSeq`. Messages can arrive out of order (a broker delivering a
   * persistent session's stored messages while live ones flow), so a number above a hole is not
   * a reason to give up on the hole yet.
   */
  above: Set<number>;
  /** When the oldest hole below `above` was first seen (ms), for declaring it lost. */
  holeSince: number | undefined;
  /** device id → kind, of the devices the agent announced (retired ones left out). */
  devices: Map<string, string>;
  // not yet persisted:
  gapsDelta: number;
  duplicatesDelta: number;
  lastSeen: Date | undefined;
  sightings: Map<string, Date>;
}

export type SeqVerdict = 'new' | 'duplicate';

const NEGATIVE_CACHE_MS = 5_000;
/** A hole still open this long after later numbers arrived is declared lost (counted as a gap). */
export const HOLE_TIMEOUT_MS = 60_000;
/** Or when this many numbers above it are waiting. */
export const MAX_ABOVE = 10_000;

export class AgentTracker {
  private readonly agents = new Map<string, AgentState>();
  /** Recently looked-up unknown agents, so a flood from an unregistered id costs no queries. */
  private readonly unknown = new Map<string, number>();

  constructor(
    private readonly inventory: Inventory,
    private readonly holeTimeoutMs = HOLE_TIMEOUT_MS,
  ) {}

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
      above: new Set(),
      holeSince: undefined,
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
    // lastSeq -1: nothing applied yet, the first number seen starts the agent's series
    if (state.lastSeq >= 0 && (seq <= state.lastSeq || state.above.has(seq))) return 'duplicate';
    return 'new';
  }

  /** Records `seq` as applied; returns how many numbers were declared lost by this step. */
  static applied(state: AgentState, seq: number, at: Date, now = at.getTime()): number {
    state.lastSeen = at;
    if (state.lastSeq < 0) state.lastSeq = seq - 1;
    if (seq === state.lastSeq + 1) state.lastSeq = seq;
    else state.above.add(seq);
    AgentTracker.compact(state);
    if (state.above.size > 0) state.holeSince ??= now;
    return state.above.size > MAX_ABOVE ? AgentTracker.declareHoleLost(state) : 0;
  }

  private static compact(state: AgentState): void {
    while (state.above.delete(state.lastSeq + 1)) state.lastSeq++;
    if (state.above.size === 0) state.holeSince = undefined;
  }

  /** Gives up on the lowest hole: moves lastSeq past it, counts the numbers skipped. */
  private static declareHoleLost(state: AgentState): number {
    const next = Math.min(...state.above);
    const lost = next - state.lastSeq - 1;
    state.lastSeq = next - 1;
    state.gapsDelta += lost;
    AgentTracker.compact(state);
    state.holeSince = state.above.size > 0 ? Date.now() : undefined;
    return lost;
  }

  /** Declares lost the holes that stayed open too long; returns per agent what was declared. */
  expireHoles(now = Date.now()): { state: AgentState; lost: number }[] {
    const out: { state: AgentState; lost: number }[] = [];
    for (const s of this.agents.values()) {
      if (s.holeSince !== undefined && now - s.holeSince >= this.holeTimeoutMs) out.push({ state: s, lost: AgentTracker.declareHoleLost(s) });
    }
    return out;
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
    state.above.clear();
    state.holeSince = undefined;
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
