/** The uplink-ipv6 rule: global IPv6 on the school's uplink interface, from the switch's IP-MIB table. */
import { describe, expect, it } from 'vitest';
import type { Series } from '../telemetry/influx-query.ts';
import { loadPacks, resolvePolicy, rulesFor } from './policy/packs.ts';
import { checkRuleParams, evaluate, evaluateRule, type SchoolFacts } from './policy/rules.ts';
import { uplinkIpv6 } from './telemetry-facts.ts';

const choice = { device: 'sw-1', ifName: 'uplink24', how: 'core-switch-uplink' as const };

/** What InfluxDB answers: the uplink's ifIndex, and the switch's address rows (last() per family/address). */
function influx(ifIndex: number | null, addrs: { family: string; address: string; ifx: number; time: number; atype?: string }[]): (q: string) => Promise<Series[]> {
  return async (q) => {
    expect(q).toMatch(/"ifName" = 'uplink24'/);
    expect(q).toMatch(/FROM "ipAddress" WHERE "school" = '3715020001' AND "device" = 'sw-1'/);
    return [
      ...(ifIndex === null ? [] : [{ name: 'interface', tags: { ifIndex: String(ifIndex) }, columns: ['time', 'speed'], values: [[1000, 10000]] }]),
      ...addrs.map((a) => ({ name: 'ipAddress', tags: { family: a.family, address: a.address }, columns: ['time', 'ifx', 'atype'], values: [[a.time, a.ifx, a.atype ?? 'unicast']] })),
    ];
  };
}

describe('uplink IPv6 facts from the switch address table', () => {
  it('keeps the global IPv6 addresses on the uplink ifIndex from the latest address poll', async () => {
    const q = influx(24, [
      { family: 'ipv6', address: '2001:db8:15::2', ifx: 24, time: 2000 },
      { family: 'ipv6', address: 'fe80::ca:18', ifx: 24, time: 2000 }, // link-local: not global
      { family: 'ipv6', address: '2001:db8:99::1', ifx: 3, time: 2000 }, // another interface
      { family: 'ipv4', address: '10.15.0.2', ifx: 24, time: 2000 },
      { family: 'ipv6', address: '2001:db8:old::2', ifx: 24, time: 1000 }, // removed since: not in the latest poll
    ]);
    expect(await uplinkIpv6(q, '3715020001', choice, 168)).toEqual({ device: 'sw-1', ifName: 'uplink24', ifIndex: 24, globalAddresses: ['2001:db8:15::2'] });
  });

  it('no address rows: null (unknown); addresses but none global on the uplink: empty', async () => {
    expect(await uplinkIpv6(influx(24, []), '3715020001', choice, 168)).toBeNull();
    expect(await uplinkIpv6(influx(24, [{ family: 'ipv6', address: '2001:db8:99::1', ifx: 3, time: 5 }]), '3715020001', choice, 168)).toEqual({ device: 'sw-1', ifName: 'uplink24', ifIndex: 24, globalAddresses: [] });
    expect(await uplinkIpv6(influx(null, [{ family: 'ipv6', address: '2001:db8:99::1', ifx: 3, time: 5 }]), '3715020001', choice, 168)).toMatchObject({ ifIndex: null, globalAddresses: [] });
  });
});

describe('uplink-ipv6 rule', () => {
  const { packs } = loadPacks();
  const rule = rulesFor(resolvePolicy(packs, 'songjiang-2018'), { countyCode: '310117', type: 'primary', ownership: 'public', people: 1200 }).find((r) => r.kind === 'uplink-ipv6')!;

  it('is in the Songjiang pack, citing its IPv6 clause; other packs may use the kind', () => {
    expect(rule).toMatchObject({ id: 'uplink-ipv6', params: { minGlobalAddresses: 1 } });
    expect(rule.sources[0]).toMatchObject({ clause: '四(一)3', seed: '003' });
    expect(checkRuleParams('uplink-ipv6', {})).toEqual([]);
    expect(checkRuleParams('uplink-ipv6', { minGlobalAddresses: 0 })).toEqual(['parameter minGlobalAddresses must be between 1 and 64']);
    expect(resolvePolicy(packs, 'liaocheng-2023').rules.some((r) => r.kind === 'uplink-ipv6')).toBe(false);
  });

  it('passes with a global address on the uplink, fails without, unknown without address data', () => {
    const up = (globalAddresses: string[], ifIndex: number | null = 24): SchoolFacts => ({ uplinkIpv6: { device: 'sw-1', ifName: 'uplink24', ifIndex, globalAddresses } });
    const pass = evaluateRule(rule, up(['2001:db8:15::2']));
    expect(pass).toMatchObject({ verdict: 'pass', measured: 1, threshold: 1, unit: 'addresses' });
    expect(pass.detail).toMatch(/uplink24.*2001:db8:15::2.*IP-MIB/);
    expect(evaluateRule(rule, up([]))).toMatchObject({ verdict: 'fail', measured: 0 });
    expect(evaluateRule(rule, up([], null))).toMatchObject({ verdict: 'unknown', measured: null });
    expect(evaluate([rule], {})[0]).toMatchObject({ verdict: 'unknown', detail: expect.stringMatching(/ipAddressTable/) });
  });
});
