/**
 * One ONVIF discovery run from the command line, printing the result as JSON. Used by the tests to
 * probe from inside a network namespace they created:
 *   ip netns exec NS node --import tsx edge-agent/onvif/discover-cli.ts '<options as JSON>'
 * Options: OnvifDiscoveryOptions without functions, plus `credentialsFile` (path to the store) and
 * `requireOwnNetns` (refuse to run in the host's network namespace), `allowPrefixes` (string
 * prefixes of the only addresses that may be probed).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { loadCredentialStore } from '../credentials.ts';
import { discoverOnvif, type OnvifDiscoveryOptions } from './discovery.ts';

interface CliOptions extends Omit<OnvifDiscoveryOptions, 'credentials' | 'allow'> {
  credentialsFile?: string;
  requireOwnNetns?: boolean;
  allowPrefixes?: string[];
}

/** Name of the `ip netns` namespace we run in (inode of our net namespace among /run/netns/*), if any. */
function currentNetnsName(): string | undefined {
  try {
    const self = fs.statSync('/proc/self/ns/net');
    for (const n of fs.readdirSync('/run/netns')) {
      const st = fs.statSync(`/run/netns/${n}`, { throwIfNoEntry: false });
      if (st && st.ino === self.ino && st.dev === self.dev) return n;
    }
  } catch {
    // no /run/netns: not in a named namespace
  }
  return undefined;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as CliOptions;
const netns = currentNetnsName();
if (opts.requireOwnNetns && netns === undefined) {
  process.stderr.write('refusing to probe from the host network namespace: run inside an `ip netns` namespace\n');
  process.exit(2);
}
const prefixes = opts.allowPrefixes;
const result = await discoverOnvif({
  ...opts,
  credentials: opts.credentialsFile ? loadCredentialStore(opts.credentialsFile) : undefined,
  allow: prefixes ? (a) => prefixes.some((p) => a.startsWith(p)) : undefined,
});
const interfaces = Object.entries(os.networkInterfaces()).map(([name, addrs]) => ({ name, addresses: (addrs ?? []).map((a) => a.address) }));
process.stdout.write(JSON.stringify({ netns, interfaces, ...result }) + '\n');
