/**
 * `campus admin …`: inventory administration, either straight on the store (PostgreSQL, or the
 * embedded one when no collector holds it) or through a running collector's API
 * (`--collector-url`), since the embedded PGlite store can only be opened by one process.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '../collector/collector.ts';
import { countiesFromFeatures, KNOWN_CITIES } from '../collector/geo/regions.ts';
import type { Db, ImportResult, Inventory } from '../collector/store/index.ts';
import { Users, type NewUser, type UserEntry } from '../collector/auth/users.ts';
import { generateUserPassword } from '../collector/auth/password-policy.ts';
import type { ResolvedOptions } from './options.ts';

export class AdminError extends Error {}

interface Target {
  inventory?: Inventory;
  db?: Db;
  api?: { url: string; token: string };
  close(): Promise<void>;
}

async function target(o: ResolvedOptions): Promise<Target> {
  if (o.collectorUrl) {
    const token = (o.apiToken as string | undefined) ?? readTokenFile(o.dataDir as string);
    return { api: { url: String(o.collectorUrl).replace(/\/$/, ''), token }, close: async () => {} };
  }
  const store = await openStore({ databaseUrl: o.databaseUrl as string | undefined, dataDir: o.dataDir as string });
  return { inventory: store.inventory, db: store.db, close: () => store.db.close() };
}

function readTokenFile(dataDir: string): string {
  try {
    return readFileSync(join(dataDir, 'api-token'), 'utf8').trim();
  } catch {
    throw new AdminError(`no API token: pass --api-token (CAMPUS_API_TOKEN) or point --data-dir at the collector's data directory`);
  }
}

async function callApi<T>(api: { url: string; token: string }, method: string, path: string, body?: string, contentType = 'application/json'): Promise<{ status: number; json: T }> {
  let res: Response;
  try {
    res = await fetch(`${api.url}${path}`, { method, headers: { authorization: `Bearer ${api.token}`, ...(body !== undefined ? { 'content-type': contentType } : {}) }, body });
  } catch (err) {
    throw new AdminError(`cannot reach the collector at ${api.url}: ${(err as Error).message}`);
  }
  // 204 and the like have no body
  const text = await res.text();
  let json: unknown = {};
  try {
    if (text) json = JSON.parse(text);
  } catch {
    json = { message: `collector answered ${res.status}: ${text.slice(0, 200)}` };
  }
  return { status: res.status, json: json as T };
}

/** The collector's answer, or its message as the error. */
async function expectStatus<T>(call: Promise<{ status: number; json: T & { message?: string } }>, status: number): Promise<T> {
  const r = await call;
  if (r.status !== status) throw new AdminError(r.json.message ?? `collector answered ${r.status}`);
  return r.json;
}

export async function addAgent(o: ResolvedOptions, schoolCode: string, agentId: string): Promise<{ username: string; password: string }> {
  const t = await target(o);
  try {
    if (t.inventory) return await t.inventory.addAgent({ schoolCode, agentId });
    const r = await callApi<{ username: string; password: string; message?: string }>(t.api!, 'POST', '/api/v1/admin/agents', JSON.stringify({ schoolCode, agentId }), 'application/json');
    if (r.status !== 201) throw new AdminError(r.json.message ?? `collector answered ${r.status}`);
    return r.json;
  } finally {
    await t.close();
  }
}

export async function importSchools(o: ResolvedOptions, file: string): Promise<ImportResult> {
  let csv: string;
  try {
    csv = readFileSync(file, 'utf8');
  } catch (err) {
    throw new AdminError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const t = await target(o);
  try {
    if (t.inventory) return await t.inventory.importSchoolsCsv(csv);
    const r = await callApi<ImportResult & { details?: ImportResult; message?: string }>(t.api!, 'POST', '/api/v1/admin/schools/import', csv, 'text/csv');
    if (r.status === 200) return r.json;
    if (r.json.details) return r.json.details;
    throw new AdminError(r.json.message ?? `collector answered ${r.status}`);
  } finally {
    await t.close();
  }
}

export async function importRegions(o: ResolvedOptions, file: string, cityCode: string, cityName?: string): Promise<number> {
  const name = cityName ?? KNOWN_CITIES[cityCode];
  if (!name) throw new AdminError(`unknown city ${cityCode}: pass --city-name`);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new AdminError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const counties = countiesFromFeatures(data, cityCode);
  const t = await target(o);
  try {
    if (!t.inventory) throw new AdminError('import-regions works on the store directly; stop the collector or use DATABASE_URL');
    await t.inventory.upsertRegion({ code: cityCode, name, level: 'city' });
    for (const c of counties) await t.inventory.upsertRegion(c);
    return counties.length;
  } finally {
    await t.close();
  }
}

/**
 * The token the broker sends to the collector: given, or the collector's own `api-token` file.
 * Never generated here: a token the collector does not know would refuse every agent.
 */
export function apiTokenFor(o: ResolvedOptions): string {
  return (o.apiToken as string | undefined) ?? readTokenFile(o.dataDir as string);
}

// ---- people's accounts ----

/** Adds a user; without a password one is generated (returned, to be shown once). */
export async function addUser(o: ResolvedOptions, u: NewUser): Promise<{ user: UserEntry; password?: string }> {
  const t = await target(o);
  try {
    if (t.db) return await new Users(t.db).add(u);
    return await expectStatus(callApi<{ user: UserEntry; password?: string }>(t.api!, 'POST', '/api/v1/users', JSON.stringify(u)), 201);
  } finally {
    await t.close();
  }
}

export async function listUsers(o: ResolvedOptions): Promise<UserEntry[]> {
  const t = await target(o);
  try {
    if (t.db) return await new Users(t.db).list();
    return (await expectStatus(callApi<{ users: UserEntry[] }>(t.api!, 'GET', '/api/v1/users'), 200)).users;
  } finally {
    await t.close();
  }
}

/** Sets a user's password (generated when not given: returned) and ends their sessions. */
export async function setUserPassword(o: ResolvedOptions, username: string, given?: string): Promise<{ generated?: string }> {
  const password = given ?? generateUserPassword();
  const t = await target(o);
  try {
    if (t.db) await new Users(t.db).setPassword(username, password);
    else await expectStatus(callApi<{ message?: string }>(t.api!, 'POST', `/api/v1/users/${encodeURIComponent(username)}/password`, JSON.stringify({ password })), 204);
    return given === undefined ? { generated: password } : {};
  } finally {
    await t.close();
  }
}

/** Disables a user: they cannot sign in, and their sessions end. */
export async function disableUser(o: ResolvedOptions, username: string): Promise<UserEntry> {
  const t = await target(o);
  try {
    if (t.db) return await new Users(t.db).update(username, { disabled: true });
    return (await expectStatus(callApi<{ user: UserEntry }>(t.api!, 'PUT', `/api/v1/users/${encodeURIComponent(username)}`, JSON.stringify({ disabled: true })), 200)).user;
  } finally {
    await t.close();
  }
}

/** A password piped in (`--password-stdin`): the first line, without its line ending. */
export async function readPasswordFromStdin(stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  const first = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
  if (!first) throw new AdminError('--password-stdin: nothing was read from standard input');
  return first;
}
