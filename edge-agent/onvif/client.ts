/**
 * A small ONVIF SOAP client over `fetch` (see docs/decisions/0006-onvif-client.md): SOAP 1.2,
 * WS-UsernameToken with PasswordDigest, HTTP Digest when the camera answers 401 with a challenge
 * (both when it wants both; http-auth.ts), device and media (ver10) services, and only the calls the
 * agent needs. Every answer is read within a size bound and parsed defensively; every failure is an
 * `OnvifError` with a kind the health ladder can tell apart. Messages never contain credentials.
 *
 * Addresses a device reports about itself (service XAddrs, stream URIs) are not followed blindly:
 * when their host differs from the address we reached the device at (NAT, a stale or foreign
 * address, a recorded fixture), the path is kept and the host/port replaced by the reached ones,
 * so the agent only ever talks to addresses that came from its configuration or answered a probe.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Credentials } from '../credentials.ts';
import { authorizationFor, chooseHttpAuth, httpAuthName, parseAuthChallenges, sharedHttpAuthCache, type CachedHttpAuth, type HttpAuthCache } from './http-auth.ts';
import {
  MAX_XML_BYTES,
  OnvifError,
  all,
  attr,
  child,
  escapeXml,
  isAuthFault,
  isNode,
  num,
  parseXml,
  path,
  soapBody,
  soapFault,
  text,
  type XmlNode,
} from './xml.ts';

export const NS = {
  soap: 'http://www.w3.org/2003/05/soap-envelope',
  tds: 'http://www.onvif.org/ver10/device/wsdl',
  trt: 'http://www.onvif.org/ver10/media/wsdl',
  tt: 'http://www.onvif.org/ver10/schema',
  wsse: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd',
  wsu: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd',
  passwordDigest: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest',
  base64: 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary',
} as const;

export interface DeviceInformation {
  manufacturer?: string;
  model?: string;
  firmware?: string;
  serial?: string;
  hardwareId?: string;
}

export interface NetworkInterfaceInfo {
  token?: string;
  name?: string;
  mac?: string;
  enabled: boolean;
  ipv4: string[];
  ipv6: string[];
}

export interface MediaProfile {
  token: string;
  name?: string;
  videoSourceToken?: string;
  videoEncoderToken?: string;
}

export interface VideoEncoderConfig {
  token: string;
  encoding?: string;
  width?: number;
  height?: number;
  fps?: number;
  /** kbit/s */
  bitrate?: number;
}

export interface OnvifClientOptions {
  credentials?: Credentials;
  /** per request, default 5000 ms */
  timeoutMs?: number;
  /** where HTTP challenges are remembered per origin; default: the agent-wide one */
  httpAuthCache?: HttpAuthCache;
}

/** WS-UsernameToken PasswordDigest: Base64(SHA-1(nonce + created + password)). */
export function passwordDigest(nonce: Buffer, created: string, password: string): string {
  return createHash('sha1').update(Buffer.concat([nonce, Buffer.from(created, 'utf8'), Buffer.from(password, 'utf8')])).digest('base64');
}

function securityHeader(creds: Credentials, now: Date): string {
  const nonce = randomBytes(16);
  const created = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return (
    `<wsse:Security s:mustUnderstand="1" xmlns:wsse="${NS.wsse}" xmlns:wsu="${NS.wsu}"><wsse:UsernameToken>` +
    `<wsse:Username>${escapeXml(creds.username)}</wsse:Username>` +
    `<wsse:Password Type="${NS.passwordDigest}">${passwordDigest(nonce, created, creds.reveal())}</wsse:Password>` +
    `<wsse:Nonce EncodingType="${NS.base64}">${nonce.toString('base64')}</wsse:Nonce>` +
    `<wsu:Created>${created}</wsu:Created></wsse:UsernameToken></wsse:Security>`
  );
}

export function envelope(body: string, header = ''): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>` +
    `<s:Envelope xmlns:s="${NS.soap}" xmlns:tds="${NS.tds}" xmlns:trt="${NS.trt}" xmlns:tt="${NS.tt}">` +
    `<s:Header>${header}</s:Header><s:Body>${body}</s:Body></s:Envelope>`
  );
}

/** Replaces a self-reported URL's host and port by the ones we reached the device at, unless they already agree. */
export function pinToReachedHost(reported: string | undefined, reached: URL, scheme?: 'http' | 'rtsp'): URL | undefined {
  if (!reported) return undefined;
  let u: URL;
  try {
    u = new URL(reported);
  } catch {
    return undefined;
  }
  if (scheme === 'http' && u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
  if (scheme === 'rtsp' && u.protocol !== 'rtsp:') return undefined;
  u.username = '';
  u.password = '';
  if (u.hostname !== reached.hostname) {
    u.hostname = reached.hostname;
    // an HTTP service on another host keeps the reached port; an RTSP URI keeps its own (554 by default)
    if (scheme === 'http') u.port = reached.port;
  }
  return u;
}

async function readBounded(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw new OnvifError('bad-answer', `answer larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function networkError(err: unknown, what: string): OnvifError {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return new OnvifError('timeout', `${what}: no answer in time`);
  const code = e.cause?.code;
  if (code === 'ECONNREFUSED') return new OnvifError('refused', `${what}: connection refused`);
  return new OnvifError('unreachable', `${what}: ${code ?? e.cause?.message ?? e.message}`.slice(0, 300));
}

export class OnvifClient {
  readonly deviceUrl: URL;
  mediaUrl: URL;
  readonly #creds: Credentials | undefined;
  readonly #timeoutMs: number;
  readonly #authCache: HttpAuthCache;
  #httpAuth: string | undefined;
  /** camera clock minus ours, ms: tokens are dated in the camera's time so a skewed clock does not fail auth */
  clockOffsetMs = 0;

  constructor(xaddr: string | URL, opts: OnvifClientOptions = {}) {
    const u = new URL(xaddr);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new OnvifError('bad-answer', `not an HTTP XAddr: ${u.protocol}`);
    u.username = '';
    u.password = '';
    this.deviceUrl = u;
    this.mediaUrl = u;
    this.#creds = opts.credentials;
    this.#timeoutMs = opts.timeoutMs ?? 5000;
    this.#authCache = opts.httpAuthCache ?? sharedHttpAuthCache;
  }

  get hasCredentials(): boolean {
    return this.#creds !== undefined;
  }

  /** The HTTP authentication the camera last accepted from this client (digest-sha-256, basic, …), if it asked for one. */
  get httpAuth(): string | undefined {
    return this.#httpAuth;
  }

  /**
   * POSTs one envelope, answering HTTP authentication challenges. With credentials, a challenge
   * cached for the origin is answered at once; a 401 with a challenge is answered once, and once
   * more only when it says the nonce went stale, so a wrong password costs at most three requests
   * and never a loop. A 401 without a challenge (WS-Security refused) goes back to the caller.
   */
  async #post(url: URL, body: string, auth: boolean, what: string): Promise<{ res: Response; text: string }> {
    const creds = this.#creds;
    const origin = url.origin;
    const uri = `${url.pathname}${url.search}`;
    let answering: CachedHttpAuth | undefined = creds ? this.#authCache.get(origin) : undefined;
    let fromChallenge = false;
    let staleRetried = false;
    for (;;) {
      // a fresh WS-Security token per attempt: cameras refuse a replayed nonce
      const header = auth && creds ? securityHeader(creds, new Date(Date.now() + this.clockOffsetMs)) : '';
      const headers: Record<string, string> = { 'content-type': 'application/soap+xml; charset=utf-8' };
      if (answering && creds) headers['authorization'] = authorizationFor(answering, creds.username, creds.reveal(), 'POST', uri);
      let res: Response;
      try {
        res = await fetch(url, { method: 'POST', headers, body: envelope(body, header), signal: AbortSignal.timeout(this.#timeoutMs), redirect: 'error' });
      } catch (err) {
        throw networkError(err, what);
      }
      let text: string;
      try {
        text = await readBounded(res, MAX_XML_BYTES);
      } catch (err) {
        if (err instanceof OnvifError) throw new OnvifError(err.kind, `${what}: ${err.message}`);
        throw networkError(err, what);
      }
      const wwwAuth = res.status === 401 ? res.headers.get('www-authenticate') : null;
      if (wwwAuth === null) {
        if (res.ok && answering) this.#httpAuth = httpAuthName(answering);
        return { res, text };
      }
      if (!creds) throw new OnvifError('not-authorized', `${what}: not authorized (the camera asks for HTTP authentication; no credentials for this address)`, 'no-credentials');
      const challenges = parseAuthChallenges(wwwAuth);
      if (!challenges) {
        this.#authCache.delete(origin);
        throw new OnvifError('not-authorized', `${what}: not authorized: unreadable WWW-Authenticate header, not answered`, 'bad-challenge');
      }
      const choice = chooseHttpAuth(challenges);
      if (choice.scheme === 'unsupported') {
        this.#authCache.delete(origin);
        throw new OnvifError('not-authorized', `${what}: not authorized: the camera asks for HTTP authentication we do not speak (${choice.offered})`, 'unsupported-challenge');
      }
      const stale = choice.scheme === 'digest' && choice.challenge.stale;
      if (fromChallenge && !(stale && !staleRetried)) {
        // we answered this very call's challenge and it was refused: the password is wrong
        this.#authCache.delete(origin);
        const name = answering ? httpAuthName(answering) : choice.scheme;
        throw new OnvifError('not-authorized', `${what}: not authorized: HTTP ${name === 'basic' ? 'Basic' : `Digest ${name.slice('digest-'.length).toUpperCase()}`} refused (wrong username or password)`, 'wrong-credentials');
      }
      if (fromChallenge) staleRetried = true;
      answering = choice.scheme === 'digest' ? { scheme: 'digest', challenge: choice.challenge, nc: 0 } : { scheme: 'basic' };
      this.#authCache.set(origin, answering);
      fromChallenge = true;
    }
  }

  /** One SOAP request; returns the first element of the answer's Body. */
  async call(url: URL, operation: string, body: string, auth: boolean): Promise<XmlNode> {
    const what = `${operation} at ${url.host}`;
    const { res, text: textBody } = await this.#post(url, body, auth, what);
    let resBody: XmlNode | undefined;
    let parseError: OnvifError | undefined;
    try {
      resBody = soapBody(parseXml(textBody));
    } catch (err) {
      parseError = err instanceof OnvifError ? err : new OnvifError('bad-xml', String(err));
    }
    const fault = resBody ? soapFault(resBody) : undefined;
    if (res.status === 401 || (fault && isAuthFault(fault))) {
      throw this.#creds
        ? new OnvifError('not-authorized', `${what}: not authorized (wrong username or password)`, 'wrong-credentials')
        : new OnvifError('not-authorized', `${what}: not authorized (no credentials for this address)`, 'no-credentials');
    }
    if (fault) throw new OnvifError('fault', `${what}: SOAP fault ${[fault.code, ...fault.subcodes].filter(Boolean).join('/')}${fault.reason ? `: ${fault.reason}` : ''}`);
    if (!res.ok && parseError) throw new OnvifError('http', `${what}: HTTP ${res.status}`);
    if (parseError || !resBody) throw new OnvifError(parseError?.kind ?? 'bad-xml', `${what}: ${parseError?.message ?? 'no body'}`);
    if (!res.ok) throw new OnvifError('http', `${what}: HTTP ${res.status}`);
    const response = resBody[`${operation}Response`];
    const node = Array.isArray(response) ? response[0] : response;
    if (node === undefined) throw new OnvifError('bad-answer', `${what}: answer has no ${operation}Response`);
    return isNode(node) ? node : {};
  }

  /** Unauthenticated; also sets the clock offset. Returns the camera's UTC time if it gave one. */
  async getSystemDateAndTime(): Promise<Date | undefined> {
    const r = await this.call(this.deviceUrl, 'GetSystemDateAndTime', '<tds:GetSystemDateAndTime/>', false);
    const utc = path(r, 'SystemDateAndTime', 'UTCDateTime');
    const y = num(path(utc, 'Date', 'Year'), 1970, 2200);
    const mo = num(path(utc, 'Date', 'Month'), 1, 12);
    const d = num(path(utc, 'Date', 'Day'), 1, 31);
    const h = num(path(utc, 'Time', 'Hour'), 0, 23);
    const mi = num(path(utc, 'Time', 'Minute'), 0, 59);
    const s = num(path(utc, 'Time', 'Second'), 0, 60);
    if ([y, mo, d, h, mi, s].some((v) => v === undefined)) return undefined;
    const t = new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, s));
    this.clockOffsetMs = t.getTime() - Date.now();
    return t;
  }

  async getDeviceInformation(): Promise<DeviceInformation> {
    const r = await this.call(this.deviceUrl, 'GetDeviceInformation', '<tds:GetDeviceInformation/>', true);
    return {
      manufacturer: text(r['Manufacturer'], 128),
      model: text(r['Model'], 128),
      firmware: text(r['FirmwareVersion'], 128),
      serial: text(r['SerialNumber'], 128),
      hardwareId: text(r['HardwareId'], 128),
    };
  }

  /** Finds the media service (GetCapabilities) and pins it to the reached host. Keeps the device URL if absent. */
  async getCapabilities(): Promise<{ mediaXaddr?: string }> {
    const r = await this.call(this.deviceUrl, 'GetCapabilities', '<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>', true);
    const reported = text(path(r, 'Capabilities', 'Media', 'XAddr'), 512);
    const pinned = pinToReachedHost(reported, this.deviceUrl, 'http');
    if (pinned) this.mediaUrl = pinned;
    return { mediaXaddr: reported };
  }

  async getNetworkInterfaces(): Promise<NetworkInterfaceInfo[]> {
    const r = await this.call(this.deviceUrl, 'GetNetworkInterfaces', '<tds:GetNetworkInterfaces/>', true);
    return all(r, 'NetworkInterfaces')
      .slice(0, 64)
      .map((ni) => {
        const v4cfg = path(ni, 'IPv4', 'Config');
        const v6cfg = path(ni, 'IPv6', 'Config');
        const addrs = (cfg: unknown, keys: string[]): string[] =>
          keys.flatMap((k) => all(cfg, k).map((a) => text(child(a, 'Address') ?? (a as XmlNode)['Address'], 64)).filter((a): a is string => a !== undefined));
        const ipv4 = addrs(v4cfg, ['Manual', 'FromDHCP', 'LinkLocal']).filter((a) => /^\d{1,3}(\.\d{1,3}){3}$/.test(a));
        const ipv6 = addrs(v6cfg, ['Manual', 'FromDHCP', 'FromRA', 'LinkLocal']).filter((a) => /^[0-9A-Fa-f:.]+$/.test(a) && a.includes(':'));
        return {
          token: attr(ni, 'token'),
          name: text(path(ni, 'Info', 'Name'), 64),
          mac: text(path(ni, 'Info', 'HwAddress'), 64),
          enabled: text(child(ni, 'Enabled') ?? (ni as XmlNode)['Enabled']) !== 'false',
          ipv4: [...new Set(ipv4)],
          ipv6: [...new Set(ipv6)],
        };
      });
  }

  async getScopes(): Promise<string[]> {
    const r = await this.call(this.deviceUrl, 'GetScopes', '<tds:GetScopes/>', true);
    return all(r, 'Scopes')
      .slice(0, 64)
      .map((s) => text(isNode(s) ? s['ScopeItem'] : s, 256))
      .filter((s): s is string => s !== undefined);
  }

  async getProfiles(): Promise<MediaProfile[]> {
    const r = await this.call(this.mediaUrl, 'GetProfiles', '<trt:GetProfiles/>', true);
    const out: MediaProfile[] = [];
    for (const p of all(r, 'Profiles').slice(0, 256)) {
      const token = attr(p, 'token');
      if (!token) continue;
      out.push({
        token,
        name: text(path(p, 'Name'), 128),
        videoSourceToken: text(path(p, 'VideoSourceConfiguration', 'SourceToken'), 128),
        videoEncoderToken: attr(child(p, 'VideoEncoderConfiguration'), 'token'),
      });
    }
    return out;
  }

  async getVideoEncoderConfigurations(): Promise<VideoEncoderConfig[]> {
    const r = await this.call(this.mediaUrl, 'GetVideoEncoderConfigurations', '<trt:GetVideoEncoderConfigurations/>', true);
    const out: VideoEncoderConfig[] = [];
    for (const c of all(r, 'Configurations').slice(0, 256)) {
      const token = attr(c, 'token');
      if (!token) continue;
      out.push({
        token,
        encoding: text(path(c, 'Encoding'), 32),
        width: num(path(c, 'Resolution', 'Width'), 1, 16_384),
        height: num(path(c, 'Resolution', 'Height'), 1, 16_384),
        fps: num(path(c, 'RateControl', 'FrameRateLimit'), 0, 1000),
        bitrate: num(path(c, 'RateControl', 'BitrateLimit'), 0, 10_000_000),
      });
    }
    return out;
  }

  /** RTSP (RTP-Unicast) URI of a profile, as reported (credentials stripped). */
  async getStreamUri(profileToken: string): Promise<string | undefined> {
    const body =
      `<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>` +
      `<trt:ProfileToken>${escapeXml(profileToken)}</trt:ProfileToken></trt:GetStreamUri>`;
    const r = await this.call(this.mediaUrl, 'GetStreamUri', body, true);
    const uri = text(path(r, 'MediaUri', 'Uri'), 1024);
    if (!uri) return undefined;
    try {
      const u = new URL(uri);
      u.username = '';
      u.password = '';
      return u.toString();
    } catch {
      throw new OnvifError('bad-answer', `GetStreamUri at ${this.mediaUrl.host}: not a URI`);
    }
  }
}
