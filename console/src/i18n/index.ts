import { zhCN } from './zh-CN';
import { en } from './en';

export type MessageKey = keyof typeof zhCN;
export type Messages = Record<MessageKey, string>;
export type Lang = 'zh-CN' | 'en';

export const messages: Record<Lang, Messages> = { 'zh-CN': zhCN, en };

export function translator(lang: Lang): (k: MessageKey) => string {
  const m = messages[lang];
  return (k) => m[k] ?? k;
}

/** Numbers and dates always in the Chinese convention (Intl zh-CN), whatever the UI language. */
const pctFmt = new Intl.NumberFormat('zh-CN', { style: 'percent', maximumFractionDigits: 1 });
const numFmt = new Intl.NumberFormat('zh-CN', { maximumFractionDigits: 1 });
const dateFmt = new Intl.DateTimeFormat('zh-CN', { dateStyle: 'short', timeStyle: 'medium', timeZone: 'Asia/Shanghai' });
export const pct = (x: number | null | undefined): string => (x == null || Number.isNaN(x) ? '—' : pctFmt.format(x));
export const num = (x: number | null | undefined): string => (x == null || Number.isNaN(x) ? '—' : numFmt.format(x));
export const date = (iso: string | null | undefined): string => (iso ? dateFmt.format(new Date(iso)) : '—');

/** A message under `prefix.` in the UI language; the raw value when this console does not know it. */
function labelOr(t: (k: MessageKey) => string, prefix: string, value: string): string {
  const key = `${prefix}.${value}` as MessageKey;
  const v = t(key);
  return v === key ? value : v;
}

/** A device kind in the UI language; the raw kind when this console does not know it. */
export const kindName = (t: (k: MessageKey) => string, kind: string): string => labelOr(t, 'kind', kind);

/** A device's enrollment state (seen, discovered, enrolled, rejected, retired) in the UI language. */
export const deviceStateName = (t: (k: MessageKey) => string, state: string): string => labelOr(t, 'deviceState', state);
