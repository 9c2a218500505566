/**
 * Fresh migrated PGlite databases for tests. Creating one from nothing costs seconds and hundreds
 * of megabytes, so each process migrates one instance once, dumps its data directory, and starts
 * every test database from that dump.
 */
import { PGlite } from '@electric-sql/pglite';
import { openPglite, wrapPglite, type Db } from '../../collector/store/db.ts';
import { migrate } from '../../collector/store/migrate.ts';

let template: Promise<Blob> | undefined;

async function makeTemplate(): Promise<Blob> {
  const pglite = await PGlite.create();
  try {
    await migrate(wrapPglite(pglite));
    return await pglite.dumpDataDir('none');
  } finally {
    await pglite.close();
  }
}

/** A new in-memory PGlite with the current schema applied. Close it when done. */
export async function freshPgliteDb(): Promise<Db> {
  template ??= makeTemplate();
  return openPglite({ loadDataDir: await template });
}
