/**
 * The camera health ladder against simulated cameras on loopback (powered off, wrong password,
 * stream down, degraded, healthy) and against the replayed real camera.
 */
import * as path from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Reading } from '../../protocol/index.ts';
import { startSimulatedCamera, type CameraFault, type SimulatedCamera } from '../../simulator/onvif/camera.ts';
import { startReplayCamera, type ReplayCamera } from '../../simulator/onvif/replay.ts';
import { Credentials } from '../credentials.ts';
import { checkCameraHealth, type CameraHealth } from './health.ts';

const FIXTURE = path.resolve(import.meta.dirname, '../../tests/fixtures/onvif/ipnc-rdk-hd-predator');
const PASSWORD = 'Ladder#2024';
const creds = new Credentials('admin', PASSWORD);
const expected = { width: 1920, height: 1080, fps: 25 };

function camera(fault: CameraFault): Promise<SimulatedCamera> {
  return startSimulatedCamera({
    host: '127.0.0.1',
    discoveryPort: 0,
    manufacturer: 'HIKVISION',
    model: 'DS-2CD2143G2-I',
    firmware: 'V5.7.11',
    serial: `LADDER-${fault}`,
    username: 'admin',
    password: PASSWORD,
    resolution: { width: 1920, height: 1080 },
    fps: 25,
    fault,
  });
}

describe('camera health ladder', () => {
  const results = new Map<string, CameraHealth>();
  const cams: SimulatedCamera[] = [];
  let replay: ReplayCamera;

  beforeAll(async () => {
    // powered off: a camera that was there and is now stopped (its port refuses)
    const off = await camera('off');
    const offXaddr = off.xaddr;
    await off.stop();
    results.set('powered-off', await checkCameraHealth({ device: 'cam-off', xaddr: offXaddr, credentials: creds, expected }));

    for (const fault of ['off', 'wrong-password', 'stream-down', 'degraded', 'garbage-xml'] as const) {
      const cam = await camera(fault);
      cams.push(cam);
      results.set(fault, await checkCameraHealth({ device: `cam-${fault}`, xaddr: cam.xaddr, credentials: creds, expected }));
    }
    results.set('no-credentials', await checkCameraHealth({ device: 'cam-nocreds', xaddr: cams[0]!.xaddr, expected }));

    replay = await startReplayCamera({ dir: FIXTURE, host: '127.0.0.1', discoveryPort: 0 });
    results.set('replay', await checkCameraHealth({ device: 'cam-replay', xaddr: replay.xaddr, credentials: creds, expected: { width: 1920, height: 1080, fps: 5 } }));
  });

  afterAll(async () => {
    await Promise.all(cams.map((c) => c.stop()));
    await replay?.stop();
  });

  const metrics = (k: string): Record<string, unknown> => results.get(k)!.reading.metrics;

  it('powered off → step 0, unreachable', () => {
    expect(results.get('powered-off')).toMatchObject({ step: 0, failure: 'refused' });
    expect(metrics('powered-off')).toEqual({ reachable: false, onvifAuth: false, streamUp: false, encoderOk: false, step: 0, failure: 'refused' });
  });

  it('wrong password → step 1, reachable but not authorized', () => {
    expect(results.get('wrong-password')).toMatchObject({ step: 1, failure: 'not-authorized' });
    expect(metrics('wrong-password')).toMatchObject({ reachable: true, onvifAuth: false, streamUp: false, encoderOk: false, step: 1 });
  });

  it('no credentials in the store → step 1 as well', () => {
    expect(results.get('no-credentials')).toMatchObject({ step: 1, failure: 'not-authorized' });
  });

  it('stream down → step 2: ONVIF works, RTSP refuses', () => {
    expect(results.get('stream-down')).toMatchObject({ step: 2, failure: 'refused' });
    expect(metrics('stream-down')).toMatchObject({ reachable: true, onvifAuth: true, streamUp: false, encoderOk: false, step: 2 });
  });

  it('degraded → step 3 with the resolution and frame rate it actually runs at', () => {
    expect(results.get('degraded')).toMatchObject({ step: 3, failure: 'degraded' });
    expect(metrics('degraded')).toMatchObject({ reachable: true, onvifAuth: true, streamUp: true, encoderOk: false, step: 3, resolutionWidth: 960, resolutionHeight: 540, fps: 12, rtspStatus: 200 });
  });

  it('healthy → step 4', () => {
    expect(results.get('off')).toMatchObject({ step: 4, failure: undefined });
    expect(metrics('off')).toEqual({ reachable: true, onvifAuth: true, streamUp: true, encoderOk: true, step: 4, resolutionWidth: 1920, resolutionHeight: 1080, fps: 25, bitrate: 4096, rtspStatus: 200 });
  });

  it('garbage XML → step 0 with bad-xml (answers, but nothing usable)', () => {
    expect(results.get('garbage-xml')).toMatchObject({ step: 0, failure: 'bad-xml' });
  });

  it('replayed real camera → step 4 at its recorded 1920x1080@5', () => {
    expect(results.get('replay')).toMatchObject({ step: 4 });
    expect(metrics('replay')).toMatchObject({ resolutionWidth: 1920, resolutionHeight: 1080, fps: 5, bitrate: 512 });
  });

  it('every reading is a valid protocol Reading without secrets', () => {
    for (const [k, r] of results) {
      expect(Value.Check(Reading, r.reading), k).toBe(true);
      expect(r.reading.measurement).toBe('camera_health');
      expect(JSON.stringify(r)).not.toContain(PASSWORD);
    }
  });
});
