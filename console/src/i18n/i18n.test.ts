import { describe, expect, it } from 'vitest';
import { zhCN } from './zh-CN';
import { en } from './en';
import { pct } from './index';

describe('console strings', () => {
  it('has the same keys in zh-CN and en, none empty', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(zhCN).sort());
    for (const v of [...Object.values(en), ...Object.values(zhCN)]) expect(v.trim()).not.toBe('');
  });
  it('formats numbers the Chinese way', () => {
    expect(pct(0.875)).toBe('87.5%');
  });
});
