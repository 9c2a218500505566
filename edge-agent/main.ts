/** CLI entry of the edge agent: `campus agent --config agent.yaml`. */
import { loadAgentConfig } from './config.ts';
import { startAgent, type RunningAgent } from './agent.ts';

/** Starts the agent from a YAML file and stops it gracefully on SIGINT/SIGTERM. */
export async function runAgent(configPath: string): Promise<RunningAgent> {
  const config = loadAgentConfig(configPath);
  const agent = await startAgent(config, { reloadConfig: () => loadAgentConfig(configPath) });
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    console.log(`[agent] ${signal}: stopping`);
    agent.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`[agent] stop failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return agent;
}
