/**
 * Defensive XML reading for ONVIF / WS-Discovery answers (fast-xml-parser, namespaces stripped).
 * Nothing here throws on a strange but well-formed document: lookups return undefined, and
 * callers decide what is missing. Malformed documents throw `OnvifError('bad-xml')`.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export type OnvifErrorKind = 'unreachable' | 'timeout' | 'http' | 'not-authorized' | 'fault' | 'bad-xml' | 'bad-answer' | 'refused';

/**
 * Why a `not-authorized` failed: our username/password refused, none configured, or a challenge we
 * cannot answer (an algorithm or qop we do not speak) or cannot read (not answered at all).
 */
export type AuthFailure = 'wrong-credentials' | 'no-credentials' | 'unsupported-challenge' | 'bad-challenge';

/** One failure talking to a device. Messages never contain credentials. */
export class OnvifError extends Error {
  readonly kind: OnvifErrorKind;
  readonly authFailure: AuthFailure | undefined;
  constructor(kind: OnvifErrorKind, message: string, authFailure?: AuthFailure) {
    // answers end up quoted in messages: keep them printable and short
    // eslint-disable-next-line no-control-regex
    super(message.replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, '?').slice(0, 500));
    this.kind = kind;
    this.authFailure = authFailure;
    this.name = 'OnvifError';
  }
}

/** Largest document we parse (a GetProfiles of a 64-channel NVR is ~300 kB). */
export const MAX_XML_BYTES = 2 * 1024 * 1024;

const parser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  // standard entities (&amp; in RTSP query strings) yes; DOCTYPE entity bombs bounded
  processEntities: { enabled: true, maxEntityCount: 10, maxTotalExpansions: 100, maxExpandedLength: 10_000 },
  htmlEntities: false,
  maxNestedTags: 64,
});

export type XmlNode = Record<string, unknown>;

/** Parses a SOAP/XML document; throws OnvifError('bad-xml') for anything that is not well-formed XML. */
export function parseXml(text: string): XmlNode {
  if (text.length > MAX_XML_BYTES) throw new OnvifError('bad-xml', `document too large (${text.length} bytes)`);
  if (!/^\s*(<\?xml[^>]*\?>\s*)?</.test(text)) throw new OnvifError('bad-xml', 'answer is not XML');
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new OnvifError('bad-xml', `malformed XML: ${valid.err.msg} (line ${valid.err.line})`.slice(0, 300));
  try {
    const doc = parser.parse(text) as unknown;
    if (!isNode(doc)) throw new OnvifError('bad-xml', 'empty XML document');
    return doc;
  } catch (err) {
    if (err instanceof OnvifError) throw err;
    throw new OnvifError('bad-xml', `malformed XML: ${(err as Error).message}`.slice(0, 300));
  }
}

export function isNode(v: unknown): v is XmlNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The values under `name` as a list (fast-xml-parser gives a single child as a value, several as an array). */
export function all(node: unknown, name: string): unknown[] {
  if (!isNode(node)) return [];
  const v = node[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** The first child element `name`, if it is an element. */
export function child(node: unknown, name: string): XmlNode | undefined {
  const first = all(node, name)[0];
  return isNode(first) ? first : undefined;
}

/** Follows a path of element names (first match at each level). */
export function path(node: unknown, ...names: string[]): unknown {
  let cur: unknown = node;
  for (const n of names) {
    cur = all(cur, n)[0];
    if (cur === undefined) return undefined;
  }
  return cur;
}

/** Text content of an element (leaf string or `#text` of an element with attributes), control chars removed, bounded. */
export function text(v: unknown, max = 1024): string | undefined {
  let s: unknown = v;
  if (Array.isArray(s)) s = s[0];
  if (isNode(s)) s = s['#text'];
  if (typeof s === 'number' || typeof s === 'boolean') s = String(s);
  if (typeof s !== 'string') return undefined;
  // eslint-disable-next-line no-control-regex
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, ' ').trim();
  return clean.length > 0 ? clean.slice(0, max) : undefined;
}

export function attr(node: unknown, name: string): string | undefined {
  return isNode(node) ? text(node[`@_${name}`]) : undefined;
}

/** A finite number within bounds, else undefined. */
export function num(v: unknown, min: number, max: number): number | undefined {
  const s = text(v, 64);
  if (s === undefined || !/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isFinite(n) && n >= min && n <= max ? n : undefined;
}

/** The Body of a SOAP envelope, or throws bad-answer. */
export function soapBody(doc: XmlNode): XmlNode {
  const body = path(doc, 'Envelope', 'Body');
  if (!isNode(body)) throw new OnvifError('bad-answer', 'no SOAP Envelope/Body in answer');
  return body;
}

export interface SoapFault {
  code?: string;
  subcodes: string[];
  reason?: string;
}

/** The SOAP 1.2 (or 1.1) fault in a body, if there is one. */
export function soapFault(body: XmlNode): SoapFault | undefined {
  const f = child(body, 'Fault');
  if (!f) return undefined;
  const subcodes: string[] = [];
  let sub: unknown = path(f, 'Code', 'Subcode');
  for (let depth = 0; isNode(sub) && depth < 8; depth++) {
    const v = text(child(sub, 'Value') ?? sub['Value'], 200);
    if (v) subcodes.push(v);
    sub = sub['Subcode'];
  }
  return {
    code: text(path(f, 'Code', 'Value'), 200) ?? text(f['faultcode'], 200),
    subcodes,
    reason: text(path(f, 'Reason', 'Text'), 300) ?? text(f['faultstring'], 300),
  };
}

/** ter:NotAuthorized / wsse:FailedAuthentication and friends, by local name. */
export function isAuthFault(f: SoapFault): boolean {
  const names = [f.code ?? '', ...f.subcodes].map((s) => s.replace(/^.*:/, '').toLowerCase());
  return names.some((n) => n === 'notauthorized' || n === 'failedauthentication' || n === 'invalidsecuritytoken' || n === 'failedcheck');
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
}
