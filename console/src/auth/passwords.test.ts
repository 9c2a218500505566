import { describe, expect, it } from 'vitest';
import { passwordProblem } from '../../../collector/auth/password-policy.ts';
import { generatePassword } from './passwords';

describe('passwords the console makes up for a reset', () => {
  it('always pass the collector’s password rule, with every class of character, and differ', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const p = generatePassword();
      expect(p).toHaveLength(16);
      expect(passwordProblem(p, 'wang.laoshi')).toBeNull();
      for (const re of [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/]) expect(p).toMatch(re);
      expect(p).not.toMatch(/[0O1lI]/); // read off the screen and typed
      seen.add(p);
    }
    expect(seen.size).toBe(500);
  });
});
