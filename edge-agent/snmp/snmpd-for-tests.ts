/**
 * Starts Debian's real `snmpd` on a free loopback UDP port with its own temporary config and
 * state directory (for interop tests: it serves this host's real interfaces, e.g. `lo`).
 * Options: SNMPv3 users (`createUser` + `rouser` in the generated snmpd.conf; the fresh
 * SNMP_PERSISTENT_DIR means they are created anew each start) and `ipv6` (also `udp6:[::1]:PORT`).
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

/** One `createUser` line; keys of at least 8 characters (snmpd refuses shorter ones). */
export interface SnmpdV3User {
  name: string;
  authProtocol?: 'SHA' | 'SHA-256' | 'MD5';
  authKey: string;
  privProtocol?: 'AES' | 'DES';
  privKey: string;
  /** rouser's minimum level; default priv */
  level?: 'noauth' | 'auth' | 'priv';
}

export interface StartSnmpdOptions {
  /** a fixed loopback port (e.g. inside a discovery test's port range); default a free one */
  port?: number;
  v3Users?: readonly SnmpdV3User[];
  /** also listen on udp6:[::1]:PORT (the same port) */
  ipv6?: boolean;
}

async function freeUdpPort(ipv6: boolean): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    const { port } = s.address();
    await new Promise<void>((resolve) => s.close(() => resolve()));
    if (!ipv6) return port;
    // the same number must be free on ::1 too
    const s6 = dgram.createSocket({ type: 'udp6', ipv6Only: true });
    const ok = await new Promise<boolean>((resolve) => {
      s6.once('error', () => resolve(false));
      s6.bind(port, '::1', () => resolve(true));
    });
    await new Promise<void>((resolve) => s6.close(() => resolve()));
    if (ok) return port;
  }
  throw new Error('no UDP port free on both 127.0.0.1 and ::1');
}

function answers(port: number, community: string): Promise<boolean> {
  const session = snmp.createSession('127.0.0.1', community, { port, version: snmp.Version2c, timeout: 300, retries: 0 });
  session.on('error', () => {});
  return new Promise((resolve) =>
    session.get(['1.3.6.1.2.1.1.3.0'], (err) => {
      session.close();
      resolve(!err);
    }),
  );
}

/** The community (127.0.0.1, and ::1 with `ipv6`) also serves as the readiness check. */
export async function startSnmpd(community = 'public', opts: StartSnmpdOptions = {}): Promise<RunningSnmpd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'campus-snmpd-'));
  const conf = path.join(dir, 'snmpd.conf');
  const lines = [`rocommunity ${community} 127.0.0.1`];
  if (opts.ipv6) lines.push(`rocommunity6 ${community} ::1`);
  for (const u of opts.v3Users ?? []) {
    if (!/^[A-Za-z0-9_.-]+$/.test(u.name) || [u.authKey, u.privKey].some((k) => !/^[^\s"#]{8,}$/.test(k))) throw new Error(`snmpd v3 user ${u.name}: name or key unusable in snmpd.conf`);
    lines.push(`createUser ${u.name} ${u.authProtocol ?? 'SHA'} ${u.authKey} ${u.privProtocol ?? 'AES'} ${u.privKey}`, `rouser ${u.name} ${u.level ?? 'priv'}`);
  }
  fs.writeFileSync(conf, lines.join('\n') + '\n', { mode: 0o600 });
  const port = opts.port ?? (await freeUdpPort(opts.ipv6 === true));
  const listen = [`udp:127.0.0.1:${port}`, ...(opts.ipv6 ? [`udp6:[::1]:${port}`] : [])];
  const child: ChildProcess = spawn('/usr/sbin/snmpd', ['-f', '-Lo', '-C', '-c', conf, '-M', '/dev/null', '-I', '-smux', ...listen], {
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
    if (await answers(port, community)) return { port, stop };
  }
  await stop();
  throw new Error(`snmpd did not answer on 127.0.0.1:${port}:\n${output.slice(-2000)}`);
}
