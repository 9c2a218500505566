/**
 * SNMP as a discovery source: sweeps of the configured targets that discovery.allow admits
 * (snmp/discovery.ts), stable ids by sysName/sysObjectID/address (SnmpDeviceBook), each device
 * polled by its profile (snmp/profile-poller.ts), at an address allow still admits.
 * `describeSnmp` is also what the agent reports for configured devices (which allow does not
 * govern: a configured address is the operator's own, exact choice).
 */
import * as path from 'node:path';
import type { DeviceKind, DiscoveredDevice } from '../../protocol/index.ts';
import type { ResolvedProfile } from '../../device-profiles/loader.ts';
import type { ProfileRegistry } from '../../device-profiles/registry.ts';
import type { SnmpDiscoveryConfig } from '../config.ts';
import { SnmpDeviceBook, sweepSnmp, type BookEntry, type SnmpFields, type SweepResult } from '../snmp/discovery.ts';
import { DevicePoller, type PollTarget } from '../snmp/profile-poller.ts';
import { BookSource, type SourceContext } from './source.ts';
import type { Entry } from './book.ts';
import type { SourcePoller } from './health-tracker.ts';

type MetricValue = number | boolean | string;

/** The discovery record of an SNMP device, configured (`entry` undefined) or discovered. */
export function describeSnmp(t: PollTarget, source: 'config' | 'discovery', p: DevicePoller | undefined, entry: BookEntry | undefined, registry: ProfileRegistry): DiscoveredDevice {
  const fp = p?.fingerprint ?? entry;
  let matched: ResolvedProfile | undefined;
  let polledWith: string | undefined;
  if (p?.profile) {
    matched = p.matched ? p.profile : undefined;
    polledWith = p.profile.id;
  } else if (fp && registry.size > 0) {
    matched = (t.profile !== undefined ? registry.get(t.profile) : undefined) ?? registry.matchSnmp({ sysObjectID: fp.sysObjectID, sysDescr: fp.sysDescr });
  }
  const attributes: Record<string, MetricValue> = {};
  if (fp?.sysObjectID) attributes.sysObjectID = fp.sysObjectID;
  if (fp?.sysName) attributes.sysName = fp.sysName.slice(0, 1024);
  if (fp?.sysDescr) attributes.sysDescr = fp.sysDescr.slice(0, 1024);
  // IP-MIB ipAddressTable, as the poller last read it (global IPv6 first): the compliance roll-up reads `ipv6`
  if (p?.addresses?.ipv4.length) attributes.ipv4 = bounded(p.addresses.ipv4);
  if (p?.addresses?.ipv6.length) attributes.ipv6 = bounded(p.addresses.ipv6);
  // which credential kind answered, never the credential itself (the v3 user name is local too)
  attributes.snmpVersion = t.snmp.v3User !== undefined || t.snmp.version === '3' || t.snmp.version === 3 ? '3' : String(t.snmp.version);
  attributes.source = source === 'config' ? 'config' : 'snmp-discovery';
  // unknown to every profile: say what polls it, the raw fingerprint above is the rest
  if (!matched && polledWith) attributes.pollProfile = polledWith;
  if (entry?.previousAddress) attributes.previousAddress = entry.previousAddress;
  const kind = source === 'config' ? t.kind : (matched?.kind ?? 'unknown');
  return { device: t.id, kind, protocol: 'snmp', address: t.address, ...(matched ? { profile: matched.id } : {}), attributes };
}

/** A comma-separated list within the protocol's 1024 characters, whole addresses only. */
function bounded(list: readonly string[]): string {
  let out = '';
  for (const a of list) {
    const next = out ? `${out},${a}` : a;
    if (next.length > 1024) break;
    out = next;
  }
  return out;
}

export class SnmpSource extends BookSource<SnmpFields> {
  readonly protocol = 'snmp' as const;
  protected readonly book: SnmpDeviceBook;

  constructor(
    ctx: SourceContext,
    private readonly cfg: SnmpDiscoveryConfig,
    dataDir: string,
  ) {
    super(ctx, cfg);
    this.book = new SnmpDeviceBook(path.join(dataDir, 'snmp-discovered.json'), ctx.log);
  }

  private kindOf(e: BookEntry): DeviceKind {
    return this.ctx.registry.matchSnmp({ sysObjectID: e.sysObjectID, sysDescr: e.sysDescr })?.kind ?? 'unknown';
  }
  private target(e: BookEntry): PollTarget {
    const timing = { timeoutMs: Math.max(this.cfg.timeoutMs, 500), retries: 1 };
    // polled with what answered in discovery: the v3 user by name (its keys stay in the store), or the community
    const snmp: PollTarget['snmp'] = e.v3User !== undefined ? { version: '3', community: 'public', v3User: e.v3User, ...timing } : { version: '2c', community: e.community, ...timing };
    return { id: e.id, kind: this.kindOf(e), address: e.address, snmp };
  }

  protected async sweep(skip: ReadonlySet<string>): Promise<SweepResult> {
    const c = this.cfg;
    const v3Users = [];
    const missing: string[] = [];
    for (const name of c.v3Users ?? []) {
      const u = this.ctx.credentials.snmpV3User(name);
      if (u) v3Users.push(u);
      else missing.push(name);
    }
    const r = await sweepSnmp(c.targets, {
      communities: c.communities,
      v3Users,
      timeoutMs: c.timeoutMs,
      retries: c.retries,
      concurrency: c.concurrency,
      skip,
      isAllowed: this.ctx.allow,
      allowRule: this.ctx.allowRule ?? 'discovery.allow',
    });
    for (const name of missing) r.errors.unshift(`SNMPv3 user "${name}" (discovery.snmp.v3Users) is not in the gateway credential store (snmpV3 section): not tried`);
    return r;
  }
  protected override addedNote(e: Entry<SnmpFields>): string {
    return e.sysObjectID ?? 'no sysObjectID';
  }
  override describe(id: string, poller: SourcePoller | undefined): DiscoveredDevice | undefined {
    const e = this.book.get(id);
    if (!e) return undefined;
    return describeSnmp(this.target(e), 'discovery', poller instanceof DevicePoller ? poller : undefined, e, this.ctx.registry);
  }
  createPoller(id: string): SourcePoller | undefined {
    const e = this.book.get(id);
    // checked at every poll too: an address discovery.allow no longer admits (after an upgrade or a change of allow) is sent nothing
    return e ? new DevicePoller(this.target(e), this.ctx.registry, this.ctx.credentials, this.ctx.allow) : undefined;
  }
  override updatePoller(id: string, poller: SourcePoller): void {
    const e = this.book.get(id);
    if (e && poller instanceof DevicePoller) poller.update(this.target(e));
  }
}
