/**
 * Histories record who made a change as `user/<username>`, `admin-token[/<name>]` or `system`;
 * the console shows a person's name. `actorName` is looked up when a history is read, so a user
 * renamed later shows with the current name.
 */
import type { Users } from '../auth/users.ts';
import { ADMIN_TOKEN_NAME } from './access.ts';

export async function withActorNames<T extends { actor: string }>(users: Users, rows: T[]): Promise<Array<T & { actorName: string }>> {
  const usernames = [...new Set(rows.filter((r) => r.actor.startsWith('user/')).map((r) => r.actor.slice(5)))];
  const names = await users.displayNames(usernames);
  return rows.map((r) => ({ ...r, actorName: actorName(r.actor, names) }));
}

function actorName(actor: string, users: Map<string, string>): string {
  if (actor.startsWith('user/')) return users.get(actor.slice(5)) ?? actor.slice(5);
  if (actor === 'admin-token') return ADMIN_TOKEN_NAME;
  if (actor.startsWith('admin-token/')) return actor.slice('admin-token/'.length);
  if (actor === 'system') return '系统';
  return actor;
}
