/** The logger shape the collector's parts take (pino's), and a throttle for per-message warnings. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Logs the first occurrence of a key, then at most once per interval with how many were
 * suppressed: a flood of bad messages must not become a flood of log lines.
 */
export class ThrottledLog {
  private readonly seen = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
  ) {}

  warn(key: string, obj: object, msg: string): void {
    const now = Date.now();
    const s = this.seen.get(key);
    if (s && now - s.at < this.intervalMs) {
      s.suppressed++;
      return;
    }
    this.logger.warn(s?.suppressed ? { ...obj, suppressed: s.suppressed } : obj, msg);
    this.seen.set(key, { at: now, suppressed: 0 });
    if (this.seen.size > 5_000) this.seen.clear();
  }
}
