import { describe, expect, it } from 'vitest';
import { zhCN } from './zh-CN';
import { en } from './en';
import { deviceStateName, kindName, pct, translator } from './index';

describe('console strings', () => {
  it('has the same keys in zh-CN and en, none empty', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(zhCN).sort());
    for (const v of [...Object.values(en), ...Object.values(zhCN)]) expect(v.trim()).not.toBe('');
  });
  it('formats numbers the Chinese way', () => {
    expect(pct(0.875)).toBe('87.5%');
  });
  it('names every enrollment state and kind in Chinese, and shows an unknown one as it is', () => {
    const t = translator('zh-CN');
    expect(['seen', 'discovered', 'enrolled', 'rejected', 'retired'].map((s) => deviceStateName(t, s))).toEqual(['有数据未发现', '已发现待登记', '已登记', '已拒绝', '已退役']);
    expect(deviceStateName(t, 'quarantined')).toBe('quarantined');
    expect(kindName(t, 'switch')).toBe('交换机');
  });
});
