import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProfiles } from '../../device-profiles/loader.ts';
import { startSimulatedSwitch } from '../../simulator/snmp/simulated-switch.ts';
import { parseAgentConfig } from '../config.ts';
import { isLoopbackHost } from '../http/targets.ts';
import { idFromSysName, SnmpDeviceBook, sweepSnmp, type SnmpFingerprintAnswer } from './discovery.ts';
import { RANGE_DEVICES, SNMPD_OFFSET, startRangeGear, type RangeGear } from './range-gear-for-tests.ts';
import { expandHosts, expandTarget, MAX_RANGE_ADDRESSES, parseTarget } from './targets.ts';

const minimal = { schoolCode: '3715020001', agentId: 'gw-1', mqtt: { url: 'mqtt://127.0.0.1:18830' } };

describe('discovery targets', () => {
  it('reads hosts, ranges and ports', () => {
    expect(parseTarget('127.0.0.1')).toMatchObject({ family: 4, host: '127.0.0.1', portFrom: 161, portTo: 161 });
    expect(parseTarget('127.0.0.1:16100-16140')).toMatchObject({ host: '127.0.0.1', portFrom: 16100, portTo: 16140 });
    expect(parseTarget('127.0.0.1/32')).toMatchObject({ prefix: 32, portFrom: 161 });
    expect(parseTarget('127.0.0.0/30:1161')).toMatchObject({ prefix: 30, portFrom: 1161 });
    expect(parseTarget('[::1]:16161')).toMatchObject({ family: 6, host: '::1', portFrom: 16161 });
    expect(parseTarget('::1')).toMatchObject({ family: 6, host: '::1', portFrom: 161 });
    expect(parseTarget('switch-3.school.lan:161')).toMatchObject({ family: 'name', host: 'switch-3.school.lan' });
    expect(expandHosts(parseTarget('127.0.0.0/30'))).toEqual(['127.0.0.1', '127.0.0.2']); // network and broadcast left out
    expect(expandHosts(parseTarget('127.0.0.1/32'))).toEqual(['127.0.0.1']);
    expect(expandHosts(parseTarget('[fd00::/126]:161'))).toEqual(['fd00::', 'fd00::1', 'fd00::2', 'fd00::3']);
    expect([...expandTarget(parseTarget('127.0.0.1:16100-16102'))].map((t) => t.port)).toEqual([16100, 16101, 16102]);
    expect(expandHosts(parseTarget('127.0.0.0/22'))).toHaveLength(1022);
  });

  it('refuses ranges over 1024 addresses, bad ports and garbage, with the reason', () => {
    expect(() => parseTarget('10.0.0.0/21')).toThrow(/\/21 covers 2048 addresses; one range may cover at most 1024 \(\/22\)/);
    expect(() => parseTarget('10.0.0.0/8')).toThrow(/split it/);
    expect(() => parseTarget('[fd00::/64]')).toThrow(/at most 1024/);
    expect(() => parseTarget('127.0.0.1:0')).toThrow(/port/);
    expect(() => parseTarget('127.0.0.1:200-100')).toThrow(/port range/);
    expect(() => parseTarget('127.0.0.1:1-5000')).toThrow(/at most 1024/);
    expect(() => parseTarget('not a host')).toThrow(/not an IP address or host name/);
    // the sweep's own safety check, for a target that did not come through parseTarget
    expect(() => expandHosts({ spec: 'x', family: 4, host: '10.0.0.0', prefix: 16, portFrom: 161, portTo: 161 })).toThrow(new RegExp(`at most ${MAX_RANGE_ADDRESSES}`));
  });

  it('the agent config refuses a too-large range by its path, and fills discovery defaults', () => {
    expect(() => parseAgentConfig({ ...minimal, discovery: { snmp: { targets: ['127.0.0.1', '10.0.0.0/16'] } } })).toThrow(/\/discovery\/snmp\/targets\/1 .*65536 addresses/);
    const cfg = parseAgentConfig({ ...minimal, discovery: { snmp: { targets: ['127.0.0.1:16100-16140'] } } });
    expect(cfg.discovery?.snmp).toEqual({ targets: ['127.0.0.1:16100-16140'], communities: ['public'], timeoutMs: 1000, retries: 0, concurrency: 32, intervalSec: 900, goneAfterScans: 2 });
    expect(parseAgentConfig(minimal).discovery).toBeUndefined(); // no default targets: nothing is scanned
  });
});

describe('sweep of a loopback port range (simulated vendors + Debian snmpd)', () => {
  let gear: RangeGear;
  beforeAll(async () => {
    gear = await startRangeGear();
  }, 60_000);
  afterAll(async () => {
    await gear?.stop();
  });

  it('finds every device, skips silent ports, and the profiles identify each', async () => {
    const r = await sweepSnmp([gear.target], { communities: ['wrong', 'public'], timeoutMs: 400, concurrency: 4, isAllowed: isLoopbackHost });
    expect(r.errors).toEqual([]);
    expect(r.probed).toBe(10);
    const ports = r.found.map((f) => f.port - gear.from);
    expect(ports).toEqual([...RANGE_DEVICES.map((d) => d.offset), SNMPD_OFFSET].sort((a, b) => a - b));
    expect(r.found.every((f) => f.community === 'public')).toBe(true);
    const { registry } = loadProfiles();
    for (const d of RANGE_DEVICES) {
      const f = r.found.find((x) => x.port === gear.from + d.offset)!;
      expect(f).toMatchObject({ sysName: d.sysName, sysObjectID: d.sysObjectID, address: `127.0.0.1:${gear.from + d.offset}` });
      expect(registry.matchSnmp(f)?.id).toBe(d.expectProfile);
    }
    const snmpd = r.found.find((x) => x.port === gear.from + SNMPD_OFFSET)!;
    expect(snmpd.sysObjectID).toMatch(/^1\.3\.6\.1\.4\.1\.8072\./); // net-snmp's own enterprise
    expect(registry.matchSnmp(snmpd)).toBeUndefined();
  });

  it('a configured address is left out of the sweep', async () => {
    const r = await sweepSnmp([gear.target], { communities: ['public'], timeoutMs: 400, concurrency: 10, skip: new Set([`127.0.0.1:${gear.from}`]), isAllowed: isLoopbackHost });
    expect(r.probed).toBe(9);
    expect(r.found.map((f) => f.sysName)).not.toContain('core-sw1');
  });

  it('reaches IPv6 loopback', async () => {
    const sw = await startSimulatedSwitch({ host: '::1', sysName: 'v6-sw', sysObjectID: '1.3.6.1.4.1.2011.2.23.1', interfaces: 2, uplinkMbps: 1000 });
    try {
      const r = await sweepSnmp([`[::1]:${sw.port}`], { communities: ['public'], timeoutMs: 1000, concurrency: 1, isAllowed: isLoopbackHost });
      expect(r.found).toEqual([expect.objectContaining({ host: '::1', address: `[::1]:${sw.port}`, sysName: 'v6-sw' })]);
    } finally {
      await sw.stop();
    }
  });
});

describe('SnmpDeviceBook: stable ids', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-book-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const ans = (over: Partial<SnmpFingerprintAnswer>): SnmpFingerprintAnswer => ({ host: '127.0.0.1', port: 161, address: '127.0.0.1:161', community: 'public', sysObjectID: '1.3.6.1.4.1.2011.2.23.1', sysName: 'core-sw1', sysDescr: 'v1', ...over });

  it('names by sysName, follows a move, a rename and a firmware change, and survives a reload', () => {
    expect(idFromSysName('教学楼 核心交换机')).toBeUndefined();
    expect(idFromSysName('Core SW #1 (教学楼)')).toBe('Core-SW-1');
    const file = path.join(dir, 'book.json');
    const book = new SnmpDeviceBook(file);
    const opts = { goneAfterScans: 2, reserved: new Set(['sw-1']) };
    let ch = book.applyScan([ans({}), ans({ port: 162, address: '127.0.0.1:162', sysName: 'sw-1' }), ans({ port: 163, address: '127.0.0.1:163', sysName: undefined })], opts);
    expect(ch.added.map((e) => e.id)).toEqual(['core-sw1', 'sw-1-2', 'snmp-127.0.0.1-163']);
    // moved to another address: same id, reported as a change
    ch = book.applyScan([ans({ port: 170, address: '127.0.0.1:170', sysDescr: 'v2' }), ans({ port: 162, address: '127.0.0.1:162', sysName: 'sw-1' })], opts);
    expect(ch.added).toEqual([]);
    expect(ch.changed).toEqual([{ entry: expect.objectContaining({ id: 'core-sw1', address: '127.0.0.1:170', previousAddress: '127.0.0.1:161' }), what: ['address', 'sysDescr'] }]);
    expect(ch.gone).toEqual([]); // the unnamed one missed one scan of two
    const again = new SnmpDeviceBook(file);
    ch = again.applyScan([ans({ port: 170, address: '127.0.0.1:170', sysDescr: 'v2' })], opts);
    expect(ch.gone.map((e) => e.id)).toEqual(['snmp-127.0.0.1-163']);
    expect(again.active().map((e) => e.id)).toEqual(['core-sw1', 'sw-1-2']);
    // back after being gone: the old id again
    ch = again.applyScan([ans({ port: 163, address: '127.0.0.1:163', sysName: undefined })], opts);
    expect(ch.added).toEqual([]);
    expect(ch.changed.map((c) => [c.entry.id, c.what])).toEqual([['snmp-127.0.0.1-163', ['back']]]);
  });
});
