/**
 * discovery.allow for SNMP: the sweep, the discovery source, the agent and the poller of a
 * discovered device send nothing to an address allow refuses. Six loopback addresses share one
 * UDP port: simulated switches on 127.0.0.1-3 (each would answer if asked) and plain UDP sockets
 * on 127.0.0.4-5 that only count the datagrams they get; allow admits .1, .2 and .5. The counter
 * on .5 is the control that shows a probe, had one been sent to .4, would have been seen.
 */
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProfiles } from '../../device-profiles/loader.ts';
import { startSimulatedSwitch, type SimulatedSwitch } from '../../simulator/snmp/simulated-switch.ts';
import { startAgent, type AgentLogger } from '../agent.ts';
import { parseAgentConfig } from '../config.ts';
import { compileAddressPattern, CredentialStore } from '../credentials.ts';
import { SnmpSource } from '../discovery/snmp-source.ts';
import { sweepSnmp } from './discovery.ts';
import { waitFor } from '../../tests/setup/wait.ts';

const ALLOW = ['127.0.0.1', '127.0.0.2', '127.0.0.5'];
const RULE = `discovery.allow [${ALLOW.join(', ')}]`;
/** as the agent builds it from discovery.allow */
const allowOf = (patterns: readonly string[]): ((host: string) => boolean) => {
  const m = patterns.map((p) => compileAddressPattern(p));
  return (h) => m.some((x) => x(h));
};
const allow = allowOf(ALLOW);
const SWITCHES = [
  { host: '127.0.0.1', sysName: 'allowed-sw1' },
  { host: '127.0.0.2', sysName: 'allowed-sw2' },
  { host: '127.0.0.3', sysName: 'refused-sw3' },
];

interface Counter {
  host: string;
  count: number;
  close(): Promise<void>;
}

function startCounter(host: string, port: number): Promise<Counter> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const c: Counter = { host, count: 0, close: () => new Promise((r) => sock.close(() => r())) };
    sock.on('message', () => c.count++);
    sock.once('error', reject);
    sock.bind(port, host, () => resolve(c));
  });
}

const until = <T>(what: string, fn: () => T | undefined, ms = 30_000): Promise<T> => waitFor(what, fn, ms, 25);

async function freeTcpPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

const SWEEP = { communities: ['public'], timeoutMs: 1000, retries: 1, concurrency: 8 };

describe('SNMP discovery honours discovery.allow', () => {
  let port = 0;
  const switches = new Map<string, SimulatedSwitch>();
  const counters = new Map<string, Counter>();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-snmp-allow-'));

  beforeAll(async () => {
    let lastError: unknown;
    // one UDP port free on all six addresses
    for (let attempt = 0; attempt < 20 && port === 0; attempt++) {
      const p = 20_000 + Math.floor(Math.random() * 40_000);
      try {
        for (const s of SWITCHES) switches.set(s.host, await startSimulatedSwitch({ host: s.host, port: p, sysName: s.sysName, sysObjectID: '1.3.6.1.4.1.2011.2.23.1', interfaces: 2, uplinkMbps: 1000 }));
        for (const h of ['127.0.0.4', '127.0.0.5']) counters.set(h, await startCounter(h, p));
        port = p;
      } catch (err) {
        lastError = err;
        await Promise.all([...switches.values()].map((s) => s.stop()));
        await Promise.all([...counters.values()].map((c) => c.close()));
        switches.clear();
        counters.clear();
      }
    }
    if (port === 0) throw new Error(`no UDP port free on 127.0.0.1-5: ${(lastError as Error)?.message}`);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([...switches.values()].map((s) => s.stop()));
    await Promise.all([...counters.values()].map((c) => c.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** the control: a probe to an allowed silent address arrives, so the refused one's absence means something */
  async function controlSeen(before: number): Promise<void> {
    await until('the probe of the allowed counter on 127.0.0.5', () => (counters.get('127.0.0.5')!.count > before ? true : undefined));
  }

  it('a range only partly allowed: only the allowed part is probed, one warning names the target and the rule', async () => {
    const target = `127.0.0.0/29:${port}`; // 127.0.0.1-6
    const control = counters.get('127.0.0.5')!.count;
    const r = await sweepSnmp([target], { ...SWEEP, isAllowed: allow, allowRule: RULE });
    expect(r.found.map((f) => [f.address, f.sysName])).toEqual([
      [`127.0.0.1:${port}`, 'allowed-sw1'],
      [`127.0.0.2:${port}`, 'allowed-sw2'],
    ]);
    expect(r.probed).toBe(3);
    expect(r.notAllowed).toBe(3);
    expect(r.errors).toEqual([`target "${target}": 127.0.0.3, 127.0.0.4, 127.0.0.6 outside ${RULE}: not probed`]);
    await controlSeen(control);
    expect(counters.get('127.0.0.4')!.count).toBe(0);
  }, 60_000);

  it('a target wholly outside allow: the warning, and no packet', async () => {
    const control = counters.get('127.0.0.5')!.count;
    const r = await sweepSnmp([`127.0.0.4:${port}`, `127.0.0.3:${port}`, `127.0.0.5:${port}`], { ...SWEEP, isAllowed: allow, allowRule: RULE });
    expect(r).toMatchObject({ found: [], probed: 1, notAllowed: 2 });
    expect(r.errors).toEqual([`target "127.0.0.4:${port}": 127.0.0.4 outside ${RULE}: not probed`, `target "127.0.0.3:${port}": 127.0.0.3 outside ${RULE}: not probed`]);
    await controlSeen(control);
    expect(counters.get('127.0.0.4')!.count).toBe(0);
  }, 60_000);

  it('a host name is checked, and probed, on the address it resolves to', async () => {
    const names: Record<string, string[]> = { 'closet-sw.test': ['127.0.0.3'], 'dual.test': ['127.0.0.4', '127.0.0.2'] };
    const resolve = async (n: string): Promise<string[]> => {
      const a = names[n];
      if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${n}`), { code: 'ENOTFOUND' });
      return a;
    };
    const control = counters.get('127.0.0.5')!.count;
    const r = await sweepSnmp([`closet-sw.test:${port}`, `dual.test:${port}`, `nowhere.test:${port}`, `127.0.0.5:${port}`], { ...SWEEP, isAllowed: allow, allowRule: RULE, resolve });
    // dual.test: its first allowed address, and the answer is filed under that address
    expect(r.found.map((f) => [f.host, f.address, f.sysName])).toEqual([['127.0.0.2', `127.0.0.2:${port}`, 'allowed-sw2']]);
    expect(r).toMatchObject({ probed: 2, notAllowed: 1 });
    expect(r.errors).toEqual([
      `target "closet-sw.test:${port}": closet-sw.test resolves to 127.0.0.3, outside ${RULE}: not probed`,
      `target "nowhere.test:${port}": cannot resolve nowhere.test: ENOTFOUND; nothing sent`,
    ]);
    await controlSeen(control);
    expect(counters.get('127.0.0.4')!.count).toBe(0);
    // a configured device named by its host name is left out of the sweep as well
    const skipped = await sweepSnmp([`dual.test:${port}`], { ...SWEEP, isAllowed: allow, resolve, skip: new Set([`dual.test:${port}`]) });
    expect(skipped).toMatchObject({ found: [], probed: 0, notAllowed: 0, errors: [] });
  }, 60_000);

  it('the agent: a warning per target and scan, and stats().notAllowed', async () => {
    const warnings: string[] = [];
    const infos: string[] = [];
    const logger: AgentLogger = { info: (m) => infos.push(m), warn: (m) => warnings.push(m), error: () => {} };
    const target = `127.0.0.0/29:${port}`;
    // no broker: the agent keeps what it would send on disk, and scans all the same
    const cfg = parseAgentConfig({
      schoolCode: '3715020001',
      agentId: 'gw-allow',
      mqtt: { url: `mqtt://127.0.0.1:${await freeTcpPort()}`, reconnectMinMs: 60_000, reconnectMaxMs: 60_000 },
      dataDir: path.join(dir, 'agent'),
      pollIntervalSec: 3600,
      discovery: { allow: ALLOW, snmp: { targets: [target], communities: ['public'], timeoutMs: 1000, retries: 1, intervalSec: 3600 } },
    });
    const agent = await startAgent(cfg, { logger });
    try {
      const control = counters.get('127.0.0.5')!.count;
      const summary = await agent.rescan(); // after the start-up scan: two scans
      expect(summary.found).toBe(2);
      expect(agent.stats()).toMatchObject({ scans: 2, discovered: 2, notAllowed: 6 });
      const mine = warnings.filter((w) => w.includes(target));
      expect(mine).toEqual(Array(2).fill(`discovery (snmp): target "${target}": 127.0.0.3, 127.0.0.4, 127.0.0.6 outside ${RULE}: not probed`));
      expect(infos.filter((m) => m.startsWith('discovery (snmp): 3 addresses probed, 3 not allowed, 2 answered'))).toHaveLength(2);
      await controlSeen(control);
      expect(counters.get('127.0.0.4')!.count).toBe(0);
    } finally {
      await agent.stop();
    }
  }, 90_000);

  it('a discovered device is not polled at an address allow no longer admits', async () => {
    const { registry } = loadProfiles();
    const log = { info: () => {}, warn: () => {} };
    const data = path.join(dir, 'source');
    const cfg = parseAgentConfig({
      schoolCode: '3715020001',
      agentId: 'gw-1',
      mqtt: { url: 'mqtt://127.0.0.1:1' },
      discovery: { snmp: { targets: [`127.0.0.2:${port}`], communities: ['public'], timeoutMs: 1000, retries: 1 } },
    }).discovery!.snmp!;
    const before = new SnmpSource({ registry, credentials: new CredentialStore(), allow, log }, cfg, data);
    expect((await before.scan(new Set(), new Set())).found).toBe(1);
    const id = before.active()[0]!.id;
    // the same book, read by an agent whose allow was narrowed to 127.0.0.1
    const after = new SnmpSource({ registry, credentials: new CredentialStore(), allow: allowOf(['127.0.0.1']), log }, cfg, data);
    const sw2 = switches.get('127.0.0.2')!;
    await sw2.stop();
    switches.delete('127.0.0.2');
    const watch = await startCounter('127.0.0.2', port); // in the switch's place: counts what the pollers send
    try {
      const refused = await after.createPoller(id)!.poll({ all: true });
      expect(refused).toMatchObject({ reachable: false, errors: ['127.0.0.2 is not allowed by discovery.allow; nothing was sent'], events: [] });
      expect(refused.readings).toEqual([{ device: id, ts: expect.any(Number), measurement: 'device', metrics: { reachable: false } }]);
      expect(watch.count).toBe(0);
      // the control: the poller of the agent that still allows it does send
      const polled = await before.createPoller(id)!.poll({ all: true });
      expect(polled.reachable).toBe(false);
      await until('the allowed poll at 127.0.0.2', () => (watch.count > 0 ? true : undefined));
    } finally {
      await watch.close();
    }
  }, 60_000);
});
