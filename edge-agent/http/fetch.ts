/**
 * One bounded HTTP GET for probes and polls: a deadline over the whole exchange, a cap on the
 * body, no connection pooling (nothing lingers after a probe), and failures sorted into reasons a
 * person can act on. Also the JSON handling both sides share: parse only what is JSON, tell an
 * HTML page apart from broken JSON, and resolve JSON pointers (RFC 6901) without touching prototypes.
 */
import * as http from 'node:http';

export type FetchFailure = 'refused' | 'timeout' | 'reset' | 'too-large' | 'io';

export class HttpFetchError extends Error {
  override name = 'HttpFetchError';
  constructor(
    readonly reason: FetchFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface HttpAnswer {
  status: number;
  /** header names in lower case; repeated headers joined with ", " */
  headers: Record<string, string>;
  body: Buffer;
}

export interface GetOptions {
  timeoutMs: number;
  maxBodyBytes: number;
}

export function httpGet(host: string, port: number, path: string, opts: GetOptions): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: HttpFetchError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(err);
    };
    const req = http.request({
      host: host.startsWith('[') ? host.slice(1, -1) : host,
      port,
      path,
      method: 'GET',
      agent: false,
      headers: { accept: 'application/json, */*;q=0.5', 'user-agent': 'campus-edge-agent', connection: 'close' },
      maxHeaderSize: 16 * 1024,
    });
    const timer = setTimeout(() => fail(new HttpFetchError('timeout', `no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') fail(new HttpFetchError('refused', 'connection refused'));
      else if (err.code === 'ECONNRESET' || err.code === 'EPIPE') fail(new HttpFetchError('reset', 'connection reset by the device'));
      else fail(new HttpFetchError('io', err.message));
    });
    req.on('response', (res) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
      const declared = Number(headers['content-length']);
      if (Number.isFinite(declared) && declared > opts.maxBodyBytes) {
        fail(new HttpFetchError('too-large', `body of ${declared} bytes is over the limit of ${opts.maxBodyBytes}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > opts.maxBodyBytes) fail(new HttpFetchError('too-large', `body is over the limit of ${opts.maxBodyBytes} bytes`));
        else chunks.push(c);
      });
      res.on('error', () => fail(new HttpFetchError('reset', 'connection lost while reading the body')));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks) });
      });
    });
    req.end();
  });
}

/** The body looks like an HTML page (by content type or by its first characters). */
export function looksLikeHtml(answer: HttpAnswer): boolean {
  const ct = answer.headers['content-type'] ?? '';
  if (/\b(text\/html|application\/xhtml\+xml)\b/i.test(ct)) return true;
  const head = answer.body.subarray(0, 512).toString('utf8').trimStart().toLowerCase();
  return head.startsWith('<!doctype html') || head.startsWith('<html') || head.startsWith('<head') || head.startsWith('<body');
}

export function htmlTitle(answer: HttpAnswer): string | undefined {
  const m = /<title[^>]*>([^<]{0,200})<\/title>/i.exec(answer.body.subarray(0, 16 * 1024).toString('utf8'));
  const t = m?.[1]?.trim();
  return t ? t : undefined;
}

export type JsonParse = { ok: true; value: unknown } | { ok: false; reason: 'html' | 'bad-json'; error: string };

/** Parses a JSON body; says plainly when the device sent an HTML page instead. */
export function parseJsonAnswer(answer: HttpAnswer, what: string): JsonParse {
  if (looksLikeHtml(answer)) {
    const title = htmlTitle(answer);
    const ct = answer.headers['content-type'] ?? 'no content type';
    return { ok: false, reason: 'html', error: `${what} answered an HTML page (${ct}${title ? `, title "${title}"` : ''}) instead of JSON` };
  }
  try {
    return { ok: true, value: JSON.parse(answer.body.toString('utf8')) as unknown };
  } catch (err) {
    return { ok: false, reason: 'bad-json', error: `${what} answered a body that is not valid JSON: ${(err as Error).message}` };
  }
}

/** Resolves an RFC 6901 JSON pointer; undefined when any step is missing. Own properties only. */
export function jsonPointer(doc: unknown, pointer: string): unknown {
  if (pointer === '') return doc;
  if (!pointer.startsWith('/')) return undefined;
  let cur: unknown = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      if (!/^(0|[1-9][0-9]*)$/.test(key)) return undefined;
      cur = cur[Number(key)];
    } else if (cur !== null && typeof cur === 'object') {
      if (!Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
      cur = (cur as Record<string, unknown>)[key];
    } else {
      return undefined;
    }
  }
  return cur;
}
