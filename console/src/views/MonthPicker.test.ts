import { describe, expect, it } from 'vitest';
import { monthLabel, reportMonths } from './MonthPicker';

describe('report month list', () => {
  it('starts at the current month in China time and steps back across the year boundary', () => {
    // 2026-12-31 17:00 UTC is already 2027-01-01 in Beijing
    const months = reportMonths(new Date('2026-12-31T17:00:00Z'));
    expect(months.slice(0, 3)).toEqual(['2027-01', '2026-12', '2026-11']);
    expect(months).toHaveLength(36);
    expect(months.at(-1)).toBe('2024-02');
    expect(new Set(months).size).toBe(36);
  });
  it('labels months the Chinese way', () => {
    expect(monthLabel('2026-03', 'zh-CN')).toBe('2026年3月');
    expect(monthLabel('2026-03', 'en')).toBe('2026-03');
  });
});
