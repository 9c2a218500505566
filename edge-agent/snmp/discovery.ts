/**
 * SNMP discovery: a sweep sends one GET (sysDescr, sysObjectID, sysName, sysUpTime) to every
 * host:port of the configured targets with each v2c community in turn, then each SNMPv3 user (the
 * first that answers is kept: a community, or the *name* of the v3 user, never its keys), with
 * bounded concurrency and a per-probe timeout; what answers is handed back with its fingerprint.
 * A v3 agent that refuses every user ("unknown user", "authentication failed") is a per-target
 * error; the sweep goes on. `SnmpDeviceBook` turns the answers of successive sweeps into stable device ids
 * (kept in `<dataDir>/snmp-discovered.json`, so they survive restarts), and tells new devices,
 * changed ones (new address, new sysDescr/firmware, new name) and ones gone after N missed scans.
 *
 * Only configured targets are ever probed (DESIGN.md "Network safety"); expandHosts refuses a
 * range of more than 1024 addresses, and an address `isAllowed` (discovery.allow) refuses is left
 * out before anything is sent, with one warning per target; a host name is checked and probed on
 * the address it resolves to (allowed-address.ts).
 */
import snmp, { type Session, type Varbind } from 'net-snmp';
import type { SnmpV3User } from '../credentials.ts';
import type { AllowHost } from '../http/targets.ts';
import { allowedAddress, type Resolve } from './allowed-address.ts';
import { expandHosts, formatAddress, parseTarget, type SnmpTarget } from './targets.ts';
import { openSnmpSession, snmpAuthError, type SnmpAuth } from './session.ts';
import { DeviceBook, idFromText, type Entry, type ScanChanges as GenericScanChanges } from '../discovery/book.ts';

const OIDS = {
  sysDescr: '1.3.6.1.2.1.1.1.0',
  sysObjectID: '1.3.6.1.2.1.1.2.0',
  sysUpTime: '1.3.6.1.2.1.1.3.0',
  sysName: '1.3.6.1.2.1.1.5.0',
} as const;

export interface SnmpFingerprintAnswer {
  host: string;
  port: number;
  /** host:port ([v6]:port) */
  address: string;
  /** the v2c community that answered ('' when an SNMPv3 user did) */
  community: string;
  /** the name of the SNMPv3 user that answered (a reference into the credential store) */
  v3User?: string;
  sysObjectID?: string;
  sysDescr?: string;
  sysName?: string;
  uptimeSec?: number;
}

export interface SweepOptions {
  communities: readonly string[];
  /** SNMPv3 users, tried after the communities */
  v3Users?: readonly SnmpV3User[];
  timeoutMs: number;
  retries?: number;
  concurrency: number;
  /** addresses to leave out (host:port as formatAddress writes it), e.g. configured devices */
  skip?: ReadonlySet<string>;
  /** discovery.allow: an address it refuses is sent nothing */
  isAllowed: AllowHost;
  /** how the warnings name that rule, e.g. `discovery.allow [127.0.0.0/8, ::1]` */
  allowRule?: string;
  /** host name → addresses (default: the system resolver) */
  resolve?: Resolve;
}

export interface SweepResult {
  found: SnmpFingerprintAnswer[];
  /** host:port pairs probed */
  probed: number;
  /** host:port pairs left out because the allow rule refuses their address (nothing was sent there) */
  notAllowed: number;
  errors: string[];
}

/** Up to three addresses, then how many more. */
function some(addresses: readonly string[]): string {
  return addresses.length <= 3 ? addresses.join(', ') : `${addresses.slice(0, 3).join(', ')} and ${addresses.length - 3} more`;
}

function text(vb: Varbind | undefined, max = 1000): string | undefined {
  if (!vb || snmp.isVarbindError(vb) || vb.type !== snmp.ObjectType.OctetString || !Buffer.isBuffer(vb.value)) return undefined;
  // eslint-disable-next-line no-control-regex
  const s = vb.value.toString('utf8').replace(/[\u0000-\u001f\u007f\ufffd]/g, '').trim();
  return s ? s.slice(0, max) : undefined;
}

/** One GET of the system group; undefined when nothing (valid) answers within the timeout. */
export async function probeSnmp(host: string, port: number, community: string, opts: { timeoutMs: number; retries?: number }): Promise<SnmpFingerprintAnswer | undefined> {
  const r = await probeWith(host, port, { version: '2c', community }, opts);
  return 'answer' in r ? r.answer : undefined;
}

/**
 * One GET of the system group with one credential: the answer, or why there is none (`error` only
 * for what an administrator must fix, e.g. a v3 user the device refuses; silence is `{}`).
 */
export function probeWith(host: string, port: number, auth: SnmpAuth, opts: { timeoutMs: number; retries?: number }): Promise<{ answer: SnmpFingerprintAnswer } | { error?: string }> {
  return new Promise((resolve) => {
    let session: Session;
    try {
      session = openSnmpSession(host, port, auth, opts);
    } catch (err) {
      resolve(auth.version === '3' ? { error: `SNMPv3 user "${auth.user.name}": cannot open session: ${(err as Error).message}` } : {});
      return;
    }
    session.get([OIDS.sysDescr, OIDS.sysObjectID, OIDS.sysName, OIDS.sysUpTime], (err, vbs) => {
      session.close();
      if (err || !vbs) {
        const error = err ? snmpAuthError(err, auth, session) : undefined;
        return resolve(error ? { error } : {});
      }
      const byOid = new Map(vbs.map((vb) => [vb.oid, vb]));
      const oidVb = byOid.get(OIDS.sysObjectID);
      const sysObjectID =
        oidVb && !snmp.isVarbindError(oidVb) && oidVb.type === snmp.ObjectType.OID && typeof oidVb.value === 'string' && /^[0-9]+(\.[0-9]+){1,127}$/.test(oidVb.value) ? oidVb.value : undefined;
      const up = byOid.get(OIDS.sysUpTime);
      const uptimeSec = up && up.type === snmp.ObjectType.TimeTicks && typeof up.value === 'number' && up.value >= 0 ? up.value / 100 : undefined;
      resolve({ answer: {
        host,
        port,
        address: formatAddress(host, port),
        community: auth.version === '3' ? '' : auth.community,
        ...(auth.version === '3' ? { v3User: auth.user.name } : {}),
        ...(sysObjectID ? { sysObjectID } : {}),
        ...(text(byOid.get(OIDS.sysDescr)) ? { sysDescr: text(byOid.get(OIDS.sysDescr)) } : {}),
        ...(text(byOid.get(OIDS.sysName), 255) ? { sysName: text(byOid.get(OIDS.sysName), 255) } : {}),
        ...(uptimeSec !== undefined ? { uptimeSec } : {}),
      } });
    });
  });
}

/**
 * Probes every host:port of `targets` (specs as in the config) that `isAllowed` admits with each
 * community, then each v3 user, in turn.
 */
export async function sweepSnmp(targets: readonly string[], opts: SweepOptions): Promise<SweepResult> {
  if (typeof opts.isAllowed !== 'function') throw new Error('sweepSnmp needs an isAllowed check');
  const rule = opts.allowRule ?? 'the allow rule';
  const errors: string[] = [];
  const seen = new Set<string>();
  const queue: Array<{ host: string; port: number }> = [];
  let notAllowed = 0;
  for (const spec of targets) {
    let target: SnmpTarget;
    let hosts: string[];
    try {
      target = parseTarget(spec);
      hosts = expandHosts(target);
    } catch (err) {
      // a bad or oversized target is refused alone; the others are still swept
      errors.push((err as Error).message);
      continue;
    }
    const ports = target.portTo - target.portFrom + 1;
    const refused: string[] = [];
    const admitted: Array<{ host: string; as?: string }> = [];
    if (target.family === 'name') {
      const a = await allowedAddress(target.host, opts.isAllowed, opts.resolve);
      if (a.ok) admitted.push({ host: a.address, as: target.host });
      else if (a.error !== undefined) errors.push(`target ${JSON.stringify(spec)}: ${a.error}; nothing sent`);
      else refused.push(...a.refused);
      if (refused.length > 0) {
        notAllowed += ports;
        errors.push(`target ${JSON.stringify(spec)}: ${target.host} resolves to ${some(refused)}, outside ${rule}: not probed`);
      }
    } else {
      for (const h of hosts) {
        if (opts.isAllowed(h)) admitted.push({ host: h });
        else refused.push(h);
      }
      if (refused.length > 0) {
        notAllowed += refused.length * ports;
        errors.push(`target ${JSON.stringify(spec)}: ${some(refused)} outside ${rule}: not probed`);
      }
    }
    for (const { host, as } of admitted) {
      for (let port = target.portFrom; port <= target.portTo; port++) {
        const key = formatAddress(host, port);
        // a configured device may be named by its host name or by its address
        if (seen.has(key) || opts.skip?.has(key) || (as !== undefined && opts.skip?.has(formatAddress(as, port)))) continue;
        seen.add(key);
        queue.push({ host, port });
      }
    }
  }
  const order = new Map(queue.map((q, i) => [formatAddress(q.host, q.port), i]));
  const found: SnmpFingerprintAnswer[] = [];
  const authErrors = new Map<string, string[]>();
  const auths: SnmpAuth[] = [
    ...opts.communities.map((community): SnmpAuth => ({ version: '2c', community })),
    ...(opts.v3Users ?? []).map((user): SnmpAuth => ({ version: '3', user })),
  ];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < queue.length) {
      const { host, port } = queue[next++]!;
      const refused: string[] = [];
      let answered = false;
      for (const auth of auths) {
        const r = await probeWith(host, port, auth, opts);
        if ('answer' in r) {
          found.push(r.answer);
          answered = true;
          break;
        }
        if (r.error) refused.push(r.error);
      }
      if (!answered && refused.length > 0) authErrors.set(formatAddress(host, port), refused);
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, queue.length) }, worker));
  found.sort((a, b) => order.get(a.address)! - order.get(b.address)!);
  for (const [address, why] of [...authErrors].sort((a, b) => order.get(a[0])! - order.get(b[0])!)) errors.push(`${address}: ${why.join('; ')}`);
  return { found, probed: queue.length, notAllowed, errors };
}

// ---------------------------------------------------------------- identity across scans

export interface SnmpFields {
  community: string;
  /** name of the SNMPv3 user that answered; absent: the community did */
  v3User: string;
  sysObjectID: string;
  sysDescr: string;
  sysName: string;
}
export type BookEntry = Entry<SnmpFields> & { community: string };
export type ScanChanges = GenericScanChanges<SnmpFields>;

/** A device id from a sysName: characters the protocol refuses become '-', bounded. */
export const idFromSysName = idFromText;

/**
 * Stable ids for discovered SNMP devices, persisted as JSON in the agent's dataDir. An answer is
 * the same device as a known entry when (in this order) address, sysObjectID and sysName all agree;
 * or sysName and sysObjectID agree (it moved: a change of address); or address and sysObjectID
 * agree (it was renamed). Anything else is new. A community or v3 user change is kept but is not
 * news for the centre (and must not be sent to it; the book holds a v3 user's name, never its keys).
 */
export class SnmpDeviceBook extends DeviceBook<SnmpFields> {
  constructor(file: string, log: { warn(msg: string): void } = { warn: () => {} }) {
    super(
      file,
      {
        fields: ['sysDescr', 'sysName', 'sysObjectID', 'community', 'v3User'],
        news: ['sysDescr', 'sysName', 'sysObjectID'],
        same: [
          (a, e) => e.address === a.address && e.sysObjectID === a.sysObjectID && e.sysName === a.sysName,
          (a, e) => a.sysName !== undefined && e.sysName === a.sysName && e.sysObjectID === a.sysObjectID,
          (a, e) => e.address === a.address && e.sysObjectID === a.sysObjectID,
        ],
        ids: (a) => [idFromSysName(a.sysName), `snmp-${a.host}-${a.port}`.replace(/[^A-Za-z0-9_.:-]/g, '-')],
        valid: (e) => typeof e.community === 'string',
      },
      log,
    );
  }
  override active(): BookEntry[] {
    return super.active() as BookEntry[];
  }
  override get(id: string): BookEntry | undefined {
    return super.get(id) as BookEntry | undefined;
  }
}
