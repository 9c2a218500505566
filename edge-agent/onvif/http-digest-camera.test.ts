/**
 * The ONVIF client against simulated cameras whose web server demands HTTP authentication, over
 * loopback HTTP with the real challenge/response: Digest only (MD5, SHA-256, the old form without
 * qop), Digest and WS-Security both, Basic only, a wrong password, a nonce declared stale, and
 * servers whose challenge we must not answer. The camera's own log of each request's outcome
 * shows that later requests authenticate at once, with the nonce count going up.
 */
import * as dgram from 'node:dgram';
import * as http from 'node:http';
import type * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulatedCamera, type SimulatedCamera, type SimulatedCameraOptions } from '../../simulator/onvif/camera.ts';
import type { HttpAuthEvent } from '../../simulator/onvif/http-auth.ts';
import { CredentialStore, Credentials } from '../credentials.ts';
import { OnvifClient } from './client.ts';
import { describeOnvifDevice, parseProbeMatches, type ProbeMatch } from './discovery.ts';
import { checkCameraHealth } from './health.ts';
import { HttpAuthCache } from './http-auth.ts';
import { OnvifError } from './xml.ts';

const PASSWORD = 'Dg#7-school-gate';
const creds = new Credentials('admin', PASSWORD);
const expected = { width: 2560, height: 1440, fps: 25 };
const base: SimulatedCameraOptions = {
  host: '127.0.0.1',
  discoveryPort: 0,
  manufacturer: 'HIKVISION',
  model: 'DS-2CD2547G2-LS',
  firmware: 'V5.7.15',
  serial: 'DIGEST-0',
  username: 'admin',
  password: PASSWORD,
  resolution: { width: 2560, height: 1440 },
  fps: 25,
};

const outcomes = (log: readonly HttpAuthEvent[]): string[] => log.map((e) => e.outcome);

/** One unicast WS-Discovery probe to the camera's responder; waits (bounded) for its ProbeMatch. */
async function probe(cam: SimulatedCamera): Promise<ProbeMatch> {
  const sock = dgram.createSocket('udp4');
  try {
    const answer = new Promise<string>((resolve) => sock.on('message', (m) => resolve(m.toString('utf8'))));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const xml =
      `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" ` +
      `xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><s:Header><a:MessageID>urn:uuid:6f1c0d3e-digest-test</a:MessageID></s:Header>` +
      `<s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>`;
    sock.send(xml, cam.discoveryPort, '127.0.0.1');
    const text = await Promise.race([answer, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no ProbeMatch from the camera's responder on port ${cam.discoveryPort} within 30 s`)), 30_000))]);
    const [match] = parseProbeMatches(text, { host: '127.0.0.1', port: cam.discoveryPort });
    if (!match) throw new Error('ProbeMatches without a match');
    return match;
  } finally {
    sock.close();
  }
}

describe('ONVIF with HTTP Digest', () => {
  const cams: SimulatedCamera[] = [];
  const start = async (o: Partial<SimulatedCameraOptions>): Promise<SimulatedCamera> => {
    const cam = await startSimulatedCamera({ ...base, ...o });
    cams.push(cam);
    return cam;
  };
  afterAll(async () => {
    await Promise.all(cams.map((c) => c.stop()));
  });

  describe('a Digest-only camera (MD5)', () => {
    let cam: SimulatedCamera;
    beforeAll(async () => {
      cam = await start({ serial: 'DIGEST-MD5', httpAuth: { scheme: 'digest', algorithm: 'MD5' } });
    });

    it('is discovered with what GetDeviceInformation says', async () => {
      const store = CredentialStore.fromObject({ credentials: [{ match: '127.0.0.1', protocol: 'onvif', username: 'admin', password: PASSWORD }] });
      const r = await describeOnvifDevice(await probe(cam), { credentials: store, allow: (a) => a === '127.0.0.1' });
      expect(r?.error).toBeUndefined();
      expect(r?.device.attributes).toMatchObject({ manufacturer: 'HIKVISION', model: 'DS-2CD2547G2-LS', serial: 'DIGEST-MD5', resolution: '2560x1440', fps: 25 });
      expect(r?.warnings).toEqual([]);
    });

    it('reaches the top of the health ladder, answering one challenge and then authenticating at once', async () => {
      const h = await checkCameraHealth({ device: 'cam-md5', xaddr: cam.xaddr, credentials: creds, expected });
      expect(h).toMatchObject({ step: 4, failure: undefined });
      expect(h.reading.metrics).toMatchObject({ onvifAuth: true, httpAuth: 'digest-md5' });
      expect(JSON.stringify(h)).not.toContain(PASSWORD);
      // one 401 (discovery's first request), then every request authenticated with nc 1, 2, 3, …
      const log = cam.httpAuthLog;
      expect(outcomes(log)).toEqual(['missing', ...Array<string>(log.length - 1).fill('ok')]);
      expect(log.slice(1).map((e) => e.nc)).toEqual(log.slice(1).map((_, i) => i + 1));
      expect(log.length).toBeGreaterThan(8);
    });

    it('without credentials: step 1, no-credentials', async () => {
      const h = await checkCameraHealth({ device: 'cam-md5', xaddr: cam.xaddr, expected }, { now: () => 0 });
      expect(h).toMatchObject({ step: 1, failure: 'not-authorized' });
      expect(h.reading.metrics).toMatchObject({ reachable: true, onvifAuth: false, authFailure: 'no-credentials' });
    });
  });

  it('SHA-256 works', async () => {
    const cam = await start({ serial: 'DIGEST-SHA256', manufacturer: 'Dahua', httpAuth: { scheme: 'digest', algorithm: 'SHA-256', realm: 'Login to 7J0C8A1PAZ' } });
    const h = await checkCameraHealth({ device: 'cam-sha256', xaddr: cam.xaddr, credentials: creds, expected });
    expect(h).toMatchObject({ step: 4 });
    expect(h.reading.metrics).toMatchObject({ httpAuth: 'digest-sha-256' });
    expect(outcomes(cam.httpAuthLog).filter((o) => o !== 'ok')).toEqual(['missing']);
  });

  it('the old Digest form without qop works', async () => {
    const cam = await start({ serial: 'DIGEST-NOQOP', httpAuth: { scheme: 'digest', qop: 'none' } });
    expect(await checkCameraHealth({ device: 'cam-noqop', xaddr: cam.xaddr, credentials: creds, expected })).toMatchObject({ step: 4 });
  });

  it('a camera that requires WS-Security and Digest both works', async () => {
    const cam = await start({ serial: 'DIGEST-BOTH', manufacturer: 'Uniview', httpAuth: { scheme: 'digest', algorithm: 'SHA-256', wsSecurity: true } });
    const h = await checkCameraHealth({ device: 'cam-both', xaddr: cam.xaddr, credentials: creds, expected });
    expect(h).toMatchObject({ step: 4 });
    expect(h.reading.metrics).toMatchObject({ httpAuth: 'digest-sha-256' });
  });

  it('a wrong password lands on step 1 with the reason, after two requests per call and no more', async () => {
    const cam = await start({ serial: 'DIGEST-WRONG', fault: 'wrong-password', httpAuth: { scheme: 'digest', algorithm: 'SHA-256' } });
    const h = await checkCameraHealth({ device: 'cam-wrong', xaddr: cam.xaddr, credentials: creds, expected });
    expect(h).toMatchObject({ step: 1, failure: 'not-authorized' });
    expect(h.reading.metrics).toMatchObject({ reachable: true, onvifAuth: false, step: 1, failure: 'not-authorized', authFailure: 'wrong-credentials' });
    expect(h.detail).toMatch(/GetDeviceInformation at 127\.0\.0\.1:\d+: not authorized: HTTP Digest SHA-256 refused \(wrong username or password\)/);
    expect(outcomes(cam.httpAuthLog)).toEqual(['missing', 'invalid', 'missing', 'invalid']);
    expect(JSON.stringify(h)).not.toContain(PASSWORD);
  });

  it('a nonce declared stale is recovered with one re-authentication', async () => {
    const cam = await start({ serial: 'DIGEST-STALE', httpAuth: { scheme: 'digest', algorithm: 'MD5' } });
    expect(await checkCameraHealth({ device: 'cam-stale', xaddr: cam.xaddr, credentials: creds, expected })).toMatchObject({ step: 4 });
    const before = cam.httpAuthLog.length;
    cam.expireHttpNonces();
    const h = await checkCameraHealth({ device: 'cam-stale', xaddr: cam.xaddr, credentials: creds, expected });
    expect(h).toMatchObject({ step: 4 });
    const after = cam.httpAuthLog.slice(before);
    // the cached nonce is refused as stale once; the new nonce counts from 1
    expect(outcomes(after)).toEqual(['stale', ...Array<string>(after.length - 1).fill('ok')]);
    expect(after.slice(1).map((e) => e.nc)).toEqual(after.slice(1).map((_, i) => i + 1));
  });

  it('Basic when the camera offers only Basic', async () => {
    const cam = await start({ serial: 'BASIC-ONLY', httpAuth: { scheme: 'basic' } });
    const h = await checkCameraHealth({ device: 'cam-basic', xaddr: cam.xaddr, credentials: creds, expected });
    expect(h).toMatchObject({ step: 4 });
    expect(h.reading.metrics).toMatchObject({ httpAuth: 'basic' });
  });

  describe('challenges not answered', () => {
    let server: http.Server;
    let url: string;
    /** every request's Authorization header ('' when none) */
    const seen: string[] = [];
    let challenge = '';
    beforeAll(async () => {
      server = http.createServer((req, res) => {
        seen.push(req.headers.authorization ?? '');
        req.resume();
        req.on('end', () => res.writeHead(401, { 'www-authenticate': challenge, 'content-length': 0 }).end());
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/onvif/device_service`;
    });
    afterAll(async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    });

    const attempt = async (header: string): Promise<OnvifError> => {
      challenge = header;
      seen.length = 0;
      const client = new OnvifClient(url, { credentials: creds, httpAuthCache: new HttpAuthCache() });
      const err = await client.getDeviceInformation().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(OnvifError);
      return err as OnvifError;
    };

    it('an unreadable challenge: not answered at all (no Basic fallback)', async () => {
      const err = await attempt('Digest realm="cam" nonce="x", Basic realm="cam"');
      expect(err).toMatchObject({ kind: 'not-authorized', authFailure: 'bad-challenge' });
      expect(seen).toEqual(['']);
    });

    it('a Digest we do not speak next to Basic: not answered, and the error names what was offered', async () => {
      const err = await attempt('Digest realm="cam", nonce="x", algorithm=SHA-512-256-sess, Basic realm="cam"');
      expect(err).toMatchObject({ kind: 'not-authorized', authFailure: 'unsupported-challenge' });
      expect(err.message).toContain('Digest algorithm=SHA-512-256-SESS');
      expect(seen).toEqual(['']);
    });

    it('a server that keeps saying stale: at most three requests, then wrong credentials', async () => {
      const err = await attempt('Digest realm="cam", nonce="same", qop="auth", stale=true');
      expect(err).toMatchObject({ kind: 'not-authorized', authFailure: 'wrong-credentials' });
      expect(seen.length).toBe(3);
      expect(seen[0]).toBe('');
      expect(seen.slice(1).every((a) => a.startsWith('Digest username="admin"'))).toBe(true);
    });
  });
});
