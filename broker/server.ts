/**
 * The bureau's MQTT broker: aedes 1.2 (MQTT 3.1.1) with agent/service authentication, the ACL of
 * auth.ts, a packet-size limit, per-client publish rate limiting, and optional MQTT over WebSocket.
 */
import net from 'node:net';
import { createRequire } from 'node:module';
import type { Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { Aedes, type AuthenticateError, type Client, type Connection } from 'aedes';
import { createServer as createAedesServer } from 'aedes-server-factory';
import { MAX_PAYLOAD_BYTES } from '../protocol/index.ts';
import {
  ConnackCode,
  checkConnect,
  checkOrphanWill,
  checkPublish,
  checkSubscribe,
  describePrincipal,
  type AuthBackend,
  type Principal,
} from './auth.ts';
import { PacketSizeGuard } from './packet-size-guard.ts';
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
   * agents published for it meanwhile) survives. `redis://[:password@]host:port[/db]`.
   */
  redisUrl?: string;
}

export interface BrokerStats {
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
  close(): Promise<void>;
}

/** Largest MQTT Remaining Length accepted: a full payload plus room for topic, message id. */
export const MAX_PACKET_BYTES = MAX_PAYLOAD_BYTES + 1024;
const DEFAULT_RATE = 100;

const silentLogger: BrokerLogger = { info() {}, warn() {}, error() {} };

const require = createRequire(import.meta.url);

/** aedes-persistence-redis 11 (the line aedes 1.2 declares as its peer); CommonJS, untyped. */
function redisPersistence(url: string): unknown {
  const u = new URL(url);
  if (u.protocol !== 'redis:') throw new Error(`redis URL must start with redis://, got ${u.protocol}`);
  const factory = require('aedes-persistence-redis') as (opts: object) => unknown;
  return factory({
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
  });
}

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
  const stats: Omit<BrokerStats, 'clients'> = {
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
  // Keyed by client id, not connection, so reconnecting does not refill the bucket.
  const rates = new Map<string, RateState>();

  const broker = await Aedes.createBroker({
    ...(opts.redisUrl ? { persistence: redisPersistence(opts.redisUrl) } : {}),
    // MQTT 3.1.1 allows long client ids (§3.1.3.1); ours are `agent-<10 digits>-<up to 63>`.
    maxClientsIdLength: 128,
    drainTimeout: 10_000,
  });

  broker.preConnect = (client, packet, callback) => {
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

  broker.on('connackSent', (packet) => {
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
    return client;
  }

  const tcpServer = net.createServer((socket) => handle(socket));
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

  // Forget rate state of clients whose bucket has refilled: nothing would be lost.
  const sweep = setInterval(() => {
    for (const [id, state] of rates) if (state.bucket.isFull()) rates.delete(id);
  }, 60_000);
  sweep.unref();

  log.info({ host, mqttPort, wsPort }, 'broker listening');

  let closing: Promise<void> | undefined;
  return {
    mqttPort,
    wsPort,
    stats: () => ({ clients: broker.connectedClients, ...stats }),
    close() {
      closing ??= (async () => {
        clearInterval(sweep);
        const closed = [closeServer(tcpServer), wsServer ? closeServer(wsServer) : Promise.resolve()];
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        for (const socket of sockets) socket.destroy();
        await Promise.all(closed);
      })();
      return closing;
    },
  };
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
