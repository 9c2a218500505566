/**
 * A school gateway whose network is cut (no DISCONNECT: the broker publishes its last will) shows
 * as offline in the inventory from about when it was cut, and its repair ticket carries that time.
 * The will is composed when the agent connects, so its own timestamp is the connect time: taken at
 * face value, the inventory ignored it as older than the birth that followed, and the ticket was
 * dated to the connect.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../edge-agent/agent.ts';
import { parseAgentConfig } from '../../edge-agent/config.ts';
import type { Ticket } from '../../collector/tickets/store.ts';
import { agentConfigFor, startSimulatedSchoolGear, type SimulatedSchoolGear } from '../../simulator/snmp/school-gear.ts';
import { uniqueDbName } from '../setup/influx.ts';
import { SCHOOL_A, startStack, waitFor, type Stack } from './stack.ts';
import { startCuttableLink } from './cuttable-link.ts';

describe('a gateway cut off from the bureau', () => {
  let stack: Stack;
  let gear: SimulatedSchoolGear;
  let agent: RunningAgent;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'campus-offline-'));
    stack = await startStack({ pgAdminUrl: inject('postgresUrl'), influxUrl: inject('influxUrl'), influxDb: uniqueDbName('offline'), ticketOpenAfterMs: 1000, ticketSweepMs: 250 });
    gear = await startSimulatedSchoolGear({ schoolCode: SCHOOL_A, switches: 1, aps: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await agent?.stop();
    await gear?.stop();
    await stack?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('is offline from when it was cut, in the inventory and on its ticket', async () => {
    const link = await startCuttableLink(Number(new URL(stack.mqttUrl).port));
    const cred = await stack.inventory.addAgent({ schoolCode: SCHOOL_A, agentId: 'gw-1' });
    const base = agentConfigFor(gear, { agentId: 'gw-1', mqttUrl: link.url, password: cred.password, dataDir: join(dir, 'agent'), pollIntervalSec: 3600 });
    // the agent stays away once cut: its reconnect comes long after the test
    const cfg = parseAgentConfig({ ...base, mqtt: { url: link.url, password: cred.password, reconnectMinMs: 600_000, reconnectMaxMs: 600_000 } });
    agent = await startAgent(cfg, { logger: { info() {}, warn() {}, error() {} } });
    const online = await waitFor('the gateway online in the inventory', async () => {
      const a = await stack.inventory.getAgent(SCHOOL_A, 'gw-1');
      return a?.state === 'online' ? a : undefined;
    });

    const cutAt = Date.now();
    expect(cutAt).toBeGreaterThanOrEqual(online.stateSince!.getTime());
    await link.cut();

    const offline = await waitFor('the gateway offline in the inventory (its last will applied)', async () => {
      const a = await stack.inventory.getAgent(SCHOOL_A, 'gw-1');
      return a?.state === 'offline' ? a : undefined;
    });
    expect(offline.stateSince!.getTime()).toBeGreaterThanOrEqual(cutAt);

    const ticket = await waitFor('the gateway-offline ticket', async () => {
      const res = await fetch(`${stack.collector.url}/api/v1/tickets?school=${SCHOOL_A}`, { headers: { authorization: `Bearer ${stack.collector.apiToken}` } });
      const { tickets } = (await res.json()) as { tickets: Ticket[] };
      return tickets.find((t) => t.fault === 'gateway-offline' && t.agentId === 'gw-1');
    });
    expect(ticket.deviceId).toBeNull();
    expect(new Date(ticket.faultSince).getTime()).toBeGreaterThanOrEqual(cutAt);
  });
});
