/**
 * One real payload for every topic of the wire contract. `docs/protocol.md` shows each of these
 * verbatim (pretty-printed with two spaces), and `examples.test.ts` checks both that every example
 * passes `decodeMessage` and that the document still shows it, so the two cannot drift apart.
 *
 * The values are what the edge agent of school 3715020001 (聊城市东昌府区, gateway gw-1) really
 * sends: the SNMP poller's `device`/`system`/`interface` measurements, its discovery attributes.
 */
import { agentTopic, type AgentAddress, type Channel } from './topics.ts';
import type {
  ChannelMessages,
  CommandAckMessage,
  CommandMessage,
  ConfigMessage,
  DiscoveryMessage,
  EventMessage,
  StatusMessage,
  TelemetryMessage,
} from './messages.ts';

export const EXAMPLE_AGENT: AgentAddress = { schoolCode: '3715020001', agentId: 'gw-1' };

/** Birth message, published retained right after every CONNACK. */
export const statusOnline: StatusMessage = {
  v: 1,
  seq: 1842,
  ts: 1767312000250,
  state: 'online',
  agentVersion: '0.1.0',
  startedAt: 1767311990000,
  queued: 12,
  dropped: 0,
};

/** Last will, registered in CONNECT; the broker publishes it (retained) when the agent vanishes. */
export const statusWill: StatusMessage = {
  v: 1,
  seq: 1830,
  ts: 1767311990412,
  state: 'offline',
  reason: 'connection-lost',
  agentVersion: '0.1.0',
  startedAt: 1767311990000,
  queued: 0,
  dropped: 0,
};

/** Published (retained) by an agent that stops on purpose. */
export const statusShutdown: StatusMessage = {
  v: 1,
  seq: 1901,
  ts: 1767315600000,
  state: 'offline',
  reason: 'shutdown',
  agentVersion: '0.1.0',
  startedAt: 1767311990000,
  queued: 0,
  dropped: 0,
};

export const telemetry: TelemetryMessage = {
  v: 1,
  seq: 1843,
  ts: 1767312010020,
  readings: [
    { device: 'sw-1', ts: 1767312010003, measurement: 'device', metrics: { reachable: true } },
    { device: 'sw-1', ts: 1767312010003, measurement: 'system', metrics: { uptimeSec: 8640123 } },
    {
      device: 'sw-1',
      ts: 1767312010003,
      measurement: 'interface',
      tags: { ifIndex: '25', ifName: 'XGigabitEthernet0/0/1' },
      metrics: { inOctets: 918273645512, outOctets: 123456789012, operStatus: 1, speedMbps: 10000, inErrors: 0, outErrors: 2 },
    },
    { device: 'ap-3', ts: 1767312010011, measurement: 'device', metrics: { reachable: false } },
  ],
};

export const discovery: DiscoveryMessage = {
  v: 1,
  seq: 1841,
  ts: 1767311990100,
  full: true,
  devices: [
    {
      device: 'sw-1',
      kind: 'switch',
      protocol: 'snmp',
      address: '10.37.1.1:161',
      attributes: { sysObjectID: '1.3.6.1.4.1.2011.2.23.402', sysName: '3715020001-core-sw1', sysDescr: 'Huawei Versatile Routing Platform S5735' },
    },
    {
      device: 'ap-3',
      kind: 'ap',
      protocol: 'snmp',
      address: '10.37.1.23',
      attributes: {},
    },
  ],
};

/** An incremental discovery: one device added, one gone; the rest unchanged. */
export const discoveryDelta: DiscoveryMessage = {
  v: 1,
  seq: 1850,
  ts: 1767312300000,
  full: false,
  devices: [
    {
      device: 'cam-101',
      kind: 'camera',
      protocol: 'onvif',
      address: '10.37.2.101:80',
      profile: 'hikvision-ipc',
      attributes: { manufacturer: 'HIKVISION', model: 'DS-2CD3T47G2-LIU', firmware: 'V5.7.3' },
    },
  ],
  gone: ['cam-007'],
};

export const event: EventMessage = {
  v: 1,
  seq: 1844,
  ts: 1767312011000,
  device: 'ap-3',
  type: 'device.unreachable',
  severity: 'warning',
  message: 'ap-3 (10.37.1.23) did not answer SNMP for 3 polls',
  data: { address: '10.37.1.23', failedPolls: 3 },
};

/** Sent by the centre (collector) to one agent. */
export const command: CommandMessage = {
  v: 1,
  seq: 7,
  ts: 1767312020000,
  id: 'cmjy6k2s07',
  command: 'poll-now',
};

export const commandAck: CommandAckMessage = {
  v: 1,
  seq: 1845,
  ts: 1767312020480,
  id: 'cmjy6k2s07',
  ok: true,
  result: { readings: 212 },
};

export const commandAckError: CommandAckMessage = {
  v: 1,
  seq: 1846,
  ts: 1767312030050,
  id: 'cmjy6k9a08',
  ok: false,
  error: 'identity, mqtt url or dataDir changed: restart the agent',
};

export const config: ConfigMessage = {
  v: 1,
  seq: 12,
  ts: 1767312100000,
  devices: { 'sw-1': 'enrolled', 'cam-gate': 'enrolled', 'ap-3': 'retired', 'mystery-1': 'rejected' },
};

export type Example = { [C in Channel]: { name: string; channel: C; topic: string; message: ChannelMessages[C] } }[Channel];

function ex<C extends Channel>(name: string, channel: C, message: ChannelMessages[C]): Example {
  return { name, channel, topic: agentTopic(EXAMPLE_AGENT, channel), message } as Example;
}

/** Every example, in the order docs/protocol.md shows them. */
export const EXAMPLES: readonly Example[] = [
  ex('status (birth)', 'status', statusOnline),
  ex('status (last will)', 'status', statusWill),
  ex('status (shutdown)', 'status', statusShutdown),
  ex('discovery (full)', 'discovery', discovery),
  ex('discovery (delta)', 'discovery', discoveryDelta),
  ex('telemetry', 'telemetry', telemetry),
  ex('event', 'event', event),
  ex('cmd', 'cmd', command),
  ex('config', 'config', config),
  ex('cmd/ack (ok)', 'cmd/ack', commandAck),
  ex('cmd/ack (error)', 'cmd/ack', commandAckError),
];

/** The exact text docs/protocol.md must contain for an example. */
export function exampleJson(e: Example): string {
  return JSON.stringify(e.message, null, 2);
}
