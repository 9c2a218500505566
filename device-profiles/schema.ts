/**
 * The device-profile schema (DESIGN.md decision 6), written once with TypeBox: the TypeScript types,
 * the load-time validator and the published `profile.schema.json` all come from here.
 *
 * One profile = one device family: how to recognise it (`match`), what to poll and how often (`poll`),
 * how raw values become metrics (type, scale/offset, enum, counter → rate), and which health rules
 * apply (`health`). Shape borrowed from EdgeX device profiles (resources with a protocol address) and
 * zigbee-herdsman-converters (plain data + `extends` for reuse). Every object refuses unknown keys,
 * so a typo is an error with a line number, never a silently ignored setting.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';

const str = (description: string, extra: object = {}): ReturnType<typeof Type.String> => Type.String({ description, ...extra });
const strict = { additionalProperties: false } as const;

/** Same rule as protocol `Reading` measurement/metric/tag names, so everything we emit is sendable. */
export const NAME_PATTERN = '^[A-Za-z][A-Za-z0-9_.-]{0,63}$';
const Name = (description: string): ReturnType<typeof Type.String> => str(description, { pattern: NAME_PATTERN });
/** Dotted OID, no leading dot (LLDP-MIB lives under 1.0.8802, hence arcs may be 0). */
export const OID_PATTERN = '^[0-2](\\.(0|[1-9][0-9]{0,9})){1,127}$';
const Oid = (description: string): ReturnType<typeof Type.String> => str(description, { pattern: OID_PATTERN });
const Regex = (description: string): ReturnType<typeof Type.String> => str(`${description} (JavaScript regular expression, case-insensitive)`, { minLength: 1, maxLength: 500 });
const Literals = <T extends string>(values: readonly T[], description: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    { description },
  );

export const PROFILE_PROTOCOLS = ['snmp', 'onvif', 'modbus', 'http'] as const;
export type ProfileProtocol = (typeof PROFILE_PROTOCOLS)[number];
/** Mirrors protocol/messages.ts DeviceKind; a test keeps the two equal. */
export const PROFILE_KINDS = ['camera', 'nvr', 'switch', 'router', 'ap', 'ap-controller', 'ups', 'sensor', 'class-board', 'display', 'unknown'] as const;

const Text = Type.Object(
  { 'zh-CN': str('Chinese text (shown first in the console)', { minLength: 1 }), en: str('English text', { minLength: 1 }) },
  { ...strict, description: 'text in both console languages' },
);

// ---------------------------------------------------------------- match
export const SnmpMatch = Type.Object(
  {
    sysObjectID: Type.Optional(Type.Array(Oid('sysObjectID prefix; the longest matching prefix wins'), { minItems: 1, description: 'any of these prefixes' })),
    sysDescr: Type.Optional(Type.Array(Regex('pattern tested against sysDescr'), { minItems: 1, description: 'any of these patterns' })),
  },
  { ...strict, description: 'every criterion given must hold (a criterion holds when any of its entries does)' },
);

export const OnvifMatch = Type.Object(
  {
    manufacturer: Type.Array(Regex('pattern tested against GetDeviceInformation Manufacturer'), { minItems: 1 }),
    model: Type.Optional(Type.Array(Regex('pattern tested against GetDeviceInformation Model'), { minItems: 1 })),
  },
  { ...strict, description: 'manufacturer must match; model too when given' },
);

const ModbusTable = Literals(['holding', 'input', 'coil', 'discrete'] as const, 'Modbus data table (function 3, 4, 1, 2)');
const ModbusType = Literals(
  ['uint16', 'int16', 'uint32', 'int32', 'float32', 'bool', 'string'] as const,
  'register data type: 32-bit types use two registers, string uses `count` registers (2 ASCII chars each)',
);
const ByteOrder = Literals(['ABCD', 'CDAB', 'BADC', 'DCBA'] as const, 'byte order of 32-bit values, A = most significant byte (default ABCD, big-endian)');

const ModbusAddressFields = {
  table: Type.Optional(ModbusTable),
  address: Type.Integer({ minimum: 0, maximum: 65535, description: 'zero-based register (or coil) address as sent on the wire' }),
  type: ModbusType,
  count: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, description: 'registers, for type string' })),
  byteOrder: Type.Optional(ByteOrder),
  bit: Type.Optional(Type.Integer({ minimum: 0, maximum: 15, description: 'for type bool on a register table: which bit (0 = least significant)' })),
};

export const ModbusIdRegister = Type.Object(
  {
    ...ModbusAddressFields,
    equals: Type.Optional(Type.Union([Type.Number(), Type.String(), Type.Boolean()], { description: 'the decoded value must equal this' })),
    pattern: Type.Optional(Regex('for strings: the decoded text must match')),
    range: Type.Optional(Type.Tuple([Type.Number(), Type.Number()], { description: '[min, max] inclusive, for numbers' })),
  },
  { ...strict, description: 'one identification register and what it must hold' },
);

export const ModbusMatch = Type.Object(
  {
    unitIds: Type.Optional(Type.Array(Type.Integer({ minimum: 0, maximum: 255 }), { minItems: 1, description: 'unit ids to probe (default [1])' })),
    registers: Type.Array(ModbusIdRegister, { minItems: 1, maxItems: 16, description: 'all must hold' }),
  },
  strict,
);

export const HttpMatch = Type.Object(
  {
    path: str('path probed with GET, e.g. /api/v1/status', { pattern: '^/[^\\s]*$' }),
    status: Type.Optional(Type.Integer({ minimum: 100, maximum: 599, description: 'expected status (default 200)' })),
    headers: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9-]+$' }), Regex('pattern for the header value'), { description: 'header name (any case) → pattern' })),
    body: Type.Optional(Regex('pattern tested against the body text')),
    json: Type.Optional(
      Type.Record(Type.String({ pattern: '^(/[^/]*)*$' }), Regex('pattern for the value (as text)'), {
        description: 'JSON pointer → pattern; the body must be JSON and every pointer must match',
      }),
    ),
  },
  strict,
);

export const Match = Type.Object(
  {
    snmp: Type.Optional(SnmpMatch),
    onvif: Type.Optional(OnvifMatch),
    modbus: Type.Optional(ModbusMatch),
    http: Type.Optional(HttpMatch),
  },
  { ...strict, description: 'how to recognise the device; only the section of the profile protocol is allowed. Not inherited through `extends`.' },
);

// ---------------------------------------------------------------- poll resources
export const SNMP_TYPES = ['integer', 'gauge32', 'counter32', 'counter64', 'timeticks', 'string', 'hex', 'mac', 'octets', 'oid', 'ipaddress'] as const;
export type SnmpValueType = (typeof SNMP_TYPES)[number];

export const SnmpAddress = Type.Object(
  {
    oid: Type.Optional(Oid('full instance OID of a scalar, e.g. 1.3.6.1.2.1.1.3.0 (sysUpTime.0)')),
    column: Type.Optional(Oid('table column OID without index, e.g. 1.3.6.1.2.1.31.1.1.1.6 (ifHCInOctets)')),
    type: Literals(
      SNMP_TYPES,
      'expected varbind type: string/hex/mac are OctetStrings shown as text, hex or MAC address; octets shows printable text as text, six other octets as a MAC address, anything else as hex (LLDP chassis and port ids)',
    ),
  },
  { ...strict, description: 'exactly one of oid (scalar groups) or column (table groups)' },
);

export const ModbusAddress = Type.Object(ModbusAddressFields, strict);

export const HttpAddress = Type.Object(
  {
    path: str('GET path, e.g. /api/v1/status', { pattern: '^/[^\\s]*$' }),
    pointer: str('JSON pointer into the response, e.g. /battery/level', { pattern: '^(/[^/]*)*$' }),
    type: Literals(['number', 'integer', 'boolean', 'string'] as const, 'expected JSON type'),
  },
  strict,
);

export const ONVIF_OPERATIONS = ['GetDeviceInformation', 'GetSystemDateAndTime', 'GetNetworkInterfaces', 'GetProfiles', 'GetVideoEncoderConfigurations', 'GetStreamUri'] as const;
export const OnvifAddress = Type.Object(
  {
    operation: Literals(ONVIF_OPERATIONS, 'ONVIF operation whose response holds the value'),
    field: str('dotted path into the parsed response, [n] for list items, e.g. Configurations[0].Resolution.Width', { pattern: '^[A-Za-z_][A-Za-z0-9_]*(\\[[0-9]+\\])?(\\.[A-Za-z_][A-Za-z0-9_]*(\\[[0-9]+\\])?)*$' }),
    type: Literals(['number', 'integer', 'boolean', 'string'] as const, 'expected value type'),
  },
  strict,
);

const EnumValue = Type.Union([Type.String({ maxLength: 256 }), Type.Number(), Type.Boolean()]);

export const Resource = Type.Object(
  {
    metric: Name('metric (field) name in the reading, e.g. inOctets'),
    description: Type.Optional(str('what this is (MIB object or register name)')),
    snmp: Type.Optional(SnmpAddress),
    modbus: Type.Optional(ModbusAddress),
    http: Type.Optional(HttpAddress),
    onvif: Type.Optional(OnvifAddress),
    tag: Type.Optional(Type.Boolean({ description: 'emit as a tag (text) of the reading instead of a metric, e.g. ifName' })),
    scale: Type.Optional(Type.Number({ description: 'value = raw × scale + offset (default 1)' })),
    offset: Type.Optional(Type.Number({ description: 'added after scale (default 0)' })),
    units: Type.Optional(str('units for documentation and the console, e.g. V, %, °C, bit/s', { maxLength: 32 })),
    enum: Type.Optional(
      Type.Record(Type.String({ pattern: '^-?[0-9]+$|^[A-Za-z0-9_.-]+$' }), EnumValue, {
        description: 'raw value → emitted value; a raw value not listed is skipped and reported',
      }),
    ),
    min: Type.Optional(Type.Number({ description: 'plausibility bound: a value below is skipped and reported' })),
    max: Type.Optional(Type.Number({ description: 'plausibility bound: a value above is skipped and reported' })),
    rate: Type.Optional(
      Type.Object(
        {
          metric: Name('name of the rate metric, e.g. inBitsPerSec'),
          scale: Type.Optional(Type.Number({ description: 'rate = Δraw / Δseconds × scale (8 turns octets into bits)' })),
          units: Type.Optional(str('units of the rate', { maxLength: 32 })),
        },
        { ...strict, description: 'the value is a counter: also emit its rate per second from the previous poll (first poll: none)' },
      ),
    ),
  },
  { ...strict, description: 'one addressable value: exactly one protocol address (the profile protocol) plus how to turn it into a metric' },
);

export const IndexPart = Type.Object(
  {
    name: Name('tag name for this index component'),
    type: Literals(['integer', 'inetAddress', 'mac', 'string'] as const, 'integer: one arc; inetAddress/string: length-prefixed octets; mac: six arcs'),
    enum: Type.Optional(Type.Record(Type.String({ pattern: '^-?[0-9]+$' }), Type.String({ minLength: 1, maxLength: 64 }), { description: 'integer → text' })),
    skip: Type.Optional(Type.Boolean({ description: 'decode but do not emit as a tag (e.g. lldpRemTimeMark)' })),
    lookup: Type.Optional(
      Type.Object(
        {
          column: Oid('column of another table indexed by this number, e.g. 1.0.8802.1.1.2.1.3.7.1.3 (lldpLocPortId)'),
          type: Literals(['string', 'octets'] as const, 'how its OctetString is shown (see SnmpAddress.type)'),
        },
        { ...strict, description: 'integer parts: tag the row with that column\'s value at this number instead of the number (a port name instead of lldpRemLocalPortNum); the number when the device has no such row' },
      ),
    ),
  },
  strict,
);

export const PollGroup = Type.Object(
  {
    name: Name('group name, unique in the profile; a child profile group of the same name is merged into the base group'),
    interval: str('how often, e.g. 30s, 5m, 1h', { pattern: '^[1-9][0-9]{0,5}(s|m|h)$' }),
    measurement: Name('measurement of the readings this group produces'),
    description: Type.Optional(str('what the group reads')),
    index: Type.Optional(Type.Array(IndexPart, { minItems: 1, maxItems: 8, description: 'SNMP table groups: how the row index decodes into tags' })),
    maxRows: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'SNMP table groups: stop after this many rows (default 10000)' })),
    summary: Type.Optional(
      Type.Object(
        {
          measurement: Name('measurement of the summary reading'),
          rows: Type.Optional(Name('metric holding the number of rows')),
          count: Type.Optional(
            Type.Record(
              Type.String({ pattern: NAME_PATTERN }),
              Type.Object({ metric: Name('row metric to test'), equals: EnumValue }, strict),
              { description: 'summary metric → rows whose metric equals the value' },
            ),
          ),
        },
        { ...strict, description: 'SNMP table groups: one extra reading with row counts (e.g. APs total / online)' },
      ),
    ),
    resources: Type.Array(Resource, { minItems: 1, maxItems: 256 }),
  },
  strict,
);

// ---------------------------------------------------------------- health
export const HealthRule = Type.Object(
  {
    id: Name('rule id, unique in the profile; a child rule with the same id replaces the base rule'),
    when: str('condition on polled metrics: `measurement.metric OP literal`, joined with &&; OP is == != > >= < <=; literals are numbers, true/false or "text"', {
      minLength: 3,
      maxLength: 500,
    }),
    severity: Literals(['info', 'warning', 'critical'] as const, 'event severity (protocol EventMessage)'),
    message: Type.Object(
      {
        key: str('message key, e.g. health.ups.onBattery', { pattern: '^[a-z][A-Za-z0-9]*(\\.[A-Za-z0-9]+)+$' }),
        'zh-CN': str('Chinese text', { minLength: 1 }),
        en: str('English text', { minLength: 1 }),
      },
      strict,
    ),
    ticket: Type.Optional(Type.Boolean({ description: 'open a repair ticket automatically while the rule holds' })),
  },
  strict,
);

export const Health = Type.Object(
  {
    offlineAfterMissedPolls: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'device is offline after this many polls in a row without an answer' })),
    rules: Type.Optional(Type.Array(HealthRule, { maxItems: 64 })),
  },
  strict,
);

// ---------------------------------------------------------------- capabilities
export const Capabilities = Type.Object(
  {
    ipv6: Type.Optional(Type.Boolean({ description: 'can be managed over IPv6 (bureau IPv6 check)' })),
    poe: Type.Optional(Type.Boolean({ description: 'supplies PoE' })),
    lldp: Type.Optional(Type.Boolean({ description: 'answers LLDP-MIB' })),
    cellular: Type.Optional(Literals(['none', '4g', '5g'] as const, 'built-in mobile uplink')),
    wifi: Type.Optional(Type.Boolean()),
    ptz: Type.Optional(Type.Boolean({ description: 'camera pan/tilt/zoom' })),
    audio: Type.Optional(Type.Boolean()),
    touch: Type.Optional(Type.Boolean({ description: 'touch screen' })),
    onvifProfiles: Type.Optional(Type.Array(Literals(['S', 'G', 'T', 'M'] as const, 'ONVIF profile'), { uniqueItems: true })),
    snmpVersions: Type.Optional(Type.Array(Literals(['1', '2c', '3'] as const, 'SNMP version'), { uniqueItems: true })),
  },
  { ...strict, description: 'what the family can do; merged key by key through `extends`' },
);

// ---------------------------------------------------------------- profile
export const Profile = Type.Object(
  {
    id: str('unique profile id, also the file name: <vendor-or-generic>-<family>', { pattern: '^[a-z0-9]+(-[a-z0-9]+)*$', maxLength: 64 }),
    vendor: str('manufacturer (or "generic")', { minLength: 1, maxLength: 64 }),
    family: str('model family, e.g. S5700/S6700 series', { minLength: 1, maxLength: 128 }),
    kind: Literals(PROFILE_KINDS, 'protocol DeviceKind reported at discovery'),
    protocol: Literals(PROFILE_PROTOCOLS, 'how the agent talks to it'),
    description: Text,
    extends: Type.Optional(str('id of a base profile (same protocol) to inherit poll groups, health rules and capabilities from', { pattern: '^[a-z0-9]+(-[a-z0-9]+)*$' })),
    match: Type.Optional(Match),
    poll: Type.Optional(Type.Array(PollGroup, { maxItems: 64 })),
    health: Type.Optional(Health),
    capabilities: Type.Optional(Capabilities),
    docs: Type.Optional(Type.Array(str('public document or MIB the addresses come from'), { description: 'sources' })),
  },
  { ...strict, $id: 'https://campus.example/device-profile.schema.json', title: 'campus device profile', description: 'one device family: recognise, poll, convert, judge' },
);

export type Profile = Static<typeof Profile>;
export type PollGroup = Static<typeof PollGroup>;
export type Resource = Static<typeof Resource>;
export type HealthRule = Static<typeof HealthRule>;
export type SnmpMatch = Static<typeof SnmpMatch>;
export type OnvifMatch = Static<typeof OnvifMatch>;
export type ModbusMatch = Static<typeof ModbusMatch>;
export type ModbusIdRegister = Static<typeof ModbusIdRegister>;
export type HttpMatch = Static<typeof HttpMatch>;
export type IndexPart = Static<typeof IndexPart>;
export type Capabilities = Static<typeof Capabilities>;

/** The JSON Schema as published in profile.schema.json (TypeBox's Kind symbols are not enumerable). */
export function profileJsonSchema(): TSchema {
  return JSON.parse(JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', ...Profile })) as TSchema;
}
