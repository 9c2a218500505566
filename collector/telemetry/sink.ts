/** Where the collector's telemetry lines (InfluxDB line protocol) go: InfluxDB, or files for the demo. */

export interface TelemetrySinkStats {
  /** Lines the destination accepted. */
  linesWritten: number;
  /** Lines the destination refused (bad line, field-type conflict, …) or that were given up on; never retried. */
  linesRejected: number;
  /** Lines accepted by `write()` and not yet written or rejected. */
  linesBuffered: number;
  batchesWritten: number;
  retries: number;
  lastError?: string;
  /** Unix ms of the last successful write. */
  lastWriteAt?: number;
}

export interface TelemetrySink {
  /**
   * Resolves once the lines are in the sink's buffer: it waits while the buffer is full
   * (back-pressure) and rejects after the sink's maximum wait; nothing is dropped silently.
   */
  write(lines: string[]): Promise<void>;
  /** Resolves when everything written before the call is stored or definitively rejected. */
  flush(): Promise<void>;
  /** Flushes, then refuses further writes. */
  close(): Promise<void>;
  stats(): TelemetrySinkStats;
  ping(): Promise<boolean>;
  /** One line for logs and the demo: where the data goes. */
  describe(): string;
}

/** `write()` waited longer than the sink allows for buffer space. */
export class SinkBufferFullError extends Error {
  override name = 'SinkBufferFullError';
}

export class SinkClosedError extends Error {
  override name = 'SinkClosedError';
}
