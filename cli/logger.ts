import { pino, type Logger as Pino } from 'pino';

/** JSON log lines on stderr (stdout stays free for what a command prints for the user). */
export function makeLogger(level: string, name: string): Pino {
  return pino({ level, name, base: { name } }, pino.destination(2));
}
