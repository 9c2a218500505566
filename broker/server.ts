/**
 * The bureau's MQTT broker: aedes 1.2 (MQTT 3.1.1) with agent/service authentication, the ACL of
 * auth.ts, a packet-size limit, per-client publish rate limiting, flow control towards slow
 * subscribers (flow-control.ts), and optional MQTT over WebSocket.
 */
import type { EventEmitter } from 'node:events';
import net from 'node:net';
import type { Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes, type AuthenticateError, type Client, type Connection, type PublishPacket } from 'aedes';
import { createServer as createAedesServer } from 'aedes-server-factory';
import { MAX_PAYLOAD_BYTES } from '../protocol/index.ts';
import {
  AGENT_CLIENT_ID_PREFIX,
  ConnackCode,
  checkConnect,
  checkOrphanWill,
  checkPublish,
  checkSubscribe,
  describePrincipal,
  type AuthBackend,
  type Principal,
} from './auth.ts';
import { ClusterThrottle, FLOW_TOPIC_FILTER } from './cluster-throttle.ts';
import { ConnackFirst, type DeliveringClient } from './connack-first.ts';
import { DEFAULT_HIGH_WATER_BYTES, FlowControl, type FlowControlStats } from './flow-control.ts';
import { PacketSizeGuard } from './packet-size-guard.ts';
import { openRedisState, type EmittedPacket, type RedisState } from './redis-state.ts';
import { TokenBucket } from './token-bucket.ts';

export interface BrokerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface BrokerOptions {
  host?: string;
  /** 0 = any free port. */
  mqttPort: number;
  /** MQTT over WebSocket (path-independent) when given; 0 = any free port. */
  wsPort?: number;
  auth: AuthBackend;
  logger?: BrokerLogger;
  /** Sustained publishes per second per client id; bursts up to twice that. Default 100. */
  maxPublishesPerSecond?: number;
  /**
   * Keep sessions, subscriptions, retained messages and queued QoS 1 messages in Redis instead of
   * memory, so that a broker restart loses nothing: the collector's persistent session (and what
   * agents published for it meanwhile) survives. `redis://[:password@]host:port[/db]` (or rediss://).
   */
  redisUrl?: string;
  /**
   * With `redisUrl`: route publishes through Redis too (mqemitter-redis), so that every broker on
   * the same Redis delivers to every subscriber, whichever broker it is connected to. Default true:
   * brokers sharing a Redis without it lose messages silently (docs/decisions/0011). false keeps
   * routing in this process: one broker that only wants its sessions to survive a restart.
   */
  cluster?: boolean;
  /**
   * Flow control: when agents' publishes not yet taken by every subscriber's connection (the
   * collector's) exceed this many bytes, agents that publish are paused (their socket is not read,
   * so PUBACKs wait) until the backlog is back at `backlogLowWaterBytes`. Default 8 MiB.
   */
  backlogHighWaterBytes?: number;
  /** Must be below the high-water mark; default a quarter of it (2 MiB). */
  backlogLowWaterBytes?: number;
  /**
   * A connection that leaves the broker's writes unread this long (no drain) is closed; 0 = never.
   * A persistent session's messages then wait in its offline queue. Default 10 s.
   */
  drainTimeoutMs?: number;
}

/** Counters since start, and the flow-control state (flow-control.ts). */
export interface BrokerStats extends FlowControlStats {
  /** Clients connected now. */
  clients: number;
  connectsAccepted: number;
  /** Every CONNACK with a non-zero return code (auth, client id, will, protocol version). */
  connectsRefused: number;
  /** Client publishes accepted (wills not included). */
  publishesIn: number;
  /** Publishes refused by the ACL (the client is disconnected, MQTT-3.3.5-2). */
  publishesRefused: number;
  /** Subscriptions answered with 0x80 Failure (MQTT 3.1.1 §3.9.3). */
  subscribesRefused: number;
  /** Publishes refused by the per-client rate limit (the client is disconnected). */
  rateLimited: number;
  /** Connections closed because a packet announced more than the size limit. */
  oversized: number;
}

export interface RunningBroker {
  mqttPort: number;
  wsPort?: number;
  stats(): BrokerStats;
  /**
   * Client ids of the persistent sessions this broker would queue a QoS 1 publish on `topic` for.
   * In a cluster a subscription made on another broker reaches this list a moment later, when
   * its announcement comes back through Redis (docs/decisions/0011).
   */
  sessionsSubscribedTo(topic: string): Promise<string[]>;
  close(): Promise<void>;
}

/** Largest MQTT Remaining Length accepted: a full payload plus room for topic, message id. */
export const MAX_PACKET_BYTES = MAX_PAYLOAD_BYTES + 1024;
const DEFAULT_RATE = 100;
const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

const silentLogger: BrokerLogger = { info() {}, warn() {}, error() {} };

/** Marks errors we raise ourselves so the clientError log does not repeat them. */
class RefusedError extends Error {}

interface RateState {
  bucket: TokenBucket;
  /** Publishes refused since the burst began; 0 = not in a burst. */
  refusedInBurst: number;
}

export async function startBroker(opts: BrokerOptions): Promise<RunningBroker> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.logger ?? silentLogger;
  const rate = opts.maxPublishesPerSecond ?? DEFAULT_RATE;
  const highWaterBytes = opts.backlogHighWaterBytes ?? DEFAULT_HIGH_WATER_BYTES;
  // Told to the other brokers once the cluster's announcements are set up (below).
  let announceThrottle: (throttled: boolean) => void = () => {};
  const flow = new FlowControl({
    highWaterBytes,
    lowWaterBytes: opts.backlogLowWaterBytes ?? Math.floor(highWaterBytes / 4),
    onThrottleChange: (throttled) => announceThrottle(throttled),
  });
  const stats: Omit<BrokerStats, 'clients' | keyof FlowControlStats> = {
    connectsAccepted: 0,
    connectsRefused: 0,
    publishesIn: 0,
    publishesRefused: 0,
    subscribesRefused: 0,
    rateLimited: 0,
    oversized: 0,
  };
  const principals = new WeakMap<Client, Principal>();
  const willTopics = new WeakMap<Client, string>();
  const connections = new WeakMap<Client, PacketSizeGuard>();
  /** Agents connected to this broker by client id, for publishes that come back from Redis. */
  const agentsHere = new Map<string, Client>();
  // Keyed by client id, not connection, so reconnecting does not refill the bucket.
  const rates = new Map<string, RateState>();

  const redis: RedisState | undefined = opts.redisUrl ? openRedisState(opts.redisUrl, opts.cluster ?? true, log) : undefined;
  const broker = await Aedes.createBroker({
    ...(redis ? { persistence: redis.persistence, ...(redis.mq ? { mq: redis.mq } : {}) } : {}),
    // MQTT 3.1.1 allows long client ids (§3.1.3.1); ours are `agent-<10 digits>-<up to 63>`.
    maxClientsIdLength: 128,
    drainTimeout: opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
  });

  // Every routed publish passes here (aedes calls broker.publish after the PUBACK, and for wills
  // and $SYS). Agents' publishes are counted until aedes calls back, which it does once every
  // subscriber's connection has taken the packet; services' publishes (commands) are never held.
  const route = broker.publish.bind(broker) as RouteFn;
  const flowControlled: RouteFn = (packet, client, done) => {
    if (typeof client === 'function' || !client || principals.get(client)?.kind !== 'agent') return route(packet, client, done);
    const conn = connections.get(client);
    const finished = flow.admit(packetBytes(packet), conn && !conn.destroyed ? conn : undefined);
    route(packet, client, (err) => {
      finished();
      done?.(err);
    });
  };
  (broker as unknown as { publish: RouteFn }).publish = flowControlled;

  // With the Redis emitter aedes calls back above once Redis has the publish; this broker's
  // subscribers get it later, from Redis. That part is counted here, so a slow subscriber still
  // pauses the agents on its own broker (and, through cluster-throttle.ts, those on the others).
  redis?.countLocalDeliveries((packet: EmittedPacket) => {
    // Only agents' publishes, as above; agents alone have `agent-` client ids (auth.ts).
    if (!packet.clientId?.startsWith(AGENT_CLIENT_ID_PREFIX)) return undefined;
    const local = agentsHere.get(packet.clientId);
    const conn = local && connections.get(local);
    return flow.admit(packetBytes(packet), conn && !conn.destroyed ? conn : undefined);
  });
  // ...and a broker above its mark has every other broker pause its agents too (cluster-throttle.ts).
  const clusterThrottle = redis?.mq
    ? new ClusterThrottle({
        brokerId: broker.id,
        announce: (topic, payload) => broker.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false } as PublishPacket, () => {}),
        onElsewhereChange: (brokers) => flow.setThrottledElsewhere(brokers),
        log,
      })
    : undefined;
  if (clusterThrottle) {
    announceThrottle = (throttled) => clusterThrottle.localChanged(throttled);
    await new Promise<void>((resolve) =>
      broker.subscribe(
        FLOW_TOPIC_FILTER,
        (packet, done) => {
          clusterThrottle.received(packet.topic, packet.payload);
          done();
        },
        () => resolve(),
      ),
    );
  }
  // Persistence failures (Redis gone for good) come as 'error' events; unheard they end the process.
  (broker as unknown as EventEmitter).on('error', (err: Error) => log.error({ err: err.message }, 'broker error (persistence)'));

  const connackFirst = new ConnackFirst();
  broker.preConnect = (client, packet, callback) => {
    connackFirst.hold(client as unknown as DeliveringClient);
    // The will topic is only visible here; authenticate() checks it.
    if (packet.will) willTopics.set(client, packet.will.topic);
    callback(null, true);
  };

  broker.authenticate = (client, username, password, done) => {
    const refuse = (returnCode: ConnackCode, reason: string) => {
      log.warn({ clientId: client.id, username, returnCode, reason }, 'connect refused');
      done(Object.assign(new RefusedError(reason), { returnCode }) as unknown as AuthenticateError, null);
    };
    // MQTT-3.1.2-19..22: username and password are optional on the wire; we require both.
    if (username === undefined) return refuse(ConnackCode.notAuthorized, 'anonymous connect');
    if (password === undefined) return refuse(ConnackCode.badUsernameOrPassword, 'no password');
    opts.auth.authenticate(username, password.toString('utf8')).then(
      (principal) => {
        if (!principal) return refuse(ConnackCode.badUsernameOrPassword, 'unknown user or wrong password');
        const decision = checkConnect(principal, { username, clientId: client.id, willTopic: willTopics.get(client) });
        if (!decision.ok) return refuse(decision.returnCode, decision.reason);
        principals.set(client, principal);
        done(null, true);
      },
      (err: unknown) => {
        log.error({ clientId: client.id, username, err: (err as Error).message }, 'auth backend failed');
        refuse(ConnackCode.serverUnavailable, 'auth backend unavailable');
      },
    );
  };

  function rateState(clientId: string): RateState {
    let state = rates.get(clientId);
    if (!state) {
      state = { bucket: new TokenBucket(rate, rate * 2), refusedInBurst: 0 };
      rates.set(clientId, state);
    }
    return state;
  }

  broker.authorizePublish = (client, packet, callback) => {
    if (!client) {
      // A will published after its client vanished (restart / cluster).
      const decision = checkOrphanWill(packet.topic);
      return callback(decision.ok ? null : new RefusedError(decision.reason));
    }
    const principal = principals.get(client);
    // aedes runs the will through here too when the client drops (the same packet object it stored).
    const isWill = packet === (client as Client & { will?: unknown }).will;
    const decision = principal ? checkPublish(principal, { topic: packet.topic, retain: packet.retain }) : { ok: false as const, reason: 'not authenticated' };
    if (!decision.ok) {
      stats.publishesRefused++;
      log.warn({ clientId: client.id, principal: principal && describePrincipal(principal), topic: packet.topic, reason: decision.reason }, 'publish refused');
      return callback(new RefusedError(decision.reason));
    }
    if (isWill) return callback(null);
    const state = rateState(client.id);
    if (!state.bucket.take()) {
      stats.rateLimited++;
      if (state.refusedInBurst++ === 0) {
        log.warn({ clientId: client.id, topic: packet.topic, maxPublishesPerSecond: rate }, 'publish rate limit exceeded; refusing until the client slows down');
      }
      return callback(new RefusedError('publish rate limit exceeded'));
    }
    if (state.refusedInBurst > 0) {
      log.info({ clientId: client.id, refused: state.refusedInBurst }, 'publish rate back within limit');
      state.refusedInBurst = 0;
    }
    stats.publishesIn++;
    callback(null);
  };

  broker.authorizeSubscribe = (client, sub, callback) => {
    const principal = principals.get(client);
    const decision = principal ? checkSubscribe(principal, sub.topic) : { ok: false as const, reason: 'not authenticated' };
    if (decision.ok) return callback(null, sub);
    stats.subscribesRefused++;
    log.warn({ clientId: client.id, principal: principal && describePrincipal(principal), topic: sub.topic, reason: decision.reason }, 'subscribe refused');
    // null subscription = SUBACK 0x80 for this filter, the connection stays (MQTT-3.9.3).
    callback(null, null);
  };

  broker.on('client', (client) => {
    if (principals.get(client)?.kind === 'agent') agentsHere.set(client.id, client);
  });
  broker.on('clientDisconnect', (client) => {
    if (agentsHere.get(client.id) === client) agentsHere.delete(client.id);
  });
  broker.on('connackSent', (packet, client) => {
    connackFirst.connackSent(client, packet.returnCode === 0);
    if (packet.returnCode === 0) stats.connectsAccepted++;
    else stats.connectsRefused++;
  });
  broker.on('clientError', (client, err) => {
    if (!(err instanceof RefusedError)) log.warn({ clientId: client.id, err: err.message }, 'client error');
  });
  broker.on('connectionError', (client, err) => {
    if (!(err instanceof RefusedError)) log.warn({ clientId: client.id, err: err.message }, 'connection error');
  });

  // Every raw socket, so close() can end connections that never sent CONNECT.
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  function handle(conn: Duplex, req?: Parameters<Aedes['handle']>[1]): Client {
    const guarded = new PacketSizeGuard(conn, MAX_PACKET_BYTES, (announced) => {
      stats.oversized++;
      log.warn({ clientId: client.id, announced, limit: MAX_PACKET_BYTES }, 'oversized packet; connection closed');
    });
    const client = broker.handle(guarded as Connection, req);
    connections.set(client, guarded);
    guarded.once('close', () => flow.forget(guarded));
    return client;
  }

  // No Nagle: MQTT is small request/answer packets (PUBLISH → PUBACK, commands), and with Nagle's
  // delayed-ACK interplay each QoS 1 round trip took ~40 ms (200 sequential publishes: 8.8 s without, 42 ms with).
  const tcpServer = net.createServer({ noDelay: true }, (socket) => handle(socket));
  tcpServer.on('connection', track);
  const mqttPort = await listen(tcpServer, host, opts.mqttPort);

  let wsServer: HttpServer | undefined;
  let wsPort: number | undefined;
  if (opts.wsPort !== undefined) {
    // The factory only calls `.handle`, so we hand it our guarded handle instead of the broker.
    wsServer = createAedesServer({ handle } as unknown as Aedes, { ws: true }) as HttpServer;
    wsServer.on('connection', track);
    wsPort = await listen(wsServer, host, opts.wsPort);
  }

  // Forget rate state of clients whose bucket has refilled: nothing would be lost. And say once a
  // minute whether flow control paused agents (per pause it would flood the log under load).
  let reported = flow.stats();
  const sweep = setInterval(() => {
    for (const [id, state] of rates) if (state.bucket.isFull()) rates.delete(id);
    const now = flow.stats();
    if (now.pauses > reported.pauses) {
      log.info(
        { pauses: now.pauses - reported.pauses, episodes: now.throttleEpisodes - reported.throttleEpisodes, publishersPaused: now.publishersPaused, backlogBytes: now.backlogBytes, highWaterBytes },
        'flow control paused agents in the last minute: the subscribers (collector) did not keep up',
      );
    }
    reported = now;
  }, 60_000);
  sweep.unref();

  log.info({ host, mqttPort, wsPort }, 'broker listening');

  let closing: Promise<void> | undefined;
  return {
    mqttPort,
    wsPort,
    stats: () => ({ clients: broker.connectedClients, ...stats, ...flow.stats() }),
    async sessionsSubscribedTo(topic) {
      // aedes' typings leave its persistence out; subscriptionsByTopic is part of its contract.
      const persistence = (broker as unknown as { persistence: { subscriptionsByTopic(t: string): Promise<Array<{ clientId: string }>> } }).persistence;
      const subs = await persistence.subscriptionsByTopic(topic);
      return [...new Set(subs.map((s) => s.clientId))];
    },
    close() {
      closing ??= (async () => {
        clearInterval(sweep);
        clusterThrottle?.close();
        const closed = [closeServer(tcpServer), wsServer ? closeServer(wsServer) : Promise.resolve()];
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await Promise.all(closed);
        await redis?.close();
      })();
      return closing;
    },
  };
}

/** aedes' publish as it calls it itself: with the publishing client (null for wills of vanished ones), or without. */
type RouteFn = (packet: PublishPacket, client: Client | null | ((err?: Error) => void), done?: (err?: Error) => void) => void;

/** What a publish occupies while queued: its payload and topic. */
function packetBytes(packet: Pick<PublishPacket, 'payload' | 'topic'>): number {
  const payload = typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length;
  return payload + packet.topic.length;
}

function listen(server: net.Server | HttpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

function closeServer(server: net.Server | HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
