/**
 * Stand-alone entry of the edge agent, the one `npm run build:agent` bundles into
 * `dist/campus-agent.mjs` for a gateway (no node_modules, no tsx: just Node 20).
 * `campus agent` does the same from the full installation.
 */
import { parseArgs } from 'node:util';
import { AGENT_VERSION } from './agent.ts';
import { runAgent } from './main.ts';

const USAGE = `Usage: campus-agent --config <file>

校园物联与安防设备管理 edge agent for a school gateway: polls the devices in its config,
reports over MQTT, queues on disk while the broker is unreachable.

Options:
  -c, --config <file>  agent YAML (school, agent id, MQTT, devices; see docs/operations.md)
                       (env: CAMPUS_AGENT_CONFIG)
  -V, --version        print the agent version
  -h, --help           show this help
`;

async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let values: { config?: string; help?: boolean; version?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'V' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    process.stderr.write(`campus-agent: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${AGENT_VERSION}\n`);
    return 0;
  }
  const config = values.config ?? (env.CAMPUS_AGENT_CONFIG || undefined);
  if (!config) {
    process.stderr.write(`campus-agent: --config <file> is required (or CAMPUS_AGENT_CONFIG)\n\n${USAGE}`);
    return 2;
  }
  try {
    await runAgent(config);
  } catch (err) {
    process.stderr.write(`campus-agent: ${(err as Error).message}\n`);
    return 1;
  }
  return 0; // keeps running: the agent stops on SIGINT/SIGTERM
}

const code = await main(process.argv.slice(2));
if (code !== 0) process.exit(code);
