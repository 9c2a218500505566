/**
 * People's accounts (the `users` table): school network administrators, the security team,
 * equipment managers and bureau administrators, each with a role and a scope (one school, one
 * county, or the whole city). Passwords are scrypt hashes and must pass the complexity rule;
 * disabling a user or changing their password ends their sessions.
 */
import type { Db } from '../store/db.ts';
import { InventoryError } from '../store/inventory.ts';
import { hashPassword } from '../store/passwords.ts';
import { generateUserPassword, passwordProblem } from './password-policy.ts';
import { denial, isRole, permissionsOf, ROLES, ROLE_PERMISSIONS, scopeCovers, type Permission, type Role, type Scope, type UserInfo } from './permissions.ts';

/** The admin token's pseudo-user in `GET /api/v1/session`; no account may take the name. */
export const ADMIN_TOKEN_USERNAME = 'admin-token';
const USERNAME_RE = /^[a-z][a-z0-9_.-]{1,63}$/;

/** A password that breaks the complexity rule; `message` says why, in Chinese and English. */
export class WeakPassword extends Error {}

export interface UserRecord {
  id: number;
  username: string;
  displayName: string;
  role: Role;
  schoolCode: string | null;
  countyCode: string | null;
  /** name of the school or county of the scope */
  scopeName: string | null;
  disabledAt: Date | null;
  lastLoginAt: Date | null;
  createdAt: Date;
}

/** A row of the user list: what the console is told about a user, and the account's state. */
export interface UserEntry extends UserInfo {
  disabled: boolean;
  createdAt: string;
  lastLoginAt: string | null;
}

export interface NewUser {
  username: string;
  displayName: string;
  role: Role;
  schoolCode?: string | null;
  countyCode?: string | null;
  /** Generated (and returned once) when absent. */
  password?: string;
}

export interface UserChange {
  displayName?: string;
  role?: Role;
  /** null clears it */
  schoolCode?: string | null;
  countyCode?: string | null;
  disabled?: boolean;
}

export const USER_SELECT = `u.id, u.username, u.display_name AS "displayName", u.role, u.school_code AS "schoolCode",
  u.county_code AS "countyCode", coalesce(sc.name, rg.name) AS "scopeName", u.disabled_at AS "disabledAt",
  u.last_login_at AS "lastLoginAt", u.created_at AS "createdAt"`;
export const USER_JOINS = `LEFT JOIN schools sc ON sc.code = u.school_code LEFT JOIN regions rg ON rg.code = u.county_code`;

export function scopeOf(u: Pick<UserRecord, 'schoolCode' | 'countyCode' | 'scopeName'>): Scope {
  if (u.schoolCode) return { level: 'school', code: u.schoolCode, name: u.scopeName ?? u.schoolCode };
  if (u.countyCode) return { level: 'county', code: u.countyCode, name: u.scopeName ?? u.countyCode };
  return { level: 'city' };
}

export function userInfo(u: UserRecord): UserInfo {
  return { username: u.username, displayName: u.displayName, role: u.role, scope: scopeOf(u), permissions: permissionsOf(u.role) };
}

export function userEntry(u: UserRecord): UserEntry {
  return { ...userInfo(u), disabled: u.disabledAt !== null, createdAt: u.createdAt.toISOString(), lastLoginAt: u.lastLoginAt?.toISOString() ?? null };
}

/** Someone who may be given work of a kind at a school (a ticket's assignee): who they are, not what they may do. */
export type EligibleUser = Pick<UserInfo, 'username' | 'displayName' | 'role' | 'scope'>;

/** Where eligible users are looked for: a school and its county. */
export interface SchoolPlace {
  school: string;
  county: string;
}

/** The narrowest scope first: the school's own people, then the county's, then the city's. */
const SCOPE_RANK: Record<Scope['level'], number> = { school: 0, county: 1, city: 2 };

/** Refuses a password that breaks the rule, with the reason. */
export function checkPassword(password: string, username?: string): void {
  const problem = passwordProblem(password, username);
  if (problem) throw new WeakPassword(problem);
}

export class Users {
  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
  ) {}

  async get(username: string): Promise<UserRecord | null> {
    const [row] = await this.db.query<UserRecord>(`SELECT ${USER_SELECT} FROM users u ${USER_JOINS} WHERE u.username = $1`, [username]);
    return row ?? null;
  }

  async list(): Promise<UserEntry[]> {
    return (await this.db.query<UserRecord>(`SELECT ${USER_SELECT} FROM users u ${USER_JOINS} ORDER BY u.username`)).map(userEntry);
  }

  /** Display names of `user/<username>` actors, for histories. */
  async displayNames(usernames: string[]): Promise<Map<string, string>> {
    if (!usernames.length) return new Map();
    const rows = await this.db.query<{ username: string; displayName: string }>(`SELECT username, display_name AS "displayName" FROM users WHERE username = ANY($1::text[])`, [usernames]);
    return new Map(rows.map((r) => [r.username, r.displayName]));
  }

  /**
   * The enabled users whose role has `permission` and whose scope covers the school: its own
   * first, then the county's, then the city's, by display name (pinyin order) within each.
   */
  async eligibleAt(permission: Permission, at: SchoolPlace): Promise<EligibleUser[]> {
    const roles = ROLES.filter((r) => ROLE_PERMISSIONS[r].includes(permission));
    const rows = await this.db.query<UserRecord>(
      `SELECT ${USER_SELECT} FROM users u ${USER_JOINS}
        WHERE u.disabled_at IS NULL AND u.role = ANY($1::text[])
          AND (u.school_code = $2 OR u.county_code = $3 OR (u.school_code IS NULL AND u.county_code IS NULL))`,
      [roles, at.school, at.county],
    );
    // sorted here rather than in SQL: the two backends' collations order Chinese differently
    return rows
      .map((u) => ({ username: u.username, displayName: u.displayName, role: u.role, scope: scopeOf(u) }))
      .sort((a, b) => SCOPE_RANK[a.scope.level] - SCOPE_RANK[b.scope.level] || a.displayName.localeCompare(b.displayName, 'zh-Hans-CN') || (a.username < b.username ? -1 : 1));
  }

  /** Why `username` may not be given work needing `permission` at the school (null: they may). */
  async whyIneligible(username: string, permission: Permission, at: SchoolPlace): Promise<string | null> {
    const u = await this.get(username);
    if (!u) return `user ${username} does not exist`;
    if (u.disabledAt) return `user ${username} (${u.displayName}) is disabled`;
    const scope = scopeOf(u);
    if (!permissionsOf(u.role).includes(permission) || !scopeCovers(scope, at)) return denial({ displayName: u.displayName, role: u.role, scope }, permission, at);
    return null;
  }

  async add(u: NewUser): Promise<{ user: UserEntry; password?: string }> {
    if (typeof u.username !== 'string' || !USERNAME_RE.test(u.username)) {
      throw new InventoryError('invalid', `user name must be 2–64 characters: a lower-case letter, then lower-case letters, digits, _ . or - (got ${JSON.stringify(u.username)})`);
    }
    if (u.username === ADMIN_TOKEN_USERNAME) throw new InventoryError('invalid', `${ADMIN_TOKEN_USERNAME} is reserved for the admin token`);
    const displayName = this.checkDisplayName(u.displayName);
    await this.checkScope(u.role, u.schoolCode ?? null, u.countyCode ?? null);
    if (u.password !== undefined) checkPassword(u.password, u.username);
    const password = u.password ?? generateUserPassword();
    const hash = await hashPassword(password);
    const at = new Date(this.now());
    const rows = await this.db.query<{ id: number }>(
      `INSERT INTO users (username, display_name, role, school_code, county_code, password_hash, created_at, password_set_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (username) DO NOTHING RETURNING id`,
      [u.username, displayName, u.role, u.schoolCode ?? null, u.countyCode ?? null, hash, at],
    );
    if (!rows.length) throw new InventoryError('conflict', `user ${u.username} already exists`);
    const user = userEntry((await this.get(u.username))!);
    return u.password === undefined ? { user, password } : { user };
  }

  async update(username: string, change: UserChange): Promise<UserEntry> {
    const cur = await this.get(username);
    if (!cur) throw new InventoryError('not-found', `user ${username} does not exist`);
    const role = change.role ?? cur.role;
    const schoolCode = change.schoolCode !== undefined ? change.schoolCode : cur.schoolCode;
    const countyCode = change.countyCode !== undefined ? change.countyCode : cur.countyCode;
    const displayName = change.displayName !== undefined ? this.checkDisplayName(change.displayName) : cur.displayName;
    await this.checkScope(role, schoolCode, countyCode);
    const disabledAt = change.disabled === undefined ? cur.disabledAt : change.disabled ? (cur.disabledAt ?? new Date(this.now())) : null;
    await this.db.transaction(async (tx) => {
      await tx.query(`UPDATE users SET display_name = $2, role = $3, school_code = $4, county_code = $5, disabled_at = $6 WHERE id = $1`, [cur.id, displayName, role, schoolCode, countyCode, disabledAt]);
      if (disabledAt) await tx.query(`DELETE FROM user_sessions WHERE user_id = $1`, [cur.id]);
    });
    return userEntry((await this.get(username))!);
  }

  /**
   * Sets a new password and ends the user's sessions, except `keepSession` (the session of a user
   * changing their own password stays signed in).
   */
  async setPassword(username: string, password: string, opts: { keepSession?: string } = {}): Promise<void> {
    const cur = await this.get(username);
    if (!cur) throw new InventoryError('not-found', `user ${username} does not exist`);
    checkPassword(password, username);
    const hash = await hashPassword(password);
    await this.db.transaction(async (tx) => {
      await tx.query(`UPDATE users SET password_hash = $2, password_set_at = $3 WHERE id = $1`, [cur.id, hash, new Date(this.now())]);
      await tx.query(`DELETE FROM user_sessions WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2::text`, [cur.id, opts.keepSession ?? null]);
    });
  }

  private checkDisplayName(name: unknown): string {
    const n = typeof name === 'string' ? name.trim() : '';
    if (n.length < 1 || n.length > 100) throw new InventoryError('invalid', 'display name must be 1–100 characters');
    return n;
  }

  private async checkScope(role: unknown, schoolCode: string | null, countyCode: string | null): Promise<void> {
    if (!isRole(role)) throw new InventoryError('invalid', `role must be admin, school-admin, security or equipment, got ${JSON.stringify(role)}`);
    if (schoolCode && countyCode) throw new InventoryError('invalid', 'scope a user to a school or a county, not both');
    if (role === 'school-admin' && !schoolCode) throw new InventoryError('invalid', 'a school-admin needs a school (schoolCode)');
    if (schoolCode) {
      const [s] = await this.db.query(`SELECT 1 FROM schools WHERE code = $1`, [schoolCode]);
      if (!s) throw new InventoryError('invalid', `school ${schoolCode} does not exist`);
    }
    if (countyCode) {
      const [c] = await this.db.query(`SELECT 1 FROM regions WHERE code = $1 AND level = 'county'`, [countyCode]);
      if (!c) throw new InventoryError('invalid', `${countyCode} is not a county in regions`);
    }
  }
}
