/** The inventory store's public surface. */
export { openDb, openPostgres, openPglite, wrapPglite, type Db, type OpenDbOptions } from './db.ts';
export { migrate, loadMigrations, MIGRATIONS_DIR, type Migration } from './migrate.ts';
export { hashPassword, verifyPassword, generatePassword } from './passwords.ts';
export { parseCsv, type CsvRecord, type CsvParseResult } from './csv.ts';
export * from './inventory.ts';
export * from './enrollment.ts';
export * from './placement.ts';
