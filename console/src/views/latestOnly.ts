/**
 * At most one request in flight, the latest state wins: while a request runs, newer states replace
 * one another and only the last is sent when it returns. A drag that changes the state on every
 * mouse move so sends as fast as the server answers, never more (no request storm), and the last
 * answer is always for the last state.
 */
export interface LatestOnlyHandlers<Q, R> {
  send: (q: Q) => Promise<R>;
  /** an answer, and whether a newer state is already waiting to be sent */
  onResult: (r: R, q: Q, stale: boolean) => void;
  onError: (err: unknown, q: Q, stale: boolean) => void;
  /** true from the first push until the answer for the latest state is in */
  onBusy?: (busy: boolean) => void;
}

export class LatestOnly<Q, R> {
  private waiting: { q: Q } | null = null;
  private running = false;
  private stopped = false;

  constructor(private readonly h: LatestOnlyHandlers<Q, R>) {}

  push(q: Q): void {
    if (this.stopped) return;
    this.waiting = { q };
    if (!this.running) void this.pump();
  }

  /** No more sends or callbacks (the component is gone). */
  stop(): void {
    this.stopped = true;
    this.waiting = null;
  }

  private async pump(): Promise<void> {
    this.running = true;
    this.h.onBusy?.(true);
    while (this.waiting && !this.stopped) {
      const { q } = this.waiting;
      this.waiting = null;
      try {
        const r = await this.h.send(q);
        if (!this.stopped) this.h.onResult(r, q, this.waiting !== null);
      } catch (err) {
        if (!this.stopped) this.h.onError(err, q, this.waiting !== null);
      }
    }
    this.running = false;
    if (!this.stopped) this.h.onBusy?.(false);
  }
}
