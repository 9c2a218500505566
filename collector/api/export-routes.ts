/**
 * `POST /api/v1/export/table.xlsx`: the console sends the table the user sees (typed columns, the
 * rows after filtering and sorting) and gets it back as an Excel workbook with a Chinese file name.
 * Open like the reads: it formats what the caller sends and reads nothing from the store. The
 * schema bounds the size; `checkTable` checks every cell against its column's type. The workbook is
 * streamed into the reply as it is built, a few exports at a time (export-queue.ts).
 */
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { ApiError } from './errors.ts';
import { XLSX, type ExportQueue } from './export-queue.ts';
import { checkTable, COLUMN_TYPES, TABLE_LIMITS, TableRejected, type TableExport } from './table-workbook.ts';

const L = TABLE_LIMITS;
const literals = <T extends readonly string[]>(xs: T) => Type.Union(xs.map((x) => Type.Literal(x)));
const Decimals = Type.Integer({ minimum: 0, maximum: L.decimals, description: 'digits after the point (number: default 2, percent: default 1)' });

const Column = Type.Object(
  {
    header: Type.String({ minLength: 1, maxLength: L.headerChars }),
    type: literals(COLUMN_TYPES),
    decimals: Type.Optional(Decimals),
  },
  { additionalProperties: false, description: 'text; integer; number; percent (a share, 0.5 = 50%); date (YYYY-MM-DD); datetime (ISO 8601 with zone, shown in China time)' },
);
// Cells are checked by `checkTable`, not here: fastify's ajv coerces types, and in a union it would
// turn the number 0.87 into the text "0.87" (or a school code into a number) before anyone saw it.
const Cell = Type.Unknown({
  description: `a string (at most ${L.cellChars} characters), a number, null, or {value, type: integer|number|percent, decimals?}: a number with its own format in a numeric column whose rows differ in unit`,
});
export const TableBody = Type.Object(
  {
    title: Type.String({ minLength: 1, maxLength: L.titleChars, description: 'what the table is (the file name, the sheet name and the title row)' }),
    filter: Type.Optional(Type.String({ maxLength: L.filterChars, description: 'the filter and sort the user chose, a line under the title' })),
    lang: Type.Optional(Type.Union([Type.Literal('zh-CN'), Type.Literal('en')], { description: 'language of the export-time note (default zh-CN)' })),
    columns: Type.Array(Column, { minItems: 1, maxItems: L.columns }),
    rows: Type.Array(Type.Array(Cell, { maxItems: L.columns }), { maxItems: L.rows }),
  },
  { additionalProperties: false },
);

export function registerExportRoutes(app: FastifyInstance, deps: { exports: ExportQueue }): void {
  app.post(
    '/api/v1/export/table.xlsx',
    {
      schema: {
        summary: `A table as the console shows it, as an Excel workbook (title row with the export time, frozen bold header, typed cells); at most ${L.rows} rows, ${L.columns} columns, ${L.cells} cells`,
        body: TableBody,
        produces: [XLSX],
        response: {
          200: { description: `the workbook; Content-Disposition names it <title>_<date in China>.xlsx (RFC 5987 filename*)`, content: { [XLSX]: { schema: { type: 'string', format: 'binary' } } } },
          400: { $ref: 'Error#' },
          503: { $ref: 'Error#' },
        },
      },
    },
    async (req, reply) => {
      const table = req.body as TableExport;
      try {
        checkTable(table);
      } catch (err) {
        if (err instanceof TableRejected) throw new ApiError('INVALID_INPUT', err.message);
        throw err;
      }
      // checked before a turn is taken or a byte is sent: a bad table always gets its 400
      return deps.exports.send(req, reply, () => table, (date) => `table_${date}.xlsx`);
    },
  );
}
