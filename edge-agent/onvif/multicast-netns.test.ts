/**
 * Multicast WS-Discovery, tested where it cannot leak: two network namespaces this test creates,
 * joined by one veth pair that never exists in the host namespace (`ip link add … netns …` inside
 * the first namespace). The simulated camera runs inside the "camera" namespace and answers the
 * multicast probe; the prober runs inside the "gateway" namespace and sends on its veth only.
 * Both namespaces (and with them the veth pair) are deleted at the end, failed or not.
 * Needs root (`ip netns add`); without it the test fails with a clear message.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const RUN_CAMERA = path.join(ROOT, 'simulator/onvif/run-camera.ts');
const DISCOVER = path.join(ROOT, 'edge-agent/onvif/discover-cli.ts');

const id = process.pid % 1_000_000;
const NS_CAM = `campus-onvif-${id}-cam`;
const NS_GW = `campus-onvif-${id}-gw`;
const IF_CAM = `ocv${id}c`;
const IF_GW = `ocv${id}g`;
const NET = `10.213.${id % 250}`;
const CAM_ADDR = `${NET}.2`;
const GW_ADDR = `${NET}.1`;
const PASSWORD = 'Netns#Cam-2024';

async function ip(...args: string[]): Promise<string> {
  const { stdout } = await run('ip', args);
  return stdout;
}

interface CliResult {
  netns?: string;
  interfaces: Array<{ name: string; addresses: string[] }>;
  devices: Array<{ device: string; address: string; attributes: Record<string, unknown> }>;
  errors: unknown[];
  matches: Array<{ from: { host: string } }>;
}

async function discoverInGateway(opts: Record<string, unknown>): Promise<CliResult> {
  const { stdout } = await run('ip', ['netns', 'exec', NS_GW, process.execPath, '--import', 'tsx', DISCOVER, JSON.stringify(opts)], { cwd: ROOT, timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop() as string) as CliResult;
}

describe('multicast WS-Discovery inside network namespaces the test creates', () => {
  let camera: ChildProcess | undefined;
  let cameraInfo: { xaddr: string; endpoint: string; port: number };
  let tmp: string;
  let credFile: string;

  beforeAll(async () => {
    try {
      await ip('netns', 'add', NS_CAM);
    } catch (err) {
      throw new Error(`this test needs \`ip netns add\` (root, CAP_SYS_ADMIN) to test multicast discovery without touching the host network: ${(err as Error).message}`);
    }
    await ip('netns', 'add', NS_GW);
    // the pair is born inside the gateway namespace with its peer inside the camera namespace
    await ip('-n', NS_GW, 'link', 'add', IF_GW, 'type', 'veth', 'peer', 'name', IF_CAM, 'netns', NS_CAM);
    await ip('-n', NS_GW, 'addr', 'add', `${GW_ADDR}/24`, 'dev', IF_GW);
    await ip('-n', NS_CAM, 'addr', 'add', `${CAM_ADDR}/24`, 'dev', IF_CAM);
    for (const [ns, dev] of [[NS_GW, IF_GW], [NS_CAM, IF_CAM]] as const) {
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      await ip('-n', ns, 'link', 'set', dev, 'up');
    }

    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-onvif-netns-'));
    credFile = path.join(tmp, 'credentials.yaml');
    fs.writeFileSync(credFile, `credentials:\n  - match: ${NET}.0/24\n    protocol: onvif\n    username: admin\n    password: "${PASSWORD}"\n`, { mode: 0o600 });

    const camOpts = {
      host: CAM_ADDR,
      multicast: true,
      manufacturer: 'Uniview',
      model: 'IPC3612LB-ADF28K-G',
      firmware: 'IPC_G6103-B5031P32D2007',
      serial: '210235C3J93212000777',
      username: 'admin',
      password: PASSWORD,
      resolution: { width: 2304, height: 1296 },
      fps: 25,
    };
    camera = spawn('ip', ['netns', 'exec', NS_CAM, process.execPath, '--import', 'tsx', RUN_CAMERA, JSON.stringify(camOpts)], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    camera.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    cameraInfo = await new Promise((resolve, reject) => {
      let out = '';
      camera!.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const nl = out.indexOf('\n');
        if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as typeof cameraInfo);
      });
      camera!.on('exit', (code) => reject(new Error(`camera in ${NS_CAM} exited (${code}): ${stderr}`)));
    });
  });

  afterAll(async () => {
    if (camera && camera.exitCode === null) {
      const exited = new Promise((r) => camera!.once('exit', r));
      camera.kill('SIGTERM');
      await exited;
    }
    await run('ip', ['netns', 'del', NS_CAM]).catch(() => {});
    await run('ip', ['netns', 'del', NS_GW]).catch(() => {});
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    const left = await ip('netns', 'list');
    expect(left).not.toContain(`campus-onvif-${id}-`);
  });

  it('the namespaces are ours: only lo and our veth inside, nothing shared with the host', async () => {
    const links = (await ip('-n', NS_GW, '-o', 'link', 'show')).split('\n').filter(Boolean).map((l) => l.split(':')[1]!.trim().replace(/@.*$/, ''));
    expect(links.sort()).toEqual([IF_GW, 'lo'].sort());
    const hostLinks = await ip('-o', 'link', 'show');
    expect(hostLinks).not.toContain(IF_GW);
    expect(hostLinks).not.toContain(IF_CAM);
  });

  it('the camera answers a multicast probe sent on the gateway namespace veth', async () => {
    const r = await discoverInGateway({ multicast: { ipv4Interface: GW_ADDR }, listenMs: 2000, credentialsFile: credFile, requireOwnNetns: true, allowPrefixes: [`${NET}.`] });
    // the prober ran in a namespace other than ours, whose only interfaces are lo and our veth
    expect(r.netns).toBe(NS_GW);
    expect(r.interfaces.map((i) => i.name).sort()).toEqual([IF_GW, 'lo'].sort());
    expect(r.interfaces.find((i) => i.name === IF_GW)?.addresses).toContain(GW_ADDR);
    expect(r.errors).toEqual([]);
    expect(r.matches.map((m) => m.from.host)).toEqual([CAM_ADDR]);
    expect(r.devices).toHaveLength(1);
    expect(r.devices[0]!.address).toBe(`${CAM_ADDR}:${cameraInfo.port}`);
    expect(r.devices[0]!.attributes).toMatchObject({
      manufacturer: 'Uniview',
      model: 'IPC3612LB-ADF28K-G',
      serial: '210235C3J93212000777',
      ipv4: CAM_ADDR,
      resolution: '2304x1296',
      fps: 25,
      endpoint: cameraInfo.endpoint,
    });
    expect(JSON.stringify(r)).not.toContain(PASSWORD);
  });

  it('the same camera answers a unicast probe to its configured address', async () => {
    const r = await discoverInGateway({ unicast: [CAM_ADDR], listenMs: 1500, credentialsFile: credFile, requireOwnNetns: true, allowPrefixes: [`${NET}.`] });
    expect(r.devices.map((d) => d.attributes.serial)).toEqual(['210235C3J93212000777']);
  });

  it('the prober refuses to run in the host namespace, and the simulator refuses multicast there', async () => {
    const res = await run(process.execPath, ['--import', 'tsx', DISCOVER, JSON.stringify({ multicast: { ipv4Interface: '127.0.0.1' }, requireOwnNetns: true })], { cwd: ROOT }).then(
      () => 0,
      (err: { code?: number; stderr?: string }) => {
        expect(err.stderr).toMatch(/host network namespace/);
        return err.code;
      },
    );
    expect(res).toBe(2);
    const { startSimulatedCamera } = await import('../../simulator/onvif/camera.ts');
    const base = { manufacturer: 'X', model: 'Y', firmware: '1', serial: 'S', username: 'u', password: 'p', resolution: { width: 1, height: 1 }, fps: 1, multicast: true };
    await expect(startSimulatedCamera({ ...base, host: '127.0.0.1', discoveryPort: 0 })).rejects.toThrow(/namespace/);
  });
});
