import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAgentConfig, parseAgentConfig, splitAddress } from './config.ts';

const minimal = { schoolCode: '3715020001', agentId: 'gw-1', mqtt: { url: 'mqtt://127.0.0.1:18830' } };

describe('agent config', () => {
  it('fills defaults and resolves paths against the config folder', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-cfg-'));
    const file = path.join(dir, 'agent.yaml');
    fs.writeFileSync(file, `schoolCode: "3715020001"\nagentId: gw-1\nmqtt: { url: "mqtt://127.0.0.1:18830", passwordFile: pw }\ndevices:\n  - { id: core-sw, kind: switch, protocol: snmp, address: "127.0.0.1:16161", snmp: { version: 1 } }\n`);
    const cfg = loadAgentConfig(file);
    expect(cfg.dataDir).toBe(path.join(dir, 'agent-data'));
    expect(cfg.mqtt.passwordFile).toBe(path.join(dir, 'pw'));
    expect(cfg.pollIntervalSec).toBe(10);
    expect(cfg.batch).toEqual({ maxReadings: 500, maxDelayMs: 2000 });
    expect(cfg.queue.maxMessages).toBe(100_000);
    expect(cfg.devices[0]!.snmp).toEqual({ version: 1, community: 'public', timeoutMs: 2000, retries: 1 });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('names the offending field', () => {
    expect(() => parseAgentConfig({ ...minimal, schoolCode: '123' })).toThrow(/\/schoolCode /);
    expect(() => parseAgentConfig({ ...minimal, devices: [{ id: 'a', kind: 'toaster', protocol: 'snmp', address: 'x' }] })).toThrow(/\/devices\/0\/kind/);
    expect(() => parseAgentConfig({ ...minimal, extra: 1 })).toThrow(/unexpected|additional|extra/i);
    const dup = { id: 'a', kind: 'switch', protocol: 'snmp', address: '127.0.0.1:1' };
    expect(() => parseAgentConfig({ ...minimal, devices: [dup, dup] })).toThrow(/\/devices\/1\/id duplicate/);
  });

  it('splits addresses', () => {
    expect(splitAddress('127.0.0.1:16161')).toEqual({ host: '127.0.0.1', port: 16161 });
    expect(splitAddress('[::1]:161')).toEqual({ host: '::1', port: 161 });
    expect(splitAddress('sw1')).toEqual({ host: 'sw1', port: 161 });
  });
});
