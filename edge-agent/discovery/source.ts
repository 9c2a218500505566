/**
 * What the agent needs from one kind of discovery (SNMP, ONVIF, Modbus, HTTP): scan the configured
 * targets and keep stable ids across scans (`DeviceBook`), say what each device is (the
 * `discovery` channel record, with its profile and raw fingerprint) and make a poller for it. The
 * agent runs every source the same way: scan at start and every intervalSec, on the `rescan`
 * command, gone after N missed scans, pollers started and stopped as devices come and go.
 */
import type { DeviceKind, DiscoveredDevice } from '../../protocol/index.ts';
import type { ProfileRegistry } from '../../device-profiles/registry.ts';
import type { ResolvedProfile } from '../../device-profiles/loader.ts';
import type { CredentialStore } from '../credentials.ts';
import type { AllowHost } from '../http/targets.ts';
import type { DeviceBook, Entry, Located } from './book.ts';
import type { SourcePoller } from './health-tracker.ts';

export type DiscoveryProtocol = DiscoveredDevice['protocol'];
type MetricValue = number | boolean | string;

export interface SourceContext {
  registry: ProfileRegistry;
  credentials: CredentialStore;
  /** probes go only where this allows */
  allow: AllowHost;
  /** how warnings name that rule, e.g. `discovery.allow [127.0.0.0/8, ::1]` */
  allowRule?: string;
  log: { info(msg: string): void; warn(msg: string): void };
}

/** What one scan of one source changed. */
export interface SourceScan {
  found: number;
  probed: number;
  /** addresses (host:port, or host:port:unit for Modbus) not probed because discovery.allow refuses them */
  notAllowed: number;
  added: Array<{ id: string; address: string; what: string }>;
  changed: Array<{ id: string; address: string; what: string[]; previousAddress?: string }>;
  gone: Array<{ id: string; missedScans: number }>;
}

export interface DiscoverySource {
  readonly protocol: DiscoveryProtocol;
  readonly intervalSec: number;
  /** probe, then update the book; `reserved` ids are never handed out, `skip` addresses not probed */
  scan(reserved: ReadonlySet<string>, skip: ReadonlySet<string>): Promise<SourceScan>;
  /** devices present now */
  active(): Array<{ id: string; address: string }>;
  /** every id this source ever handed out */
  ids(): string[];
  describe(id: string, poller: SourcePoller | undefined): DiscoveredDevice | undefined;
  createPoller(id: string): SourcePoller | undefined;
  /** the device moved or answers differently now: the existing poller follows */
  updatePoller(id: string, poller: SourcePoller): void;
}

/** Fields every book-backed answer carries besides its location. */
export interface Recognised {
  /** the profile that recognised it; undefined = unknown */
  profile?: string;
  /** raw fingerprint as sent to the centre (bounded, never a credential) */
  attributes?: Record<string, MetricValue>;
}

/** The part every book-backed source shares: scan bookkeeping, logging, the discovery record. */
export abstract class BookSource<F extends object> implements DiscoverySource {
  abstract readonly protocol: DiscoveryProtocol;
  protected abstract readonly book: DeviceBook<F>;

  constructor(
    protected readonly ctx: SourceContext,
    private readonly schedule: { intervalSec: number; goneAfterScans: number },
  ) {}

  get intervalSec(): number {
    return this.schedule.intervalSec;
  }

  /** Probes the configured targets; per-device problems are `errors`, logged, never thrown. */
  protected abstract sweep(skip: ReadonlySet<string>): Promise<{ found: Array<Located & Partial<F>>; probed: number; notAllowed?: number; errors: string[] }>;
  abstract createPoller(id: string): SourcePoller | undefined;
  updatePoller(_id: string, _poller: SourcePoller): void {}

  protected profileOf(e: Entry<F> | undefined): ResolvedProfile | undefined {
    const id = (e as Recognised | undefined)?.profile;
    return id !== undefined ? this.ctx.registry.get(id) : undefined;
  }
  /** what the log says about a new device */
  protected addedNote(e: Entry<F>): string {
    return (e as Recognised).profile ?? 'unknown';
  }

  async scan(reserved: ReadonlySet<string>, skip: ReadonlySet<string>): Promise<SourceScan> {
    const sw = await this.sweep(skip);
    for (const e of sw.errors) this.ctx.log.warn(`discovery (${this.protocol}): ${e}`);
    const ch = this.book.applyScan(sw.found, { goneAfterScans: this.schedule.goneAfterScans, reserved });
    return {
      found: ch.found,
      probed: sw.probed,
      notAllowed: sw.notAllowed ?? 0,
      added: ch.added.map((e) => ({ id: e.id, address: e.address, what: this.addedNote(e) })),
      changed: ch.changed.map((c) => ({ id: c.entry.id, address: c.entry.address, what: c.what, ...(c.entry.previousAddress ? { previousAddress: c.entry.previousAddress } : {}) })),
      gone: ch.gone.map((e) => ({ id: e.id, missedScans: e.missedScans })),
    };
  }

  active(): Array<{ id: string; address: string }> {
    return this.book.active().map((e) => ({ id: e.id, address: e.address }));
  }
  ids(): string[] {
    return this.book.ids();
  }

  describe(id: string, _poller: SourcePoller | undefined): DiscoveredDevice | undefined {
    const e = this.book.get(id);
    if (!e) return undefined;
    const profile = this.profileOf(e);
    const attributes: Record<string, MetricValue> = {};
    for (const [k, v] of Object.entries((e as Recognised).attributes ?? {}).slice(0, 60)) attributes[k.slice(0, 64)] = typeof v === 'string' ? v.slice(0, 1024) : v;
    attributes.source = `${this.protocol}-discovery`;
    if (e.previousAddress) attributes.previousAddress = e.previousAddress;
    const kind: DeviceKind = profile?.kind ?? 'unknown';
    return { device: e.id, kind, protocol: this.protocol, address: e.address, ...(profile ? { profile: profile.id } : {}), attributes };
  }
}
