/** Why the collector refused a message or a reading. Each has a counter in `/api/v1/health`. */
export const REJECT_REASONS = [
  'bad-topic', // not a campus/v1/{school}/{agent}/{channel} topic
  'too-large',
  'not-json',
  'wrong-version',
  'schema',
  'unknown-agent', // no such agent registered for that school
  'unknown-device', // reading for a device the agent never announced (per reading)
  'bad-reading', // a reading that cannot be stored (per reading)
  'sink-full', // telemetry store did not take the lines in time (per line)
  'store-error', // our own failure (inventory down…): the message is retried, not lost; counts attempts
] as const;
export type RejectReasonCode = (typeof REJECT_REASONS)[number];

export interface IngestCounters {
  messagesReceived: number;
  messagesAccepted: number;
  /** Sequenced messages at or below the agent's applied sequence number (QoS 1 redelivery, replay). */
  duplicates: number;
  /** Sequence numbers never received (the gap between two consecutive messages of an agent). */
  seqGaps: number;
  /** An agent came back with a lower sequence number than already applied (its data dir was wiped). */
  seqResets: number;
  readingsAccepted: number;
  linesWritten: number;
  rejected: Record<RejectReasonCode, number>;
}

export function newCounters(): IngestCounters {
  return {
    messagesReceived: 0,
    messagesAccepted: 0,
    duplicates: 0,
    seqGaps: 0,
    seqResets: 0,
    readingsAccepted: 0,
    linesWritten: 0,
    rejected: Object.fromEntries(REJECT_REASONS.map((r) => [r, 0])) as Record<RejectReasonCode, number>,
  };
}
