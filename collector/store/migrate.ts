/**
 * Schema migrations: `migrations/NNN_name.sql`, applied in order, each in its own transaction,
 * recorded in `schema_migrations` with a checksum. Re-running applies only what is missing; an
 * applied file that was edited afterwards is an error (fix forward with a new migration instead).
 *
 * On PostgreSQL several collectors may start at once: every step takes a transaction-scoped
 * advisory lock first, so migrators queue instead of racing, and the loser sees the winner's row.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Db } from './db.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
/** Arbitrary constant shared by every campus migrator ("campus" in ASCII, as a number). */
const MIGRATION_LOCK_KEY = 0x63616d707573;
const FILE_RE = /^(\d{3})_([a-z0-9_]+)\.sql$/;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const out: Migration[] = [];
  for (const file of files) {
    const m = FILE_RE.exec(file);
    if (!m) throw new Error(`migration file name ${file} is not NNN_name.sql`);
    const sql = await readFile(`${dir}/${file}`, 'utf8');
    const version = Number(m[1]);
    if (out.some((x) => x.version === version)) throw new Error(`two migrations with version ${version}`);
    out.push({ version, name: m[2]!, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return out;
}

async function lock(tx: Db): Promise<void> {
  if (tx.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
}

/** Applies pending migrations; returns the versions applied by this call. */
export async function migrate(db: Db, migrations?: Migration[]): Promise<number[]> {
  const all = migrations ?? (await loadMigrations());
  await db.transaction(async (tx) => {
    await lock(tx);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    integer PRIMARY KEY,
      name       text NOT NULL,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
  });
  const applied: number[] = [];
  for (const mig of all) {
    const done = await db.transaction(async (tx) => {
      await lock(tx);
      const [row] = await tx.query<{ checksum: string }>('SELECT checksum FROM schema_migrations WHERE version = $1', [mig.version]);
      if (row) {
        if (row.checksum !== mig.checksum) {
          throw new Error(`migration ${mig.version}_${mig.name} was changed after it was applied (checksum mismatch)`);
        }
        return false;
      }
      try {
        await tx.exec(mig.sql);
      } catch (err) {
        throw new Error(`migration ${mig.version}_${mig.name} failed: ${(err as Error).message}`, { cause: err });
      }
      await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [mig.version, mig.name, mig.checksum]);
      return true;
    });
    if (done) applied.push(mig.version);
  }
  return applied;
}
