/**
 * The simulated camera and the replay server on their own, spoken to with raw SOAP (not the
 * agent's client), so the simulator's behaviour is pinned independently of the code it tests.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulatedCamera, type SimulatedCamera } from './camera.ts';
import { startReplayCamera, type ReplayCamera } from './replay.ts';

const FIXTURE = path.resolve(import.meta.dirname, '../../tests/fixtures/onvif/ipnc-rdk-hd-predator');

function soap(op: string, auth?: { user: string; pass: string }, ns = 'tds', inner = ''): string {
  let header = '';
  if (auth) {
    const nonce = randomBytes(16);
    const created = new Date().toISOString();
    const digest = createHash('sha1').update(Buffer.concat([nonce, Buffer.from(created), Buffer.from(auth.pass)])).digest('base64');
    header =
      `<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"><wsse:UsernameToken>` +
      `<wsse:Username>${auth.user}</wsse:Username><wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">${digest}</wsse:Password>` +
      `<wsse:Nonce>${nonce.toString('base64')}</wsse:Nonce><wsu:Created>${created}</wsu:Created></wsse:UsernameToken></wsse:Security>`;
  }
  return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl"><s:Header>${header}</s:Header><s:Body><${ns}:${op}>${inner}</${ns}:${op}></s:Body></s:Envelope>`;
}

async function post(url: string, body: string, authorization?: string): Promise<{ status: number; text: string; challenge: string | null }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/soap+xml', ...(authorization ? { authorization } : {}) } });
  return { status: res.status, text: await res.text(), challenge: res.headers.get('www-authenticate') };
}

/** A Digest answer computed here by hand (RFC 7616 §3.4.1), independent of both the simulator and the agent. */
function digest(challenge: string, o: { url: string; user: string; pass: string; nc: number; algorithm: 'MD5' | 'SHA-256' }): string {
  const param = (k: string): string => new RegExp(`${k}="([^"]*)"`).exec(challenge)?.[1] ?? '';
  const H = (s: string): string => createHash(o.algorithm === 'MD5' ? 'md5' : 'sha256').update(s).digest('hex');
  const uri = new URL(o.url).pathname;
  const nc = o.nc.toString(16).padStart(8, '0');
  const cnonce = randomBytes(8).toString('hex');
  const response = H(`${H(`${o.user}:${param('realm')}:${o.pass}`)}:${param('nonce')}:${nc}:${cnonce}:auth:${H(`POST:${uri}`)}`);
  return `Digest username="${o.user}", realm="${param('realm')}", nonce="${param('nonce')}", uri="${uri}", algorithm=${o.algorithm}, qop=auth, nc=${nc}, cnonce="${cnonce}", response="${response}", opaque="${param('opaque')}"`;
}

function rtspOptions(uri: string): Promise<string> {
  const u = new URL(uri);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname, () => s.write(`OPTIONS ${uri} RTSP/1.0\r\nCSeq: 7\r\n\r\n`));
    s.on('data', (d) => {
      resolve(d.toString());
      s.destroy();
    });
    s.on('error', reject);
  });
}

describe('simulated ONVIF camera', () => {
  const user = { user: 'admin', pass: 'sim-pass' };
  let cam: SimulatedCamera;
  let down: SimulatedCamera;
  let replay: ReplayCamera;
  const opts = { host: '127.0.0.1', discoveryPort: 0, manufacturer: 'Dahua', model: 'DH-IPC-HDW3441T-ZS', firmware: '2.840', serial: 'DHSIM1', username: 'admin', password: 'sim-pass', resolution: { width: 2688, height: 1520 }, fps: 20 };

  beforeAll(async () => {
    cam = await startSimulatedCamera(opts);
    down = await startSimulatedCamera({ ...opts, serial: 'DHSIM2', fault: 'stream-down' });
    replay = await startReplayCamera({ dir: FIXTURE, host: '127.0.0.1', discoveryPort: 0 });
  });
  afterAll(async () => {
    await Promise.all([cam?.stop(), down?.stop(), replay?.stop()]);
  });

  it('answers GetSystemDateAndTime without auth, and nothing else without a valid token', async () => {
    const t = await post(cam.xaddr, soap('GetSystemDateAndTime'));
    expect(t.status).toBe(200);
    expect(t.text).toContain('<tt:Year>');
    const noAuth = await post(cam.xaddr, soap('GetDeviceInformation'));
    expect(noAuth.status).toBe(401);
    expect(noAuth.text).toContain('ter:NotAuthorized');
    const bad = await post(cam.xaddr, soap('GetDeviceInformation', { user: 'admin', pass: 'nope' }));
    expect(bad.status).toBe(401);
    const ok = await post(cam.xaddr, soap('GetDeviceInformation', user));
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('<tds:Model>DH-IPC-HDW3441T-ZS</tds:Model>');
  });

  it('serves the media service and an RTSP endpoint that answers OPTIONS', async () => {
    const uri = await post(cam.xaddr.replace('device_service', 'media_service'), soap('GetStreamUri', user, 'trt', '<trt:ProfileToken>Profile_1</trt:ProfileToken>'));
    expect(uri.text).toContain(cam.streamUri.replace(/&/g, '&amp;'));
    expect(await rtspOptions(cam.streamUri)).toMatch(/^RTSP\/1\.0 200 OK\r\nCSeq: 7\r\n/);
    const nope = await post(cam.xaddr, soap('GetStreamUri', user, 'trt', '<trt:ProfileToken>nope</trt:ProfileToken>'));
    expect(nope.text).toContain('ter:NoProfile');
    const unknown = await post(cam.xaddr, soap('SystemReboot', user));
    expect(unknown.text).toContain('ter:ActionNotSupported');
  });

  it('stream-down: GetStreamUri answers, its RTSP port refuses', async () => {
    const uri = await post(down.xaddr, soap('GetStreamUri', user, 'trt', '<trt:ProfileToken>Profile_1</trt:ProfileToken>'));
    expect(uri.status).toBe(200);
    await expect(rtspOptions(down.streamUri)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('httpAuth digest: challenges every request, checks the answer, refuses a replayed nonce count, declares nonces stale', async () => {
    const dg = await startSimulatedCamera({ ...opts, serial: 'DHSIM3', httpAuth: { scheme: 'digest', algorithm: 'SHA-256', realm: 'Login to DHSIM3' } });
    try {
      // even GetSystemDateAndTime, and a valid WS-UsernameToken alone is not enough
      const first = await post(dg.xaddr, soap('GetSystemDateAndTime'));
      expect(first.status).toBe(401);
      expect(first.challenge).toMatch(/^Digest realm="Login to DHSIM3", qop="auth", algorithm=SHA-256, nonce="[^"]+", opaque="[0-9a-f]+"$/);
      expect((await post(dg.xaddr, soap('GetDeviceInformation', user))).status).toBe(401);
      const ch = first.challenge!;
      const auth = (nc: number, pass = 'sim-pass', algorithm: 'MD5' | 'SHA-256' = 'SHA-256'): string => digest(ch, { url: dg.xaddr, user: 'admin', pass, nc, algorithm });
      // Digest only: no WS-UsernameToken needed
      const ok = await post(dg.xaddr, soap('GetDeviceInformation'), auth(1));
      expect(ok.status).toBe(200);
      expect(ok.text).toContain('<tds:Model>DH-IPC-HDW3441T-ZS</tds:Model>');
      expect((await post(dg.xaddr, soap('GetScopes'), auth(2))).status).toBe(200);
      const replay = await post(dg.xaddr, soap('GetScopes'), auth(2));
      expect([replay.status, replay.challenge]).toEqual([401, expect.not.stringContaining('stale') as unknown]);
      expect((await post(dg.xaddr, soap('GetScopes'), auth(3, 'nope'))).status).toBe(401);
      expect((await post(dg.xaddr, soap('GetScopes'), auth(4, 'sim-pass', 'MD5'))).status).toBe(401);
      dg.expireHttpNonces();
      const stale = await post(dg.xaddr, soap('GetScopes'), auth(5));
      expect(stale.status).toBe(401);
      expect(stale.challenge).toMatch(/, stale=true$/);
      expect((await post(dg.xaddr, soap('GetScopes'), digest(stale.challenge!, { url: dg.xaddr, user: 'admin', pass: 'sim-pass', nc: 1, algorithm: 'SHA-256' }))).status).toBe(200);
      expect(dg.httpAuthLog.map((e) => e.why ?? e.outcome)).toEqual(['missing', 'missing', 'ok', 'ok', 'replay', 'response', 'algorithm', 'stale', 'ok']);
    } finally {
      await dg.stop();
    }
  });

  it('httpAuth digest with wsSecurity: both are required', async () => {
    const both = await startSimulatedCamera({ ...opts, serial: 'DHSIM4', httpAuth: { scheme: 'digest', algorithm: 'MD5', wsSecurity: true } });
    try {
      const ch = (await post(both.xaddr, soap('GetSystemDateAndTime'))).challenge!;
      const auth = (nc: number): string => digest(ch, { url: both.xaddr, user: 'admin', pass: 'sim-pass', nc, algorithm: 'MD5' });
      expect((await post(both.xaddr, soap('GetSystemDateAndTime'), auth(1))).status).toBe(200);
      const digestOnly = await post(both.xaddr, soap('GetDeviceInformation'), auth(2));
      expect([digestOnly.status, digestOnly.challenge]).toEqual([401, null]);
      expect(digestOnly.text).toContain('ter:NotAuthorized');
      expect((await post(both.xaddr, soap('GetDeviceInformation', user), auth(3))).status).toBe(200);
    } finally {
      await both.stop();
    }
  });

  it('the replay serves recorded answers by operation, with the recorded address rewritten to its own', async () => {
    const caps = await post(replay.xaddr, soap('GetCapabilities', user));
    expect(caps.text).toContain(`http://127.0.0.1:${replay.port}/onvif/services`);
    expect(caps.text).not.toContain('http://192.168.68.111/');
    const ni = await post(replay.xaddr, soap('GetNetworkInterfaces', user));
    expect(ni.text).toContain('<tt:Address>192.168.68.111</tt:Address>');
    const missing = await post(replay.xaddr, soap('GetUsers', user));
    expect(missing.status).toBe(400);
    expect(replay.served).toEqual(['GetCapabilities', 'GetNetworkInterfaces', 'GetUsers']);
  });
});
