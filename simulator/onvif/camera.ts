/**
 * A simulated ONVIF Profile S camera: SOAP device and media services (ver10) with WS-UsernameToken
 * (PasswordDigest) auth, a WS-Discovery responder, and a tiny RTSP endpoint answering OPTIONS.
 * Faults on purpose: `wrong-password` (the camera's password was changed on site: the configured
 * one is refused), `stream-down` (GetStreamUri answers, its RTSP port refuses connections),
 * `degraded` (the encoder runs below the configured resolution and frame rate), `garbage-xml`
 * (every SOAP answer is broken XML; WS-Discovery still answers, as a half-crashed camera does).
 * With `httpAuth` the camera's web server demands HTTP Digest (or Basic) on every SOAP request,
 * GetSystemDateAndTime included, instead of WS-UsernameToken, or as well (`wsSecurity: true`).
 *
 * Network safety: binds only the address it is given; multicast only inside a network namespace
 * other than the host's (checked), never on loopback.
 */
import { randomUUID, createHash } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import {
  WSD_PORT,
  closedPort,
  escapeXml,
  field,
  hostForUrl,
  probeMatchXml,
  readBody,
  readSoapRequest,
  send,
  soapEnvelope,
  soapFaultXml,
  startDiscoveryResponder,
  startRtspStub,
  tokenValid,
} from './soap-server.ts';
import { HttpAuthGuard, type HttpAuthDemand, type HttpAuthEvent } from './http-auth.ts';

export type CameraFault = 'off' | 'wrong-password' | 'stream-down' | 'degraded' | 'garbage-xml';

export interface SimulatedCameraOptions {
  /** '127.0.0.1' (any 127/8 address, or ::1) or an address inside a network namespace the test made */
  host: string;
  /** HTTP port of the SOAP services; 0 (default) = kernel-chosen */
  port?: number;
  manufacturer: 'HIKVISION' | 'Dahua' | 'Uniview' | string;
  model: string;
  firmware: string;
  serial: string;
  username: string;
  password: string;
  resolution: { width: number; height: number };
  fps: number;
  /** kbit/s, default 4096 */
  bitrate?: number;
  fault?: CameraFault;
  /** WS-Discovery UDP port; default 3702, 0 = kernel-chosen (several cameras on one loopback address) */
  discoveryPort?: number;
  /** answer multicast probes: join 239.255.255.250 on `host`'s interface (namespace only) */
  multicast?: boolean;
  /** answer IPv6 multicast probes (ff02::c) on this interface name (namespace only) */
  multicastV6Interface?: string;
  /** IPv4/IPv6 addresses reported by GetNetworkInterfaces (default: host, plus a link-local v6 derived from the serial) */
  ipv4?: string[];
  ipv6?: string[];
  location?: string;
  /** demand HTTP Digest/Basic (http-auth.ts); without it: WS-UsernameToken only */
  httpAuth?: HttpAuthDemand;
}

export interface SimulatedCamera {
  /** device service URL, as a ProbeMatch carries it */
  xaddr: string;
  port: number;
  discoveryPort: number;
  /** RTSP URI GetStreamUri returns for the main profile */
  streamUri: string;
  /** WS-Discovery endpoint reference (urn:uuid:…) */
  endpoint: string;
  /** with `httpAuth`: every SOAP request's HTTP authentication outcome, in order */
  readonly httpAuthLog: readonly HttpAuthEvent[];
  /** with `httpAuth` Digest: declare every nonce issued so far stale (as a camera does after a while) */
  expireHttpNonces(): void;
  stop(): Promise<void>;
}

function streamPath(manufacturer: string, sub: boolean): string {
  const m = manufacturer.toLowerCase();
  if (m.includes('hik')) return sub ? '/Streaming/Channels/102' : '/Streaming/Channels/101';
  if (m.includes('dahua')) return `/cam/realmonitor?channel=1&subtype=${sub ? 1 : 0}`;
  if (m.includes('uniview') || m.includes('unv')) return sub ? '/media/video2' : '/media/video1';
  return sub ? '/stream2' : '/stream1';
}

function linkLocalFromSerial(serial: string): string {
  const h = createHash('sha1').update(serial).digest('hex');
  return `fe80::${h.slice(0, 4)}:${h.slice(4, 8)}:${h.slice(8, 12)}:${h.slice(12, 16)}`;
}

export async function startSimulatedCamera(opts: SimulatedCameraOptions): Promise<SimulatedCamera> {
  const host = opts.host;
  if (!net.isIP(host)) throw new Error(`simulated camera host must be an IP address, got "${host}"`);
  const fault: CameraFault = opts.fault ?? 'off';
  const h = hostForUrl(host);
  const endpoint = `urn:uuid:${randomUUID()}`;
  const bitrate = opts.bitrate ?? 4096;

  const rtsp = fault === 'stream-down' ? undefined : await startRtspStub(host);
  const rtspPort = rtsp?.port ?? (await closedPort(host));

  // encoder as it runs: lower than configured when degraded
  const running =
    fault === 'degraded'
      ? { width: Math.max(1, Math.floor(opts.resolution.width / 2)), height: Math.max(1, Math.floor(opts.resolution.height / 2)), fps: Math.max(1, Math.floor(opts.fps / 2)) }
      : { ...opts.resolution, fps: opts.fps };
  const sub = { width: 640, height: 360, fps: Math.min(15, opts.fps) };

  const ipv4 = opts.ipv4 ?? (net.isIPv4(host) ? [host] : []);
  const ipv6 = opts.ipv6 ?? [...(net.isIPv6(host) ? [host] : []), linkLocalFromSerial(opts.serial)];
  const scopes = [
    'onvif://www.onvif.org/Profile/Streaming',
    'onvif://www.onvif.org/type/video_encoder',
    `onvif://www.onvif.org/hardware/${encodeURIComponent(opts.model)}`,
    `onvif://www.onvif.org/name/${encodeURIComponent(opts.manufacturer)}`,
    `onvif://www.onvif.org/location/${encodeURIComponent(opts.location ?? 'school')}`,
  ];

  let httpPort = 0;
  const base = (): string => `http://${h}:${httpPort}`;
  const streamUri = (which: 'main' | 'sub'): string => `rtsp://${h}:${rtspPort}${streamPath(opts.manufacturer, which === 'sub')}`;

  const encoderXml = (token: string, name: string, e: { width: number; height: number; fps: number }, kbps: number, tag: 'tt:VideoEncoderConfiguration' | 'trt:Configurations'): string =>
    `<${tag} token="${token}"><tt:Name>${name}</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding>` +
    `<tt:Resolution><tt:Width>${e.width}</tt:Width><tt:Height>${e.height}</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality>` +
    `<tt:RateControl><tt:FrameRateLimit>${e.fps}</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval><tt:BitrateLimit>${kbps}</tt:BitrateLimit></tt:RateControl>` +
    `<tt:H264><tt:GovLength>${e.fps * 2}</tt:GovLength><tt:H264Profile>Main</tt:H264Profile></tt:H264><tt:SessionTimeout>PT60S</tt:SessionTimeout></${tag}>`;

  const profileXml = (token: string, name: string, enc: string): string =>
    `<trt:Profiles token="${token}" fixed="true"><tt:Name>${name}</tt:Name>` +
    `<tt:VideoSourceConfiguration token="VideoSourceConfig_1"><tt:Name>VideoSourceConfig_1</tt:Name><tt:UseCount>2</tt:UseCount><tt:SourceToken>VideoSource_1</tt:SourceToken>` +
    `<tt:Bounds x="0" y="0" width="${opts.resolution.width}" height="${opts.resolution.height}"/></tt:VideoSourceConfiguration>${enc}</trt:Profiles>`;

  const answers: Record<string, (req: ReturnType<typeof readSoapRequest>) => string> = {
    GetSystemDateAndTime: () => {
      const d = new Date();
      return (
        `<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings>` +
        `<tt:TimeZone><tt:TZ>CST-8:00:00</tt:TZ></tt:TimeZone><tt:UTCDateTime><tt:Time><tt:Hour>${d.getUTCHours()}</tt:Hour><tt:Minute>${d.getUTCMinutes()}</tt:Minute>` +
        `<tt:Second>${d.getUTCSeconds()}</tt:Second></tt:Time><tt:Date><tt:Year>${d.getUTCFullYear()}</tt:Year><tt:Month>${d.getUTCMonth() + 1}</tt:Month>` +
        `<tt:Day>${d.getUTCDate()}</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>`
      );
    },
    GetDeviceInformation: () =>
      `<tds:GetDeviceInformationResponse><tds:Manufacturer>${escapeXml(opts.manufacturer)}</tds:Manufacturer><tds:Model>${escapeXml(opts.model)}</tds:Model>` +
      `<tds:FirmwareVersion>${escapeXml(opts.firmware)}</tds:FirmwareVersion><tds:SerialNumber>${escapeXml(opts.serial)}</tds:SerialNumber>` +
      `<tds:HardwareId>${escapeXml(opts.model)}</tds:HardwareId></tds:GetDeviceInformationResponse>`,
    GetCapabilities: () =>
      `<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Device><tt:XAddr>${base()}/onvif/device_service</tt:XAddr></tt:Device>` +
      `<tt:Media><tt:XAddr>${base()}/onvif/media_service</tt:XAddr><tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast>` +
      `<tt:RTP_TCP>true</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>`,
    GetServices: () =>
      `<tds:GetServicesResponse>` +
      `<tds:Service><tds:Namespace>http://www.onvif.org/ver10/device/wsdl</tds:Namespace><tds:XAddr>${base()}/onvif/device_service</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>` +
      `<tds:Service><tds:Namespace>http://www.onvif.org/ver10/media/wsdl</tds:Namespace><tds:XAddr>${base()}/onvif/media_service</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>` +
      `</tds:GetServicesResponse>`,
    GetNetworkInterfaces: () =>
      `<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0"><tt:Enabled>true</tt:Enabled><tt:Info><tt:Name>eth0</tt:Name>` +
      `<tt:HwAddress>${createHash('md5').update(opts.serial).digest('hex').slice(0, 12).replace(/(..)(?!$)/g, '$1:')}</tt:HwAddress><tt:MTU>1500</tt:MTU></tt:Info>` +
      `<tt:IPv4><tt:Enabled>${ipv4.length > 0}</tt:Enabled><tt:Config>${ipv4.map((a) => `<tt:Manual><tt:Address>${a}</tt:Address><tt:PrefixLength>24</tt:PrefixLength></tt:Manual>`).join('')}<tt:DHCP>false</tt:DHCP></tt:Config></tt:IPv4>` +
      `<tt:IPv6><tt:Enabled>${ipv6.length > 0}</tt:Enabled><tt:Config><tt:AcceptRouterAdvert>false</tt:AcceptRouterAdvert><tt:DHCP>Off</tt:DHCP>` +
      ipv6
        .map((a) =>
          a.toLowerCase().startsWith('fe80')
            ? `<tt:LinkLocal><tt:Address>${a}</tt:Address><tt:PrefixLength>64</tt:PrefixLength></tt:LinkLocal>`
            : `<tt:Manual><tt:Address>${a}</tt:Address><tt:PrefixLength>64</tt:PrefixLength></tt:Manual>`,
        )
        .join('') +
      `</tt:Config></tt:IPv6></tds:NetworkInterfaces></tds:GetNetworkInterfacesResponse>`,
    GetScopes: () =>
      `<tds:GetScopesResponse>${scopes.map((s, i) => `<tds:Scopes><tt:ScopeDef>${i < 3 ? 'Fixed' : 'Configurable'}</tt:ScopeDef><tt:ScopeItem>${escapeXml(s)}</tt:ScopeItem></tds:Scopes>`).join('')}</tds:GetScopesResponse>`,
    GetProfiles: () =>
      `<trt:GetProfilesResponse>` +
      profileXml('Profile_1', 'mainStream', encoderXml('VideoEncoder_1', 'VideoEncoder_1', running, bitrate, 'tt:VideoEncoderConfiguration')) +
      profileXml('Profile_2', 'subStream', encoderXml('VideoEncoder_2', 'VideoEncoder_2', sub, 512, 'tt:VideoEncoderConfiguration')) +
      `</trt:GetProfilesResponse>`,
    GetVideoSources: () =>
      `<trt:GetVideoSourcesResponse><trt:VideoSources token="VideoSource_1"><tt:Framerate>${opts.fps}</tt:Framerate>` +
      `<tt:Resolution><tt:Width>${opts.resolution.width}</tt:Width><tt:Height>${opts.resolution.height}</tt:Height></tt:Resolution></trt:VideoSources></trt:GetVideoSourcesResponse>`,
    GetVideoEncoderConfigurations: () =>
      `<trt:GetVideoEncoderConfigurationsResponse>` +
      encoderXml('VideoEncoder_1', 'VideoEncoder_1', running, bitrate, 'trt:Configurations') +
      encoderXml('VideoEncoder_2', 'VideoEncoder_2', sub, 512, 'trt:Configurations') +
      `</trt:GetVideoEncoderConfigurationsResponse>`,
    GetStreamUri: (req) => {
      const token = req ? field(req.body, 'ProfileToken') : undefined;
      if (token !== 'Profile_1' && token !== 'Profile_2') throw new NoProfile();
      return (
        `<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>${escapeXml(streamUri(token === 'Profile_1' ? 'main' : 'sub'))}</tt:Uri>` +
        `<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT60S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>`
      );
    },
    GetSnapshotUri: () =>
      `<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>${base()}/onvif/snapshot.jpg</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>` +
      `<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT60S</tt:Timeout></trt:MediaUri></trt:GetSnapshotUriResponse>`,
  };

  // on site someone changed the password: the one in the gateway's store is now refused
  const effectivePassword = fault === 'wrong-password' ? `${opts.password}-changed-${randomUUID()}` : opts.password;
  const guard = opts.httpAuth ? new HttpAuthGuard(opts.httpAuth) : undefined;
  const wsSecurity = !opts.httpAuth || opts.httpAuth.wsSecurity === true;

  const server = http.createServer((req, res) => {
    void (async () => {
      if (req.method !== 'POST') return send(res, 405, soapFaultXml('Sender', 'ter:InvalidArgVal', 'POST only'));
      const body = await readBody(req, res);
      if (body === undefined) return;
      if (fault === 'garbage-xml') {
        // a half-crashed web server: 200 with a truncated document
        res.writeHead(200, { 'content-type': 'application/soap+xml' });
        return res.end(`<?xml version="1.0"?><SOAP-ENV:Envelope><SOAP-ENV:Body><tds:Get\u0000DeviceInfo<<${'\u00ff'.repeat(8)}`);
      }
      let parsed: ReturnType<typeof readSoapRequest>;
      try {
        parsed = readSoapRequest(body);
      } catch {
        parsed = undefined;
      }
      // the web server in front checks HTTP auth before the SOAP layer sees anything
      if (guard) {
        const outcome = guard.check(req, opts.username, effectivePassword).outcome;
        if (outcome !== 'ok') {
          const xml = soapFaultXml('Sender', 'ter:NotAuthorized', 'Sender not authorized');
          res.setHeader('www-authenticate', guard.challenge(outcome === 'stale'));
          return send(res, 401, xml);
        }
      }
      if (!parsed) return send(res, 400, soapFaultXml('Sender', 'ter:WellFormed', 'not a SOAP envelope'));
      const answer = answers[parsed.operation];
      if (!answer) return send(res, 400, soapFaultXml('Receiver', 'ter:ActionNotSupported', `${parsed.operation} is not supported`));
      if (wsSecurity && parsed.operation !== 'GetSystemDateAndTime' && !tokenValid(parsed, opts.username, effectivePassword)) {
        return send(res, 401, soapFaultXml('Sender', 'ter:NotAuthorized', 'Sender not authorized'));
      }
      try {
        send(res, 200, soapEnvelope(answer(parsed)));
      } catch (err) {
        if (err instanceof NoProfile) send(res, 400, soapFaultXml('Sender', 'ter:NoProfile', 'no such profile'));
        else send(res, 500, soapFaultXml('Receiver', 'ter:Action', 'internal error'));
      }
    })();
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  server.on('error', () => {});
  httpPort = (server.address() as net.AddressInfo).port;
  const xaddr = `${base()}/onvif/device_service`;

  let responder: { port: number; stop: () => Promise<void> };
  try {
    responder = await startDiscoveryResponder({
      host,
      port: opts.discoveryPort ?? WSD_PORT,
      multicastV4: opts.multicast,
      multicastV6Interface: opts.multicastV6Interface,
      answer: (probe) => probeMatchXml({ relatesTo: probe.messageId, endpoint, xaddrs: [xaddr], scopes }),
    });
  } catch (err) {
    server.closeAllConnections();
    server.close();
    await rtsp?.stop();
    throw err;
  }

  let stopped = false;
  return {
    xaddr,
    port: httpPort,
    discoveryPort: responder.port,
    streamUri: streamUri('main'),
    endpoint,
    httpAuthLog: guard?.log ?? [],
    expireHttpNonces: () => guard?.expireNonces(),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      server.closeAllConnections();
      await Promise.all([new Promise<void>((r) => server.close(() => r())), responder.stop(), rtsp?.stop()]);
    },
  };
}

class NoProfile extends Error {}
