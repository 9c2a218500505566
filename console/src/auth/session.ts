/**
 * Signing in and out (`/api/v1/session`), and the admin token as the other way in. The token lives
 * in sessionStorage (`auth` in api.ts): one browser tab, gone when it closes.
 */
import { ApiFailure, auth, call, SESSION_PATH } from '../api';
import type { MessageKey } from '../i18n/index';
import { PERMISSIONS, type UserInfo } from './permissions';

/** Who is signed in; `via` 'token': the bureau's admin token rather than an account. */
export interface Session { user: UserInfo; expiresAt: string | null; via: 'password' | 'token' }

/** The collector's pseudo-user for the admin token. */
export const ADMIN_TOKEN_USER = 'admin-token';

const tokenSession = (user?: UserInfo, expiresAt: string | null = null): Session => ({
  user: user ?? { username: ADMIN_TOKEN_USER, displayName: ADMIN_TOKEN_USER, role: 'admin', scope: { level: 'city' }, permissions: [...PERMISSIONS] },
  expiresAt,
  via: 'token',
});

/** Signs in with a user name and password; a refusal (401 wrong, 429 locked) throws the collector's words. */
export async function signInWithPassword(username: string, password: string): Promise<Session> {
  const r = await call<{ token: string; expiresAt: string; user: UserInfo }>('POST', SESSION_PATH, { username, password }, undefined, false);
  auth.token = r.token;
  auth.actor = ''; // the collector knows the user from the token
  return { user: r.user, expiresAt: r.expiresAt, via: 'password' };
}

/**
 * Keeps the admin token (and the name to record beside it). It grants everything: the session
 * that follows is known at once, and `resume` confirms it with the collector.
 */
export function keepAdminToken(token: string, actor: string): Session {
  auth.token = token;
  auth.actor = actor;
  return tokenSession();
}

/**
 * The session of the stored token, from the collector: null when there is none or it has expired
 * (the stored token is then dropped). A collector without user accounts (404) knows only the admin
 * token, so a stored token is that.
 */
export async function resume(): Promise<Session | null> {
  if (!auth.token) return null;
  try {
    const r = await call<{ user: UserInfo; expiresAt: string | null }>('GET', SESSION_PATH, undefined, undefined, true);
    return r.user.username === ADMIN_TOKEN_USER ? tokenSession(r.user, r.expiresAt) : { user: r.user, expiresAt: r.expiresAt, via: 'password' };
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 401) {
      forget();
      return null;
    }
    if (err instanceof ApiFailure && err.status === 404) return tokenSession();
    throw err;
  }
}

/** Forgets the token at once, then ends its session at the collector (an admin token has none to end). */
export async function signOut(s: Session | null): Promise<void> {
  const token = auth.token;
  forget();
  if (s?.via === 'password' && token) await fetch(SESSION_PATH, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
}

export function forget(): void {
  auth.token = '';
  auth.actor = '';
}

/**
 * What a failed write shows: after a 401 the sign-in form is open and what was being edited is
 * kept, so the message says to sign in and click again; otherwise the collector's words (a 403
 * names why the account may not).
 */
export function failureText(t: (k: MessageKey) => string, err: unknown): string {
  if (err instanceof ApiFailure && err.status === 401) return t('expiredRetry');
  return (err as Error).message;
}
