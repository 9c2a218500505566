/**
 * The broker's state in Redis (DESIGN.md decision 4, docs/decisions/0011): aedes-persistence-redis
 * for sessions, subscriptions, retained messages and queued QoS 1 messages, and — when several
 * brokers share the Redis — mqemitter-redis, through which every publish reaches the subscribers on
 * every broker (and aedes' own `$SYS/…` messages: client takeover, subscription changes, wills).
 *
 * The Redis connections are ours (ioredis, as the plugins use it), so their errors are logged here
 * once per outage instead of going to an unhandled 'error' event.
 */
import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';
import type { MQEmitter } from 'mqemitter';
import mqemitterRedis from 'mqemitter-redis';
import type { BrokerLogger } from './server.ts';

const require = createRequire(import.meta.url);
// The ioredis the plugins themselves depend on (not a dependency of ours on its own).
const RedisClient = createRequire(require.resolve('aedes-persistence-redis'))('ioredis') as new (url: string, opts?: RedisOptions) => Redis;

/** A message as aedes hands it to the emitter: its packet, with the publishing client's id. */
export interface EmittedPacket {
  topic: string;
  payload: Buffer | string;
  clientId?: string;
}

/** Returns the function to call once every local subscriber has taken the packet, or nothing. */
export type DeliveryCounter = (packet: EmittedPacket) => (() => void) | undefined;

export interface RedisState {
  /** For Aedes.createBroker({ persistence }). CommonJS, untyped. */
  persistence: unknown;
  /** For Aedes.createBroker({ mq }); absent when the emitter stays in memory (cluster: false). */
  mq?: MQEmitter;
  /**
   * Has `count` see each publish that arrives from Redis for this broker's subscribers, from then
   * until they have all taken it. Only with the Redis emitter.
   */
  countLocalDeliveries(count: DeliveryCounter): void;
  /** After aedes has closed (which closes the emitter): ends the persistence's connection. */
  close(): Promise<void>;
}

/** mqemitter-redis with the two members its typings leave out. */
type ClusterEmitter = MQEmitter & {
  /** The in-memory emitter's emit: hands a message to this process's subscribers. */
  _emit(packet: EmittedPacket, done?: (err?: Error) => void): void;
  /** Emits 'error' for both Redis connections. */
  state: NodeJS.EventEmitter;
  /** The in-memory emitter's close, without quitting the Redis connections. */
  _close(done: () => void): void;
  subConn: Redis;
  pubConn: Redis;
  closing?: boolean;
};

/** The part of aedes-persistence-redis we touch (CommonJS, untyped). */
interface RedisPersistence {
  addSubscriptions(client: unknown, subs: object[], cb?: (err: Error | null) => void): Promise<unknown> | undefined;
}

/**
 * aedes 1.2 stores a persistent session's SUBSCRIBE once per filter, each time with all of the
 * packet's filters (lib/handlers/subscribe.js, storeSubscriptions), and the persistence answers
 * each call when its own `$SYS/sub/add` comes back through the emitter, waiting under one key per
 * client and first filter. With an emitter that answers later (Redis) the calls overwrite each
 * other's wait, all but one never finish, and the SUBACK is never sent: a collector subscribing
 * to its five channels at once would hang (the symptom of moscajs/aedes#602). The calls for one
 * packet share its array, so they share one store here.
 */
function storeEachSubscribeOnce(persistence: RedisPersistence): void {
  const store = persistence.addSubscriptions.bind(persistence);
  const pending = new WeakMap<object[], Promise<unknown>>();
  persistence.addSubscriptions = (client, subs, cb) => {
    if (cb) return store(client, subs, cb);
    let stored = pending.get(subs);
    if (!stored) {
      stored = store(client, subs) as Promise<unknown>;
      pending.set(subs, stored);
    }
    return stored;
  };
}

/** What aedes and mqemitter pass to the emitter (aedes' defaults for its own in-memory one). */
const EMITTER_OPTIONS = { concurrency: 100, matchEmptyLevels: true /* MQTT-4.7.1-3 */ };

export function checkRedisUrl(url: string): void {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`redis URL must start with redis:// or rediss://, got ${u.protocol}`);
}

export function openRedisState(url: string, cluster: boolean, log: BrokerLogger): RedisState {
  checkRedisUrl(url);
  const where = redactedUrl(url);
  const connect = (role: string): Redis => watch(new RedisClient(url), role, where, log);

  const persistenceConn = connect('persistence');
  // aedes-persistence-redis 11.2 delWill() sends LREM without awaiting it: a will published while
  // the broker closes (after QUIT) would end as an unhandled rejection. Mark those handled; what
  // the persistence awaits itself still sees every failure.
  const lrem = persistenceConn.lrem.bind(persistenceConn) as (...args: unknown[]) => Promise<number>;
  (persistenceConn as unknown as { lrem: typeof lrem }).lrem = (...args) => {
    const sent = lrem(...args);
    sent.catch(() => {});
    return sent;
  };
  const conns = [persistenceConn];
  // While Redis is away, a polite close (QUIT, UNSUBSCRIBE) waits for it forever: ioredis keeps
  // such commands for the reconnect, and mqemitter-redis waits for both connections to end.
  const reachable = () => conns.every((c) => c.status === 'ready');
  const abandon = () => conns.forEach((c) => c.disconnect());
  const persistence = (require('aedes-persistence-redis') as (opts: object) => RedisPersistence)({
    conn: persistenceConn,
    // The whole offline queue on reconnect: by default only its first 1001 messages are sent at a
    // CONNECT and the rest wait, unsent, for the client's next reconnect (which for the collector
    // may be days away). Only the queue's keys are read at once; the messages stream one by one.
    maxSessionDelivery: Number.MAX_SAFE_INTEGER,
  });
  storeEachSubscribeOnce(persistence);

  let mq: ClusterEmitter | undefined;
  if (cluster) {
    mq = mqemitterRedis({ ...EMITTER_OPTIONS, subConn: connect('emitter subscriber'), pubConn: connect('emitter publisher') }) as unknown as ClusterEmitter;
    // Errors of both connections arrive here too; unhandled, this 'error' would end the process.
    mq.state.on('error', () => {});
    conns.push(mq.subConn, mq.pubConn);
    // Its own close() leaves QUIT's promise unhandled (rejected when aedes' last `$SYS` publishes
    // break the connection first) and, with Redis away, waits forever for the connections to end.
    const emitter = mq;
    emitter.close = (done: () => void) => {
      emitter.closing = true; // mqemitter-redis reports no more errors
      const quit = reachable() ? Promise.all([emitter.subConn.quit(), emitter.pubConn.quit()]).catch(() => {}) : Promise.resolve();
      void quit.then(() => {
        emitter.subConn.disconnect();
        emitter.pubConn.disconnect();
        emitter._close(done);
      });
    };
  }

  return {
    persistence,
    mq,
    countLocalDeliveries(count) {
      if (!mq) return;
      // mqemitter-redis hands a message from Redis to the local subscribers with `_emit(msg)` and no
      // callback; with one, we learn when they have all taken it (the in-memory emitter's meaning).
      const deliver = mq._emit.bind(mq);
      mq._emit = (packet, done) => {
        const finished = count(packet);
        deliver(packet, (err) => {
          finished?.();
          done?.(err);
        });
      };
    },
    async close() {
      if (reachable()) {
        // Not persistence.destroy(): it drops the connection at once, failing commands aedes still
        // has in flight from closing its clients (unhandled rejections). QUIT lets them finish.
        await persistenceConn.quit().catch(() => {});
      } else {
        log.warn({ redis: where }, 'redis unreachable at close: its connections are dropped, not closed');
      }
      abandon();
    },
  };
}

/** Logs an outage once when it begins (not at every reconnect attempt) and once when it ends. */
function watch(conn: Redis, role: string, where: string, log: BrokerLogger): Redis {
  let down = false;
  conn.on('error', (err: Error) => {
    if (down) return;
    down = true;
    log.error({ redis: where, connection: role, err: err.message }, 'redis unreachable: sessions, queued messages and (in a cluster) routing between brokers wait until it is back');
  });
  conn.on('ready', () => {
    if (!down) return;
    down = false;
    log.info({ redis: where, connection: role }, 'redis reachable again');
  });
  return conn;
}

/** The URL without its password, for logs. */
function redactedUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
