/**
 * HTTP discovery of class boards (数字班牌) and classroom displays (交互式触控一体机): GET the paths
 * the caller's fingerprints name on every configured host:port, and say for each target whether a
 * fingerprint matched, something unknown answered, or what went wrong. A device that answers an
 * HTML page, a 500 or nothing at all gets its own clear error; the scan of the rest goes on.
 *
 * Targets and the allow-list both come from the caller (DESIGN.md "Network safety"): nothing is
 * sent to a host the allow-list refuses.
 */
import type { DiscoveredDevice, DeviceKind } from '../../protocol/index.ts';
import { httpGet, HttpFetchError, htmlTitle, jsonPointer, looksLikeHtml, parseJsonAnswer, type HttpAnswer } from './fetch.ts';
import { DEFAULT_MAX_TARGETS, discoveredDeviceId, expandTargets, formatHostPort, mapLimit, type AllowHost } from './targets.ts';

/** One check on one GET; a fingerprint holds when all its rules hold. */
export interface HttpFingerprintRule {
  path: string;
  /** expected status code (default 200) */
  expectStatus?: number;
  /**
   * header checks: either header name (any case) → pattern for its value, or one pattern tested
   * against all header lines as `name: value` (names in lower case, multiline mode)
   */
  headerRegex?: Record<string, string> | string;
  /** pattern tested against the body text */
  bodyRegex?: string;
  /** JSON pointer → pattern for the value (as text); implies the body must be JSON */
  json?: Record<string, string>;
  /** the body must be JSON (an HTML page instead is an error, not a mismatch) */
  expectJson?: boolean;
}

export interface HttpFingerprint {
  /** device profile id, e.g. campus-class-board */
  profile: string;
  kind?: DeviceKind;
  rules: HttpFingerprintRule[];
}

export interface HttpProbeOptions {
  /** addresses, names, IPv4 ranges (a.b.c.d-e) or CIDR blocks; from configuration only */
  hosts: string[];
  /** ports or ranges ("8080-8089") */
  ports: Array<number | string>;
  fingerprints: HttpFingerprint[];
  /** required: no packet goes to a host this refuses */
  isAllowed: AllowHost;
  /** per request (default 3000) */
  timeoutMs?: number;
  /** targets probed at once (default 16) */
  concurrency?: number;
  /** per body (default 64 KiB) */
  maxBodyBytes?: number;
  /** bound on hosts × ports (default 4096) */
  maxTargets?: number;
}

/** What a target showed of itself, for the inbox and for matching by profiles later. */
export interface HttpRawFingerprint {
  /** per probed path: status, server, content type, and the HTML title if it was a page */
  paths: Record<string, { status: number; server?: string; contentType?: string; title?: string }>;
  server?: string;
  /** vendor/model/serial/firmware/deviceType/classroom when a JSON answer held them as text */
  attributes: Record<string, string>;
}

interface Base {
  host: string;
  port: number;
  address: string;
}
export type HttpProbeResult =
  | (Base & { status: 'found'; profile: string; kind?: DeviceKind; fingerprint: HttpRawFingerprint })
  | (Base & { status: 'unknown'; fingerprint: HttpRawFingerprint })
  | (Base & {
      status: 'error';
      reason: 'timeout' | 'html-instead-of-json' | 'bad-json' | 'http-status' | 'too-large' | 'reset' | 'io';
      error: string;
      fingerprint?: HttpRawFingerprint;
    })
  | (Base & { status: 'not-allowed'; error: string });

export interface HttpProbeReport {
  /** every target except the ones where nothing listened */
  results: HttpProbeResult[];
  /** targets that refused the connection (nothing listening) */
  absent: number;
  scanned: number;
}

const ATTRIBUTE_POINTERS: Record<string, string> = {
  vendor: '/vendor',
  model: '/model',
  serial: '/serial',
  firmware: '/firmware',
  deviceType: '/deviceType',
  classroom: '/classroom',
};

function compile(pattern: string, what: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch (err) {
    throw new Error(`${what}: bad pattern ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
}

type RuleOutcome = { holds: true } | { holds: false; notJson?: string };

function checkRule(rule: HttpFingerprintRule, answer: HttpAnswer): RuleOutcome {
  if (answer.status !== (rule.expectStatus ?? 200)) return { holds: false };
  const wantsJson = rule.json !== undefined || rule.expectJson === true;
  // an HTML page where the status API should be is a broken (or misconfigured) device, not a
  // stranger: say so before the content-type check quietly calls it a mismatch
  if (wantsJson && looksLikeHtml(answer)) {
    const parsed = parseJsonAnswer(answer, `GET ${rule.path}`);
    return { holds: false, ...(parsed.ok ? {} : { notJson: parsed.error }) };
  }
  if (rule.headerRegex !== undefined) {
    if (typeof rule.headerRegex === 'string') {
      const lines = Object.entries(answer.headers).map(([k, v]) => `${k}: ${v}`).join('\n');
      if (!new RegExp(rule.headerRegex, 'm').test(lines)) return { holds: false };
    } else {
      for (const [name, pattern] of Object.entries(rule.headerRegex)) {
        const v = answer.headers[name.toLowerCase()];
        if (v === undefined || !compile(pattern, `header ${name}`).test(v)) return { holds: false };
      }
    }
  }
  if (rule.bodyRegex !== undefined && !compile(rule.bodyRegex, 'body').test(answer.body.toString('utf8'))) return { holds: false };
  if (wantsJson) {
    const parsed = parseJsonAnswer(answer, `GET ${rule.path}`);
    if (!parsed.ok) return { holds: false, notJson: parsed.error };
    for (const [pointer, pattern] of Object.entries(rule.json ?? {})) {
      const v = jsonPointer(parsed.value, pointer);
      if (v === undefined || v === null || typeof v === 'object') return { holds: false };
      if (!compile(pattern, `json ${pointer}`).test(String(v))) return { holds: false };
    }
  }
  return { holds: true };
}

function rawFingerprint(answers: Map<string, HttpAnswer>): HttpRawFingerprint {
  const fp: HttpRawFingerprint = { paths: {}, attributes: {} };
  for (const [path, a] of answers) {
    const entry: HttpRawFingerprint['paths'][string] = { status: a.status };
    const server = a.headers.server?.slice(0, 128);
    if (server) entry.server = fp.server = server;
    if (a.headers['content-type']) entry.contentType = a.headers['content-type'].slice(0, 128);
    if (looksLikeHtml(a)) {
      const title = htmlTitle(a);
      if (title) entry.title = title;
    } else if (a.status >= 200 && a.status < 300) {
      const parsed = parseJsonAnswer(a, path);
      if (parsed.ok) {
        for (const [name, pointer] of Object.entries(ATTRIBUTE_POINTERS)) {
          const v = jsonPointer(parsed.value, pointer);
          if (typeof v === 'string' && v.length > 0 && fp.attributes[name] === undefined) fp.attributes[name] = v.slice(0, 256);
        }
      }
    }
    fp.paths[path] = entry;
  }
  return fp;
}

async function probeOne(
  host: string,
  port: number,
  fingerprints: HttpFingerprint[],
  paths: string[],
  opts: { timeoutMs: number; maxBodyBytes: number },
): Promise<HttpProbeResult | 'absent'> {
  const address = formatHostPort(host, port);
  const answers = new Map<string, HttpAnswer>();
  for (const path of paths) {
    try {
      answers.set(path, await httpGet(host, port, path, opts));
    } catch (err) {
      if (!(err instanceof HttpFetchError)) throw err;
      if (err.reason === 'refused') {
        if (answers.size === 0) return 'absent';
        return { host, port, address, status: 'error', reason: 'io', error: `GET ${path}: ${err.message}`, fingerprint: rawFingerprint(answers) };
      }
      return {
        host,
        port,
        address,
        status: 'error',
        reason: err.reason,
        error: `GET ${path}: ${err.message}`,
        ...(answers.size > 0 ? { fingerprint: rawFingerprint(answers) } : {}),
      };
    }
  }
  const fingerprint = rawFingerprint(answers);
  const notJson: string[] = [];
  for (const fpr of fingerprints) {
    let all = true;
    for (const rule of fpr.rules) {
      const outcome = checkRule(rule, answers.get(rule.path)!);
      if (!outcome.holds) {
        all = false;
        if (outcome.notJson) notJson.push(outcome.notJson);
        break;
      }
    }
    if (all) return { host, port, address, status: 'found', profile: fpr.profile, ...(fpr.kind ? { kind: fpr.kind } : {}), fingerprint };
  }
  // nothing matched: say why when the answers show a broken device rather than a stranger
  const html = notJson.find((e) => e.includes('HTML page'));
  if (html) return { host, port, address, status: 'error', reason: 'html-instead-of-json', error: html, fingerprint };
  for (const [path, a] of answers) {
    if (a.status >= 500) return { host, port, address, status: 'error', reason: 'http-status', error: `GET ${path} answered HTTP ${a.status}`, fingerprint };
  }
  if (notJson.length > 0) return { host, port, address, status: 'error', reason: 'bad-json', error: notJson[0]!, fingerprint };
  return { host, port, address, status: 'unknown', fingerprint };
}

export async function probeHttp(opts: HttpProbeOptions): Promise<HttpProbeReport> {
  if (typeof opts.isAllowed !== 'function') throw new Error('probeHttp needs an isAllowed check');
  const targets = expandTargets(opts.hosts, opts.ports, opts.maxTargets ?? DEFAULT_MAX_TARGETS);
  // validate every pattern before sending anything
  for (const f of opts.fingerprints) {
    if (f.rules.length === 0) throw new Error(`fingerprint ${f.profile} has no rules`);
    for (const r of f.rules) {
      if (!r.path.startsWith('/')) throw new Error(`fingerprint ${f.profile}: path must start with /`);
      if (typeof r.headerRegex === 'string') compile(r.headerRegex, `${f.profile} headerRegex`);
      else for (const p of Object.values(r.headerRegex ?? {})) compile(p, `${f.profile} headerRegex`);
      if (r.bodyRegex !== undefined) compile(r.bodyRegex, `${f.profile} bodyRegex`);
      for (const p of Object.values(r.json ?? {})) compile(p, `${f.profile} json`);
    }
  }
  const paths = [...new Set(opts.fingerprints.flatMap((f) => f.rules.map((r) => r.path)))];
  if (paths.length === 0) throw new Error('probeHttp needs at least one fingerprint');
  const fetchOpts = { timeoutMs: opts.timeoutMs ?? 3000, maxBodyBytes: opts.maxBodyBytes ?? 64 * 1024 };
  const outcomes = await mapLimit(targets, opts.concurrency ?? 16, async ({ host, port }): Promise<HttpProbeResult | 'absent'> => {
    if (!opts.isAllowed(host)) {
      return { host, port, address: formatHostPort(host, port), status: 'not-allowed', error: `${host} is not allowed by the probe allow-list; nothing was sent` };
    }
    try {
      return await probeOne(host, port, opts.fingerprints, paths, fetchOpts);
    } catch (err) {
      return { host, port, address: formatHostPort(host, port), status: 'error', reason: 'io', error: (err as Error).message };
    }
  });
  const results = outcomes.filter((o): o is HttpProbeResult => o !== 'absent');
  return { results, absent: outcomes.length - results.length, scanned: targets.length };
}

/** The discovery-channel record for a found or unknown target (errors are the caller's to log). */
export function httpResultToDiscovered(r: HttpProbeResult): DiscoveredDevice | undefined {
  if (r.status !== 'found' && r.status !== 'unknown') return undefined;
  const attributes: DiscoveredDevice['attributes'] = {};
  for (const [k, v] of Object.entries(r.fingerprint.attributes)) attributes[k] = v;
  if (r.fingerprint.server) attributes.server = r.fingerprint.server;
  return {
    device: discoveredDeviceId('http', r.host, r.port),
    kind: r.status === 'found' ? (r.kind ?? 'unknown') : 'unknown',
    protocol: 'http',
    address: r.address,
    ...(r.status === 'found' ? { profile: r.profile } : {}),
    attributes,
  };
}
