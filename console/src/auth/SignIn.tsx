/** The header's sign-in form (user name and password; the admin token as the other way in) and who is signed in. */
import { useState, type FormEvent } from 'react';
import { auth, call } from '../api';
import type { MessageKey } from '../i18n/index';
import { roleName, scopeName } from './permissions';
import { keepAdminToken, signInWithPassword, type Session } from './session';

type T = (k: MessageKey) => string;
/** Why the form opened by itself: a write came back 401 with a credential (expired) or with none. */
export type SignInReason = 'expired' | 'token-refused' | 'needed' | null;

const REASON: Record<Exclude<SignInReason, null>, MessageKey> = { expired: 'sessionExpired', 'token-refused': 'tokenRefused', needed: 'signInFirst' };

export function SignInForm({ t, reason, username: lastUser, onSignedIn, onClose }: { t: T; reason: SignInReason; username: string; onSignedIn: (s: Session) => void; onClose: () => void }) {
  const [username, setUsername] = useState(lastUser);
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [token, setToken] = useState('');
  const [actor, setActor] = useState(auth.actor);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!username.trim() || !password) return setError(t('signInMissing'));
    setBusy(true);
    setError('');
    try {
      onSignedIn(await signInWithPassword(username.trim(), password));
    } catch (err) {
      // the collector's own words: wrong user or password, or locked and until when
      setError((err as Error).message);
      setPassword('');
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="settings sign-in" data-testid="sign-in-form">
      {reason && <p className="warn" data-testid="sign-in-reason" data-reason={reason}>{t(REASON[reason])}</p>}
      <form onSubmit={(e) => void submit(e)}>
        <label>
          {t('username')} <input data-testid="username" autoComplete="username" value={username} autoFocus={!lastUser} onChange={(e) => setUsername(e.target.value)} />
        </label>
        <label>
          {t('password')} <input data-testid="password" type="password" autoComplete="current-password" value={password} autoFocus={!!lastUser} onChange={(e) => setPassword(e.target.value)} />
        </label>
        <span className="buttons">
          <button data-testid="sign-in-submit" type="submit" disabled={busy}>{busy ? t('signingIn') : t('signIn')}</button>{' '}
          <button data-testid="sign-in-cancel" type="button" onClick={onClose}>{t('cancel')}</button>
        </span>
        {error && <p className="error" data-testid="sign-in-error" role="alert">{error}</p>}
      </form>
      {/* the bureau's admin token: for the operators, below the accounts */}
      <fieldset className="admin-token">
        <legend>{t('useAdminToken')}</legend>
        <label>
          {t('token')} <input data-testid="token" type="password" autoComplete="off" value={token} onChange={(e) => setToken(e.target.value)} />
        </label>
        <label>
          {t('actor')} <input data-testid="actor" value={actor} onChange={(e) => setActor(e.target.value)} />
        </label>
        <button data-testid="save-settings" type="button" disabled={!token.trim()} onClick={() => onSignedIn(keepAdminToken(token.trim(), actor.trim()))}>{t('save')}</button>
      </fieldset>
    </div>
  );
}

/**
 * Who is signed in: display name, role and scope (an admin token: the name typed beside it). A
 * person's name opens the form to change their own password (the collector keeps this session
 * and ends their others).
 */
export function UserBadge({ t, session, onSignOut }: { t: T; session: Session; onSignOut: () => void }) {
  const { user } = session;
  const [open, setOpen] = useState(false);
  const name = session.via === 'token' ? auth.actor || t('adminTokenUser') : user.displayName || user.username;
  const text = `${name} · ${roleName(t, user.role)} · ${scopeName(t, user.scope)}`;
  return (
    <>
      {session.via === 'password' ? (
        <button className="user edit-only" data-testid="user" data-username={user.username} data-role={user.role} title={`${user.username} · ${t('changePassword')}`} aria-expanded={open} onClick={() => setOpen(!open)}>
          {text}
        </button>
      ) : (
        <span className="user edit-only" data-testid="user" data-username={user.username} data-role={user.role}>{text}</span>
      )}
      <button data-testid="sign-out" className="edit-only" onClick={onSignOut}>{t('signOut')}</button>
      {open && <PasswordForm t={t} username={user.username} onClose={() => setOpen(false)} />}
    </>
  );
}

function PasswordForm({ t, username, onClose }: { t: T; username: string; onClose: () => void }) {
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState('');
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setDone(false);
    if (password !== again) return setError(t('passwordsDiffer'));
    setBusy(true);
    setError('');
    try {
      await call<void>('POST', `/api/v1/users/${encodeURIComponent(username)}/password`, { password });
      setDone(true);
      setPassword('');
      setAgain('');
    } catch (err) {
      setError((err as Error).message); // the collector's password rule, in its words
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="settings sign-in" data-testid="password-form">
      <form onSubmit={(e) => void submit(e)}>
        <strong>{t('changePassword')}</strong>
        <input type="text" autoComplete="username" value={username} readOnly hidden />
        <label>
          {t('newPassword')} <input data-testid="new-password-1" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} />
        </label>
        <label>
          {t('newPasswordAgain')} <input data-testid="new-password-2" type="password" autoComplete="new-password" value={again} onChange={(e) => setAgain(e.target.value)} />
        </label>
        <span className="buttons">
          <button data-testid="password-submit" type="submit" disabled={busy || !password}>{t('save')}</button>{' '}
          <button type="button" onClick={onClose}>{t('close')}</button>
        </span>
        {error && <p className="error" data-testid="password-error" role="alert">{error}</p>}
        {done && <p className="pass" data-testid="password-changed">{t('passwordChanged')}</p>}
      </form>
    </div>
  );
}
