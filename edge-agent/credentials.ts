/**
 * The gateway's local credential store: a YAML or JSON file mapping address patterns to device
 * usernames and passwords. Credentials stay on the gateway: nothing here is ever put in an MQTT
 * payload, and a `Credentials` value prints as `[redacted]` in logs, `JSON.stringify` and
 * `util.inspect`, so a careless log line cannot leak one.
 *
 * File shape (first matching entry wins, in file order):
 *
 * ```yaml
 * credentials:
 *   - match: 10.12.0.0/16        # CIDR, IPv4 or IPv6
 *     protocol: onvif            # optional: onvif | snmp | modbus | http (default: any)
 *     username: admin
 *     password: "…"
 *   - match: 10.12.3.*           # IPv4 with * per octet
 *     username: operator
 *     passwordFile: cam3.pass    # read at load, relative to the store file
 *   - match: "*"                 # anything (put it last)
 *     username: admin
 *     password: "…"
 * snmpV3:                        # SNMPv3 users, named from the agent config (discovery.snmp.v3Users,
 *   - name: campus               # devices[].snmp.v3User); tried by name, never matched by address
 *     level: authPriv            # noAuthNoPriv | authNoPriv | authPriv
 *     authProtocol: sha          # sha | sha256 | md5
 *     authKey: "…"               # or authKeyFile (read at load, relative to the store file)
 *     privProtocol: aes          # aes | des
 *     privKey: "…"               # or privKeyFile
 * ```
 *
 * Either list may be left out, not both.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { parse as parseYaml } from 'yaml';

export type CredentialProtocol = 'onvif' | 'snmp' | 'modbus' | 'http';
const PROTOCOLS: readonly string[] = ['onvif', 'snmp', 'modbus', 'http'];

/** A username/password pair that will not print its password. */
export class Credentials {
  readonly username: string;
  readonly #password: string;
  constructor(username: string, password: string) {
    this.username = username;
    this.#password = password;
  }
  /** The secret itself: use only to compute an auth token. */
  reveal(): string {
    return this.#password;
  }
  toJSON(): { username: string; password: string } {
    return { username: this.username, password: '[redacted]' };
  }
  toString(): string {
    return `Credentials(${this.username}, [redacted])`;
  }
  [inspect.custom](): string {
    return this.toString();
  }
}

export type SnmpV3Level = 'noAuthNoPriv' | 'authNoPriv' | 'authPriv';
export type SnmpV3AuthProtocol = 'sha' | 'sha256' | 'md5';
export type SnmpV3PrivProtocol = 'aes' | 'des';
const V3_LEVELS: readonly string[] = ['noAuthNoPriv', 'authNoPriv', 'authPriv'];
const V3_AUTH: readonly string[] = ['sha', 'sha256', 'md5'];
const V3_PRIV: readonly string[] = ['aes', 'des'];

/**
 * An SNMPv3 (USM) user whose keys will not print: discovery and the poller keep only its `name`
 * (a reference), and `reveal()` is called only where a session is opened.
 */
export class SnmpV3User {
  readonly name: string;
  readonly level: SnmpV3Level;
  readonly authProtocol: SnmpV3AuthProtocol | undefined;
  readonly privProtocol: SnmpV3PrivProtocol | undefined;
  readonly #authKey: string | undefined;
  readonly #privKey: string | undefined;
  constructor(u: { name: string; level: SnmpV3Level; authProtocol?: SnmpV3AuthProtocol; authKey?: string; privProtocol?: SnmpV3PrivProtocol; privKey?: string }) {
    this.name = u.name;
    this.level = u.level;
    this.authProtocol = u.level === 'noAuthNoPriv' ? undefined : u.authProtocol;
    this.privProtocol = u.level === 'authPriv' ? u.privProtocol : undefined;
    this.#authKey = u.level === 'noAuthNoPriv' ? undefined : u.authKey;
    this.#privKey = u.level === 'authPriv' ? u.privKey : undefined;
  }
  /** The keys themselves: use only to open an SNMP session. */
  reveal(): { authKey?: string; privKey?: string } {
    return { ...(this.#authKey !== undefined ? { authKey: this.#authKey } : {}), ...(this.#privKey !== undefined ? { privKey: this.#privKey } : {}) };
  }
  toJSON(): Record<string, string> {
    return {
      name: this.name,
      level: this.level,
      ...(this.authProtocol ? { authProtocol: this.authProtocol, authKey: '[redacted]' } : {}),
      ...(this.privProtocol ? { privProtocol: this.privProtocol, privKey: '[redacted]' } : {}),
    };
  }
  toString(): string {
    return `SnmpV3User(${this.name}, ${this.level}, [redacted])`;
  }
  [inspect.custom](): string {
    return this.toString();
  }
}

export class CredentialStoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialStoreError';
  }
}

type Matcher = (host: string) => boolean;
interface Entry {
  pattern: string;
  protocol?: CredentialProtocol;
  match: Matcher;
  credentials: Credentials;
}

function ipv4ToInt(s: string): number | undefined {
  if (!net.isIPv4(s)) return undefined;
  return s.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

function ipv6ToBigInt(s: string): bigint | undefined {
  const addr = s.replace(/%.*$/, '');
  if (!net.isIPv6(addr)) return undefined;
  let parts = addr.split('::');
  if (parts.length > 2) return undefined;
  const expand = (p: string): string[] => {
    if (p === '') return [];
    const groups = p.split(':');
    const last = groups[groups.length - 1] ?? '';
    if (last.includes('.')) {
      const v4 = ipv4ToInt(last);
      if (v4 === undefined) return [];
      groups.splice(groups.length - 1, 1, ((v4 >>> 16) & 0xffff).toString(16), (v4 & 0xffff).toString(16));
    }
    return groups;
  };
  const head = expand(parts[0] ?? '');
  const tail = parts.length === 2 ? expand(parts[1] ?? '') : [];
  const fill = parts.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...Array<string>(Math.max(0, fill)).fill('0'), ...tail];
  if (groups.length !== 8) return undefined;
  parts = groups;
  return parts.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g, 16)), 0n);
}

/** Compiles `a.b.c.d`, `a.b.*.*`, `net/len` (v4 or v6), a v6 address, a host name (exact, case-insensitive) or `*`. */
export function compileAddressPattern(pattern: string): Matcher {
  const p = pattern.trim();
  if (p === '*') return () => true;
  const slash = p.indexOf('/');
  if (slash > 0) {
    const base = p.slice(0, slash);
    const len = Number(p.slice(slash + 1));
    const v4 = ipv4ToInt(base);
    if (v4 !== undefined && Number.isInteger(len) && len >= 0 && len <= 32) {
      const mask = len === 0 ? 0 : (0xffff_ffff << (32 - len)) >>> 0;
      return (h) => {
        const x = ipv4ToInt(h);
        return x !== undefined && ((x & mask) >>> 0) === ((v4 & mask) >>> 0);
      };
    }
    const v6 = ipv6ToBigInt(base);
    if (v6 !== undefined && Number.isInteger(len) && len >= 0 && len <= 128) {
      const shift = BigInt(128 - len);
      return (h) => {
        const x = ipv6ToBigInt(h.replace(/^\[|\]$/g, ''));
        return x !== undefined && x >> shift === v6 >> shift;
      };
    }
    throw new CredentialStoreError(`bad CIDR pattern "${p}"`);
  }
  if (/^[0-9*]+(\.[0-9*]+){3}$/.test(p)) {
    const octets = p.split('.');
    if (octets.some((o) => o !== '*' && !(/^\d{1,3}$/.test(o) && Number(o) <= 255))) throw new CredentialStoreError(`bad IPv4 pattern "${p}"`);
    return (h) => {
      if (!net.isIPv4(h)) return false;
      const ho = h.split('.');
      return octets.every((o, i) => o === '*' || Number(o) === Number(ho[i]));
    };
  }
  const v6 = ipv6ToBigInt(p.replace(/^\[|\]$/g, ''));
  if (v6 !== undefined) return (h) => ipv6ToBigInt(h.replace(/^\[|\]$/g, '')) === v6;
  if (/^[A-Za-z0-9.-]{1,253}$/.test(p)) {
    const lower = p.toLowerCase();
    return (h) => h.toLowerCase() === lower;
  }
  throw new CredentialStoreError(`bad address pattern "${p}"`);
}

export class CredentialStore {
  readonly #entries: Entry[];
  readonly #v3 = new Map<string, SnmpV3User>();
  constructor(entries: Entry[] = [], snmpV3: readonly SnmpV3User[] = []) {
    this.#entries = entries;
    for (const u of snmpV3) this.#v3.set(u.name, u);
  }

  /** The SNMPv3 user of that name from the `snmpV3` section, if there is one. */
  snmpV3User(name: string): SnmpV3User | undefined {
    return this.#v3.get(name);
  }
  /** Names of the SNMPv3 users held (no keys). */
  snmpV3Names(): string[] {
    return [...this.#v3.keys()];
  }

  /** Credentials for a device at `host` (an IP address or name, IPv6 with or without brackets). */
  lookup(host: string, protocol: CredentialProtocol = 'onvif'): Credentials | undefined {
    const h = host.replace(/^\[|\]$/g, '');
    for (const e of this.#entries) {
      if (e.protocol !== undefined && e.protocol !== protocol) continue;
      if (e.match(h)) return e.credentials;
    }
    return undefined;
  }

  get size(): number {
    return this.#entries.length;
  }

  toJSON(): { entries: number; snmpV3Users?: number } {
    return { entries: this.#entries.length, ...(this.#v3.size > 0 ? { snmpV3Users: this.#v3.size } : {}) };
  }

  [inspect.custom](): string {
    return `CredentialStore(${this.#entries.length} entries${this.#v3.size > 0 ? `, ${this.#v3.size} SNMPv3 users` : ''})`;
  }

  /** Builds a store from parsed file content; `baseDir` resolves `passwordFile`. Errors name the entry, never a secret. */
  static fromObject(doc: unknown, baseDir = '.'): CredentialStore {
    const top = typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? (doc as Record<string, unknown>) : undefined;
    const v3list = top?.['snmpV3'];
    if (v3list !== undefined && !Array.isArray(v3list)) throw new CredentialStoreError('credential store: "snmpV3" must be a list');
    const list = top?.['credentials'] ?? (Array.isArray(v3list) ? [] : undefined);
    if (!Array.isArray(list)) throw new CredentialStoreError('credential store: expected a top-level "credentials" list');
    if (list.length > 10_000) throw new CredentialStoreError('credential store: more than 10000 entries');
    const entries: Entry[] = list.map((raw, i) => {
      const where = `credentials/${i}`;
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CredentialStoreError(`${where}: expected an object`);
      const r = raw as Record<string, unknown>;
      for (const k of Object.keys(r)) {
        if (!['match', 'protocol', 'username', 'password', 'passwordFile'].includes(k)) throw new CredentialStoreError(`${where}: unknown field "${k}"`);
      }
      const pattern = typeof r.match === 'number' ? String(r.match) : r.match;
      if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > 256) throw new CredentialStoreError(`${where}/match: expected an address pattern`);
      if (r.protocol !== undefined && (typeof r.protocol !== 'string' || !PROTOCOLS.includes(r.protocol))) {
        throw new CredentialStoreError(`${where}/protocol: expected one of ${PROTOCOLS.join(', ')}`);
      }
      if (typeof r.username !== 'string' || r.username.length === 0 || r.username.length > 128) throw new CredentialStoreError(`${where}/username: expected a string of 1-128 characters`);
      let password: string;
      if (typeof r.passwordFile === 'string' && r.passwordFile.length > 0) {
        const file = path.resolve(baseDir, r.passwordFile);
        try {
          password = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
        } catch (err) {
          throw new CredentialStoreError(`${where}/passwordFile: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
        }
      } else if (typeof r.password === 'string' || typeof r.password === 'number') {
        password = String(r.password);
      } else {
        throw new CredentialStoreError(`${where}: needs "password" or "passwordFile"`);
      }
      if (password.length > 1024) throw new CredentialStoreError(`${where}: password longer than 1024 characters`);
      let match: Matcher;
      try {
        match = compileAddressPattern(pattern);
      } catch (err) {
        throw new CredentialStoreError(`${where}/match: ${(err as Error).message}`);
      }
      return { pattern, protocol: r.protocol as CredentialProtocol | undefined, match, credentials: new Credentials(r.username, password) };
    });
    return new CredentialStore(entries, snmpV3UsersFrom((v3list as unknown[] | undefined) ?? [], baseDir));
  }
}

/** Reads a key inline or from `<field>File`; errors name the field, never the key. */
function secret(r: Record<string, unknown>, field: string, where: string, baseDir: string): string | undefined {
  const fileField = `${field}File`;
  let key: string | undefined;
  if (typeof r[fileField] === 'string' && (r[fileField] as string).length > 0) {
    const file = path.resolve(baseDir, r[fileField] as string);
    try {
      key = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new CredentialStoreError(`${where}/${fileField}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  } else if (typeof r[field] === 'string' || typeof r[field] === 'number') {
    key = String(r[field]);
  }
  if (key !== undefined && (key.length < 8 || key.length > 1024)) throw new CredentialStoreError(`${where}/${field}: an SNMPv3 key must have 8-1024 characters`);
  return key;
}

function snmpV3UsersFrom(list: unknown[], baseDir: string): SnmpV3User[] {
  if (list.length > 1000) throw new CredentialStoreError('credential store: more than 1000 snmpV3 users');
  const names = new Set<string>();
  return list.map((raw, i) => {
    const where = `snmpV3/${i}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CredentialStoreError(`${where}: expected an object`);
    const r = raw as Record<string, unknown>;
    for (const k of Object.keys(r)) {
      if (!['name', 'level', 'authProtocol', 'authKey', 'authKeyFile', 'privProtocol', 'privKey', 'privKeyFile'].includes(k)) throw new CredentialStoreError(`${where}: unknown field "${k}"`);
    }
    if (typeof r.name !== 'string' || !/^[A-Za-z0-9_.@-]{1,32}$/.test(r.name)) throw new CredentialStoreError(`${where}/name: expected 1-32 letters, digits or _.@-`);
    if (names.has(r.name)) throw new CredentialStoreError(`${where}/name: duplicate SNMPv3 user "${r.name}"`);
    names.add(r.name);
    const level = r.level ?? 'authPriv';
    if (typeof level !== 'string' || !V3_LEVELS.includes(level)) throw new CredentialStoreError(`${where}/level: expected one of ${V3_LEVELS.join(', ')}`);
    const authProtocol = r.authProtocol ?? 'sha';
    const privProtocol = r.privProtocol ?? 'aes';
    if (typeof authProtocol !== 'string' || !V3_AUTH.includes(authProtocol)) throw new CredentialStoreError(`${where}/authProtocol: expected one of ${V3_AUTH.join(', ')}`);
    if (typeof privProtocol !== 'string' || !V3_PRIV.includes(privProtocol)) throw new CredentialStoreError(`${where}/privProtocol: expected one of ${V3_PRIV.join(', ')}`);
    const authKey = secret(r, 'authKey', where, baseDir);
    const privKey = secret(r, 'privKey', where, baseDir);
    if (level !== 'noAuthNoPriv' && authKey === undefined) throw new CredentialStoreError(`${where}: level ${level} needs "authKey" or "authKeyFile"`);
    if (level === 'authPriv' && privKey === undefined) throw new CredentialStoreError(`${where}: level authPriv needs "privKey" or "privKeyFile"`);
    return new SnmpV3User({
      name: r.name,
      level: level as SnmpV3Level,
      authProtocol: authProtocol as SnmpV3AuthProtocol,
      privProtocol: privProtocol as SnmpV3PrivProtocol,
      ...(authKey !== undefined ? { authKey } : {}),
      ...(privKey !== undefined ? { privKey } : {}),
    });
  });
}

/** Loads a credential store file (`.json`, or YAML for anything else). */
export function loadCredentialStore(file: string): CredentialStore {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new CredentialStoreError(`cannot read credential store ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    // parser messages can quote the offending line, which may hold a password: keep only the position
    const m = /line (\d+)/i.exec((err as Error).message);
    throw new CredentialStoreError(`credential store ${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}${m ? ` (near line ${m[1]})` : ''}`);
  }
  try {
    return CredentialStore.fromObject(doc, path.dirname(file));
  } catch (err) {
    throw new CredentialStoreError(`${file}: ${(err as Error).message}`);
  }
}
