/**
 * Stable ids for discovered devices, whatever the protocol: `DeviceBook` turns the answers of
 * successive scans into entries kept in a JSON file under the agent's dataDir (so ids survive
 * restarts), and tells new devices, changed ones (new address, new firmware …) and ones gone after
 * N missed scans. What makes two answers "the same device", which fields are stored, which changes
 * are news, and how an id is formed are the protocol's (`BookSpec`); the bookkeeping is shared.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where an answer came from; every protocol's answer has it. */
export interface Located {
  host: string;
  port: number;
  /** host:port ([v6]:port) */
  address: string;
}

interface EntryBase extends Located {
  id: string;
  /** where the device was before its last address change */
  previousAddress?: string;
  firstSeen: number;
  lastSeen: number;
  /** scans in a row that did not find it */
  missedScans: number;
  gone: boolean;
}
export type Entry<F> = EntryBase & Partial<F>;

export interface ScanChanges<F> {
  found: number;
  added: Array<Entry<F>>;
  changed: Array<{ entry: Entry<F>; what: string[] }>;
  /** entries that reached goneAfterScans missed scans in this scan */
  gone: Array<Entry<F>>;
}

export interface BookSpec<F> {
  /** stored with each entry and refreshed from every answer */
  fields: ReadonlyArray<keyof F & string>;
  /** fields whose change is news for the centre (the rest change quietly, e.g. a community) */
  news: ReadonlyArray<keyof F & string>;
  /** set once, when first known, never overwritten (e.g. the encoder settings seen at install) */
  sticky?: ReadonlyArray<keyof F & string>;
  /** "same device" rules, tried in order over all answers before the next rule */
  same: ReadonlyArray<(a: Located & Partial<F>, e: Entry<F>) => boolean>;
  /** id candidates in order of preference; the first free one wins (then -2, -3, …) */
  ids(a: Located & Partial<F>): Array<string | undefined>;
  /** an entry read back from the file is usable */
  valid?(e: Record<string, unknown>): boolean;
}

export const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** A device id from free text (a name, a serial): characters the protocol refuses become '-', bounded. */
export function idFromText(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const id = text
    .replace(/[^A-Za-z0-9_.:-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/-+$/, '')
    .slice(0, 96);
  return ID_RE.test(id) ? id : undefined;
}

export class DeviceBook<F extends object> {
  private readonly entries = new Map<string, Entry<F>>();

  constructor(
    private readonly file: string,
    private readonly spec: BookSpec<F>,
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
    for (const e of list as Array<Record<string, unknown>>) {
      if (!e || typeof e.id !== 'string' || !ID_RE.test(e.id) || typeof e.host !== 'string' || !Number.isInteger(e.port) || typeof e.address !== 'string') continue;
      if (spec.valid && !spec.valid(e)) continue;
      this.entries.set(e.id, { ...(e as unknown as Entry<F>), missedScans: Number(e.missedScans) || 0, gone: e.gone === true });
    }
  }

  /** Devices currently present (not gone), by id. */
  active(): Array<Entry<F>> {
    return [...this.entries.values()].filter((e) => !e.gone).sort((a, b) => (a.id < b.id ? -1 : 1));
  }
  get(id: string): Entry<F> | undefined {
    return this.entries.get(id);
  }
  /** Every id ever handed out (gone ones too: they may come back). */
  ids(): string[] {
    return [...this.entries.keys()];
  }

  private save(): void {
    const tmp = `${this.file}.tmp`;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    // mode 0600: it may hold what a device answered to (an SNMP community)
    fs.writeFileSync(tmp, JSON.stringify({ version: 1, devices: [...this.entries.values()] }, null, 1), { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }

  private newId(a: Located & Partial<F>, reserved: ReadonlySet<string>): string {
    const taken = (id: string): boolean => this.entries.has(id) || reserved.has(id);
    const bases = this.spec.ids(a).filter((b): b is string => b !== undefined && ID_RE.test(b));
    for (const base of bases) {
      if (!taken(base)) return base;
      for (let i = 2; i < 1000; i++) if (!taken(`${base}-${i}`)) return `${base}-${i}`;
    }
    return `${(bases.at(-1) ?? 'device').slice(0, 100)}-${Date.now()}`;
  }

  private copy(e: Entry<F>, a: Partial<F>, fresh: boolean): void {
    const target = e as Record<string, unknown>;
    const source = a as Record<string, unknown>;
    for (const k of this.spec.fields) {
      if (!fresh && this.spec.sticky?.includes(k) && target[k] !== undefined) continue;
      if (source[k] === undefined) delete target[k];
      else target[k] = source[k];
    }
  }

  /**
   * Applies one scan. An answer is the same device as a known entry by the spec's rules, tried in
   * order; anything else is new. `reserved` ids (configured devices, other protocols' devices) are
   * never handed out.
   */
  applyScan(found: ReadonlyArray<Located & Partial<F>>, opts: { goneAfterScans: number; reserved: ReadonlySet<string>; now?: number }): ScanChanges<F> {
    const now = opts.now ?? Date.now();
    const changes: ScanChanges<F> = { found: found.length, added: [], changed: [], gone: [] };
    const claimed = new Set<string>();
    const match = new Map<Located & Partial<F>, Entry<F>>();
    for (const rule of this.spec.same) {
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
        const entry = { id: this.newId(a, opts.reserved), address: a.address, host: a.host, port: a.port, firstSeen: now, lastSeen: now, missedScans: 0, gone: false } as Entry<F>;
        this.copy(entry, a, true);
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
      const before = e as Record<string, unknown>;
      const after = a as Record<string, unknown>;
      for (const k of this.spec.news) if (!(this.spec.sticky?.includes(k) && before[k] !== undefined) && before[k] !== after[k]) what.push(k);
      this.copy(e, a, false);
      Object.assign(e, { lastSeen: now, missedScans: 0, gone: false });
      if (what.length > 0) changes.changed.push({ entry: e, what });
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
