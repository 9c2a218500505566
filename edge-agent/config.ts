/**
 * The edge agent's YAML configuration, validated with TypeBox. Errors name the path of the
 * offending field (`/devices/0/address must match …`) so a school administrator can fix the file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { AGENT_ID_PATTERN, DeviceId, DeviceKind, SCHOOL_CODE_PATTERN } from '../protocol/index.ts';
import { parseTarget, TargetError } from './snmp/targets.ts';
import { compileAddressPattern } from './credentials.ts';
import { expandTargets } from './http/targets.ts';
import { expandTargets as expandOnvifTargets } from './onvif/discovery.ts';

const SnmpOptions = Type.Object(
  {
    // YAML reads `version: 1` as a number and `2c` as a string: accept both spellings of v1 (and v3)
    version: Type.Union([Type.Literal('1'), Type.Literal(1), Type.Literal('2c'), Type.Literal('3'), Type.Literal(3)], { default: '2c' }),
    community: Type.String({ minLength: 1, maxLength: 64, default: 'public' }),
    /** SNMPv3: the name of a user in the credential store's `snmpV3` section (its keys stay there); implies version 3 */
    v3User: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9_.@-]{1,32}$' })),
    timeoutMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 2000 }),
    retries: Type.Integer({ minimum: 0, maximum: 10, default: 1 }),
  },
  { additionalProperties: false, default: {} },
);

export const DeviceConfig = Type.Object(
  {
    id: DeviceId,
    kind: DeviceKind,
    protocol: Type.Literal('snmp', { description: 'only SNMP is polled by this agent for now' }),
    /** host:port, host, or [v6]:port */
    address: Type.String({ minLength: 1, maxLength: 256, pattern: '^(\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$' }),
    snmp: SnmpOptions,
    /** poll with this profile id instead of the one the device's sysObjectID/sysDescr match */
    profile: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,127}$' })),
  },
  { additionalProperties: false },
);
export type DeviceConfig = Static<typeof DeviceConfig>;

/** SNMP discovery: sweeps of configured targets only (DESIGN.md "Network safety": no default). */
export const SnmpDiscoveryConfig = Type.Object(
  {
    /** hosts, addresses or CIDR ranges (at most 1024 addresses each), optional :port or :low-high */
    targets: Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 256 }),
    /** v2c communities tried in order; the first that answers is kept for polling ([] = SNMPv3 only) */
    communities: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 16, default: ['public'] }),
    /**
     * SNMPv3 users tried after the communities, in order: names of users in the credential store's
     * `snmpV3` section. A device remembers the name that answered and is polled with it.
     */
    v3Users: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z0-9_.@-]{1,32}$' }), { maxItems: 16 })),
    /** per probe (host:port × community) */
    timeoutMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 1000 }),
    retries: Type.Integer({ minimum: 0, maximum: 5, default: 0 }),
    /** probes in flight at once */
    concurrency: Type.Integer({ minimum: 1, maximum: 512, default: 32 }),
    /** rescan period; the first scan runs at start-up */
    intervalSec: Type.Number({ minimum: 1, maximum: 7 * 86_400, default: 900 }),
    /** a discovered device missing from this many scans in a row is reported gone */
    goneAfterScans: Type.Integer({ minimum: 1, maximum: 100, default: 2 }),
  },
  { additionalProperties: false },
);
export type SnmpDiscoveryConfig = Static<typeof SnmpDiscoveryConfig>;

const ScanSchedule = {
  /** rescan period; the first scan runs at start-up */
  intervalSec: Type.Number({ minimum: 1, maximum: 7 * 86_400, default: 900 }),
  /** a discovered device missing from this many scans in a row is reported gone */
  goneAfterScans: Type.Integer({ minimum: 1, maximum: 100, default: 2 }),
};
const HostSpecs = Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { minItems: 1, maxItems: 256, description: 'addresses, IPv4 ranges (a.b.c.d-e) or CIDR blocks' });
const PortSpecs = Type.Array(Type.Union([Type.Integer({ minimum: 1, maximum: 65535 }), Type.String({ pattern: '^[0-9]{1,5}(-[0-9]{1,5})?$' })]), { minItems: 1, maxItems: 64 });

/** ONVIF cameras: WS-Discovery probes to configured addresses (and multicast on a named interface). */
export const OnvifDiscoveryConfig = Type.Object(
  {
    /** `a.b.c.d`, `a.b.c.d:port`, `a.b.c.d-e`, `a.b.c.d/len` (≥ /20), `v6`, `[v6]:port` */
    unicast: Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 256, default: [] }),
    multicast: Type.Optional(
      Type.Object({ ipv4Interface: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })), ipv6Interface: Type.Optional(Type.String({ minLength: 1, maxLength: 15 })) }, { additionalProperties: false }),
    ),
    /** WS-Discovery port (3702) */
    port: Type.Integer({ minimum: 1, maximum: 65535, default: 3702 }),
    /** how long to wait for ProbeMatches after the last probe */
    listenMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 3000 }),
    /** per SOAP/RTSP request, in discovery and in the health ladder */
    timeoutMs: Type.Integer({ minimum: 100, maximum: 60_000, default: 5000 }),
    /** cameras described or checked at once */
    concurrency: Type.Integer({ minimum: 1, maximum: 256, default: 8 }),
    ...ScanSchedule,
  },
  { additionalProperties: false },
);
export type OnvifDiscoveryConfig = Static<typeof OnvifDiscoveryConfig>;

/** Modbus TCP: configured hosts × ports × unit ids, identified by the profiles' registers. */
export const ModbusDiscoveryConfig = Type.Object(
  {
    targets: Type.Array(
      Type.Object({ hosts: HostSpecs, ports: PortSpecs, unitIds: Type.Array(Type.Integer({ minimum: 0, maximum: 255 }), { minItems: 1, maxItems: 256 }) }, { additionalProperties: false }),
      { minItems: 1, maxItems: 64 },
    ),
    timeoutMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 2000 }),
    concurrency: Type.Integer({ minimum: 1, maximum: 256, default: 8 }),
    ...ScanSchedule,
  },
  { additionalProperties: false },
);
export type ModbusDiscoveryConfig = Static<typeof ModbusDiscoveryConfig>;

/** HTTP status APIs (class boards, displays): configured hosts × ports, fingerprints from the profiles. */
export const HttpDiscoveryConfig = Type.Object(
  {
    targets: Type.Array(Type.Object({ hosts: HostSpecs, ports: PortSpecs }, { additionalProperties: false }), { minItems: 1, maxItems: 64 }),
    timeoutMs: Type.Integer({ minimum: 50, maximum: 60_000, default: 3000 }),
    concurrency: Type.Integer({ minimum: 1, maximum: 256, default: 16 }),
    ...ScanSchedule,
  },
  { additionalProperties: false },
);
export type HttpDiscoveryConfig = Static<typeof HttpDiscoveryConfig>;

export const DiscoveryConfig = Type.Object(
  {
    snmp: Type.Optional(SnmpDiscoveryConfig),
    onvif: Type.Optional(OnvifDiscoveryConfig),
    modbus: Type.Optional(ModbusDiscoveryConfig),
    http: Type.Optional(HttpDiscoveryConfig),
    /** the gateway-local credential store (edge-agent/credentials.ts); its secrets never leave the gateway */
    credentialsFile: Type.Optional(Type.String({ minLength: 1 })),
    /**
     * SNMP, ONVIF, Modbus and HTTP probes, and polls of the devices they found, go only to addresses
     * these patterns allow (CIDR, a.b.*.*, an address); default loopback only (DESIGN.md "Network
     * safety"): a site lists its own subnets. Anything else is skipped before a packet is sent,
     * with a warning, and counted in the agent's stats (`notAllowed`; ONVIF only warns). An SNMP
     * target given as a host name is checked, and probed, on the address it resolves to. Configured
     * `devices` are not checked: each is one exact address the operator chose, polled with or
     * without a discovery section.
     */
    allow: Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 256, default: ['127.0.0.0/8', '::1'] }),
  },
  { additionalProperties: false },
);
export type DiscoveryConfig = Static<typeof DiscoveryConfig>;

export const AgentConfigSchema = Type.Object(
  {
    schoolCode: Type.String({ pattern: SCHOOL_CODE_PATTERN }),
    agentId: Type.String({ pattern: AGENT_ID_PATTERN }),
    mqtt: Type.Object(
      {
        url: Type.String({ pattern: '^(mqtt|mqtts|tcp|tls|ws|wss)://' }),
        password: Type.Optional(Type.String({ maxLength: 1024 })),
        /** read at start-up (resolved against the config file's folder); wins over `password` */
        passwordFile: Type.Optional(Type.String({ minLength: 1 })),
        keepaliveSec: Type.Integer({ minimum: 5, maximum: 3600, default: 30 }),
        /** first reconnect delay; doubles up to reconnectMaxMs */
        reconnectMinMs: Type.Integer({ minimum: 50, maximum: 600_000, default: 1000 }),
        reconnectMaxMs: Type.Integer({ minimum: 50, maximum: 3_600_000, default: 60_000 }),
        /** how long to wait for a PUBACK before treating the connection as dead */
        publishTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
        /** pace of the queue replay: stay under the broker's per-client flood limit (100/s by default) */
        maxPublishesPerSecond: Type.Integer({ minimum: 1, maximum: 100_000, default: 50 }),
      },
      { additionalProperties: false },
    ),
    dataDir: Type.String({ minLength: 1, default: './agent-data' }),
    pollIntervalSec: Type.Number({ minimum: 0.1, maximum: 86_400, default: 10 }),
    batch: Type.Object(
      {
        maxReadings: Type.Integer({ minimum: 1, maximum: 2000, default: 500 }),
        maxDelayMs: Type.Integer({ minimum: 0, maximum: 600_000, default: 2000 }),
      },
      { additionalProperties: false, default: {} },
    ),
    queue: Type.Object(
      { maxMessages: Type.Integer({ minimum: 1, maximum: 10_000_000, default: 100_000 }) },
      { additionalProperties: false, default: {} },
    ),
    devices: Type.Array(DeviceConfig, { default: [] }),
    /** device profiles folder; default: the profiles built into the agent (device-profiles/profiles) */
    profilesDir: Type.Optional(Type.String({ minLength: 1 })),
    discovery: Type.Optional(DiscoveryConfig),
  },
  { additionalProperties: false },
);
export type AgentConfig = Static<typeof AgentConfigSchema>;

const check = TypeCompiler.Compile(AgentConfigSchema);

export class AgentConfigError extends Error {
  constructor(
    message: string,
    readonly issues: string[],
  ) {
    super(message);
    this.name = 'AgentConfigError';
  }
}

/**
 * Validates a plain object (already parsed from YAML/JSON), fills defaults, and resolves relative
 * `dataDir`/`passwordFile` against `baseDir`. Throws AgentConfigError listing every problem.
 */
export function parseAgentConfig(obj: unknown, baseDir = process.cwd()): AgentConfig {
  const withDefaults = Value.Default(AgentConfigSchema, Value.Clone(obj ?? {}));
  if (!check.Check(withDefaults)) {
    const issues = [...check.Errors(withDefaults)].slice(0, 20).map((e) => `${e.path || '/'} ${e.message}`);
    throw new AgentConfigError(`invalid agent config:\n  ${issues.join('\n  ')}`, issues);
  }
  const cfg = withDefaults as AgentConfig;
  const issues: string[] = [];
  const ids = new Set<string>();
  cfg.devices.forEach((d, i) => {
    if (ids.has(d.id)) issues.push(`/devices/${i}/id duplicate device id ${JSON.stringify(d.id)}`);
    ids.add(d.id);
    const port = /:(\d+)$/.exec(d.address)?.[1];
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) issues.push(`/devices/${i}/address port ${port} out of range`);
    // a named SNMPv3 user means version 3; version 3 needs one
    if (d.snmp.v3User !== undefined) d.snmp.version = '3';
    else if (d.snmp.version === '3' || d.snmp.version === 3) issues.push(`/devices/${i}/snmp/v3User SNMPv3 needs the name of a user in the credential store's snmpV3 section`);
  });
  const sd = cfg.discovery?.snmp;
  if (sd && sd.communities.length === 0 && (sd.v3Users ?? []).length === 0) issues.push('/discovery/snmp needs at least one community or v3Users entry');
  cfg.discovery?.snmp?.targets.forEach((t, i) => {
    try {
      parseTarget(t);
    } catch (err) {
      if (!(err instanceof TargetError)) throw err;
      issues.push(`/discovery/snmp/targets/${i} ${err.message}`);
    }
  });
  cfg.discovery?.allow.forEach((p, i) => {
    try {
      compileAddressPattern(p);
    } catch (err) {
      issues.push(`/discovery/allow/${i} ${(err as Error).message}`);
    }
  });
  if (cfg.discovery?.onvif) onvifTargetIssue(cfg.discovery.onvif.unicast, issues);
  for (const [name, d] of [['modbus', cfg.discovery?.modbus], ['http', cfg.discovery?.http]] as const) {
    d?.targets.forEach((t, i) => {
      try {
        expandTargets(t.hosts, t.ports);
      } catch (err) {
        issues.push(`/discovery/${name}/targets/${i} ${(err as Error).message}`);
      }
    });
  }
  if (cfg.mqtt.reconnectMaxMs < cfg.mqtt.reconnectMinMs) issues.push('/mqtt/reconnectMaxMs must be >= reconnectMinMs');
  if (issues.length > 0) throw new AgentConfigError(`invalid agent config:\n  ${issues.join('\n  ')}`, issues);
  cfg.dataDir = path.resolve(baseDir, cfg.dataDir);
  if (cfg.mqtt.passwordFile !== undefined) cfg.mqtt.passwordFile = path.resolve(baseDir, cfg.mqtt.passwordFile);
  if (cfg.profilesDir !== undefined) cfg.profilesDir = path.resolve(baseDir, cfg.profilesDir);
  if (cfg.discovery?.credentialsFile !== undefined) cfg.discovery.credentialsFile = path.resolve(baseDir, cfg.discovery.credentialsFile);
  return cfg;
}

function onvifTargetIssue(unicast: readonly string[], issues: string[]): void {
  try {
    expandOnvifTargets(unicast);
  } catch (err) {
    issues.push(`/discovery/onvif/unicast ${(err as Error).message}`);
  }
}

/** Reads and validates a YAML config file; relative paths in it are taken from its folder. */
export function loadAgentConfig(file: string): AgentConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new AgentConfigError(`cannot read agent config ${file}: ${(err as Error).message}`, []);
  }
  let obj: unknown;
  try {
    obj = parseYaml(text);
  } catch (err) {
    throw new AgentConfigError(`agent config ${file} is not valid YAML: ${(err as Error).message}`, []);
  }
  return parseAgentConfig(obj, path.dirname(path.resolve(file)));
}

/** The MQTT password: from passwordFile (trimmed) if given, else inline, else none. */
export function resolveMqttPassword(cfg: AgentConfig): string | undefined {
  if (cfg.mqtt.passwordFile !== undefined) return fs.readFileSync(cfg.mqtt.passwordFile, 'utf8').trim();
  return cfg.mqtt.password;
}

/** Splits a device address into host and UDP port (default 161). */
export function splitAddress(address: string, defaultPort = 161): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(address);
  if (!m) throw new Error(`bad address ${JSON.stringify(address)}`);
  return { host: m[1] ?? m[2]!, port: m[3] !== undefined ? Number(m[3]) : defaultPort };
}
