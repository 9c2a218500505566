/** Response and body schemas of the HTTP API (TypeBox): they validate, serialise, and document. */
import { Type } from '@sinclair/typebox';
import { AGENT_ID_PATTERN, SCHOOL_CODE_PATTERN } from '../../protocol/index.ts';

export const ErrorBody = Type.Object(
  { code: Type.String(), message: Type.String(), details: Type.Optional(Type.Unknown()) },
  { $id: 'Error', description: 'every error: a stable code and a message' },
);

export const SchoolCodeParams = Type.Object({ code: Type.String({ pattern: SCHOOL_CODE_PATTERN, description: '10-digit 学校标识码' }) });
export const AgentParams = Type.Object({
  school: Type.String({ pattern: SCHOOL_CODE_PATTERN }),
  agent: Type.String({ pattern: AGENT_ID_PATTERN }),
});

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const NullableNumber = Type.Union([Type.Number(), Type.Null()]);
const DateTime = Type.String({ format: 'date-time' });

export const Region = Type.Object({
  code: Type.String(),
  name: Type.String(),
  level: Type.String(),
  parentCode: Nullable(Type.String()),
  centreLon: NullableNumber,
  centreLat: NullableNumber,
});

export const School = Type.Object({
  code: Type.String(),
  name: Type.String(),
  countyCode: Type.String(),
  type: Type.String(),
  ownership: Type.String(),
  studentCount: Type.Integer(),
  staffCount: Type.Integer(),
  contractedUplinkMbps: NullableNumber,
  lon: NullableNumber,
  lat: NullableNumber,
  address: Nullable(Type.String()),
});

export const Device = Type.Object({
  agentId: Type.String(),
  deviceId: Type.String(),
  kind: Type.String(),
  protocol: Nullable(Type.String()),
  address: Nullable(Type.String()),
  profile: Nullable(Type.String()),
  attributes: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
  state: Type.String(),
  firstSeen: DateTime,
  lastSeen: DateTime,
  goneAt: Nullable(DateTime),
});

export const Agent = Type.Object({
  agentId: Type.String(),
  state: Type.String(),
  stateSince: Nullable(DateTime),
  lastSeen: Nullable(DateTime),
  lastSeq: Type.Integer(),
  seqGaps: Type.Integer(),
  duplicates: Type.Integer(),
  agentVersion: Nullable(Type.String()),
});

const Check = Type.Object({ ok: Type.Boolean(), detail: Type.Optional(Type.String()) });

export const Health = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
  checks: Type.Object({ telemetry: Check, database: Check, broker: Check }),
  telemetry: Type.Object({
    destination: Type.String(),
    linesWritten: Type.Integer(),
    linesRejected: Type.Integer(),
    linesBuffered: Type.Integer(),
    retries: Type.Integer(),
    lastError: Type.Optional(Type.String()),
  }),
  ingest: Type.Object({
    messagesReceived: Type.Integer(),
    messagesAccepted: Type.Integer(),
    readingsAccepted: Type.Integer(),
    linesWritten: Type.Integer(),
    duplicates: Type.Integer(),
    seqGaps: Type.Integer(),
    seqResets: Type.Integer(),
    rejected: Type.Record(Type.String(), Type.Integer()),
    lastMessageAt: Type.Optional(DateTime),
  }),
  broker: Type.Optional(Type.Record(Type.String(), Type.Integer(), { description: 'counters of the bundled broker when it runs in this process' })),
  csvImports: Type.Object({ accepted: Type.Integer(), rejectedFiles: Type.Integer(), rejectedRows: Type.Integer() }),
  exports: Type.Object(
    {
      built: Type.Integer({ description: 'Excel exports sent whole' }),
      refused: Type.Integer({ description: 'refused with 503 EXPORT_BUSY (too many at once, or waited too long)' }),
      abandoned: Type.Integer({ description: 'stopped part-way: the client went away or stopped reading, or building failed' }),
      running: Type.Integer(),
      queued: Type.Integer(),
    },
    { description: 'table and audit-log Excel exports (--max-exports, --export-queue)' },
  ),
  notifications: Type.Optional(
    Type.Object(
      {
        sent: Type.Integer({ description: 'messages delivered' }),
        failed: Type.Integer({ description: 'messages given up after their last try' }),
        dropped: Type.Integer({ description: 'ticket changes dropped from a full queue' }),
        queued: Type.Integer(),
        targets: Type.Array(Type.Object({ name: Type.String(), format: Type.String(), queued: Type.Integer(), sent: Type.Integer(), delivered: Type.Integer(), failed: Type.Integer(), dropped: Type.Integer(), retries: Type.Integer(), lastError: Type.Optional(Type.String()) })),
      },
      { description: 'repair-ticket notifications to group chats, when configured (--notify)' },
    ),
  ),
});

export const ImportResult = Type.Object({
  imported: Type.Integer(),
  errors: Type.Array(Type.Object({ line: Type.Integer(), column: Type.Optional(Type.String()), message: Type.String() })),
});

export const NewAgentBody = Type.Object(
  { schoolCode: Type.String({ pattern: SCHOOL_CODE_PATTERN }), agentId: Type.String({ pattern: AGENT_ID_PATTERN }) },
  { additionalProperties: false },
);
export const Credential = Type.Object({ username: Type.String(), password: Type.String({ description: 'shown once; only its hash is stored' }) });

/** Other fields a broker's HTTP auth backend sends along (mosquitto-go-auth: `clientid`) are allowed and ignored. */
export const MqttAuthBody = Type.Object({ username: Type.String({ maxLength: 200 }), password: Type.String({ maxLength: 200 }) });
export const Principal = Type.Union([
  Type.Object({ kind: Type.Literal('agent'), schoolCode: Type.String(), agentId: Type.String() }),
  Type.Object({ kind: Type.Literal('service'), name: Type.String() }),
]);

export const CommandBody = Type.Object(
  {
    command: Type.Union([Type.Literal('ping'), Type.Literal('poll-now'), Type.Literal('rescan'), Type.Literal('reload-config')]),
    timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 60_000 })),
  },
  { additionalProperties: false },
);
export const CommandAck = Type.Object({
  id: Type.String(),
  ok: Type.Boolean(),
  result: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]))),
  error: Type.Optional(Type.String()),
});
