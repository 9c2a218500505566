/**
 * Table export to Excel: the table as the user sees it (after filtering and sorting), with typed
 * columns, goes to the collector, which returns an .xlsx workbook (numbers as numbers, shares as
 * percentages, times in China time, a Chinese file name with the date). See
 * docs/decisions/0010-table-export.md. Also the monthly report's link and month.
 */
import { ApiFailure } from './api';
import type { Lang } from './i18n/index';

export type ColumnType = 'text' | 'integer' | 'number' | 'percent' | 'date' | 'datetime';
export interface ExportColumn { header: string; type: ColumnType; decimals?: number }
/** A number with its own format, in a numeric column whose rows differ in unit. */
export interface NumberCell { value: number | null; type: 'integer' | 'number' | 'percent'; decimals?: number }
export type ExportCell = string | number | null | NumberCell;
export interface ExportTable {
  /** what the table is: the file name (with the date added), the sheet name and the title row */
  title: string;
  /** the filter and sort, as the user chose them */
  filter?: string;
  lang?: Lang;
  columns: ExportColumn[];
  rows: ExportCell[][];
}

export const TABLE_EXPORT_PATH = '/api/v1/export/table.xlsx';

/** `{name}` placeholders filled from `vars` (the export titles are templates in the i18n files). */
export const fill = (template: string, vars: Record<string, string>): string => template.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m);

/** The file name the server gave: RFC 5987 `filename*` (UTF-8) first, else the plain `filename`. */
export function fileNameOf(disposition: string | null, fallback: string): string {
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition ?? '');
  if (star) {
    try {
      return decodeURIComponent(star[1]!.trim());
    } catch {
      // a broken escape: use the plain name
    }
  }
  return /filename="([^"]+)"/i.exec(disposition ?? '')?.[1] ?? fallback;
}

/** Asks the collector for the workbook and saves it under the server's (Chinese) file name; returns that name. */
export async function downloadXlsx(table: ExportTable): Promise<string> {
  const res = await fetch(TABLE_EXPORT_PATH, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(table) });
  if (!res.ok) {
    const e = (await res.json().catch(() => ({}))) as { code?: string; message?: string };
    throw new ApiFailure(res.status, e.code ?? 'HTTP', e.message ?? `POST ${TABLE_EXPORT_PATH}: ${res.status}`);
  }
  const name = fileNameOf(res.headers.get('content-disposition'), `${table.title}.xlsx`);
  saveBlob(await res.blob(), name);
  return name;
}

/** Saves a blob as a file through a temporary link. */
export function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
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
