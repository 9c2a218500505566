/**
 * The HTTP authentication a simulated camera can demand in front of its SOAP services, as the web
 * servers of Hikvision/Dahua/Uniview firmware do: RFC 7616 Digest (MD5 or SHA-256, qop=auth or the
 * old no-qop form) checked for real (realm, uri, algorithm, nonce we issued, nonce count going up
 * per nonce, cnonce, response), nonces that can be declared stale, or Basic. Written apart from the
 * agent's client (which it tests) so that a shared mistake cannot make both ends agree.
 */
import { createHash, randomBytes } from 'node:crypto';
import type * as http from 'node:http';

export interface HttpAuthDemand {
  scheme: 'digest' | 'basic';
  /** Digest only; default MD5 */
  algorithm?: 'MD5' | 'SHA-256';
  /** Digest only; 'none' = RFC 2069-style challenge without qop (old firmware); default 'auth' */
  qop?: 'auth' | 'none';
  /** also demand a valid WS-UsernameToken (cameras that want both); default false: HTTP auth only */
  wsSecurity?: boolean;
  realm?: string;
}

/** What happened to one request's HTTP authentication. */
export type HttpAuthOutcome = 'ok' | 'missing' | 'stale' | 'invalid' | 'replay';

export interface HttpAuthEvent {
  outcome: HttpAuthOutcome;
  /** nonce count the client sent (Digest with qop) */
  nc?: number;
  /** why an `invalid` was refused */
  why?: string;
}

const HASH = { MD5: 'md5', 'SHA-256': 'sha256' } as const;

/** `name=value` / `name="quoted"` pairs of an Authorization header's rest. */
function authParams(rest: string): Map<string, string> {
  const out = new Map<string, string>();
  const re = /\s*([A-Za-z0-9_*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(rest)) !== null && m[0] !== '') out.set((m[1] as string).toLowerCase(), m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? ''));
  return out;
}

export class HttpAuthGuard {
  /** every request's outcome, in order (the last 10 000) */
  readonly log: HttpAuthEvent[] = [];
  readonly #demand: HttpAuthDemand;
  readonly #realm: string;
  /** nonces we issued → highest nonce count accepted, and whether declared stale */
  readonly #nonces = new Map<string, { lastNc: number; stale: boolean }>();

  constructor(demand: HttpAuthDemand) {
    this.#demand = demand;
    this.#realm = demand.realm ?? 'IP Camera';
  }

  /** Every nonce issued so far becomes stale: the next request with one gets `stale=true`. */
  expireNonces(): void {
    for (const n of this.#nonces.values()) n.stale = true;
  }

  #record(e: HttpAuthEvent): HttpAuthEvent {
    this.log.push(e);
    if (this.log.length > 10_000) this.log.shift();
    return e;
  }

  /** The WWW-Authenticate value of a 401, with a fresh nonce. */
  challenge(stale: boolean): string {
    if (this.#demand.scheme === 'basic') return `Basic realm="${this.#realm}"`;
    const nonce = randomBytes(18).toString('base64');
    this.#nonces.set(nonce, { lastNc: 0, stale: false });
    // a long-running camera forgets old nonces
    if (this.#nonces.size > 1000) this.#nonces.delete(this.#nonces.keys().next().value as string);
    const qop = this.#demand.qop === 'none' ? '' : `qop="auth", `;
    return `Digest realm="${this.#realm}", ${qop}algorithm=${this.#demand.algorithm ?? 'MD5'}, nonce="${nonce}", opaque="${randomBytes(8).toString('hex')}"${stale ? ', stale=true' : ''}`;
  }

  /** Checks one request's Authorization header against these credentials. */
  check(req: http.IncomingMessage, username: string, password: string): HttpAuthEvent {
    const header = req.headers.authorization;
    if (!header) return this.#record({ outcome: 'missing' });
    const sp = header.indexOf(' ');
    const scheme = header.slice(0, sp < 0 ? undefined : sp).toLowerCase();
    const rest = sp < 0 ? '' : header.slice(sp + 1);
    if (this.#demand.scheme === 'basic') {
      if (scheme !== 'basic') return this.#record({ outcome: 'invalid', why: `scheme ${scheme}` });
      const ok = Buffer.from(rest.trim(), 'base64').toString('utf8') === `${username}:${password}`;
      return this.#record(ok ? { outcome: 'ok' } : { outcome: 'invalid', why: 'credentials' });
    }
    if (scheme !== 'digest') return this.#record({ outcome: 'invalid', why: `scheme ${scheme}` });
    const p = authParams(rest);
    const algorithm = this.#demand.algorithm ?? 'MD5';
    const hash = (s: string): string => createHash(HASH[algorithm]).update(s, 'utf8').digest('hex');
    const invalid = (why: string): HttpAuthEvent => this.#record({ outcome: 'invalid', why });
    if (p.get('username') !== username) return invalid('username');
    if (p.get('realm') !== this.#realm) return invalid('realm');
    if (p.get('uri') !== req.url) return invalid('uri');
    if ((p.get('algorithm') ?? 'MD5').toUpperCase() !== algorithm) return invalid('algorithm');
    const nonce = p.get('nonce') ?? '';
    const ha1 = hash(`${username}:${this.#realm}:${password}`);
    const ha2 = hash(`${req.method ?? 'POST'}:${req.url ?? ''}`);
    let expected: string;
    let nc: number | undefined;
    if (this.#demand.qop === 'none') {
      expected = hash(`${ha1}:${nonce}:${ha2}`);
    } else {
      const ncText = p.get('nc') ?? '';
      const cnonce = p.get('cnonce') ?? '';
      if (p.get('qop') !== 'auth') return invalid('qop');
      if (!/^[0-9a-fA-F]{8}$/.test(ncText)) return invalid('nc');
      if (!cnonce) return invalid('cnonce');
      nc = parseInt(ncText, 16);
      expected = hash(`${ha1}:${nonce}:${ncText}:${cnonce}:auth:${ha2}`);
    }
    if (p.get('response') !== expected) return invalid('response');
    const issued = this.#nonces.get(nonce);
    // RFC 7616 §3.3: stale = the answer is right, only its nonce is not (any more) ours
    if (!issued || issued.stale) return this.#record({ outcome: 'stale', ...(nc !== undefined ? { nc } : {}) });
    if (nc !== undefined) {
      if (nc <= issued.lastNc) return this.#record({ outcome: 'replay', nc });
      issued.lastNc = nc;
    }
    return this.#record({ outcome: 'ok', ...(nc !== undefined ? { nc } : {}) });
  }
}
