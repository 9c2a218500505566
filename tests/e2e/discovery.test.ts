/**
 * Zero-configuration discovery, end to end: a simulated school with every device kind (ONVIF
 * cameras, class boards and displays over HTTP, Modbus UPS and sensor, SNMP switch and AP, and
 * devices no profile knows) is found by a real agent whose config holds only discovery targets and
 * a credentials file. Every device lands in the school's inbox with its profile and fingerprint;
 * the camera health ladder in InfluxDB tells powered off, wrong password, stream down, degraded and
 * healthy apart; an accepted camera is enrolled and its telemetry is tagged with school, county,
 * device and kind.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../edge-agent/agent.ts';
import { parseAgentConfig } from '../../edge-agent/config.ts';
import { startSimulatedSchool, type SchoolDevice, type SimulatedSchool } from '../../simulator/school.ts';
import { uniqueDbName } from '../setup/influx.ts';
import { COUNTY, rows, SCHOOL_A, startStack, waitFor, type Stack } from './stack.ts';

interface InboxDevice {
  agentId: string;
  deviceId: string;
  kind: string;
  protocol: string | null;
  address: string | null;
  profile: string | null;
  attributes: Record<string, string | number | boolean>;
  state: string;
}

const LADDER_STEP: Record<string, number> = { off: 0, 'wrong-password': 1, 'stream-down': 2, degraded: 3 };

describe('a simulated school discovered with zero configuration', () => {
  let stack: Stack;
  let school: SimulatedSchool;
  let agent: RunningAgent;
  let dir: string;
  let credentialsFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'campus-discovery-'));
    stack = await startStack({ pgAdminUrl: inject('postgresUrl'), influxUrl: inject('influxUrl'), influxDb: uniqueDbName('discovery') });
    // a random /22 on loopback of its own, so parallel runs do not meet
    const subnet: [number, number] = [64 + Math.floor(Math.random() * 180), Math.floor(Math.random() * 63) * 4];
    school = await startSimulatedSchool({ schoolCode: SCHOOL_A, cameras: 8, classrooms: 3, switches: 1, aps: 1, ups: 1, sensors: 1, faultyShare: 0.5, seed: 7, subnet });
    credentialsFile = school.writeCredentials(join(dir, 'credentials.yaml'));
    const cred = await stack.inventory.addAgent({ schoolCode: SCHOOL_A, agentId: 'gw-1' });
    const raw = school.agentConfig({ agentId: 'gw-1', mqttUrl: stack.mqttUrl, password: cred.password, dataDir: join(dir, 'agent'), credentialsFile, pollIntervalSec: 3600, scanIntervalSec: 3600 });
    // only identity, MQTT, and discovery targets + credentials: no device list
    expect(Object.keys(raw).sort()).toEqual(['agentId', 'dataDir', 'discovery', 'mqtt', 'pollIntervalSec', 'schoolCode']);
    agent = await startAgent(parseAgentConfig(raw), { logger: { info() {}, warn() {}, error() {} } });
  }, 60_000);
  afterAll(async () => {
    await agent?.stop();
    await school?.stop();
    await stack?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${stack.collector.url}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.collector.apiToken}`, ...(init.headers ?? {}) },
    });
  const inbox = async (): Promise<{ discovered: InboxDevice[] }> => (await (await api(`/api/v1/schools/${SCHOOL_A}/inbox`)).json()) as { discovered: InboxDevice[] };
  const at = (list: InboxDevice[], d: SchoolDevice): InboxDevice | undefined => list.find((x) => x.address === `${d.host}:${d.port}`);

  it('finds every device with its profile and fingerprint; tells the camera faults apart; enrolls a camera', async () => {
    const kinds = new Set(school.devices.map((d) => d.kind));
    expect([...kinds].sort()).toEqual(['ap', 'camera', 'class-board', 'display', 'sensor', 'switch', 'unknown', 'ups']);
    const box = await waitFor(
      'every simulated device in the inbox',
      async () => {
        const r = await inbox();
        return school.devices.every((d) => at(r.discovered, d)) ? r : undefined;
      },
      45_000,
    );
    expect(box.discovered).toHaveLength(school.devices.length);
    for (const d of school.devices) {
      const found = at(box.discovered, d)!;
      expect({ name: d.name, profile: found.profile, kind: found.kind, protocol: found.protocol, state: found.state }).toEqual({
        name: d.name,
        profile: d.expectProfile ?? null,
        kind: d.expectProfile ? d.kind : 'unknown',
        protocol: d.protocol,
        state: 'discovered',
      });
      // the raw fingerprint comes along, whatever the protocol
      expect(Object.keys(found.attributes).filter((k) => k !== 'source').length, d.name).toBeGreaterThan(0);
    }
    const byName = (name: string): InboxDevice => at(box.discovered, school.devices.find((d) => d.name === name)!)!;
    expect(byName('nas-1').attributes).toMatchObject({ server: 'nas-httpd/7.1' });
    expect(byName(`${SCHOOL_A}-mystery`).attributes).toMatchObject({ sysObjectID: '1.3.6.1.4.1.99998.7', sysDescr: 'Mystery appliance 1.0' });
    const healthyCam = school.devices.find((d) => d.kind === 'camera' && !d.fault)!;
    expect(at(box.discovered, healthyCam)!.attributes).toMatchObject({ manufacturer: expect.any(String), serial: healthyCam.serial, streamUri: expect.stringMatching(/^rtsp:/) });
    expect(byName('ups-1').attributes).toMatchObject({ unitId: 1 });
    // credentials stay on the gateway
    const password = /password: (.+)/.exec(await readFile(credentialsFile, 'utf8'))![1]!.trim();
    expect(JSON.stringify(box)).not.toContain(password);

    // after installation one camera loses power and one degrades; the health ladder tells them apart
    const cams = school.devices.filter((d) => d.kind === 'camera');
    expect(new Set(cams.map((c) => c.fault).filter(Boolean))).toEqual(new Set(['off', 'wrong-password', 'stream-down', 'degraded']));
    await school.applyLateFaults();
    const since = Date.now();
    // pollNow joins a poll already in flight, which may have begun before the faults: poll twice
    await agent.pollNow();
    await agent.pollNow();
    const want = new Map(cams.map((c) => [at(box.discovered, c)!.deviceId, c.fault ? LADDER_STEP[c.fault]! : 4]));
    let steps = new Map<string, number>();
    await waitFor('the latest camera_health step of every camera to show its fault', async () => {
      const r = rows(await stack.query(`SELECT last("step") FROM "camera_health" WHERE "school" = '${SCHOOL_A}' AND time >= ${since}ms GROUP BY "device"`));
      steps = new Map(r.map((x) => [x.device as string, x.last as number]));
      return [...want].every(([id, step]) => steps.get(id) === step) ? true : undefined;
    }).catch(() => undefined); // on timeout the assertion below shows the difference
    expect(steps).toEqual(want);
    // the camera that refuses our password says so in its health event, with the reason
    const refusing = at(box.discovered, cams.find((c) => c.fault === 'wrong-password')!)!.deviceId;
    const events = await waitFor('the refusing camera\'s health event', async () => {
      const r = rows(await stack.query(`SELECT "message" FROM "agent_event" WHERE "device" = '${refusing}' AND "type" = 'camera-health'`));
      return r.length > 0 ? r : undefined;
    });
    expect(events.at(-1)!.message).toBe('Camera answers but refuses our credentials (wrong user name or password)');
    // the Uniview cameras answer only behind HTTP Digest: the healthy ones got in with it
    const digestOnly = cams.filter((c) => c.expectProfile === 'uniview-ipc' && !c.fault).map((c) => at(box.discovered, c)!.deviceId);
    expect(digestOnly.length).toBeGreaterThan(0);
    const httpAuth = rows(await stack.query(`SELECT last("httpAuth") FROM "camera_health" WHERE "school" = '${SCHOOL_A}' GROUP BY "device"`));
    for (const id of digestOnly) expect(httpAuth.find((r) => r.device === id)?.last).toBe('digest-md5');

    // accepting a healthy camera enrolls it; its telemetry carries school, county, device and kind
    const id = at(box.discovered, healthyCam)!.deviceId;
    const ok = await api(`/api/v1/schools/${SCHOOL_A}/devices/gw-1/${id}/accept`, {
      method: 'POST',
      body: JSON.stringify({ placement: { building: '教学楼', position: { lon: 115.98, lat: 36.45 }, camera: { headingDeg: 180, hfovDeg: 90, mountHeightM: 3.5 } } }),
    });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { state: string }).state).toBe('enrolled');
    const accepted = Date.now();
    await agent.pollNow();
    const tagged = await waitFor('tagged camera_health rows', async () => {
      const r = rows(await stack.query(`SELECT last("step") FROM "camera_health" WHERE "device" = '${id}' AND time >= ${accepted}ms GROUP BY "school", "county", "device", "kind"`));
      return r.length > 0 ? r : undefined;
    });
    expect(tagged[0]).toMatchObject({ school: SCHOOL_A, county: COUNTY, device: id, kind: 'camera', last: 4 });
  }, 120_000);
});
