import * as fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DeviceKind } from '../protocol/index.ts';
import { formatProfileError, loadProfiles } from './loader.ts';
import { PROFILE_KINDS } from './schema.ts';
import { SCHEMA_FILE, schemaJsonText } from './gen-schema.ts';
import { README_FILE, renderReadme } from './gen-docs.ts';
import type { HttpAnswer, HttpProbe, ReadRegisters } from './registry.ts';

const { registry, errors } = loadProfiles();

describe('shipped profiles', () => {
  it('all load and validate, with no error at all', () => {
    expect(errors.map(formatProfileError)).toEqual([]);
    expect(registry.size).toBeGreaterThanOrEqual(17);
  });

  it('cover every family the issue asks for', () => {
    const ids = registry.all().map((p) => p.id);
    for (const id of ['generic-onvif-camera', 'hikvision-ipc', 'dahua-ipc', 'uniview-ipc', 'generic-snmp-switch', 'huawei-s-series', 'h3c-s-series', 'ruijie-rg-s', 'cisco-catalyst', 'huawei-ac', 'generic-modbus-ups', 'renke-th-sensor', 'campus-class-board', 'campus-interactive-display'])
      expect(ids).toContain(id);
    for (const p of registry.all('snmp')) if (p.kind === 'switch' && p.vendor !== 'generic') expect(p.chain).toContain('generic-snmp-switch');
  });

  it('keeps the profile kinds equal to the protocol DeviceKind', () => {
    expect([...PROFILE_KINDS].sort()).toEqual(DeviceKind.anyOf.map((s) => s.const as string).sort());
  });

  it('has the committed profile.schema.json equal to the generated one', () => {
    expect(fs.readFileSync(SCHEMA_FILE, 'utf8')).toBe(schemaJsonText());
  });

  it('has the generated table in README.md up to date', () => {
    const readme = fs.readFileSync(README_FILE, 'utf8');
    expect(readme).toBe(renderReadme(readme, registry.all()));
  });

  it('inherits poll groups and health rules from the base, and merges capabilities', () => {
    const hw = registry.get('huawei-s-series')!;
    expect(hw.chain).toEqual(['huawei-s-series', 'generic-snmp-switch', 'generic-snmp-device']);
    expect(hw.poll.map((g) => g.name)).toEqual(['system', 'interfaces', 'addresses', 'inventory', 'neighbours', 'board']);
    expect(hw.health.rules.map((r) => r.id)).toEqual(['unreachable', 'port-down', 'port-errors', 'cpu-high']);
    expect(hw.capabilities).toMatchObject({ ipv6: true, lldp: true, snmpVersions: ['2c', '3'] });
    expect(registry.get('campus-interactive-display')!.capabilities.ipv6).toBe(false);
  });
});

describe('matching', () => {
  it('SNMP: vendor sysObjectID → vendor profile; unknown enterprise → undefined; sysDescr → generic', () => {
    expect(registry.matchSnmp({ sysObjectID: '1.3.6.1.4.1.2011.2.23.402', sysDescr: 'Huawei Versatile Routing Platform Software S5720' })?.id).toBe('huawei-s-series');
    expect(registry.matchSnmp({ sysObjectID: '.1.3.6.1.4.1.25506.11.1.100' })?.id).toBe('h3c-s-series');
    expect(registry.matchSnmp({ sysObjectID: '1.3.6.1.4.1.4881.1.1.10.1.128', sysDescr: 'Ruijie Full Gigabit Switch RG-S2910' })?.id).toBe('ruijie-rg-s');
    expect(registry.matchSnmp({ sysObjectID: '1.3.6.1.4.1.4881.1.1.10.1.128', sysDescr: 'Ruijie AP (simulated) s1-ap1' })?.id).toBe('ruijie-ap');
    expect(registry.matchSnmp({ sysObjectID: '1.3.6.1.4.1.9.1.2694', sysDescr: 'Cisco IOS Software [Cupertino], Catalyst L3 Switch Software' })?.id).toBe('cisco-catalyst');
    expect(registry.matchSnmp({ sysObjectID: '1.3.6.1.4.1.2011.2.240.6', sysDescr: 'AC6508' })?.id).toBe('huawei-ac');
    // a prefix must end on an arc boundary: 2011.2.2300 is not under 2011.2.23
    expect(registry.matchSnmp({ sysObjectID: '1.3.6.1.4.1.2011.2.2300.1' })).toBeUndefined();
    expect(registry.matchSnmp({ sysObjectID: '1.3.6.1.4.1.99999.1.2', sysDescr: 'Acme router' })).toBeUndefined();
    expect(registry.matchSnmp({ sysObjectID: '1.3.6.1.4.1.99999.1.2', sysDescr: 'Acme 24-port Gigabit Switch' })?.id).toBe('generic-snmp-switch');
    expect(registry.matchSnmp({})).toBeUndefined();
  });

  it('ONVIF: manufacturer in any case → vendor; model pattern beats manufacturer alone; anything else → generic', () => {
    expect(registry.matchOnvif({ manufacturer: 'HIKVISION', model: 'DS-2CD2143G2-I' })?.id).toBe('hikvision-ipc');
    expect(registry.matchOnvif({ manufacturer: 'Hikvision', model: 'DS-2CD3T47' })?.id).toBe('hikvision-ipc');
    expect(registry.matchOnvif({ manufacturer: 'HIKVISION', model: 'DS-2DE4425IW-DE' })?.id).toBe('hikvision-ptz');
    expect(registry.matchOnvif({ manufacturer: 'Dahua', model: 'IPC-HFW2431S' })?.id).toBe('dahua-ipc');
    expect(registry.matchOnvif({ manufacturer: 'UNIVIEW', model: 'IPC322LB' })?.id).toBe('uniview-ipc');
    expect(registry.matchOnvif({ manufacturer: 'Acme Vision', model: 'X1' })?.id).toBe('generic-onvif-camera');
    expect(registry.matchOnvif({ manufacturer: '' })).toBeUndefined();
  });

  it('Modbus: reads identification registers; a failing or silent device → undefined', async () => {
    const words = (text: string): number[] => Array.from({ length: Math.ceil(text.length / 2) }, (_, i) => (text.charCodeAt(2 * i) << 8) | (text.charCodeAt(2 * i + 1) || 0));
    const ups: ReadRegisters = async ({ table, address, count }) => (table === 'holding' && address === 0 ? [...words('UPS-3K  '), 0, 0].slice(0, count) : Array(count).fill(0));
    expect((await registry.matchModbus(ups))?.id).toBe('generic-modbus-ups');
    const sensor: ReadRegisters = async ({ address, count }) => [562, 0xffec].slice(address, address + count); // 56.2 %RH, −2.0 °C
    expect((await registry.matchModbus(sensor))?.id).toBe('renke-th-sensor');
    const failing: ReadRegisters = async () => {
      throw new Error('exception code 2: illegal data address');
    };
    expect(await registry.matchModbus(failing)).toBeUndefined();
  });

  it('HTTP: fingerprint path, content type and JSON field; HTML instead of JSON → undefined', async () => {
    const answer =
      (body: string, type = 'application/json; charset=utf-8'): HttpProbe =>
      async (path): Promise<HttpAnswer> =>
        path === '/api/v1/status' ? { status: 200, headers: { 'Content-Type': type }, body } : { status: 404, headers: {}, body: '' };
    expect((await registry.matchHttp(answer(JSON.stringify({ deviceType: 'class-board' }))))?.id).toBe('campus-class-board');
    expect((await registry.matchHttp(answer(JSON.stringify({ deviceType: 'interactive-display' }))))?.id).toBe('campus-interactive-display');
    expect(await registry.matchHttp(answer('<html>login</html>', 'text/html'))).toBeUndefined();
    expect(await registry.matchHttp(answer('{"deviceType": "class-board"'))).toBeUndefined();
    expect(
      await registry.matchHttp(async () => {
        throw new Error('ECONNREFUSED');
      }),
    ).toBeUndefined();
  });
});
