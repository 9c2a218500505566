import { describe, expect, it } from 'vitest';
import { translator } from '../i18n/index';
import { detailText } from './AuditLogView';

describe('audit detail as people read it', () => {
  it('names keys, reasons, roles, permissions and changes in Chinese; times in China time; unknown ones as they are', () => {
    const t = translator('zh-CN');
    expect(detailText(t, { reason: 'wrong-password' })).toBe('原因: 密码错误');
    expect(detailText(t, { permission: 'enroll', role: 'school-admin', request: 'POST /api/v1/schools/3715020002/devices/gw-1/cam-1/accept' })).toBe(
      '所需权限: 设备登记；角色: 学校网管；请求: POST /api/v1/schools/3715020002/devices/gw-1/cam-1/accept',
    );
    expect(detailText(t, { changes: { role: { from: 'security', to: 'admin' }, disabled: { from: false, to: true } } })).toBe('角色: 安防 → 系统管理员；停用: 否 → 是');
    expect(detailText(t, { retryAt: '2026-11-25T06:30:00.000Z' })).toContain('14:30');
    expect(detailText(t, { novel: 'something-new' })).toBe('novel: something-new');
  });
});
