/**
 * 用户管理 (permission 'users'): people's accounts — list, add with role and scope, disable or
 * enable, reset a password. A password the collector generates for a new account, or the one the
 * console generates for a reset, is shown once: only its hash is kept. A second tab, 安全审计,
 * shows the security audit log (AuditLogView).
 */
import { useEffect, useState, type FormEvent } from 'react';
import { call, get, type Region, type School } from '../api';
import { useAuth } from '../auth/context';
import { ROLES, roleName, scopeName, type Role, type UserInfo } from '../auth/permissions';
import { failureText } from '../auth/session';
import { generatePassword } from '../auth/passwords';
import { AuditLogView } from './AuditLogView';
import { date } from '../i18n/index';
import type { T } from '../App';

export interface UserEntry extends UserInfo { disabled: boolean; createdAt: string; lastLoginAt: string | null }
type Level = 'city' | 'county' | 'school';
interface Draft { username: string; displayName: string; role: Role; level: Level; county: string; school: string; password: string }
const EMPTY: Draft = { username: '', displayName: '', role: 'school-admin', level: 'school', county: '', school: '', password: '' };

const usersPath = '/api/v1/users';
const userPath = (u: string) => `${usersPath}/${encodeURIComponent(u)}`;

/** What the collector is sent for a new account: a school-admin has a school; the others a school, a county or the city. */
function bodyOf(d: Draft): Record<string, string> {
  return {
    username: d.username.trim().toLowerCase(),
    displayName: d.displayName.trim(),
    role: d.role,
    ...(d.level === 'school' && d.school ? { schoolCode: d.school } : {}),
    ...(d.level === 'county' && d.county ? { countyCode: d.county } : {}),
    ...(d.password ? { password: d.password } : {}),
  };
}

export function UsersView({ t }: { t: T }) {
  const { user } = useAuth();
  const [users, setUsers] = useState<UserEntry[] | null>(null);
  const [error, setError] = useState('');
  const [rev, setRev] = useState(0);
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [adding, setAdding] = useState(false);
  /** a password to read off once: the new account's or the reset one */
  const [shown, setShown] = useState<{ username: string; password: string } | null>(null);
  const [counties, setCounties] = useState<Region[]>([]);
  const [schools, setSchools] = useState<School[]>([]);
  const [tab, setTab] = useState<'accounts' | 'audit'>('accounts');
  const allowed = !!user?.permissions.includes('users');

  useEffect(() => {
    if (!allowed) return;
    let alive = true;
    call<{ users: UserEntry[] }>('GET', usersPath, undefined, undefined, true)
      .then((r) => alive && setUsers(r.users))
      .catch((err: unknown) => alive && setError(failureText(t, err)));
    return () => {
      alive = false;
    };
  }, [allowed, rev, t]);
  useEffect(() => {
    void get<Region[]>('/api/v1/regions').then((rs) => setCounties(rs.filter((r) => r.level === 'county'))).catch(() => {});
  }, []);
  useEffect(() => {
    if (!draft.county) return setSchools([]);
    let alive = true;
    void get<School[]>(`/api/v1/schools?county=${draft.county}`).then((s) => alive && setSchools(s)).catch(() => {});
    return () => {
      alive = false;
    };
  }, [draft.county]);

  if (!allowed) return <p className="muted" data-testid="users-not-allowed">{user ? t('notPermitted') : t('signInFirst')}</p>;
  const tabs = (
    <p data-testid="users-tabs">
      {(['accounts', 'audit'] as const).map((k) => (
        <button key={k} data-tab={k} aria-pressed={tab === k} disabled={tab === k} onClick={() => setTab(k)} style={{ marginRight: 4 }}>
          {t(k === 'accounts' ? 'accountsTab' : 'auditTab')}
        </button>
      ))}
    </p>
  );
  if (tab === 'audit') {
    return (
      <div data-testid="users-view">
        <h2>{t('users')}</h2>
        {tabs}
        <AuditLogView t={t} />
      </div>
    );
  }

  const set = (patch: Partial<Draft>) => setDraft((d) => ({ ...d, ...patch, ...(patch.role === 'school-admin' ? { level: 'school' as const } : {}) }));
  const incomplete = !draft.username.trim() || !draft.displayName.trim() || (draft.level === 'school' && !draft.school) || (draft.level === 'county' && !draft.county);
  const add = async (e: FormEvent) => {
    e.preventDefault();
    setError('');
    setShown(null);
    setAdding(true);
    try {
      const r = await call<{ user: UserEntry; password?: string }>('POST', usersPath, bodyOf(draft));
      if (r.password) setShown({ username: r.user.username, password: r.password });
      setDraft(EMPTY);
      setRev((x) => x + 1);
    } catch (err) {
      setError(failureText(t, err)); // the collector's words: a taken name, a weak password
    } finally {
      setAdding(false);
    }
  };
  const toggle = async (u: UserEntry) => {
    setError('');
    try {
      await call('PUT', userPath(u.username), { disabled: !u.disabled });
      setRev((x) => x + 1);
    } catch (err) {
      setError(failureText(t, err));
    }
  };
  const reset = async (u: UserEntry) => {
    setError('');
    setShown(null);
    const password = generatePassword();
    try {
      await call('POST', `${userPath(u.username)}/password`, { password });
      setShown({ username: u.username, password });
    } catch (err) {
      setError(failureText(t, err));
    }
  };

  return (
    <div data-testid="users-view">
      <h2>{t('users')}</h2>
      {tabs}
      {error && <p className="error" data-testid="users-error">{error}</p>}
      {shown && (
        <p className="password-once" data-testid="password-once" data-username={shown.username}>
          {t('passwordOnce').replace('{user}', shown.username)} <code data-testid="password-value">{shown.password}</code>{' '}
          <button onClick={() => setShown(null)}>{t('close')}</button>
        </p>
      )}
      <table data-testid="users">
        <thead>
          <tr><th>{t('username')}</th><th>{t('displayName')}</th><th>{t('role')}</th><th>{t('scope')}</th><th>{t('lastLogin')}</th><th></th></tr>
        </thead>
        <tbody>
          {(users ?? []).map((u) => (
            <tr key={u.username} data-user={u.username} data-disabled={String(u.disabled)} className={u.disabled ? 'unknown' : ''}>
              <td>{u.username}</td>
              <td>{u.displayName}</td>
              <td>{roleName(t, u.role)}</td>
              <td>{scopeName(t, u.scope)}</td>
              <td><small>{u.disabled ? t('userDisabled') : date(u.lastLoginAt)}</small></td>
              <td style={{ whiteSpace: 'nowrap' }}>
                <button data-action="toggle-user" disabled={u.username === user?.username} onClick={() => void toggle(u)}>{t(u.disabled ? 'enableUser' : 'disableUser')}</button>{' '}
                <button data-action="reset-password" onClick={() => void reset(u)}>{t('resetPassword')}</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>{t('addUser')}</h2>
      <form className="place" data-testid="add-user" onSubmit={(e) => void add(e)}>
        <label htmlFor="u-n">{t('username')}</label>
        <input id="u-n" data-testid="new-username" autoComplete="off" value={draft.username} onChange={(e) => set({ username: e.target.value })} />
        <label htmlFor="u-d">{t('displayName')}</label>
        <input id="u-d" data-testid="new-display-name" value={draft.displayName} onChange={(e) => set({ displayName: e.target.value })} />
        <label htmlFor="u-r">{t('role')}</label>
        <select id="u-r" data-testid="new-role" value={draft.role} onChange={(e) => set({ role: e.target.value as Role })}>
          {ROLES.map((r) => (
            <option key={r} value={r}>{roleName(t, r)}</option>
          ))}
        </select>
        <label htmlFor="u-l">{t('scope')}</label>
        <select id="u-l" data-testid="new-level" value={draft.level} disabled={draft.role === 'school-admin'} onChange={(e) => set({ level: e.target.value as Level })}>
          <option value="city">{t('scope.city')}</option>
          <option value="county">{t('county')}</option>
          <option value="school">{t('school')}</option>
        </select>
        {draft.level !== 'city' && (
          <>
            <label htmlFor="u-c">{t('county')}</label>
            <select id="u-c" data-testid="new-county" value={draft.county} onChange={(e) => set({ county: e.target.value, school: '' })}>
              <option value="">—</option>
              {counties.map((c) => (
                <option key={c.code} value={c.code}>{c.name}</option>
              ))}
            </select>
          </>
        )}
        {draft.level === 'school' && (
          <>
            <label htmlFor="u-s">{t('school')}</label>
            <select id="u-s" data-testid="new-school" value={draft.school} disabled={!draft.county} onChange={(e) => set({ school: e.target.value })}>
              <option value="">—</option>
              {schools.map((s) => (
                <option key={s.code} value={s.code}>{s.name}</option>
              ))}
            </select>
          </>
        )}
        <label htmlFor="u-p">{t('password')}</label>
        <input id="u-p" data-testid="new-password" type="password" autoComplete="new-password" placeholder={t('passwordGenerated')} value={draft.password} onChange={(e) => set({ password: e.target.value })} />
        <span className="wide">
          <button data-testid="add-user-submit" type="submit" disabled={adding || incomplete}>{t('addUser')}</button>
        </span>
      </form>
    </div>
  );
}
