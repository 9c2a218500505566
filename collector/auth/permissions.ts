/**
 * Who may do what, and where. A role gives a fixed set of permissions; the user's scope (one
 * school, one county, or the whole city) limits where they apply. The console reads the same
 * lists from `GET /api/v1/session` to hide what a user may not do; the server decides.
 */

export const ROLES = ['admin', 'school-admin', 'security', 'equipment'] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = ['enroll', 'plan', 'tickets', 'comment', 'agents', 'users'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export const ROLE_PERMISSIONS: Record<Role, readonly Permission[]> = {
  admin: PERMISSIONS,
  'school-admin': ['enroll', 'plan', 'comment'],
  security: ['plan', 'comment'],
  equipment: ['tickets', 'comment'],
};

/** What a 403 says the user tried: "王老师 (school-admin, 3715020001) may not enroll devices at …". */
export const PERMISSION_VERBS: Record<Permission, string> = {
  enroll: 'enroll devices',
  plan: 'edit campus plans',
  tickets: 'work repair tickets',
  comment: 'comment on repair tickets',
  agents: 'administer agents and schools',
  users: 'manage users',
};

export type Scope = { level: 'city' } | { level: 'county'; code: string; name: string } | { level: 'school'; code: string; name: string };

/** What the console is told about the signed-in user. */
export interface UserInfo {
  username: string;
  displayName: string;
  role: Role;
  scope: Scope;
  permissions: Permission[];
}

/** Where an action lands: a school (with its county), a county, or nothing narrower than the city. */
export type Target = { school: string; county: string } | { county: string } | 'city';

export function isRole(s: unknown): s is Role {
  return typeof s === 'string' && (ROLES as readonly string[]).includes(s);
}

export function permissionsOf(role: Role): Permission[] {
  return [...ROLE_PERMISSIONS[role]];
}

/** Whether a scope reaches the target: a school scope its own school, a county scope its schools and itself. */
export function scopeCovers(scope: Scope, target: Target): boolean {
  if (scope.level === 'city') return true;
  if (target === 'city') return false;
  if (scope.level === 'school') return 'school' in target && target.school === scope.code;
  return target.county === scope.code;
}

export function describeTarget(target: Target): string {
  if (target === 'city') return 'for the whole city';
  if ('school' in target) return `at ${target.school}`;
  return `in county ${target.county}`;
}

/** The 403 message: who, as what, may not do what, where. */
export function denial(user: Pick<UserInfo, 'displayName' | 'role' | 'scope'>, permission: Permission, target: Target): string {
  const where = user.scope.level === 'city' ? 'city' : user.scope.code;
  return `${user.displayName} (${user.role}, ${where}) may not ${PERMISSION_VERBS[permission]} ${describeTarget(target)}`;
}
