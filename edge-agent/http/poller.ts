/**
 * Polls one HTTP device's status API (class board, classroom display) and maps JSON pointers to
 * protocol Readings. Every value is checked for its declared JSON type, then converted as every
 * profile value is (`convert` in device-profiles/engine/decode.ts: enum on the raw value, else
 * scale/offset; then bounds); a bad value is skipped and counted, never thrown. An HTML
 * page, a 500, broken JSON or silence gives a clear error and a `device` reading that says whether
 * the device answered at all.
 */
import type { Reading } from '../../protocol/index.ts';
import { convert, type Converted } from '../../device-profiles/engine/decode.ts';
import { httpGet, HttpFetchError, jsonPointer, parseJsonAnswer } from './fetch.ts';
import { formatHostPort, type AllowHost } from './targets.ts';

export type JsonValueType = 'number' | 'integer' | 'boolean' | 'string';

export interface HttpMetricSpec {
  /** GET path, e.g. /api/v1/status */
  path: string;
  /** JSON pointer into that answer, e.g. /screen/on */
  pointer: string;
  type: JsonValueType;
  measurement: string;
  metric: string;
  /** numbers without an enum: value = raw × scale + offset */
  scale?: number;
  offset?: number;
  /** raw value (as text) → emitted value, sent as written; a raw value not listed is skipped */
  enum?: Record<string, number | boolean | string>;
  /** plausibility bounds of the value sent (after scaling) */
  min?: number;
  max?: number;
}

export interface HttpPollTarget {
  /** agent-local device id */
  id: string;
  host: string;
  port: number;
  metrics: HttpMetricSpec[];
  /** per request (default 3000) */
  timeoutMs?: number;
  /** per body (default 256 KiB) */
  maxBodyBytes?: number;
}

export interface HttpPollResult {
  device: string;
  /** the device answered HTTP at all (even with an error status or HTML) */
  reachable: boolean;
  readings: Reading[];
  /** values skipped as invalid (missing, wrong type, out of bounds, not in the enum) */
  skipped: number;
  errors: string[];
}

const MAX_STRING = 1024;

/** Checks one raw JSON value against its declared type, then converts it (enum, scale/offset, bounds). */
export function convertJsonValue(spec: HttpMetricSpec, raw: unknown): Converted {
  const where = `${spec.path}#${spec.pointer}`;
  if (raw === undefined) return { ok: false, error: `${where} is missing` };
  let value: number | boolean | string;
  switch (spec.type) {
    case 'number':
    case 'integer':
      if (typeof raw !== 'number' || !Number.isFinite(raw)) return { ok: false, error: `${where}: expected a ${spec.type}, got ${JSON.stringify(raw)?.slice(0, 60)}` };
      if (spec.type === 'integer' && !Number.isInteger(raw)) return { ok: false, error: `${where}: expected an integer, got ${raw}` };
      value = raw;
      break;
    case 'boolean':
      if (typeof raw !== 'boolean') return { ok: false, error: `${where}: expected a boolean, got ${JSON.stringify(raw)?.slice(0, 60)}` };
      value = raw;
      break;
    case 'string':
      if (typeof raw !== 'string') return { ok: false, error: `${where}: expected a string, got ${JSON.stringify(raw)?.slice(0, 60)}` };
      if (raw.length > MAX_STRING) return { ok: false, error: `${where}: string longer than ${MAX_STRING}` };
      value = raw;
      break;
  }
  return convert(spec, value, where);
}

export async function pollHttpDevice(target: HttpPollTarget, opts: { isAllowed?: AllowHost; now?: () => number } = {}): Promise<HttpPollResult> {
  const now = opts.now ?? Date.now;
  const result: HttpPollResult = { device: target.id, reachable: false, readings: [], skipped: 0, errors: [] };
  const deviceReading = (metrics: Reading['metrics']): void => {
    result.readings.unshift({ device: target.id, ts: now(), measurement: 'device', metrics });
  };
  if (opts.isAllowed && !opts.isAllowed(target.host)) {
    result.errors.push(`${target.host} is not allowed by the allow-list; nothing was sent`);
    deviceReading({ reachable: false });
    return result;
  }
  const fetchOpts = { timeoutMs: target.timeoutMs ?? 3000, maxBodyBytes: target.maxBodyBytes ?? 256 * 1024 };
  const address = formatHostPort(target.host, target.port);
  const byPath = new Map<string, HttpMetricSpec[]>();
  for (const m of target.metrics) byPath.set(m.path, [...(byPath.get(m.path) ?? []), m]);

  const metrics = new Map<string, Record<string, number | boolean | string>>();
  let lastStatus: number | undefined;
  let answeredOk = true;
  for (const [path, specs] of byPath) {
    let answer;
    try {
      answer = await httpGet(target.host, target.port, path, fetchOpts);
    } catch (err) {
      if (!(err instanceof HttpFetchError)) throw err;
      result.errors.push(`GET ${address}${path}: ${err.message}`);
      result.skipped += specs.length;
      answeredOk = false;
      // a device that refuses or stays silent will not answer the next path either
      if (err.reason === 'refused' || err.reason === 'timeout') break;
      result.reachable = true;
      continue;
    }
    result.reachable = true;
    lastStatus = answer.status;
    if (answer.status < 200 || answer.status > 299) {
      result.errors.push(`GET ${address}${path} answered HTTP ${answer.status}`);
      result.skipped += specs.length;
      answeredOk = false;
      continue;
    }
    const parsed = parseJsonAnswer(answer, `GET ${address}${path}`);
    if (!parsed.ok) {
      result.errors.push(parsed.error);
      result.skipped += specs.length;
      answeredOk = false;
      continue;
    }
    for (const spec of specs) {
      const c = convertJsonValue(spec, jsonPointer(parsed.value, spec.pointer));
      if (!c.ok) {
        result.skipped++;
        result.errors.push(c.error);
        continue;
      }
      const m = metrics.get(spec.measurement) ?? {};
      m[spec.metric] = c.value;
      metrics.set(spec.measurement, m);
    }
  }
  const ts = now();
  for (const [measurement, m] of metrics) result.readings.push({ device: target.id, ts, measurement, metrics: m });
  const dm: Reading['metrics'] = { reachable: result.reachable };
  if (result.reachable) dm.statusOk = answeredOk;
  if (lastStatus !== undefined) dm.httpStatus = lastStatus;
  deviceReading(dm);
  return result;
}
