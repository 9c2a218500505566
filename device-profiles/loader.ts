/**
 * Loads every `profiles/**\/*.yaml` (found by scanning the folder, never listed by hand), validates
 * each against the schema plus the rules a schema cannot say (only the profile's protocol section,
 * regexes that compile, health conditions that name polled metrics, …), resolves `extends`, and
 * returns a ProfileRegistry. A broken profile is refused with file, line and reason; the others
 * still load. Duplicate ids refuse every file that claims the id; an unknown base or a cycle refuses
 * the profiles involved, and so does a base that was refused.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import type { TSchema } from '@sinclair/typebox';
import { Profile, type HealthRule, type PollGroup, type Capabilities, type ProfileProtocol } from './schema.ts';
import { parseExpression, type Condition } from './expr.ts';
import { ProfileRegistry } from './registry.ts';

export const DEFAULT_PROFILES_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'profiles');
/** Bigger files are refused unread: a profile is a page of YAML, not a data dump. */
const MAX_FILE_BYTES = 512 * 1024;
const MAX_ERRORS_PER_FILE = 20;
const DEFAULT_OFFLINE_AFTER = 3;

export interface ProfileError {
  /** path relative to the profiles directory */
  file: string;
  /** 1-based; 0 when the problem is not tied to a line (unreadable file) */
  line: number;
  column: number;
  /** JSON pointer of the offending value, '' for the whole file */
  path: string;
  message: string;
}

export function formatProfileError(e: ProfileError): string {
  return `${e.file}:${e.line}:${e.column}: ${e.message}${e.path ? ` (at ${e.path})` : ''}`;
}

export interface CompiledRule extends HealthRule {
  measurement: string;
  conditions: Condition[];
}

/** A profile with `extends` applied: what the engines and the agent use. */
export interface ResolvedProfile {
  id: string;
  vendor: string;
  family: string;
  kind: Profile['kind'];
  protocol: ProfileProtocol;
  description: Profile['description'];
  /** own match only (a base profile's fingerprint is never inherited) */
  match?: Profile['match'];
  poll: PollGroup[];
  health: { offlineAfterMissedPolls: number; rules: CompiledRule[] };
  capabilities: Capabilities;
  docs: string[];
  /** this profile's id first, then its bases up to the root */
  chain: string[];
  /** file relative to the profiles directory */
  file: string;
}

export interface LoadResult {
  registry: ProfileRegistry;
  errors: ProfileError[];
}

const check = TypeCompiler.Compile(Profile);

interface Origin {
  file: string;
  pointer: string;
}

interface Loaded {
  file: string;
  doc: Document;
  lines: LineCounter;
  profile: Profile;
}

/** Every *.yaml / *.yml below dir, sorted, as paths relative to dir (with forward slashes). */
export function listProfileFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    const entries = fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(r);
      else if (e.isFile() && /\.ya?ml$/.test(e.name)) out.push(r);
    }
  };
  walk('');
  return out;
}

// ---------------------------------------------------------------- lines

function splitPointer(pointer: string): string[] {
  if (!pointer) return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Line and column of the deepest node on `pointer` that exists (the key, when the last step is a map key). */
function positionOf(doc: Document, lines: LineCounter, pointer: string): { line: number; column: number } {
  let node: unknown = doc.contents;
  let at: YamlNode | undefined = (doc.contents as YamlNode | null) ?? undefined;
  for (const seg of splitPointer(pointer)) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === seg);
      if (!pair) break;
      at = (pair.key as YamlNode) ?? at;
      node = pair.value;
      // point at the value when we descend further, at the key when this is the last step
      continue;
    }
    if (isSeq(node)) {
      const item = node.items[Number(seg)];
      if (!/^[0-9]+$/.test(seg) || item === undefined) break;
      at = item as YamlNode;
      node = item;
      continue;
    }
    break;
  }
  const offset = at?.range?.[0] ?? 0;
  const pos = lines.linePos(offset);
  return { line: pos.line, column: pos.col };
}

// ---------------------------------------------------------------- schema messages

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length]![b.length]!;
}

function describe(e: ValueError): string {
  const key = splitPointer(e.path).at(-1) ?? '';
  const schema = e.schema as TSchema & { properties?: Record<string, unknown>; anyOf?: Array<{ const?: unknown }> };
  switch (e.type) {
    case ValueErrorType.ObjectAdditionalProperties: {
      const known = Object.keys(schema.properties ?? {});
      if (known.length === 0) return `key "${key}" is not allowed here`;
      const best = known.map((k) => ({ k, d: distance(k.toLowerCase(), key.toLowerCase()) })).sort((a, b) => a.d - b.d)[0];
      const hint = best && best.d <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean "${best.k}"?)` : ` (allowed: ${known.join(', ')})`;
      return `unknown key "${key}"${hint}`;
    }
    case ValueErrorType.ObjectRequiredProperty:
      return `missing required key "${key}"`;
    case ValueErrorType.Union:
      if (schema.anyOf?.every((s) => 'const' in s)) return `${JSON.stringify(e.value)} is not one of: ${schema.anyOf.map((s) => String(s.const)).join(', ')}`;
      return `${JSON.stringify(e.value)} does not fit any allowed form`;
    default:
      return `${e.message}${e.value !== undefined && typeof e.value !== 'object' ? ` (got ${JSON.stringify(e.value)})` : ''}`;
  }
}

// ---------------------------------------------------------------- semantic checks

type Problem = { pointer: string; message: string };

function compiles(pattern: string): string | undefined {
  try {
    new RegExp(pattern, 'i');
    return undefined;
  } catch (err) {
    return `invalid regular expression: ${(err as Error).message}`;
  }
}

/** Rules that concern one file on its own. */
function fileProblems(p: Profile): Problem[] {
  const out: Problem[] = [];
  if (p.match) {
    for (const proto of Object.keys(p.match)) {
      if (proto !== p.protocol) out.push({ pointer: `/match/${proto}`, message: `a ${p.protocol} profile can only have match.${p.protocol}` });
    }
    const regexes: Array<[string, string]> = [];
    p.match.snmp?.sysDescr?.forEach((r, i) => regexes.push([`/match/snmp/sysDescr/${i}`, r]));
    p.match.onvif?.manufacturer.forEach((r, i) => regexes.push([`/match/onvif/manufacturer/${i}`, r]));
    p.match.onvif?.model?.forEach((r, i) => regexes.push([`/match/onvif/model/${i}`, r]));
    p.match.modbus?.registers.forEach((r, i) => r.pattern !== undefined && regexes.push([`/match/modbus/registers/${i}/pattern`, r.pattern]));
    const h = p.match.http;
    if (h) {
      if (h.body !== undefined) regexes.push(['/match/http/body', h.body]);
      for (const [k, v] of Object.entries(h.headers ?? {})) regexes.push([`/match/http/headers/${k}`, v]);
      for (const [k, v] of Object.entries(h.json ?? {})) regexes.push([`/match/http/json/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, v]);
    }
    for (const [ptr, r] of regexes) {
      const bad = compiles(r);
      if (bad) out.push({ pointer: ptr, message: bad });
    }
    if (p.match.snmp && !p.match.snmp.sysObjectID && !p.match.snmp.sysDescr) out.push({ pointer: '/match/snmp', message: 'match.snmp needs sysObjectID or sysDescr' });
    p.match.modbus?.registers.forEach((r, i) => {
      if (r.equals === undefined && r.pattern === undefined && r.range === undefined)
        out.push({ pointer: `/match/modbus/registers/${i}`, message: 'an identification register needs equals, pattern or range' });
    });
  }
  const groups = new Set<string>();
  p.poll?.forEach((g, gi) => {
    if (groups.has(g.name)) out.push({ pointer: `/poll/${gi}/name`, message: `poll group "${g.name}" is defined twice` });
    groups.add(g.name);
    const metrics = new Set<string>();
    g.resources.forEach((r, ri) => {
      const at = `/poll/${gi}/resources/${ri}`;
      if (metrics.has(r.metric)) out.push({ pointer: `${at}/metric`, message: `metric "${r.metric}" appears twice in group "${g.name}"` });
      metrics.add(r.metric);
      const addresses = (['snmp', 'modbus', 'http', 'onvif'] as const).filter((k) => r[k] !== undefined);
      if (addresses.length !== 1 || addresses[0] !== p.protocol) {
        out.push({ pointer: addresses.length ? `${at}/${addresses.find((a) => a !== p.protocol) ?? addresses[0]}` : at, message: `a resource needs exactly one address, and it must be "${p.protocol}:" (the profile protocol)` });
      }
      if (r.snmp && (r.snmp.oid === undefined) === (r.snmp.column === undefined)) out.push({ pointer: `${at}/snmp`, message: 'give exactly one of oid (scalar) or column (table)' });
      if (r.rate && r.tag) out.push({ pointer: `${at}/rate`, message: 'a tag cannot have a rate' });
      if (r.rate && r.enum) out.push({ pointer: `${at}/rate`, message: 'a counter with a rate cannot also have an enum' });
      if (r.modbus?.type === 'string' && r.modbus.count === undefined) out.push({ pointer: `${at}/modbus`, message: 'type string needs count (registers)' });
    });
  });
  const ids = new Set<string>();
  p.health?.rules?.forEach((rule, i) => {
    if (ids.has(rule.id)) out.push({ pointer: `/health/rules/${i}/id`, message: `health rule "${rule.id}" is defined twice` });
    ids.add(rule.id);
    const parsed = parseExpression(rule.when);
    if (!parsed.ok) out.push({ pointer: `/health/rules/${i}/when`, message: parsed.error });
  });
  return out;
}

/** Rules that need the merged profile (a column added to a base table group, a rule on a base metric). */
function mergedProblems(r: ResolvedProfile, originOf: (o: object) => Origin | undefined): Array<Problem & { origin?: Origin }> {
  const out: Array<Problem & { origin?: Origin }> = [];
  const measurements = new Map<string, Set<string>>();
  for (const g of r.poll) {
    const set = measurements.get(g.measurement) ?? new Set<string>();
    measurements.set(g.measurement, set);
    for (const res of g.resources) if (!res.tag) set.add(res.metric);
    for (const res of g.resources) if (res.rate) set.add(res.rate.metric);
    if (g.summary) {
      const s = measurements.get(g.summary.measurement) ?? new Set<string>();
      measurements.set(g.summary.measurement, s);
      if (g.summary.rows) s.add(g.summary.rows);
      for (const k of Object.keys(g.summary.count ?? {})) s.add(k);
    }
    if (r.protocol === 'snmp') {
      const table = g.index !== undefined;
      for (const res of g.resources) {
        if (table && res.snmp?.oid !== undefined) out.push({ pointer: '/snmp/oid', origin: originOf(res), message: `group "${g.name}" is a table (it has index): use column, not oid` });
        if (!table && res.snmp?.column !== undefined) out.push({ pointer: '/snmp/column', origin: originOf(res), message: `group "${g.name}" has no index: a column needs the group to say how its index decodes (index:)` });
      }
    } else if (g.index || g.summary || g.maxRows) {
      out.push({ pointer: '', origin: originOf(g), message: 'index, summary and maxRows are for SNMP table groups only' });
    }
    for (const [name, c] of Object.entries(g.summary?.count ?? {})) {
      if (!g.resources.some((x) => x.metric === c.metric)) out.push({ pointer: `/summary/count/${name}/metric`, origin: originOf(g), message: `summary counts "${c.metric}", which group "${g.name}" does not poll` });
    }
  }
  // the synthetic measurement every engine emits
  measurements.set('device', new Set(['reachable', ...(measurements.get('device') ?? [])]));
  for (const rule of r.health.rules) {
    const m = measurements.get(rule.measurement);
    const missing = !m ? `measurement "${rule.measurement}" is not polled by this profile (polled: ${[...measurements.keys()].join(', ')})` : rule.conditions.filter((c) => !m.has(c.metric)).map((c) => `metric "${c.metric}" is not polled in measurement "${rule.measurement}"`)[0];
    if (missing) out.push({ pointer: '/when', origin: originOf(rule), message: missing });
  }
  return out;
}

// ---------------------------------------------------------------- extends

function mergeGroups(base: PollGroup[], own: PollGroup[], origins: WeakMap<object, Origin>): PollGroup[] {
  const out = base.map((g) => g);
  for (const g of own) {
    const i = out.findIndex((b) => b.name === g.name);
    if (i < 0) {
      out.push(g);
      continue;
    }
    const b = out[i]!;
    const resources = [...b.resources];
    for (const res of g.resources) {
      const j = resources.findIndex((x) => x.metric === res.metric);
      if (j < 0) resources.push(res);
      else resources[j] = res;
    }
    const merged: PollGroup = { ...b, ...g, resources };
    const o = origins.get(g);
    if (o) origins.set(merged, o);
    out[i] = merged;
  }
  return out;
}

// ---------------------------------------------------------------- load

export function loadProfiles(dir: string = DEFAULT_PROFILES_DIR): LoadResult {
  const errors: ProfileError[] = [];
  const origins = new WeakMap<object, Origin>();
  const loaded: Loaded[] = [];
  const errorAt = (l: Pick<Loaded, 'file' | 'doc' | 'lines'>, pointer: string, message: string): ProfileError => {
    const { line, column } = positionOf(l.doc, l.lines, pointer);
    return { file: l.file, line, column, path: pointer, message };
  };

  let files: string[];
  try {
    files = listProfileFiles(dir);
  } catch (err) {
    errors.push({ file: '.', line: 0, column: 0, path: '', message: `cannot read profiles directory ${dir}: ${(err as Error).message}` });
    return { registry: new ProfileRegistry([]), errors };
  }

  for (const file of files) {
    let text: string;
    try {
      const size = fs.statSync(path.join(dir, file)).size;
      if (size > MAX_FILE_BYTES) {
        errors.push({ file, line: 0, column: 0, path: '', message: `file of ${size} bytes is larger than ${MAX_FILE_BYTES}` });
        continue;
      }
      text = fs.readFileSync(path.join(dir, file), 'utf8');
    } catch (err) {
      errors.push({ file, line: 0, column: 0, path: '', message: `cannot read: ${(err as Error).message}` });
      continue;
    }
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length > 0) {
      for (const e of doc.errors.slice(0, MAX_ERRORS_PER_FILE)) {
        const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
        errors.push({ file, line: pos.line, column: pos.col, path: '', message: `YAML: ${e.message.split('\n')[0]}` });
      }
      continue;
    }
    let data: unknown;
    try {
      data = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      errors.push({ file, line: 1, column: 1, path: '', message: `YAML: ${(err as Error).message}` });
      continue;
    }
    const l = { file, doc, lines };
    if (!check.Check(data)) {
      const seen = new Set<string>();
      for (const e of check.Errors(data)) {
        if (seen.has(e.path)) continue;
        seen.add(e.path);
        errors.push(errorAt(l, e.path, describe(e)));
        if (seen.size >= MAX_ERRORS_PER_FILE) break;
      }
      continue;
    }
    const profile = data as Profile;
    const problems = fileProblems(profile);
    if (problems.length > 0) {
      for (const p of problems.slice(0, MAX_ERRORS_PER_FILE)) errors.push(errorAt(l, p.pointer, p.message));
      continue;
    }
    const expected = path.basename(file).replace(/\.ya?ml$/, '');
    if (expected !== profile.id) {
      errors.push(errorAt(l, '/id', `id "${profile.id}" must equal the file name "${expected}"`));
      continue;
    }
    profile.poll?.forEach((g, gi) => {
      origins.set(g, { file, pointer: `/poll/${gi}` });
      g.resources.forEach((r, ri) => origins.set(r, { file, pointer: `/poll/${gi}/resources/${ri}` }));
    });
    profile.health?.rules?.forEach((r, i) => origins.set(r, { file, pointer: `/health/rules/${i}` }));
    loaded.push({ file, doc, lines, profile });
  }

  // duplicate ids: every claimant is refused, so the outcome does not depend on file order
  const byId = new Map<string, Loaded[]>();
  for (const l of loaded) byId.set(l.profile.id, [...(byId.get(l.profile.id) ?? []), l]);
  for (const [id, list] of byId) {
    if (list.length < 2) continue;
    for (const l of list) errors.push(errorAt(l, '/id', `duplicate profile id "${id}" (also in ${list.filter((o) => o !== l).map((o) => o.file).join(', ')})`));
    byId.delete(id);
  }

  const resolved = new Map<string, ResolvedProfile | null>(); // null: refused
  const byFile = new Map(loaded.map((l) => [l.file, l]));
  const resolve = (l: Loaded, stack: string[]): ResolvedProfile | null => {
    const p = l.profile;
    const done = resolved.get(p.id);
    if (done !== undefined) return done;
    let base: ResolvedProfile | null | undefined;
    if (p.extends !== undefined) {
      const chain = [...stack, p.id];
      if (chain.includes(p.extends)) {
        const members = chain.slice(chain.indexOf(p.extends));
        const text = [...members, p.extends].join(' → ');
        for (const id of members) {
          const m = byId.get(id)?.[0];
          if (m) errors.push(errorAt(m, '/extends', `extends cycle: ${text}`));
          resolved.set(id, null);
        }
        return null;
      }
      const baseLoaded = byId.get(p.extends)?.[0];
      if (!baseLoaded) {
        errors.push(errorAt(l, '/extends', `extends unknown profile "${p.extends}"`));
        resolved.set(p.id, null);
        return null;
      }
      base = resolve(baseLoaded, chain);
      if (resolved.has(p.id)) return resolved.get(p.id)!; // refused while resolving a cycle through us
      if (base === null) {
        errors.push(errorAt(l, '/extends', `base profile "${p.extends}" was refused (see its errors)`));
        resolved.set(p.id, null);
        return null;
      }
      if (base.protocol !== p.protocol) {
        errors.push(errorAt(l, '/extends', `base profile "${p.extends}" is ${base.protocol}, this profile is ${p.protocol}`));
        resolved.set(p.id, null);
        return null;
      }
    }
    const rules: CompiledRule[] = [...(base?.health.rules ?? [])];
    for (const rule of p.health?.rules ?? []) {
      const parsed = parseExpression(rule.when);
      if (!parsed.ok) continue; // refused earlier
      const compiled: CompiledRule = { ...rule, measurement: parsed.measurement, conditions: parsed.conditions };
      origins.set(compiled, origins.get(rule)!);
      const i = rules.findIndex((x) => x.id === rule.id);
      if (i < 0) rules.push(compiled);
      else rules[i] = compiled;
    }
    const r: ResolvedProfile = {
      id: p.id,
      vendor: p.vendor,
      family: p.family,
      kind: p.kind,
      protocol: p.protocol,
      description: p.description,
      ...(p.match ? { match: p.match } : {}),
      poll: mergeGroups(base?.poll ?? [], p.poll ?? [], origins),
      health: { offlineAfterMissedPolls: p.health?.offlineAfterMissedPolls ?? base?.health.offlineAfterMissedPolls ?? DEFAULT_OFFLINE_AFTER, rules },
      capabilities: { ...(base?.capabilities ?? {}), ...(p.capabilities ?? {}) },
      docs: [...(base?.docs ?? []), ...(p.docs ?? [])],
      chain: [p.id, ...(base?.chain ?? [])],
      file: l.file,
    };
    const problems = mergedProblems(r, (o) => origins.get(o));
    if (problems.length > 0) {
      for (const pr of problems.slice(0, MAX_ERRORS_PER_FILE)) {
        const where = pr.origin ? byFile.get(pr.origin.file) ?? l : l;
        const note = where === l ? '' : ` (inherited by ${p.id})`;
        errors.push(errorAt(where, (pr.origin?.pointer ?? '') + pr.pointer, pr.message + note));
      }
      resolved.set(p.id, null);
      return null;
    }
    resolved.set(p.id, r);
    return r;
  };
  for (const [, list] of byId) resolve(list[0]!, []);

  const profiles = [...resolved.values()].filter((r): r is ResolvedProfile => r !== null).sort((a, b) => (a.id < b.id ? -1 : 1));
  // one line per problem, in file order, without repeats (a bad base is reported once per inheritor)
  const unique = new Map<string, ProfileError>();
  for (const e of errors) unique.set(formatProfileError(e), e);
  return { registry: new ProfileRegistry(profiles), errors: [...unique.values()].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line)) };
}
