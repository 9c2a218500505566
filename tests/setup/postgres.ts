/**
 * A private PostgreSQL server for tests: its own cluster in a temporary directory, on a free
 * loopback port, trust auth, fsync off (the data is thrown away). Debian's PostgreSQL refuses to
 * run as root, so as root the server runs as the `postgres` user. With CAMPUS_TEST_PG_URL set,
 * that server is used instead and nothing is started.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

const run = promisify(execFile);

export interface RunningPostgres {
  url: string;
  stop(): Promise<void>;
}

/** The newest installed server's bin directory (`/usr/lib/postgresql/<major>/bin`). */
export function findPostgresBin(): string {
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!majors[0]) throw new Error('no PostgreSQL server under /usr/lib/postgresql (apt-get install postgresql)');
  return join(root, majors[0], 'bin');
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export async function startPostgres(): Promise<RunningPostgres> {
  const external = process.env.CAMPUS_TEST_PG_URL;
  if (external) return { url: external, stop: async () => {} };

  const bin = findPostgresBin();
  const asRoot = process.getuid?.() === 0;
  const as = (cmd: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]) : run(join(bin, cmd), args));

  const dir = await mkdtemp(join(tmpdir(), 'campus-pg-'));
  const dataDir = join(dir, 'data');
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  await chmod(dir, 0o700);
  try {
    await as('initdb', ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    // The port is free when we look; a server that loses the race fails to start, so retry.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
      try {
        await as('pg_ctl', ['start', '-D', dataDir, '-w', '-t', '60', '-l', join(dir, 'server.log'), '-o', opts]);
      } catch (err) {
        if (attempt < 3) continue;
        throw err;
      }
      const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
      return {
        url,
        async stop() {
          await as('pg_ctl', ['stop', '-D', dataDir, '-m', 'fast', '-w']).catch(() => as('pg_ctl', ['stop', '-D', dataDir, '-m', 'immediate', '-w']));
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Creates an empty, uniquely named database on the server and returns its URL. */
export async function createTestDatabase(adminUrl: string): Promise<string> {
  const name = `campus_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Drops a database made by createTestDatabase (its pools must be closed first). */
export async function dropTestDatabase(adminUrl: string, databaseUrl: string): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  if (!/^campus_test_[0-9a-f]+$/.test(name)) throw new Error(`refusing to drop ${name}: not a test database`);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
