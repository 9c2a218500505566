/**
 * Options for every `campus` subcommand, declared once. Each option can come from a flag, from the
 * YAML file named by `--config`, or from an environment variable — in that order of precedence —
 * and falls back to its default. `--help` lists the flag, the variable and the default.
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { parse as parseYaml } from 'yaml';

export type OptionType = 'string' | 'int' | 'bool';

export interface OptionSpec {
  /** camelCase key; also the key in the YAML file (kebab-case is accepted there too). */
  key: string;
  /** e.g. `--mqtt-port <port>` or `--verbose`. */
  flag: string;
  env?: string;
  type: OptionType;
  default?: string | number | boolean;
  description: string;
  /** secret values are never echoed in errors or logs */
  secret?: boolean;
  /** bounds of an `int` option, inclusive */
  min?: number;
  max?: number;
}

export class OptionError extends Error {}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function coerce(spec: OptionSpec, raw: unknown, source: string): string | number | boolean {
  const shown = spec.secret ? '(hidden)' : JSON.stringify(raw);
  switch (spec.type) {
    case 'int': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n)) throw new OptionError(`${source}: ${spec.key} must be an integer, got ${shown}`);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw new OptionError(`${source}: ${spec.key} must be between ${spec.min ?? '-∞'} and ${spec.max ?? '∞'}, got ${shown}`);
      }
      return n;
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      const s = String(raw).trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(s)) return true;
      if (['0', 'false', 'no', 'off', ''].includes(s)) return false;
      throw new OptionError(`${source}: ${spec.key} must be true or false, got ${shown}`);
    }
    default:
      if (typeof raw !== 'string' && typeof raw !== 'number') throw new OptionError(`${source}: ${spec.key} must be a string, got ${shown}`);
      return String(raw);
  }
}

/** Adds the specs' flags (and `--config`) to a commander command, with env and default in the help. */
export function addOptions(cmd: Command, specs: OptionSpec[]): Command {
  cmd.addOption(new Option('-c, --config <file>', 'YAML file with any of these options (flags win over it, it wins over env)').env('CAMPUS_CONFIG'));
  for (const s of specs) {
    const parts = [s.description];
    if (s.default !== undefined && !s.secret) parts.push(`(default: ${JSON.stringify(s.default)})`);
    const opt = new Option(s.flag, parts.join(' '));
    // resolveOptions reads commander's value under `key`: a flag spelled differently would be ignored
    if (opt.attributeName() !== s.key) throw new Error(`option ${s.flag} is stored as ${opt.attributeName()}, not ${s.key}: make the flag and the key agree`);
    if (s.env) opt.env(s.env);
    // commander would apply env itself; we resolve precedence ourselves, so only flags are taken from it.
    cmd.addOption(opt);
  }
  return cmd;
}

export type ResolvedOptions = Record<string, string | number | boolean | undefined>;

/**
 * Resolves flag > YAML > env > default. `flagValues` must be what commander parsed, with
 * `getOptionValueSource(key) === 'cli'` distinguishing real flags from env-filled values.
 */
export function resolveOptions(cmd: Command, specs: OptionSpec[], env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  const opts = cmd.opts() as Record<string, unknown>;
  const configPath = (cmd.getOptionValueSource('config') === 'cli' ? opts.config : env.CAMPUS_CONFIG) as string | undefined;
  let yaml: Record<string, unknown> = {};
  if (configPath) {
    let text: string;
    try {
      text = readFileSync(configPath, 'utf8');
    } catch (err) {
      throw new OptionError(`cannot read config file ${configPath}: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      throw new OptionError(`config file ${configPath} is not valid YAML: ${(err as Error).message}`);
    }
    if (parsed !== null && parsed !== undefined && (typeof parsed !== 'object' || Array.isArray(parsed))) {
      throw new OptionError(`config file ${configPath} must hold a mapping of option names to values`);
    }
    yaml = (parsed ?? {}) as Record<string, unknown>;
    const known = new Set(specs.flatMap((s) => [s.key, kebab(s.key)]));
    const unknown = Object.keys(yaml).filter((k) => !known.has(k));
    if (unknown.length) throw new OptionError(`config file ${configPath}: unknown option(s) ${unknown.join(', ')}`);
  }
  const out: ResolvedOptions = {};
  for (const s of specs) {
    if (cmd.getOptionValueSource(s.key) === 'cli' && opts[s.key] !== undefined) {
      out[s.key] = coerce(s, opts[s.key], `--${kebab(s.key)}`);
    } else if (yaml[s.key] !== undefined || yaml[kebab(s.key)] !== undefined) {
      out[s.key] = coerce(s, yaml[s.key] ?? yaml[kebab(s.key)], `${configPath}`);
    } else if (s.env && env[s.env] !== undefined && env[s.env] !== '') {
      out[s.key] = coerce(s, env[s.env], `$${s.env}`);
    } else {
      out[s.key] = s.default;
    }
  }
  return out;
}

// ---- option specs shared by several subcommands ----

export const HOST: OptionSpec = { key: 'host', flag: '--host <address>', env: 'CAMPUS_BIND_HOST', type: 'string', default: '127.0.0.1', description: 'address to listen on' };
export const MQTT_PORT: OptionSpec = { key: 'mqttPort', flag: '--mqtt-port <port>', env: 'CAMPUS_MQTT_PORT', type: 'int', min: 0, max: 65535, default: 1883, description: 'MQTT (TCP) port of the broker' };
export const WS_PORT: OptionSpec = { key: 'wsPort', flag: '--ws-port <port>', env: 'CAMPUS_WS_PORT', type: 'int', min: 0, max: 65535, description: 'MQTT-over-WebSocket port (off when unset)' };
export const HTTP_PORT: OptionSpec = { key: 'httpPort', flag: '--http-port <port>', env: 'CAMPUS_HTTP_PORT', type: 'int', min: 0, max: 65535, default: 8080, description: 'HTTP port of the collector API and console' };
export const MQTT_URL: OptionSpec = { key: 'mqttUrl', flag: '--mqtt-url <url>', env: 'CAMPUS_MQTT_URL', type: 'string', default: 'mqtt://127.0.0.1:1883', description: 'broker the collector connects to' };
export const MQTT_USERNAME: OptionSpec = { key: 'mqttUsername', flag: '--mqtt-username <name>', env: 'CAMPUS_MQTT_USERNAME', type: 'string', default: 'collector', description: 'service account the collector uses on the broker' };
export const MQTT_PASSWORD: OptionSpec = { key: 'mqttPassword', flag: '--mqtt-password <password>', env: 'CAMPUS_MQTT_PASSWORD', type: 'string', secret: true, description: 'password of that service account' };
export const INFLUX_URL: OptionSpec = { key: 'influxUrl', flag: '--influx-url <url>', env: 'INFLUX_URL', type: 'string', description: 'InfluxDB base URL (v1 HTTP API); without it telemetry goes to line-protocol files in the data dir' };
export const INFLUX_DB: OptionSpec = { key: 'influxDb', flag: '--influx-db <name>', env: 'INFLUX_DB', type: 'string', default: 'campus', description: 'InfluxDB database (or DBRP-mapped bucket)' };
export const INFLUX_USER: OptionSpec = { key: 'influxUser', flag: '--influx-user <name>', env: 'INFLUX_USER', type: 'string', description: 'InfluxDB user (v1 auth)' };
export const INFLUX_PASSWORD: OptionSpec = { key: 'influxPassword', flag: '--influx-password <password>', env: 'INFLUX_PASSWORD', type: 'string', secret: true, description: 'InfluxDB password (v1 auth)' };
export const INFLUX_TOKEN: OptionSpec = { key: 'influxToken', flag: '--influx-token <token>', env: 'INFLUX_TOKEN', type: 'string', secret: true, description: 'InfluxDB token (2.x/3.x v1-compatibility API)' };
export const DATABASE_URL: OptionSpec = { key: 'databaseUrl', flag: '--database-url <url>', env: 'DATABASE_URL', type: 'string', secret: true, description: 'PostgreSQL URL of the inventory; without it the embedded store in --data-dir is used' };
export const DATA_DIR: OptionSpec = { key: 'dataDir', flag: '--data-dir <dir>', env: 'CAMPUS_DATA_DIR', type: 'string', default: './data', description: 'directory for the embedded inventory, telemetry files and keys' };
export const API_TOKEN: OptionSpec = { key: 'apiToken', flag: '--api-token <token>', env: 'CAMPUS_API_TOKEN', type: 'string', secret: true, description: 'bearer token for the admin API and the broker→collector auth calls (generated into the data dir when unset)' };
export const COLLECTOR_URL: OptionSpec = { key: 'collectorUrl', flag: '--collector-url <url>', env: 'CAMPUS_COLLECTOR_URL', type: 'string', description: 'administer through a running collector instead of opening the store directly' };
export const LOG_LEVEL: OptionSpec = { key: 'logLevel', flag: '--log-level <level>', env: 'CAMPUS_LOG_LEVEL', type: 'string', default: 'info', description: 'fatal, error, warn, info, debug or trace' };
