/**
 * mqtt.js clients for the broker's tests: MQTT 3.1.1, no reconnects (a dropped connection must
 * show, not be papered over), each one ended after the test that made it.
 */
import { afterEach } from 'vitest';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

export function mqttTestClients(): { connect(url: string, opts: IClientOptions): Promise<MqttClient>; track(c: MqttClient): MqttClient; readonly count: number } {
  const clients: MqttClient[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.endAsync(true).catch(() => {})));
  });
  const track = (c: MqttClient): MqttClient => {
    clients.push(c);
    return c;
  };
  return {
    track,
    get count() {
      return clients.length;
    },
    connect: (url, opts) =>
      new Promise((resolve, reject) => {
        const c = track(mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 0, clean: true, ...opts }));
        c.once('connect', () => resolve(c));
        c.once('error', reject);
        c.once('close', () => reject(new Error('closed before CONNACK')));
      }),
  };
}
