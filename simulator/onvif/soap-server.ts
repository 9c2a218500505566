/**
 * Pieces shared by the simulated camera and the fixture replay server: reading SOAP requests,
 * checking a WS-UsernameToken, answering WS-Discovery probes, and a tiny RTSP endpoint.
 * The simulator is a separate part from the agent and does not import the agent's client code.
 */
import { createHash, randomUUID } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import type * as http from 'node:http';
import * as net from 'node:net';
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export const WSD_PORT = 3702;
export const WSD_GROUP_V4 = '239.255.255.250';
export const WSD_GROUP_V6 = 'ff02::c';

const parser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  processEntities: { enabled: true, maxEntityCount: 10, maxTotalExpansions: 100, maxExpandedLength: 10_000 },
  maxNestedTags: 64,
});

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);
function get(n: unknown, ...names: string[]): unknown {
  let cur = n;
  for (const name of names) {
    if (!isNode(cur)) return undefined;
    cur = cur[name];
    if (Array.isArray(cur)) cur = cur[0];
  }
  return cur;
}
function str(v: unknown): string | undefined {
  if (isNode(v)) v = v['#text'];
  return typeof v === 'string' ? v.trim() : undefined;
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);
}

export interface SoapRequest {
  /** local name of the Body's first element, e.g. GetDeviceInformation */
  operation: string;
  body: Node;
  token?: { username?: string; password?: string; passwordType?: string; nonce?: string; created?: string };
}

/** Parses a SOAP request; undefined when it is not a SOAP envelope. */
export function readSoapRequest(xml: string): SoapRequest | undefined {
  if (XMLValidator.validate(xml) !== true) return undefined;
  const doc = parser.parse(xml) as unknown;
  const body = get(doc, 'Envelope', 'Body');
  if (!isNode(body)) return undefined;
  const operation = Object.keys(body).find((k) => !k.startsWith('@_') && k !== '#text');
  if (!operation) return undefined;
  const ut = get(doc, 'Envelope', 'Header', 'Security', 'UsernameToken');
  const pw = get(ut, 'Password');
  return {
    operation,
    body: isNode(body[operation]) ? (body[operation] as Node) : {},
    token: isNode(ut)
      ? {
          username: str(get(ut, 'Username')),
          password: str(pw),
          passwordType: isNode(pw) ? str(pw['@_Type']) : undefined,
          nonce: str(get(ut, 'Nonce')),
          created: str(get(ut, 'Created')),
        }
      : undefined,
  };
}

export function field(n: unknown, ...names: string[]): string | undefined {
  return str(get(n, ...names));
}

/** True when the request's UsernameToken carries these credentials (PasswordDigest, or PasswordText). */
export function tokenValid(req: SoapRequest, username: string, password: string): boolean {
  const t = req.token;
  if (!t || t.username !== username || t.password === undefined) return false;
  if (t.passwordType?.endsWith('#PasswordText')) return t.password === password;
  if (t.nonce === undefined || t.created === undefined) return false;
  const expected = createHash('sha1')
    .update(Buffer.concat([Buffer.from(t.nonce, 'base64'), Buffer.from(t.created, 'utf8'), Buffer.from(password, 'utf8')]))
    .digest('base64');
  return expected === t.password;
}

const ENV_NS =
  'xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" ' +
  'xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:ter="http://www.onvif.org/ver10/error"';

export function soapEnvelope(body: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope ${ENV_NS}><SOAP-ENV:Body>${body}</SOAP-ENV:Body></SOAP-ENV:Envelope>`;
}

export function soapFaultXml(code: 'Sender' | 'Receiver', subcode: string, reason: string): string {
  return soapEnvelope(
    `<SOAP-ENV:Fault><SOAP-ENV:Code><SOAP-ENV:Value>SOAP-ENV:${code}</SOAP-ENV:Value><SOAP-ENV:Subcode><SOAP-ENV:Value>${subcode}</SOAP-ENV:Value></SOAP-ENV:Subcode></SOAP-ENV:Code>` +
      `<SOAP-ENV:Reason><SOAP-ENV:Text xml:lang="en">${escapeXml(reason)}</SOAP-ENV:Text></SOAP-ENV:Reason></SOAP-ENV:Fault>`,
  );
}

export function send(res: http.ServerResponse, status: number, xml: string): void {
  res.writeHead(status, { 'content-type': 'application/soap+xml; charset=utf-8', 'content-length': Buffer.byteLength(xml) });
  res.end(xml);
}

/** Reads a request body up to `max` bytes (then answers 413 and resolves undefined). */
export function readBody(req: http.IncomingMessage, res: http.ServerResponse, max = 256 * 1024): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        res.writeHead(413).end();
        req.destroy();
        resolve(undefined);
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(undefined));
  });
}

export function isLoopback(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1';
}

/**
 * The name of the `ip netns` namespace this process runs in, or undefined when it runs in an
 * unnamed one (the host's). Compares the inode of /proc/self/ns/net with /run/netns/* (the bind
 * mounts `ip netns add` makes), which needs no access to other processes' /proc entries.
 */
export function currentNetnsName(): string | undefined {
  let self: fs.Stats;
  try {
    self = fs.statSync('/proc/self/ns/net');
  } catch {
    return undefined;
  }
  let names: string[];
  try {
    names = fs.readdirSync('/run/netns');
  } catch {
    return undefined;
  }
  for (const n of names) {
    try {
      const st = fs.statSync(`/run/netns/${n}`);
      if (st.ino === self.ino && st.dev === self.dev) return n;
    } catch {
      // a stale entry
    }
  }
  return undefined;
}

/**
 * Throws unless this process runs inside a named network namespace (`ip netns add`), never the
 * host's: multicast is only joined from namespaces a test created (DESIGN.md, network safety).
 */
export function assertOwnNetworkNamespace(): string {
  const name = currentNetnsName();
  if (name === undefined) throw new Error('refusing multicast WS-Discovery outside an `ip netns` namespace (this looks like the host network namespace)');
  return name;
}

// ---- WS-Discovery ----

export interface ProbeInfo {
  messageId?: string;
  types?: string;
}

/** Parses a WS-Discovery Probe; undefined when the datagram is not one. */
export function readProbe(xml: string): ProbeInfo | undefined {
  if (xml.length > 64 * 1024 || XMLValidator.validate(xml) !== true) return undefined;
  const doc = parser.parse(xml) as unknown;
  const probe = get(doc, 'Envelope', 'Body', 'Probe');
  if (probe === undefined) return undefined;
  return { messageId: field(doc, 'Envelope', 'Header', 'MessageID'), types: field(probe, 'Types') };
}

export function probeMatchXml(o: { relatesTo?: string; endpoint: string; xaddrs: string[]; scopes: string[]; types?: string }): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" ` +
    `xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsdd="http://schemas.xmlsoap.org/ws/2005/04/discovery" ` +
    `xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="http://www.onvif.org/ver10/device/wsdl"><SOAP-ENV:Header>` +
    `<wsa:MessageID>urn:uuid:${randomUUID()}</wsa:MessageID>` +
    (o.relatesTo ? `<wsa:RelatesTo>${escapeXml(o.relatesTo)}</wsa:RelatesTo>` : '') +
    `<wsa:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To>` +
    `<wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action></SOAP-ENV:Header><SOAP-ENV:Body>` +
    `<wsdd:ProbeMatches><wsdd:ProbeMatch><wsa:EndpointReference><wsa:Address>${escapeXml(o.endpoint)}</wsa:Address></wsa:EndpointReference>` +
    `<wsdd:Types>${o.types ?? 'dn:NetworkVideoTransmitter tds:Device'}</wsdd:Types><wsdd:Scopes>${o.scopes.map(escapeXml).join(' ')}</wsdd:Scopes>` +
    `<wsdd:XAddrs>${o.xaddrs.map(escapeXml).join(' ')}</wsdd:XAddrs><wsdd:MetadataVersion>1</wsdd:MetadataVersion></wsdd:ProbeMatch></wsdd:ProbeMatches>` +
    `</SOAP-ENV:Body></SOAP-ENV:Envelope>`
  );
}

export interface ResponderOptions {
  /** address the unicast responder binds (the camera's own address) */
  host: string;
  port: number;
  /** answer to one probe; `undefined` = stay silent */
  answer: (probe: ProbeInfo) => string | undefined;
  /** join 239.255.255.250 on the interface holding `host` (only inside our own network namespace) */
  multicastV4?: boolean;
  /** join ff02::c on this interface name (only inside our own network namespace) */
  multicastV6Interface?: string;
}

/** Starts the WS-Discovery responder; resolves with the bound port and a stop function. */
export async function startDiscoveryResponder(o: ResponderOptions): Promise<{ port: number; stop: () => Promise<void> }> {
  const sockets: dgram.Socket[] = [];
  const onMessage = (sock: dgram.Socket) => (msg: Buffer, rinfo: dgram.RemoteInfo) => {
    let probe: ProbeInfo | undefined;
    try {
      probe = readProbe(msg.toString('utf8'));
    } catch {
      return;
    }
    if (!probe) return;
    if (probe.types && !/NetworkVideoTransmitter|Device\b/.test(probe.types)) return;
    const reply = o.answer(probe);
    if (reply === undefined) return;
    // the reply always goes back unicast to whoever asked
    sock.send(reply, rinfo.port, rinfo.address, () => {});
  };
  const bind = (sock: dgram.Socket, port: number, address: string): Promise<void> =>
    new Promise((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ port, address, exclusive: false }, () => {
        sock.off('error', reject);
        sock.on('error', () => {});
        resolve();
      });
    });

  const v6 = net.isIPv6(o.host);
  if ((o.multicastV4 || o.multicastV6Interface) && isLoopback(o.host)) throw new Error('multicast discovery needs a namespace address, not loopback');
  if (o.multicastV4 || o.multicastV6Interface) assertOwnNetworkNamespace();
  let port = o.port;
  if (o.multicastV4 && !v6) {
    // multicast datagrams carry the group as destination: the socket must be bound to the wildcard
    // address (inside our namespace, whose only interfaces are lo and our veth)
    const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    await bind(s, port, '0.0.0.0');
    s.addMembership(WSD_GROUP_V4, o.host);
    s.on('message', onMessage(s));
    sockets.push(s);
    port = s.address().port;
  } else {
    const s = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', reuseAddr: true });
    await bind(s, port, o.host);
    s.on('message', onMessage(s));
    sockets.push(s);
    port = s.address().port;
  }
  if (o.multicastV6Interface) {
    const s = dgram.createSocket({ type: 'udp6', reuseAddr: true });
    await bind(s, port, '::');
    s.addMembership(WSD_GROUP_V6, `::%${o.multicastV6Interface}`);
    s.on('message', onMessage(s));
    sockets.push(s);
  }
  return {
    port,
    stop: async () => {
      await Promise.all(sockets.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}

// ---- a tiny RTSP endpoint ----

/** Answers RTSP OPTIONS with 200 (other methods 405). Enough for a health check, not a stream. */
export async function startRtspStub(host: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.length > 16 * 1024) return sock.destroy();
      let end: number;
      while ((end = buf.indexOf('\r\n\r\n')) >= 0) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const method = head.split(' ', 1)[0];
        const cseq = /^CSeq:\s*(\d+)/im.exec(head)?.[1] ?? '0';
        if (method === 'OPTIONS') sock.write(`RTSP/1.0 200 OK\r\nCSeq: ${cseq}\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n`);
        else sock.write(`RTSP/1.0 405 Method Not Allowed\r\nCSeq: ${cseq}\r\nAllow: OPTIONS\r\n\r\n`);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    stop: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A port on `host` where nothing listens (bound, then released): connecting to it is refused. */
export async function closedPort(host: string): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

export function hostForUrl(host: string): string {
  return net.isIPv6(host) ? `[${host}]` : host;
}
