/**
 * Contract of mqtt-session.ts point 4's `coalesceWrites` (issue 16) against the pinned mqtt.js and a
 * real mosquitto: what a client writes during one event-loop turn stays in the corked socket and
 * leaves together at the turn's check phase; nothing is lost or reordered.
 */
import t from 'tap';
import type { MqttClient } from 'mqtt';
import { createMqttClient } from '../runtime/transport/connect.js';
import { coalesceWrites } from '../runtime/transport/mqtt-session.js';
import { startMosquitto } from './helpers/mosquitto.js';

const connected = (c: MqttClient): Promise<void> => new Promise((resolve, reject) => { c.once('connect', () => resolve()); c.once('error', reject); });

t.test('publishes of one turn wait in the corked socket and all arrive, in order, after it', async (t) => {
  const broker = await startMosquitto({ tcpNoDelay: true });
  t.teardown(() => broker.stop());
  const sub = createMqttClient(broker.url, { clientId: 'coalesce-sub', clean: true, reconnectPeriod: 0, protocolVersion: 5 });
  const pub = createMqttClient(broker.url, { clientId: 'coalesce-pub', clean: true, reconnectPeriod: 0, protocolVersion: 5 });
  t.teardown(() => { sub.end(true); pub.end(true); });
  await Promise.all([connected(sub), connected(pub)]);
  await sub.subscribeAsync('coalesce/#', { qos: 1 });
  const got: string[] = [];
  const all = new Promise<void>((resolve) => sub.on('message', (_topic, payload) => { got.push(payload.toString()); if (got.length === 20) resolve(); }));
  const stream = pub.stream as unknown as { writableCorked: number; writableLength: number };
  const acked: number[] = [];
  coalesceWrites(pub);
  coalesceWrites(pub);
  t.equal(stream.writableCorked, 1, 'corked once per turn, however often it is asked');
  for (let i = 0; i < 20; i++) pub.publish(`coalesce/${i}`, String(i), { qos: 1 }, (err) => { if (!err) acked.push(i); });
  await new Promise((r) => process.nextTick(r));
  t.ok(stream.writableLength > 0, 'the packets are still buffered after nextTick (mqtt-packet uncorks only its own level)');
  await new Promise((r) => setImmediate(r));
  t.equal(stream.writableCorked, 0, 'uncorked at the check phase');
  await all;
  t.same(got, Array.from({ length: 20 }, (_, i) => String(i)), 'every message arrived, in order');
  await new Promise((r) => setTimeout(r, 100));
  t.equal(acked.length, 20, 'and every publish was PUBACKed');
});
