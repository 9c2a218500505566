/**
 * The demo's people: one per role, the school network administrator at the first school, with
 * passwords that pass the rule and are new at every start (a restart of the demo on the same data
 * directory issues new ones; the old ones stop working).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { freshPgliteDb } from '../tests/setup/pglite.ts';
import { passwordProblem } from '../collector/auth/password-policy.ts';
import { Sessions } from '../collector/auth/sessions.ts';
import { Users } from '../collector/auth/users.ts';
import { Inventory, type Db } from '../collector/store/index.ts';
import { ensureDemoUsers, seedDemoCity } from './demo-city.ts';

describe('demo users', () => {
  let db: Db;
  beforeEach(async () => {
    db = await freshPgliteDb();
  });
  afterEach(async () => db.close());

  it('are created once per role with fresh passwords at every start', async () => {
    const schools = await seedDemoCity(new Inventory(db), '371500', 1);
    const first = await ensureDemoUsers(db, schools[0]!.code);
    expect(first.map((u) => [u.username, u.role, u.schoolCode])).toEqual([
      ['admin', 'admin', undefined],
      ['xiaoxue', 'school-admin', schools[0]!.code],
      ['anbao', 'security', undefined],
      ['zhuangbei', 'equipment', undefined],
    ]);
    for (const u of first) expect(passwordProblem(u.password, u.username)).toBeNull();
    const sessions = new Sessions(db);
    expect((await sessions.login('xiaoxue', first[1]!.password)).ok).toBe(true);

    await new Users(db).update('anbao', { disabled: true }); // whatever happened meanwhile
    const again = await ensureDemoUsers(db, schools[0]!.code);
    expect((await sessions.login('xiaoxue', first[1]!.password)).ok).toBe(false);
    for (const u of again) expect((await sessions.login(u.username, u.password)).ok, u.username).toBe(true);
    expect((await new Users(db).list()).map((u) => u.username)).toEqual(['admin', 'anbao', 'xiaoxue', 'zhuangbei']);
  });
});
