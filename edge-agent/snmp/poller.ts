/**
 * Polls one SNMP device (system group + IF-MIB ifTable/ifXTable) and turns the answers into
 * protocol Readings. Every varbind is checked for type and plausibility; a bad one is skipped and
 * counted, never thrown. A device that does not answer the system group yields
 * `device {reachable: false}` so the centre can tell "offline" from "silent".
 */
import snmp, { type Session, type Varbind } from 'net-snmp';
import type { Reading } from '../../protocol/index.ts';
import { splitAddress, type DeviceConfig } from '../config.ts';

export const OID = {
  sysDescr: '1.3.6.1.2.1.1.1.0',
  sysObjectID: '1.3.6.1.2.1.1.2.0',
  sysUpTime: '1.3.6.1.2.1.1.3.0',
  sysName: '1.3.6.1.2.1.1.5.0',
  ifDescr: '1.3.6.1.2.1.2.2.1.2',
  ifOperStatus: '1.3.6.1.2.1.2.2.1.8',
  ifInErrors: '1.3.6.1.2.1.2.2.1.14',
  ifOutErrors: '1.3.6.1.2.1.2.2.1.20',
  ifName: '1.3.6.1.2.1.31.1.1.1.1',
  ifHCInOctets: '1.3.6.1.2.1.31.1.1.1.6',
  ifHCOutOctets: '1.3.6.1.2.1.31.1.1.1.10',
  ifHighSpeed: '1.3.6.1.2.1.31.1.1.1.15',
} as const;

type Column = 'ifDescr' | 'ifOperStatus' | 'ifInErrors' | 'ifOutErrors' | 'ifName' | 'ifHCInOctets' | 'ifHCOutOctets' | 'ifHighSpeed';
const COLUMNS: Column[] = ['ifName', 'ifDescr', 'ifOperStatus', 'ifHighSpeed', 'ifHCInOctets', 'ifHCOutOctets', 'ifInErrors', 'ifOutErrors'];

const T = snmp.ObjectType;
const MAX_U32 = 0xffff_ffff;
/** 10 Tbit/s: anything faster is a broken agent, not a port. */
const MAX_SPEED_MBPS = 10_000_000;
const MAX_IF_INDEX = 0x7fff_ffff;

export interface SystemInfo {
  sysDescr?: string;
  sysObjectID?: string;
  sysName?: string;
  uptimeSec?: number;
}

export interface PollResult {
  device: string;
  reachable: boolean;
  readings: Reading[];
  system: SystemInfo;
  /** varbinds skipped as invalid (wrong type, noSuchObject, absurd value, bad index) */
  skipped: number;
  /** why the device or a table could not be read, if it could not */
  errors: string[];
}

/** Counter64 arrives as a variable-length big-endian Buffer. Numbers above 2^53 lose precision. */
export function counter64ToNumber(value: unknown): number | undefined {
  if (!Buffer.isBuffer(value) || value.length === 0 || value.length > 9) return undefined;
  const big = BigInt('0x' + value.toString('hex'));
  if (big > 0xffff_ffff_ffff_ffffn) return undefined;
  return Number(big);
}

/** Printable text from an OctetString: control characters removed, trimmed, bounded. */
function octetText(value: unknown, max = 256): string | undefined {
  if (!Buffer.isBuffer(value)) return undefined;
  // eslint-disable-next-line no-control-regex
  const s = value.toString('utf8').replace(/[\u0000-\u001f\u007f\ufffd]/g, '').trim();
  return s.length > 0 ? s.slice(0, max) : undefined;
}

function u32(vb: Varbind, types: number[]): number | undefined {
  if (!types.includes(vb.type) || typeof vb.value !== 'number' || !Number.isInteger(vb.value) || vb.value < 0 || vb.value > MAX_U32) return undefined;
  return vb.value;
}

/** Validates one column value; undefined means "skip and count". */
function columnValue(col: Column, vb: Varbind): number | string | undefined {
  switch (col) {
    case 'ifName':
    case 'ifDescr':
      return vb.type === T.OctetString ? octetText(vb.value) : undefined;
    case 'ifOperStatus': {
      const v = vb.type === T.Integer && typeof vb.value === 'number' ? vb.value : undefined;
      return v !== undefined && Number.isInteger(v) && v >= 1 && v <= 7 ? v : undefined;
    }
    case 'ifHighSpeed': {
      const v = u32(vb, [T.Gauge32]);
      return v !== undefined && v <= MAX_SPEED_MBPS ? v : undefined;
    }
    case 'ifHCInOctets':
    case 'ifHCOutOctets':
      return vb.type === T.Counter64 ? counter64ToNumber(vb.value) : undefined;
    case 'ifInErrors':
    case 'ifOutErrors':
      return u32(vb, [T.Counter32]);
  }
}

function sessionFor(device: DeviceConfig): Session {
  const { host, port } = splitAddress(device.address);
  if (device.snmp.version === '3' || device.snmp.version === 3) throw new Error('SNMPv3 needs a session opened with the credential store');
  return snmp.createSession(host, device.snmp.community, {
    port,
    version: device.snmp.version === '2c' ? snmp.Version2c : snmp.Version1,
    timeout: device.snmp.timeoutMs,
    retries: device.snmp.retries,
    transport: host.includes(':') ? 'udp6' : 'udp4',
  });
}

function getAsync(session: Session, oids: string[]): Promise<Varbind[]> {
  return new Promise((resolve, reject) => session.get(oids, (err, vbs) => (err ? reject(err) : resolve(vbs ?? []))));
}

/** Rows beyond this in one column mean a looping or hostile agent, not a switch. */
const MAX_ROWS = 10_000;

/**
 * Walks one column; returns index → varbind, counting rows whose index is not a plain ifIndex.
 * net-snmp's subtree() keeps asking forever when an agent answers a GetBulk with error varbinds
 * that repeat the requested OID (seen with net-snmp's own Agent), so the feed stops the walk on
 * any error varbind, any OID that does not move forward, and past MAX_ROWS.
 */
function walkColumn(session: Session, columnOid: string, onBadIndex: () => void): Promise<Map<number, Varbind>> {
  const rows = new Map<number, Varbind>();
  const prefix = columnOid + '.';
  let last = -1;
  let seen = 0;
  return new Promise((resolve, reject) => {
    session.subtree(
      columnOid,
      50,
      (vbs) => {
        for (const vb of vbs) {
          if (++seen > MAX_ROWS) return true;
          if (snmp.isVarbindError(vb) || typeof vb.oid !== 'string' || !vb.oid.startsWith(prefix)) return true;
          const idx = Number(vb.oid.slice(prefix.length));
          if (!Number.isInteger(idx) || idx < 1 || idx > MAX_IF_INDEX) {
            onBadIndex();
            continue;
          }
          if (idx <= last) return true;
          last = idx;
          rows.set(idx, vb);
        }
        return false;
      },
      (err) => (err ? reject(err) : resolve(rows)),
    );
  });
}

/** `open`: the caller's session (e.g. SNMPv3 with a user from the credential store); default v1/v2c from the config. */
export async function pollSnmpDevice(device: DeviceConfig, now: () => number = Date.now, open: () => Session = () => sessionFor(device)): Promise<PollResult> {
  const result: PollResult = { device: device.id, reachable: false, readings: [], system: {}, skipped: 0, errors: [] };
  let session: Session;
  try {
    session = open();
  } catch (err) {
    result.errors.push(`cannot open SNMP session: ${(err as Error).message}`);
    result.readings.push({ device: device.id, ts: now(), measurement: 'device', metrics: { reachable: false } });
    return result;
  }
  // socket errors are reported through the pending request's callback; keep them off the process
  session.on('error', () => {});
  try {
    let sys: Varbind[];
    try {
      sys = await getAsync(session, [OID.sysDescr, OID.sysObjectID, OID.sysUpTime, OID.sysName]);
    } catch (err) {
      result.errors.push(`system group: ${(err as Error).message}`);
      result.readings.push({ device: device.id, ts: now(), measurement: 'device', metrics: { reachable: false } });
      return result;
    }
    result.reachable = true;
    const ts = now();
    result.readings.push({ device: device.id, ts, measurement: 'device', metrics: { reachable: true } });
    for (const vb of sys) {
      if (snmp.isVarbindError(vb)) {
        result.skipped++;
        continue;
      }
      if (vb.oid === OID.sysUpTime) {
        const ticks = u32(vb, [T.TimeTicks]);
        if (ticks === undefined) result.skipped++;
        else result.system.uptimeSec = ticks / 100;
      } else if (vb.oid === OID.sysObjectID) {
        if (vb.type === T.OID && typeof vb.value === 'string' && /^[0-9]+(\.[0-9]+)*$/.test(vb.value)) result.system.sysObjectID = vb.value;
        else result.skipped++;
      } else {
        const text = vb.type === T.OctetString ? octetText(vb.value, 1000) : undefined;
        if (text === undefined) result.skipped++;
        else if (vb.oid === OID.sysDescr) result.system.sysDescr = text;
        else if (vb.oid === OID.sysName) result.system.sysName = text;
      }
    }
    if (result.system.uptimeSec !== undefined) {
      result.readings.push({ device: device.id, ts, measurement: 'system', metrics: { uptimeSec: result.system.uptimeSec } });
    }

    const columns = new Map<Column, Map<number, Varbind>>();
    for (const col of COLUMNS) {
      try {
        columns.set(col, await walkColumn(session, OID[col], () => result.skipped++));
      } catch (err) {
        // one unreadable column (e.g. no ifXTable on a v1 device) must not lose the others
        result.errors.push(`${col}: ${(err as Error).message}`);
      }
    }
    const indexes = new Set<number>();
    for (const rows of columns.values()) for (const idx of rows.keys()) indexes.add(idx);
    for (const idx of [...indexes].sort((a, b) => a - b)) {
      const values: Partial<Record<Column, number | string>> = {};
      for (const col of COLUMNS) {
        const vb = columns.get(col)?.get(idx);
        if (!vb) continue;
        const v = columnValue(col, vb);
        if (v === undefined) result.skipped++;
        else values[col] = v;
      }
      const metrics: Record<string, number> = {};
      const put = (name: string, v: number | string | undefined): void => {
        if (typeof v === 'number') metrics[name] = v;
      };
      put('inOctets', values.ifHCInOctets);
      put('outOctets', values.ifHCOutOctets);
      put('operStatus', values.ifOperStatus);
      put('speedMbps', values.ifHighSpeed);
      put('inErrors', values.ifInErrors);
      put('outErrors', values.ifOutErrors);
      if (Object.keys(metrics).length === 0) continue;
      const ifName = String(values.ifName ?? values.ifDescr ?? `if${idx}`);
      result.readings.push({ device: device.id, ts, measurement: 'interface', tags: { ifIndex: String(idx), ifName }, metrics });
    }
    return result;
  } finally {
    session.close();
  }
}
