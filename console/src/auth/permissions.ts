/**
 * Who may change what, as the console shows it: a user's role, scope and permissions (from
 * `/api/v1/session`) against the school a control changes. The collector enforces the same rules
 * and its 403 is the last word; this only decides which controls to offer.
 */
import type { MessageKey } from '../i18n/index';

export const ROLES = ['admin', 'school-admin', 'security', 'equipment'] as const;
export type Role = (typeof ROLES)[number];
/**
 * enroll: accept/reject/retire/place/merge devices and the planned-devices CSV; plan: the campus
 * plan, key areas and floor plans; tickets: open and work repair tickets; comment: ticket notes;
 * agents: gateways; users: accounts.
 */
export const PERMISSIONS = ['enroll', 'plan', 'tickets', 'comment', 'agents', 'users'] as const;
export type Permission = (typeof PERMISSIONS)[number];
export type Scope = { level: 'city' } | { level: 'county'; code: string; name: string } | { level: 'school'; code: string; name: string };
export interface UserInfo { username: string; displayName: string; role: Role; scope: Scope; permissions: Permission[] }

/** Where a change is made: a school, with its county when known (a county's users need it). */
export interface Place { school: string; county?: string | undefined }

export type Permit =
  | { allowed: true }
  | { allowed: false; why: 'signed-out' }
  /** the account never has this permission (an equipment manager and enrolling devices) */
  | { allowed: false; why: 'not-permitted' }
  /** the account has it, but for other schools */
  | { allowed: false; why: 'out-of-scope'; scope: Scope };

/** Whether a school lies within a scope; a county scope needs the school's county (unknown: not yet). */
export function inScope(scope: Scope, place: Place): boolean {
  if (scope.level === 'city') return true;
  if (scope.level === 'school') return scope.code === place.school;
  return place.county !== undefined && scope.code === place.county;
}

/** May `user` (null: nobody signed in) do what `permission` covers at `place`? */
export function permit(user: UserInfo | null, permission: Permission, place: Place): Permit {
  if (!user) return { allowed: false, why: 'signed-out' };
  if (!user.permissions.includes(permission)) return { allowed: false, why: 'not-permitted' };
  if (!inScope(user.scope, place)) return { allowed: false, why: 'out-of-scope', scope: user.scope };
  return { allowed: true };
}

type T = (k: MessageKey) => string;

export const roleName = (t: T, role: Role): string => (ROLES.includes(role) ? t(`role.${role}`) : role);

/** 全市, a county's name, or a school's name. */
export const scopeName = (t: T, scope: Scope): string => (scope.level === 'city' ? t('scope.city') : scope.name);

/** The note of a school that an account may not change: 只读：您的账号只能修改 XX学校 (a county: XX区的学校). */
export function readOnlyNote(t: T, scope: Scope): string {
  return t(scope.level === 'county' ? 'readOnlyCounty' : 'readOnlySchool').replace('{scope}', scopeName(t, scope));
}

/**
 * How a control is offered: hidden when the account can never do it (nothing to explain to an
 * equipment manager about enrolling), disabled with the reason when signing in or another school
 * would allow it.
 */
export interface Gate { hidden: boolean; disabled: boolean; title: string | undefined }
export function gateOf(t: T, p: Permit): Gate {
  if (p.allowed) return { hidden: false, disabled: false, title: undefined };
  if (p.why === 'not-permitted') return { hidden: true, disabled: true, title: t('notPermitted') };
  if (p.why === 'signed-out') return { hidden: false, disabled: true, title: t('signInToChange') };
  return { hidden: false, disabled: true, title: readOnlyNote(t, p.scope) };
}

/**
 * The note a school's page shows when the account may change something of the kind at some school
 * but none of it here (null: nothing to say — it may change something here, or nobody is signed in).
 */
export function schoolNote(t: T, user: UserInfo | null, place: Place): string | null {
  if (!user) return null;
  const editing = (['enroll', 'plan', 'tickets', 'comment'] as const).filter((p) => user.permissions.includes(p));
  if (editing.length === 0 || inScope(user.scope, place)) return null;
  return readOnlyNote(t, user.scope);
}

/**
 * Where a user's work is: their school's view for a school's account, their county's for a
 * county's; none for the city (the city view is theirs already). Signing in from the city view
 * goes there, so a school's network administrator lands on the school.
 */
export function homeOf(user: UserInfo): { view: 'school'; school: string; selected: string } | { view: 'county'; county: string; type: string } | null {
  if (user.scope.level === 'school') return { view: 'school', school: user.scope.code, selected: '' };
  if (user.scope.level === 'county') return { view: 'county', county: user.scope.code, type: '' };
  return null;
}
