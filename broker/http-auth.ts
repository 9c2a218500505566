/**
 * AuthBackend that asks the collector: POST {url}/api/v1/mqtt/auth with { username, password }.
 * 200 { principal } = known user, 401/403 = refused, anything else = the backend is unavailable.
 * The same endpoint serves Mosquitto (mosquitto-go-auth) or EMQX HTTP auth if they replace us.
 */
import { createHash } from 'node:crypto';
import { Value } from '@sinclair/typebox/value';
import { PrincipalSchema, type AuthBackend, type Principal } from './auth.ts';

export interface HttpAuthOptions {
  /** Collector base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  /** Sent as `Authorization: Bearer <token>` so only the broker may ask. */
  token?: string;
  /** How long a positive answer is reused; a reconnect storm then costs one request per agent. */
  cacheTtlMs?: number;
  /** Bound on cached entries; the oldest go first. */
  cacheMaxEntries?: number;
  /** Per-request timeout. */
  timeoutMs?: number;
  now?: () => number;
}

export const AUTH_PATH = '/api/v1/mqtt/auth';

/** Thrown when the collector cannot give an answer; the broker maps it to CONNACK 3. */
export class AuthBackendError extends Error {
  override name = 'AuthBackendError';
}

export function httpAuthBackend(opts: HttpAuthOptions): AuthBackend {
  const endpoint = new URL(AUTH_PATH, opts.url).toString();
  const ttl = opts.cacheTtlMs ?? 30_000;
  const maxEntries = opts.cacheMaxEntries ?? 10_000;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const now = opts.now ?? Date.now;
  // key: username + sha256(password); the password itself is never kept.
  const cache = new Map<string, { principal: Principal; expires: number }>();
  // Identical concurrent requests (a storm of reconnects) share one round trip.
  const inflight = new Map<string, Promise<Principal | null>>();

  async function ask(username: string, password: string): Promise<Principal | null> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let res: Response;
    try {
      res = await fetch(endpoint, {
        method: 'POST',
        headers,
        body: JSON.stringify({ username, password }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw new AuthBackendError(`auth backend ${endpoint} unreachable: ${(err as Error).message}`);
    }
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel();
      return null;
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new AuthBackendError(`auth backend ${endpoint} answered HTTP ${res.status}`);
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch {
      throw new AuthBackendError(`auth backend ${endpoint} answered with invalid JSON`);
    }
    const principal = (body as { principal?: unknown } | null)?.principal;
    if (!Value.Check(PrincipalSchema, principal)) {
      throw new AuthBackendError(`auth backend ${endpoint} answered without a valid principal`);
    }
    return principal;
  }

  return {
    async authenticate(username, password) {
      const key = `${username}\0${createHash('sha256').update(password).digest('hex')}`;
      const hit = cache.get(key);
      if (hit && hit.expires > now()) return hit.principal;
      if (hit) cache.delete(key);
      let pending = inflight.get(key);
      if (!pending) {
        pending = ask(username, password).finally(() => inflight.delete(key));
        inflight.set(key, pending);
      }
      const principal = await pending;
      if (principal) {
        cache.delete(key);
        cache.set(key, { principal, expires: now() + ttl });
        if (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
      }
      return principal;
    },
  };
}
