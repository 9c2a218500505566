/**
 * SNMPv3 against Debian's real snmpd (createUser campus SHA … AES … + rouser campus priv, fresh
 * persistent dir each start, listening on 127.0.0.1 and [::1]): discovery finds it with the v3
 * user and not with a wrong key (a per-target error, the sweep goes on), the poller reads its
 * interfaces and IP-MIB addresses over v3, and no key appears in the discovery record, the logs,
 * the poll errors or the agent's device book.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProfiles } from '../../device-profiles/loader.ts';
import { startSimulatedSwitch, type SimulatedSwitch } from '../../simulator/snmp/simulated-switch.ts';
import { parseAgentConfig } from '../config.ts';
import { CredentialStore, CredentialStoreError } from '../credentials.ts';
import { isLoopbackHost } from '../http/targets.ts';
import { SnmpSource } from '../discovery/snmp-source.ts';
import { sweepSnmp } from './discovery.ts';
import { addressesFrom, DevicePoller, type PollTarget } from './profile-poller.ts';
import { startSnmpd, type RunningSnmpd } from './snmpd-for-tests.ts';

const AUTH_KEY = 'campus-auth-K3y-7f1e';
const PRIV_KEY = 'campus-priv-K3y-92ab';
const WRONG_KEY = 'not-the-auth-key-00';
// a community nobody sweeps with: snmpd must be found over v3, not v2c
const READY_COMMUNITY = 'ready-only-c0mm';

const store = CredentialStore.fromObject({
  snmpV3: [
    { name: 'campus', level: 'authPriv', authProtocol: 'sha', authKey: AUTH_KEY, privProtocol: 'aes', privKey: PRIV_KEY },
    { name: 'stranger', level: 'authPriv', authProtocol: 'sha', authKey: AUTH_KEY, privProtocol: 'aes', privKey: PRIV_KEY },
  ],
});
// snmpd knows only `campus`: 'stranger' is an unknown user, and a wrong key needs a user called campus
const wrongKeyStore = CredentialStore.fromObject({ snmpV3: [{ name: 'campus', authKey: WRONG_KEY, privKey: PRIV_KEY }] });
const { registry } = loadProfiles();
const secrets = [AUTH_KEY, PRIV_KEY, WRONG_KEY];
const noSecret = (text: string): void => {
  for (const k of secrets) expect(text).not.toContain(k);
};

describe('SNMPv3 with Debian snmpd', () => {
  let snmpd: RunningSnmpd;
  let sw: SimulatedSwitch;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-v3-'));
  beforeAll(async () => {
    snmpd = await startSnmpd(READY_COMMUNITY, { ipv6: true, v3Users: [{ name: 'campus', authProtocol: 'SHA', authKey: AUTH_KEY, privProtocol: 'AES', privKey: PRIV_KEY }] });
    sw = await startSimulatedSwitch({ sysName: 'v2c-sw', sysObjectID: '1.3.6.1.4.1.25506.11.1.100', interfaces: 2, uplinkMbps: 1000 });
  }, 30_000);
  afterAll(async () => {
    await snmpd?.stop();
    await sw?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the sweep finds snmpd with the v3 user (IPv4 and IPv6), remembering the user by name', async () => {
    const r = await sweepSnmp([`127.0.0.1:${snmpd.port}`, `[::1]:${snmpd.port}`], { communities: [], v3Users: [store.snmpV3User('campus')!], timeoutMs: 1000, concurrency: 2, isAllowed: isLoopbackHost });
    expect(r.errors).toEqual([]);
    expect(r.found.map((f) => [f.address, f.v3User, f.community])).toEqual([
      [`127.0.0.1:${snmpd.port}`, 'campus', ''],
      [`[::1]:${snmpd.port}`, 'campus', ''],
    ]);
    expect(r.found[0]!.sysObjectID).toMatch(/^1\.3\.6\.1\.4\.1\.8072\./);
    noSecret(JSON.stringify(r));
  });

  it('a wrong key or unknown user is a clear per-target error; the other targets are still found', async () => {
    const r = await sweepSnmp([`127.0.0.1:${snmpd.port}`, `127.0.0.1:${sw.port}`], {
      communities: ['public'],
      v3Users: [wrongKeyStore.snmpV3User('campus')!, store.snmpV3User('stranger')!],
      timeoutMs: 1000,
      concurrency: 2,
      isAllowed: isLoopbackHost,
    });
    expect(r.found.map((f) => [f.sysName, f.community, f.v3User])).toEqual([['v2c-sw', 'public', undefined]]);
    expect(r.errors).toEqual([
      `127.0.0.1:${snmpd.port}: SNMPv3 user "campus": authentication failed (wrong auth key or protocol); SNMPv3 user "stranger": unknown user`,
    ]);
    noSecret(JSON.stringify(r));
  });

  it('the poller reads interfaces and IP-MIB addresses over v3; a wrong key is a clear poll error', async () => {
    const target: PollTarget = { id: 'host', kind: 'switch', address: `[::1]:${snmpd.port}`, snmp: { version: '3', community: 'public', v3User: 'campus', timeoutMs: 2000, retries: 0 } };
    const p = new DevicePoller(target, registry, store);
    const a = await p.poll({ all: true });
    expect(a.errors.filter((e) => !/^(inventory|neighbours)/.test(e))).toEqual([]);
    expect(a.reachable).toBe(true);
    expect(p.profile?.id).toBe('generic-snmp-switch');
    const lo = a.readings.find((x) => x.measurement === 'interface' && x.tags?.ifName === 'lo');
    expect(lo?.metrics).toMatchObject({ operStatus: 1, adminUp: true });
    expect(p.addresses?.ipv4).toContain('127.0.0.1');
    expect(p.addresses?.ipv6).toContain('::1');

    const bad = new DevicePoller({ ...target, address: `127.0.0.1:${snmpd.port}` }, registry, wrongKeyStore);
    const b = await bad.poll({ all: true });
    expect(b.reachable).toBe(false);
    expect(b.errors).toEqual(['system group: SNMPv3 user "campus": authentication failed (wrong auth key or protocol)']);
    const none = await new DevicePoller({ ...target, snmp: { ...target.snmp, v3User: 'nobody' } }, registry, store).poll({ all: true });
    expect(none.errors).toEqual(['cannot open SNMP session: SNMPv3 user "nobody" is not in the gateway credential store (snmpV3 section)']);
    noSecret(JSON.stringify([a, b, none]));
  });

  it('discovery source: found over v3, polled with it, ipv4/ipv6 attributes; no key in the record, the logs or the book', async () => {
    const logs: string[] = [];
    const log = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m) };
    const cfg = parseAgentConfig({
      schoolCode: '3715020001',
      agentId: 'gw-1',
      mqtt: { url: 'mqtt://127.0.0.1:18830' },
      discovery: { snmp: { targets: [`[::1]:${snmpd.port}`, `127.0.0.1:${sw.port}`], communities: ['public'], v3Users: ['missing-user', 'campus'], timeoutMs: 1000 } },
    }).discovery!.snmp!;
    const src = new SnmpSource({ registry, credentials: store, allow: () => true, log }, cfg, dir);
    const scan = await src.scan(new Set(), new Set());
    expect(scan.found).toBe(2);
    const host = src.active().find((e) => e.address === `[::1]:${snmpd.port}`)!;
    const poller = src.createPoller(host.id)!;
    const r = await poller.poll({ all: true });
    expect(r.reachable).toBe(true);
    expect(r.fingerprintChanged).toBe(true);
    const d = src.describe(host.id, poller)!;
    expect(d).toMatchObject({ kind: 'unknown', protocol: 'snmp', attributes: { source: 'snmp-discovery', snmpVersion: '3', pollProfile: 'generic-snmp-device' } });
    expect(String(d.attributes.ipv4).split(',')).toContain('127.0.0.1');
    expect(String(d.attributes.ipv6).split(',')).toContain('::1');
    expect(logs).toEqual(['discovery (snmp): SNMPv3 user "missing-user" (discovery.snmp.v3Users) is not in the gateway credential store (snmpV3 section): not tried']);
    const book = fs.readFileSync(path.join(dir, 'snmp-discovered.json'), 'utf8');
    expect(JSON.parse(book).devices.find((e: { id: string }) => e.id === host.id)).toMatchObject({ v3User: 'campus' });
    noSecret(JSON.stringify(d) + logs.join('\n') + book + JSON.stringify(r.errors) + inspect(store) + JSON.stringify(store.snmpV3User('campus')));
  });
});

describe('SNMPv3 configuration', () => {
  const minimal = { schoolCode: '3715020001', agentId: 'gw-1', mqtt: { url: 'mqtt://127.0.0.1:18830' } };

  it('reads v3Users in discovery and a static device naming a v3 user', () => {
    const cfg = parseAgentConfig({
      ...minimal,
      discovery: { snmp: { targets: ['127.0.0.1'], communities: [], v3Users: ['campus'] } },
      devices: [{ id: 'core', kind: 'switch', protocol: 'snmp', address: '127.0.0.1:1161', snmp: { v3User: 'campus' } }],
    });
    expect(cfg.discovery?.snmp).toMatchObject({ communities: [], v3Users: ['campus'] });
    expect(cfg.devices[0]!.snmp).toMatchObject({ version: '3', v3User: 'campus' });
    expect(() => parseAgentConfig({ ...minimal, discovery: { snmp: { targets: ['127.0.0.1'], communities: [] } } })).toThrow(/\/discovery\/snmp needs at least one community or v3Users entry/);
    expect(() => parseAgentConfig({ ...minimal, devices: [{ id: 'x', kind: 'switch', protocol: 'snmp', address: '127.0.0.1', snmp: { version: 3 } }] })).toThrow(/\/devices\/0\/snmp\/v3User/);
  });

  it('the credential store refuses bad v3 users by their entry, never quoting a key, and prints no key', () => {
    const bad = (u: Record<string, unknown>): string => {
      try {
        CredentialStore.fromObject({ snmpV3: [u] });
      } catch (err) {
        expect(err).toBeInstanceOf(CredentialStoreError);
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(bad({ name: 'a', authKey: 'short', privKey: 'longenough1' })).toBe('snmpV3/0/authKey: an SNMPv3 key must have 8-1024 characters');
    expect(bad({ name: 'a', authKey: 'longenough1' })).toBe('snmpV3/0: level authPriv needs "privKey" or "privKeyFile"');
    expect(bad({ name: 'a', authProtocol: 'sha1024', authKey: 'longenough1', privKey: 'longenough1' })).toMatch(/^snmpV3\/0\/authProtocol: expected one of sha, sha256, md5$/);
    expect(bad({ name: 'a', level: 'authNoPriv', authKey: 'longenough1', pass: 'x' })).toBe('snmpV3/0: unknown field "pass"');
    expect(bad({ name: 'a', level: 'noAuthNoPriv' })).toBe('accepted');
    const s = CredentialStore.fromObject({ credentials: [], snmpV3: [{ name: 'campus', authKey: AUTH_KEY, privKey: PRIV_KEY }] });
    const u = s.snmpV3User('campus')!;
    expect(u.toJSON()).toEqual({ name: 'campus', level: 'authPriv', authProtocol: 'sha', authKey: '[redacted]', privProtocol: 'aes', privKey: '[redacted]' });
    noSecret(`${u} ${inspect(u)} ${JSON.stringify(s)} ${inspect(s)}`);
    expect(s.snmpV3Names()).toEqual(['campus']);
  });
});

describe('IP-MIB addresses for the discovery record', () => {
  it('keeps IPv4 and IPv6 apart, leaves broadcast out, and puts global IPv6 first', () => {
    const r = (family: string, address: string, addressType = 'unicast') => ({ device: 'd', ts: 0, measurement: 'ipAddress', tags: { family, address }, metrics: { ifIndex: 1, addressType } });
    expect(
      addressesFrom([r('ipv6', '::1'), r('ipv6', 'fe80::1'), r('ipv4', '10.1.2.3'), r('ipv4', '10.1.2.255', 'broadcast'), r('ipv6', 'fd00::5'), r('ipv6', '2001:db8:1::7'), r('ipv4z', '0a01020301000000')]),
    ).toEqual({ ipv4: ['10.1.2.3'], ipv6: ['2001:db8:1::7', '::1', 'fe80::1', 'fd00::5'] });
  });
});
