import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_PROFILES_DIR, formatProfileError, loadProfiles } from './loader.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** A temp profiles dir holding a copy of the shipped profiles plus `extra` files. */
function profilesDir(extra: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-profiles-'));
  dirs.push(dir);
  fs.cpSync(DEFAULT_PROFILES_DIR, dir, { recursive: true });
  for (const [file, text] of Object.entries(extra)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

const shippedCount = loadProfiles().registry.size;

const header = (id: string, ext = 'generic-snmp-switch'): string => `id: ${id}
vendor: Acme
family: GS series
kind: switch
protocol: snmp
extends: ${ext}
description:
  zh-CN: Acme 交换机
  en: Acme switch
`;

describe('a broken profile is refused with file, line and reason; the others still load', () => {
  it('YAML syntax error', () => {
    const { registry, errors } = loadProfiles(profilesDir({ 'snmp/acme-gs.yaml': `${header('acme-gs')}match:\n  snmp:\n    sysObjectID: [1.3.6.1.4.1.99999\n` }));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: 'snmp/acme-gs.yaml' });
    expect(errors[0]!.line).toBeGreaterThanOrEqual(11);
    expect(errors[0]!.message).toMatch(/^YAML: /);
    expect(registry.size).toBe(shippedCount);
  });

  it('schema violation points at the offending line', () => {
    const text = `${header('acme-gs')}match:
  snmp:
    sysObjectID: [1.3.6.1.4.1.99999]
poll:
  - name: board
    interval: 5m
    measurement: board
    resources:
      - metric: cpuPercent
        snmp: { oid: 1.3.6.1.4.1.99999.2.0, type: integer }
        scale: lots
`;
    const { registry, errors } = loadProfiles(profilesDir({ 'snmp/acme-gs.yaml': text }));
    expect(errors.map(formatProfileError)).toEqual([expect.stringMatching(/^snmp\/acme-gs\.yaml:20:9: Expected number \(got "lots"\) \(at \/poll\/0\/resources\/0\/scale\)$/)]);
    expect(registry.get('acme-gs')).toBeUndefined();
    expect(registry.size).toBe(shippedCount);
  });

  it('a typo in a key is named, with a suggestion, on its line', () => {
    const text = `${header('acme-gs')}match:
  snmp:
    sysObjectId: [1.3.6.1.4.1.99999]
`;
    const { errors } = loadProfiles(profilesDir({ 'snmp/acme-gs.yaml': text }));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: 'snmp/acme-gs.yaml', line: 12, path: '/match/snmp/sysObjectId' });
    expect(errors[0]!.message).toBe('unknown key "sysObjectId" (did you mean "sysObjectID"?)');
  });

  it('a value outside a fixed list says which values are allowed', () => {
    const { errors } = loadProfiles(profilesDir({ 'snmp/acme-gs.yaml': header('acme-gs').replace('kind: switch', 'kind: swich') }));
    expect(errors[0]).toMatchObject({ line: 4, path: '/kind' });
    expect(errors[0]!.message).toMatch(/^"swich" is not one of: camera, nvr, switch/);
  });

  it('a health rule on a metric nobody polls is refused at the rule', () => {
    const text = `${header('acme-gs')}health:
  rules:
    - id: hot
      when: board.temperatureC > 60
      severity: warning
      message: { key: health.acme.hot, zh-CN: 过热, en: too hot }
`;
    const { errors } = loadProfiles(profilesDir({ 'snmp/acme-gs.yaml': text }));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ file: 'snmp/acme-gs.yaml', line: 13, path: '/health/rules/0/when' });
    expect(errors[0]!.message).toMatch(/measurement "board" is not polled/);
  });

  it('unknown extends', () => {
    const { registry, errors } = loadProfiles(profilesDir({ 'snmp/acme-gs.yaml': header('acme-gs', 'generic-snmp-swtich') }));
    expect(errors.map(formatProfileError)).toEqual(['snmp/acme-gs.yaml:6:1: extends unknown profile "generic-snmp-swtich" (at /extends)']);
    expect(registry.size).toBe(shippedCount);
  });

  it('an extends cycle refuses every member, and whatever extends them', () => {
    const { registry, errors } = loadProfiles(
      profilesDir({
        'snmp/acme-a.yaml': header('acme-a', 'acme-b'),
        'snmp/acme-b.yaml': header('acme-b', 'acme-a'),
        'snmp/acme-c.yaml': header('acme-c', 'acme-a'),
      }),
    );
    const lines = errors.map(formatProfileError);
    expect(lines).toContainEqual(expect.stringMatching(/^snmp\/acme-a\.yaml:6:1: extends cycle: acme-a → acme-b → acme-a/));
    expect(lines).toContainEqual(expect.stringMatching(/^snmp\/acme-b\.yaml:6:1: extends cycle/));
    expect(lines).toContainEqual(expect.stringMatching(/^snmp\/acme-c\.yaml:6:1: base profile "acme-a" was refused/));
    expect(registry.size).toBe(shippedCount);
  });

  it('a duplicate id refuses every file claiming it', () => {
    const { registry, errors } = loadProfiles(profilesDir({ 'snmp/vendor/acme-gs.yaml': header('acme-gs'), 'snmp/acme-gs.yml': header('acme-gs') }));
    expect(errors.map(formatProfileError)).toEqual([
      'snmp/acme-gs.yml:1:1: duplicate profile id "acme-gs" (also in snmp/vendor/acme-gs.yaml) (at /id)',
      'snmp/vendor/acme-gs.yaml:1:1: duplicate profile id "acme-gs" (also in snmp/acme-gs.yml) (at /id)',
    ]);
    expect(registry.get('acme-gs')).toBeUndefined();
    expect(registry.size).toBe(shippedCount);
  });

  it('checks what the schema cannot: protocol sections, regexes, expressions, file name', () => {
    const text = `${header('acme-gs')}match:
  onvif:
    manufacturer: [acme]
  snmp:
    sysDescr: ['(unclosed']
health:
  rules:
    - id: x
      when: interface.operStatus => 2
      severity: warning
      message: { key: health.acme.x, zh-CN: 某, en: x }
`;
    const { errors } = loadProfiles(profilesDir({ 'snmp/acme-gs.yaml': text, 'snmp/acme-other.yaml': header('acme-wrong-name') }));
    const lines = errors.map(formatProfileError);
    expect(lines).toContainEqual(expect.stringMatching(/^snmp\/acme-gs\.yaml:11:3: a snmp profile can only have match\.snmp/));
    expect(lines).toContainEqual(expect.stringMatching(/^snmp\/acme-gs\.yaml:14:16: invalid regular expression/));
    expect(lines).toContainEqual(expect.stringMatching(/^snmp\/acme-gs\.yaml:18:7: cannot read condition/));
    expect(lines).toContainEqual(expect.stringMatching(/^snmp\/acme-other\.yaml:1:1: id "acme-wrong-name" must equal the file name "acme-other"/));
  });
});

describe('adding a vendor is one file', () => {
  it('a new vendor profile in a fresh profiles dir is matched with no code change', () => {
    const text = `# Acme GS switches (ACME-SYSTEM-MIB)
${header('acme-gs')}match:
  snmp:
    sysObjectID: [1.3.6.1.4.1.99999.1]
poll:
  - name: board
    interval: 5m
    measurement: board
    resources:
      - metric: cpuPercent
        snmp: { oid: 1.3.6.1.4.1.99999.2.1.0, type: integer }
        units: '%'
capabilities:
  ipv6: false
`;
    const dir = profilesDir({ 'snmp/acme-gs.yaml': text });
    const { registry, errors } = loadProfiles(dir);
    expect(errors).toEqual([]);
    const p = registry.matchSnmp({ sysObjectID: '1.3.6.1.4.1.99999.1.7', sysDescr: 'Acme GS-24 Switch' });
    expect(p?.id).toBe('acme-gs');
    expect(p?.poll.map((g) => g.name)).toContain('interfaces'); // inherited from the generic switch
    expect(p?.capabilities).toMatchObject({ ipv6: false, lldp: true });
    // and without the file, the same device falls back to the generic switch
    fs.rmSync(path.join(dir, 'snmp/acme-gs.yaml'));
    expect(loadProfiles(dir).registry.matchSnmp({ sysObjectID: '1.3.6.1.4.1.99999.1.7', sysDescr: 'Acme GS-24 Switch' })?.id).toBe('generic-snmp-switch');
  });
});
