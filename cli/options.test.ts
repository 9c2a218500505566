import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { addOptions, HTTP_PORT, MQTT_PORT, MQTT_URL, OptionError, resolveOptions, type OptionSpec } from './options.ts';

const dir = mkdtempSync(join(tmpdir(), 'campus-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function yamlFile(text: string): string {
  const file = join(dir, `config-${++n}.yaml`);
  writeFileSync(file, text);
  return file;
}

const SECRET: OptionSpec = { key: 'apiToken', flag: '--api-token <token>', env: 'CAMPUS_API_TOKEN', type: 'string', secret: true, description: 'token' };
const VERBOSE: OptionSpec = { key: 'verbose', flag: '--verbose [on]', env: 'CAMPUS_VERBOSE', type: 'bool', default: false, description: 'chatty' };
const SPECS = [MQTT_PORT, HTTP_PORT, MQTT_URL, SECRET, VERBOSE];

/** Parses argv like `campus x …` would, then resolves with the given environment. */
function resolve(argv: string[], env: NodeJS.ProcessEnv = {}, specs = SPECS) {
  const cmd = addOptions(new Command('x').exitOverride().configureOutput({ writeErr: () => {} }), specs);
  // commander applies env itself for the help and for `getOptionValueSource('…') === 'env'`
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    cmd.parse(argv, { from: 'user' });
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
    Object.assign(process.env, saved);
  }
  return resolveOptions(cmd, specs, env);
}

describe('resolveOptions precedence: flag > YAML > env > default', () => {
  const file = yamlFile('mqttPort: 2883\nhttp-port: 9090\n');
  const env = { CAMPUS_MQTT_PORT: '3883', CAMPUS_HTTP_PORT: '7070', CAMPUS_MQTT_URL: 'mqtt://127.0.0.1:4883' };

  it('falls back to the defaults', () => {
    expect(resolve([])).toEqual({ mqttPort: 1883, httpPort: 8080, mqttUrl: 'mqtt://127.0.0.1:1883', apiToken: undefined, verbose: false });
  });

  it('env beats the default', () => {
    expect(resolve([], env)).toMatchObject({ mqttPort: 3883, httpPort: 7070, mqttUrl: 'mqtt://127.0.0.1:4883' });
  });

  it('YAML beats env (camelCase and kebab-case keys), env still fills what YAML lacks', () => {
    expect(resolve(['--config', file], env)).toMatchObject({ mqttPort: 2883, httpPort: 9090, mqttUrl: 'mqtt://127.0.0.1:4883' });
  });

  it('a flag beats YAML and env', () => {
    expect(resolve(['--config', file, '--mqtt-port', '1999'], env)).toMatchObject({ mqttPort: 1999, httpPort: 9090 });
  });

  it('the YAML file can come from CAMPUS_CONFIG', () => {
    expect(resolve([], { ...env, CAMPUS_CONFIG: file })).toMatchObject({ mqttPort: 2883, httpPort: 9090 });
  });

  it('an empty env variable counts as unset', () => {
    expect(resolve([], { CAMPUS_MQTT_PORT: '' })).toMatchObject({ mqttPort: 1883 });
  });

  it('an empty YAML file is fine', () => {
    expect(resolve(['--config', yamlFile('')])).toMatchObject({ mqttPort: 1883 });
  });

  it('coerces booleans from flags, YAML and env', () => {
    expect(resolve(['--verbose'])).toMatchObject({ verbose: true });
    expect(resolve(['--verbose', 'off'])).toMatchObject({ verbose: false });
    expect(resolve(['--config', yamlFile('verbose: yes\n')])).toMatchObject({ verbose: true });
    expect(resolve([], { CAMPUS_VERBOSE: 'true' })).toMatchObject({ verbose: true });
  });
});

describe('resolveOptions refuses bad values with an OptionError that says where', () => {
  function error(fn: () => unknown): OptionError {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(OptionError);
      return err as OptionError;
    }
    throw new Error('expected an OptionError');
  }

  it('a non-integer port from a flag, YAML or env', () => {
    expect(error(() => resolve(['--mqtt-port', 'abc'])).message).toBe('--mqtt-port: mqttPort must be an integer, got "abc"');
    expect(error(() => resolve(['--http-port', '80.5'])).message).toMatch(/httpPort must be an integer/);
    const file = yamlFile('mqttPort: "eighteen"\n');
    expect(error(() => resolve(['--config', file])).message).toBe(`${file}: mqttPort must be an integer, got "eighteen"`);
    expect(error(() => resolve([], { CAMPUS_HTTP_PORT: '8o8o' })).message).toBe('$CAMPUS_HTTP_PORT: httpPort must be an integer, got "8o8o"');
  });

  it('a port out of range', () => {
    expect(error(() => resolve(['--mqtt-port', '70000'])).message).toBe('--mqtt-port: mqttPort must be between 0 and 65535, got "70000"');
    expect(error(() => resolve([], { CAMPUS_HTTP_PORT: '-1' })).message).toMatch(/between 0 and 65535/);
  });

  it('a bad boolean', () => {
    expect(error(() => resolve([], { CAMPUS_VERBOSE: 'perhaps' })).message).toBe('$CAMPUS_VERBOSE: verbose must be true or false, got "perhaps"');
  });

  it('never echoes a secret', () => {
    const file = yamlFile('apiToken: [s3cret]\n');
    const msg = error(() => resolve(['--config', file])).message;
    expect(msg).toContain('apiToken must be a string, got (hidden)');
    expect(msg).not.toContain('s3cret');
  });

  it('an unknown YAML key, naming it', () => {
    const file = yamlFile('mqttPort: 1883\nmqtt_port: 1884\ninfluxUrl: http://127.0.0.1:8086\n');
    expect(error(() => resolve(['--config', file])).message).toBe(`config file ${file}: unknown option(s) mqtt_port, influxUrl`);
  });

  it('a YAML file that is not a mapping, or not YAML', () => {
    expect(error(() => resolve(['--config', yamlFile('- 1\n- 2\n')])).message).toMatch(/must hold a mapping of option names to values/);
    expect(error(() => resolve(['--config', yamlFile('mqttPort: [1\n')])).message).toMatch(/is not valid YAML/);
  });

  it('a missing or unreadable config file', () => {
    const missing = join(dir, 'nope.yaml');
    expect(error(() => resolve(['--config', missing])).message).toMatch(new RegExp(`^cannot read config file ${missing}: ENOENT`));
    expect(error(() => resolve(['--config', dir])).message).toMatch(/^cannot read config file .*EISDIR/);
    if (process.getuid?.() !== 0) {
      const locked = yamlFile('mqttPort: 1\n');
      chmodSync(locked, 0o000);
      expect(error(() => resolve(['--config', locked])).message).toMatch(/^cannot read config file .*EACCES/);
    }
  });
});

describe('addOptions', () => {
  it('refuses a spec whose flag would be stored under another key (the flag would be ignored)', () => {
    const bad: OptionSpec = { key: 'pollIntervalSec', flag: '--poll-interval <s>', type: 'int', description: 'x' };
    expect(() => addOptions(new Command('x'), [bad])).toThrow(/--poll-interval <s> is stored as pollInterval, not pollIntervalSec/);
  });

  it('puts default and env in the help, but never the default of a secret', () => {
    const help = addOptions(new Command('x'), [MQTT_PORT, { ...SECRET, default: 'topsecret' }]).helpInformation();
    expect(help).toMatch(/--mqtt-port <port>[\s\S]*\(default: 1883\)[\s\S]*\(env:\s+CAMPUS_MQTT_PORT\)/);
    expect(help).toMatch(/-c, --config <file>[\s\S]*CAMPUS_CONFIG/);
    expect(help).not.toContain('topsecret');
  });
});
