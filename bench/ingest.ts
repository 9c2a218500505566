/**
 * End-to-end ingest throughput: simulated agents (real MQTT clients, in a worker thread) → our
 * broker → our collector → InfluxDB, against InfluxDB's raw `/write` rate on the same server.
 *
 *   npm run bench:ingest -- [--agents 20] [--schools 4] [--messages 30] [--readings 500]
 *                           [--inflight 4] [--high-water-mb 8] [--no-results]
 *
 * Starts a private influxd and a private PostgreSQL for the inventory (not PGlite: production uses PostgreSQL, and an in-process PGlite would add its ~700 MB to the RSS figure and its queries to the collector's thread), our broker and our collector, all
 * on 127.0.0.1 free ports, and stops every one of them at the end, also on error. No SNMP: the
 * agents publish pre-built interface readings, so this measures the ingest path only.
 * Exits non-zero when anything fails or a single reading is missing.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir, totalmem, cpus, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { IPublishPacket } from 'mqtt';
import { DEFAULT_HIGH_WATER_BYTES } from '../broker/flow-control.ts';
import { startBroker, type RunningBroker } from '../broker/server.ts';
import { openStore, startCollector, type RunningCollector } from '../collector/collector.ts';
import type { Logger } from '../collector/log.ts';
import { influxQuery } from '../collector/telemetry/influx-query.ts';
import { readingToLine } from '../collector/telemetry/line-protocol.ts';
import { startInfluxProcess, type ManagedInflux } from '../tests/setup/influx.ts';
import { createTestDatabase, dropTestDatabase, startPostgres, type RunningPostgres } from '../tests/setup/postgres.ts';
import { assertLoopback, measureRawWrites, type WriteBenchResult } from './influx-raw.ts';
import { reading, totalReadings, type BenchAgent, type LoadShape } from './ingest-load.ts';
import type { AgentsWorkerInput, AgentsWorkerMessage } from './ingest-agents.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(HERE, 'RESULTS.md');
const INFLUX_DB = 'campus';
const RAW_BATCH = 5000;
const COLLECTOR_CONCURRENCY = 2; // openSink's default, what the collector runs with
const MAX_PUBLISHES_PER_SECOND = 10_000; // per client; far above what one agent reaches here
const DEADLINE_MS = 150_000;

const { values: args } = parseArgs({
  options: {
    agents: { type: 'string', default: '20' },
    schools: { type: 'string', default: '4' },
    messages: { type: 'string', default: '30' },
    readings: { type: 'string', default: '500' },
    inflight: { type: 'string', default: '4' },
    /** The broker's flow-control high-water mark; a huge value (1000000) turns flow control off for a comparison. */
    'high-water-mb': { type: 'string', default: String(DEFAULT_HIGH_WATER_BYTES / 1024 / 1024) },
    'no-results': { type: 'boolean', default: false },
    /** Writes a CPU profile of the main thread during the ingest phase and prints the top functions. */
    profile: { type: 'string' },
  },
});

function int(name: keyof typeof args, v: string | boolean | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
  return n;
}

const shape: LoadShape = {
  agents: int('agents', args.agents),
  schools: int('schools', args.schools),
  devicesPerAgent: 4,
  interfacesPerDevice: 24,
  messagesPerAgent: int('messages', args.messages),
  readingsPerMessage: int('readings', args.readings),
  inflightPerClient: int('inflight', args.inflight),
  baseTs: Math.floor(Date.now() / 3_600_000) * 3_600_000 - 6 * 3_600_000,
};
const expected = totalReadings(shape);
const highWaterBytes = int('high-water-mb', args['high-water-mb']) * 1024 * 1024;
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const deadline = Date.now() + DEADLINE_MS;
const loadAtStart = loadavg()[0]!;
const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);

// ---- the cast: regions, schools, agents ----

const CITY = { code: '371500', name: '聊城市' };
const COUNTIES = [
  { code: '371502', name: '东昌府区' },
  { code: '371521', name: '阳谷县' },
];

function schoolsOf(n: number) {
  return Array.from({ length: n }, (_, i) => {
    const county = COUNTIES[i % COUNTIES.length]!;
    return { code: `${county.code}${String(i + 1).padStart(4, '0')}`, countyCode: county.code, name: `基准测试学校${i + 1}号` };
  });
}

/** Logger for broker and collector: warnings and errors go to stderr and are counted. */
function countingLogger(name: string, counts: { warn: number; error: number }): Logger {
  const out = (level: 'warn' | 'error', obj: object, msg?: string) => {
    counts[level]++;
    console.error(`[${name}] ${level}: ${msg ?? ''} ${JSON.stringify(obj)}`);
  };
  return { info() {}, warn: (o, m) => out('warn', o, m), error: (o, m) => out('error', o, m) };
}

/** The worker's messages as awaitable events; an error message or an exit rejects every wait. */
function agentsWorker(input: AgentsWorkerInput) {
  // A worker does not inherit tsx's loader: register it in the worker before importing the .ts entry.
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const entry = JSON.stringify(new URL('./ingest-agents.ts', import.meta.url).href);
  const worker = new Worker(`import(${tsx}).then((m) => { m.register(); return import(${entry}); })`, { eval: true, workerData: input });
  let failure: Error | undefined;
  const waiters: { type: AgentsWorkerMessage['type']; resolve(m: AgentsWorkerMessage): void; reject(e: Error): void }[] = [];
  const fail = (e: Error) => {
    failure ??= e;
    for (const w of waiters.splice(0)) w.reject(e);
  };
  worker.on('message', (m: AgentsWorkerMessage) => {
    if (m.type === 'error') return fail(new Error(`agents worker: ${m.message}`));
    for (const w of waiters.filter((x) => x.type === m.type)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(m);
    }
  });
  worker.on('error', (e) => fail(e));
  worker.on('exit', (code) => fail(new Error(`agents worker exited (${code})`)));
  return {
    worker,
    next<T extends AgentsWorkerMessage['type']>(type: T): Promise<Extract<AgentsWorkerMessage, { type: T }>> {
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => waiters.push({ type, resolve: resolve as (m: AgentsWorkerMessage) => void, reject }));
    },
    send: (m: 'go' | 'stop') => worker.postMessage(m),
    failed: () => failure,
  };
}

// ---- one run ----

interface IngestFigures {
  seconds: number;
  readingsPerSecond: number;
  messagesPerSecond: number;
  tDiscovered: number;
  tPublished: number;
  tHandled: number;
  tWritten: number;
  handleBusySeconds: number;
  mainElu: number;
  processCpuCores: number;
  /** RSS with everything started and the agents' payloads encoded, before the first publish. */
  readyRssMb: number;
  peakRssIngestMb: number;
  /** Main thread's JS heap and Buffer memory when RSS peaked. */
  peakHeapMb: number;
  peakBuffersMb: number;
  influxRequests: number;
  payloadMb: number;
}

async function run(): Promise<void> {
  const cleanups: { name: string; fn: () => Promise<unknown> }[] = [];
  const cleanup = async () => {
    for (const c of cleanups.reverse().splice(0)) {
      await c.fn().catch((e: unknown) => console.error(`cleanup ${c.name}: ${(e as Error).message}`));
    }
  };
  const onSignal = (sig: NodeJS.Signals) => {
    console.error(`${sig}: stopping everything`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const t = performance.now();
    const [influx, pgServer] = await Promise.all([startInfluxProcess(), startPostgres()]);
    cleanups.push({ name: 'influxd', fn: () => (influx as ManagedInflux).stop() });
    cleanups.push({ name: 'postgres', fn: () => (pgServer as RunningPostgres).stop() });
    assertLoopback(influx.url);
    const ping = await fetch(`${influx.url}/ping`);
    const influxVersion = ping.headers.get('x-influxdb-version') ?? 'unknown';
    const databaseUrl = await createTestDatabase(pgServer.url);
    const dataDir = await mkdtemp(join(tmpdir(), 'campus-bench-ingest-'));
    cleanups.push({ name: 'data dir', fn: () => rm(dataDir, { recursive: true, force: true }) });
    const store = await openStore({ databaseUrl, dataDir });
    cleanups.push({ name: 'inventory', fn: async () => {
      await store.db.close();
      await dropTestDatabase(pgServer.url, databaseUrl);
    } });

    await store.inventory.upsertRegion({ code: CITY.code, name: CITY.name, level: 'city' });
    for (const c of COUNTIES) await store.inventory.upsertRegion({ code: c.code, name: c.name, level: 'county', parentCode: CITY.code });
    const schools = schoolsOf(shape.schools);
    for (const s of schools) {
      await store.inventory.upsertSchool({ code: s.code, name: s.name, countyCode: s.countyCode, type: 'primary', ownership: 'public', studentCount: 1000, staffCount: 80 });
    }
    const agents: BenchAgent[] = await Promise.all(
      Array.from({ length: shape.agents }, async (_, i) => {
        const s = schools[i % schools.length]!;
        const agentId = `gw-${Math.floor(i / schools.length) + 1}`;
        const cred = await store.inventory.addAgent({ schoolCode: s.code, agentId });
        return { schoolCode: s.code, countyCode: s.countyCode, agentId, password: cred.password };
      }),
    );

    const logCounts = { warn: 0, error: 0 };
    const broker: RunningBroker = await startBroker({
      host: '127.0.0.1',
      mqttPort: 0,
      auth: { authenticate: (u, p) => store.inventory.verifyCredential(u, p) },
      logger: countingLogger('broker', logCounts),
      maxPublishesPerSecond: MAX_PUBLISHES_PER_SECOND,
      backlogHighWaterBytes: highWaterBytes,
    });
    cleanups.push({ name: 'broker', fn: () => broker.close() });
    const mqttUrl = `mqtt://127.0.0.1:${broker.mqttPort}`;
    const collector: RunningCollector = await startCollector({
      host: '127.0.0.1',
      httpPort: 0,
      mqttUrl,
      mqttUsername: 'collector',
      influxUrl: influx.url,
      influxDb: INFLUX_DB,
      influxConcurrency: COLLECTOR_CONCURRENCY,
      dataDir,
      logger: countingLogger('collector', logCounts),
      store,
      brokerStats: () => ({ ...broker.stats() }),
    });
    cleanups.push({ name: 'collector', fn: () => collector.close() });
    if (!collector.ingest.status().connected) throw new Error('collector did not connect to the broker');

    // Time spent in the collector's per-message handler (from delivery to PUBACK decision).
    const ingestClient = (collector.ingest as unknown as { client: { handleMessage: (p: IPublishPacket, done: (e?: Error) => void) => void } }).client;
    const original = ingestClient.handleMessage;
    let handleBusyMs = 0;
    ingestClient.handleMessage = (packet, done) => {
      const start = performance.now();
      original(packet, (err) => {
        handleBusyMs += performance.now() - start;
        done(err);
      });
    };

    const w = agentsWorker({ mqttUrl, shape, agents });
    cleanups.push({ name: 'agents', fn: async () => {
      if (!w.failed()) {
        w.send('stop');
        await Promise.race([w.next('stopped'), sleep(5000)]).catch(() => {});
      }
      await w.worker.terminate();
    } });
    const ready = await w.next('ready');
    const setupSeconds = (performance.now() - t) / 1000;
    console.log(`set up in ${setupSeconds.toFixed(1)} s: influxd ${influxVersion} ${influx.url}, PostgreSQL ${new URL(pgServer.url).host}, broker ${mqttUrl}, collector ${collector.url}`);
    console.log(`load: ${shape.agents} agents in ${shape.schools} schools, ${shape.messagesPerAgent} telemetry messages × ${shape.readingsPerMessage} readings each = ${expected} readings, ${mb(ready.payloadBytes)} MB of JSON (encoded in ${Math.round(ready.encodeMs)} ms, before the clock)`);

    // ---- ingest ----
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    const profiler = args.profile ? await startProfiler() : undefined;
    const published = w.next('published');
    w.send('go');
    const atReady = process.memoryUsage();
    let peak = atReady;
    let tHandled = 0;
    let tWritten = 0;
    for (;;) {
      const f = w.failed();
      if (f) throw f;
      const sinkStats = collector.sink.stats();
      const ing = collector.ingest.status().counters;
      const rejected = Object.values(ing.rejected).reduce((a, b) => a + b, 0);
      if (rejected > 0 || sinkStats.linesRejected > 0) {
        throw new Error(`readings refused: ingest ${JSON.stringify(ing.rejected)}, sink rejected ${sinkStats.linesRejected} (${sinkStats.lastError ?? ''})`);
      }
      if (!tHandled && ing.readingsAccepted >= expected) tHandled = now();
      if (sinkStats.linesWritten >= expected) {
        tWritten = now();
        break;
      }
      if (Date.now() > deadline) throw new Error(`timed out: ${sinkStats.linesWritten}/${expected} lines written, ${ing.readingsAccepted} readings accepted`);
      const m = process.memoryUsage();
      if (m.rss > peak.rss) peak = m;
      await sleep(5);
    }
    const elu: EventLoopUtilization = performance.eventLoopUtilization(elu0);
    if (profiler && args.profile) await profiler.stop(args.profile);
    const cpu = process.cpuUsage(cpu0);
    const pub = await published;
    const seconds = (tWritten - pub.t0) / 1000;
    const [series] = await influxQuery({ url: influx.url, db: INFLUX_DB }, 'SELECT count(ifHCInOctets) FROM interface');
    const stored = (series?.values[0]?.[1] as number | undefined) ?? 0;
    if (stored !== expected) throw new Error(`InfluxDB holds ${stored} interface points, expected ${expected}`);
    const brokerStats = broker.stats();
    if (brokerStats.rateLimited > 0 || brokerStats.publishesRefused > 0) throw new Error(`broker refused publishes: ${JSON.stringify(brokerStats)}`);
    const sinkStats = collector.sink.stats() as ReturnType<RunningCollector['sink']['stats']> & { requests?: number };
    const ours: IngestFigures = {
      seconds,
      readingsPerSecond: expected / seconds,
      messagesPerSecond: (shape.agents * shape.messagesPerAgent) / seconds,
      tDiscovered: (pub.tDiscovered - pub.t0) / 1000,
      tPublished: (pub.tPublished - pub.t0) / 1000,
      tHandled: (tHandled - pub.t0) / 1000,
      tWritten: seconds,
      handleBusySeconds: handleBusyMs / 1000,
      mainElu: elu.utilization,
      processCpuCores: (cpu.user + cpu.system) / 1e6 / ((now() - pub.t0) / 1000),
      readyRssMb: mb(atReady.rss),
      peakRssIngestMb: mb(peak.rss),
      peakHeapMb: mb(peak.heapUsed),
      peakBuffersMb: mb(peak.arrayBuffers),
      influxRequests: sinkStats.requests ?? sinkStats.batchesWritten,
      payloadMb: mb(ready.payloadBytes),
    };

    // Stop the load before the raw measurement so only influxd works.
    w.send('stop');
    await w.next('stopped');

    // ---- raw /write, same server, the very lines the collector wrote ----
    const perAgent = shape.messagesPerAgent * shape.readingsPerMessage;
    const line = (i: number): string => {
      const a = Math.floor(i / perAgent);
      const r = i % perAgent;
      const agent = agents[a]!;
      return readingToLine(reading(shape, a, Math.floor(r / shape.readingsPerMessage), r % shape.readingsPerMessage), {
        school: agent.schoolCode,
        agent: agent.agentId,
        county: agent.countyCode,
      });
    };
    const raw: Record<number, WriteBenchResult> = {};
    for (const concurrency of [1, COLLECTOR_CONCURRENCY]) {
      raw[concurrency] = await measureRawWrites({ url: influx.url, db: `bench_raw_c${concurrency}_${Date.now()}`, points: expected, batch: RAW_BATCH, concurrency, line });
    }
    const maxRssMb = Math.round(process.resourceUsage().maxRSS / 1024);

    // ---- report ----
    const rawAt = (c: number) => raw[c]!.pointsPerSecond;
    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    const rows: [string, string, string, string][] = [
      ['path', 'points/s', 'seconds', 'ours ÷ this'],
      ['ours: MQTT → broker → collector → InfluxDB', fmt(ours.readingsPerSecond), ours.seconds.toFixed(2), '1.00'],
      ['raw /write, concurrency 1', fmt(rawAt(1)), raw[1]!.seconds.toFixed(2), (ours.readingsPerSecond / rawAt(1)).toFixed(2)],
      [`raw /write, concurrency ${COLLECTOR_CONCURRENCY}`, fmt(rawAt(COLLECTOR_CONCURRENCY)), raw[COLLECTOR_CONCURRENCY]!.seconds.toFixed(2), (ours.readingsPerSecond / rawAt(COLLECTOR_CONCURRENCY)).toFixed(2)],
    ];
    const table = markdownTable(rows);
    const timeline = [
      `all discovery messages acknowledged by the broker: ${ours.tDiscovered.toFixed(2)} s`,
      `all telemetry publishes acknowledged by the broker: ${ours.tPublished.toFixed(2)} s`,
      `all readings handled by the collector (in the sink buffer): ${ours.tHandled.toFixed(2)} s`,
      `all lines confirmed written by InfluxDB (204): ${ours.tWritten.toFixed(2)} s; count query: ${stored}`,
      `collector message handler busy: ${ours.handleBusySeconds.toFixed(2)} s of ${ours.seconds.toFixed(2)} s (${((100 * ours.handleBusySeconds) / ours.seconds).toFixed(0)} %)`,
      `main thread (broker + collector) event-loop utilisation: ${(ours.mainElu * 100).toFixed(0)} %; whole node process: ${ours.processCpuCores.toFixed(2)} cores`,
      `${fmt(ours.messagesPerSecond)} telemetry messages/s, ${ours.influxRequests} /write requests from the collector`,
      `RSS before the first publish (servers up, agents' payloads encoded): ${ours.readyRssMb} MB`,
      `peak RSS: ${ours.peakRssIngestMb} MB during ingest (sampled every 5 ms; main thread then held ${ours.peakHeapMb} MB JS heap, ${ours.peakBuffersMb} MB Buffers), ${maxRssMb} MB maxRSS for the whole run (process.resourceUsage, worker included)`,
      `broker: ${brokerStats.publishesIn} publishes in, ${brokerStats.rateLimited} rate-limited (limit ${MAX_PUBLISHES_PER_SECOND}/s per client); flow control: backlog for the collector at most ${mb(brokerStats.backlogPeakBytes)} MB (high-water mark ${mb(highWaterBytes)} MB), agents paused ${brokerStats.pauses} times in ${brokerStats.throttleEpisodes} episodes; log lines: ${logCounts.warn} warnings, ${logCounts.error} errors`,
    ];
    console.log(`\n${table}\n`);
    for (const l of timeline) console.log(`  ${l}`);

    if (!args['no-results']) {
      const block = resultsBlock({ influxVersion, table, timeline });
      await updateResults(block);
      console.log(`\nbench/RESULTS.md updated`);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

/** CPU profile of this thread via the inspector; `stop` writes it and prints the heaviest functions by self time. */
async function startProfiler() {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return {
    async stop(file: string) {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      await writeFile(file, JSON.stringify(profile));
      const self = new Map<string, number>();
      const byId = new Map(profile.nodes.map((n) => [n.id, n]));
      const dt = new Map<number, number>();
      profile.samples?.forEach((id, i) => dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas?.[i] ?? 0)));
      let total = 0;
      for (const [id, us] of dt) {
        const n = byId.get(id)!;
        const cf = n.callFrame;
        const key = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*\/(node_modules\/)?/, '')}:${cf.lineNumber + 1}`;
        self.set(key, (self.get(key) ?? 0) + us);
        total += us;
      }
      console.log(`CPU profile written to ${file}; top self time of ${(total / 1e6).toFixed(2)} s:`);
      for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`);
    },
  };
}

function markdownTable(rows: string[][]): string {
  const [head, ...body] = rows;
  return [`| ${head!.join(' | ')} |`, `|${head!.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`, ...body.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const START = '<!-- bench:ingest:start -->';
const END = '<!-- bench:ingest:end -->';

function resultsBlock(r: { influxVersion: string; table: string; timeline: string[] }): string {
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return `${START}
## End-to-end ingest (\`npm run bench:ingest\`)

One run's numbers (${date}), as measured; not targets. Runs on a shared machine differ a lot (see "Spread" below).

Machine: ${cpus().length} CPUs (nproc), ${(totalmem() / 1024 ** 3).toFixed(1)} GiB memory, Node ${process.version}, influxd ${r.influxVersion}; everything on 127.0.0.1. Load average when the run started: ${loadAtStart.toFixed(2)} (other work on the machine competes for the same cores).
Set-up: private influxd, private PostgreSQL for the inventory (not PGlite: production uses PostgreSQL, and an in-process PGlite would add its ~700 MB to the RSS figure and its queries to the collector's thread), our broker (\`maxPublishesPerSecond\` ${MAX_PUBLISHES_PER_SECOND} per client, \`backlogHighWaterBytes\` ${mb(highWaterBytes)} MiB) and collector (\`influxConcurrency\` ${COLLECTOR_CONCURRENCY}, batches of 5,000 lines) in the main thread; the agents are real mqtt.js clients in a worker thread of the same process.
Load: ${shape.agents} agents in ${shape.schools} schools, ${shape.devicesPerAgent} devices × ${shape.interfacesPerDevice} interfaces each; one \`discovery\` message, then ${shape.messagesPerAgent} \`telemetry\` messages × ${shape.readingsPerMessage} readings per agent (measurement \`interface\`, tags ifIndex/ifName, 6 metrics) = ${expected.toLocaleString('en-US')} readings, QoS 1, at most ${shape.inflightPerClient} unacknowledged publishes per client. No SNMP polling: the payloads are built before the clock starts, so this measures the ingest path alone.
Ours = readings counted in InfluxDB ÷ time from the first publish to the last write confirmed by InfluxDB. Raw = the same lines posted straight to \`/write\` on the same server (\`measureRawWrites\`, batches of ${RAW_BATCH}).

${r.table}

${r.timeline.map((l) => `- ${l}`).join('\n')}
${END}`;
}

async function updateResults(block: string): Promise<void> {
  const text = existsSync(RESULTS) ? await readFile(RESULTS, 'utf8') : '# Benchmark results\n';
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  const next = start >= 0 && end > start ? text.slice(0, start) + block + text.slice(end + END.length) : `${text.trimEnd()}\n\n${block}\n`;
  await writeFile(RESULTS, next);
}

try {
  await run();
} catch (err) {
  console.error(`bench:ingest FAILED: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
}
