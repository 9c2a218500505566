/** Shared bits of the InfluxDB v1 HTTP API: endpoint URLs, authentication, error bodies. */

export interface InfluxConnection {
  /** Base URL, e.g. `http://127.0.0.1:8086` (a path prefix behind a proxy is kept). */
  url: string;
  db: string;
  user?: string;
  password?: string;
  /** 2.x/3.x v1-compatibility token: sent as `Authorization: Token …`, wins over user/password. */
  token?: string;
}

export function influxEndpoint(conn: Pick<InfluxConnection, 'url'>, path: string, params: Record<string, string | undefined> = {}): string {
  const u = new URL(conn.url.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.toString();
}

/** Basic auth (not `u`/`p` query params) keeps the password out of proxy and access logs. */
export function influxAuthHeaders(conn: Omit<InfluxConnection, 'url' | 'db'>): Record<string, string> {
  if (conn.token) return { authorization: `Token ${conn.token}` };
  if (conn.user !== undefined) {
    return { authorization: `Basic ${Buffer.from(`${conn.user}:${conn.password ?? ''}`).toString('base64')}` };
  }
  return {};
}

/** The `error` of an InfluxDB JSON error body, else the raw text (proxies answer in HTML). */
export function influxErrorText(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (parsed && typeof parsed === 'object' && 'error' in parsed && typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON
  }
  return body.trim().slice(0, 500);
}

/** Double-quoted InfluxQL identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/[\\"]/g, '\\$&')}"`;
}
