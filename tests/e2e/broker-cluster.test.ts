/**
 * Two brokers on one Redis, end to end (docs/decisions/0011): a real edge agent connected to one
 * broker, the real collector to the other, and the agent's readings stored in InfluxDB.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startAgent, type RunningAgent } from '../../edge-agent/agent.ts';
import { parseAgentConfig } from '../../edge-agent/config.ts';
import { agentConfigFor, startSimulatedSchoolGear, type SimulatedSchoolGear } from '../../simulator/snmp/school-gear.ts';
import { uniqueDbName } from '../setup/influx.ts';
import { startRedis, type RunningRedis } from '../setup/redis.ts';
import { rows, SCHOOL_A, startStack, waitFor, type Stack } from './stack.ts';

const quiet = { info() {}, warn() {}, error() {} };

describe('an agent on one broker, the collector on another', () => {
  let redis: RunningRedis;
  let stack: Stack;
  let gear: SimulatedSchoolGear;
  let agent: RunningAgent;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'campus-cluster-'));
    redis = await startRedis();
    // The stack's broker is the collector's; the agent gets the other one.
    stack = await startStack({ pgAdminUrl: inject('postgresUrl'), influxUrl: inject('influxUrl'), influxDb: uniqueDbName('cluster'), redisUrl: redis.url });
    const peer = await stack.startPeerBroker();
    gear = await startSimulatedSchoolGear({ schoolCode: SCHOOL_A, switches: 0, aps: 1, host: '127.0.0.1' });
    const cred = await stack.inventory.addAgent({ schoolCode: SCHOOL_A, agentId: 'gw-1' });
    const mqttUrl = `mqtt://127.0.0.1:${peer.mqttPort}`;
    // Polls are driven by the test (pollNow) so that the number of readings is known exactly.
    const config = parseAgentConfig(agentConfigFor(gear, { agentId: 'gw-1', mqttUrl, password: cred.password, dataDir: join(dir, 'agent'), pollIntervalSec: 3600 }));
    agent = await startAgent(config, { logger: quiet });
  });
  afterAll(async () => {
    await agent?.stop();
    await gear?.stop();
    await stack?.stop();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("stores the agent's readings and applies its sequence numbers", async () => {
    await waitFor('the agent connected to its broker', () => (agent.stats().connected ? true : undefined));
    await agent.pollNow();
    await agent.pollNow();
    const count = async () => rows(await stack.query(`SELECT count("uptimeSec") FROM "system" WHERE "school" = '${SCHOOL_A}'`))[0]?.count ?? 0;
    // The agent also polls once when it starts: one `system` point per poll, whichever it is.
    await waitFor('every poll stored', async () => ((await count()) === agent.stats().polls ? true : undefined));
    expect(agent.stats().polls).toBeGreaterThanOrEqual(2);
    const high = agent.stats().highWater;
    await waitFor('the collector applied everything', async () => ((await stack.inventory.getAgent(SCHOOL_A, 'gw-1'))?.lastSeq === high ? true : undefined));
    expect(stack.broker.stats().clients).toBe(1); // the collector alone: the agent is on the peer
    expect(stack.collector.ingest.status().counters.seqGaps).toBe(0);
  });
});
