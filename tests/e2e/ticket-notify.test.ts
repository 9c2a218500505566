/**
 * Ticket notifications through the whole collector: a school gateway is cut off from the bureau
 * (as in gateway-offline.test.ts), its repair ticket opens, and the equipment managers' WeCom group
 * robot — here a loopback server standing in for it — gets the message; a county team whose scope
 * is another county gets nothing; /api/v1/health counts what was sent.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../edge-agent/agent.ts';
import { parseAgentConfig } from '../../edge-agent/config.ts';
import { startRecordingServer, type RecordingServer } from '../../collector/notify/recording-server.ts';
import { agentConfigFor, startSimulatedSchoolGear, type SimulatedSchoolGear } from '../../simulator/snmp/school-gear.ts';
import { uniqueDbName } from '../setup/influx.ts';
import { SCHOOL_A, startStack, waitFor, type Stack } from './stack.ts';
import { startCuttableLink } from './cuttable-link.ts';

describe('ticket notifications from a running collector', () => {
  let stack: Stack;
  let gear: SimulatedSchoolGear;
  let agent: RunningAgent;
  let dir: string;
  let wecom: RecordingServer;
  let otherCounty: RecordingServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'campus-notify-'));
    wecom = await startRecordingServer();
    otherCounty = await startRecordingServer();
    stack = await startStack({
      pgAdminUrl: inject('postgresUrl'),
      influxUrl: inject('influxUrl'),
      influxDb: uniqueDbName('notify'),
      ticketOpenAfterMs: 1000,
      ticketSweepMs: 250,
      notify: {
        consoleUrl: 'http://console.test/',
        targets: [
          { name: '东昌府区装备群', url: `${wecom.url}/cgi-bin/webhook/send?key=k`, format: 'wecom', scope: { counties: ['371502'] } },
          { name: '阳谷县', url: otherCounty.url, format: 'json', scope: { counties: ['371521'] } },
        ],
      },
    });
    gear = await startSimulatedSchoolGear({ schoolCode: SCHOOL_A, switches: 1, aps: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await agent?.stop();
    await gear?.stop();
    await stack?.stop();
    await wecom?.close();
    await otherCounty?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("tells the county's group chat when a gateway goes offline, and counts it in /health", async () => {
    const link = await startCuttableLink(Number(new URL(stack.mqttUrl).port));
    const cred = await stack.inventory.addAgent({ schoolCode: SCHOOL_A, agentId: 'gw-1' });
    const base = agentConfigFor(gear, { agentId: 'gw-1', mqttUrl: link.url, password: cred.password, dataDir: join(dir, 'agent'), pollIntervalSec: 3600 });
    const cfg = parseAgentConfig({ ...base, mqtt: { url: link.url, password: cred.password, reconnectMinMs: 600_000, reconnectMaxMs: 600_000 } });
    agent = await startAgent(cfg, { logger: { info() {}, warn() {}, error() {} } });
    await waitFor('the gateway online in the inventory', async () => ((await stack.inventory.getAgent(SCHOOL_A, 'gw-1'))?.state === 'online' ? true : undefined));
    await link.cut();

    const [req] = await waitFor('the WeCom message about the gateway', () => (wecom.requests.length ? wecom.requests : undefined), 45_000);
    const body = JSON.parse(req!.body) as { msgtype: string; text: { content: string } };
    expect(body.msgtype).toBe('text');
    expect(body.text.content).toMatch(/^【报修工单】新工单 #\d+\n学校：东昌府区实验小学（3715020001）\n设备：网关 gw-1\n故障：学校网关离线\n故障开始：\d{4}-\d\d-\d\d \d\d:\d\d\n查看：http:\/\/console\.test\/#\/school\/3715020001$/);

    const health = await waitFor('the message counted in /health', async () => {
      const h = (await (await fetch(`${stack.collector.url}/api/v1/health`)).json()) as { notifications?: { sent: number; failed: number; dropped: number; targets: Array<{ name: string; sent: number }> } };
      return h.notifications?.sent === 1 ? h.notifications : undefined;
    });
    expect(health).toMatchObject({ sent: 1, failed: 0, dropped: 0 });
    expect(health.targets.map((t) => [t.name, t.sent])).toEqual([
      ['东昌府区装备群', 1],
      ['阳谷县', 0],
    ]);
    expect(otherCounty.requests).toEqual([]);
  });
});
