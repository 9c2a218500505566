import { describe, expect, it } from 'vitest';
import { translator } from '../i18n/index';
import { gateOf, homeOf, inScope, permit, readOnlyNote, roleName, schoolNote, scopeName, type UserInfo } from './permissions';

const t = translator('zh-CN');
const SCHOOL_A = { school: '3715020001', county: '371502' };
const SCHOOL_B = { school: '3715020002', county: '371502' };
const OTHER_COUNTY = { school: '3715210001', county: '371521' };

const schoolAdmin: UserInfo = { username: 'wang', displayName: '王老师', role: 'school-admin', scope: { level: 'school', code: SCHOOL_A.school, name: '东昌一中' }, permissions: ['enroll', 'plan', 'comment'] };
const equipment: UserInfo = { username: 'li', displayName: '李师傅', role: 'equipment', scope: { level: 'county', code: '371502', name: '东昌府区' }, permissions: ['tickets', 'comment'] };
const security: UserInfo = { username: 'zhao', displayName: '赵科长', role: 'security', scope: { level: 'city' }, permissions: ['plan'] };

describe('who may change what', () => {
  it('nobody signed in may change nothing, and is told to sign in', () => {
    const p = permit(null, 'enroll', SCHOOL_A);
    expect(p).toEqual({ allowed: false, why: 'signed-out' });
    expect(gateOf(t, p)).toEqual({ hidden: false, disabled: true, title: '登录后可修改' });
  });

  it('a school admin changes their own school only; another school is read-only with the reason', () => {
    expect(permit(schoolAdmin, 'enroll', SCHOOL_A)).toEqual({ allowed: true });
    expect(gateOf(t, permit(schoolAdmin, 'enroll', SCHOOL_A))).toEqual({ hidden: false, disabled: false, title: undefined });
    const b = permit(schoolAdmin, 'enroll', SCHOOL_B);
    expect(b).toMatchObject({ allowed: false, why: 'out-of-scope' });
    expect(gateOf(t, b)).toEqual({ hidden: false, disabled: true, title: '只读：您的账号只能修改东昌一中' });
    expect(schoolNote(t, schoolAdmin, SCHOOL_B)).toBe('只读：您的账号只能修改东昌一中');
    expect(schoolNote(t, schoolAdmin, SCHOOL_A)).toBeNull();
  });

  it('an equipment manager works tickets in the county and is never offered enrolling', () => {
    expect(permit(equipment, 'tickets', SCHOOL_B)).toEqual({ allowed: true });
    expect(gateOf(t, permit(equipment, 'enroll', SCHOOL_A)).hidden).toBe(true);
    expect(gateOf(t, permit(equipment, 'tickets', OTHER_COUNTY))).toMatchObject({ disabled: true, title: '只读：您的账号只能修改东昌府区的学校' });
    // a school whose county is not known yet is not taken to be in the county
    expect(inScope(equipment.scope, { school: SCHOOL_A.school })).toBe(false);
  });

  it('a city scope reaches every school; a permission it lacks stays hidden', () => {
    expect(permit(security, 'plan', OTHER_COUNTY)).toEqual({ allowed: true });
    expect(permit(security, 'tickets', OTHER_COUNTY)).toEqual({ allowed: false, why: 'not-permitted' });
    expect(schoolNote(t, security, OTHER_COUNTY)).toBeNull();
  });

  it('names roles and scopes in Chinese, and in English by the switch', () => {
    expect(['admin', 'school-admin', 'security', 'equipment'].map((r) => roleName(t, r as UserInfo['role']))).toEqual(['系统管理员', '学校网管', '安防', '装备管理']);
    expect(scopeName(t, { level: 'city' })).toBe('全市');
    expect(scopeName(t, equipment.scope)).toBe('东昌府区');
    const en = translator('en');
    expect(roleName(en, 'equipment')).toBe('Equipment manager');
    expect(readOnlyNote(en, schoolAdmin.scope)).toBe('Read-only: your account can only change 东昌一中');
  });
  it('sends a school account to its school and a county account to its county after signing in; the city stays', () => {
    expect(homeOf(schoolAdmin)).toEqual({ view: 'school', school: SCHOOL_A.school, selected: '' });
    expect(homeOf(equipment)).toEqual({ view: 'county', county: '371502', type: '' });
    expect(homeOf(security)).toBeNull();
  });
});
