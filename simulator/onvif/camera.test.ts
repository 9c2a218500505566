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

async function post(url: string, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/soap+xml' } });
  return { status: res.status, text: await res.text() };
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
