/**
 * The enrollment inbox: discovered devices wait as `discovered` until an administrator of the
 * school accepts one (→ `enrolled`, with its placement), rejects it, or merges it with a planned
 * device; enrolled devices can be retired. Every change is recorded with who and when. Planned
 * devices come from a per-school CSV, all or nothing, like the school import.
 */
import type { Db } from './db.ts';
import { parseCsvTable } from './csv.ts';
import { InventoryError, type ImportResult } from './inventory.ts';
import { placementProblems, type Placement } from './placement.ts';

export interface DeviceRef {
  schoolCode: string;
  agentId: string;
  deviceId: string;
}

export interface InboxDevice extends DeviceRef {
  kind: string;
  protocol: string | null;
  address: string | null;
  profile: string | null;
  /** What the device said about itself (the raw fingerprint for unknown ones). */
  attributes: Record<string, number | boolean | string>;
  state: string;
  placement: Placement | null;
  firstSeen: Date;
  lastSeen: Date;
  goneAt: Date | null;
}

export interface PlannedDevice {
  id: number;
  schoolCode: string;
  name: string;
  kind: string;
  expectedIp: string | null;
  expectedModel: string | null;
  placement: Placement;
  /** The device it was merged with, if any. */
  device: DeviceRef | null;
}

export interface Inbox {
  /** Found by discovery, waiting for a decision. */
  discovered: InboxDevice[];
  /** Planned and not (yet) matched to anything found. */
  planned: PlannedDevice[];
  /** Enrolled devices that discovery no longer finds. */
  missing: InboxDevice[];
  counts: Record<string, number>;
}

export interface StateChange {
  fromState: string;
  toState: string;
  actor: string;
  note: string | null;
  at: Date;
}

const DEV_COLS = `d.school_code AS "schoolCode", d.agent_id AS "agentId", d.device_id AS "deviceId", d.kind, d.protocol, d.address,
  d.profile, d.attributes, d.state, d.placement, d.first_seen AS "firstSeen", d.last_seen AS "lastSeen", d.gone_at AS "goneAt"`;
const PLANNED_COLS = `p.id, p.school_code AS "schoolCode", p.name, p.kind, p.expected_ip AS "expectedIp", p.expected_model AS "expectedModel",
  p.placement, d.school_code AS "dSchool", d.agent_id AS "dAgent", d.device_id AS "dDevice"`;

type PlannedRow = Omit<PlannedDevice, 'device'> & { dSchool: string | null; dAgent: string | null; dDevice: string | null };
const planned = (r: PlannedRow): PlannedDevice => ({
  id: r.id,
  schoolCode: r.schoolCode,
  name: r.name,
  kind: r.kind,
  expectedIp: r.expectedIp,
  expectedModel: r.expectedModel,
  placement: r.placement,
  device: r.dDevice ? { schoolCode: r.dSchool!, agentId: r.dAgent!, deviceId: r.dDevice } : null,
});

/** Which decisions are allowed from which state. */
const TRANSITIONS: Record<'accept' | 'reject' | 'retire' | 'place', string[]> = {
  accept: ['discovered', 'seen', 'rejected', 'enrolled'], // enrolled → enrolled = move/re-place
  reject: ['discovered', 'seen'],
  retire: ['enrolled', 'discovered', 'seen'],
  place: ['enrolled'], // a move: enrolled → enrolled with the new placement
};

const fixed = (x: number, d: number) => String(Number(x.toFixed(d)));
const where = (p: Placement | null): string => {
  const pos = p?.position;
  return !pos ? '—' : 'lon' in pos ? `${fixed(pos.lon, 7)},${fixed(pos.lat, 7)}` : `(${fixed(pos.x, 2)}, ${fixed(pos.y, 2)}) m`;
};

/** What a move changed, for the history: "position a → b; heading 270° → 255°". */
export function describeMove(before: Placement | null, after: Placement): string {
  const parts: string[] = [];
  if (where(before) !== where(after)) parts.push(`position ${where(before)} → ${where(after)}`);
  const fields: [keyof NonNullable<Placement['camera']>, string, string][] = [
    ['headingDeg', 'heading', '°'],
    ['hfovDeg', 'field of view', '°'],
    ['mountHeightM', 'mount height', ' m'],
    ['tiltDeg', 'tilt', '°'],
  ];
  for (const [k, name, unit] of fields) {
    const a = before?.camera?.[k], b = after.camera?.[k];
    if (a !== b) parts.push(`${name} ${a ?? '—'}${a !== undefined ? unit : ''} → ${b ?? '—'}${b !== undefined ? unit : ''}`);
  }
  for (const k of ['building', 'room'] as const) if ((before?.[k] ?? '') !== (after[k] ?? '')) parts.push(`${k} ${before?.[k] ?? '—'} → ${after[k] ?? '—'}`);
  return parts.length ? `moved: ${parts.join('; ')}` : 'placement saved unchanged';
}

const PLANNED_COLUMNS = ['name', 'kind', 'building', 'room', 'expected_ip', 'expected_model', 'lon', 'lat', 'heading_deg', 'hfov_deg', 'mount_height_m'] as const;
const OPTIONAL_PLANNED = PLANNED_COLUMNS.filter((c) => c !== 'name' && c !== 'kind');

export class Enrollment {
  constructor(private readonly db: Db) {}

  async inbox(schoolCode: string): Promise<Inbox> {
    const devices = await this.db.query<InboxDevice>(`SELECT ${DEV_COLS} FROM devices d WHERE d.school_code = $1 ORDER BY d.agent_id, d.device_id`, [schoolCode]);
    const plannedRows = await this.db.query<PlannedRow>(
      `SELECT ${PLANNED_COLS} FROM planned_devices p LEFT JOIN devices d ON d.id = p.device_pk WHERE p.school_code = $1 ORDER BY p.name`,
      [schoolCode],
    );
    const counts: Record<string, number> = {};
    for (const d of devices) counts[d.state] = (counts[d.state] ?? 0) + 1;
    const unmatched = plannedRows.map(planned).filter((p) => !p.device);
    counts.planned = unmatched.length;
    return {
      discovered: devices.filter((d) => (d.state === 'discovered' || d.state === 'seen') && !d.goneAt),
      planned: unmatched,
      missing: devices.filter((d) => d.state === 'enrolled' && d.goneAt !== null),
      counts,
    };
  }

  /** A school's devices in the given states, with placement (what the map and coverage read). */
  async devicesInStates(schoolCode: string, states: readonly string[]): Promise<InboxDevice[]> {
    return this.db.query<InboxDevice>(`SELECT ${DEV_COLS} FROM devices d WHERE d.school_code = $1 AND d.state = ANY($2::text[]) ORDER BY d.agent_id, d.device_id`, [
      schoolCode,
      [...states],
    ]);
  }

  async device(ref: DeviceRef): Promise<InboxDevice | null> {
    const [row] = await this.db.query<InboxDevice>(`SELECT ${DEV_COLS} FROM devices d WHERE d.school_code = $1 AND d.agent_id = $2 AND d.device_id = $3`, [
      ref.schoolCode,
      ref.agentId,
      ref.deviceId,
    ]);
    return row ?? null;
  }

  private async change(tx: Db, ref: DeviceRef, action: keyof typeof TRANSITIONS, to: string, actor: string, note: string | null, placement?: Placement): Promise<{ pk: number; kind: string }> {
    const [cur] = await tx.query<{ pk: number; state: string; kind: string }>(
      `SELECT id AS pk, state, kind FROM devices WHERE school_code = $1 AND agent_id = $2 AND device_id = $3 FOR UPDATE`,
      [ref.schoolCode, ref.agentId, ref.deviceId],
    );
    if (!cur) throw new InventoryError('not-found', `device ${ref.agentId}/${ref.deviceId} of school ${ref.schoolCode}`);
    if (!TRANSITIONS[action].includes(cur.state)) throw new InventoryError('conflict', `cannot ${action} a device that is ${cur.state}`);
    if (!actor || actor.length > 128) throw new InventoryError('invalid', 'the actor (who made the change) is required');
    await tx.query(`UPDATE devices SET state = $2${placement ? ', placement = $3' : ''} WHERE id = $1`, placement ? [cur.pk, to, JSON.stringify(placement)] : [cur.pk, to]);
    await tx.query(`INSERT INTO device_state_changes (device_pk, from_state, to_state, actor, note) VALUES ($1, $2, $3, $4, $5)`, [cur.pk, cur.state, to, actor, note]);
    return cur;
  }

  /** Accepts a found device into the inventory at `placement` (required: position; cameras: view). */
  async accept(ref: DeviceRef, placement: Placement, actor: string, note?: string): Promise<InboxDevice> {
    await this.db.transaction(async (tx) => {
      const [cur] = await tx.query<{ kind: string }>(`SELECT kind FROM devices WHERE school_code = $1 AND agent_id = $2 AND device_id = $3`, [ref.schoolCode, ref.agentId, ref.deviceId]);
      const problems = placementProblems(placement, cur?.kind ?? 'unknown');
      if (cur && problems.length) throw new InventoryError('invalid', problems.join('; '));
      await this.change(tx, ref, 'accept', 'enrolled', actor, note ?? null, placement);
    });
    return (await this.device(ref))!;
  }

  /**
   * Moves an enrolled device: a new placement (validated as for accept), recorded in its history
   * as enrolled → enrolled with who did it and what changed (`describeMove`, after the optional note).
   */
  async place(ref: DeviceRef, placement: Placement, actor: string, note?: string): Promise<InboxDevice> {
    await this.db.transaction(async (tx) => {
      const [cur] = await tx.query<{ kind: string; placement: Placement | null }>(`SELECT kind, placement FROM devices WHERE school_code = $1 AND agent_id = $2 AND device_id = $3`, [
        ref.schoolCode,
        ref.agentId,
        ref.deviceId,
      ]);
      const problems = placementProblems(placement, cur?.kind ?? 'unknown');
      if (cur && problems.length) throw new InventoryError('invalid', problems.join('; '));
      const moved = describeMove(cur?.placement ?? null, placement);
      await this.change(tx, ref, 'place', 'enrolled', actor, note ? `${note} (${moved})` : moved, placement);
    });
    return (await this.device(ref))!;
  }

  async reject(ref: DeviceRef, actor: string, note?: string): Promise<InboxDevice> {
    await this.db.transaction((tx) => this.change(tx, ref, 'reject', 'rejected', actor, note ?? null));
    return (await this.device(ref))!;
  }

  /** Retired devices are no longer polled nor counted for coverage; their history stays. */
  async retire(ref: DeviceRef, actor: string, note?: string): Promise<InboxDevice> {
    await this.db.transaction((tx) => this.change(tx, ref, 'retire', 'retired', actor, note ?? null));
    return (await this.device(ref))!;
  }

  /** Accepts a found device as the planned one: it takes the plan's placement, the plan is fulfilled. */
  async merge(ref: DeviceRef, plannedId: number, actor: string): Promise<InboxDevice> {
    await this.db.transaction(async (tx) => {
      const [p] = await tx.query<PlannedRow>(`SELECT ${PLANNED_COLS} FROM planned_devices p LEFT JOIN devices d ON d.id = p.device_pk WHERE p.id = $1 FOR UPDATE OF p`, [plannedId]);
      if (!p || p.schoolCode !== ref.schoolCode) throw new InventoryError('not-found', `planned device ${plannedId} of school ${ref.schoolCode}`);
      if (p.dDevice) throw new InventoryError('conflict', `planned device ${p.name} is already merged with ${p.dAgent}/${p.dDevice}`);
      const [cur] = await tx.query<{ kind: string }>(`SELECT kind FROM devices WHERE school_code = $1 AND agent_id = $2 AND device_id = $3`, [ref.schoolCode, ref.agentId, ref.deviceId]);
      if (cur && cur.kind !== p.kind && cur.kind !== 'unknown') throw new InventoryError('conflict', `planned ${p.kind} ${p.name} cannot be a ${cur.kind}`);
      const problems = placementProblems(p.placement, p.kind);
      if (problems.length) throw new InventoryError('invalid', `planned device ${p.name}: ${problems.join('; ')}`);
      const { pk } = await this.change(tx, ref, 'accept', 'enrolled', actor, `merged with planned ${p.name}`, p.placement);
      if (cur?.kind === 'unknown') await tx.query(`UPDATE devices SET kind = $2 WHERE id = $1`, [pk, p.kind]);
      await tx.query(`UPDATE planned_devices SET device_pk = $2 WHERE id = $1`, [plannedId, pk]);
    });
    return (await this.device(ref))!;
  }

  async history(ref: DeviceRef): Promise<StateChange[]> {
    return this.db.query<StateChange>(
      `SELECT c.from_state AS "fromState", c.to_state AS "toState", c.actor, c.note, c.at FROM device_state_changes c
       JOIN devices d ON d.id = c.device_pk WHERE d.school_code = $1 AND d.agent_id = $2 AND d.device_id = $3 ORDER BY c.at, c.id`,
      [ref.schoolCode, ref.agentId, ref.deviceId],
    );
  }

  /**
   * Planned devices of one school from CSV (columns: name,kind[,building,room,expected_ip,
   * expected_model,lon,lat,heading_deg,hfov_deg,mount_height_m]); all or nothing. Rows with a name
   * already planned replace it unless it was already merged.
   */
  async importPlannedCsv(schoolCode: string, csv: string): Promise<ImportResult> {
    const { rows, errors } = parseCsvTable(csv, PLANNED_COLUMNS, OPTIONAL_PLANNED);
    const [school] = await this.db.query(`SELECT 1 FROM schools WHERE code = $1`, [schoolCode]);
    if (!school) throw new InventoryError('not-found', `school ${schoolCode}`);
    const seen = new Map<string, number>();
    const good: { name: string; kind: string; ip: string | null; model: string | null; placement: Placement }[] = [];
    const num = (s: string): number | undefined => (s === '' ? undefined : Number(s));
    for (const { line, row } of rows) {
      const rowErrors: { column?: string; message: string }[] = [];
      if (!row.name || row.name.length > 128) rowErrors.push({ column: 'name', message: 'name is required (at most 128 characters)' });
      if (!/^[a-z][a-z-]{0,31}$/.test(row.kind)) rowErrors.push({ column: 'kind', message: `kind ${JSON.stringify(row.kind)} is not a device kind (camera, switch, ap, ups, class-board, display, …)` });
      const first = seen.get(row.name);
      if (first !== undefined) rowErrors.push({ column: 'name', message: `${row.name} already appears on line ${first}` });
      else seen.set(row.name, line);
      const placement: Placement = {};
      if (row.building) placement.building = row.building;
      if (row.room) placement.room = row.room;
      const lon = num(row.lon);
      const lat = num(row.lat);
      if (lon !== undefined || lat !== undefined) placement.position = { lon: lon ?? NaN, lat: lat ?? NaN };
      const heading = num(row.heading_deg);
      if (heading !== undefined || row.hfov_deg || row.mount_height_m) {
        placement.camera = { headingDeg: heading ?? NaN };
        if (row.hfov_deg) placement.camera.hfovDeg = Number(row.hfov_deg);
        if (row.mount_height_m) placement.camera.mountHeightM = Number(row.mount_height_m);
      }
      for (const p of placementProblems(placement, row.kind)) rowErrors.push({ message: p.replace('NaN', 'missing') });
      for (const e of rowErrors) errors.push({ line, ...e });
      if (!rowErrors.length) good.push({ name: row.name, kind: row.kind, ip: row.expected_ip || null, model: row.expected_model || null, placement });
    }
    if (errors.length) return { imported: 0, errors: errors.sort((a, b) => a.line - b.line) };
    await this.db.transaction(async (tx) => {
      for (const g of good) {
        const r = await tx.query(
          `INSERT INTO planned_devices (school_code, name, kind, expected_ip, expected_model, placement) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (school_code, name) DO UPDATE SET kind = excluded.kind, expected_ip = excluded.expected_ip,
             expected_model = excluded.expected_model, placement = excluded.placement
           WHERE planned_devices.device_pk IS NULL RETURNING 1`,
          [schoolCode, g.name, g.kind, g.ip, g.model, JSON.stringify(g.placement)],
        );
        if (!r.length) throw new InventoryError('conflict', `planned device ${g.name} is already merged with a found device; it cannot be replaced`);
      }
    });
    return { imported: good.length, errors: [] };
  }
}
