/**
 * Replays a real camera's recorded SOAP answers (tests/fixtures/onvif/<vendor-model>/<Operation>.xml)
 * by operation name, plus its recorded WS-Discovery ProbeMatch, so discovery and the health ladder
 * can be tested against answers nobody here wrote.
 *
 * The recordings name the camera's own address (e.g. http://192.168.68.111/onvif/services,
 * rtsp://192.168.68.111/h264main). With `rewrite` (default on) the replay replaces `http://<recorded>/`
 * and `rtsp://<recorded>/` by its own loopback HTTP and RTSP endpoints, as the camera would have
 * answered at our address; other occurrences (interface addresses) stay as recorded data.
 * Placeholders in ProbeMatches.xml: SERVICE_URI (our XAddr) and RELATES_TO (the probe's MessageID).
 * Authentication is not checked: a recording cannot verify a token.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type * as net from 'node:net';
import * as path from 'node:path';
import { WSD_PORT, escapeXml, hostForUrl, readBody, readSoapRequest, send, soapFaultXml, startDiscoveryResponder, startRtspStub } from './soap-server.ts';

export interface ReplayOptions {
  /** fixture folder holding <Operation>.xml, ProbeMatches.xml and replay.json */
  dir: string;
  host: string;
  port?: number;
  /** default 3702; 0 = kernel-chosen */
  discoveryPort?: number;
  /** replace the recorded camera address in service and stream URLs by ours (default true) */
  rewrite?: boolean;
}

export interface ReplayCamera {
  xaddr: string;
  port: number;
  discoveryPort: number;
  /** operations asked for, in order (for tests) */
  served: string[];
  stop(): Promise<void>;
}

interface ReplayMeta {
  /** the camera's address in the recordings */
  recordedHost: string;
}

export async function startReplayCamera(opts: ReplayOptions): Promise<ReplayCamera> {
  const meta = JSON.parse(fs.readFileSync(path.join(opts.dir, 'replay.json'), 'utf8')) as ReplayMeta;
  const files = new Map<string, string>();
  for (const f of fs.readdirSync(opts.dir)) {
    if (f.endsWith('.xml')) files.set(f.slice(0, -4), fs.readFileSync(path.join(opts.dir, f), 'utf8'));
  }
  const rewrite = opts.rewrite ?? true;
  const h = hostForUrl(opts.host);
  const rtsp = await startRtspStub(opts.host);
  const served: string[] = [];
  let port = 0;
  const rec = meta.recordedHost.replace(/\./g, '\\.');
  const fix = (xml: string): string =>
    rewrite
      ? xml
          .replace(new RegExp(`http://${rec}(:80)?/`, 'g'), `http://${h}:${port}/`)
          .replace(new RegExp(`rtsp://${rec}(:554)?/`, 'g'), `rtsp://${h}:${rtsp.port}/`)
      : xml;

  const server = http.createServer((req, res) => {
    void (async () => {
      const body = await readBody(req, res);
      if (body === undefined) return;
      let op: string | undefined;
      try {
        op = readSoapRequest(body)?.operation;
      } catch {
        op = undefined;
      }
      if (!op) return send(res, 400, soapFaultXml('Sender', 'ter:WellFormed', 'not a SOAP envelope'));
      served.push(op);
      const recorded = files.get(op);
      if (op === 'ProbeMatches' || recorded === undefined) return send(res, 400, soapFaultXml('Receiver', 'ter:ActionNotSupported', `${op} was not recorded`));
      send(res, 200, fix(recorded));
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host, () => resolve());
  });
  server.on('error', () => {});
  port = (server.address() as net.AddressInfo).port;
  const xaddr = `http://${h}:${port}/onvif/services`;
  const probeMatch = files.get('ProbeMatches');
  const responder = await startDiscoveryResponder({
    host: opts.host,
    port: opts.discoveryPort ?? WSD_PORT,
    answer: (probe) => probeMatch?.replace('SERVICE_URI', escapeXml(xaddr)).replace('RELATES_TO', escapeXml(probe.messageId ?? '')),
  });
  return {
    xaddr,
    port,
    discoveryPort: responder.port,
    served,
    stop: async () => {
      server.closeAllConnections();
      await Promise.all([new Promise<void>((r) => server.close(() => r())), responder.stop(), rtsp.stop()]);
    },
  };
}
