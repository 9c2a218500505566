/**
 * Loads and validates the policy packs (packs/*.yaml), resolves `extends`, and gives the rules in
 * force for one school after the bureau's overrides. A broken pack is refused with its file and
 * the reason; the others still load.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { parse as parseYaml } from 'yaml';
import { PolicyPack, type KeyAreaType, type Rule, type Source } from './schema.ts';
import { checkRuleParams } from './rules.ts';

export const PACKS_DIR = fileURLToPath(new URL('./packs/', import.meta.url));
const check = TypeCompiler.Compile(PolicyPack);

export interface PackError {
  file: string;
  message: string;
}

export interface LoadedPacks {
  packs: Map<string, PolicyPack>;
  errors: PackError[];
}

export function loadPacks(dir = PACKS_DIR): LoadedPacks {
  const packs = new Map<string, PolicyPack>();
  const errors: PackError[] = [];
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    const file = join(dir, name);
    let data: unknown;
    try {
      data = parseYaml(readFileSync(file, 'utf8'));
    } catch (err) {
      errors.push({ file, message: `not valid YAML: ${(err as Error).message}` });
      continue;
    }
    if (!check.Check(data)) {
      const e = check.Errors(data).First();
      errors.push({ file, message: e ? `${e.path || '/'} ${e.message}` : 'does not match the policy-pack schema' });
      continue;
    }
    const problems = (data.rules ?? []).flatMap((r) => checkRuleParams(r.kind, r.params).map((m) => `rule ${r.id}: ${m}`));
    if (`${data.id}.yaml` !== name) problems.push(`the file must be named after the pack id (${data.id}.yaml)`);
    if (packs.has(data.id)) problems.push(`pack id ${data.id} is used twice`);
    if (problems.length) {
      errors.push({ file, message: problems.join('; ') });
      continue;
    }
    packs.set(data.id, data);
  }
  return { packs, errors };
}

/** A policy: the pack the bureau selected with everything it extends folded in. */
export interface Policy {
  id: string;
  version: string;
  title: PolicyPack['title'];
  rules: Rule[];
  keyAreaTypes: KeyAreaType[];
  overrides: NonNullable<PolicyPack['overrides']>;
}

export class PolicyError extends Error {}

export function resolvePolicy(packs: Map<string, PolicyPack>, id: string, seen: string[] = []): Policy {
  const pack = packs.get(id);
  if (!pack) throw new PolicyError(`policy pack ${id} is not loaded${seen.length ? ` (extended by ${seen.at(-1)})` : ''}`);
  if (seen.includes(id)) throw new PolicyError(`policy packs extend each other in a cycle: ${[...seen, id].join(' → ')}`);
  const rules = new Map<string, Rule>();
  const areas = new Map<string, KeyAreaType>();
  const overrides: Policy['overrides'] = [];
  for (const base of pack.extends ?? []) {
    const b = resolvePolicy(packs, base, [...seen, id]);
    for (const r of b.rules) rules.set(r.id, r);
    for (const a of b.keyAreaTypes) areas.set(a.type, a);
    overrides.push(...b.overrides);
  }
  for (const r of pack.rules ?? []) rules.set(r.id, r);
  for (const a of pack.keyAreaTypes ?? []) areas.set(a.type, a);
  for (const o of pack.overrides ?? []) {
    for (const [ruleId, params] of Object.entries(o.rules)) {
      const rule = rules.get(ruleId);
      if (!rule) throw new PolicyError(`pack ${id}: an override names rule ${ruleId}, which neither it nor what it extends defines`);
      const { enabled: _enabled, ...rest } = params;
      const problems = checkRuleParams(rule.kind, { ...rule.params, ...rest });
      if (problems.length) throw new PolicyError(`pack ${id}: override of ${ruleId}: ${problems.join('; ')}`);
    }
    overrides.push(o);
  }
  return { id: pack.id, version: pack.version, title: pack.title, rules: [...rules.values()], keyAreaTypes: [...areas.values()], overrides };
}

export interface SchoolProfile {
  countyCode: string;
  type: string;
  ownership: 'public' | 'private';
  /** students and staff: the standards count people */
  people: number;
}

export interface EffectiveRule extends Rule {
  /** where each figure comes from: the rule's source, then any override that changed it */
  sources: Source[];
}

/** The rules in force for one school: overrides that match it applied in order, disabled ones dropped. */
export function rulesFor(policy: Policy, school: SchoolProfile): EffectiveRule[] {
  const out = new Map<string, EffectiveRule>(policy.rules.map((r) => [r.id, { ...r, params: { ...r.params }, sources: [r.source] }]));
  for (const o of policy.overrides) {
    const m = o.match;
    if (m.county !== undefined && m.county !== school.countyCode) continue;
    if (m.schoolType !== undefined && m.schoolType !== school.type) continue;
    if (m.ownership !== undefined && m.ownership !== school.ownership) continue;
    if (m.studentsAtLeast !== undefined && school.people < m.studentsAtLeast) continue;
    for (const [ruleId, params] of Object.entries(o.rules)) {
      const r = out.get(ruleId);
      if (!r) continue;
      const { enabled, ...rest } = params;
      if (typeof enabled === 'boolean') r.enabled = enabled;
      Object.assign(r.params, rest);
      r.sources.push(o.source);
    }
  }
  return [...out.values()].filter((r) => r.enabled !== false);
}
