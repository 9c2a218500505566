/**
 * AuthBackend over an in-memory table: for tests and single-machine demos where no collector
 * answers /api/v1/mqtt/auth.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { AuthBackend, Principal } from './auth.ts';

export interface MemoryUser {
  username: string;
  password: string;
  principal: Principal;
}

export function memoryAuthBackend(users: Iterable<MemoryUser>): AuthBackend & { calls: number } {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  const table = new Map<string, { hash: Buffer; principal: Principal }>();
  for (const u of users) table.set(u.username, { hash: digest(u.password), principal: u.principal });
  const backend = {
    calls: 0,
    async authenticate(username: string, password: string): Promise<Principal | null> {
      backend.calls++;
      const user = table.get(username);
      // Compare digests in constant time so the answer time says nothing about the password.
      return user && timingSafeEqual(user.hash, digest(password)) ? user.principal : null;
    },
  };
  return backend;
}
