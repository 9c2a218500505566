/** The signed-in user for every view, and the gates of the controls that change something. */
import { createContext, useContext, useMemo } from 'react';
import type { MessageKey } from '../i18n/index';
import { gateOf, permit, type Gate, type Permission, type Place, type UserInfo } from './permissions';

export interface AuthState {
  /** null: nobody signed in (the console is read-only) */
  user: UserInfo | null;
  /** opens the sign-in form */
  openSignIn: () => void;
}

export const AuthContext = createContext<AuthState>({ user: null, openSignIn: () => {} });
export const useAuth = (): AuthState => useContext(AuthContext);

/** How to offer a control that needs `permission` at `place` (null: the place is not known yet). */
export function useGate(t: (k: MessageKey) => string, permission: Permission, place: Place | null): Gate {
  const { user } = useAuth();
  const school = place?.school, county = place?.county;
  return useMemo(() => {
    // the school still loading: what the account never may do stays hidden meanwhile
    if (school === undefined) return { hidden: !!user && !user.permissions.includes(permission), disabled: true, title: undefined };
    return gateOf(t, permit(user, permission, { school, county }));
  }, [t, user, permission, school, county]);
}
