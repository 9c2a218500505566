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
 * ```
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
  constructor(entries: Entry[] = []) {
    this.#entries = entries;
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

  toJSON(): { entries: number } {
    return { entries: this.#entries.length };
  }

  [inspect.custom](): string {
    return `CredentialStore(${this.#entries.length} entries)`;
  }

  /** Builds a store from parsed file content; `baseDir` resolves `passwordFile`. Errors name the entry, never a secret. */
  static fromObject(doc: unknown, baseDir = '.'): CredentialStore {
    const list = typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? (doc as Record<string, unknown>)['credentials'] : undefined;
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
    return new CredentialStore(entries);
  }
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
