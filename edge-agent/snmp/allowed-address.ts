/**
 * The `discovery.allow` check for SNMP, done before any packet is sent (DESIGN.md "Network
 * safety"). An IP literal is checked as it is. A host name is resolved once and checked on the
 * addresses it resolves to; the packet then goes to the address that passed, never to the name,
 * which could resolve somewhere else a moment later.
 */
import * as dns from 'node:dns';
import * as net from 'node:net';
import type { AllowHost } from '../http/targets.ts';

/** Host name → its addresses, in the resolver's order. */
export type Resolve = (name: string) => Promise<string[]>;

/** The system resolver (/etc/hosts, then DNS), every address of both families. */
export const resolveAll: Resolve = async (name) => (await dns.promises.lookup(name, { all: true })).map((a) => a.address);

export type AllowedAddress =
  /** where to send: `host` itself, or the first address of a name that allow admits */
  | { ok: true; address: string }
  /** nothing may be sent: the addresses allow refused (empty when a name did not resolve, see `error`) */
  | { ok: false; refused: string[]; error?: string };

/** Where a probe of `host` may go, if anywhere. Never throws. */
export async function allowedAddress(host: string, allow: AllowHost, resolve: Resolve = resolveAll): Promise<AllowedAddress> {
  const bare = host.replace(/^\[|\]$/g, '');
  if (net.isIP(bare.replace(/%.*$/, ''))) return allow(bare) ? { ok: true, address: bare } : { ok: false, refused: [bare] };
  let addresses: string[];
  try {
    addresses = await resolve(bare);
  } catch (err) {
    return { ok: false, refused: [], error: `cannot resolve ${bare}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  // a resolver answer is input too: only IP literals count
  const ips = addresses.filter((a) => net.isIP(a));
  const address = ips.find((a) => allow(a));
  if (address !== undefined) return { ok: true, address };
  return ips.length > 0 ? { ok: false, refused: ips } : { ok: false, refused: [], error: `${bare} resolves to no address` };
}
