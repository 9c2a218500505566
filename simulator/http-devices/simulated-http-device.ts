/**
 * A simulated digital class board (数字班牌) or interactive classroom display (交互式触控一体机):
 * an HTTP server on one loopback port serving the bureau status API that the profiles
 * `device-profiles/profiles/http/campus-*.yaml` describe:
 *
 *   GET /api/v1/status       → 200 application/json, the device's live status
 *   GET /api/v1/device-info  → 200 application/json, identity only (vendor, model, serial, firmware)
 *   anything else            → 404 application/json
 *
 * and a `Server` header per kind (`ClassBoard-httpd/…`, `SmartPanel-httpd/…`) as an extra
 * fingerprint. Faults on purpose: `html` (a login page instead of JSON, status 200), `500`,
 * `slow` (accepts the request and never answers until stopped), `off` (nothing listens on the port).
 */
import * as http from 'node:http';
import * as net from 'node:net';

export type HttpDeviceKind = 'class-board' | 'display';
export type HttpDeviceFault = 'html' | '500' | 'slow' | 'off';

export interface SimulatedHttpDeviceOptions {
  kind: HttpDeviceKind;
  /** loopback only: 127.x.x.x or ::1 (default 127.0.0.1) */
  host?: string;
  /** 0 or absent: a free port */
  port?: number;
  fault?: HttpDeviceFault;
  serial?: string;
  classroom?: string;
  vendor?: string;
  model?: string;
  firmware?: string;
  /** reported in the status body (data only: nothing is sent there) */
  ipv6?: string;
  now?: () => number;
}

/** Mutable live state: tests change it between polls. */
export interface HttpDeviceState {
  screenOn: boolean;
  brightness: number;
  temperatureC: number;
  storageFreePercent: number;
  appOnline: boolean;
  /** display only */
  source: 'OPS' | 'HDMI1' | 'HDMI2' | 'Android';
  touchOk: boolean;
  opsOnline: boolean;
  usageHoursToday: number;
  panelHours: number;
}

export interface SimulatedHttpDevice {
  kind: HttpDeviceKind;
  host: string;
  port: number;
  serial: string;
  state: HttpDeviceState;
  /** requests answered or held, by path (for tests) */
  requests: Map<string, number>;
  stop(): Promise<void>;
}

export const SERVER_HEADERS: Record<HttpDeviceKind, string> = {
  'class-board': 'ClassBoard-httpd/2.3 (campus-sim)',
  display: 'SmartPanel-httpd/4.1 (campus-sim)',
};

function assertLoopback(host: string): void {
  const ok = (net.isIPv4(host) && host.startsWith('127.')) || host === '::1';
  if (!ok) throw new Error(`simulated HTTP devices listen on loopback only (127.0.0.0/8 or ::1), not ${host}`);
}

const LOGIN_PAGE = `<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>设备管理登录</title></head>
<body><form method="post" action="/login"><label>用户名 <input name="user"></label>
<label>密码 <input name="pass" type="password"></label><button>登录</button></form></body></html>
`;

export async function startSimulatedHttpDevice(opts: SimulatedHttpDeviceOptions): Promise<SimulatedHttpDevice> {
  const host = opts.host ?? '127.0.0.1';
  assertLoopback(host);
  const now = opts.now ?? Date.now;
  const startedAt = now();
  const kind = opts.kind;
  const board = kind === 'class-board';
  const serial = opts.serial ?? (board ? 'CB2024A00017' : 'IFP86C00342');
  const identity = {
    deviceType: board ? 'class-board' : 'interactive-display',
    vendor: opts.vendor ?? 'CampusSim',
    model: opts.model ?? (board ? 'CB-215A' : 'IFP-86C'),
    serial,
    firmware: opts.firmware ?? (board ? '3.2.1-20240612' : '5.0.8'),
  };
  const classroom = opts.classroom ?? '初二(3)班';
  const state: HttpDeviceState = {
    screenOn: true,
    brightness: 80,
    temperatureC: board ? 45.5 : 41,
    storageFreePercent: 62,
    appOnline: true,
    source: 'OPS',
    touchOk: true,
    opsOnline: true,
    usageHoursToday: 5.5,
    panelHours: 8123,
  };
  const requests = new Map<string, number>();

  const status = (ipv4: string): Record<string, unknown> => {
    const uptimeSec = Math.max(0, Math.floor((now() - startedAt) / 1000));
    const network = { ipv4, ipv6: opts.ipv6 ?? 'fd00:5c:1::17' };
    if (board) {
      return {
        ...identity,
        classroom,
        uptimeSec,
        screen: { on: state.screenOn, brightness: state.brightness },
        cpu: { temperature: state.temperatureC },
        storage: { freePercent: state.storageFreePercent },
        app: { version: '3.2.1', online: state.appOnline },
        network,
      };
    }
    return {
      ...identity,
      classroom,
      uptimeSec,
      power: state.screenOn ? 'on' : 'standby',
      source: state.source,
      temperature: state.temperatureC,
      touch: { ok: state.touchOk },
      ops: { present: true, online: state.opsOnline },
      usageHoursToday: state.usageHoursToday,
      panelHours: state.panelHours,
      network,
    };
  };

  const held = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.set(path, (requests.get(path) ?? 0) + 1);
    res.setHeader('Server', SERVER_HEADERS[kind]);
    const json = (code: number, body: unknown): void => {
      const text = JSON.stringify(body);
      res.writeHead(code, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (opts.fault === 'slow') {
      // accept and never answer: the client's deadline has to end it
      held.add(res);
      res.on('close', () => held.delete(res));
      return;
    }
    if (req.method !== 'GET') return json(405, { error: 'method not allowed' });
    if (opts.fault === 'html') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(LOGIN_PAGE) });
      res.end(LOGIN_PAGE);
      return;
    }
    if (opts.fault === '500') return json(500, { error: 'internal error', code: 'E_STATUS_SERVICE' });
    if (path === '/api/v1/status') return json(200, status(host));
    if (path === '/api/v1/device-info') return json(200, { ...identity, classroom });
    return json(404, { error: 'not found' });
  });
  server.keepAliveTimeout = 1000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const res of held) res.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  if (opts.fault === 'off') {
    // powered off: the port was ours a moment ago, now nothing listens there
    await stop();
  }
  return { kind, host, port, serial, state, requests, stop };
}
