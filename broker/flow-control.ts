/**
 * Flow control between publishing agents and slow subscribers. aedes acknowledges a QoS 1 publish
 * (PUBACK) before routing it, so without this an agent's in-flight limit bounds nothing: whatever
 * the subscribers (the collector) have not taken yet piles up in the broker's memory.
 *
 * The measure is the backlog in transit: bytes of agents' publishes from the moment aedes routes
 * them until every subscriber's connection has taken them (written and flushed to the kernel, or
 * drained). It covers aedes' routing queue, persistence writes (Redis round trips included) and the
 * subscribers' socket buffers. When it goes above the high-water mark, every agent with a publish
 * in that backlog, and then every agent that publishes until it has drained, has its socket held:
 * nothing more is read from it, so its PUBACKs wait and its own in-flight limit and disk queue take
 * the backlog. At or below the low-water mark all held agents are released together.
 *
 * What this does not cover: messages queued for a persistent session whose client is offline
 * (aedes stores them in its persistence and they leave the backlog at once). In a cluster (several
 * brokers on one Redis) each broker counts only its own subscribers' backlog; while any broker is
 * above its mark, every broker pauses its publishing agents too (`setThrottledElsewhere`, told by
 * cluster-throttle.ts; docs/decisions/0011).
 */

/** A connection whose input can be held; PacketSizeGuard is one. */
export interface Holdable {
  holdInput(): void;
  releaseInput(): void;
}

export interface FlowControlOptions {
  /** Backlog in bytes above which publishing agents are paused. */
  highWaterBytes: number;
  /** Backlog in bytes at or below which paused agents are resumed; less than highWaterBytes. */
  lowWaterBytes: number;
  /** Called when this broker's own backlog crosses the high-water mark (true) or drains to the low one (false). */
  onThrottleChange?: (throttled: boolean) => void;
}

export interface FlowControlStats {
  /** Bytes of agents' publishes routed but not yet taken by every subscriber's connection. */
  backlogBytes: number;
  /** Highest backlogBytes seen since start. */
  backlogPeakBytes: number;
  /** Agent connections whose input is held now. */
  publishersPaused: number;
  /** Times an agent connection was paused, since start. */
  pauses: number;
  /** Times the backlog went above the high-water mark, since start. */
  throttleEpisodes: number;
  /** Other brokers of the cluster above their mark now: while more than 0, agents here are paused as they publish. */
  otherBrokersThrottled: number;
}

export const DEFAULT_HIGH_WATER_BYTES = 8 * 1024 * 1024;

export class FlowControl {
  private backlog = 0;
  private peak = 0;
  private pauses = 0;
  private episodes = 0;
  /** Between going above the high-water mark and coming back to the low-water mark. */
  private throttledHere = false;
  /** Other brokers of the cluster that are throttled now. */
  private othersThrottled = 0;
  private readonly held = new Set<Holdable>();
  /** Publishes of each connection still in the backlog. */
  private readonly inTransit = new Map<Holdable, number>();

  constructor(private readonly opts: FlowControlOptions) {
    if (!Number.isSafeInteger(opts.highWaterBytes) || opts.highWaterBytes <= 0) throw new Error(`highWaterBytes must be a positive integer, got ${opts.highWaterBytes}`);
    if (!Number.isSafeInteger(opts.lowWaterBytes) || opts.lowWaterBytes < 0 || opts.lowWaterBytes >= opts.highWaterBytes) {
      throw new Error(`lowWaterBytes must be an integer from 0 to below highWaterBytes (${opts.highWaterBytes}), got ${opts.lowWaterBytes}`);
    }
  }

  /**
   * Counts `bytes` a publisher handed in; returns the function to call once every subscriber has
   * taken them (extra calls are ignored). While throttled, `source` is paused: it may finish the
   * packets already read, but nothing more is read from it until the backlog has drained.
   */
  admit(bytes: number, source: Holdable | undefined): () => void {
    this.backlog += bytes;
    if (this.backlog > this.peak) this.peak = this.backlog;
    if (source) this.inTransit.set(source, (this.inTransit.get(source) ?? 0) + 1);
    if (!this.throttledHere && this.backlog > this.opts.highWaterBytes) {
      this.throttledHere = true;
      this.episodes++;
      // Not only the one that crossed the mark: an agent whose publish is stuck in the backlog may
      // not publish again before it drains (aedes reads on once its earlier packets are routed).
      for (const s of this.inTransit.keys()) this.hold(s);
      this.opts.onThrottleChange?.(true);
    } else if ((this.throttledHere || this.othersThrottled > 0) && source) {
      this.hold(source);
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.backlog -= bytes;
      if (source) {
        const left = (this.inTransit.get(source) ?? 0) - 1;
        if (left > 0) this.inTransit.set(source, left);
        else this.inTransit.delete(source);
      }
      if (this.throttledHere && this.backlog <= this.opts.lowWaterBytes) {
        this.throttledHere = false;
        if (this.othersThrottled === 0) this.release();
        this.opts.onThrottleChange?.(false);
      }
    };
  }

  /**
   * How many other brokers of the cluster are above their mark: their subscribers are slow, and
   * agents here feed them too. From 0 to more, agents with a publish in this broker's backlog are
   * paused, others when they publish; all resume once neither this broker nor any other is throttled.
   */
  setThrottledElsewhere(brokers: number): void {
    const was = this.othersThrottled;
    this.othersThrottled = brokers;
    if (was === 0 && brokers > 0) for (const s of this.inTransit.keys()) this.hold(s);
    else if (was > 0 && brokers === 0 && !this.throttledHere) this.release();
  }

  /** A connection that closed: nothing to resume, and no reference kept. */
  forget(source: Holdable): void {
    this.held.delete(source);
    this.inTransit.delete(source);
  }

  stats(): FlowControlStats {
    return { backlogBytes: this.backlog, backlogPeakBytes: this.peak, publishersPaused: this.held.size, pauses: this.pauses, throttleEpisodes: this.episodes, otherBrokersThrottled: this.othersThrottled };
  }

  private hold(source: Holdable): void {
    if (this.held.has(source)) return;
    this.held.add(source);
    this.pauses++;
    source.holdInput();
  }

  private release(): void {
    const held = [...this.held];
    this.held.clear();
    for (const s of held) s.releaseInput();
  }
}
