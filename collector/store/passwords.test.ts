import { describe, expect, it } from 'vitest';
import { generatePassword, hashPassword, verifyPassword } from './passwords.ts';

describe('passwords', () => {
  it('hashes with scrypt, parameters and a random salt in the string', async () => {
    const a = await hashPassword('秘密-secret');
    const b = await hashPassword('秘密-secret');
    expect(a).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('secret');
  });

  it('verifies the right password and refuses a wrong one', async () => {
    const h = await hashPassword('correct horse');
    expect(await verifyPassword('correct horse', h)).toBe(true);
    expect(await verifyPassword('correct hors', h)).toBe(false);
    expect(await verifyPassword('', h)).toBe(false);
  });

  it('returns false, without throwing, for malformed or hostile hashes', async () => {
    for (const bad of ['', 'plain', 'scrypt$16384$8$1$abc', 'bcrypt$1$2$3$4$5', 'scrypt$1000$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==', 'scrypt$1073741824$8$1$AAAAAAAAAAA=$AAAAAAAAAAAAAAAAAAAAAA==']) {
      expect(await verifyPassword('x', bad)).toBe(false);
    }
  });

  it('generates long URL-safe passwords that differ', () => {
    const a = generatePassword();
    expect(a.length).toBeGreaterThanOrEqual(24);
    expect(a).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(generatePassword()).not.toBe(a);
  });
});
