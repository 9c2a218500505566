/**
 * Starts Debian's real `snmpd` on a free loopback UDP port with its own temporary config and
 * state directory (for interop tests: it serves this host's real interfaces, e.g. `lo`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import snmp from 'net-snmp';

export interface RunningSnmpd {
  port: number;
  stop(): Promise<void>;
}

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

function answers(port: number): Promise<boolean> {
  const session = snmp.createSession('127.0.0.1', 'public', { port, version: snmp.Version2c, timeout: 300, retries: 0 });
  session.on('error', () => {});
  return new Promise((resolve) =>
    session.get(['1.3.6.1.2.1.1.3.0'], (err) => {
      session.close();
      resolve(!err);
    }),
  );
}

/** `port`: a fixed loopback port (e.g. inside a discovery test's port range); default a free one. */
export async function startSnmpd(community = 'public', opts: { port?: number } = {}): Promise<RunningSnmpd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-snmpd-'));
  const conf = path.join(dir, 'snmpd.conf');
  fs.writeFileSync(conf, `rocommunity ${community} 127.0.0.1\n`);
  const port = opts.port ?? (await freeUdpPort());
  const child: ChildProcess = spawn('/usr/sbin/snmpd', ['-f', '-Lo', '-C', '-c', conf, '-M', '/dev/null', '-I', '-smux', `udp:127.0.0.1:${port}`], {
    env: { ...process.env, SNMP_PERSISTENT_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 50; i++) {
    if (child.exitCode !== null) break;
    if (await answers(port)) return { port, stop };
  }
  await stop();
  throw new Error(`snmpd did not answer on 127.0.0.1:${port}:\n${output.slice(-2000)}`);
}
