/** Policy packs load and validate; extends and overrides resolve; rules judge facts, citing sources. */
import { mkdtempSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPacks, PACKS_DIR, PolicyError, resolvePolicy, rulesFor, type SchoolProfile } from './packs.ts';
import { evaluate, type SchoolFacts } from './rules.ts';

const school = (over: Partial<SchoolProfile> = {}): SchoolProfile => ({ countyCode: '371502', type: 'primary', ownership: 'public', people: 1200, ...over });

describe('shipped policy packs', () => {
  const { packs, errors } = loadPacks();

  it('all load without error', () => {
    expect(errors).toEqual([]);
    expect([...packs.keys()].sort()).toEqual(['gbt-29315-2022', 'guangzhou-2017', 'liaocheng-2023', 'songjiang-2018']);
    for (const id of packs.keys()) expect(() => resolvePolicy(packs, id)).not.toThrow();
  });

  it('Liaocheng: uplink ≥ 200 Mbit/s from its standard 1.1.2, and the national key areas', () => {
    const policy = resolvePolicy(packs, 'liaocheng-2023');
    const uplink = rulesFor(policy, school()).find((r) => r.id === 'uplink-bandwidth')!;
    expect(uplink.params.minMbps).toBe(200);
    expect(uplink.sources[0]).toMatchObject({ clause: '1.1.2 互联网接入', seed: '002' });
    const gate = policy.keyAreaTypes.find((a) => a.type === 'main-entrance')!;
    expect(gate).toMatchObject({ obligation: 'required', requiredLevel: 'identify' });
    expect(policy.keyAreaTypes.filter((a) => a.obligation === 'required')).toHaveLength(9);
  });

  it('Guangzhou: public 1000, private 100, the override cited', () => {
    const policy = resolvePolicy(packs, 'guangzhou-2017');
    const pub = rulesFor(policy, school()).find((r) => r.id === 'uplink-bandwidth')!;
    const priv = rulesFor(policy, school({ ownership: 'private' })).find((r) => r.id === 'uplink-bandwidth')!;
    expect(pub.params.minMbps).toBe(1000);
    expect(priv.params.minMbps).toBe(100);
    expect(priv.sources.map((s) => s.clause)).toEqual(['二.一、4', '4']);
  });

  it('Songjiang: 10 Gbit/s only from 2,500 people on; IPv6 for all', () => {
    const policy = resolvePolicy(packs, 'songjiang-2018');
    expect(rulesFor(policy, school({ people: 2499 })).map((r) => r.id)).not.toContain('uplink-bandwidth');
    const big = rulesFor(policy, school({ people: 2500 })).find((r) => r.id === 'uplink-bandwidth')!;
    expect(big.params.minMbps).toBe(10000);
    expect(rulesFor(policy, school()).find((r) => r.id === 'ipv6')!.params.minShare).toBe(1);
  });
});

describe('broken packs', () => {
  function dirWith(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'packs-'));
    copyFileSync(join(PACKS_DIR, 'gbt-29315-2022.yaml'), join(dir, 'gbt-29315-2022.yaml'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  }

  it('a pack with a typo, bad YAML, or bad parameters is refused with its file; the others load', () => {
    const dir = dirWith({
      'typo.yaml': 'id: typo\nversion: "2024"\ntitle: { zh: 甲, en: a }\nrulez: []\n',
      'broken.yaml': 'id: broken\n  version: : :\n',
      'badparam.yaml':
        'id: badparam\nversion: "2024"\ntitle: { zh: 乙, en: b }\nrules:\n  - { id: up, kind: uplink-bandwidth, title: { zh: 丙, en: c }, source: { document: x }, params: { minMbps: -5, colour: 3 } }\n',
    });
    try {
      const { packs, errors } = loadPacks(dir);
      expect([...packs.keys()]).toEqual(['gbt-29315-2022']);
      const byFile = Object.fromEntries(errors.map((e) => [e.file.split('/').pop(), e.message]));
      expect(byFile['typo.yaml']).toMatch(/rulez|additional/i);
      expect(byFile['broken.yaml']).toMatch(/not valid YAML/);
      expect(byFile['badparam.yaml']).toMatch(/minMbps must be between/);
      expect(byFile['badparam.yaml']).toMatch(/unknown parameter colour/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it('unknown extends, cycles and overrides of unknown rules are refused when resolving', () => {
    const dir = dirWith({
      'pa.yaml': 'id: pa\nversion: "2024"\ntitle: { zh: 甲, en: a }\nextends: [pb]\n',
      'pb.yaml': 'id: pb\nversion: "2024"\ntitle: { zh: 乙, en: b }\nextends: [pa]\n',
      'pc.yaml': 'id: pc\nversion: "2024"\ntitle: { zh: 丙, en: c }\nextends: [nope]\n',
      'pd.yaml':
        'id: pd\nversion: "2024"\ntitle: { zh: 丁, en: d }\nextends: [gbt-29315-2022]\noverrides:\n  - { match: { county: "371502" }, rules: { missing-rule: { x: 1 } }, source: { document: x } }\n',
    });
    try {
      const { packs, errors } = loadPacks(dir);
      expect(errors).toEqual([]);
      expect(() => resolvePolicy(packs, 'pa')).toThrow(/cycle: pa → pb → pa/);
      expect(() => resolvePolicy(packs, 'pc')).toThrow(/nope is not loaded/);
      expect(() => resolvePolicy(packs, 'pd')).toThrow(PolicyError);
      expect(() => resolvePolicy(packs, 'pd')).toThrow(/missing-rule/);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('rules judge facts', () => {
  const { packs } = loadPacks();
  const rules = rulesFor(resolvePolicy(packs, 'liaocheng-2023'), school());
  const byId = (facts: SchoolFacts) => Object.fromEntries(evaluate(rules, facts).map((f) => [f.ruleId, f]));

  it('no data is unknown, not a pass', () => {
    const f = byId({});
    for (const finding of Object.values(f)) expect(finding.verdict).toBe('unknown');
  });

  it('uplink: the measured speed wins over the contract; the threshold and source come along', () => {
    expect(byId({ uplink: { measuredCapacityMbps: 100, contractedMbps: 1000 } })['uplink-bandwidth']).toMatchObject({ verdict: 'fail', measured: 100, threshold: 200 });
    expect(byId({ uplink: { contractedMbps: 1000 } })['uplink-bandwidth']).toMatchObject({ verdict: 'pass', measured: 1000 });
    expect(byId({ uplink: { measuredCapacityMbps: 200 } })['uplink-bandwidth']!.verdict).toBe('pass');
  });

  it('utilisation, APs online, displays per classroom', () => {
    const f = byId({ uplink: { measuredCapacityMbps: 1000, p95Mbps: 850, peakMbps: 990 }, aps: { total: 10, online: 9 }, classrooms: 24, displays: { total: 24, working: 23 } });
    expect(f['uplink-utilisation']).toMatchObject({ verdict: 'fail', measured: 0.85, threshold: 0.8 });
    expect(f['network-devices-online']).toMatchObject({ verdict: 'fail', measured: 0.9 });
    expect(f['classroom-display']!.verdict).toBe('fail');
    expect(byId({ classrooms: 24, displays: { total: 24, working: 24 } })['classroom-display']!.verdict).toBe('pass');
  });

  it('key-area coverage: one uncovered required area fails the school and is named', () => {
    const keyAreas = [
      { id: 'gate', name: '主出入口', type: 'main-entrance', required: true, coveredShare: 0.42 },
      { id: 'field', name: '操场', type: 'playground', required: true, coveredShare: 1 },
      { id: 'fence', name: '周界', type: 'perimeter', required: false, coveredShare: 0 },
    ];
    const f = byId({ keyAreas })['key-area-coverage']!;
    expect(f).toMatchObject({ verdict: 'fail', measured: 0.5, uncovered: ['gate'] });
    expect(f.sources[0]!.document).toMatch(/GB\/T 29315/);
    expect(byId({ keyAreas: keyAreas.map((a) => ({ ...a, coveredShare: a.required ? 1 : 0 })) })['key-area-coverage']!.verdict).toBe('pass');
  });
});
