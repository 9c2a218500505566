import { currentMonth } from '../export';
import type { Lang } from '../i18n/index';

/** How many months back the report can be asked for (the bureau reports monthly and looks back a few years). */
const MONTHS_BACK = 36;

/** `YYYY-MM` months from the current one (China time) back MONTHS_BACK, newest first. */
export function reportMonths(now = new Date()): string[] {
  const [y, m] = currentMonth(now).split('-').map(Number) as [number, number];
  return Array.from({ length: MONTHS_BACK }, (_, i) => {
    const k = y * 12 + (m - 1) - i;
    return `${Math.floor(k / 12)}-${String((k % 12) + 1).padStart(2, '0')}`;
  });
}

/** 2026年11月 in Chinese, 2026-11 otherwise. */
export const monthLabel = (month: string, lang: Lang): string => (lang === 'zh-CN' ? `${month.slice(0, 4)}年${Number(month.slice(5))}月` : month);

/**
 * The report month as a list, not a native `<input type="month">`: that one is drawn in the
 * browser's own locale (English on many intranet PCs), whatever language the console speaks.
 */
export function MonthPicker({ value, lang, onChange }: { value: string; lang: Lang; onChange(month: string): void }) {
  return (
    <select data-testid="report-month" value={value} onChange={(e) => onChange(e.target.value)}>
      {reportMonths().map((m) => (
        <option key={m} value={m}>{monthLabel(m, lang)}</option>
      ))}
    </select>
  );
}
