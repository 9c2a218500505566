/**
 * Starts a private InfluxDB 1.x (`/usr/bin/influxd`) for tests and benchmarks: every listener on a
 * free 127.0.0.1 port, data in a temporary directory, in its own process group so stopping it never
 * leaves a daemon behind. `CAMPUS_TEST_INFLUX_URL` points the shared instance at an existing server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

declare module 'vitest' {
  export interface ProvidedContext {
    influxUrl: string;
  }
}

export const INFLUXD_BIN = process.env.CAMPUS_INFLUXD_BIN ?? '/usr/bin/influxd';

export interface InfluxHandle {
  url: string;
  stop(): Promise<void>;
}

/** An influxd we own: can be stopped and started again on the same port with the same data. */
export interface ManagedInflux extends InfluxHandle {
  port: number;
  dataDir: string;
  /** Stops the process but keeps the data directory and port for `startProcess()`. */
  stopProcess(): Promise<void>;
  startProcess(): Promise<void>;
}

/** A port the kernel just handed out on 127.0.0.1 (tiny race before influxd binds it; start retries). */
export async function freeLoopbackPort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function configText(dir: string, httpPort: number, rpcPort: number, authEnabled: boolean): string {
  // Only http and the RPC listener exist; everything that would open more ports or phone home is off.
  return `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${join(dir, 'meta')}"
  logging-enabled = false
[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
  pprof-enabled = false
  auth-enabled = ${authEnabled}
[ifql]
  enabled = false
[logging]
  level = "error"
  suppress-logo = true
[[graphite]]
  enabled = false
[[collectd]]
  enabled = false
[[opentsdb]]
  enabled = false
[[udp]]
  enabled = false
[continuous_queries]
  enabled = false
`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForPing(url: string, child: ChildProcess, stderr: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`influxd exited (${child.exitCode ?? child.signalCode}) before it was ready: ${stderr().slice(-2000)}`);
    }
    try {
      const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
      if (res.status === 204) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`influxd at ${url} not ready after ${timeoutMs} ms: ${stderr().slice(-2000)}`);
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Always spawns a private influxd (ignores CAMPUS_TEST_INFLUX_URL): use it for tests that stop the server. */
/** `authEnabled`: influxd then requires a user; the first `CREATE USER … WITH ALL PRIVILEGES` is allowed without one. */
export async function startInfluxProcess(opts: { httpPort?: number; authEnabled?: boolean } = {}): Promise<ManagedInflux> {
  const dataDir = await mkdtemp(join(tmpdir(), 'campus-influx-'));
  let child: ChildProcess | undefined;
  let port = opts.httpPort ?? 0;
  let rpcPort = 0;

  const launch = async (): Promise<void> => {
    const configPath = join(dataDir, 'influxdb.conf');
    await writeFile(configPath, configText(dataDir, port, rpcPort, opts.authEnabled ?? false));
    let err = '';
    const proc = spawn(INFLUXD_BIN, ['run', '-config', configPath], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-8000);
    });
    proc.on('error', (e) => {
      err += String(e);
    });
    child = proc;
    try {
      await waitForPing(`http://127.0.0.1:${port}`, proc, () => err);
    } catch (e) {
      await stopChild();
      throw e;
    }
  };

  const stopChild = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    killGroup(proc, 'SIGTERM');
    const timer = setTimeout(() => killGroup(proc, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };

  // A fresh port can be taken between probing and binding: try a few times.
  for (let attempt = 0; ; attempt++) {
    if (!opts.httpPort) port = await freeLoopbackPort();
    rpcPort = await freeLoopbackPort();
    try {
      await launch();
      break;
    } catch (e) {
      if (attempt >= 3 || opts.httpPort) {
        await rm(dataDir, { recursive: true, force: true });
        throw e;
      }
    }
  }

  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    dataDir,
    stopProcess: stopChild,
    startProcess: async () => {
      if (child) return;
      await launch();
    },
    stop: async () => {
      await stopChild();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The shared test InfluxDB: `CAMPUS_TEST_INFLUX_URL` if set (never stopped by us), else a private influxd. */
export async function startInflux(): Promise<InfluxHandle> {
  const external = process.env.CAMPUS_TEST_INFLUX_URL;
  if (external) return { url: external.replace(/\/+$/, ''), stop: async () => {} };
  const managed = await startInfluxProcess();
  return { url: managed.url, stop: managed.stop };
}

/** For test files: the URL from the global setup (`provide('influxUrl')`) when there is one, else a private influxd. */
export async function influxForTests(): Promise<InfluxHandle> {
  const { inject } = await import('vitest');
  const provided = inject('influxUrl') as string | undefined;
  if (provided) return { url: provided, stop: async () => {} };
  return await startInflux();
}

/** A database name of its own for each test, so tests sharing one server do not see each other's data. */
export function uniqueDbName(prefix = 'test'): string {
  return `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
}
