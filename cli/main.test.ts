/**
 * The `campus` command as a user runs it: `node bin/campus.js …` in a child process. Every
 * subcommand's --help, option errors, and the admin path from an empty data dir to a registered
 * agent (regions → schools → agent) on the embedded PGlite store.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'campus.js');
const GEO = join(ROOT, 'simulator', 'data', 'geo', '371500.json');

/** The environment without anything that would change the command's options. */
const CLEAN_ENV = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(CAMPUS_|INFLUX_|DATABASE_URL$|PG)/.test(k)),
) as NodeJS.ProcessEnv;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function campus(args: string[], env: NodeJS.ProcessEnv = {}, stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...CLEAN_ENV, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(stdin ?? '');
  });
}

const tmp = mkdtempSync(join(tmpdir(), 'campus-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** [subcommand, flags and env names its --help must list] */
const HELP: [string[], string[]][] = [
  [['broker'], ['--config', 'CAMPUS_CONFIG', '--host', '--mqtt-port', 'CAMPUS_MQTT_PORT', '--ws-port', 'CAMPUS_WS_PORT', '--collector-url', 'CAMPUS_COLLECTOR_URL', '--api-token', '--database-url', 'DATABASE_URL', '--data-dir', 'CAMPUS_DATA_DIR', '--max-publishes-per-second', 'CAMPUS_MAX_PUBLISH_RATE', '--backlog-high-water-mb', 'CAMPUS_BACKLOG_HIGH_WATER_MB', '--backlog-low-water-mb', '--log-level']],
  [['collector'], ['--config', '--host', '--http-port', 'CAMPUS_HTTP_PORT', '--mqtt-url', 'CAMPUS_MQTT_URL', '--mqtt-username', '--mqtt-password', '--influx-url', 'INFLUX_URL', '--influx-db', 'INFLUX_DB', '--influx-user', '--influx-token', '--database-url', 'DATABASE_URL', '--data-dir', 'CAMPUS_DATA_DIR', '--api-token', 'CAMPUS_API_TOKEN', '--notify', 'CAMPUS_NOTIFY_FILE', '--session-idle', 'CAMPUS_SESSION_IDLE', '--session-max', 'CAMPUS_SESSION_MAX', '--trust-proxy', 'CAMPUS_TRUST_PROXY', '--audit-keep-days', 'CAMPUS_AUDIT_KEEP_DAYS', '--max-exports', 'CAMPUS_MAX_EXPORTS', '--export-queue', 'CAMPUS_EXPORT_QUEUE', '--view-cache-mb', 'CAMPUS_VIEW_CACHE_MB', '--log-level']],
  [['agent'], ['--config', 'CAMPUS_AGENT_CONFIG']],
  [['sim', 'school'], ['--config', '--school', '--switches', '--aps', '--agent-id', '--agent-config', '--mqtt-url', 'CAMPUS_MQTT_URL', '--agent-password']],
  [['demo'], ['--config', '--mqtt-port', 'CAMPUS_MQTT_PORT', '--ws-port', '--http-port', 'CAMPUS_HTTP_PORT', '--influx-url', 'INFLUX_URL', '--influx-db', 'INFLUX_DB', '--data-dir', 'CAMPUS_DATA_DIR', '--schools-per-county', '--poll-interval', 'CAMPUS_DEMO_POLL_INTERVAL']],
  [['admin', 'agent', 'add'], ['--school', '--id', '--config', '--database-url', 'DATABASE_URL', '--data-dir', 'CAMPUS_DATA_DIR', '--collector-url', '--api-token']],
  [['admin', 'user', 'add'], ['--username', '--name', '--role', '--school', '--county', '--password-stdin', '--database-url', 'DATABASE_URL', '--data-dir', '--collector-url', '--api-token']],
  [['admin', 'user', 'list'], ['--database-url', '--data-dir', '--collector-url']],
  [['admin', 'user', 'passwd'], ['<username>', '--password-stdin', '--database-url', '--data-dir', '--collector-url']],
  [['admin', 'user', 'disable'], ['<username>', '--database-url', '--data-dir', '--collector-url']],
  [['admin', 'import-schools'], ['<file>', '--config', '--database-url', 'DATABASE_URL', '--data-dir', 'CAMPUS_DATA_DIR', '--collector-url']],
  [['admin', 'import-regions'], ['<file>', '--city', '--city-name', '--config', '--database-url', 'DATABASE_URL', '--data-dir', 'CAMPUS_DATA_DIR']],
];

describe('campus --help', () => {
  it('lists every subcommand', async () => {
    const r = await campus(['--help']);
    expect(r.code).toBe(0);
    for (const sub of ['broker', 'collector', 'agent', 'sim', 'demo', 'admin']) expect(r.stdout).toMatch(new RegExp(`^\\s+${sub}\\b`, 'm'));
  });

  it.each(HELP.map(([cmd, words]) => [cmd.join(' '), cmd, words] as const))('campus %s --help lists its flags and env names', async (_name, cmd, words) => {
    const r = await campus([...cmd, '--help']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^Usage: campus ${cmd.join(' ')} `));
    // commander wraps long descriptions: compare with the line breaks folded
    const text = r.stdout.replace(/\s+/g, ' ');
    for (const w of words) expect(text, `${cmd.join(' ')} --help should mention ${w}`).toContain(w.startsWith('-') || w.startsWith('<') ? `${w} ` : `env: ${w})`);
  });
});

describe('option errors', () => {
  it('a non-integer port: exit 2 and the option named, before anything starts', async () => {
    const r = await campus(['broker', '--mqtt-port', 'abc', '--data-dir', tmp]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('campus: --mqtt-port: mqttPort must be an integer, got "abc"\n');
  });

  it('a bad value from the environment names the variable', async () => {
    const r = await campus(['collector', '--data-dir', tmp], { CAMPUS_HTTP_PORT: '99999' });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('campus: $CAMPUS_HTTP_PORT: httpPort must be between 0 and 65535, got "99999"\n');
  });

  it('an unknown key in the YAML file', async () => {
    const file = join(tmp, 'demo.yaml');
    writeFileSync(file, 'pollInterval: 5\nschools: 3\n');
    const r = await campus(['demo', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`campus: config file ${file}: unknown option(s) schools\n`);
  });

  it('an unreadable config file', async () => {
    const r = await campus(['collector', '--config', join(tmp, 'missing.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^campus: cannot read config file .*missing\.yaml: ENOENT/);
  });

  it('demo --poll-interval is read (it used to be ignored: flag and key disagreed)', async () => {
    const r = await campus(['demo', '--poll-interval', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('campus: --poll-interval: pollInterval must be between 1 and 86400, got "0"\n');
  });

  it('the broker without a way to check passwords says what to pass', async () => {
    const r = await campus(['broker', '--data-dir', tmp]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs --collector-url .* or --database-url/);
  });
});

describe('campus admin on the embedded store', () => {
  const dataDir = join(tmp, 'data');
  const HEADER = 'code,name,county_code,type,ownership,student_count,staff_count,contracted_uplink_mbps,lon,lat,address';

  it('imports regions, refuses a CSV with broken rows whole, imports a good one, and registers an agent', async () => {
    const regions = await campus(['admin', 'import-regions', GEO, '--city', '371500', '--data-dir', dataDir]);
    expect(regions.stderr).toBe('');
    expect(regions).toMatchObject({ code: 0, stdout: 'imported 8 counties of 371500\n' });

    const bad = join(tmp, 'bad.csv');
    writeFileSync(
      bad,
      [
        HEADER,
        '3715020002,聊城市东昌府区实验小学,371502,小学,公办,1800,120,1000,115.98,36.45,东昌府区柳园路 1 号',
        '37150200,短码学校,371502,primary,public,100,10,100,115.9,36.4,',
        '3715990001,不存在的县的学校,371599,primary,public,100,10,100,115.9,36.4,',
        '3715020003,少一列,371502,primary,public,100,10,100,115.9',
      ].join('\n') + '\n',
    );
    const refused = await campus(['admin', 'import-schools', bad, '--data-dir', dataDir]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    const lines = refused.stderr.trim().split('\n');
    expect(lines.at(-1)).toBe('3 bad row(s): nothing was imported');
    for (const n of [3, 4, 5]) expect(lines.some((l) => l.startsWith(`line ${n}`)), `stderr should name line ${n}:\n${refused.stderr}`).toBe(true);
    expect(lines.some((l) => l.startsWith('line 2'))).toBe(false);
    expect(refused.stderr).toContain('county 371599 is not in the regions table');
    expect(refused.stderr).toContain('expected 11 fields, found 9');

    const good = join(tmp, 'good.csv');
    writeFileSync(good, `${HEADER}\n3715020001,聊城第一中学,371502,高中,公办,3200,260,2000,115.985,36.457,东昌府区兴华西路 57 号\n`);
    const imported = await campus(['admin', 'import-schools', good, '--data-dir', dataDir]);
    expect(imported.stderr).toBe('');
    expect(imported).toMatchObject({ code: 0, stdout: 'imported 1 school(s)\n' });

    const added = await campus(['admin', 'agent', 'add', '--school', '3715020001', '--id', 'gw-1', '--data-dir', dataDir]);
    expect(added.stderr).toBe('');
    expect(added.code).toBe(0);
    const m = /^username: 3715020001\/gw-1\npassword: (\S+)\n\(store it in the agent's config now: it cannot be shown again\)\n$/.exec(added.stdout);
    expect(m, added.stdout).not.toBeNull();
    const password = m![1]!;
    expect(password.length).toBeGreaterThanOrEqual(16);

    // What the store now holds, read back in-process once the commands are done with it.
    const { openStore } = await import('../collector/collector.ts');
    const store = await openStore({ dataDir });
    try {
      expect((await store.inventory.listSchools({})).map((s) => s.code)).toEqual(['3715020001']); // nothing from bad.csv
      expect(await store.inventory.verifyCredential('3715020001/gw-1', password)).toEqual({ kind: 'agent', schoolCode: '3715020001', agentId: 'gw-1' });
      // the password itself is not stored, only its hash
      const rows = await store.db.query<{ hash: string }>(`SELECT password_hash AS hash FROM mqtt_credentials WHERE username = $1`, ['3715020001/gw-1']);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.hash).not.toContain(password);
    } finally {
      await store.db.close();
    }
  }, 120_000);

  it('adds users (a generated password printed once, or one from stdin checked by the rule), lists, resets and disables them', async () => {
    const dir = join(tmp, 'users');
    expect((await campus(['admin', 'import-regions', GEO, '--city', '371500', '--data-dir', dir])).code).toBe(0);
    const csv = join(tmp, 'one-school.csv');
    writeFileSync(csv, `${HEADER}\n3715020001,聊城第一中学,371502,高中,公办,3200,260,2000,115.985,36.457,\n`);
    expect((await campus(['admin', 'import-schools', csv, '--data-dir', dir])).code).toBe(0);

    const added = await campus(['admin', 'user', 'add', '--username', 'xiaoxue', '--name', '王老师', '--role', 'school-admin', '--school', '3715020001', '--data-dir', dir]);
    expect(added.stderr).toBe('');
    const m = /^added xiaoxue \(王老师\), school-admin for 聊城第一中学 \(3715020001\): enroll, plan, comment\npassword: (\S+)\n\(give it to the user now: it cannot be shown again\)\n$/.exec(added.stdout);
    expect(m, added.stdout).not.toBeNull();
    const generated = m![1]!;

    const weak = await campus(['admin', 'user', 'add', '--username', 'anbao', '--name', '安保科', '--role', 'security', '--password-stdin', '--data-dir', dir], {}, 'password\n');
    expect(weak.code).toBe(1);
    expect(weak.stderr).toMatch(/^campus: 密码.*\(a password needs at least 8 characters/);
    const badRole = await campus(['admin', 'user', 'add', '--username', 'anbao', '--name', '安保科', '--role', 'guard', '--data-dir', dir]);
    expect(badRole).toMatchObject({ code: 2, stderr: 'campus: --role: expected admin, school-admin, security or equipment, got "guard"\n' });
    const piped = await campus(['admin', 'user', 'add', '--username', 'anbao', '--name', '安保科', '--role', 'security', '--password-stdin', '--data-dir', dir], {}, 'Guard#Pass2025\n');
    expect(piped).toMatchObject({ code: 0, stdout: 'added anbao (安保科), security for the whole city: plan, comment\n' });

    const reset = await campus(['admin', 'user', 'passwd', 'xiaoxue', '--data-dir', dir]);
    const r = /^password of xiaoxue changed; their sessions have ended\npassword: (\S+)\n/.exec(reset.stdout);
    expect(r, reset.stdout + reset.stderr).not.toBeNull();
    expect(r![1]).not.toBe(generated);
    expect(await campus(['admin', 'user', 'disable', 'anbao', '--data-dir', dir])).toMatchObject({ code: 0, stdout: 'disabled anbao (安保科); their sessions have ended\n' });
    expect(await campus(['admin', 'user', 'disable', 'nobody', '--data-dir', dir])).toMatchObject({ code: 1, stderr: 'campus: user nobody does not exist\n' });

    const list = await campus(['admin', 'user', 'list', '--data-dir', dir]);
    expect(list.stdout.split('\n').filter(Boolean).map((l) => l.split('\t').slice(0, 5))).toEqual([
      ['anbao', '安保科', 'security', 'city', 'disabled'],
      ['xiaoxue', '王老师', 'school-admin', 'school 3715020001 聊城第一中学', 'active'],
    ]);

    // the passwords work (and the disabled user cannot sign in), read back in-process
    const { openStore } = await import('../collector/collector.ts');
    const { Sessions } = await import('../collector/auth/sessions.ts');
    const store = await openStore({ dataDir: dir });
    try {
      const sessions = new Sessions(store.db);
      expect((await sessions.login('xiaoxue', generated)).ok).toBe(false);
      expect((await sessions.login('xiaoxue', r![1]!)).ok).toBe(true);
      expect((await sessions.login('anbao', 'Guard#Pass2025')).ok).toBe(false);
    } finally {
      await store.db.close();
    }
  }, 180_000);
});
