/**
 * A simulated switch/AP that answers real SNMP (v1/v2c, community `public`) on one loopback UDP
 * port, using net-snmp's own Agent: system group, ifNumber, ifTable and ifXTable, with counters
 * that move as traffic-model.ts says. See docs/decisions/0003-simulated-snmp.md.
 */
import * as dgram from 'node:dgram';
import snmp, { type MibRequest } from 'net-snmp';
import { portCounters, portModels, type PortModel } from './traffic-model.ts';

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
