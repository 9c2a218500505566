import { describe, expect, it } from 'vitest';
import { expandHosts, expandPorts, expandTargets, isLoopbackHost, mapLimit, TargetSpecError } from './targets.ts';
import { jsonPointer } from './fetch.ts';

describe('probe targets', () => {
  it('knows the loopback from everything else, names included', () => {
    for (const h of ['127.0.0.1', '127.3.4.5', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['10.0.0.1', '192.168.1.1', '0.0.0.0', '::', 'fe80::1', '::ffff:10.0.0.1', 'localhost', 'example.com', '128.0.0.1', '']) expect(isLoopbackHost(h), h).toBe(false);
  });

  it('expands ranges and CIDR blocks within a bound', () => {
    expect(expandHosts('127.0.0.1-3')).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3']);
    expect(expandHosts('127.0.0.254-127.0.1.1')).toEqual(['127.0.0.254', '127.0.0.255', '127.0.1.0', '127.0.1.1']);
    expect(expandHosts('127.0.0.0/30')).toEqual(['127.0.0.1', '127.0.0.2']);
    expect(expandHosts('127.0.0.8/32')).toEqual(['127.0.0.8']);
    expect(expandHosts('::1')).toEqual(['::1']);
    expect(expandPorts('8080-8082')).toEqual([8080, 8081, 8082]);
    expect(expandTargets(['127.0.0.1', '127.0.0.1-2'], [80, '81'])).toEqual([
      { host: '127.0.0.1', port: 80 },
      { host: '127.0.0.1', port: 81 },
      { host: '127.0.0.2', port: 80 },
      { host: '127.0.0.2', port: 81 },
    ]);
    expect(() => expandHosts('10.0.0.0/8')).toThrow(TargetSpecError);
    expect(() => expandTargets(['127.0.0.0/24'], ['1-100'])).toThrow(/limit/);
    expect(() => expandHosts('127.0.0.9-1')).toThrow(/ends before/);
    expect(() => expandHosts('1.2.3.999')).toThrow(TargetSpecError);
    expect(() => expandPorts('0')).toThrow(TargetSpecError);
    expect(() => expandPorts(70000)).toThrow(TargetSpecError);
  });

  it('runs work with a concurrency limit, keeping order', async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      return n * 2;
    });
    expect(out).toEqual([2, 4, 6, 8, 10, 12, 14]);
    expect(peak).toBe(3);
  });

  it('resolves JSON pointers, escapes included, own properties only', () => {
    const doc = { a: { 'b/c': [1, { 'd~e': true }] } };
    expect(jsonPointer(doc, '/a/b~1c/1/d~0e')).toBe(true);
    expect(jsonPointer(doc, '/a/b~1c/0')).toBe(1);
    expect(jsonPointer(doc, '')).toBe(doc);
    expect(jsonPointer(doc, '/a/b~1c/01')).toBeUndefined();
    expect(jsonPointer(doc, '/a/constructor')).toBeUndefined();
    expect(jsonPointer(doc, '/__proto__')).toBeUndefined();
    expect(jsonPointer(doc, 'a')).toBeUndefined();
  });
});
