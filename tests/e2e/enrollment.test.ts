/**
 * Enrollment through the API, end to end: a device the agent found waits in the school's inbox;
 * accepting it moves it to `enrolled`, with who and when recorded, and its telemetry is stored
 * tagged with school, county, device and kind.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../edge-agent/agent.ts';
import { parseAgentConfig } from '../../edge-agent/config.ts';
import { agentConfigFor, startSimulatedSchoolGear, type SimulatedSchoolGear } from '../../simulator/snmp/school-gear.ts';
import { uniqueDbName } from '../setup/influx.ts';
import { COUNTY, rows, SCHOOL_A, startStack, waitFor, type Stack } from './stack.ts';

describe('enrollment inbox over the API', () => {
  let stack: Stack;
  let gear: SimulatedSchoolGear;
  let agent: RunningAgent;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'campus-enroll-'));
    stack = await startStack({ pgAdminUrl: inject('postgresUrl'), influxUrl: inject('influxUrl'), influxDb: uniqueDbName('enroll') });
    gear = await startSimulatedSchoolGear({ schoolCode: SCHOOL_A, switches: 1, aps: 1, host: '127.0.0.1' });
    const cred = await stack.inventory.addAgent({ schoolCode: SCHOOL_A, agentId: 'gw-1' });
    const cfg = parseAgentConfig(agentConfigFor(gear, { agentId: 'gw-1', mqttUrl: stack.mqttUrl, password: cred.password, dataDir: join(dir, 'agent'), pollIntervalSec: 3600 }));
    agent = await startAgent(cfg, { logger: { info() {}, warn() {}, error() {} } });
  });
  afterAll(async () => {
    await agent?.stop();
    await gear?.stop();
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${stack.collector.url}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.collector.apiToken}`, 'x-campus-actor': encodeURIComponent('张老师'), ...(init.headers ?? {}) },
    });

  it('accepting a found switch enrolls it, records who, and its telemetry carries school, county, device and kind', async () => {
    await agent.pollNow();
    const inbox = await waitFor('the switch in the inbox', async () => {
      const r = (await (await api(`/api/v1/schools/${SCHOOL_A}/inbox`)).json()) as { discovered: { deviceId: string; kind: string; attributes: Record<string, string> }[] };
      return r.discovered.some((d) => d.deviceId === 'sw-1' && d.attributes.sysObjectID) ? r : undefined;
    });
    expect(inbox.discovered.find((d) => d.deviceId === 'sw-1')!.kind).toBe('switch');

    // without the token: refused, nothing changes
    const anon = await fetch(`${stack.collector.url}/api/v1/schools/${SCHOOL_A}/devices/gw-1/sw-1/accept`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ placement: { position: { x: 5, y: 5 } } }),
    });
    expect(anon.status).toBe(401);
    // a bad placement: 400 with the reason
    const bad = await api(`/api/v1/schools/${SCHOOL_A}/devices/gw-1/sw-1/accept`, { method: 'POST', body: JSON.stringify({ placement: { building: '教学楼' } }) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/position is required/);

    const ok = await api(`/api/v1/schools/${SCHOOL_A}/devices/gw-1/sw-1/accept`, {
      method: 'POST',
      body: JSON.stringify({ placement: { building: '教学楼', room: '弱电间', position: { lon: 115.98, lat: 36.45 } }, note: '核心交换机' }),
    });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { state: string }).state).toBe('enrolled');
    const history = (await (await api(`/api/v1/schools/${SCHOOL_A}/devices/gw-1/sw-1/history`)).json()) as { toState: string; actor: string }[];
    expect(history).toEqual([expect.objectContaining({ toState: 'enrolled', actor: 'admin-token/张老师' })]);
    const after = (await (await api(`/api/v1/schools/${SCHOOL_A}/inbox`)).json()) as { discovered: { deviceId: string }[] };
    expect(after.discovered.map((d) => d.deviceId)).toEqual(['ap-1']);

    await agent.pollNow();
    const tagged = await waitFor('tagged interface rows', async () => {
      const r = rows(await stack.query(`SELECT last("inOctets") FROM "interface" WHERE "school" = '${SCHOOL_A}' AND "device" = 'sw-1' GROUP BY "school", "county", "device", "kind"`));
      return r.length > 0 ? r : undefined;
    });
    expect(tagged[0]).toMatchObject({ school: SCHOOL_A, county: COUNTY, device: 'sw-1', kind: 'switch' });
  });

  it('a retired device is no longer polled: the agent gets the decision on its config topic', async () => {
    const systemPoints = async () => rows(await stack.query(`SELECT count("uptimeSec") FROM "system" WHERE "school" = '${SCHOOL_A}' AND "device" = 'ap-1'`))[0]?.count ?? 0;
    await agent.pollNow();
    await waitFor('ap-1 polled', async () => ((await systemPoints()) as number) > 0 ? true : undefined);
    const res = await api(`/api/v1/schools/${SCHOOL_A}/devices/gw-1/ap-1/retire`, { method: 'POST', body: JSON.stringify({ note: '拆除' }) });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { state: string }).state).toBe('retired');
    const skipped = agent.stats().notPolled;
    await waitFor('the agent to stop polling ap-1', async () => {
      await agent.pollNow();
      return agent.stats().notPolled > skipped ? true : undefined;
    });
    // From now on every poll stores sw-1 and nothing of ap-1. Polls that were already in flight
    // when the decision arrived may still land (how many depends on load: the earlier test's polls
    // can land late too), so count from after one more complete poll, not from before retiring.
    const swCount = async () => rows(await stack.query(`SELECT count("uptimeSec") FROM "system" WHERE "device" = 'sw-1'`))[0]?.count as number;
    const pollAndWait = async () => {
      const sw = await swCount();
      await agent.pollNow();
      await waitFor('sw-1 stored again', async () => ((await swCount()) > sw ? true : undefined));
    };
    await pollAndWait();
    const apNow = (await systemPoints()) as number;
    expect(apNow).toBeGreaterThan(0);
    await pollAndWait();
    await pollAndWait();
    expect(await systemPoints()).toBe(apNow);
  });
});
