/**
 * Message schemas, written once with TypeBox: the TypeScript types and the runtime validators both
 * come from these definitions, and `docs/protocol.md` shows an example of each.
 *
 * Sequence numbers: every message an agent *produces* on a data channel (telemetry, event,
 * discovery, cmd/ack) takes the next number of a per-agent counter that survives restarts. The
 * collector stores the highest number it has applied and drops anything at or below it, which is
 * what turns QoS 1 (at least once) plus the agent's replay queue into exactly once. Status messages
 * do not take a new number: they carry the agent's current high-water mark, so the collector knows
 * how much is still to come after a reconnect.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { AGENT_ID_PATTERN, SCHOOL_CODE_PATTERN } from './topics.ts';

export const SCHEMA_VERSION = 1;
/** Largest payload either end accepts, in bytes. The broker refuses bigger packets outright. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;
/** Most readings one telemetry message may carry. */
export const MAX_READINGS_PER_MESSAGE = 2000;

const Version = Type.Literal(SCHEMA_VERSION, { description: 'schema version of this message' });
const Seq = Type.Integer({ minimum: 0, description: 'per-agent sequence number' });
/** Milliseconds since the Unix epoch, bounded to 2000-01-01 … 2100-01-01 to catch unit mistakes. */
const EpochMs = Type.Integer({ minimum: 946_684_800_000, maximum: 4_102_444_800_000, description: 'Unix time in ms' });
const Name = Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_.-]{0,63}$' });
export const DeviceId = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$', description: 'agent-local device id' });
const TagValue = Type.String({ minLength: 1, maxLength: 256 });
const MetricValue = Type.Union([Type.Number(), Type.Boolean(), Type.String({ maxLength: 1024 })]);

export const SchoolCode = Type.String({ pattern: SCHOOL_CODE_PATTERN });
export const AgentId = Type.String({ pattern: AGENT_ID_PATTERN });

// ---- status (retained; birth and last will) ----
export const StatusMessage = Type.Object(
  {
    v: Version,
    seq: Seq,
    ts: EpochMs,
    state: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
    reason: Type.Optional(Type.String({ maxLength: 200, description: 'why offline: shutdown, connection-lost, …' })),
    agentVersion: Type.Optional(Type.String({ maxLength: 64 })),
    startedAt: Type.Optional(EpochMs),
    queued: Type.Optional(Type.Integer({ minimum: 0, description: 'messages waiting in the on-disk queue' })),
    dropped: Type.Optional(Type.Integer({ minimum: 0, description: 'messages dropped because the queue was full' })),
  },
  { additionalProperties: false, $id: 'StatusMessage' },
);
export type StatusMessage = Static<typeof StatusMessage>;

/**
 * The reason an agent's last will gives. The will is composed when the agent connects, so its `ts`
 * is that connect time, not when the connection was lost: receivers take the time it reaches them.
 */
export const WILL_REASON = 'connection-lost';

// ---- telemetry ----
export const Reading = Type.Object(
  {
    device: DeviceId,
    ts: EpochMs,
    measurement: Name,
    tags: Type.Optional(Type.Record(Name, TagValue, { maxProperties: 16 })),
    metrics: Type.Record(Name, MetricValue, { minProperties: 1, maxProperties: 256 }),
  },
  { additionalProperties: false },
);
export type Reading = Static<typeof Reading>;

export const TelemetryMessage = Type.Object(
  {
    v: Version,
    seq: Seq,
    ts: EpochMs,
    readings: Type.Array(Reading, { minItems: 1, maxItems: MAX_READINGS_PER_MESSAGE }),
  },
  { additionalProperties: false, $id: 'TelemetryMessage' },
);
export type TelemetryMessage = Static<typeof TelemetryMessage>;

// ---- discovery ----
export const DeviceKind = Type.Union(
  ['camera', 'nvr', 'switch', 'router', 'ap', 'ap-controller', 'ups', 'sensor', 'class-board', 'display', 'unknown'].map((k) =>
    Type.Literal(k),
  ),
);
export type DeviceKind = Static<typeof DeviceKind>;

export const DiscoveredDevice = Type.Object(
  {
    device: DeviceId,
    kind: DeviceKind,
    protocol: Type.Union([Type.Literal('snmp'), Type.Literal('onvif'), Type.Literal('modbus'), Type.Literal('http')]),
    address: Type.String({ minLength: 1, maxLength: 256, description: 'host[:port] the agent reaches it at' }),
    profile: Type.Optional(Type.String({ maxLength: 128, description: 'device profile that recognised it' })),
    attributes: Type.Record(Type.String({ maxLength: 64 }), MetricValue, { maxProperties: 64 }),
  },
  { additionalProperties: false },
);
export type DiscoveredDevice = Static<typeof DiscoveredDevice>;

export const DiscoveryMessage = Type.Object(
  {
    v: Version,
    seq: Seq,
    ts: EpochMs,
    /** true: this is the agent's whole device list, anything missing has disappeared. */
    full: Type.Boolean(),
    devices: Type.Array(DiscoveredDevice, { maxItems: 5000 }),
    gone: Type.Optional(Type.Array(DeviceId, { maxItems: 5000 })),
  },
  { additionalProperties: false, $id: 'DiscoveryMessage' },
);
export type DiscoveryMessage = Static<typeof DiscoveryMessage>;

// ---- event ----
export const EventMessage = Type.Object(
  {
    v: Version,
    seq: Seq,
    ts: EpochMs,
    device: Type.Optional(DeviceId),
    type: Name,
    severity: Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')]),
    message: Type.String({ maxLength: 1000 }),
    data: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), MetricValue, { maxProperties: 64 })),
  },
  { additionalProperties: false, $id: 'EventMessage' },
);
export type EventMessage = Static<typeof EventMessage>;

// ---- cmd (centre → agent) and cmd/ack ----
export const CommandName = Type.Union([Type.Literal('ping'), Type.Literal('poll-now'), Type.Literal('rescan'), Type.Literal('reload-config')]);
export type CommandName = Static<typeof CommandName>;

export const CommandMessage = Type.Object(
  {
    v: Version,
    seq: Seq,
    ts: EpochMs,
    id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'command id, echoed in the ack' }),
    command: CommandName,
    args: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), MetricValue, { maxProperties: 32 })),
  },
  { additionalProperties: false, $id: 'CommandMessage' },
);
export type CommandMessage = Static<typeof CommandMessage>;

export const CommandAckMessage = Type.Object(
  {
    v: Version,
    seq: Seq,
    ts: EpochMs,
    id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }),
    ok: Type.Boolean(),
    result: Type.Optional(Type.Record(Type.String({ maxLength: 64 }), MetricValue, { maxProperties: 64 })),
    error: Type.Optional(Type.String({ maxLength: 1000 })),
  },
  { additionalProperties: false, $id: 'CommandAckMessage' },
);
export type CommandAckMessage = Static<typeof CommandAckMessage>;

// ---- config (centre → agent, retained) ----
/**
 * What the centre has decided about the agent's devices. Only decisions are listed: a device not
 * named is polled as found. Retired and rejected devices are not polled.
 */
export const DeviceDecision = Type.Union([Type.Literal('enrolled'), Type.Literal('retired'), Type.Literal('rejected')]);
export type DeviceDecision = Static<typeof DeviceDecision>;
export const ConfigMessage = Type.Object(
  {
    v: Version,
    seq: Seq,
    ts: EpochMs,
    devices: Type.Record(DeviceId, DeviceDecision, { maxProperties: 20_000 }),
  },
  { additionalProperties: false, $id: 'ConfigMessage' },
);
export type ConfigMessage = Static<typeof ConfigMessage>;

/** The one typed map from channel to schema. */
export const CHANNEL_SCHEMAS = {
  status: StatusMessage,
  telemetry: TelemetryMessage,
  discovery: DiscoveryMessage,
  event: EventMessage,
  cmd: CommandMessage,
  config: ConfigMessage,
  'cmd/ack': CommandAckMessage,
} as const satisfies Record<string, TSchema>;

export interface ChannelMessages {
  status: StatusMessage;
  telemetry: TelemetryMessage;
  discovery: DiscoveryMessage;
  event: EventMessage;
  cmd: CommandMessage;
  config: ConfigMessage;
  'cmd/ack': CommandAckMessage;
}

/** Channels whose messages take a new sequence number (see the file comment). */
export const SEQUENCED_CHANNELS = ['telemetry', 'discovery', 'event', 'cmd/ack'] as const;
