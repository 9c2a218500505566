/**
 * Counter → rate needs the previous raw value: the caller keeps one RateState (per agent or per
 * device) across polls and hands it to every poll. Keys name device, group, row and metric, so one
 * state can serve many devices. Values are kept as bigint so Counter64 deltas stay exact.
 */
export class RateState {
  private readonly last = new Map<string, { raw: bigint; ts: number }>();

  /**
   * Records `raw` at `ts` (ms) and returns the rate per second since the previous sample, or
   * undefined on the first sample, when time did not advance, or when the counter went backwards
   * (a reset, or a wrap of a counter without a known width). With `wrapAt` (2^32 for Counter32,
   * 2^64 for Counter64) a decrease is read as one wrap.
   */
  update(key: string, raw: bigint, ts: number, wrapAt?: bigint): number | undefined {
    const prev = this.last.get(key);
    this.last.set(key, { raw, ts });
    if (!prev || ts <= prev.ts) return undefined;
    let delta = raw - prev.raw;
    if (delta < 0n) {
      if (wrapAt === undefined) return undefined;
      delta += wrapAt;
      // a "wrap" of more than half the range is far likelier a reset (device reboot)
      if (delta < 0n || delta > wrapAt / 2n) return undefined;
    }
    return (Number(delta) * 1000) / (ts - prev.ts);
  }

  /** Drops samples older than `ts` (rows and devices that went away). */
  forgetBefore(ts: number): void {
    for (const [k, v] of this.last) if (v.ts < ts) this.last.delete(k);
  }

  get size(): number {
    return this.last.size;
  }
}
