/** Table export for Excel/WPS (a UTF-8 CSV with a BOM, so Chinese opens correctly) and the report month. */

/** One CSV field, quoted when it holds a comma, quote or line break (RFC 4180). */
const field = (v: string | number | null | undefined): string => {
  const s = v == null ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** CSV text with a UTF-8 BOM and CRLF line ends. */
export function csvOf(header: string[], rows: (string | number | null | undefined)[][]): string {
  return '\uFEFF' + [header, ...rows].map((r) => r.map(field).join(',')).join('\r\n') + '\r\n';
}

/** Saves `text` as a file through a temporary link. */
export function downloadCsv(fileName: string, header: string[], rows: (string | number | null | undefined)[][]): void {
  const url = URL.createObjectURL(new Blob([csvOf(header, rows)], { type: 'text/csv;charset=utf-8' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** The current month in China time, YYYY-MM (the report's default). */
export function currentMonth(now = new Date()): string {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit' }).formatToParts(now);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year')}-${get('month')}`;
}

/** The server's monthly compliance report (.xlsx): a county's, or the whole city's. */
export const reportUrl = (q: { county?: string; city?: string; month: string }): string => {
  const p = new URLSearchParams();
  if (q.county) p.set('county', q.county);
  if (q.city) p.set('city', q.city);
  if (q.month) p.set('month', q.month);
  return `/api/v1/reports/compliance.xlsx?${p.toString()}`;
};
