/**
 * CLI entry for `campus broker`: start, log the ports, stop cleanly on SIGINT/SIGTERM.
 */
import { startBroker, type BrokerLogger, type BrokerOptions, type RunningBroker } from './server.ts';

/** JSON lines on stderr, pino-shaped, for when the CLI passes no logger. */
export function jsonLineLogger(name = 'broker'): BrokerLogger {
  const line = (level: string) => (obj: object, msg?: string) => {
    process.stderr.write(`${JSON.stringify({ level, time: Date.now(), name, msg, ...obj })}\n`);
  };
  return { info: line('info'), warn: line('warn'), error: line('error') };
}

export async function runBroker(opts: BrokerOptions): Promise<RunningBroker> {
  const logger = opts.logger ?? jsonLineLogger();
  const broker = await startBroker({ ...opts, logger });
  logger.info({ mqttPort: broker.mqttPort, wsPort: broker.wsPort }, 'broker started');
  const stop = (signal: NodeJS.Signals) => {
    logger.info({ signal, stats: broker.stats() }, 'broker stopping');
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    broker.close().then(
      () => logger.info({}, 'broker stopped'),
      (err: unknown) => {
        logger.error({ err: (err as Error).message }, 'broker close failed');
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return broker;
}
