/**
 * Who is asking, and may they: every request with `Authorization: Bearer …` is identified once —
 * the bureau's admin token (CLI, services, tests: every permission, everywhere) or a user's
 * session (its activity recorded, so the idle timeout counts from the last request). Reads stay
 * open and never fail because of a stale token; a write asks `require(req, permission, target)`,
 * which answers 401 without a live credential and 403, naming who may not do what where, outside
 * the user's role or scope.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Sessions, LiveSession } from '../auth/sessions.ts';
import { PERMISSIONS, denial, scopeCovers, type Permission, type Target, type UserInfo } from '../auth/permissions.ts';
import { ADMIN_TOKEN_USERNAME } from '../auth/users.ts';
import type { Db } from '../store/db.ts';
import { ApiError } from './errors.ts';

export type Principal = { kind: 'admin-token'; actorName: string | null } | { kind: 'session'; session: LiveSession; token: string };

/** Where a write lands, as the route knows it: a school or county code, or the city as a whole. */
export type TargetRef = { school: string } | { county: string } | 'city';

export const SESSION_EXPIRED = '登录已过期，请重新登录 (session expired)';
export const SIGN_IN_FIRST = '请先登录 (sign in first)';
export const ADMIN_TOKEN_NAME = '管理令牌';

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function bearerOf(req: FastifyRequest): string | undefined {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
  return m?.[1];
}

/**
 * The name the admin token's user gave in `X-Campus-Actor` (percent-encoded UTF-8, since header
 * values cannot carry Chinese as such), recorded next to it.
 */
function namedActor(req: FastifyRequest): string | null {
  const named = req.headers['x-campus-actor'];
  if (typeof named !== 'string') return null;
  try {
    return decodeURIComponent(named).trim().slice(0, 100) || null;
  } catch {
    throw new ApiError('INVALID_INPUT', 'X-Campus-Actor must be percent-encoded UTF-8');
  }
}

export class Access {
  /** What each request was identified as: a principal, a credential that is not (any longer) good, or none. */
  private readonly known = new WeakMap<FastifyRequest, Principal | 'invalid' | 'none'>();

  constructor(private readonly deps: { apiToken: string; sessions: Sessions; db: Db }) {}

  /** Root onRequest hook: identifies requests that carry a bearer token (a read extends the session too). */
  readonly identify = async (req: FastifyRequest): Promise<void> => {
    if (bearerOf(req) === undefined) return;
    try {
      await this.principal(req);
    } catch (err) {
      // a read does not need the session; a write asks again and fails then
      req.log.warn({ err: (err as Error).message }, 'could not look up the session');
    }
  };

  private async identified(req: FastifyRequest): Promise<Principal | 'invalid' | 'none'> {
    const seen = this.known.get(req);
    if (seen) return seen;
    const token = bearerOf(req);
    let p: Principal | 'invalid' | 'none';
    if (token === undefined) p = 'none';
    else if (sameToken(token, this.deps.apiToken)) p = { kind: 'admin-token', actorName: namedActor(req) };
    else {
      const session = await this.deps.sessions.resolve(token);
      p = session ? { kind: 'session', session, token } : 'invalid';
    }
    this.known.set(req, p);
    return p;
  }

  /** The request's principal, or null (no credential, or one that is not good). */
  async principal(req: FastifyRequest): Promise<Principal | null> {
    const p = await this.identified(req);
    return typeof p === 'string' ? null : p;
  }

  /** The principal, or 401 saying whether to sign in or to sign in again. */
  async signedIn(req: FastifyRequest): Promise<Principal> {
    const p = await this.identified(req);
    if (p === 'none') throw new ApiError('UNAUTHORIZED', SIGN_IN_FIRST);
    if (p === 'invalid') throw new ApiError('UNAUTHORIZED', SESSION_EXPIRED);
    return p;
  }

  /** 401 without a live credential, 403 when the user's role or scope does not allow `permission` at `target`. */
  async require(req: FastifyRequest, permission: Permission, target: TargetRef): Promise<Principal> {
    const p = await this.signedIn(req);
    if (p.kind === 'admin-token') return p;
    const user = p.session.info;
    const resolved = await this.resolveTarget(user, target);
    if (!user.permissions.includes(permission) || !scopeCovers(user.scope, resolved)) {
      throw new ApiError('FORBIDDEN', denial(user, permission, resolved), { permission, username: user.username });
    }
    return p;
  }

  /** A preHandler (or onRequest) hook: `require` with the target read from the request. */
  guard(permission: Permission, target: (req: FastifyRequest) => TargetRef): (req: FastifyRequest) => Promise<void> {
    return async (req) => {
      await this.require(req, permission, target(req));
    };
  }

  /** Only the admin token (the broker's credential checks). */
  async requireAdminToken(req: FastifyRequest): Promise<void> {
    const p = await this.signedIn(req);
    if (p.kind !== 'admin-token') throw new ApiError('FORBIDDEN', `${p.session.info.displayName} (${p.session.info.role}) may not use this route: it is for the broker, with the admin token`);
  }

  /** A school target needs its county only to judge a county-scoped user. */
  private async resolveTarget(user: UserInfo, target: TargetRef): Promise<Target> {
    if (target === 'city' || 'county' in target) return target;
    if (user.scope.level !== 'county') return { school: target.school, county: '' };
    const [row] = await this.deps.db.query<{ county: string }>(`SELECT county_code AS county FROM schools WHERE code = $1`, [target.school]);
    if (!row) throw new ApiError('NOT_FOUND', `school ${target.school}`);
    return { school: target.school, county: row.county };
  }

  /** Who made a change, as histories record it: `user/<name>`, or `admin-token[/<X-Campus-Actor>]`. */
  async actorOf(req: FastifyRequest): Promise<string> {
    const p = await this.signedIn(req);
    if (p.kind === 'session') return `user/${p.session.user.username}`;
    return p.actorName ? `admin-token/${p.actorName}` : 'admin-token';
  }

  /** What `GET /api/v1/session` says about a principal. */
  static info(p: Principal): UserInfo {
    if (p.kind === 'session') return p.session.info;
    return { username: ADMIN_TOKEN_USERNAME, displayName: p.actorName ?? ADMIN_TOKEN_NAME, role: 'admin', scope: { level: 'city' }, permissions: [...PERMISSIONS] };
  }
}
