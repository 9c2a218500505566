/**
 * SNMP discovery: a sweep sends one GET (sysDescr, sysObjectID, sysName, sysUpTime) to every
 * host:port of the configured targets with each v2c community in turn (the first that answers is
 * kept), with bounded concurrency and a per-probe timeout; what answers is handed back with its
 * fingerprint. `SnmpDeviceBook` turns the answers of successive sweeps into stable device ids
 * (kept in `<dataDir>/snmp-discovered.json`, so they survive restarts), and tells new devices,
 * changed ones (new address, new sysDescr/firmware, new name) and ones gone after N missed scans.
 *
 * Only configured targets are ever probed (DESIGN.md "Network safety"); expandTarget refuses a
 * range of more than 1024 addresses.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import snmp, { type Varbind } from 'net-snmp';
import { expandTarget, formatAddress, parseTarget } from './targets.ts';

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
  community: string;
  sysObjectID?: string;
  sysDescr?: string;
  sysName?: string;
  uptimeSec?: number;
}

export interface SweepOptions {
  communities: readonly string[];
  timeoutMs: number;
  retries?: number;
  concurrency: number;
  /** addresses to leave out (host:port as formatAddress writes it), e.g. configured devices */
  skip?: ReadonlySet<string>;
}

export interface SweepResult {
  found: SnmpFingerprintAnswer[];
  /** host:port pairs probed */
  probed: number;
  errors: string[];
}

function text(vb: Varbind | undefined, max = 1000): string | undefined {
  if (!vb || snmp.isVarbindError(vb) || vb.type !== snmp.ObjectType.OctetString || !Buffer.isBuffer(vb.value)) return undefined;
  // eslint-disable-next-line no-control-regex
  const s = vb.value.toString('utf8').replace(/[\u0000-\u001f\u007f\ufffd]/g, '').trim();
  return s ? s.slice(0, max) : undefined;
}

/** One GET of the system group; undefined when nothing (valid) answers within the timeout. */
export function probeSnmp(host: string, port: number, community: string, opts: { timeoutMs: number; retries?: number }): Promise<SnmpFingerprintAnswer | undefined> {
  return new Promise((resolve) => {
    let session: ReturnType<typeof snmp.createSession>;
    try {
      session = snmp.createSession(host, community, {
        port,
        version: snmp.Version2c,
        timeout: opts.timeoutMs,
        retries: opts.retries ?? 0,
        transport: host.includes(':') ? 'udp6' : 'udp4',
      });
    } catch {
      resolve(undefined);
      return;
    }
    session.on('error', () => {});
    session.get([OIDS.sysDescr, OIDS.sysObjectID, OIDS.sysName, OIDS.sysUpTime], (err, vbs) => {
      session.close();
      if (err || !vbs) return resolve(undefined);
      const byOid = new Map(vbs.map((vb) => [vb.oid, vb]));
      const oidVb = byOid.get(OIDS.sysObjectID);
      const sysObjectID =
        oidVb && !snmp.isVarbindError(oidVb) && oidVb.type === snmp.ObjectType.OID && typeof oidVb.value === 'string' && /^[0-9]+(\.[0-9]+){1,127}$/.test(oidVb.value) ? oidVb.value : undefined;
      const up = byOid.get(OIDS.sysUpTime);
      const uptimeSec = up && up.type === snmp.ObjectType.TimeTicks && typeof up.value === 'number' && up.value >= 0 ? up.value / 100 : undefined;
      resolve({
        host,
        port,
        address: formatAddress(host, port),
        community,
        ...(sysObjectID ? { sysObjectID } : {}),
        ...(text(byOid.get(OIDS.sysDescr)) ? { sysDescr: text(byOid.get(OIDS.sysDescr)) } : {}),
        ...(text(byOid.get(OIDS.sysName), 255) ? { sysName: text(byOid.get(OIDS.sysName), 255) } : {}),
        ...(uptimeSec !== undefined ? { uptimeSec } : {}),
      });
    });
  });
}

/** Probes every host:port of `targets` (specs as in the config) with each community in turn. */
export async function sweepSnmp(targets: readonly string[], opts: SweepOptions): Promise<SweepResult> {
  const errors: string[] = [];
  const seen = new Set<string>();
  const queue: Array<{ host: string; port: number }> = [];
  for (const spec of targets) {
    try {
      for (const hp of expandTarget(parseTarget(spec))) {
        const key = formatAddress(hp.host, hp.port);
        if (seen.has(key) || opts.skip?.has(key)) continue;
        seen.add(key);
        queue.push(hp);
      }
    } catch (err) {
      // a bad or oversized target is refused alone; the others are still swept
      errors.push((err as Error).message);
    }
  }
  const order = new Map(queue.map((q, i) => [formatAddress(q.host, q.port), i]));
  const found: SnmpFingerprintAnswer[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < queue.length) {
      const { host, port } = queue[next++]!;
      for (const community of opts.communities) {
        const answer = await probeSnmp(host, port, community, opts);
        if (answer) {
          found.push(answer);
          break;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, queue.length) }, worker));
  found.sort((a, b) => order.get(a.address)! - order.get(b.address)!);
  return { found, probed: queue.length, errors };
}

// ---------------------------------------------------------------- identity across scans

export interface BookEntry {
  id: string;
  address: string;
  host: string;
  port: number;
  community: string;
  sysObjectID?: string;
  sysDescr?: string;
  sysName?: string;
  /** where the device was before its last address change */
  previousAddress?: string;
  firstSeen: number;
  lastSeen: number;
  /** scans in a row that did not find it */
  missedScans: number;
  gone: boolean;
}

export interface ScanChanges {
  found: number;
  added: BookEntry[];
  changed: Array<{ entry: BookEntry; what: string[] }>;
  /** entries that reached goneAfterScans missed scans in this scan */
  gone: BookEntry[];
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** A device id from a sysName: characters the protocol refuses become '-', bounded. */
export function idFromSysName(sysName: string | undefined): string | undefined {
  if (!sysName) return undefined;
  const id = sysName
    .replace(/[^A-Za-z0-9_.:-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/-+$/, '')
    .slice(0, 96);
  return ID_RE.test(id) ? id : undefined;
}

/** Stable ids for discovered SNMP devices, persisted as JSON in the agent's dataDir. */
export class SnmpDeviceBook {
  private readonly entries = new Map<string, BookEntry>();

  constructor(
    private readonly file: string,
    private readonly log: { warn(msg: string): void } = { warn: () => {} },
  ) {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn(`ignoring unreadable ${file}: ${(err as Error).message}`);
      return;
    }
    const list = (raw as { devices?: unknown })?.devices;
    if (!Array.isArray(list)) return;
    for (const e of list as BookEntry[]) {
      if (e && typeof e.id === 'string' && ID_RE.test(e.id) && typeof e.host === 'string' && Number.isInteger(e.port) && typeof e.community === 'string') {
        this.entries.set(e.id, { ...e, address: formatAddress(e.host, e.port), missedScans: Number(e.missedScans) || 0, gone: e.gone === true });
      }
    }
  }

  /** Devices currently present (not gone). */
  active(): BookEntry[] {
    return [...this.entries.values()].filter((e) => !e.gone).sort((a, b) => (a.id < b.id ? -1 : 1));
  }
  get(id: string): BookEntry | undefined {
    return this.entries.get(id);
  }

  private save(): void {
    const tmp = `${this.file}.tmp`;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    // mode 0600: it holds the community each device answered to
    fs.writeFileSync(tmp, JSON.stringify({ version: 1, devices: [...this.entries.values()] }, null, 1), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }

  private newId(a: SnmpFingerprintAnswer, reserved: ReadonlySet<string>): string {
    const taken = (id: string): boolean => this.entries.has(id) || reserved.has(id);
    const fromHost = `snmp-${a.host}-${a.port}`.replace(/[^A-Za-z0-9_.:-]/g, '-');
    for (const base of [idFromSysName(a.sysName), fromHost]) {
      if (!base) continue;
      if (!taken(base)) return base;
      for (let i = 2; i < 1000; i++) if (!taken(`${base}-${i}`)) return `${base}-${i}`;
    }
    return `${fromHost}-${Date.now()}`;
  }

  /**
   * Applies one sweep. An answer is the same device as a known entry when (in this order) address,
   * sysObjectID and sysName all agree; or sysName and sysObjectID agree (it moved: a change of
   * address); or address and sysObjectID agree (it was renamed). Anything else is new.
   * `reserved` ids (configured devices) are never handed out.
   */
  applyScan(found: readonly SnmpFingerprintAnswer[], opts: { goneAfterScans: number; reserved: ReadonlySet<string>; now?: number }): ScanChanges {
    const now = opts.now ?? Date.now();
    const changes: ScanChanges = { found: found.length, added: [], changed: [], gone: [] };
    const claimed = new Set<string>();
    const match = new Map<SnmpFingerprintAnswer, BookEntry>();
    const rules: Array<(a: SnmpFingerprintAnswer, e: BookEntry) => boolean> = [
      (a, e) => e.address === a.address && e.sysObjectID === a.sysObjectID && e.sysName === a.sysName,
      (a, e) => a.sysName !== undefined && e.sysName === a.sysName && e.sysObjectID === a.sysObjectID,
      (a, e) => e.address === a.address && e.sysObjectID === a.sysObjectID,
    ];
    for (const rule of rules) {
      for (const a of found) {
        if (match.has(a)) continue;
        const e = [...this.entries.values()].find((x) => !claimed.has(x.id) && rule(a, x));
        if (e) {
          match.set(a, e);
          claimed.add(e.id);
        }
      }
    }
    for (const a of found) {
      const e = match.get(a);
      if (!e) {
        const entry: BookEntry = {
          id: this.newId(a, opts.reserved),
          address: a.address,
          host: a.host,
          port: a.port,
          community: a.community,
          ...(a.sysObjectID ? { sysObjectID: a.sysObjectID } : {}),
          ...(a.sysDescr ? { sysDescr: a.sysDescr } : {}),
          ...(a.sysName ? { sysName: a.sysName } : {}),
          firstSeen: now,
          lastSeen: now,
          missedScans: 0,
          gone: false,
        };
        this.entries.set(entry.id, entry);
        changes.added.push(entry);
        continue;
      }
      const what: string[] = [];
      if (e.gone) what.push('back');
      if (e.address !== a.address) {
        what.push('address');
        e.previousAddress = e.address;
        Object.assign(e, { address: a.address, host: a.host, port: a.port });
      }
      if (e.sysDescr !== a.sysDescr) what.push('sysDescr');
      if (e.sysName !== a.sysName) what.push('sysName');
      if (e.sysObjectID !== a.sysObjectID) what.push('sysObjectID');
      if (e.community !== a.community) what.push('community');
      Object.assign(e, { community: a.community, sysDescr: a.sysDescr, sysName: a.sysName, sysObjectID: a.sysObjectID, lastSeen: now, missedScans: 0, gone: false });
      for (const k of ['sysDescr', 'sysName', 'sysObjectID'] as const) if (e[k] === undefined) delete e[k];
      // a community change is not news for the centre (and must not be sent to it)
      const visible = what.filter((w) => w !== 'community');
      if (visible.length > 0) changes.changed.push({ entry: e, what: visible });
    }
    for (const e of this.entries.values()) {
      if (claimed.has(e.id) || e.gone || changes.added.includes(e)) continue;
      e.missedScans++;
      if (e.missedScans >= opts.goneAfterScans) {
        e.gone = true;
        changes.gone.push(e);
      }
    }
    this.save();
    return changes;
  }
}
