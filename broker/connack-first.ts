/**
 * The first packet a client gets is its CONNACK (MQTT 3.1.1 §3.2, MQTT-3.2.0-1).
 *
 * aedes 1.2 restores a persistent session's subscriptions early in its CONNECT handling and only
 * then stores the will, registers the client and sends CONNACK (lib/handlers/connect.js). A
 * publish routed in between is written to the client before its CONNACK. mqtt.js answers such a
 * QoS 1 publish with a PUBACK that it queues until it is connected, and handles incoming packets
 * one at a time, waiting for that PUBACK: the CONNACK behind it is never read, and the client
 * hangs until its connect timeout (30 s) and reconnects. The collector reconnecting while agents
 * publish hit exactly this (broker/cluster.test.ts, broker/connack-first.test.ts).
 *
 * So deliveries to a connecting client wait here until its CONNACK has been written, then go out
 * in the order they came. If the client is refused or its connection closes first, they are
 * released undelivered: a persistent session still has them queued in the persistence (aedes
 * stores QoS 1 publishes for it before routing them), as at any disconnect.
 */

type Deliver = (packet: unknown, done: () => void) => void;

/** The members of an aedes client this touches (aedes' typings leave the deliver functions out). */
export interface DeliveringClient {
  deliver0: Deliver;
  deliverQoS: Deliver;
  conn: { once(event: 'close', listener: () => void): unknown };
}

interface Held {
  deliver: Deliver;
  packet: unknown;
  done: () => void;
}

export class ConnackFirst {
  private readonly waiting = new WeakMap<object, Held[]>();

  /**
   * Call from aedes' preConnect, before it restores the session's subscriptions: they capture the
   * client's deliver functions when they are made.
   */
  hold(client: DeliveringClient): void {
    this.waiting.set(client, []);
    for (const name of ['deliver0', 'deliverQoS'] as const) {
      const deliver = client[name];
      client[name] = (packet, done) => {
        const held = this.waiting.get(client);
        if (held) held.push({ deliver, packet, done });
        else deliver(packet, done);
      };
    }
    client.conn.once('close', () => this.release(client, false));
  }

  /** Call when aedes has written the client's CONNACK ('connackSent'). */
  connackSent(client: object, accepted: boolean): void {
    this.release(client, accepted);
  }

  private release(client: object, deliver: boolean): void {
    const held = this.waiting.get(client);
    if (!held) return;
    this.waiting.delete(client);
    // `done` frees the routing slot aedes' emitter holds for each message until it is taken.
    for (const h of held) {
      if (deliver) h.deliver(h.packet, h.done);
      else h.done();
    }
  }
}
