/**
 * Where `SchoolCoverage` keeps its cameras' views (packed, `packed-rings.ts`). It is a cache: a view
 * is a pure function of the camera, the plan's obstacles and the level, so one dropped is computed
 * again, identical, when a key area next needs it; the coverage figures are kept per key area, apart
 * from it. With a byte bound, shared by every school of a collector, the views used least recently
 * are dropped first: the views of a whole city then cost at most the bound, and a school's own
 * memory is its cameras and results. Without a bound every view computed is kept (one school at a
 * time: tests, benches, one-off computations).
 */
import type { PackedRings } from './packed-rings.ts';
import { NO_RINGS } from './packed-rings.ts';

/** One camera geometry's views, one slot per density level (`DENSITY_LEVELS` order). */
export type ViewSlots = (PackedRings | undefined)[];

/**
 * Bytes a cached view costs besides its coordinates: the typed array, its buffer and backing store,
 * and this cache's bookkeeping (about 200, measured over 16,000 views of synthetic schools).
 */
export const VIEW_OVERHEAD_BYTES = 200;

interface Held {
  slots: ViewSlots;
  index: number;
}

export class ViewCache {
  /** What the views held cost (bounded caches only; see VIEW_OVERHEAD_BYTES). */
  bytes = 0;
  /** Views dropped to stay within the bound since construction. */
  dropped = 0;
  /** Oldest use first (a Map iterates in insertion order; a use moves the view to the end). */
  private readonly order = new Map<PackedRings, Held>();

  constructor(readonly maxBytes = Infinity) {
    if (!(maxBytes >= 0)) throw new RangeError(`a view cache needs a bound of 0 bytes or more, not ${maxBytes}`);
  }

  get views(): number {
    return this.order.size;
  }

  /** The view in a slot, if still held; counts as a use. */
  get(slots: ViewSlots, index: number): PackedRings | undefined {
    const v = slots[index];
    if (v && this.maxBytes !== Infinity) {
      const held = this.order.get(v);
      if (held) {
        this.order.delete(v);
        this.order.set(v, held);
      }
    }
    return v;
  }

  /** Keeps a view just computed, dropping the least recently used ones beyond the bound (possibly this one). */
  put(slots: ViewSlots, index: number, v: PackedRings): void {
    slots[index] = v;
    if (this.maxBytes === Infinity || v === NO_RINGS) return;
    this.order.set(v, { slots, index });
    this.bytes += v.byteLength + VIEW_OVERHEAD_BYTES;
    for (const [old, held] of this.order) {
      if (this.bytes <= this.maxBytes) break;
      this.order.delete(old);
      this.bytes -= old.byteLength + VIEW_OVERHEAD_BYTES;
      if (held.slots[held.index] === old) held.slots[held.index] = undefined;
      this.dropped++;
    }
  }
}
