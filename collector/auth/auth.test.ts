/**
 * People's accounts and sessions on both store backends: the password rule, sign-in with the
 * lockout after failed attempts, idle and absolute session expiry (a clock the test moves, no
 * sleeping), activity written at most once a minute, and sessions ended by logout, a password
 * change and disabling the user.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STORE_BACKENDS } from '../../tests/setup/store-backends.ts';
import type { Db } from '../store/db.ts';
import { Inventory, InventoryError } from '../store/inventory.ts';
import { generateUserPassword, passwordProblem } from './password-policy.ts';
import { denial, permissionsOf, scopeCovers } from './permissions.ts';
import { Sessions, tokenHash, type LoginResult } from './sessions.ts';
import { Users, WeakPassword } from './users.ts';

const MIN = 60_000;
const SCHOOL = '3715020001';
const OTHER_SCHOOL = '3715210001';
const COUNTY = '371502';
const GOOD = 'Campus#2025';

describe('the password rule', () => {
  it('wants 8 characters from 3 of 4 classes, without the user name, and says why in Chinese and English', () => {
    expect(passwordProblem('Ab1#')).toMatch(/^密码太短.*at least 8 characters/);
    expect(passwordProblem('abcdefgh12')).toMatch(/^密码字符种类不足.*3 of/); // lower + digits only
    expect(passwordProblem('ABCDEFGH#!')).toMatch(/^密码字符种类不足/);
    expect(passwordProblem('Wang.teacher9', 'wang')).toMatch(/^密码不得包含用户名.*must not contain the user name/);
    expect(passwordProblem('x'.repeat(129))).toMatch(/at most 128/);
    for (const ok of ['Abcdefg1', 'abcdefg1#', 'ABCDEFG1#', '校园Abc123', GOOD]) expect(passwordProblem(ok, 'xiaoxue'), ok).toBeNull();
  });

  it('generates passwords that pass it, all different', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const p = generateUserPassword();
      expect(passwordProblem(p, 'admin'), p).toBeNull();
      expect(p).toHaveLength(16);
      seen.add(p);
    }
    expect(seen.size).toBe(300);
  });
});

describe('roles and scopes', () => {
  it('gives each role its permissions and limits them to the scope', () => {
    expect(permissionsOf('admin')).toEqual(['enroll', 'plan', 'tickets', 'comment', 'agents', 'users']);
    expect(permissionsOf('school-admin')).toEqual(['enroll', 'plan', 'comment']);
    expect(permissionsOf('security')).toEqual(['plan', 'comment']);
    expect(permissionsOf('equipment')).toEqual(['tickets', 'comment']);
    const school = { level: 'school', code: SCHOOL, name: '实验小学' } as const;
    const county = { level: 'county', code: COUNTY, name: '东昌府区' } as const;
    expect(scopeCovers(school, { school: SCHOOL, county: COUNTY })).toBe(true);
    expect(scopeCovers(school, { school: '3715020002', county: COUNTY })).toBe(false);
    expect(scopeCovers(school, { county: COUNTY })).toBe(false);
    expect(scopeCovers(county, { school: '3715020002', county: COUNTY })).toBe(true);
    expect(scopeCovers(county, { school: OTHER_SCHOOL, county: '371521' })).toBe(false);
    expect(scopeCovers(county, 'city')).toBe(false);
    expect(scopeCovers({ level: 'city' }, 'city')).toBe(true);
    expect(denial({ displayName: '王老师', role: 'school-admin', scope: school }, 'enroll', { school: '3715020002', county: COUNTY })).toBe(
      '王老师 (school-admin, 3715020001) may not enroll devices at 3715020002',
    );
  });
});

describe.each(STORE_BACKENDS)('accounts and sessions on $name', (backend) => {
  let db: Db;
  let now: number;
  let users: Users;
  let sessions: Sessions;
  const clock = () => now;
  const signIn = async (username: string, password: string): Promise<string> => {
    const r = await sessions.login(username, password);
    if (!r.ok) throw new Error(`sign-in of ${username} refused: ${r.reason}`);
    return r.token;
  };

  beforeEach(async () => {
    db = await backend.open();
    const inv = new Inventory(db);
    await inv.upsertRegion({ code: '371500', name: '聊城市', level: 'city' });
    await inv.upsertRegion({ code: COUNTY, name: '东昌府区', level: 'county', parentCode: '371500' });
    await inv.upsertRegion({ code: '371521', name: '阳谷县', level: 'county', parentCode: '371500' });
    await inv.upsertSchool({ code: SCHOOL, name: '东昌府区实验小学', countyCode: COUNTY, type: 'primary', ownership: 'public', studentCount: 1500, staffCount: 100 });
    await inv.upsertSchool({ code: OTHER_SCHOOL, name: '阳谷县第一中学', countyCode: '371521', type: 'junior', ownership: 'public', studentCount: 900, staffCount: 80 });
    now = Date.parse('2026-03-02T08:00:00Z');
    users = new Users(db, clock);
    sessions = new Sessions(db, { now: clock });
  });
  afterEach(async () => backend.release(db));

  it('adds users with a checked password or a generated one, and their scope named', async () => {
    const given = await users.add({ username: 'xiaoxue', displayName: '王老师', role: 'school-admin', schoolCode: SCHOOL, password: GOOD });
    expect(given).toEqual({
      user: {
        username: 'xiaoxue',
        displayName: '王老师',
        role: 'school-admin',
        scope: { level: 'school', code: SCHOOL, name: '东昌府区实验小学' },
        permissions: ['enroll', 'plan', 'comment'],
        disabled: false,
        createdAt: new Date(now).toISOString(),
        lastLoginAt: null,
      },
    });
    const generated = await users.add({ username: 'anbao', displayName: '安保科', role: 'security', countyCode: COUNTY });
    expect(passwordProblem(generated.password!)).toBeNull();
    expect(generated.user.scope).toEqual({ level: 'county', code: COUNTY, name: '东昌府区' });
    expect((await sessions.login('anbao', generated.password!)).ok).toBe(true);

    // the hash is stored, not the password
    const [row] = await db.query<{ password_hash: string }>(`SELECT password_hash FROM users WHERE username = 'xiaoxue'`);
    expect(row!.password_hash).toMatch(/^scrypt\$/);
    expect(row!.password_hash).not.toContain(GOOD);

    await expect(users.add({ username: 'weak', displayName: '弱', role: 'equipment', password: 'password1' })).rejects.toThrow(WeakPassword);
    await expect(users.add({ username: 'xiaoxue', displayName: '重复', role: 'equipment' })).rejects.toMatchObject({ code: 'conflict' });
    await expect(users.add({ username: 'nosch', displayName: '无校', role: 'school-admin' })).rejects.toMatchObject({ code: 'invalid', message: expect.stringContaining('needs a school') });
    await expect(users.add({ username: 'both', displayName: '两者', role: 'security', schoolCode: SCHOOL, countyCode: COUNTY })).rejects.toMatchObject({ code: 'invalid' });
    await expect(users.add({ username: 'admin-token', displayName: '令牌', role: 'admin' })).rejects.toMatchObject({ code: 'invalid', message: expect.stringContaining('reserved') });
    await expect(users.add({ username: 'Upper', displayName: '大写', role: 'admin' })).rejects.toBeInstanceOf(InventoryError);
    await expect(users.add({ username: 'ghost', displayName: '幽灵', role: 'equipment', countyCode: '371599' })).rejects.toMatchObject({ code: 'invalid' });
    expect((await users.list()).map((u) => u.username)).toEqual(['anbao', 'xiaoxue']);
  });

  it('signs in with the right password only, the same answer for a wrong password, an unknown name and a disabled user', async () => {
    await users.add({ username: 'xiaoxue', displayName: '王老师', role: 'school-admin', schoolCode: SCHOOL, password: GOOD });
    expect(await sessions.login('xiaoxue', 'Wrong#2025')).toMatchObject({ ok: false, reason: 'wrong', why: 'wrong-password' });
    expect(await sessions.login('nobody', GOOD)).toEqual({ ok: false, reason: 'wrong', why: 'unknown-user' });
    const ok = (await sessions.login('  XiaoXue ', GOOD)) as Extract<LoginResult, { ok: true }>;
    expect(ok).toMatchObject({ ok: true, user: { username: 'xiaoxue', role: 'school-admin' }, expiresAt: new Date(now + 30 * MIN) });
    expect(ok.token).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes
    // only the SHA-256 of the token is kept
    const stored = await db.query<{ token_hash: string }>(`SELECT token_hash FROM user_sessions`);
    expect(stored).toEqual([{ token_hash: tokenHash(ok.token) }]);
    expect((await users.get('xiaoxue'))!.lastLoginAt).toEqual(new Date(now));

    await users.update('xiaoxue', { disabled: true });
    expect(await sessions.login('xiaoxue', GOOD)).toMatchObject({ ok: false, reason: 'wrong', why: 'disabled' });
    expect(await sessions.resolve(ok.token)).toBeNull(); // disabling ended the session
    await users.update('xiaoxue', { disabled: false });
    expect((await sessions.login('xiaoxue', GOOD)).ok).toBe(true);
  });

  it('locks a name after 5 failures within 15 minutes, for 15 minutes from the last, even for the right password', async () => {
    await users.add({ username: 'xiaoxue', displayName: '王老师', role: 'school-admin', schoolCode: SCHOOL, password: GOOD });
    for (let i = 0; i < 4; i++) {
      expect(await sessions.login('xiaoxue', `Wrong#${i}abc`)).toMatchObject({ ok: false, reason: 'wrong', why: 'wrong-password' });
      now += MIN;
    }
    const lastFailure = now;
    expect(await sessions.login('xiaoxue', 'Wrong#4abc')).toMatchObject({ ok: false, reason: 'locked', retryAt: new Date(lastFailure + 15 * MIN), justLocked: true });
    now += 5 * MIN;
    expect(await sessions.login('xiaoxue', GOOD)).toMatchObject({ ok: false, reason: 'locked', retryAt: new Date(lastFailure + 15 * MIN), justLocked: false });
    // another user is not affected
    await users.add({ username: 'zhuangbei', displayName: '装备科', role: 'equipment', password: GOOD });
    expect((await sessions.login('zhuangbei', GOOD)).ok).toBe(true);
    // attempts while locked are not counted: the lock ends on time
    now = lastFailure + 15 * MIN;
    expect((await sessions.login('xiaoxue', GOOD)).ok).toBe(true);
    // and a success clears the failures: one more wrong password is just wrong
    expect(await sessions.login('xiaoxue', 'Wrong#5abc')).toMatchObject({ ok: false, reason: 'wrong', why: 'wrong-password' });
  });

  it('does not lock for failures spread over more than 15 minutes, and locks unknown names alike', async () => {
    await users.add({ username: 'xiaoxue', displayName: '王老师', role: 'school-admin', schoolCode: SCHOOL, password: GOOD });
    for (let i = 0; i < 8; i++) {
      expect(await sessions.login('xiaoxue', 'Wrong#abc1'), `failure ${i + 1}`).toMatchObject({ ok: false, reason: 'wrong', why: 'wrong-password' });
      now += 4 * MIN; // 5 failures span 16 minutes
    }
    for (let i = 0; i < 4; i++) expect((await sessions.login('nobody', GOOD)).ok).toBe(false);
    expect(await sessions.login('nobody', GOOD)).toMatchObject({ ok: false, reason: 'locked' });
  });

  it('ends a session after 30 idle minutes; a request within them extends it, written at most once a minute', async () => {
    await users.add({ username: 'xiaoxue', displayName: '王老师', role: 'school-admin', schoolCode: SCHOOL, password: GOOD });
    const t0 = now;
    const token = await signIn('xiaoxue', GOOD);
    const lastSeen = async () => (await db.query<{ at: Date }>(`SELECT last_seen_at AS at FROM user_sessions`))[0]?.at.getTime();

    now = t0 + 30_000;
    expect(await sessions.resolve(token)).toMatchObject({ info: { username: 'xiaoxue' }, expiresAt: new Date(t0 + 30 * MIN) });
    expect(await lastSeen()).toBe(t0); // less than a minute: not written

    now = t0 + 29 * MIN;
    expect((await sessions.resolve(token))?.expiresAt).toEqual(new Date(t0 + 59 * MIN));
    expect(await lastSeen()).toBe(t0 + 29 * MIN);

    now = t0 + 58 * MIN; // 29 idle minutes since the last request
    expect(await sessions.resolve(token)).not.toBeNull();
    now += 30 * MIN; // 30 idle minutes
    expect(await sessions.resolve(token)).toBeNull();
    expect(await lastSeen()).toBeUndefined(); // the ended session is gone
  });

  it('ends a session 12 hours after sign-in however busy it is; the limits are options', async () => {
    await users.add({ username: 'xiaoxue', displayName: '王老师', role: 'school-admin', schoolCode: SCHOOL, password: GOOD });
    const t0 = now;
    const token = await signIn('xiaoxue', GOOD);
    for (now = t0 + 20 * MIN; now < t0 + 12 * 60 * MIN; now += 20 * MIN) expect(await sessions.resolve(token), `at ${(now - t0) / MIN} min`).not.toBeNull();
    now = t0 + 12 * 60 * MIN - 1;
    expect((await sessions.resolve(token))?.expiresAt).toEqual(new Date(t0 + 12 * 60 * MIN));
    now = t0 + 12 * 60 * MIN;
    expect(await sessions.resolve(token)).toBeNull();

    const short = new Sessions(db, { now: clock, idleMs: 5 * MIN, maxMs: 10 * MIN });
    const r = (await short.login('xiaoxue', GOOD)) as Extract<LoginResult, { ok: true }>;
    expect(r.expiresAt).toEqual(new Date(now + 5 * MIN));
    now += 5 * MIN;
    expect(await short.resolve(r.token)).toBeNull();
  });

  it('ends sessions on logout, on a password change (but the one that changed its own) and on disabling', async () => {
    await users.add({ username: 'xiaoxue', displayName: '王老师', role: 'school-admin', schoolCode: SCHOOL, password: GOOD });
    const a = await signIn('xiaoxue', GOOD);
    const b = await signIn('xiaoxue', GOOD);
    const c = await signIn('xiaoxue', GOOD);
    await sessions.revoke(a);
    expect(await sessions.resolve(a)).toBeNull();
    expect(await sessions.resolve(b)).not.toBeNull();

    // the user changes their own password from session b: c ends, b stays
    await expect(users.setPassword('xiaoxue', 'short')).rejects.toThrow(WeakPassword);
    await users.setPassword('xiaoxue', 'New#Password9', { keepSession: tokenHash(b) });
    expect(await sessions.resolve(c)).toBeNull();
    expect(await sessions.resolve(b)).not.toBeNull();
    expect((await sessions.login('xiaoxue', GOOD)).ok).toBe(false);
    // an administrator resets it: every session ends
    await users.setPassword('xiaoxue', 'Reset#Password9');
    expect(await sessions.resolve(b)).toBeNull();
    const d = await signIn('xiaoxue', 'Reset#Password9');

    await users.update('xiaoxue', { disabled: true });
    expect(await sessions.resolve(d)).toBeNull();
    expect(await sessions.resolve('not-a-token')).toBeNull();
    await expect(users.setPassword('nobody', GOOD)).rejects.toMatchObject({ code: 'not-found' });
  });

  it('changes role and scope, checking them, and the session sees the change at once', async () => {
    await users.add({ username: 'anbao', displayName: '安保科', role: 'security', password: GOOD });
    const token = await signIn('anbao', GOOD);
    expect((await sessions.resolve(token))!.info).toEqual({ username: 'anbao', displayName: '安保科', role: 'security', scope: { level: 'city' }, permissions: ['plan', 'comment'] });
    await expect(users.update('anbao', { role: 'school-admin' })).rejects.toMatchObject({ code: 'invalid' });
    const changed = await users.update('anbao', { role: 'school-admin', schoolCode: OTHER_SCHOOL, displayName: ' 李老师 ' });
    expect(changed).toMatchObject({ displayName: '李老师', role: 'school-admin', scope: { level: 'school', code: OTHER_SCHOOL, name: '阳谷县第一中学' } });
    expect((await sessions.resolve(token))!.info.permissions).toEqual(['enroll', 'plan', 'comment']);
    expect(await users.update('anbao', { role: 'equipment', schoolCode: null, countyCode: COUNTY })).toMatchObject({ scope: { level: 'county', code: COUNTY } });
    await expect(users.update('nobody', { disabled: true })).rejects.toMatchObject({ code: 'not-found' });
    expect(await users.displayNames(['anbao', 'nobody'])).toEqual(new Map([['anbao', '李老师']]));
  });
});
