/**
 * A simulated switch/AP that answers real SNMP (v1/v2c, community `public`) on one loopback UDP
 * port, using net-snmp's own Agent: system group, ifNumber, ifTable and ifXTable, with counters
 * that move as traffic-model.ts says, and, when given `neighbours`, LLDP-MIB lldpRemTable rows
 * (the switches it sees on its ports) with the lldpLocPortTable naming those ports, and, when given `ipAddresses` or `uplinkIpv6`, IP-MIB
 * ipAddressTable rows (which address sits on which interface). See docs/decisions/0003-simulated-snmp.md.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import snmp, { type MibRequest } from 'net-snmp';
import { portCounters, portModels, type PortModel } from './traffic-model.ts';

/** One LLDP neighbour as the switch's lldpRemTable shows it. */
export interface SimulatedNeighbour {
  /** lldpRemLocalPortNum: the local port (here its ifIndex) the neighbour is seen on */
  localPort: number;
  remoteSysName: string;
  /** an interface name (subtype interfaceName) or a MAC address aa:bb:cc:dd:ee:ff (subtype macAddress) */
  remotePortId: string;
  /** a MAC address (subtype macAddress, sent as six octets) or any text (subtype local) */
  remoteChassisId: string;
  remotePortDesc?: string;
}

/** A stable, locally administered chassis MAC for a simulated device (02:…, never printable as text). */
export function chassisMacFor(sysName: string): string {
  let h = 2166136261;
  for (const c of sysName) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  const bytes = [0x02, 0xca, (h >>> 24) & 255, (h >>> 16) & 255, (h >>> 8) & 255, h & 255];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** One IP-MIB ipAddressTable row: an address on an interface. */
export interface SimulatedIpAddress {
  /** ipAddressIfIndex: the interface the address sits on */
  ifIndex: number;
  /** IPv4 dotted quad or IPv6 text */
  address: string;
  /** ipAddressType; default unicast */
  type?: 'unicast' | 'anycast' | 'broadcast';
}

const ADDRESS_TYPE = { unicast: 1, anycast: 2, broadcast: 3 } as const;

/** The 4 or 16 bytes of an address (InetAddress), for the ipAddressTable index. */
export function inetAddressBytes(address: string): Buffer {
  if (net.isIPv4(address)) return Buffer.from(address.split('.').map(Number));
  if (!net.isIPv6(address) || address.includes('.')) throw new Error(`not an IPv4 or plain IPv6 address: ${address}`);
  const [head = '', tail] = address.split('::') as [string, string | undefined];
  const groups = (part: string) => (part ? part.split(':') : []).map((g) => parseInt(g, 16));
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const b = Buffer.alloc(16);
  all.forEach((g, i) => b.writeUInt16BE(g, 2 * i));
  return b;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const macBytes = (mac: string): Buffer => Buffer.from(mac.split(':').map((x) => parseInt(x, 16)));

export interface SimulatedSwitchOptions {
  /** loopback only; default 127.0.0.1 */
  host?: string;
  /** 0 or absent: a free port */
  port?: number;
  sysName: string;
  sysObjectID: string;
  sysDescr?: string;
  interfaces: number;
  uplinkMbps: number;
  community?: string;
  /** LLDP neighbours (lldpRemTable rows); none: the switch offers no LLDP-MIB at all */
  neighbours?: readonly SimulatedNeighbour[];
  /** false: no lldpLocPortTable beside the neighbours (older switches), so their port numbers go unnamed */
  lldpLocalPortTable?: boolean;
  /** IP-MIB ipAddressTable rows; none (and no `uplinkIpv6`): the switch offers no ipAddressTable */
  ipAddresses?: readonly SimulatedIpAddress[];
  /** shorthand: this global IPv6 address on the uplink port (the last ifIndex), with a link-local fe80:: beside it */
  uplinkIpv6?: string;
  /** clock, for tests that want to pin time */
  now?: () => number;
}

export interface SimulatedSwitch {
  host: string;
  port: number;
  ports: PortModel[];
  stop(): Promise<void>;
}

const IF_ENTRY = '1.3.6.1.2.1.2.2.1';
const IFX_ENTRY = '1.3.6.1.2.1.31.1.1.1';
const LLDP_REM_ENTRY = '1.0.8802.1.1.2.1.4.1.1';
const LLDP_LOC_PORT_ENTRY = '1.0.8802.1.1.2.1.3.7.1';
const IP_ADDRESS_ENTRY = '1.3.6.1.2.1.4.34.1';
const RO = snmp.MaxAccess['read-only']!;
const NA = snmp.MaxAccess['not-accessible']!;
const T = snmp.ObjectType;

function assertLoopback(host: string): void {
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== '::1') throw new Error(`simulated SNMP devices bind to loopback only, not ${host}`);
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(n))) & 0xffff_ffff_ffff_ffffn);
  return b;
}

export async function startSimulatedSwitch(opts: SimulatedSwitchOptions): Promise<SimulatedSwitch> {
  const host = opts.host ?? '127.0.0.1';
  assertLoopback(host);
  if (!Number.isInteger(opts.interfaces) || opts.interfaces < 1 || opts.interfaces > 1024) throw new Error(`interfaces must be 1..1024, got ${opts.interfaces}`);
  const now = opts.now ?? Date.now;
  const startedAt = now();
  const ports = portModels(opts.sysName, opts.interfaces, opts.uplinkMbps);
  const byIndex = new Map(ports.map((p) => [p.ifIndex, p]));

  // net-snmp turns port 0 into 161; its documented dgramModule hook lets us bind the port we want
  // (0 = let the kernel choose) and learn which one we got, without a find-then-bind race.
  let socket: dgram.Socket | undefined;
  const dgramModule = {
    createSocket(type: dgram.SocketType): dgram.Socket {
      const s = dgram.createSocket(type);
      const bind = s.bind.bind(s) as (port: number, address: string) => dgram.Socket;
      (s as unknown as { bind: (port: number, address: string) => dgram.Socket }).bind = (_p: number, address: string) => bind(opts.port ?? 0, address);
      socket = s;
      return s;
    },
  };
  const agent = snmp.createAgent(
    { address: host, port: opts.port || 1, transport: host === '::1' ? 'udp6' : 'udp4', dgramModule },
    () => {
      // malformed requests and auth failures: an agent simulator just ignores them
    },
  );
  const listening = socket!;
  await new Promise<void>((resolve, reject) => {
    listening.once('listening', () => resolve());
    listening.once('error', reject);
  });
  const boundPort = listening.address().port;
  const community = opts.community ?? 'public';
  agent.getAuthorizer().addCommunity(community);

  const columnOf = (req: MibRequest, entry: string): { col: number; port: PortModel | undefined } => {
    const rest = req.oid.slice(entry.length + 1).split('.');
    return { col: Number(rest[0]), port: byIndex.get(Number(rest[1])) };
  };
  const ifTableHandler = (req: MibRequest): void => {
    const { col, port } = columnOf(req, IF_ENTRY);
    if (port) {
      const c = portCounters(port, now());
      if (col === 10) req.instanceNode.value = c.inOctets % 0x1_0000_0000;
      else if (col === 16) req.instanceNode.value = c.outOctets % 0x1_0000_0000;
      else if (col === 14) req.instanceNode.value = c.inErrors;
      else if (col === 20) req.instanceNode.value = c.outErrors;
    }
    req.done();
  };
  const ifXTableHandler = (req: MibRequest): void => {
    const { col, port } = columnOf(req, IFX_ENTRY);
    if (port) {
      const c = portCounters(port, now());
      if (col === 6) req.instanceNode.value = u64(c.inOctets);
      else if (col === 10) req.instanceNode.value = u64(c.outOctets);
    }
    req.done();
  };

  const mib = agent.getMib();
  mib.registerProviders([
    { name: 'sysDescr', type: snmp.MibProviderType.Scalar, oid: '1.3.6.1.2.1.1.1', scalarType: T.OctetString, maxAccess: RO },
    { name: 'sysObjectID', type: snmp.MibProviderType.Scalar, oid: '1.3.6.1.2.1.1.2', scalarType: T.OID, maxAccess: RO },
    {
      name: 'sysUpTime',
      type: snmp.MibProviderType.Scalar,
      oid: '1.3.6.1.2.1.1.3',
      scalarType: T.TimeTicks,
      maxAccess: RO,
      handler: (req) => {
        req.instanceNode.value = Math.floor((now() - startedAt) / 10) % 0x1_0000_0000;
        req.done();
      },
    },
    { name: 'sysName', type: snmp.MibProviderType.Scalar, oid: '1.3.6.1.2.1.1.5', scalarType: T.OctetString, maxAccess: RO },
    { name: 'ifNumber', type: snmp.MibProviderType.Scalar, oid: '1.3.6.1.2.1.2.1', scalarType: T.Integer, maxAccess: RO },
    {
      name: 'ifEntry',
      type: snmp.MibProviderType.Table,
      oid: IF_ENTRY,
      maxAccess: NA,
      tableColumns: [
        { number: 1, name: 'ifIndex', type: T.Integer, maxAccess: RO },
        { number: 2, name: 'ifDescr', type: T.OctetString, maxAccess: RO },
        { number: 3, name: 'ifType', type: T.Integer, maxAccess: RO },
        { number: 5, name: 'ifSpeed', type: T.Gauge32, maxAccess: RO },
        { number: 7, name: 'ifAdminStatus', type: T.Integer, maxAccess: RO },
        { number: 8, name: 'ifOperStatus', type: T.Integer, maxAccess: RO },
        { number: 10, name: 'ifInOctets', type: T.Counter32, maxAccess: RO },
        { number: 14, name: 'ifInErrors', type: T.Counter32, maxAccess: RO },
        { number: 16, name: 'ifOutOctets', type: T.Counter32, maxAccess: RO },
        { number: 20, name: 'ifOutErrors', type: T.Counter32, maxAccess: RO },
      ],
      tableIndex: [{ columnName: 'ifIndex' }],
      handler: ifTableHandler,
    },
    {
      name: 'ifXEntry',
      type: snmp.MibProviderType.Table,
      oid: IFX_ENTRY,
      maxAccess: NA,
      tableColumns: [
        { number: 1, name: 'ifName', type: T.OctetString, maxAccess: RO },
        { number: 6, name: 'ifHCInOctets', type: T.Counter64, maxAccess: RO },
        { number: 10, name: 'ifHCOutOctets', type: T.Counter64, maxAccess: RO },
        { number: 15, name: 'ifHighSpeed', type: T.Gauge32, maxAccess: RO },
      ],
      tableAugments: 'ifEntry',
      handler: ifXTableHandler,
    },
  ]);
  if (opts.neighbours && opts.neighbours.length > 0) {
    mib.registerProviders([
      {
        name: 'lldpRemEntry',
        type: snmp.MibProviderType.Table,
        oid: LLDP_REM_ENTRY,
        maxAccess: NA,
        tableColumns: [
          { number: 1, name: 'lldpRemTimeMark', type: T.TimeTicks, maxAccess: NA },
          { number: 2, name: 'lldpRemLocalPortNum', type: T.Integer, maxAccess: NA },
          { number: 3, name: 'lldpRemIndex', type: T.Integer, maxAccess: NA },
          { number: 4, name: 'lldpRemChassisIdSubtype', type: T.Integer, maxAccess: RO },
          { number: 5, name: 'lldpRemChassisId', type: T.OctetString, maxAccess: RO },
          { number: 6, name: 'lldpRemPortIdSubtype', type: T.Integer, maxAccess: RO },
          { number: 7, name: 'lldpRemPortId', type: T.OctetString, maxAccess: RO },
          { number: 8, name: 'lldpRemPortDesc', type: T.OctetString, maxAccess: RO },
          { number: 9, name: 'lldpRemSysName', type: T.OctetString, maxAccess: RO },
        ],
        tableIndex: [{ columnName: 'lldpRemTimeMark' }, { columnName: 'lldpRemLocalPortNum' }, { columnName: 'lldpRemIndex' }],
      },
      {
        // lldpLocPortTable: what lldpRemLocalPortNum means (here the ifIndex, with the port's name)
        name: 'lldpLocPortEntry',
        type: snmp.MibProviderType.Table,
        oid: LLDP_LOC_PORT_ENTRY,
        maxAccess: NA,
        tableColumns: [
          { number: 1, name: 'lldpLocPortNum', type: T.Integer, maxAccess: NA },
          { number: 2, name: 'lldpLocPortIdSubtype', type: T.Integer, maxAccess: RO },
          { number: 3, name: 'lldpLocPortId', type: T.OctetString, maxAccess: RO },
          { number: 4, name: 'lldpLocPortDesc', type: T.OctetString, maxAccess: RO },
        ],
        tableIndex: [{ columnName: 'lldpLocPortNum' }],
      },
    ]);
    if (opts.lldpLocalPortTable !== false) for (const p of ports) mib.addTableRow('lldpLocPortEntry', [p.ifIndex, 5 /* interfaceName */, p.ifName, p.ifName]);
    const perPort = new Map<number, number>();
    for (const n of opts.neighbours) {
      if (!byIndex.has(n.localPort)) throw new Error(`neighbour ${n.remoteSysName}: no local port ${n.localPort} on ${opts.sysName}`);
      const remIndex = (perPort.get(n.localPort) ?? 0) + 1;
      perPort.set(n.localPort, remIndex);
      // LLDP-MIB subtypes: chassis 4 macAddress / 7 local; port 3 macAddress / 5 interfaceName
      const chassisMac = MAC_RE.test(n.remoteChassisId);
      const portMac = MAC_RE.test(n.remotePortId);
      mib.addTableRow('lldpRemEntry', [
        0,
        n.localPort,
        remIndex,
        chassisMac ? 4 : 7,
        chassisMac ? macBytes(n.remoteChassisId) : n.remoteChassisId,
        portMac ? 3 : 5,
        portMac ? macBytes(n.remotePortId) : n.remotePortId,
        n.remotePortDesc ?? n.remotePortId,
        n.remoteSysName,
      ]);
    }
  }
  const addresses = [...(opts.ipAddresses ?? [])];
  if (opts.uplinkIpv6 !== undefined) {
    const uplink = ports[ports.length - 1]!.ifIndex;
    addresses.push({ ifIndex: uplink, address: opts.uplinkIpv6 }, { ifIndex: uplink, address: `fe80::ca:${uplink.toString(16)}` });
  }
  if (addresses.length > 0) {
    mib.registerProviders([
      {
        name: 'ipAddressEntry',
        type: snmp.MibProviderType.Table,
        oid: IP_ADDRESS_ENTRY,
        maxAccess: NA,
        tableColumns: [
          { number: 1, name: 'ipAddressAddrType', type: T.Integer, maxAccess: NA },
          { number: 2, name: 'ipAddressAddr', type: T.OctetString, maxAccess: NA },
          { number: 3, name: 'ipAddressIfIndex', type: T.Integer, maxAccess: RO },
          { number: 4, name: 'ipAddressType', type: T.Integer, maxAccess: RO },
          { number: 7, name: 'ipAddressStatus', type: T.Integer, maxAccess: RO },
        ],
        tableIndex: [{ columnName: 'ipAddressAddrType' }, { columnName: 'ipAddressAddr' }],
      },
    ]);
    for (const a of addresses) {
      if (!byIndex.has(a.ifIndex)) throw new Error(`address ${a.address}: no interface ${a.ifIndex} on ${opts.sysName}`);
      const bytes = inetAddressBytes(a.address);
      // InetAddressType 1 ipv4, 2 ipv6; ipAddressStatus 1 preferred
      mib.addTableRow('ipAddressEntry', [bytes.length === 4 ? 1 : 2, bytes, a.ifIndex, ADDRESS_TYPE[a.type ?? 'unicast'], 1]);
    }
  }
  mib.setScalarValue('sysDescr', opts.sysDescr ?? `campus simulated switch ${opts.sysName}`);
  mib.setScalarValue('sysObjectID', opts.sysObjectID);
  mib.setScalarValue('sysUpTime', 0);
  mib.setScalarValue('sysName', opts.sysName);
  mib.setScalarValue('ifNumber', ports.length);
  const t0 = now();
  for (const p of ports) {
    const c = portCounters(p, t0);
    const ifSpeed = Math.min(p.speedMbps * 1_000_000, 0xffff_ffff);
    mib.addTableRow('ifEntry', [p.ifIndex, p.ifName, 6, ifSpeed, 1, p.up ? 1 : 2, c.inOctets % 0x1_0000_0000, c.inErrors, c.outOctets % 0x1_0000_0000, c.outErrors]);
    mib.addTableRow('ifXEntry', [p.ifIndex, p.ifName, u64(c.inOctets), u64(c.outOctets), p.speedMbps]);
  }

  let stopped = false;
  return {
    host,
    port: boundPort,
    ports,
    stop: () =>
      new Promise<void>((resolve) => {
        if (stopped) return resolve();
        stopped = true;
        agent.close(() => resolve());
      }),
  };
}
