/**
 * Polls one SNMP device by its device profile. Every poll starts with one GET of the system group
 * (reachability, and the fingerprint: a new sysObjectID/sysDescr after a firmware upgrade or a
 * swapped box re-selects the profile); then the profile's groups that are due (`dueGroups`, or all
 * of them for poll-now) go through `pollSnmpProfile`. Counter history (`RateState`), missed polls
 * and the health rules currently holding are kept per device, here.
 *
 * Profile choice: the `profile` the config names; else the registry's best match for the
 * fingerprint; else the generic fallback (`generic-snmp-switch` for a device configured as a
 * switch, `generic-snmp-device` otherwise), reported as "no profile" in discovery. Without any
 * usable profile (none loaded) the built-in IF-MIB poller (poller.ts) keeps the agent working.
 *
 * Health rules that hold become events once when they start holding and once (info, "cleared")
 * when they stop; a rule is only judged on polls that read its measurement, and while the device
 * does not answer only rules on `device` are judged (a silent switch does not "clear" a port-down).
 *
 * A discovered device is polled only at an address discovery.allow admits, checked before every
 * poll; a configured device (`devices:`) is polled at its address as configured.
 */
import * as net from 'node:net';
import snmp, { type Session, type Varbind } from 'net-snmp';
import type { DeviceKind, Reading } from '../../protocol/index.ts';
import type { CredentialStore } from '../credentials.ts';
import type { AllowHost } from '../http/targets.ts';
import { allowedAddress } from './allowed-address.ts';
import { openSnmpSession, snmpAuthError, type SnmpAuth } from './session.ts';
import type { ResolvedProfile } from '../../device-profiles/loader.ts';
import type { ProfileRegistry } from '../../device-profiles/registry.ts';
import { dueGroups, pollSnmpProfile } from '../../device-profiles/engine/snmp.ts';
import { RateState } from '../../device-profiles/engine/rate.ts';
import { HealthTracker, type DevicePollResult, type SourcePoller } from '../discovery/health-tracker.ts';
import { splitAddress, type DeviceConfig } from '../config.ts';
import { OID, pollSnmpDevice, type SystemInfo } from './poller.ts';

export const FALLBACK_SWITCH_PROFILE = 'generic-snmp-switch';
export const FALLBACK_DEVICE_PROFILE = 'generic-snmp-device';

/** What the agent polls: a configured device, or one discovery found (kind `unknown` if unmatched). */
export interface PollTarget {
  id: string;
  kind: DeviceKind;
  address: string;
  snmp: DeviceConfig['snmp'];
  /** profile id forced by the config */
  profile?: string;
}

/** The credential a target is polled with: its community, or its SNMPv3 user looked up by name. */
export function authFor(t: PollTarget, credentials: CredentialStore | undefined): SnmpAuth {
  const v = t.snmp.version;
  if (v === '3' || v === 3 || t.snmp.v3User !== undefined) {
    const name = t.snmp.v3User;
    if (name === undefined) throw new Error('SNMPv3 without a v3User');
    const user = credentials?.snmpV3User(name);
    if (!user) throw new Error(`SNMPv3 user "${name}" is not in the gateway credential store (snmpV3 section)`);
    return { version: '3', user };
  }
  return { version: v === '2c' ? '2c' : '1', community: t.snmp.community };
}

/** `to`: the address to send to instead of the target's host (the one the allow check passed) */
function sessionFor(t: PollTarget, credentials: CredentialStore | undefined, to?: string): Session {
  const { host, port } = splitAddress(t.address);
  return openSnmpSession(to ?? host, port, authFor(t, credentials), { timeoutMs: t.snmp.timeoutMs, retries: t.snmp.retries });
}

/** Is it a global unicast IPv6 address (2000::/3)? Those come first in the `ipv6` attribute. */
function globalIpv6(a: string): boolean {
  return /^[23][0-9a-f]{0,3}:/i.test(a);
}

/** IPv4 and IPv6 addresses from IP-MIB ipAddressTable readings (`ipAddress` measurement), broadcast left out. */
export function addressesFrom(readings: readonly Reading[]): { ipv4: string[]; ipv6: string[] } {
  const ipv4 = new Set<string>();
  const ipv6 = new Set<string>();
  for (const r of readings) {
    if (r.measurement !== 'ipAddress' || r.metrics.addressType === 'broadcast') continue;
    const a = r.tags?.address;
    if (!a) continue;
    if (r.tags?.family === 'ipv4' && net.isIPv4(a)) ipv4.add(a);
    else if (r.tags?.family === 'ipv6' && net.isIPv6(a)) ipv6.add(a);
  }
  const v6 = [...ipv6];
  return { ipv4: [...ipv4], ipv6: [...v6.filter(globalIpv6), ...v6.filter((a) => !globalIpv6(a))] };
}

function getSystem(session: Session): Promise<Varbind[]> {
  return new Promise((resolve, reject) =>
    session.get([OID.sysDescr, OID.sysObjectID, OID.sysName, OID.sysUpTime], (err, vbs) => (err ? reject(err) : resolve(vbs ?? []))),
  );
}

function systemInfo(vbs: Varbind[]): SystemInfo {
  const info: SystemInfo = {};
  for (const vb of vbs) {
    if (snmp.isVarbindError(vb)) continue;
    if (vb.oid === OID.sysObjectID) {
      if (vb.type === snmp.ObjectType.OID && typeof vb.value === 'string' && /^[0-9]+(\.[0-9]+)*$/.test(vb.value)) info.sysObjectID = vb.value;
    } else if (vb.oid === OID.sysUpTime) {
      if (typeof vb.value === 'number') info.uptimeSec = vb.value / 100;
    } else if (vb.type === snmp.ObjectType.OctetString && Buffer.isBuffer(vb.value)) {
      // eslint-disable-next-line no-control-regex
      const s = vb.value.toString('utf8').replace(/[\u0000-\u001f\u007f\ufffd]/g, '').trim().slice(0, 1000);
      if (!s) continue;
      if (vb.oid === OID.sysDescr) info.sysDescr = s;
      else if (vb.oid === OID.sysName) info.sysName = s;
    }
  }
  return info;
}

export type { DevicePollResult, HealthEvent } from '../discovery/health-tracker.ts';

export class DevicePoller implements SourcePoller {
  readonly rates = new RateState();
  private readonly health = new HealthTracker();
  private readonly lastPolled = new Map<string, number>();
  /** what the device last said about itself */
  fingerprint: SystemInfo | undefined;
  /** the profile polling it (matched, forced or fallback); undefined: not yet known, or none loaded */
  profile: ResolvedProfile | undefined;
  /** true when `profile` was recognised (or forced), false for the generic fallback */
  matched = false;
  /** the device's own IPv4/IPv6 addresses (IP-MIB ipAddressTable), from the last poll that read them */
  addresses: { ipv4: string[]; ipv6: string[] } | undefined;

  /**
   * `credentials`: the gateway store, for a target polled with an SNMPv3 user (looked up by name at
   * each poll). `allow`: checked before every poll (a name on what it resolves to), for discovered
   * devices; configured ones are polled without it.
   */
  constructor(
    public target: PollTarget,
    private readonly registry: ProfileRegistry | undefined,
    private readonly credentials?: CredentialStore,
    private readonly allow?: AllowHost,
  ) {}

  /** New address or community from a rescan: counters restart from the next poll. */
  update(target: PollTarget): void {
    // another forced profile or kind (reload-config): choose the profile again on the next answer
    if (target.profile !== this.target.profile || target.kind !== this.target.kind) this.fingerprint = undefined;
    this.target = target;
  }

  private chooseProfile(): void {
    const reg = this.registry;
    if (!reg || reg.size === 0) return;
    const forced = this.target.profile !== undefined ? reg.get(this.target.profile) : undefined;
    const found = forced ?? reg.matchSnmp({ sysObjectID: this.fingerprint?.sysObjectID, sysDescr: this.fingerprint?.sysDescr });
    const fallback = reg.get(this.target.kind === 'switch' ? FALLBACK_SWITCH_PROFILE : FALLBACK_DEVICE_PROFILE) ?? reg.get(FALLBACK_DEVICE_PROFILE);
    const next = found ?? fallback;
    if (next?.id !== this.profile?.id) this.lastPolled.clear();
    this.profile = next;
    this.matched = found !== undefined;
  }

  /** One poll; `all` polls every group of the profile, otherwise only the due ones. Never throws. */
  async poll(opts: { all: boolean; now?: () => number }): Promise<DevicePollResult> {
    const now = opts.now ?? Date.now;
    const id = this.target.id;
    let to: string | undefined;
    if (this.allow) {
      let host = this.target.address;
      try {
        host = splitAddress(host).host;
      } catch {
        // not host:port: checked (and refused) as it is
      }
      const a = await allowedAddress(host, this.allow);
      if (!a.ok) {
        const why = a.error ?? `${host}${a.refused.join() !== host ? ` (resolves to ${a.refused.join(', ')})` : ''} is not allowed by discovery.allow`;
        // as the Modbus and HTTP pollers do: no health judgement, this is not the device's fault
        const readings: Reading[] = [{ device: id, ts: now(), measurement: 'device', metrics: { reachable: false } }];
        return { reachable: false, readings, skipped: 0, errors: [`${why}; nothing was sent`], fingerprintChanged: false, events: [] };
      }
      to = a.address;
    }
    if (!this.registry || this.registry.size === 0) {
      const r = await pollSnmpDevice({ id, kind: this.target.kind, protocol: 'snmp', address: this.target.address, snmp: this.target.snmp }, now, () => sessionFor(this.target, this.credentials, to));
      const changed = r.reachable && JSON.stringify({ ...r.system, uptimeSec: 0 }) !== JSON.stringify({ ...this.fingerprint, uptimeSec: 0 });
      if (r.reachable) this.fingerprint = r.system;
      return { reachable: r.reachable, readings: r.readings, skipped: r.skipped, errors: r.errors, fingerprintChanged: changed, events: [] };
    }
    const result: DevicePollResult = { reachable: false, readings: [], skipped: 0, errors: [], fingerprintChanged: false, events: [] };
    let session: Session;
    try {
      session = sessionFor(this.target, this.credentials, to);
    } catch (err) {
      result.errors.push(`cannot open SNMP session: ${(err as Error).message}`);
      result.readings.push({ device: id, ts: now(), measurement: 'device', metrics: { reachable: false } });
      this.judge(result, new Set(['device']));
      return result;
    }
    try {
      let info: SystemInfo;
      try {
        info = systemInfo(await getSystem(session));
      } catch (err) {
        let why = (err as Error).message;
        try {
          why = snmpAuthError(err as Error, authFor(this.target, this.credentials), session) ?? why;
        } catch {
          // the session opened, so the credential resolves
        }
        result.errors.push(`system group: ${why}`);
        result.readings.push({ device: id, ts: now(), measurement: 'device', metrics: { reachable: false } });
        this.judge(result, new Set(['device']));
        return result;
      }
      const prev = this.fingerprint;
      if (!prev || prev.sysObjectID !== info.sysObjectID || prev.sysDescr !== info.sysDescr || prev.sysName !== info.sysName) {
        result.fingerprintChanged = true;
        this.fingerprint = info;
        this.chooseProfile();
      } else {
        this.fingerprint = info;
      }
      const profile = this.profile;
      if (!profile) {
        result.reachable = true;
        result.readings.push({ device: id, ts: now(), measurement: 'device', metrics: { reachable: true } });
        result.errors.push('no device profile fits and no generic fallback profile is loaded');
        return result;
      }
      const t0 = now();
      const groups = opts.all ? profile.poll.map((g) => g.name) : dueGroups(profile, this.lastPolled, t0);
      for (const g of groups) this.lastPolled.set(g, t0);
      const r = await pollSnmpProfile(profile, session, { device: id, rates: this.rates, groups, now });
      result.readings = r.readings;
      // the addresses go into the discovery record: a new one is news for the centre
      if (r.reachable && profile.poll.some((g) => groups.includes(g.name) && g.measurement === 'ipAddress')) {
        const addresses = addressesFrom(r.readings);
        if (JSON.stringify(addresses) !== JSON.stringify(this.addresses)) result.fingerprintChanged = true;
        this.addresses = addresses;
      }
      result.skipped = r.skipped;
      result.errors = r.errors;
      // nothing due: the system GET answered, which is worth a liveness point
      result.reachable = groups.length === 0 ? true : r.reachable;
      if (groups.length === 0) result.readings.push({ device: id, ts: now(), measurement: 'device', metrics: { reachable: true } });
      const judged = new Set(['device']);
      if (result.reachable) {
        for (const g of profile.poll) {
          if (!groups.includes(g.name)) continue;
          judged.add(g.measurement);
          if (g.summary) judged.add(g.summary.measurement);
        }
      }
      this.judge(result, judged);
      return result;
    } finally {
      session.close();
    }
  }

  /** Turns rule findings and missed polls into start/clear events. */
  private judge(result: DevicePollResult, judged: ReadonlySet<string>): void {
    const profile = this.profile ?? this.registry?.get(this.target.kind === 'switch' ? FALLBACK_SWITCH_PROFILE : FALLBACK_DEVICE_PROFILE) ?? this.registry?.get(FALLBACK_DEVICE_PROFILE);
    if (!profile) return;
    this.health.judge(profile, this.target.id, result, judged);
  }
}
