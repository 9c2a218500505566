import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as http from 'node:http';
import type * as net from 'node:net';
import { Value } from '@sinclair/typebox/value';
import { DiscoveredDevice, Reading } from '../../protocol/index.ts';
import { SERVER_HEADERS, startSimulatedHttpDevice, type SimulatedHttpDevice } from '../../simulator/http-devices/simulated-http-device.ts';
import { isLoopbackHost } from './targets.ts';
import { httpResultToDiscovered, probeHttp, type HttpFingerprint } from './probe.ts';
import { pollHttpDevice, type HttpMetricSpec } from './poller.ts';

/** As device-profiles/profiles/http/campus-*.yaml describe them, plus one matched on the Server header. */
const FINGERPRINTS: HttpFingerprint[] = [
  {
    profile: 'campus-class-board',
    kind: 'class-board',
    rules: [{ path: '/api/v1/status', expectStatus: 200, headerRegex: { 'Content-Type': '^application/json' }, json: { '/deviceType': '^class-board$' } }],
  },
  {
    profile: 'campus-interactive-display',
    kind: 'display',
    rules: [{ path: '/api/v1/status', expectStatus: 200, headerRegex: { 'content-type': '^application/json' }, json: { '/deviceType': '^interactive-display$' } }],
  },
  {
    profile: 'smartpanel-by-server',
    kind: 'display',
    rules: [{ path: '/api/v1/device-info', expectStatus: 200, headerRegex: '^server: SmartPanel-httpd/', bodyRegex: '"serial"', expectJson: true }],
  },
];

const S = '/api/v1/status';
const BOARD_METRICS: HttpMetricSpec[] = [
  { path: S, pointer: '/uptimeSec', type: 'integer', measurement: 'classBoard', metric: 'uptimeSec' },
  { path: S, pointer: '/screen/on', type: 'boolean', measurement: 'classBoard', metric: 'screenOn' },
  { path: S, pointer: '/screen/brightness', type: 'integer', max: 100, measurement: 'classBoard', metric: 'brightness' },
  { path: S, pointer: '/cpu/temperature', type: 'number', max: 150, measurement: 'classBoard', metric: 'cpuTemperature' },
  { path: S, pointer: '/storage/freePercent', type: 'number', max: 100, measurement: 'classBoard', metric: 'storageFreePercent' },
  { path: S, pointer: '/app/online', type: 'boolean', measurement: 'classBoard', metric: 'appOnline' },
  { path: S, pointer: '/firmware', type: 'string', measurement: 'classBoard', metric: 'firmware' },
  { path: '/api/v1/device-info', pointer: '/serial', type: 'string', measurement: 'classBoardInfo', metric: 'serial' },
];
const DISPLAY_METRICS: HttpMetricSpec[] = [
  { path: S, pointer: '/power', type: 'string', enum: { on: true, standby: false }, measurement: 'display', metric: 'poweredOn' },
  { path: S, pointer: '/source', type: 'string', measurement: 'display', metric: 'source' },
  { path: S, pointer: '/temperature', type: 'number', max: 150, measurement: 'display', metric: 'temperature' },
  { path: S, pointer: '/touch/ok', type: 'boolean', measurement: 'display', metric: 'touchOk' },
  { path: S, pointer: '/ops/online', type: 'boolean', measurement: 'display', metric: 'opsOnline' },
  { path: S, pointer: '/usageHoursToday', type: 'number', max: 24, measurement: 'display', metric: 'usageHoursToday' },
  { path: S, pointer: '/panelHours', type: 'integer', measurement: 'display', metric: 'panelHours' },
];

describe('HTTP class boards and displays', () => {
  let board: SimulatedHttpDevice;
  let display: SimulatedHttpDevice;
  let html: SimulatedHttpDevice;
  let err500: SimulatedHttpDevice;
  let slow: SimulatedHttpDevice;
  let off: SimulatedHttpDevice;
  let stranger: http.Server;
  let strangerPort: number;
  beforeAll(async () => {
    board = await startSimulatedHttpDevice({ kind: 'class-board' });
    display = await startSimulatedHttpDevice({ kind: 'display', classroom: '高一(7)班', serial: 'IFP86C00999' });
    html = await startSimulatedHttpDevice({ kind: 'class-board', fault: 'html' });
    err500 = await startSimulatedHttpDevice({ kind: 'class-board', fault: '500' });
    slow = await startSimulatedHttpDevice({ kind: 'class-board', fault: 'slow' });
    off = await startSimulatedHttpDevice({ kind: 'display', fault: 'off' });
    // an HTTP server that is none of ours: a printer's web page, say
    stranger = http.createServer((_req, res) => {
      res.writeHead(404, { 'Content-Type': 'text/plain', Server: 'PrinterWeb/1.0' });
      res.end('not found');
    });
    await new Promise<void>((resolve) => stranger.listen(0, '127.0.0.1', resolve));
    strangerPort = (stranger.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await Promise.all([board, display, html, err500, slow, off].filter(Boolean).map((d) => d.stop()));
    stranger?.closeAllConnections();
    await new Promise<void>((resolve) => (stranger ? stranger.close(() => resolve()) : resolve()));
  });

  describe('probe', () => {
    it('recognises the board and the display, and gives each broken device its own clear error', async () => {
      const ports = [board.port, display.port, html.port, err500.port, slow.port, off.port, strangerPort];
      const report = await probeHttp({ hosts: ['127.0.0.1'], ports, fingerprints: FINGERPRINTS, isAllowed: isLoopbackHost, timeoutMs: 500, concurrency: 3 });
      expect(report.scanned).toBe(7);
      expect(report.absent).toBe(1); // the display that is switched off
      const at = (port: number) => report.results.find((r) => r.port === port);

      const b = at(board.port)!;
      expect(b).toMatchObject({ status: 'found', profile: 'campus-class-board', kind: 'class-board', address: `127.0.0.1:${board.port}` });
      if (b.status !== 'found') throw new Error('unreachable');
      expect(b.fingerprint.attributes).toEqual({ vendor: 'CampusSim', model: 'CB-215A', serial: 'CB2024A00017', firmware: '3.2.1-20240612', deviceType: 'class-board', classroom: '初二(3)班' });
      expect(b.fingerprint.server).toBe(SERVER_HEADERS['class-board']);
      const discovered = httpResultToDiscovered(b)!;
      expect(Value.Check(DiscoveredDevice, discovered)).toBe(true);
      expect(discovered).toMatchObject({ kind: 'class-board', protocol: 'http', profile: 'campus-class-board', attributes: { classroom: '初二(3)班' } });

      expect(at(display.port)).toMatchObject({ status: 'found', profile: 'campus-interactive-display', kind: 'display', fingerprint: { attributes: { classroom: '高一(7)班', serial: 'IFP86C00999' } } });
      expect(at(html.port)).toMatchObject({
        status: 'error',
        reason: 'html-instead-of-json',
        error: expect.stringMatching(/GET \/api\/v1\/status answered an HTML page \(text\/html; charset=utf-8, title "设备管理登录"\) instead of JSON/),
      });
      expect(at(err500.port)).toMatchObject({ status: 'error', reason: 'http-status', error: 'GET /api/v1/status answered HTTP 500' });
      expect(at(slow.port)).toMatchObject({ status: 'error', reason: 'timeout', error: 'GET /api/v1/status: no answer within 500 ms' });
      const unknown = at(strangerPort)!;
      expect(unknown).toMatchObject({ status: 'unknown', fingerprint: { server: 'PrinterWeb/1.0', paths: { '/api/v1/status': { status: 404 } } } });
      expect(httpResultToDiscovered(unknown)).toMatchObject({ kind: 'unknown', attributes: { server: 'PrinterWeb/1.0' } });
    });

    it('matches on the Server header and a path of its own', async () => {
      const report = await probeHttp({ hosts: ['127.0.0.1'], ports: [display.port], fingerprints: FINGERPRINTS.slice(2), isAllowed: isLoopbackHost });
      expect(report.results).toEqual([expect.objectContaining({ status: 'found', profile: 'smartpanel-by-server' })]);
    });

    it('scans a loopback range, and refuses non-loopback ranges without sending anything', async () => {
      const near = await probeHttp({ hosts: ['127.0.0.1-4'], ports: [board.port], fingerprints: FINGERPRINTS, isAllowed: isLoopbackHost });
      expect(near.scanned).toBe(4);
      expect(near.absent).toBe(3);
      expect(near.results.map((r) => [r.host, r.status])).toEqual([['127.0.0.1', 'found']]);

      const far = await probeHttp({ hosts: ['192.0.2.0/30', '10.20.30.40'], ports: [80, 8080], fingerprints: FINGERPRINTS, isAllowed: isLoopbackHost });
      expect(far.results).toHaveLength(6);
      expect(far.results.every((r) => r.status === 'not-allowed')).toBe(true);

      const before = board.requests.get(S) ?? 0;
      const refused = await probeHttp({ hosts: ['127.0.0.1'], ports: [board.port], fingerprints: FINGERPRINTS, isAllowed: () => false });
      expect(refused.results[0]).toMatchObject({ status: 'not-allowed', error: expect.stringMatching(/nothing was sent/) });
      expect(board.requests.get(S) ?? 0).toBe(before);
    });

    it('refuses bad patterns and empty fingerprints before sending anything', async () => {
      await expect(probeHttp({ hosts: ['127.0.0.1'], ports: [board.port], fingerprints: [{ profile: 'x', rules: [{ path: '/', bodyRegex: '(' }] }], isAllowed: isLoopbackHost })).rejects.toThrow(/bad pattern/);
      await expect(probeHttp({ hosts: ['127.0.0.1'], ports: [board.port], fingerprints: [], isAllowed: isLoopbackHost })).rejects.toThrow(/fingerprint/);
    });
  });

  describe('poller', () => {
    it('maps JSON pointers of a class board to typed metrics across two paths', async () => {
      const r = await pollHttpDevice({ id: 'cb-1', host: '127.0.0.1', port: board.port, metrics: BOARD_METRICS }, { isAllowed: isLoopbackHost });
      expect(r.errors).toEqual([]);
      expect(r.skipped).toBe(0);
      for (const reading of r.readings) expect(Value.Check(Reading, reading)).toBe(true);
      expect(r.readings.map((x) => x.measurement)).toEqual(['device', 'classBoard', 'classBoardInfo']);
      expect(r.readings[0]!.metrics).toEqual({ reachable: true, statusOk: true, httpStatus: 200 });
      expect(r.readings[1]!.metrics).toEqual({ uptimeSec: expect.any(Number), screenOn: true, brightness: 80, cpuTemperature: 45.5, storageFreePercent: 62, appOnline: true, firmware: '3.2.1-20240612' });
      expect(r.readings[2]!.metrics).toEqual({ serial: 'CB2024A00017' });

      board.state.screenOn = false;
      const after = await pollHttpDevice({ id: 'cb-1', host: '127.0.0.1', port: board.port, metrics: BOARD_METRICS });
      expect(after.readings[1]!.metrics.screenOn).toBe(false);
      board.state.screenOn = true;
    });

    it('applies enums and bounds, and skips values of the wrong type', async () => {
      display.state.screenOn = false;
      display.state.temperatureC = 180;
      const metrics: HttpMetricSpec[] = [
        ...DISPLAY_METRICS,
        { path: S, pointer: '/classroom', type: 'number', measurement: 'display', metric: 'wrongType' },
        { path: S, pointer: '/no/such/thing', type: 'number', measurement: 'display', metric: 'missing' },
      ];
      const r = await pollHttpDevice({ id: 'ifp-1', host: '127.0.0.1', port: display.port, metrics });
      expect(r.skipped).toBe(3);
      expect(r.errors).toEqual([
        '/api/v1/status#/temperature: 180 above plausible maximum 150',
        expect.stringMatching(/^\/api\/v1\/status#\/classroom: expected a number, got "高一\(7\)班"$/),
        '/api/v1/status#/no/such/thing is missing',
      ]);
      expect(r.readings.find((x) => x.measurement === 'display')?.metrics).toEqual({ poweredOn: false, source: 'OPS', touchOk: true, opsOnline: true, usageHoursToday: 5.5, panelHours: 8123 });
      display.state.screenOn = true;
      display.state.temperatureC = 41;
    });

    it('converts as every profile value is: enum on the raw value (sent as written), else scale/offset, then bounds on what is sent', async () => {
      // raw: /temperature 41, /usageHoursToday 5.5, /panelHours 8123, /source as set below
      (display.state as { source: string }).source = 'constructor';
      const conv = (m: Omit<HttpMetricSpec, 'path' | 'measurement'>): HttpMetricSpec => ({ ...m, path: S, measurement: 'conv' });
      const metrics: HttpMetricSpec[] = [
        // the enum is keyed by the raw JSON value, whatever the scale says
        conv({ pointer: '/temperature', type: 'number', scale: 0.1, enum: { '41': 'warm', '4.1': 'scaled-key' }, metric: 'enumOnRaw' }),
        // a listed value is sent as the profile wrote it, not scaled
        conv({ pointer: '/panelHours', type: 'integer', scale: 2, enum: { '8123': 1 }, metric: 'enumAsWritten' }),
        // bounds hold for the scaled value (330 minutes), not the raw one (5.5 hours)
        conv({ pointer: '/usageHoursToday', type: 'number', scale: 60, offset: 1, max: 400, metric: 'scaledInBounds' }),
        conv({ pointer: '/usageHoursToday', type: 'number', scale: 60, max: 300, metric: 'scaledAboveMax' }),
        // and for a value an enum gave
        conv({ pointer: '/panelHours', type: 'integer', enum: { '8123': 1000 }, max: 100, metric: 'enumAboveMax' }),
        // a raw text that names an Object.prototype member is just not listed
        conv({ pointer: '/source', type: 'string', enum: { OPS: 'ops' }, metric: 'notListed' }),
      ];
      try {
        const r = await pollHttpDevice({ id: 'ifp-c', host: '127.0.0.1', port: display.port, metrics });
        expect(r.readings.find((x) => x.measurement === 'conv')?.metrics).toEqual({ enumOnRaw: 'warm', enumAsWritten: 1, scaledInBounds: 331 });
        expect(r.skipped).toBe(3);
        expect(r.errors).toEqual([
          '/api/v1/status#/usageHoursToday: 330 above plausible maximum 300',
          '/api/v1/status#/panelHours: 1000 above plausible maximum 100',
          `/api/v1/status#/source: value "constructor" is not in the profile's enum (OPS)`,
        ]);
      } finally {
        display.state.source = 'OPS';
      }
    });

    it('gives the HTML-answering board a clear error and no made-up values', async () => {
      const r = await pollHttpDevice({ id: 'cb-html', host: '127.0.0.1', port: html.port, metrics: BOARD_METRICS });
      expect(r.reachable).toBe(true);
      expect(r.readings).toEqual([{ device: 'cb-html', ts: expect.any(Number), measurement: 'device', metrics: { reachable: true, statusOk: false, httpStatus: 200 } }]);
      expect(r.skipped).toBe(BOARD_METRICS.length);
      expect(r.errors[0]).toBe(`GET 127.0.0.1:${html.port}/api/v1/status answered an HTML page (text/html; charset=utf-8, title "设备管理登录") instead of JSON`);
    });

    it('tells a 500, a silent board and a switched-off display apart', async () => {
      const e = await pollHttpDevice({ id: 'cb-500', host: '127.0.0.1', port: err500.port, metrics: BOARD_METRICS });
      expect(e.readings[0]!.metrics).toEqual({ reachable: true, statusOk: false, httpStatus: 500 });
      expect(e.errors).toEqual([`GET 127.0.0.1:${err500.port}/api/v1/status answered HTTP 500`, `GET 127.0.0.1:${err500.port}/api/v1/device-info answered HTTP 500`]);

      const s = await pollHttpDevice({ id: 'cb-slow', host: '127.0.0.1', port: slow.port, metrics: BOARD_METRICS, timeoutMs: 300 });
      expect(s.readings).toEqual([{ device: 'cb-slow', ts: expect.any(Number), measurement: 'device', metrics: { reachable: false } }]);
      expect(s.errors).toEqual([`GET 127.0.0.1:${slow.port}/api/v1/status: no answer within 300 ms`]);

      const o = await pollHttpDevice({ id: 'ifp-off', host: '127.0.0.1', port: off.port, metrics: DISPLAY_METRICS });
      expect(o.readings[0]!.metrics).toEqual({ reachable: false });
      expect(o.errors).toEqual([`GET 127.0.0.1:${off.port}/api/v1/status: connection refused`]);
    });

    it('refuses a body over the size limit', async () => {
      const r = await pollHttpDevice({ id: 'cb-big', host: '127.0.0.1', port: board.port, metrics: BOARD_METRICS.slice(0, 1), maxBodyBytes: 64 });
      expect(r.errors[0]).toMatch(/over the limit of 64/);
      expect(r.readings[0]!.metrics).toEqual({ reachable: true, statusOk: false });
    });
  });
});
