/**
 * Signing in and sessions. A login checks the password (scrypt; an unknown name costs the same),
 * counts failures per user name and locks the name for a while after too many, and on success
 * issues a random 32-byte token of which only the SHA-256 is stored. A session ends when idle for
 * `idleMs` or `maxMs` after sign-in, whichever comes first; each request made with it counts as
 * activity, written at most once a minute (so the idle limit may bite up to a minute early).
 *
 * Everything is in the database, so several collectors share sessions and lockouts, and a restart
 * keeps them. The clock is injectable: tests move it instead of sleeping.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../store/db.ts';
import { hashPassword, verifyPassword } from '../store/passwords.ts';
import { generateUserPassword } from './password-policy.ts';
import type { UserInfo } from './permissions.ts';
import { USER_JOINS, USER_SELECT, userInfo, type UserRecord } from './users.ts';

export interface SessionOptions {
  /** Session ends after this long without a request (default 30 min). */
  idleMs?: number;
  /** Session ends this long after sign-in whatever happens (default 12 h). */
  maxMs?: number;
  /** Failed logins for one name within `lockoutWindowMs` that lock it (default 5 within 15 min). */
  maxFailures?: number;
  lockoutWindowMs?: number;
  /** How long the name stays locked after the failure that locked it (default 15 min). */
  lockoutMs?: number;
  now?: () => number;
}

export const DEFAULT_SESSION_IDLE_MS = 30 * 60_000;
export const DEFAULT_SESSION_MAX_MS = 12 * 3600_000;
/** Activity is written at most this often per session. */
export const TOUCH_EVERY_MS = 60_000;

/**
 * `wrong` and `locked` are what the person is told; `why` and `justLocked` are for the audit log
 * only (the answer must not tell an unknown name from a wrong password).
 */
export type LoginResult =
  | { ok: true; token: string; expiresAt: Date; user: UserInfo }
  | { ok: false; reason: 'wrong'; why: 'unknown-user' | 'wrong-password' | 'disabled'; user?: UserRecord }
  | { ok: false; reason: 'locked'; retryAt: Date; justLocked: boolean; user?: UserRecord };

/** Why a session ended on its own. */
export type SessionEnd = 'idle' | 'max' | 'disabled';

/** What a token stands for: a live session, one that has just been found ended (reported once), or nothing. */
export type TokenLookup = { live: LiveSession } | { ended: SessionEnd; user: UserRecord } | null;

export interface LiveSession {
  user: UserRecord;
  info: UserInfo;
  /** when it ends if no further request comes */
  expiresAt: Date;
  tokenHash: string;
}

/** What a token looks like: 32 bytes, base64url. Anything else is not looked up. */
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

function stripHash(row: UserRecord & { passwordHash: string }): UserRecord {
  const { passwordHash: _h, ...user } = row;
  return user;
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** User names are stored lower-case; what a person types is trimmed and lowered to match. */
export function normaliseUsername(name: string): string {
  return name.trim().toLowerCase().slice(0, 128);
}

export class Sessions {
  readonly idleMs: number;
  readonly maxMs: number;
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly lockoutMs: number;
  readonly now: () => number;
  /** Compared against when the name is unknown, so that case costs the same time. */
  #dummyHash: Promise<string> | undefined;

  constructor(
    private readonly db: Db,
    opts: SessionOptions = {},
  ) {
    this.idleMs = opts.idleMs ?? DEFAULT_SESSION_IDLE_MS;
    this.maxMs = opts.maxMs ?? DEFAULT_SESSION_MAX_MS;
    this.maxFailures = opts.maxFailures ?? 5;
    this.windowMs = opts.lockoutWindowMs ?? 15 * 60_000;
    this.lockoutMs = opts.lockoutMs ?? 15 * 60_000;
    this.now = opts.now ?? Date.now;
    if (!(this.idleMs > 0 && this.maxMs > 0)) throw new Error('session idle and maximum times must be positive');
  }

  /**
   * Checks the name and password. A locked name is refused without looking at the password; the
   * failure that reaches the limit answers `locked` itself. A disabled user gets `wrong`, like an
   * unknown one.
   */
  async login(rawUsername: string, password: string): Promise<LoginResult> {
    const username = normaliseUsername(rawUsername);
    const now = this.now();
    const lockedUntil = await this.lockedUntil(username, now);
    if (lockedUntil) return { ok: false, reason: 'locked', retryAt: lockedUntil, justLocked: false, user: (await this.userNamed(username)) ?? undefined };

    const [row] = await this.db.query<UserRecord & { passwordHash: string }>(
      `SELECT ${USER_SELECT}, u.password_hash AS "passwordHash" FROM users u ${USER_JOINS} WHERE u.username = $1`,
      [username],
    );
    this.#dummyHash ??= hashPassword(generateUserPassword());
    const good = await verifyPassword(password, row?.passwordHash ?? (await this.#dummyHash));
    if (!row || !good) {
      await this.db.query(`INSERT INTO login_failures (username, at) VALUES ($1, $2)`, [username, new Date(now)]);
      // forget failures that can no longer count
      await this.db.query(`DELETE FROM login_failures WHERE at < $1`, [new Date(now - this.windowMs - this.lockoutMs)]);
      const nowLocked = await this.lockedUntil(username, now);
      const user = row ? stripHash(row) : undefined;
      return nowLocked ? { ok: false, reason: 'locked', retryAt: nowLocked, justLocked: true, user } : { ok: false, reason: 'wrong', why: row ? 'wrong-password' : 'unknown-user', user };
    }
    if (row.disabledAt) return { ok: false, reason: 'wrong', why: 'disabled', user: stripHash(row) };

    const token = randomBytes(32).toString('base64url');
    const at = new Date(now);
    const expires = new Date(now + this.maxMs);
    await this.db.transaction(async (tx) => {
      await tx.query(`DELETE FROM login_failures WHERE username = $1`, [username]);
      await tx.query(`UPDATE users SET last_login_at = $2 WHERE id = $1`, [row.id, at]);
      await tx.query(`INSERT INTO user_sessions (token_hash, user_id, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $3, $4)`, [tokenHash(token), row.id, at, expires]);
      // sessions that ended on their own a while ago: no need to keep them. Kept `maxMs` past their
      // end, so a client coming back with the token is told, and audited, as an expired session.
      await tx.query(`DELETE FROM user_sessions WHERE expires_at <= $1 OR last_seen_at <= $2`, [new Date(now - this.maxMs), new Date(now - this.idleMs - this.maxMs)]);
    });
    return { ok: true, token, expiresAt: new Date(Math.min(now + this.idleMs, expires.getTime())), user: userInfo({ ...row, lastLoginAt: at }) };
  }

  /** The live session of a token, its activity recorded; null when unknown, ended, or its user disabled. */
  async resolve(token: string): Promise<LiveSession | null> {
    const r = await this.lookup(token);
    return r && 'live' in r ? r.live : null;
  }

  /**
   * Like `resolve`, but a session that has run out (or whose user was disabled) is told apart from
   * an unknown token, once: the row is deleted as it is found, so the next request with the token
   * (or a concurrent one) finds nothing.
   */
  async lookup(token: string): Promise<TokenLookup> {
    if (!TOKEN_RE.test(token)) return null;
    const hash = tokenHash(token);
    const [row] = await this.db.query<UserRecord & { lastSeenAt: Date; sessionExpiresAt: Date }>(
      `SELECT ${USER_SELECT}, s.last_seen_at AS "lastSeenAt", s.expires_at AS "sessionExpiresAt"
       FROM user_sessions s JOIN users u ON u.id = s.user_id ${USER_JOINS} WHERE s.token_hash = $1`,
      [hash],
    );
    if (!row) return null;
    const now = this.now();
    let lastSeen = row.lastSeenAt.getTime();
    const absolute = row.sessionExpiresAt.getTime();
    if (row.disabledAt || now >= lastSeen + this.idleMs || now >= absolute) {
      const gone = await this.db.query(`DELETE FROM user_sessions WHERE token_hash = $1 RETURNING 1`, [hash]);
      const { lastSeenAt: _l, sessionExpiresAt: _e, ...user } = row;
      return gone.length ? { ended: row.disabledAt ? 'disabled' : now >= absolute ? 'max' : 'idle', user } : null;
    }
    if (now - lastSeen >= TOUCH_EVERY_MS) {
      await this.db.query(`UPDATE user_sessions SET last_seen_at = $2 WHERE token_hash = $1 AND last_seen_at < $2`, [hash, new Date(now)]);
      lastSeen = now;
    }
    const { lastSeenAt: _l, sessionExpiresAt: _e, ...user } = row;
    return { live: { user, info: userInfo(user), expiresAt: new Date(Math.min(lastSeen + this.idleMs, absolute)), tokenHash: hash } };
  }

  private async userNamed(username: string): Promise<UserRecord | null> {
    const [row] = await this.db.query<UserRecord>(`SELECT ${USER_SELECT} FROM users u ${USER_JOINS} WHERE u.username = $1`, [username]);
    return row ?? null;
  }

  /** Logout: the token signs in nobody from now on. */
  async revoke(token: string): Promise<void> {
    if (TOKEN_RE.test(token)) await this.db.query(`DELETE FROM user_sessions WHERE token_hash = $1`, [tokenHash(token)]);
  }

  /** Until when a name is locked, or null. Locked: the last `maxFailures` failures lie within the window and the lock since the latest has not run out. */
  async lockedUntil(username: string, now = this.now()): Promise<Date | null> {
    const rows = await this.db.query<{ at: Date }>(`SELECT at FROM login_failures WHERE username = $1 ORDER BY at DESC LIMIT $2`, [username, this.maxFailures]);
    if (rows.length < this.maxFailures) return null;
    const latest = rows[0]!.at.getTime();
    const earliest = rows[rows.length - 1]!.at.getTime();
    if (latest - earliest > this.windowMs) return null;
    const until = latest + this.lockoutMs;
    return now < until ? new Date(until) : null;
  }
}
