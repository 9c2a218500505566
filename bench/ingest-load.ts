/**
 * The synthetic load of `bench/ingest.ts`, shared by the publishing worker and the raw-write
 * comparison: interface readings shaped like the edge agent's SNMP poller produces them
 * (measurement `interface`, tags ifIndex/ifName, six counters/gauges), no SNMP involved.
 */
import type { DiscoveredDevice, Reading } from '../protocol/index.ts';

export interface LoadShape {
  agents: number;
  schools: number;
  devicesPerAgent: number;
  interfacesPerDevice: number;
  messagesPerAgent: number;
  readingsPerMessage: number;
  /** Unacknowledged QoS 1 publishes allowed per client. */
  inflightPerClient: number;
  /** Timestamp of the first poll round; one round every ROUND_MS after it. */
  baseTs: number;
}

export interface BenchAgent {
  schoolCode: string;
  countyCode: string;
  agentId: string;
  password: string;
}

const ROUND_MS = 10_000;

export function deviceIds(shape: LoadShape): string[] {
  return Array.from({ length: shape.devicesPerAgent }, (_, i) => `sw-${i + 1}`);
}

export function discoveredDevices(shape: LoadShape): DiscoveredDevice[] {
  return deviceIds(shape).map((device, i) => ({
    device,
    kind: 'switch',
    protocol: 'snmp',
    address: `127.0.0.1:${16100 + i}`,
    profile: 'generic-switch',
    attributes: { ports: shape.interfacesPerDevice },
  }));
}

/**
 * Reading `j` of telemetry message `m` of one agent. The agent's series (device × interface) are
 * polled round after round, so every (series, timestamp) pair is unique: no point overwrites another.
 */
export function reading(shape: LoadShape, agentIndex: number, m: number, j: number): Reading {
  const perRound = shape.devicesPerAgent * shape.interfacesPerDevice;
  const g = m * shape.readingsPerMessage + j;
  const round = Math.floor(g / perRound);
  const s = g % perRound;
  const ifIndex = (s % shape.interfacesPerDevice) + 1;
  const octets = (agentIndex + 1) * 1_000_000_007 + round * 12_500_000 + ifIndex * 1000;
  return {
    device: `sw-${Math.floor(s / shape.interfacesPerDevice) + 1}`,
    ts: shape.baseTs + round * ROUND_MS,
    measurement: 'interface',
    tags: { ifIndex: String(ifIndex), ifName: `GigabitEthernet1/0/${ifIndex}` },
    metrics: {
      ifOperStatus: ifIndex % 5 === 0 ? 2 : 1,
      ifHighSpeed: 1000,
      ifHCInOctets: octets,
      ifHCOutOctets: Math.floor(octets / 3),
      ifInErrors: round % 7,
      ifOutErrors: 0,
    },
  };
}

export function messageReadings(shape: LoadShape, agentIndex: number, m: number): Reading[] {
  return Array.from({ length: shape.readingsPerMessage }, (_, j) => reading(shape, agentIndex, m, j));
}

export function totalReadings(shape: LoadShape): number {
  return shape.agents * shape.messagesPerAgent * shape.readingsPerMessage;
}
