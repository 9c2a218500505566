/**
 * The two inventory backends for contract tests: a fresh database on the shared private
 * PostgreSQL server (from the global setup), and a fresh PGlite from the migrated dump.
 */
import { inject } from 'vitest';
import { openDb, migrate, type Db } from '../../collector/store/index.ts';
import { createTestDatabase, dropTestDatabase } from './postgres.ts';
import { freshPgliteDb } from './pglite.ts';

export interface StoreBackend {
  name: 'postgres' | 'pglite';
  open(): Promise<Db>;
  release(db: Db): Promise<void>;
}

const urls = new WeakMap<Db, string>();

export const STORE_BACKENDS: StoreBackend[] = [
  {
    name: 'postgres',
    async open() {
      const url = await createTestDatabase(inject('postgresUrl'));
      const db = await openDb({ databaseUrl: url });
      urls.set(db, url);
      await migrate(db);
      return db;
    },
    async release(db) {
      await db.close();
      await dropTestDatabase(inject('postgresUrl'), urls.get(db)!);
    },
  },
  { name: 'pglite', open: () => freshPgliteDb(), release: (db) => db.close() },
];
