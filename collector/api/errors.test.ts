/**
 * Every API error code is documented in docs/api-errors.md: one table row per code, with the same
 * HTTP status as in API_ERRORS, a meaning and what to do, in English and in Chinese.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { API_ERRORS, ApiError, type ApiErrorCode } from './errors.ts';

const DOC_PATH = new URL('../../docs/api-errors.md', import.meta.url);
const COLUMNS = ['Code', 'HTTP', 'Meaning', 'What to do', '含义', '处理方法'];
const HAN = /\p{Script=Han}/u;

interface Row {
  code: string;
  status: string;
  cells: string[];
}

/** The rows of the error table: `| \`CODE\` | status | … |`. */
function errorTableRows(markdown: string): { header: string[] | undefined; rows: Row[] } {
  const cellsOf = (line: string) =>
    line
      .trim()
      .replace(/^\|/, '')
      .replace(/\|$/, '')
      .split('|')
      .map((c) => c.trim());
  const lines = markdown.split('\n').filter((l) => l.trim().startsWith('|'));
  const header = lines.map(cellsOf).find((c) => c[0] === 'Code');
  const rows: Row[] = [];
  for (const line of lines) {
    const cells = cellsOf(line);
    const m = /^`([A-Z_]+)`$/.exec(cells[0] ?? '');
    if (m) rows.push({ code: m[1]!, status: cells[1] ?? '', cells });
  }
  return { header, rows };
}

describe('docs/api-errors.md', () => {
  const { header, rows } = errorTableRows(readFileSync(DOC_PATH, 'utf8'));
  const codes = Object.keys(API_ERRORS) as ApiErrorCode[];

  it('has the table with code, HTTP status, meaning and what to do, in English and Chinese', () => {
    expect(header).toEqual(COLUMNS);
  });

  it.each(codes)('documents %s with its HTTP status and a meaning and remedy in both languages', (code) => {
    const matching = rows.filter((r) => r.code === code);
    expect(matching, `${code} must have exactly one row in docs/api-errors.md`).toHaveLength(1);
    const row = matching[0]!;
    expect(row.cells, `${code}: one cell per column`).toHaveLength(COLUMNS.length);
    expect(row.status, `${code}: HTTP status`).toBe(String(API_ERRORS[code].status));
    const [, , meaning, todo, meaningZh, todoZh] = row.cells as [string, string, string, string, string, string];
    for (const [what, text] of [
      ['meaning', meaning],
      ['what to do', todo],
    ] as const) {
      expect(text.length, `${code}: ${what} (English)`).toBeGreaterThan(10);
      expect(text, `${code}: ${what} is English`).toMatch(/[A-Za-z]{3,}/);
    }
    for (const [what, text] of [
      ['含义', meaningZh],
      ['处理方法', todoZh],
    ] as const) {
      expect(text, `${code}: ${what} is Chinese`).toMatch(HAN);
    }
  });

  it('documents no code that does not exist', () => {
    expect(rows.map((r) => r.code).filter((c) => !(c in API_ERRORS))).toEqual([]);
  });

  it('the check itself notices a missing code', () => {
    const doc = readFileSync(DOC_PATH, 'utf8');
    const without = doc
      .split('\n')
      .filter((l) => !l.startsWith('| `AGENT_TIMEOUT`'))
      .join('\n');
    const found = new Set(errorTableRows(without).rows.map((r) => r.code));
    expect(codes.filter((c) => !found.has(c))).toEqual(['AGENT_TIMEOUT']);
  });
});

describe('ApiError', () => {
  it('takes status and message from API_ERRORS', () => {
    const e = new ApiError('CSV_REJECTED', '3', { imported: 0 });
    expect(e.status).toBe(422);
    expect(e.message).toBe('the file has 3 bad row(s); nothing was imported');
    expect(e.extra).toEqual({ imported: 0 });
    expect(new ApiError('NOT_FOUND', 'school 3715020001').message).toBe('school 3715020001 not found');
    expect(new ApiError('FORBIDDEN', '王老师 (school-admin, 3715020001) may not enroll devices at 3715020002').message).toBe('王老师 (school-admin, 3715020001) may not enroll devices at 3715020002');
  });

  it('uses an error status (4xx or 5xx) for every code', () => {
    for (const def of Object.values(API_ERRORS)) expect(def.status).toBeGreaterThanOrEqual(400);
  });
});
