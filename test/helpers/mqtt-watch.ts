/**
 * A test-side MQTT subscriber that collects messages per topic filter and waits for conditions.
 * Lives under test/ (not runtime/) but is part of the transport's test kit, so it may import mqtt.
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';

export interface Received {
  topic: string;
  payload: Buffer;
  json: unknown;
  correlationData?: string;
  userProperties?: Record<string, string | string[]>;
  contentType?: string;
  retain: boolean;
}

export class Watcher {
  readonly client: MqttClient;
  readonly messages: Received[] = [];
  #waiters: (() => void)[] = [];

  private constructor(client: MqttClient) {
    this.client = client;
    client.on('message', (topic, payload, packet) => {
      let json: unknown;
      try {
        json = JSON.parse(payload.toString());
      } catch {
        json = undefined;
      }
      const p = packet.properties;
      const r: Received = { topic, payload, json, retain: packet.retain };
      if (p?.correlationData !== undefined) r.correlationData = Buffer.from(p.correlationData).toString();
      if (p?.userProperties !== undefined) r.userProperties = p.userProperties as Record<string, string | string[]>;
      if (p?.contentType !== undefined) r.contentType = p.contentType;
      this.messages.push(r);
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static async open(url: string, filters: string[], options: IClientOptions = {}): Promise<Watcher> {
    const client = connect(url, { protocolVersion: 5, reconnectPeriod: 200, ...options });
    const w = new Watcher(client);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => client.subscribe(filters, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
      client.once('error', reject);
    });
    return w;
  }

  on(topic: string): Received[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  /** Resolves once `pred` holds (checked on each message), rejects after timeoutMs. */
  async until(pred: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!pred()) {
      const left = end - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  publish(topic: string, payload: string | Buffer, options: Parameters<MqttClient['publish']>[2] = { qos: 1 }): Promise<void> {
    return new Promise((resolve, reject) => this.client.publish(topic, payload, options ?? { qos: 1 }, (err) => (err ? reject(err) : resolve())));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.client.end(true, {}, () => resolve()));
  }
}
