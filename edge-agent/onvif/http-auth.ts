/**
 * HTTP authentication for the ONVIF client: RFC 7616 Digest (MD5 and SHA-256, qop=auth or the old
 * form without qop, `username*` for a non-ASCII name), and Basic only for a camera that offers no
 * Digest at all. Not answered (a clear error instead): the -sess variants, SHA-512-256 (no camera
 * uses it, and RFC 7616's own example for it is computed with truncated SHA-512), qop=auth-int only. Pure functions
 * (challenge parsing, choice, response computation) plus a bounded per-origin cache of the last
 * challenge, so later requests to a camera authenticate at once with the nonce count going up.
 * Node's crypto only; docs/decisions/0006-onvif-client.md says why no library.
 */
import { createHash, randomBytes } from 'node:crypto';

/** One challenge of a WWW-Authenticate field: scheme lower-cased, parameter names lower-cased. */
export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
  token68?: string;
}

/** Longest WWW-Authenticate value we read; a camera's is well under 1 KiB. */
export const MAX_CHALLENGE_CHARS = 8192;
const MAX_CHALLENGES = 16;
const MAX_PARAMS = 32;

const TCHARS = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const SCHEME_RE = new RegExp(`(${TCHARS})`, 'y');
const PARAM_RE = new RegExp(`(${TCHARS})[ \\t]*=[ \\t]*(?:"((?:[^"\\\\]|\\\\.)*)"|(${TCHARS}))`, 'y');
const TOKEN68_RE = /([A-Za-z0-9\-._~+/]+=*)(?=[ \t]*(,|$))/y;

/**
 * Parses a WWW-Authenticate value (several fields joined by ", " as fetch joins them) into its
 * challenges (RFC 7235 §4.1). Undefined when it does not follow the grammar: a challenge we cannot
 * read is never answered, and in particular never with Basic.
 */
export function parseAuthChallenges(header: string): AuthChallenge[] | undefined {
  if (header.length > MAX_CHALLENGE_CHARS) return undefined;
  const out: AuthChallenge[] = [];
  let cur: AuthChallenge | undefined;
  let i = 0;
  const n = header.length;
  const skipWs = (): void => {
    while (i < n && (header[i] === ' ' || header[i] === '\t')) i++;
  };
  const match = (re: RegExp): RegExpExecArray | null => {
    re.lastIndex = i;
    const m = re.exec(header);
    if (m) i = re.lastIndex;
    return m;
  };
  const addParam = (m: RegExpExecArray): boolean => {
    if (!cur) return false;
    const name = (m[1] as string).toLowerCase();
    // a repeated parameter is ambiguous (RFC 7235: each parameter name MUST only occur once)
    if (name in cur.params || Object.keys(cur.params).length >= MAX_PARAMS) return false;
    cur.params[name] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] as string);
    return true;
  };
  // after each list element: optional whitespace, then a comma or the end
  const endOfElement = (): boolean => {
    skipWs();
    return i >= n || header[i] === ',';
  };
  for (;;) {
    while (i < n && (header[i] === ',' || header[i] === ' ' || header[i] === '\t')) i++;
    if (i >= n) break;
    // inside a challenge, `name=value` continues it; anything else starts the next challenge
    if (cur) {
      const p = match(PARAM_RE);
      if (p) {
        if (!addParam(p) || !endOfElement()) return undefined;
        continue;
      }
    }
    const s = match(SCHEME_RE);
    if (!s) return undefined;
    if (out.length >= MAX_CHALLENGES) return undefined;
    cur = { scheme: (s[1] as string).toLowerCase(), params: Object.create(null) as Record<string, string> };
    out.push(cur);
    if (i >= n || header[i] === ',') continue;
    if (header[i] !== ' ' && header[i] !== '\t') return undefined;
    skipWs();
    if (i >= n || header[i] === ',') continue;
    const p = match(PARAM_RE);
    if (p) {
      if (!addParam(p) || !endOfElement()) return undefined;
      continue;
    }
    const t = match(TOKEN68_RE);
    if (!t || !endOfElement()) return undefined;
    cur.token68 = t[1];
  }
  return out.length > 0 ? out : undefined;
}

export type DigestAlgorithm = 'MD5' | 'SHA-256';
const HASHES: Record<DigestAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256' };

/** A Digest challenge we can answer. */
export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm: DigestAlgorithm;
  /** 'auth', or undefined for an RFC 2069-style challenge without qop (old firmware) */
  qop?: 'auth';
  stale: boolean;
}

/** How to answer a 401, or why we cannot. */
export type HttpAuthChoice = { scheme: 'digest'; challenge: DigestChallenge } | { scheme: 'basic' } | { scheme: 'unsupported'; offered: string };

/** One Digest challenge as a DigestChallenge, or why it cannot be answered. */
function readDigest(c: AuthChallenge): DigestChallenge | string {
  const p = c.params;
  const algorithm = (p['algorithm'] ?? 'MD5').toUpperCase();
  if (p['realm'] === undefined || !p['nonce']) return `Digest without ${p['realm'] === undefined ? 'realm' : 'nonce'}`;
  if (!Object.hasOwn(HASHES, algorithm)) return `Digest algorithm=${algorithm.slice(0, 32)}`;
  let qop: 'auth' | undefined;
  if (p['qop'] !== undefined) {
    const offered = p['qop'].split(',').map((q) => q.trim().toLowerCase());
    if (!offered.includes('auth')) return `Digest qop=${p['qop'].slice(0, 32)}`;
    qop = 'auth';
  }
  return {
    realm: p['realm'],
    nonce: p['nonce'],
    ...(p['opaque'] !== undefined ? { opaque: p['opaque'] } : {}),
    algorithm: algorithm as DigestAlgorithm,
    ...(qop ? { qop } : {}),
    stale: p['stale']?.toLowerCase() === 'true',
  };
}

/**
 * The challenge to answer: the first Digest challenge we support, in the server's order of
 * preference (RFC 7616 §3.7); Basic only when the camera offers no Digest at all.
 */
export function chooseHttpAuth(challenges: readonly AuthChallenge[]): HttpAuthChoice {
  const digests = challenges.filter((c) => c.scheme === 'digest');
  const why: string[] = [];
  for (const c of digests) {
    const d = readDigest(c);
    if (typeof d !== 'string') return { scheme: 'digest', challenge: d };
    why.push(d);
  }
  if (digests.length === 0 && challenges.some((c) => c.scheme === 'basic')) return { scheme: 'basic' };
  const others = challenges.filter((c) => c.scheme !== 'digest').map((c) => c.scheme.slice(0, 32));
  return { scheme: 'unsupported', offered: [...why, ...new Set(others)].join(', ') || 'nothing' };
}

function h(algorithm: DigestAlgorithm, s: string): string {
  return createHash(HASHES[algorithm]).update(s, 'utf8').digest('hex');
}

export interface DigestAnswer {
  username: string;
  password: string;
  method: string;
  /** request-target as sent: path and query */
  uri: string;
  /** nonce count, from 1 */
  nc: number;
  cnonce: string;
}

/** The `response` value (RFC 7616 §3.4.1; without qop, RFC 2617 §3.2.2.1's compatibility form). */
export function digestResponse(ch: DigestChallenge, a: DigestAnswer): string {
  const ha1 = h(ch.algorithm, `${a.username}:${ch.realm}:${a.password}`);
  const ha2 = h(ch.algorithm, `${a.method}:${a.uri}`);
  if (!ch.qop) return h(ch.algorithm, `${ha1}:${ch.nonce}:${ha2}`);
  return h(ch.algorithm, `${ha1}:${ch.nonce}:${ncHex(a.nc)}:${a.cnonce}:${ch.qop}:${ha2}`);
}

const ncHex = (nc: number): string => nc.toString(16).padStart(8, '0');
const quote = (s: string): string => `"${s.replace(/["\\]/g, '\\$&')}"`;

/**
 * The Authorization header value answering a Digest challenge. A challenge's `userhash=true` only
 * says the server would accept a hashed name (RFC 7616 §3.4.4), so the plain one is sent.
 */
export function digestAuthorization(ch: DigestChallenge, a: DigestAnswer): string {
  const parts: string[] = [];
  // a name that is not printable ASCII goes as username* (RFC 7616 §3.4.4, RFC 8187)
  if (/^[\x20-\x7e]*$/.test(a.username)) parts.push(`username=${quote(a.username)}`);
  else parts.push(`username*=UTF-8''${encodeURIComponent(a.username).replace(/['()*!]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`);
  parts.push(`realm=${quote(ch.realm)}`, `uri=${quote(a.uri)}`, `algorithm=${ch.algorithm}`, `nonce=${quote(ch.nonce)}`);
  if (ch.qop) parts.push(`nc=${ncHex(a.nc)}`, `cnonce=${quote(a.cnonce)}`, `qop=${ch.qop}`);
  parts.push(`response=${quote(digestResponse(ch, a))}`);
  if (ch.opaque !== undefined) parts.push(`opaque=${quote(ch.opaque)}`);
  return `Digest ${parts.join(', ')}`;
}

export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

export const newCnonce = (): string => randomBytes(16).toString('hex');

/** What a camera last asked for: answered at once on the next request, nonce count going up. */
export type CachedHttpAuth = { scheme: 'digest'; challenge: DigestChallenge; nc: number } | { scheme: 'basic' };

/** Per-origin (scheme://host:port) cache of the last challenge, bounded, least recently used out first. */
export class HttpAuthCache {
  readonly #entries = new Map<string, CachedHttpAuth>();
  constructor(readonly maxEntries = 4096) {}

  get(origin: string): CachedHttpAuth | undefined {
    const e = this.#entries.get(origin);
    if (e) {
      this.#entries.delete(origin);
      this.#entries.set(origin, e);
    }
    return e;
  }

  set(origin: string, e: CachedHttpAuth): void {
    this.#entries.delete(origin);
    this.#entries.set(origin, e);
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  delete(origin: string): void {
    this.#entries.delete(origin);
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** The agent's cache: clients are made per poll, the camera's nonce outlives them. */
export const sharedHttpAuthCache = new HttpAuthCache();

/** The Authorization header for the next request under a cached answer (counts the nonce up). */
export function authorizationFor(e: CachedHttpAuth, username: string, password: string, method: string, uri: string): string {
  if (e.scheme === 'basic') return basicAuthorization(username, password);
  e.nc += 1;
  return digestAuthorization(e.challenge, { username, password, method, uri, nc: e.nc, cnonce: newCnonce() });
}

/** Short name for logs and readings: digest-md5, digest-sha-256, basic. */
export function httpAuthName(e: CachedHttpAuth): string {
  return e.scheme === 'basic' ? 'basic' : `digest-${e.challenge.algorithm.toLowerCase()}`;
}
