/**
 * Helpers for the broker's tests. mqtt.js clients: MQTT 3.1.1, no reconnects (a dropped connection must
 * show, not be papered over), each one ended after the test that made it.
 */
import { afterEach } from 'vitest';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { BrokerLogger } from './server.ts';

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

export interface LogLine {
  level: string;
  obj: Record<string, unknown>;
  msg?: string;
}
/** A broker logger that keeps every line, for tests that check what the broker said. */
export function captureLogger(): BrokerLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (obj: object, msg?: string) => lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}
