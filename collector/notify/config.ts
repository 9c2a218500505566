/**
 * The notification file (`--notify <file>`, `CAMPUS_NOTIFY_FILE`): which group chats or message
 * gateways hear about repair tickets. It holds webhook keys and signing secrets, so it is read once
 * at start, checked whole (a bad file stops the collector with the reason), and a copy others on
 * the machine can read is warned about.
 */
import { readFileSync, statSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { parse as parseYaml } from 'yaml';

/** Ticket changes a target can be told about (a comment is never sent). */
export const NOTIFY_ACTIONS = ['open', 'reopen', 'assign', 'start', 'resolve', 'close'] as const;
export type NotifyAction = (typeof NOTIFY_ACTIONS)[number];
export const DEFAULT_ACTIONS: readonly NotifyAction[] = ['open', 'reopen', 'resolve'];

const Action = Type.Union(NOTIFY_ACTIONS.map((a) => Type.Literal(a)));
const HttpUrl = Type.String({ pattern: '^https?://[^\\s]+$', description: 'http:// or https:// URL' });

const Target = Type.Object(
  {
    /**
     * shown in logs and /health instead of the URL (which carries the robot's key), and the
     * target's identity in the outbox: renaming it abandons the changes still waiting for it
     */
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    url: HttpUrl,
    format: Type.Union([Type.Literal('wecom'), Type.Literal('dingtalk'), Type.Literal('json')]),
    /** DingTalk 加签 secret (`SEC…`) */
    secret: Type.Optional(Type.String({ minLength: 1 })),
    /** extra request headers, e.g. a message gateway's token (json targets) */
    headers: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9-]+$' }), Type.String())),
    /** only these counties' or schools' tickets; everything when absent */
    scope: Type.Optional(
      Type.Object(
        {
          counties: Type.Optional(Type.Array(Type.String({ pattern: '^[0-9]{6}$' }))),
          schools: Type.Optional(Type.Array(Type.String({ pattern: '^[0-9]{10}$' }))),
        },
        { additionalProperties: false },
      ),
    ),
    /** which ticket changes; the file's `on` when absent */
    on: Type.Optional(Type.Array(Action, { minItems: 1 })),
    /** messages per minute at most (robots: 20, their documented limit; json: no limit) */
    perMinute: Type.Optional(Type.Integer({ minimum: 1, maximum: 600 })),
  },
  { additionalProperties: false },
);

export const NotifyFile = Type.Object(
  {
    /** the console's public address, for deep links (`…/#/school/<code>`) */
    consoleUrl: Type.Optional(HttpUrl),
    on: Type.Optional(Type.Array(Action, { minItems: 1 })),
    /** per request; default 10 */
    timeoutSeconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 120 })),
    /** ticket changes waiting per target before the oldest are dropped; default 1000 */
    queueSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
    /** tries per message before it counts as failed; default 5 */
    attempts: Type.Optional(Type.Integer({ minimum: 1, maximum: 20 })),
    /** days the outbox keeps changes delivered, given up or dropped (for looking back); default 7 */
    keepDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 365 })),
    targets: Type.Array(Target, { minItems: 1 }),
  },
  { additionalProperties: false },
);
export type NotifyFile = Static<typeof NotifyFile>;
export type NotifyTargetConfig = Static<typeof Target>;

const check = TypeCompiler.Compile(NotifyFile);

export class NotifyConfigError extends Error {}

/** The target's identity in logs, /health and the outbox: its `name`, or `<format>-<place in the list>`. */
export const targetName = (t: Pick<NotifyTargetConfig, 'name' | 'format'>, index: number): string => t.name ?? `${t.format}-${index + 1}`;

/** Checks parsed YAML; throws NotifyConfigError naming the place and the problem. */
export function parseNotifyConfig(data: unknown, source = 'notification file'): NotifyFile {
  if (!check.Check(data)) {
    const e = check.Errors(data).First();
    throw new NotifyConfigError(`${source}: ${e ? `${e.path || '/'}: ${e.message}` : 'not a notification file'}`);
  }
  const badUrl = (u: string) => {
    try {
      new URL(u);
      return false;
    } catch {
      return true;
    }
  };
  if (data.consoleUrl && badUrl(data.consoleUrl)) throw new NotifyConfigError(`${source}: /consoleUrl: not a URL`);
  const names = new Set<string>();
  data.targets.forEach((t, i) => {
    const where = `${source}: /targets/${i}`;
    // the name keys the target's rows in the outbox: two targets with one name would send each other's
    const name = targetName(t, i);
    if (names.has(name)) throw new NotifyConfigError(`${where}/name: "${name}" is another target's name already; each target needs its own`);
    names.add(name);
    if (badUrl(t.url)) throw new NotifyConfigError(`${where}/url: not a URL`);
    if (t.secret && t.format !== 'dingtalk') throw new NotifyConfigError(`${where}: secret is DingTalk's signing secret; a ${t.format} target has none`);
    if (t.scope && !t.scope.counties?.length && !t.scope.schools?.length) throw new NotifyConfigError(`${where}: scope needs counties or schools (leave it out for all)`);
  });
  return data;
}

/** Reads and checks the file; `warn` hears about a file others can read (it holds secrets). */
export function loadNotifyConfig(file: string, warn?: (msg: string) => void): NotifyFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new NotifyConfigError(`notification file ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (err as Error).message}`);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new NotifyConfigError(`notification file ${file}: not valid YAML: ${(err as Error).message}`);
  }
  const cfg = parseNotifyConfig(data, `notification file ${file}`);
  if (process.platform !== 'win32' && (statSync(file).mode & 0o004) !== 0) {
    warn?.(`notification file ${file} is readable by every user on this machine and holds webhook keys: chmod 600 it`);
  }
  return cfg;
}
