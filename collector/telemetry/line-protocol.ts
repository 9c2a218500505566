/**
 * InfluxDB line protocol (1.x dialect, ms precision) and the mapping of a protocol Reading to a line.
 *
 * Escaping follows what influxd 1.6 actually parses (checked against the real server in the tests):
 * measurement escapes `,` and space; tag keys, tag values and field keys escape `,`, `=` and space;
 * string field values escape `"` and `\`. A backslash is *not* escapable in names: influxd keeps it
 * literally, but a backslash right before an escapable character or at the end of a name cannot be
 * expressed at all, and a newline ends the line. Such names are refused with a LineProtocolError
 * rather than written as something else.
 */
import type { Reading } from '../../protocol/messages.ts';

export class LineProtocolError extends Error {
  override name = 'LineProtocolError';
}

/** `number` → float, `bigint` → integer (`i` suffix), boolean, string. */
export type FieldValue = number | bigint | boolean | string;

export interface Point {
  measurement: string;
  tags?: Record<string, string | undefined>;
  fields: Record<string, FieldValue>;
  /** Milliseconds since the Unix epoch (the writer posts with `precision=ms`). */
  timestampMs?: number;
}

const MEASUREMENT_SPECIAL = /[, ]/g;
const KEY_SPECIAL = /[,= ]/g;
// A backslash before a character influxd would unescape, or at the very end, changes the parse.
const UNREPRESENTABLE_MEASUREMENT = /\\([, ]|$)|[\n\r]/;
const UNREPRESENTABLE_KEY = /\\([,= ]|$)|[\n\r]/;

function check(kind: string, s: string, bad: RegExp): void {
  if (s.length === 0) throw new LineProtocolError(`${kind} is empty`);
  if (bad.test(s)) throw new LineProtocolError(`${kind} ${JSON.stringify(s)} cannot be written: newline, or backslash before a separator or at the end`);
}

export function escapeMeasurement(s: string): string {
  if (PLAIN.test(s)) return s;
  check('measurement', s, UNREPRESENTABLE_MEASUREMENT);
  return s.replace(MEASUREMENT_SPECIAL, '\\$&');
}

// Almost every name is plain ASCII without separators: skip the regex work for those (the ingest
// profile in bench/RESULTS.md showed escaping as the largest single cost per reading).
const PLAIN = /^[A-Za-z0-9_.:/+-]+$/;

/** Tag keys, tag values and field keys share one escaping. */
export function escapeKey(s: string, kind = 'tag key/value or field key'): string {
  if (PLAIN.test(s)) return s;
  check(kind, s, UNREPRESENTABLE_KEY);
  return s.replace(KEY_SPECIAL, '\\$&');
}

export function escapeStringField(s: string): string {
  return `"${s.replace(/["\\]/g, '\\$&')}"`;
}

export function formatFieldValue(key: string, v: FieldValue): string {
  switch (typeof v) {
    case 'number':
      if (!Number.isFinite(v)) throw new LineProtocolError(`field ${JSON.stringify(key)} is ${v}: InfluxDB stores finite numbers only`);
      // String(1) is "1": without an `i` suffix influxd reads it as a float, which is what we want.
      return String(v);
    case 'bigint':
      if (v > 9223372036854775807n || v < -9223372036854775808n) throw new LineProtocolError(`field ${JSON.stringify(key)} does not fit in int64`);
      return `${v}i`;
    case 'boolean':
      return v ? 'true' : 'false';
    case 'string':
      return escapeStringField(v);
    default:
      throw new LineProtocolError(`field ${JSON.stringify(key)} has unsupported type ${typeof v}`);
  }
}

// influxd refuses a tag or field called "time" (it is the timestamp column).
function checkNotTime(kind: string, key: string): void {
  if (key === 'time') throw new LineProtocolError(`${kind} "time" is reserved by InfluxDB`);
}

/** One line of line protocol. Tags are sorted by key (influxd's own order, saves it the work); empty tag values are left out. */
export function pointToLine(p: Point): string {
  let line = escapeMeasurement(p.measurement);
  if (p.tags) {
    for (const key of Object.keys(p.tags).sort()) {
      const value = p.tags[key];
      if (value === undefined || value === '') continue;
      checkNotTime('tag key', key);
      line += `,${escapeKey(key, 'tag key')}=${escapeKey(value, `tag ${key} value`)}`;
    }
  }
  let fields = '';
  for (const [key, value] of Object.entries(p.fields)) {
    checkNotTime('field key', key);
    fields += `${fields ? ',' : ''}${escapeKey(key, 'field key')}=${formatFieldValue(key, value)}`;
  }
  if (!fields) throw new LineProtocolError(`point ${JSON.stringify(p.measurement)} has no fields`);
  line += ` ${fields}`;
  if (p.timestampMs !== undefined) {
    if (!Number.isSafeInteger(p.timestampMs)) throw new LineProtocolError(`timestamp ${p.timestampMs} is not an integer number of ms`);
    line += ` ${p.timestampMs}`;
  }
  return line;
}

export interface ReadingTags {
  school: string;
  agent: string;
  county?: string;
  /** device kind from the inventory (camera, switch, …) */
  kind?: string;
}

/**
 * A Reading as one line: tags school, agent, county?, device plus the reading's own tags (ours win
 * on a name clash: they come from the authenticated topic, an agent must not relabel its data as
 * another school's), fields = metrics.
 *
 * Every number is written as a float, integers included: a field has one type per shard in
 * InfluxDB, and one agent sending `3` while another sends `3.5` would otherwise get the second
 * agent's points rejected as a field-type conflict.
 */
export function readingToLine(reading: Reading, extraTags: ReadingTags): string {
  const tags: Record<string, string | undefined> = { ...reading.tags, device: reading.device, school: extraTags.school, agent: extraTags.agent };
  if (extraTags.county !== undefined) tags.county = extraTags.county;
  if (extraTags.kind !== undefined) tags.kind = extraTags.kind;
  return pointToLine({ measurement: reading.measurement, tags, fields: reading.metrics, timestampMs: reading.ts });
}
