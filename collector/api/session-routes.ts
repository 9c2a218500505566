/**
 * Signing in and out (`/api/v1/session`) and managing people's accounts (`/api/v1/users`,
 * permission 'users'). Sign-in answers the same 401 for an unknown name, a wrong password and a
 * disabled account, and 429 with the time to try again once a name is locked. Each sign-in, its
 * failure, lockout, sign-out and account change goes to the audit log (never a password).
 */
import type { FastifyInstance } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { PERMISSIONS, ROLES } from '../auth/permissions.ts';
import { auditText, type AuditRecord } from '../auth/audit-log.ts';
import { normaliseUsername, type Sessions } from '../auth/sessions.ts';
import { scopeOf, type NewUser, type UserChange, type UserRecord, type Users } from '../auth/users.ts';
import { Access, SESSION_EXPIRED, type Principal } from './access.ts';
import { ApiError } from './errors.ts';

const WRONG_LOGIN = '用户名或密码错误 (wrong user name or password)';

const literals = <T extends readonly string[]>(xs: T) => Type.Union(xs.map((x) => Type.Literal(x)));
const Role = literals(ROLES);
const Scope = Type.Union([
  Type.Object({ level: Type.Literal('city') }),
  Type.Object({ level: Type.Literal('county'), code: Type.String(), name: Type.String() }),
  Type.Object({ level: Type.Literal('school'), code: Type.String(), name: Type.String() }),
]);
const userInfoProps = {
  username: Type.String(),
  displayName: Type.String(),
  role: Role,
  scope: Scope,
  permissions: Type.Array(literals(PERMISSIONS), { description: 'enroll, plan, tickets, comment, agents, users: what the role allows, within the scope' }),
};
const UserInfo = Type.Object(userInfoProps);
const UserEntry = Type.Object({
  ...userInfoProps,
  disabled: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
  lastLoginAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

const Username = Type.String({ pattern: '^[a-z][a-z0-9_.-]{1,63}$' });
const SchoolCode = Type.String({ pattern: '^[0-9]{10}$' });
const CountyCode = Type.String({ pattern: '^[0-9]{6}$' });
const Password = Type.String({ minLength: 1, maxLength: 256 });
const LoginBody = Type.Object({ username: Type.String({ minLength: 1, maxLength: 128 }), password: Password }, { additionalProperties: false });
const NewUserBody = Type.Object(
  {
    username: Username,
    displayName: Type.String({ minLength: 1, maxLength: 100 }),
    role: Role,
    schoolCode: Type.Optional(SchoolCode),
    countyCode: Type.Optional(CountyCode),
    password: Type.Optional(Type.String({ maxLength: 256, description: 'generated (and answered once) when absent' })),
  },
  { additionalProperties: false },
);
const ChangeUserBody = Type.Object(
  {
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    role: Type.Optional(Role),
    schoolCode: Type.Optional(Type.Union([SchoolCode, Type.Null()])),
    countyCode: Type.Optional(Type.Union([CountyCode, Type.Null()])),
    disabled: Type.Optional(Type.Boolean({ description: 'true ends every session of the user' })),
  },
  { additionalProperties: false },
);
const PasswordBody = Type.Object({ password: Password }, { additionalProperties: false });
const UserParams = Type.Object({ username: Username });

/** China time, HH:MM: what a person at a school reads the lock's end as. */
function chinaClock(d: Date): string {
  return new Date(d.getTime() + 8 * 3600_000).toISOString().slice(11, 16);
}

/** Who acted, as the audit log names them. */
function actorOf(p: Principal): Pick<AuditRecord, 'username' | 'displayName'> {
  const info = Access.info(p);
  return { username: info.username, displayName: info.displayName };
}

/** A scope as one short text: `city`, `county 371502`, `school 3715020001`. */
function scopeText(u: Pick<UserRecord, 'schoolCode' | 'countyCode' | 'scopeName'>): string {
  const s = scopeOf(u);
  return s.level === 'city' ? 'city' : `${s.level} ${s.code}`;
}

/** What an account change changed, old → new (display name, role, scope). */
function changesOf(before: UserRecord, after: UserRecord): Record<string, { from: string; to: string }> {
  const out: Record<string, { from: string; to: string }> = {};
  if (before.displayName !== after.displayName) out.displayName = { from: before.displayName, to: after.displayName };
  if (before.role !== after.role) out.role = { from: before.role, to: after.role };
  if (scopeText(before) !== scopeText(after)) out.scope = { from: scopeText(before), to: scopeText(after) };
  return out;
}

export function registerSessionRoutes(app: FastifyInstance, deps: { access: Access; sessions: Sessions; users: Users }): void {
  const { access, sessions, users } = deps;
  const errors = { 400: { $ref: 'Error#' }, 401: { $ref: 'Error#' }, 403: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 409: { $ref: 'Error#' } };
  const bearer = [{ bearer: [] }];

  app.post(
    '/api/v1/session',
    {
      schema: {
        summary: 'Sign in with a user name and password: a session token (idle timeout, absolute limit) and who the user is',
        description: 'The same 401 for an unknown name, a wrong password and a disabled account. Five failures for a name within 15 minutes lock it for 15 minutes: 429 with details.retryAt and Retry-After, also for the right password.',
        body: LoginBody,
        response: { 200: Type.Object({ token: Type.String(), expiresAt: Type.String({ format: 'date-time' }), user: UserInfo }), ...errors, 429: { $ref: 'Error#' } },
      },
    },
    async (req, reply) => {
      const { username, password } = req.body as Static<typeof LoginBody>;
      const r = await sessions.login(username, password);
      // the name as tried (never the password): a known account by its name, else trimmed, lowered and cut short
      const tried = r.ok ? r.user.username : (r.user?.username ?? auditText(normaliseUsername(username), 64));
      const who = { username: tried, displayName: r.ok ? r.user.displayName : (r.user?.displayName ?? null) };
      if (r.ok) await access.audit(req, { event: 'sign-in', outcome: 'success', ...who });
      else if (r.reason === 'wrong') await access.audit(req, { event: 'sign-in-failed', outcome: 'failure', ...who, detail: { reason: r.why } });
      else if (r.justLocked) {
        await access.audit(req, { event: 'sign-in-failed', outcome: 'failure', ...who, detail: { reason: r.user ? 'wrong-password' : 'unknown-user' } });
        await access.audit(req, { event: 'lockout', outcome: 'failure', ...who, detail: { retryAt: r.retryAt.toISOString() } });
      } else await access.audit(req, { event: 'sign-in-locked', outcome: 'failure', ...who, detail: { retryAt: r.retryAt.toISOString() } });
      if (r.ok) {
        req.log.info({ username: r.user.username, ip: req.ip }, 'signed in');
        return { token: r.token, expiresAt: r.expiresAt.toISOString(), user: r.user };
      }
      req.log.warn({ username, ip: req.ip, reason: r.reason }, 'sign-in refused');
      if (r.reason === 'locked') {
        reply.header('retry-after', String(Math.max(1, Math.ceil((r.retryAt.getTime() - sessions.now()) / 1000))));
        throw new ApiError(
          'TOO_MANY_ATTEMPTS',
          `登录失败次数过多，该账号已暂时锁定，请于 ${chinaClock(r.retryAt)}（北京时间）后重试 (too many failed sign-ins: try again after ${r.retryAt.toISOString()})`,
          { retryAt: r.retryAt.toISOString() },
        );
      }
      throw new ApiError('UNAUTHORIZED', WRONG_LOGIN);
    },
  );

  app.get(
    '/api/v1/session',
    {
      schema: {
        summary: 'Who the bearer token signs in: the user with role, scope and permissions, and when the session ends (null for the admin token)',
        security: bearer,
        response: { 200: Type.Object({ user: UserInfo, expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]) }), ...errors },
      },
    },
    async (req) => {
      const p = await access.principal(req);
      if (!p) throw new ApiError('UNAUTHORIZED', SESSION_EXPIRED);
      return { user: Access.info(p), expiresAt: p.kind === 'session' ? p.session.expiresAt.toISOString() : null };
    },
  );

  app.delete(
    '/api/v1/session',
    { schema: { summary: 'Sign out: the token signs in nobody from now on (204 also when it had already ended)', security: bearer, response: { 204: { type: 'null', description: 'signed out' } } } },
    async (req, reply) => {
      const p = await access.principal(req);
      if (p?.kind === 'session') {
        await sessions.revoke(p.token);
        await access.audit(req, { event: 'sign-out', outcome: 'success', ...actorOf(p) });
        req.log.info({ username: p.session.user.username }, 'signed out');
      }
      return reply.status(204).send();
    },
  );

  // ---- accounts (permission 'users', at city scope) ----

  app.get(
    '/api/v1/users',
    { preHandler: access.guard('users', () => 'city'), schema: { summary: "People's accounts with role, scope, permissions and state", security: bearer, response: { 200: Type.Object({ users: Type.Array(UserEntry) }), ...errors } } },
    async () => ({ users: await users.list() }),
  );

  app.post(
    '/api/v1/users',
    {
      preHandler: access.guard('users', () => 'city'),
      schema: {
        summary: 'Add a user; without a password one is generated and answered once (only its hash is kept)',
        description: 'A school-admin needs schoolCode; a user has a school or a county or neither (the whole city). A password needs at least 8 characters from 3 of 4 classes (upper, lower, digits, other): else 400 WEAK_PASSWORD.',
        security: bearer,
        body: NewUserBody,
        response: { 201: Type.Object({ user: UserEntry, password: Type.Optional(Type.String({ description: 'the generated password, shown once' })) }), ...errors },
      },
    },
    async (req, reply) => {
      const body = req.body as NewUser;
      const created = await users.add(body);
      const s = created.user.scope;
      await access.audit(req, {
        event: 'user-created',
        outcome: 'success',
        ...actorOf(await access.signedIn(req)),
        target: created.user.username,
        detail: { displayName: created.user.displayName, role: created.user.role, scope: s.level === 'city' ? 'city' : `${s.level} ${s.code}`, passwordGenerated: body.password === undefined },
      });
      req.log.info({ username: created.user.username, by: await access.actorOf(req) }, 'user added');
      return reply.status(201).send(created);
    },
  );

  app.put(
    '/api/v1/users/:username',
    {
      preHandler: access.guard('users', () => 'city'),
      schema: { summary: "Change a user's name, role or scope, or disable (ends their sessions) or enable them", security: bearer, params: UserParams, body: ChangeUserBody, response: { 200: Type.Object({ user: UserEntry }), ...errors } },
    },
    async (req) => {
      const { username } = req.params as Static<typeof UserParams>;
      const change = req.body as UserChange; // the schema checked the role
      const p = await access.signedIn(req);
      if (change.disabled && p.kind === 'session' && p.session.user.username === username) throw new ApiError('INVALID_INPUT', '不能停用自己的账号 (you cannot disable your own account)');
      const before = await users.get(username);
      const user = await users.update(username, change);
      const after = await users.get(username);
      if (before && after) {
        const actor = actorOf(p);
        const changes = changesOf(before, after);
        if (Object.keys(changes).length) await access.audit(req, { event: 'user-changed', outcome: 'success', ...actor, target: username, detail: { changes } });
        if ((before.disabledAt === null) !== (after.disabledAt === null)) await access.audit(req, { event: after.disabledAt ? 'user-disabled' : 'user-enabled', outcome: 'success', ...actor, target: username });
      }
      req.log.info({ username, change: Object.keys(change), by: await access.actorOf(req) }, 'user changed');
      return { user };
    },
  );

  app.post(
    '/api/v1/users/:username/password',
    {
      preHandler: async (req) => void (await access.signedIn(req)),
      schema: {
        summary: "Set a user's password: the user themself, or someone with permission 'users'. Ends the user's other sessions (all of them when set by someone else)",
        security: bearer,
        params: UserParams,
        body: PasswordBody,
        response: { 204: { type: 'null', description: 'password changed' }, ...errors },
      },
    },
    async (req, reply) => {
      const { username } = req.params as Static<typeof UserParams>;
      const p = await access.signedIn(req);
      // your own password: the session you change it with stays signed in
      const keepSession = p.kind === 'session' && p.session.user.username === username ? p.session.tokenHash : undefined;
      if (!keepSession) await access.require(req, 'users', 'city');
      await users.setPassword(username, (req.body as Static<typeof PasswordBody>).password, { keepSession });
      await access.audit(req, { event: 'password-changed', outcome: 'success', ...actorOf(p), target: username, detail: { by: keepSession ? 'self' : 'admin' } });
      req.log.info({ username, by: await access.actorOf(req) }, 'password changed');
      return reply.status(204).send();
    },
  );
}
