/**
 * Opening an SNMP session with whatever answered in discovery or the config names: a v1/v2c
 * community, or an SNMPv3 (USM) user from the gateway's credential store. Callers keep only the
 * user's *name*; its keys are revealed here, handed to net-snmp, and never logged or reported.
 * `snmpErrorText` turns net-snmp's USM report errors into a clear per-target sentence.
 */
import snmp, { type Session, type V3User } from 'net-snmp';
import type { SnmpV3User } from '../credentials.ts';

export type SnmpAuth = { version: '1' | '2c'; community: string } | { version: '3'; user: SnmpV3User };

export interface SnmpSessionOptions {
  timeoutMs: number;
  retries?: number;
}

/** net-snmp's user object: the only place the keys leave the SnmpV3User. */
function netSnmpUser(u: SnmpV3User): V3User {
  const keys = u.reveal();
  const level = snmp.SecurityLevel[u.level];
  const out: V3User = { name: u.name, level };
  if (u.level !== 'noAuthNoPriv') {
    out.authProtocol = snmp.AuthProtocols[u.authProtocol ?? 'sha'];
    out.authKey = keys.authKey;
  }
  if (u.level === 'authPriv') {
    out.privProtocol = snmp.PrivProtocols[u.privProtocol ?? 'aes'];
    out.privKey = keys.privKey;
  }
  return out;
}

/** A session to host:port (IPv6 without brackets); throws only on bad arguments. */
export function openSnmpSession(host: string, port: number, auth: SnmpAuth, opts: SnmpSessionOptions): Session {
  const common = { port, timeout: opts.timeoutMs, retries: opts.retries ?? 0, transport: host.includes(':') ? ('udp6' as const) : ('udp4' as const) };
  const session =
    auth.version === '3'
      ? snmp.createV3Session(host, netSnmpUser(auth.user), common)
      : snmp.createSession(host, auth.community, { ...common, version: auth.version === '2c' ? snmp.Version2c : snmp.Version1 });
  // socket errors are reported through the pending request's callback; keep them off the process
  session.on('error', () => {});
  return session;
}

/** Whether the agent behind a v3 session answered engine discovery (net-snmp keeps its engine ID). */
function engineDiscovered(session: Session | undefined): boolean {
  const p = (session as unknown as { msgSecurityParameters?: { msgAuthoritativeEngineID?: unknown } } | undefined)?.msgSecurityParameters;
  return p?.msgAuthoritativeEngineID !== undefined && p.msgAuthoritativeEngineID !== null;
}

/**
 * What went wrong, in words an administrator can act on; `undefined` when the device simply did
 * not answer (a silent address in a sweep is not an error). Never contains a key.
 */
export function snmpAuthError(err: Error, auth: SnmpAuth, session?: Session): string | undefined {
  if (auth.version !== '3') return undefined; // v1/v2c: a wrong community is silence, by design
  const who = `SNMPv3 user "${auth.user.name}"`;
  const m = err.message;
  if (/Unknown User Name/i.test(m)) return `${who}: unknown user`;
  if (/Wrong Digest/i.test(m)) return `${who}: authentication failed (wrong auth key or protocol)`;
  if (/Unsupported Security Level/i.test(m)) return `${who}: security level ${auth.user.level} not accepted for this user`;
  if (/Decryption Error/i.test(m)) return `${who}: decryption failed (wrong privacy key or protocol)`;
  if (/Not In Time Window/i.test(m)) return `${who}: not in time window`;
  if (/Unknown Engine ID/i.test(m)) return `${who}: unknown engine ID`;
  if (/timed? ?out/i.test(m) && auth.user.level === 'authPriv' && engineDiscovered(session)) {
    // the agent answered engine discovery, then dropped the encrypted request: net-snmp's snmpd does that on a wrong privKey
    return `${who}: authentication failed (no answer after engine discovery: wrong privacy key or protocol?)`;
  }
  return undefined;
}
