/**
 * A small RFC 4180 CSV reader: comma separator, CRLF or LF line ends, double-quoted fields that may
 * hold commas, quotes ("") and line breaks, optional UTF-8 BOM. Each record carries the line number
 * it starts on, so import errors can point at the line a person sees in an editor. Syntax errors are
 * collected, not thrown: the caller reports them alongside validation errors.
 */

export interface CsvRecord {
  /** 1-based line on which the record starts. */
  line: number;
  fields: string[];
}

export interface CsvParseResult {
  records: CsvRecord[];
  errors: { line: number; message: string }[];
}

export function parseCsv(text: string): CsvParseResult {
  const records: CsvRecord[] = [];
  const errors: { line: number; message: string }[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const n = text.length;

  while (i < n) {
    const startLine = line;
    const fields: string[] = [];
    let bad: string | null = null;
    let quoted = false;
    // One record: fields until an unquoted line end or the end of the text.
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        quoted = true;
        i++;
        let closed = false;
        while (i < n) {
          const c = text[i]!;
          if (c === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            closed = true;
            break;
          }
          if (c === '\n') line++;
          field += c;
          i++;
        }
        if (!closed) {
          bad ??= `quoted field opened on line ${startLine} is never closed`;
        } else if (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          bad ??= `unexpected character ${JSON.stringify(text[i])} after a closing quote`;
          while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') i++;
        }
      } else {
        while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') {
          if (text[i] === '"') bad ??= 'a quote inside an unquoted field (quote the whole field and double the quote)';
          field += text[i];
          i++;
        }
      }
      fields.push(field);
      if (i < n && text[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    // Line end: CRLF, LF or a lone CR.
    if (text[i] === '\r') i++;
    if (text[i] === '\n') i++;
    line++;
    if (bad) {
      errors.push({ line: startLine, message: bad });
      continue;
    }
    // A blank line (one empty unquoted field) is not a record.
    if (!quoted && fields.length === 1 && fields[0] === '') continue;
    records.push({ line: startLine, fields });
  }
  return { records, errors };
}

export interface CsvTableRow<C extends string> {
  line: number;
  row: Record<C, string>;
}

/**
 * A CSV file with a header row naming `columns` (case-insensitive, any order; `optional` ones may be
 * absent and come back as ''). Header and shape problems are reported per line; rows are trimmed.
 */
export function parseCsvTable<C extends string>(
  text: string,
  columns: readonly C[],
  optional: readonly C[] = [],
): { rows: CsvTableRow<C>[]; errors: { line: number; column?: string; message: string }[] } {
  const { records, errors } = parseCsv(text);
  const out: { line: number; column?: string; message: string }[] = [...errors];
  const [header, ...records2] = records;
  if (!header) return { rows: [], errors: [...out, { line: 1, message: `the file has no header row (expected ${columns.join(',')})` }] };
  const index = new Map<string, number>();
  header.fields.forEach((f, i) => {
    const n = f.trim().toLowerCase();
    if (!(columns as readonly string[]).includes(n)) out.push({ line: header.line, column: n, message: `unknown column ${JSON.stringify(n)}` });
    else if (index.has(n)) out.push({ line: header.line, column: n, message: `column ${n} appears twice` });
    else index.set(n, i);
  });
  const missing = columns.filter((c) => !index.has(c) && !optional.includes(c));
  if (missing.length) out.push({ line: header.line, message: `missing column(s): ${missing.join(', ')}` });
  if (out.some((e) => e.line === header.line)) return { rows: [], errors: out };
  const rows: CsvTableRow<C>[] = [];
  for (const rec of records2) {
    if (rec.fields.length !== header.fields.length) {
      out.push({ line: rec.line, message: `expected ${header.fields.length} fields, found ${rec.fields.length}` });
      continue;
    }
    const row = Object.fromEntries(columns.map((c) => [c, index.has(c) ? rec.fields[index.get(c)!]!.trim() : ''])) as Record<C, string>;
    rows.push({ line: rec.line, row });
  }
  return { rows, errors: out };
}
