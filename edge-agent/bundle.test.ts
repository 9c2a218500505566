/**
 * The edge agent as one file for a gateway: builds it with the exact `build:agent` script of
 * package.json (output redirected to a temp dir outside the repository, where no node_modules can
 * be found), then runs that file with plain `node`: help, version, config errors, and a real
 * connection to the bundled broker with its birth message and discovery arriving.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { builtinModules } from 'node:module';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage } from '../protocol/index.ts';
import { startBroker, type RunningBroker } from '../broker/server.ts';
import { memoryAuthBackend } from '../broker/memory-auth.ts';
import { parse as parseYaml } from 'yaml';
import { parseAgentConfig } from './config.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'campus-agent-bundle-'));
const bundle = join(dir, 'campus-agent.mjs');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: opts.cwd ?? dir, env: opts.env ?? { PATH: process.env.PATH }, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
const agent = (args: string[], env?: NodeJS.ProcessEnv) => run(process.execPath, [bundle, ...args], { env: { PATH: process.env.PATH, ...env } });

beforeAll(async () => {
  expect(dir.startsWith(ROOT)).toBe(false);
  const script = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['build:agent'];
  expect(script).toContain('--outfile=dist/campus-agent.mjs');
  const cmd = script!.replace('--outfile=dist/campus-agent.mjs', `--outfile='${bundle}'`);
  const r = await run('/bin/sh', ['-c', cmd], { cwd: ROOT, env: { ...process.env, PATH: `${join(ROOT, 'node_modules', '.bin')}${delimiter}${process.env.PATH}` } });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(existsSync(bundle)).toBe(true);
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dist/campus-agent.mjs, alone in a directory', () => {
  it('loads nothing but Node built-ins', () => {
    const text = readFileSync(bundle, 'utf8');
    const imports = [...text.matchAll(/^\s*import\s+(?:[^'"]*?\s+from\s+)?["']([^"']+)["']/gm)].map((m) => m[1]!);
    const requires = [...text.matchAll(/\b(?:__require|require)\(["']([^"']+)["']\)/g)].map((m) => m[1]!);
    expect(imports).toContain('node:fs');
    expect(requires).toContain('dgram'); // net-snmp, CommonJS: served by the createRequire banner
    const builtin = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    // ws (under mqtt.js) tries these native speed-ups inside try/catch and works without them
    const optional = new Set(['bufferutil', 'utf-8-validate']);
    expect([...new Set([...imports, ...requires])].filter((s) => !builtin.has(s) && !optional.has(s))).toEqual([]);
  });

  it('--help lists its options', async () => {
    const r = await agent(['--help']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^Usage: campus-agent --config <file>/);
    expect(r.stdout).toContain('-c, --config <file>');
    expect(r.stdout).toContain('CAMPUS_AGENT_CONFIG');
  });

  it('--version', async () => {
    expect(await agent(['--version'])).toEqual({ code: 0, stdout: '0.1.0\n', stderr: '' });
  });

  it('no config, or an unknown flag: exit 2 with the usage', async () => {
    const none = await agent([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^campus-agent: --config <file> is required/);
    const bogus = await agent(['--bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/^campus-agent: Unknown option '--bogus'/);
  });

  it('a config path that does not exist: exit 1, the path named', async () => {
    const missing = join(dir, 'missing.yaml');
    const r = await agent(['--config', missing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`campus-agent: cannot read agent config ${missing}: ENOENT: no such file or directory, open '${missing}'\n`);
    const viaEnv = await agent([], { CAMPUS_AGENT_CONFIG: missing });
    expect(viaEnv.code).toBe(1);
    expect(viaEnv.stderr).toContain(`cannot read agent config ${missing}`);
  });

  it('an invalid config: exit 1, every problem with its path', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'schoolCode: "37150"\nagentId: GW 1\nmqtt: { url: "http://x" }\n');
    const r = await agent(['-c', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^campus-agent: invalid agent config:/);
    for (const path of ['/schoolCode', '/agentId', '/mqtt/url']) expect(r.stderr).toContain(path);
  });
});

describe('dist/campus-agent.mjs against the real broker', () => {
  const SCHOOL = '3715020001';
  let broker: RunningBroker;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    broker = await startBroker({
      mqttPort: 0,
      auth: memoryAuthBackend([
        { username: `${SCHOOL}/gw-1`, password: 'agent-pass', principal: { kind: 'agent', schoolCode: SCHOOL, agentId: 'gw-1' } },
        { username: 'collector', password: 'svc-pass', principal: { kind: 'service', name: 'collector' } },
      ]),
    });
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await broker?.close();
  });

  it('connects with its identity, publishes its birth and its device list, stops on SIGTERM', async () => {
    const config = join(dir, 'agent.yaml');
    writeFileSync(join(dir, 'mqtt-password'), 'agent-pass\n');
    writeFileSync(
      config,
      [
        `schoolCode: "${SCHOOL}"`,
        'agentId: gw-1',
        'mqtt:',
        `  url: mqtt://127.0.0.1:${broker.mqttPort}`,
        '  passwordFile: mqtt-password',
        'dataDir: ./agent-data',
        'pollIntervalSec: 3600',
        'devices:',
        // nothing answers SNMP on this loopback port: the device is reported unreachable
        '  - { id: sw-1, kind: switch, protocol: snmp, address: "127.0.0.1:9", snmp: { timeoutMs: 200, retries: 0 } }',
        '',
      ].join('\n'),
    );

    const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.mqttPort}`, { clientId: 'bundle-test', username: 'collector', password: 'svc-pass', protocolVersion: 4 });
    try {
      const seen = new Map<string, Buffer>();
      const wanted = new Set(['status', 'discovery', 'telemetry']);
      const arrived = new Promise<void>((resolve) => {
        sub.on('message', (topic, payload) => {
          const channel = topic.split('/').slice(4).join('/');
          if (!seen.has(channel)) seen.set(channel, payload);
          if ([...wanted].every((c) => seen.has(c))) resolve();
        });
      });
      await sub.subscribeAsync(`campus/v1/${SCHOOL}/gw-1/#`, { qos: 1 });

      let stderr = '';
      child = spawn(process.execPath, [bundle, '--config', config], { cwd: dir, env: { PATH: process.env.PATH }, stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
      const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
      await Promise.race([arrived, exited.then((code) => Promise.reject(new Error(`agent exited (${code}): ${stderr}`)))]);

      const status = decodeMessage('status', seen.get('status')!);
      expect(status).toMatchObject({ ok: true, message: { v: 1, state: 'online', agentVersion: '0.1.0' } });
      const discovery = decodeMessage('discovery', seen.get('discovery')!);
      expect(discovery).toMatchObject({ ok: true, message: { full: true, devices: [{ device: 'sw-1', kind: 'switch', protocol: 'snmp', address: '127.0.0.1:9' }] } });
      const telemetry = decodeMessage('telemetry', seen.get('telemetry')!);
      expect(telemetry).toMatchObject({ ok: true, message: { readings: [{ device: 'sw-1', measurement: 'device', metrics: { reachable: false } }] } });

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(existsSync(join(dir, 'agent-data', 'queue'))).toBe(true);
    } finally {
      await sub.endAsync();
    }
  }, 60_000);
});

describe('docs/operations.md', () => {
  it('its annotated agent.yaml is a valid agent configuration', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
    const block = /## The agent configuration[\s\S]*?```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(block).toBeDefined();
    const cfg = parseAgentConfig(parseYaml(block!), '/etc/campus');
    expect(cfg).toMatchObject({ schoolCode: '3715020001', agentId: 'gw-1', dataDir: '/var/lib/campus-agent', mqtt: { passwordFile: '/etc/campus/mqtt-password' } });
    expect(cfg.devices.map((d) => d.id)).toEqual(['sw-core', 'ap-3']);
  });
});
