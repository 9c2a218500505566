/**
 * The camera health ladder. Each rung needs the one below it:
 *
 *   step 0  unreachable        nothing answers GetSystemDateAndTime (powered off, cable, wrong address)
 *   step 1  reachable          GetSystemDateAndTime answers (or asks for HTTP auth), but
 *                              GetDeviceInformation with our credentials does not (401/NotAuthorized:
 *                              WS-Security or HTTP Digest refused = wrong password)
 *   step 2  ONVIF with auth    …but the stream URI does not answer RTSP OPTIONS with 200
 *   step 3  stream up          …but the encoder does not run at the configured resolution/frame rate
 *   step 4  healthy
 *
 * One Reading (measurement `camera_health`) per check: `reachable`, `onvifAuth`, `streamUp`,
 * `encoderOk`, `step`, and when known `resolutionWidth`, `resolutionHeight`, `fps`, `bitrate`,
 * `rtspStatus`; `failure` names why the ladder stopped (refused, timeout, not-authorized, bad-xml, …),
 * and for not-authorized `authFailure` says why (wrong-credentials, no-credentials,
 * unsupported-challenge, bad-challenge); `httpAuth` names the HTTP authentication the camera
 * demanded and accepted (digest-md5, digest-sha-256, basic), when it demanded one.
 * Never throws for anything a camera does; credentials never appear in the Reading.
 */
import * as net from 'node:net';
import type { Reading } from '../../protocol/index.ts';
import type { Credentials } from '../credentials.ts';
import { OnvifClient, pinToReachedHost } from './client.ts';
import { OnvifError } from './xml.ts';

export interface CameraHealthTarget {
  /** agent-local device id */
  device: string;
  /** device service URL */
  xaddr: string;
  credentials?: Credentials;
  /** media profile to check (default: the first with a video encoder) */
  profileToken?: string;
  /** what the camera is configured to deliver; without it any valid encoder report passes */
  expected?: { width: number; height: number; fps: number };
}

export interface CameraHealthOptions {
  /** per request (SOAP and RTSP), default 5000 ms */
  timeoutMs?: number;
  now?: () => number;
}

export interface CameraHealth {
  step: 0 | 1 | 2 | 3 | 4;
  failure?: string;
  detail?: string;
  reading: Reading;
}

/** RTSP OPTIONS on host:port; resolves the status code, or rejects with an OnvifError. */
export function rtspOptions(uri: URL, timeoutMs: number): Promise<number> {
  const host = uri.hostname.replace(/^\[|\]$/g, '');
  const port = uri.port ? Number(uri.port) : 554;
  return new Promise((resolve, reject) => {
    let buf = '';
    let settled = false;
    const sock = net.connect({ host, port });
    const done = (err: OnvifError | undefined, status?: number): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(status as number);
    };
    const timer = setTimeout(() => done(new OnvifError('timeout', `RTSP ${host}:${port}: no answer in time`)), timeoutMs);
    sock.on('connect', () => {
      sock.write(`OPTIONS ${uri.toString()} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: campus-agent\r\n\r\n`);
    });
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const eol = buf.indexOf('\r\n');
      if (eol < 0) {
        if (buf.length > 4096) done(new OnvifError('bad-answer', `RTSP ${host}:${port}: no status line`));
        return;
      }
      const m = /^RTSP\/1\.\d (\d{3})/.exec(buf.slice(0, eol));
      if (!m) done(new OnvifError('bad-answer', `RTSP ${host}:${port}: not an RTSP answer`));
      else done(undefined, Number(m[1]));
    });
    sock.on('error', (err: NodeJS.ErrnoException) =>
      done(new OnvifError(err.code === 'ECONNREFUSED' ? 'refused' : 'unreachable', `RTSP ${host}:${port}: ${err.code ?? err.message}`)),
    );
    sock.on('close', () => done(new OnvifError('unreachable', `RTSP ${host}:${port}: closed without an answer`)));
  });
}

export async function checkCameraHealth(target: CameraHealthTarget, opts: CameraHealthOptions = {}): Promise<CameraHealth> {
  const now = opts.now ?? Date.now;
  const timeoutMs = opts.timeoutMs ?? 5000;
  const metrics: Record<string, number | boolean | string> = { reachable: false, onvifAuth: false, streamUp: false, encoderOk: false, step: 0 };
  const finish = (step: CameraHealth['step'], err?: unknown, why?: string): CameraHealth => {
    metrics.step = step;
    let failure: string | undefined;
    let detail: string | undefined;
    if (err !== undefined) {
      failure = why ?? (err instanceof OnvifError ? err.kind : 'error');
      detail = (err as Error).message;
      metrics.failure = failure;
      if (err instanceof OnvifError && err.authFailure) metrics.authFailure = err.authFailure;
    }
    return { step, failure, detail, reading: { device: target.device, ts: now(), measurement: 'camera_health', metrics } };
  };

  let client: OnvifClient;
  try {
    client = new OnvifClient(target.xaddr, { credentials: target.credentials, timeoutMs });
  } catch (err) {
    return finish(0, err);
  }
  // rung 1: answers at all, without auth
  try {
    await client.getSystemDateAndTime();
  } catch (err) {
    // a camera that demands auth even here has still answered
    if (!(err instanceof OnvifError && err.kind === 'not-authorized')) return finish(0, err);
  }
  metrics.reachable = true;

  // rung 2: our credentials work
  if (!client.hasCredentials) return finish(1, new OnvifError('not-authorized', 'no credentials for this camera in the credential store', 'no-credentials'));
  try {
    await client.getDeviceInformation();
  } catch (err) {
    return finish(1, err);
  }
  metrics.onvifAuth = true;
  if (client.httpAuth) metrics.httpAuth = client.httpAuth;

  // rung 3: the stream answers
  let encoderToken: string | undefined;
  try {
    try {
      await client.getCapabilities();
    } catch {
      // no capabilities: media service on the device URL, as many cameras serve it
    }
    const profiles = await client.getProfiles();
    const profile = target.profileToken ? profiles.find((p) => p.token === target.profileToken) : (profiles.find((p) => p.videoEncoderToken) ?? profiles[0]);
    if (!profile) throw new OnvifError('bad-answer', target.profileToken ? `no media profile ${target.profileToken}` : 'camera has no media profile');
    encoderToken = profile.videoEncoderToken;
    const reported = await client.getStreamUri(profile.token);
    // the stream is checked where we reached the camera, never at an address it merely claims
    const uri = pinToReachedHost(reported, client.deviceUrl, 'rtsp');
    if (!uri) throw new OnvifError('bad-answer', 'GetStreamUri gave no RTSP URI');
    const status = await rtspOptions(uri, timeoutMs);
    metrics.rtspStatus = status;
    if (status !== 200) return finish(2, new OnvifError('bad-answer', `RTSP OPTIONS answered ${status}`), 'rtsp-status');
  } catch (err) {
    return finish(2, err);
  }
  metrics.streamUp = true;

  // rung 4: the encoder runs as configured
  try {
    const encoders = await client.getVideoEncoderConfigurations();
    const enc = encoders.find((e) => e.token === encoderToken) ?? encoders[0];
    if (!enc || enc.width === undefined || enc.height === undefined || enc.fps === undefined) throw new OnvifError('bad-answer', 'encoder configuration without resolution or frame rate');
    metrics.resolutionWidth = enc.width;
    metrics.resolutionHeight = enc.height;
    metrics.fps = enc.fps;
    if (enc.bitrate !== undefined) metrics.bitrate = enc.bitrate;
    const x = target.expected;
    if (x && (enc.width !== x.width || enc.height !== x.height || enc.fps < x.fps)) {
      return finish(3, new OnvifError('bad-answer', `encoder runs at ${enc.width}x${enc.height}@${enc.fps}, configured ${x.width}x${x.height}@${x.fps}`), 'degraded');
    }
    if (enc.fps <= 0) return finish(3, new OnvifError('bad-answer', 'encoder frame rate 0'), 'degraded');
  } catch (err) {
    return finish(3, err);
  }
  metrics.encoderOk = true;
  return finish(4);
}
