/**
 * Who is asking, and may they: every request with `Authorization: Bearer …` is identified once —
 * the bureau's admin token (CLI, services, tests: every permission, everywhere) or a user's
 * session (its activity recorded, so the idle timeout counts from the last request). Reads stay
 * open and never fail because of a stale token; a write asks `require(req, permission, target)`,
 * which answers 401 without a live credential and 403, naming who may not do what where, outside
 * the user's role or scope. Refusals, sessions found expired and writes made with the admin token
 * go to the audit log.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuditClient, AuditLog, AuditRecord } from '../auth/audit-log.ts';
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

/** Where a request came from, for the audit log: `req.ip` (X-Forwarded-For only from proxies `--trust-proxy` names). */
export function clientOf(req: FastifyRequest): AuditClient {
  const ua = req.headers['user-agent'];
  return { ip: req.ip, userAgent: typeof ua === 'string' ? ua : null };
}

/** Requests that write; the broker's credential checks (POST, but reads) are not counted as writes. */
const NOT_WRITES = new Set(['/api/v1/mqtt/auth']);
const isWrite = (req: FastifyRequest) => !['GET', 'HEAD', 'OPTIONS'].includes(req.method) && !NOT_WRITES.has(req.routeOptions.url ?? '');

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

  constructor(private readonly deps: { apiToken: string; sessions: Sessions; db: Db; audit: AuditLog }) {}

  /** Writes an audit entry with the request's address; a failure to write is logged, never the request's failure. */
  async audit(req: FastifyRequest, r: AuditRecord): Promise<void> {
    try {
      await this.deps.audit.record({ ...clientOf(req), ...r });
    } catch (err) {
      req.log.error({ err: (err as Error).message, event: r.event }, 'could not write the audit log');
    }
  }

  /** Root onSend hook: one audit entry per write made with the admin token, with its X-Campus-Actor name and the answer's status. */
  readonly auditAdminWrite = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const p = this.known.get(req);
    if (typeof p !== 'object' || p.kind !== 'admin-token' || !isWrite(req)) return;
    await this.audit(req, {
      event: 'admin-token-write',
      outcome: reply.statusCode < 400 ? 'success' : 'failure',
      username: ADMIN_TOKEN_USERNAME,
      displayName: p.actorName ?? ADMIN_TOKEN_NAME,
      target: `${req.method} ${req.url.split('?')[0]}`,
      detail: { method: req.method, route: req.routeOptions.url ?? null, status: reply.statusCode, actorNamed: p.actorName !== null },
    });
  };

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
      const found = await this.deps.sessions.lookup(token);
      if (found && 'live' in found) p = { kind: 'session', session: found.live, token };
      else {
        p = 'invalid';
        if (found) {
          const { user, ended } = found;
          await this.audit(req, { event: 'session-expired', outcome: 'success', username: user.username, displayName: user.displayName, detail: { reason: ended } });
        }
      }
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
      await this.audit(req, {
        event: 'permission-denied',
        outcome: 'failure',
        username: user.username,
        displayName: user.displayName,
        // which school (or county, or the city) the refused action was aimed at
        target: resolved === 'city' ? 'city' : 'school' in resolved ? resolved.school : resolved.county,
        detail: { permission, role: user.role, request: `${req.method} ${req.url.split('?')[0]}` },
      });
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
    if (p.kind !== 'admin-token') {
      await this.audit(req, { event: 'permission-denied', outcome: 'failure', username: p.session.user.username, displayName: p.session.info.displayName, target: 'city', detail: { permission: 'admin-token', role: p.session.info.role, request: `${req.method} ${req.url.split('?')[0]}` } });
      throw new ApiError('FORBIDDEN', `${p.session.info.displayName} (${p.session.info.role}) may not use this route: it is for the broker, with the admin token`);
    }
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
