/**
 * The contract of runtime/transport/mqtt-session.ts with the installed mqtt.js (issue 12): each
 * behaviour of mqtt.js' internals that edge-infer leans on, checked against a real mosquitto. When
 * an mqtt.js upgrade changes one of them, a test here fails and names it.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MqttClient } from 'mqtt';
import { createMqttClient } from '../runtime/transport/connect.js';
import { deferAcks, InboundWindow, MQTTJS_PINNED, mqttjsVersion, type AckFn, type LeaveFn, type PublishPacket } from '../runtime/transport/mqtt-session.js';
import { startMosquitto, type Mosquitto } from './helpers/mosquitto.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

const until = async (cond: () => boolean, ms: number, what: string): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};
const connected = (c: MqttClient): Promise<void> =>
  new Promise((resolve, reject) => {
    c.once('connect', () => resolve());
    c.once('error', reject);
  });
const end = (c: MqttClient): Promise<void> => new Promise((resolve) => c.end(true, {}, () => resolve()));

let broker: Mosquitto;
t.before(async () => {
  broker = await startMosquitto({ persistence: true });
});
t.teardown(async () => {
  await broker.stop();
});

t.test('mqtt and aedes are pinned to exact versions and the installed mqtt.js is the one mqtt-session.ts was checked against', async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  t.match(pkg.dependencies['mqtt'], /^\d+\.\d+\.\d+$/, 'mqtt is an exact version');
  t.match(pkg.dependencies['aedes'], /^\d+\.\d+\.\d+$/, 'aedes is an exact version');
  t.equal(pkg.dependencies['mqtt'], MQTTJS_PINNED, 'package.json pins the version mqtt-session.ts names');
  t.equal(mqttjsVersion(), MQTTJS_PINNED, 'the installed mqtt.js is that version');
});

t.test('a client is built without loading worker-timers, and its keepalive runs on the native timers', async (t) => {
  const c = createMqttClient(broker.url, { clientId: 'contract-timer', keepalive: 1, reconnectPeriod: 0 });
  t.teardown(() => end(c));
  await connected(c);
  const pings: string[] = [];
  c.on('packetsend', (p) => {
    if (p.cmd === 'pingreq') pings.push('req');
  });
  c.on('packetreceive', (p) => {
    if (p.cmd === 'pingresp') pings.push('resp');
  });
  await until(() => pings.includes('resp'), 5000, 'a PINGRESP');
  t.ok(pings.includes('req') && pings.includes('resp'), 'PINGREQ sent and PINGRESP received with a 1 s keepalive');
  const loaded = Object.keys(require.cache);
  t.notOk(
    loaded.some((f) => f.includes(`${'/'}worker-timers${'/'}`)),
    'worker-timers was not loaded',
  );
  t.notOk(
    loaded.some((f) => f.includes('@babel/runtime')),
    '@babel/runtime was not loaded',
  );
  t.ok(
    loaded.some((f) => f.endsWith(join('mqtt', 'build', 'lib', 'client.js'))),
    'MqttClient came from mqtt/lib/client',
  );
});

t.test('mqtt.js takes no next packet while a handleMessage callback is pending (why the PUBACK is not deferred through it)', async (t) => {
  const sub = createMqttClient(broker.url, { clientId: 'contract-hold', clean: true, reconnectPeriod: 0 });
  const pub = createMqttClient(broker.url, { clientId: 'contract-hold-pub', clean: true, reconnectPeriod: 0 });
  t.teardown(async () => {
    await end(sub);
    await end(pub);
  });
  await Promise.all([connected(sub), connected(pub)]);
  const seen: string[] = [];
  let release: (() => void) | undefined;
  sub.handleMessage = (packet, done) => {
    seen.push(String(packet.payload));
    if (seen.length === 1) release = () => done();
    else done();
  };
  await new Promise<void>((resolve) => sub.subscribe('contract/hold', { qos: 1 }, () => resolve()));
  pub.publish('contract/hold', 'one', { qos: 1 });
  pub.publish('contract/hold', 'two', { qos: 1 });
  await until(() => seen.length >= 1, 5000, 'the first message');
  await new Promise((r) => setTimeout(r, 500));
  t.same(seen, ['one'], 'the second message waits behind the pending callback');
  release?.();
  await until(() => seen.length === 2, 5000, 'the second message');
  t.same(seen, ['one', 'two'], 'and comes once it is called');
});

t.test('deferAcks: mqtt.js goes on at once and sends no PUBACK itself; the broker takes ours, and redelivers the one not acknowledged', async (t) => {
  const opts = { clientId: 'contract-defer', clean: false, protocolVersion: 5 as const, reconnectPeriod: 0, properties: { sessionExpiryInterval: 300 } };
  const pub = createMqttClient(broker.url, { clientId: 'contract-defer-pub', clean: true, reconnectPeriod: 0 });
  t.teardown(() => end(pub));
  await connected(pub);

  const a = createMqttClient(broker.url, opts);
  const got: { body: string; ack: AckFn; packet: PublishPacket }[] = [];
  deferAcks(a, (packet, ack) => got.push({ body: String(packet.payload), ack, packet }));
  const ownPubacks: number[] = [];
  a.on('packetsend', (p) => {
    if (p.cmd === 'puback') ownPubacks.push(p.messageId ?? -1);
  });
  await connected(a);
  await new Promise<void>((resolve) => a.subscribe('contract/defer', { qos: 1 }, () => resolve()));
  for (const b of ['m1', 'm2', 'm3']) pub.publish('contract/defer', b, { qos: 1 });
  await until(() => got.length === 3, 5000, 'three messages');
  t.same(
    got.map((g) => g.body),
    ['m1', 'm2', 'm3'],
    'all three handed over while none is acknowledged',
  );
  t.same(ownPubacks, [], 'mqtt.js sent no PUBACK of its own');
  got[2]?.ack();
  got[1]?.ack();
  got[1]?.ack();
  await new Promise((r) => setTimeout(r, 300));
  await end(a);

  const b = createMqttClient(broker.url, opts);
  const again: string[] = [];
  deferAcks(b, (packet, ack) => {
    again.push(String(packet.payload));
    ack();
  });
  await connected(b);
  await until(() => again.length >= 1, 5000, 'the redelivery');
  await new Promise((r) => setTimeout(r, 500));
  t.same(again, ['m1'], 'only the unacknowledged message comes again: our PUBACKs (out of order, one twice) were taken');
  await end(b);
  const c = createMqttClient(broker.url, opts);
  const third: string[] = [];
  deferAcks(c, (packet, ack) => {
    third.push(String(packet.payload));
    ack();
  });
  await connected(c);
  await new Promise((r) => setTimeout(r, 500));
  t.same(third, [], 'and once acknowledged it does not come back');
  await end(c);
});

t.test('an ack after its connection is gone writes nothing on the new one', async (t) => {
  const opts = { clientId: 'contract-stale', clean: false, protocolVersion: 5 as const, reconnectPeriod: 0, properties: { sessionExpiryInterval: 300 } };
  const pub = createMqttClient(broker.url, { clientId: 'contract-stale-pub', clean: true, reconnectPeriod: 0 });
  t.teardown(() => end(pub));
  await connected(pub);
  const a = createMqttClient(broker.url, opts);
  const acks: AckFn[] = [];
  const bodies: string[] = [];
  deferAcks(a, (packet, ack) => {
    bodies.push(String(packet.payload));
    acks.push(ack);
  });
  await connected(a);
  await new Promise<void>((resolve) => a.subscribe('contract/stale', { qos: 1 }, () => resolve()));
  pub.publish('contract/stale', 's1', { qos: 1 });
  await until(() => acks.length === 1, 5000, 'the message');
  a.stream.destroy();
  await until(() => !a.connected, 5000, 'the disconnect');
  a.reconnect();
  await connected(a);
  acks[0]?.();
  await until(() => bodies.length === 2, 5000, 'the redelivery on the new connection');
  t.same(bodies, ['s1', 's1'], 'the broker redelivered it: the stale ack was not written on the new connection');
  acks[1]?.();
  await end(a);
});

t.test('with an InboundWindow, a full key holds the reading: at most limitOf(key) open, the next message waits behind it, and comes once one settles', async (t) => {
  const sub = createMqttClient(broker.url, { clientId: 'contract-window', clean: true, protocolVersion: 5, reconnectPeriod: 0 });
  const pub = createMqttClient(broker.url, { clientId: 'contract-window-pub', clean: true, reconnectPeriod: 0 });
  t.teardown(async () => {
    await end(sub);
    await end(pub);
  });
  const window = new InboundWindow((key) => (key === 'a' ? 2 : 10));
  const open: { body: string; ack: AckFn; leave: LeaveFn }[] = [];
  const seen: string[] = [];
  deferAcks(
    sub,
    (packet, ack, leave) => {
      seen.push(String(packet.payload));
      open.push({ body: String(packet.payload), ack, leave });
    },
    { window, keyOf: (p) => p.topic.split('/').pop() ?? '' },
  );
  await Promise.all([connected(sub), connected(pub)]);
  await new Promise<void>((resolve) => sub.subscribe('contract/window/+', { qos: 1 }, () => resolve()));
  for (const b of ['a1', 'a2', 'a3', 'a4']) pub.publish('contract/window/a', b, { qos: 1 });
  pub.publish('contract/window/b', 'b1', { qos: 1 });
  await until(() => seen.length >= 2, 5000, 'two messages');
  await new Promise((r) => setTimeout(r, 300));
  t.same(seen, ['a1', 'a2'], 'key a is full at 2: a3 is parked and b1 waits behind it');
  t.equal(window.open('a'), 2);
  t.equal(window.parked, 1, 'one parked message holds the connection');
  open[0]?.ack();
  await until(() => seen.length >= 3, 5000, 'a3');
  await new Promise((r) => setTimeout(r, 300));
  t.same(seen, ['a1', 'a2', 'a3'], 'an ack makes room for exactly one more');
  open[1]?.leave();
  open[1]?.leave();
  await until(() => seen.length >= 5, 5000, 'a4 and b1');
  t.same(seen, ['a1', 'a2', 'a3', 'a4', 'b1'], 'a leave (idempotent) makes room too; b1 follows a4 in order');
  t.equal(window.holds, 2, 'reading was held twice (a3, a4)');
  for (const o of open) o.ack();
  t.equal(window.open('a') + window.open('b'), 0, 'nothing open once all settled');
});

t.test('a backlog queued while a persistent session was away comes no faster than the window, whatever the broker makes of Receive Maximum', async (t) => {
  // Measured with mosquitto 2.0.11 (mqtt-session.ts point 5): it may send the whole backlog at once
  // on reconnect, beyond the client's Receive Maximum. The window bounds what is open anyway.
  const opts = { clientId: 'contract-backlog', clean: false, protocolVersion: 5 as const, reconnectPeriod: 0, properties: { sessionExpiryInterval: 300, receiveMaximum: 8 } };
  const pub = createMqttClient(broker.url, { clientId: 'contract-backlog-pub', clean: true, reconnectPeriod: 0 });
  t.teardown(() => end(pub));
  await connected(pub);
  const first = createMqttClient(broker.url, opts);
  deferAcks(first, () => undefined);
  await connected(first);
  await new Promise<void>((resolve) => first.subscribe('contract/backlog', { qos: 1 }, () => resolve()));
  await end(first);
  const N = 150;
  for (let i = 0; i < N; i++) pub.publish('contract/backlog', `m${i}`, { qos: 1 });
  await new Promise((r) => setTimeout(r, 500));
  const window = new InboundWindow(() => 8);
  const seen: string[] = [];
  let maxOpen = 0;
  const c = createMqttClient(broker.url, opts);
  deferAcks(
    c,
    (packet, ack) => {
      seen.push(String(packet.payload));
      maxOpen = Math.max(maxOpen, window.open(''));
      setTimeout(ack, 2);
    },
    { window, keyOf: () => '' },
  );
  await connected(c);
  await until(() => seen.length >= N, 20_000, `all ${N} queued messages`);
  t.comment(`reading held ${window.holds} times`);
  t.ok(maxOpen <= 8, `at most 8 open at once (saw ${maxOpen})`);
  t.same(
    seen,
    Array.from({ length: N }, (_, i) => `m${i}`),
    'every queued message once, in order',
  );
  await end(c);
});
