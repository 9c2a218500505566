/**
 * What each rule kind checks, against facts gathered about one school (from SNMP data in InfluxDB
 * and the inventory). A rule with no data to judge is `unknown`, never a pass: a school whose
 * uplink was never measured has not shown that it meets the standard.
 */
import type { RuleKind } from './schema.ts';
import type { EffectiveRule } from './packs.ts';

type Params = Record<string, number | boolean | string>;

/** Each kind's parameters: name → [type, required, lower bound, upper bound]. */
const PARAMS: Record<RuleKind, Record<string, ['number' | 'boolean', boolean, number?, number?]>> = {
  'uplink-bandwidth': { minMbps: ['number', true, 1, 1_000_000], useContractedWhenUnmeasured: ['boolean', false] },
  'uplink-utilisation': { maxP95Share: ['number', true, 0, 1], windowHours: ['number', false, 1, 24 * 90], saturationShare: ['number', false, 0, 1] },
  'ipv6-share': { minShare: ['number', true, 0, 1] },
  'uplink-ipv6': { minGlobalAddresses: ['number', false, 1, 64] },
  'display-per-classroom': { perClassroom: ['number', true, 0, 10], countOnlyWorking: ['boolean', false] },
  'class-board-per-classroom': { perClassroom: ['number', true, 0, 10] },
  'ap-online-share': { minShare: ['number', true, 0, 1] },
  'key-area-coverage': { minShareOfAreas: ['number', true, 0, 1], fullAreaShare: ['number', false, 0.5, 1], includeRecommended: ['boolean', false] },
};

export function checkRuleParams(kind: RuleKind, params: Params): string[] {
  const spec = PARAMS[kind];
  const out: string[] = [];
  for (const [name, [type, required, lo, hi]] of Object.entries(spec)) {
    const v = params[name];
    if (v === undefined) {
      if (required) out.push(`parameter ${name} is required for ${kind}`);
      continue;
    }
    if (typeof v !== type) out.push(`parameter ${name} must be a ${type}`);
    else if (typeof v === 'number' && ((lo !== undefined && v < lo) || (hi !== undefined && v > hi))) out.push(`parameter ${name} must be between ${lo} and ${hi}`);
  }
  for (const name of Object.keys(params)) if (!(name in spec) && name !== 'enabled') out.push(`unknown parameter ${name} for ${kind}`);
  return out;
}

export interface KeyAreaFact {
  id: string;
  name: string;
  type: string;
  required: boolean;
  /** share of the area seen at its required level by healthy cameras, 0..1 */
  coveredShare: number;
}

/** Everything measured about a school that the rules look at; absent = not measured. */
export interface SchoolFacts {
  uplink?: {
    /** ifHighSpeed of the uplink interface as the switch reports it */
    measuredCapacityMbps?: number;
    contractedMbps?: number;
    p95Mbps?: number;
    peakMbps?: number;
    saturationMinutes?: number;
  };
  ipv6?: { devices: number; withGlobal: number; incapable: number };
  /**
   * IPv6 on the school's uplink interface, from the switch's IP-MIB ipAddressTable (what the agent
   * last read for that switch). Absent: no uplink chosen, or the switch reported no addresses.
   */
  uplinkIpv6?: { device: string; ifName: string; ifIndex: number | null; globalAddresses: string[] };
  classrooms?: number;
  displays?: { total: number; working: number };
  classBoards?: number;
  aps?: { total: number; online: number };
  keyAreas?: KeyAreaFact[];
}

export type Verdict = 'pass' | 'fail' | 'unknown';

export interface Finding {
  ruleId: string;
  kind: RuleKind;
  title: EffectiveRule['title'];
  verdict: Verdict;
  measured: number | null;
  threshold: number;
  unit: string;
  /** a sentence for people: what was measured and from what */
  detail: string;
  sources: EffectiveRule['sources'];
  /** key areas not fully covered, for coverage rules */
  uncovered?: string[];
}

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

export function evaluateRule(rule: EffectiveRule, f: SchoolFacts): Finding {
  const p = rule.params;
  const base = { ruleId: rule.id, kind: rule.kind, title: rule.title, sources: rule.sources };
  const unknown = (threshold: number, unit: string, detail: string): Finding => ({ ...base, verdict: 'unknown', measured: null, threshold, unit, detail });
  const judged = (ok: boolean, measured: number, threshold: number, unit: string, detail: string): Finding => ({ ...base, verdict: ok ? 'pass' : 'fail', measured, threshold, unit, detail });

  switch (rule.kind) {
    case 'uplink-bandwidth': {
      const min = p.minMbps as number;
      const measured = f.uplink?.measuredCapacityMbps;
      if (measured !== undefined) return judged(measured >= min, measured, min, 'Mbit/s', `uplink interface speed ${measured} Mbit/s (SNMP ifHighSpeed)`);
      const contracted = f.uplink?.contractedMbps;
      if (contracted !== undefined && p.useContractedWhenUnmeasured !== false) {
        return judged(contracted >= min, contracted, min, 'Mbit/s', `contracted ${contracted} Mbit/s (no uplink speed measured yet)`);
      }
      return unknown(min, 'Mbit/s', 'no uplink speed measured and no contracted figure');
    }
    case 'uplink-utilisation': {
      const max = p.maxP95Share as number;
      const cap = f.uplink?.measuredCapacityMbps ?? f.uplink?.contractedMbps;
      const p95 = f.uplink?.p95Mbps;
      if (cap === undefined || p95 === undefined || cap <= 0) return unknown(max, 'share', 'no uplink traffic measured');
      const share = p95 / cap;
      const sat = f.uplink?.saturationMinutes;
      return judged(share <= max, share, max, 'share', `95th percentile ${p95.toFixed(1)} of ${cap} Mbit/s = ${pct(share)}${f.uplink?.peakMbps !== undefined ? `, peak ${f.uplink.peakMbps.toFixed(1)} Mbit/s` : ''}${sat !== undefined ? `, ${sat} min saturated` : ''}`);
    }
    case 'ipv6-share': {
      const min = p.minShare as number;
      if (!f.ipv6 || f.ipv6.devices === 0) return unknown(min, 'share', 'no device addresses reported');
      const share = f.ipv6.withGlobal / f.ipv6.devices;
      return judged(share >= min, share, min, 'share', `${f.ipv6.withGlobal} of ${f.ipv6.devices} devices have a global IPv6 address${f.ipv6.incapable ? `; ${f.ipv6.incapable} cannot do IPv6 at all (by profile)` : ''}`);
    }
    case 'uplink-ipv6': {
      // "Reachable" here means configured: the uplink interface carries a global IPv6 address.
      // A real reachability probe (ICMPv6 echo from the agent to the county network's gateway)
      // is a later step; until then a configured but unrouted address passes.
      const min = (p.minGlobalAddresses as number | undefined) ?? 1;
      const u = f.uplinkIpv6;
      if (!u) return unknown(min, 'addresses', 'no IP address table reported for the uplink switch (IP-MIB ipAddressTable)');
      if (u.ifIndex === null) return unknown(min, 'addresses', `the ifIndex of uplink ${u.device} ${u.ifName} is not known (no interface readings)`);
      const n = u.globalAddresses.length;
      return judged(
        n >= min,
        n,
        min,
        'addresses',
        n ? `uplink ${u.device} ${u.ifName} has global IPv6 ${u.globalAddresses.join(', ')} (SNMP IP-MIB)` : `uplink ${u.device} ${u.ifName} has no global IPv6 address (SNMP IP-MIB)`,
      );
    }
    case 'display-per-classroom':
    case 'class-board-per-classroom': {
      const per = p.perClassroom as number;
      if (f.classrooms === undefined || f.classrooms === 0) return unknown(per, 'per classroom', 'the number of classrooms is not recorded');
      const n = rule.kind === 'class-board-per-classroom' ? f.classBoards : p.countOnlyWorking === false ? f.displays?.total : f.displays?.working;
      if (n === undefined) return unknown(per, 'per classroom', 'no devices of that kind enrolled');
      const ratio = n / f.classrooms;
      return judged(ratio >= per, ratio, per, 'per classroom', `${n} for ${f.classrooms} classrooms`);
    }
    case 'ap-online-share': {
      const min = p.minShare as number;
      if (!f.aps || f.aps.total === 0) return unknown(min, 'share', 'no wireless APs enrolled');
      const share = f.aps.online / f.aps.total;
      return judged(share >= min, share, min, 'share', `${f.aps.online} of ${f.aps.total} APs online`);
    }
    case 'key-area-coverage': {
      const min = p.minShareOfAreas as number;
      const full = (p.fullAreaShare as number | undefined) ?? 0.999;
      const areas = (f.keyAreas ?? []).filter((a) => a.required || p.includeRecommended === true);
      if (areas.length === 0) return unknown(min, 'share', 'no key areas drawn on the campus plan');
      const uncovered = areas.filter((a) => a.coveredShare < full);
      const share = (areas.length - uncovered.length) / areas.length;
      return {
        ...judged(share >= min, share, min, 'share', `${areas.length - uncovered.length} of ${areas.length} key areas fully covered at their required level`),
        uncovered: uncovered.map((a) => a.id),
      };
    }
  }
}

export function evaluate(rules: EffectiveRule[], facts: SchoolFacts): Finding[] {
  return rules.map((r) => evaluateRule(r, facts));
}
