import { describe, expect, it } from 'vitest';
import type { Series } from '../telemetry/influx-query.ts';
import { chooseUplink, isGlobalIpv6, lit, measureUplink, percentile } from './telemetry-facts.ts';

describe('telemetry facts', () => {
  it('tells global IPv6 addresses from link-local, loopback and IPv4', () => {
    expect(['2001:db8::15', '240e:3a1::1/64', 'fe80::1', 'FEBF::1', '::1', '::', '10.0.0.1'].map(isGlobalIpv6)).toEqual([true, true, false, false, false, false, false]);
  });

  it('quotes InfluxQL literals and takes nearest-rank percentiles', () => {
    expect(lit(`a'b\\c`)).toBe(`'a\\'b\\\\c'`);
    expect(percentile([5, 1, 4, 2, 3], 95)).toBe(5);
    expect(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 95)).toBe(95);
  });

  it('prefers the setting, else the core switch uplink (never an AP’s)', async () => {
    const q = async (): Promise<Series[]> => [
      { name: 'interface', tags: { device: 'ap-1', ifName: 'uplink2', kind: 'ap' }, columns: ['time', 'speed'], values: [[0, 10000]] },
      { name: 'interface', tags: { device: 'sw-2', ifName: 'uplink48', kind: 'switch' }, columns: ['time', 'speed'], values: [[0, 1000]] },
      { name: 'interface', tags: { device: 'sw-1', ifName: 'uplink24', kind: 'switch' }, columns: ['time', 'speed'], values: [[0, 10000]] },
    ];
    expect(await chooseUplink(q, '3715020001', { device: 'r1', ifName: 'wan0' }, [], 24)).toEqual({ device: 'r1', ifName: 'wan0', how: 'setting' });
    expect(await chooseUplink(q, '3715020001', null, [], 24)).toEqual({ device: 'sw-1', ifName: 'uplink24', how: 'core-switch-uplink' });
    expect(await chooseUplink(q, '3715020001', null, [{ deviceId: 'sw-2', kind: 'switch', sysName: 'x-core-sw2' }], 24)).toMatchObject({ device: 'sw-2' });
  });

  it('turns counter rates into p95, peak and saturation minutes', async () => {
    // 1000 Mbit/s link, one sample a minute: 100, 200, 980, 990 Mbit/s (bytes/s × 8 / 1e6)
    const mbps = [100, 200, 980, 990];
    const q = async (): Promise<Series[]> => [
      { name: 'interface', columns: ['time', 'speed'], values: [[0, 1000]] },
      { name: 'interface', columns: ['time', 'rin'], values: mbps.map((m, i) => [(i + 1) * 60_000, (m * 1e6) / 8]) },
      { name: 'interface', columns: ['time', 'rout'], values: mbps.map((_, i) => [(i + 1) * 60_000, 1]) },
    ];
    const m = await measureUplink(q, '3715020001', { device: 'sw-1', ifName: 'uplink24', how: 'setting' }, 168, 0.95);
    expect(m).toMatchObject({ capacityMbps: 1000, peakMbps: 990, p95Mbps: 990, saturationMinutes: 2, samples: 4 });
  });
});
