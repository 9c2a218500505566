/**
 * Flow control across the brokers of a cluster (docs/decisions/0011). A broker's backlog counts
 * what its own subscribers (the collector) have not taken yet, but in a cluster most of that comes
 * from agents on other brokers, which it cannot pause. So each broker announces on
 * `$SYS/campus/flow/<broker id>` when its backlog crosses the high-water mark and when it drains,
 * through the same Redis routing as every publish, and pauses its own publishing agents while any
 * other broker is throttled.
 *
 * A broker that stops (or loses Redis) while throttled must not hold the others forever: it repeats
 * its announcement every `repeatMs` while throttled, and the others forget one not repeated within
 * `expireMs`.
 */

export const FLOW_TOPIC_PREFIX = '$SYS/campus/flow/';
export const FLOW_TOPIC_FILTER = `${FLOW_TOPIC_PREFIX}+`;

export interface ClusterThrottleOptions {
  /** This broker's id (aedes' `broker.id`), to tell its own announcements from the others'. */
  brokerId: string;
  /** Sends an announcement to every broker of the cluster (this one included). */
  announce(topic: string, payload: string): void;
  /** Called when the number of other brokers that are throttled changes. */
  onElsewhereChange(brokers: number): void;
  log?: { warn(obj: object, msg: string): void };
  repeatMs?: number;
  expireMs?: number;
}

interface Announcement {
  throttled: boolean;
}

export class ClusterThrottle {
  /** Other brokers that are throttled, with when their last announcement stops counting. */
  private readonly others = new Map<string, number>();
  private reported = 0;
  private repeat: NodeJS.Timeout | undefined;
  private expiry: NodeJS.Timeout | undefined;
  private refused = 0;
  private readonly repeatMs: number;
  private readonly expireMs: number;

  constructor(private readonly o: ClusterThrottleOptions) {
    this.repeatMs = o.repeatMs ?? 1_000;
    this.expireMs = o.expireMs ?? 5_000;
  }

  /** This broker's own backlog crossed its high-water mark (true) or drained (false). */
  localChanged(throttled: boolean): void {
    clearInterval(this.repeat);
    this.repeat = undefined;
    this.send(throttled);
    if (throttled) {
      this.repeat = setInterval(() => this.send(true), this.repeatMs);
      this.repeat.unref();
    }
  }

  /** An announcement from the routing (any broker's, this one's included). */
  received(topic: string, payload: Buffer | string, now = Date.now()): void {
    const from = topic.slice(FLOW_TOPIC_PREFIX.length);
    if (from === this.o.brokerId) return;
    let a: Announcement;
    try {
      a = JSON.parse(payload.toString()) as Announcement;
      if (typeof a?.throttled !== 'boolean' || !from) throw new Error('expected {"throttled": boolean}');
    } catch (err) {
      // Only brokers can publish under $SYS (the ACL refuses clients), so this is a broker of another version.
      if (this.refused++ === 0) this.o.log?.warn({ topic, err: (err as Error).message }, 'flow announcement from another broker not understood; ignored');
      return;
    }
    if (a.throttled) this.others.set(from, now + this.expireMs);
    else this.others.delete(from);
    this.update(now);
  }

  /** Stops repeating and forgets the others; says once that this broker is no longer throttled. */
  close(): void {
    if (this.repeat) this.send(false);
    clearInterval(this.repeat);
    clearTimeout(this.expiry);
    this.repeat = this.expiry = undefined;
    this.others.clear();
  }

  private send(throttled: boolean): void {
    this.o.announce(`${FLOW_TOPIC_PREFIX}${this.o.brokerId}`, JSON.stringify({ throttled } satisfies Announcement));
  }

  private update(now: number): void {
    for (const [id, until] of this.others) if (until <= now) this.others.delete(id);
    if (this.others.size !== this.reported) {
      this.reported = this.others.size;
      this.o.onElsewhereChange(this.reported);
    }
    clearTimeout(this.expiry);
    this.expiry = undefined;
    if (this.others.size > 0) {
      const next = Math.min(...this.others.values());
      this.expiry = setTimeout(() => this.update(Date.now()), Math.max(0, next - now) + 1);
      this.expiry.unref();
    }
  }
}
