/**
 * One small database interface over two engines that speak the same SQL: a real PostgreSQL server
 * (`pg`, production) and PGlite (PostgreSQL in WASM, the embedded default). Everything above this
 * file writes plain PostgreSQL and never asks which engine it runs on.
 *
 * Both engines are told to return the same JavaScript types: int8 (bigint, count(*)) as number,
 * numeric as number, timestamptz as Date, jsonb parsed. A bigint beyond 2^53 is an error rather
 * than a silently rounded number.
 */
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';

export interface Db {
  readonly kind: 'postgres' | 'pglite';
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs one or more statements without parameters (migrations, DDL). */
  exec(sql: string): Promise<void>;
  /** Runs `fn` in a transaction (a savepoint when already inside one); rolls back if it throws. */
  transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export interface OpenDbOptions {
  /** `postgres://…`; wins over dataDir. */
  databaseUrl?: string;
  /** PGlite data directory; created when missing. Without either option: in-memory PGlite. */
  dataDir?: string;
}

const INT8_OID = 20;
const NUMERIC_OID = 1700;

function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`bigint ${text} does not fit a JavaScript number`);
  return n;
}

export async function openDb(opts: OpenDbOptions = {}): Promise<Db> {
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl);
  return openPglite({ dataDir: opts.dataDir });
}

// ---- PostgreSQL (pg) ----

const pgTypes = {
  getTypeParser(oid: number, format?: string) {
    if (oid === INT8_OID) return parseInt8;
    if (oid === NUMERIC_OID) return Number;
    return format === undefined ? pg.types.getTypeParser(oid) : pg.types.getTypeParser(oid, format as 'text');
  },
} as pg.CustomTypesConfig;

export async function openPostgres(databaseUrl: string, poolSize = 5): Promise<Db> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize, types: pgTypes });
  // An idle client losing its connection (server restart) must not crash the process; the pool
  // drops it and the next query reconnects.
  pool.on('error', () => {});
  const db: Db = {
    kind: 'postgres',
    async query<T>(sql: string, params?: unknown[]) {
      const res = await pool.query(sql, params as unknown[] | undefined);
      return res.rows as T[];
    },
    async exec(sql: string) {
      await pool.query(sql);
    },
    async transaction<T>(fn: (tx: Db) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn(postgresClientDb(client, 0));
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    async ping() {
      try {
        await pool.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      await pool.end();
    },
  };
  await db.query('SELECT 1'); // fail early on a bad URL
  return db;
}

function postgresClientDb(client: pg.PoolClient, depth: number): Db {
  const self: Db = {
    kind: 'postgres',
    async query<T>(sql: string, params?: unknown[]) {
      return (await client.query(sql, params as unknown[] | undefined)).rows as T[];
    },
    async exec(sql: string) {
      await client.query(sql);
    },
    transaction: <T>(fn: (tx: Db) => Promise<T>) => withSavepoint(self, depth + 1, fn, (d) => postgresClientDb(client, d)),
    async ping() {
      return true;
    },
    async close() {
      throw new Error('close() inside a transaction');
    },
  };
  return self;
}

// ---- PGlite ----

export interface OpenPgliteOptions {
  dataDir?: string;
  /** A `dumpDataDir()` tarball to start from (tests start every database from one migrated dump). */
  loadDataDir?: Blob | File;
}

export async function openPglite(opts: OpenPgliteOptions = {}): Promise<Db> {
  const pglite = await PGlite.create({
    dataDir: opts.dataDir,
    loadDataDir: opts.loadDataDir,
    parsers: { [INT8_OID]: parseInt8, [NUMERIC_OID]: Number },
  });
  return wrapPglite(pglite);
}

type PgliteTx = Parameters<Parameters<PGlite['transaction']>[0]>[0];

export function wrapPglite(pglite: PGlite): Db {
  return {
    kind: 'pglite',
    async query<T>(sql: string, params?: unknown[]) {
      return (await pglite.query<T>(sql, params)).rows;
    },
    async exec(sql: string) {
      await pglite.exec(sql);
    },
    // PGlite's own transaction() holds its connection lock, so concurrent callers cannot slip
    // statements into our transaction.
    transaction: <T>(fn: (tx: Db) => Promise<T>) => pglite.transaction((tx) => fn(pgliteTxDb(tx, 0))),
    async ping() {
      try {
        await pglite.query('SELECT 1');
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      if (!pglite.closed) await pglite.close();
    },
  };
}

function pgliteTxDb(tx: PgliteTx, depth: number): Db {
  const self: Db = {
    kind: 'pglite',
    async query<T>(sql: string, params?: unknown[]) {
      return (await tx.query<T>(sql, params)).rows;
    },
    async exec(sql: string) {
      await tx.exec(sql);
    },
    transaction: <T>(fn: (inner: Db) => Promise<T>) => withSavepoint(self, depth + 1, fn, (d) => pgliteTxDb(tx, d)),
    async ping() {
      return true;
    },
    async close() {
      throw new Error('close() inside a transaction');
    },
  };
  return self;
}

async function withSavepoint<T>(db: Db, depth: number, fn: (tx: Db) => Promise<T>, make: (depth: number) => Db): Promise<T> {
  const name = `sp_${depth}`;
  await db.exec(`SAVEPOINT ${name}`);
  try {
    const result = await fn(make(depth));
    await db.exec(`RELEASE SAVEPOINT ${name}`);
    return result;
  } catch (err) {
    await db.exec(`ROLLBACK TO SAVEPOINT ${name}`);
    throw err;
  }
}
