/**
 * The inventory repository: regions, schools, campus areas, agents and their MQTT credentials,
 * devices and users. Plain SQL over `Db`, so it runs the same on PostgreSQL and PGlite. Batch
 * writes (agent progress, device sightings) are single statements over `unnest()`ed arrays: one
 * round trip for hundreds of rows.
 */
import type { DiscoveredDevice } from '../../protocol/messages.ts';
import { agentUsername, isAgentId, isSchoolCode, parseAgentUsername } from '../../protocol/topics.ts';
import type { Db } from './db.ts';
import { parseCsv } from './csv.ts';
import { generatePassword, hashPassword, verifyPassword } from './passwords.ts';
import {
  SCHOOL_CSV_COLUMNS,
  schoolFromCsvRow,
  validateSchool,
  type Ownership,
  type SchoolCsvColumn,
  type SchoolInput,
  type SchoolType,
} from './school-validation.ts';

export { SCHOOL_TYPES, OWNERSHIPS, SCHOOL_CSV_COLUMNS, type SchoolInput, type SchoolType, type Ownership } from './school-validation.ts';

export type InventoryErrorCode = 'invalid' | 'not-found' | 'conflict';
/** An error a caller can show to a person (and map to 400/404/409). */
export class InventoryError extends Error {
  constructor(
    readonly code: InventoryErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'InventoryError';
  }
}

export type Principal = { kind: 'agent'; schoolCode: string; agentId: string } | { kind: 'service'; name: string };

export type RegionLevel = 'city' | 'county';
export interface Region {
  code: string;
  name: string;
  level: RegionLevel;
  parentCode: string | null;
  centreLon: number | null;
  centreLat: number | null;
}
export type RegionInput = Omit<Region, 'parentCode' | 'centreLon' | 'centreLat'> & Partial<Pick<Region, 'parentCode' | 'centreLon' | 'centreLat'>>;

export interface School {
  code: string;
  name: string;
  countyCode: string;
  type: SchoolType;
  ownership: Ownership;
  studentCount: number;
  staffCount: number;
  contractedUplinkMbps: number | null;
  lon: number | null;
  lat: number | null;
  address: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ImportError {
  line: number;
  column?: string;
  message: string;
}
export interface ImportResult {
  imported: number;
  errors: ImportError[];
}

export type CampusAreaKind = 'building' | 'key-area' | 'outline' | 'wall';
export interface CampusArea {
  id: number;
  schoolCode: string;
  name: string;
  kind: CampusAreaKind;
  keyAreaType: string | null;
  requiredLevel: string | null;
  geometry: GeoJsonGeometry;
  createdAt: Date;
}
export interface GeoJsonGeometry {
  type: string;
  coordinates?: unknown;
  geometries?: unknown;
}
export interface CampusAreaInput {
  schoolCode: string;
  name: string;
  kind: CampusAreaKind;
  keyAreaType?: string | null;
  requiredLevel?: string | null;
  geometry: GeoJsonGeometry;
}

export type AgentState = 'never-seen' | 'online' | 'offline';
export interface Agent {
  schoolCode: string;
  agentId: string;
  state: AgentState;
  stateSince: Date | null;
  lastSeen: Date | null;
  /** Highest applied sequence number; -1 before the first one. */
  lastSeq: number;
  seqGaps: number;
  duplicates: number;
  agentVersion: string | null;
  createdAt: Date;
}
export interface AgentProgressRow {
  schoolCode: string;
  agentId: string;
  lastSeq: number;
  seqGapsDelta: number;
  duplicatesDelta: number;
  lastSeen: Date;
}

export interface Device {
  schoolCode: string;
  agentId: string;
  deviceId: string;
  kind: string;
  protocol: string | null;
  address: string | null;
  profile: string | null;
  attributes: Record<string, number | boolean | string>;
  /** 'seen' | 'discovered' | 'enrolled' | 'retired', or a state added by a later migration. */
  state: string;
  firstSeen: Date;
  lastSeen: Date;
  goneAt: Date | null;
}
export interface DeviceSighting {
  schoolCode: string;
  agentId: string;
  deviceId: string;
  seenAt: Date;
}

const REGION_COLS = `code, name, level, parent_code AS "parentCode", centre_lon AS "centreLon", centre_lat AS "centreLat"`;
const SCHOOL_COLS = `code, name, county_code AS "countyCode", type, ownership, student_count AS "studentCount",
  staff_count AS "staffCount", contracted_uplink_mbps AS "contractedUplinkMbps", lon, lat, address,
  created_at AS "createdAt", updated_at AS "updatedAt"`;
const AGENT_COLS = `school_code AS "schoolCode", agent_id AS "agentId", state, state_since AS "stateSince",
  last_seen AS "lastSeen", last_seq AS "lastSeq", seq_gaps AS "seqGaps", duplicates, agent_version AS "agentVersion",
  created_at AS "createdAt"`;
const DEVICE_COLS = `school_code AS "schoolCode", agent_id AS "agentId", device_id AS "deviceId", kind, protocol, address,
  profile, attributes, state, first_seen AS "firstSeen", last_seen AS "lastSeen", gone_at AS "goneAt"`;
const AREA_COLS = `id, school_code AS "schoolCode", name, kind, key_area_type AS "keyAreaType", required_level AS "requiredLevel",
  geometry, created_at AS "createdAt"`;
const DEVICE_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
const SERVICE_NAME_RE = /^[a-z][a-z0-9_-]{0,62}$/;
const GEOMETRY_TYPES = ['Point', 'MultiPoint', 'LineString', 'MultiLineString', 'Polygon', 'MultiPolygon', 'GeometryCollection'];
/** A CSV import reports at most this many errors (plus a count of the rest). */
const MAX_IMPORT_ERRORS = 500;
const MAX_IMPORT_ROWS = 50_000;
const UPSERT_CHUNK = 1000;

function progressKey(schoolCode: string, agentId: string): string {
  return `${schoolCode}/${agentId}`;
}

function assertAgentAddress(schoolCode: string, agentId: string): void {
  if (!isSchoolCode(schoolCode)) throw new InventoryError('invalid', `school code must be 10 digits, got ${JSON.stringify(schoolCode)}`);
  if (!isAgentId(agentId)) throw new InventoryError('invalid', `invalid agent id ${JSON.stringify(agentId)}`);
}

export class Inventory {
  /** Hash compared against when a username is unknown, so that case costs the same time. */
  #dummyHash: Promise<string> | undefined;

  constructor(readonly db: Db) {}

  // ---- regions ----

  async upsertRegion(r: RegionInput): Promise<Region> {
    if (!/^[0-9]{6}$/.test(r.code)) throw new InventoryError('invalid', `region code must be 6 digits (GB/T 2260), got ${JSON.stringify(r.code)}`);
    if (r.level !== 'city' && r.level !== 'county') throw new InventoryError('invalid', `region level must be city or county, got ${JSON.stringify(r.level)}`);
    if (typeof r.name !== 'string' || r.name.trim() === '') throw new InventoryError('invalid', 'region name is empty');
    if (r.parentCode != null && !(await this.getRegion(r.parentCode))) throw new InventoryError('invalid', `parent region ${r.parentCode} does not exist`);
    const [row] = await this.db.query<Region>(
      `INSERT INTO regions (code, name, level, parent_code, centre_lon, centre_lat) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, parent_code = excluded.parent_code,
         centre_lon = excluded.centre_lon, centre_lat = excluded.centre_lat
       RETURNING ${REGION_COLS}`,
      [r.code, r.name.trim(), r.level, r.parentCode ?? null, r.centreLon ?? null, r.centreLat ?? null],
    );
    return row!;
  }

  async getRegion(code: string): Promise<Region | null> {
    const [row] = await this.db.query<Region>(`SELECT ${REGION_COLS} FROM regions WHERE code = $1`, [code]);
    return row ?? null;
  }

  async listRegions(opts: { level?: RegionLevel; parentCode?: string } = {}): Promise<Region[]> {
    return this.db.query<Region>(
      `SELECT ${REGION_COLS} FROM regions WHERE ($1::text IS NULL OR level = $1) AND ($2::text IS NULL OR parent_code = $2) ORDER BY code`,
      [opts.level ?? null, opts.parentCode ?? null],
    );
  }

  // ---- schools ----

  async upsertSchool(s: SchoolInput): Promise<School> {
    const errors = validateSchool(s);
    if (errors.length) throw new InventoryError('invalid', errors.map((e) => `${e.column}: ${e.message}`).join('; '));
    const [county] = await this.db.query(`SELECT 1 FROM regions WHERE code = $1 AND level = 'county'`, [s.countyCode]);
    if (!county) throw new InventoryError('invalid', `county ${s.countyCode} is not a county in regions`);
    await this.writeSchools(this.db, [s]);
    return (await this.getSchool(s.code))!;
  }

  async getSchool(code: string): Promise<School | null> {
    const [row] = await this.db.query<School>(`SELECT ${SCHOOL_COLS} FROM schools WHERE code = $1`, [code]);
    return row ?? null;
  }

  async listSchools(opts: { countyCode?: string } = {}): Promise<School[]> {
    return this.db.query<School>(`SELECT ${SCHOOL_COLS} FROM schools WHERE ($1::text IS NULL OR county_code = $1) ORDER BY code`, [opts.countyCode ?? null]);
  }

  private async writeSchools(db: Db, schools: SchoolInput[]): Promise<void> {
    for (let i = 0; i < schools.length; i += UPSERT_CHUNK) {
      const chunk = schools.slice(i, i + UPSERT_CHUNK);
      const col = <K extends keyof SchoolInput>(k: K) => chunk.map((s) => s[k] ?? null);
      await db.query(
        `INSERT INTO schools (code, name, county_code, type, ownership, student_count, staff_count, contracted_uplink_mbps, lon, lat, address)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::int[], $8::int[],
                              $9::float8[], $10::float8[], $11::text[])
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, county_code = excluded.county_code, type = excluded.type,
           ownership = excluded.ownership, student_count = excluded.student_count, staff_count = excluded.staff_count,
           contracted_uplink_mbps = excluded.contracted_uplink_mbps, lon = excluded.lon, lat = excluded.lat,
           address = excluded.address, updated_at = now()`,
        [
          col('code'),
          chunk.map((s) => s.name.trim()),
          col('countyCode'),
          col('type'),
          col('ownership'),
          col('studentCount'),
          col('staffCount'),
          col('contractedUplinkMbps'),
          col('lon'),
          col('lat'),
          col('address'),
        ],
      );
    }
  }

  /**
   * Imports schools from CSV, all or nothing: when any row is bad nothing is written and every bad
   * row is reported. Rows whose code already exists update that school.
   */
  async importSchoolsCsv(csvText: string): Promise<ImportResult> {
    const errors: ImportError[] = [];
    const { records, errors: syntaxErrors } = parseCsv(csvText);
    errors.push(...syntaxErrors);
    const [header, ...rows] = records;
    if (!header) {
      errors.push({ line: 1, message: `the file has no header row (expected ${SCHOOL_CSV_COLUMNS.join(',')})` });
      return { imported: 0, errors };
    }
    const names = header.fields.map((f) => f.trim().toLowerCase());
    const index = new Map<string, number>();
    names.forEach((n, i) => {
      if (!(SCHOOL_CSV_COLUMNS as readonly string[]).includes(n)) errors.push({ line: header.line, column: n, message: `unknown column ${JSON.stringify(n)}` });
      else if (index.has(n)) errors.push({ line: header.line, column: n, message: `column ${n} appears twice` });
      else index.set(n, i);
    });
    const missing = SCHOOL_CSV_COLUMNS.filter((c) => !index.has(c));
    if (missing.length) errors.push({ line: header.line, message: `missing column(s): ${missing.join(', ')}` });
    if (errors.some((e) => e.line === header.line)) return { imported: 0, errors: errors.sort((a, b) => a.line - b.line) };
    if (rows.length > MAX_IMPORT_ROWS) return { imported: 0, errors: [{ line: rows[MAX_IMPORT_ROWS]!.line, message: `more than ${MAX_IMPORT_ROWS} rows; split the file` }] };

    const counties = new Set((await this.db.query<{ code: string }>(`SELECT code FROM regions WHERE level = 'county'`)).map((r) => r.code));
    const firstLineOfCode = new Map<string, number>();
    const good: SchoolInput[] = [];
    for (const rec of rows) {
      if (rec.fields.length !== names.length) {
        errors.push({ line: rec.line, message: `expected ${names.length} fields, found ${rec.fields.length}` });
        continue;
      }
      const row = Object.fromEntries(SCHOOL_CSV_COLUMNS.map((c) => [c, rec.fields[index.get(c)!]!.trim()])) as Record<SchoolCsvColumn, string>;
      const { school, errors: rowErrors } = schoolFromCsvRow(row);
      if (/^[0-9]{6}$/.test(school.countyCode) && !counties.has(school.countyCode)) {
        rowErrors.push({ column: 'county_code', message: `county ${school.countyCode} is not in the regions table` });
      }
      const first = firstLineOfCode.get(school.code);
      if (first !== undefined) rowErrors.push({ column: 'code', message: `school code ${school.code} already appears on line ${first}` });
      else firstLineOfCode.set(school.code, rec.line);
      for (const e of rowErrors) errors.push({ line: rec.line, column: e.column, message: e.message });
      if (!rowErrors.length) good.push(school);
    }
    if (errors.length) {
      errors.sort((a, b) => a.line - b.line);
      if (errors.length > MAX_IMPORT_ERRORS) {
        const rest = errors.length - MAX_IMPORT_ERRORS;
        errors.length = MAX_IMPORT_ERRORS;
        errors.push({ line: errors[MAX_IMPORT_ERRORS - 1]!.line, message: `… and ${rest} more errors` });
      }
      return { imported: 0, errors };
    }
    await this.db.transaction((tx) => this.writeSchools(tx, good));
    return { imported: good.length, errors: [] };
  }

  // ---- campus areas ----

  async addCampusArea(a: CampusAreaInput): Promise<CampusArea> {
    const g = a.geometry as unknown;
    if (typeof g !== 'object' || g === null || !GEOMETRY_TYPES.includes((g as GeoJsonGeometry).type)) {
      throw new InventoryError('invalid', `geometry must be a GeoJSON geometry (${GEOMETRY_TYPES.join(', ')})`);
    }
    if (a.kind !== 'key-area' && a.keyAreaType != null) throw new InventoryError('invalid', 'only key areas have a key area type');
    if (!(await this.getSchool(a.schoolCode))) throw new InventoryError('not-found', `school ${a.schoolCode} does not exist`);
    const [row] = await this.db.query<CampusArea>(
      `INSERT INTO campus_areas (school_code, name, kind, key_area_type, required_level, geometry)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb) RETURNING ${AREA_COLS}`,
      [a.schoolCode, a.name, a.kind, a.keyAreaType ?? null, a.requiredLevel ?? null, JSON.stringify(g)],
    );
    return row!;
  }

  async listCampusAreas(schoolCode: string): Promise<CampusArea[]> {
    return this.db.query<CampusArea>(`SELECT ${AREA_COLS} FROM campus_areas WHERE school_code = $1 ORDER BY id`, [schoolCode]);
  }

  // ---- agents and MQTT credentials ----

  /** Registers an agent and issues its MQTT password (returned once; only the hash is stored). */
  async addAgent(a: { schoolCode: string; agentId: string }): Promise<{ username: string; password: string }> {
    assertAgentAddress(a.schoolCode, a.agentId);
    const username = agentUsername(a);
    const password = generatePassword();
    const hash = await hashPassword(password); // before the transaction: scrypt is deliberately slow
    await this.db.transaction(async (tx) => {
      const [school] = await tx.query(`SELECT 1 FROM schools WHERE code = $1`, [a.schoolCode]);
      if (!school) throw new InventoryError('not-found', `school ${a.schoolCode} does not exist`);
      const inserted = await tx.query(
        `INSERT INTO agents (school_code, agent_id) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1`,
        [a.schoolCode, a.agentId],
      );
      if (!inserted.length) throw new InventoryError('conflict', `agent ${username} already exists (rotate its password instead)`);
      await tx.query(
        `INSERT INTO mqtt_credentials (username, kind, school_code, agent_id, password_hash) VALUES ($1, 'agent', $2, $3, $4)`,
        [username, a.schoolCode, a.agentId, hash],
      );
    });
    return { username, password };
  }

  /** Issues a new password for an agent; also re-enables a revoked credential. */
  async rotateAgentPassword(a: { schoolCode: string; agentId: string }): Promise<{ username: string; password: string }> {
    assertAgentAddress(a.schoolCode, a.agentId);
    const username = agentUsername(a);
    const password = generatePassword();
    const hash = await hashPassword(password);
    const rows = await this.db.query(
      `UPDATE mqtt_credentials SET password_hash = $2, password_set_at = now(), revoked_at = NULL
       WHERE username = $1 AND kind = 'agent' RETURNING 1`,
      [username, hash],
    );
    if (!rows.length) throw new InventoryError('not-found', `agent ${username} does not exist`);
    return { username, password };
  }

  /** Returns false when there was no active credential of that name. */
  async revokeCredential(username: string, at: Date = new Date()): Promise<boolean> {
    const rows = await this.db.query(`UPDATE mqtt_credentials SET revoked_at = $2 WHERE username = $1 AND revoked_at IS NULL RETURNING 1`, [username, at.toISOString()]);
    return rows.length > 0;
  }

  /** Creates a service account, or replaces its password (services call this at start). */
  async addServiceAccount(name: string): Promise<{ username: string; password: string }> {
    if (!SERVICE_NAME_RE.test(name)) throw new InventoryError('invalid', `service account name must match ${SERVICE_NAME_RE}, got ${JSON.stringify(name)}`);
    const password = generatePassword();
    const hash = await hashPassword(password);
    const rows = await this.db.query(
      `INSERT INTO mqtt_credentials (username, kind, password_hash) VALUES ($1, 'service', $2)
       ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash, password_set_at = now(), revoked_at = NULL
       WHERE mqtt_credentials.kind = 'service'
       RETURNING 1`,
      [name, hash],
    );
    if (!rows.length) throw new InventoryError('conflict', `${name} is not a service account`);
    return { username: name, password };
  }

  async verifyCredential(username: string, password: string): Promise<Principal | null> {
    if (typeof username !== 'string' || typeof password !== 'string' || username.length > 128) return null;
    const [row] = await this.db.query<{ kind: 'agent' | 'service'; schoolCode: string | null; agentId: string | null; hash: string; revoked: boolean }>(
      `SELECT kind, school_code AS "schoolCode", agent_id AS "agentId", password_hash AS hash, revoked_at IS NOT NULL AS revoked
       FROM mqtt_credentials WHERE username = $1`,
      [username],
    );
    if (!row) {
      this.#dummyHash ??= hashPassword(generatePassword());
      await verifyPassword(password, await this.#dummyHash);
      return null;
    }
    const ok = await verifyPassword(password, row.hash);
    if (!ok || row.revoked) return null;
    if (row.kind === 'service') return { kind: 'service', name: username };
    const addr = parseAgentUsername(username);
    return addr ? { kind: 'agent', ...addr } : null;
  }

  // ---- agent progress (persisted in batches by the ingest path) ----

  async getAgent(schoolCode: string, agentId: string): Promise<Agent | null> {
    const [row] = await this.db.query<Agent>(`SELECT ${AGENT_COLS} FROM agents WHERE school_code = $1 AND agent_id = $2`, [schoolCode, agentId]);
    return row ?? null;
  }

  async listAgents(schoolCode?: string): Promise<Agent[]> {
    return this.db.query<Agent>(`SELECT ${AGENT_COLS} FROM agents WHERE ($1::text IS NULL OR school_code = $1) ORDER BY school_code, agent_id`, [schoolCode ?? null]);
  }

  /** Highest applied sequence number per agent, keyed `${schoolCode}/${agentId}`. */
  async loadAgentProgress(): Promise<Map<string, { lastSeq: number }>> {
    const rows = await this.db.query<{ schoolCode: string; agentId: string; lastSeq: number }>(
      `SELECT school_code AS "schoolCode", agent_id AS "agentId", last_seq AS "lastSeq" FROM agents`,
    );
    return new Map(rows.map((r) => [progressKey(r.schoolCode, r.agentId), { lastSeq: r.lastSeq }]));
  }

  /**
   * Persists a batch of progress in one statement. last_seq and last_seen only move forward; the
   * deltas add up. Several rows for one agent are merged first. Returns the number of agents
   * updated (rows of unknown agents are ignored).
   */
  async saveAgentProgress(rows: AgentProgressRow[]): Promise<number> {
    const merged = new Map<string, AgentProgressRow>();
    for (const r of rows) {
      if (!Number.isSafeInteger(r.lastSeq) || r.lastSeq < -1 || !(r.lastSeen instanceof Date) || Number.isNaN(r.lastSeen.getTime())) {
        throw new InventoryError('invalid', `bad progress row for ${progressKey(r.schoolCode, r.agentId)}`);
      }
      const k = progressKey(r.schoolCode, r.agentId);
      const m = merged.get(k);
      if (!m) merged.set(k, { ...r });
      else {
        m.lastSeq = Math.max(m.lastSeq, r.lastSeq);
        m.seqGapsDelta += r.seqGapsDelta;
        m.duplicatesDelta += r.duplicatesDelta;
        if (r.lastSeen > m.lastSeen) m.lastSeen = r.lastSeen;
      }
    }
    if (!merged.size) return 0;
    const list = [...merged.values()];
    const updated = await this.db.query(
      `UPDATE agents a SET last_seq = GREATEST(a.last_seq, v.last_seq), seq_gaps = a.seq_gaps + v.gaps,
         duplicates = a.duplicates + v.dups, last_seen = GREATEST(a.last_seen, v.last_seen)
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::timestamptz[])
         AS v(school_code, agent_id, last_seq, gaps, dups, last_seen)
       WHERE a.school_code = v.school_code AND a.agent_id = v.agent_id
       RETURNING 1`,
      [
        list.map((r) => r.schoolCode),
        list.map((r) => r.agentId),
        list.map((r) => r.lastSeq),
        list.map((r) => Math.max(0, r.seqGapsDelta)),
        list.map((r) => Math.max(0, r.duplicatesDelta)),
        list.map((r) => r.lastSeen.toISOString()),
      ],
    );
    return updated.length;
  }

  /**
   * An agent came back numbering from the start (its data directory was wiped): the only place
   * last_seq may move backwards, so that its new messages are not all taken for duplicates.
   */
  async resetAgentSequence(schoolCode: string, agentId: string, lastSeq = 0): Promise<boolean> {
    const rows = await this.db.query(`UPDATE agents SET last_seq = $3 WHERE school_code = $1 AND agent_id = $2 RETURNING 1`, [schoolCode, agentId, lastSeq]);
    return rows.length > 0;
  }

  /** Records online/offline from a status message; an older message than the current state is ignored. */
  async setAgentState(schoolCode: string, agentId: string, state: 'online' | 'offline', at: Date, agentVersion?: string): Promise<boolean> {
    if (state !== 'online' && state !== 'offline') throw new InventoryError('invalid', `agent state must be online or offline, got ${JSON.stringify(state)}`);
    const rows = await this.db.query(
      `UPDATE agents SET state = $3, state_since = CASE WHEN state = $3 AND state_since IS NOT NULL THEN state_since ELSE $4 END,
         last_seen = GREATEST(last_seen, $4), agent_version = COALESCE($5, agent_version)
       WHERE school_code = $1 AND agent_id = $2 AND (state_since IS NULL OR state_since <= $4)
       RETURNING 1`,
      [schoolCode, agentId, state, at.toISOString(), agentVersion ?? null],
    );
    return rows.length > 0;
  }

  // ---- devices ----

  /**
   * Records that devices reported data: unknown ones are inserted as 'seen', known ones get a
   * later last_seen (and lose gone_at). Rows with a malformed id or an unknown agent are skipped.
   */
  async touchDevices(rows: DeviceSighting[]): Promise<{ inserted: number; updated: number; skipped: number }> {
    const merged = new Map<string, DeviceSighting>();
    let skipped = 0;
    for (const r of rows) {
      if (!isSchoolCode(r.schoolCode) || !isAgentId(r.agentId) || !DEVICE_ID_RE.test(r.deviceId) || Number.isNaN(r.seenAt.getTime())) {
        skipped++;
        continue;
      }
      const k = `${r.schoolCode}/${r.agentId}/${r.deviceId}`;
      const m = merged.get(k);
      if (!m || r.seenAt > m.seenAt) merged.set(k, r);
    }
    if (!merged.size) return { inserted: 0, updated: 0, skipped };
    const list = [...merged.values()];
    const res = await this.db.query<{ inserted: boolean }>(
      `INSERT INTO devices (school_code, agent_id, device_id, state, first_seen, last_seen)
       SELECT v.s, v.a, v.d, 'seen', v.t, v.t
       FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS v(s, a, d, t)
       JOIN agents ag ON ag.school_code = v.s AND ag.agent_id = v.a
       WHERE true
       ON CONFLICT (school_code, agent_id, device_id) DO UPDATE SET
         last_seen = GREATEST(devices.last_seen, excluded.last_seen),
         gone_at = CASE WHEN devices.gone_at < excluded.last_seen THEN NULL ELSE devices.gone_at END
       RETURNING (xmax = 0) AS inserted`,
      [list.map((r) => r.schoolCode), list.map((r) => r.agentId), list.map((r) => r.deviceId), list.map((r) => r.seenAt.toISOString())],
    );
    const inserted = res.filter((r) => r.inserted).length;
    return { inserted, updated: res.length - inserted, skipped: skipped + list.length - res.length };
  }

  /**
   * Applies a discovery list: new devices become 'discovered', known ones take the reported
   * kind/protocol/address/profile/attributes and are no longer gone. A device that had only been
   * 'seen' becomes 'discovered'; enrolled or retired devices keep their state.
   */
  async upsertDiscoveredDevices(schoolCode: string, agentId: string, devices: DiscoveredDevice[], at: Date): Promise<{ inserted: number; updated: number }> {
    assertAgentAddress(schoolCode, agentId);
    const byId = new Map<string, DiscoveredDevice>();
    for (const d of devices) {
      if (!DEVICE_ID_RE.test(d.device)) throw new InventoryError('invalid', `invalid device id ${JSON.stringify(d.device)}`);
      byId.set(d.device, d);
    }
    if (!(await this.getAgent(schoolCode, agentId))) throw new InventoryError('not-found', `agent ${schoolCode}/${agentId} does not exist`);
    if (!byId.size) return { inserted: 0, updated: 0 };
    const list = [...byId.values()];
    const res = await this.db.query<{ inserted: boolean }>(
      `INSERT INTO devices (school_code, agent_id, device_id, kind, protocol, address, profile, attributes, state, first_seen, last_seen)
       SELECT $1, $2, v.d, v.k, v.p, v.addr, v.prof, v.attrs::jsonb, 'discovered', $3, $3
       FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[]) AS v(d, k, p, addr, prof, attrs)
       ON CONFLICT (school_code, agent_id, device_id) DO UPDATE SET
         kind = excluded.kind, protocol = excluded.protocol, address = excluded.address, profile = excluded.profile,
         attributes = excluded.attributes, last_seen = GREATEST(devices.last_seen, excluded.last_seen), gone_at = NULL,
         state = CASE WHEN devices.state = 'seen' THEN 'discovered' ELSE devices.state END
       RETURNING (xmax = 0) AS inserted`,
      [
        schoolCode,
        agentId,
        at.toISOString(),
        list.map((d) => d.device),
        list.map((d) => d.kind),
        list.map((d) => d.protocol),
        list.map((d) => d.address),
        list.map((d) => d.profile ?? null),
        list.map((d) => JSON.stringify(d.attributes ?? {})),
      ],
    );
    const inserted = res.filter((r) => r.inserted).length;
    return { inserted, updated: res.length - inserted };
  }

  /** Marks devices as gone (an agent's discovery said so); returns how many changed. */
  async markDevicesGone(schoolCode: string, agentId: string, deviceIds: string[], at: Date): Promise<number> {
    if (!deviceIds.length) return 0;
    const rows = await this.db.query(
      `UPDATE devices SET gone_at = $4
       WHERE school_code = $1 AND agent_id = $2 AND device_id = ANY($3::text[]) AND gone_at IS NULL AND last_seen <= $4
       RETURNING 1`,
      [schoolCode, agentId, deviceIds, at.toISOString()],
    );
    return rows.length;
  }

  /** For a full discovery list: every device of the agent not in `presentIds` is gone. */
  async markMissingDevicesGone(schoolCode: string, agentId: string, presentIds: string[], at: Date): Promise<number> {
    const rows = await this.db.query(
      `UPDATE devices SET gone_at = $4
       WHERE school_code = $1 AND agent_id = $2 AND NOT (device_id = ANY($3::text[])) AND gone_at IS NULL AND last_seen <= $4
       RETURNING 1`,
      [schoolCode, agentId, presentIds, at.toISOString()],
    );
    return rows.length;
  }

  async listDevices(schoolCode: string, opts: { agentId?: string } = {}): Promise<Device[]> {
    return this.db.query<Device>(
      `SELECT ${DEVICE_COLS} FROM devices WHERE school_code = $1 AND ($2::text IS NULL OR agent_id = $2) ORDER BY agent_id, device_id`,
      [schoolCode, opts.agentId ?? null],
    );
  }
}
