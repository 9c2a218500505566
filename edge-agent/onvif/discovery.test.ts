/**
 * Unicast ONVIF discovery on loopback only: several simulated cameras (Hikvision, Dahua, Uniview)
 * on their own 127.x addresses, a camera on ::1, a camera answering garbage XML, a UDP responder
 * answering garbage, and a real camera's recorded answers replayed. Every probe is guarded: the
 * test's `allow` refuses anything that is not loopback.
 */
import * as dgram from 'node:dgram';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { Value } from '@sinclair/typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscoveredDevice } from '../../protocol/index.ts';
import { startSimulatedCamera, type SimulatedCamera, type SimulatedCameraOptions } from '../../simulator/onvif/camera.ts';
import { startReplayCamera, type ReplayCamera } from '../../simulator/onvif/replay.ts';
import { CredentialStore, Credentials } from '../credentials.ts';
import { pinToReachedHost } from './client.ts';
import { discoverOnvif, expandTargets, parseProbeMatches, type OnvifDiscoveryResult } from './discovery.ts';
import { OnvifError } from './xml.ts';

const FIXTURE = path.resolve(import.meta.dirname, '../../tests/fixtures/onvif/ipnc-rdk-hd-predator');
const loopbackOnly = (a: string): boolean => /^127\./.test(a) || a === '::1';
const PASSWORD = 'Xq7!school-cam';

const base = { username: 'admin', password: PASSWORD, discoveryPort: 3702 } as const;
const CAMERAS: Array<SimulatedCameraOptions & { key: string }> = [
  { key: 'hik', host: '127.77.0.11', manufacturer: 'HIKVISION', model: 'DS-2CD2T47G2-L', firmware: 'V5.7.3 build 220112', serial: 'DS-2CD2T47G2-L20220301AACHJ1234', resolution: { width: 2688, height: 1520 }, fps: 25, bitrate: 6144, ...base },
  { key: 'dahua', host: '127.77.0.12', manufacturer: 'Dahua', model: 'DH-IPC-HFW2431S-S-S2', firmware: '2.800.0000000.24.R', serial: '7J0C8A1PAZ12345', resolution: { width: 2560, height: 1440 }, fps: 20, ...base },
  { key: 'unv', host: '127.77.0.13', manufacturer: 'Uniview', model: 'IPC2124LR3-PF40M-D', firmware: 'IPC_G6103-B0006P62D1907', serial: '210235C3EN3191000123', resolution: { width: 2688, height: 1520 }, fps: 25, ...base },
  { key: 'broken', host: '127.77.0.14', manufacturer: 'HIKVISION', model: 'DS-2CD1023G0-I', firmware: 'V5.5.0', serial: 'BROKEN1', resolution: { width: 1920, height: 1080 }, fps: 25, fault: 'garbage-xml', ...base },
];

describe('ONVIF unicast discovery on loopback', () => {
  const cams = new Map<string, SimulatedCamera>();
  let v6: SimulatedCamera;
  let replay: ReplayCamera;
  let garbageUdp: dgram.Socket;
  let garbagePort: number;
  let result: OnvifDiscoveryResult;
  const store = CredentialStore.fromObject({
    credentials: [
      { match: '127.77.0.0/24', protocol: 'onvif', username: 'admin', password: PASSWORD },
      { match: '::1', username: 'admin', password: PASSWORD },
      { match: '127.78.0.*', username: 'operator', password: 'replay-does-not-check' },
    ],
  });

  beforeAll(async () => {
    for (const c of CAMERAS) cams.set(c.key, await startSimulatedCamera(c));
    v6 = await startSimulatedCamera({ ...CAMERAS[0]!, host: '::1', discoveryPort: 0, serial: 'V6CAM0001', ipv6: ['::1', '2001:db8:77::15'] });
    replay = await startReplayCamera({ dir: FIXTURE, host: '127.78.0.20', discoveryPort: 3702 });
    // a "camera" whose WS-Discovery answer is garbage
    garbageUdp = dgram.createSocket('udp4');
    garbageUdp.on('message', (_m, rinfo) => garbageUdp.send('<ProbeMatches><oops', rinfo.port, rinfo.address));
    await new Promise<void>((r) => garbageUdp.bind(0, '127.77.0.30', () => r()));
    garbagePort = garbageUdp.address().port;

    result = await discoverOnvif({
      // a range over the simulated cameras (and silent addresses), plus single targets with ports
      unicast: ['127.77.0.10-127.77.0.15', '127.78.0.20', `[::1]:${v6.discoveryPort}`, `127.77.0.30:${garbagePort}`],
      listenMs: 1500,
      credentials: store,
      allow: loopbackOnly,
    });
  });

  afterAll(async () => {
    await Promise.all([...cams.values()].map((c) => c.stop()));
    await v6?.stop();
    await replay?.stop();
    garbageUdp?.close();
  });

  const byModel = (model: string): DiscoveredDevice | undefined => result.devices.find((d) => d.attributes.model === model);

  it('finds the Hikvision, Dahua and Uniview cameras with their attributes', () => {
    for (const c of CAMERAS.filter((x) => !x.fault)) {
      const d = byModel(c.model);
      expect(d, c.model).toBeDefined();
      expect(d!.kind).toBe('camera');
      expect(d!.protocol).toBe('onvif');
      expect(d!.address).toBe(`${c.host}:${cams.get(c.key)!.port}`);
      expect(d!.attributes).toMatchObject({
        manufacturer: c.manufacturer,
        model: c.model,
        firmware: c.firmware,
        serial: c.serial,
        ipv4: c.host,
        resolution: `${c.resolution.width}x${c.resolution.height}`,
        resolutionWidth: c.resolution.width,
        resolutionHeight: c.resolution.height,
        fps: c.fps,
        bitrate: c.bitrate ?? 4096,
        profileToken: 'Profile_1',
        streamUri: cams.get(c.key)!.streamUri,
        endpoint: cams.get(c.key)!.endpoint,
      });
      expect(String(d!.attributes.ipv6)).toMatch(/^fe80::/);
      expect(d!.attributes.error).toBeUndefined();
      expect(Value.Check(DiscoveredDevice, d)).toBe(true);
    }
    expect(byModel('DH-IPC-HFW2431S-S-S2')!.attributes.streamUri).toContain('/cam/realmonitor?channel=1&subtype=0');
  });

  it('finds a camera over IPv6 (::1) with its IPv6 addresses', () => {
    const d = result.devices.find((x) => x.attributes.serial === 'V6CAM0001');
    expect(d).toBeDefined();
    expect(d!.address).toBe(`[::1]:${v6.port}`);
    expect(d!.attributes.ipv6).toBe('::1,2001:db8:77::15');
    expect(d!.attributes.ipv4).toBeUndefined();
  });

  it('discovers the replayed real camera (recorded answers of an IPNC-RDK based HD camera)', () => {
    const d = result.devices.find((x) => x.attributes.endpoint === 'uuid:c9790c3a-701b-464d-a189-0060351c8ada');
    expect(d).toBeDefined();
    expect(d!.address).toBe(`127.78.0.20:${replay.port}`);
    expect(d!.attributes).toMatchObject({
      manufacturer: 'Mockup Manufacturer',
      model: 'Mockup Model',
      firmware: 'Mockup_15_14_13',
      serial: '00000000',
      scopeHardware: 'HD_PREDATOR',
      scopeName: 'PREDATOR',
      // reported by the camera: data only, never contacted
      ipv4: '192.168.68.111',
      ipv6: 'fe80::2a57:beff:fe65:7dd5',
      mac: '28:57:be:65:7d:d5',
      resolution: '1920x1080',
      fps: 5,
      bitrate: 512,
      profileToken: 'main',
    });
    expect(String(d!.attributes.streamUri)).toMatch(/^rtsp:\/\/127\.78\.0\.20:\d+\/h264main$/);
    expect(Value.Check(DiscoveredDevice, d)).toBe(true);
    expect(replay.served).toEqual(expect.arrayContaining(['GetSystemDateAndTime', 'GetDeviceInformation', 'GetNetworkInterfaces', 'GetProfiles', 'GetVideoEncoderConfigurations', 'GetStreamUri']));
  });

  it('reports the garbage-XML camera as a per-device error, and the garbage WS-Discovery answer as a probe error', () => {
    const broken = result.devices.find((d) => d.attributes.endpoint === cams.get('broken')!.endpoint);
    expect(broken).toBeDefined();
    expect(String(broken!.attributes.error)).toMatch(/^bad-xml: /);
    const e = result.errors.find((x) => x.device === broken!.device);
    expect(e).toMatchObject({ stage: 'describe', kind: 'bad-xml', address: `127.77.0.14:${cams.get('broken')!.port}` });
    expect(result.errors.find((x) => x.address === `127.77.0.30:${garbagePort}`)).toMatchObject({ stage: 'probe', kind: 'bad-xml' });
    // and the others are all there: 3 good + broken + v6 + replay
    expect(result.devices).toHaveLength(6);
    expect(result.errors).toHaveLength(2);
  });

  it('never puts a password in the result', () => {
    const all = JSON.stringify(result) + inspect(result, { depth: 10 });
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain('replay-does-not-check');
  });

  it('refuses targets the guard does not allow and bad target specs, probing nothing', async () => {
    const r = await discoverOnvif({ unicast: ['192.0.2.10', 'camera.school.local', '10.0.0.0/8'], listenMs: 10, allow: loopbackOnly });
    expect(r.devices).toEqual([]);
    expect(r.errors.map((e) => e.stage)).toEqual(['config']);
    const r2 = await discoverOnvif({ unicast: ['192.0.2.10'], listenMs: 10, allow: loopbackOnly });
    expect(r2.errors).toEqual([expect.objectContaining({ stage: 'config', address: '192.0.2.10:3702', message: expect.stringContaining('not allowed') })]);
    const r3 = await discoverOnvif({ multicast: { ipv4Interface: '192.0.2.1' }, listenMs: 10, allow: loopbackOnly });
    expect(r3.errors).toEqual([expect.objectContaining({ stage: 'config' })]);
  });
});

describe('discovery pieces', () => {
  it('expands targets: single, port, ranges, subnets, IPv6', () => {
    expect(expandTargets(['127.0.0.1', '127.0.0.2:4000', '[::1]:3703', '::1'])).toEqual([
      { host: '127.0.0.1', port: 3702 },
      { host: '127.0.0.2', port: 4000 },
      { host: '::1', port: 3703 },
      { host: '::1', port: 3702 },
    ]);
    expect(expandTargets(['127.0.0.250-252']).map((t) => t.host)).toEqual(['127.0.0.250', '127.0.0.251', '127.0.0.252']);
    expect(expandTargets(['127.0.0.254-127.0.1.1']).map((t) => t.host)).toEqual(['127.0.0.254', '127.0.0.255', '127.0.1.0', '127.0.1.1']);
    expect(expandTargets(['127.9.9.0/30']).map((t) => t.host)).toEqual(['127.9.9.1', '127.9.9.2']);
    expect(expandTargets(['127.9.0.0/20'])).toHaveLength(4094);
    expect(() => expandTargets(['10.0.0.0/8'])).toThrow(/\/20/);
    expect(() => expandTargets(['cam.local'])).toThrow(/not an IP/);
    expect(() => expandTargets(['127.0.0.9-127.0.0.1'])).toThrow(/before start/);
    expect(() => expandTargets([])).not.toThrow();
  });

  it('parses ProbeMatches defensively', () => {
    const from = { host: '127.0.0.1', port: 3702 };
    for (const bad of ['', 'hello', '<a><b></a>', '<?xml version="1.0"?><Envelope><Body><Hello/></Body></Envelope>', '\u0000\u0001']) {
      expect(() => parseProbeMatches(bad, from)).toThrow(OnvifError);
    }
    const ok = parseProbeMatches(
      `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing"><e:Body><d:ProbeMatches>
        <d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:1</a:Address></a:EndpointReference><d:Scopes> onvif://www.onvif.org/name/A  onvif://www.onvif.org/hardware/B </d:Scopes>
        <d:XAddrs>http://127.0.0.1/onvif/device_service ftp://x http://[::1]/onvif/device_service</d:XAddrs></d:ProbeMatch></d:ProbeMatches></e:Body></e:Envelope>`,
      from,
    );
    expect(ok).toEqual([
      expect.objectContaining({ endpoint: 'urn:uuid:1', xaddrs: ['http://127.0.0.1/onvif/device_service', 'http://[::1]/onvif/device_service'], scopes: ['onvif://www.onvif.org/name/A', 'onvif://www.onvif.org/hardware/B'] }),
    ]);
  });

  it('pins self-reported URLs to the address the camera was reached at', () => {
    const reached = new URL('http://127.0.0.5:8080/onvif/device_service');
    expect(pinToReachedHost('http://192.168.68.111/onvif/services', reached, 'http')?.toString()).toBe('http://127.0.0.5:8080/onvif/services');
    expect(pinToReachedHost('rtsp://admin:pw@192.168.68.111/h264main', reached, 'rtsp')?.toString()).toBe('rtsp://127.0.0.5/h264main');
    expect(pinToReachedHost('rtsp://127.0.0.5:8554/a', reached, 'rtsp')?.toString()).toBe('rtsp://127.0.0.5:8554/a');
    expect(pinToReachedHost('file:///etc/passwd', reached, 'http')).toBeUndefined();
    expect(pinToReachedHost('not a url', reached, 'rtsp')).toBeUndefined();
  });
});

describe('credential store', () => {
  it('matches CIDR, wildcard, exact and IPv6 patterns in file order, per protocol', () => {
    const s = CredentialStore.fromObject({
      credentials: [
        { match: '10.1.2.3', username: 'exact', password: 'a' },
        { match: '10.1.*.*', protocol: 'snmp', username: 'snmp-only', password: 'b' },
        { match: '10.1.0.0/16', username: 'cidr', password: 'c' },
        { match: '2001:db8::/32', username: 'v6', password: 'd' },
        { match: '*', username: 'fallback', password: 'e' },
      ],
    });
    expect(s.lookup('10.1.2.3')?.username).toBe('exact');
    expect(s.lookup('10.1.9.9')?.username).toBe('cidr');
    expect(s.lookup('10.1.9.9', 'snmp')?.username).toBe('snmp-only');
    expect(s.lookup('[2001:db8::1]')?.username).toBe('v6');
    expect(s.lookup('192.0.2.1')?.username).toBe('fallback');
    expect(s.lookup('10.1.2.3')?.reveal()).toBe('a');
  });

  it('never prints a password', () => {
    const c = new Credentials('admin', 'S3cret!');
    expect(JSON.stringify({ c })).not.toContain('S3cret!');
    expect(inspect(c)).not.toContain('S3cret!');
    expect(`${c}`).not.toContain('S3cret!');
  });

  it('refuses a bad file with the entry, not the secret', () => {
    expect(() => CredentialStore.fromObject({ credentials: [{ match: '10.0.0.0/99', username: 'u', password: 'TopSecret' }] })).toThrow(/credentials\/0\/match/);
    expect(() => CredentialStore.fromObject({ credentials: [{ match: '10.0.0.1', username: 'u' }] })).toThrow(/password/);
    expect(() => CredentialStore.fromObject({ creds: [] })).toThrow(/credentials/);
    try {
      CredentialStore.fromObject({ credentials: [{ match: 'bad pattern!', username: 'u', password: 'TopSecret' }] });
    } catch (err) {
      expect((err as Error).message).not.toContain('TopSecret');
    }
  });
});
